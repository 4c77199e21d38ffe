"""Discrete OT plans between component weights, as the estimators need them.

Every exact plan, cost and dual of the package comes from one solver,
:func:`solve_exact`: POT's network simplex, called through its compiled entry
point ``emd_c`` on the problem ``ot.emd`` would pass it (``b`` rescaled to the
total of ``a``, rows and columns of zero weight removed), so that its plans are
those of ``ot.emd`` bit for bit while the estimators, which solve many small
problems per fit, skip ``ot.emd``'s fixed overhead. Should that private entry
point move, it falls back on ``ot.emd`` itself. The solver never warns; it
returns a status, and the wrappers below (``exact_plan``, ``exact_plans``,
``exact_duals``, ``pot_emd``) warn from it. The entropic plans run our numba
log-domain Sinkhorn kernel, started from the exact duals.

The removal of zero weights copies POT 0.9.7's ``ot.emd`` (earlier versions
passed them to the solver, which then may pick another of several optimal
plans); ``tests/test_exact_path.py`` checks that the two still agree.
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

#: Statuses of :class:`ExactOT`: POT's result codes (its ``ProblemType`` enum,
#: ``ot.emd(..., log=True)["result_code"]``).
INFEASIBLE = 0
OPTIMAL = 1
UNBOUNDED = 2
MAX_ITER_REACHED = 3
#: POT's messages for them (``log["warning"]``; None when optimal).
_MESSAGES = {
    INFEASIBLE: "Problem infeasible. Check that a and b are in the simplex",
    UNBOUNDED: "Problem unbounded",
    MAX_ITER_REACHED: (
        "numItermax reached before optimality. Try to increase numItermax."
    ),
}
#: The warnings ``ot.emd`` raises with them (silenced: statuses are returned).
_POT_WARNINGS = "numItermax reached|Problem infeasible|Problem unbounded"


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


def note_status(result, shape, notes, num_iter_max=None):
    """Note a non-optimal exact solve in ``notes`` (nothing if optimal).

    Parameters
    ----------
    result : ExactOT
    shape : tuple of int
        Shape of the cost matrix.
    notes : Notes
        Receives an ``"emd"`` note (iteration limit; a ``ConvergenceWarning``
        for the caller) or an ``"emd status"`` note (infeasible or unbounded,
        POT's message; a ``UserWarning``).
    num_iter_max : int, optional
        The user's limit, if any (the message says how to raise it).
    """
    if result.status == OPTIMAL:
        return
    if result.status != MAX_ITER_REACHED:
        notes.add(
            "emd status",
            result.message or f"Network simplex status {result.status}",
            category="user",
        )
        return
    source = (
        f"numItermax={num_iter_max}"
        if num_iter_max is not None
        else "its automatic limits (the largest of 100000 and 0.1 n m, then ten "
        "times that)"
    )
    notes.add(
        "emd",
        f"The network simplex stopped at its limit of {result.limit} iterations "
        f"on a {shape[0]} x {shape[1]} OT problem ({source}), before reaching "
        "optimality: the plan and its cost are not optimal, and the plan may "
        "miss part of the weights. Raise the limit with numItermax (an argument "
        "of skgmmot's functions and a parameter of its estimators).",
    )


class ExactOT:
    """Result of :func:`solve_exact`: an exact OT plan, its cost and duals.

    Attributes
    ----------
    plan : ndarray of shape (n, m)
        The plan, ``ot.emd(a, b, cost, numItermax=limit)``.
    cost : float
        Its transport cost, ``ot.emd2(a, b, cost, numItermax=limit)``.
    status : int
        ``OPTIMAL`` (1); ``MAX_ITER_REACHED`` (3): the simplex stopped at
        ``limit`` before optimality, so the plan is not optimal and may miss
        part of the weights; ``INFEASIBLE`` (0): no plan was found (also when
        ``a`` or the rescaled ``b`` has no nonzero weight), the plan is zero;
        ``UNBOUNDED`` (2). POT's ``log["result_code"]``.
    limit : int
        The last iteration limit tried.
    potentials : tuple of ndarray of shapes (n,) and (m,)
        The solver's dual potentials ``(f, g)``, as it returns them: not
        centered, 0 at zero weights (POT's centered ones if it ran
        ``ot.emd``). ``f_i + g_j = cost_ij`` on the plan's support.
    """

    __slots__ = ("_duals", "_inputs", "cost", "limit", "plan", "potentials", "status")

    def __init__(self, plan, cost, status, limit, potentials, inputs, duals=None):
        self.plan = plan
        self.cost = cost
        self.status = status
        self.limit = limit
        self.potentials = potentials
        self._inputs = inputs
        self._duals = duals

    @property
    def optimal(self):
        """bool: Whether ``status`` is ``OPTIMAL``."""
        return self.status == OPTIMAL

    @property
    def message(self):
        """POT's message for ``status`` (its ``log["warning"]``), or None."""
        return _MESSAGES.get(self.status)

    @property
    def u(self):
        """Row duals, shape (n,): ``ot.emd(..., log=True)["u"]``."""
        return self._dual_pair()[0]

    @property
    def v(self):
        """Column duals, shape (m,): ``ot.emd(..., log=True)["v"]``."""
        return self._dual_pair()[1]

    def _dual_pair(self):
        # Computed on first use from the arrays solve_exact worked on: the
        # plans alone do not need the O(n m) work of the zero-weight duals.
        if self._duals is None:
            self._duals = _pot_duals(*self.potentials, *self._inputs)
            self._inputs = None
        return self._duals

    def __repr__(self):
        shape = "x".join(map(str, self.plan.shape))
        return (
            f"ExactOT(plan: {shape}, cost={self.cost!r}, status={self.status}, "
            f"limit={self.limit})"
        )


def _centered(u, v, a, b):
    """Shift ``u`` up and ``v`` down by one constant so that ``a.u = b.v``.

    The dual objective ``a.u + b.v`` is unchanged (``a`` and ``b`` have the
    same total); the semantics of POT's ``center_ot_dual``.
    """
    shift = (np.sum(b * v) - np.sum(a * u)) / (np.sum(a) + np.sum(b))
    return u + shift, v - shift


def _pot_duals(f, g, a, b, cost):
    """Return the duals ``ot.emd(a, b, cost, log=True)`` reports for potentials.

    Centered (:func:`_centered`); with zero weights, whose potentials the solver
    never saw, each of those is first lowered by its largest violation of
    ``u_i + v_j <= cost_ij`` (if positive) and the pair centered again: the
    semantics of POT's ``estimate_dual_null_weights``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        u, v = _centered(f, g, a, b)
        null_a, null_b = a == 0, b == 0
        if cost.size and (null_a.any() or null_b.any()):
            excess = u[:, None] + v[None, :] - cost
            u = u - null_a * np.maximum(np.max(excess, axis=1), 0.0)
            v = v - null_b * np.maximum(np.max(excess, axis=0), 0.0)
            u, v = _centered(u, v, a, b)
    return u, v


def solve_exact(a, b, cost, num_iter_max=None):
    """Exact OT by network simplex: the results of ``ot.emd`` with growing limits.

    ``b`` is rescaled to the total of ``a`` and the rows and columns of zero
    weight are left out of the problem passed to POT's compiled solver, as
    POT 0.9.7's ``ot.emd`` does (the plan then gets zeros there), so the plan
    is ``ot.emd``'s, bit for bit, for whichever optimal plan of several
    ``ot.emd`` picks (ties in the costs). Falls back on ``ot.emd`` itself if
    the compiled entry point is missing or rejects its arguments. Never warns.

    Parameters
    ----------
    a : array-like of shape (n,)
        Row weights.
    b : array-like of shape (m,)
        Column weights; rescaled to the total of ``a`` (``b * a.sum() /
        b.sum()``, as ``ot.emd``).
    cost : array-like of shape (n, m)
        Costs.
    num_iter_max : int, optional
        Iteration limit of one run (``ot.emd``'s ``numItermax``). By default
        the limits of :func:`emd_limits`, in turn while the simplex stops at
        the limit (it is deterministic: where a smaller limit sufficed, the
        result is the same).

    Returns
    -------
    result : ExactOT
        ``plan``, ``cost``, ``status`` (see :class:`ExactOT`), the last
        ``limit`` tried, the solver's ``potentials`` and the duals ``u`` and
        ``v`` of ``ot.emd(a, b, cost, log=True)`` (computed when first read).
        The input arrays are not modified.

    Notes
    -----
    With no nonzero weight in ``a`` or in the rescaled ``b`` nothing is
    solved (POT 0.9.7's solver crashes on the empty problem that would be
    left): the plan is zero and the status ``INFEASIBLE``, what the solver
    reports for zero weights it is given.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b_in = np.asarray(b, dtype=np.float64)
    b = b_in * a.sum() / b_in.sum()
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    n, m = cost.shape
    first = _first_emd_limit(n, m) if num_iter_max is None else int(num_iter_max)
    inputs = (a, b, cost)
    # Nonzero weights (NaN counts, as in ot.emd's ``a != 0``).
    kept_a, kept_b = np.count_nonzero(a), np.count_nonzero(b)
    if not (kept_a and kept_b):
        zeros = (np.zeros(n), np.zeros(m))
        return ExactOT(np.zeros((n, m)), 0.0, INFEASIBLE, first, zeros, inputs)
    solver = _emd_c()
    if solver is not None:
        # Row and column indices kept (None: all), as ot.emd's ``a != 0``.
        rows = None if kept_a == n else a.nonzero()[0]
        cols = None if kept_b == m else b.nonzero()[0]
        sub = (
            inputs
            if rows is None and cols is None
            else _restricted(*inputs, rows, cols)
        )
        try:
            plan, total, f, g, status = solver(*sub, first, 1)
            limit = first
            if status == MAX_ITER_REACHED and num_iter_max is None:
                for limit in emd_limits(n, m)[1:]:
                    plan, total, f, g, status = solver(*sub, limit, 1)
                    if status != MAX_ITER_REACHED:
                        break
        except (TypeError, ValueError):  # pragma: no cover - other POT versions
            solver = None
    if solver is None:
        limits = emd_limits(n, m) if num_iter_max is None else [first]
        return _solve_by_pot(a, b_in, cost, limits, inputs)
    if rows is not None or cols is not None:
        plan, f, g = _inflated(plan, f, g, rows, cols, n, m)
    return ExactOT(plan, total, status, limit, (f, g), inputs)


def _restricted(a, b, cost, rows, cols):
    """Restrict the problem to rows ``rows`` and columns ``cols`` (None: all)."""
    if rows is not None:
        a, cost = a[rows], cost.take(rows, axis=0)
    if cols is not None:
        b, cost = b[cols], cost.take(cols, axis=1)
    return a, b, cost


def _inflated(plan, f, g, rows, cols, n, m):
    """Put a solution on rows ``rows`` and columns ``cols`` into zeros of n x m."""
    if cols is not None:
        g_whole = np.zeros(m)
        g_whole[cols] = g
        whole = np.zeros((plan.shape[0], m))
        whole[:, cols] = plan
        plan, g = whole, g_whole
    if rows is not None:
        f_whole = np.zeros(n)
        f_whole[rows] = f
        whole = np.zeros((n, m))
        whole[rows] = plan
        plan, f = whole, f_whole
    return plan, f, g


def _solve_by_pot(a, b, cost, limits, inputs):
    """:func:`solve_exact` by ``ot.emd``, silencing its warnings."""
    import ot

    for limit in limits:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_POT_WARNINGS)
            plan, log = ot.emd(
                a, b, cost, numItermax=limit, log=True, check_marginals=False
            )
        if log["result_code"] != MAX_ITER_REACHED:
            break
    duals = (log["u"], log["v"])
    return ExactOT(
        plan, log["cost"], log["result_code"], limit, duals, inputs, duals=duals
    )


def _plain_inputs(a, b, cost):
    """Whether ``ot.emd`` would solve these as they are and return float64.

    NumPy float64 weights, dense costs of matching shape, and totals passing
    POT's check (``assert_almost_equal(..., decimal=6)``). Anything else (lists,
    other dtypes or backends, empty weights meaning uniform ones, unequal
    totals) goes to POT itself.
    """
    if not (type(a) is np.ndarray and type(b) is np.ndarray):
        return False
    if type(cost) is not np.ndarray or a.dtype != np.float64 or b.dtype != np.float64:
        return False
    if a.ndim != 1 or b.ndim != 1 or not a.size or not b.size:
        return False
    if cost.shape != (a.shape[0], b.shape[0]):
        return False
    return bool(abs(b.sum() - a.sum()) < 1.5 * 10.0**-6)


def pot_emd(a, b, cost, plan=True, log=False, *, num_iter_max=None, notes):
    """Exact OT as ``ot.emd`` (or ``ot.emd2``) computes it, with growing limits.

    Solves with :func:`solve_exact` (``num_iter_max``, or the limits of
    :func:`emd_limits`) and
    returns what ``ot.emd`` / ``ot.emd2`` return: the same plan or cost and,
    with ``log``, the same dictionary (``cost``, ``u``, ``v``, ``warning``,
    ``result_code``). Inputs that are not float64 NumPy arrays of matching
    shapes and totals (lists, other dtypes, empty weights, unequal totals) go
    to ``ot.emd`` itself, run with the same limits while it stops at them.
    Wherever POT's default limit suffices the results are POT's, bit for bit.

    Parameters
    ----------
    a : array-like of shape (n,)
    b : array-like of shape (m,)
    cost : array-like of shape (n, m)
    plan : bool, default=True
        Return the plan (``ot.emd``); False: the cost (``ot.emd2``).
    log : bool, default=False
        Also return POT's log dictionary.
    num_iter_max : int, optional
        POT's ``numItermax``: one run at this limit. None: growing limits.
    notes : Notes
        Receives the status if it is not optimal (:func:`note_status`).

    Returns
    -------
    result : ndarray of shape (n, m) or float
        The plan or its cost.
    log : dict
        Only if ``log``.

    POT's own warnings are silenced: the status goes to ``notes``.
    """
    if not _plain_inputs(a, b, cost):
        return _pot_emd_as_is(a, b, cost, plan, log, num_iter_max, notes)
    result = solve_exact(a, b, cost, num_iter_max)
    note_status(result, result.plan.shape, notes, num_iter_max)
    value = result.plan if plan else result.cost
    if not log:
        return value
    info = {
        "cost": result.cost,
        "u": result.u,
        "v": result.v,
        "warning": result.message,
        "result_code": result.status,
    }
    return value, info


def _pot_emd_as_is(a, b, cost, plan, log, num_iter_max, notes):
    """``ot.emd`` / ``ot.emd2`` on any input POT takes, with growing limits."""
    import ot

    solve = ot.emd if plan else ot.emd2
    shape = np.shape(cost)
    limits = emd_limits(*shape) if num_iter_max is None else [int(num_iter_max)]
    for limit in limits:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_POT_WARNINGS)
            result, info = solve(a, b, cost, numItermax=limit, log=True)
        if info["result_code"] != MAX_ITER_REACHED:
            break
    status = ExactOT(None, None, info["result_code"], limit, None, None)
    note_status(status, shape, notes, num_iter_max)
    return (result, info) if log else result


