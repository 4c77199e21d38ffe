"""The per-call choice between one thread and all of them.

``skgmmot._kernels._threads.run`` times calls and keeps a class of calls on
one thread while all threads lose to one (cores taken by BLAS's spinning
workers or by other processes). These tests drive it with stand-in kernels
whose speed depends on whether their rows were split, on a simulated clock
(``run`` reads ``time.perf_counter``), so that a busy test machine cannot
change what they see. The last tests run real row splits on worker threads.
"""

import multiprocessing
import threading
import time as real_time

import numba
import numpy as np
import pytest

import skgmmot._kernels._spin as spin
import skgmmot._kernels._threads as threads
from skgmmot import dist_bures_squared

WORK = 1e7  # between SERIAL_BELOW_FLOPS and ALWAYS_PARALLEL_FLOPS
ROWS = 16


class Clock:
    """Stands for the ``time`` module in ``_threads``: time moves when told."""

    now = 1000.0

    @classmethod
    def perf_counter(cls):
        return cls.now

    lock = threading.Lock()

    @classmethod
    def sleep(cls, seconds):
        with cls.lock:  # chunks of a split call sleep from worker threads
            cls.now += seconds


class StandIn:
    """A row kernel taking ``serial`` seconds on one thread, ``parallel`` split.

    ``calls`` records 1 for every call on one thread and 2 for every split
    call (at its first chunk).
    """

    def __init__(self, serial, parallel):
        self.serial, self.parallel = serial, parallel
        self.calls = []
        self.overloads = {"one": None}
        self.compile_next = False

    def __call__(self, start, stop):
        whole = (start, stop) == (0, ROWS)
        if start == 0:
            self.calls.append(1 if whole else 2)
            if self.compile_next:  # as a dispatcher meeting new argument types
                self.overloads["new"] = None
                self.compile_next = False
        share = (stop - start) / ROWS
        Clock.sleep(self.serial if whole else self.parallel * share)


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


def _counting_kernel():
    """A row body adding 1 to its rows, and the list of (start, stop) it saw."""
    seen = []

    def kernel(out, start, stop):
        seen.append((start, stop))
        out[start:stop] += 1

    return kernel, seen


def test_every_row_is_computed_once_and_thread_count_is_restored():
    kernel, seen = _counting_kernel()
    out = np.zeros(1000, dtype=np.int64)
    threads.run(kernel, threads.ALWAYS_PARALLEL_FLOPS, 1000, out)
    assert (out == 1).all()
    assert sorted(seen) == [(0, 500), (500, 1000)]
    seen.clear()
    threads.run(kernel, threads.ALWAYS_PARALLEL_FLOPS, 1000, out, uneven=True)
    assert (out == 2).all()
    assert len(seen) == 2 * threads.CHUNKS_PER_THREAD
    assert numba.get_num_threads() == 2


def test_small_calls_stay_on_one_thread_and_large_ones_use_all():
    kernel = StandIn(0.0, 0.0)
    for _ in range(5):
        threads.run(kernel, threads.SERIAL_BELOW_FLOPS / 2, ROWS)
    assert kernel.calls == [1] * 5
    kernel.calls.clear()
    for _ in range(5):
        threads.run(kernel, threads.ALWAYS_PARALLEL_FLOPS, ROWS)
    assert kernel.calls == [2] * 5


def test_all_threads_kept_while_they_win():
    kernel = StandIn(2e-3, 1e-3)
    for _ in range(40):
        threads.run(kernel, WORK, ROWS)
    # Two first calls measure one thread; then all threads, but for probes.
    assert kernel.calls[:3] == [1, 1, 2]
    assert kernel.calls.count(1) <= 4, kernel.calls


def test_one_thread_while_all_threads_lose():
    kernel = StandIn(1e-3, 5e-3)  # a worker waits for a core
    for _ in range(40):
        threads.run(kernel, WORK, ROWS)
    # One call on all threads shows they lose; the window keeps one thread.
    assert kernel.calls.count(2) <= 2, kernel.calls
    assert kernel.calls[-20:] == [1] * 20


def test_all_threads_tried_again_after_the_window(monkeypatch):
    monkeypatch.setattr(threads, "SERIAL_WINDOW_SECONDS", 0.01)
    monkeypatch.setattr(threads._Window, "length", 0.01)
    kernel = StandIn(1e-3, 5e-3)
    for _ in range(5):
        threads.run(kernel, WORK, ROWS)
    kernel.parallel = 0.2e-3  # the cores are free again
    Clock.sleep(0.02)
    kernel.calls.clear()
    for _ in range(20):
        threads.run(kernel, WORK, ROWS)
    assert kernel.calls.count(2) >= 15, kernel.calls


