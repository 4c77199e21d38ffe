"""GMMOTFlow: gradient flows and geodesics between Gaussian mixtures."""

import numbers
import time
import warnings
from typing import ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    clone,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from skgmmot._base import (
    atomic_fit,
    fit_random_state,
    fitted_gaussian_mixture,
    floor_eigenvalues,
)
from skgmmot._compat import Interval, StrOptions, _fit_context
from skgmmot._kernels._density import _map_barycentric, _map_random
from skgmmot._kernels._flow import _flow_step
from skgmmot._kernels._threads import run
from skgmmot._transport import exact_duals, exact_plan, sinkhorn_plan
from skgmmot._validation import check_mixture, check_time, is_mixture_like
from skgmmot.ot import (
    _apply_map,
    _cost_matrix,
    _gaussian_pair_maps,
    _geodesic_state,
    _log_densities,
    _log_weights,
    _posterior,
)

_FLOWS = ("means", "covariances", "weights")
#: Halvings of a step before the flow counts as stalled.
MAX_HALVINGS = 30
#: The weight step grows by this factor after a success (halves otherwise).
STEP_GROWTH = 1.5


def _check_labels(sample_domain, n_samples):
    labels = np.asarray(sample_domain)
    if labels.shape != (n_samples,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            "sample_domain must hold one integer label per sample (>= 0 source, "
            f"< 0 target), got an array of shape {labels.shape} and dtype "
            f"{labels.dtype}."
        )
    return labels


# ------------------------------------------------------------------ the math


def _pair_maps(covs_s, covs_t, plan, active):
    """Pairs (i, j) with plan mass and the linear parts of their Gaussian maps."""
    rows, cols = np.nonzero((plan > 0.0) & active[:, None])
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    return rows, cols, _gaussian_pair_maps(covs_s, covs_t, rows, cols)


def _evaluate(means, covs, weights_list, target, solver, reg):
    """Costs of one source, and plan and loss for each candidate weight vector."""
    cost = _cost_matrix(means, covs, target[0], target[1])
    return _evaluate_plans(cost, weights_list, target, solver, reg)


def _evaluate_plans(cost, weights_list, target, solver, reg):
    """Plan and loss for each candidate weight vector, given the costs."""
    wt = target[2]
    results = []
    for w in weights_list:
        if solver == "exact":
            plan = exact_plan(w, wt, cost)
        else:
            plan = sinkhorn_plan(w, wt, cost, reg, stacklevel=7)
        results.append((plan, float(np.sum(plan * cost))))
    return cost, results


def _dual_step(w, wt, cost, loss, eta):
    """Mirror step on the weights along the OT dual potentials.

    ``w_i <- w_i exp(-eta (f_i - sum_k w_k f_k) / loss)``, renormalised, with
    ``f`` the source-side dual potentials of the plan from ``w`` to ``wt``:
    the first variation of the loss in the weights.
    """
    f = exact_duals(w, wt, cost)
    active = w > 0.0
    centred = np.where(active, f - np.sum(np.where(active, w * f, 0.0)), 0.0)
    with np.errstate(divide="ignore"):
        logits = np.log(w) - eta * centred / max(loss, np.finfo(float).tiny)
    logits -= logits[active].max()
    new = np.where(active, np.exp(logits), 0.0)
    return new / new.sum()