def exact_plan(a, b, cost, *, num_iter_max=None, notes):
    """Exact OT plan by network simplex (:func:`solve_exact`).

    Parameters
    ----------
    a : ndarray of shape (n,)
        Row marginal, float64.
    b : ndarray of shape (m,)
        Column marginal, float64; rescaled to the total of ``a`` as ``ot.emd``
        does.
    cost : ndarray of shape (n, m)
        Costs, float64.
    num_iter_max : int, optional
        POT's ``numItermax``; None: growing limits (:func:`emd_limits`).
    notes : Notes
        Receives the status if it is not optimal (:func:`note_status`).

    Returns
    -------
    plan : ndarray of shape (n, m)
        The plan ``ot.emd(a, b, cost)`` returns.
    """
    result = solve_exact(a, b, cost, num_iter_max)
    note_status(result, result.plan.shape, notes, num_iter_max)
    return result.plan


#: Sinkhorn starts from the exact OT duals, with an ε-scaling from this many
#: ``reg`` (1: none). The exact duals are within O(reg) of the entropic ones
#: except along degenerate directions, which the Newton steps cross; a stress
#: test of 3000 random problems with reg down to 1e-6 of the cost range, ties
#: and zero masses converged with every one of them.
EXACT_START_REGS = 1.0


def _exact_start(a, b, cost, reg):
    """Dual potentials and first ε-scaling level for a cold start.

    The exact OT duals (the potentials of :func:`solve_exact`, first limit
    only) are the reg -> 0 limit of the entropic ones (up to O(reg log n) and
    the degenerate directions), so starting from them skips most of the
    ε-scaling. If the simplex does not reach optimality: zeros and the cost
    range.
    """
    n, m = cost.shape
    spread = float(np.ptp(cost)) / 2.0 if cost.size else 0.0
    if n and m:
        result = solve_exact(a, b, cost, num_iter_max=_first_emd_limit(n, m))
        if result.status == OPTIMAL:
            f, g = result.potentials
            return (
                np.where(a > 0.0, f, -np.inf),
                np.array(g, dtype=np.float64),
                min(spread, EXACT_START_REGS * reg),
            )
    return np.zeros(n), np.zeros(m), spread