def test_a_slow_one_thread_timing_does_not_hide_losses(monkeypatch):
    # The one-thread speed is the best of the latest timings: a first timing
    # slowed down (fresh memory, a busy core) is replaced by the next probes.
    monkeypatch.setattr(threads, "SERIAL_PROBE_SECONDS", 0.005)
    monkeypatch.setattr(threads, "PROBES_EVERY", 0.0)
    kernel = StandIn(20e-3, 5e-3)
    for _ in range(2):
        threads.run(kernel, WORK, ROWS)
    kernel.serial = 1e-3
    kernel.calls.clear()
    for _ in range(40):
        threads.run(kernel, WORK, ROWS)
    assert kernel.calls[-15:] == [1] * 15, kernel.calls


def test_compiling_calls_are_not_timings():
    kernel = StandIn(1e-3, 1e-3)
    threads.run(kernel, WORK, ROWS)  # untimed first call
    kernel.compile_next = True
    threads.run(kernel, WORK, ROWS)
    (record,) = threads._RECORDS.values()
    assert not record.serial_rates
    threads.run(kernel, WORK, ROWS)
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
        threads.run(other, WORK, ROWS)  # measured, then on all threads
    assert other.calls[-1] == 2
    for _ in range(4):
        threads.run(losing, WORK, ROWS)  # loses its first two split calls
    other.calls.clear()
    for _ in range(5):
        threads.run(other, WORK, ROWS)
    assert other.calls == [1] * 5


def test_one_slow_split_call_opens_no_window():
    # An idle machine now and then wakes a worker a scheduler tick late.
    kernel = StandIn(1e-3, 0.5e-3)
    for _ in range(3):
        threads.run(kernel, WORK, ROWS)
    kernel.parallel = 5e-3
    threads.run(kernel, WORK, ROWS)  # one late worker
    kernel.parallel = 0.5e-3
    kernel.calls.clear()
    for _ in range(10):
        threads.run(kernel, WORK, ROWS)
    assert kernel.calls == [2] * 10


def test_a_mild_loss_keeps_only_its_own_class_on_one_thread():
    # Uneven rows can make one kernel lose a little on all threads; that is
    # no sign that the cores are taken, so other kernels keep all threads.
    mild = StandIn(1e-3, 1.6e-3)
    other = StandIn(1e-3, 0.5e-3)
    for _ in range(3):
        threads.run(other, WORK, ROWS)
    for _ in range(6):
        threads.run(mild, WORK, ROWS)
    assert mild.calls[-2:] == [1, 1]
    other.calls.clear()
    for _ in range(5):
        threads.run(other, WORK, ROWS)
    assert other.calls == [2] * 5


def test_windows_double_while_all_threads_keep_losing(monkeypatch):
    monkeypatch.setattr(threads, "SERIAL_WINDOW_SECONDS", 0.004)
    monkeypatch.setattr(threads, "SERIAL_PROBE_SECONDS", 10.0)
    monkeypatch.setattr(threads._Window, "length", 0.004)
    kernel = StandIn(0.5e-3, 1.0e-3)  # loses by 2x: its own windows only
    record = None
    lengths = []
    for _ in range(400):
        threads.run(kernel, WORK, ROWS)
        record = record or next(iter(threads._RECORDS.values()))
        if not lengths or record.window != lengths[-1]:
            lengths.append(record.window)
    assert lengths[:4] == [0.004, 0.008, 0.016, 0.032], lengths
    kernel.parallel = 0.1e-3  # the cores are free again: back to short windows
    Clock.sleep(record.serial_until - Clock.now + 0.001)
    threads.run(kernel, WORK, ROWS)
    assert record.window == 0.004


def test_on_one_thread_keeps_kernels_on_the_calling_thread():
    seen = []

    def kernel(start, stop):
        seen.append((threading.get_ident(), start, stop))

    threads.on_one_thread(threads.run, (kernel, threads.ALWAYS_PARALLEL_FLOPS, ROWS))
    assert {ident for ident, _, _ in seen} == {threading.get_ident()}
    assert sum(stop - start for _, start, stop in seen) == ROWS


def test_errors_in_worker_chunks_reach_the_caller():
    def kernel(start, stop):
        if start > 0:
            raise ValueError(f"row {start}")

    with pytest.raises(ValueError, match="row"):
        threads.run(kernel, threads.ALWAYS_PARALLEL_FLOPS, 100)
    # The workers are free again afterwards.
    out = np.zeros(100)

    def fill(start, stop):
        out[start:stop] = 1.0

    threads.run(fill, threads.ALWAYS_PARALLEL_FLOPS, 100)
    assert (out == 1.0).all()


def test_long_calls_run_in_chunks_on_one_thread_too():
    # Back in Python between chunks: where a Ctrl-C raises KeyboardInterrupt.
    seen = []

    def kernel(out, start, stop):
        seen.append((threading.get_ident(), start, stop))
        out[start:stop] += 1

    out = np.zeros(100, dtype=np.int64)
    work = 3.5 * threads.CHUNK_FLOPS
    threads.on_one_thread(threads.run, (kernel, work, 100, out))
    assert (out == 1).all()
    assert [(start, stop) for _, start, stop in seen] == [
        (0, 25),
        (25, 50),
        (50, 75),
        (75, 100),
    ]
    assert {ident for ident, _, _ in seen} == {threading.get_ident()}


