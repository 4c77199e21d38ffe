"""Discrete OT plans between component weights, as the estimators need them.

The estimators solve many small problems (tens of components) per fit, where
the fixed overhead of a call matters more than the solver: the exact plan
calls the network simplex of POT's compiled extension directly (falling back
on ``ot.emd`` if that private entry point ever changes), and the entropic plan
runs our numba log-domain Sinkhorn kernel from the exact duals.
"""

import math
import warnings

import numpy as np

from skgmmot._kernels._sinkhorn import _sinkhorn_log, _sinkhorn_log_batch

#: Sinkhorn stops when the column marginals are this close (Euclidean norm).
SINKHORN_TOL = 1e-10
SINKHORN_MAX_ITER = 10000
#: Smallest accepted ``reg`` relative to the range of the costs. The plan's
#: exponents ``(f + g - cost) / reg`` carry rounding errors of about
#: ``eps * range / reg`` (eps = 2.2e-16; costs shifted to start at 0): 2 % at
#: this floor; below it, entries are mostly noise, and they overflow to NaN
#: as ``reg`` nears 1e-308.
SINKHORN_REG_FLOOR = 1e-14
#: Network-simplex iteration limit of small problems (POT's default) ...
EMD_MAX_ITER = 100000
#: ... grown to this many iterations per entry of the cost matrix for large
#: ones: the simplex needs about k**1.6 pivots for k x k problems (68750 at
#: k = 2000, random costs and uniform weights; 2e4 at k = 1000), so POT's
#: fixed default stops it early from k ~ 3000 on; 0.1 k**2 leaves a margin of
#: 5 at k = 1000, growing with k.
EMD_ITER_PER_ENTRY = 0.1
#: Times a problem is solved again, each time with a 10 times larger limit,
#: when the simplex stops at the limit before reaching optimality. A problem
#: on which the simplex stalls thus costs about 1.1 n m pivots (some 25 us
#: each at n = m = 4000) before the warning.
EMD_RETRIES = 1
# The C++ solver keeps the limit in an int in some POT versions.
_EMD_ITER_CAP = 2**31 - 1
# Return codes of POT's emd_c (its ProblemType enum).
_EMD_OPTIMAL = 1
_EMD_MAX_ITER_REACHED = 3


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


def _first_emd_limit(n, m):
    """Return the first iteration limit of :func:`emd_limits`, for n x m costs."""
    return int(min(max(EMD_MAX_ITER, EMD_ITER_PER_ENTRY * n * m, 1), _EMD_ITER_CAP))


def emd_limits(n, m):
    """List the iteration limits of successive network-simplex runs (n x m costs).

    The simplex is deterministic, so a larger limit changes nothing where a
    smaller one already reached optimality: results stay those of ``ot.emd``.

    Parameters
    ----------
    n, m : int
        Shape of the cost matrix.

    Returns
    -------
    limits : list of int
        ``max(EMD_MAX_ITER, EMD_ITER_PER_ENTRY * n * m)``, then up to
        ``EMD_RETRIES`` limits each 10 times the previous one; all capped at
        ``2**31 - 1``, without repeats.
    """
    limit = _first_emd_limit(n, m)
    limits = [limit]
    for _ in range(EMD_RETRIES):
        if limit >= _EMD_ITER_CAP:
            break
        limit = min(10 * limit, _EMD_ITER_CAP)
        limits.append(limit)
    return limits


def emd_not_optimal(shape, limit, stacklevel=2):
    """Warn that the network simplex stopped at its limit, before optimality.

    Parameters
    ----------
    shape : tuple of int
        Shape of the cost matrix.
    limit : int
        The last iteration limit tried.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`, counted from the caller.

    Warns
    -----
    ConvergenceWarning
        Always.
    """
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(
        f"The network simplex stopped at its limit of {limit} iterations on a "
        f"{shape[0]} x {shape[1]} OT problem, before reaching optimality: the "
        "plan and its cost are not optimal, and the plan may miss part of the "
        "weights. Raise the limit with "
        "skgmmot._engine.transport.EMD_MAX_ITER (or EMD_ITER_PER_ENTRY, EMD_RETRIES), "
        "or solve the cost matrix with ot.emd(a, b, M, numItermax=...).",
        ConvergenceWarning,
        stacklevel=stacklevel + 1,
    )


