"""Random Gaussian mixtures for examples, tests and benchmarks.

Every function returns mixtures as ``(means, covariances, weights)`` tuples of
float64 arrays, the form the rest of skgmmot accepts, with symmetric positive
definite covariances and weights that sum to one. Three recipes (``style``)
are offered; two of them reproduce the random mixtures of other libraries'
GMM barycenter examples, so that results can be compared on the same problems:

- ``"default"``: means ``center + spread * N(0, I)``; covariances
  ``covariance_scale * (B B^T / d + min_eigenvalue * I)`` with ``B`` a d x d
  standard normal matrix; weights drawn uniformly in [0.1, 1.1], normalised.
- ``"pot"``: the recipe of POT's gallery example "Gaussian Mixture Model OT
  Barycenters" (``examples/barycenters/plot_gmm_barycenter.py``): means
  ``center + spread * N(0, I)``; covariances ``P P^T + min_eigenvalue * I``
  with ``P = covariance_scale * N(0, I)`` (d x d); weights uniform in [0, 1],
  normalised. The numbers are drawn in the same order from the same
  ``RandomState``, so POT's mixtures are reproduced exactly.
- ``"ott"``: the recipe of OTT-JAX's ``GaussianMixture.from_random`` used in
  its tutorial "GMM Barycenters": component means ``center + spread *
  N(0, I)`` (OTT's ``ridge`` and ``stdev_mean``); covariances ``Q diag(
  covariance_scale * exp(h)) Q^T + min_eigenvalue * I`` with ``h ~ N(0, I)``
  and ``Q`` a random orthogonal matrix (QR of a Gaussian matrix), OTT's
  ``stdev_cov``; weights ``softmax(0.1 * v_1, ..., 0.1 * v_{k-1}, 0)`` with
  ``v ~ N(0, 1)`` (OTT's ``stdev_weights=0.1``). OTT draws from JAX's
  generator, so the laws are the same but not the numbers.

scikit-learn is imported only when a function is called.
"""

import numbers

import numpy as np

from skgmmot._validation import check_positive_int

__all__ = ["make_batch_effect_samples", "make_gmm_family", "make_random_gmm"]

#: Style-specific defaults of (spread, covariance_scale, min_eigenvalue).
_STYLE_DEFAULTS = {
    "default": (3.0, 1.0, 0.1),
    "pot": (1.0, 1e-2, 1.0),  # POT's get_random_gmm defaults
    "ott": (0.1, 0.1, 0.0),  # OTT's from_random defaults
}
_WEIGHTS = ("random", "uniform")


def _check_choice(value, options, label):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{label} must be one of {list(options)}, got {value!r}.")
    return value


def _check_scalar(value, label, *, positive=False):
    """Return ``value`` as a float if finite and >= 0 (> 0 if ``positive``)."""
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and np.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{label} must be a finite number {bound}, got {value!r}.")
    return float(value)


def _check_center(center, n_features, label="center"):
    """Return a scalar or length-``n_features`` vector as a (d,) float array."""
    try:
        arr = np.asarray(center, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{label} must be a number or an array of shape ({n_features},), "
            f"got {center!r}."
        ) from None
    if arr.ndim == 0:
        arr = np.full(n_features, float(arr))
    if arr.shape != (n_features,):
        raise ValueError(
            f"{label} must be a number or an array of shape ({n_features},), "
            f"got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{label} must be finite, got {arr!r}.")
    return arr


def _random_orthogonal(rng, d):
    q, _ = np.linalg.qr(rng.randn(d, d))
    return q


def _draw(rng, k, d, style, spread, covariance_scale, min_eigenvalue, weights):
    """Draw one mixture centred at 0; the order of draws is part of the API."""
    eye = np.eye(d)
    if style == "pot":
        means = spread * rng.randn(k, d)
        P = covariance_scale * rng.randn(k, d, d)
        covs = P @ P.transpose(0, 2, 1) + min_eigenvalue * eye
        w = rng.random_sample(k) if weights == "random" else np.ones(k)
    elif style == "ott":
        means = np.empty((k, d))
        covs = np.empty((k, d, d))
        for i in range(k):
            means[i] = spread * rng.randn(d)
            q = _random_orthogonal(rng, d)
            eigenvalues = covariance_scale * np.exp(rng.randn(d))
            covs[i] = (q * eigenvalues) @ q.T + min_eigenvalue * eye
        if weights == "random":
            logits = np.append(0.1 * rng.randn(k - 1), 0.0)
            w = np.exp(logits - logits.max())
        else:
            w = np.ones(k)
    else:
        means = spread * rng.randn(k, d)
        B = rng.randn(k, d, d)
        covs = covariance_scale * (B @ B.transpose(0, 2, 1) / d + min_eigenvalue * eye)
        w = 0.1 + rng.random_sample(k) if weights == "random" else np.ones(k)
    covs = 0.5 * (covs + covs.transpose(0, 2, 1))
    return means, np.ascontiguousarray(covs), w / w.sum()


