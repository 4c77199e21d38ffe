"""Pooled mixtures, mixture densities and posteriors on validated arrays."""

import itertools

import numpy as np

from skgmmot._kernels._density import _log_mixture_densities, _posteriors

__all__ = [
    "EIGENVALUE_FLOOR",
    "Pooled",
    "far_posterior",
    "floor_eigenvalues",
    "log_mixture_pdf",
    "log_weights",
    "posterior",
]


class Pooled:
    r"""Several mixtures side by side: their component arrays concatenated.

    Costs and plans to all the mixtures are kept as one (n, p) array whose
    columns ``bounds[k]:bounds[k + 1]`` belong to mixture k: one cost-kernel
    call serves them all.

    Parameters
    ----------
    mixtures : list of (means, covariances, weights) tuples
        Validated mixtures with the same number of features.
    lambdas : ndarray of shape (K,), optional
        Barycentric coefficients of the mixtures, when they are barycenter
        inputs: gives ``column_lambdas`` and ``mass``.

    Attributes
    ----------
    mixtures : list of tuple
    weights : list of ndarray
        The mixtures' weights.
    means : ndarray of shape (p, d)
    covs : ndarray of shape (p, d, d)
    pooled_weights : ndarray of shape (p,)
    bounds : ndarray of int64 of shape (K + 1,)
        Mixture k owns the pooled components ``bounds[k]:bounds[k + 1]``.
    column_lambdas : ndarray of shape (p,)
        ``lambdas[k]`` for every component of mixture k (with ``lambdas``).
    mass : ndarray of shape (p,)
        ``lambdas[k] * weights[k][j]`` (with ``lambdas``).
    labels : ndarray of shape (p, C) or None
        Label vectors of the components (labelled mixtures), or None.
    label_cost : float
        The weight :math:`\beta` of the label term of the costs.
    """

    labels = None
    label_cost = 0.0

    def with_labels(self, labels, label_cost):
        """Attach label vectors (p, C) and the label cost; return self."""
        self.labels = np.ascontiguousarray(labels, dtype=np.float64)
        self.label_cost = float(label_cost)
        return self

    def __init__(self, mixtures, lambdas=None):
        sizes = [m.shape[0] for m, _, _ in mixtures]
        self.mixtures = mixtures
        self.weights = [w for _, _, w in mixtures]
        self.means = np.ascontiguousarray(np.concatenate([m for m, _, _ in mixtures]))
        self.covs = np.ascontiguousarray(np.concatenate([C for _, C, _ in mixtures]))
        self.pooled_weights = np.concatenate(self.weights)
        self.bounds = np.cumsum([0, *sizes]).astype(np.int64)
        if lambdas is not None:
            self.column_lambdas = np.repeat(lambdas, sizes)
            self.mass = self.column_lambdas * self.pooled_weights

    def __len__(self):
        return len(self.mixtures)

    def split(self, pooled):
        """Per-mixture column blocks (views) of an (n, p) array."""
        return [pooled[:, lo:hi] for lo, hi in itertools.pairwise(self.bounds)]

    def block(self, lo, hi):
        """Pooled arrays of mixtures ``lo`` to ``hi - 1``, bounds counted from 0.

        Returns
        -------
        means, covs, weights : ndarray
            Views of the pooled arrays.
        bounds : ndarray of int64 of shape (hi - lo + 1,)
        """
        a, b = self.bounds[lo], self.bounds[hi]
        return (
            self.means[a:b],
            self.covs[a:b],
            self.pooled_weights[a:b],
            self.bounds[lo : hi + 1] - a,
        )


def log_weights(weights):
    """``log(weights)``, with ``-inf`` (no warning) for zero weights."""
    with np.errstate(divide="ignore"):
        return np.log(weights)


def log_mixture_pdf(x, means, covs, weights):
    """(n,) log-densities of a Gaussian mixture with positive definite covariances."""
    chols = np.linalg.cholesky(covs)
    return _log_mixture_densities(x, means, chols, log_weights(weights))


