"""Bures-Wasserstein costs and Gaussian optimal transport maps.

For Gaussians N(m1, S1) and N(m2, S2), with any factor ``S1 = F F^T``,

    W2^2 = |m1 - m2|^2 + tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2,

and ``S1^1/2 S2 S1^1/2`` is similar to ``F^T S2 F``, so the trace of its square
root is the sum of the square roots of the eigenvalues of ``F^T S2 F``. Factors
are computed once per component, never a (k_s, k_t, d, d) array; dimensions 1
and 2 have closed forms.
"""

import numpy as np

from skgmmot._kernels._jit import kernel
from skgmmot._kernels._linalg import (
    _EPS,
    _cholesky_lower,
    _congruence,
    _eigen_factor,
    _eigvalsh_inplace,
    _jacobi_rotation,
    _lower_inverse,
    _sqrtm_psd,
    _sqrtm_psd_warm,
)
from skgmmot._kernels._threads import run


@kernel()
def _cholesky_rows(covs, F, G, triangular, start, stop):
    """Fill in rows ``start:stop`` of ``_factors`` where Cholesky succeeds."""
    for i in range(start, stop):
        triangular[i] = _cholesky_lower(covs[i], F[i])
        if triangular[i]:
            _lower_inverse(F[i], G[i])


@kernel()
def _eigen_factor_rows(covs, index, F, G, rank, start, stop):
    """Fill in rows ``index[start:stop]`` of ``_factors`` by eigendecompositions."""
    for q in range(start, stop):
        i = index[q]
        rank[i] = _eigen_factor(covs[i], F[i], G[i])


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
    run(_cholesky_rows, 0.5 * k * d**3, k, covs, F, G, triangular)
    rank = np.full(k, d, dtype=np.int64)
    # Singular covariances only: the eigenvalue code compiles when first needed.
    index = np.flatnonzero(~triangular)
    if index.size:
        run(
            _eigen_factor_rows,
            10.0 * index.size * d**3,
            index.size,
            covs,
            index,
            F,
            G,
            rank,
        )
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


def _closed_form_summaries(means, covs):
    """Per-component numbers of the closed-form costs, as contiguous arrays.

    Returns the means' coordinates, the covariance entries (0, 0), (0, 1),
    (1, 1), and ``sqrt(det)`` (2-D, as ``_det_2x2``) or the standard
    deviation (1-D); the entries a 1-D problem lacks are zeros. NumPy's
    elementwise arithmetic rounds as the kernels' does.
    """
    k, d = means.shape
    zeros = np.zeros(k)
    c00 = np.ascontiguousarray(covs[:, 0, 0])
    if d == 1:
        root = np.sqrt(np.maximum(c00, 0.0))
        return np.ascontiguousarray(means[:, 0]), zeros, c00, zeros, zeros, root
    c01 = np.ascontiguousarray(covs[:, 0, 1])
    c11 = np.ascontiguousarray(covs[:, 1, 1])
    det = c00 * c11 - c01 * covs[:, 1, 0]
    det = np.where(det > 4.0 * _EPS * c00 * c11, det, 0.0)
    m0 = np.ascontiguousarray(means[:, 0])
    m1 = np.ascontiguousarray(means[:, 1])
    return m0, m1, c00, c01, c11, np.sqrt(det)


@kernel()
def _closed_form_cost_rows(
    means_s, covs_s, mt0, mt1, c00, c01, c11, root_t, cost, start, stop
):
    """Fill in rows ``start:stop`` of ``_closed_form_costs``, from target summaries."""
    d = means_s.shape[1]
    k_t = mt0.shape[0]
    for i in range(start, stop):
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


def _closed_form_costs(means_s, covs_s, means_t, covs_t):
    """``_bures_cost_matrix`` in dimensions 1 and 2, from per-component summaries.

    In 1-D the cost is ``(m1 - m2)^2 + (s1 - s2)^2`` with standard deviations
    s. In 2-D it is ``_trace_sqrt_2x2`` with ``sqrt(det)`` computed once per
    component, so the inner loop reads contiguous arrays and takes one square
    root per pair.
    """
    k_s, k_t = means_s.shape[0], means_t.shape[0]
    cost = np.empty((k_s, k_t))
    summaries = _closed_form_summaries(means_t, covs_t)
    run(
        _closed_form_cost_rows, 30.0 * k_s * k_t, k_s, means_s, covs_s, *summaries, cost
    )
    return cost