def make_random_gmm(
    n_components,
    n_features,
    *,
    style="default",
    center=0.0,
    spread=None,
    covariance_scale=None,
    min_eigenvalue=None,
    weights="random",
    random_state=None,
):
    """Draw a random Gaussian mixture.

    Parameters
    ----------
    n_components : int
        Number of components ``k`` (>= 1).
    n_features : int
        Dimension ``d`` (>= 1).
    style : {"default", "pot", "ott"}, default="default"
        The recipe, described in the module docstring: ``"pot"`` is POT's
        ``get_random_gmm`` (numbers reproduced exactly for the same seed),
        ``"ott"`` OTT-JAX's ``GaussianMixture.from_random`` (same law).
    center : float or array-like of shape (n_features,), default=0.0
        Added to every mean (POT's ``offsets``, OTT's ``ridge``).
    spread : float, default=None
        Standard deviation of the means around ``center``. None: 3.0
        ("default"), 1.0 ("pot"), 0.1 ("ott", OTT's ``stdev_mean``).
    covariance_scale : float, default=None
        Scale of the covariances: a factor ("default"), the standard
        deviation of the entries of ``P`` ("pot", POT's ``cov_scale``), the
        scale of the eigenvalues ("ott", OTT's ``stdev_cov``). None: 1.0,
        0.01, 0.1 respectively.
    min_eigenvalue : float, default=None
        Multiple of the identity added to every covariance (relative to
        ``covariance_scale`` in the "default" style), a lower bound on the
        eigenvalues (POT's ``min_cov_eig``). None: 0.1, 1.0, 0.0.
    weights : {"random", "uniform"}, default="random"
        Random weights (drawn by the style's law), or all equal to ``1/k``.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws (an int seeds a fresh ``numpy.random.RandomState``).

    Returns
    -------
    means : ndarray of shape (n_components, n_features)
        Component means.
    covariances : ndarray of shape (n_components, n_features, n_features)
        Symmetric positive definite covariances.
    weights : ndarray of shape (n_components,)
        Positive weights summing to one.

    See Also
    --------
    make_gmm_family : Several mixtures at once, e.g. to average them.

    Examples
    --------
    >>> from skgmmot.datasets import make_random_gmm
    >>> means, covs, w = make_random_gmm(4, 2, random_state=0)
    >>> means.shape, covs.shape, w.shape
    ((4, 2), (4, 2, 2), (4,))
    >>> bool(abs(w.sum() - 1) < 1e-12)
    True

    The first mixture of POT's GMM barycenter example (seed 0):

    >>> m, C, w = make_random_gmm(
    ...     5, 2, style="pot", center=[-3, 0], spread=0.5,
    ...     covariance_scale=0.5, min_eigenvalue=0.25, random_state=0)
    >>> m.round(3)[0]
    array([-2.118,  0.2  ])
    """
    k = check_positive_int(n_components, "n_components")
    d = check_positive_int(n_features, "n_features")
    spread, covariance_scale, min_eigenvalue = _style_parameters(
        style, spread, covariance_scale, min_eigenvalue
    )
    _check_choice(weights, _WEIGHTS, "weights")
    center = _check_center(center, d)
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    means, covs, w = _draw(
        rng, k, d, style, spread, covariance_scale, min_eigenvalue, weights
    )
    return np.ascontiguousarray(means + center), covs, w


def _style_parameters(style, spread, covariance_scale, min_eigenvalue):
    """Validate ``style`` and fill in its defaults for the three scalars."""
    _check_choice(style, tuple(_STYLE_DEFAULTS), "style")
    given = (spread, covariance_scale, min_eigenvalue)
    names = ("spread", "covariance_scale", "min_eigenvalue")
    values = [
        default if value is None else value
        for value, default in zip(given, _STYLE_DEFAULTS[style], strict=True)
    ]
    return tuple(
        _check_scalar(value, name, positive=name == "covariance_scale")
        for value, name in zip(values, names, strict=True)
    )


def _per_mixture(value, n_mixtures, label):
    """Broadcast a scalar (or None) to a list of ``n_mixtures`` values."""
    if value is None or np.ndim(value) == 0:
        return [value] * n_mixtures
    values = list(value)
    if len(values) != n_mixtures:
        raise ValueError(
            f"{label} must be a single value or have one value per mixture "
            f"({n_mixtures}), got {len(values)} values."
        )
    return values