def _simplex(solver, a, b, cost, retry=True):
    """Run POT's ``emd_c`` with the limits of :func:`emd_limits`.

    Parameters
    ----------
    solver : callable
        ``emd_c``.
    a, b, cost : ndarray
        Its marginals (same totals) and costs, C-contiguous float64.
    retry : bool, default=True
        Solve again with the next limit while the solver stops at the limit;
        False: the first limit only.

    Returns
    -------
    plan : ndarray of shape (n, m)
    f, g : ndarray of shapes (n,) and (m,)
        Dual potentials.
    code : int
        ``emd_c``'s return code: 1 optimal, 3 iteration limit reached (0
        infeasible, 2 unbounded).
    limit : int
        The last limit tried.
    """
    n, m = cost.shape
    # Only the first limit: emd_limits builds the list when a retry needs it.
    limit = _first_emd_limit(n, m)
    plan, _, f, g, code = solver(a, b, cost, limit, 1)
    if code == _EMD_MAX_ITER_REACHED and retry:
        for limit in emd_limits(n, m)[1:]:
            plan, _, f, g, code = solver(a, b, cost, limit, 1)
            if code != _EMD_MAX_ITER_REACHED:
                break
    return plan, f, g, code, limit


def _compiled_simplex(a, b, cost):
    """Solve with POT's compiled simplex (growing limits), warning if it stops early.

    Parameters
    ----------
    a, b, cost : ndarray
        Marginals (same totals) and costs, C-contiguous float64.

    Returns
    -------
    result : tuple of (plan, f, g) or None
        The plan and dual potentials, optimal or, after the warning of
        :func:`emd_not_optimal` (pointing at the caller's caller), those of
        the last limit; None when the compiled solver is unavailable or
        rejects the arguments, for the caller to fall back on ``ot.emd``.
    """
    solver = _emd_c()
    if solver is None:
        return None
    try:
        plan, f, g, code, limit = _simplex(solver, a, b, cost)
    except (TypeError, ValueError):  # pragma: no cover - other POT versions
        return None
    if code == _EMD_MAX_ITER_REACHED:
        emd_not_optimal(cost.shape, limit, stacklevel=3)
    elif code != _EMD_OPTIMAL:
        return None
    return plan, f, g


