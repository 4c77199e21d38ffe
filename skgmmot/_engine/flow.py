"""The GMM-OT flow on validated mixtures: gradient steps, geodesic, inverse map.

Pure functions of ``(means, covariances, weights)`` tuples and the flow's
hyperparameters; ``GMMOTFlow`` validates, calls them and keeps their results
as fitted attributes.
"""

import time

import numpy as np

from skgmmot._engine.costs import cost_matrix, plan_pairs
from skgmmot._engine.maps import geodesic_state
from skgmmot._engine.mixtures import floor_eigenvalues, posterior
from skgmmot._kernels._flow import _flow_step

__all__ = ["geodesic", "gradient_flow", "newton_inverse"]

#: Halvings of a step before the flow counts as stalled.
MAX_HALVINGS = 30
#: The weight step grows by this factor after a success (halves otherwise).
STEP_GROWTH = 1.5
#: Losses below this many ulps of the covariance traces are rounding.
ROUNDING = 64


def _evaluate(means, covs, weights_list, target, solver):
    """Costs of one source, and plan and loss for each candidate weight vector."""
    cost = cost_matrix(means, covs, target[0], target[1])
    return _evaluate_plans(cost, weights_list, target, solver)


def _evaluate_plans(cost, weights_list, target, solver):
    """Plan and loss for each candidate weight vector, given the costs."""
    wt = target[2]
    results = []
    for w in weights_list:
        plan = solver.plan(w, wt, cost)
        results.append((plan, float(np.sum(plan * cost))))
    return cost, results


def _optimal_weights(cost, wt):
    """Best source weights for fixed components, and the loss they reach.

    With the source marginal free, the cheapest plan sends all of target
    component j's mass to its cheapest source component ``argmin_i cost_ij``;
    ``w*_i`` is the mass that component i receives and ``loss(w*) = sum_j
    wt_j min_i cost_ij``. The loss is convex in the weights, so
    ``loss(w) - loss(w*)`` bounds how much any weight move can still gain.
    """
    cheapest = np.argmin(cost, axis=0)
    mass = wt / wt.sum()
    w_star = np.bincount(cheapest, weights=mass, minlength=cost.shape[0])
    return w_star, float(mass @ cost[cheapest, np.arange(cost.shape[1])])


def _threshold(tol, loss, source, target):
    """Return the loss level (and certificate level) at which the flow stops.

    ``tol`` times the initial loss, and never below the rounding level of the
    costs (``ROUNDING`` ulps of the covariance traces), where nothing can be
    measured any more; ``tol=0`` disables both.
    """
    if tol == 0.0:
        return 0.0
    (_, C, w), (_, Ct, wt) = source, target
    traces = w @ np.trace(C, axis1=1, axis2=2)
    traces += (wt / wt.sum()) @ np.trace(Ct, axis1=1, axis2=2)
    return max(tol * loss, ROUNDING * np.finfo(float).eps * traces)


def _weight_step(w, w_mirror, s, cost, loss, optimum, target, solver):
    """Return the weight move that lowers the loss most, with its plan and loss.

    The mirror step ``w_mirror`` is kept if it gains at least ``s`` times the
    Frank-Wolfe gap ``loss - loss(w*)``, what the Frank-Wolfe step ``(1 - s)
    w + s w*`` is guaranteed to gain (convexity); otherwise the better of the
    two; ``optimum`` is ``_optimal_weights(cost, wt)``. Returns ``(weights,
    plan, loss, mirror_gains)``, with ``plan`` None
    when neither lowers the loss, and ``mirror_gains`` whether the mirror
    step lowers it (its step size grows if so).
    """
    _, [(plan, value)] = _evaluate_plans(cost, [w_mirror], target, solver)
    mirror_gains = value < loss
    w_star, best = optimum
    guaranteed = s * (loss - best)
    if mirror_gains and loss - value >= guaranteed:
        return w_mirror, plan, value, True
    if guaranteed > 0.0:
        w_fw = (1.0 - s) * w + s * w_star
        _, [(plan_fw, value_fw)] = _evaluate_plans(cost, [w_fw], target, solver)
        if value_fw < min(value, loss):
            return w_fw, plan_fw, value_fw, mirror_gains
    if mirror_gains:
        return w_mirror, plan, value, True
    return w, None, loss, False