def make_gmm_family(
    n_mixtures,
    n_components=3,
    n_features=2,
    *,
    style="default",
    centers=None,
    spread=None,
    covariance_scale=None,
    min_eigenvalue=None,
    weights="random",
    random_state=None,
):
    """Draw several random Gaussian mixtures (inputs of a barycenter).

    Mixture ``i`` is ``make_random_gmm(n_components[i], n_features,
    center=centers[i], spread=spread[i], ...)``. Its seed is
    ``random_state + i`` when ``random_state`` is an int (so POT's example,
    which seeds mixture ``i`` with ``i``, is reproduced with
    ``random_state=0``), else an integer drawn from ``random_state``.

    Parameters
    ----------
    n_mixtures : int
        Number of mixtures ``K`` (>= 1).
    n_components : int or sequence of int, default=3
        Number of components of every mixture, or one number per mixture.
    n_features : int, default=2
        Dimension, shared by all mixtures.
    style : {"default", "pot", "ott"}, default="default"
        The recipe; see :func:`make_random_gmm` and the module docstring.
    centers : array-like of shape (n_mixtures, n_features), default=None
        Offset added to the means of each mixture (None: zeros).
    spread, covariance_scale, min_eigenvalue : float or sequence of float, \
default=None
        As in :func:`make_random_gmm`; a sequence gives one value per mixture
        (OTT's tutorial uses a different ``stdev_cov`` for each mixture).
    weights : {"random", "uniform"}, default="random"
        Component weights of every mixture.
    random_state : int, RandomState instance or None, default=None
        Seeds the mixtures as described above.

    Returns
    -------
    mixtures : list of tuple
        ``n_mixtures`` tuples ``(means, covariances, weights)``.

    See Also
    --------
    make_random_gmm : One mixture.

    Examples
    --------
    >>> from skgmmot.datasets import make_gmm_family
    >>> family = make_gmm_family(3, n_components=[2, 3, 4], random_state=0)
    >>> [m.shape for m, _, _ in family]
    [(2, 2), (3, 2), (4, 2)]

    POT's GMM barycenter example (``examples/barycenters/plot_gmm_barycenter.py``):

    >>> pot = make_gmm_family(
    ...     3, n_components=[5, 6, 7], style="pot",
    ...     centers=[[-3, 0], [2, 0], [0, 4]], spread=0.5,
    ...     covariance_scale=0.5, min_eigenvalue=0.25, random_state=0)

    OTT-JAX's "GMM Barycenters" tutorial (same laws, other numbers):

    >>> ott = make_gmm_family(
    ...     3, n_components=[2, 3, 5], style="ott",
    ...     centers=[[-20, -15], [60, -15], [50, 65]],
    ...     spread=[1.75, 2.25, 5.75], covariance_scale=[4, 3, 5],
    ...     random_state=0)
    """
    K = check_positive_int(n_mixtures, "n_mixtures")
    d = check_positive_int(n_features, "n_features")
    if isinstance(n_components, numbers.Integral) and not isinstance(
        n_components, bool
    ):
        sizes = [n_components] * K
    else:
        try:
            sizes = list(n_components)
        except TypeError:
            raise ValueError(
                "n_components must be an int or a sequence of ints, got "
                f"{n_components!r}."
            ) from None
        if len(sizes) != K:
            raise ValueError(
                f"n_components must have one size per mixture ({K}), got "
                f"{len(sizes)} sizes."
            )
    sizes = [check_positive_int(k, f"n_components[{i}]") for i, k in enumerate(sizes)]
    if centers is None:
        centers = np.zeros((K, d))
    else:
        try:
            centers = np.asarray(centers, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"centers must be an array of numbers of shape ({K}, {d}), got "
                f"{centers!r}."
            ) from None
        if not np.all(np.isfinite(centers)):
            raise ValueError(f"centers must be finite, got {centers!r}.")
        if centers.shape != (K, d):
            raise ValueError(
                f"centers must have shape (n_mixtures, n_features) = ({K}, {d}), "
                f"got shape {centers.shape}."
            )
    spreads = _per_mixture(spread, K, "spread")
    scales = _per_mixture(covariance_scale, K, "covariance_scale")
    floors = _per_mixture(min_eigenvalue, K, "min_eigenvalue")
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        seeds = [(int(random_state) + i) % 2**32 for i in range(K)]
    else:
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=K).tolist()
    return [
        make_random_gmm(
            sizes[i],
            d,
            style=style,
            center=centers[i],
            spread=spreads[i],
            covariance_scale=scales[i],
            min_eigenvalue=floors[i],
            weights=weights,
            random_state=seeds[i],
        )
        for i in range(K)
    ]


