r"""The fixed point of GMM-OT barycenters (Tanguy, Delon & Gozlan, 2024).

Every iteration solves the K plans between the current barycenter and the
inputs, then updates each barycenter component i from row i of the plans:
``"bures"`` makes it the Gaussian barycenter of all the input components, with
coefficients :math:`\lambda_k \pi_k[i, j] / w_i` (the minimiser of the
objective for these plans); ``"euclidean"`` and ``"bures_two_stage"`` make it
the Bures barycenter (coefficients :math:`\lambda`) of the K Gaussians that
row i selects from each input. :func:`fixed_point` is the one loop behind
:func:`skgmmot.gmm_barycenter_fixed_point` and ``GMMOTBarycenter``; a
callback sees every iterate (the function's ``log``, the estimator's
``verbose`` lines).
"""

import numpy as np

from skgmmot._engine.costs import cost_matrix, label_costs
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import exact_plans
from skgmmot._engine.weights import optimal_weights
from skgmmot._kernels._barycenter import (
    _bures_barycenters,
    _euclidean_update,
    _plan_averages,
)
from skgmmot._parallel import effective_n_jobs, run_chunks

__all__ = [
    "PROJECTIONS",
    "FixedPointResult",
    "Planner",
    "bures_barycenters",
    "fixed_point",
    "fixed_point_update",
]

#: The updates of the components (``projection``; see ``fixed_point_update``).
PROJECTIONS = ("euclidean", "bures", "bures_two_stage")

#: Relative tolerance and iteration cap of the Gaussian barycenters computed
#: inside every fixed-point update.
INNER_TOL = 1e-12
INNER_MAX_ITER = 1000

#: Components per call of the Bures kernel in a ``"bures"`` update: about
#: this many floats of (rows, q, d, d) arrays at once, q the most positive
#: coefficients in a row (all the pooled components, for entropic plans).
UPDATE_CHUNK = 4_000_000

#: Estimated network-simplex work of an iteration's K exact plans, the sum of
#: n m_k (n + m_k) / 2 (about 2e-10 s each on one core), above which they are
#: solved by ``n_jobs`` workers: about 10 ms, well above joblib's overhead per
#: call, so small problems never pay it.
PARALLEL_PLANS_ABOVE = 5e7

#: Barycenter weights at or below this count as zero (a component without
#: mass), which ``revive`` may move.
DEAD_WEIGHT = 1e-12

#: A tuple is worth a component if its reduced cost is below minus this
#: times the objective; at most ``MAX_REVIVALS`` moves per fixed point.
REVIVAL_THRESHOLD = 1e-9
MAX_REVIVALS = 100


def bures_barycenters(pool, index, coef, init, tol, max_iter, what, notes):
    """Run the batched Bures barycenter kernel; note it if it did not converge.

    Parameters
    ----------
    pool, index, coef, init, tol, max_iter
        As ``skgmmot._kernels._barycenter._bures_barycenters``.
    what : str
        How the note names the barycenters.
    notes : Notes
        Receives a ``"gaussian barycenter"`` note if some problem ended above
        ``tol``.

    Returns
    -------
    covs : ndarray of shape (B, d, d)
    n_iter : ndarray of shape (B,)
    final_diff : ndarray of shape (B,)
    """
    covs, n_iter, diff = _bures_barycenters(
        np.ascontiguousarray(pool),
        np.ascontiguousarray(index, dtype=np.int64),
        np.ascontiguousarray(coef),
        np.ascontiguousarray(init),
        tol,
        max_iter,
    )
    worst = int(np.argmax(diff)) if diff.size else 0
    if diff.size and diff[worst] > tol:
        notes.add(
            "gaussian barycenter",
            f"{what} did not converge in {max_iter} iterations: relative change "
            f"{diff[worst]:.3g} > tolerance {tol:.3g}.",
        )
    return covs, n_iter, diff


def _selections(plan, pooled, w_bar, active, prev_covs, notes):
    """Means (n, K, d) and covariances (n, K, d, d) selected by each plan row.

    From input k, row i selects the Bures barycenter of the input's
    components with coefficients ``plan[i, :] / w_bar[i]`` (the first stage of
    ``"bures_two_stage"``).
    """
    starts = pooled.bounds[:-1]
    rows = np.zeros((w_bar.shape[0], plan.shape[1]))
    rows[active] = plan[active] / w_bar[active, None]
    sel_means, sel_covs = _plan_averages(rows, pooled.means, pooled.covs, starts)
    for k, (lo, hi) in enumerate(zip(starts, pooled.bounds[1:], strict=True)):
        block = rows[:, lo:hi]
        index = np.broadcast_to(np.arange(hi - lo), block.shape)
        init = np.where(active[:, None, None], sel_covs[:, k], prev_covs)
        sel_covs[:, k] = bures_barycenters(
            pooled.covs[lo:hi],
            index,
            block,
            init,
            INNER_TOL,
            INNER_MAX_ITER,
            "A Bures barycentric projection",
            notes,
        )[0]
    return sel_means, sel_covs


