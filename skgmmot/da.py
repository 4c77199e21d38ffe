r"""Domain adaptation with GMM-OT, in scikit-learn and skada conventions.

GMM-OTDA (Montesuma, Mboula & Souloumiac [2]_; with several sources [1]_)
models the labelled source domain by one Gaussian mixture per class (its
components inherit the class) and the unlabelled target domain by one
mixture, computes the GMM-OT plan
:math:`\pi` between their components, and then either

* maps the source samples onto the target (``GMMOTMappingAdapter``,
  GMM-OTDA\ :sub:`T`): every sample moves by the Gaussian maps of its
  component, weighted by the plan rows, and a classifier is trained on the
  moved samples; or
* propagates the labels (``GMMOTLabelPropAdapter``, GMM-OTDA\ :sub:`L`): a
  target component receives the class distribution of the source mass it
  gets, :math:`\hat Y_t = (\pi\, \mathrm{diag}(\pi^\top 1)^{-1})^\top Y_s`,
  and a target sample the average of its components' by its posterior; a
  classifier is then trained on the target samples and these labels.

The adapters follow skada's conventions: ``sample_domain`` >= 0 marks source
samples and < 0 target samples, target labels are masked as -1, and
``fit_transform(X, y, sample_domain=...)`` returns what the next step of a
domain-adaptation pipeline is trained on, with the methods and metadata
requests of skada's ``BaseAdapter``. They work without skada (call them
directly, then fit any classifier); with skada installed (``pip install
'skgmmot[da]'``), :func:`GMMOTMapping` and :func:`GMMOTLabelProp` return
skada pipelines (``make_da_pipeline``) with a base estimator, usable in
``GridSearchCV`` with skada's splitters and scorers. Importing this module
does not import skada; calling the factories does, and importing skada turns
on scikit-learn's metadata routing for the whole process (skada's own
``sklearn.set_config(enable_metadata_routing=True)``).

The plan is exact by default; ``reg`` makes it entropic and ``reg_m``
unbalanced (KL-relaxed marginals, see :func:`skgmmot.gmm_ot_plan`), so that
classes whose proportions differ between the domains (target shift) are
re-weighted rather than transported onto other classes.

References
----------
.. [1] Montesuma, E. F., Mboula, F. M. N., & Souloumiac, A. (2024). Lighter,
   better, faster multi-source domain adaptation with Gaussian mixture models
   and optimal transport. ECML-PKDD 2024, arXiv:2404.10261.
.. [2] Montesuma, E. F., Mboula, F. M. N., & Souloumiac, A. (2024). Optimal
   transport for domain adaptation through Gaussian mixture models.
   Transactions on Machine Learning Research, arXiv:2403.13847.
"""

import importlib.util
import numbers
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_array, check_is_fitted
from threadpoolctl import threadpool_limits

from skgmmot._barycenter import GMMOTBarycenter
from skgmmot._base import fit_random_state
from skgmmot._compat import Interval, StrOptions, _fit_context
from skgmmot._engine.costs import cost_matrix
from skgmmot._engine.maps import apply_map
from skgmmot._engine.mixtures import posterior
from skgmmot._engine.priors import class_proportions
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import Solver
from skgmmot._engine.unbalanced import (
    UNBALANCED_MAX_ITER,
    UNBALANCED_TOL,
    unbalanced_plan,
)
from skgmmot._validation import check_entropic, check_mixture
from skgmmot._warnings import warn_notes

#: Whether skada can be imported. It is not imported here: importing skada
#: turns on scikit-learn's metadata routing for the whole process
#: (``sklearn.set_config(enable_metadata_routing=True)``); the factories that
#: build skada pipelines import it when called.
HAS_SKADA = importlib.util.find_spec("skada") is not None

__all__ = [
    "GMMWBT",
    "HAS_SKADA",
    "GMMOTLabelProp",
    "GMMOTLabelPropAdapter",
    "GMMOTMapping",
    "GMMOTMappingAdapter",
    "GMMWBTAdapter",
]

#: skada's label of masked (unknown) target labels in classification.
MASKED_LABEL = -1


