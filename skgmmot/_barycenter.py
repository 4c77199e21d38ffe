"""GMMOTBarycenter: the GMM-OT barycenter as a scikit-learn estimator."""

import numbers
import time
import zlib
from typing import ClassVar

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import (
    BaseEstimator,
    DensityMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
    clone,
)
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.utils.validation import validate_data

from skgmmot._base import (
    MixtureResultMixin,
    atomic_fit,
    check_factorable,
    check_fitted,
    fit_random_state,
    precisions_cholesky,
)
from skgmmot._compat import Interval, StrOptions, _fit_context
from skgmmot._engine.alignment import (
    carried_mixture,
    group_plan,
    mixture_log_likelihood,
)
from skgmmot._engine.barycenter import PROJECTIONS, Planner, fixed_point
from skgmmot._engine.costs import cost_matrix
from skgmmot._engine.maps import apply_map
from skgmmot._engine.mixtures import Pooled, floor_eigenvalues
from skgmmot._engine.multimarginal import (
    MAX_TUPLES,
    TuplePricer,
    heaviest_atoms,
    multimarginal_barycenter,
)
from skgmmot._engine.seeding import cell_weights, kmeans_init, random_init
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import (
    SINKHORN_MAX_ITER,
    SINKHORN_TOL,
    Solver,
    exact_plan,
)
from skgmmot._validation import (
    check_covariances,
    check_mixture,
    check_mixture_list,
    check_n_features,
    check_points,
    check_sample_domain,
    check_tuple_count,
    check_weights,
    is_mixture_like,
)
from skgmmot._warnings import warn_notes


def _is_mixture_sequence(X):
    """Whether ``X`` is a sequence of mixtures rather than a sample array."""
    return (
        isinstance(X, list | tuple)
        and len(X) > 0
        # One mixture among the items is enough: the others are then named
        # by check_mixture if malformed, instead of failing as samples.
        and any(is_mixture_like(item) for item in X)
    )


def _is_single_mixture(X):
    """Whether ``X`` is one mixture (a common mistake for ``[X]``)."""
    if isinstance(X, list) or not is_mixture_like(X):
        return False
    if not isinstance(X, tuple):  # a GaussianMixture or a dict
        return True
    try:
        return np.ndim(X[0]) == 2  # means; a tuple of sample rows has 1-D items
    except ValueError:
        return False


def _plain(label):
    """Return a label as Python prints it (2, not np.int64(2)), for messages."""
    return label.item() if isinstance(label, np.generic) else label


def _fit_timed(model, part):
    """Fit ``model`` to ``part``; return it with the seconds it took."""
    start = time.perf_counter()
    model.fit(part)
    return model, time.perf_counter() - start


def _group_fit_seconds(models):
    """Rough serial time of fitting every ``(GaussianMixture, samples)`` pair.

    One EM iteration costs about ``n k d (d + 1)`` flops (the log-densities of
    every sample under every component); a fit runs up to ``max_iter`` of
    them per initialisation, at about a flop per nanosecond.
    """
    total = 0.0
    for model, part in models:
        n, d = part.shape
        total += n * model.n_components * d * (d + 1) * model.max_iter * model.n_init
    return total * 1e-9


def _n_mixture_parameters(n_components, n_features, covariance_type):
    """Free parameters of a Gaussian mixture, as ``GaussianMixture`` counts them."""
    d = n_features
    per_covariance = {
        "full": n_components * d * (d + 1) / 2.0,
        "tied": d * (d + 1) / 2.0,
        "diag": n_components * d,
        "spherical": n_components,
    }[covariance_type]
    return int(per_covariance + n_components * d + n_components - 1)


#: Folds of the cross-fitting that scores a group unseen in fit: each fold's
#: samples fit the group's mixture, the others are scored.
SCORE_FOLDS = 3
#: Estimated serial seconds of the per-group mixture fits below which
#: ``n_jobs`` is not used for them: starting joblib's worker processes takes
#: seconds.
PARALLEL_GROUP_FITS_ABOVE = 1.0
#: EM initialisations (at least) of the mixtures that ``score`` fits on a
#: fold of a new group: fitted on a third of the samples, one EM run is more
#: often stuck with two clusters merged, which makes one size look bad.
SCORE_N_INIT = 3


def _progress_bar(done, total, width=30):
    filled = int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def _fitted(weights, means, covs, **attributes):
    """Return the fitted attributes of a barycenter: its mixture and ``attributes``."""
    # Smallest eigenvalues lost to round-off (inputs with condition numbers
    # near 1e12) would make covariances_ singular.
    covs = floor_eigenvalues(covs)
    check_factorable(
        covs,
        "GMMOTBarycenter: the fitted covariances_",
        "a fitted barycenter needs positive definite covariances, and the "
        "inputs' are zero (Dirac components); add a ridge to them "
        "(GaussianMixture's reg_covar)",
    )
    return {
        "weights_": weights,
        "means_": means,
        "covariances_": covs,
        "precisions_cholesky_": precisions_cholesky(covs),
        **attributes,
    }


