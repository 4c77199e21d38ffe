"""Entropic optimal transport by log-domain Sinkhorn iterations with ε-scaling.

The plan of ``min <P, M> - reg H(P)`` with marginals ``a`` and ``b`` is
``P_ij = exp((f_i + g_j - M_ij) / reg)`` where the dual potentials alternate

    g_j <- reg log b_j - reg logsumexp_i((f_i - M_ij) / reg)
    f_i <- reg log a_i - reg logsumexp_j((g_j - M_ij) / reg)

(POT's ``sinkhorn_log`` update order). Working with potentials rather than
scalings keeps every quantity finite for any ``reg``. For ``reg`` small next to
the costs, plain iterations need thousands of sweeps; ε-scaling (Kosowsky &
Yuille 1994, Schmitzer 2019) first solves the problem for regularisations
halving from the cost range down to ``reg``, each stage warm-starting the next.
The plan is the same (the entropic problem has one solution); only the stopping
test of the last stage decides its accuracy: the Euclidean norm of the
column-marginal violation, measured every 10th iteration, as in POT.

Even then Sinkhorn converges linearly at a rate set by how weakly the plan's
support connects rows and columns, and at small ``reg`` that can take tens of
thousands of iterations. When ``NEWTON_AFTER`` iterations at ``reg`` do not
suffice, damped Newton steps on the semi-dual (Brauer, Clason, Lorenz & Wirth
2017) finish the job: they maximise the same concave function, so they reach
the same plan, quadratically fast once close. Should Newton stall, Sinkhorn
iterations resume and Newton is retried every ``NEWTON_EVERY`` iterations.
"""

import numpy as np

from skgmmot._kernels._jit import kernel
from skgmmot._kernels._linalg import _cholesky_lower, _copy_into
from skgmmot._kernels._threads import check_cancelled, run

#: Each ε-scaling stage divides the regularisation by this factor.
SCALING_FACTOR = 4.0
#: An intermediate stage stops when its marginal error is below this fraction
#: of the total mass (its potentials are then within a few of its ``eps`` of
#: its solution), or after STAGE_MAX_ITER iterations.
STAGE_TOL = 1e-3
STAGE_MAX_ITER = 10
#: Sinkhorn iterations at the final ``reg`` before Newton steps take over,
#: or fewer (but at least NEWTON_MIN_SWEEPS) if the marginal error shrinks by
#: less than SLOW_RATE per iteration.
NEWTON_AFTER = 10
NEWTON_MIN_SWEEPS = 2
SLOW_RATE = 0.25
NEWTON_MAX_ITER = 1000
#: If Newton stalls (its line search finds no ascent, or its marginal error
#: has not fallen below NEWTON_PROGRESS times its best for NEWTON_PATIENCE
#: steps: the floor set by round-off in the exponents at tiny ``reg``),
#: Sinkhorn iterations continue and Newton is tried again after this many more.
NEWTON_EVERY = 200
NEWTON_PATIENCE = 30
NEWTON_PROGRESS = 0.9
#: The iterations end when Newton stalls again without having reduced the
#: marginal error below this fraction of its error at the previous stall,
#: if that error is below the round-off floor of the exponents.
STALLED_GAIN = 0.5
#: Armijo constant and maximum halvings of the Newton line search.
ARMIJO = 1e-4
MAX_HALVINGS = 40
#: Tenfold increases of the Levenberg-Marquardt damping before a Newton step
#: gives up (only a non-finite Hessian needs more than a few).
MAX_DAMPINGS = 60
#: Initial (and smallest) trust radius of a Newton step, in units of ``reg``:
#: where the plan's support nearly splits into blocks, the quadratic model is
#: flat along the shift between blocks and proposes steps of absurd length.
MAX_STEP = 30.0


@kernel()
def _log_masses(w):
    """``log(w)`` with ``-inf`` for zero masses (without a divide-by-zero)."""
    out = np.empty(w.shape[0])
    for i in range(w.shape[0]):
        out[i] = np.log(w[i]) if w[i] > 0.0 else -np.inf
    return out


@kernel()
def _soft_min_update(C, eps, src, log_mass, dst):
    """``dst_r <- eps log_mass_r - eps logsumexp_c((src_c - C_rc) / eps)``."""
    rows, cols = C.shape
    for r in range(rows):
        top = -np.inf
        for c in range(cols):
            top = max(top, (src[c] - C[r, c]) / eps)
        if top == -np.inf:  # only when every ``src`` entry has zero mass
            dst[r] = eps * log_mass[r]
            continue
        acc = 0.0
        for c in range(cols):
            acc += np.exp((src[c] - C[r, c]) / eps - top)
        dst[r] = eps * (log_mass[r] - top - np.log(acc))