#: The three cluster centres of :func:`make_batch_effect_samples`.
BATCH_EFFECT_CENTERS = ((0.0, 0.0), (4.0, 0.0), (2.0, 3.0))


def make_batch_effect_samples(
    n_groups=4,
    n_samples_per_group=300,
    *,
    centers=None,
    cluster_std=0.5,
    proportions=None,
    effect_scale=0.3,
    shift_scale=3.0,
    random_state=None,
):
    r"""Draw groups of samples from one cluster structure, each with a batch effect.

    Every group draws ``n_samples_per_group`` samples from Gaussian clusters
    with standard deviation ``cluster_std`` around ``centers`` (cluster
    proportions ``proportions``), and moves them by its own affine batch
    effect :math:`x \mapsto A_g x + b_g`, with
    :math:`A_g = I + \text{effect\_scale}\, N(0, 1)` (d x d) and
    :math:`b_g = \text{shift\_scale}\, N(0, 1)` (d). With the defaults the
    effects are as large as the clusters' separation: the scenario of the
    batch-effects gallery example, on which ``GMMOTBarycenter``'s size
    selection after alignment is measured. Per group, the draws are made in
    the order ``A_g``, ``b_g``, cluster labels, noise.

    Parameters
    ----------
    n_groups : int, default=4
        Number of groups (batches, domains).
    n_samples_per_group : int, default=300
        Samples per group.
    centers : array-like of shape (n_clusters, n_features), default=None
        Cluster centres; None uses ``BATCH_EFFECT_CENTERS``, three 2-D
        centres 4 and 3.6 apart.
    cluster_std : float, default=0.5
        Standard deviation of every cluster, in every direction.
    proportions : array-like of shape (n_clusters,), default=None
        Cluster proportions; None means equal.
    effect_scale : float, default=0.3
        Standard deviation of the entries of :math:`A_g - I`.
    shift_scale : float, default=3.0
        Standard deviation of the entries of :math:`b_g`.
    random_state : int, RandomState instance or None, default=None
        Seeds all draws.

    Returns
    -------
    X : ndarray of shape (n_groups * n_samples_per_group, n_features)
        The samples, group after group.
    groups : ndarray of shape (n_groups * n_samples_per_group,)
        The group of every sample (``sample_domain``), 0 to ``n_groups - 1``.
    clusters : ndarray of shape (n_groups * n_samples_per_group,)
        The true cluster of every sample.

    Examples
    --------
    >>> from skgmmot.datasets import make_batch_effect_samples
    >>> X, groups, clusters = make_batch_effect_samples(random_state=0)
    >>> X.shape, groups.max(), clusters.max()
    ((1200, 2), np.int64(3), np.int64(2))
    """
    from sklearn.utils import check_random_state

    n_groups = check_positive_int(n_groups, "n_groups")
    n = check_positive_int(n_samples_per_group, "n_samples_per_group")
    centers = np.asarray(
        BATCH_EFFECT_CENTERS if centers is None else centers, dtype=np.float64
    )
    if centers.ndim != 2 or centers.shape[0] == 0:
        raise ValueError(
            f"centers must be a non-empty (n_clusters, n_features) array, got "
            f"shape {centers.shape}."
        )
    cluster_std = _check_scalar(cluster_std, "cluster_std")
    effect_scale = _check_scalar(effect_scale, "effect_scale")
    shift_scale = _check_scalar(shift_scale, "shift_scale")
    k, d = centers.shape
    if proportions is not None:
        proportions = np.asarray(proportions, dtype=np.float64)
        if (
            proportions.shape != (k,)
            or np.any(proportions < 0)
            or not np.isclose(proportions.sum(), 1.0)
        ):
            raise ValueError(
                f"proportions must be {k} non-negative numbers summing to 1, got "
                f"{proportions.tolist()}."
            )
    rng = check_random_state(random_state)
    X, groups, clusters = [], [], []
    for g in range(n_groups):
        A = np.eye(d) + effect_scale * rng.randn(d, d)
        b = shift_scale * rng.randn(d)
        labels = rng.choice(k, size=n, p=proportions)
        Z = centers[labels] + cluster_std * rng.randn(n, d)
        X.append(Z @ A.T + b)
        groups.append(np.full(n, g))
        clusters.append(labels)
    return np.vstack(X), np.concatenate(groups), np.concatenate(clusters)
