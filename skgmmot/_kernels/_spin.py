"""Waiting for another thread by polling a counter, without the GIL.

Waking a thread that sleeps on a lock takes tens of microseconds on a
virtual machine (a futex wake-up and a trip through the scheduler); a thread
that polls a memory location sees a change within nanoseconds. The worker
threads of ``_threads`` poll briefly (``SPIN_SECONDS``) after each task for
the next one, and the calling thread polls for the workers' results, before
either blocks on its lock. The polling runs in a ``nogil`` kernel, so it
does not hold the GIL, and it is bounded, so a waiting thread gives its core
back to the machine within a fraction of a millisecond.
"""

import time

import numpy as np
from numba import config, types
from numba.extending import intrinsic

from skgmmot._kernels._jit import kernel

#: How long a thread polls before it blocks on a lock.
SPIN_SECONDS = 100e-6


@intrinsic
def _load_acquire_intrinsic(typingctx, counter):
    """Read ``counter[0]`` with acquire ordering: never hoisted out of a loop."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.load_atomic(array.data, "acquire", 8)

    return types.int64(counter), codegen


def _load_python(counter):
    """``counter[0]``, for ``NUMBA_DISABLE_JIT=1`` (intrinsics need the JIT)."""
    return counter[0]


_load_acquire = _load_python if config.DISABLE_JIT else _load_acquire_intrinsic


@kernel()
def _poll(counter, seen, max_polls):
    """Poll ``counter[0]`` until it differs from ``seen``; whether it did."""
    for _ in range(max_polls):
        if _load_acquire(counter) != seen:
            return True
    return False


class _Polls:
    """Polls per ``SPIN_SECONDS`` on this machine, measured once."""

    count = None


def polls_per_spin():
    """Return the number of polls that take about ``SPIN_SECONDS`` here."""
    if _Polls.count is None:
        counter = np.zeros(1, dtype=np.int64)
        _poll(counter, 0, 1)  # compile (or load) first
        start = time.perf_counter()
        _poll(counter, 0, 100_000)
        per_poll = max((time.perf_counter() - start) / 100_000, 1e-10)
        _Polls.count = max(1, int(SPIN_SECONDS / per_poll))
    return _Polls.count


def wait_for_change(counter, seen):
    """Poll ``counter`` for up to ``SPIN_SECONDS``; whether it left ``seen``.

    Parameters
    ----------
    counter : ndarray of shape (1,), int64
        Written by another thread (``counter[0] += 1``).
    seen : int
        The value last seen.

    Returns
    -------
    changed : bool
    """
    return bool(_poll(counter, seen, polls_per_spin()))