@kernel()
def _bures_cost_rows(
    means_s, covs_s, means_t, covs_t, F_s, tri_s, rank_s, F_t, tri_t, rank_t,
    trace_t, cost, start, stop,
):  # fmt: skip
    """Fill in rows ``start:stop`` of ``_bures_cost_matrix`` (d >= 3), from factors."""
    d = means_s.shape[1]
    k_t = means_t.shape[0]
    M = np.empty((d, d))
    W = np.empty((d, d))
    vals = np.empty(d)
    off = np.empty(d)
    v = np.empty(d)
    p = np.empty(d)
    for i in range(start, stop):
        trace_s = 0.0
        for a in range(d):
            trace_s += covs_s[i, a, a]
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
    trace_t = np.trace(covs_t, axis1=1, axis2=2).copy()
    F_s, _, tri_s, rank_s = _factors(covs_s)
    F_t, _, tri_t, rank_t = _factors(covs_t)
    args = (means_s, covs_s, means_t, covs_t, F_s, tri_s, rank_s, F_t, tri_t, rank_t)
    # The d^2 term: the per-pair loops and eigenvalue iterations that dominate
    # for small d (a pair costs 0.4 us at d = 3, 15 us at d = 30).
    work = k_s * k_t * (4.0 * d**3 + 60.0 * d**2)
    run(_bures_cost_rows, work, k_s, *args, trace_t, cost)
    return cost


@kernel()
def _eigen_2x2(a, b, c):
    """Eigenvalues and rotation of the symmetric matrix [[a, b], [b, c]].

    One Jacobi rotation (the update of ``_jacobi_eigh``, exact in 2-D):
    returns ``(l0, l1, cos, sin)`` with eigenvectors ``(cos, -sin)`` for
    ``l0`` and ``(sin, cos)`` for ``l1``.
    """
    if abs(b) <= _EPS * np.sqrt(abs(a)) * np.sqrt(abs(c)) or abs(b) < 1e-300:
        return a, c, 1.0, 0.0
    t, cs, sn = _jacobi_rotation(a, b, c)
    return a - t * b, c + t * b, cs, sn


@kernel()
def _small_map_matrix(S1, S2, out):
    """Write the linear part ``A`` of the OT map from N(., S1) to N(., S2), d <= 2.

    ``A`` is the symmetric PSD solution of ``A S1 A = S2`` (see
    ``_map_matrix``). In 1-D, ``A = sqrt(S2 / S1)``; in 2-D,
    ``A = (S2 + sqrt(det S1 det S2) S1^-1) / tr (S1^1/2 S2 S1^1/2)^1/2``.
    When ``det S1`` is at round-off level that formula loses its accuracy:
    ``S1`` is then diagonalised by a Jacobi rotation (``_eigen_2x2``),
    ``S1 = F F^T`` with ``F = V diag(sqrt(l))``, and
    ``A = G^T (F^T S2 F)^1/2 G`` with the pseudo-inverse ``G`` of ``F``,
    eigenvalues below ``2 eps max(l)`` counting as zero (the rule of
    ``_psd_factor``).

    Parameters
    ----------
    S1, S2 : ndarray of shape (d, d), d <= 2
        Source and target covariances.
    out : ndarray of shape (d, d)
        Output, overwritten.
    """
    d = S1.shape[0]
    if d == 1:
        out[0, 0] = np.sqrt(max(S2[0, 0], 0.0) / S1[0, 0]) if S1[0, 0] > 0.0 else 0.0
        return
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
    # S1 = V diag(l) V^T, V = [[cos, sin], [-sin, cos]]
    l0, l1, cs, sn = _eigen_2x2(S1[0, 0], 0.5 * (S1[0, 1] + S1[1, 0]), S1[1, 1])
    floor = 2.0 * _EPS * max(abs(l0), abs(l1))
    r0 = np.sqrt(l0) if l0 > floor else 0.0
    r1 = np.sqrt(l1) if l1 > floor else 0.0
    # M = F^T S2 F with F = V diag(r): entries v_a^T S2 v_b scaled by r_a r_b
    s2_01 = 0.5 * (S2[0, 1] + S2[1, 0])
    m00 = r0 * r0 * (cs * cs * S2[0, 0] - 2.0 * cs * sn * s2_01 + sn * sn * S2[1, 1])
    m11 = r1 * r1 * (sn * sn * S2[0, 0] + 2.0 * sn * cs * s2_01 + cs * cs * S2[1, 1])
    m01 = r0 * r1 * (cs * sn * (S2[0, 0] - S2[1, 1]) + (cs * cs - sn * sn) * s2_01)
    # R = M^1/2 = U diag(sqrt(mu)) U^T, round-off eigenvalues counting as 0
    mu0, mu1, cu, su = _eigen_2x2(m00, m01, m11)
    floor = 2.0 * _EPS * max(mu0, mu1, 0.0)
    q0 = np.sqrt(mu0) if mu0 > floor else 0.0
    q1 = np.sqrt(mu1) if mu1 > floor else 0.0
    R00 = cu * cu * q0 + su * su * q1
    R11 = su * su * q0 + cu * cu * q1
    R01 = (q1 - q0) * cu * su
    # out = G^T R G with G = diag(1 / r) V^T (rows of zero r left out)
    g0 = 1.0 / r0 if r0 > 0.0 else 0.0
    g1 = 1.0 / r1 if r1 > 0.0 else 0.0
    R00 *= g0 * g0
    R11 *= g1 * g1
    R01 *= g0 * g1
    # V [[R00, R01], [R01, R11]] V^T with V's columns (cs, -sn) and (sn, cs)
    out[0, 0] = cs * cs * R00 + 2.0 * cs * sn * R01 + sn * sn * R11
    out[1, 1] = sn * sn * R00 - 2.0 * sn * cs * R01 + cs * cs * R11
    out[0, 1] = -cs * sn * R00 + (cs * cs - sn * sn) * R01 + sn * cs * R11
    out[1, 0] = out[0, 1]


