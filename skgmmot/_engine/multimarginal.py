r"""The exact GMM-OT barycenter as a multi-marginal linear program.

Delon & Desolneux (2020, section 5) show that the barycenter of K Gaussian
mixtures for :math:`MW_2` with coefficients :math:`\lambda` solves a linear
program over the K-tuples :math:`t = (j_1, \dots, j_K)` of input components:
each tuple costs :math:`c_t = \sum_k \lambda_k W_2^2(\bar g_t, g_{k, j_k})`,
where :math:`\bar g_t` is the Bures barycenter of the tuple's Gaussians, and a
mass :math:`\pi_t \ge 0` is chosen for every tuple so that for each input k
the tuples through component j carry its weight :math:`w_{k, j}`. The
barycenter is :math:`\sum_t \pi_t \bar g_t`, and a basic optimal solution has
at most :math:`\sum_k k_k - K + 1` tuples of positive mass.
"""

import math

import numpy as np

from skgmmot._engine.barycenter import INNER_MAX_ITER, INNER_TOL, bures_barycenters

__all__ = [
    "MAX_TUPLES",
    "MultimarginalResult",
    "TuplePricer",
    "heaviest_atoms",
    "multimarginal_barycenter",
    "n_tuples",
    "tuple_gaussians",
]

#: Default largest number of tuples (product of the input sizes) solved.
MAX_TUPLES = 10**6

#: Tuples whose Gaussian barycenters are computed per kernel call: bounds the
#: memory of the (chunk, d, d) covariances, which are not kept.
TUPLE_CHUNK = 1 << 15

#: Tuple masses at or below this (the weights sum to one) are left out of the
#: support: a simplex vertex's zero masses may come back as round-off.
MASS_FLOOR = 1e-14


def n_tuples(sizes):
    """Return the number of K-tuples of components (an exact Python integer)."""
    return math.prod(int(s) for s in sizes)


def tuple_gaussians(pooled, lambdas, tuples, notes, *, with_covs=True):
    r"""Bures barycenters of tuples of input components and their costs.

    Parameters
    ----------
    pooled : Pooled
        The K inputs.
    lambdas : ndarray of shape (K,)
        Barycentric coefficients.
    tuples : ndarray of int64 of shape (B, K)
        Component of each input in every tuple (indices within the input).
    notes : Notes
        Receives a note if a Gaussian barycenter did not converge.
    with_covs : bool, default=True
        Return the tuples' Gaussians and label vectors (else only the costs,
        computed in chunks of ``TUPLE_CHUNK`` tuples so that memory stays
        bounded).

    Returns
    -------
    means : ndarray of shape (B, d) or None
    covs : ndarray of shape (B, d, d) or None
    costs : ndarray of shape (B,)
        :math:`\sum_k \lambda_k W_2^2(\bar g_t, g_{k, t_k})`, plus the label
        term :math:`\beta \sum_k \lambda_k \|\bar v_t - v_{k, t_k}\|^2`
        for labelled inputs (``pooled.labels``).
    labels : ndarray of shape (B, C) or None
        The tuples' average label vectors :math:`\bar v_t` (labelled inputs).
        Means, covariances and labels are None unless ``with_covs``.
    """
    index = tuples + pooled.bounds[:-1]
    B, K = index.shape
    d = pooled.means.shape[1]
    labelled = pooled.labels is not None
    # Only the costs are kept for every tuple; means, covariances and label
    # vectors only when asked (``with_covs``), so that memory stays bounded.
    means = np.empty((B, d)) if with_covs else None
    covs = np.empty((B, d, d)) if with_covs else None
    labels = np.empty((B, pooled.labels.shape[1])) if with_covs and labelled else None
    costs = np.empty(B)
    coef = np.broadcast_to(lambdas, (TUPLE_CHUNK, K))
    traces = np.trace(pooled.covs, axis1=1, axis2=2)
    for lo in range(0, B, TUPLE_CHUNK):
        hi = min(lo + TUPLE_CHUNK, B)
        part = index[lo:hi]
        start = np.einsum("k,bkij->bij", lambdas, pooled.covs[part])
        S, _, _ = bures_barycenters(
            pooled.covs,
            part,
            coef[: hi - lo],
            start,
            INNER_TOL,
            INNER_MAX_ITER,
            "the Gaussian barycenters of the multi-marginal tuples",
            notes,
        )
        chunk_means = np.einsum("k,bkd->bd", lambdas, pooled.means[part])
        # At the Bures barycenter S, sum_k lambda_k tr (S^1/2 C_k S^1/2)^1/2
        # = tr S, so sum_k lambda_k B^2(S, C_k) = sum_k lambda_k tr C_k - tr S.
        bures = traces[part] @ lambdas - np.trace(S, axis1=1, axis2=2)
        costs[lo:hi] = _spread(pooled.means[part], chunk_means, lambdas) + np.maximum(
            bures, 0.0
        )
        if labelled:
            # The label term's minimiser is the average label vector.
            chunk_labels = np.einsum("k,bkc->bc", lambdas, pooled.labels[part])
            costs[lo:hi] += pooled.label_cost * _spread(
                pooled.labels[part], chunk_labels, lambdas
            )
        if with_covs:
            means[lo:hi] = chunk_means
            covs[lo:hi] = S
            if labelled:
                labels[lo:hi] = chunk_labels
    return means, covs, costs, labels


