"""Discrete OT plans between component weights, as the estimators need them.

The estimators solve many small problems (tens of components) per fit, where
the fixed overhead of a call matters more than the solver: the exact plan
calls the network simplex of POT's compiled extension directly (falling back
on ``ot.emd`` if that private entry point ever changes), and the entropic plan
runs our numba log-domain Sinkhorn kernel, which needs no POT import at all.
"""

import warnings

import numpy as np

from skgmmot._kernels._sinkhorn import _sinkhorn_log

#: Sinkhorn stops when the column marginals are this close (Euclidean norm).
SINKHORN_TOL = 1e-10
SINKHORN_MAX_ITER = 10000
#: Network-simplex iteration limit (POT's default).
EMD_MAX_ITER = 100000
_EMD_OPTIMAL = 1


def _emd_c():
    try:
        from ot.lp.emd_wrap import emd_c
    except ImportError:  # pragma: no cover - depends on POT's private layout
        return None
    return emd_c


def exact_plan(a, b, cost):
    """Exact OT plan by network simplex.

    Parameters
    ----------
    a : ndarray of shape (n,)
        Row marginal.
    b : ndarray of shape (m,)
        Column marginal; rescaled to the total of ``a`` as ``ot.emd`` does.
    cost : ndarray of shape (n, m)

    Returns
    -------
    plan : ndarray of shape (n, m)
        The plan ``ot.emd(a, b, cost)`` returns.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b * (a.sum() / b.sum()), dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    solver = _emd_c()
    if solver is not None:
        try:
            plan, _, _, _, code = solver(a, b, cost, EMD_MAX_ITER, 1)
        except (TypeError, ValueError):  # pragma: no cover - other POT versions
            code = None
        if code == _EMD_OPTIMAL:
            return np.asarray(plan)
    import ot  # reports non-optimal results with POT's own warnings

    return ot.emd(a, b, cost)


def sinkhorn_plan(a, b, cost, reg, *, potentials=None, stacklevel=2):
    """Entropic OT plan by log-domain Sinkhorn (POT's ``sinkhorn_log``).

    Parameters
    ----------
    a : ndarray of shape (n,)
    b : ndarray of shape (m,)
    cost : ndarray of shape (n, m)
    reg : float
        Entropic regularisation, in the units of ``cost``.
    potentials : tuple of ndarray of shapes (n,), (m,) and (n, m), optional
        Dual potentials ``(f, g)`` (in the units of ``cost``) that solved a
        problem with costs ``cost'``, given as ``(f, g, cost')``, e.g. the
        previous iteration's: a warm start. The plan is the same; the
        ε-scaling then starts from ``max |cost - cost'|`` instead of the cost
        range. Default: a cold start from zeros.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`.

    Returns
    -------
    plan : ndarray of shape (n, m)
    potentials : tuple of ndarray
        The final dual potentials and the costs, ``(f, g, cost)``: the
        ``potentials`` argument of a later call on a nearby problem.

    Warns
    -----
    ConvergenceWarning
        If the column marginals are not met within ``SINKHORN_TOL`` after
        ``SINKHORN_MAX_ITER`` iterations.
    """
    n, m = cost.shape
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    if potentials is None or potentials[2].shape != (n, m):
        f, g = np.zeros(n), np.zeros(m)
        start = float(np.ptp(cost)) / 2.0 if cost.size else 0.0
    else:  # -inf marks rows or columns without mass; restart those from 0
        f, g = (np.where(np.isfinite(p), p, 0.0) for p in potentials[:2])
        start = float(np.max(np.abs(cost - potentials[2])))
    plan, _, err = _sinkhorn_log(
        a, b, cost, float(reg), SINKHORN_MAX_ITER, SINKHORN_TOL, f, g, start
    )
    if not err < SINKHORN_TOL:
        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"Sinkhorn did not converge in {SINKHORN_MAX_ITER} iterations with "
            f"reg={reg:g} (costs up to {cost.max():.3g}); its plans miss the input "
            f"weights by {err:.3g}. Increase reg or use ot_solver='exact'.",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
    return plan, (f, g, cost)
