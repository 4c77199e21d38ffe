"""Long runs and interrupts: bounded loops, and ``fit`` is all-or-nothing.

Every loop of the estimators is bounded by ``max_iter`` / ``n_steps`` or by a
module constant; a ``fit`` that raises (``KeyboardInterrupt`` included) leaves
the estimator exactly as it was: unfitted, or with its previous fit intact.
"""

import copy
import os
import signal
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

import skgmmot._barycenter
import skgmmot._engine.barycenter
import skgmmot._engine.flow
import skgmmot._engine.transport
import skgmmot._flow
from skgmmot import GMMOTBarycenter, GMMOTFlow, gmm_ot_loss, gmm_pdf
from skgmmot._kernels._sinkhorn import _sinkhorn_log
from skgmmot.datasets import make_random_gmm


def _mixtures(seed, k=3, d=2, n=3):
    rng = np.random.RandomState(seed)
    return [
        make_random_gmm(k, d, center=4.0 * rng.randn(d), random_state=seed + i)
        for i in range(n)
    ]


def _interrupt_on_call(monkeypatch, module, name, call, exc=KeyboardInterrupt):
    """Replace ``module.name`` by a wrapper raising ``exc`` on call ``call``.

    Returns the list of calls made so far (one entry per call).
    """
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(None)
        if len(calls) == call:
            raise exc("interrupted by the test")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def _snapshot(estimator):
    """A deep copy of the estimator's attributes, to compare after a failure."""
    return {name: copy.deepcopy(value) for name, value in vars(estimator).items()}


def _assert_same_state(estimator, snapshot):
    assert set(vars(estimator)) == set(snapshot)
    for name, expected in snapshot.items():
        actual = getattr(estimator, name)
        if isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(actual, expected, err_msg=name)
        elif isinstance(expected, list | tuple):
            assert len(actual) == len(expected), name
            for a, e in zip(actual, expected, strict=True):
                if isinstance(e, tuple):
                    for x, y in zip(a, e, strict=True):
                        np.testing.assert_array_equal(x, y, err_msg=name)
                else:
                    np.testing.assert_array_equal(a, e, err_msg=name)
        elif not callable(expected) and not hasattr(expected, "get_params"):
            assert actual == expected, name


def _assert_unfitted(estimator):
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    fitted = [name for name in vars(estimator) if name.endswith("_")]
    assert fitted == [], fitted


# -------------------------------------------------------------- barycenter

# Where the barycenter's iterations can be interrupted: the plan solver, the
# fixed-point update, and the verbose report (a user callback stand-in).
_BARYCENTER_HOOKS = [
    (skgmmot._engine.transport, "exact_plans", {}),
    (
        skgmmot._engine.transport,
        "sinkhorn_plans",
        {"ot_solver": "sinkhorn", "reg": 0.5},
    ),
    (skgmmot._engine.barycenter, "fixed_point_update", {}),
    (skgmmot._engine.barycenter, "optimal_weights", {"learn_weights": True}),
]


