"""The one decorator every kernel is compiled with."""

import numba


def kernel(parallel=False):
    """Compile a function with numba in nopython mode, cached on disk if possible.

    ``cache=True`` needs a writable place for the cache: the package's own
    ``__pycache__``, else ``NUMBA_CACHE_DIR`` or the user's cache directory.
    When none is writable (a read-only install with no writable home), numba
    refuses caching when the function is decorated; the kernel is then compiled
    without a disk cache instead of failing to import.

    Parameters
    ----------
    parallel : bool, default=False
        Compile with ``parallel=True`` so that ``numba.prange`` loops run on
        several threads. Only used on loops over independent rows, so results
        do not depend on the number of threads.

    Returns
    -------
    decorate : callable
        Decorator turning a Python function into a numba dispatcher.
    """

    def decorate(func):
        try:
            return numba.njit(cache=True, nogil=True, parallel=parallel)(func)
        except RuntimeError:
            return numba.njit(cache=False, nogil=True, parallel=parallel)(func)

    return decorate
