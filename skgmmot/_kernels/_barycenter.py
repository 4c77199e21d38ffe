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
    def iterate(S, pool, index, coef, tol, max_iter):
        """Overwrite ``S`` with the barycenter of ``pool[index]``, weights ``coef``.

        ``S`` holds a positive definite start; entries with zero coefficient
        are skipped. Returns the iterations used and the last relative change.
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
        # Eigenvectors of every map's square root, warm starts for the next
        # iteration's (the maps change less and less as S converges).
        vecs = np.zeros((width, d, d))
        for q in range(width):
            for x in range(d):
                vecs[q, x, x] = 1.0
        scratch = np.empty((3, d, d))
        diff = np.inf
        it = 0
        while it < max_iter:
            it += 1
            triangular = False
            if not small:
                triangular, _ = _psd_factor(S, F, G)
            mean_map[:, :] = 0.0
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
                        vecs[q],
                        scratch,
                    )
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
        pool, index, coef, covs, n_iter, final_diff, tol, max_iter, start, stop
    ):
        """Solve problems ``start:stop``, starting from (and overwriting) ``covs``."""
        for b in range(start, stop):
            if small:
                it, diff = _small_iterate(
                    covs[b], pool, index[b], coef[b], tol, max_iter
                )
            else:
                it, diff = _general_iterate(
                    covs[b], pool, index[b], coef[b], tol, max_iter
                )
            n_iter[b] = it
            final_diff[b] = diff

    return barycenter_rows


_small_barycenter_rows = _barycenter_rows_kernel(small=True)
_general_barycenter_rows = _barycenter_rows_kernel(small=False)


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
    n_problems, width = coef.shape
    d = pool.shape[1]
    covs = np.array(init, dtype=np.float64, order="C")
    n_iter = np.zeros(n_problems, dtype=np.int64)
    final_diff = np.zeros(n_problems)
    args = (pool, index, coef, covs, n_iter, final_diff, tol, max_iter)
    rows = _small_barycenter_rows if d <= 2 else _general_barycenter_rows
    run(rows, 150.0 * n_problems * width * d**3, n_problems, *args, uneven=True)
    return covs, n_iter, final_diff


@kernel()
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
    K = starts.shape[0]
    avg_means = np.zeros((n, K, d))
    avg_covs = np.zeros((n, K, d, d))
    for i in range(n):
        for k in range(K):
            stop = starts[k + 1] if k + 1 < K else p
            for j in range(starts[k], stop):
                r = rows[i, j]
                if r == 0.0:
                    continue
                for a in range(d):
                    avg_means[i, k, a] += r * means[j, a]
                    for b in range(d):
                        avg_covs[i, k, a, b] += r * covs[j, a, b]
    return avg_means, avg_covs


def _euclidean_rows_kernel(small):
    """Make the row kernel of ``_euclidean_update``, for d <= 2 or any d.

    One pass per barycenter component: its plan-row averages of every input,
    its new mean, its starting covariance and its Bures barycenter; no
    (n, K, d, d) array of averages, and one kernel to compile.
    """

    @kernel()
    def euclidean_rows(
        rows, means, covs, starts, lambdas, prev_means, prev_covs, tol, max_iter,
        new_means, new_covs, n_iter, final_diff, start, stop,
    ):  # fmt: skip
        """Update components ``start:stop`` (see ``_euclidean_update``)."""
        p = rows.shape[1]
        d = means.shape[1]
        K = starts.shape[0]
        selected = np.empty((K, d, d))
        index = np.arange(K)
        mean_k = np.empty(d)
        L = np.empty((d, d))
        for i in range(start, stop):
            S = new_covs[i]
            total = 0.0
            for j in range(p):
                total += rows[i, j]
            if not total > 0.0:
                for a in range(d):
                    new_means[i, a] = prev_means[i, a]
                _copy_into(prev_covs[i], S)
                n_iter[i] = 0
                final_diff[i] = 0.0
                continue
            new_means[i, :] = 0.0
            for k in range(K):
                end = starts[k + 1] if k + 1 < K else p
                mean_k[:] = 0.0
                selected[k] = 0.0
                for j in range(starts[k], end):
                    r = rows[i, j]
                    if r == 0.0:
                        continue
                    for a in range(d):
                        mean_k[a] += r * means[j, a]
                        for b in range(d):
                            selected[k, a, b] += r * covs[j, a, b]
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
                            S[a, b] += lambdas[k] * selected[k, a, b]
            if small:
                it, diff = _small_iterate(S, selected, index, lambdas, tol, max_iter)
            else:
                it, diff = _general_iterate(S, selected, index, lambdas, tol, max_iter)
            n_iter[i] = it
            final_diff[i] = diff

    return euclidean_rows


_small_euclidean_rows = _euclidean_rows_kernel(small=True)
_general_euclidean_rows = _euclidean_rows_kernel(small=False)


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
    n = rows.shape[0]
    K = starts.shape[0]
    d = means.shape[1]
    new_means = np.empty((n, d))
    new_covs = np.empty((n, d, d))
    n_iter = np.zeros(n, dtype=np.int64)
    final_diff = np.zeros(n)
    kernel_rows = _small_euclidean_rows if d <= 2 else _general_euclidean_rows
    args = (rows, means, covs, starts, lambdas, prev_means, prev_covs, tol, max_iter)
    outputs = (new_means, new_covs, n_iter, final_diff)
    run(kernel_rows, 150.0 * n * K * d**3, n, *args, *outputs, uneven=True)
    return new_means, new_covs, n_iter, final_diff
