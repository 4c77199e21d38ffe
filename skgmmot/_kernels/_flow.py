"""One step of the GMM-OT gradient flow, for all components at once."""

import numpy as np

from skgmmot._kernels._bures import _map_matrix, _small_map_matrix
from skgmmot._kernels._jit import kernel
from skgmmot._kernels._linalg import _psd_factor


def _flow_step_kernel(small):
    """Make the flow step kernel for d <= 2 (``small``: closed-form maps) or any d.

    ``small`` is a compile-time constant, so each variant compiles only the
    map code it calls.
    """

    @kernel()
    def flow_step(
        means,
        covs,
        weights,
        means_t,
        covs_t,
        plan,
        cost,
        loss,
        tau,
        eta,
        move_means,
        move_covs,
        move_weights,
    ):
        """Move every source component along the plan's directions."""
        k, d = means.shape
        m = means_t.shape[0]
        new_means = means.copy()
        new_covs = covs.copy()
        steps = np.zeros((k, d, d))
        own = np.zeros(k)
        F = np.empty((d, d))
        G = np.empty((d, d))
        W = np.empty((d, d))
        M = np.empty((d, d))
        R = np.empty((d, d))
        T = np.empty((d, d))
        mean_map = np.empty((d, d))
        D = np.empty((d, d))
        target = np.empty(d)
        gradient = 0.0
        for i in range(k):
            for a in range(d):
                steps[i, a, a] = 1.0
            if not weights[i] > 0.0:
                continue
            triangular = False
            if not small and move_covs:
                triangular, _ = _psd_factor(covs[i], F, G)
            target[:] = 0.0
            mean_map[:, :] = 0.0
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
                    _map_matrix(
                        covs[i],
                        covs_t[j],
                        F,
                        G,
                        triangular,
                        W,
                        M,
                        R,
                        T,
                    )
                for a in range(d):
                    for b in range(d):
                        mean_map[a, b] += p * T[a, b]
            if move_means:
                for a in range(d):
                    gap = target[a] - means[i, a]
                    gradient += weights[i] * gap * gap
                    new_means[i, a] = means[i, a] + tau * gap
            if move_covs:
                # D = I - mean_map (symmetric): tr(D S D) = sum_ab (D S)_ab D_ab.
                for a in range(d):
                    for b in range(d):
                        D[a, b] = -mean_map[a, b]
                    D[a, a] += 1.0
                for a in range(d):
                    for b in range(d):
                        acc = 0.0
                        for c in range(d):
                            acc += D[a, c] * covs[i, c, b]
                        gradient += weights[i] * acc * D[a, b]
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
        new_weights = weights.copy()
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
        return new_means, new_covs, steps, new_weights, gradient

    return flow_step


_small_flow_step = _flow_step_kernel(small=True)
_general_flow_step = _flow_step_kernel(small=False)


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
    means = args[0]
    step = _small_flow_step if means.shape[1] <= 2 else _general_flow_step
    return step(*args)
