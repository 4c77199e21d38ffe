"""Optimal transport between Gaussian mixtures: a drop-in for POT's ``ot.gmm``.

The functions keep the names, arguments, defaults and results of POT's
``ot.gmm`` module (the GMM-OT of Delon & Desolneux [1]_), so
``from ot.gmm import gmm_ot_loss`` can become ``from skgmmot import gmm_ot_loss``.
They differ where POT is slow or wrong: the Bures costs never build
(k_s, k_t, d, d) temporaries and accept rank-deficient covariances, Gaussian
barycenters use the provably convergent fixed point of Álvarez-Esteban et
al. [2]_ with a scale-free tolerance, maps are vectorised and evaluated in
log-space, and :func:`gmm_barycenter_fixed_point` (the method of Tanguy et
al. [3]_) divides by the barycenter weights (not by ``1/n``) and never
modifies its arguments.

Inputs are validated: a malformed argument raises
:class:`~skgmmot.exceptions.InvalidInputError`, a ``ValueError`` that is also
the ``AssertionError`` POT raises, with a message naming the mixture and the
field. Weights (``w_s``, ``w_t``, ``w``, barycentric coefficients) must be
non-negative and sum to one within 1.5e-6, POT's tolerance; accepted weights
are divided by their sum, so results are those of exactly normalised weights.

References
----------
.. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in the
   space of Gaussian mixture models. SIAM Journal on Imaging Sciences, 13(2),
   936-970.
.. [2] Álvarez-Esteban, P. C., del Barrio, E., Cuesta-Albertos, J. A., &
   Matrán, C. (2016). A fixed-point approach to barycenters in Wasserstein
   space. Journal of Mathematical Analysis and Applications, 441(2), 744-762.
.. [3] Tanguy, E., Delon, J., & Gozlan, N. (2024). Computing barycenters of
   measures for generic transport costs. arXiv:2501.04016.
"""

import numbers

import numpy as np

from skgmmot._engine import gaussian
from skgmmot._engine.barycenter import (
    PROJECTIONS,
    Planner,
    bures_barycenters,
    fixed_point,
)
from skgmmot._engine.costs import cost_matrix, gaussian_pair_maps, label_costs
from skgmmot._engine.maps import apply_map, geodesic_state
from skgmmot._engine.mixtures import Pooled, log_mixture_pdf
from skgmmot._engine.multimarginal import (
    MAX_TUPLES,
    heaviest_atoms,
    multimarginal_barycenter,
)
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import (
    SINKHORN_MAX_ITER,
    SINKHORN_TOL,
    Solver,
    pot_emd,
    sinkhorn_plan,
)
from skgmmot._engine.unbalanced import (
    UNBALANCED_MAX_ITER,
    UNBALANCED_TOL,
    unbalanced_plan,
)
from skgmmot._validation import (
    _as_float_array,
    check_component_labels,
    check_entropic,
    check_gaussians,
    check_gmm_arrays,
    check_means,
    check_mixture,
    check_n_features,
    check_num_iter_max,
    check_points,
    check_positive_int,
    check_time,
    check_tolerance,
    check_tuple_count,
    check_weights,
)
from skgmmot._warnings import warn_notes
from skgmmot.exceptions import InvalidInputError

__all__ = [
    "bures_wasserstein_barycenter",
    "bures_wasserstein_mapping",
    "dist_bures_squared",
    "gaussian_logpdf",
    "gaussian_pdf",
    "gmm_barycenter_fixed_point",
    "gmm_barycenter_multimarginal",
    "gmm_ot_apply_map",
    "gmm_ot_interpolate",
    "gmm_ot_loss",
    "gmm_ot_plan",
    "gmm_ot_plan_density",
    "gmm_pdf",
]

_SOURCE = ("means m_s", "covariances C_s", "weights w_s")
_TARGET = ("means m_t", "covariances C_t", "weights w_t")


def _check_pair_features(src, tgt):
    check_n_features(
        tgt[0].shape[1],
        src[0].shape[1],
        "target mixture",
        "source mixture",
        "the source and target mixtures",
    )


def _check_pair(m_s, m_t, C_s, C_t, w_s=None, w_t=None, source_pd=False):
    """Validate a source and a target mixture; weights are optional."""
    if w_s is None:
        src = check_gaussians(m_s, C_s, "source mixture", _SOURCE[:2])
        tgt = check_gaussians(m_t, C_t, "target mixture", _TARGET[:2])
    else:
        src = check_gmm_arrays(
            m_s, C_s, w_s, "source mixture", _SOURCE, positive_definite=source_pd
        )
        tgt = check_gmm_arrays(m_t, C_t, w_t, "target mixture", _TARGET)
    _check_pair_features(src, tgt)
    return src, tgt


def _exact_ot(a, b, cost, plan, log, numItermax):
    """Solve the discrete OT problem with POT's network simplex.

    POT's ``ot.emd`` (``ot.emd2`` for ``plan=False``) with the iteration limit
    ``numItermax`` (None: a limit that grows with the problem), and one
    ``ConvergenceWarning`` at the user's line if it is reached (see
    ``skgmmot._engine.transport.pot_emd``).
    """
    notes = Notes()
    out = pot_emd(a, b, cost, plan=plan, log=log, num_iter_max=numItermax, notes=notes)
    warn_notes(notes)
    return out


def _labelled_cost(ms, Cs, mt, Ct, label_cost, labels_s, labels_t):
    """Bures costs, plus the label term of labelled mixtures."""
    vectors = check_component_labels(
        labels_s, labels_t, label_cost, ms.shape[0], mt.shape[0]
    )
    cost = cost_matrix(ms, Cs, mt, Ct)
    if vectors is not None:
        cost = cost + label_costs(*vectors, label_cost)
    return cost


def _entropic_ot(a, b, cost, reg, reg_m, num_iter_max, stop_thr):
    """Entropic plan (balanced, or unbalanced with ``reg_m``) and its log.

    Warns once at the user's line if the iterations stop at their limit.
    """
    notes = Notes()
    if reg_m is None:
        plan, log = sinkhorn_plan(
            a,
            b,
            cost,
            reg,
            max_iter=num_iter_max or SINKHORN_MAX_ITER,
            tol=stop_thr or SINKHORN_TOL,
            notes=notes,
            log=True,
        )
        log["cost"] = float(np.sum(plan * cost))
    else:
        plan, log = unbalanced_plan(
            a,
            b,
            cost,
            reg,
            reg_m,
            max_iter=num_iter_max or UNBALANCED_MAX_ITER,
            tol=stop_thr or UNBALANCED_TOL,
            notes=notes,
        )
    warn_notes(notes)
    return plan, log


def dist_bures_squared(m_s, m_t, C_s, C_t):
    r"""Squared Bures-Wasserstein distances between the components of two GMMs.

    .. math::
        D_{ij} = \|m^s_i - m^t_j\|^2 + \operatorname{tr} C^s_i
        + \operatorname{tr} C^t_j
        - 2 \operatorname{tr}\big((C^s_i)^{1/2} C^t_j (C^s_i)^{1/2}\big)^{1/2}

    Computed by a parallel numba kernel in O(k_s k_t d^3) time and O(k_s k_t)
    memory, with closed forms in dimensions 1 and 2. Covariances may be
    rank-deficient (positive semi-definite).

    Parameters
    ----------
    m_s : array-like of shape (k_s, d)
        Means of the source components.
    m_t : array-like of shape (k_t, d)
        Means of the target components.
    C_s : array-like of shape (k_s, d, d)
        Covariances of the source components.
    C_t : array-like of shape (k_t, d, d)
        Covariances of the target components.

    Returns
    -------
    dist : ndarray of shape (k_s, k_t)
        Squared Bures-Wasserstein distances, clipped at zero.

    See Also
    --------
    gmm_ot_loss : The GMM-OT distance built on these costs.
    ot.gmm.dist_bures_squared : POT's version of this function.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import dist_bures_squared
    >>> m_s, C_s = np.zeros((1, 2)), np.eye(2)[None]
    >>> m_t, C_t = np.array([[3.0, 4.0]]), 4 * np.eye(2)[None]
    >>> dist_bures_squared(m_s, m_t, C_s, C_t)
    array([[27.]])
    """
    (ms, Cs), (mt, Ct) = _check_pair(m_s, m_t, C_s, C_t)
    return cost_matrix(ms, Cs, mt, Ct)


