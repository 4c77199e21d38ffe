"""Optimal barycenter weights for a fixed set of barycenter components."""

import numpy as np


def optimal_weights(costs, input_weights, lambdas):
    r"""Barycenter weights and plans minimising the barycenter objective.

    With the barycenter's components fixed, the objective
    :math:`\sum_k \lambda_k \min_{\pi_k \in \Pi(w, w^k)} \langle C_k, \pi_k \rangle`
    is minimised over the weights ``w`` and the plans jointly by one linear
    program: the plans are free except that they all have ``w`` as first
    marginal and ``w^k`` as second. It is solved exactly with HiGHS.

    Parameters
    ----------
    costs : list of ndarray of shape (n, m_k)
        Bures costs between the barycenter components and each input's.
    input_weights : list of ndarray of shape (m_k,)
        Weights of the inputs.
    lambdas : ndarray of shape (K,)
        Barycentric coefficients.

    Returns
    -------
    weights : ndarray of shape (n,)
        Optimal barycenter weights (some may be zero).
    plans : list of ndarray of shape (n, m_k)
        Optimal plans for those weights.
    objective : float
        The minimal objective.
    duals : list of ndarray of shape (m_k,)
        Optimal dual variables of the K column-sum constraints (what one
        more unit of each input component's mass would cost): a new
        barycenter component lowers the objective if its costs ``c_k`` to
        the inputs' components have
        :math:`\sum_k \min_j (\lambda_k c_k[j] - v_k[j]) < 0`.

    Raises
    ------
    RuntimeError
        If the solver reports failure (the problem is always feasible, so this
        only happens on numerical trouble).
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    n = costs[0].shape[0]
    sizes = [c.shape[1] for c in costs]
    offsets = np.concatenate([[0], np.cumsum([n * m for m in sizes])])
    n_plan_vars = int(offsets[-1])
    rows, cols, vals, rhs = [], [], [], []
    row = 0
    column_rows = []
    for k, m in enumerate(sizes):
        var = offsets[k] + np.arange(n * m).reshape(n, m)
        # Column sums of plan k: sum_i pi_k[i, j] = w_k[j].
        rows.append(row + np.repeat(np.arange(m), n))
        cols.append(var.T.ravel())
        vals.append(np.ones(n * m))
        rhs.append(input_weights[k])
        column_rows.append(row)
        row += m
        # Row sums of plan k equal the shared weights: sum_j pi_k[i, j] - w_i = 0.
        rows.append(row + np.repeat(np.arange(n), m))
        cols.append(var.ravel())
        vals.append(np.ones(n * m))
        rows.append(row + np.arange(n))
        cols.append(n_plan_vars + np.arange(n))
        vals.append(-np.ones(n))
        rhs.append(np.zeros(n))
        row += n
    A = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(row, n_plan_vars + n),
    ).tocsr()
    c = np.concatenate([lam * C.ravel() for lam, C in zip(lambdas, costs, strict=True)])
    c = np.concatenate([c, np.zeros(n)])
    # HiGHS's tolerances are absolute: costs scaled to at most one make the
    # solution the same in any unit of length.
    scale = float(np.abs(c).max()) or 1.0
    c = c / scale
    result = linprog(
        c, A_eq=A, b_eq=np.concatenate(rhs), bounds=(0, None), method="highs"
    )
    if result.status != 0:
        raise RuntimeError(f"The weight update failed: {result.message}")
    x = np.clip(result.x, 0.0, None)
    weights = x[n_plan_vars:]
    weights = weights / weights.sum()
    plans = [x[offsets[k] : offsets[k + 1]].reshape(n, m) for k, m in enumerate(sizes)]
    y = np.asarray(result.eqlin.marginals) * scale
    duals = [y[r : r + m] for r, m in zip(column_rows, sizes, strict=True)]
    return weights, plans, float(result.fun) * scale, duals