def gradient_flow(
    source,
    target,
    flow,
    *,
    solver,
    learning_rate,
    tol,
    n_steps,
    report=None,
):
    """Riemannian gradient steps; returns the fitted attributes.

    Each step first moves means and covariances a fraction ``tau`` (the
    learning rate) of the way toward what the current plan sends them to.
    With exact plans this lowers the loss by at least ``tau (2 - tau)``
    times the squared Riemannian gradient norm (the fixed-plan cost falls
    that much, and re-solving the plan can only lower it further); with
    Sinkhorn plans the step is halved until the loss does not increase. Then,
    if weights flow, the better of two weight moves (``_weight_step``): the
    mirror step (its size grows by ``STEP_GROWTH`` after a success and halves
    otherwise) or the Frank-Wolfe step of size ``tau (2 - tau)`` toward the
    optimal weights of the moved components, which lowers the loss whenever
    the weights are not optimal. So no step can stall away from a
    stationary point.

    The flow stops with ``converged_`` True when the loss is at most the
    threshold (``_threshold``), or when a stationary point is certified: the
    squared gradient norm of the flowing means and covariances for the
    current plan, and (weights flowing, exact plans) the Frank-Wolfe gap of
    the weights, are both at most the threshold. In both cases, if steps are
    left, a last step of size 1 moves the weights to their optimum for the
    final components (gap 0), so a converged flow never ends above the loss
    that exact weight optimisation of its components reaches. Otherwise it runs
    ``n_steps`` steps, or stops early if no step lowers the loss (round-off,
    or Sinkhorn plans), with ``converged_`` False.

    Parameters
    ----------
    source, target : tuple of ndarray
        ``(means, covariances, weights)``; the source's covariances are
        positive definite.
    flow : sequence of str
        Which of "means", "covariances", "weights" move.
    solver : Solver
        Solves the plans (``skgmmot._engine.transport.Solver``).
    learning_rate : float
        The step ``tau`` in (0, 1].
    tol : float
        Relative loss tolerance (see ``_threshold``).
    n_steps : int
        Steps at most.
    report : callable, optional
        ``report(step, loss, step_size, start_time)`` after the start and
        every step.

    Returns
    -------
    fitted : dict
        The estimator's fitted attributes (``means_path_``, ...).
    """
    if report is None:

        def report(*_):
            return None

    moves = ("means" in flow, "covariances" in flow, "weights" in flow)
    mt, Ct, wt = target
    m, C, w = source
    cost, [(plan, loss)] = _evaluate(m, C, [w], target, solver)
    k, d = m.shape
    identity = np.broadcast_to(np.eye(d), (k, d, d))
    means, covs, weights, losses = [m], [C], [w], [loss]
    cumulative = [identity.copy()]
    step_maps = []
    tau = float(learning_rate)
    weight_fraction = tau * (2.0 - tau)  # the mean/covariance contraction
    eta = tau  # mirror step on the weights
    threshold = _threshold(tol, loss, source, target)
    # Sinkhorn plans are not optimal for their weights: no weight certificate.
    certify_weights = solver.kind == "exact"
    converged = False
    gap = 0.0
    optimum = None  # _optimal_weights(cost, wt), once needed
    start = time.perf_counter()
    report(0, loss, tau, start)
    while True:
        m1, C1, A, w_mirror, gradient = _flow_step(
            m, C, w, mt, Ct, plan, cost, loss, tau, eta, *moves
        )
        if moves[2]:
            if optimum is None:
                optimum = _optimal_weights(cost, wt)
            w_star, loss_star = optimum
            gap = max(loss - loss_star, 0.0) if certify_weights else np.inf
        if loss <= threshold or (gradient <= threshold and gap <= threshold):
            if not 0.0 < gap < np.inf or len(losses) > n_steps:
                converged = True
                break
            # At the target or stationary: a last step puts the weights at
            # their optimum for the final components.
            _, [(plan_star, loss_star)] = _evaluate_plans(
                cost, [w_star], target, solver
            )
            if not loss_star < loss:
                converged = True
                break
            m1, C1, A, w_new, step = m, C, identity, w_star, 0.0
            new_cost, new_plan, new_loss, new_optimum = (
                cost,
                plan_star,
                loss_star,
                optimum,
            )
        elif len(losses) > n_steps:
            break
        else:
            step = tau
            new_cost, new_plan, new_loss, new_optimum = cost, plan, loss, optimum
            if moves[0] or moves[1]:
                for halving in range(MAX_HALVINGS):
                    if halving:
                        m1, C1, A, w_mirror, _ = _flow_step(
                            m, C, w, mt, Ct, plan, cost, loss, step, eta, *moves
                        )
                    trial = _evaluate(m1, C1, [w], target, solver)
                    if trial[1][0][1] <= loss:
                        new_cost, [(new_plan, new_loss)] = trial
                        new_optimum = None
                        break
                    step *= 0.5
                else:  # no decrease along the direction (round-off)
                    m1, C1, A, step = m, C, identity, 0.0
            w_new = w
            if moves[2]:
                if new_optimum is None:
                    new_optimum = _optimal_weights(new_cost, wt)
                w_new, plan_w, loss_w, mirror_won = _weight_step(
                    w,
                    w_mirror,
                    weight_fraction,
                    new_cost,
                    new_loss,
                    new_optimum,
                    target,
                    solver,
                )
                eta = eta * STEP_GROWTH if mirror_won else 0.5 * eta
                if plan_w is not None:
                    new_plan, new_loss = plan_w, loss_w
            if not new_loss < loss:
                break  # no step lowers the loss, yet nothing is certified
        m, C, w, cost, plan, loss = m1, C1, w_new, new_cost, new_plan, new_loss
        optimum = new_optimum
        means.append(m)
        covs.append(C)
        weights.append(w)
        losses.append(loss)
        cumulative.append(A @ cumulative[-1])
        step_maps.append(A)
        report(len(losses) - 1, loss, step, start)
    # S <- A S A is SPD, but round-off can cost covariances near condition
    # 1e12 their smallest eigenvalues. The steps factor PSD matrices safely,
    # so the recorded path is floored once, in one batched call.
    covs = floor_eigenvalues(np.asarray(covs))
    return {
        "means_path_": np.asarray(means),
        "covariances_path_": covs,
        "weights_path_": np.asarray(weights),
        "maps_path_": np.asarray(cumulative),
        "step_maps_": np.asarray(step_maps).reshape(len(step_maps), k, d, d),
        "loss_curve_": np.asarray(losses),
        "n_iter_": len(losses) - 1,
        "converged_": bool(converged),
        "plan_": plan,
        "loss_tol_": float(threshold),
        "squared_gradient_norm_": float(gradient),
        "weights_gap_": float(gap),
    }