def gmm_ot_loss(
    m_s,
    m_t,
    C_s,
    C_t,
    w_s,
    w_t,
    log=False,
    *,
    numItermax=None,
    reg=None,
    reg_m=None,
    stopThr=None,
    label_cost=0.0,
    labels_s=None,
    labels_t=None,
):
    r"""GMM-OT distance (squared) between two Gaussian mixtures.

    .. math::
        MW_2^2(\mu, \nu) = \min_{\pi \in \Pi(w^s, w^t)} \sum_{ij} \pi_{ij}
        W_2^2(\mu_i, \nu_j)

    Parameters
    ----------
    m_s : array-like of shape (k_s, d)
        Means of the source components.
    m_t : array-like of shape (k_t, d)
        Means of the target components.
    C_s : array-like of shape (k_s, d, d)
        Covariances of the source components.
    C_t : array-like of shape (k_t, d, d)
        Covariances of the target components.
    w_s : array-like of shape (k_s,)
        Weights of the source components
        (non-negative, summing to one within 1.5e-6, divided by their sum).
    w_t : array-like of shape (k_t,)
        Weights of the target components.
    log : bool, default=False
        Also return POT's log dictionary (dual potentials ``u``, ``v``,
        ``cost``, ``warning``, ``result_code``).

    numItermax : int, default=None
        Keyword-only. Iteration limit of the network simplex (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 k_s k_t``,
        then ten times that if the simplex stops at it.

    reg : float, default=None
        Keyword-only. Entropic regularisation (POT's ``reg``, in the units of
        the squared-distance costs): None solves the exact problem; a value
        gives the entropic plan of POT's ``sinkhorn`` (log-domain, stable for
        small ``reg``), or with ``reg_m`` its unbalanced one.
    reg_m : float or pair of float, default=None
        Keyword-only, with ``reg``. KL relaxation of the marginals, POT's
        ``sinkhorn_unbalanced(a, b, M, reg, reg_m)`` (``reg_type="kl"``):
        the plan minimises :math:`\langle \pi, M \rangle + reg\, KL(\pi |
        w^s \otimes w^t) + \rho_s KL(\pi 1 | w^s) + \rho_t KL(\pi^\top 1 |
        w^t)` with ``reg_m = rho`` or ``(rho_s, rho_t)``; ``inf`` keeps a
        marginal exact. Components can then be re-weighted (created or
        destroyed mass) instead of transported, which matters when the
        mixtures' weights differ for reasons transport should not explain
        (label shift). OTT-JAX's ``tau`` is ``reg_m = reg * tau / (1 - tau)``.
    stopThr : float, default=None
        Keyword-only, with ``reg``. Tolerance of the iterations: the marginal
        error for balanced plans (default 1e-10), the change of the
        logarithms of the plan's marginals for unbalanced ones (default
        1e-10). ``numItermax`` is
        then their iteration limit (default 10000).
    label_cost : float, default=0.0
        Keyword-only. :math:`\beta` of labelled mixtures (Montesuma et al.,
        2024): the cost between components adds :math:`\beta \|v_i -
        v_j\|^2`, the squared distance of their label vectors, to their
        squared Bures-Wasserstein distance. 0: unlabelled.
    labels_s, labels_t : array-like, default=None
        Keyword-only, with ``label_cost``. The class of every component,
        shapes (k_s,) and (k_t,) (one-hot vectors over the classes of both),
        or label vectors (distributions over classes), (k_s, C) and (k_t, C).

    Returns
    -------
    loss : float
        The optimal transport cost between the mixtures; with ``reg``, the
        transport cost :math:`\langle \pi, M \rangle` of the entropic plan
        (POT's ``sinkhorn2`` and ``sinkhorn_unbalanced2`` default), without
        the entropy and marginal terms.
    log : dict
        Only if ``log=True``; then, as POT's (``ot.emd2``), the two are
        returned as a list ``[loss, log]``. With ``reg``: the dual
        potentials (``f``, ``g``; ``logu``, ``logv`` when unbalanced),
        ``n_iter``, ``err``, ``cost`` and, when unbalanced, ``total_cost``
        (the objective with its KL terms).

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        If the network simplex stops at its iteration limit before reaching
        optimality (the result is then not optimal): ``numItermax``, or by
        default a limit that grows with ``k_s * k_t`` (POT's fixed default of
        100000 stops early from about 3000 components on), with one retry at
        ten times the limit.

    See Also
    --------
    gmm_ot_plan : The optimal plan between the components.
    dist_bures_squared : The ground costs between components.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gmm_ot_loss
    >>> m_s, C_s, w_s = np.array([[0.0], [10.0]]), np.ones((2, 1, 1)), [0.5, 0.5]
    >>> m_t, C_t, w_t = np.array([[1.0], [11.0]]), np.ones((2, 1, 1)), [0.5, 0.5]
    >>> float(gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t))
    1.0
    """
    (ms, Cs, ws), (mt, Ct, wt) = _check_pair(m_s, m_t, C_s, C_t, w_s, w_t)
    numItermax = check_num_iter_max(numItermax)
    reg, reg_m, stopThr = check_entropic(reg, reg_m, stopThr)
    cost = _labelled_cost(ms, Cs, mt, Ct, label_cost, labels_s, labels_t)
    if reg is not None:
        _, info = _entropic_ot(ws, wt, cost, reg, reg_m, numItermax, stopThr)
        return [info["cost"], info] if log else info["cost"]
    out = _exact_ot(ws, wt, cost, False, log, numItermax)
    return list(out) if log else out