@kernel()
def _sweep(a_log, b_log, M, MT, eps, f, g):
    """One Sinkhorn iteration at regularisation ``eps``: update g, then f."""
    _soft_min_update(MT, eps, f, b_log, g)
    _soft_min_update(M, eps, g, a_log, f)


@kernel()
def _column_error(b, M, eps, f, g):
    """``||P^T 1 - b||_2`` for the plan of potentials ``f``, ``g``."""
    n, m = M.shape
    sq = 0.0
    for j in range(m):
        col = 0.0
        for i in range(n):
            col += np.exp((f[i] + g[j] - M[i, j]) / eps)
        sq += (col - b[j]) ** 2
    return np.sqrt(sq)


@kernel()
def _semi_dual(a, a_log, b, M, eps, g, f, plan):
    """Semi-dual value at ``g``; writes the optimal ``f`` and the plan.

    ``Phi(g) = sum_j b_j g_j + sum_i a_i f_i`` with ``f_i`` the exact row
    update, so the plan's rows sum to ``a``; its gradient is ``b - plan^T 1``.
    """
    n, m = M.shape
    value = 0.0
    for j in range(m):
        if b[j] > 0.0:
            value += b[j] * g[j]
    for i in range(n):
        if not a[i] > 0.0:
            f[i] = -np.inf
            for j in range(m):
                plan[i, j] = 0.0
            continue
        top = -np.inf
        for j in range(m):
            top = max(top, (g[j] - M[i, j]) / eps)
        acc = 0.0
        for j in range(m):
            e = np.exp((g[j] - M[i, j]) / eps - top)
            plan[i, j] = e
            acc += e
        f[i] = eps * (a_log[i] - top - np.log(acc))
        for j in range(m):
            plan[i, j] *= a[i] / acc
        value += a[i] * f[i]
    return value


@kernel()
def _residual(plan, b, active, grad):
    """Column-marginal error of ``plan`` over the columns ``active``.

    Also writes the semi-dual gradient ``b - plan^T 1`` of the first
    ``grad.shape[0]`` of them into ``grad``.
    """
    q = grad.shape[0]
    n = plan.shape[0]
    sq = 0.0
    for r in range(active.shape[0]):
        j = active[r]
        col = 0.0
        for i in range(n):
            col += plan[i, j]
        sq += (b[j] - col) ** 2
        if r < q:
            grad[r] = b[j] - col
    return np.sqrt(sq)


