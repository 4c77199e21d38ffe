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
from skgmmot._flow import _FLOWS
from skgmmot.datasets import make_random_gmm

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
    # tol is relative to the initial loss (it was an absolute level).
    source, target = _pot_example()
    flow = GMMOTFlow(target, tol=1e-3).fit(source)
    curve = flow.loss_curve_
    assert flow.loss_tol_ == pytest.approx(1e-3 * curve[0], rel=1e-15)
    assert flow.converged_ and curve[-1] <= 1e-3 * curve[0]
    # It stops at the first step below the level, or one step later: a step
    # of the weights alone, to their optimum for the final components.
    first = int(np.argmax(curve <= flow.loss_tol_))
    assert first >= curve.size - 2
    if first == curve.size - 2:
        assert curve[-1] < curve[-2]
        np.testing.assert_array_equal(flow.means_path_[-1], flow.means_path_[-2])
        assert not np.array_equal(flow.weights_path_[-1], flow.weights_path_[-2])
    with pytest.warns(ConvergenceWarning, match="did not converge in n_steps=3"):
        short = GMMOTFlow(target, n_steps=3).fit(source)
    assert not short.converged_ and short.n_iter_ == 3
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


# ------------------------------------------- honest convergence (issue 12)

RATES = [0.05, 0.1, 0.2, 0.5, 1.0]


def _steps(learning_rate):
    """The documented budget: n_steps = 15 / learning_rate (at least 100)."""
    return max(100, int(np.ceil(15 / learning_rate)))


def _issue_problem():
    means = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    source = (means, np.array([np.eye(2)] * 3), np.array([0.36, 0.30, 0.34]))
    target = (means + 1, np.array([1.5 * np.eye(2)] * 3), np.full(3, 1 / 3))
    return source, target


_FITTED = {}


def _fitted_problem(seed):
    """A diag GaussianMixture fitted to 3 clusters, and a full one to moved ones."""
    if seed not in _FITTED:
        rng = np.random.RandomState(seed)
        centers = np.array([[0.0, 0.0], [7.0, 0.0], [0.0, 7.0]]) + rng.randn(3, 2)

        def samples(shift):
            return np.vstack(
                [
                    rng.randn(300, 2) @ (0.6 * rng.randn(2, 2) + 0.5 * np.eye(2))
                    + c
                    + shift
                    for c in centers
                ]
            )

        gs = GaussianMixture(3, covariance_type="diag", random_state=seed)
        gt = GaussianMixture(3, covariance_type="full", random_state=seed)
        _FITTED[seed] = (gs.fit(samples(0.0)), gt.fit(samples(rng.randn(2))))
    return _FITTED[seed]


def _random_problem(k_s, k_t, d, seed):
    return (
        make_random_gmm(k_s, d, random_state=seed),
        make_random_gmm(k_t, d, random_state=seed + 1000),
    )