@kernel()
def _map_matrix(S1, S2, F, G, triangular, W, M, R, out):
    """Write the linear part ``A`` of the OT map from N(., S1) to N(., S2).

    ``A = S1^-1/2 (S1^1/2 S2 S1^1/2)^1/2 S1^-1/2`` is the symmetric PSD solution
    of ``A S1 A = S2``; with ``S1 = F F^T`` it equals ``G^T (F^T S2 F)^1/2 G``,
    ``G = F^-1``. When ``S1`` is singular, ``G`` is a pseudo-inverse and ``A``
    maps the range of ``S1`` (the only part of space the source charges).
    Any dimension; ``_small_map_matrix`` is faster for d <= 2.

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
    """
    _congruence(F, S2, triangular, W, M)
    _sqrtm_psd(M, R)
    _congruence(G, R, triangular, W, out)


@kernel()
def _warm_map_matrix(S1, S2, F, G, triangular, W, M, R, out, V, scratch):
    """``_map_matrix`` with a Jacobi square root warm-started from ``V``.

    For fixed-point iterations, where the map of a pair changes little from
    one call to the next. ``V`` holds the eigenvectors of this pair's
    ``F^T S2 F`` at the previous call (the identity at first) and is updated;
    ``scratch`` is of shape (3, d, d). Any dimension: after the first call,
    one or two Jacobi sweeps cost less than LAPACK's ``eigh``.
    """
    _congruence(F, S2, triangular, W, M)
    _sqrtm_psd_warm(M, V, R, W, scratch[0], scratch[1], scratch[2, 0])
    _congruence(G, R, triangular, W, out)


def _map_rows_kernel(small):
    """Make the row kernel of ``_gaussian_maps``, for d <= 2 (``small``) or any d.

    ``small`` is a compile-time constant: each variant compiles only the map
    code it calls (numba caches the two apart by their closure values).
    """

    @kernel()
    def map_rows(covs_s, covs_t, rows, cols, F, G, triangular, maps, start, stop):
        """Fill in pairs ``start:stop`` (factors unused when ``small``)."""
        d = covs_s.shape[1]
        W = np.empty((d, d))
        M = np.empty((d, d))
        R = np.empty((d, d))
        for q in range(start, stop):
            i = rows[q]
            if small:
                _small_map_matrix(covs_s[i], covs_t[cols[q]], maps[q])
            else:
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
                )

    return map_rows


_small_map_rows = _map_rows_kernel(small=True)
_general_map_rows = _map_rows_kernel(small=False)


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
    maps = np.empty((n_pairs, d, d))
    if d <= 2:
        none = np.empty((0, d, d))
        args = (covs_s, covs_t, rows, cols, none, none, np.empty(0, np.bool_), maps)
        run(_small_map_rows, 120.0 * n_pairs, n_pairs, *args)
        return maps
    F, G, triangular, _ = _factors(covs_s)
    args = (covs_s, covs_t, rows, cols, F, G, triangular, maps)
    run(_general_map_rows, n_pairs * (15.0 * d**3 + 200.0 * d**2), n_pairs, *args)
    return maps
