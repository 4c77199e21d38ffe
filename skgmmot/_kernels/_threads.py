"""Run small kernel calls on one thread.

Waking numba's worker threads costs tens of microseconds on an idle machine
and far more when the cores are busy (OpenMP workers spin while they wait), so
a parallel kernel only pays off above some amount of work. Callers estimate
the work of a call in flops and run it through :func:`run`.
"""

import numba

#: Below this many estimated flops a kernel call runs on the calling thread.
SERIAL_BELOW_FLOPS = 2e5


def run(kernel, work, *args):
    """Call ``kernel(*args)``, on one thread if ``work`` is small.

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
    if work >= SERIAL_BELOW_FLOPS:
        return kernel(*args)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return kernel(*args)
    finally:
        numba.set_num_threads(previous)
