"""GMMOTFlow: gradient flows and geodesics between Gaussian mixtures."""

import numbers
import time
from typing import ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    clone,
)
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.utils.validation import check_array, validate_data

from skgmmot._base import (
    atomic_fit,
    check_factorable,
    check_fitted,
    fit_random_state,
    fitted_gaussian_mixture,
)
from skgmmot._compat import Interval, StrOptions, _fit_context
from skgmmot._engine.costs import gaussian_pair_maps
from skgmmot._engine.flow import geodesic, gradient_flow, newton_inverse
from skgmmot._engine.maps import apply_map, carry, geodesic_state
from skgmmot._engine.mixtures import floor_eigenvalues
from skgmmot._engine.mixtures import posterior as mixture_posterior
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import SINKHORN_MAX_ITER, SINKHORN_TOL, Solver
from skgmmot._validation import (
    check_coordinates,
    check_covariances,
    check_mixture,
    check_n_features,
    check_sample_domain,
    check_time,
    is_mixture_like,
)
from skgmmot._warnings import warn_notes

_FLOWS = ("means", "covariances", "weights")


class GMMOTFlow(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Flow one Gaussian mixture toward another, and move samples along.

    ``method="gradient"`` follows the gradient flow of the GMM-OT loss
    ``MW2^2(source, target)`` (Delon & Desolneux, 2020) over the source's
    parameters named in ``flow``, in the geometry of each parameter: means by
    Euclidean steps, covariances by Bures-Wasserstein steps
    ``S <- A S A`` (never leaving the SPD cone, no projection), weights by
    multiplicative (mirror) or Frank-Wolfe steps on the simplex.
    ``method="geodesic"`` is the GMM-OT
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
        Step size ``tau``, in (0, 1]: the fraction of the way each mean and
        covariance moves toward what the current plan sends it to, at every
        step (with exact plans this lowers the loss; with Sinkhorn plans a
        step that would raise it is halved). If the weights flow, they take
        the better of a mirror step ``w_i <- w_i exp(-eta c_i / loss)``
        (``c_i`` the component's own transport cost, ``eta`` adapted from
        ``tau``) and a Frank-Wolfe step of size ``tau (2 - tau)`` toward the
        optimal weights of the moved components (see Notes), which lowers the
        loss whenever the weights are not optimal, so the flow cannot stall.
        Near a reachable target the loss shrinks by about ``(1 - tau)^2`` per
        step: reaching ``tol`` takes about ``ln(1 / tol) / (2 ln(1 / (1 -
        tau)))`` steps once the plan has settled, 176 at 0.05, 87 at 0.1, 41
        at 0.2, 14 at 0.5, 1 or 2 at 1 (default ``tol``). ``n_steps=100``
        suffices for ``learning_rate >= 0.1`` on well-matched mixtures;
        ``n_steps = 15 / learning_rate`` covers every reachable problem of the
        test suite. Larger rates take fewer, coarser steps and more often end
        at a stationary point that is not the target.
    tol : float, default=1e-8
        Relative tolerance of the gradient flow. It stops with ``converged_``
        True when the loss is at most ``tol`` times the initial loss (never
        below the rounding level of the costs, 64 ulps of the covariance
        traces), or when a stationary point is certified: the squared
        Riemannian gradient norm of the flowing means and covariances for the
        current plan (``squared_gradient_norm_``) and, if the weights flow,
        their Frank-Wolfe gap (``weights_gap_``) are both at most that level.
        At a certified stationary point a last step puts the weights at their
        optimum for the final components. Otherwise the flow runs ``n_steps``
        steps (or stops when no step lowers the loss, which only round-off or
        Sinkhorn plans cause) and warns with a ``ConvergenceWarning``.
        ``tol=0`` runs all ``n_steps`` steps unless nothing can move.
    flow : tuple of {"means", "covariances", "weights"}, \
default=("means", "covariances", "weights")
        The source parameters that move (gradient flow only).
    ot_solver : {"exact", "sinkhorn"}, default="exact"
        Plans by network simplex or by log-domain Sinkhorn with ``reg``.
    reg : float, default=0.1
        Entropic regularisation of ``ot_solver="sinkhorn"``, in the units of
        the squared-distance costs.
    numItermax : int, default=None
        Iteration limit of the network simplex on each plan (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 n m`` for an
        n x m plan, then ten times that if the simplex stops at it. A plan
        left at the limit gives one ``ConvergenceWarning`` per call.
    sinkhorn_max_iter : int, default=10000
        Sinkhorn iterations at most per plan, with ``ot_solver="sinkhorn"``
        (POT's ``max_iter``).
    sinkhorn_tol : float, default=1e-10
        Sinkhorn stops when a plan misses its marginals by less than this
        (Euclidean norm of the row or column error; POT's ``tol``).
    gmm : GaussianMixture, default=None
        Template cloned and fitted to samples; default
        ``GaussianMixture(n_components=n_components)``. Its ``random_state``,
        if None, is drawn from ``random_state``. The source and target samples
        must number at least its ``n_components`` (and two); the error names
        the mixture that has fewer.
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
        Gradient flow: whether the loss fell to ``tol`` times its initial
        value or a stationary point was certified (see ``tol``). Always True
        for the geodesic.
    loss_tol_ : float
        Gradient flow only: the loss level of the stopping tests, ``tol *
        loss_curve_[0]`` floored at the rounding level of the costs.
    squared_gradient_norm_ : float
        Gradient flow only: at the final state, ``sum_i w_i (|m_i - mbar_i|^2 +
        tr(G_i S_i G_i))`` over the flowing means and covariances, with
        ``mbar_i = sum_j p_ij m'_j`` and ``G_i = I - sum_j p_ij A_ij`` for the
        final plan (``p_ij = plan_ij / w_i``, ``A_ij`` the Gaussian map
        matrices). A step of size ``tau`` lowers the loss by at least ``tau
        (2 - tau)`` times this, so it is zero exactly at stationary points.
    weights_gap_ : float
        Gradient flow only: ``loss - loss(w*)`` at the final state, with
        ``w*`` the optimal weights for the final components (0 if the weights
        do not flow, inf with Sinkhorn plans, for which it is not defined).
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
    For fixed components (means and covariances), the loss is convex in the
    source weights, and the optimal weights have a closed form: with the
    source marginal free, every target component ``j`` sends all its mass to
    its cheapest source component ``argmin_i cost_ij``, and ``w*_i`` is the
    mass that component ``i`` receives; ``loss(w*) = sum_j wt_j min_i
    cost_ij``. So ``loss(w) - loss(w*)`` (``weights_gap_``) measures how far
    the weights are from optimal, and a Frank-Wolfe step ``(1 - s) w + s
    w*`` lowers the loss by at least ``s`` times it.

    The gradient flow is not convex: from some starting points it ends at a
    stationary point that is not the target even when the target is
    reachable (typically a component whose weight went to zero, or two
    source components merged onto one target component). ``converged_`` is
    then True and ``loss_curve_[-1]`` is positive; compare it with
    ``loss_curve_[0]``.

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

    #: Parameters that methods read at each call (how samples move along the
    #: fitted flow, not the flow itself): they may change after ``fit``; any
    #: other change asks for a refit (``check_fitted``).
    _call_time_params = frozenset({"random_state", "transport", "verbose"})

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
        "numItermax": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "sinkhorn_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "sinkhorn_tol": [Interval(numbers.Real, 0, None, closed="neither")],
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
        numItermax=None,
        sinkhorn_max_iter=SINKHORN_MAX_ITER,
        sinkhorn_tol=SINKHORN_TOL,
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
        self.numItermax = numItermax
        self.sinkhorn_max_iter = sinkhorn_max_iter
        self.sinkhorn_tol = sinkhorn_tol
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
        k = template.n_components
        if X.shape[0] < max(k, 2):
            raise ValueError(
                f"{name}: {X.shape[0]} samples, fewer than the {max(k, 2)} needed "
                f"to fit a mixture of {k} components "
                f"({'n_components' if self.gmm is None else 'gmm.n_components'})."
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
                labels = check_sample_domain(sample_domain, X.shape[0], signed=True)
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
        check_n_features(
            target[0].shape[1], source[0].shape[1], "target mixture", "the source"
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
        notes = Notes()
        solver = Solver(
            self.ot_solver,
            self.reg,
            num_iter_max=self.numItermax,
            max_iter=self.sinkhorn_max_iter,
            tol=self.sinkhorn_tol,
            notes=notes,
        )
        if self.method == "gradient":
            fitted = gradient_flow(
                source,
                target,
                flow,
                solver=solver,
                learning_rate=self.learning_rate,
                tol=self.tol,
                n_steps=self.n_steps,
                report=self._report,
            )
            if not fitted["converged_"]:
                stopped = (
                    f"in n_steps={self.n_steps} steps"
                    if fitted["n_iter_"] == self.n_steps
                    else f"(no step lowers the loss after {fitted['n_iter_']} steps)"
                )
                gap = fitted["weights_gap_"]
                advice = (
                    "increase n_steps or learning_rate"
                    if np.isfinite(gap)
                    else "Sinkhorn plans certify no weights: only the loss "
                    "test applies; use ot_solver='exact' or fewer steps"
                )
                notes.add(
                    "flow",
                    f"GMMOTFlow did not converge {stopped}: loss "
                    f"{fitted['loss_curve_'][-1]:.3g} > tol * initial loss = "
                    f"{fitted['loss_tol_']:.3g}, and no stationary point certified "
                    f"(squared gradient norm {fitted['squared_gradient_norm_']:.3g}, "
                    f"weights gap {gap:.3g}); {advice}.",
                )
        else:
            fitted = geodesic(
                source,
                target,
                solver=solver,
                n_steps=self.n_steps,
            )
        for name in (
            "pairs_",
            "maps_path_",
            "step_maps_",
            "loss_tol_",
            "squared_gradient_norm_",
            "weights_gap_",
        ):
            self.__dict__.pop(name, None)
        for name, value in fitted.items():
            setattr(self, name, value)
        self.means_ = self.means_path_[-1]
        self.covariances_ = self.covariances_path_[-1]
        self.weights_ = self.weights_path_[-1]
        self.source_ = source
        self.target_ = target
        warn_notes(notes)
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
            Time in [0, 1]: 0 is the source, 1 the end of the flow. For the
            geodesic, the geodesic time: ``MW2(source, mixture_at(t)) = t
            MW2(source, target)``. For the gradient flow, the fraction of the
            recorded steps, not a physical time: ``t = s / n_iter_`` is step
            ``s`` (``mixture_at(s / n_iter_)`` has ``means_path_[s]``), and
            between two steps the step is interpolated (means and weights
            linearly, covariances along the step's own Bures geodesic). Steps
            of a constant learning rate move less and less, so most of the
            motion happens at small ``t``, and the same ``t`` is a different
            point for another ``n_iter_``.

        Returns
        -------
        gmm : sklearn.mixture.GaussianMixture
        """
        check_fitted(self)
        t = check_time(t)
        if self.method == "geodesic":
            means, covs, weights = self._geodesic_at(t)
        else:
            means, _, covs, weights = self._gradient_state(t)
        keep = weights > 0.0
        covs = floor_eigenvalues(covs[keep])
        check_factorable(
            covs,
            f"mixture_at({t:g}): covariances",
            "a GaussianMixture needs positive definite covariances (the target's "
            "are zero: Dirac components)",
        )
        return fitted_gaussian_mixture(
            weights[keep] / weights[keep].sum(),
            means[keep],
            covs,
            random_state=self.random_state,
        )

    def _geodesic_at(self, t):
        rows, cols = self.pairs_[:, 0], self.pairs_[:, 1]
        _, maps = self._pair_maps()
        pairs = (rows, cols, maps, self.plan_[rows, cols])
        return geodesic_state(self.source_, self.target_, pairs, t)

    def _pair_maps(self):
        rows, cols = self.pairs_[:, 0], self.pairs_[:, 1]
        maps = gaussian_pair_maps(self.source_[1], self.target_[1], rows, cols)
        return (rows, cols), maps

    # ---------------------------------------------------------- transform

    def _rows_to_move(self, X, sample_domain):
        if sample_domain is None:
            return np.ones(X.shape[0], dtype=bool)
        return check_sample_domain(sample_domain, X.shape[0], signed=True) >= 0

    def _carry(self, x, posterior, start_means, end_means, maps):
        """Move x by component i's affine map, blended or drawn by posterior."""
        uniforms = None
        if self.transport != "bary":
            uniforms = self._uniforms_rng().random_sample(x.shape[0])
        return carry(x, posterior, start_means, end_means, maps, uniforms)

    def transform(self, X, t=1.0, *, sample_domain=None):
        """Move source samples along the flow to time ``t``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples of the source.
        t : float, default=1.0
            Time in [0, 1]; ``transform(X, 0.0)`` returns X unchanged and 1
            moves to the end of the flow. For the geodesic, the geodesic time;
            for the gradient flow, the fraction of the recorded steps
            (``t = s / n_iter_`` is step ``s``; see ``mixture_at``), not a
            physical time.
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
        check_fitted(self)
        t = check_time(t)
        X = validate_data(self, X, dtype=[np.float64], reset=False)
        check_coordinates(X, "X")
        out = np.array(X, dtype=np.float64, copy=True)
        move = self._rows_to_move(X, sample_domain)
        if t == 0.0 or not move.any() or self.n_iter_ == 0:
            return out
        x = np.ascontiguousarray(X[move])
        m0, C0, w0 = self.source_
        if self.method == "geodesic":
            mapped = apply_map(
                x,
                self.source_,
                self.target_,
                self.plan_,
                self.transport,
                self._uniforms_rng(),
                label="X",
            )
            out[move] = (1.0 - t) * x + t * mapped
            return out
        means, maps, _, _ = self._gradient_state(t)
        posterior = mixture_posterior(x, m0, C0, w0, "X")
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

        For ``transport="bary"``, ``transform(., 1.0)`` is a smooth map
        ``F``, and this solves ``F(x) = y`` for every sample ``y`` by damped
        Newton steps (a step is kept only if it lowers the residual
        ``|F(x) - y|``), started from the blended inverse below. Where ``F``
        is one-to-one, as when the final components are separated, this
        undoes ``transform(X)`` to round-off (measured on 20000 samples of a
        3 -> 3 problem with components 12 apart: all back within 1e-11).
        Where two source components are carried onto the same target
        component (more source than target components), ``F`` is not
        one-to-one: the result is still a preimage (``transform`` of it gives
        ``y`` back), but about half of the merged samples come back in the
        other component (a 3 -> 2 problem: 62% of the samples back within
        1e-8, all of the component that does not merge); overlapping
        components that fold onto each other do the same, less often (98%
        back on components 5 apart, unit covariances grown to 1.5).
        For ``transport="rand"``, and as the Newton start: for the gradient
        flow, component i's map is inverted, ``x = m_i(0) + B_i(1)^-1 (y -
        m_i(1))``, and the inverses are blended (or one drawn) by each
        sample's posterior under the final components with the source weights
        (the distribution ``transform`` produces); for the geodesic, the
        GMM-OT map of the reversed plan, from target to source.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_fitted(self)
        X = validate_data(self, X, dtype=[np.float64], reset=False)
        check_coordinates(X, "X")
        x = np.ascontiguousarray(X)
        if self.method == "geodesic":
            mt, Ct, wt = self.target_
            check_mixture((mt, Ct, wt), "target mixture", positive_definite=True)
            start = apply_map(
                x,
                self.target_,
                self.source_,
                np.ascontiguousarray(self.plan_.T),
                self.transport,
                self._uniforms_rng(),
                label="X",
                name="target mixture",
            )
            if self.transport != "bary" or x.shape[0] == 0:
                return start
            ws = self.source_[2]
            rows, cols = np.nonzero((self.plan_ > 0) & (ws > 0)[:, None])
            maps = gaussian_pair_maps(self.source_[1], Ct, rows, cols)
            pairs = (rows, cols, self.plan_[rows, cols] / ws[rows], maps)
            return newton_inverse(x, start, self.source_, mt, pairs)
        m0, _, w0 = self.source_
        if self.n_iter_ == 0:
            return np.array(x, copy=True)
        means, maps, covs = self.means_path_[-1], self.maps_path_[-1], self.covariances_
        check_covariances(
            covs,
            "inverse_transform: the final covariances",
            positive_definite=True,
            reason="inverting the flow needs non-singular covariances at its end "
            "(the target's are singular: Dirac components?)",
        )
        inverse = np.linalg.pinv(maps)
        posterior = mixture_posterior(x, means, covs, w0, "X", "flow's final mixture")
        start = self._carry(x, posterior, means, m0, inverse)
        if self.transport != "bary" or x.shape[0] == 0:
            return start
        index = np.flatnonzero(w0 > 0)
        pairs = (index, index, np.ones(index.size), maps[index])
        return newton_inverse(x, start, self.source_, means, pairs)
