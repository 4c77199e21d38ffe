"""Choose, call by call, whether a parallel kernel runs on one thread or on all.

A parallel kernel splits its rows evenly between numba's threads and returns
when the last thread is done. On a machine whose cores are shared that last
thread can wait a whole scheduler time slice (milliseconds) for a core: right
after a NumPy/scikit-learn BLAS call, OpenBLAS's worker threads keep spinning
on the cores for about 0.1 s, and other processes take cores too. A 0.3 ms
Bures cost matrix then took 3 ms on two threads (0.3 ms on one) on the 2-core
machine of issue 13, whatever the threading layer. So:

- calls below ``SERIAL_BELOW_FLOPS`` of estimated work run on the calling
  thread (waking the workers costs more than they save);
- calls of ``ALWAYS_PARALLEL_FLOPS`` or more run on all threads: a lost time
  slice is small next to them;
- calls in between are timed. For every kernel and size class (a factor of
  two in work) the best of the latest one-thread times per unit of work is
  kept; when a call on all threads is ``SLOWER_BY`` times slower than that,
  calls of its class run on one thread for ``SERIAL_WINDOW_SECONDS``, then
  try all threads again; the window doubles (up to
  ``MAX_SERIAL_WINDOW_SECONDS``) each time all threads lose again, since a
  retry can itself cost a time slice. When a call is ``CONTENDED_BY`` times
  slower, a core is clearly taken (a lost time slice costs ten times a small
  call, uneven rows far less), and all timed calls of every kernel run on one
  thread for such a window: a fixed-point iteration calls several kernels,
  and each would otherwise lose a time slice to find out. The first two
  calls of a class run on one thread (the second is timed), and one call
  every ``SERIAL_PROBE_SECONDS`` re-measures the one-thread speed.

Results never depend on this choice: the kernels only parallelise loops over
independent rows (``tests/test_determinism.py``).
"""

import collections
import math
import time

import numba

#: Below this many estimated flops a kernel call runs on the calling thread.
SERIAL_BELOW_FLOPS = 2e5
#: At or above this many estimated flops a call always runs on all threads
#: (about 20 ms on one thread for a d = 2 Bures cost matrix).
ALWAYS_PARALLEL_FLOPS = 5e8
#: How long timed calls stay on one thread after all threads lost to one.
SERIAL_WINDOW_SECONDS = 0.25
#: Longest window: windows double while all threads keep losing.
MAX_SERIAL_WINDOW_SECONDS = 4.0
#: Calls of a class that runs on all threads still run on one thread this
#: often, to keep the one-thread speed they are compared with current.
SERIAL_PROBE_SECONDS = 0.25
#: The one-thread speed is the best of this many latest one-thread timings:
#: a timing is only ever slowed down by what else runs.
SERIAL_SAMPLES = 3
#: A call on all threads loses to one thread when it is this much slower per
#: unit of work (waking sleeping workers costs tens of microseconds; a worker
#: waiting for a core costs milliseconds).
SLOWER_BY = 1.2
#: ... and the cores are taken when it is this much slower.
CONTENDED_BY = 3.0


class _Record:
    """What is known of one (kernel, size class).

    ``serial_rates``: the latest seconds per unit of work on one thread;
    ``parallel_rate``: the latest on all threads; ``serial_until``: end of
    the class's one-thread window; ``window``: the length of its next one;
    ``next_probe``: when to re-measure the one-thread speed.
    """

    __slots__ = (
        "next_probe",
        "parallel_rate",
        "serial_rates",
        "serial_until",
        "window",
    )

    def __init__(self):
        self.serial_rates = collections.deque(maxlen=SERIAL_SAMPLES)
        self.parallel_rate = 0.0
        self.serial_until = 0.0
        self.window = SERIAL_WINDOW_SECONDS
        self.next_probe = 0.0


class _Window:
    """The one-thread window of every kernel: its end, and its next length."""

    until = 0.0
    length = SERIAL_WINDOW_SECONDS


_RECORDS = {}


def on_one_thread(kernel, args):
    """Call ``kernel(*args)`` with numba's kernels on this thread only.

    ``numba.set_num_threads`` is thread-local, so this is safe in the threads
    of joblib's threading backend as well as in worker processes.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return kernel(*args)
    finally:
        numba.set_num_threads(previous)


def _n_signatures(kernel):
    return len(getattr(kernel, "signatures", ()))


def run(kernel, work, *args):
    """Call ``kernel(*args)`` on one thread or on all, whichever is faster now.

    Parameters
    ----------
    kernel : callable
        A numba dispatcher compiled with ``parallel=True``.
    work : float
        Estimated number of floating-point operations of the call.
    *args
        Arguments of the kernel.

    Returns
    -------
    result
        Whatever the kernel returns. Results do not depend on the number of
        threads: the kernels only parallelise loops over independent rows.
    """
    if work < SERIAL_BELOW_FLOPS or numba.get_num_threads() == 1:
        return on_one_thread(kernel, args)
    if work >= ALWAYS_PARALLEL_FLOPS:
        return kernel(*args)
    key = (kernel, math.frexp(work)[1])
    record = _RECORDS.get(key)
    if record is None:
        # The first call of a class touches fresh memory (and may compile):
        # run it on one thread, untimed.
        _RECORDS[key] = _Record()
        return on_one_thread(kernel, args)
    compiled = _n_signatures(kernel)
    start = time.perf_counter()
    window = max(_Window.until, record.serial_until)
    if not record.serial_rates or start < window or start >= record.next_probe:
        out = on_one_thread(kernel, args)
        end = time.perf_counter()
        if _n_signatures(kernel) == compiled:  # a compiling call is no timing
            record.serial_rates.append((end - start) / work)
            record.next_probe = end + SERIAL_PROBE_SECONDS
            _judge(record, end, fresh=False)
        return out
    out = kernel(*args)
    end = time.perf_counter()
    if _n_signatures(kernel) == compiled:
        record.parallel_rate = (end - start) / work
        _judge(record, end, fresh=True)
    return out


def _judge(record, now, fresh):
    """Open one-thread windows if all threads lost to one at the last timings.

    ``fresh``: the last timing was on all threads. Windows double while all
    threads keep losing (up to ``MAX_SERIAL_WINDOW_SECONDS``: every retry
    on all threads can cost a time slice) and shrink back when they win.
    """
    if record.parallel_rate == 0.0:
        return
    slowdown = record.parallel_rate / min(record.serial_rates)
    if slowdown <= SLOWER_BY:
        if fresh:
            record.window = SERIAL_WINDOW_SECONDS
            _Window.length = SERIAL_WINDOW_SECONDS
        return
    record.parallel_rate = 0.0  # judged; the next call on all threads re-times
    record.serial_until = now + record.window
    record.window = min(2.0 * record.window, MAX_SERIAL_WINDOW_SECONDS)
    if slowdown > CONTENDED_BY:
        _Window.until = now + _Window.length
        _Window.length = min(2.0 * _Window.length, MAX_SERIAL_WINDOW_SECONDS)
