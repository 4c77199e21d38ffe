"""Run row kernels on the calling thread or split across worker threads.

skgmmot's kernels are serial numba functions compiled with ``nogil=True``
that fill rows ``start:stop`` of their outputs; this module splits the rows
of a call between the calling thread and daemon worker threads, or runs them
all on the calling thread. Keeping the kernels serial, rather than numba
``parallel=True`` functions, matters three ways:

- compile time: numba compiles a parallel function's loop body again as a
  separate function and re-generates the machine code of every kernel it
  calls at each level; a first call compiled for seconds longer;
- contention: numba's OpenMP workers spin while waiting, against the spinning
  BLAS threads NumPy and scikit-learn leave behind;
- fork safety: GNU OpenMP aborts any forked child that runs a parallel
  region (``multiprocessing`` with the fork start method).

Whether a call is split is chosen call by call. A split call returns when its
last chunk is done; on a machine whose cores are shared that chunk can wait a
whole scheduler time slice (milliseconds) for a core: right after a NumPy or
scikit-learn BLAS call, OpenBLAS's worker threads keep spinning on the cores
for about 0.1 s, and other processes take cores too. So:

- calls below ``SERIAL_BELOW_FLOPS`` of estimated work run on the calling
  thread (handing rows to a worker, about 20 microseconds, costs more
  than it saves);
- calls of ``ALWAYS_PARALLEL_FLOPS`` or more are always split: a lost time
  slice is small next to them;
- calls in between are timed. For every kernel and size class (a factor of
  two in work) the best of the latest one-thread times per unit of work is
  kept; when ``LOSSES_IN_A_ROW`` split calls in a row are ``SLOWER_BY``
  times slower than that, calls of its class run on one thread for
  ``SERIAL_WINDOW_SECONDS``, then are split again; the window doubles (up
  to ``MAX_SERIAL_WINDOW_SECONDS``) each time the split loses again, since a
  retry can itself cost a time slice. When the calls are ``CONTENDED_BY``
  times slower, a core is clearly taken (a lost time
  slice costs ten times a small call, uneven rows far less), and all timed
  calls of every kernel run on one thread for such a window: a fixed-point
  iteration calls several kernels, and each would otherwise lose a time
  slice to find out. The first two calls of a class run on one thread (the
  second is timed), and one call every ``SERIAL_PROBE_SECONDS`` (or every
  ``PROBES_EVERY`` one-thread durations of long calls) re-measures
  the one-thread speed.

Long calls return to Python often, so that Ctrl-C works: a signal handler
(Python's raises ``KeyboardInterrupt`` for SIGINT) runs only when the main
thread is back in the interpreter, never inside compiled code. A call of
more than ``CHUNK_FLOPS`` of estimated work runs in chunks of at most that
much, one kernel call each, on the calling thread too; so does every slice
of a Bures barycenter fixed point (``_barycenter``). Measured on this 2-core
VM, the calling thread is back in Python at least every 0.15 s on one
thread, every 0.3 s with two threads on busy cores. Once a chunk raises (a
Ctrl-C between two chunks of the calling thread, or an error in any
thread), no thread takes another chunk; the exception is raised when the
chunks in flight are done (a pure-Python body, such as a whole Sinkhorn
problem of ``_sinkhorn_log_batch``, calls ``check_cancelled`` between its
kernel calls to stop early). Row kernels
write their results into outputs and return nothing: numba boxes returned
arrays by calling Python code, where a pending signal's handler raised, and a
returned tuple of arrays came back with the exception set, a ``SystemError``
instead of the ``KeyboardInterrupt`` (``_jit.kernel``,
``tests/hostile/test_hostile_interrupts.py``).

A process forked after a split call, or during one made by another thread,
has no workers (the forking thread is its only thread): it starts its own at
its first split call. A fork waits for a compilation in progress in another
thread (``tests/hostile/test_hostile_fork.py``).

The number of threads is numba's (``NUMBA_NUM_THREADS``,
``numba.set_num_threads``, which is per thread). Results never depend on the
split or the chunks: rows are independent and each is computed by the same
code (``tests/test_determinism.py``).
"""