def geodesic(source, target, *, solver, n_steps):
    """Sample the displacement interpolation through the optimal plan.

    Parameters
    ----------
    source, target : tuple of ndarray
        ``(means, covariances, weights)``.
    solver : Solver
        The plan's solver (see :func:`gradient_flow`).
    n_steps : int
        The path has ``n_steps + 1`` evenly spaced times.

    Returns
    -------
    fitted : dict
        The estimator's fitted attributes.
    """
    m, C, w = source
    _, [(plan, loss)] = _evaluate(m, C, [w], target, solver)
    rows, cols, maps = plan_pairs(source[1], target[1], plan, source[2] > 0.0)
    pairs = (rows, cols, maps, plan[rows, cols])
    times = np.linspace(0.0, 1.0, n_steps + 1)
    states = [geodesic_state(source, target, pairs, t) for t in times]
    # Round-off can cost ill-conditioned covariances their smallest eigenvalues.
    covs = floor_eigenvalues(np.asarray([s[1] for s in states]))
    return {
        "means_path_": np.asarray([s[0] for s in states]),
        "covariances_path_": covs,
        "weights_path_": np.asarray([s[2] for s in states]),
        "loss_curve_": (1.0 - times) ** 2 * loss,
        "n_iter_": n_steps,
        "converged_": True,
        "plan_": plan,
        "pairs_": np.stack([rows, cols], axis=1),
    }


