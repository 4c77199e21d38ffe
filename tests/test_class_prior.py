"""Class proportions under target shift: the EM estimate and ``class_prior``."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.stats import multivariate_normal

from skgmmot._engine.priors import class_proportions
from skgmmot.da import GMMOTLabelPropAdapter, GMMOTMappingAdapter


def _random_classes(rng, d, sizes):
    """Components of several classes: means, SPD covariances, within-class weights."""
    k = sum(sizes)
    means = 4.0 * rng.standard_normal((k, d))
    A = rng.standard_normal((k, d, d))
    covs = A @ A.transpose(0, 2, 1) + 0.3 * np.eye(d)
    classes = np.repeat(np.arange(len(sizes)), sizes)
    within = rng.uniform(0.2, 1.0, k)
    within /= np.bincount(classes, weights=within)[classes]
    return means, covs, within, classes


def _draw(rng, means, covs, within, classes, proportions, n):
    weights = within * proportions[classes]
    which = rng.choice(len(weights), size=n, p=weights / weights.sum())
    L = np.linalg.cholesky(covs)[which]
    noise = np.einsum("nab,nb->na", L, rng.standard_normal(means[which].shape))
    return means[which] + noise


def _likelihood_reference(x, means, covs, within, classes, n_classes):
    """Maximum likelihood over the simplex by SciPy (softmax parametrisation)."""
    dens = np.column_stack(
        [multivariate_normal(m, c).pdf(x) for m, c in zip(means, covs, strict=True)]
    )
    f = np.zeros((x.shape[0], n_classes))
    for i, c in enumerate(classes):
        f[:, c] += within[i] * dens[:, i]

    def negative_log_likelihood(theta):
        p = np.exp(theta - theta.max())
        p /= p.sum()
        return -np.log(f @ p).sum()

    best = minimize(
        negative_log_likelihood,
        np.zeros(n_classes),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    p = np.exp(best.x - best.x.max())
    return p / p.sum(), negative_log_likelihood


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("sizes", [(1, 1), (2, 3), (1, 2, 2)])
def test_em_reaches_the_maximum_likelihood(d, sizes):
    rng = np.random.default_rng(10 * d + len(sizes))
    means, covs, within, classes = _random_classes(rng, d, sizes)
    truth = rng.dirichlet(np.ones(len(sizes)))
    x = _draw(rng, means, covs, within, classes, truth, 400)
    p = class_proportions(x, means, covs, within, classes, len(sizes))
    reference, nll = _likelihood_reference(x, means, covs, within, classes, len(sizes))
    np.testing.assert_allclose(p.sum(), 1.0)
    # The likelihood is concave in p: EM's point is at least as likely as
    # SciPy's optimum, and close to it.
    theta = np.log(np.maximum(p, 1e-300))
    theta_ref = np.log(np.maximum(reference, 1e-300))
    assert nll(theta) <= nll(theta_ref) + 1e-6 * abs(nll(theta_ref))
    np.testing.assert_allclose(p, reference, atol=2e-3)


def test_em_recovers_the_proportions_of_a_large_sample():
    rng = np.random.default_rng(0)
    means, covs, within, classes = _random_classes(rng, 2, (2, 1, 2))
    truth = np.array([0.7, 0.05, 0.25])
    x = _draw(rng, means, covs, within, classes, truth, 20000)
    p = class_proportions(x, means, covs, within, classes, 3)
    np.testing.assert_allclose(p, truth, atol=0.02)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    shift=st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
)
def test_em_is_translation_invariant(seed, shift):
    rng = np.random.default_rng(seed)
    means, covs, within, classes = _random_classes(rng, 2, (2, 2))
    x = _draw(rng, means, covs, within, classes, np.array([0.3, 0.7]), 200)
    p = class_proportions(x, means, covs, within, classes, 2)
    moved = class_proportions(
        x + np.asarray(shift), means + np.asarray(shift), covs, within, classes, 2
    )
    np.testing.assert_allclose(moved, p, atol=1e-7)


def _label_shift(seed, source=(0.5, 0.5), target=(0.9, 0.1), n=600):
    """Two classes of two clusters each, only the proportions change."""
    rng = np.random.RandomState(seed)
    centres = np.array([[[0.0, 0.0], [4.0, 4.0]], [[4.0, 0.0], [0.0, 4.0]]])

    def draw(props, m):
        y = rng.choice(2, size=m, p=props)
        which = rng.randint(2, size=m)
        return centres[y, which] + 1.3 * rng.randn(m, 2), y

    Xs, ys = draw(source, n)
    Xt, yt = draw(target, n)
    X = np.vstack([Xs, Xt])
    y = np.concatenate([ys, -np.ones(n, int)])
    domain = np.repeat([1, -2], n)
    return X, y, domain, yt


@pytest.mark.parametrize("target", [(0.9, 0.1), (0.2, 0.8)])
def test_estimated_prior_under_target_shift(target):
    gains, errors = [], []
    for seed in range(3):
        X, y, domain, yt = _label_shift(seed, target=target)
        Xt = X[domain < 0]
        accuracy = {}
        for prior in ("source", "estimate"):
            adapter = GMMOTLabelPropAdapter(2, class_prior=prior, random_state=0)
            adapter.fit(X, y, sample_domain=domain)
            accuracy[prior] = np.mean(adapter.predict(Xt) == yt)
            if prior == "estimate":
                errors.append(np.abs(adapter.class_prior_ - np.bincount(yt) / yt.size))
                ws = adapter.source_mixture_[2]
                np.testing.assert_allclose(
                    np.bincount(adapter.component_classes_, weights=ws),
                    adapter.class_prior_,
                )
            else:
                np.testing.assert_allclose(adapter.class_prior_, [0.5, 0.5], atol=0.05)
        gains.append(accuracy["estimate"] - accuracy["source"])
    assert np.max(errors) < 0.06
    assert np.mean(gains) > 0.05


def test_given_prior_under_an_affine_batch_effect():
    """Known target proportions (an array) against a rotated, scaled, shifted target."""
    from tests.test_da import _domains

    accuracy = {"source": [], "given": []}
    for seed in range(3):
        X, y, domain, y_true = _domains(
            seed, proportions=(0.8, 0.2), target_proportions=(0.2, 0.8)
        )
        target = domain < 0
        for name, prior in (("source", "source"), ("given", [1.0, 4.0])):
            adapter = GMMOTLabelPropAdapter(2, class_prior=prior, random_state=0)
            adapter.fit(X, y, sample_domain=domain)
            predicted = adapter.predict(X[target])
            accuracy[name].append(np.mean(predicted == y_true[target]))
        np.testing.assert_allclose(adapter.class_prior_, [0.2, 0.8])
    assert np.mean(accuracy["given"]) > 0.95
    assert np.mean(accuracy["given"]) > np.mean(accuracy["source"]) + 0.1


def test_mapping_adapter_takes_the_prior():
    X, y, domain, yt = _label_shift(0)
    adapter = GMMOTMappingAdapter(2, class_prior="estimate", random_state=0)
    X_adapted = adapter.fit_transform(X, y, sample_domain=domain)
    assert abs(adapter.class_prior_[0] - np.mean(yt == 0)) < 0.06
    # A class without mass is not transported: its samples stay where they are.
    zero = GMMOTMappingAdapter(2, class_prior=[1.0, 0.0], random_state=0)
    moved = zero.fit_transform(X, y, sample_domain=domain)
    ones = (domain >= 0) & (y == 1)
    np.testing.assert_array_equal(moved[ones], X[ones])
    assert np.isfinite(X_adapted).all()


@pytest.mark.parametrize(
    "prior, match",
    [
        ([0.5, 0.3, 0.2], "one entry per source class"),
        ([0.5, -0.1], "non-negative"),
        ([0.0, 0.0], "not all zero"),
        ([np.nan, 1.0], "finite"),
    ],
)
def test_bad_class_prior(prior, match):
    X, y, domain, _ = _label_shift(1, n=100)
    for cls in (GMMOTLabelPropAdapter, GMMOTMappingAdapter):
        with pytest.raises(ValueError, match=match):
            cls(class_prior=prior).fit(X, y, sample_domain=domain)
    with pytest.raises(ValueError, match="class_prior"):
        GMMOTLabelPropAdapter(class_prior="target").fit(X, y, sample_domain=domain)


def test_class_prior_does_not_modify_the_array():
    X, y, domain, _ = _label_shift(2, n=100)
    prior = np.array([3.0, 1.0])
    adapter = GMMOTLabelPropAdapter(class_prior=prior, random_state=0)
    adapter.fit(X, y, sample_domain=domain)
    np.testing.assert_array_equal(prior, [3.0, 1.0])
    np.testing.assert_allclose(adapter.class_prior_, [0.75, 0.25])


def test_a_class_with_one_sample_is_named():
    """skada's CircularValidation refits on propagated labels, which can be so."""
    X, y, domain, _ = _label_shift(3, n=100)
    y = y.copy()
    ones = np.flatnonzero(y == 1)
    y[ones[1:]] = 0
    for cls in (GMMOTLabelPropAdapter, GMMOTMappingAdapter):
        with pytest.raises(ValueError, match="Class 1 has 1 labelled source sample"):
            cls(random_state=0).fit(X, y, sample_domain=domain)
