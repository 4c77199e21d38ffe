"""The per-call choice between one numba thread and all of them.

``skgmmot._kernels._threads.run`` times calls and keeps a class of calls on
one thread while all threads lose to one (cores taken by BLAS's spinning
workers or by other processes). These tests drive it with stand-in kernels
whose speed depends on the thread count they are called with, on a simulated
clock (``run`` reads ``time.perf_counter``), so that a busy test machine
cannot change what they see.
"""

import numba
import numpy as np
import pytest

import skgmmot._kernels._threads as threads
from skgmmot import dist_bures_squared

WORK = 1e7  # between SERIAL_BELOW_FLOPS and ALWAYS_PARALLEL_FLOPS


class Clock:
    """Stands for the ``time`` module in ``_threads``: time moves when told."""

    now = 1000.0

    @classmethod
    def perf_counter(cls):
        return cls.now

    @classmethod
    def sleep(cls, seconds):
        cls.now += seconds


class StandIn:
    """A kernel taking ``serial`` seconds on one thread, ``parallel`` on more."""

    def __init__(self, serial, parallel):
        self.serial, self.parallel = serial, parallel
        self.calls = []
        self.signatures = ["one"]
        self.compile_next = False

    def __call__(self, x):
        n = numba.get_num_threads()
        self.calls.append(n)
        if self.compile_next:  # as a dispatcher meeting new argument types
            self.signatures.append("new")
            self.compile_next = False
        Clock.sleep(self.serial if n == 1 else self.parallel)
        return x + 1


