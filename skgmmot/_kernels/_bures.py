"""Bures-Wasserstein costs and Gaussian optimal transport maps.

For Gaussians N(m1, S1) and N(m2, S2), with any factor ``S1 = F F^T``,

    W2^2 = |m1 - m2|^2 + tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2,

and ``S1^1/2 S2 S1^1/2`` is similar to ``F^T S2 F``, so the trace of its square
root is the sum of the square roots of the eigenvalues of ``F^T S2 F``. Factors
are computed once per component, never a (k_s, k_t, d, d) array; dimensions 1
and 2 have closed forms.
"""

import numpy as np
from numba import prange

from skgmmot._kernels._jit import kernel
from skgmmot._kernels._linalg import (
    _EPS,
    JACOBI_MAX_D,
    _congruence,
    _eigvalsh_inplace,
    _psd_factor,
    _sqrtm_psd,
    _sqrtm_psd_warm,
)


@kernel(parallel=True)
def _factors(covs):
    """Factor every covariance: ``covs[i] = F[i] F[i]^T`` and ``G[i] = F[i]^+``.

    Parameters
    ----------
    covs : ndarray of shape (k, d, d)
        Symmetric positive semi-definite matrices.

    Returns
    -------
    F, G : ndarray of shape (k, d, d)
        Factors and their (pseudo-)inverses, see ``_psd_factor``.
    triangular : ndarray of shape (k,), bool
        True where the factor is a Cholesky factor.
    rank : ndarray of shape (k,), int64
        Numerical rank of every covariance.
    """
    k, d = covs.shape[0], covs.shape[1]
    F = np.empty((k, d, d))
    G = np.empty((k, d, d))
    triangular = np.empty(k, dtype=np.bool_)
    rank = np.empty(k, dtype=np.int64)
    for i in prange(k):
        triangular[i], rank[i] = _psd_factor(covs[i], F[i], G[i])
    return F, G, triangular, rank


@kernel()
def _det_2x2(S):
    """Compute the determinant of a 2x2 PSD matrix, zeroing round-off values.

    For a singular S the computed determinant is round-off of size
    ``eps * s00 * s11``, whose square root (of relative size sqrt(eps)) would
    otherwise enter the Bures cost.
    """
    det = S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]
    return det if det > 4.0 * _EPS * S[0, 0] * S[1, 1] else 0.0


@kernel()
def _trace_sqrt_2x2(S1, S2):
    """``tr (S1^1/2 S2 S1^1/2)^1/2`` for 2x2 matrices, in closed form.

    For a 2x2 PSD matrix M, ``tr M^1/2 = sqrt(tr M + 2 sqrt(det M))``, and here
    ``tr M = tr(S1 S2)``, ``det M = det S1 det S2``.
    """
    tr = S1[0, 0] * S2[0, 0] + 2.0 * S1[0, 1] * S2[0, 1] + S1[1, 1] * S2[1, 1]
    return np.sqrt(max(tr + 2.0 * np.sqrt(_det_2x2(S1) * _det_2x2(S2)), 0.0))


