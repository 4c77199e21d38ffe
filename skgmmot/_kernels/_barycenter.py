"""Batched Bures-Wasserstein barycenters of Gaussian covariances.

The fixed point of Álvarez-Esteban, del Barrio, Cuesta-Albertos & Matrán (2016),

    S <- S^-1/2 (sum_k c_k (S^1/2 S_k S^1/2)^1/2)^2 S^-1/2,

equals ``S <- M S M`` with ``M = sum_k c_k A_k`` and ``A_k`` the linear part of
the OT map from N(0, S) to N(0, S_k). That form needs no square root of ``S``
(a Cholesky factor is enough) and reuses the map kernels, including the closed
forms of 1-D and 2-D. Unlike the plain iteration ``S <- sum_k c_k (...)^1/2``
it is guaranteed to converge.
"""

import numpy as np

from skgmmot._kernels import _threads
from skgmmot._kernels._bures import _small_map_matrix, _warm_map_matrix
from skgmmot._kernels._jit import kernel
from skgmmot._kernels._linalg import _cholesky_lower, _copy_into, _psd_factor
from skgmmot._kernels._threads import run


def _iteration_kernel(small):
    """Make the Bures barycenter iteration, for d <= 2 (``small``) or any d.

    ``small`` is a compile-time constant: the d <= 2 variant uses the closed
    form maps and compiles none of the factor and eigenvalue code.
    """

    @kernel(inline="always")
    def iterate(S, pool, index, coef, tol, it, max_iter, diff, vecs):
        """Iterate ``S`` toward the barycenter of ``pool[index]``, weights ``coef``.

        ``S`` holds a positive definite start, or the iterate after ``it``
        iterations whose last relative change was ``diff`` (``inf`` at first);
        it is overwritten. Entries with zero coefficient are skipped. ``vecs``
        holds one (d, d) warm start per positive coefficient, in order: the
        eigenvectors of its map's square root at the previous iteration (the
        maps change less and less as S converges), the identity at first;
        they are updated (unused if ``small``). Returns the iterations done in
        all (up to ``max_iter``) and the last relative change.
        """
        d = S.shape[0]
        width = coef.shape[0]
        F = np.empty((d, d))
        G = np.empty((d, d))
        W = np.empty((d, d))
        M = np.empty((d, d))
        R = np.empty((d, d))
        A = np.empty((d, d))
        mean_map = np.empty((d, d))
        new = np.empty((d, d))
        scratch = np.empty((3, d, d))
        while it < max_iter:
            it += 1
            triangular = False
            if not small:
                triangular, _ = _psd_factor(S, F, G)
            mean_map[:, :] = 0.0
            slot = 0
            for q in range(width):
                c = coef[q]
                if not c > 0.0:
                    continue
                if small:
                    _small_map_matrix(S, pool[index[q]], A)
                else:
                    _warm_map_matrix(
                        S,
                        pool[index[q]],
                        F,
                        G,
                        triangular,
                        W,
                        M,
                        R,
                        A,
                        vecs[slot],
                        scratch,
                    )
                slot += 1
                for x in range(d):
                    for y in range(d):
                        mean_map[x, y] += c * A[x, y]
            # new = M S M, symmetrised
            for x in range(d):
                for y in range(d):
                    acc = 0.0
                    for z in range(d):
                        acc += S[x, z] * mean_map[z, y]
                    W[x, y] = acc
            num = 0.0
            den = 0.0
            for x in range(d):
                for y in range(x + 1):
                    acc = 0.0
                    for z in range(d):
                        acc += mean_map[x, z] * W[z, y]
                    new[x, y] = acc
                    new[y, x] = acc
                    weight = 1.0 if x == y else 2.0
                    num += weight * (acc - S[x, y]) ** 2
                    den += weight * acc * acc
            _copy_into(new, S)
            diff = np.sqrt(num / den) if den > 0.0 else 0.0
            if diff <= tol:
                break
        return it, diff

    return iterate


