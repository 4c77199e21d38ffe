"""Single-Gaussian array math behind the POT-parity functions of :mod:`skgmmot.ot`.

Densities of one Gaussian, the Gaussian OT map with its square roots, the
density of the GMM-OT coupling near the graphs of the component maps, and the
Bures-Wasserstein gradient descent for Gaussian barycenters. Everything here
takes validated float64 arrays (see :mod:`skgmmot._validation`) and raises no
user-facing errors; nothing imports scikit-learn.
"""

import numpy as np

from skgmmot._kernels._bures import _gaussian_maps
from skgmmot._kernels._density import _log_mixture_densities

#: Largest number of float64 entries of the (rows, m, d) block of differences
#: that :func:`plan_density` builds at once (8 MB).
_BLOCK_ENTRIES = 1 << 20


def log_densities(x, means, chols):
    """Log-densities of every point under every Gaussian.

    Parameters
    ----------
    x : ndarray of shape (n, d)
        Points.
    means : ndarray of shape (k, d)
    chols : ndarray of shape (k, d, d)
        Lower Cholesky factors of the (positive definite) covariances.

    Returns
    -------
    log_pdf : ndarray of shape (n, k)
        ``log N(x_a; m_i, L_i L_i^T)``: ``-d/2 log 2 pi - log det L_i -
        |L_i^-1 (x_a - m_i)|^2 / 2``, with no inverse of the covariance.
    """
    out = np.empty((x.shape[0], means.shape[0]))
    zero = np.zeros(1)
    for i in range(means.shape[0]):
        # A mixture of one component with weight 1: its log-sum-exp is the
        # component's own log-density, bit for bit.
        out[:, i] = _log_mixture_densities(
            x, np.ascontiguousarray(means[i : i + 1]), chols[i : i + 1], zero
        )
    return out


def map_linear_parts(covs_s, covs_t, rows, cols):
    """Linear parts of the Gaussian OT maps of the pairs ``(rows[p], cols[p])``.

    The matrices that :func:`skgmmot.gmm_ot_apply_map` uses: ``A`` symmetric
    positive semi-definite with ``A S_s A = S_t``.

    Parameters
    ----------
    covs_s : ndarray of shape (k_s, d, d)
        Positive definite source covariances.
    covs_t : ndarray of shape (k_t, d, d)
        Positive semi-definite target covariances.
    rows, cols : array-like of int of shape (p,)

    Returns
    -------
    maps : ndarray of shape (p, d, d)
    """
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    return _gaussian_maps(covs_s, covs_t, rows, cols)


def sqrt_and_inverse_sqrt(cov):
    """Square root of a positive definite matrix and its inverse.

    Parameters
    ----------
    cov : ndarray of shape (d, d)
        Symmetric positive definite.

    Returns
    -------
    root, inverse_root : ndarray of shape (d, d)
        Symmetric, from one eigendecomposition.
    """
    vals, vecs = np.linalg.eigh(cov)
    roots = np.sqrt(np.clip(vals, 0.0, None))
    root = (vecs * roots) @ vecs.T
    with np.errstate(divide="ignore"):
        inverse_root = (vecs / roots) @ vecs.T
    return 0.5 * (root + root.T), 0.5 * (inverse_root + inverse_root.T)


