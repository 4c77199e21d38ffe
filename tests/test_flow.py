"""GMMOTFlow: gradient flows and geodesics, transform, scikit-learn conventions."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import ot
import ot.gmm
import pytest
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmmot import GMMOTFlow, gmm_ot_loss, gmm_pdf

#: The arrays of POT's "GMM Flow" gallery example (a copy of shared/data's).
POT_EXAMPLE = Path(__file__).parent / "data" / "pot_gmm_flow_example.npz"


def _pot_example():
    z = np.load(POT_EXAMPLE)
    source = (z["means_source"], z["covariances_source"], z["weights_source"])
    target = (z["means_target"], z["covariances_target"], z["weights_target"])
    return source, target


def _quiet_fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


def _loss(a, b):
    return gmm_ot_loss(a[0], b[0], a[1], b[1], a[2], b[2])


def _assert_spd(covs):
    covs = np.asarray(covs)
    np.testing.assert_allclose(covs, covs.swapaxes(-1, -2), atol=1e-12)
    assert np.all(np.linalg.eigvalsh(covs) > 0.0)


@parametrize_with_checks([GMMOTFlow(n_components=1)])
def test_sklearn_common_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ----------------------------------------------------------- gradient flow


def test_pot_example_reaches_small_loss_with_defaults():
    source, target = _pot_example()
    flow = GMMOTFlow(target).fit(source)
    curve = flow.loss_curve_
    assert curve[0] == pytest.approx(
        ot.gmm.gmm_ot_loss(
            source[0], target[0], source[1], target[1], source[2], target[2]
        ),
        rel=1e-12,
    )
    assert curve[0] == pytest.approx(5.2718, abs=1e-4)
    assert np.all(np.diff(curve) < 0.0)
    assert flow.n_iter_ <= 100 and curve[-1] <= 1e-3  # POT + torch: 0.019
    assert curve[-1] == pytest.approx(
        _loss((flow.means_, flow.covariances_, flow.weights_), target),
        rel=1e-9,
        abs=1e-14,
    )
    _assert_spd(flow.covariances_path_)
    np.testing.assert_allclose(flow.weights_path_.sum(axis=1), 1.0)
    assert np.all(flow.weights_path_ >= 0.0)
    np.testing.assert_allclose(flow.means_path_[0], source[0])
    assert flow.plan_.shape == (3, 2)


@pytest.mark.parametrize("seed", range(8))
def test_random_problems_descend(seed):
    """Robust defaults: monotone descent, SPD covariances, progress everywhere."""
    rng = np.random.RandomState(seed)
    k_s, k_t, d = rng.randint(1, 6), rng.randint(1, 6), [1, 2, 3, 5][seed % 4]

    def mixture(k):
        a = rng.randn(k, d, d)
        w = rng.rand(k) + 0.2
        return (
            3.0 * rng.randn(k, d),
            a @ a.swapaxes(1, 2) / d + 0.1 * np.eye(d),
            w / w.sum(),
        )

    source, target = mixture(k_s), mixture(k_t)
    flow = _quiet_fit(GMMOTFlow(target), source)
    curve = flow.loss_curve_
    assert np.all(np.diff(curve) <= 0.0)
    _assert_spd(flow.covariances_path_)
    # Every step's map carries the previous covariances onto the next ones.
    A = flow.step_maps_
    np.testing.assert_allclose(
        A @ flow.covariances_path_[:-1] @ A, flow.covariances_path_[1:], atol=1e-9
    )
    if k_s >= k_t:  # a matching exists: the loss must drop a lot
        assert curve[-1] <= 1e-2 * curve[0]
    else:  # fewer source components: at least a clear decrease
        assert curve[-1] <= 0.8 * curve[0]


def test_sinkhorn_flow_descends():
    source, target = _pot_example()
    flow = _quiet_fit(GMMOTFlow(target, ot_solver="sinkhorn", reg=0.05), source)
    assert np.all(np.diff(flow.loss_curve_) <= 0.0)
    assert flow.loss_curve_[-1] < 0.05 * flow.loss_curve_[0]


@pytest.mark.parametrize(
    "flow_parts",
    [("means",), ("covariances",), ("weights",), ("means", "covariances")],
)
def test_frozen_parameters_stay_put(flow_parts):
    source, target = _pot_example()
    flow = _quiet_fit(GMMOTFlow(target, flow=flow_parts), source)
    assert flow.n_iter_ > 0
    for name, index in (("means", 0), ("covariances", 1), ("weights", 2)):
        path = getattr(flow, f"{name}_path_")
        if name not in flow_parts:
            np.testing.assert_array_equal(
                path, np.broadcast_to(source[index], path.shape)
            )
    assert np.all(np.diff(flow.loss_curve_) < 0.0)


def test_converges_and_warns():
    source, target = _pot_example()
    flow = GMMOTFlow(target, tol=1e-3).fit(source)
    assert flow.converged_ and flow.loss_curve_[-1] <= 1e-3
    assert flow.loss_curve_[-2] > 1e-3
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        GMMOTFlow(target, n_steps=3).fit(source)
    identity = GMMOTFlow(source).fit(source)  # already there
    assert identity.converged_ and identity.n_iter_ == 0


def test_mixture_at_gradient():
    source, target = _pot_example()
    flow = _quiet_fit(GMMOTFlow(target), source)
    start, end = flow.mixture_at(0.0), flow.mixture_at(1.0)
    np.testing.assert_allclose(start.means_, source[0])
    np.testing.assert_allclose(start.covariances_, source[1])
    keep = flow.weights_ > 0
    np.testing.assert_allclose(end.means_, flow.means_[keep])
    middle = flow.mixture_at(0.37)
    _assert_spd(middle.covariances_)
    assert isinstance(middle, GaussianMixture)
    x = np.random.RandomState(0).randn(5, 2)
    assert np.all(np.isfinite(middle.score_samples(x)))


# --------------------------------------------------------------- geodesic


def test_geodesic_endpoints_and_constant_speed():
    source, target = _pot_example()
    geo = GMMOTFlow(target, method="geodesic", n_steps=10).fit(source)
    x = np.random.RandomState(0).randn(50, 2) * 2
    for t, end in ((0.0, source), (1.0, target)):
        gm = geo.mixture_at(t)
        state = (gm.means_, gm.covariances_, gm.weights_)
        assert _loss(state, end) <= 1e-10
        np.testing.assert_allclose(
            np.exp(gm.score_samples(x)), gmm_pdf(x, *end), rtol=1e-9
        )
    total = np.sqrt(_loss(source, target))
    for t in (0.2, 0.5, 0.8):
        gm = geo.mixture_at(t)
        state = (gm.means_, gm.covariances_, gm.weights_)
        assert np.sqrt(_loss(source, state)) == pytest.approx(t * total, rel=1e-6)
        assert np.sqrt(_loss(state, target)) == pytest.approx((1 - t) * total, rel=1e-6)
    assert geo.means_path_.shape[0] == 11
    np.testing.assert_allclose(
        geo.loss_curve_, (1 - np.linspace(0, 1, 11)) ** 2 * total**2
    )
    _assert_spd(geo.covariances_path_)


def test_geodesic_transform_is_interpolated_gmm_ot_map():
    source, target = _pot_example()
    geo = GMMOTFlow(target, method="geodesic").fit(source)
    x = np.random.RandomState(1).randn(40, 2)
    mapped = ot.gmm.gmm_ot_apply_map(
        x, source[0], target[0], source[1], target[1], source[2], target[2]
    )
    np.testing.assert_allclose(geo.transform(x), mapped, atol=1e-10)
    np.testing.assert_allclose(
        geo.transform(x, 0.25), 0.75 * x + 0.25 * mapped, atol=1e-10
    )
    np.testing.assert_array_equal(geo.transform(x, 0.0), x)


# -------------------------------------------------------------- transform


def _separated_problem(rng):
    source = (
        np.array([[-6.0, 0.0], [6.0, 0.0]]),
        np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]]]),
        np.array([0.3, 0.7]),
    )
    target = (
        np.array([[-5.0, 4.0], [7.0, -3.0]]),
        np.array([[[0.5, 0.0], [0.0, 2.0]], [[2.0, 0.5], [0.5, 1.0]]]),
        np.array([0.3, 0.7]),
    )
    return source, target


def _sample(mixture, n, rng):
    means, covs, weights = mixture
    labels = rng.choice(len(weights), size=n, p=weights)
    z = rng.randn(n, means.shape[1])
    return means[labels] + np.einsum("nab,nb->na", np.linalg.cholesky(covs)[labels], z)


@pytest.mark.parametrize("transport", ["rand", "bary"])
def test_transformed_samples_have_the_final_moments(transport):
    """Frozen weights: samples at t=1 follow the final mixture (Monte Carlo)."""
    rng = np.random.RandomState(0)
    source, target = _separated_problem(rng)
    flow = _quiet_fit(
        GMMOTFlow(
            target, flow=("means", "covariances"), transport=transport, random_state=0
        ),
        source,
    )
    x = _sample(source, 40000, rng)
    y = flow.transform(x)
    final = (flow.means_, flow.covariances_, flow.weights_)
    mean = final[2] @ final[0]
    second = np.einsum(
        "k,kab->ab", final[2], final[1] + np.einsum("ka,kb->kab", final[0], final[0])
    )
    cov = second - np.outer(mean, mean)
    scale = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(
        y.mean(axis=0), mean, atol=5 * scale.max() / np.sqrt(len(x))
    )
    np.testing.assert_allclose(np.cov(y.T), cov, atol=0.05 * np.abs(cov).max())


def test_transform_time_zero_identity_and_partial_times():
    source, target = _pot_example()
    flow = _quiet_fit(GMMOTFlow(target), source)
    x = np.random.RandomState(2).randn(30, 2)
    np.testing.assert_array_equal(flow.transform(x, 0.0), x)
    ys = [flow.transform(x, t) for t in (0.25, 0.5, 1.0)]
    assert all(np.all(np.isfinite(y)) for y in ys)
    # Time t = s / n_iter_ lands exactly on recorded step s.
    s = flow.n_iter_ // 2
    means, maps = flow.means_path_[s], flow.maps_path_[s]
    flow1 = GMMOTFlow(target, transport="rand", random_state=0)
    flow1 = _quiet_fit(flow1, source)
    y = flow1.transform(x, s / flow1.n_iter_)
    ok = np.zeros(len(x), dtype=bool)
    for i in range(3):
        moved = means[i] + (x - source[0][i]) @ maps[i].T
        ok |= np.all(np.isclose(y, moved, atol=1e-9), axis=1)
    assert ok.all()
    with pytest.raises(ValueError, match="t must be"):
        flow.transform(x, 1.5)


def test_inverse_transform_undoes_one_component():
    source = (np.array([[0.0, 1.0]]), np.array([[[2.0, 0.4], [0.4, 1.0]]]), np.ones(1))
    target = (
        np.array([[3.0, -2.0]]),
        np.array([[[0.5, -0.1], [-0.1, 1.5]]]),
        np.ones(1),
    )
    flow = _quiet_fit(GMMOTFlow(target), source)
    x = np.random.RandomState(3).randn(20, 2)
    np.testing.assert_allclose(flow.inverse_transform(flow.transform(x)), x, atol=1e-9)
    geo = GMMOTFlow(target, method="geodesic").fit(source)
    np.testing.assert_allclose(geo.inverse_transform(geo.transform(x)), x, atol=1e-9)


def test_rand_transport_is_reproducible():
    source, target = _pot_example()
    x = np.random.RandomState(4).randn(100, 2)
    a = _quiet_fit(GMMOTFlow(target, transport="rand", random_state=3), source)
    b = _quiet_fit(GMMOTFlow(target, transport="rand", random_state=3), source)
    np.testing.assert_array_equal(a.transform(x), b.transform(x))
    np.testing.assert_array_equal(a.transform(x), a.transform(x))


# ------------------------------------------------------ inputs and sklearn


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_every_covariance_type(covariance_type):
    rng = np.random.RandomState(0)
    xs = np.vstack([rng.randn(200, 2), rng.randn(200, 2) + 5])
    xt = np.vstack(
        [
            rng.randn(200, 2) * 0.5 + np.array([2, 2]),
            rng.randn(200, 2) + np.array([-3, 4]),
        ]
    )
    gs = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(xs)
    gt = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(xt)
    flow = _quiet_fit(GMMOTFlow(gt), gs)
    assert flow.loss_curve_[-1] < 1e-3 * flow.loss_curve_[0]
    from_samples = _quiet_fit(
        GMMOTFlow(
            xt, gmm=GaussianMixture(2, covariance_type=covariance_type, random_state=0)
        ),
        xs,
    )
    np.testing.assert_allclose(from_samples.loss_curve_, flow.loss_curve_, rtol=1e-9)


def test_sample_domain_and_pipeline():
    rng = np.random.RandomState(0)
    xs = np.vstack([rng.randn(150, 2), rng.randn(150, 2) + 5])
    xt = xs + np.array([3.0, -1.0])
    X = np.vstack([xs, xt])
    labels = np.r_[np.zeros(300, dtype=int), -np.ones(300, dtype=int)]
    flow = _quiet_fit(
        GMMOTFlow(n_components=2, random_state=0), X, sample_domain=labels
    )
    out = flow.transform(X, sample_domain=labels)
    np.testing.assert_array_equal(out[300:], X[300:])  # target rows pass through
    np.testing.assert_allclose(out[:300].mean(axis=0), xt.mean(axis=0), atol=0.2)
    with config_context(enable_metadata_routing=True):
        pipe = Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "flow",
                    GMMOTFlow(n_components=2, random_state=0)
                    .set_fit_request(sample_domain=True)
                    .set_transform_request(sample_domain=True),
                ),
            ]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            moved = pipe.fit(X, sample_domain=labels).transform(X, sample_domain=labels)
    scaled = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(moved[300:], scaled[300:])
    np.testing.assert_allclose(
        moved[:300].mean(axis=0), scaled[300:].mean(axis=0), atol=0.2
    )


def test_bad_inputs():
    source, target = _pot_example()
    with pytest.raises(NotFittedError):
        GMMOTFlow(target).transform(np.zeros((2, 2)))
    bad_target = (target[0], target[1] * np.array([1, -1])[:, None, None], target[2])
    with pytest.raises(ValueError, match="target mixture: covariances"):
        GMMOTFlow(bad_target).fit(source)
    with pytest.raises(ValueError, match="target mixture: weights"):
        GMMOTFlow((target[0], target[1], np.array([0.5, -0.5]))).fit(source)
    wide = (np.zeros((2, 3)), np.array([np.eye(3)] * 2), np.full(2, 0.5))
    with pytest.raises(ValueError, match="features"):
        GMMOTFlow(wide).fit(source)
    singular = (source[0], np.zeros((3, 2, 2)), source[2])
    with pytest.raises(ValueError, match="source mixture: covariances"):
        GMMOTFlow(target).fit(singular)
    with pytest.raises(ValueError, match="flow must be"):
        GMMOTFlow(target, flow=("means", "speed")).fit(source)
    with pytest.raises(ValueError, match="sample_domain"):
        GMMOTFlow(target).fit(source, sample_domain=[0, 1])
    unfitted = GaussianMixture(2)
    with pytest.raises(NotFittedError):
        GMMOTFlow(unfitted).fit(source)


def test_pickle_and_no_mutation():
    source, target = _pot_example()
    copies = [a.copy() for a in (*source, *target)]
    flow = _quiet_fit(GMMOTFlow(target), source)
    for a, b in zip((*source, *target), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    again = pickle.loads(pickle.dumps(flow))
    x = np.random.RandomState(5).randn(10, 2)
    np.testing.assert_array_equal(again.transform(x, 0.3), flow.transform(x, 0.3))


def test_verbose_prints_steps(capsys):
    source, target = _pot_example()
    _quiet_fit(GMMOTFlow(target, n_steps=3, verbose=1), source)
    out = capsys.readouterr().out
    assert out.count("[GMMOTFlow] step") == 4
