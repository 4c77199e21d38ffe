"""Discrete OT plans between component weights, as the estimators need them.

The estimators solve many small problems (tens of components) per fit, where
the fixed overhead of a call matters more than the solver: the exact plan
calls the network simplex of POT's compiled extension directly (falling back
on ``ot.emd`` if that private entry point ever changes), and the entropic plan
runs our numba log-domain Sinkhorn kernel from the exact duals.
"""

import warnings

import numpy as np

from skgmmot._kernels._sinkhorn import _sinkhorn_log, _sinkhorn_log_batch

#: Sinkhorn stops when the column marginals are this close (Euclidean norm).
SINKHORN_TOL = 1e-10
SINKHORN_MAX_ITER = 10000
#: Network-simplex iteration limit (POT's default).
EMD_MAX_ITER = 100000
_EMD_OPTIMAL = 1


_EMD_C = []


def _emd_c():
    """POT's compiled network simplex, or None if its private path moved."""
    if not _EMD_C:
        try:
            from ot.lp.emd_wrap import emd_c
        except ImportError:  # pragma: no cover - depends on POT's private layout
            emd_c = None
        _EMD_C.append(emd_c)
    return _EMD_C[0]


def exact_plan(a, b, cost):
    """Exact OT plan by network simplex.

    Parameters
    ----------
    a : ndarray of shape (n,)
        Row marginal, float64.
    b : ndarray of shape (m,)
        Column marginal, float64; rescaled to the total of ``a`` as ``ot.emd``
        does.
    cost : ndarray of shape (n, m)
        Costs, float64.

    Returns
    -------
    plan : ndarray of shape (n, m)
        The plan ``ot.emd(a, b, cost)`` returns.
    """
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b * (a.sum() / b.sum()))
    cost = np.ascontiguousarray(cost)
    solver = _emd_c()
    if solver is not None:
        try:
            plan, _, _, _, code = solver(a, b, cost, EMD_MAX_ITER, 1)
        except (TypeError, ValueError):  # pragma: no cover - other POT versions
            code = None
        if code == _EMD_OPTIMAL:
            return plan
    import ot  # reports non-optimal results with POT's own warnings

    return ot.emd(a, b, cost)


#: Sinkhorn starts from the exact OT duals, with an ε-scaling from this many
#: ``reg`` (1: none). The exact duals are within O(reg) of the entropic ones
#: except along degenerate directions, which the Newton steps cross; a stress
#: test of 3000 random problems with reg down to 1e-6 of the cost range, ties
#: and zero masses converged with every one of them.
EXACT_START_REGS = 1.0


def _exact_start(a, b, cost, reg):
    """Dual potentials and first ε-scaling level for a cold start.

    The exact OT duals are the reg -> 0 limit of the entropic ones (up to
    O(reg log n) and the degenerate directions), so starting from them skips
    most of the ε-scaling. Without POT's solver: zeros and the cost range.
    """
    n, m = cost.shape
    spread = float(np.ptp(cost)) / 2.0 if cost.size else 0.0
    solver = _emd_c()
    if solver is not None and n and m:
        try:
            _, _, f, g, code = solver(
                a, np.ascontiguousarray(b * (a.sum() / b.sum())), cost, EMD_MAX_ITER, 1
            )
        except (TypeError, ValueError):  # pragma: no cover - other POT versions
            code = None
        if code == _EMD_OPTIMAL:
            f = np.where(a > 0.0, f, -np.inf)
            return (
                f,
                np.asarray(g, dtype=np.float64).copy(),
                min(spread, EXACT_START_REGS * reg),
            )
    return np.zeros(n), np.zeros(m), spread


def exact_duals(a, b, cost):
    """Source-side dual potentials of the exact OT problem.

    Parameters
    ----------
    a : ndarray of shape (n,)
    b : ndarray of shape (m,)
    cost : ndarray of shape (n, m)

    Returns
    -------
    f : ndarray of shape (n,)
        Potentials ``f`` with ``f_i + g_j <= cost_ij``, equality on the plan's
        support (as ``ot.emd(..., log=True)["u"]``, up to a constant shift;
        entries of rows without mass are not meaningful).
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b * (a.sum() / b.sum()), dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    solver = _emd_c()
    if solver is not None:
        try:
            _, _, f, _, code = solver(a, b, cost, EMD_MAX_ITER, 1)
        except (TypeError, ValueError):  # pragma: no cover - other POT versions
            code = None
        if code == _EMD_OPTIMAL:
            return np.asarray(f, dtype=np.float64)
    import ot

    return ot.emd(a, b, cost, log=True)[1]["u"]


def exact_plans(a, inputs, cost):
    """Exact plans from ``a`` to several inputs, side by side.

    Parameters
    ----------
    a : ndarray of shape (n,)
    inputs : list of ndarray
        Column marginals, of sizes m_1, ..., m_K.
    cost : ndarray of shape (n, m_1 + ... + m_K)
        The K cost matrices side by side.

    Returns
    -------
    plans : ndarray of shape (n, m_1 + ... + m_K)
        Block k equals ``exact_plan(a, inputs[k], cost_k)``.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    total = a.sum()
    solver = _emd_c()
    plan = np.empty(cost.shape)
    lo = 0
    for b in inputs:
        hi = lo + b.shape[0]
        block = np.ascontiguousarray(cost[:, lo:hi])
        code = None
        if solver is not None:
            try:
                part, _, _, _, code = solver(
                    a, b * (total / b.sum()), block, EMD_MAX_ITER, 1
                )
            except (TypeError, ValueError):  # pragma: no cover - other POT versions
                code = None
        plan[:, lo:hi] = part if code == _EMD_OPTIMAL else exact_plan(a, b, block)
        lo = hi
    return plan