_small_iterate = _iteration_kernel(small=True)
_general_iterate = _iteration_kernel(small=False)


def _barycenter_rows_kernel(small):
    """Make the row kernel of ``_bures_barycenters``, for d <= 2 or any d."""

    @kernel()
    def barycenter_rows(
        pool, index, coef, slots, vecs, tol, max_iter, covs, n_iter, final_diff,
        rows, start, stop,
    ):  # fmt: skip
        """Iterate problems ``rows[start:stop]`` on, up to ``max_iter`` in all.

        Problem b starts from ``covs[b]``, ``n_iter[b]``, ``final_diff[b]``
        and the warm starts ``vecs[slots[b]:slots[b + 1]]``, and updates them.
        """
        for r in range(start, stop):
            b = rows[r]
            if small:
                it, diff = _small_iterate(
                    covs[b], pool, index[b], coef[b], tol, n_iter[b], max_iter,
                    final_diff[b], vecs,
                )  # fmt: skip
            else:
                it, diff = _general_iterate(
                    covs[b], pool, index[b], coef[b], tol, n_iter[b], max_iter,
                    final_diff[b], vecs[slots[b] : slots[b + 1]],
                )  # fmt: skip
            n_iter[b] = it
            final_diff[b] = diff

    return barycenter_rows


_small_barycenter_rows = _barycenter_rows_kernel(small=True)
_general_barycenter_rows = _barycenter_rows_kernel(small=False)


def _iteration_flops(d):
    """Estimated flops of one iteration, per map (positive coefficient) and per problem.

    At about 2.5 Gflop/s: on one core a map takes 0.04 us at d <= 2, 0.6 us
    at d = 3, 1.2 us at d = 5 and 93 us at d = 30 (its square root converges
    in one or two warm-started Jacobi sweeps); the factor of ``S`` and the
    product ``M S M`` are paid once per problem.
    """
    if d <= 2:
        return 100.0, 75.0
    return 6.0 * d**3 + 100.0 * d**2, 2.0 * d**3 + 50.0 * d**2


