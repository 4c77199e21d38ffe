"""gmm_ot_interpolate: the GMM-OT geodesic between two mixtures."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture

from skgmmot import GMMOTFlow, gmm_ot_interpolate, gmm_ot_loss, gmm_pdf


def _loss(a, b):
    return gmm_ot_loss(a[0], b[0], a[1], b[1], a[2], b[2])


def _pdf(mixture, x):
    return gmm_pdf(x, *mixture)


def test_one_dimensional_closed_form():
    source = (np.array([[0.0], [10.0]]), np.ones((2, 1, 1)), np.array([0.5, 0.5]))
    target = (np.array([[2.0]]), np.full((1, 1, 1), 4.0), np.array([1.0]))
    means, covs, weights = gmm_ot_interpolate(source, target, 0.25)
    # sd goes 1 -> 2 linearly: 1.25 at t = 1/4; means move linearly.
    np.testing.assert_allclose(means.ravel(), [0.5, 8.0], rtol=1e-14)
    np.testing.assert_allclose(covs.ravel(), [1.25**2, 1.25**2], rtol=1e-14)
    np.testing.assert_allclose(weights, [0.5, 0.5], rtol=1e-14)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_endpoints_are_the_source_and_the_target(rng, d, gmm_factory):
    source, target = gmm_factory(3, d), gmm_factory(4, d)
    x = 2.0 * rng.randn(50, d)
    start = gmm_ot_interpolate(source, target, 0.0)
    end = gmm_ot_interpolate(source, target, 1.0)
    np.testing.assert_allclose(_pdf(start, x), _pdf(source, x), rtol=1e-10)
    np.testing.assert_allclose(_pdf(end, x), _pdf(target, x), rtol=1e-8)
    scale = np.trace(target[1], axis1=1, axis2=2).max()
    assert abs(_loss(end, target)) <= 1e-9 * scale


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_constant_speed_geodesic(d, gmm_factory):
    source, target = gmm_factory(3, d), gmm_factory(2, d)
    total = np.sqrt(_loss(source, target))
    for t in (0.2, 0.5, 0.9):
        middle = gmm_ot_interpolate(source, target, t)
        np.testing.assert_allclose(np.sqrt(_loss(source, middle)), t * total, 1e-7)
        np.testing.assert_allclose(
            np.sqrt(_loss(middle, target)), (1 - t) * total, rtol=1e-7
        )


def test_drops_components_without_plan_mass_and_weights_sum_to_one(gmm_factory):
    source, target = gmm_factory(4, 2), gmm_factory(3, 2)
    source = (source[0], source[1], np.array([0.5, 0.0, 0.25, 0.25]))
    means, covs, weights = gmm_ot_interpolate(source, target, 0.5)
    # An exact plan between k_s and k_t atoms has at most k_s + k_t - 1 pairs.
    assert 1 <= weights.size <= 3 + 3 - 1
    assert np.all(weights > 0) and abs(weights.sum() - 1.0) < 1e-14
    assert means.shape == (weights.size, 2) and covs.shape == (weights.size, 2, 2)
    assert np.all(np.linalg.eigvalsh(covs) > 0)


def test_matches_the_geodesic_flow(rng, gmm_factory):
    source, target = gmm_factory(3, 2), gmm_factory(2, 2)
    flow = GMMOTFlow(target, method="geodesic", n_steps=10).fit(source)
    for t in (0.0, 0.3, 1.0):
        gmm = flow.mixture_at(t)
        ours = gmm_ot_interpolate(source, target, t)
        x = 2.0 * rng.randn(40, 2)
        np.testing.assert_allclose(
            _pdf(ours, x), np.exp(gmm.score_samples(x)), rtol=1e-10
        )


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_fitted_gaussian_mixtures(rng, covariance_type):
    X, Y = rng.randn(200, 2), 0.5 * rng.randn(200, 2) + 4
    src = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    tgt = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(Y)
    as_tuple = (src.means_, _full(src), src.weights_)
    a = gmm_ot_interpolate(src, tgt, 0.6)
    b = gmm_ot_interpolate(as_tuple, (tgt.means_, _full(tgt), tgt.weights_), 0.6)
    for left, right in zip(a, b, strict=True):
        np.testing.assert_allclose(left, right, rtol=1e-12, atol=1e-14)


def _full(gmm):
    d = gmm.means_.shape[1]
    k = gmm.n_components
    cov = gmm.covariances_
    if gmm.covariance_type == "full":
        return cov
    if gmm.covariance_type == "tied":
        return np.broadcast_to(cov, (k, d, d)).copy()
    if gmm.covariance_type == "diag":
        return np.array([np.diag(c) for c in cov])
    return np.array([c * np.eye(d) for c in cov])


@pytest.mark.parametrize("t", [-0.1, 1.5, np.nan, np.inf, True, "0.5", None])
def test_rejects_times_outside_the_unit_interval(t, gmm_factory):
    source, target = gmm_factory(2, 2), gmm_factory(2, 2)
    with pytest.raises(ValueError, match=r"t must be a number in \[0, 1\]"):
        gmm_ot_interpolate(source, target, t)


def test_rejects_bad_mixtures(gmm_factory, spd_factory):
    source, target = gmm_factory(2, 2), gmm_factory(2, 3)
    with pytest.raises(ValueError, match="same number of features"):
        gmm_ot_interpolate(source, target, 0.5)
    singular = (source[0], spd_factory(2, 2, rank=1), source[2])
    with pytest.raises(ValueError, match=r"source mixture.*covariances"):
        gmm_ot_interpolate(singular, gmm_factory(2, 2), 0.5)
    bad_weights = (source[0], source[1], np.array([0.7, 0.7]))
    with pytest.raises(ValueError, match=r"target mixture.*weights"):
        gmm_ot_interpolate(source, bad_weights, 0.5)
    with pytest.raises(NotFittedError):
        gmm_ot_interpolate(GaussianMixture(2), source, 0.5)


def test_target_may_be_singular_and_inputs_are_not_modified(
    rng, gmm_factory, spd_factory
):
    source = gmm_factory(2, 3)
    target = (rng.randn(2, 3), spd_factory(2, 3, rank=1), np.array([0.4, 0.6]))
    copies = [np.copy(a) for a in (*source, *target)]
    _, covs, weights = gmm_ot_interpolate(source, target, 1.0)
    # At t = 1 each pair's covariance is the (rank-one) target's.
    assert np.all(np.linalg.matrix_rank(covs, tol=1e-8) == 1)
    assert abs(weights.sum() - 1.0) < 1e-14
    for original, now in zip(copies, (*source, *target), strict=True):
        assert np.array_equal(original, now)