def gmm_ot_plan(
    m_s,
    m_t,
    C_s,
    C_t,
    w_s,
    w_t,
    log=False,
    *,
    numItermax=None,
    reg=None,
    reg_m=None,
    stopThr=None,
    label_cost=0.0,
    labels_s=None,
    labels_t=None,
):
    r"""Optimal transport plan between the components of two Gaussian mixtures.

    Parameters
    ----------
    m_s : array-like of shape (k_s, d)
        Means of the source components.
    m_t : array-like of shape (k_t, d)
        Means of the target components.
    C_s : array-like of shape (k_s, d, d)
        Covariances of the source components.
    C_t : array-like of shape (k_t, d, d)
        Covariances of the target components.
    w_s : array-like of shape (k_s,)
        Weights of the source components
        (non-negative, summing to one within 1.5e-6, divided by their sum).
    w_t : array-like of shape (k_t,)
        Weights of the target components.
    log : bool, default=False
        Also return POT's log dictionary.

    numItermax : int, default=None
        Keyword-only. Iteration limit of the network simplex (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 k_s k_t``,
        then ten times that if the simplex stops at it.
    reg : float, default=None
        Keyword-only. Entropic regularisation (POT's ``reg``, in the units of
        the squared-distance costs): None solves the exact problem; a value
        gives the entropic plan of POT's ``sinkhorn`` (log-domain, stable for
        small ``reg``), or with ``reg_m`` its unbalanced one.
    reg_m : float or pair of float, default=None
        Keyword-only, with ``reg``. KL relaxation of the marginals, POT's
        ``sinkhorn_unbalanced(a, b, M, reg, reg_m)`` (``reg_type="kl"``):
        the plan minimises :math:`\langle \pi, M \rangle + reg\, KL(\pi |
        w^s \otimes w^t) + \rho_s KL(\pi 1 | w^s) + \rho_t KL(\pi^\top 1 |
        w^t)` with ``reg_m = rho`` or ``(rho_s, rho_t)``; ``inf`` keeps a
        marginal exact. Components can then be re-weighted (created or
        destroyed mass) instead of transported, which matters when the
        mixtures' weights differ for reasons transport should not explain
        (label shift). OTT-JAX's ``tau`` is ``reg_m = reg * tau / (1 - tau)``.
    stopThr : float, default=None
        Keyword-only, with ``reg``. Tolerance of the iterations: the marginal
        error for balanced plans (default 1e-10), the change of the
        logarithms of the plan's marginals for unbalanced ones (default
        1e-10). ``numItermax`` is
        then their iteration limit (default 10000).
    label_cost : float, default=0.0
        Keyword-only. :math:`\beta` of labelled mixtures (Montesuma et al.,
        2024): the cost between components adds :math:`\beta \|v_i -
        v_j\|^2`, the squared distance of their label vectors, to their
        squared Bures-Wasserstein distance. 0: unlabelled.
    labels_s, labels_t : array-like, default=None
        Keyword-only, with ``label_cost``. The class of every component,
        shapes (k_s,) and (k_t,) (one-hot vectors over the classes of both),
        or label vectors (distributions over classes), (k_s, C) and (k_t, C).

    Returns
    -------
    plan : ndarray of shape (k_s, k_t)
        The GMM-OT plan; its marginals are ``w_s`` and ``w_t`` (with
        ``reg_m``, they are only close to them).
    log : dict
        Only if ``log=True``.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        If the network simplex stops at its iteration limit before reaching
        optimality (the result is then not optimal): ``numItermax``, or by
        default a limit that grows with ``k_s * k_t`` (POT's fixed default of
        100000 stops early from about 3000 components on), with one retry at
        ten times the limit.

    See Also
    --------
    gmm_ot_loss : The cost of this plan.
    gmm_ot_apply_map : Move samples with this plan.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gmm_ot_plan
    >>> m_s, C_s, w_s = np.array([[0.0], [10.0]]), np.ones((2, 1, 1)), [0.5, 0.5]
    >>> m_t, C_t, w_t = np.array([[11.0], [1.0]]), np.ones((2, 1, 1)), [0.5, 0.5]
    >>> gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    (ms, Cs, ws), (mt, Ct, wt) = _check_pair(m_s, m_t, C_s, C_t, w_s, w_t)
    numItermax = check_num_iter_max(numItermax)
    reg, reg_m, stopThr = check_entropic(reg, reg_m, stopThr)
    cost = _labelled_cost(ms, Cs, mt, Ct, label_cost, labels_s, labels_t)
    if reg is not None:
        plan, info = _entropic_ot(ws, wt, cost, reg, reg_m, numItermax, stopThr)
        return (plan, info) if log else plan
    return _exact_ot(ws, wt, cost, True, log, numItermax)


#: Largest accepted gap between a user plan's row sums and the source weights.
PLAN_MARGINAL_ATOL = 1e-6


def _check_plan(plan, w_s, k_t):
    """Validate a user plan: shape (k_s, k_t), non-negative, rows summing to w_s.

    Returns a copy whose rows are rescaled to sum exactly to ``w_s``: the map
    divides row i by ``w_s[i]``, so a row that is off by the (absolute)
    tolerance would scale the map of a component with tiny weight by a large
    factor. A row of a positive weight must carry mass.
    """
    k_s = w_s.shape[0]
    arr = check_means(plan, "plan")
    if arr.shape != (k_s, k_t):
        raise InvalidInputError(
            f"plan must have shape (k_s, k_t) = ({k_s}, {k_t}), got {arr.shape}."
        )
    if np.any(arr < 0.0):
        raise InvalidInputError("plan must be non-negative.")
    totals = arr.sum(axis=1)
    gap = np.abs(totals - w_s).max()
    if gap > PLAN_MARGINAL_ATOL:
        raise InvalidInputError(
            "plan rows must sum to the source weights w_s (within "
            f"{PLAN_MARGINAL_ATOL:g}); the largest gap is {gap:.3g}."
        )
    empty = (totals == 0.0) & (w_s > 0.0)
    if np.any(empty):
        i = int(np.flatnonzero(empty)[0])
        raise InvalidInputError(
            f"plan row {i} is zero while the source weight w_s[{i}] = {w_s[i]:.3g} "
            "is positive: the map needs the plan of every source component."
        )
    scale = np.divide(w_s, totals, out=np.zeros_like(totals), where=totals > 0.0)
    return arr * scale[:, None]


def gmm_ot_apply_map(
    x,
    m_s,
    m_t,
    C_s,
    C_t,
    w_s,
    w_t,
    plan=None,
    method="bary",
    seed=None,
    *,
    numItermax=None,
):
    r"""Move samples with the GMM-OT map between two Gaussian mixtures.

    With ``g_i`` the source component densities, ``p = \sum_k w^s_k g_k`` the
    source density, and ``T_{ij}`` the Gaussian OT map from source component i
    to target component j:

    - ``method="bary"``: :math:`T(x) = \sum_{ij} \pi_{ij} g_i(x) T_{ij}(x) / p(x)`
      (``T_bary`` in [1]_);
    - ``method="rand"``: each sample moves by one :math:`T_{ij}`, drawn with
      probability :math:`\pi_{ij} g_i(x) / p(x)` (``T_rand`` in [1]_). With the
      same ``seed`` the draws are POT's.

    Densities are combined in log-space and the posterior is normalised after
    exponentiation, so points far from every component are mapped without
    overflow and the weights of the component maps sum to one. Far away, the
    posterior itself carries a relative error of about ``eps * |log g_i(x)|``
    (the log-densities are large numbers), e.g. 1e-8 at 1e4 standard deviations.

    Parameters
    ----------
    x : array-like of shape (n, d)
        Samples to move.
    m_s : array-like of shape (k_s, d)
        Means of the source components.
    m_t : array-like of shape (k_t, d)
        Means of the target components.
    C_s : array-like of shape (k_s, d, d)
        Covariances of the source components; positive definite.
    C_t : array-like of shape (k_t, d, d)
        Covariances of the target components.
    w_s : array-like of shape (k_s,)
        Weights of the source components
        (non-negative, summing to one within 1.5e-6, divided by their sum).
    w_t : array-like of shape (k_t,)
        Weights of the target components.
    plan : array-like of shape (k_s, k_t), default=None
        Plan between the components; by default :func:`gmm_ot_plan`. Its rows
        must sum to ``w_s`` (within ``1e-6``): the map averages over each row,
        rescaled to sum exactly to its weight.
    method : {"bary", "rand"}, default="bary"
        Which map to apply.
    seed : int, numpy.random.RandomState, numpy.random.Generator or None
        Randomness of ``method="rand"``.

    numItermax : int, default=None
        Keyword-only. Iteration limit of the network simplex (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 k_s k_t``,
        then ten times that if the simplex stops at it.

    Returns
    -------
    out : ndarray of shape (n, d)
        The moved samples.

    See Also
    --------
    gmm_ot_plan : The plan used by default.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gmm_ot_apply_map
    >>> m_s, C_s, w_s = np.zeros((1, 1)), np.ones((1, 1, 1)), [1.0]
    >>> m_t, C_t, w_t = np.full((1, 1), 5.0), 4 * np.ones((1, 1, 1)), [1.0]
    >>> gmm_ot_apply_map(np.array([[0.0], [1.0]]), m_s, m_t, C_s, C_t, w_s, w_t)
    array([[5.],
           [7.]])
    """
    if method not in ("bary", "rand"):
        raise InvalidInputError(f"method must be 'bary' or 'rand', got {method!r}.")
    (ms, Cs, ws), (mt, Ct, wt) = _check_pair(
        m_s, m_t, C_s, C_t, w_s, w_t, source_pd=True
    )
    x = check_points(x, ms.shape[1], "x")
    if plan is None:
        cost = cost_matrix(ms, Cs, mt, Ct)
        plan = _exact_ot(ws, wt, cost, True, False, check_num_iter_max(numItermax))
    else:
        plan = _check_plan(plan, ws, mt.shape[0])
    return apply_map(x, (ms, Cs, ws), (mt, Ct), plan, method, seed)


def gmm_ot_interpolate(source, target, t, *, numItermax=None):
    r"""Return the GMM-OT geodesic between two Gaussian mixtures at time ``t``.

    McCann's displacement interpolation restricted to Gaussian mixtures
    (Delon & Desolneux [1]_): with :math:`\pi` the GMM-OT plan
    between the components and :math:`T_{ij}(x) = m_j + A_{ij}(x - m_i)` the
    optimal map from source component :math:`i` to target component
    :math:`j`, the mixture at time :math:`t` is

    .. math::

        \mu_t = \sum_{ij} \pi_{ij}\,
        \mathcal{N}\big((1-t) m_i + t m_j,\; B_{ij} S_i B_{ij}\big),
        \qquad B_{ij} = (1-t) I + t A_{ij}.

    It is a constant-speed geodesic for :math:`MW_2`:
    :math:`MW_2(\mu_s, \mu_t) = t\, MW_2(\mu_0, \mu_1)`.

    Parameters
    ----------
    source : GaussianMixture or tuple
        A fitted :class:`sklearn.mixture.GaussianMixture` (any
        ``covariance_type``) or a tuple ``(means, covariances, weights)``.
        Its covariances must be positive definite (a map from a degenerate
        Gaussian is not defined on the whole space).
    target : GaussianMixture or tuple
        The mixture at ``t = 1``, in the same forms; covariances may be
        positive semi-definite.
    t : float
        Time in [0, 1].

    numItermax : int, default=None
        Keyword-only. Iteration limit of the network simplex (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 k_s k_t``,
        then ten times that if the simplex stops at it.

    Returns
    -------
    means : ndarray of shape (n_pairs, d)
        One component per pair ``(i, j)`` with plan mass, in row-major order
        of the plan; components with zero plan mass are dropped.
    covariances : ndarray of shape (n_pairs, d, d)
    weights : ndarray of shape (n_pairs,)
        The plan's masses :math:`\pi_{ij}`, summing to one.

    See Also
    --------
    gmm_ot_plan : The plan that couples the components.
    GMMOTFlow : ``method="geodesic"`` samples this path and moves samples
        along it.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gmm_ot_interpolate
    >>> source = (np.array([[0.0], [10.0]]), np.ones((2, 1, 1)), np.array([0.5, 0.5]))
    >>> target = (np.array([[2.0]]), 4 * np.ones((1, 1, 1)), np.array([1.0]))
    >>> means, covs, weights = gmm_ot_interpolate(source, target, 0.5)
    >>> means.ravel(), covs.ravel(), weights
    (array([1., 6.]), array([2.25, 2.25]), array([0.5, 0.5]))
    """
    t = check_time(t)
    src = check_mixture(source, "source mixture", positive_definite=True)
    tgt = check_mixture(target, "target mixture")
    _check_pair_features(src, tgt)
    cost = cost_matrix(src[0], src[1], tgt[0], tgt[1])
    plan = _exact_ot(src[2], tgt[2], cost, True, False, check_num_iter_max(numItermax))
    rows, cols = np.nonzero(plan > 0.0)
    maps = gaussian_pair_maps(src[1], tgt[1], rows, cols)
    return geodesic_state(src, tgt, (rows, cols, maps, plan[rows, cols]), t)


def gmm_pdf(x, m, C, w):
    """Density of a Gaussian mixture at given points.

    Parameters
    ----------
    x : array-like of shape (..., d)
        Points.
    m : array-like of shape (k, d)
        Means of the components.
    C : array-like of shape (k, d, d)
        Covariances of the components; positive definite.
    w : array-like of shape (k,)
        Weights of the components
        (non-negative, summing to one within 1.5e-6, divided by their sum).

    Returns
    -------
    pdf : ndarray of shape (...) or numpy.float64
        The mixture density at every point, computed as the exponential of a
        log-sum-exp of the component log-densities. For one point ``x`` of
        shape (d,), a :class:`numpy.float64` scalar, as POT returns.

    See Also
    --------
    gmm_ot_apply_map : Uses the same component densities.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gmm_pdf
    >>> pdf = gmm_pdf(np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1, 1)), [1.0])
    >>> round(float(pdf[0]), 6)
    0.398942
    """
    means, covs, weights = check_gmm_arrays(
        m,
        C,
        w,
        "mixture",
        ("means m", "covariances C", "weights w"),
        positive_definite=True,
    )
    d = means.shape[1]
    arr = np.asarray(x)
    if arr.ndim == 0 or arr.shape[-1] != d:
        raise InvalidInputError(f"x must have shape (..., {d}), got shape {arr.shape}.")
    flat = check_points(arr.reshape(-1, d), d, "x")
    log_pdf = log_mixture_pdf(flat, means, covs, weights)
    return np.exp(log_pdf).reshape(arr.shape[:-1])[()]


def bures_wasserstein_barycenter(
    m,
    C,
    weights=None,
    num_iter=1000,
    eps=1e-7,
    log=False,
    *,
    method="fixed_point",
    step_size=1,
    batch_size=None,
):
    r"""Bures-Wasserstein barycenter of Gaussian distributions.

    The barycenter of :math:`N(m_k, C_k)` with coefficients :math:`\lambda_k` is
    Gaussian with mean :math:`\sum_k \lambda_k m_k` and the covariance solving
    :math:`S = \sum_k \lambda_k (S^{1/2} C_k S^{1/2})^{1/2}`, computed by the
    fixed point of Álvarez-Esteban et al. [2]_,
    :math:`S \leftarrow S^{-1/2} (\sum_k \lambda_k (S^{1/2} C_k S^{1/2})^{1/2})^2
    S^{-1/2}`, which provably converges (POT iterates the plain map, which is
    not guaranteed to). The signature is POT's
    (``ot.gaussian.bures_wasserstein_barycenter``).

    Parameters
    ----------
    m : array-like of shape (k, d)
        Means of the Gaussians.
    C : array-like of shape (k, d, d)
        Covariances of the Gaussians.
    weights : array-like of shape (k,), default=None
        Barycentric coefficients (non-negative, summing to one within 1.5e-6,
        divided by their sum); uniform if None.
    num_iter : int, default=1000
        Maximum number of iterations.
    eps : float, default=1e-7
        Stop when the relative change ``||S_new - S||_F / ||S_new||_F`` of the
        covariance falls below ``eps``. Unlike POT's absolute threshold, this
        does not depend on the scale of the covariances.
    log : bool, default=False
        Also return a dictionary with ``num_iter`` (iterations done) and
        ``final_diff`` (last relative change).
    method : {"fixed_point", "gradient_descent"}, default="fixed_point"
        Keyword-only (POT passes it 4th; skgmmot keeps ``num_iter`` there).
        ``"fixed_point"``: the iteration above. ``"gradient_descent"``: the
        Riemannian gradient descent of Chewi et al. [4]_ with step
        ``step_size``, :math:`S \leftarrow E S E` with
        :math:`E = (1 - \eta) I + \eta \sum_k \lambda_k T_k` and
        :math:`T_k` the OT map from :math:`N(0, S)` to :math:`N(0, C_k)`
        (for ``step_size=1``, the same iteration as ``"fixed_point"``); it
        needs positive definite covariances. Both converge to the same
        barycenter. POT's ``"stochastic_gradient_descent"`` and
        ``"averaged_stochastic_gradient_descent"`` draw from NumPy's global
        random state and are not provided: they raise a ``ValueError``.
    step_size : float, default=1
        Step of ``method="gradient_descent"``, in (0, 1] (larger steps can
        leave the cone of positive definite matrices).
    batch_size : None, default=None
        POT's batch size of its stochastic methods; only None is accepted.

    Returns
    -------
    mb : ndarray of shape (d,)
        Mean of the barycenter.
    Cb : ndarray of shape (d, d)
        Covariance of the barycenter.
    log : dict
        Only if ``log=True``.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        If the tolerance was not reached within ``num_iter`` iterations.

    See Also
    --------
    gmm_barycenter_fixed_point : Barycenters of Gaussian mixtures.

    References
    ----------
    .. [2] Álvarez-Esteban, P. C., del Barrio, E., Cuesta-Albertos, J. A., &
       Matrán, C. (2016). A fixed-point approach to barycenters in Wasserstein
       space. Journal of Mathematical Analysis and Applications, 441(2),
       744-762.
    .. [4] Chewi, S., Maunu, T., Rigollet, P., & Stromme, A. J. (2020).
       Gradient descent algorithms for Bures-Wasserstein barycenters.
       Conference on Learning Theory, 1276-1304.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import bures_wasserstein_barycenter
    >>> m = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> C = np.array([np.eye(2), 9 * np.eye(2)])
    >>> mb, Cb = bures_wasserstein_barycenter(m, C)
    >>> mb, np.round(Cb, 12)
    (array([1., 0.]), array([[4., 0.],
           [0., 4.]]))
    """
    if isinstance(num_iter, str):
        raise InvalidInputError(
            f"num_iter must be an integer, got {num_iter!r}; pass the method by "
            f"keyword (method={num_iter!r}): skgmmot keeps num_iter 4th, where "
            "POT has method."
        )
    step_size = _check_barycenter_method(method, step_size, batch_size)
    means, covs = check_gaussians(
        m,
        C,
        "Gaussians",
        ("means m", "covariances C"),
        **_barycenter_method_needs(method),
    )
    k = means.shape[0]
    if weights is None:
        weights = np.full(k, 1.0 / k)
    else:
        weights = check_weights(weights, k, "weights")
    num_iter = check_positive_int(num_iter, "num_iter")
    eps = check_tolerance(eps, "eps")
    mb = weights @ means
    init = np.einsum("k,kab->ab", weights, covs)[None]
    index = np.arange(k, dtype=np.int64)[None]
    notes = Notes()
    if method == "gradient_descent":
        out, n_iter, diff = _gradient_barycenter(
            covs, weights, init, step_size, eps, num_iter, notes
        )
    else:
        out, n_iter, diff = bures_barycenters(
            covs,
            index,
            weights[None],
            init,
            eps,
            num_iter,
            "bures_wasserstein_barycenter",
            notes,
        )
    warn_notes(notes)
    if log:  # the types of POT's log: int and numpy.float64
        log = {"num_iter": int(n_iter[0]), "final_diff": np.float64(diff[0])}
        return mb, out[0], log
    return mb, out[0]


def _check_projection(method):
    """Validate ``barycentric_proj_method``."""
    if not isinstance(method, str) or method not in PROJECTIONS:
        raise InvalidInputError(
            "barycentric_proj_method must be one of "
            f"{', '.join(map(repr, PROJECTIONS))}, got {method!r}."
        )


def _check_input_mixtures(means_list, covs_list, w_list):
    lengths = {len(means_list), len(covs_list), len(w_list)}
    if len(lengths) != 1:
        raise InvalidInputError(
            "means_list, covs_list and w_list must have the same length, got "
            f"{len(means_list)}, {len(covs_list)} and {len(w_list)}."
        )
    if not means_list:
        raise InvalidInputError("At least one input mixture is needed, got none.")
    mixtures = []
    for k, (m, C, w) in enumerate(zip(means_list, covs_list, w_list, strict=True)):
        fields = (f"means_list[{k}]", f"covs_list[{k}]", f"w_list[{k}]")
        mixtures.append(check_gmm_arrays(m, C, w, f"input mixture {k}", fields))
        check_n_features(
            mixtures[-1][0].shape[1],
            mixtures[0][0].shape[1],
            f"input mixture {k}",
            "input mixture 0",
            "all input mixtures",
        )
    return mixtures


def gmm_barycenter_fixed_point(
    means_list,
    covs_list,
    w_list,
    means_init,
    covs_init,
    weights,
    w_bar=None,
    iterations=100,
    log=False,
    barycentric_proj_method="euclidean",
    *,
    numItermax=None,
):
    r"""GMM-OT barycenter of Gaussian mixtures by the fixed-point method.

    The method of Tanguy, Delon & Gozlan [3]_: every iteration computes the K
    GMM-OT plans between the current barycenter and the inputs, then replaces
    each barycenter component i by a Gaussian computed from row i of the
    plans (see ``barycentric_proj_method``). The barycenter's component
    weights stay ``w_bar``.

    Unlike POT 0.9, the rows are divided by the barycenter weight :math:`w_i`
    (POT multiplies by ``n``, which is only right for uniform ``w_bar``), and
    ``means_init`` / ``covs_init`` are not modified.

    Parameters
    ----------
    means_list : list of array-like of shape (m_k, d)
        Means of the K input mixtures.
    covs_list : list of array-like of shape (m_k, d, d)
        Covariances of the K input mixtures.
    w_list : list of array-like of shape (m_k,)
        Weights of the K input mixtures.
    means_init : array-like of shape (n, d)
        Initial barycenter means.
    covs_init : array-like of shape (n, d, d)
        Initial barycenter covariances.
    weights : array-like of shape (K,)
        Barycentric coefficients of the inputs (non-negative, summing to one
        within 1.5e-6, divided by their sum).
    w_bar : array-like of shape (n,), default=None
        Weights of the barycenter components; uniform if None.
    iterations : int, default=100
        Number of fixed-point iterations.
    log : bool, default=False
        Also return ``{"means_its": [...], "covs_its": [...]}``, the iterates
        (including the initial point).
    barycentric_proj_method : str, default="euclidean"
        How component i is updated from row i of the plans, whose weights for
        input k are :math:`\pi_k[i, :] / w_i`. One of:

        - ``"euclidean"``: the Bures barycenter (coefficients ``weights``) of
          one Gaussian per input, the convex combination of the input's means
          and covariances with the row weights (POT's ``"euclidean"``);
        - ``"bures"``: the Gaussian barycenter of all the input components,
          with coefficients :math:`\lambda_k \pi_k[i, j] / w_i`
          (:math:`\lambda` = ``weights``). It minimises the objective (the
          :math:`\lambda`-weighted sum of the plans' transport costs) for the
          plans, so the objective never increases from one iteration to the
          next;
        - ``"bures_two_stage"``: POT's ``"bures"``, as ``"euclidean"`` but the
          Gaussian of input k is the Bures barycenter of its components with
          the row weights. Not the minimiser: the objective can rise (by up to
          3e-4 relative on ill-conditioned inputs); for parity with POT.

    numItermax : int, default=None
        Keyword-only. Iteration limit of the network simplex (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 k_s k_t``,
        then ten times that if the simplex stops at it.

    Returns
    -------
    means : ndarray of shape (n, d)
        Barycenter means.
    covs : ndarray of shape (n, d, d)
        Barycenter covariances.
    log : dict
        Only if ``log=True``.

    See Also
    --------
    bures_wasserstein_barycenter : The Gaussian barycenter used per component.
    gmm_ot_plan : The plans computed at every iteration.

    References
    ----------
    .. [3] Tanguy, E., Delon, J., & Gozlan, N. (2024). Computing barycenters of
       measures for generic transport costs. arXiv:2501.04016.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gmm_barycenter_fixed_point
    >>> means = [np.array([[0.0], [10.0]]), np.array([[2.0], [12.0]])]
    >>> covs = [np.ones((2, 1, 1)), 9 * np.ones((2, 1, 1))]
    >>> ws = [np.array([0.5, 0.5])] * 2
    >>> mb, Cb = gmm_barycenter_fixed_point(
    ...     means, covs, ws, np.array([[1.0], [9.0]]), np.ones((2, 1, 1)), [0.5, 0.5]
    ... )
    >>> mb.ravel(), Cb.ravel()
    (array([ 1., 11.]), array([4., 4.]))
    """
    _check_projection(barycentric_proj_method)
    mixtures = _check_input_mixtures(means_list, covs_list, w_list)
    K = len(mixtures)
    d = mixtures[0][0].shape[1]
    means, covs = check_gaussians(
        means_init, covs_init, "initial barycenter", ("means_init", "covs_init")
    )
    check_n_features(means.shape[1], d, "initial barycenter", "the input mixtures")
    n = means.shape[0]
    lambdas = check_weights(weights, K, "weights")
    if w_bar is None:
        w_bar = np.full(n, 1.0 / n)
    else:
        w_bar = check_weights(w_bar, n, "w_bar")
    iterations = check_positive_int(iterations, "iterations", allow_zero=True)
    numItermax = check_num_iter_max(numItermax)

    means_its, covs_its = [], []

    def record(_, means, covs, *__):
        if log:
            means_its.append(means.copy())
            covs_its.append(covs.copy())

    notes = Notes()
    result = fixed_point(
        Pooled(mixtures, lambdas),
        lambdas,
        means,
        covs,
        w_bar,
        projection=barycentric_proj_method,
        planner=Planner(Solver("exact", num_iter_max=numItermax, notes=notes)),
        max_iter=iterations,
        notes=notes,
        callback=record,
    )
    warn_notes(notes)
    means, covs = result.means, result.covs
    if log:
        return means, covs, {"means_its": means_its, "covs_its": covs_its}
    return means, covs


def gmm_barycenter_multimarginal(
    means_list,
    covs_list,
    w_list,
    weights=None,
    log=False,
    *,
    max_support=None,
    max_tuples=MAX_TUPLES,
    iterations=100,
    barycentric_proj_method="euclidean",
    numItermax=None,
):
    r"""Compute the exact GMM-OT barycenter by the multi-marginal linear program.

    Delon & Desolneux [1]_ (section 5) show that the mixture minimising
    :math:`\sum_k \lambda_k MW_2^2(\bar\mu, \mu_k)` over all Gaussian
    mixtures solves a linear program over the K-tuples
    :math:`t = (j_1, \dots, j_K)` of input components: the tuple's Gaussians
    have a Bures barycenter :math:`\bar g_t` (coefficients :math:`\lambda`)
    at cost :math:`c_t = \sum_k \lambda_k W_2^2(\bar g_t, g_{k, j_k})`, and
    the program chooses a mass for every tuple so that, for each input k, the
    tuples through its component j carry its weight :math:`w_{k, j}`. The
    barycenter has one component :math:`\bar g_t` per tuple of positive mass,
    with that mass as weight: at most :math:`\sum_k k_k - K + 1` components
    (a vertex of the program). The program is sparse (K non-zeros per tuple)
    and solved exactly by HiGHS's dual simplex; the Gaussian barycenters of
    the tuples by the batched fixed-point kernel of the fixed-point method
    [2]_, which is the fast heuristic for the same problem.

    Its size is the product of the input sizes: inputs of 10 components each
    give 1000 tuples for K = 3 and 1e6 for K = 6. Above ``max_tuples`` it
    raises.

    Parameters
    ----------
    means_list : list of array-like of shape (k_k, d)
        Means of the K input mixtures.
    covs_list : list of array-like of shape (k_k, d, d)
        Covariances of the K input mixtures.
    w_list : list of array-like of shape (k_k,)
        Weights of the K input mixtures.
    weights : array-like of shape (K,), default=None
        Barycentric coefficients of the inputs; uniform if None.
    log : bool, default=False
        Also return a dictionary with ``"cost"`` (the objective of the
        returned barycenter), ``"exact_cost"`` (the program's optimum),
        ``"tuples"`` (the (n, K) input components averaged by every returned
        component, or None if capped), ``"plans"`` (the K plans from the
        barycenter to the inputs), ``"duals"`` (K arrays, optimal dual
        variables of the marginal constraints), ``"n_tuples"``,
        ``"support_size"`` (the exact barycenter's number of components) and
        ``"capped"``.

    max_support : int, default=None
        Keyword-only. The most components the barycenter may have. If the
        exact barycenter has more, its ``max_support`` heaviest components
        start the fixed point (weights learned, ``iterations`` and
        ``barycentric_proj_method`` as in
        :func:`gmm_barycenter_fixed_point`), whose result is returned: a
        local optimum for that size, no longer exact. None: no cap.
    max_tuples : int, default=1000000
        Keyword-only. The largest product of input sizes solved.
    iterations : int, default=100
        Keyword-only. Fixed-point iterations at most when capped.
    barycentric_proj_method : str, default="euclidean"
        Keyword-only. The fixed point's projection when capped:
        ``"euclidean"``, ``"bures"`` or ``"bures_two_stage"`` (see
        :func:`gmm_barycenter_fixed_point`).
    numItermax : int, default=None
        Keyword-only. Iteration limit of the network simplex of the plans
        (``ot.emd``'s ``numItermax``); see :func:`gmm_ot_plan`.

    Returns
    -------
    means : ndarray of shape (n, d)
        Barycenter means.
    covs : ndarray of shape (n, d, d)
        Barycenter covariances.
    w : ndarray of shape (n,)
        Barycenter weights.
    log : dict
        Only if ``log=True``.

    See Also
    --------
    gmm_barycenter_fixed_point : The fixed-point heuristic, for any size.
    GMMOTBarycenter : The estimator; ``algorithm="multimarginal"`` calls this.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.
    .. [2] Tanguy, E., Delon, J., & Gozlan, N. (2024). Computing barycenters of
       measures for generic transport costs. arXiv:2501.04016.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gmm_barycenter_multimarginal

    Two clusters whose sizes differ between the inputs: the mass that moves
    between clusters becomes a third component, half-way.

    >>> mb, Cb, wb = gmm_barycenter_multimarginal(
    ...     [np.array([[0.0], [10.0]]), np.array([[2.0], [12.0]])],
    ...     [np.ones((2, 1, 1)), 4 * np.ones((2, 1, 1))],
    ...     [np.array([0.5, 0.5]), np.array([0.3, 0.7])],
    ... )
    >>> mb.ravel(), Cb.ravel(), wb
    (array([ 1.,  6., 11.]), array([2.25, 2.25, 2.25]), array([0.3, 0.2, 0.5]))
    """
    mixtures = _check_input_mixtures(means_list, covs_list, w_list)
    K = len(mixtures)
    if weights is None:
        lambdas = np.full(K, 1.0 / K)
    else:
        lambdas = check_weights(weights, K, "weights")
    max_tuples = check_positive_int(max_tuples, "max_tuples")
    if max_support is not None:
        max_support = check_positive_int(max_support, "max_support")
    iterations = check_positive_int(iterations, "iterations", allow_zero=True)
    _check_projection(barycentric_proj_method)
    numItermax = check_num_iter_max(numItermax)
    sizes = [m.shape[0] for m, _, _ in mixtures]
    check_tuple_count(sizes, max_tuples, "gmm_barycenter_multimarginal")

    notes = Notes()
    pooled = Pooled(mixtures, lambdas)
    exact = multimarginal_barycenter(pooled, lambdas, notes)
    planner = Planner(Solver("exact", num_iter_max=numItermax, notes=notes))
    capped = max_support is not None and exact.weights.size > max_support
    if capped:
        means, covs, w, _ = heaviest_atoms(exact, max_support)
        result = fixed_point(
            pooled,
            lambdas,
            means,
            covs,
            w,
            projection=barycentric_proj_method,
            planner=planner,
            max_iter=iterations,
            learn_weights=True,
            notes=notes,
        )
        means, covs, w = result.means, result.covs, result.weights
        plans, cost, tuples = pooled.split(result.plan), result.objective, None
    else:
        means, covs, w = exact.means, exact.covs, exact.weights
        plans, cost, tuples = exact.plans(sizes), exact.objective, exact.tuples
    warn_notes(notes)
    if not log:
        return means, covs, w
    return (
        means,
        covs,
        w,
        {
            "cost": cost,
            "exact_cost": exact.objective,
            "tuples": tuples,
            "plans": [np.array(p) for p in plans],
            "duals": exact.duals,
            "n_tuples": exact.n_tuples,
            "support_size": int(exact.weights.size),
            "capped": bool(capped),
        },
    )


# --------------------------------------------------------------------------
# POT parity: single Gaussians, the coupling's density, barycenter methods
# --------------------------------------------------------------------------

#: POT's stochastic Bures barycenter methods, which skgmmot does not provide.
_STOCHASTIC_METHODS = (
    "stochastic_gradient_descent",
    "averaged_stochastic_gradient_descent",
)


def _check_barycenter_method(method, step_size, batch_size):
    """Validate ``bures_wasserstein_barycenter``'s POT options; return the step."""
    if isinstance(method, str) and method in _STOCHASTIC_METHODS:
        raise InvalidInputError(
            f"method={method!r} (POT's stochastic gradient descent) is not "
            "provided: it draws from NumPy's global random state, so its results "
            "cannot be reproduced; use 'fixed_point' or 'gradient_descent', which "
            "converge to the same barycenter."
        )
    if not isinstance(method, str) or method not in ("fixed_point", "gradient_descent"):
        raise InvalidInputError(
            f"method must be 'fixed_point' or 'gradient_descent', got {method!r}."
        )
    if batch_size is not None:
        raise InvalidInputError(
            "batch_size is only used by POT's stochastic methods, which skgmmot "
            f"does not provide; it must be None, got {batch_size!r}."
        )
    if method != "gradient_descent":
        return None  # POT ignores step_size here too
    if (
        isinstance(step_size, bool)
        or not isinstance(step_size, numbers.Real)
        or not 0.0 < step_size <= 1.0  # also rejects NaN
    ):
        raise InvalidInputError(
            f"step_size must be a number in (0, 1], got {step_size!r}."
        )
    return float(step_size)


def _barycenter_method_needs(method):
    """Keyword arguments of ``check_covariances`` for a barycenter method."""
    if method == "gradient_descent":
        return {
            "positive_definite": True,
            "reason": "method='gradient_descent' needs non-singular covariances",
        }
    return {}


def _gradient_barycenter(covs, weights, init, step_size, eps, num_iter, notes):
    """``bures_barycenters``' outputs for the Bures gradient descent (one problem)."""
    cov, n_iter, diff = gaussian.bures_gradient_descent(
        covs, weights, init[0], step_size, eps, num_iter
    )
    if diff > eps:
        notes.add(
            "gaussian barycenter",
            f"bures_wasserstein_barycenter did not converge in {num_iter} "
            f"iterations: relative change {diff:.3g} > tolerance {eps:.3g}.",
        )
    return cov[None], np.array([n_iter]), np.array([diff])


def _check_gaussian(m, C, name, fields, **kwargs):
    """Validate one Gaussian given as a mean (d,) and a covariance (d, d)."""
    mean, _ = _as_float_array(m, f"{name}: {fields[0]}")
    cov, _ = _as_float_array(C, f"{name}: {fields[1]}")
    if mean.ndim != 1:
        raise InvalidInputError(
            f"{name}: {fields[0]} must be a 1-D array of shape (n_features,), "
            f"got shape {mean.shape}."
        )
    if cov.ndim != 2:
        raise InvalidInputError(
            f"{name}: {fields[1]} must be a 2-D array of shape (n_features, "
            f"n_features), got shape {cov.shape}."
        )
    means, covs = check_gaussians(mean[None], cov[None], name, fields, **kwargs)
    return means[0], covs[0]


def _check_points_nd(x, d, label="x"):
    """Validate points of shape (..., d); return them flat (n, d) and the shape."""
    arr = np.asarray(x)
    if arr.ndim == 0 or arr.shape[-1] != d:
        raise InvalidInputError(
            f"{label} must have shape (..., {d}), got shape {arr.shape}."
        )
    return check_points(arr.reshape(-1, d), d, label), arr.shape[:-1]


def gaussian_logpdf(x, m, C):
    r"""Log-density of a Gaussian distribution at given points.

    .. math::
        \log \mathcal{N}(x; m, C) = -\frac{1}{2}\big(d \log(2\pi)
        + \log\det C + (x - m)^\top C^{-1} (x - m)\big)

    Computed from the Cholesky factor :math:`C = L L^\top` as
    :math:`-\frac{d}{2}\log(2\pi) - \sum_a \log L_{aa} -
    \frac{1}{2}\|L^{-1}(x - m)\|^2`: no inverse of :math:`C`, and finite far
    in the tails, where the density itself underflows to zero.

    Parameters
    ----------
    x : array-like of shape (..., d)
        Points.
    m : array-like of shape (d,)
        Mean of the Gaussian.
    C : array-like of shape (d, d)
        Covariance of the Gaussian; positive definite.

    Returns
    -------
    logpdf : ndarray of shape (...) or numpy.float64
        The log-density at every point; for one point ``x`` of shape (d,), a
        :class:`numpy.float64` scalar, as POT returns.

    See Also
    --------
    gaussian_pdf : The density itself.
    gmm_pdf : The density of a Gaussian mixture.
    ot.gmm.gaussian_logpdf : POT's version of this function.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gaussian_logpdf
    >>> logpdf = gaussian_logpdf(np.zeros((2, 1)), np.zeros(1), np.eye(1))
    >>> np.round(logpdf, 6)
    array([-0.918939, -0.918939])
    >>> round(float(gaussian_logpdf(np.zeros(1), np.zeros(1), np.eye(1))), 6)
    -0.918939
    """
    mean, cov = _check_gaussian(
        m, C, "Gaussian", ("mean m", "covariance C"), positive_definite=True
    )
    flat, shape = _check_points_nd(x, mean.shape[0])
    chol = np.linalg.cholesky(cov)
    log_pdf = gaussian.log_densities(flat, mean[None], chol[None])[:, 0]
    return log_pdf.reshape(shape)[()]


def gaussian_pdf(x, m, C):
    r"""Density of a Gaussian distribution at given points.

    The exponential of :func:`gaussian_logpdf`.

    Parameters
    ----------
    x : array-like of shape (..., d)
        Points.
    m : array-like of shape (d,)
        Mean of the Gaussian.
    C : array-like of shape (d, d)
        Covariance of the Gaussian; positive definite.

    Returns
    -------
    pdf : ndarray of shape (...) or numpy.float64
        The density at every point; for one point ``x`` of shape (d,), a
        :class:`numpy.float64` scalar, as POT returns.

    See Also
    --------
    gaussian_logpdf : The log-density, finite far in the tails.
    gmm_pdf : The density of a Gaussian mixture.
    ot.gmm.gaussian_pdf : POT's version of this function.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gaussian_pdf
    >>> round(float(gaussian_pdf(np.zeros(2), np.zeros(2), np.eye(2))), 6)
    0.159155
    """
    return np.exp(gaussian_logpdf(x, m, C))


def bures_wasserstein_mapping(ms, mt, Cs, Ct, log=False):
    r"""Optimal transport map between two Gaussian distributions.

    The map :math:`T(x) = A x + b` pushes :math:`N(m_s, C_s)` onto
    :math:`N(m_t, C_t)` at the least quadratic cost (Knott & Smith [5]_):

    .. math::
        A = C_s^{-1/2} \big(C_s^{1/2} C_t C_s^{1/2}\big)^{1/2} C_s^{-1/2},
        \qquad b = m_t - A m_s.

    ``A`` is the matrix that :func:`gmm_ot_apply_map` uses for a pair of
    components, computed without forming :math:`C_s^{-1/2}` (closed forms in
    dimensions 1 and 2, a factorisation of :math:`C_s` above). Same signature
    and results as POT's ``ot.gaussian.bures_wasserstein_mapping``.

    Parameters
    ----------
    ms : array-like of shape (d,)
        Mean of the source Gaussian.
    mt : array-like of shape (d,)
        Mean of the target Gaussian.
    Cs : array-like of shape (d, d)
        Covariance of the source Gaussian; positive definite.
    Ct : array-like of shape (d, d)
        Covariance of the target Gaussian; positive semi-definite.
    log : bool, default=False
        Also return POT's log dictionary: ``Cs12`` and ``Cs12inv``, the square
        root of ``Cs`` and its inverse.

    Returns
    -------
    A : ndarray of shape (d, d)
        Linear part of the map (symmetric positive semi-definite).
    b : ndarray of shape (d,)
        Translation part of the map.
    log : dict
        Only if ``log=True``.

    See Also
    --------
    gmm_ot_apply_map : Maps between Gaussian mixtures built on these.
    ot.gaussian.bures_wasserstein_mapping : POT's version of this function.

    References
    ----------
    .. [5] Knott, M., & Smith, C. S. (1984). On the optimal mapping of
       distributions. Journal of Optimization Theory and Applications, 43(1),
       39-49.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import bures_wasserstein_mapping
    >>> A, b = bures_wasserstein_mapping(
    ...     np.zeros(2), np.array([1.0, 2.0]), np.eye(2), np.diag([4.0, 9.0])
    ... )
    >>> np.round(A, 12), b
    (array([[2., 0.],
           [0., 3.]]), array([1., 2.]))
    """
    mean_s, cov_s = _check_gaussian(
        ms,
        Cs,
        "source Gaussian",
        ("mean ms", "covariance Cs"),
        positive_definite=True,
        reason="the map inverts the square root of the source covariance",
    )
    mean_t, cov_t = _check_gaussian(
        mt, Ct, "target Gaussian", ("mean mt", "covariance Ct")
    )
    check_n_features(
        mean_t.shape[0],
        mean_s.shape[0],
        "target Gaussian",
        "source Gaussian",
        "the source and target Gaussians",
    )
    A = gaussian.map_linear_parts(cov_s[None], cov_t[None], [0], [0])[0]
    b = mean_t - A @ mean_s
    if log:
        root, inverse_root = gaussian.sqrt_and_inverse_sqrt(cov_s)
        return A, b, {"Cs12": root, "Cs12inv": inverse_root}
    return A, b


def _check_atol(atol):
    if (
        isinstance(atol, bool)
        or not isinstance(atol, numbers.Real)
        or not atol >= 0.0  # also rejects NaN
    ):
        raise InvalidInputError(f"atol must be a number >= 0, got {atol!r}.")
    return float(atol)


def gmm_ot_plan_density(
    x, y, m_s, m_t, C_s, C_t, w_s, w_t, plan=None, atol=1e-2, *, numItermax=None
):
    r"""Density of the GMM-OT coupling at every pair of points, as POT defines it.

    The GMM-OT coupling between the mixtures is
    :math:`\gamma = \sum_{ij} \pi_{ij} (\mathrm{Id}, T_{ij})_\# g_i`, with
    :math:`g_i` the source components, :math:`\pi` the plan and
    :math:`T_{ij}` the Gaussian OT map from source component i to target
    component j (Delon & Desolneux [1]_). It is carried by the graphs of the
    maps and has no density on the product space; POT's
    ``gmm_ot_plan_density``, whose semantics this function keeps, replaces
    the Dirac along each graph by the indicator that ``y`` is within
    ``atol`` of :math:`T_{ij}(x)`:

    .. math::
        p(x, y) = \sum_{ij} \pi_{ij}\, g_i(x)\,
        \mathbf{1}\{\|T_{ij}(x) - y\|_2 < \mathrm{atol}\}.

    So a pair ``(x, y)`` counts as on the graph of the map of ``(i, j)`` when
    the Euclidean distance between :math:`T_{ij}(x)` and ``y`` is strictly
    below ``atol`` (an absolute distance, in the units of the data; with
    ``atol=0`` no pair does), and then contributes
    :math:`\pi_{ij} g_i(x)`, whatever its distance; pairs of components
    without plan mass contribute nothing. The result is a density in ``x``
    (for each ``x``, summing over the ``y`` on the graphs of its maps gives
    back the source density) but not in ``y``: it is meant for pictures of
    the coupling.

    Parameters
    ----------
    x : array-like of shape (n, d)
        Points of the source space.
    y : array-like of shape (m, d)
        Points of the target space.
    m_s : array-like of shape (k_s, d)
        Means of the source components.
    m_t : array-like of shape (k_t, d)
        Means of the target components.
    C_s : array-like of shape (k_s, d, d)
        Covariances of the source components; positive definite.
    C_t : array-like of shape (k_t, d, d)
        Covariances of the target components.
    w_s : array-like of shape (k_s,)
        Weights of the source components
        (non-negative, summing to one within 1.5e-6, divided by their sum).
    w_t : array-like of shape (k_t,)
        Weights of the target components.
    plan : array-like of shape (k_s, k_t), default=None
        Plan between the components; by default :func:`gmm_ot_plan`. As in
        :func:`gmm_ot_apply_map`, its rows must sum to ``w_s`` (within 1e-6)
        and are rescaled to sum exactly to it.
    atol : float, default=1e-2
        Distance below which ``y`` counts as the image of ``x``.

    numItermax : int, default=None
        Keyword-only. Iteration limit of the network simplex (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 k_s k_t``,
        then ten times that if the simplex stops at it.

    Returns
    -------
    density : ndarray of shape (n, m)
        ``density[a, b]`` is :math:`p(x_a, y_b)`.

    See Also
    --------
    gmm_ot_plan : The plan between the components.
    gmm_ot_apply_map : Moves samples with the maps :math:`T_{ij}`.
    ot.gmm.gmm_ot_plan_density : POT's version of this function.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.

    Examples
    --------
    One Gaussian mapped onto another: ``x = 1`` goes to ``T(1) = 7``.

    >>> import numpy as np
    >>> from skgmmot import gmm_ot_plan_density
    >>> m_s, C_s, w_s = np.zeros((1, 1)), np.ones((1, 1, 1)), [1.0]
    >>> m_t, C_t, w_t = np.full((1, 1), 5.0), 4 * np.ones((1, 1, 1)), [1.0]
    >>> x, y = np.array([[1.0]]), np.array([[7.0], [7.005], [7.5]])
    >>> np.round(gmm_ot_plan_density(x, y, m_s, m_t, C_s, C_t, w_s, w_t), 6)
    array([[0.241971, 0.241971, 0.      ]])
    """
    (ms, Cs, ws), (mt, Ct, wt) = _check_pair(
        m_s, m_t, C_s, C_t, w_s, w_t, source_pd=True
    )
    d = ms.shape[1]
    x = check_points(x, d, "x")
    y = check_points(y, d, "y")
    atol = _check_atol(atol)
    if plan is None:
        cost = cost_matrix(ms, Cs, mt, Ct)
        plan = _exact_ot(ws, wt, cost, True, False, check_num_iter_max(numItermax))
    else:
        plan = _check_plan(plan, ws, mt.shape[0])
    return gaussian.plan_density(x, y, (ms, Cs), (mt, Ct), plan, atol)