def _iterate(pool, index, coef, tol, max_iter, covs, n_iter, final_diff, rows):
    """Run the fixed points of problems ``rows`` (see ``_bures_barycenters``).

    The iterations run in slices of a fixed number per kernel call, chosen from
    the problem sizes so that a slice is at most ``CHUNK_FLOPS`` of estimated
    work (one iteration if a single one is more), each resuming from the state
    the last one left: the iterate, the count, the last change and the warm
    starts of the map square roots. So a long fixed point (a tolerance of 0,
    a large ``max_iter``) returns to Python often enough to honour Ctrl-C,
    and the results do not depend on the slicing.
    """
    n_problems = coef.shape[0]
    d = pool.shape[1]
    small = d <= 2
    positive = np.count_nonzero(coef > 0.0, axis=1)
    slots = np.zeros(n_problems + 1, dtype=np.int64)
    if not small:
        np.cumsum(positive, out=slots[1:])
    vecs = np.empty((slots[-1], d, d))
    vecs[:] = np.eye(d)
    per_map, per_problem = _iteration_flops(d)
    cost = per_map * positive + per_problem  # one iteration of each problem
    total = cost[rows].sum()
    per_slice = max(1, int(_threads.CHUNK_FLOPS // max(total, 1.0)))
    kernel_rows = _small_barycenter_rows if small else _general_barycenter_rows
    done = 0
    while rows.size and done < max_iter:
        until = min(done + per_slice, max_iter)
        run(
            kernel_rows, (until - done) * total, rows.size, pool, index, coef,
            slots, vecs, tol, until, covs, n_iter, final_diff, rows, uneven=True,
        )  # fmt: skip
        done = until
        if done < max_iter:
            rows = rows[~(final_diff[rows] <= tol)]
            total = cost[rows].sum()


def _bures_barycenters(pool, index, coef, init, tol, max_iter):
    """Bures barycenters of many groups of covariances at once.

    Problem ``b`` is the barycenter of ``pool[index[b, q]]`` with coefficients
    ``coef[b, q]`` (entries with zero coefficient are skipped).

    Parameters
    ----------
    pool : ndarray of shape (p, d, d)
        Symmetric positive semi-definite covariances.
    index : ndarray of shape (B, q), int64
        Rows of ``pool`` that enter each problem.
    coef : ndarray of shape (B, q)
        Non-negative barycentric coefficients of each problem.
    init : ndarray of shape (B, d, d)
        Positive definite starting points (warm starts).
    tol : float
        Stop when ``||S_new - S||_F <= tol * ||S_new||_F``.
    max_iter : int
        Maximum number of fixed-point iterations per problem.

    Returns
    -------
    covs : ndarray of shape (B, d, d)
        Barycenter covariances.
    n_iter : ndarray of shape (B,), int64
        Iterations used per problem.
    final_diff : ndarray of shape (B,)
        Last relative change ``||S_new - S||_F / ||S_new||_F``.
    """
    n_problems = coef.shape[0]
    covs = np.array(init, dtype=np.float64, order="C")
    n_iter = np.zeros(n_problems, dtype=np.int64)
    final_diff = np.full(n_problems, np.inf)
    rows = np.arange(n_problems)
    _iterate(pool, index, coef, tol, max_iter, covs, n_iter, final_diff, rows)
    return covs, n_iter, final_diff


@kernel()
def _plan_average_rows(rows, means, covs, starts, avg_means, avg_covs, start, stop):
    """Fill in rows ``start:stop`` of ``_plan_averages`` (outputs zeroed)."""
    p = rows.shape[1]
    d = means.shape[1]
    K = starts.shape[0]
    for i in range(start, stop):
        for k in range(K):
            end = starts[k + 1] if k + 1 < K else p
            for j in range(starts[k], end):
                r = rows[i, j]
                if r == 0.0:
                    continue
                for a in range(d):
                    avg_means[i, k, a] += r * means[j, a]
                    for b in range(d):
                        avg_covs[i, k, a, b] += r * covs[j, a, b]


def _plan_averages(rows, means, covs, starts):
    """Per input, the averages of its components weighted by each plan row.

    Parameters
    ----------
    rows : ndarray of shape (n, p)
        Row-normalised plans to all inputs side by side (p pooled components).
    means : ndarray of shape (p, d)
    covs : ndarray of shape (p, d, d)
        The inputs' components, pooled in the same order.
    starts : ndarray of shape (K,), int64
        First pooled column of each input.

    Returns
    -------
    avg_means : ndarray of shape (n, K, d)
    avg_covs : ndarray of shape (n, K, d, d)
        ``sum_j rows[i, j] means[j]`` (and covariances) over input k's columns.
    """
    n, p = rows.shape
    d = means.shape[1]
    avg_means = np.zeros((n, starts.shape[0], d))
    avg_covs = np.zeros((n, starts.shape[0], d, d))
    args = (rows, means, covs, starts, avg_means, avg_covs)
    run(_plan_average_rows, 2.0 * n * p * d * (d + 1), n, *args)
    return avg_means, avg_covs


@kernel()
def _euclidean_start_rows(
    rows, means, covs, starts, lambdas, prev_means, prev_covs, new_means, new_covs,
    selected, active, start, stop,
):  # fmt: skip
    """Fill in rows ``start:stop`` of the first pass of ``_euclidean_update``.

    One pass per barycenter component: its plan-row averages of every input
    (``selected``), its new mean and its starting covariance; or, for a
    component whose row is all zero, its previous parameters (not ``active``).
    """
    p = rows.shape[1]
    d = means.shape[1]
    K = starts.shape[0]
    mean_k = np.empty(d)
    L = np.empty((d, d))
    for i in range(start, stop):
        S = new_covs[i]
        total = 0.0
        for j in range(p):
            total += rows[i, j]
        active[i] = total > 0.0
        if not active[i]:
            for a in range(d):
                new_means[i, a] = prev_means[i, a]
            _copy_into(prev_covs[i], S)
            continue
        new_means[i, :] = 0.0
        for k in range(K):
            end = starts[k + 1] if k + 1 < K else p
            mean_k[:] = 0.0
            selected[i, k] = 0.0
            for j in range(starts[k], end):
                r = rows[i, j]
                if r == 0.0:
                    continue
                for a in range(d):
                    mean_k[a] += r * means[j, a]
                    for b in range(d):
                        selected[i, k, a, b] += r * covs[j, a, b]
            for a in range(d):
                new_means[i, a] += lambdas[k] * mean_k[a]
        # Start from the previous covariance when it is positive definite
        # (the fixed point keeps the rank of its start).
        if _cholesky_lower(prev_covs[i], L):
            _copy_into(prev_covs[i], S)
        else:
            S[:, :] = 0.0
            for k in range(K):
                for a in range(d):
                    for b in range(d):
                        S[a, b] += lambdas[k] * selected[i, k, a, b]


def _euclidean_update(
    rows, means, covs, starts, lambdas, prev_means, prev_covs, tol, max_iter
):
    """One fixed-point update of a GMM-OT barycenter, ``projection="euclidean"``.

    Component i with positive weight becomes N(sum_k lambda_k m_ik, S_i), the
    Bures barycenter (coefficients ``lambdas``) of the Gaussians N(m_ik, C_ik)
    that row i of each plan selects by averaging: ``m_ik``, ``C_ik`` are the
    plan-row averages of input k's means and covariances. ``S_i`` starts from
    the previous covariance when it is positive definite (the fixed point keeps
    the rank of its start), else from ``sum_k lambda_k C_ik``. Components whose
    row is all zero (zero weight) keep their previous parameters.

    Parameters
    ----------
    rows : ndarray of shape (n, p)
        Plans to all inputs side by side, each row divided by its weight.
    means : ndarray of shape (p, d)
    covs : ndarray of shape (p, d, d)
        The inputs' components, pooled in the same order.
    starts : ndarray of shape (K,), int64
        First pooled column of each input.
    lambdas : ndarray of shape (K,)
        Barycentric coefficients.
    prev_means : ndarray of shape (n, d)
    prev_covs : ndarray of shape (n, d, d)
        The current barycenter components.
    tol, max_iter : float, int
        Of the Bures barycenter iterations (see ``_bures_barycenters``).

    Returns
    -------
    new_means : ndarray of shape (n, d)
    new_covs : ndarray of shape (n, d, d)
    n_iter : ndarray of shape (n,), int64
    final_diff : ndarray of shape (n,)
    """
    n, p = rows.shape
    K = starts.shape[0]
    d = means.shape[1]
    new_means = np.empty((n, d))
    new_covs = np.empty((n, d, d))
    selected = np.empty((n, K, d, d))
    active = np.empty(n, dtype=np.bool_)
    args = (rows, means, covs, starts, lambdas, prev_means, prev_covs)
    outputs = (new_means, new_covs, selected, active)
    work = 2.0 * n * p * d * (d + 1) + n * d**3
    run(_euclidean_start_rows, work, n, *args, *outputs)
    n_iter = np.zeros(n, dtype=np.int64)
    final_diff = np.where(active, np.inf, 0.0)
    index = np.arange(n * K, dtype=np.int64).reshape(n, K)
    coef = np.ascontiguousarray(np.broadcast_to(lambdas, (n, K)))
    pool = selected.reshape(n * K, d, d)
    rows_to_do = np.flatnonzero(active)
    _iterate(pool, index, coef, tol, max_iter, new_covs, n_iter, final_diff, rows_to_do)
    return new_means, new_covs, n_iter, final_diff