@pytest.fixture(autouse=True)
def two_threads(monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two numba threads")
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    monkeypatch.setattr(threads, "_RECORDS", {})
    monkeypatch.setattr(threads, "time", Clock)
    monkeypatch.setattr(threads._Window, "until", 0.0)
    monkeypatch.setattr(threads._Window, "length", threads.SERIAL_WINDOW_SECONDS)
    yield
    numba.set_num_threads(previous)


def test_result_and_thread_count_are_restored():
    kernel = StandIn(1e-4, 1e-4)
    assert threads.run(kernel, WORK, 41) == 42
    assert numba.get_num_threads() == 2


def test_small_calls_stay_on_one_thread_and_large_ones_use_all():
    kernel = StandIn(0.0, 0.0)
    for _ in range(5):
        threads.run(kernel, threads.SERIAL_BELOW_FLOPS / 2, 0)
    assert kernel.calls == [1] * 5
    kernel.calls.clear()
    for _ in range(5):
        threads.run(kernel, threads.ALWAYS_PARALLEL_FLOPS, 0)
    assert kernel.calls == [2] * 5


def test_all_threads_kept_while_they_win():
    kernel = StandIn(2e-3, 1e-3)
    for _ in range(40):
        threads.run(kernel, WORK, 0)
    # Two first calls measure one thread; then all threads, but for probes.
    assert kernel.calls[:3] == [1, 1, 2]
    assert kernel.calls.count(1) <= 4, kernel.calls


def test_one_thread_while_all_threads_lose():
    kernel = StandIn(1e-3, 5e-3)  # a worker waits for a core
    for _ in range(40):
        threads.run(kernel, WORK, 0)
    # One call on all threads shows they lose; the window keeps one thread.
    assert kernel.calls.count(2) <= 2, kernel.calls
    assert kernel.calls[-20:] == [1] * 20


def test_all_threads_tried_again_after_the_window(monkeypatch):
    monkeypatch.setattr(threads, "SERIAL_WINDOW_SECONDS", 0.01)
    monkeypatch.setattr(threads._Window, "length", 0.01)
    kernel = StandIn(1e-3, 5e-3)
    for _ in range(5):
        threads.run(kernel, WORK, 0)
    kernel.parallel = 0.2e-3  # the cores are free again
    Clock.sleep(0.02)
    kernel.calls.clear()
    for _ in range(20):
        threads.run(kernel, WORK, 0)
    assert kernel.calls.count(2) >= 15, kernel.calls


def test_a_slow_one_thread_timing_does_not_hide_losses(monkeypatch):
    # The one-thread speed is the best of the latest timings: a first timing
    # slowed down (fresh memory, a busy core) is replaced by the next probes.
    monkeypatch.setattr(threads, "SERIAL_PROBE_SECONDS", 0.005)
    kernel = StandIn(20e-3, 5e-3)
    for _ in range(2):
        threads.run(kernel, WORK, 0)
    kernel.serial = 1e-3
    kernel.calls.clear()
    for _ in range(40):
        threads.run(kernel, WORK, 0)
    assert kernel.calls[-15:] == [1] * 15, kernel.calls


def test_compiling_calls_are_not_timings():
    kernel = StandIn(1e-3, 1e-3)
    threads.run(kernel, WORK, 0)  # untimed first call
    kernel.compile_next = True
    threads.run(kernel, WORK, 0)
    (record,) = threads._RECORDS.values()
    assert not record.serial_rates
    threads.run(kernel, WORK, 0)
    assert len(record.serial_rates) == 1


def test_real_kernel_results_do_not_depend_on_the_choice(rng):
    d = 2
    k = 400  # work 4.8e6: timed class
    means = rng.randn(k, d)
    A = rng.randn(k, d, d)
    covs = A @ A.transpose(0, 2, 1) + np.eye(d)
    first = dist_bures_squared(means, means[::-1], covs, covs[::-1])
    for _ in range(10):
        np.testing.assert_array_equal(
            dist_bures_squared(means, means[::-1], covs, covs[::-1]), first
        )


def test_the_window_holds_for_every_kernel():
    # A fixed-point iteration calls several kernels: once one of them finds
    # the cores taken, the others run on one thread without losing a slice.
    losing = StandIn(1e-3, 5e-3)
    other = StandIn(1e-3, 0.5e-3)
    for _ in range(3):
        threads.run(other, WORK, 0)  # measured, then on all threads
    assert other.calls[-1] == 2
    for _ in range(3):
        threads.run(losing, WORK, 0)  # loses on its first call on all threads
    other.calls.clear()
    for _ in range(5):
        threads.run(other, WORK, 0)
    assert other.calls == [1] * 5


def test_a_mild_loss_keeps_only_its_own_class_on_one_thread():
    # Uneven rows can make one kernel lose a little on all threads; that is
    # no sign that the cores are taken, so other kernels keep all threads.
    mild = StandIn(1e-3, 1.6e-3)
    other = StandIn(1e-3, 0.5e-3)
    for _ in range(3):
        threads.run(other, WORK, 0)
    for _ in range(5):
        threads.run(mild, WORK, 0)
    assert mild.calls[-2:] == [1, 1]
    other.calls.clear()
    for _ in range(5):
        threads.run(other, WORK, 0)
    assert other.calls == [2] * 5


def test_windows_double_while_all_threads_keep_losing(monkeypatch):
    monkeypatch.setattr(threads, "SERIAL_WINDOW_SECONDS", 0.004)
    monkeypatch.setattr(threads, "SERIAL_PROBE_SECONDS", 10.0)
    monkeypatch.setattr(threads._Window, "length", 0.004)
    kernel = StandIn(0.5e-3, 1.0e-3)  # loses by 2x: its own windows only
    record = None
    lengths = []
    for _ in range(400):
        threads.run(kernel, WORK, 0)
        record = record or next(iter(threads._RECORDS.values()))
        if not lengths or record.window != lengths[-1]:
            lengths.append(record.window)
    assert lengths[:4] == [0.004, 0.008, 0.016, 0.032], lengths
    kernel.parallel = 0.1e-3  # the cores are free again: back to short windows
    Clock.sleep(record.serial_until - Clock.now + 0.001)
    threads.run(kernel, WORK, 0)
    assert record.window == 0.004
