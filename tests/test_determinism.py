"""Same ``random_state`` -> bit-identical results (np.array_equal, not allclose).

For GMMOTBarycenter (k-means and random seeding, exact and entropic plans,
mixture and sample mode, and ``n_jobs=2`` in sample mode) and GMMOTFlow
(gradient flow and geodesic, ``transport="rand"``); and neither numba's
thread count (1 or 2) nor the size of the chunks long kernel calls are cut
into changes any result bitwise.
"""

import warnings

import numba
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

import skgmmot._kernels._threads as threads
from skgmmot import (
    GMMOTBarycenter,
    GMMOTFlow,
    bures_wasserstein_barycenter,
    dist_bures_squared,
    gmm_barycenter_fixed_point,
    gmm_ot_apply_map,
    gmm_ot_loss,
    gmm_pdf,
    pairwise_gmm_ot_distances,
)
from skgmmot.datasets import make_gmm_family, make_random_gmm


def assert_bitwise_equal(a, b, what="result"):
    """Equal arrays (same dtype, shape and bits), recursively through containers."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for key in a:
            assert_bitwise_equal(a[key], b[key], f"{what}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_bitwise_equal(x, y, f"{what}[{i}]")
    elif isinstance(a, np.ndarray | np.generic):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, what
        # Same bits (NaN-safe, and -0.0 differs from 0.0).
        assert a.tobytes() == b.tobytes(), what
    else:
        assert a == b, what


def fitted_state(est):
    return {k: v for k, v in vars(est).items() if k.endswith("_")}


def _samples(seed):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(60, 2) @ rng.randn(2, 2) + 4 * g for g in range(3)])
    return X, np.repeat([0, 1, 2], 60)


def _barycenter_outputs(est, X, labels):
    return (
        fitted_state(est),
        est.transform(X, sample_domain=labels),
        est.score_samples(X),
        est.predict_proba(X),
        est.sample(7),
    )


BARYCENTER_CONFIGS = [
    pytest.param({"init": init, "ot_solver": solver}, id=f"{init}-{solver}")
    for init in ("kmeans", "random")
    for solver in ("exact", "sinkhorn")
]


@pytest.mark.parametrize("params", BARYCENTER_CONFIGS)
@pytest.mark.parametrize("mode", ["mixtures", "samples"])
def test_barycenter_same_random_state_bit_identical(params, mode, global_random_seed):
    X, labels = _samples(global_random_seed)
    if mode == "mixtures":
        data = make_gmm_family(
            3, n_components=[3, 4, 5], random_state=global_random_seed
        )
        fit_kwargs, labels = {}, np.repeat([0, 1, 2], 60)
    else:
        data, fit_kwargs = X, {"sample_domain": labels}
    runs = []
    for random_state in (7, 7, np.random.RandomState(7), np.random.RandomState(7)):
        est = GMMOTBarycenter(3, random_state=random_state, reg=0.5, **params)
        est.fit(data, **fit_kwargs)
        runs.append(_barycenter_outputs(est, X, labels))
    # An int seed and a RandomState instance give different (but each
    # reproducible) streams: sample() reuses the instance after fit.
    assert_bitwise_equal(runs[0], runs[1])
    assert_bitwise_equal(runs[2][0], runs[3][0])
    assert_bitwise_equal(runs[2][1:4], runs[3][1:4])
    # The comparison is not vacuous: every fitted attribute is there.
    assert {"means_", "plans_", "mixtures_", "cost_curve_"} <= runs[0][0].keys()


def test_barycenter_n_jobs_2_bit_identical_to_serial(global_random_seed):
    X, labels = _samples(global_random_seed)
    outputs = []
    for n_jobs in (None, 1, 2):
        est = GMMOTBarycenter(3, n_jobs=n_jobs, random_state=0).fit(
            X, sample_domain=labels
        )
        outputs.append(_barycenter_outputs(est, X, labels))
    assert_bitwise_equal(outputs[0], outputs[1])
    assert_bitwise_equal(outputs[0], outputs[2])


FLOW_CONFIGS = [
    pytest.param({"method": "gradient"}, id="gradient"),
    pytest.param(
        {"method": "gradient", "ot_solver": "sinkhorn"}, id="gradient-sinkhorn"
    ),
    pytest.param({"method": "geodesic"}, id="geodesic"),
]


@pytest.mark.parametrize("params", FLOW_CONFIGS)
@pytest.mark.parametrize("source", ["mixture", "samples"])
def test_flow_same_random_state_bit_identical(params, source, global_random_seed):
    rng = np.random.RandomState(global_random_seed)
    X = np.vstack([rng.randn(50, 2), rng.randn(50, 2) + 3.0])
    target = make_random_gmm(2, 2, random_state=global_random_seed)
    src = make_random_gmm(3, 2, random_state=global_random_seed + 1)
    runs = []
    for _ in range(2):
        flow = GMMOTFlow(
            target,
            n_components=3,
            transport="rand",
            n_steps=30,
            tol=1e-1,
            random_state=3,
            **params,
        )
        with warnings.catch_warnings():  # convergence is not the point here
            warnings.simplefilter("ignore", ConvergenceWarning)
            flow.fit(src if source == "mixture" else X)
        runs.append(
            (
                fitted_state(flow),
                flow.transform(X, 0.4),
                flow.transform(X),
                flow.inverse_transform(X),
                flow.mixture_at(0.7).means_,
                flow.mixture_at(0.7).sample(5),
            )
        )
    assert_bitwise_equal(runs[0], runs[1])
    # transport="rand" draws: two calls agree with each other, too.
    flow = GMMOTFlow(target, transport="rand", random_state=3, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        flow.set_params(n_steps=30, tol=1e-1).fit(src)
    assert_bitwise_equal(flow.transform(X, 0.5), flow.transform(X, 0.5))


# --------------------------------------------------------- numba threads


@pytest.fixture
def num_threads():
    """Set numba's thread count; restored afterwards."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    previous = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(previous)


