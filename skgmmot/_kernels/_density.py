"""Gaussian log-densities and the GMM-OT maps applied to samples."""

import numpy as np

from skgmmot._kernels._jit import kernel
from skgmmot._kernels._linalg import _lower_inverse
from skgmmot._kernels._threads import run

_LOG_2PI = np.log(2.0 * np.pi)
_NEGLIGIBLE_LOG = -60.0 * np.log(2.0)


@kernel()
def _inverse_factors(chols, precs, log_norm):
    """Inverse factors and log normalising constants of Gaussian components.

    Writes ``P_i = L_i^-1`` (lower triangular) for the lower Cholesky factors
    ``L_i`` into ``precs``, and ``-d/2 log(2 pi) - log det L_i`` into
    ``log_norm`` (outputs, not a returned tuple: see ``_jit.kernel``).
    """
    k, d = chols.shape[0], chols.shape[1]
    for i in range(k):
        _lower_inverse(chols[i], precs[i])
        acc = 0.0
        for a in range(d):
            acc += np.log(chols[i, a, a])
        log_norm[i] = -0.5 * d * _LOG_2PI - acc


@kernel()
def _log_joint(X, s, means, precs, log_norm, diff, out):
    """Write ``log_norm[i] - |P_i (X[s] - m_i)|^2 / 2`` into ``out[i]``.

    ``P_i = L_i^-1``: the Mahalanobis term as independent dot products; a
    forward substitution chains one division per coordinate and was twice as
    slow.
    """
    d = X.shape[1]
    for i in range(means.shape[0]):
        for c in range(d):
            diff[c] = X[s, c] - means[i, c]
        quad = 0.0
        for a in range(d):
            acc = 0.0
            for c in range(a + 1):
                acc += precs[i, a, c] * diff[c]
            quad += acc * acc
        out[i] = log_norm[i] - 0.5 * quad


@kernel()
def _top(values):
    """Largest entry (NaN entries skipped, -inf if there is none)."""
    top = -np.inf
    for v in values:
        if v > top:
            top = v
    return top


@kernel()
def _log_mixture_rows(X, means, precs, log_norm, out, start, stop):
    """Fill in samples ``start:stop`` of ``_log_mixture_densities``."""
    joint = np.empty(means.shape[0])
    z = np.empty(X.shape[1])
    for s in range(start, stop):
        _log_joint(X, s, means, precs, log_norm, z, joint)
        top = _top(joint)
        if top == -np.inf:
            out[s] = -np.inf
            continue
        acc = 0.0
        for v in joint:
            # Terms below 2^-60 of the largest change the sum by less than
            # k 2^-60 relatively: skip their exp, the costliest step here.
            if v - top > _NEGLIGIBLE_LOG:
                acc += np.exp(v - top)
        out[s] = top + np.log(acc)


@kernel()
def _posterior_rows(X, means, precs, log_norm, out, start, stop):
    """Fill in samples ``start:stop`` of ``_posteriors``."""
    k = means.shape[0]
    z = np.empty(X.shape[1])
    for s in range(start, stop):
        row = out[s]
        _log_joint(X, s, means, precs, log_norm, z, row)
        top = _top(row)
        acc = 0.0
        for i in range(k):
            row[i] = np.exp(row[i] - top)
            acc += row[i]
        for i in range(k):
            row[i] /= acc


def _log_mixture_densities(X, means, chols, log_weights):
    """Log-density of every sample under a Gaussian mixture.

    One pass per sample (log-sum-exp of the components' log-densities plus
    ``log_weights``, largest term first), with no (n, k) array.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    means : ndarray of shape (k, d)
    chols : ndarray of shape (k, d, d)
        Lower Cholesky factors of the covariances.
    log_weights : ndarray of shape (k,)
        ``log`` of the weights (``-inf`` for zero weights).

    Returns
    -------
    log_pdf : ndarray of shape (n,)
    """
    out = np.empty(X.shape[0])
    _per_sample(_log_mixture_rows, X, means, chols, log_weights, out)
    return out


def _posteriors(X, means, chols, log_weights):
    """Posterior probabilities ``P(i | x)`` of the components of a mixture.

    Per sample, ``exp(log w_i + log g_i(x) - top)`` normalised to sum to one,
    ``top`` the largest term: exact where the densities themselves underflow.
    Arguments as in ``_log_mixture_densities``.

    Returns
    -------
    posterior : ndarray of shape (n, k)
    """
    out = np.empty((X.shape[0], means.shape[0]))
    _per_sample(_posterior_rows, X, means, chols, log_weights, out)
    return out


def _per_sample(rows, X, means, chols, log_weights, out):
    """Run the per-sample kernel ``rows`` with the components' inverse factors."""
    n, d = X.shape
    precs = np.empty(chols.shape)
    log_norm = np.empty(chols.shape[0])
    _inverse_factors(chols, precs, log_norm)
    # + 25: the exp and the comparisons of a term, which dominate for small d.
    work = n * means.shape[0] * (d * (d + 4.0) + 25.0)
    run(rows, work, n, X, means, precs, log_norm + log_weights, out)


@kernel()
def _add_pair_map(X, s, means_s, i, means_t, j, maps, q, weight, diff, out):
    """Add ``weight * (means_t[j] + maps[q] (X[s] - means_s[i]))`` to ``out[s]``.

    Takes whole arrays and indices: views such as ``X[s]`` built in the hot
    loop of a serial kernel cost numba several times the arithmetic.
    """
    d = X.shape[1]
    for c in range(d):
        diff[c] = X[s, c] - means_s[i, c]
    for a in range(d):
        acc = means_t[j, a]
        for c in range(d):
            acc += maps[q, a, c] * diff[c]
        out[s, a] += weight * acc


@kernel()
def _map_barycentric_rows(
    X, posterior, means_s, means_t, rows, cols, coef, maps, out, start, stop
):
    """Fill in samples ``start:stop`` of ``_map_barycentric`` (``out`` is zeroed)."""
    diff = np.empty(X.shape[1])
    for s in range(start, stop):
        for q in range(rows.shape[0]):
            i = rows[q]
            weight = coef[q] * posterior[s, i]
            if weight > 0.0:
                _add_pair_map(
                    X, s, means_s, i, means_t, cols[q], maps, q, weight, diff, out
                )


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
    diff = np.empty(X.shape[1])
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
        j = cols[chosen]
        _add_pair_map(X, s, means_s, i, means_t, j, maps, chosen, 1.0, diff, out)


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
