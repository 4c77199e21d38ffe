"""The one decorator every kernel is compiled with."""

import numba


def kernel(inline="never"):
    """Compile a function with numba in nopython mode, cached on disk if possible.

    Kernels release the GIL (``nogil=True``): ``_threads.run`` splits the rows
    of a call between threads. A kernel called from Python returns scalars,
    nothing, or one new array, never a tuple holding arrays nor one of its
    array arguments: numba boxes those by calling Python code, where a Ctrl-C
    that came during the kernel raised, and the call ended in ``SystemError``
    instead of ``KeyboardInterrupt`` (see ``_threads``).

    ``cache=True`` needs a writable place for the cache: the package's own
    ``__pycache__``, else ``NUMBA_CACHE_DIR`` or the user's cache directory.
    When none is writable (a read-only install with no writable home), numba
    refuses caching when the function is decorated; the kernel is then
    compiled without a disk cache instead of failing to import.

    Parameters
    ----------
    inline : {"never", "always"}, default="never"
        ``"always"`` inlines the function into its callers in numba's IR,
        so that it is not compiled (and its machine code not generated)
        once on its own and again inside every caller; for large helpers
        with few callers, in the same module (a cached caller is only
        recompiled when its own module changes).

    Returns
    -------
    decorate : callable
        Decorator turning a Python function into a numba dispatcher.
    """

    def decorate(func):
        try:
            return numba.njit(cache=True, nogil=True, inline=inline)(func)
        except RuntimeError:
            return numba.njit(cache=False, nogil=True, inline=inline)(func)

    return decorate