def exact_duals(a, b, cost, *, notes):
    """Source-side dual potentials of the exact OT problem.

    Parameters
    ----------
    a : ndarray of shape (n,)
    b : ndarray of shape (m,)
    cost : ndarray of shape (n, m)
    notes : Notes
        Receives the status if it is not optimal (:func:`note_status`).

    Returns
    -------
    f : ndarray of shape (n,)
        Potentials ``f`` with ``f_i + g_j <= cost_ij``, equality on the plan's
        support: ``ot.emd(..., log=True)["u"]`` (centered; rows without mass
        get POT's feasible estimate). Computed on the costs scaled by a power
        of two near ``1 / max|cost|``, so their relative accuracy does not
        depend on the scale of the costs.
    """
    # The simplex's tolerances are absolute: its potentials lose accuracy on
    # costs far from 1 (1e-4 relative at costs ~1e-12). Scaling the costs by
    # a power of two is exact, so the plan is unchanged and f scales back.
    cost = np.asarray(cost, dtype=np.float64)
    top = float(np.abs(cost).max()) if cost.size else 0.0
    scale = math.ldexp(1.0, -math.frexp(top)[1]) if 0.0 < top < math.inf else 1.0
    result = solve_exact(a, b, cost * scale)
    note_status(result, result.plan.shape, notes)
    return result.u / scale


