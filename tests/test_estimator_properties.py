"""Property-based tests (hypothesis) of the estimators' fitted results.

Whatever the (small, random) inputs and options: a fitted barycenter has
symmetric positive definite covariances, weights on the simplex and a finite,
non-negative objective; a flow stays in the SPD cone along its whole path,
keeps its weights on the simplex, never increases its loss, and moves samples
to finite points at any time in [0, 1].

Mixtures are drawn from a seed with a local ``RandomState``, with covariance
condition numbers up to 1e12 and coordinates at scales 1e-3 to 1e3.
"""

import os
import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from skgmmot import GMMOTBarycenter, GMMOTFlow

#: Fewer examples without the JIT (the kernels run as Python); as
#: tests/conftest.py's JIT_DISABLED, which importlib mode cannot import.
JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
MAX_EXAMPLES = 6 if JIT_DISABLED else 25
SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True)


def _mixture(rng, k, d, scale, log_cond):
    """A random mixture with condition numbers up to ``10 ** log_cond``."""
    means = scale * 3.0 * rng.randn(k, d)
    covs = np.empty((k, d, d))
    for i in range(k):
        q, _ = np.linalg.qr(rng.randn(d, d))
        vals = np.logspace(0.0, -log_cond, d)[rng.permutation(d)]
        cov = (q * (scale**2 * vals)) @ q.T
        covs[i] = 0.5 * (cov + cov.T)
    weights = rng.dirichlet(np.ones(k))
    return means, covs, weights


mixture_params = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "d": st.integers(1, 3),
        "log_scale": st.sampled_from([-3, 0, 3]),
        "log_cond": st.sampled_from([0, 3, 6, 12]),
    }
)


def _assert_spd(covs, what):
    covs = np.asarray(covs)
    scale = np.abs(covs).max(axis=(-2, -1), keepdims=True)
    asym = np.abs(covs - np.swapaxes(covs, -1, -2))
    assert np.all(asym <= 1e-12 * scale), f"{what}: not symmetric"
    assert np.all(np.linalg.eigvalsh(covs) > 0), f"{what}: not positive definite"


def _assert_simplex(weights, what):
    weights = np.asarray(weights)
    assert np.all(np.isfinite(weights)) and np.all(weights >= 0), what
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


@SETTINGS
@given(
    params=mixture_params,
    n_inputs=st.integers(1, 3),
    sizes=st.lists(st.integers(1, 3), min_size=3, max_size=3),
    n_components=st.integers(1, 3),
    projection=st.sampled_from(["euclidean", "bures", "bures_two_stage"]),
    ot_solver=st.sampled_from(["exact", "sinkhorn"]),
    learn_weights=st.booleans(),
    init=st.sampled_from(["kmeans", "random"]),
)
def test_barycenter_fit_is_valid(
    params, n_inputs, sizes, n_components, projection, ot_solver, learn_weights, init
):
    rng = np.random.RandomState(params["seed"])
    d, scale = params["d"], 10.0 ** params["log_scale"]
    mixtures = [
        _mixture(rng, sizes[k], d, scale, params["log_cond"]) for k in range(n_inputs)
    ]
    n_components = min(n_components, sum(sizes[:n_inputs]))
    # reg in the units of the costs (squared coordinates).
    bary = GMMOTBarycenter(
        n_components,
        init=init,
        projection=projection,
        ot_solver=ot_solver,
        reg=0.1 * scale**2,
        learn_weights=learn_weights,
        max_iter=30,
        random_state=int(rng.randint(1000)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bary.fit(mixtures)
    _assert_spd(bary.covariances_, "covariances_")
    _assert_simplex(bary.weights_, "weights_")
    assert np.isfinite(bary.cost_) and bary.cost_ >= 0.0
    assert np.all(np.isfinite(bary.cost_curve_)) and np.all(bary.cost_curve_ >= 0.0)
    assert bary.cost_curve_.shape == (bary.n_iter_ + 1,)
    assert np.all(np.isfinite(bary.means_))
    # The plans couple the barycenter weights with each input's.
    for plan, (_, _, w) in zip(bary.plans_, mixtures, strict=True):
        assert np.all(np.isfinite(plan)) and np.all(plan >= 0)
        np.testing.assert_allclose(plan.sum(axis=0), w, atol=1e-8)
        np.testing.assert_allclose(plan.sum(axis=1), bary.weights_, atol=1e-8)
    X = scale * 3.0 * rng.randn(10, d)
    groups = rng.randint(n_inputs, size=10)
    assert np.all(np.isfinite(bary.transform(X, sample_domain=groups)))
    assert np.all(np.isfinite(bary.score_samples(X)))


@SETTINGS
@given(
    params=mixture_params,
    k_source=st.integers(1, 3),
    k_target=st.integers(1, 3),
    method=st.sampled_from(["gradient", "geodesic"]),
    flow=st.sampled_from(
        [
            ("means", "covariances", "weights"),
            ("means", "covariances"),
            ("covariances",),
            ("weights",),
        ]
    ),
    ot_solver=st.sampled_from(["exact", "sinkhorn"]),
    learning_rate=st.sampled_from([0.1, 0.5, 1.0]),
    times=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3),
)
def test_flow_fit_is_valid(
    params, k_source, k_target, method, flow, ot_solver, learning_rate, times
):
    rng = np.random.RandomState(params["seed"])
    d, scale = params["d"], 10.0 ** params["log_scale"]
    source = _mixture(rng, k_source, d, scale, params["log_cond"])
    target = _mixture(rng, k_target, d, scale, params["log_cond"])
    estimator = GMMOTFlow(
        target,
        method=method,
        flow=flow,
        ot_solver=ot_solver,
        reg=0.1 * scale**2,
        learning_rate=learning_rate,
        n_steps=15,
        tol=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(source)
    n = estimator.n_iter_
    assert 0 <= n <= 15
    assert estimator.covariances_path_.shape[0] == n + 1
    _assert_spd(estimator.covariances_path_, "covariances_path_")
    _assert_simplex(estimator.weights_path_, "weights_path_")
    assert np.all(np.isfinite(estimator.means_path_))
    loss = estimator.loss_curve_
    assert loss.shape == (n + 1,)
    assert np.all(np.isfinite(loss)) and np.all(loss >= 0.0)
    # Every gradient step is line-searched until the loss decreases; the
    # geodesic's loss is (1 - t)^2 MW2^2.
    assert np.all(np.diff(loss) <= 0.0)
    if method == "gradient" and n:
        assert np.all(np.diff(loss) < 0.0)
    X = source[0][rng.randint(k_source, size=8)] + scale * rng.randn(8, d)
    for t in [0.0, 1.0, *times]:
        moved = estimator.transform(X, t)
        assert np.all(np.isfinite(moved))
        mixture = estimator.mixture_at(t)
        _assert_spd(mixture.covariances_, f"mixture_at({t})")
        _assert_simplex(mixture.weights_, f"mixture_at({t}).weights_")
    np.testing.assert_array_equal(estimator.transform(X, 0.0), X)