#: Newton iterations of ``inverse_transform`` (each with up to
#: ``INVERSE_HALVINGS`` halvings), and the residual ``|transform(x) - y|``,
#: relative to ``1 + |y|``, at which a sample counts as inverted.
INVERSE_ITER = 30
INVERSE_HALVINGS = 8
INVERSE_RTOL = 1e-12
#: Samples per chunk of the Newton iteration: about this many floats of
#: (n, d, d) and (n, pairs, d) work arrays at once.
INVERSE_CHUNK = 2_000_000


def _blended_map(x, source, ends, rows, cols, coef, maps, precisions):
    """Evaluate the ``transport="bary"`` map at ``x``, with its Jacobian.

    ``F(x) = sum_p q_p(x) (ends[cols_p] + maps_p (x - m_rows_p))`` with pair
    weights ``q_p = posterior_rows_p(x) coef_p`` (the posterior under the
    source). Differentiating the posterior, ``J = sum_p q_p maps_p + sum_p q_p
    (T_p - F) (g_rows_p - gbar)^T`` with ``g_i = -S_i^-1 (x - m_i)`` and
    ``gbar = sum_i posterior_i g_i``.
    """
    ms, Cs, ws = source
    post = posterior(x, ms, Cs, ws, "X")
    q = post[:, rows] * coef
    diff = x[:, None, :] - ms[None, :, :]
    images = ends[cols][None] + np.einsum("pab,npb->npa", maps, diff[:, rows])
    value = np.einsum("np,npa->na", q, images)
    scores = -np.einsum("kab,nkb->nka", precisions, diff)
    mean_score = np.einsum("nk,nka->na", post, scores)
    jac = np.einsum("np,pab->nab", q, maps) + np.einsum(
        "np,npa,npb->nab",
        q,
        images - value[:, None, :],
        scores[:, rows] - mean_score[:, None, :],
    )
    return value, jac


def newton_inverse(y, x0, source, ends, pairs):
    """Solve ``F(x) = y`` for the blended map by damped Newton from ``x0``.

    A step is kept for a sample only if it lowers its residual (halved up to
    ``INVERSE_HALVINGS`` times otherwise), so every sample ends at least as
    close to a preimage as ``x0``. Where ``F`` is not one-to-one (two
    components carried onto the same place), the preimage it finds is one of
    several, not necessarily the sample that was moved.
    """
    rows, cols, coef, maps = pairs
    precisions = np.linalg.inv(source[1])
    x = np.array(x0, dtype=np.float64, copy=True)
    n, d = y.shape
    chunk = max(1, INVERSE_CHUNK // (d * d + 2 * rows.size * d + 1))
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        yc, xc = y[lo:hi], x[lo:hi]
        value, jac = _blended_map(xc, source, ends, rows, cols, coef, maps, precisions)
        res = np.linalg.norm(yc - value, axis=1)
        bound = INVERSE_RTOL * (1.0 + np.linalg.norm(yc, axis=1))
        # Samples where no halving of the Newton step lowers the residual are
        # left where they are (a fold of F, or round-off).
        stuck = np.zeros(hi - lo, dtype=bool)
        for _ in range(INVERSE_ITER):
            todo = np.flatnonzero((res > bound) & ~stuck)
            if todo.size == 0:
                break
            rhs = (yc[todo] - value[todo])[..., None]
            with np.errstate(all="ignore"):
                try:
                    delta = np.linalg.solve(jac[todo], rhs)[..., 0]
                except np.linalg.LinAlgError:
                    delta = (np.linalg.pinv(jac[todo]) @ rhs)[..., 0]
            delta[~np.all(np.isfinite(delta), axis=1)] = 0.0
            step = np.ones(todo.size)
            for _ in range(INVERSE_HALVINGS):
                trial = xc[todo] + step[:, None] * delta
                v, j = _blended_map(
                    trial, source, ends, rows, cols, coef, maps, precisions
                )
                r = np.linalg.norm(yc[todo] - v, axis=1)
                better = r < res[todo]
                keep = todo[better]
                xc[keep], value[keep], jac[keep], res[keep] = (
                    trial[better],
                    v[better],
                    j[better],
                    r[better],
                )
                todo, delta, step = todo[~better], delta[~better], 0.5 * step[~better]
                if todo.size == 0:
                    break
            stuck[todo] = True
    return x