def test_long_split_calls_cut_their_rows_to_the_chunk_size():
    kernel, seen = _counting_kernel()
    out = np.zeros(1000, dtype=np.int64)
    threads.run(kernel, 7.0 * threads.CHUNK_FLOPS, 1000, out)
    assert (out == 1).all()
    assert len(seen) == 8  # 4 per thread: as many on each


def _interrupted_in_the_calling_thread(out, start, stop):
    """A chunk that is interrupted in the calling thread and slow elsewhere."""
    if threading.current_thread() is threading.main_thread():
        raise KeyboardInterrupt
    real_time.sleep(0.005)
    out[start:stop] += 1


def test_an_interrupt_stops_the_workers_taking_chunks():
    out = np.zeros(40, dtype=np.int64)
    work = 40 * threads.CHUNK_FLOPS  # 40 chunks of one row
    with pytest.raises(KeyboardInterrupt):
        threads.run(_interrupted_in_the_calling_thread, work, 40, out)
    # The worker finished its chunk in flight and took no more.
    assert 0 <= out.sum() <= 2
    assert out.max() <= 1
    # It is free again afterwards.
    out[:] = 0

    def fill(out, start, stop):
        out[start:stop] += 1

    threads.run(fill, work, 40, out)
    assert (out == 1).all()


def test_an_interrupt_while_waiting_replaces_the_workers(monkeypatch):
    # A second Ctrl-C while waiting for the chunks in flight: whether a
    # worker's end was seen is unknown, so it gets no more tasks.
    threads.run(lambda start, stop: None, threads.ALWAYS_PARALLEL_FLOPS, 10)
    before = list(threads._Pool.workers)
    assert before

    def interrupted_wait(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(threads._Worker, "wait", interrupted_wait)
        with pytest.raises(KeyboardInterrupt):
            threads.run(lambda start, stop: None, threads.ALWAYS_PARALLEL_FLOPS, 10)
    assert not set(before) & set(threads._Pool.workers)
    out = np.zeros(100)

    def fill(start, stop):
        out[start:stop] = 1.0

    threads.run(fill, threads.ALWAYS_PARALLEL_FLOPS, 100)  # with new workers
    assert (out == 1.0).all()


def test_concurrent_callers_share_the_workers_safely(rng):
    # Two user threads at once: one splits, the other runs on its own thread.
    m = rng.randn(300, 2)
    A = rng.randn(300, 2, 2)
    C = A @ A.transpose(0, 2, 1) + np.eye(2)
    expected = dist_bures_squared(m, m[::-1], C, C[::-1])
    results = [None] * 4

    def work(slot):
        for _ in range(20):
            results[slot] = dist_bures_squared(m, m[::-1], C, C[::-1])

    pool = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    for result in results:
        np.testing.assert_array_equal(result, expected)


def _bures_in_child(queue):
    rng = np.random.RandomState(0)
    m = rng.randn(2000, 2)
    C = np.tile(np.eye(2), (2000, 1, 1))
    out = np.zeros(10)

    def fill(start, stop):
        out[start:stop] = 1.0

    threads.run(fill, threads.ALWAYS_PARALLEL_FLOPS, 10)  # split: new workers
    total = float(dist_bures_squared(m, m[::-1], C, 2 * C).sum())
    queue.put(total if out.sum() == 10 else np.nan)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork"
)
def test_forked_children_split_rows_after_the_parent_did(rng):
    # After a split call in the parent, a forked child has no workers; it
    # makes new ones instead of waiting for threads that do not exist.
    m = rng.randn(2000, 2)
    C = np.tile(np.eye(2), (2000, 1, 1))
    dist_bures_squared(m, m, C, C)
    threads.run(lambda start, stop: None, threads.ALWAYS_PARALLEL_FLOPS, 10)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_bures_in_child, args=(queue,))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    assert np.isfinite(queue.get(timeout=5))


def test_polling_sees_a_change_made_by_another_thread():
    counter = np.zeros(1, dtype=np.int64)
    assert not spin.wait_for_change(counter, 0)  # nothing changes: times out
    timer = threading.Timer(0.0, lambda: counter.__setitem__(0, 1))
    timer.start()
    timer.join()
    assert spin.wait_for_change(counter, 0)
    assert spin.polls_per_spin() >= 1


def test_long_calls_are_probed_on_one_thread_rarely():
    # A 40 ms call probed every 0.25 s would run on one thread one time in
    # six; probes cost at most 1 / PROBES_EVERY of the time instead.
    kernel = StandIn(0.08, 0.04)
    for _ in range(200):
        threads.run(kernel, WORK, ROWS)
    assert kernel.calls[2:].count(1) <= 200 / threads.PROBES_EVERY + 1, kernel.calls