class GMMOTBarycenter(
    OneToOneFeatureMixin,
    TransformerMixin,
    DensityMixin,
    MixtureResultMixin,
    BaseEstimator,
):
    r"""GMM-OT barycenter of Gaussian mixtures, as a scikit-learn estimator.

    Computes the mixture :math:`\bar\mu` with ``n_components`` components that
    minimises :math:`\sum_k \lambda_k MW_2^2(\bar\mu, \mu_k)` over K input
    mixtures, by the fixed-point method of Tanguy, Delon & Gozlan [2]_: every
    iteration computes the K plans between the barycenter and the inputs, then
    replaces each barycenter component by the Bures barycenter (coefficients
    :math:`\lambda`) of the Gaussians its plan rows select, or (``projection=
    "bures"``) by the Gaussian barycenter of all the input components they
    couple it with. The result behaves
    like a fitted ``GaussianMixture`` (``predict``, ``score_samples``,
    ``sample``, ``bic``...) and ``transform`` moves every group's samples onto
    it with the GMM-OT map of that group.

    Parameters
    ----------
    n_components : int, default=3
        Number of components of the barycenter.
    weights : array-like of shape (K,), default=None
        Barycentric coefficients :math:`\lambda` of the inputs; uniform if None.
    init : {"kmeans", "random"} or mixture, default="kmeans"
        Initial barycenter components: "kmeans" seeds them k-means++-style in
        Bures distance, among the components of one input (drawn with
        probability :math:`\lambda_k`) first and then among all pooled input
        components, so that inputs sharing one structure through different
        batch effects start from one input's components, one per cluster;
        "random" draws distinct pooled input components proportionally to
        their weights. Each seed starts with the weight of its cell: the
        mass :math:`\lambda_k w_{kj}` of the input components nearest to it
        (only those of the seeds' input when all come from one), so the
        barycenter of K copies of one mixture is that mixture. A mixture
        (fitted ``GaussianMixture`` or ``(means, covariances, weights)``) is
        used as given, weights included.
    algorithm : {"fixed_point", "multimarginal"}, default="fixed_point"
        "fixed_point": the fixed-point method [2]_, for any input sizes, a
        local optimum with ``n_components`` components. "multimarginal": the
        exact barycenter, the solution of the multi-marginal linear program
        of Delon & Desolneux [1]_ (see
        :func:`~skgmmot.gmm_barycenter_multimarginal`); its number of
        components is the program's (at most :math:`\sum_k k_k - K + 1`),
        not ``n_components``, which then only sizes the per-group mixtures
        fitted on samples. Its cost is the product of the input sizes (the
        number of tuples of components; at most ``max_tuples``), and it is
        deterministic: ``init``, ``n_init``, ``projection``, ``max_iter``,
        ``tol`` and ``learn_weights`` only matter when ``max_support`` caps
        it. Requires ``ot_solver="exact"``.
    max_support : int, default=None
        With ``algorithm="multimarginal"``, the most components the
        barycenter may have. If the exact barycenter has more, its
        ``max_support`` heaviest components start the fixed point (with
        ``projection``, ``max_iter``, ``tol`` and ``learn_weights``), whose
        local optimum is kept; ``exact_cost_`` still reports the exact
        optimum, for comparison. None: no cap.
    max_tuples : int, default=1000000
        With ``algorithm="multimarginal"``, the largest product of the input
        sizes solved; ``fit`` raises a ``ValueError`` above it.
    n_init : int, default=1
        Number of initialisations (each drawn from ``random_state``); the fit
        with the lowest final objective is kept, as in scikit-learn's
        ``KMeans`` and ``GaussianMixture``. The fixed point finds local
        minima; more initialisations cost proportionally more time (not the
        per-group mixture fits, done once). Ignored, with one run, when
        ``init`` is a mixture.
    max_iter : int, default=100
        Maximum number of fixed-point iterations.
    tol : float, default=1e-6
        Stop when the objective decreases by less than ``tol`` times its value
        in one iteration (a rise also stops the iterations). With exact plans
        and fixed weights, the iterations also stop when the plans no longer
        change: the next update would return the same barycenter.
    ot_solver : {"exact", "sinkhorn"}, default="exact"
        Plans by network simplex (POT's ``emd``), or entropic plans by
        log-domain Sinkhorn with regularisation ``reg`` (stable for small
        ``reg``; in the units of the squared-distance costs).
    reg : float, default=0.1
        Entropic regularisation of ``ot_solver="sinkhorn"``.
    numItermax : int, default=None
        Iteration limit of the network simplex on each plan (``ot.emd``'s
        ``numItermax``). None: the largest of 100000 and ``0.1 n m`` for an
        n x m plan, then ten times that if the simplex stops at it. A plan
        left at the limit gives one ``ConvergenceWarning`` per call.
    sinkhorn_max_iter : int, default=10000
        Sinkhorn iterations at most per plan, with ``ot_solver="sinkhorn"``
        (POT's ``max_iter``; the estimator's ``max_iter`` counts the
        fixed-point iterations).
    sinkhorn_tol : float, default=1e-10
        Sinkhorn stops when a plan misses its marginals by less than this
        (Euclidean norm of the row or column error; POT's ``tol``).
    projection : {"euclidean", "bures", "bures_two_stage"}, default="euclidean"
        How each component is updated from its row of the plans, whose
        weights for input k are :math:`\pi_k[i, :] / w_i`. "bures": the
        Gaussian barycenter of all the input components, with coefficients
        :math:`\lambda_k \pi_k[i, j] / w_i`, which minimises the objective
        for the plans; with exact plans every iteration is then a descent
        step, and the objective never increases. "euclidean" (fast) and
        "bures_two_stage": the Bures barycenter (coefficients ``weights``) of
        one Gaussian per input, the convex combination of its components'
        means and covariances ("euclidean") or their Bures barycenter
        ("bures_two_stage", POT's "bures"). Neither is the minimiser, and the
        objective can rise: about 1e-6 relative near convergence for
        "euclidean", which stops the iterations, and up to 3e-4 relative for
        "bures_two_stage" on ill-conditioned inputs (see the user guide).
    learn_weights : bool, default=True
        Also optimise the barycenter's component weights. Once the fixed point
        with the initial weights has converged, each iteration first computes,
        for the current components, the weights and plans that minimise the
        objective jointly: one linear program in which all K plans share the
        barycenter weights as first marginal (solved with HiGHS, its plans
        then solved again by network simplex for its weights, and not taken
        if they do not lower the objective); then updates the components,
        until the objective converges again. Both steps decrease the objective
        (exactly for ``projection="bures"``), so the result is never worse
        than with fixed weights from the same start.
        Weights may become zero. When the fit converges with such empty
        components and the problem is small enough (the product of the input
        sizes, times K d^3, at most 4e5), each is moved to the Bures
        barycenter of the tuple of input components whose reduced cost in the
        exact barycenter's linear program is most negative (the pricing step
        of column generation, see ``algorithm``), and the fit goes on: the
        optimal weights then give it mass, and the objective drops. On larger
        problems empty components keep their last means and covariances.
        With False, the weights stay at their initial values
        (see ``init``): faster, but a barycenter of groups whose clusters have
        unequal sizes then keeps the sizes of its initial cells.
    label_cost : float, default=0.0
        :math:`\beta` of labelled mixtures (Montesuma et al., 2024): with
        ``fit(mixtures, y=component_classes)``, every component carries the
        one-hot vector :math:`v` of its class, the cost between components is
        :math:`W_2^2 + \beta \|v_i - v_j\|^2`, and every barycenter component
        gets a label vector (the plan-weighted average of the ones it is
        coupled to; ``labels_``). 0: unlabelled (``y`` ignored).
    gmm : GaussianMixture, default=None
        Template cloned and fitted per group when ``fit`` receives samples;
        default ``GaussianMixture(n_components=self.n_components,
        covariance_type="full")``. Its ``random_state``, if None, is drawn from
        ``random_state``. Every group must have at least ``n_components``
        samples (and two); the error names the group that has fewer.
    unseen_domains : {"fit", "raise"}, default="fit"
        What ``transform``, ``score``, ``bic`` and ``aic`` do with a group
        label not seen in ``fit`` (a new batch): "fit" fits a clone of
        ``gmm`` to that group's samples and uses the plan from the barycenter
        to it; "raise" raises a ``ValueError``.
    n_jobs : int, default=None
        Number of joblib workers fitting the per-group mixtures, and solving
        the K exact plans of every iteration when they are large (more than
        about 10 ms of solver time; smaller problems stay on one thread).
        None means 1 unless in a :func:`joblib.parallel_config` context;
        ``joblib.parallel_config(backend="dask")`` uses a Dask cluster.
        Results do not depend on ``n_jobs``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the per-group mixtures.
    verbose : int, default=0
        1 prints a line per fitted group mixture (its size and fit time,
        usually most of a fit on samples) and a line per iteration with the
        objective and time; 2 keeps the iterations on one line, rewritten in
        place, with a progress bar.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Barycenter weights.
    means_ : ndarray of shape (n_components, n_features)
        Barycenter means.
    covariances_ : ndarray of shape (n_components, n_features, n_features)
        Barycenter covariances.
    precisions_cholesky_ : ndarray of shape (n_components, n_features, n_features)
        Cholesky factors of the precisions, as in ``GaussianMixture``.
    n_features_in_ : int
        Number of features.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when fitted on a DataFrame with string column names.
    n_iter_ : int
        Fixed-point iterations done (1 with ``algorithm="multimarginal"``,
        uncapped: one linear program).
    converged_ : bool
        Whether the tolerance was reached before ``max_iter``.
    cost_ : float
        Final objective :math:`\sum_k \lambda_k MW_2^2(\bar\mu, \mu_k)` (with
        entropic plans: their transport cost, without the entropy).
    cost_curve_ : ndarray of shape (``n_iter_`` + 1,)
        The objective at the initial point and after every iteration (the
        exact barycenter's alone with ``algorithm="multimarginal"``).
    exact_cost_ : float or None
        With ``algorithm="multimarginal"``: the optimum of the linear
        program, the least objective of any mixture (equal to ``cost_`` unless
        ``max_support`` capped the barycenter). None with the fixed point.
    classes_ : ndarray of shape (n_classes,) or None
        The classes of labelled inputs (``label_cost > 0``), else None.
    labels_ : ndarray of shape (n_components_fitted, n_classes) or None
        The label vector of every barycenter component (a distribution over
        ``classes_``), with labelled inputs; else None.
    tuples_ : ndarray of shape (n_components_fitted, K) or None
        With ``algorithm="multimarginal"`` (uncapped): the component of every
        input that each barycenter component is the Bures barycenter of.
        None otherwise.
    plans_ : list of ndarray of shape (n_components, k_k)
        Final plans between the barycenter and each input.
    mixtures_ : list of tuple
        The K inputs as (means, covariances, weights) arrays.
    domains_ : ndarray of shape (K,)
        The group labels, in the order of ``mixtures_`` (sample mode); in
        mixture mode ``arange(K)``.

    See Also
    --------
    skgmmot.gmm_barycenter_fixed_point : The functional version (POT's API).
    sklearn.mixture.GaussianMixture : What the barycenter behaves like.

    Notes
    -----
    **Choosing n_components on groups with batch effects.** The
    log-likelihood of raw samples under the barycenter (``score(X)``,
    ``bic(X)``, as for a ``GaussianMixture``) measures how far each group
    sits from the barycenter: with batch effects as large as the clusters'
    separation it prefers one broad component whatever the clusters. With
    ``sample_domain``, ``score``, ``bic`` and ``aic`` measure instead how well
    the barycenter explains every group *after alignment*: the barycenter
    is carried onto the group through the plan between them (each
    barycenter component i moves, by its Gaussian OT map, onto the group
    component its plan row sends most mass to, keeping its weight), and the
    group's samples are scored under that mixture. It equals the group's own
    mixture when the barycenter has the group's structure, and loses
    likelihood where it does not: group components that no barycenter
    component reaches get no mass, and weights that differ shift mass. It is
    a proper density, so it can be compared across ``n_components``.
    ``score`` cross-fits the mixture of a group unseen in ``fit`` (it is
    fitted on a third of the group's samples and scores the other two
    thirds, in turn): fitting on a small part makes
    the held-out comparison between sizes sharper [3]_. ``bic``
    scores in-sample and counts the parameters of the barycenter and of one
    mixture per group. Route ``sample_domain`` to ``score`` in
    ``GridSearchCV`` with ``set_score_request(sample_domain=True)``, as the
    gallery example on batch effects does; without it, ``GridSearchCV``
    scores raw samples.

    References
    ----------
    .. [1] Delon, J., & Desolneux, A. (2020). A Wasserstein-type distance in
       the space of Gaussian mixture models. SIAM Journal on Imaging Sciences,
       13(2), 936-970.
    .. [2] Tanguy, E., Delon, J., & Gozlan, N. (2024). Computing barycenters of
       measures for generic transport costs. arXiv:2501.04016.
    .. [3] Shao, J. (1993). Linear model selection by cross-validation.
       Journal of the American Statistical Association, 88(422), 486-494.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import GMMOTBarycenter
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.randn(100, 2), rng.randn(100, 2) + [4, 0]])
    >>> groups = np.repeat([0, 1], 100)
    >>> bary = GMMOTBarycenter(n_components=1, random_state=0)
    >>> bary = bary.fit(X, sample_domain=groups)
    >>> bool(np.allclose(bary.means_[0], X.mean(axis=0)))  # average of the groups
    True
    >>> bary.transform(X, sample_domain=groups).shape
    (200, 2)
    """

    __metadata_request__fit: ClassVar[dict] = {"sample_domain": True}
    __metadata_request__transform: ClassVar[dict] = {"sample_domain": True}
    __metadata_request__score: ClassVar[dict] = {"sample_domain": True}

    #: Parameters that methods read at each call (how new groups are fitted and
    #: reported, not the barycenter): they may change after ``fit``; any other
    #: change asks for a refit (``check_fitted``).
    _call_time_params = frozenset(
        {"n_jobs", "random_state", "unseen_domains", "verbose"}
    )

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "weights": ["array-like", None],
        "init": [
            StrOptions({"kmeans", "random"}),
            tuple,
            list,
            GaussianMixture,
            BayesianGaussianMixture,
        ],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "algorithm": [StrOptions({"fixed_point", "multimarginal"})],
        "max_support": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "max_tuples": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "ot_solver": [StrOptions({"exact", "sinkhorn"})],
        "reg": [Interval(numbers.Real, 0, None, closed="neither")],
        "numItermax": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "sinkhorn_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "sinkhorn_tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "projection": [StrOptions(set(PROJECTIONS))],
        "learn_weights": ["boolean"],
        "label_cost": [Interval(numbers.Real, 0, None, closed="left")],
        "unseen_domains": [StrOptions({"fit", "raise"})],
        "gmm": [GaussianMixture, None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=3,
        *,
        weights=None,
        init="kmeans",
        n_init=1,
        algorithm="fixed_point",
        max_support=None,
        max_tuples=MAX_TUPLES,
        max_iter=100,
        tol=1e-6,
        ot_solver="exact",
        reg=0.1,
        numItermax=None,
        sinkhorn_max_iter=SINKHORN_MAX_ITER,
        sinkhorn_tol=SINKHORN_TOL,
        projection="euclidean",
        learn_weights=True,
        label_cost=0.0,
        gmm=None,
        unseen_domains="fit",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.weights = weights
        self.init = init
        self.n_init = n_init
        self.algorithm = algorithm
        self.max_support = max_support
        self.max_tuples = max_tuples
        self.max_iter = max_iter
        self.tol = tol
        self.ot_solver = ot_solver
        self.reg = reg
        self.numItermax = numItermax
        self.sinkhorn_max_iter = sinkhorn_max_iter
        self.sinkhorn_tol = sinkhorn_tol
        self.projection = projection
        self.learn_weights = learn_weights
        self.label_cost = label_cost
        self.gmm = gmm
        self.unseen_domains = unseen_domains
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    def _template(self):
        """Return the GaussianMixture fitted to every group (not cloned)."""
        if self.gmm is None:
            return GaussianMixture(
                n_components=self.n_components, covariance_type="full"
            )
        return self.gmm

    def _group_models(self, parts, seeds, min_n_init=1):
        """Fit a clone of the template to each ``(label, samples)`` part.

        Every clone runs at least ``min_n_init`` EM initialisations. Raises a
        ``ValueError`` naming the group if it has fewer samples than the
        template has components; reports every fit when ``verbose``.
        """
        template = self._template()
        k = template.n_components
        models = []
        for (label, part), seed in zip(parts, seeds, strict=True):
            if part.shape[0] < max(k, 2):
                raise ValueError(
                    f"group {_plain(label)!r} has {part.shape[0]} samples, fewer than "
                    f"the {max(k, 2)} needed to fit its mixture of {k} components "
                    f"({'n_components' if self.gmm is None else 'gmm.n_components'})."
                )
            model = clone(template)
            if model.random_state is None:
                model.set_params(random_state=int(seed))
            if model.n_init < min_n_init:
                model.set_params(n_init=min_n_init)
            models.append((model, part))
        n_jobs = self.n_jobs
        if _group_fit_seconds(models) < PARALLEL_GROUP_FITS_ABOVE:
            n_jobs = 1  # workers would take longer to start than the fits
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_fit_timed)(model, part) for model, part in models
        )
        mixtures = []
        for n, ((model, seconds), (label, part)) in enumerate(
            zip(results, parts, strict=True), start=1
        ):
            name = f"group {_plain(label)!r}"
            mixtures.append(check_mixture(model, f"mixture of {name}"))
            if self.verbose > 0:
                print(
                    f"[GMMOTBarycenter] {name}: {type(model).__name__} "
                    f"with {k} components fitted to {part.shape[0]} samples in "
                    f"{seconds:.2f}s ({n}/{len(parts)})",
                    flush=True,
                )
        return mixtures

    def _fit_groups(self, X, sample_domain, rng):
        """Fit one mixture per group of samples; return them and the labels."""
        if sample_domain is None:
            labels = np.zeros(X.shape[0], dtype=np.int64)
        else:
            labels = check_sample_domain(sample_domain, X.shape[0])
        domains = np.unique(labels)
        seeds = rng.randint(np.iinfo(np.int32).max, size=domains.size)
        parts = [(domain, X[labels == domain]) for domain in domains]
        return self._group_models(parts, seeds), domains

    def _initial_mixture(self, inputs, rng, n_components=None):
        """Return the fixed point's start, of ``n_components`` (None: the parameter)."""
        n_components = n_components or self.n_components
        if isinstance(self.init, str):
            pool = inputs.mass.size
            if n_components > pool:
                raise ValueError(
                    f"n_components={n_components} is larger than the "
                    f"{pool} components of all inputs together; pass init as a "
                    "mixture to start from more components."
                )
            seed = kmeans_init if self.init == "kmeans" else random_init
            chosen = seed(inputs, n_components, rng)
            weights = cell_weights(inputs, chosen)
            labels = None if inputs.labels is None else inputs.labels[chosen]
            return inputs.means[chosen], inputs.covs[chosen], weights, labels
        means, covs, weights = check_mixture(self.init, "init")
        check_factorable(
            floor_eigenvalues(covs),
            "init: covariances",
            "its components start the barycenter's (a zero-weight one stays as "
            "it is), whose covariances must be positive definite",
        )
        if means.shape[0] != self.n_components:
            raise ValueError(
                f"init has {means.shape[0]} components but n_components="
                f"{self.n_components}."
            )
        check_n_features(means.shape[1], inputs.means.shape[1], "init", "the inputs")
        labels = None
        if inputs.labels is not None:  # no labels given: start undecided
            n_classes = inputs.labels.shape[1]
            labels = np.full((means.shape[0], n_classes), 1.0 / n_classes)
        return means, covs, weights, labels

    def _report(self, iteration, objective, start):
        if self.verbose <= 0:
            return
        line = (
            f"[GMMOTBarycenter] iteration {iteration:4d}  objective "
            f"{objective:.10g}  time {time.perf_counter() - start:.3f}s"
        )
        if self.verbose >= 2:
            # One line, rewritten in place; _solve ends it.
            line += "  " + _progress_bar(iteration, self.max_iter)
            print("\r" + line, end="", flush=True)
        else:
            print(line, flush=True)

    def _solver(self, notes):
        """Return the plans' solver with this estimator's options."""
        return Solver(
            self.ot_solver,
            self.reg,
            num_iter_max=self.numItermax,
            max_iter=self.sinkhorn_max_iter,
            tol=self.sinkhorn_tol,
            notes=notes,
        )

    def _lambdas(self, K):
        if self.weights is None:
            return np.full(K, 1.0 / K)
        return check_weights(self.weights, K, "weights (one per input mixture)")

    def _inputs(self, mixtures, lambdas, labels):
        """Pool the inputs; label them when ``labels`` (one-hot, (p, C)) is set."""
        inputs = Pooled(mixtures, lambdas)
        if labels is not None:
            inputs.with_labels(labels, self.label_cost)
        return inputs

    def _solve(self, mixtures, rng, notes, start=None, pricer=None, labels=None):
        """Run the fixed point from one start (``start``, or ``init``'s).

        ``pricer`` (a ``TuplePricer`` of these inputs, shared by the
        restarts) moves zero-weight components when weights are learnt.
        Returns every fitted attribute (sets nothing) and the last relative
        decrease of the objective.
        """
        lambdas = self._lambdas(len(mixtures))
        inputs = self._inputs(mixtures, lambdas, labels)
        if start is None:
            start = self._initial_mixture(inputs, rng)
        means, covs, w, start_labels = start
        planner = Planner(self._solver(notes), n_jobs=self.n_jobs)
        began = time.perf_counter()
        result = fixed_point(
            inputs,
            lambdas,
            means,
            covs,
            w,
            projection=self.projection,
            planner=planner,
            max_iter=self.max_iter,
            tol=self.tol,
            learn_weights=self.learn_weights,
            pricer=pricer if self.learn_weights else None,
            labels=start_labels,
            notes=notes,
            callback=lambda n_iter, *state: self._report(n_iter, state[-1], began),
        )
        if self.verbose >= 2:
            print(flush=True)
        return _fitted(
            result.weights,
            result.means,
            result.covs,
            n_iter_=result.n_iter,
            converged_=result.converged,
            cost_=result.objective,
            cost_curve_=np.asarray(result.curve),
            plans_=[p.copy() for p in inputs.split(result.plan)],
            exact_cost_=None,
            tuples_=None,
            labels_=result.labels,
        ), result.last_decrease

    def _solve_exact(self, mixtures, rng, notes, pricer, labels=None):
        """Solve the multi-marginal program; cap it by ``max_support`` if set.

        A capped fit keeps the best of the fixed point from the exact
        barycenter's heaviest components and from ``n_init`` initialisations
        of ``init`` (with ``max_support`` components). Returns every fitted
        attribute and the last relative decrease of the objective (0 when
        exact).
        """
        if self.ot_solver != "exact":
            raise ValueError(
                'algorithm="multimarginal" solves an exact linear program; '
                f"ot_solver={self.ot_solver!r} does not apply to it (use "
                'ot_solver="exact", the default).'
            )
        sizes = [w.size for _, _, w in mixtures]
        check_tuple_count(sizes, self.max_tuples, "GMMOTBarycenter")
        lambdas = self._lambdas(len(mixtures))
        began = time.perf_counter()
        inputs = self._inputs(mixtures, lambdas, labels)
        exact = multimarginal_barycenter(inputs, lambdas, notes)
        if self.verbose > 0:
            print(
                f"[GMMOTBarycenter] multi-marginal program: {exact.n_tuples} "
                f"tuples, {exact.weights.size} components, objective "
                f"{exact.objective:.10g}  time {time.perf_counter() - began:.3f}s",
                flush=True,
            )
        if self.max_support is not None and exact.weights.size > self.max_support:
            starts = [heaviest_atoms(exact, self.max_support)]
            if isinstance(self.init, str):
                starts += [
                    self._initial_mixture(inputs, rng, self.max_support)
                    for _ in range(self.n_init)
                ]
            best = None
            for start in starts:
                fitted, last_decrease = self._solve(
                    mixtures, rng, notes, start, pricer, labels
                )
                if best is None or fitted["cost_"] < best[0]["cost_"]:
                    best = fitted, last_decrease
            best[0]["exact_cost_"] = exact.objective
            return best
        return _fitted(
            exact.weights,
            exact.means,
            exact.covs,
            n_iter_=1,
            converged_=True,
            cost_=exact.objective,
            cost_curve_=np.array([exact.objective]),
            plans_=exact.plans(sizes),
            exact_cost_=exact.objective,
            tuples_=exact.tuples,
            labels_=exact.labels,
        ), 0.0

    def _best_solve(self, mixtures, rng, labels=None):
        """Run ``_solve`` from ``n_init`` starts; keep the lowest objective.

        Warns if the kept run did not converge.
        """
        notes = Notes()
        lambdas = self._lambdas(len(mixtures))
        pricer = TuplePricer(self._inputs(mixtures, lambdas, labels), lambdas, notes)
        if self.algorithm == "multimarginal":
            best = self._solve_exact(mixtures, rng, notes, pricer, labels)
        else:
            n_init = self.n_init if isinstance(self.init, str) else 1
            best = None
            for run in range(1, n_init + 1):
                if self.verbose > 0 and n_init > 1:
                    print(
                        f"[GMMOTBarycenter] initialisation {run}/{n_init}", flush=True
                    )
                fitted, last_decrease = self._solve(
                    mixtures, rng, notes, pricer=pricer, labels=labels
                )
                if best is None or fitted["cost_"] < best[0]["cost_"]:
                    best = fitted, last_decrease
        fitted, last_decrease = best
        if not fitted["converged_"]:
            notes.add(
                "barycenter",
                f"GMMOTBarycenter did not converge in max_iter={self.max_iter} "
                f"iterations (last relative decrease {last_decrease:.3g} > "
                f"tol={self.tol:g}); increase max_iter or tol.",
            )
        warn_notes(notes)
        return fitted

    @_fit_context(prefer_skip_nested_validation=True)
    @atomic_fit
    def fit(self, X, y=None, *, sample_domain=None):
        """Compute the GMM-OT barycenter of several mixtures, or of groups.

        ``fit`` is all-or-nothing: if it raises (``KeyboardInterrupt``
        included), the estimator is left exactly as it was before the call,
        unfitted or with the attributes of its previous fit.

        Parameters
        ----------
        X : sequence of mixtures, or array-like of shape (n_samples, n_features)
            Either K mixtures (fitted ``GaussianMixture`` of any covariance
            type, or ``(means, covariances, weights)`` tuples, possibly of
            different sizes), or samples from which one ``GaussianMixture``
            (a clone of ``gmm``) is fitted per group of ``sample_domain``.
        y : list of array-like, default=None
            With ``label_cost > 0`` and mixtures: the class of every
            component of each mixture (K arrays of lengths k_k), which makes
            them labelled mixtures. Otherwise ignored, as in every
            unsupervised scikit-learn estimator.
        sample_domain : array-like of shape (n_samples,), default=None
            Integer group label of every sample (sample mode only). None puts
            every sample in one group, whose barycenter is its own mixture.

        Returns
        -------
        self : GMMOTBarycenter
            The fitted estimator.
        """
        rng = fit_random_state(self.random_state)
        # The per-group mixtures draw their seeds from a stream of their own,
        # so that fitting on samples and on the same mixtures starts from the
        # same barycenter (the initialisation then draws from ``rng``).
        groups_seed = rng.randint(np.iinfo(np.int32).max)
        if isinstance(X, list | tuple) and len(X) == 0:
            raise ValueError("X is empty: give at least one mixture or sample.")
        if _is_single_mixture(X):
            raise ValueError(
                "X is a single mixture; give a sequence of mixtures, e.g. [X]."
            )
        if _is_mixture_sequence(X):
            if sample_domain is not None:
                raise ValueError(
                    "sample_domain is only used when X holds samples; X is a "
                    "sequence of mixtures."
                )
            mixtures = check_mixture_list(X, "mixtures")
            d = mixtures[0][0].shape[1]
            domains = np.arange(len(mixtures))
            classes, labels = self._component_labels(mixtures, y)
            fitted = self._best_solve(mixtures, rng, labels)
            fitted["classes_"] = classes
            if hasattr(self, "feature_names_in_"):  # from an earlier fit on samples
                del self.feature_names_in_
            self.n_features_in_ = d
        else:
            if self.label_cost > 0:
                raise ValueError(
                    "label_cost > 0 needs labelled mixtures: fit(mixtures, "
                    "y=component_classes) with one class per component of each "
                    "mixture (for instance one GaussianMixture per class and "
                    "group, as skgmmot.da.GMMWBTAdapter fits them)."
                )
            X = validate_data(self, X, dtype=[np.float64], ensure_min_samples=2)
            mixtures, domains = self._fit_groups(
                X, sample_domain, np.random.RandomState(groups_seed)
            )
            fitted = self._best_solve(mixtures, rng)
            fitted["classes_"] = None
        for name, value in fitted.items():
            setattr(self, name, value)
        self.mixtures_ = mixtures
        self.domains_ = domains
        return self

    # ------------------------------------------------------------ transform

    def _component_labels(self, mixtures, y):
        """Classes and pooled one-hot label vectors, or (None, None) if unlabelled."""
        if self.label_cost == 0:
            return None, None
        if y is None or len(y) != len(mixtures):
            raise ValueError(
                f"label_cost={self.label_cost:g} needs y: the class of every "
                f"component of each of the {len(mixtures)} mixtures."
            )
        per_mixture = []
        for k, ((means, _, _), classes) in enumerate(zip(mixtures, y, strict=True)):
            classes = np.asarray(classes)
            if classes.shape != (means.shape[0],):
                raise ValueError(
                    f"y[{k}] must give one class per component of mixture {k} "
                    f"({means.shape[0]}), got shape {classes.shape}."
                )
            per_mixture.append(classes)
        pooled = np.concatenate(per_mixture)
        classes, index = np.unique(pooled, return_inverse=True)
        return classes, np.eye(classes.size)[index]

    def _labels(self, X, sample_domain):
        """One group label per row of X; None only after a one-group fit."""
        if sample_domain is not None:
            return check_sample_domain(sample_domain, X.shape[0])
        if len(self.domains_) != 1:
            raise ValueError(
                f"sample_domain is required: the estimator was fitted on "
                f"{len(self.domains_)} groups."
            )
        return np.full(X.shape[0], self.domains_[0])

    def _unseen(self, labels):
        """Labels not seen in fit; an error if ``unseen_domains="raise"``."""
        unknown = np.setdiff1d(np.unique(labels), self.domains_)
        # Labels of another kind than fit's (strings for integers) are a
        # mistake, not new groups.
        numeric = np.dtype(labels.dtype).kind in "biuf"
        other_kind = numeric != (self.domains_.dtype.kind in "biuf")
        if unknown.size and (self.unseen_domains == "raise" or other_kind):
            raise ValueError(
                f"sample_domain has labels {unknown.tolist()} not seen in fit "
                f"(known: {self.domains_.tolist()}); unseen_domains='fit' "
                "fits a mixture to each new group instead."
            )
        return unknown

    def _new_group_seeds(self, labels):
        """Seeds of the mixtures fitted to new groups, one per label.

        Derived from ``random_state`` and the label itself, so that a group
        gets the same mixture whichever other groups come with it.
        """
        base = fit_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return [
            (base ^ zlib.crc32(str(label).encode())) & 0x7FFFFFFF for label in labels
        ]

    def _group_maps(self, X, labels, new):
        """``{label: (mixture, plan barycenter -> group)}``, seen and ``new`` groups.

        The groups in ``new`` get a clone of ``gmm`` fitted to their samples.
        """
        barycenter = (self.means_, self.covariances_, self.weights_)
        maps = {
            domain: (self.mixtures_[k], self.plans_[k])
            for k, domain in enumerate(self.domains_)
        }
        if len(new):
            parts = [(label, X[labels == label]) for label in new]
            mixtures = self._group_models(parts, self._new_group_seeds(new))
            notes = Notes()
            for label, mixture in zip(new, mixtures, strict=True):
                plan = group_plan(barycenter, mixture, self._solver(notes))
                maps[label] = (mixture, plan)
            warn_notes(notes)
        return maps

    def transform(self, X, *, sample_domain=None):
        """Move every group's samples onto the barycenter (GMM-OT map T_bary).

        Each sample of group g is moved by the barycentric GMM-OT map from the
        group's mixture to the barycenter, with the plan found by ``fit``;
        groups that differ by a batch effect are aligned onto one reference.
        A group not seen in ``fit`` (a new batch) gets a mixture of its own,
        a clone of ``gmm`` fitted to its samples here, and the plan from the
        barycenter to it, unless ``unseen_domains="raise"``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        sample_domain : array-like of shape (n_samples,), default=None
            Group of every sample: a label seen in ``fit`` (mixture mode: the
            input's index) or a new one. May be None only if ``fit`` saw a
            single group.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            The moved samples.
        """
        check_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        X = check_points(X, self.n_features_in_, "X")
        labels = self._labels(X, sample_domain)
        unknown = self._unseen(labels)
        out = np.empty_like(X)
        target = (self.means_, self.covariances_)
        maps = self._group_maps(X, labels, unknown)
        for label in np.unique(labels):
            rows = labels == label
            mixture, plan = maps[label]
            # All components: the posterior factors every covariance.
            check_covariances(
                mixture[1],
                f"group {_plain(label)!r}'s mixture: covariances",
                positive_definite=True,
                reason="transform maps samples out of the group's components, "
                "which needs non-singular covariances",
            )
            out[rows] = apply_map(
                X[rows], mixture, target, np.ascontiguousarray(plan.T), "bary", None
            )
        return out

    def fit_transform(self, X, y=None, *, sample_domain=None):
        """Fit on samples and groups, then move the samples onto the barycenter.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : None
            Ignored.
        sample_domain : array-like of shape (n_samples,), default=None
            Group label of every sample.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            The moved samples.
        """
        return self.fit(X, sample_domain=sample_domain).transform(
            X, sample_domain=sample_domain
        )

    def _aligned_log_likelihood(self, X, labels, *, held_out):
        """Log-likelihood of every sample under the barycenter carried onto its group.

        Seen groups use their mixture and plan from ``fit``. A new group's
        mixture is fitted to its own samples: in-sample (``held_out=False``),
        or cross-fitted (``held_out=True``): with ``SCORE_FOLDS`` interleaved
        folds, each fold's samples fit the mixture and the other samples are
        scored, so that no sample is scored by a mixture fitted to it.
        """
        unknown = self._unseen(labels)
        barycenter = (self.means_, self.covariances_, self.weights_)
        k = self._template().n_components
        folded = [
            label
            for label in unknown
            if held_out and np.count_nonzero(labels == label) >= SCORE_FOLDS * max(k, 2)
        ]  # groups too small to fold are scored in-sample
        maps = self._group_maps(X, labels, np.setdiff1d(unknown, folded))
        out = np.empty(X.shape[0])
        for label in np.setdiff1d(np.unique(labels), folded):
            rows = labels == label
            carried = carried_mixture(barycenter, *maps[label])
            out[rows] = mixture_log_likelihood(X[rows], carried)
        for label in folded:
            rows = np.flatnonzero(labels == label)
            folds = [rows[f::SCORE_FOLDS] for f in range(SCORE_FOLDS)]
            mixtures = self._group_models(
                [(label, X[fold]) for fold in folds],
                self._new_group_seeds([label] * SCORE_FOLDS),
                min_n_init=SCORE_N_INIT,
            )
            total = np.zeros(X.shape[0])
            notes = Notes()
            for fold, mixture in zip(folds, mixtures, strict=True):
                plan = group_plan(barycenter, mixture, self._solver(notes))
                scored = np.setdiff1d(rows, fold)
                total[scored] += mixture_log_likelihood(
                    X[scored], carried_mixture(barycenter, mixture, plan)
                )
            warn_notes(notes)
            # Every sample is scored by the SCORE_FOLDS - 1 folds without it.
            out[rows] = total[rows] / (SCORE_FOLDS - 1)
        return out

    def score(self, X, y=None, *, sample_domain=None):
        """Mean log-likelihood of samples, or minus the mean MW2² to mixtures.

        Three cases, higher is better in all:

        - ``X`` a sequence of mixtures: minus their mean squared GMM-OT
          distance to the barycenter.
        - samples without ``sample_domain``: their mean log-likelihood under
          the barycenter, as ``GaussianMixture.score``.
        - samples with ``sample_domain``: their mean log-likelihood *after
          alignment*, under the barycenter carried onto each sample's group
          by the GMM-OT map from the barycenter to the group's mixture (see
          Notes of the class). A group seen in ``fit`` uses its fitted
          mixture; a new group's mixture is cross-fitted on its own samples
          (each of 3 interleaved folds fits it, with at least 3 EM
          initialisations, and the other samples are scored), unless
          ``unseen_domains="raise"``. This is the criterion
          for choosing ``n_components`` by ``GridSearchCV`` over groups.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequence of mixtures
            Samples, or mixtures.
        y : None
            Ignored.
        sample_domain : array-like of shape (n_samples,), default=None
            Group label of every sample (samples only).

        Returns
        -------
        score : float
            The score.
        """
        check_fitted(self)
        if _is_mixture_sequence(X):
            if sample_domain is not None:
                raise ValueError(
                    "sample_domain is only used when X holds samples; X is a "
                    "sequence of mixtures."
                )
            target = (self.means_, self.covariances_, self.weights_)
            losses = []
            notes = Notes()
            reference = ("the barycenter", self.n_features_in_)
            for means, covs, weights in check_mixture_list(X, "X", reference=reference):
                cost = cost_matrix(means, covs, target[0], target[1])
                plan = exact_plan(
                    weights,
                    target[2],
                    cost,
                    num_iter_max=self.numItermax,
                    notes=notes,
                )
                losses.append(float(np.sum(plan * cost)))
            warn_notes(notes)
            return -float(np.mean(losses))
        if sample_domain is None:
            return float(np.mean(self.score_samples(X)))
        X = self._check_samples(X)
        labels = check_sample_domain(sample_domain, X.shape[0])
        return float(np.mean(self._aligned_log_likelihood(X, labels, held_out=True)))

    def _information_criterion(self, name, X, sample_domain):
        """``bic`` or ``aic``: ``-2 log L + penalty * n_parameters``.

        Without ``sample_domain``, that of the barycenter as a
        ``GaussianMixture``; with it, after alignment (in-sample).
        """
        if sample_domain is None:
            return self._evaluate(name, X)
        X = self._check_samples(X)
        penalty = np.log(X.shape[0]) if name == "bic" else 2.0
        labels = check_sample_domain(sample_domain, X.shape[0])
        log_likelihood = self._aligned_log_likelihood(X, labels, held_out=False)
        d = self.n_features_in_
        template = self._template()
        covariance_type = getattr(template, "covariance_type", "full")
        n_parameters = _n_mixture_parameters(self.weights_.size, d, "full") + np.unique(
            labels
        ).size * _n_mixture_parameters(template.n_components, d, covariance_type)
        return float(-2.0 * np.sum(log_likelihood) + penalty * n_parameters)

    def bic(self, X, *, sample_domain=None):
        """Bayesian information criterion of the barycenter on ``X``.

        Without ``sample_domain``, that of the barycenter as a
        ``GaussianMixture`` on the raw samples. With it, after alignment:
        ``-2 log L + p log n``, with ``log L`` the in-sample log-likelihood of
        every group's samples under the barycenter carried onto the group
        (see :meth:`score`; a new group's mixture is fitted to all its
        samples) and ``p`` the free parameters of the barycenter and of one
        group mixture per group in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        sample_domain : array-like of shape (n_samples,), default=None
            Group label of every sample.

        Returns
        -------
        bic : float
            Lower is better.
        """
        return self._information_criterion("bic", X, sample_domain)

    def aic(self, X, *, sample_domain=None):
        """Akaike information criterion of the barycenter on ``X``.

        As :meth:`bic`, with penalty ``2 p`` instead of ``p log n``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        sample_domain : array-like of shape (n_samples,), default=None
            Group label of every sample.

        Returns
        -------
        aic : float
            Lower is better.
        """
        return self._information_criterion("aic", X, sample_domain)