@kernel()
def _newton(a, a_log, b, M, eps, f, g, max_iter, tol):
    """Maximise the semi-dual in ``g`` by damped Newton steps, from ``g``.

    Columns of zero mass keep ``g_j = -inf``; the last column of positive mass
    is held fixed (the semi-dual is invariant under ``g + c``). Returns the
    iterations done and the final column-marginal error; ``f`` and ``g`` are
    updated in place. Stops early if a step cannot increase the semi-dual.
    """
    n, m = M.shape
    active = np.empty(m, dtype=np.int64)
    k = 0
    for j in range(m):
        if b[j] > 0.0:
            active[k] = j
            k += 1
    active = active[:k]
    q = k - 1  # free variables
    plan = np.empty((n, m))
    trial_plan = np.empty((n, m))
    trial_f = np.empty(n)
    trial_g = g.copy()
    H = np.empty((q, q))
    L = np.empty((q, q))
    grad = np.empty(q)
    no_grad = np.empty(0)
    step = np.empty(q)
    value = _semi_dual(a, a_log, b, M, eps, g, f, plan)
    err = np.inf
    best = np.inf
    best_at = 0
    radius = MAX_STEP * eps
    for it in range(max_iter):
        err = _residual(plan, b, active, grad)
        if err < tol or q == 0:
            return it, err
        if err < NEWTON_PROGRESS * best:
            best = err
            best_at = it
        elif it - best_at >= NEWTON_PATIENCE:
            return it, err
        # -eps * Hessian = diag(plan^T 1) - plan^T diag(1 / a) plan
        for r in range(q):
            jr = active[r]
            for c in range(r + 1):
                jc = active[c]
                acc = 0.0
                for i in range(n):
                    if a[i] > 0.0:
                        acc -= plan[i, jr] * plan[i, jc] / a[i]
                if r == c:
                    for i in range(n):
                        acc += plan[i, jr]
                H[r, c] = acc / eps
                H[c, r] = acc / eps
        # Levenberg-Marquardt damping mu = max |grad| / radius: where the
        # support splits into blocks the Hessian is (numerically) zero along
        # the shift between them and the step becomes a gradient step of
        # length at most radius; mu -> 0 as the gradient does, so the last
        # steps are Newton's, quadratically convergent.
        top = 0.0
        for r in range(q):
            top = max(top, abs(grad[r]))
        mu = top / radius
        for r in range(q):
            H[r, r] += mu
        factored = _cholesky_lower(H, L)
        for _ in range(MAX_DAMPINGS):
            if factored:
                break
            for r in range(q):
                H[r, r] += 9.0 * mu
            mu *= 10.0
            factored = _cholesky_lower(H, L)
        if not factored:  # non-finite Hessian: leave it to Sinkhorn
            return it, err
        # step = H^-1 grad by forward and back substitution
        for r in range(q):
            acc = grad[r]
            for c in range(r):
                acc -= L[r, c] * step[c]
            step[r] = acc / L[r, r]
        for r in range(q - 1, -1, -1):
            acc = step[r]
            for c in range(r + 1, q):
                acc -= L[c, r] * step[c]
            step[r] = acc / L[r, r]
        longest = 0.0
        for r in range(q):
            longest = max(longest, abs(step[r]))
        capped = longest > radius
        boundary = longest > 0.9 * radius
        if capped:
            for r in range(q):
                step[r] *= radius / longest
        slope = 0.0
        for r in range(q):
            slope += grad[r] * step[r]
        t = 1.0
        accepted = False
        for _ in range(MAX_HALVINGS):
            for r in range(q):
                trial_g[active[r]] = g[active[r]] + t * step[r]
            trial = _semi_dual(a, a_log, b, M, eps, trial_g, trial_f, trial_plan)
            if trial >= value + ARMIJO * t * slope:
                accepted = True
                break
            # Near the optimum the gain (~ err^2 eps) drowns in the round-off
            # of the value (~ eps_machine |value|): accept a step that halves
            # the marginal error instead.
            if _residual(trial_plan, b, active, no_grad) < 0.5 * err:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            return it, err
        # A trust radius: grows while full capped steps succeed (a long flat
        # stretch to cross), shrinks to what the line search allowed.
        if boundary and t == 1.0:
            radius *= 4.0
        elif t < 1.0:
            radius = max(t * radius, MAX_STEP * eps)
        value = trial
        for r in range(q):
            g[active[r]] = trial_g[active[r]]
        for r in range(f.shape[0]):
            f[r] = trial_f[r]
        _copy_into(trial_plan, plan)
    return max_iter, err


@kernel()
def _scaling_stages(a_log, b_log, b, M, MT, reg, f, g, start):
    """Run the ε-scaling stages of ``_sinkhorn_log``; return the sweeps done."""
    m = M.shape[1]
    total = 0
    eps = start
    mass = 0.0
    for j in range(m):
        mass += b[j]
    # Bounded even for an infinite start (costs that overflowed): eps / 4
    # stays infinite, so such a start skips the scaling.
    while reg < eps < np.inf:
        for _ in range(STAGE_MAX_ITER):
            _sweep(a_log, b_log, M, MT, eps, f, g)
            total += 1
            if _column_error(b, M, eps, f, g) < STAGE_TOL * mass:
                break
        eps /= SCALING_FACTOR
    return total


@kernel()
def _sweeps(
    a_log, b_log, b, M, MT, reg, f, g, it, max_iter, tol, newton_at, early, err
):
    """Sinkhorn iterations at ``reg`` from iteration ``it``, error ``err``.

    Returns ``(it, err, newton)``: stops when the error is below ``tol``, at
    ``max_iter``, or (``newton`` True) when Newton steps should take over:
    from iteration ``newton_at`` on, or (``early``, before the first Newton
    steps) once the error shrinks by less than ``SLOW_RATE`` per sweep
    (Sinkhorn's linear convergence is slow).
    """
    while it < max_iter:
        _sweep(a_log, b_log, M, MT, reg, f, g)
        it += 1
        previous = err
        err = _column_error(b, M, reg, f, g)
        if err < tol:
            return it, err, False
        slow = early and it >= NEWTON_MIN_SWEEPS and err > SLOW_RATE * previous
        if it >= newton_at or slow:
            return it, err, True
    return it, err, False


@kernel()
def _plan_of(f, g, M, reg):
    """Return the plan ``exp((f_i + g_j - M_ij) / reg)`` of the potentials."""
    n, m = M.shape
    plan = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            plan[i, j] = np.exp((f[i] + g[j] - M[i, j]) / reg)
    return plan