def _warm_start(previous, fallback):
    """Start from the previous iterate where it is positive definite, else ``fallback``.

    The fixed point ``S <- M S M`` keeps the rank of its starting point, so a
    singular start would stay singular.
    """
    scale = np.abs(previous).max(axis=(1, 2))
    try:  # the common case: all positive definite, and a Cholesky is cheap
        np.linalg.cholesky(
            previous - 1e-12 * scale[:, None, None] * np.eye(len(previous[0]))
        )
        return previous
    except np.linalg.LinAlgError:
        pass
    eig_min = np.linalg.eigvalsh(previous)[:, 0]
    ok = eig_min > 1e-12 * scale
    return np.where(ok[:, None, None], previous, fallback)


def label_update(labels, w_bar, pooled, plan):
    r"""Return the label vectors minimising the label term for fixed plans.

    Component i's vector becomes :math:`\sum_k \lambda_k \sum_j
    \pi_k[i, j] v_{kj} / w_i`; components of zero weight keep theirs.
    """
    active = w_bar > 0.0
    out = labels.copy()
    rows = plan[active] * pooled.column_lambdas / w_bar[active, None]
    out[active] = rows @ pooled.labels
    return out


def _positive_entries(coef):
    """Return the positive entries of every row of ``coef``, first, in column order.

    Returns
    -------
    index : ndarray of int64 of shape (B, q)
        Their columns; q is the most positive entries in a row (at least 1).
        Shorter rows end with columns of zero coefficient.
    compact : ndarray of shape (B, q)
        Their coefficients, zero after a row's positive ones (the Bures
        kernel skips zero coefficients).
    """
    positive = coef > 0.0
    width = max(int(positive.sum(axis=1).max(initial=0)), 1)
    index = np.argsort(~positive, axis=1, kind="stable")[:, :width]
    return index, np.take_along_axis(coef, index, axis=1)