def _strict_fit(estimator, source):
    """Fit; any ConvergenceWarning is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return estimator.fit(source)


def _sqrtm(S):
    vals, vecs = np.linalg.eigh(S)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _certificate(flow, parts):
    """Squared gradient norm and weights gap of the final state, from scratch."""
    mt, Ct, wt = flow.target_
    m, C, w, plan = flow.means_, flow.covariances_, flow.weights_, flow.plan_
    d = m.shape[1]
    gradient = 0.0
    for i in np.flatnonzero(w > 0):
        p = plan[i] / w[i]
        if "means" in parts:
            gradient += w[i] * np.sum((p @ mt - m[i]) ** 2)
        if "covariances" in parts:
            root = _sqrtm(C[i])
            inv = np.linalg.inv(root)
            G = np.eye(d)
            for j in np.flatnonzero(p > 0):
                G -= p[j] * inv @ _sqrtm(root @ Ct[j] @ root) @ inv
            gradient += w[i] * np.trace(G @ C[i] @ G)
    cost = ot.gmm.dist_bures_squared(m, mt, C, Ct)
    best = (wt / wt.sum()) @ cost.min(axis=0)
    return gradient, float(np.sum(plan * cost) - best), best


def _assert_honest(flow, parts, warned):
    """converged_ holds exactly when the loss or the certificate says so."""
    gradient, gap, best = _certificate(flow, parts)
    assert flow.squared_gradient_norm_ == pytest.approx(gradient, rel=1e-6, abs=1e-13)
    if "weights" in parts:
        assert flow.weights_gap_ == pytest.approx(gap, rel=1e-6, abs=1e-12)
    else:
        assert flow.weights_gap_ == 0.0
    loss, level = flow.loss_curve_[-1], flow.loss_tol_
    assert level == pytest.approx(1e-8 * flow.loss_curve_[0]) or level < 1e-12
    if flow.converged_:
        assert not warned
        assert loss <= level or (
            gradient <= level * (1 + 1e-6) + 1e-13
            and ("weights" not in parts or gap <= level + 1e-12)
        )
        if "weights" in parts and loss > level:  # stationary, not at the target
            assert loss <= best + 1e-9  # the weights are optimal (issue 18)
    else:
        assert warned


@pytest.mark.parametrize("learning_rate", RATES)
def test_issue_problem_reaches_the_target_at_every_rate(learning_rate):
    """learning_rate=1 used to stop at 0.92 after 2 steps, "converged"."""
    source, target = _issue_problem()
    flow = _strict_fit(
        GMMOTFlow(target, learning_rate=learning_rate, n_steps=_steps(learning_rate)),
        source,
    )
    assert flow.loss_curve_[0] == pytest.approx(3.37, abs=0.01)
    assert flow.converged_ and flow.loss_curve_[-1] <= 1e-6
    assert flow.loss_curve_[-1] <= flow.loss_tol_
    np.testing.assert_allclose(flow.weights_, 1 / 3, atol=1e-6)
    np.testing.assert_allclose(flow.means_, target[0], atol=1e-3)
    assert np.all(np.diff(flow.loss_curve_) < 0.0)
    _assert_honest(flow, _FLOWS, warned=False)


@pytest.mark.parametrize("learning_rate", RATES)
@pytest.mark.parametrize("seed", range(3))
def test_fitted_diag_to_full_reaches_the_target(learning_rate, seed):
    source, target = _fitted_problem(seed)
    flow = _strict_fit(
        GMMOTFlow(target, learning_rate=learning_rate, n_steps=_steps(learning_rate)),
        source,
    )
    assert flow.converged_ and flow.loss_curve_[-1] <= 1e-6
    _assert_honest(flow, _FLOWS, warned=False)


@pytest.mark.parametrize("learning_rate", RATES)
@pytest.mark.parametrize(
    ("k_s", "d", "seed"),
    [(3, 2, 2), (3, 2, 3), (3, 3, 1), (4, 2, 2), (4, 2, 3), (4, 3, 0)],
)
def test_random_reachable_problems_reach_the_target(learning_rate, k_s, d, seed):
    source, target = _random_problem(k_s, 3, d, seed)
    flow = _strict_fit(
        GMMOTFlow(target, learning_rate=learning_rate, n_steps=_steps(learning_rate)),
        source,
    )
    assert flow.converged_ and flow.loss_curve_[-1] <= 1e-6
    _assert_honest(flow, _FLOWS, warned=False)


@pytest.mark.parametrize("learning_rate", [0.1, 0.2, 0.5, 1.0])
def test_default_steps_suffice_from_rate_0_1(learning_rate):
    # tol=1e-8 is relative: these used to stop near 6e-8 absolute, and must
    # not warn with the defaults.
    for source, target in (_pot_example(), _issue_problem()):
        flow = _strict_fit(GMMOTFlow(target, learning_rate=learning_rate), source)
        assert flow.converged_ and flow.loss_curve_[-1] <= 1e-8 * flow.loss_curve_[0]


@pytest.mark.parametrize("learning_rate", RATES)
@pytest.mark.parametrize(("k_s", "k_t"), [(3, 3), (4, 3), (2, 3), (2, 4)])
def test_converged_means_certified(learning_rate, k_s, k_t):
    """Every fit, target reached or not, is honest about where it stopped.

    The flow is not convex: some of these problems end at a stationary point
    that is not the target (k_s >= k_t included). Then converged_ must come
    with a small certificate, recomputed here from scratch, and weights that
    are optimal for the final components.
    """
    for seed in range(6):
        source, target = _random_problem(k_s, k_t, 2, seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            flow = GMMOTFlow(
                target, learning_rate=learning_rate, n_steps=_steps(learning_rate)
            ).fit(source)
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        _assert_honest(flow, _FLOWS, warned)
        if k_s < k_t:  # unreachable: a certified stationary point
            assert flow.converged_ and flow.loss_curve_[-1] > 1e-3


@pytest.mark.parametrize("tol", [1e-8, 1e-4, 1e-2])
@pytest.mark.parametrize(("k_s", "k_t"), [(3, 3), (4, 3)])
def test_converged_weights_are_optimal_for_the_final_components(tol, k_s, k_t):
    """A converged flow ends at weights that exact weight optimisation cannot beat.

    For fixed components the loss is a linear program in the plan with a free
    source marginal (``_certificate``'s ``best``). With steps left, a
    converged flow ends exactly there, whichever test stopped it (the loss
    level, tested first, used to leave the weights where they were); at the
    step limit, within ``loss_tol_``.
    """
    for seed in range(15):
        source, target = _random_problem(k_s, k_t, 2, seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            flow = GMMOTFlow(target, tol=tol, n_steps=150).fit(source)
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        assert flow.converged_ != warned
        _, gap, best = _certificate(flow, _FLOWS)
        loss = flow.loss_curve_[-1]
        if flow.converged_ and flow.n_iter_ < 150:
            # (the costs are recomputed by POT: round-off of the initial loss)
            assert loss - best <= 1e-12 * flow.loss_curve_[0], (seed, loss, best)
        elif flow.converged_:
            assert gap <= flow.loss_tol_ + 1e-12


@pytest.mark.parametrize("parts", [("means",), ("means", "covariances"), ("weights",)])
def test_frozen_parts_end_certified(parts):
    """Wrong frozen weights (or frozen components): certified, not reached."""
    for seed in range(4):
        source, target = _random_problem(3, 3, 2, seed)
        flow = _strict_fit(GMMOTFlow(target, flow=parts, n_steps=300), source)
        assert flow.converged_ and flow.loss_curve_[-1] > flow.loss_tol_
        _assert_honest(flow, parts, warned=False)


def test_no_step_is_a_stationary_point_by_itself():
    """Too few steps: a warning, never "converged" because a step was small."""
    source, target = _issue_problem()
    with pytest.warns(ConvergenceWarning, match="did not converge") as record:
        flow = GMMOTFlow(target, learning_rate=0.05, n_steps=100).fit(source)
    assert not flow.converged_ and flow.n_iter_ == 100
    assert flow.loss_curve_[-1] > flow.loss_tol_
    assert "squared gradient norm" in str(record[0].message)
    _assert_honest(flow, _FLOWS, warned=True)


def test_sinkhorn_has_no_weights_certificate():
    source, target = _pot_example()
    # Separated components: the entropic plan is exact, the loss reaches tol.
    flow = _strict_fit(GMMOTFlow(target, ot_solver="sinkhorn", reg=0.05), source)
    assert flow.weights_gap_ == np.inf
    assert flow.converged_ and flow.loss_curve_[-1] <= flow.loss_tol_
    with pytest.warns(ConvergenceWarning, match="Sinkhorn plans certify no weights"):
        blurred = GMMOTFlow(target, ot_solver="sinkhorn", reg=0.5).fit(source)
    assert not blurred.converged_ and blurred.loss_curve_[-1] > blurred.loss_tol_
    frozen = _quiet_fit(
        GMMOTFlow(target, ot_solver="sinkhorn", reg=0.05, flow=("means",)), source
    )
    assert frozen.weights_gap_ == 0.0


def test_gradient_attributes_dropped_by_geodesic_refit():
    source, target = _pot_example()
    flow = GMMOTFlow(target).fit(source)
    assert flow.squared_gradient_norm_ >= 0.0
    flow.set_params(method="geodesic").fit(source)
    for name in ("loss_tol_", "squared_gradient_norm_", "weights_gap_"):
        assert not hasattr(flow, name)


def test_mixture_at_step_times():
    """For the gradient flow, t = s / n_iter_ is recorded step s."""
    source, target = _pot_example()
    flow = GMMOTFlow(target).fit(source)
    for s in (0, 7, flow.n_iter_ // 2, flow.n_iter_):
        gm = flow.mixture_at(s / flow.n_iter_)
        keep = flow.weights_path_[s] > 0
        np.testing.assert_allclose(gm.means_, flow.means_path_[s][keep], atol=1e-12)


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


def _sample_labelled(mixture, n, rng):
    means, covs, weights = mixture
    labels = rng.choice(len(weights), size=n, p=weights)
    z = rng.randn(n, means.shape[1])
    chols = np.linalg.cholesky(covs)[labels]
    return means[labels] + np.einsum("nab,nb->na", chols, z), labels


def _sample(mixture, n, rng):
    return _sample_labelled(mixture, n, rng)[0]


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


def _separated_3_to_3():
    means = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]])
    source = (
        means,
        np.array([np.eye(2), [[1.5, 0.3], [0.3, 0.6]], 0.8 * np.eye(2)]),
        np.array([0.36, 0.30, 0.34]),
    )
    target = (
        means + np.array([1.0, -1.0]),
        np.array([1.5 * np.eye(2), [[0.7, -0.2], [-0.2, 1.2]], np.eye(2)]),
        np.full(3, 1 / 3),
    )
    return source, target


def _merging_3_to_2():
    """Source components 1 and 2 both flow onto target component 1."""
    source = (
        np.array([[0.0, 0.0], [6.0, 0.0], [6.0, 4.0]]),
        np.array([np.eye(2)] * 3),
        np.array([0.4, 0.3, 0.3]),
    )
    target = (
        np.array([[1.0, 1.0], [7.0, 2.0]]),
        np.array([1.2 * np.eye(2), 1.5 * np.eye(2)]),
        np.array([0.4, 0.6]),
    )
    return source, target


@pytest.mark.parametrize(
    ("method", "transport"),
    [("gradient", "bary"), ("gradient", "rand"), ("geodesic", "bary")],
)
def test_inverse_transform_round_trip_separated(method, transport):
    """Separated final components: inverse_transform undoes transform.

    Before the Newton solve, the geodesic's "bary" round trip missed by 0.7
    (median; a split plan row blends two far-apart maps), and the gradient
    flow's by up to 3.5e-7.
    """
    source, target = _separated_3_to_3()
    flow = _strict_fit(
        GMMOTFlow(target, method=method, transport=transport, random_state=0),
        source,
    )
    x, _ = _sample_labelled(source, 3000, np.random.RandomState(0))
    back = flow.inverse_transform(flow.transform(x))
    assert np.max(np.linalg.norm(back - x, axis=1)) <= 1e-8


@pytest.mark.parametrize("method", ["gradient", "geodesic"])
def test_inverse_transform_where_components_merge(method):
    """Two source components carried onto one place: not invertible there.

    inverse_transform still returns a preimage (transform of it is the
    sample), and the samples of the component that does not merge come back
    exactly; of the merged ones, about half come back in the other component
    (38% of all samples miss by more than 0.1 here; before the Newton solve,
    98% missed).
    """
    source, target = _merging_3_to_2()
    flow = _strict_fit(GMMOTFlow(target, method=method), source)
    x, labels = _sample_labelled(source, 3000, np.random.RandomState(1))
    y = flow.transform(x)
    back = flow.inverse_transform(y)
    residual = np.linalg.norm(flow.transform(back) - y, axis=1)
    assert np.mean(residual <= 1e-9) >= 0.99
    error = np.linalg.norm(back - x, axis=1)
    assert np.mean(error[labels == 0] <= 1e-8) >= 0.99
    lost = np.mean(error > 0.1)
    assert 0.25 <= lost <= 0.5
    assert np.mean(error[error > 0.1] > 1.0) >= 0.95  # another component's preimage


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
