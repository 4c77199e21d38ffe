"""GMM-OT distances between every pair of many Gaussian mixtures.

The components of all mixtures are pooled, so that the Bures costs of many
pairs come from one kernel call on a tile of pooled components (tiles are
bounded, so memory stays small however many mixtures there are; see
``skgmmot._engine.pairwise``); each pair's small discrete OT problem then goes
to the exact solver. Pairs are grouped by rows of the distance matrix into a
few chunks per worker, one joblib task each (:func:`skgmmot._parallel.run_chunks`).
"""

import itertools
import numbers

import numpy as np

from skgmmot._engine.mixtures import Pooled
from skgmmot._engine.pairwise import block_losses
from skgmmot._engine.status import Notes
from skgmmot._parallel import effective_n_jobs, run_chunks
from skgmmot._validation import check_mixture_list, check_num_iter_max
from skgmmot._warnings import warn_notes
from skgmmot.exceptions import InvalidInputError

__all__ = ["pairwise_gmm_ot_distances"]

#: Chunks (joblib tasks) per worker: enough to balance uneven chunks.
CHUNKS_PER_WORKER = 4
#: Fixed cost of one pair (one solver call) in units of component pairs, used
#: only to balance the chunks.
PAIR_OVERHEAD = 100.0
#: Serial seconds per unit of that work (component pairs, times
#: ``max(1, d**3 / 10)`` for a Bures cost in d dimensions): about 85 ns at
#: d = 2 on the 2-core machine of issue 13.
SECONDS_PER_UNIT = 85e-9
#: Estimated serial time below which ``n_jobs`` is not used: starting joblib
#: workers took 2.5-3 s on 51 mixtures (0.03 s serially).
PARALLEL_ABOVE_SECONDS = 1.0


def _row_chunks(work, n_chunks):
    """Split rows into at most ``n_chunks`` consecutive groups of similar work."""
    total = np.cumsum(work)
    if n_chunks <= 1 or total[-1] <= 0:
        return [0, work.shape[0]]
    targets = total[-1] * np.arange(1, n_chunks) / n_chunks
    cuts = np.searchsorted(total, targets, side="left") + 1
    return sorted({0, *(int(c) for c in cuts if 0 < c < work.shape[0]), work.shape[0]})