def _gradient_flow(estimator, source, target, flow):
    """Riemannian gradient steps; returns the fitted attributes.

    Each step moves means and covariances a fraction ``learning_rate`` of the
    way toward what the current plan sends them to (with exact plans this
    never increases the loss: the fixed-plan cost decreases along the step
    and re-solving the plan can only lower it further; otherwise the step is
    halved until it does). If weights flow, the mirror step on the weights
    (with its own step size) is kept only if it lowers the loss further; its
    size grows by ``STEP_GROWTH`` after a success and halves after a failure.
    """
    solver, reg = estimator.ot_solver, estimator.reg
    moves = ("means" in flow, "covariances" in flow, "weights" in flow)
    mt, Ct, _ = target
    m, C, w = source
    cost, [(plan, loss)] = _evaluate(m, C, [w], target, solver, reg)
    k, d = m.shape
    means, covs, weights, losses = [m], [C], [w], [loss]
    cumulative = [np.broadcast_to(np.eye(d), (k, d, d)).copy()]
    step_maps = []
    tau = float(estimator.learning_rate)
    eta = float(estimator.learning_rate)  # weight step
    eta_dual = float(estimator.learning_rate)  # its fallback's
    converged = loss <= estimator.tol
    start = time.perf_counter()
    estimator._report(0, loss, tau, start)
    while not converged and len(losses) <= estimator.n_steps:
        step = tau
        for _ in range(MAX_HALVINGS):
            m1, C1, A, w2 = _flow_step(
                m, C, w, mt, Ct, plan, cost, loss, step, eta, *moves
            )
            candidates = [w, w2] if moves[2] else [w]
            new_cost, results = _evaluate(m1, C1, candidates, target, solver, reg)
            if min(r[1] for r in results) <= loss:
                break
            step *= 0.5
        w_new, (new_plan, new_loss) = w, results[0]
        if moves[2]:
            if results[1][1] < new_loss:
                w_new, (new_plan, new_loss) = w2, results[1]
                eta *= STEP_GROWTH
            else:
                eta *= 0.5
                # The own-cost step failed: try the first variation itself, the
                # dual potentials (uninformative on degenerate plans, which is
                # why it is only the fallback).
                w3 = _dual_step(w, target[2], cost, loss, eta_dual)
                _, [(plan3, loss3)] = _evaluate_plans(
                    new_cost, [w3], target, solver, reg
                )
                if loss3 < new_loss:
                    w_new, new_plan, new_loss = w3, plan3, loss3
                    eta_dual *= STEP_GROWTH
                else:
                    eta_dual *= 0.5
        if not new_loss < loss:  # stationary: no step decreases the loss
            converged = True
            break
        m, C, w, cost, plan, loss = m1, C1, w_new, new_cost, new_plan, new_loss
        means.append(m)
        covs.append(C)
        weights.append(w)
        losses.append(loss)
        cumulative.append(A @ cumulative[-1])
        step_maps.append(A)
        estimator._report(len(losses) - 1, loss, step, start)
        # Converged at the target, or at a stationary point (a step that
        # changes the loss by less than tol relative: near-flat directions).
        converged = loss <= estimator.tol or losses[-2] - loss <= estimator.tol * loss
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
    }


def _geodesic(estimator, source, target):
    """Sample the displacement interpolation through the optimal plan."""
    m, C, w = source
    _, [(plan, loss)] = _evaluate(m, C, [w], target, estimator.ot_solver, estimator.reg)
    rows, cols, maps = _pair_maps(source[1], target[1], plan, source[2] > 0.0)
    pairs = (rows, cols, maps, plan[rows, cols])
    times = np.linspace(0.0, 1.0, estimator.n_steps + 1)
    states = [_geodesic_state(source, target, pairs, t) for t in times]
    # Round-off can cost ill-conditioned covariances their smallest eigenvalues.
    covs = floor_eigenvalues(np.asarray([s[1] for s in states]))
    return {
        "means_path_": np.asarray([s[0] for s in states]),
        "covariances_path_": covs,
        "weights_path_": np.asarray([s[2] for s in states]),
        "loss_curve_": (1.0 - times) ** 2 * loss,
        "n_iter_": estimator.n_steps,
        "converged_": True,
        "plan_": plan,
        "pairs_": np.stack([rows, cols], axis=1),
    }


# ------------------------------------------------------------- the estimator