def _split_domains(X, y, sample_domain):
    """Validate and return X, y, sample_domain (inferred from y as skada does)."""
    X = check_array(X, dtype=np.float64, ensure_min_samples=2)
    if y is not None:
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(
                f"y must have one label per sample ({X.shape[0]}), got shape {y.shape}."
            )
    if sample_domain is None:
        if y is None:
            raise ValueError(
                "sample_domain is required (>= 0 for source samples, < 0 for "
                "target samples), or y with the target labels masked as -1."
            )
        sample_domain = np.where(y == MASKED_LABEL, -2, 1)
    sample_domain = np.asarray(sample_domain)
    if sample_domain.shape != (X.shape[0],) or not np.issubdtype(
        sample_domain.dtype, np.integer
    ):
        raise ValueError(
            "sample_domain must hold one integer domain label per sample "
            f"({X.shape[0]}), got {sample_domain.dtype} of shape "
            f"{sample_domain.shape}."
        )
    return X, y, sample_domain


class _GMMOTDABase(BaseEstimator):
    """The mixtures and the plan shared by the GMM-OTDA adapters."""

    __metadata_request__fit: ClassVar[dict] = {"sample_domain": True}
    __metadata_request__transform: ClassVar[dict] = {
        "sample_domain": True,
        "allow_source": True,
    }

    _parameter_constraints: ClassVar[dict] = {
        "n_components_per_class": [Interval(numbers.Integral, 1, None, closed="left")],
        "target_n_components": [
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "gmm": [GaussianMixture, None],
        "reg": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "reg_m": [Interval(numbers.Real, 0, None, closed="neither"), tuple, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components_per_class=2,
        *,
        target_n_components=None,
        gmm=None,
        reg=None,
        reg_m=None,
        random_state=None,
    ):
        self.n_components_per_class = n_components_per_class
        self.target_n_components = target_n_components
        self.gmm = gmm
        self.reg = reg
        self.reg_m = reg_m
        self.random_state = random_state

    def _template(self):
        if self.gmm is None:
            return GaussianMixture(covariance_type="full", reg_covar=1e-6)
        return self.gmm

    def _fit_mixture(self, X, n_components, rng):
        model = clone(self._template()).set_params(
            n_components=min(n_components, X.shape[0]),
            random_state=rng.randint(np.iinfo(np.int32).max),
        )
        # These mixtures are small (a few components in a few dimensions):
        # BLAS threads only cost here, and on a busy machine a lot (measured:
        # a fit 70 times slower with 2 OpenBLAS threads competing for 2
        # cores), so their linear algebra runs on one thread.
        with threadpool_limits(limits=1, user_api="blas"):
            model.fit(X)
        return model

    def _source_and_target(self, y, sample_domain):
        """Check both domains and the source labels; set ``classes_``.

        Returns the boolean masks of the source and of the target samples.
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} needs the source labels y.")
        source = sample_domain >= 0
        target = ~source
        if not source.any() or not target.any():
            raise ValueError(
                "Domain adaptation needs source samples (sample_domain >= 0) "
                "and target samples (sample_domain < 0); got "
                f"{int(source.sum())} and {int(target.sum())}."
            )
        self.classes_ = np.unique(y[source & (y != MASKED_LABEL)])
        if self.classes_.size == 0:
            raise ValueError("The source samples have no labels (all are -1).")
        return source, target

    def _fit_domains(self, X, y, sample_domain, class_prior="source"):
        """Fit the class-wise source mixture, the target mixture and the plan.

        ``class_prior`` sets the source's class proportions (``class_prior_``):
        "source", "estimate" (from the target samples) or an array.
        """
        source, target = self._source_and_target(y, sample_domain)
        rng = fit_random_state(self.random_state)
        Xs, ys, Xt = X[source], y[source], X[target]
        ms, Cs, ws, classes = self._class_mixture(Xs, ys, rng)
        proportions = np.bincount(classes, weights=ws, minlength=self.classes_.size)
        within = ws / proportions[classes]
        if isinstance(class_prior, str) and class_prior == "estimate":
            proportions = class_proportions(
                Xt, ms, Cs, within, classes, self.classes_.size
            )
        elif not isinstance(class_prior, str):
            proportions = _check_class_prior(class_prior, self.classes_)
        self.class_prior_ = proportions
        self.source_mixture_ = (ms, Cs, within * proportions[classes])
        self.component_classes_ = classes
        self.target_mixture_ = self._target_mixture(Xt, rng)
        self.plan_ = self._plan(self.source_mixture_, self.target_mixture_)
        self.n_features_in_ = X.shape[1]

    def _class_mixture(self, Xs, ys, rng):
        """One mixture per class of ``classes_`` present in ``ys``, pooled.

        Returns means, covariances, weights (class proportion times the class
        mixture's weights) and the index into ``classes_`` of every component.
        """
        means, covs, weights, labels = [], [], [], []
        n_labelled = np.count_nonzero(ys != MASKED_LABEL)
        for c, label in enumerate(self.classes_):
            part = Xs[ys == label]
            if part.shape[0] == 0:
                continue
            if part.shape[0] == 1:
                raise ValueError(
                    f"Class {label.item()!r} has 1 labelled source sample; "
                    f"{type(self).__name__} fits a Gaussian mixture to every "
                    "class and needs at least 2 samples per class."
                )
            model = self._fit_mixture(part, self.n_components_per_class, rng)
            means.append(model.means_)
            covs.append(_full_covariances(model))
            weights.append(model.weights_ * part.shape[0] / n_labelled)
            labels.append(np.full(model.n_components, c))
        return (
            np.concatenate(means),
            np.concatenate(covs),
            np.concatenate(weights),
            np.concatenate(labels),
        )

    def _target_mixture(self, Xt, rng):
        n_target = self.target_n_components or (
            self.n_components_per_class * self.classes_.size
        )
        model = self._fit_mixture(Xt, n_target, rng)
        return model.means_, _full_covariances(model), model.weights_

    def _propagate(self, source_labels, plan):
        """Class distributions of the target components, through ``plan``."""
        received = plan.sum(axis=0)
        n_classes = source_labels.shape[1]
        proba = np.full((received.size, n_classes), 1.0 / n_classes)
        has = received > 0
        proba[has] = (plan[:, has].T @ source_labels) / received[has, None]
        return proba

    def _target_proba(self, X):
        check_is_fitted(self)
        X = check_array(X, dtype=np.float64)
        mt, Ct, wt = self.target_mixture_
        return posterior(X, mt, Ct, wt, "X", "target mixture") @ (
            self.target_class_proba_
        )

    def _plan(self, source, target):
        reg, reg_m, _ = check_entropic(self.reg, self.reg_m, None)
        ms, Cs, ws = source
        mt, Ct, wt = target
        cost = cost_matrix(ms, Cs, mt, Ct)
        notes = Notes()
        if reg is None:
            plan = Solver("exact", notes=notes).plan(ws, wt, cost)
        elif reg_m is None:
            plan = Solver("sinkhorn", reg * _scale(cost), notes=notes).plan(
                ws, wt, cost
            )
        else:
            scale = _scale(cost)
            plan, _ = unbalanced_plan(
                ws,
                wt,
                cost,
                reg * scale,
                tuple(r * scale for r in reg_m),
                max_iter=UNBALANCED_MAX_ITER,
                tol=UNBALANCED_TOL,
                notes=notes,
            )
        warn_notes(notes)
        return plan

    def _split_for_transform(self, X, sample_domain, allow_source):
        check_is_fitted(self)
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was "
                f"fitted with {self.n_features_in_}."
            )
        if sample_domain is None:
            # Without labels, every sample is a target sample (skada's rule
            # at prediction time).
            sample_domain = np.full(X.shape[0], -2)
        sample_domain = np.asarray(sample_domain)
        source = sample_domain >= 0
        if source.any() and not allow_source:
            raise ValueError(
                "transform received source samples (sample_domain >= 0); pass "
                "allow_source=True to adapt them."
            )
        return X, source


class _SingleSource(_GMMOTDABase):
    """The adapters of one source domain, whose class proportions can change."""

    _parameter_constraints: ClassVar[dict] = {
        **_GMMOTDABase._parameter_constraints,
        "class_prior": [StrOptions({"source", "estimate"}), "array-like"],
    }

    def __init__(
        self,
        n_components_per_class=2,
        *,
        target_n_components=None,
        gmm=None,
        reg=None,
        reg_m=None,
        class_prior="source",
        random_state=None,
    ):
        super().__init__(
            n_components_per_class,
            target_n_components=target_n_components,
            gmm=gmm,
            reg=reg,
            reg_m=reg_m,
            random_state=random_state,
        )
        self.class_prior = class_prior


def _check_class_prior(class_prior, classes):
    """Return a user's class proportions (in the order of ``classes``), normalised."""
    prior = np.asarray(class_prior, dtype=np.float64)
    if prior.shape != classes.shape:
        raise ValueError(
            f"class_prior must have one entry per source class ({classes.size}: "
            f"{classes.tolist()}); got shape {prior.shape}."
        )
    if not np.all(np.isfinite(prior)) or np.any(prior < 0) or not prior.sum() > 0:
        raise ValueError(
            "class_prior must be finite, non-negative and not all zero; got "
            f"{prior.tolist()}."
        )
    return prior / prior.sum()


def _carried_labels(barycenter, component_classes, classes):
    """Class distributions that a barycenter's plans bring from its inputs."""
    weights = (
        np.asarray(barycenter.weights, dtype=float)
        if barycenter.weights is not None
        else None
    )
    K = len(component_classes)
    lambdas = np.full(K, 1.0 / K) if weights is None else weights / weights.sum()
    carried = np.zeros((barycenter.weights_.size, classes.size))
    for lam, plan, comps in zip(
        lambdas, barycenter.plans_, component_classes, strict=True
    ):
        carried += lam * plan @ np.eye(classes.size)[np.searchsorted(classes, comps)]
    mass = barycenter.weights_[:, None]
    return np.divide(
        carried, mass, out=np.full_like(carried, 1.0 / classes.size), where=mass > 0
    )


def _full_covariances(model):
    """(k, d, d) covariances of a fitted GaussianMixture of any covariance type."""
    return check_mixture(model, "the fitted mixture")[1]


def _scale(cost):
    """Return the median positive cost, the unit of ``reg`` and ``reg_m``."""
    positive = cost[cost > 0]
    return float(np.median(positive)) if positive.size else 1.0


class GMMOTMappingAdapter(_SingleSource):
    r"""GMM-OTDA\ :sub:`T`: map the source samples onto the target domain.

    Fits one Gaussian mixture per source class and one to the target samples,
    the GMM-OT plan between their components, and moves every source sample
    :math:`x` of class :math:`c` by :math:`T(x) = \sum_{i \in c} \gamma_i(x)
    \sum_j \frac{\pi_{ij}}{\sum_l \pi_{il}} (A_{ij} x + b_{ij})`, with
    :math:`\gamma_i(x)` its posterior among the components of its class and
    :math:`x \mapsto A_{ij} x + b_{ij}` the optimal map between Gaussians
    (Montesuma et al., TMLR 2024). Target samples are left as they are; a
    classifier trained on the moved source samples then classifies them.

    Parameters
    ----------
    n_components_per_class : int, default=2
        Components of the source mixture of every class (fewer if a class has
        fewer samples).
    target_n_components : int, default=None
        Components of the target mixture; None: ``n_components_per_class``
        times the number of classes.
    gmm : GaussianMixture, default=None
        Template (cloned) of every mixture fitted; default
        ``GaussianMixture(covariance_type="full", reg_covar=1e-6)``. Its
        ``n_components`` and ``random_state`` are set by the adapter.
    reg : float, default=None
        None: the exact GMM-OT plan. A value: the entropic plan, with
        regularisation ``reg`` times the median cost between the components
        (so that it does not depend on the units).
    reg_m : float or pair of float, default=None
        With ``reg``: the unbalanced plan, marginals relaxed by KL with
        ``reg_m`` times the median cost (POT's ``sinkhorn_unbalanced``
        ``reg_m``; see :func:`skgmmot.gmm_ot_plan`).
    class_prior : {"source", "estimate"} or array-like, default="source"
        Class proportions of the source mixture, whose components are
        transported: the source's own ("source"); the maximum-likelihood
        proportions of the target samples under the source's class mixtures
        ("estimate": EM with the class mixtures fixed, Saerens et al. 2002),
        for target (label) shift, where only the proportions change; or
        given (shape (n_classes,), in the order of ``classes_``). Under
        target shift with "source", an exact plan must send mass across
        classes. See the user guide's "Domain adaptation" page.
    random_state : int, RandomState instance or None, default=None
        Seeds the mixtures' fits.
    transport : {"bary", "rand"}, default="bary"
        ``"bary"``: the average of the component maps (above); ``"rand"``: the
        map of one pair drawn with those weights.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The source classes.
    source_mixture_ : tuple of ndarray
        ``(means, covariances, weights)`` of the class-wise source mixture
        (weights: class proportion times the class mixture's weights).
    component_classes_ : ndarray of shape (k_s,)
        Index into ``classes_`` of every source component.
    class_prior_ : ndarray of shape (n_classes,)
        The class proportions of ``source_mixture_``.
    target_mixture_ : tuple of ndarray
        ``(means, covariances, weights)`` of the target mixture.
    plan_ : ndarray of shape (k_s, k_t)
        The plan between the source and target components.

    See Also
    --------
    GMMOTMapping : A skada pipeline of this adapter and a classifier.
    GMMOTLabelPropAdapter : Propagate the labels instead.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot.da import GMMOTMappingAdapter
    >>> rng = np.random.RandomState(0)
    >>> Xs = np.vstack([rng.randn(50, 2), rng.randn(50, 2) + [4, 0]])
    >>> ys = np.repeat([0, 1], 50)
    >>> Xt = Xs @ [[1.0, 0.5], [0.0, 1.0]] + [0, 3]  # sheared and shifted
    >>> X = np.vstack([Xs, Xt])
    >>> y = np.concatenate([ys, -np.ones(100, dtype=int)])  # targets masked
    >>> domain = np.repeat([1, -2], 100)
    >>> adapter = GMMOTMappingAdapter(1, random_state=0)
    >>> X_adapted = adapter.fit_transform(X, y, sample_domain=domain)
    >>> bool(np.abs(X_adapted[:100].mean(0) - Xt.mean(0)).max() < 0.5)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **_SingleSource._parameter_constraints,
        "transport": [StrOptions({"bary", "rand"})],
    }

    def __init__(
        self,
        n_components_per_class=2,
        *,
        target_n_components=None,
        gmm=None,
        reg=None,
        reg_m=None,
        class_prior="source",
        transport="bary",
        random_state=None,
    ):
        super().__init__(
            n_components_per_class,
            target_n_components=target_n_components,
            gmm=gmm,
            reg=reg,
            reg_m=reg_m,
            class_prior=class_prior,
            random_state=random_state,
        )
        self.transport = transport

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, sample_domain=None):
        """Fit the mixtures of both domains and the plan between them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source and target samples.
        y : array-like of shape (n_samples,)
            Source labels; target labels are ignored (masked as -1 in
            skada's convention).
        sample_domain : array-like of shape (n_samples,), default=None
            >= 0 for source samples, < 0 for target samples; None infers it
            from ``y`` (-1: target).

        Returns
        -------
        self : GMMOTMappingAdapter
        """
        X, y, sample_domain = _split_domains(X, y, sample_domain)
        self._fit_domains(X, y, sample_domain, self.class_prior)
        return self

    def fit_transform(self, X, y=None, *, sample_domain=None, **params):
        """Fit, then return ``X`` with the source samples mapped to the target.

        Parameters
        ----------
        X, y, sample_domain
            As in :meth:`fit`.
        **params
            Ignored (skada passes routing parameters).

        Returns
        -------
        X_adapted : ndarray of shape (n_samples, n_features)
            Source samples moved by the class-conditional GMM-OT map (using
            their labels), target samples unchanged.
        """
        X, y, sample_domain = _split_domains(X, y, sample_domain)
        self._fit_domains(X, y, sample_domain, self.class_prior)
        out = X.copy()
        source = np.flatnonzero(sample_domain >= 0)
        labels = y[source]
        known = labels != MASKED_LABEL
        for c, label in enumerate(self.classes_):
            rows = source[known & (labels == label)]
            if rows.size:
                out[rows] = self._map(X[rows], self.component_classes_ == c)
        unknown = source[~known]
        if unknown.size:
            out[unknown] = self._map(X[unknown], None)
        return out

    def transform(self, X, y=None, *, sample_domain=None, allow_source=False, **params):
        """Map source samples to the target domain; target samples pass through.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored (labels are unknown at transform time: the source samples
            are moved with their posterior among all source components).
        sample_domain : array-like of shape (n_samples,), default=None
            None: all samples are target samples (returned as they are).
        allow_source : bool, default=False
            Whether source samples may be given (skada's convention).
        **params
            Ignored.

        Returns
        -------
        X_adapted : ndarray of shape (n_samples, n_features)
        """
        X, source = self._split_for_transform(X, sample_domain, allow_source)
        out = X.copy()
        if source.any():
            out[source] = self._map(X[source], None)
        return out

    def _map(self, x, components):
        """Move ``x`` by the plan's maps, from the components ``components``."""
        ms, Cs, ws = self.source_mixture_
        plan = self.plan_
        if components is not None:
            ms, Cs, ws, plan = (
                ms[components],
                Cs[components],
                ws[components],
                plan[components],
            )
        # Rows of the plan normalised to the component weights: with an
        # unbalanced plan a component's mass is spread as its row says.
        mass = plan.sum(axis=1)
        keep = (mass > 0) & (ws > 0)
        if not keep.any():
            return x.copy()
        ms, Cs, ws, plan = ms[keep], Cs[keep], ws[keep], plan[keep]
        ws = ws / ws.sum()
        plan = plan * (ws / mass[keep])[:, None]
        mt, Ct, _ = self.target_mixture_
        seed = fit_random_state(self.random_state)
        return apply_map(x, (ms, Cs, ws), (mt, Ct), plan, self.transport, seed)


class _LabelPropagation:
    """Predictions and skada outputs of the adapters that propagate labels.

    Needs ``classes_``, ``target_mixture_`` and ``target_class_proba_``.
    """

    def predict_proba(self, X):
        """Class probabilities of target samples, through the target components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Target-domain samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._target_proba(X)

    def predict(self, X):
        """Predict the most probable class of every sample (see :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def fit_transform(self, X, y=None, *, sample_domain=None, **params):
        """Fit, then label the target samples and mask the source labels.

        Parameters
        ----------
        X, y, sample_domain
            As in :meth:`fit`.
        **params
            Passed through (skada's ``sample_weight``, for instance).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples, unchanged.
        y_adapted : ndarray of shape (n_samples,)
            Propagated labels on the target samples, -1 on the source ones.
        params : dict
            ``params``, for the next step (skada's adaptation output).
        """
        X, y, sample_domain = _split_domains(X, y, sample_domain)
        self.fit(X, y, sample_domain=sample_domain)
        y_out = np.full(X.shape[0], MASKED_LABEL, dtype=self.classes_.dtype)
        target = sample_domain < 0
        y_out[target] = self.predict(X[target])
        return X, y_out, dict(params)

    def transform(self, X, y=None, *, sample_domain=None, allow_source=False, **params):
        """Return ``X`` unchanged (the labels were adapted, not the samples).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y, sample_domain, allow_source, **params
            As in :meth:`GMMOTMappingAdapter.transform`.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        X, _ = self._split_for_transform(X, sample_domain, allow_source)
        return X


class GMMOTLabelPropAdapter(_LabelPropagation, _SingleSource):
    r"""GMM-OTDA\ :sub:`L`: propagate the source labels to the target samples.

    Fits one Gaussian mixture per source class and one to the target samples
    and the GMM-OT plan :math:`\pi` between their components. Target
    component :math:`j` gets the class distribution of the source mass it
    receives, :math:`\hat Y_t[j] = \sum_i \pi_{ij} Y_s[i] / \sum_i \pi_{ij}`
    (:math:`Y_s` one-hot component classes), and a target sample the average
    of its components' by its posterior; ``fit_transform`` returns the target
    samples with the most probable class as label and the source labels
    masked (-1), so that the next step is trained on the target domain
    (Montesuma et al., TMLR 2024; skada's ``OTLabelPropAdapter`` does the
    same with a plan between samples).

    Parameters
    ----------
    n_components_per_class : int, default=2
        Components of the source mixture of every class (fewer if a class has
        fewer samples).
    target_n_components : int, default=None
        Components of the target mixture; None: ``n_components_per_class``
        times the number of classes.
    gmm : GaussianMixture, default=None
        Template (cloned) of every mixture fitted; default
        ``GaussianMixture(covariance_type="full", reg_covar=1e-6)``. Its
        ``n_components`` and ``random_state`` are set by the adapter.
    reg : float, default=None
        None: the exact GMM-OT plan. A value: the entropic plan, with
        regularisation ``reg`` times the median cost between the components
        (so that it does not depend on the units).
    reg_m : float or pair of float, default=None
        With ``reg``: the unbalanced plan, marginals relaxed by KL with
        ``reg_m`` times the median cost (POT's ``sinkhorn_unbalanced``
        ``reg_m``; see :func:`skgmmot.gmm_ot_plan`).
    class_prior : {"source", "estimate"} or array-like, default="source"
        Class proportions of the source mixture, whose components are
        transported: the source's own ("source"); the maximum-likelihood
        proportions of the target samples under the source's class mixtures
        ("estimate": EM with the class mixtures fixed, Saerens et al. 2002),
        for target (label) shift, where only the proportions change; or
        given (shape (n_classes,), in the order of ``classes_``). Under
        target shift with "source", an exact plan must send mass across
        classes. See the user guide's "Domain adaptation" page.
    random_state : int, RandomState instance or None, default=None
        Seeds the mixtures' fits.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The source classes.
    source_mixture_ : tuple of ndarray
        ``(means, covariances, weights)`` of the class-wise source mixture
        (weights: class proportion times the class mixture's weights).
    component_classes_ : ndarray of shape (k_s,)
        Index into ``classes_`` of every source component.
    class_prior_ : ndarray of shape (n_classes,)
        The class proportions of ``source_mixture_``.
    target_mixture_ : tuple of ndarray
        ``(means, covariances, weights)`` of the target mixture.
    plan_ : ndarray of shape (k_s, k_t)
        The plan between the source and target components.
    target_class_proba_ : ndarray of shape (k_t, n_classes)
        Class distribution of every target component.

    See Also
    --------
    GMMOTLabelProp : A skada pipeline of this adapter and a classifier.
    GMMOTMappingAdapter : Map the source samples instead.
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, sample_domain=None):
        """Fit the mixtures, the plan and the target components' classes.

        Parameters
        ----------
        X, y, sample_domain
            As in :meth:`GMMOTMappingAdapter.fit`.

        Returns
        -------
        self : GMMOTLabelPropAdapter
        """
        X, y, sample_domain = _split_domains(X, y, sample_domain)
        self._fit_domains(X, y, sample_domain, self.class_prior)
        onehot = np.eye(self.classes_.size)[self.component_classes_]
        self.target_class_proba_ = self._propagate(onehot, self.plan_)
        return self


class GMMWBTAdapter(_LabelPropagation, _GMMOTDABase):
    r"""Multi-source GMM-WBT: a labelled barycenter of the sources, then the target.

    Montesuma et al. (ECML-PKDD 2024): every source domain (each value >= 0 of
    ``sample_domain``) is modelled by a *labelled* mixture, one Gaussian
    mixture per class whose components carry the class's one-hot vector
    :math:`v`; their GMM-OT barycenter under the supervised cost
    :math:`W_2^2 + \beta \|v_i - v_j\|^2` (``label_cost``) is a labelled
    mixture whose components carry class distributions
    (:class:`skgmmot.GMMOTBarycenter` with ``label_cost``). The barycenter is
    then transported to the target mixture (whose labels are unknown, so the
    cost there is :math:`W_2^2` alone), and the labels are propagated as in
    :class:`GMMOTLabelPropAdapter`: ``fit_transform`` returns the target
    samples with their most probable class, the source labels masked.

    Parameters
    ----------
    n_components_per_class : int, default=2
        Components per class of every source mixture (fewer if a class has
        fewer samples in a domain); the barycenter and the target mixture
        have ``n_components_per_class`` times the number of classes.
    label_cost : float, default=1.0
        :math:`\beta`, relative to the median Bures cost between the source
        components (so that it does not depend on the units).
    target_n_components : int, default=None
        Components of the target mixture; None: as the barycenter.
    barycenter : GMMOTBarycenter, default=None
        Template (cloned) of the barycenter; default
        ``GMMOTBarycenter(algorithm="fixed_point")``. Its ``n_components``,
        ``label_cost`` and ``random_state`` are set by the adapter.
    gmm : GaussianMixture, default=None
        Template of every mixture fitted, as in :class:`GMMOTMappingAdapter`.
    reg, reg_m : float, default=None
        The plan from the barycenter to the target: exact, entropic or
        unbalanced, as in :class:`GMMOTMappingAdapter`.
    random_state : int, RandomState instance or None, default=None
        Seeds the mixtures and the barycenter.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    source_mixtures_ : list of tuple
        ``(means, covariances, weights)`` of every source domain's labelled
        mixture, in the order of ``source_domains_``.
    source_domains_ : ndarray
        The source domain labels.
    barycenter_ : GMMOTBarycenter
        The fitted labelled barycenter (``labels_``: its class distributions).
    target_mixture_ : tuple of ndarray
    plan_ : ndarray of shape (k_bar, k_t)
        The plan from the barycenter's components to the target's.
    target_class_proba_ : ndarray of shape (k_t, n_classes)

    See Also
    --------
    GMMWBT : A skada pipeline of this adapter and a classifier.
    """

    _parameter_constraints: ClassVar[dict] = {
        **_GMMOTDABase._parameter_constraints,
        "label_cost": [Interval(numbers.Real, 0, None, closed="left")],
        "barycenter": [GMMOTBarycenter, None],
    }

    def __init__(
        self,
        n_components_per_class=2,
        *,
        label_cost=1.0,
        target_n_components=None,
        barycenter=None,
        gmm=None,
        reg=None,
        reg_m=None,
        random_state=None,
    ):
        super().__init__(
            n_components_per_class,
            target_n_components=target_n_components,
            gmm=gmm,
            reg=reg,
            reg_m=reg_m,
            random_state=random_state,
        )
        self.label_cost = label_cost
        self.barycenter = barycenter

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, sample_domain=None):
        """Fit the labelled source mixtures, their barycenter, the target and the plan.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Source labels (target ones masked as -1).
        sample_domain : array-like of shape (n_samples,), default=None
            One value >= 0 per source domain, < 0 for target samples.

        Returns
        -------
        self : GMMWBTAdapter
        """
        X, y, sample_domain = _split_domains(X, y, sample_domain)
        source, target = self._source_and_target(y, sample_domain)
        rng = fit_random_state(self.random_state)
        self.source_domains_ = np.unique(sample_domain[source])
        mixtures, component_classes = [], []
        for domain in self.source_domains_:
            rows = sample_domain == domain
            *mixture, classes = self._class_mixture(X[rows], y[rows], rng)
            mixtures.append(tuple(mixture))
            component_classes.append(self.classes_[classes])
        self.source_mixtures_ = mixtures
        pooled_means = np.concatenate([m for m, _, _ in mixtures])
        pooled_covs = np.concatenate([C for _, C, _ in mixtures])
        scale = _scale(
            cost_matrix(pooled_means, pooled_covs, pooled_means, pooled_covs)
        )
        template = self.barycenter
        if template is None:
            template = GMMOTBarycenter()
        n_bar = self.n_components_per_class * self.classes_.size
        self.barycenter_ = clone(template).set_params(
            n_components=min(n_bar, pooled_means.shape[0]),
            label_cost=self.label_cost / scale,
            random_state=rng.randint(np.iinfo(np.int32).max),
        )
        self.barycenter_.fit(mixtures, component_classes)
        bar = self.barycenter_
        self.target_mixture_ = self._target_mixture(X[target], rng)
        self.plan_ = self._plan(
            (bar.means_, bar.covariances_, bar.weights_), self.target_mixture_
        )
        # The barycenter's classes are those of its labelled inputs, which
        # are classes_ (every class has a component in some domain). With
        # label_cost=0 the barycenter is fitted unlabelled; its components'
        # classes are then those its plans bring from the sources.
        labels = bar.labels_
        if labels is None:
            labels = _carried_labels(bar, component_classes, self.classes_)
        self.target_class_proba_ = self._propagate(labels, self.plan_)
        self.n_features_in_ = X.shape[1]
        return self


def _make_pipeline(adapter, base_estimator, name):
    if not HAS_SKADA:
        raise ImportError(
            f"{name} returns a skada pipeline (make_da_pipeline) and needs skada: "
            "pip install 'skgmmot[da]'. Without skada, use the adapter "
            f"({type(adapter).__name__}) directly and fit a classifier on its "
            "output."
        )
    from skada import make_da_pipeline

    return make_da_pipeline(adapter, base_estimator)


def GMMOTMapping(base_estimator=None, **params):
    """Build a skada pipeline: GMMOTMappingAdapter, then ``base_estimator``.

    Parameters
    ----------
    base_estimator : estimator, default=None
        Trained on the mapped source samples; default ``SVC(kernel="rbf")``,
        as skada's ``OTMapping``.
    **params
        Parameters of :class:`GMMOTMappingAdapter`.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        ``skada.make_da_pipeline(GMMOTMappingAdapter(**params), base_estimator)``.

    Raises
    ------
    ImportError
        Without skada (``pip install 'skgmmot[da]'``).
    """
    if base_estimator is None:
        from sklearn.svm import SVC

        base_estimator = SVC(kernel="rbf")
    return _make_pipeline(GMMOTMappingAdapter(**params), base_estimator, "GMMOTMapping")


def GMMOTLabelProp(base_estimator=None, **params):
    """Build a skada pipeline: GMMOTLabelPropAdapter, then ``base_estimator``.

    Parameters
    ----------
    base_estimator : estimator, default=None
        Trained on the target samples and their propagated labels; default
        ``SVC(kernel="rbf")``, as skada's ``OTLabelProp``.
    **params
        Parameters of :class:`GMMOTLabelPropAdapter`.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline

    Raises
    ------
    ImportError
        Without skada (``pip install 'skgmmot[da]'``).
    """
    if base_estimator is None:
        from sklearn.svm import SVC

        base_estimator = SVC(kernel="rbf")
    return _make_pipeline(
        GMMOTLabelPropAdapter(**params), base_estimator, "GMMOTLabelProp"
    )


def GMMWBT(base_estimator=None, **params):
    """Build a skada pipeline: GMMWBTAdapter, then ``base_estimator``.

    Parameters
    ----------
    base_estimator : estimator, default=None
        Trained on the target samples and their propagated labels; default
        ``SVC(kernel="rbf")``.
    **params
        Parameters of :class:`GMMWBTAdapter`.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline

    Raises
    ------
    ImportError
        Without skada (``pip install 'skgmmot[da]'``).
    """
    if base_estimator is None:
        from sklearn.svm import SVC

        base_estimator = SVC(kernel="rbf")
    return _make_pipeline(GMMWBTAdapter(**params), base_estimator, "GMMWBT")
