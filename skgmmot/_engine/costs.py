"""Bures costs between Gaussian components, and Gaussian maps of plan pairs."""

import numpy as np

from skgmmot._kernels._bures import _bures_cost_matrix as cost_matrix
from skgmmot._kernels._bures import _gaussian_maps

__all__ = ["cost_matrix", "gaussian_pair_maps", "label_costs", "plan_pairs"]


def gaussian_pair_maps(covs_s, covs_t, rows, cols):
    """Linear parts of the Gaussian maps from ``covs_s[rows]`` to ``covs_t[cols]``.

    Parameters
    ----------
    covs_s : ndarray of shape (k_s, d, d)
    covs_t : ndarray of shape (k_t, d, d)
    rows, cols : array-like of int of shape (p,)

    Returns
    -------
    maps : ndarray of shape (p, d, d)
        ``A_p`` with ``A_p covs_s[rows[p]] A_p = covs_t[cols[p]]``, symmetric.
    """
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    return _gaussian_maps(covs_s, covs_t, rows, cols)


def plan_pairs(covs_s, covs_t, plan, active):
    """Pairs (i, j) with plan mass and the linear parts of their Gaussian maps.

    Parameters
    ----------
    covs_s, covs_t : ndarray of shapes (k_s, d, d) and (k_t, d, d)
    plan : ndarray of shape (k_s, k_t)
    active : ndarray of bool of shape (k_s,)
        Source components that count (positive weight).

    Returns
    -------
    rows, cols : ndarray of int64 of shape (p,)
    maps : ndarray of shape (p, d, d)
    """
    rows, cols = np.nonzero((plan > 0.0) & active[:, None])
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    return rows, cols, gaussian_pair_maps(covs_s, covs_t, rows, cols)


def label_costs(labels_s, labels_t, label_cost):
    r"""Return the label term :math:`\beta \|v_i - v_j\|^2` of supervised costs.

    Labelled mixtures (Montesuma et al., 2024) attach a label vector (one-hot
    for a class, or a distribution over classes) to every component; the
    cost between components adds :math:`\beta` times the squared distance of
    their label vectors to their Bures-Wasserstein cost.

    Parameters
    ----------
    labels_s : ndarray of shape (n, C)
    labels_t : ndarray of shape (m, C)
    label_cost : float

    Returns
    -------
    ndarray of shape (n, m)
    """
    diff = labels_s[:, None, :] - labels_t[None, :, :]
    return label_cost * np.einsum("ijc,ijc->ij", diff, diff)