def pairwise_gmm_ot_distances(
    mixtures, Y=None, *, squared=False, n_jobs=None, numItermax=None
):
    r"""GMM-OT distances between every pair of Gaussian mixtures.

    Entry ``(i, j)`` is :math:`MW_2(\mu_i, \nu_j)`, the square root of
    :func:`gmm_ot_loss` between mixture ``i`` of ``mixtures`` and mixture
    ``j`` of ``Y`` (or of ``mixtures`` when ``Y`` is None) [1]_. :math:`MW_2`
    is a distance on Gaussian mixtures, so the matrix can be used wherever
    scikit-learn takes a precomputed metric, e.g.
    ``AgglomerativeClustering(metric="precomputed", linkage="average")``,
    ``DBSCAN(metric="precomputed")`` or ``KNeighborsClassifier(
    metric="precomputed")``, and turned into a kernel such as
    ``np.exp(-D**2 / s)`` for ``SVC(kernel="precomputed")`` (a heuristic:
    like other Wasserstein-type distances, :math:`MW_2` does not make that
    kernel positive definite in general).

    The Bures costs of many pairs are computed together, by a numba kernel on
    bounded tiles of the pooled components, and each pair's discrete OT
    problem by POT's network simplex; with ``Y=None`` only the pairs
    ``i < j`` are solved. Pairs are grouped into a few chunks per worker, one
    joblib task each, so the result does not depend on ``n_jobs`` or on the
    joblib backend.

    Parameters
    ----------
    mixtures : sequence of mixtures
        The n mixtures, each a fitted :class:`sklearn.mixture.GaussianMixture`
        (any ``covariance_type``) or a tuple ``(means, covariances,
        weights)`` of shapes (k, d), (k, d, d), (k,). Numbers of components
        may differ; the dimension d may not.
    Y : sequence of mixtures, default=None
        The m mixtures, in the same form and dimension. None: the distances
        between ``mixtures`` themselves (a symmetric matrix with zero
        diagonal).
    squared : bool, default=False
        Return :math:`MW_2^2` (the GMM-OT loss) instead of :math:`MW_2`.
    n_jobs : int, default=None
        Number of joblib workers. None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
        ``with joblib.parallel_config(backend="dask"):`` runs the chunks on
        the Dask cluster of the current ``dask.distributed.Client``; the
        ``"multiprocessing"`` backend (forked workers) works too. Calls
        estimated to take under a second serially run on this thread
        whatever ``n_jobs`` says: starting workers takes longer.
    numItermax : int, default=None
        Iteration limit of the network simplex on each pair (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 k_s k_t``,
        then ten times that if the simplex stops at it.

    Returns
    -------
    distances : ndarray of shape (n, n) or (n, m)
        :math:`MW_2` (or :math:`MW_2^2` if ``squared``) between mixture
        ``i`` of ``mixtures`` and mixture ``j`` of ``Y``.

    Raises
    ------
    ValueError
        If a mixture is malformed; the message names it (``mixtures[3]``,
        ``Y[0]``) and the field.
    sklearn.exceptions.NotFittedError
        If an unfitted GaussianMixture is given.

    See Also
    --------
    gmm_ot_loss : :math:`MW_2^2` between two mixtures.
    dist_bures_squared : The costs between components.
    sklearn.metrics.pairwise_distances : The same for vectors.

    Notes
    -----
    Work grows as the number of pairs times the cost of one small OT problem
    (tens of microseconds for 10 components), which joblib spreads over
    workers. Each task holds at most one cost tile of ``TILE_ENTRIES``
    float64 entries besides its share of the result.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.

    Examples
    --------
    Three mixtures on the line: N(0, 1), N(3, 1), and an even mixture of
    N(0, 1) and N(6, 1).

    >>> import numpy as np
    >>> from skgmmot import pairwise_gmm_ot_distances
    >>> one = np.ones((1, 1, 1))
    >>> mixtures = [
    ...     (np.array([[0.0]]), one, np.array([1.0])),
    ...     (np.array([[3.0]]), one, np.array([1.0])),
    ...     (np.array([[0.0], [6.0]]), np.ones((2, 1, 1)), np.array([0.5, 0.5])),
    ... ]
    >>> pairwise_gmm_ot_distances(mixtures, squared=True)
    array([[ 0.,  9., 18.],
           [ 9.,  0.,  9.],
           [18.,  9.,  0.]])
    >>> pairwise_gmm_ot_distances(mixtures[:1], mixtures).round(3)
    array([[0.   , 3.   , 4.243]])

    As a precomputed metric:

    >>> from sklearn.cluster import AgglomerativeClustering
    >>> D = pairwise_gmm_ot_distances(mixtures[:2] + [(np.array([[10.0]]), one, [1.0])])
    >>> AgglomerativeClustering(
    ...     n_clusters=2, metric="precomputed", linkage="average"
    ... ).fit_predict(D)
    array([0, 0, 1])
    """
    if not isinstance(squared, bool | np.bool_):
        raise InvalidInputError(f"squared must be a bool, got {squared!r}.")
    if n_jobs is not None and (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, numbers.Integral)
        or n_jobs == 0
    ):
        raise InvalidInputError(
            f"n_jobs must be None or a non-zero integer, got {n_jobs!r}."
        )
    numItermax = check_num_iter_max(numItermax)
    rows = check_mixture_list(mixtures, "mixtures")
    d = rows[0][0].shape[1]
    symmetric = Y is None
    cols = (
        rows if symmetric else check_mixture_list(Y, "Y", reference=("mixtures[0]", d))
    )
    n, m = len(rows), len(cols)

    row_pool = Pooled(rows)
    col_pool = row_pool if symmetric else Pooled(cols)
    k_rows = np.diff(row_pool.bounds).astype(np.float64)
    k_cols = np.diff(col_pool.bounds).astype(np.float64)
    # Work of a row: its pairs, each a fixed overhead plus its cost entries.
    if symmetric:
        later = np.cumsum(k_cols[::-1])[::-1] - k_cols  # components of j > i
        work = PAIR_OVERHEAD * np.arange(n - 1, -1, -1) + k_rows * later
    else:
        work = PAIR_OVERHEAD * m + k_rows * k_cols.sum()
        work = np.broadcast_to(work, (n,))
    per_entry = max(1.0, d**3 / 10.0)
    entries = k_rows * (later if symmetric else k_cols.sum())
    pairs = n * (n - 1) / 2 if symmetric else n * m
    seconds = SECONDS_PER_UNIT * (PAIR_OVERHEAD * pairs + per_entry * entries.sum())
    if seconds < PARALLEL_ABOVE_SECONDS:
        n_jobs = 1  # workers would take longer to start than the work
    n_workers = effective_n_jobs(n_jobs)
    n_chunks = 1 if n_workers == 1 else CHUNKS_PER_WORKER * n_workers
    bounds = _row_chunks(np.asarray(work, dtype=np.float64), n_chunks)

    tasks, places = [], []
    for lo, hi in itertools.pairwise(bounds):
        first = lo + 1 if symmetric else 0
        if first >= m:
            continue
        shift = lo - first if symmetric else None
        tasks.append(
            (row_pool.block(lo, hi), col_pool.block(first, m), shift, numItermax)
        )
        places.append((lo, hi, first))
    blocks = run_chunks(block_losses, tasks, n_jobs=n_jobs)

    out = np.zeros((n, m))
    notes = Notes()
    for (lo, hi, first), (block, block_notes) in zip(places, blocks, strict=True):
        out[lo:hi, first:] = block
        notes.merge(block_notes)
    warn_notes(notes)
    if symmetric:
        out = out + out.T  # the lower triangle and the diagonal are exact zeros
    return out if squared else np.sqrt(np.maximum(out, 0.0))