def _threaded_results(rng_seed):
    rng = np.random.RandomState(rng_seed)
    # Large enough for the kernels to run in parallel (> 2e5 flops).
    m_s, C_s, w_s = make_random_gmm(60, 5, random_state=rng)
    m_t, C_t, w_t = make_random_gmm(50, 5, random_state=rng)
    x = rng.randn(400, 5)
    family = make_gmm_family(6, n_components=20, n_features=5, random_state=rng_seed)
    gm = GaussianMixture(4, random_state=0).fit(rng.randn(200, 5))
    X, labels = _samples(rng_seed)
    bary = GMMOTBarycenter(4, random_state=0).fit([*family[:3], gm])
    bary_samples = GMMOTBarycenter(3, random_state=0).fit(X, sample_domain=labels)
    flow = GMMOTFlow((m_t, C_t, w_t), n_steps=5, tol=1e9, random_state=0)
    flow.fit((m_s, C_s, w_s))
    return (
        dist_bures_squared(m_s, m_t, C_s, C_t),
        gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t),
        gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t),
        gmm_pdf(x, m_s, C_s, w_s),
        pairwise_gmm_ot_distances(family),
        fitted_state(bary),
        fitted_state(bary_samples),
        fitted_state(flow),
        flow.transform(x),
    )


@pytest.mark.slow  # meaningless (and slow) with NUMBA_DISABLE_JIT=1
def test_numba_thread_count_does_not_change_results(num_threads, global_random_seed):
    num_threads(1)
    one = _threaded_results(global_random_seed)
    num_threads(2)
    two = _threaded_results(global_random_seed)
    assert_bitwise_equal(one, two)


def _chunked_results(rng_seed):
    """``_threaded_results`` and the Bures fixed points run in slices."""
    rng = np.random.RandomState(rng_seed)
    family = make_gmm_family(3, n_components=6, n_features=4, random_state=rng)
    m, C, w = zip(*family, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        barycenters = [
            bures_wasserstein_barycenter(m[0], C[0], num_iter=n, eps=0.0)
            for n in (1, 7, 60)
        ]
    fixed_point = gmm_barycenter_fixed_point(
        m, C, w, m[0], C[0], [0.2, 0.3, 0.5], iterations=4,
        barycentric_proj_method="bures",
    )  # fmt: skip
    bures = GMMOTBarycenter(3, projection="bures", random_state=0).fit(family)
    return (
        *_threaded_results(rng_seed),
        barycenters,
        fixed_point,
        fitted_state(bures),
    )


@pytest.mark.slow
@pytest.mark.parametrize("n_threads", [1, 2])
def test_chunk_size_does_not_change_results(
    num_threads, monkeypatch, n_threads, global_random_seed
):
    num_threads(n_threads)
    default = _chunked_results(global_random_seed)
    # One row per chunk, and one fixed-point iteration per kernel call.
    monkeypatch.setattr(threads, "CHUNK_FLOPS", 1.0)
    assert_bitwise_equal(default, _chunked_results(global_random_seed))
