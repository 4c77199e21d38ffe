"""GMM-OT distances between every pair of many Gaussian mixtures.

The components of all mixtures are pooled, so that the Bures costs of many
pairs come from one kernel call on a tile of pooled components (tiles are
bounded, so memory stays small however many mixtures there are); each pair's
small discrete OT problem then goes to POT's compiled network simplex. Pairs
are grouped by rows of the distance matrix into a few chunks per worker, one
joblib task each (:func:`skgmmot._parallel.run_chunks`).
"""

import itertools
import numbers

import numpy as np

from skgmmot._parallel import effective_n_jobs, run_chunks
from skgmmot._transport import exact_plan
from skgmmot._validation import check_mixture
from skgmmot.exceptions import InvalidInputError
from skgmmot.ot import _cost_matrix

__all__ = ["pairwise_gmm_ot_distances"]

#: Largest number of entries of a Bures cost tile (8 MiB of float64).
TILE_ENTRIES = 2**20
#: Largest number of pooled components along the columns of a tile.
TILE_COLUMNS = 2**14
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


def _check_mixture_list(mixtures, name):
    """Validate a sequence of mixtures; return them as (means, covs, weights)."""
    if isinstance(mixtures, np.ndarray) or not hasattr(mixtures, "__iter__"):
        raise InvalidInputError(
            f"{name} must be a sequence of mixtures (fitted GaussianMixture "
            "objects or (means, covariances, weights) tuples), got "
            f"{type(mixtures).__name__}."
        )
    checked = [
        check_mixture(mixture, f"{name}[{i}]") for i, mixture in enumerate(mixtures)
    ]
    if not checked:
        raise InvalidInputError(f"{name} must contain at least one mixture, got none.")
    return checked


def _check_dimensions(mixtures, name, reference):
    """Require every mixture to have the features of ``reference`` (label, d)."""
    ref_name, d = reference
    for i, (means, _, _) in enumerate(mixtures):
        if means.shape[1] != d:
            raise InvalidInputError(
                f"{name}[{i}]: means have {means.shape[1]} features but {ref_name} "
                f"has {d}; all mixtures must have the same number of features."
            )


def _pool(mixtures):
    """Pooled means, covariances, weights and the offsets of every mixture."""
    sizes = [means.shape[0] for means, _, _ in mixtures]
    offsets = np.cumsum([0, *sizes]).astype(np.int64)
    means = np.ascontiguousarray(np.concatenate([m for m, _, _ in mixtures]))
    covs = np.ascontiguousarray(np.concatenate([C for _, C, _ in mixtures]))
    weights = np.concatenate([w for _, _, w in mixtures])
    return means, covs, weights, offsets


def _slice_pool(pool, lo, hi):
    """Slice the pooled arrays of mixtures ``lo`` to ``hi - 1``, offsets from 0."""
    means, covs, weights, offsets = pool
    a, b = offsets[lo], offsets[hi]
    return means[a:b], covs[a:b], weights[a:b], offsets[lo : hi + 1] - a


def _tiles(offsets, limit):
    """Split mixtures into consecutive groups of at most ``limit`` components.

    A group always holds at least one mixture, even a larger one.
    """
    bounds = [0]
    n = offsets.shape[0] - 1
    while bounds[-1] < n:
        lo = bounds[-1]
        hi = int(np.searchsorted(offsets, offsets[lo] + limit, side="right")) - 1
        bounds.append(min(n, max(hi, lo + 1)))
    return bounds


