"""Gaussian log-densities and the GMM-OT maps applied to samples."""

import numpy as np

from skgmmot._kernels._jit import kernel
from skgmmot._kernels._threads import run

_LOG_2PI = np.log(2.0 * np.pi)


@kernel()
def _log_norms(chols):
    """Log normalising constants ``-d/2 log(2 pi) - log det L`` of the components."""
    k, d = chols.shape[0], chols.shape[1]
    log_norm = np.empty(k)
    for i in range(k):
        acc = 0.0
        for a in range(d):
            acc += np.log(chols[i, a, a])
        log_norm[i] = -0.5 * d * _LOG_2PI - acc
    return log_norm


@kernel()
def _log_density_rows(X, means, chols, log_norm, out, start, stop):
    """Fill in samples ``start:stop`` of ``_log_gaussian_densities``."""
    d = X.shape[1]
    k = means.shape[0]
    z = np.empty(d)
    for s in range(start, stop):
        for i in range(k):
            L = chols[i]
            # Forward substitution L z = x - m; the Mahalanobis term is |z|^2.
            quad = 0.0
            for a in range(d):
                acc = X[s, a] - means[i, a]
                for c in range(a):
                    acc -= L[a, c] * z[c]
                z[a] = acc / L[a, a]
                quad += z[a] * z[a]
            out[s, i] = log_norm[i] - 0.5 * quad


def _log_gaussian_densities(X, means, chols):
    """Log-densities of every sample under every Gaussian component.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Samples.
    means : ndarray of shape (k, d)
        Component means.
    chols : ndarray of shape (k, d, d)
        Lower Cholesky factors of the (positive definite) covariances.

    Returns
    -------
    log_dens : ndarray of shape (n, k)
        ``log N(X[s]; means[i], chols[i] chols[i]^T)``.
    """
    n, d = X.shape
    k = means.shape[0]
    log_norm = _log_norms(chols)
    out = np.empty((n, k))
    run(_log_density_rows, n * k * d * (d + 2.0), n, X, means, chols, log_norm, out)
    return out


@kernel()
def _apply_pair(x, mean_s, mean_t, A, out, weight):
    """Add ``weight * (mean_t + A (x - mean_s))`` to ``out``."""
    d = x.shape[0]
    for a in range(d):
        acc = mean_t[a]
        for c in range(d):
            acc += A[a, c] * (x[c] - mean_s[c])
        out[a] += weight * acc


@kernel()
def _map_barycentric_rows(
    X, posterior, means_s, means_t, rows, cols, coef, maps, out, start, stop
):
    """Fill in samples ``start:stop`` of ``_map_barycentric`` (``out`` is zeroed)."""
    for s in range(start, stop):
        for q in range(rows.shape[0]):
            i = rows[q]
            weight = coef[q] * posterior[s, i]
            if weight > 0.0:
                _apply_pair(X[s], means_s[i], means_t[cols[q]], maps[q], out[s], weight)


def _map_barycentric(X, posterior, means_s, means_t, rows, cols, coef, maps):
    """Apply the barycentric GMM-OT map ``T_bary`` of Delon & Desolneux (2020).

    ``T(x) = sum_ij pi_ij g_i(x) / p(x) T_ij(x)``, with ``g_i`` the source
    component densities, ``p = sum_k w_k g_k`` the source mixture density and
    ``T_ij`` the Gaussian OT map from source component i to target component j.
    It is evaluated as ``sum_ij (pi_ij / w_i) P(i | x) T_ij(x)`` with the
    normalised posterior ``P(i | x) = w_i g_i(x) / p(x)``, so the coefficients
    sum to one to machine precision even where the densities underflow.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Samples.
    posterior : ndarray of shape (n, k_s)
        ``P(i | x)`` for every sample and source component (rows sum to one).
    means_s : ndarray of shape (k_s, d)
    means_t : ndarray of shape (k_t, d)
    rows, cols : ndarray of shape (n_pairs,), int64
        The pairs (i, j) that carry plan mass, in row-major order.
    coef : ndarray of shape (n_pairs,)
        ``pi_ij / w_i`` of every pair.
    maps : ndarray of shape (n_pairs, d, d)
        Linear parts ``A_ij`` of the Gaussian maps.

    Returns
    -------
    out : ndarray of shape (n, d)
        Transported samples.
    """
    n, d = X.shape
    out = np.zeros((n, d))
    work = 2.0 * n * rows.shape[0] * d * (d + 1)
    args = (X, posterior, means_s, means_t, rows, cols, coef, maps, out)
    run(_map_barycentric_rows, work, n, *args)
    return out


@kernel()
def _map_random_rows(
    X, posterior, means_s, means_t, rows, cols, coef, maps, uniforms, out, start, stop
):
    """Fill in samples ``start:stop`` of ``_map_random``; ``out`` starts at zero."""
    n_pairs = rows.shape[0]
    for s in range(start, stop):
        total = 0.0
        for q in range(n_pairs):
            total += coef[q] * posterior[s, rows[q]]
        chosen = n_pairs - 1
        running = 0.0
        for q in range(n_pairs):
            running += coef[q] * posterior[s, rows[q]]
            if running / total > uniforms[s]:
                chosen = q
                break
        i = rows[chosen]
        _apply_pair(X[s], means_s[i], means_t[cols[chosen]], maps[chosen], out[s], 1.0)


def _map_random(X, posterior, means_s, means_t, rows, cols, coef, maps, uniforms):
    """Apply the random GMM-OT map ``T_rand`` of Delon & Desolneux (2020).

    Each sample draws one pair (i, j) with probability
    ``pi_ij g_i(x) / p(x) = (pi_ij / w_i) P(i | x)``
    by inverting the cumulative sum over the pairs in row-major order with
    ``uniforms[s]``, then moves by the Gaussian map ``T_ij``. This is the
    inversion that ``numpy.random.RandomState.choice`` performs, so the same
    uniforms give the same draws as POT's per-sample loop.

    Parameters
    ----------
    X, posterior, means_s, means_t, rows, cols, coef, maps
        As in ``_map_barycentric``.
    uniforms : ndarray of shape (n,)
        Uniform draws in [0, 1), one per sample.

    Returns
    -------
    out : ndarray of shape (n, d)
        Transported samples.
    """
    n, d = X.shape
    out = np.zeros((n, d))
    work = 2.0 * n * rows.shape[0] * d * (d + 1)
    args = (X, posterior, means_s, means_t, rows, cols, coef, maps, uniforms, out)
    run(_map_random_rows, work, n, *args)
    return out