def pot_emd(a, b, cost, plan=True, log=False, stacklevel=2):
    """Exact OT by POT's ``ot.emd`` (or ``ot.emd2``), with growing limits.

    Runs with the limits of :func:`emd_limits` in turn while the simplex
    stops at the limit, silencing POT's own warning about it meanwhile; if the
    last limit is reached too, warns with :func:`emd_not_optimal`. Wherever
    POT's default limit suffices the results are POT's, bit for bit.

    Parameters
    ----------
    a : array-like of shape (n,)
    b : array-like of shape (m,)
    cost : array-like of shape (n, m)
    plan : bool, default=True
        Return the plan (``ot.emd``); False: the cost (``ot.emd2``).
    log : bool, default=False
        Also return POT's log dictionary.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`, counted from the caller.

    Returns
    -------
    result : ndarray of shape (n, m) or float
        The plan or its cost.
    log : dict
        Only if ``log``.
    """
    import ot

    solve = ot.emd if plan else ot.emd2
    shape = np.shape(cost)
    for limit in emd_limits(*shape):
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="numItermax reached", category=UserWarning
            )
            result, info = solve(a, b, cost, numItermax=limit, log=True)
        if info["result_code"] != _EMD_MAX_ITER_REACHED:
            break
    else:
        emd_not_optimal(shape, limit, stacklevel + 1)
    return (result, info) if log else result


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
    solved = _compiled_simplex(a, b, cost)
    if solved is not None:
        return solved[0]
    return pot_emd(a, b, cost, stacklevel=2)


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
            b = np.ascontiguousarray(b * (a.sum() / b.sum()))
            _, f, g, code, _ = _simplex(solver, a, b, cost, retry=False)
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
        entries of rows without mass are not meaningful). Computed on the
        costs scaled by a power of two near ``1 / max|cost|``, so their
        relative accuracy does not depend on the scale of the costs.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b * (a.sum() / b.sum()), dtype=np.float64)
    # The simplex's tolerances are absolute: its potentials lose accuracy on
    # costs far from 1 (1e-4 relative at costs ~1e-12). Scaling the costs by
    # a power of two is exact, so the plan is unchanged and f scales back.
    cost = np.asarray(cost, dtype=np.float64)
    top = float(np.abs(cost).max()) if cost.size else 0.0
    scale = math.ldexp(1.0, -math.frexp(top)[1]) if 0.0 < top < math.inf else 1.0
    cost = np.ascontiguousarray(cost * scale, dtype=np.float64)
    solved = _compiled_simplex(a, b, cost)
    if solved is not None:
        return np.asarray(solved[1], dtype=np.float64) / scale
    return pot_emd(a, b, cost, log=True, stacklevel=2)[1]["u"] / scale


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
    plan = np.empty(cost.shape)
    lo = 0
    for b in inputs:
        hi = lo + b.shape[0]
        block = np.ascontiguousarray(cost[:, lo:hi])
        solved = _compiled_simplex(a, b * (total / b.sum()), block)
        plan[:, lo:hi] = exact_plan(a, b, block) if solved is None else solved[0]
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

    Raises
    ------
    ValueError
        If ``reg`` is below ``SINKHORN_REG_FLOOR`` times the cost range.

    Warns
    -----
    ConvergenceWarning
        If the plan returned misses its marginals by ``SINKHORN_TOL`` or more
        (Euclidean norm of the row or column error) after at most
        ``SINKHORN_MAX_ITER`` iterations.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    cost, shift = _shifted(cost, reg)
    f, g, start = _exact_start(a, b, cost, reg)
    plan, n_iter, err = _sinkhorn_log(
        a, b, cost, float(reg), SINKHORN_MAX_ITER, SINKHORN_TOL, f, g, start
    )
    if not err < SINKHORN_TOL:
        _not_converged(reg, cost.max() + shift, err, stacklevel + 1)
    if log:
        f = f + shift
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
    cost, shift = _shifted(cost, reg)
    bounds = np.cumsum([0] + [b.shape[0] for b in inputs]).astype(np.int64)
    shapes = ((len(inputs), a.shape[0]), (int(bounds[-1]),))
    if potentials is not None and tuple(p.shape for p in potentials) == shapes:
        # -inf marks zero masses, which may have changed: restart those at 0.
        f, g = (np.where(np.isfinite(p), p, 0.0) for p in potentials)
        f -= shift
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
        _not_converged(reg, cost.max() + shift, err[worst], stacklevel + 1)
    return plan, (f + shift, g)


def _shifted(cost, reg):
    """Costs minus their minimum, and that minimum; refuse a too small ``reg``.

    Entropic plans do not change when a constant is added to the costs (the
    row potentials absorb it), while the rounding errors of the exponents
    ``(f + g - cost) / reg`` grow with ``max|cost|``: shifted, they are set by
    the cost range alone.
    """
    cost = np.asarray(cost, dtype=np.float64)
    shift = float(cost.min()) if cost.size else 0.0
    cost = np.ascontiguousarray(cost - shift)
    spread = float(cost.max()) if cost.size else 0.0
    if not reg >= SINKHORN_REG_FLOOR * spread:
        raise ValueError(
            f"reg={reg:g} is below {SINKHORN_REG_FLOOR:g} times the range of the "
            f"costs ({spread:.3g}): the entropic plan cannot be computed in "
            f"float64 at such a regularisation. Use reg >= "
            f"{SINKHORN_REG_FLOOR * spread:.3g} or ot_solver='exact'."
        )
    return cost, shift


def _not_converged(reg, top, err, stacklevel):
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(
        f"Sinkhorn did not converge with reg={reg:g} (costs up to "
        f"{top:.3g}) in at most {SINKHORN_MAX_ITER} iterations; the plans "
        f"it returns miss the input weights by {err:.3g}. Increase reg or use "
        "ot_solver='exact'.",
        ConvergenceWarning,
        stacklevel=stacklevel + 1,
    )