def _block_losses(rows, cols, shift):
    """Squared GMM-OT distances between a block of row and column mixtures.

    Parameters
    ----------
    rows, cols : tuple
        ``(means, covariances, weights, offsets)`` of the pooled components of
        the row and column mixtures; mixture ``r`` owns components
        ``offsets[r]:offsets[r + 1]``.
    shift : int or None
        None: every pair. Otherwise only pairs ``(r, c)`` with ``c > r +
        shift`` (the upper triangle of a symmetric matrix, ``shift`` being
        the global index of the first row minus that of the first column);
        the other entries are 0.

    Returns
    -------
    losses : ndarray of shape (n_rows, n_cols)
        ``sum(plan * cost)`` of the exact plan of every pair, row mixture as
        source. Each entry depends only on its two mixtures, not on the block
        or its tiling.
    """
    r_means, r_covs, r_weights, r_off = rows
    c_means, c_covs, c_weights, c_off = cols
    n_rows, n_cols = r_off.shape[0] - 1, c_off.shape[0] - 1
    out = np.zeros((n_rows, n_cols))
    col_tiles = _tiles(c_off, TILE_COLUMNS)
    widest = max(c_off[hi] - c_off[lo] for lo, hi in itertools.pairwise(col_tiles))
    row_tiles = _tiles(r_off, max(1, TILE_ENTRIES // max(1, widest)))
    for r_lo, r_hi in itertools.pairwise(row_tiles):
        ra, rb = r_off[r_lo], r_off[r_hi]
        for c_lo, c_hi in itertools.pairwise(col_tiles):
            if shift is not None and c_hi - 1 <= r_lo + shift:
                continue  # the whole tile is on or below the diagonal
            ca, cb = c_off[c_lo], c_off[c_hi]
            cost = _cost_matrix(
                r_means[ra:rb], r_covs[ra:rb], c_means[ca:cb], c_covs[ca:cb]
            )
            for r in range(r_lo, r_hi):
                i0, i1 = r_off[r] - ra, r_off[r + 1] - ra
                a = r_weights[r_off[r] : r_off[r + 1]]
                first = c_lo if shift is None else max(c_lo, r + shift + 1)
                for c in range(first, c_hi):
                    block = np.ascontiguousarray(
                        cost[i0:i1, c_off[c] - ca : c_off[c + 1] - ca]
                    )
                    plan = exact_plan(a, c_weights[c_off[c] : c_off[c + 1]], block)
                    out[r, c] = (plan * block).sum()
    return out


def _row_chunks(work, n_chunks):
    """Split rows into at most ``n_chunks`` consecutive groups of similar work."""
    total = np.cumsum(work)
    if n_chunks <= 1 or total[-1] <= 0:
        return [0, work.shape[0]]
    targets = total[-1] * np.arange(1, n_chunks) / n_chunks
    cuts = np.searchsorted(total, targets, side="left") + 1
    return sorted({0, *(int(c) for c in cuts if 0 < c < work.shape[0]), work.shape[0]})


def pairwise_gmm_ot_distances(mixtures, Y=None, *, squared=False, n_jobs=None):
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
    rows = _check_mixture_list(mixtures, "mixtures")
    d = rows[0][0].shape[1]
    _check_dimensions(rows, "mixtures", ("mixtures[0]", d))
    symmetric = Y is None
    cols = rows if symmetric else _check_mixture_list(Y, "Y")
    if not symmetric:
        _check_dimensions(cols, "Y", ("mixtures[0]", d))
    n, m = len(rows), len(cols)

    row_pool = _pool(rows)
    col_pool = row_pool if symmetric else _pool(cols)
    k_rows = np.diff(row_pool[3]).astype(np.float64)
    k_cols = np.diff(col_pool[3]).astype(np.float64)
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
            (_slice_pool(row_pool, lo, hi), _slice_pool(col_pool, first, m), shift)
        )
        places.append((lo, hi, first))
    blocks = run_chunks(_block_losses, tasks, n_jobs=n_jobs)

    out = np.zeros((n, m))
    for (lo, hi, first), block in zip(places, blocks, strict=True):
        out[lo:hi, first:] = block
    if symmetric:
        out = out + out.T  # the lower triangle and the diagonal are exact zeros
    return out if squared else np.sqrt(np.maximum(out, 0.0))
