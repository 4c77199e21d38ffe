"""The GMM-OT maps between mixtures and the GMM-OT geodesic."""

import numpy as np

from skgmmot._engine.costs import gaussian_pair_maps
from skgmmot._engine.mixtures import posterior
from skgmmot._kernels._density import _map_barycentric, _map_random

__all__ = ["apply_map", "carry", "geodesic_state"]


def apply_map(x, source, target, plan, method, seed, label="x", name="source mixture"):
    """Move validated samples ``x`` with the GMM-OT map given a plan.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    source : tuple (means, covs, weights)
        Validated source mixture with positive definite covariances.
    target : tuple (means, covs)
        Validated target components.
    plan : ndarray of shape (k_s, k_t)
        Plan between the components (rows summing to the source weights).
    method : {"bary", "rand"}
    seed : None, int, RandomState or Generator
        Randomness of ``"rand"``.
    label, name : str
        How errors name the samples and the source mixture.

    Returns
    -------
    out : ndarray of shape (n, d)
    """
    ms, Cs, ws = source
    mt, Ct = target[0], target[1]
    # Pairs with plan mass; a plan whose rows match w_s has none where w_i = 0.
    rows, cols = np.nonzero((plan > 0) & (ws > 0)[:, None])
    rows = rows.astype(np.int64)
    cols = cols.astype(np.int64)
    coef = plan[rows, cols] / ws[rows]
    maps = gaussian_pair_maps(Cs, Ct, rows, cols)
    post = posterior(x, ms, Cs, ws, label, name)
    args = (x, post, ms, mt, rows, cols, coef, maps)
    if method == "bary":
        return _map_barycentric(*args)
    if isinstance(seed, np.random.Generator):
        uniforms = seed.random(x.shape[0])
    elif isinstance(seed, np.random.RandomState):
        uniforms = seed.random_sample(x.shape[0])
    else:
        uniforms = np.random.RandomState(seed).random_sample(x.shape[0])
    return _map_random(*args, uniforms)


def geodesic_state(source, target, pairs, t):
    """Means, covariances and weights of the GMM-OT geodesic at time ``t``.

    ``pairs`` is ``(rows, cols, maps, pair_weights)``: the plan's support, the
    linear parts ``A_ij`` of the Gaussian maps of its pairs and their masses.
    Component ``(i, j)`` is the push-forward of source component ``i`` by
    ``x -> (1 - t) x + t T_ij(x)``.
    """
    (ms, Cs, _), (mt, _, _) = source, target
    rows, cols, maps, pair_weights = pairs
    d = ms.shape[1]
    A = (1.0 - t) * np.eye(d) + t * maps
    covs = A @ Cs[rows] @ A
    covs = 0.5 * (covs + covs.transpose(0, 2, 1))
    return (1.0 - t) * ms[rows] + t * mt[cols], covs, pair_weights.copy()


def carry(x, weights, start_means, end_means, maps, uniforms=None):
    """Move samples by per-component affine maps, blended or drawn by ``weights``.

    Component i carries ``x`` to ``end_means[i] + maps[i] (x - start_means[i])``.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    weights : ndarray of shape (n, k)
        Each sample's weights of the components (a posterior), rows summing
        to one.
    start_means, end_means : ndarray of shape (k, d)
    maps : ndarray of shape (k, d, d)
    uniforms : ndarray of shape (n,), optional
        None: average the k images by ``weights``; else move each sample by
        the one component the uniform draws from its row of ``weights``.

    Returns
    -------
    out : ndarray of shape (n, d)
    """
    k = start_means.shape[0]
    index = np.arange(k, dtype=np.int64)
    args = (
        x,
        weights,
        np.ascontiguousarray(start_means),
        np.ascontiguousarray(end_means),
        index,
        index,
        np.ones(k),
        np.ascontiguousarray(maps),
    )
    if uniforms is None:
        return _map_barycentric(*args)
    return _map_random(*args, uniforms)