def exact_plans(a, inputs, cost, *, num_iter_max=None, notes):
    """Exact plans from ``a`` to several inputs, side by side.

    Parameters
    ----------
    a : ndarray of shape (n,)
    inputs : list of ndarray
        Column marginals, of sizes m_1, ..., m_K.
    cost : ndarray of shape (n, m_1 + ... + m_K)
        The K cost matrices side by side.
    num_iter_max : int, optional
    notes : Notes
        As :func:`exact_plan`, for each block.

    Returns
    -------
    plans : ndarray of shape (n, m_1 + ... + m_K)
        Block k equals ``exact_plan(a, inputs[k], cost_k)``.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    plan = np.empty(np.shape(cost))
    lo = 0
    for b in inputs:
        hi = lo + b.shape[0]
        result = solve_exact(a, b, cost[:, lo:hi], num_iter_max)
        note_status(result, result.plan.shape, notes, num_iter_max)
        plan[:, lo:hi] = result.plan
        lo = hi
    return plan


def sinkhorn_plan(
    a, b, cost, reg, *, max_iter=SINKHORN_MAX_ITER, tol=SINKHORN_TOL, notes, log=False
):
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
    max_iter : int, default=SINKHORN_MAX_ITER
        Sinkhorn iterations at most.
    tol : float, default=SINKHORN_TOL
        Stop when the plan misses its marginals by less than ``tol``
        (Euclidean norm of the row or column error).
    notes : Notes
        Receives a ``"sinkhorn"`` note if the plan returned misses its
        marginals by ``tol`` or more.
    log : bool, default=False
        Also return a dict with the dual potentials ``f`` and ``g`` (the plan
        is ``exp((f_i + g_j - cost_ij) / reg)``), ``n_iter`` and ``err``.

    Returns
    -------
    plan : ndarray of shape (n, m)
    log : dict
        Only if ``log``.

    Raises
    ------
    ValueError
        If ``reg`` is below ``SINKHORN_REG_FLOOR`` times the cost range.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    cost, shift = _shifted(cost, reg)
    f, g, start = _exact_start(a, b, cost, reg)
    plan, n_iter, err = _sinkhorn_log(
        a, b, cost, float(reg), int(max_iter), float(tol), f, g, start
    )
    if not err < tol:
        _note_not_converged(notes, reg, cost.max() + shift, err, max_iter)
    if log:
        f = f + shift
        return plan, {"f": f, "g": g, "n_iter": int(n_iter), "err": float(err)}
    return plan


def sinkhorn_plans(
    a,
    inputs,
    cost,
    reg,
    *,
    max_iter=SINKHORN_MAX_ITER,
    tol=SINKHORN_TOL,
    notes,
    potentials=None,
):
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
    max_iter, tol, notes
        As :func:`sinkhorn_plan`.
    potentials : tuple of ndarray of shapes (K, n) and (p,), optional
        Dual potentials ``(f, g)`` of nearby problems, e.g. those of the
        previous fixed-point iteration: a warm start replacing the exact OT
        duals (the plans are the same; Newton steps cover the difference).

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
        int(max_iter),
        float(tol),
        f,
        g,
        start,
    )
    worst = int(np.argmax(err))
    if not err[worst] < tol:
        _note_not_converged(notes, reg, cost.max() + shift, err[worst], max_iter)
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


def _note_not_converged(notes, reg, top, err, max_iter):
    notes.add(
        "sinkhorn",
        f"Sinkhorn did not converge with reg={reg:g} (costs up to "
        f"{top:.3g}) in at most {max_iter} iterations; the plans "
        f"it returns miss the input weights by {err:.3g}. Increase reg or "
        "sinkhorn_max_iter, or use ot_solver='exact'.",
    )


class Solver:
    """How plans between component weights are solved, with its options.

    Parameters
    ----------
    kind : {"exact", "sinkhorn"}
        Network simplex, or log-domain Sinkhorn with regularisation ``reg``.
    reg : float, optional
        Entropic regularisation of ``"sinkhorn"``, in the units of the costs.
    num_iter_max : int, optional
        POT's ``numItermax`` of the exact solver; None: growing limits.
    max_iter, tol : int, float
        Of Sinkhorn (see :func:`sinkhorn_plan`).
    notes : Notes
        Receives every solve's problems.
    """

    def __init__(
        self,
        kind,
        reg=None,
        *,
        num_iter_max=None,
        max_iter=SINKHORN_MAX_ITER,
        tol=SINKHORN_TOL,
        notes,
    ):
        self.kind = kind
        self.reg = reg
        self.num_iter_max = num_iter_max
        self.max_iter = max_iter
        self.tol = tol
        self.notes = notes

    def plan(self, a, b, cost):
        """Return the plan from ``a`` to ``b`` for ``cost``."""
        if self.kind == "exact":
            return exact_plan(
                a, b, cost, num_iter_max=self.num_iter_max, notes=self.notes
            )
        return sinkhorn_plan(
            a,
            b,
            cost,
            self.reg,
            max_iter=self.max_iter,
            tol=self.tol,
            notes=self.notes,
        )

    def plans(self, a, inputs, cost, potentials=None):
        """Return the plans from ``a`` to several inputs and Sinkhorn's potentials.

        ``cost`` holds the K cost matrices side by side; ``potentials`` (and
        the second output) are Sinkhorn's warm start, None for exact plans.
        """
        if self.kind == "exact":
            plan = exact_plans(
                a, inputs, cost, num_iter_max=self.num_iter_max, notes=self.notes
            )
            return plan, None
        return sinkhorn_plans(
            a,
            inputs,
            cost,
            self.reg,
            max_iter=self.max_iter,
            tol=self.tol,
            notes=self.notes,
            potentials=potentials,
        )