def _spread(points, centres, lambdas):
    """sum_k lambda_k |points[b, k] - centres[b]|^2 for every tuple b."""
    return np.einsum(
        "k,bk->b", lambdas, np.sum((points - centres[:, None, :]) ** 2, axis=2)
    )


class MultimarginalResult:
    r"""The exact barycenter found by :func:`multimarginal_barycenter`.

    Attributes
    ----------
    tuples : ndarray of int64 of shape (n, K)
        The input components that each barycenter component averages.
    weights : ndarray of shape (n,)
    means : ndarray of shape (n, d)
    covs : ndarray of shape (n, d, d)
    objective : float
        The optimal value :math:`\sum_t \pi_t c_t`.
    duals : list of ndarray of shape (k_k,)
        Optimal dual variables of the K marginal constraints (the last one of
        every input after the first is redundant and is given 0).
    n_tuples : int
        Number of tuples of the linear program.
    labels : ndarray of shape (n, C) or None
        Label vectors of the components (labelled inputs).
    """

    def __init__(
        self, tuples, weights, means, covs, objective, duals, count, labels=None
    ):
        self.labels = labels
        self.tuples = tuples
        self.weights = weights
        self.means = means
        self.covs = covs
        self.objective = objective
        self.duals = duals
        self.n_tuples = count

    def plans(self, sizes):
        """Return the K plans from the barycenter's components to each input's."""
        plans = []
        rows = np.arange(self.tuples.shape[0])
        for k, m in enumerate(sizes):
            plan = np.zeros((rows.size, m))
            plan[rows, self.tuples[:, k]] = self.weights
            plans.append(plan)
        return plans


def _constraints(tuples, sizes):
    """Sparse marginal constraints: row (k, j) sums the tuples through (k, j).

    Each input after the first drops its last row: the K marginals have the
    same total mass, so those rows are implied by the others, and without
    them the rows are independent (better conditioned for the simplex).
    """
    from scipy.sparse import csc_array

    T, K = tuples.shape
    offsets = np.concatenate(
        [[0], np.cumsum([s - 1 if k else s for k, s in enumerate(sizes)])]
    )
    keep = np.ones((T, K), dtype=bool)
    keep[:, 1:] = tuples[:, 1:] != np.asarray(sizes[1:]) - 1
    rows = (tuples + offsets[:-1])[keep]
    cols = np.broadcast_to(np.arange(T)[:, None], (T, K))[keep]
    return csc_array(
        (np.ones(rows.size), (rows, cols)), shape=(int(offsets[-1]), T)
    ), offsets