def sinkhorn_plan(a, b, cost, reg, *, log=False, stacklevel=2):
    """Entropic OT plan by log-domain Sinkhorn (the plan of POT's ``sinkhorn_log``).

    Starts from the exact OT duals (see ``_exact_start``), then runs the
    kernel's ε-scaling, Sinkhorn and Newton steps.

    Parameters
    ----------
    a : ndarray of shape (n,)
    b : ndarray of shape (m,)
    cost : ndarray of shape (n, m)
    reg : float
        Entropic regularisation, in the units of ``cost``.
    log : bool, default=False
        Also return a dict with the dual potentials ``f`` and ``g`` (the plan
        is ``exp((f_i + g_j - cost_ij) / reg)``), ``n_iter`` and ``err``.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`.

    Returns
    -------
    plan : ndarray of shape (n, m)
    log : dict
        Only if ``log``.

    Warns
    -----
    ConvergenceWarning
        If the column marginals are not met within ``SINKHORN_TOL`` after
        ``SINKHORN_MAX_ITER`` iterations.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    f, g, start = _exact_start(a, b, cost, reg)
    plan, n_iter, err = _sinkhorn_log(
        a, b, cost, float(reg), SINKHORN_MAX_ITER, SINKHORN_TOL, f, g, start
    )
    if not err < SINKHORN_TOL:
        _not_converged(reg, cost, err, stacklevel + 1)
    if log:
        return plan, {"f": f, "g": g, "n_iter": int(n_iter), "err": float(err)}
    return plan


def sinkhorn_plans(a, inputs, cost, reg, *, potentials=None, stacklevel=2):
    """Entropic plans from ``a`` to several inputs, in one kernel call.

    Parameters
    ----------
    a : ndarray of shape (n,)
        Row marginal, shared.
    inputs : list of ndarray
        Column marginals, of sizes m_1, ..., m_K.
    cost : ndarray of shape (n, m_1 + ... + m_K)
        The K cost matrices side by side.
    reg : float
    potentials : tuple of ndarray of shapes (K, n) and (p,), optional
        Dual potentials ``(f, g)`` of nearby problems, e.g. those of the
        previous fixed-point iteration: a warm start replacing the exact OT
        duals (the plans are the same; Newton steps cover the difference).
    stacklevel : int, default=2

    Returns
    -------
    plans : ndarray of shape (n, m_1 + ... + m_K)
        The plans side by side; block k equals
        ``sinkhorn_plan(a, inputs[k], cost_k, reg)``.
    potentials : tuple of ndarray
        The final ``(f, g)``, for a later warm start.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    bounds = np.cumsum([0] + [b.shape[0] for b in inputs]).astype(np.int64)
    shapes = ((len(inputs), a.shape[0]), (int(bounds[-1]),))
    if potentials is not None and tuple(p.shape for p in potentials) == shapes:
        # -inf marks zero masses, which may have changed: restart those at 0.
        f, g = (np.where(np.isfinite(p), p, 0.0) for p in potentials)
        start = np.full(len(inputs), float(reg))
    else:
        f, g = np.empty(shapes[0]), np.empty(shapes[1])
        start = np.empty(len(inputs))
        for k, b in enumerate(inputs):
            lo, hi = bounds[k], bounds[k + 1]
            block = np.ascontiguousarray(cost[:, lo:hi])
            f[k], g[lo:hi], start[k] = _exact_start(a, b, block, reg)
    plan, _, err = _sinkhorn_log_batch(
        a,
        np.concatenate(inputs).astype(np.float64),
        cost,
        bounds,
        float(reg),
        SINKHORN_MAX_ITER,
        SINKHORN_TOL,
        f,
        g,
        start,
    )
    worst = int(np.argmax(err))
    if not err[worst] < SINKHORN_TOL:
        _not_converged(reg, cost, err[worst], stacklevel + 1)
    return plan, (f, g)


def _not_converged(reg, cost, err, stacklevel):
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(
        f"Sinkhorn did not converge in {SINKHORN_MAX_ITER} iterations with "
        f"reg={reg:g} (costs up to {cost.max():.3g}); its plans miss the input "
        f"weights by {err:.3g}. Increase reg or use ot_solver='exact'.",
        ConvergenceWarning,
        stacklevel=stacklevel + 1,
    )