def posterior(x, means, covs, weights, label="x", name="source mixture"):
    """(n, k) posterior probabilities of a mixture's components, rows summing to 1.

    Subtracting the row maximum before exponentiating keeps the largest term at
    one; normalising afterwards (rather than subtracting a log-sum-exp, a large
    number when samples are far from every component) makes rows sum to one to
    machine precision, even where the densities underflow. A sample whose
    squared Mahalanobis distances to every component overflow (a point at 1e100
    and covariances 1e-150 I) goes wholly to its nearest component (see
    :func:`far_posterior`); ``label`` and ``name`` name it in errors.
    """
    chols = np.linalg.cholesky(covs)
    out = _posteriors(x, means, chols, log_weights(weights))
    lost = np.flatnonzero(~np.isfinite(out).all(axis=1))
    for i in lost:
        out[i] = far_posterior(x[i], means, chols, weights, f"{label}[{i}]", name)
    return out


def far_posterior(x, means, chols, weights, label, name):
    """Posterior of a point whose squared Mahalanobis distances all overflow.

    The log-densities ``log w_i - log det(L_i) - |L_i^-1 (x - m_i)|^2 / 2``
    then differ by amounts beyond 1e300 unless the distances tie to about
    1e-300 relative: all the mass is on the component nearest in Mahalanobis
    distance, which the distances scaled by their largest entry decide. Ties
    to round-off (where the weights and determinants would matter) cannot be
    resolved in float64 and raise a ``ValueError`` naming ``label``.
    """
    k = means.shape[0]
    out = np.zeros(k)
    active = np.flatnonzero(weights > 0.0)
    z = np.linalg.solve(chols[active], (x - means[active])[:, :, None])[:, :, 0]
    scale = np.abs(z).max()
    q = np.sum((z / scale) ** 2, axis=1) if np.isfinite(scale) else np.full(1, np.nan)
    order = np.argsort(q)
    if not np.isfinite(q).all() or (
        q.size > 1 and q[order[1]] - q[order[0]] <= 1e-12 * q[order[1]]
    ):
        raise ValueError(
            f"{label} is too far from the components of the {name} for float64: "
            "its squared Mahalanobis distances overflow and are too close to "
            "tell which component is nearest; rescale the data."
        )
    out[active[order[0]]] = 1.0
    return out


#: Smallest eigenvalue kept in a fitted covariance, relative to ``d`` times its
#: largest: ten roundings, so that the matrix stays positive definite (and
#: Cholesky-factorisable) once rebuilt from its eigen-decomposition.
EIGENVALUE_FLOOR = 10.0 * np.finfo(np.float64).eps


def floor_eigenvalues(covariances):
    """Raise eigenvalues lost to round-off to a positive floor.

    The fixed-point and flow updates are accurate to a few roundings of the
    largest eigenvalue, in absolute terms: with condition numbers beyond about
    1e12 / d, the smallest eigenvalues of a result can come out at round-off
    level, zero or slightly negative, which no Cholesky factorisation accepts.
    Those are set to ``EIGENVALUE_FLOOR * d * largest``; matrices whose
    eigenvalues are all above the floor are returned unchanged, bit for bit.

    Parameters
    ----------
    covariances : ndarray of shape (..., d, d)
        Symmetric matrices, e.g. (k, d, d) or a path (steps, k, d, d).

    Returns
    -------
    covariances : ndarray of the same shape
        A copy in which the matrices with an eigenvalue below the floor are
        rebuilt from their eigen-decomposition with those eigenvalues raised.
    """
    shape = np.shape(covariances)
    d = shape[-1]
    out = np.array(covariances, dtype=np.float64, copy=True).reshape(-1, d, d)
    eig = np.linalg.eigvalsh(out)
    floor = EIGENVALUE_FLOOR * d * np.abs(eig).max(axis=1)
    for i in np.flatnonzero(~(eig[:, 0] > floor)):
        vals, vecs = np.linalg.eigh(out[i])
        rebuilt = (vecs * np.maximum(vals, floor[i])) @ vecs.T
        out[i] = 0.5 * (rebuilt + rebuilt.T)
    return out.reshape(shape)