def _solve_lp(costs, A, rhs):
    """Solve min costs @ x, A x = rhs, x >= 0 by HiGHS's dual simplex.

    A simplex solution is a vertex, whose support is at most the number of
    rows. Tight feasibility tolerances first; HiGHS's defaults if those fail.
    """
    from scipy.optimize import linprog

    result = None
    for options in (
        {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        {},
    ):
        result = linprog(
            costs,
            A_eq=A,
            b_eq=rhs,
            bounds=(0, None),
            method="highs-ds",
            options=options,
        )
        if result.status == 0:
            return result
    raise RuntimeError(f"The multi-marginal linear program failed: {result.message}")


def multimarginal_barycenter(pooled, lambdas, notes):
    """Solve the multi-marginal linear program of the GMM-OT barycenter.

    Parameters
    ----------
    pooled : Pooled
        The K inputs (weights each summing to one).
    lambdas : ndarray of shape (K,)
        Barycentric coefficients.
    notes : Notes
        Receives the Gaussian barycenters' convergence notes.

    Returns
    -------
    MultimarginalResult
    """
    sizes = [int(w.size) for w in pooled.weights]
    tuples = np.indices(sizes).reshape(len(sizes), -1).T.copy()
    _, _, costs, _ = tuple_gaussians(pooled, lambdas, tuples, notes, with_covs=False)
    A, offsets = _constraints(tuples, sizes)
    rhs = np.concatenate(
        [w if k == 0 else w[:-1] for k, w in enumerate(pooled.weights)]
    )
    # HiGHS's tolerances are absolute: costs scaled to at most one make the
    # solution the same in any unit of length.
    scale = float(costs.max()) or 1.0
    result = _solve_lp(costs / scale, A, rhs)
    x = np.asarray(result.x)
    support = np.flatnonzero(x > MASS_FLOOR)
    chosen = tuples[support]
    weights = x[support] / x[support].sum()
    means, covs, chosen_costs, labels = tuple_gaussians(pooled, lambdas, chosen, notes)
    y = np.asarray(result.eqlin.marginals) * scale
    duals = []
    for k, s in enumerate(sizes):
        dual = np.zeros(s)
        kept = s if k == 0 else s - 1
        dual[:kept] = y[offsets[k] : offsets[k] + kept]
        duals.append(dual)
    return MultimarginalResult(
        chosen,
        weights,
        means,
        covs,
        float(weights @ chosen_costs),
        duals,
        tuples.shape[0],
        labels,
    )


def heaviest_atoms(result, n):
    """Return the ``n`` heaviest components of an exact barycenter (renormalised).

    Returns means, covariances, weights and label vectors (None if unlabelled).

    Ties in weight keep the program's order (a stable sort).
    """
    keep = np.sort(np.argsort(-result.weights, kind="stable")[:n])
    weights = result.weights[keep]
    labels = None if result.labels is None else result.labels[keep]
    return result.means[keep], result.covs[keep], weights / weights.sum(), labels


#: Largest estimated work, tuples x K x max(d, 2)**3, of pricing every tuple
#: (about 0.5 us per unit at d = 3, less elsewhere: some 0.2 s at most).
PRICING_BUDGET = 4e5


class TuplePricer:
    r"""Finds where a new barycenter component lowers the objective most.

    With the barycenter's components fixed and its weights optimal (the
    weight program of :func:`skgmmot._engine.weights.optimal_weights`, with
    dual variables :math:`v_k` on the inputs' masses), a component at the
    Bures barycenter :math:`\bar g_t` of a tuple :math:`t` of input
    components lowers the objective, once given some mass, if its reduced
    cost :math:`c_t - \sum_k v_k[t_k]` is negative: the pricing step of
    column generation for the multi-marginal program, whose columns are the
    tuples. The tuple costs do not depend on the barycenter: they are
    computed once, on first use, if the problem is small enough
    (``PRICING_BUDGET``), and serve every restart of a fit.

    Parameters
    ----------
    pooled : Pooled
        The K inputs.
    lambdas : ndarray of shape (K,)
    notes : Notes
    """

    def __init__(self, pooled, lambdas, notes):
        self.pooled = pooled
        self.lambdas = lambdas
        self.notes = notes
        sizes = [int(w.size) for w in pooled.weights]
        d = pooled.means.shape[1]
        count = n_tuples(sizes)
        self.available = count * len(sizes) * max(d, 2) ** 3 <= PRICING_BUDGET
        self.sizes = sizes
        self._tuples = None
        self._costs = None

    def cheapest(self, duals, count, threshold):
        """Up to ``count`` tuples of reduced cost below ``-threshold``.

        Returns
        -------
        means : ndarray of shape (c, d)
        covs : ndarray of shape (c, d, d)
            The Bures barycenters of those tuples, most negative first.
        labels : ndarray of shape (c, C) or None
            Their label vectors (labelled inputs).
        """
        if self._costs is None:
            # Tuples through a zero-weight input component can carry no mass
            # (and the duals of those components are arbitrary).
            positive = [np.flatnonzero(w > 0) for w in self.pooled.weights]
            grid = np.indices([p.size for p in positive]).reshape(len(positive), -1)
            self._tuples = np.stack(
                [p[i] for p, i in zip(positive, grid, strict=True)], axis=1
            )
            _, _, self._costs, _ = tuple_gaussians(
                self.pooled, self.lambdas, self._tuples, self.notes, with_covs=False
            )
        reduced = self._costs - sum(
            dual[self._tuples[:, k]] for k, dual in enumerate(duals)
        )
        order = np.argsort(reduced, kind="stable")[:count]
        order = order[reduced[order] < -threshold]
        means, covs, _, labels = tuple_gaussians(
            self.pooled, self.lambdas, self._tuples[order], self.notes
        )
        return means, covs, labels