@pytest.mark.parametrize(("module", "name", "params"), _BARYCENTER_HOOKS)
def test_barycenter_interrupt_leaves_unfitted(monkeypatch, module, name, params):
    mixtures = _mixtures(0)
    # The third call of the hook, or its first for the weight LP (which only
    # runs once the fixed point with fixed weights has converged).
    call = 1 if name == "optimal_weights" else 3
    calls = _interrupt_on_call(monkeypatch, module, name, call)
    bary = GMMOTBarycenter(n_components=3, tol=0.0, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(KeyboardInterrupt):
            bary.fit(mixtures)
    assert len(calls) == call
    _assert_unfitted(bary)


def test_barycenter_interrupt_in_verbose_report(monkeypatch):
    def report(self, iteration, objective, start):
        if iteration == 1:  # after the first iteration, inside the loop
            raise KeyboardInterrupt

    monkeypatch.setattr(GMMOTBarycenter, "_report", report)
    bary = GMMOTBarycenter(3, tol=0.0, max_iter=50, verbose=1, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        bary.fit(_mixtures(1))
    _assert_unfitted(bary)


def test_barycenter_interrupt_on_samples_leaves_no_n_features(monkeypatch):
    # validate_data sets n_features_in_ before the iterations start.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(60, 3), rng.randn(60, 3) + 5.0])
    groups = np.repeat([0, 1], 60)
    _interrupt_on_call(monkeypatch, skgmmot._engine.barycenter, "fixed_point_update", 1)
    bary = GMMOTBarycenter(2, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        bary.fit(X, sample_domain=groups)
    _assert_unfitted(bary)
    assert not hasattr(bary, "n_features_in_")


@pytest.mark.parametrize("exc", [KeyboardInterrupt, MemoryError, RuntimeError])
def test_barycenter_failed_refit_keeps_previous_fit(monkeypatch, exc):
    first = _mixtures(2, d=2)
    bary = GMMOTBarycenter(2, random_state=0).fit(first)
    before = _snapshot(bary)
    X = np.random.RandomState(1).randn(40, 2)
    expected_scores = bary.score_samples(X)
    expected_moved = bary.transform(X, sample_domain=np.zeros(40, dtype=int))
    # A refit on other data, in 3 features, interrupted on the third plan.
    _interrupt_on_call(monkeypatch, skgmmot._engine.transport, "exact_plans", 3, exc)
    with pytest.raises(exc):
        bary.fit(_mixtures(3, d=3), **{})
    _assert_same_state(bary, before)
    assert bary.n_features_in_ == 2
    np.testing.assert_array_equal(bary.score_samples(X), expected_scores)
    np.testing.assert_array_equal(
        bary.transform(X, sample_domain=np.zeros(40, dtype=int)), expected_moved
    )


def test_barycenter_convergence_warning_as_error_keeps_state():
    # The pytest config turns ConvergenceWarning into an error: raised after
    # the loop, it must not leave a half-fitted estimator either.
    bary = GMMOTBarycenter(3, max_iter=1, tol=0.0, init="random", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            bary.fit(_mixtures(6, k=4))
    _assert_unfitted(bary)


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="SIGINT is not handled by Python's default handler here",
)
def test_barycenter_real_sigint(monkeypatch):
    # A real Ctrl-C: SIGINT delivered to the process during the iterations.
    original = skgmmot._engine.barycenter.fixed_point_update
    calls = []

    def slow_update(*args, **kwargs):
        calls.append(None)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5.0)  # the handler raises KeyboardInterrupt in here
        return original(*args, **kwargs)

    monkeypatch.setattr(skgmmot._engine.barycenter, "fixed_point_update", slow_update)
    bary = GMMOTBarycenter(3, tol=0.0, max_iter=50, random_state=0)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        bary.fit(_mixtures(5))
    assert time.perf_counter() - start < 4.0
    _assert_unfitted(bary)


# -------------------------------------------------------------------- flow


def _source_target(seed, d=2):
    return make_random_gmm(3, d, random_state=seed), make_random_gmm(
        2, d, center=3.0, random_state=seed + 100
    )


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("_flow_step", {}),
        ("_evaluate", {}),
        ("_evaluate", {"ot_solver": "sinkhorn", "reg": 0.5}),
        ("geodesic_state", {"method": "geodesic"}),
    ],
)
def test_flow_interrupt_leaves_unfitted(monkeypatch, name, params):
    source, target = _source_target(0)
    calls = _interrupt_on_call(monkeypatch, skgmmot._engine.flow, name, 3)
    flow = GMMOTFlow(target, tol=0.0, n_steps=20, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(KeyboardInterrupt):
            flow.fit(source)
    assert len(calls) == 3
    _assert_unfitted(flow)


def test_flow_interrupt_in_verbose_report(monkeypatch):
    def report(self, step, loss, tau, start):
        if step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(GMMOTFlow, "_report", report)
    source, target = _source_target(1)
    flow = GMMOTFlow(target, tol=0.0, n_steps=50, verbose=1)
    with pytest.raises(KeyboardInterrupt):
        flow.fit(source)
    _assert_unfitted(flow)


@pytest.mark.parametrize("method", ["gradient", "geodesic"])
def test_flow_failed_refit_keeps_previous_fit(monkeypatch, method):
    # The first fit is a gradient flow on samples (with maps_path_), the
    # interrupted refit a flow of another kind on 3-feature mixtures: neither
    # the attributes it would drop nor n_features_in_ may change.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(80, 2), rng.randn(80, 2) + 4.0])
    labels = np.repeat([0, -1], 80)
    flow = GMMOTFlow(n_components=2, n_steps=30, tol=1e-6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        flow.fit(X, sample_domain=labels)
    before = _snapshot(flow)
    expected = flow.transform(X[:80], 0.5)
    source, target = _source_target(2, d=3)
    flow.set_params(target=target, method=method)
    hook = "_flow_step" if method == "gradient" else "geodesic_state"
    _interrupt_on_call(monkeypatch, skgmmot._engine.flow, hook, 2)
    with pytest.raises(KeyboardInterrupt):
        flow.fit(source)
    flow.set_params(target=None, method="gradient")
    _assert_same_state(flow, before)
    assert "maps_path_" in vars(flow) and "pairs_" not in vars(flow)
    np.testing.assert_array_equal(flow.transform(X[:80], 0.5), expected)


# ---------------------------------------------------------- bounded loops


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"projection": "bures"},
        {"ot_solver": "sinkhorn", "reg": 0.5},
        {"learn_weights": True},
        {"learn_weights": True, "ot_solver": "sinkhorn", "reg": 0.5},
    ],
)
@pytest.mark.parametrize("max_iter", [1, 2])
def test_barycenter_max_iter_bounds_iterations(monkeypatch, params, max_iter):
    # tol=0 and a start far from the optimum: only max_iter stops the loop.
    counted = {}
    for name in ("plans_and_objective", "fixed_point_update", "optimal_weights"):
        original = getattr(skgmmot._engine.barycenter, name)

        def counting(*args, _original=original, _name=name, **kwargs):
            counted[_name] = counted.get(_name, 0) + 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(skgmmot._engine.barycenter, name, counting)
    bary = GMMOTBarycenter(
        3, max_iter=max_iter, tol=0.0, init="random", random_state=0, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bary.fit(_mixtures(6, k=4))
    assert 1 <= bary.n_iter_ <= max_iter
    assert bary.cost_curve_.shape == (bary.n_iter_ + 1,)
    assert counted["fixed_point_update"] == bary.n_iter_
    assert counted["plans_and_objective"] == bary.n_iter_ + 1
    assert counted.get("optimal_weights", 0) <= bary.n_iter_


def test_barycenter_max_iter_warns():
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        bary = GMMOTBarycenter(
            3, max_iter=1, tol=0.0, init="random", random_state=0
        ).fit(_mixtures(6, k=4))
    assert bary.n_iter_ == 1 and not bary.converged_


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"flow": ("means",)},
        {"flow": ("weights",)},
        {"ot_solver": "sinkhorn", "reg": 0.5},
    ],
)
@pytest.mark.parametrize("n_steps", [1, 3])
def test_gradient_flow_n_steps_bounds_steps(monkeypatch, params, n_steps):
    original = skgmmot._engine.flow._flow_step
    calls = []

    def counting(*args, **kwargs):
        calls.append(None)
        return original(*args, **kwargs)

    monkeypatch.setattr(skgmmot._engine.flow, "_flow_step", counting)
    source, target = _source_target(3)
    flow = GMMOTFlow(target, n_steps=n_steps, tol=0.0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        flow.fit(source)
    assert 0 <= flow.n_iter_ <= n_steps
    assert flow.loss_curve_.shape == (flow.n_iter_ + 1,)
    assert flow.covariances_path_.shape[0] == flow.n_iter_ + 1
    # Each step line-searches at most MAX_HALVINGS times (plus the step that
    # finds no decrease and stops the flow).
    assert len(calls) <= (flow.n_iter_ + 1) * skgmmot._engine.flow.MAX_HALVINGS


@pytest.mark.parametrize("n_steps", [1, 2, 7])
def test_geodesic_n_steps_is_exact(n_steps):
    source, target = _source_target(4)
    flow = GMMOTFlow(target, method="geodesic", n_steps=n_steps).fit(source)
    assert flow.n_iter_ == n_steps
    assert flow.means_path_.shape[0] == n_steps + 1
    np.testing.assert_allclose(flow.loss_curve_[-1], 0.0, atol=1e-12)


def test_sinkhorn_kernel_infinite_start_terminates():
    # Costs that overflowed give an infinite cost range, the first level of
    # the eps-scaling: eps / 4 stays infinite, which used to loop forever.
    a = np.array([0.5, 0.5])
    b = np.array([0.5, 0.5])
    M = np.array([[0.0, np.inf], [np.inf, 0.0]])
    f, g = np.zeros(2), np.zeros(2)
    plan, n_iter, err = _sinkhorn_log(a, b, M, 0.1, 50, 1e-10, f, g, np.inf)
    assert n_iter <= 50 + 50 * 1000
    np.testing.assert_allclose(plan, np.diag([0.5, 0.5]), atol=1e-12)
    assert err < 1e-10


def test_sinkhorn_kernel_nan_costs_terminate():
    # NaN costs make the Newton Hessian NaN: its damping loop must give up
    # after MAX_DAMPINGS tries instead of looping forever.
    a = np.full(3, 1.0 / 3.0)
    M = np.array([[0.0, 1.0, np.nan], [1.0, 0.0, 1.0], [np.nan, 1.0, 0.0]])
    f, g = np.zeros(3), np.zeros(3)
    _, n_iter, _ = _sinkhorn_log(a, a.copy(), M, 0.01, 30, 1e-10, f, g, 0.01)
    assert n_iter <= 30 * (1 + 1000)


def test_overflowing_coordinates_are_rejected_up_front():
    # Means of 1e200 would overflow the squared-distance costs to inf (the
    # Sinkhorn fit used to hang in eps-scaling, and exact fits end with a NaN
    # cost_): validation rejects them with a message naming the field.
    eye = np.repeat(np.eye(2)[None], 2, axis=0)
    m1 = (np.array([[0.0, 0.0], [1e200, 0.0]]), eye, np.array([0.5, 0.5]))
    m2 = (np.array([[0.0, 1.0], [-1.0, 0.0]]), eye, np.array([0.5, 0.5]))
    bary = GMMOTBarycenter(2, ot_solver="sinkhorn", max_iter=3, random_state=0)
    with pytest.raises(ValueError, match=r"mixtures\[0\].*means.*magnitude"):
        bary.fit([m1, m2])
    _assert_unfitted(bary)
    with pytest.raises(ValueError, match=r"source mixture: means m_s.*magnitude"):
        gmm_ot_loss(m1[0], m2[0], eye, eye, m1[2], m2[2])
    with pytest.raises(ValueError, match=r"covariances C_t.*magnitude"):
        gmm_ot_loss(m2[0], m2[0], eye, 1e250 * eye, m1[2], m2[2])
    with pytest.raises(ValueError, match=r"x.*magnitude"):
        gmm_pdf(np.array([[1e150, 0.0]]), m2[0], eye, m2[2])
