"""Run independent chunks of work through joblib, one numba thread per task.

Many small problems (the pairs of :func:`skgmmot.pairwise_gmm_ot_distances`,
the K plans of a barycenter iteration) are batched into a few chunks per
worker and handed to :class:`joblib.Parallel`, so that the backend chosen with
:func:`joblib.parallel_config` (loky processes by default, threads, or a Dask
cluster with ``backend="dask"``) runs them. Inside a parallel task, numba's
kernels run on one thread: two workers on two cores would otherwise each start
a pool of numba threads and oversubscribe the machine. joblib is imported only
when a function here is called.
"""

from skgmmot._kernels._threads import on_one_thread

__all__ = ["effective_n_jobs", "run_chunks"]


def effective_n_jobs(n_jobs=None):
    """Count the workers joblib would use for ``n_jobs``.

    Honours :func:`joblib.parallel_config`: inside
    ``parallel_config(backend="dask")``, ``n_jobs=None`` counts every thread
    of the Dask cluster.

    Parameters
    ----------
    n_jobs : int or None, default=None
        As in scikit-learn: None means 1 unless a
        :func:`joblib.parallel_config` context says otherwise, -1 all
        processors (or all threads of a Dask cluster).

    Returns
    -------
    n_workers : int
        At least 1.

    See Also
    --------
    joblib.effective_n_jobs : What this wraps.
    run_chunks : Runs chunks on that many workers.

    Examples
    --------
    >>> from skgmmot._parallel import effective_n_jobs
    >>> effective_n_jobs(2)
    2
    """
    import joblib

    return max(1, int(joblib.effective_n_jobs(n_jobs)))


def run_chunks(func, chunks, *, n_jobs=None, prefer=None):
    """Apply ``func`` to every chunk, in parallel through joblib when asked.

    With one effective worker the chunks run in order on the calling thread,
    with numba free to use all its threads, and joblib is not involved beyond
    counting workers. Otherwise there is one joblib task per chunk, run with
    ``numba.set_num_threads(1)`` (restored afterwards); callers make a few
    chunks per worker so that uneven chunks still balance. The result is the
    same either way as long as ``func`` itself does not depend on the number
    of numba threads (skgmmot's kernels only parallelise loops over
    independent rows).

    Parameters
    ----------
    func : callable
        A module-level function (picklable by reference, for process and
        Dask workers), called as ``func(*chunk)``.
    chunks : iterable of tuple
        The arguments of each call.
    n_jobs : int or None, default=None
        Number of joblib workers; None means 1 unless a
        :func:`joblib.parallel_config` context sets it (a Dask backend uses
        every thread of its cluster).
    prefer : {"processes", "threads"} or None, default=None
        joblib's soft hint for the default backend, used only when no
        backend was chosen with :func:`joblib.parallel_config`. Threads suit
        chunks that spend their time in code releasing the GIL.

    Returns
    -------
    results : list
        ``[func(*chunk) for chunk in chunks]``, in the order of ``chunks``.

    See Also
    --------
    joblib.Parallel : The engine.
    effective_n_jobs : The number of workers used.

    Examples
    --------
    >>> from skgmmot._parallel import run_chunks
    >>> run_chunks(pow, [(2, 3), (3, 2)], n_jobs=2, prefer="threads")
    [8, 9]
    """
    chunks = list(chunks)
    if len(chunks) <= 1 or effective_n_jobs(n_jobs) == 1:
        return [func(*chunk) for chunk in chunks]
    from joblib import Parallel, delayed

    # One task per chunk: the chunks are already sized for the workers.
    return Parallel(n_jobs=n_jobs, prefer=prefer, batch_size=1)(
        delayed(on_one_thread)(func, chunk) for chunk in chunks
    )
