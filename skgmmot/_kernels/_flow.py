"""One step of the GMM-OT gradient flow, for all components at once."""

import numpy as np

from skgmmot._kernels._bures import _map_matrix, _small_map_matrix
from skgmmot._kernels._jit import kernel
from skgmmot._kernels._linalg import _psd_factor
from skgmmot._kernels._threads import run


def _step_rows_kernel(small):
    """Make the row kernel of ``_flow_step``, for d <= 2 (``small``) or any d.

    ``small`` is a compile-time constant, so each variant compiles only the
    map code it calls.
    """

    @kernel()
    def step_rows(
        means, covs, weights, means_t, covs_t, plan, cost, tau, move_means,
        move_covs, new_means, new_covs, steps, targets, mean_maps, own, start, stop,
    ):  # fmt: skip
        """Move source components ``start:stop`` along the plan's directions.

        Writes their new means and covariances (copies of the old ones on
        entry), steps ``A`` (zeros on entry), plan-averaged target means and
        maps, and own transport costs (zeros on entry).
        """
        d = means.shape[1]
        m = means_t.shape[0]
        F = np.empty((d, d))
        G = np.empty((d, d))
        W = np.empty((d, d))
        M = np.empty((d, d))
        R = np.empty((d, d))
        T = np.empty((d, d))
        for i in range(start, stop):
            for a in range(d):
                steps[i, a, a] = 1.0
            if not weights[i] > 0.0:
                continue
            target = targets[i]
            mean_map = mean_maps[i]
            triangular = False
            if not small and move_covs:
                triangular, _ = _psd_factor(covs[i], F, G)
            for j in range(m):
                p = plan[i, j] / weights[i]
                if not p > 0.0:
                    continue
                own[i] += p * cost[i, j]
                for a in range(d):
                    target[a] += p * means_t[j, a]
                if not move_covs:
                    continue
                if small:
                    _small_map_matrix(covs[i], covs_t[j], T)
                else:
                    _map_matrix(covs[i], covs_t[j], F, G, triangular, W, M, R, T)
                for a in range(d):
                    for b in range(d):
                        mean_map[a, b] += p * T[a, b]
            if move_means:
                for a in range(d):
                    new_means[i, a] = means[i, a] + tau * (target[a] - means[i, a])
            if move_covs:
                for a in range(d):
                    for b in range(d):
                        steps[i, a, b] = tau * mean_map[a, b]
                    steps[i, a, a] += 1.0 - tau
                # W = A S, then S' = W A (A symmetric), symmetrised.
                for a in range(d):
                    for b in range(d):
                        acc = 0.0
                        for c in range(d):
                            acc += steps[i, a, c] * covs[i, c, b]
                        W[a, b] = acc
                for a in range(d):
                    for b in range(a + 1):
                        acc = 0.0
                        for c in range(d):
                            acc += 0.5 * (
                                W[a, c] * steps[i, c, b] + W[b, c] * steps[i, c, a]
                            )
                        new_covs[i, a, b] = acc
                        new_covs[i, b, a] = acc

    return step_rows


_small_step_rows = _step_rows_kernel(small=True)
_general_step_rows = _step_rows_kernel(small=False)


@kernel()
def _finish_step(
    means, covs, weights, loss, eta, move_means, move_covs, move_weights, targets,
    mean_maps, own, new_weights,
):  # fmt: skip
    """Return the gradient of a flow step; write its weights into ``new_weights``.

    One pass over the components in order, after ``step_rows``: the sum does
    not depend on how their rows were split. ``new_weights`` is a copy of
    ``weights`` on entry.
    """
    k, d = means.shape
    D = np.empty((d, d))
    gradient = 0.0
    for i in range(k):
        if not weights[i] > 0.0:
            continue
        if move_means:
            for a in range(d):
                gap = targets[i, a] - means[i, a]
                gradient += weights[i] * gap * gap
        if move_covs:
            # D = I - mean_map (symmetric): tr(D S D) = sum_ab (D S)_ab D_ab.
            for a in range(d):
                for b in range(d):
                    D[a, b] = -mean_maps[i, a, b]
                D[a, a] += 1.0
            for a in range(d):
                for b in range(d):
                    acc = 0.0
                    for c in range(d):
                        acc += D[a, c] * covs[i, c, b]
                    gradient += weights[i] * acc * D[a, b]
    if move_weights and loss > 0.0:
        top = -np.inf
        logits = np.full(k, -np.inf)
        for i in range(k):
            if weights[i] > 0.0:
                logits[i] = np.log(weights[i]) - eta * own[i] / loss
                top = max(top, logits[i])
        total = 0.0
        for i in range(k):
            new_weights[i] = np.exp(logits[i] - top) if weights[i] > 0.0 else 0.0
            total += new_weights[i]
        for i in range(k):
            new_weights[i] /= total
    return gradient


