"""Ctrl-C inside every long computation, with a time bound (issue 14, item 8).

A signal handler runs only when the main thread is back in the Python
interpreter: compiled numba code never sees one. So every long entry point
must return to Python often. ``_threads.run`` cuts a call of much estimated
work into chunks of at most ``CHUNK_FLOPS`` (one kernel call each, on the
calling thread too), and the Bures barycenter fixed point runs its
iterations in slices of a bounded number per kernel call. A kernel must not
return arrays in a tuple (or an argument array) either: numba then boxes
them by calling Python, where the pending signal's handler raised and the
call ended in ``SystemError("... returned a result with an exception set")``.

Each test starts a call that would run for many seconds, has a timer signal
raise ``KeyboardInterrupt`` (as Python's default SIGINT handler does) after
``DELAY`` seconds, and checks that it arrives within ``LATENCY`` seconds of
the signal, as a ``KeyboardInterrupt``, and that a following call (split
between threads where it can be) still gives the same result as before.
"""

import os
import signal
import threading
import time
import warnings

import numba
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skgmmot import (
    GMMOTBarycenter,
    GMMOTFlow,
    bures_wasserstein_barycenter,
    dist_bures_squared,
    gmm_barycenter_fixed_point,
    gmm_pdf,
)
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import sinkhorn_plans
from skgmmot._kernels import (
    _barycenter,
    _bures,
    _density,
    _flow,
    _linalg,
    _sinkhorn,
)
from skgmmot.datasets import make_random_gmm

#: When the signal comes, after the call starts.
DELAY = 0.3
#: The most time from the signal to the ``KeyboardInterrupt``.
LATENCY = 1.5
JIT = not numba.config.DISABLE_JIT
_ALL = ("means", "covariances", "weights")

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "setitimer"), reason="needs signal.setitimer (POSIX)"
)


def _spd(rng, k, d):
    B = rng.randn(k, d, d)
    return B @ B.transpose(0, 2, 1) / d + 0.1 * np.eye(d)


def _interrupt(call, delay=DELAY):
    """Run ``call()`` with a ``KeyboardInterrupt`` raised by a timer signal.

    Returns the time from the signal to the exception, or None if ``call``
    returned first. A ``SystemError`` (the exception raised in the wrong
    place) propagates and fails the test.
    """
    armed = [True]

    def handler(signum, frame):
        if armed[0]:  # never outside ``call``: it would stop the test run
            raise KeyboardInterrupt("timer")

    previous = signal.signal(signal.SIGALRM, handler)
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, delay)
    try:
        call()
    except KeyboardInterrupt:
        return time.perf_counter() - start - delay
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)
    return None