@kernel(parallel=True)
def _closed_form_costs(means_s, covs_s, means_t, covs_t):
    """Bures costs in dimensions 1 and 2, from per-component summaries.

    In 1-D the cost is ``(m1 - m2)^2 + (s1 - s2)^2`` with standard deviations
    s. In 2-D it is ``_trace_sqrt_2x2`` with ``sqrt(det)`` computed once per
    component, so the inner loop reads contiguous arrays and takes one square
    root per pair.

    Parameters
    ----------
    means_s : ndarray of shape (k_s, d)
    covs_s : ndarray of shape (k_s, d, d)
    means_t : ndarray of shape (k_t, d)
    covs_t : ndarray of shape (k_t, d, d)

    Returns
    -------
    cost : ndarray of shape (k_s, k_t)
        ``W2^2`` between source i and target j, clipped at zero.
    """
    k_s, d = means_s.shape
    k_t = means_t.shape[0]
    cost = np.empty((k_s, k_t))
    # Target summaries as contiguous arrays: means, covariance entries, and
    # sqrt(det) (2-D) or the standard deviation (1-D).
    mt0 = np.empty(k_t)
    mt1 = np.zeros(k_t)
    c00 = np.empty(k_t)
    c01 = np.zeros(k_t)
    c11 = np.zeros(k_t)
    root_t = np.empty(k_t)
    for j in range(k_t):
        mt0[j] = means_t[j, 0]
        c00[j] = covs_t[j, 0, 0]
        if d == 2:
            mt1[j] = means_t[j, 1]
            c01[j] = covs_t[j, 0, 1]
            c11[j] = covs_t[j, 1, 1]
            root_t[j] = np.sqrt(_det_2x2(covs_t[j]))
        else:
            root_t[j] = np.sqrt(max(c00[j], 0.0))
    for i in prange(k_s):
        row = cost[i]
        s00 = covs_s[i, 0, 0]
        m0 = means_s[i, 0]
        if d == 1:
            sd = np.sqrt(max(s00, 0.0))
            for j in range(k_t):
                gap_m = m0 - mt0[j]
                gap_s = sd - root_t[j]
                row[j] = gap_m * gap_m + gap_s * gap_s
        else:
            s01 = covs_s[i, 0, 1]
            s11 = covs_s[i, 1, 1]
            m1 = means_s[i, 1]
            root_s = np.sqrt(_det_2x2(covs_s[i]))
            for j in range(k_t):
                g0 = m0 - mt0[j]
                g1 = m1 - mt1[j]
                tr = s00 * c00[j] + 2.0 * s01 * c01[j] + s11 * c11[j]
                root = np.sqrt(max(tr + 2.0 * root_s * root_t[j], 0.0))
                value = g0 * g0 + g1 * g1 + s00 + s11 + c00[j] + c11[j] - 2.0 * root
                row[j] = max(value, 0.0)
    return cost


@kernel(parallel=True)
def _bures_cost_matrix(means_s, covs_s, means_t, covs_t):
    """Squared Bures-Wasserstein costs between every source and target Gaussian.

    For d >= 3 the trace term of a pair is the sum of the square roots of the
    eigenvalues of ``F^T S F``, where ``F`` is the factor of whichever of the
    two covariances has the lower rank and ``S`` is the other: null directions
    of rank-deficient covariances then give exact zeros, not round-off whose
    square root would be of size sqrt(eps).

    Parameters
    ----------
    means_s : ndarray of shape (k_s, d)
    covs_s : ndarray of shape (k_s, d, d)
    means_t : ndarray of shape (k_t, d)
    covs_t : ndarray of shape (k_t, d, d)

    Returns
    -------
    cost : ndarray of shape (k_s, k_t)
        ``W2^2`` between source i and target j, clipped at zero.
    """
    k_s, d = means_s.shape
    k_t = means_t.shape[0]
    if d <= 2:
        return _closed_form_costs(means_s, covs_s, means_t, covs_t)
    cost = np.empty((k_s, k_t))
    trace_t = np.empty(k_t)
    for j in range(k_t):
        acc = 0.0
        for a in range(d):
            acc += covs_t[j, a, a]
        trace_t[j] = acc
    F_s, _, tri_s, rank_s = _factors(covs_s)
    F_t, _, tri_t, rank_t = _factors(covs_t)
    for i in prange(k_s):
        trace_s = 0.0
        for a in range(d):
            trace_s += covs_s[i, a, a]
        M = np.empty((d, d))
        W = np.empty((d, d))
        vals = np.empty(d)
        off = np.empty(d)
        v = np.empty(d)
        p = np.empty(d)
        for j in range(k_t):
            mean_part = 0.0
            for a in range(d):
                diff = means_s[i, a] - means_t[j, a]
                mean_part += diff * diff
            if rank_t[j] < rank_s[i]:
                _congruence(F_t[j], covs_s[i], tri_t[j], W, M)
            else:
                _congruence(F_s[i], covs_t[j], tri_s[i], W, M)
            _eigvalsh_inplace(M, vals, off, v, p)
            root = 0.0
            for a in range(d):
                root += np.sqrt(max(vals[a], 0.0))
            cost[i, j] = max(mean_part + trace_s + trace_t[j] - 2.0 * root, 0.0)
    return cost