class GMMOTFlow(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Flow one Gaussian mixture toward another, and move samples along.

    ``method="gradient"`` follows the gradient flow of the GMM-OT loss
    ``MW2^2(source, target)`` (Delon & Desolneux, 2020) over the source's
    parameters named in ``flow``, in the geometry of each parameter: means by
    Euclidean steps, covariances by Bures-Wasserstein steps
    ``S <- A S A`` (never leaving the SPD cone, no projection), weights by
    multiplicative steps on the simplex. ``method="geodesic"`` is the GMM-OT
    geodesic: the displacement interpolation of every pair of components that
    the optimal plan couples. ``transform`` then carries the source's samples
    along the flow.

    Parameters
    ----------
    target : GaussianMixture, tuple or array-like of shape (m, n_features), \
default=None
        The mixture to flow toward: a fitted ``GaussianMixture`` (any
        ``covariance_type``), a ``(means, covariances, weights)`` tuple, or
        samples, to which a clone of ``gmm`` is fitted. None: the target comes
        from ``fit``'s ``sample_domain`` (rows labelled < 0), or, without
        labels, is the source itself (the identity flow).
    n_components : int, default=3
        Components of the mixtures fitted to samples when ``gmm`` is None.
    method : {"gradient", "geodesic"}, default="gradient"
        Gradient flow of the loss, or the geodesic.
    n_steps : int, default=100
        Maximum number of gradient steps, or the number of intervals at which
        the geodesic is sampled (``n_steps + 1`` times).
    learning_rate : float, default=0.1
        First step size, in (0, 1]: the fraction of the way each mean and
        covariance moves toward what the plan sends it to. Every step is
        line-searched (halved until the loss decreases); after a full step the
        next one may grow by 1.5, up to 1. The weight step is
        ``w_i <- w_i exp(-tau c_i / loss)`` with the same ``tau``, ``c_i`` the
        component's own transport cost.
    tol : float, default=1e-8
        The gradient flow stops once the loss is at most ``tol``, or at a
        stationary point: when a step decreases it by at most ``tol`` times
        its value, or no step decreases it (``converged_`` is True in all
        three cases; with fewer source than target components the flow
        usually ends at a stationary point with a positive loss).
    flow : tuple of {"means", "covariances", "weights"}, \
default=("means", "covariances", "weights")
        The source parameters that move (gradient flow only).
    ot_solver : {"exact", "sinkhorn"}, default="exact"
        Plans by network simplex or by log-domain Sinkhorn with ``reg``.
    reg : float, default=0.1
        Entropic regularisation of ``ot_solver="sinkhorn"``, in the units of
        the squared-distance costs.
    gmm : GaussianMixture, default=None
        Template cloned and fitted to samples; default
        ``GaussianMixture(n_components=n_components)``. Its ``random_state``,
        if None, is drawn from ``random_state``.
    transport : {"bary", "rand"}, default="bary"
        How ``transform`` moves a sample: the average of every component's
        map weighted by the sample's posterior under the source, or the map of
        one component drawn from that posterior.
    random_state : int, RandomState instance or None, default=None
        Seeds the fitted mixtures and the draws of ``transport="rand"``.
    verbose : int, default=0
        1 prints the loss at every step, with the step size and the time.

    Attributes
    ----------
    means_ : ndarray of shape (k, n_features)
    covariances_ : ndarray of shape (k, n_features, n_features)
    weights_ : ndarray of shape (k,)
        The mixture at the end of the flow (``k`` source components; for the
        geodesic, ``k`` pairs of the plan's support, ending at the target).
    means_path_ : ndarray of shape (``n_iter_`` + 1, k, n_features)
    covariances_path_ : ndarray of shape (``n_iter_`` + 1, k, n_features, n_features)
    weights_path_ : ndarray of shape (``n_iter_`` + 1, k)
        The mixture at every recorded step (step 0 is the source).
    maps_path_ : ndarray of shape (``n_iter_`` + 1, k, n_features, n_features)
        Gradient flow only: linear part of the affine map carrying component
        i from step 0 to step s (the product of the step matrices).
    step_maps_ : ndarray of shape (``n_iter_``, k, n_features, n_features)
        Gradient flow only: each step's matrix ``A`` (``S <- A S A``).
    pairs_ : ndarray of shape (k, 2)
        Geodesic only: the (source, target) components of each path component.
    loss_curve_ : ndarray of shape (``n_iter_`` + 1,)
        ``MW2^2`` to the target at every recorded step (for the geodesic,
        ``(1 - t)^2 MW2^2(source, target)``).
    n_iter_ : int
        Steps taken.
    converged_ : bool
        Whether the gradient flow reached ``tol`` or a stationary point.
    plan_ : ndarray of shape (k_source, k_target)
        The plan at the end (for the geodesic, between source and target).
    source_, target_ : tuple of ndarray
        The validated ``(means, covariances, weights)`` of both ends.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on samples with feature names.

    See Also
    --------
    GMMOTBarycenter : The GMM-OT barycenter of several mixtures.
    skgmmot.gmm_ot_apply_map : The GMM-OT maps between two mixtures.

    Notes
    -----
    Moving samples cannot change how many of them each component holds:
    ``transform`` moves every sample with its own component's map, so when
    the weights flow too, the transformed samples follow the *final
    components under the source weights*. ``mixture_at(t)`` gives the mixture
    with its flowed weights.

    References
    ----------
    .. [1] J. Delon and A. Desolneux. A Wasserstein-type distance in the space
       of Gaussian mixture models. SIAM J. Imaging Sciences, 13(2), 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import GMMOTFlow
    >>> rng = np.random.RandomState(0)
    >>> source = (rng.randn(3, 2), np.array([np.eye(2)] * 3), np.full(3, 1 / 3))
    >>> target = (rng.randn(2, 2) + 3, np.array([np.eye(2)] * 2), np.full(2, 0.5))
    >>> flow = GMMOTFlow(target, tol=1e-6).fit(source)
    >>> bool(flow.loss_curve_[-1] < 1e-3 * flow.loss_curve_[0])
    True
    >>> flow.mixture_at(0.5).n_components
    3
    """

    __metadata_request__fit: ClassVar[dict] = {"sample_domain": True}
    __metadata_request__transform: ClassVar[dict] = {"sample_domain": True}

    _parameter_constraints: ClassVar[dict] = {
        "target": [None, tuple, GaussianMixture, BayesianGaussianMixture, "array-like"],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "method": [StrOptions({"gradient", "geodesic"})],
        "n_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, 1, closed="right")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "flow": [tuple, list],
        "ot_solver": [StrOptions({"exact", "sinkhorn"})],
        "reg": [Interval(numbers.Real, 0, None, closed="neither")],
        "gmm": [GaussianMixture, None],
        "transport": [StrOptions({"bary", "rand"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        target=None,
        *,
        n_components=3,
        method="gradient",
        n_steps=100,
        learning_rate=0.1,
        tol=1e-8,
        flow=_FLOWS,
        ot_solver="exact",
        reg=0.1,
        gmm=None,
        transport="bary",
        random_state=None,
        verbose=0,
    ):
        self.target = target
        self.n_components = n_components
        self.method = method
        self.n_steps = n_steps
        self.learning_rate = learning_rate
        self.tol = tol
        self.flow = flow
        self.ot_solver = ot_solver
        self.reg = reg
        self.gmm = gmm
        self.transport = transport
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- fit

    def _check_flow(self):
        flow = tuple(self.flow)
        unknown = [f for f in flow if f not in _FLOWS]
        if not flow or unknown or len(set(flow)) != len(flow):
            raise ValueError(
                f"flow must be a non-empty tuple of distinct names among {_FLOWS}, "
                f"got {self.flow!r}."
            )
        return flow

    def _fit_mixture(self, X, rng, name):
        template = (
            GaussianMixture(n_components=self.n_components)
            if self.gmm is None
            else self.gmm
        )
        model = clone(template)
        if model.random_state is None:
            model.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
        return check_mixture(model.fit(X), name, positive_definite=True)

    def _endpoints(self, X, sample_domain, rng):
        """Validate (or fit) the source and target mixtures."""
        if is_mixture_like(X):
            if sample_domain is not None:
                raise ValueError(
                    "sample_domain is only used when X holds samples; X is a mixture."
                )
            source = check_mixture(X, "source mixture", positive_definite=True)
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self.n_features_in_ = source[0].shape[1]
            target = source if self.target is None else self._target(rng)
        else:
            X = validate_data(self, X, dtype=[np.float64], ensure_min_samples=2)
            if sample_domain is not None:
                if self.target is not None:
                    raise ValueError(
                        "Give the target either as the target parameter or as "
                        "the rows of X labelled < 0 in sample_domain, not both."
                    )
                labels = _check_labels(sample_domain, X.shape[0])
                if not np.any(labels >= 0) or not np.any(labels < 0):
                    raise ValueError(
                        "sample_domain must label some rows as source (>= 0) and "
                        "some as target (< 0)."
                    )
                source = self._fit_mixture(X[labels >= 0], rng, "source mixture")
                target = self._fit_mixture(X[labels < 0], rng, "target mixture")
            else:
                source = self._fit_mixture(X, rng, "source mixture")
                target = source if self.target is None else self._target(rng)
        if target[0].shape[1] != source[0].shape[1]:
            raise ValueError(
                f"target mixture has {target[0].shape[1]} features but the source "
                f"has {source[0].shape[1]}."
            )
        return source, target

    def _target(self, rng):
        if is_mixture_like(self.target):
            return check_mixture(self.target, "target mixture")
        samples = check_array(
            self.target, dtype=np.float64, ensure_min_samples=2, input_name="target"
        )
        return self._fit_mixture(samples, rng, "target mixture")

    def _report(self, step, loss, tau, start):
        if self.verbose > 0:
            print(
                f"[GMMOTFlow] step {step:4d}  loss {loss:.10g}  step size {tau:.3g}"
                f"  time {time.perf_counter() - start:.3f}s",
                flush=True,
            )

    @_fit_context(prefer_skip_nested_validation=True)
    @atomic_fit
    def fit(self, X, y=None, *, sample_domain=None):
        """Compute the flow from the source ``X`` to the target.

        ``fit`` is all-or-nothing: if it raises (``KeyboardInterrupt``
        included), the estimator is left exactly as it was before the call,
        unfitted or with the attributes of its previous fit.

        Parameters
        ----------
        X : GaussianMixture, tuple or array-like of shape (n_samples, n_features)
            The source: a fitted ``GaussianMixture``, a ``(means,
            covariances, weights)`` tuple, or samples (a clone of ``gmm`` is
            fitted to them). The source covariances must be positive definite.
        y : None
            Ignored.
        sample_domain : array-like of shape (n_samples,), default=None
            With ``target=None``: labels >= 0 mark the source rows of X and
            labels < 0 the target rows (skada's convention).

        Returns
        -------
        self : GMMOTFlow
        """
        flow = self._check_flow()
        rng = fit_random_state(self.random_state)
        source, target = self._endpoints(X, sample_domain, rng)
        if self.method == "gradient":
            fitted = _gradient_flow(self, source, target, flow)
            if not fitted["converged_"]:
                warnings.warn(
                    f"GMMOTFlow did not converge in n_steps={self.n_steps} steps "
                    f"(loss {fitted['loss_curve_'][-1]:.3g} > tol={self.tol:g}); "
                    "increase n_steps or tol.",
                    ConvergenceWarning,
                    stacklevel=2,
                )
        else:
            fitted = _geodesic(self, source, target)
        for name in ("pairs_", "maps_path_", "step_maps_"):
            self.__dict__.pop(name, None)
        for name, value in fitted.items():
            setattr(self, name, value)
        self.means_ = self.means_path_[-1]
        self.covariances_ = self.covariances_path_[-1]
        self.weights_ = self.weights_path_[-1]
        self.source_ = source
        self.target_ = target
        return self

    # ---------------------------------------------------------- the path

    def _locate(self, t):
        """Return the recorded step s and the fraction of step (s, s + 1) at t."""
        position = t * self.n_iter_
        s = min(int(np.floor(position)), self.n_iter_)
        return s, (position - s if s < self.n_iter_ else 0.0)

    def _gradient_state(self, t):
        """Means, map matrices (from step 0), covariances and weights at t."""
        s, alpha = self._locate(t)
        means = self.means_path_[s]
        maps = self.maps_path_[s]
        covs = self.covariances_path_[s]
        weights = self.weights_path_[s]
        if alpha > 0.0:
            d = means.shape[1]
            nxt = s + 1
            # The step's own matrix A_s, interpolated from the identity.
            partial = (1.0 - alpha) * np.eye(d) + alpha * self.step_maps_[s]
            means = means + alpha * (self.means_path_[nxt] - means)
            maps = partial @ maps
            covs = partial @ covs @ partial.transpose(0, 2, 1)
            covs = 0.5 * (covs + covs.transpose(0, 2, 1))
            weights = weights + alpha * (self.weights_path_[nxt] - weights)
        return means, maps, covs, weights

    def mixture_at(self, t):
        """Return the mixture at time ``t`` of the flow as a fitted GaussianMixture.

        Parameters
        ----------
        t : float
            Time in [0, 1]: 0 is the source, 1 the end of the flow. Exact for
            the geodesic; for the gradient flow, steps are interpolated
            (means and weights linearly, covariances along the step's own
            Bures geodesic).

        Returns
        -------
        gmm : sklearn.mixture.GaussianMixture
        """
        check_is_fitted(self)
        t = check_time(t)
        if self.method == "geodesic":
            means, covs, weights = self._geodesic_at(t)
        else:
            means, _, covs, weights = self._gradient_state(t)
        keep = weights > 0.0
        return fitted_gaussian_mixture(
            weights[keep] / weights[keep].sum(),
            means[keep],
            floor_eigenvalues(covs[keep]),
            random_state=self.random_state,
        )

    def _geodesic_at(self, t):
        rows, cols = self.pairs_[:, 0], self.pairs_[:, 1]
        _, maps = self._pair_maps()
        pairs = (rows, cols, maps, self.plan_[rows, cols])
        return _geodesic_state(self.source_, self.target_, pairs, t)

    def _pair_maps(self):
        rows, cols = self.pairs_[:, 0], self.pairs_[:, 1]
        maps = _gaussian_pair_maps(self.source_[1], self.target_[1], rows, cols)
        return (rows, cols), maps

    # ---------------------------------------------------------- transform

    def _rows_to_move(self, X, sample_domain):
        if sample_domain is None:
            return np.ones(X.shape[0], dtype=bool)
        return _check_labels(sample_domain, X.shape[0]) >= 0

    def _carry(self, x, posterior, start_means, end_means, maps):
        """Move x by component i's affine map, blended or drawn by posterior."""
        k, d = start_means.shape
        index = np.arange(k, dtype=np.int64)
        args = (
            x,
            posterior,
            np.ascontiguousarray(start_means),
            np.ascontiguousarray(end_means),
            index,
            index,
            np.ones(k),
            np.ascontiguousarray(maps),
        )
        work = 2.0 * x.shape[0] * k * d * (d + 1)
        if self.transport == "bary":
            return run(_map_barycentric, work, *args)
        uniforms = self._uniforms_rng().random_sample(x.shape[0])
        return run(_map_random, work, *args, uniforms)

    def transform(self, X, t=1.0, *, sample_domain=None):
        """Move source samples along the flow to time ``t``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples of the source.
        t : float, default=1.0
            Time in [0, 1]; ``transform(X, 0.0)`` returns X unchanged.
        sample_domain : array-like of shape (n_samples,), default=None
            Labels as in ``fit``: rows labelled < 0 (target rows) are returned
            unchanged. None moves every row.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            For the gradient flow, a sample of component i goes to
            ``m_i(t) + B_i(t) (x - m_i(0))``, with ``B_i(t)`` the product of
            the step matrices; ``transport="bary"`` averages these over the
            sample's posterior under the source, ``"rand"`` draws one
            component from it. For the geodesic, the GMM-OT map of the plan
            (``gmm_ot_apply_map``), interpolated: ``(1 - t) x + t T(x)``.
            With flowing weights the result follows the final components under
            the *source* weights (see Notes).
        """
        check_is_fitted(self)
        t = check_time(t)
        X = validate_data(self, X, dtype=[np.float64], reset=False)
        out = np.array(X, dtype=np.float64, copy=True)
        move = self._rows_to_move(X, sample_domain)
        if t == 0.0 or not move.any() or self.n_iter_ == 0:
            return out
        x = np.ascontiguousarray(X[move])
        m0, C0, w0 = self.source_
        if self.method == "geodesic":
            mapped = _apply_map(
                x,
                self.source_,
                self.target_,
                self.plan_,
                self.transport,
                self._uniforms_rng(),
            )
            out[move] = (1.0 - t) * x + t * mapped
            return out
        means, maps, _, _ = self._gradient_state(t)
        posterior = _posterior(_log_densities(x, m0, C0) + _log_weights(w0))
        out[move] = self._carry(x, posterior, m0, means, maps)
        return out

    def _uniforms_rng(self):
        """Return a fresh generator for ``transport="rand"`` (same draws each call)."""
        return np.random.RandomState(
            fit_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    def fit_transform(self, X, y=None, *, sample_domain=None):
        """Fit, then move the source samples of X to the end of the flow.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_domain : array-like of shape (n_samples,), default=None
            As in ``fit``; target rows are returned unchanged.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
        """
        return self.fit(X, sample_domain=sample_domain).transform(
            X, sample_domain=sample_domain
        )

    def inverse_transform(self, X):
        """Move samples from the end of the flow back to the source.

        For the gradient flow, component i's map is inverted,
        ``x = m_i(0) + B_i(1)^-1 (y - m_i(1))``, and the inverses are blended
        by each sample's posterior under the final components with the source
        weights (the distribution ``transform`` produces). This undoes
        ``transform(X, 1.0)`` exactly for a single component and up to the
        overlap of the components otherwise. For the geodesic, the GMM-OT map
        of the reversed plan, from target to source.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64], reset=False)
        x = np.ascontiguousarray(X)
        if self.method == "geodesic":
            mt, Ct, wt = self.target_
            check_mixture((mt, Ct, wt), "target mixture", positive_definite=True)
            return _apply_map(
                x,
                self.target_,
                self.source_,
                np.ascontiguousarray(self.plan_.T),
                self.transport,
                self._uniforms_rng(),
            )
        m0, _, w0 = self.source_
        means, maps, covs = self.means_path_[-1], self.maps_path_[-1], self.covariances_
        inverse = np.linalg.pinv(maps)
        posterior = _posterior(_log_densities(x, means, covs) + _log_weights(w0))
        return self._carry(x, posterior, means, m0, inverse)