def _assert_interrupted(call, again, latency=LATENCY):
    """``call`` is interrupted in time; ``again()`` gives what it gave before."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected = again()
        seconds = _interrupt(call)
        assert seconds is not None, "the call ended before the signal"
        assert seconds < latency, f"KeyboardInterrupt {seconds:.2f} s after SIGALRM"
        for got, want in zip(again(), expected, strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    """Run the test with one numba thread, then two (split calls)."""
    if request.param > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("needs two numba threads")
    previous = numba.get_num_threads()
    numba.set_num_threads(request.param)
    yield request.param
    numba.set_num_threads(previous)


# --------------------------------------------------------------- functions


def test_bures_wasserstein_barycenter_without_tolerance():
    # eps=0: only num_iter stops the fixed point (about 1e4 iterations a
    # second here), and one kernel call used to run them all.
    rng = np.random.RandomState(0)
    m, C = rng.randn(10, 10), _spd(rng, 10, 10)

    def again():
        return bures_wasserstein_barycenter(m[:3, :3], C[:3, :3, :3], num_iter=20)

    _assert_interrupted(
        lambda: bures_wasserstein_barycenter(m, C, num_iter=10**6, eps=0.0),
        again,
    )


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="SIGINT is not handled by Python's default handler here",
)
def test_real_sigint_in_bures_wasserstein_barycenter():
    # A real Ctrl-C: SIGINT sent by another thread, Python's own handler.
    rng = np.random.RandomState(1)
    m, C = rng.randn(10, 10), _spd(rng, 10, 10)
    sent = []

    def kill():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(DELAY, kill)
    interrupted = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bures_wasserstein_barycenter(m, C, num_iter=2)  # compile first
        timer.start()
        try:
            try:
                bures_wasserstein_barycenter(m, C, num_iter=10**6, eps=0.0)
            except KeyboardInterrupt:
                interrupted = time.perf_counter()
            else:
                time.sleep(10.0)  # the call ended first: the signal comes here
        except KeyboardInterrupt:
            pass
        finally:
            timer.join()
    assert interrupted is not None, "the call ended before the signal"
    assert interrupted - sent[0] < LATENCY


def test_dist_bures_squared_large(threads):
    # 2000 x 2000 pairs in d = 30: about a minute on one core.
    rng = np.random.RandomState(2)
    k, d = (2000, 30) if JIT else (300, 5)
    m, C = rng.randn(k, d), _spd(rng, k, d)
    # Split between two threads, whatever the timings (work >= 5e8).
    r, e = (200, 12) if JIT else (6, 3)
    mid = (m[:r, :e], m[r : 2 * r, :e], C[:r, :e, :e], C[r : 2 * r, :e, :e])

    def again():
        return (dist_bures_squared(*mid),)

    _assert_interrupted(lambda: dist_bures_squared(m, m, C, C), again)


def test_gmm_pdf_many_points(threads):
    # 100 000 points, 1000 components in d = 20: about 8 s on one core (the
    # points are few enough to be checked well before the signal).
    rng = np.random.RandomState(3)
    n, k, d = (100_000, 1000, 20) if JIT else (100_000, 20, 5)
    x = rng.randn(n, d)
    m, C = rng.randn(k, d), _spd(rng, k, d)
    w = np.full(k, 1.0 / k)
    r, c = (100_000, 100) if JIT else (100, 10)  # split: work >= 5e8

    def again():
        return (gmm_pdf(x[:r, :5], m[:c, :5], C[:c, :5, :5], np.full(c, 1.0 / c)),)

    _assert_interrupted(lambda: gmm_pdf(x, m, C, w), again)


# ---------------------------------------------------- barycenters and flows


def _mixtures(seed, n, k, d):
    rng = np.random.RandomState(seed)
    return [
        make_random_gmm(k, d, center=3.0 * rng.randn(d), random_state=seed + i)
        for i in range(n)
    ]


def test_gmm_barycenter_fixed_point_bures_projection(threads):
    k, d = (30, 10) if JIT else (5, 3)
    inputs = _mixtures(4, 3, k, d)
    small = _mixtures(5, 3, 4, 2)
    start = _mixtures(6, 2, k, d)

    def fixed_point(mixtures, init, iterations):
        return gmm_barycenter_fixed_point(
            [a[0] for a in mixtures],
            [a[1] for a in mixtures],
            [a[2] for a in mixtures],
            init[0],
            init[1],
            [0.2, 0.3, 0.5],
            iterations=iterations,
            barycentric_proj_method="bures",
        )

    def again():
        return fixed_point(small, small[0], 3)

    _assert_interrupted(lambda: fixed_point(inputs, start[0], 10**6), again)


@pytest.mark.parametrize(
    "params",
    [{"projection": "bures"}, {"ot_solver": "sinkhorn", "reg": 1e-3}],
    ids=["bures", "sinkhorn"],
)
def test_gmmot_barycenter_fit(threads, params):
    k, d = (40, 8) if JIT else (5, 2)
    mixtures = _mixtures(7, 3, k, d)
    small = _mixtures(8, 2, 3, 2)

    def again():
        bary = GMMOTBarycenter(3, max_iter=3, tol=0.0, random_state=0, **params)
        bary.fit(small)
        return bary.means_, bary.covariances_, bary.weights_

    # A fit converges in about 20 iterations even with tol=0 (the plans stop
    # changing): many restarts make it long.
    bary = GMMOTBarycenter(
        k, n_init=10**5, max_iter=10**6, tol=0.0, random_state=0, **params
    )
    _assert_interrupted(lambda: bary.fit(mixtures), again)
    assert not hasattr(bary, "means_")


def test_gmmot_flow_fit_many_steps(threads):
    # 100 x 100 Gaussian maps in d = 10 per step: the step kernel, which
    # returned a tuple of arrays, takes most of the time.
    k, d = (100, 10) if JIT else (5, 2)
    source = make_random_gmm(k, d, random_state=9)
    target = make_random_gmm(k, d, center=2.0, random_state=10)
    small = (make_random_gmm(3, 2, random_state=11), make_random_gmm(2, 2))

    def again():
        flow = GMMOTFlow(small[1], n_steps=5, tol=0.0).fit(small[0])
        return flow.means_path_, flow.covariances_path_, flow.loss_curve_

    flow = GMMOTFlow(target, n_steps=10**6, tol=0.0, learning_rate=1e-3)
    _assert_interrupted(lambda: flow.fit(source), again)
    assert not hasattr(flow, "means_")


# ------------------------------------------------------------ the root cause


def _step_arguments(k, d, seed):
    m, C, w = make_random_gmm(k, d, random_state=seed)
    mt, Ct, wt = make_random_gmm(k, d, center=1.0, random_state=seed + 1)
    plan = np.outer(w, wt)  # every pair carries mass: k * k maps
    cost = dist_bures_squared(m, mt, C, Ct)
    loss = float((plan * cost).sum())
    return (m, C, w, mt, Ct, plan, cost, loss, 0.5, 0.5, True, True, True)


def test_flow_step_interrupted_mid_call(threads):
    # One step of a large flow: 90 000 Gaussian maps in d = 15, about 1.5 s
    # on one core. Its kernel returned its five results as a tuple: a signal
    # during it gave SystemError, every time.
    args = _step_arguments(*((300, 15) if JIT else (100, 3)), seed=12)
    small = _step_arguments(3, 3, seed=14)
    _assert_interrupted(
        lambda: _flow._flow_step(*args), lambda: _flow._flow_step(*small)
    )


def _holds_arrays(numba_type):
    if isinstance(numba_type, numba.types.Array):
        return True
    if isinstance(numba_type, numba.types.BaseTuple):
        return any(_holds_arrays(item) for item in numba_type.types)
    return False


@pytest.mark.skipif(not JIT, reason="nothing compiles with NUMBA_DISABLE_JIT=1")
def test_no_kernel_returns_a_tuple_of_arrays():
    # numba boxes a returned array by calling Python code; a Ctrl-C that came
    # during the kernel raises there, and a tuple (or an argument array) is
    # returned with the exception set: SystemError. One new array is not.
    # Compile every kernel the entry points call, then look at them all.
    for d in (1, 2, 3):
        m, C, w = make_random_gmm(4, d, random_state=d)
        dist_bures_squared(m, m, C, C)
        gmm_pdf(m, m, C, w)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bures_wasserstein_barycenter(m, C)
            for proj in ("euclidean", "bures"):
                gmm_barycenter_fixed_point(
                    [m, m], [C, C], [w, w], m, C, [0.5, 0.5], iterations=2,
                    barycentric_proj_method=proj,
                )  # fmt: skip
            for solver in ("exact", "sinkhorn"):
                GMMOTBarycenter(2, max_iter=2, ot_solver=solver).fit([(m, C, w)] * 2)
            flow = GMMOTFlow((m + 1.0, C, w), n_steps=3, flow=_ALL).fit((m, C, w))
            flow.transform(m)
    offenders = []
    for module in (_barycenter, _bures, _density, _flow, _linalg, _sinkhorn):
        for name, value in vars(module).items():
            overloads = getattr(value, "overloads", {})
            for compiled in overloads.values():
                if isinstance(compiled.signature.return_type, numba.types.BaseTuple):
                    if _holds_arrays(compiled.signature.return_type):
                        offenders.append(f"{module.__name__}.{name}")
    assert not offenders


def test_sinkhorn_problems_on_worker_threads(threads):
    # Several entropic problems solved side by side: on two threads a worker
    # runs whole problems (pure-Python chunks), which check between their
    # kernel calls whether the caller was interrupted.
    # 48 problems of 250 x 250, reg = 1e-3 of the cost range (0.1-0.3 s
    # each): a worker's chunk holds several, 1.1-1.2 s without the checks
    # (measured), 0.1-0.16 s with them.
    n, K = (250, 48) if JIT else (60, 6)
    rng = np.random.RandomState(0)
    a = rng.rand(n)
    a /= a.sum()
    inputs = [b / b.sum() for b in rng.rand(K, n)]
    cost = rng.rand(n, K * n)
    small = (a[:5] / a[:5].sum(), [b[:4] / b[:4].sum() for b in inputs[:2]])

    def again():
        return sinkhorn_plans(small[0], small[1], cost[:5, :8], 0.1, notes=Notes())[:1]

    call = lambda: sinkhorn_plans(a, inputs, cost, 1e-3, notes=Notes())
    _assert_interrupted(call, again, latency=0.6)
