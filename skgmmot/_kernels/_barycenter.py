"""Batched Bures-Wasserstein barycenters of Gaussian covariances.

The fixed point of Álvarez-Esteban, del Barrio, Cuesta-Albertos & Matrán (2016),

    S <- S^-1/2 (sum_k c_k (S^1/2 S_k S^1/2)^1/2)^2 S^-1/2,

equals ``S <- M S M`` with ``M = sum_k c_k A_k`` and ``A_k`` the linear part of
the OT map from N(0, S) to N(0, S_k). That form needs no square root of ``S``
(a Cholesky factor is enough) and reuses the map kernel, including its closed
forms in 1-D and 2-D. Unlike the plain iteration ``S <- sum_k c_k (...)^1/2``
it is guaranteed to converge.
"""

import numpy as np
from numba import prange

from skgmmot._kernels._bures import _map_matrix
from skgmmot._kernels._jit import kernel
from skgmmot._kernels._linalg import _psd_factor


@kernel(parallel=True)
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
    covs = np.empty((n_problems, d, d))
    n_iter = np.zeros(n_problems, dtype=np.int64)
    final_diff = np.zeros(n_problems)
    for b in prange(n_problems):
        S = covs[b]
        S[:, :] = init[b]
        F = np.empty((d, d))
        G = np.empty((d, d))
        W = np.empty((d, d))
        M = np.empty((d, d))
        R = np.empty((d, d))
        A = np.empty((d, d))
        mean_map = np.empty((d, d))
        new = np.empty((d, d))
        diff = np.inf
        it = 0
        while it < max_iter:
            it += 1
            triangular, _ = _psd_factor(S, F, G)
            mean_map[:, :] = 0.0
            for q in range(width):
                c = coef[b, q]
                if c > 0.0:
                    _map_matrix(S, pool[index[b, q]], F, G, triangular, W, M, R, A)
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
            S[:, :] = new
            diff = np.sqrt(num / den) if den > 0.0 else 0.0
            if diff <= tol:
                break
        n_iter[b] = it
        final_diff[b] = diff
    return covs, n_iter, final_diff