def _one_stage_update(means, covs, w_bar, pooled, plan, notes):
    r"""Return the components that minimise the objective for the plans ``plan``.

    For fixed plans, the objective's terms of component i are
    :math:`\sum_j c_{ij} W_2^2(N_i, N_j)` over all pooled input components j,
    with :math:`c_{ij} = \lambda_{k(j)} \pi[i, j]`. Their minimiser is the
    Gaussian barycenter of the N_j with coefficients :math:`c_{ij} / \sum_j
    c_{ij}` (:math:`\sum_j c_{ij} = w_i` for exact plans): the mean
    :math:`\sum_j c_{ij} m_j / \sum_j c_{ij}` and the Bures barycenter of the
    covariances, whose fixed point starts from the current covariance (a
    descent from there) and sees only the positive coefficients (a row of an
    exact plan has few), in chunks of rows (``UPDATE_CHUNK``). Components of
    zero weight keep their parameters.
    """
    coef = plan * pooled.column_lambdas
    total = coef.sum(axis=1)
    active = (w_bar > 0.0) & (total > 0.0)
    new_means, new_covs = means.copy(), covs.copy()
    coef = coef[active] / total[active, None]
    new_means[active] = coef @ pooled.means
    index, compact = _positive_entries(coef)
    rows = np.flatnonzero(active)
    d = means.shape[1]
    chunk = max(1, UPDATE_CHUNK // (index.shape[1] * d * d))
    for lo in range(0, rows.size, chunk):
        part = slice(lo, lo + chunk)
        fallback = np.einsum("bq,bqxy->bxy", compact[part], pooled.covs[index[part]])
        new_covs[rows[part]] = bures_barycenters(
            pooled.covs,
            index[part],
            compact[part],
            _warm_start(covs[rows[part]], fallback),
            INNER_TOL,
            INNER_MAX_ITER,
            "A Gaussian barycenter of the fixed-point update",
            notes,
        )[0]
    return new_means, new_covs


def fixed_point_update(means, covs, w_bar, pooled, lambdas, plan, method, notes):
    r"""One update of the GMM-OT barycenter fixed point, given the K plans.

    Every component i with positive weight is replaced, from row i of the
    plans, by

    - ``"bures"``: the Gaussian barycenter of all the input components, with
      coefficients :math:`\lambda_k \pi_k[i, j] / w_i`: the minimiser of the
      objective for these plans, so every update is a descent step;
    - ``"euclidean"``, ``"bures_two_stage"``: the Bures barycenter
      (coefficients ``lambdas``) of the K Gaussians that row i selects from
      each input: the plan-row average of its means and covariances
      (``"euclidean"``), or the Bures barycenter of its components with the
      row as coefficients (``"bures_two_stage"``, POT's ``"bures"``).

    Components of zero weight are left as they are.

    Parameters
    ----------
    means : ndarray of shape (n, d)
    covs : ndarray of shape (n, d, d)
        Current barycenter components.
    w_bar : ndarray of shape (n,)
        Barycenter weights.
    pooled : Pooled
        The K inputs, with their coefficients (``column_lambdas``).
    lambdas : ndarray of shape (K,)
        Barycentric coefficients.
    plan : ndarray of shape (n, p)
        Plans from the barycenter to every input, side by side.
    method : {"euclidean", "bures", "bures_two_stage"}
        The update.
    notes : Notes
        Receives a note for Gaussian barycenters that did not converge.

    Returns
    -------
    means : ndarray of shape (n, d)
    covs : ndarray of shape (n, d, d)
        The updated components (new arrays).
    """
    n, d = means.shape
    K = len(pooled)
    if method == "bures":
        return _one_stage_update(means, covs, w_bar, pooled, plan, notes)
    active = w_bar > 0.0
    if method == "euclidean":  # one fused kernel call
        rows = np.zeros(plan.shape)
        rows[active] = plan[active] / w_bar[active, None]
        new_means, new_covs, _, diff = _euclidean_update(
            rows,
            pooled.means,
            pooled.covs,
            pooled.bounds[:-1],
            np.ascontiguousarray(lambdas, dtype=np.float64),
            np.ascontiguousarray(means),
            np.ascontiguousarray(covs),
            INNER_TOL,
            INNER_MAX_ITER,
        )
        if diff.size and diff.max() > INNER_TOL:
            notes.add(
                "gaussian barycenter",
                "A Gaussian barycenter of the fixed-point update did not converge "
                f"in {INNER_MAX_ITER} iterations: relative change {diff.max():.3g} "
                f"> tolerance {INNER_TOL:.3g}.",
            )
        return new_means, new_covs
    sel_means, sel_covs = _selections(plan, pooled, w_bar, active, covs, notes)
    index = np.arange(n * K, dtype=np.int64).reshape(n, K)
    new_covs = bures_barycenters(
        sel_covs.reshape(n * K, d, d),
        index,
        np.broadcast_to(lambdas, (n, K)),
        _warm_start(covs, np.einsum("k,ikab->iab", lambdas, sel_covs)),
        INNER_TOL,
        INNER_MAX_ITER,
        "A Gaussian barycenter of the fixed-point update",
        notes,
    )[0]
    new_means = np.einsum("k,ika->ia", lambdas, sel_means)
    return (
        np.where(active[:, None], new_means, means),
        np.where(active[:, None, None], new_covs, covs),
    )


def _exact_block(a, inputs, cost, num_iter_max):
    """Exact plans of a group of inputs and their notes (a joblib task)."""
    notes = Notes()
    plan = exact_plans(a, inputs, cost, num_iter_max=num_iter_max, notes=notes)
    return plan, notes


class Planner:
    """Solves the plans from barycenter weights to every pooled input.

    Parameters
    ----------
    solver : Solver
        The plans' solver and its options (``skgmmot._engine.transport``).
    n_jobs : int or None, default=None
        Workers for large exact problems (see ``PARALLEL_PLANS_ABOVE``).

    Sinkhorn warm-starts from the potentials of the previous call.
    """

    def __init__(self, solver, n_jobs=None):
        self.solver = solver
        self.kind = solver.kind
        self.n_jobs = n_jobs
        self.potentials = None

    def __call__(self, a, pooled, cost):
        """Return the plans from ``a`` to every input, side by side (n, p)."""
        if self.kind == "exact":
            return self._exact(a, pooled, cost)
        plan, self.potentials = self.solver.plans(
            a, pooled.weights, cost, self.potentials
        )
        return plan

    def _exact(self, a, pooled, cost):
        """Exact plans; in parallel (``n_jobs``) when large.

        Every plan is solved exactly as in the serial call, so the result does
        not depend on the number of workers. POT's network simplex releases
        the GIL, so threads are preferred unless
        :func:`joblib.parallel_config` says otherwise; each task returns its
        notes with its plans, so that processes report them too.
        """
        sizes = np.diff(pooled.bounds)
        n = a.shape[0]
        work = float(np.sum(n * sizes * (n + sizes))) / 2.0
        n_workers = 1
        if work >= PARALLEL_PLANS_ABOVE and sizes.size >= 2:
            n_workers = effective_n_jobs(self.n_jobs)
        if n_workers == 1:
            return self.solver.plans(a, pooled.weights, cost)[0]
        groups = np.array_split(np.arange(sizes.size), min(sizes.size, 2 * n_workers))
        tasks = [
            (
                a,
                [pooled.weights[k] for k in group],
                np.ascontiguousarray(
                    cost[:, pooled.bounds[group[0]] : pooled.bounds[group[-1] + 1]]
                ),
                self.solver.num_iter_max,
            )
            for group in groups
        ]
        blocks = run_chunks(_exact_block, tasks, n_jobs=self.n_jobs, prefer="threads")
        for _, notes in blocks:
            self.solver.notes.merge(notes)
        return np.hstack([plan for plan, _ in blocks])


def plans_and_objective(means, covs, weights, pooled, planner, labels=None):
    """Costs and plans to every input, the objective sum_k lambda_k <P_k, M_k>.

    One cost-matrix call against all input components pooled: a single kernel
    launch is cheaper than K small ones. With labelled inputs (``labels`` of
    the barycenter's components), the costs include the label term.
    """
    cost = cost_matrix(means, covs, pooled.means, pooled.covs)
    if labels is not None:
        cost = cost + label_costs(labels, pooled.labels, pooled.label_cost)
    plan = planner(weights, pooled, cost)
    objective = float(np.sum(plan * cost * pooled.column_lambdas))
    return cost, plan, objective


class FixedPointResult:
    """The end of :func:`fixed_point`.

    Attributes
    ----------
    means, covs, weights : ndarray
        The last iterate.
    labels : ndarray of shape (n, C) or None
        Its label vectors (labelled inputs).
    plan : ndarray of shape (n, p)
        Its plans to the inputs, side by side.
    objective : float
        Its objective.
    curve : list of float
        The objective of every iterate, the start included.
    n_iter : int
    converged : bool
    last_decrease : float
        Relative decrease of the objective at the last iteration (0 when
        converged, or run without ``tol``).
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)


def revive(means, covs, labels, weights, cost, pooled, lambdas, pricer, objective):
    """Move the zero-weight components where they lower the objective most.

    Parameters
    ----------
    means, covs, labels, weights : ndarray or None
        The converged barycenter (``labels`` None for unlabelled inputs).
    cost : ndarray of shape (n, p)
        Its costs to the pooled input components.
    pooled, lambdas
        The inputs.
    pricer : TuplePricer
    objective : float
        The barycenter's objective (sets the threshold of a useful move).

    Returns
    -------
    (means, covs, labels) or None
        New arrays with the moved components, or None if no component has
        zero weight, the problem is too large to price, or no tuple lowers
        the objective.
    """
    dead = np.flatnonzero(weights <= DEAD_WEIGHT)
    if dead.size == 0 or not pricer.available:
        return None
    _, _, _, duals = optimal_weights(pooled.split(cost), pooled.weights, lambdas)
    new_means, new_covs, new_labels = pricer.cheapest(
        duals, dead.size, REVIVAL_THRESHOLD * max(abs(objective), 1e-300)
    )
    if new_means.shape[0] == 0:
        return None
    dead = dead[: new_means.shape[0]]
    means, covs = means.copy(), covs.copy()
    means[dead] = new_means
    covs[dead] = new_covs
    if labels is not None:
        labels = labels.copy()
        labels[dead] = new_labels
    return means, covs, labels


def fixed_point(
    pooled,
    lambdas,
    means,
    covs,
    weights,
    *,
    projection,
    planner,
    max_iter,
    tol=None,
    learn_weights=False,
    pricer=None,
    labels=None,
    notes,
    callback=None,
):
    """Run the GMM-OT barycenter fixed point from a start.

    Parameters
    ----------
    pooled : Pooled
        The K inputs, with their coefficients (``Pooled(mixtures, lambdas)``).
    lambdas : ndarray of shape (K,)
    means, covs, weights : ndarray
        The starting barycenter.
    projection : {"euclidean", "bures", "bures_two_stage"}
        The update of the components (see :func:`fixed_point_update`).
    planner : Planner
    max_iter : int
        Iterations at most.
    tol : float or None, default=None
        Stop when the objective decreases by at most ``tol`` times its value,
        or (exact plans, fixed weights) the plans no longer change. None:
        run all ``max_iter`` iterations.
    learn_weights : bool, default=False
        Once converged with fixed weights, optimise them too (each iteration
        then starts with the optimal weights for the current components).
    pricer : TuplePricer, optional
        With ``learn_weights`` (and ``tol``): when the iterations converge
        with components of zero weight, move them to the tuples of input
        components whose Bures barycenters would lower the objective most
        (``skgmmot._engine.multimarginal.TuplePricer``), and go on; the
        optimal weights then give them mass.
    labels : ndarray of shape (n, C), optional
        Label vectors of the starting components, when the inputs are
        labelled (``pooled.labels``): the costs then include the label term,
        and every update replaces a component's label vector by the
        plan-weighted average of the ones its rows select (the minimiser of
        that term).
    notes : Notes
        Receives the solvers' notes.
    callback : callable, optional
        ``callback(n_iter, means, covs, weights, objective)`` after the start
        (``n_iter=0``) and every iteration.

    Returns
    -------
    result : FixedPointResult
    """
    means, covs, w = means, covs, weights
    cost, plan, objective = plans_and_objective(means, covs, w, pooled, planner, labels)
    curve = [objective]
    if callback is not None:
        callback(0, means, covs, w, objective)
    converged = False
    n_iter = 0
    decrease = 0.0
    # Weights are learnt once the fixed point with fixed weights has
    # converged: learning them from the start can zero a component that
    # the first updates would have made useful.
    learning = False
    revivals = 0
    revived_at = np.inf
    for n_iter in range(1, max_iter + 1):
        if learning:
            new_w = optimal_weights(pooled.split(cost), pooled.weights, lambdas)[0]
            # HiGHS solves the weight program to its tolerances: its plans can
            # miss their marginals, and its weights can cost more than the
            # current ones (2e-8 relative on an objective 100 times below the
            # largest cost). So the plans for its weights are solved again,
            # and a step of exact plans that does not lower the objective is
            # not taken: learning the weights never raises it.
            new_plan = planner(new_w, pooled, cost)
            if (
                planner.kind != "exact"
                or np.sum(new_plan * cost * pooled.column_lambdas) <= objective
            ):
                w, plan = new_w, new_plan
        means, covs = fixed_point_update(
            means, covs, w, pooled, lambdas, plan, projection, notes
        )
        if labels is not None:
            labels = label_update(labels, w, pooled, plan)
        previous_plan = plan
        cost, plan, new_objective = plans_and_objective(
            means, covs, w, pooled, planner, labels
        )
        curve.append(new_objective)
        if callback is not None:
            callback(n_iter, means, covs, w, new_objective)
        decrease = objective - new_objective
        objective = new_objective
        if tol is None:
            continue
        # With exact plans and fixed weights the update is a function of
        # the plans alone: unchanged plans mean the next iterate is this one.
        if decrease <= tol * abs(curve[-2]) or (
            planner.kind == "exact"
            and not learning
            and np.array_equal(plan, previous_plan)
        ):
            if learn_weights and not learning:
                learning = True
                continue
            # A move is kept going only while it pays: degenerate weight
            # programs can leave a moved component without mass.
            if (
                learning
                and pricer is not None
                and revivals < MAX_REVIVALS
                and objective < revived_at * (1.0 - REVIVAL_THRESHOLD)
            ):
                moved = revive(
                    means, covs, labels, w, cost, pooled, lambdas, pricer, objective
                )
                if moved is not None:
                    means, covs, labels = moved
                    revivals += 1
                    revived_at = objective
                    # The next weights come from these costs; the objective
                    # is the same (the moved components have no mass yet).
                    cost, plan, objective = plans_and_objective(
                        means, covs, w, pooled, planner, labels
                    )
                    continue
            converged = True
            break
    last_decrease = 0.0
    if tol is not None and not converged and n_iter > 0:
        last_decrease = decrease / abs(curve[-2])
    return FixedPointResult(
        means=means,
        covs=covs,
        labels=labels,
        weights=w,
        plan=plan,
        objective=objective,
        curve=curve,
        n_iter=n_iter,
        converged=converged,
        last_decrease=last_decrease,
    )