def _flow_step(*args):
    """Move every source component along the plan's directions.

    Takes the arguments below, in their order; dispatches to the d <= 2
    variant (closed-form maps) or the general one. With
    ``P_ij = plan_ij / w_i``: the mean moves a fraction ``tau`` toward
    ``sum_j P_ij m'_j``; the covariance by ``S <- A S A``, where
    ``A = (1 - tau) I + tau sum_j P_ij T_ij`` and ``T_ij`` is the linear part of
    the Gaussian OT map from component i to target j; the weight by the mirror
    step ``w_i <- w_i exp(-eta c_i / loss)``, renormalised, where
    ``c_i = sum_j P_ij cost_ij`` is the component's own transport cost.

    Parameters
    ----------
    means, covs, weights : ndarray of shapes (k, d), (k, d, d), (k,)
        The source; covariances positive definite where the weight is > 0.
    means_t, covs_t : ndarray of shapes (m, d), (m, d, d)
        The target components.
    plan, cost : ndarray of shape (k, m)
        Current plan and costs.
    loss : float
        ``sum(plan * cost)``.
    tau, eta : float
        Step sizes of means and covariances, and of weights.
    move_means, move_covs, move_weights : bool
        Which parameters move.

    Returns
    -------
    new_means : ndarray of shape (k, d)
    new_covs : ndarray of shape (k, d, d)
    steps : ndarray of shape (k, d, d)
        The matrices ``A`` (identity where covariances do not move).
    new_weights : ndarray of shape (k,)
        The weights after the mirror step (``weights`` if they do not move).
    gradient : float
        Squared norm of the Riemannian gradient of the fixed-plan cost in the
        moving means and covariances, ``sum_i w_i (|m_i - mbar_i|^2 +
        tr(G_i S_i G_i))`` with ``mbar_i = sum_j P_ij m'_j`` and ``G_i = I -
        sum_j P_ij T_ij``. A step of size ``tau`` lowers the fixed-plan cost by
        at least ``tau (2 - tau)`` times this, so it is zero exactly at
        stationary points of the means and covariances (for the given plan).
    """
    (means, covs, weights, means_t, covs_t, plan, cost, loss, tau, eta, *moves) = args
    move_covs = moves[1]
    k, d = means.shape
    m = means_t.shape[0]
    new_means, new_covs, new_weights = means.copy(), covs.copy(), weights.copy()
    steps = np.zeros((k, d, d))
    targets = np.zeros((k, d))
    mean_maps = np.zeros((k, d, d))
    own = np.zeros(k)
    rows = _small_step_rows if d <= 2 else _general_step_rows
    per_pair = 4.0 * d
    if move_covs:
        per_pair += 120.0 if d <= 2 else 15.0 * d**3 + 200.0 * d**2
    inputs = (means, covs, weights, means_t, covs_t, plan, cost, tau, *moves[:2])
    outputs = (new_means, new_covs, steps, targets, mean_maps, own)
    run(rows, k * (m * per_pair + 10.0 * d**3), k, *inputs, *outputs, uneven=True)
    gradient = _finish_step(
        means, covs, weights, loss, eta, *moves, targets, mean_maps, own, new_weights
    )
    return new_means, new_covs, steps, new_weights, gradient