def plan_density(x, y, source, target, plan, atol):
    r"""Density of the GMM-OT coupling at every pair of points, POT's way.

    The coupling :math:`\sum_{ij} \pi_{ij} (\mathrm{Id}, T_{ij})_\# g_i` lives
    on the graphs of the component maps :math:`T_{ij}`; it has no density on
    the product space, and POT's ``gmm_ot_plan_density`` stands in for the
    Dirac along each graph an indicator of width ``atol``:

    .. math::
        p(x, y) = \sum_{ij} \pi_{ij}\, g_i(x)\,
        \mathbf{1}\{\|T_{ij}(x) - y\|_2 < \mathrm{atol}\}.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    y : ndarray of shape (m, d)
    source : tuple (means, covs)
        Source components, positive definite covariances.
    target : tuple (means, covs)
        Target components.
    plan : ndarray of shape (k_s, k_t)
        Non-negative plan between the components.
    atol : float
        Width of the indicator (Euclidean distance, strict inequality).

    Returns
    -------
    density : ndarray of shape (n, m)
    """
    (ms, Cs), (mt, Ct) = source, target
    n, m = x.shape[0], y.shape[0]
    out = np.zeros((n, m))
    rows, cols = np.nonzero(plan > 0.0)
    if rows.size == 0 or n == 0 or m == 0:
        return out
    maps = map_linear_parts(Cs, Ct, rows, cols)
    log_g = log_densities(x, ms, np.linalg.cholesky(Cs))
    block = max(1, _BLOCK_ENTRIES // (m * x.shape[1]))
    for p, (i, j) in enumerate(zip(rows, cols, strict=True)):
        mapped = mt[j] + (x - ms[i]) @ maps[p]  # maps are symmetric
        mass = plan[i, j] * np.exp(log_g[:, i])
        for start in range(0, n, block):
            stop = min(n, start + block)
            gap = mapped[start:stop, None, :] - y[None, :, :]
            near = np.sqrt(np.einsum("abk,abk->ab", gap, gap)) < atol
            out[start:stop] += np.where(near, mass[start:stop, None], 0.0)
    return out


def _sqrtm_psd(mats):
    """Square roots of symmetric positive semi-definite matrices (..., d, d)."""
    vals, vecs = np.linalg.eigh(mats)
    roots = np.sqrt(np.clip(vals, 0.0, None))
    out = (vecs * roots[..., None, :]) @ np.swapaxes(vecs, -1, -2)
    return 0.5 * (out + np.swapaxes(out, -1, -2))


def bures_gradient_descent(covs, weights, init, step_size, tol, max_iter):
    r"""Bures-Wasserstein barycenter of centred Gaussians by gradient descent.

    The Riemannian gradient descent of Chewi et al. (2020) on
    :math:`F(S) = \sum_k \lambda_k W_2^2(N(0, S), N(0, C_k))`: with
    :math:`T_k` the OT map from :math:`N(0, S)` to :math:`N(0, C_k)` and
    :math:`E = (1 - \eta) I + \eta \sum_k \lambda_k T_k`,
    :math:`S \leftarrow E S E`. For ``step_size`` :math:`\eta = 1` this is the
    fixed point of Álvarez-Esteban et al. (2016); for :math:`0 < \eta \le 1`
    the iterates stay positive definite.

    Parameters
    ----------
    covs : ndarray of shape (k, d, d)
        Positive definite covariances.
    weights : ndarray of shape (k,)
        Barycentric coefficients, summing to one.
    init : ndarray of shape (d, d)
        Positive definite starting point.
    step_size : float
        :math:`\eta` in (0, 1].
    tol : float
        Stop when ``||S_new - S||_F <= tol * ||S_new||_F``.
    max_iter : int
        Maximum number of steps.

    Returns
    -------
    cov : ndarray of shape (d, d)
    n_iter : int
        Steps done.
    final_diff : float
        Last relative change.
    """
    d = covs.shape[1]
    active = weights > 0.0
    covs, weights = covs[active], weights[active]
    cov = init.copy()
    diff = np.inf
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        root, inverse_root = sqrt_and_inverse_sqrt(cov)
        mean_root = np.einsum("k,kab->ab", weights, _sqrtm_psd(root @ covs @ root))
        step = (1.0 - step_size) * np.eye(d) + step_size * (
            inverse_root @ mean_root @ inverse_root
        )
        step = 0.5 * (step + step.T)
        new = step @ cov @ step
        new = 0.5 * (new + new.T)
        diff = float(np.linalg.norm(new - cov) / np.linalg.norm(new))
        cov = new
        if diff <= tol:
            break
    return cov, n_iter, diff
