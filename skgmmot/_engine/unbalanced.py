r"""Unbalanced entropic plans: KL-relaxed marginals (POT's ``sinkhorn_unbalanced``).

The plan minimises

.. math::
   \langle \pi, M \rangle + \varepsilon\, KL(\pi \,|\, a b^\top)
   + \rho_1 KL(\pi 1 \,|\, a) + \rho_2 KL(\pi^\top 1 \,|\, b),

POT's ``sinkhorn_unbalanced(a, b, M, reg=eps, reg_m=(rho_1, rho_2),
reg_type="kl")``.
Its scaling iterations (Chizat, Peyré, Schmitzer & Vialard, 2018) are

.. math::
   u \leftarrow (a / K v)^{\rho_1 / (\rho_1 + \varepsilon)}, \qquad
   v \leftarrow (b / K^\top u)^{\rho_2 / (\rho_2 + \varepsilon)},
   \qquad K = a b^\top e^{-M / \varepsilon},

run here on the logarithms of ``u`` and ``v`` (no overflow or underflow for
small ``eps``). An infinite ``rho`` keeps that marginal exact.
"""

import numpy as np

from skgmmot._engine.status import Notes
from skgmmot._engine.transport import sinkhorn_plan

__all__ = ["UNBALANCED_MAX_ITER", "UNBALANCED_TOL", "unbalanced_plan"]

#: Default iteration limit and tolerance (largest change of the logarithm of
#: a row or column sum of the plan in one iteration) of the scaling iterations.
UNBALANCED_MAX_ITER = 10000
UNBALANCED_TOL = 1e-10


def _log_sum_exp(x, axis):
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


def _exponent(rho, reg):
    return 1.0 if np.isinf(rho) else rho / (rho + reg)


def _balanced_start(a, b, cost, reg, log_a, log_b):
    """Log-scalings of the balanced entropic plan, a start near the solution.

    Large relaxations make the iterations contract slowly (at the rate of
    balanced Sinkhorn, whose solver has epsilon-scaling and Newton steps);
    from the balanced solution they only have to cover the relaxation. Zeros
    if that plan cannot be computed (``reg`` below the balanced solver's
    floor).
    """
    if a.size == 0 or b.size == 0:
        return np.zeros(a.size), np.zeros(b.size)
    try:
        _, log = sinkhorn_plan(
            a / a.sum(), b / b.sum(), cost, reg, notes=Notes(), log=True
        )
    except ValueError:
        return np.zeros(a.size), np.zeros(b.size)
    return log["f"] / reg - log_a, log["g"] / reg - log_b


def unbalanced_plan(a, b, cost, reg, reg_m, *, max_iter, tol, notes):
    r"""Unbalanced entropic plan between masses ``a`` and ``b``.

    Parameters
    ----------
    a : ndarray of shape (n,)
    b : ndarray of shape (m,)
    cost : ndarray of shape (n, m)
    reg : float
        Entropic regularisation (POT's ``reg``), in the units of ``cost``.
    reg_m : tuple of float
        Marginal relaxations (POT's ``reg_m``, source then target); ``inf`` keeps a
        marginal exact.
    max_iter : int
        Iterations at most.
    tol : float
        Stop when the logarithms of the plan's row and column sums change by
        less than ``tol`` in one iteration.
    notes : Notes
        Receives an ``"unbalanced"`` note if the iterations stop at
        ``max_iter``.

    Returns
    -------
    plan : ndarray of shape (n, m)
    log : dict
        ``logu``, ``logv`` (``-inf`` where the mass is zero), ``n_iter``,
        ``err`` (the last change), ``cost`` (the linear cost
        :math:`\langle \pi, M \rangle`) and ``total_cost`` (the objective
        above), as POT's log.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    rows, cols = np.flatnonzero(a > 0), np.flatnonzero(b > 0)
    log_a, log_b = np.log(a[rows]), np.log(b[cols])
    # Shifting the costs by a constant scales the kernel, which the
    # relaxed marginals do not absorb: keep the costs as they are.
    log_k = -cost[np.ix_(rows, cols)] / reg + log_a[:, None] + log_b[None, :]
    e1, e2 = _exponent(reg_m[0], reg), _exponent(reg_m[1], reg)
    log_u, log_v = _balanced_start(
        a[rows], b[cols], cost[np.ix_(rows, cols)], reg, log_a, log_b
    )
    err = np.inf
    n_iter = 0
    log_rows = log_cols = None
    while n_iter < max_iter:
        n_iter += 1
        row_sums = _log_sum_exp(log_k + log_v[None, :], axis=1)
        log_u = e1 * (log_a - row_sums)
        col_sums = _log_sum_exp(log_k + log_u[:, None], axis=0)
        log_v = e2 * (log_b - col_sums)
        # Convergence is judged on the plan's marginals, which do not see
        # the slow drift of a constant between log u and log v (the plan
        # changes by (1 - exponent) times that drift).
        new_rows = log_u + _log_sum_exp(log_k + log_v[None, :], axis=1)
        new_cols = log_v + col_sums
        if log_rows is not None:
            err = max(
                float(np.max(np.abs(new_rows - log_rows), initial=0.0)),
                float(np.max(np.abs(new_cols - log_cols), initial=0.0)),
            )
        log_rows, log_cols = new_rows, new_cols
        if err < tol:
            break
    if not err < tol:
        notes.add(
            "unbalanced",
            f"The unbalanced Sinkhorn iterations (reg={reg:g}, reg_m="
            f"{reg_m[0]:g}, {reg_m[1]:g}) did not converge in {max_iter} "
            f"iterations (last change of the log-marginals {err:.3g} > "
            f"{tol:.3g}); increase numItermax or reg"
            + (
                ". A relaxation much larger than reg converges slowly; "
                "reg_m=inf keeps the marginals exact."
                if min(reg_m) > 1e3 * reg
                else "."
            ),
        )
    plan = np.zeros(cost.shape)
    plan[np.ix_(rows, cols)] = np.exp(log_u[:, None] + log_k + log_v[None, :])
    full_u = np.full(a.shape, -np.inf)
    full_v = np.full(b.shape, -np.inf)
    full_u[rows], full_v[cols] = log_u, log_v
    linear = float(np.sum(plan * cost))
    total = linear + reg * _kl(plan, a[:, None] * b[None, :])
    for rho, mass, ref in ((reg_m[0], plan.sum(1), a), (reg_m[1], plan.sum(0), b)):
        if not np.isinf(rho):
            total += rho * _kl(mass, ref)
    return plan, {
        "logu": full_u,
        "logv": full_v,
        "n_iter": n_iter,
        "err": err,
        "cost": linear,
        "total_cost": total,
    }


def _kl(p, q):
    """Generalised KL divergence sum p log(p / q) - p + q (0 log 0 = 0)."""
    p, q = np.ravel(p), np.ravel(q)
    positive = p > 0
    return float(
        np.sum(p[positive] * np.log(p[positive] / q[positive])) - p.sum() + q.sum()
    )