import _thread
import collections
import contextlib
import itertools
import math
import os
import threading
import time
import typing

import numba
import numpy as np
from numba.core.compiler_lock import global_compiler_lock

from skgmmot._kernels._spin import wait_for_change

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
#: ... or every this many one-thread durations of the call, if longer.
PROBES_EVERY = 20.0
#: The one-thread speed is the best of this many latest one-thread timings:
#: a timing is only ever slowed down by what else runs.
SERIAL_SAMPLES = 3
#: A call on all threads loses to one thread when it is this much slower per
#: unit of work (waking sleeping workers costs tens of microseconds; a worker
#: waiting for a core costs milliseconds).
SLOWER_BY = 1.2
#: ... and the cores are taken when it is this much slower.
CONTENDED_BY = 3.0
#: Split calls in a row that must lose before a window opens: waking a
#: worker thread now and then takes a scheduler tick on an idle machine too,
#: while a taken core makes every split call lose.
LOSSES_IN_A_ROW = 2


class _Record:
    """What is known of one (kernel, size class).

    ``serial_rates``: the latest seconds per unit of work on one thread;
    ``parallel_rate``: the latest on all threads; ``serial_until``: end of
    the class's one-thread window; ``window``: the length of its next one;
    ``next_probe``: when to re-measure the one-thread speed; ``losses``:
    split calls in a row that lost to one thread.
    """

    __slots__ = (
        "losses",
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
        self.losses = 0


class _Window:
    """The one-thread window of every kernel: its end, and its next length."""

    until = 0.0
    length = SERIAL_WINDOW_SECONDS


_RECORDS = {}


#: A call of more estimated flops than this runs in chunks of at most this
#: many, one kernel call each, on one thread too: between chunks the calling
#: thread is back in Python, where Ctrl-C raises ``KeyboardInterrupt``. The
#: kernels' estimates run at 1.8-11 Gflop/s on one core here (closed-form
#: d <= 2 costs faster), so a chunk takes 0.02-0.15 s; and a call of
#: ``ALWAYS_PARALLEL_FLOPS`` still makes one chunk per thread of two.
CHUNK_FLOPS = 2.5e8

#: A split call of rows of uneven cost (barycenters needing more iterations)
#: cuts them into this many chunks per thread, handed out in turn, so that
#: they still balance; other calls make one chunk per thread (each chunk is
#: a kernel call, whose arguments are read under the GIL).
CHUNKS_PER_THREAD = 4

_LOCAL = threading.local()


def on_one_thread(func, args):
    """Call ``func(*args)`` with every kernel call inside it on this thread.

    ``numba.set_num_threads`` is thread-local, so this is safe in the threads
    of joblib's threading backend as well as in worker processes.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return func(*args)
    finally:
        numba.set_num_threads(previous)


@contextlib.contextmanager
def python_bodies():
    """Run row kernels' pure-Python bodies (``.py_func``) in this thread.

    For tests: the code of a kernel is then checked as Python as well as
    compiled. Kernels called from inside a kernel stay compiled.
    """
    previous = getattr(_LOCAL, "python", False)
    _LOCAL.python = True
    try:
        yield
    finally:
        _LOCAL.python = previous


def _body(kernel):
    if getattr(_LOCAL, "python", False):
        return getattr(kernel, "py_func", kernel)
    return kernel


class _Worker:
    """A daemon thread running the tasks handed to it, one at a time.

    Hand-overs are counted in ``posted`` and ``finished``: after a task the
    worker polls ``posted`` for a while before it sleeps on its lock, and
    the caller polls ``finished`` before it sleeps on its own (``_spin``).
    Back-to-back calls then skip the wake-up of a sleeping thread, which
    cost more than many small calls themselves.
    """

    def __init__(self):
        self._go = _thread.allocate_lock()
        self._go.acquire()
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._posted = np.zeros(1, dtype=np.int64)
        self._finished = np.zeros(1, dtype=np.int64)
        self._finished_before = 0
        self._task = None
        self.error = None
        thread = threading.Thread(target=self._loop, name="skgmmot", daemon=True)
        thread.start()

    def _loop(self):
        seen = 0
        while True:
            wait_for_change(self._posted, seen)
            self._go.acquire()  # at once if a task was posted while polling
            seen = int(self._posted[0])
            try:
                self._task()
            except BaseException as exc:  # re-raised in the calling thread
                self.error = exc
            finally:
                self._task = None
                self._done.release()
                self._finished[0] += 1

    def start(self, task):
        self.error = None
        self._task = task
        self._finished_before = int(self._finished[0])
        self._go.release()
        self._posted[0] += 1

    def wait(self):
        if not self._done.acquire(blocking=False):
            wait_for_change(self._finished, self._finished_before)
            self._done.acquire()
        return self.error


class _Pool:
    """The worker threads, and the lock of whoever uses them."""

    lock = threading.Lock()
    workers: typing.ClassVar[list] = []


def _after_fork_in_child():
    # The child has only the forking thread: new workers on demand.
    _Pool.lock = threading.Lock()
    _Pool.workers = []
    global_compiler_lock.release()


if hasattr(os, "register_at_fork"):
    # A thread compiling a kernel (or loading it from the disk cache) holds
    # numba's compiler lock: a child forked meanwhile would wait forever for
    # it at its first compilation. A fork waits for the compilation to end
    # instead, as CPython's waits for its import lock.
    os.register_at_fork(
        before=global_compiler_lock.acquire,
        after_in_parent=global_compiler_lock.release,
        after_in_child=_after_fork_in_child,
    )


class Cancelled(Exception):
    """A chunk stopped because another chunk of the same call raised."""


def check_cancelled():
    """Raise ``Cancelled`` if another chunk of the call this chunk serves raised.

    For row bodies written in Python whose rows can run long (a Sinkhorn
    problem): called between their kernel calls, it ends a worker's chunk
    soon after a Ctrl-C in the calling thread, instead of when the chunk is
    done. Outside a split call it does nothing.
    """
    if getattr(_LOCAL, "failed", None):
        raise Cancelled("another chunk of this call raised")


def _bounds(n_rows, n_chunks):
    """Row bounds of ``n_chunks`` chunks of (nearly) equal numbers of rows."""
    return [n_rows * c // n_chunks for c in range(n_chunks + 1)]


def _serial(kernel, work, n_rows, args):
    body = _body(kernel)
    if work <= CHUNK_FLOPS:
        body(*args, 0, n_rows)
        return
    # Back in Python after every chunk: a pending Ctrl-C raises here.
    bounds = _bounds(n_rows, min(n_rows, math.ceil(work / CHUNK_FLOPS)))
    for start, stop in itertools.pairwise(bounds):
        body(*args, start, stop)


def _discard(workers):
    """Never hand tasks to ``workers`` again (new workers start on demand).

    For workers left in an unknown state by an exception raised between two
    steps of a hand-over: waiting for them could wait forever, and handing
    them a new task could end a later call before its rows are done. They
    finish the chunk they may be running and then sleep for good.
    """
    _Pool.workers = [worker for worker in _Pool.workers if worker not in workers]


def _split(kernel, work, n_rows, args, n_threads, uneven):
    """Run the rows in chunks on the calling thread and ``n_threads - 1`` workers.

    Falls back to the calling thread alone when another thread is using the
    workers (two user threads calling kernels at once). Chunks are handed
    out in turn; once a chunk raises (a Ctrl-C in the calling thread between
    two of its chunks, or an error in any thread), no thread takes another,
    and the exception is raised when the chunks in flight are done.
    """
    if not _Pool.lock.acquire(blocking=False):
        return _serial(kernel, work, n_rows, args)
    try:
        body = _body(kernel)
        per_thread = max(
            CHUNKS_PER_THREAD if uneven else 1,
            math.ceil(work / (CHUNK_FLOPS * n_threads)),
        )
        n_chunks = min(n_rows, per_thread * n_threads)
        bounds = _bounds(n_rows, n_chunks)
        turn = itertools.count()  # next() is atomic under the GIL
        failed = []  # not empty once a chunk raised

        def task():
            _LOCAL.failed = failed  # what check_cancelled looks at
            try:
                for c in turn:
                    if c >= n_chunks or failed:
                        return
                    body(*args, bounds[c], bounds[c + 1])
            except BaseException:
                failed.append(True)
                raise
            finally:
                _LOCAL.failed = None

        while len(_Pool.workers) < n_threads - 1:
            _Pool.workers.append(_Worker())
        helpers = _Pool.workers[: n_threads - 1]
        try:
            for worker in helpers:
                worker.start(task)
        except BaseException:
            failed.append(True)
            _discard(helpers)
            raise
        error = None
        try:
            task()
        except BaseException as exc:
            failed.append(True)  # raised before task's own handler could
            error = exc
        try:
            for worker in helpers:
                outcome = worker.wait()
                if error is None or isinstance(error, Cancelled):
                    error = outcome or error
        except BaseException:
            # Interrupted again while waiting for the chunks in flight.
            failed.append(True)
            _discard(helpers)
            raise
        if error is not None:
            raise error
    finally:
        _Pool.lock.release()


def _n_signatures(kernel):
    # ``len(dispatcher.overloads)``: the ``signatures`` property rebuilds a
    # list of types and cost 10 microseconds per call.
    overloads = getattr(kernel, "overloads", None)
    return 0 if overloads is None else len(overloads)


def run(kernel, work, n_rows, *args, uneven=False):
    """Call ``kernel(*args, start, stop)`` on rows ``0:n_rows``, split or not.

    Parameters
    ----------
    kernel : callable
        A numba dispatcher (``nogil=True``) that computes rows
        ``start:stop`` of its outputs, which are among ``args``; rows are
        independent of each other.
    work : float
        Estimated number of floating-point operations of all rows.
    n_rows : int
        Number of rows.
    *args
        Arguments of the kernel before ``start`` and ``stop``.
    uneven : bool, default=False
        Whether rows may differ much in cost: a split call then hands out
        several smaller chunks per thread.

    Notes
    -----
    Whether the rows are split between threads is chosen as the module
    docstring says; results do not depend on it.
    """
    n_threads = min(numba.get_num_threads(), n_rows)
    if work < SERIAL_BELOW_FLOPS or n_threads <= 1:
        return _serial(kernel, work, n_rows, args)
    if work >= ALWAYS_PARALLEL_FLOPS:
        return _split(kernel, work, n_rows, args, n_threads, uneven)
    key = (kernel, math.frexp(work)[1])
    record = _RECORDS.get(key)
    if record is None:
        # The first call of a class touches fresh memory (and may compile):
        # run it on one thread, untimed.
        _RECORDS[key] = _Record()
        return _serial(kernel, work, n_rows, args)
    compiled = _n_signatures(kernel)
    start = time.perf_counter()
    window = max(_Window.until, record.serial_until)
    if not record.serial_rates or start < window or start >= record.next_probe:
        _serial(kernel, work, n_rows, args)
        end = time.perf_counter()
        if _n_signatures(kernel) == compiled:  # a compiling call is no timing
            record.serial_rates.append((end - start) / work)
            # Probes of long calls are rarer: they cost at most 1/PROBES_EVERY.
            record.next_probe = end + max(
                SERIAL_PROBE_SECONDS, PROBES_EVERY * (end - start)
            )
            _judge(record, end, fresh=False)
        return None
    _split(kernel, work, n_rows, args, n_threads, uneven)
    end = time.perf_counter()
    if _n_signatures(kernel) == compiled:
        record.parallel_rate = (end - start) / work
        _judge(record, end, fresh=True)
    return None


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
            record.losses = 0
            record.window = SERIAL_WINDOW_SECONDS
            _Window.length = SERIAL_WINDOW_SECONDS
        return
    record.parallel_rate = 0.0  # judged; the next call on all threads re-times
    record.losses += 1
    if record.losses < LOSSES_IN_A_ROW:
        return
    record.losses = 0
    record.serial_until = now + record.window
    record.window = min(2.0 * record.window, MAX_SERIAL_WINDOW_SECONDS)
    if slowdown > CONTENDED_BY:
        _Window.until = now + _Window.length
        _Window.length = min(2.0 * _Window.length, MAX_SERIAL_WINDOW_SECONDS)