@kernel()
def _map_matrix(S1, S2, F, G, triangular, W, M, R, out, V, scratch):
    """Write the linear part ``A`` of the OT map from N(., S1) to N(., S2).

    ``A = S1^-1/2 (S1^1/2 S2 S1^1/2)^1/2 S1^-1/2`` is the symmetric PSD solution
    of ``A S1 A = S2``; with ``S1 = F F^T`` it equals ``G^T (F^T S2 F)^1/2 G``,
    ``G = F^-1``. When ``S1`` is singular, ``G`` is a pseudo-inverse and ``A``
    maps the range of ``S1`` (the only part of space the source charges).
    In 2-D, ``A = (S2 + sqrt(det S1 det S2) S1^-1) / tr (S1^1/2 S2 S1^1/2)^1/2``.

    Parameters
    ----------
    S1, S2 : ndarray of shape (d, d)
        Source and target covariances.
    F, G : ndarray of shape (d, d)
        Factor of ``S1`` and its (pseudo-)inverse, from ``_psd_factor``.
    triangular : bool
        Whether ``F`` is a Cholesky factor.
    W, M, R : ndarray of shape (d, d)
        Scratch space.
    out : ndarray of shape (d, d)
        Output, overwritten.
    V : ndarray of shape (d, d) or (0, 0)
        Eigenvectors of this pair's ``F^T S2 F`` at the previous call of a
        fixed-point iteration (identity at first), updated: a warm start for
        the Jacobi square root (3 <= d <= ``JACOBI_MAX_D``). Shape (0, 0):
        no warm start.
    scratch : ndarray of shape (3, d, d) or (0, 0, 0)
        Scratch space for the warm-started square root.
    """
    d = S1.shape[0]
    if d == 1:
        out[0, 0] = np.sqrt(max(S2[0, 0], 0.0) / S1[0, 0]) if S1[0, 0] > 0.0 else 0.0
        return
    if d == 2:
        det1 = S1[0, 0] * S1[1, 1] - S1[0, 1] * S1[1, 0]
        if det1 > 1e-12 * (S1[0, 0] * S1[1, 1]):
            det2 = _det_2x2(S2)
            tau = _trace_sqrt_2x2(S1, S2)
            if tau > 0.0:
                scale = np.sqrt(det1 * det2) / det1
                out[0, 0] = (S2[0, 0] + scale * S1[1, 1]) / tau
                out[1, 1] = (S2[1, 1] + scale * S1[0, 0]) / tau
                out[0, 1] = (S2[0, 1] - scale * S1[0, 1]) / tau
                out[1, 0] = out[0, 1]
            else:
                out[:, :] = 0.0
            return
    _congruence(F, S2, triangular, W, M)
    if V.shape[0] == d and d <= JACOBI_MAX_D:
        _sqrtm_psd_warm(M, V, R, W, scratch[0], scratch[1], scratch[2, 0])
    else:
        _sqrtm_psd(M, R)
    _congruence(G, R, triangular, W, out)


@kernel(parallel=True)
def _gaussian_maps(covs_s, covs_t, rows, cols):
    """Linear parts of the Gaussian OT maps for the pairs ``(rows[p], cols[p])``.

    Parameters
    ----------
    covs_s : ndarray of shape (k_s, d, d)
    covs_t : ndarray of shape (k_t, d, d)
    rows, cols : ndarray of shape (n_pairs,), int64
        Source and target component of every pair.

    Returns
    -------
    maps : ndarray of shape (n_pairs, d, d)
        Symmetric matrices ``A`` such that ``T(x) = m2 + A (x - m1)`` maps
        N(m1, covs_s[rows[p]]) onto N(m2, covs_t[cols[p]]); see ``_map_matrix``.
    """
    d = covs_s.shape[1]
    n_pairs = rows.shape[0]
    F, G, triangular, _ = _factors(covs_s)
    maps = np.empty((n_pairs, d, d))
    cold = np.empty((0, 0))
    no_scratch = np.empty((0, 0, 0))
    for q in prange(n_pairs):
        i = rows[q]
        W = np.empty((d, d))
        M = np.empty((d, d))
        R = np.empty((d, d))
        _map_matrix(
            covs_s[i],
            covs_t[cols[q]],
            F[i],
            G[i],
            triangular[i],
            W,
            M,
            R,
            maps[q],
            cold,
            no_scratch,
        )
    return maps