def _sinkhorn_log(a, b, M, reg, max_iter, tol, f, g, start):
    """Entropic OT plan between histograms ``a`` and ``b`` for costs ``M``.

    Parameters
    ----------
    a : ndarray of shape (n,)
        Non-negative row marginal (zeros allowed).
    b : ndarray of shape (m,)
        Non-negative column marginal with the same total as ``a``.
    M : ndarray of shape (n, m)
        Costs.
    reg : float
        Entropic regularisation, > 0.
    max_iter : int
        Maximum number of iterations at ``reg`` (the last stage).
    tol : float
        Stop when ``||P^T 1 - b||_2 < tol`` (checked every 10 iterations).
    f : ndarray of shape (n,)
    g : ndarray of shape (m,)
        Starting dual potentials, in the units of ``M`` (zeros for a cold
        start), updated in place.
    start : float
        First regularisation of the ε-scaling: the cost range for a cold
        start; for potentials that solve a problem with costs ``M'``, about
        ``max |M - M'|`` (how far off they can be). No scaling if <= ``reg``.

    Returns
    -------
    plan : ndarray of shape (n, m)
    n_iter : int
        Iterations done, all stages together.
    err : float
        Marginal error of the returned plan (see ``_marginal_error``).
    """
    a_log = _log_masses(a)
    b_log = _log_masses(b)
    # The transposed costs, contiguous: the g update reads them by rows.
    MT = np.ascontiguousarray(M.T)
    total = _scaling_stages(a_log, b_log, b, M, MT, reg, f, g, start)
    it, err, newton_at, early = 0, np.inf, NEWTON_AFTER, True
    stalled_at = np.inf
    # Exponents (f + g - M) / reg carry errors of about eps * max|M| / reg.
    floor = np.finfo(np.float64).eps * np.abs(M).max() / reg if M.size else 0.0
    while it < max_iter:
        check_cancelled()  # on a worker thread, after a Ctrl-C in the caller
        it, err, newton = _sweeps(
            a_log, b_log, b, M, MT, reg, f, g, it, max_iter, tol, newton_at, early, err
        )
        if not newton:
            break
        # Compiled only for problems that need it (small reg).
        steps, err = _newton(a, a_log, b, M, reg, f, g, NEWTON_MAX_ITER, tol)
        total += steps
        if err < tol or (err < floor and not err < STALLED_GAIN * stalled_at):
            # Converged, or Newton stalled twice at about the same error below
            # the round-off floor of the exponents: more sweeps do not help.
            break
        newton_at, early, stalled_at = it + NEWTON_EVERY, False, err
    plan = _plan_of(f, g, M, reg)
    return plan, total + it, _marginal_error(plan, a, b)


def _marginal_error(plan, a, b):
    """``max(||P 1 - a||_2, ||P^T 1 - b||_2)`` of the plan actually returned.

    At ``reg`` near round-off level the exponents ``(f + g - M) / reg`` carry
    errors of about ``eps * max|M| / reg``, so a plan rebuilt from the
    potentials can miss marginals that the iterations met.
    """
    rows = np.sqrt(np.sum((plan.sum(axis=1) - a) ** 2))
    cols = np.sqrt(np.sum((plan.sum(axis=0) - b) ** 2))
    return max(rows, cols)


def _problem_rows(a, b, M, bounds, reg, max_iter, tol, f, g, start, plan, out, lo, hi):
    """Solve problems ``lo:hi`` of ``_sinkhorn_log_batch``.

    Writes the plans into ``plan`` and (iterations, error) into ``out[k]``.
    """
    for k in range(lo, hi):
        left, right = bounds[k], bounds[k + 1]
        g_k = g[left:right].copy()
        plan_k, n_iter, err = _sinkhorn_log(
            a,
            b[left:right].copy(),
            np.ascontiguousarray(M[:, left:right]),
            reg,
            max_iter,
            tol,
            f[k],
            g_k,
            start[k],
        )
        plan[:, left:right] = plan_k
        g[left:right] = g_k
        out[k] = (n_iter, err)


def _sinkhorn_log_batch(a, b, M, bounds, reg, max_iter, tol, f, g, start):
    """``_sinkhorn_log`` for K problems sharing the row marginal ``a``.

    Problem k has columns ``bounds[k]:bounds[k + 1]`` of ``b``, ``M`` and
    ``g``, row potentials ``f[k]`` and first ε-scaling level ``start[k]``.
    The problems are independent: they may run on several threads.

    Returns
    -------
    plan : ndarray of shape (n, p)
        The K plans side by side.
    n_iter : ndarray of shape (K,), int64
    err : ndarray of shape (K,)
    """
    n, p = M.shape
    K = bounds.shape[0] - 1
    plan = np.empty((n, p))
    out = np.zeros((K, 2))
    args = (a, b, M, bounds, reg, max_iter, tol, f, g, start, plan, out)
    run(_problem_rows, 400.0 * n * p, K, *args, uneven=True)
    return plan, out[:, 0].astype(np.int64), out[:, 1]
