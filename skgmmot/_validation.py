"""Turn what users pass into validated float64 arrays, with errors that say where.

Every function here copies: callers' arrays and objects are never modified.
scikit-learn is imported only when a scikit-learn object is actually given, so
that importing skgmmot stays fast.

Input errors raise :class:`skgmmot.exceptions.InvalidInputError`, both a
``ValueError`` and an ``AssertionError`` (what POT raises for the same
mistakes).
"""

import math
import numbers
import sys

import numpy as np

from skgmmot.exceptions import InvalidInputError

#: Largest accepted asymmetry, relative to the largest entry of the matrix.
SYMMETRY_RTOL = 1e-8
#: Most negative accepted eigenvalue, relative to the largest one in magnitude.
PSD_RTOL = 1e-10
#: Smallest eigenvalue, relative to d times the largest, of a matrix treated as
#: positive definite (condition numbers up to about 1e12 / d pass).
PD_RTOL = 1e-13
#: Accepted deviation of weights from summing to one: POT's tolerance (``ot.emd``
#: compares the sums of the two weight vectors with ``assert_almost_equal``,
#: ``decimal=6``, i.e. a gap below 1.5e-6), so that weights rounded to six
#: decimals (``np.full(3, 0.333333)``) pass as they do in POT. Accepted weights
#: are divided by their sum (see :func:`check_weights`).
WEIGHT_SUM_ATOL = 1.5e-6
#: Largest accepted magnitude of a coordinate (means, points) and of a
#: covariance entry: beyond, squared distances and traces overflow float64
#: (max 1.8e308) and results would silently be NaN or infinite.
MAX_COORDINATE = 1e100
MAX_COVARIANCE = 1e200


def _as_float_array(value, label):
    """Convert ``value`` to a float64 ndarray copy, rejecting non-numeric data."""
    try:
        arr = np.array(value, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{label} could not be converted to an array: {exc}"
        ) from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ):
        raise InvalidInputError(
            f"{label} must hold real numbers, got dtype {arr.dtype}."
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InvalidInputError(f"{label} must hold real numbers, got complex values.")
    return np.ascontiguousarray(arr, dtype=np.float64), arr.dtype


def _check_finite(arr, label):
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = "[" + ", ".join(str(i) for i in bad) + "]"
        raise InvalidInputError(
            f"{label} contains NaN or infinity (first at index {where})."
        )


def _check_magnitude(arr, label, limit):
    top = float(np.abs(arr).max(initial=0.0))
    if top > limit:
        raise InvalidInputError(
            f"{label} has entries of magnitude up to {top:.3g}, above the "
            f"{limit:.0e} that float64 squared distances allow without "
            "overflow; rescale the data."
        )


def check_coordinates(arr, label):
    """Reject coordinates above ``MAX_COORDINATE`` in magnitude (see there).

    Parameters
    ----------
    arr : ndarray
        Finite sample coordinates.
    label : str
        How the error message names the field.
    """
    _check_magnitude(arr, label, MAX_COORDINATE)


def check_means(means, label):
    """Validate an array of component means.

    Parameters
    ----------
    means : array-like of shape (k, d)
        Means, one row per component.
    label : str
        How the error messages name this field, e.g. ``"source mixture: means m_s"``.

    Returns
    -------
    means : ndarray of shape (k, d)
        A float64 C-contiguous copy.
    """
    arr, _ = _as_float_array(means, label)
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{label} must be a 2-D array of shape (n_components, n_features), "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(
            f"{label} must have at least one component and one feature, "
            f"got shape {arr.shape}."
        )
    _check_finite(arr, label)
    _check_magnitude(arr, label, MAX_COORDINATE)
    return arr


def _extreme_eigenvalues(sym):
    """Smallest and largest eigenvalues of symmetric matrices (k, d, d).

    Closed forms for d = 1 and d = 2 (the half-trace plus or minus the
    radius ``hypot((a - c) / 2, b)``), LAPACK's ``eigvalsh`` above.
    """
    d = sym.shape[1]
    if d == 1:
        return sym[:, 0, 0], sym[:, 0, 0]
    if d == 2:
        a, b, c = sym[:, 0, 0], sym[:, 0, 1], sym[:, 1, 1]
        mid = 0.5 * (a + c)
        radius = np.hypot(0.5 * (a - c), b)
        return mid - radius, mid + radius
    eig = np.linalg.eigvalsh(sym)
    return eig[:, 0], eig[:, -1]


#: Why maps and densities need positive definite covariances (the default
#: ending of ``check_covariances``' message).
PD_REASON = "densities and maps out of a component need non-singular covariances"


def check_covariances(covs, label, *, positive_definite=False, reason=PD_REASON):
    """Validate an array of covariance matrices.

    Symmetric positive semi-definite matrices are accepted (rank-deficient
    covariances have well-defined Bures distances); asymmetry up to
    ``SYMMETRY_RTOL`` is symmetrised away and negative eigenvalues down to
    ``-PSD_RTOL`` times the largest one are accepted as round-off.

    Parameters
    ----------
    covs : array-like of shape (k, d, d)
        Covariance matrices.
    label : str
        How the error messages name this field.
    positive_definite : bool, default=False
        Require strictly positive definite matrices (needed for densities and
        for maps out of a component).
    reason : str, default=PD_REASON
        Why positive definiteness is needed, for the error message.

    Returns
    -------
    covs : ndarray of shape (k, d, d)
        A symmetrised float64 C-contiguous copy.
    """
    arr, _ = _as_float_array(covs, label)
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise InvalidInputError(
            f"{label} must be a 3-D array of shape (n_components, n_features, "
            f"n_features), got shape {arr.shape}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"{label} must not be empty, got shape {arr.shape}.")
    scale = np.abs(arr).max(axis=(1, 2))
    if not np.isfinite(scale).all():
        _check_finite(arr, label)
    _check_magnitude(scale, label, MAX_COVARIANCE)
    asym = np.abs(arr - arr.transpose(0, 2, 1)).max(axis=(1, 2))
    bad = np.flatnonzero(asym > SYMMETRY_RTOL * scale)
    if bad.size:
        i = bad[0]
        raise InvalidInputError(
            f"{label}[{i}] is not symmetric (largest asymmetry {asym[i]:.3g} "
            f"for entries up to {scale[i]:.3g})."
        )
    arr = np.ascontiguousarray(0.5 * (arr + arr.transpose(0, 2, 1)))
    if arr.shape[1] > 2 and not positive_definite:
        try:
            np.linalg.cholesky(arr)
            return arr
        except np.linalg.LinAlgError:
            pass
    low, high = _extreme_eigenvalues(arr)
    top = np.maximum(np.abs(low), np.abs(high))
    if positive_definite:
        # Numerically singular matrices (eigenvalues at round-off level) have
        # no meaningful density or inverse, even when a Cholesky succeeds.
        floor = PD_RTOL * arr.shape[1] * top
        bad = np.flatnonzero(~(low > floor))
        if bad.size:
            i = bad[0]
            raise InvalidInputError(
                f"{label}[{i}] is not positive definite (eigenvalues from "
                f"{low[i]:.3g} to {high[i]:.3g}); {reason}."
            )
        return arr
    bad = np.flatnonzero(low < -PSD_RTOL * top)
    if bad.size:
        i = bad[0]
        raise InvalidInputError(
            f"{label}[{i}] is not positive semi-definite (smallest eigenvalue "
            f"{low[i]:.3g}, largest {high[i]:.3g})."
        )
    return arr


def check_weights(weights, n_components, label, *, positive=False):
    """Validate mixture weights: finite, non-negative, summing to one.

    The policy: a sum within ``WEIGHT_SUM_ATOL`` (1.5e-6, POT's tolerance) of
    one is accepted, and the weights are divided by their sum, so that every
    result (plan marginals, losses, densities) is that of exactly normalised
    weights; beyond, the weights are rejected. float64 weights that sum to
    one up to the round-off of their sum (``k`` eps) are returned as they
    are. Weights given in lower precision (float16) are accepted within a few
    units of that precision.

    Parameters
    ----------
    weights : array-like of shape (k,)
        Weights.
    n_components : int
        Expected length ``k``.
    label : str
        How the error messages name this field.
    positive : bool, default=False
        Require every weight to be strictly positive.

    Returns
    -------
    weights : ndarray of shape (k,)
        A float64 copy, divided by its sum (unless float64 and summing to
        one up to round-off).
    """
    arr, dtype = _as_float_array(weights, label)
    if arr.ndim != 1 or arr.shape[0] != n_components:
        raise InvalidInputError(
            f"{label} must be a 1-D array of length {n_components} (one weight per "
            f"component), got shape {arr.shape}."
        )
    _check_finite(arr, label)
    if np.any(arr < 0.0):
        i = int(np.flatnonzero(arr < 0.0)[0])
        raise InvalidInputError(f"{label}[{i}] is negative ({arr[i]:.3g}).")
    if positive and np.any(arr == 0.0):
        i = int(np.flatnonzero(arr == 0.0)[0])
        raise InvalidInputError(f"{label}[{i}] is zero; every weight must be positive.")
    total = arr.sum()
    atol = WEIGHT_SUM_ATOL
    if np.issubdtype(dtype, np.floating) and np.finfo(dtype).eps > np.finfo(float).eps:
        # Each weight rounds to within eps/2 of itself, so a sum that was 1
        # before the cast is 1 to within eps/2 for any k; normalising in that
        # precision adds a few eps (measured: at most 1.4 eps, k up to 1e4).
        atol = max(atol, 4.0 * np.finfo(dtype).eps)
    gap = abs(total - 1.0)
    if not gap <= atol:
        raise InvalidInputError(
            f"{label} must sum to 1 (within {atol:g}), got {total!r}."
        )
    if gap <= arr.size * np.finfo(float).eps and dtype == np.float64:
        # Normalised up to the round-off of their sum (a fitted
        # GaussianMixture's weights_): dividing would only move their last
        # bits, and the results of POT's on the same weights with them.
        return arr
    return arr / total


def check_gaussians(means, covs, name, fields=("means", "covariances"), **kwargs):
    """Validate the means and covariances of one set of Gaussians.

    Parameters
    ----------
    means : array-like of shape (k, d)
    covs : array-like of shape (k, d, d)
    name : str
        The mixture, e.g. ``"source mixture"``.
    fields : tuple of str
        How to name the means and covariances fields.
    **kwargs
        Passed to :func:`check_covariances`.

    Returns
    -------
    means : ndarray of shape (k, d)
    covs : ndarray of shape (k, d, d)
    """
    means = check_means(means, f"{name}: {fields[0]}")
    covs = check_covariances(covs, f"{name}: {fields[1]}", **kwargs)
    if covs.shape[0] != means.shape[0]:
        raise InvalidInputError(
            f"{name}: {fields[1]} has {covs.shape[0]} components but {fields[0]} "
            f"has {means.shape[0]}."
        )
    if covs.shape[1] != means.shape[1]:
        raise InvalidInputError(
            f"{name}: {fields[1]} are {covs.shape[1]}x{covs.shape[2]} but "
            f"{fields[0]} have {means.shape[1]} features."
        )
    return means, covs


def check_gmm_arrays(
    means,
    covs,
    weights,
    name,
    fields=("means", "covariances", "weights"),
    **kwargs,
):
    """Validate the three arrays of a Gaussian mixture.

    Parameters
    ----------
    means : array-like of shape (k, d)
    covs : array-like of shape (k, d, d)
    weights : array-like of shape (k,)
    name : str
        The mixture, e.g. ``"source mixture"``.
    fields : tuple of str
        How to name the three fields in messages.
    **kwargs
        Passed to :func:`check_covariances`.

    Returns
    -------
    means, covs, weights : ndarray
        Validated float64 copies.
    """
    means, covs = check_gaussians(means, covs, name, fields[:2], **kwargs)
    weights = check_weights(weights, means.shape[0], f"{name}: {fields[2]}")
    return means, covs, weights


def _is_sklearn_mixture(obj):
    """Whether ``obj`` is a scikit-learn Gaussian mixture (or a subclass).

    An instance can only exist once ``sklearn.mixture`` has been imported, so
    this never imports scikit-learn itself.
    """
    mixture_module = sys.modules.get("sklearn.mixture")
    if mixture_module is None:
        return False
    classes = (mixture_module.GaussianMixture, mixture_module.BayesianGaussianMixture)
    return isinstance(obj, classes)


def is_mixture_like(obj):
    """Whether ``obj`` is meant as one mixture (not as a row or array of samples).

    True for a scikit-learn Gaussian mixture, a plain dict (never samples), a tuple
    of three items whose first is not a number (a tuple of numbers is a sample
    row), and a tuple or list whose first item is 2-D like means (sample rows
    are 1-D). Whether the mixture is valid is for :func:`check_mixture` to
    say, with a message that names it.

    Parameters
    ----------
    obj : object

    Returns
    -------
    bool
    """
    # A plain dict only: scipy's sparse dok arrays are dicts too.
    if _is_sklearn_mixture(obj) or type(obj) is dict:
        return True
    if not isinstance(obj, tuple | list) or len(obj) == 0:
        return False
    first = obj[0]
    if isinstance(first, numbers.Number | str | bytes):
        return False
    if isinstance(obj, tuple) and len(obj) == 3:
        return True
    try:
        return np.ndim(first) == 2
    except ValueError:  # ragged nested lists
        return False


def full_covariances(
    covariances, covariance_type, n_components, n_features, name="mixture"
):
    """Expand scikit-learn's covariance storage to full (k, d, d) matrices.

    Parameters
    ----------
    covariances : ndarray
        ``GaussianMixture.covariances_``: (k, d, d) for "full", (d, d) for
        "tied", (k, d) for "diag", (k,) for "spherical".
    covariance_type : {"full", "tied", "diag", "spherical"}
        How ``covariances`` is stored.
    n_components, n_features : int
        ``k`` and ``d``.
    name : str, default="mixture"
        How error messages name the mixture.

    Returns
    -------
    full : ndarray of shape (k, d, d)
        A new array.

    Raises
    ------
    ValueError
        If ``covariance_type`` is unknown or ``covariances`` does not have its
        shape (e.g. ``covariance_type`` changed after fitting).
    """
    k, d = n_components, n_features
    shapes = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}
    if not isinstance(covariance_type, str) or covariance_type not in shapes:
        raise InvalidInputError(
            f"{name}: covariance_type must be 'full', 'tied', 'diag' or "
            f"'spherical', got {covariance_type!r}."
        )
    cov, _ = _as_float_array(covariances, f"{name}: covariances_")
    expected = shapes[covariance_type]
    if cov.shape != expected:
        raise InvalidInputError(
            f"{name}: covariances_ has shape {cov.shape}, but covariance_type="
            f"{covariance_type!r} expects shape {expected} for means_ of shape "
            f"{(k, d)}."
        )
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.repeat(cov[None], k, axis=0)
    full = np.zeros((k, d, d))
    diag = np.arange(d)
    if covariance_type == "diag":
        full[:, diag, diag] = cov
    else:  # spherical
        full[:, diag, diag] = cov[:, None]
    return full


def check_mixture(mixture, name="mixture", **kwargs):
    """Validate one mixture given in any form the API accepts.

    Parameters
    ----------
    mixture : GaussianMixture or tuple
        A fitted :class:`sklearn.mixture.GaussianMixture` (or
        ``BayesianGaussianMixture``) of any ``covariance_type``, or a tuple
        ``(means, covariances, weights)`` of shapes (k, d), (k, d, d), (k,).
    name : str, default="mixture"
        How error messages name this mixture, e.g. ``"mixtures[2]"``.
    **kwargs
        Passed to :func:`check_covariances`.

    Returns
    -------
    means : ndarray of shape (k, d)
    covariances : ndarray of shape (k, d, d)
    weights : ndarray of shape (k,)
        Validated float64 copies.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If a GaussianMixture is given that has not been fitted.
    ValueError
        If anything else is malformed; the message names ``name`` and the field.
    """
    if _is_sklearn_mixture(mixture):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(mixture, ["means_", "covariances_", "weights_"])
        except NotFittedError as exc:
            raise NotFittedError(f"{name}: {exc}") from None
        means = np.asarray(mixture.means_)
        if means.ndim != 2:
            raise InvalidInputError(
                f"{name}: means_ has shape {means.shape}, expected 2-D."
            )
        covs = full_covariances(
            mixture.covariances_, mixture.covariance_type, *means.shape, name
        )
        return check_gmm_arrays(
            means,
            covs,
            mixture.weights_,
            name,
            ("means_", "covariances_", "weights_"),
            **kwargs,
        )
    if isinstance(mixture, tuple | list) and len(mixture) == 3:
        return check_gmm_arrays(*mixture, name, **kwargs)
    raise InvalidInputError(
        f"{name} must be a fitted sklearn.mixture.GaussianMixture or a tuple "
        f"(means, covariances, weights), got {type(mixture).__name__}."
    )


def check_n_features(n_features, expected, label, reference, what="they"):
    """Require ``label`` to have the ``expected`` number of features of ``reference``.

    The one "same number of features" check of the package.

    Parameters
    ----------
    n_features, expected : int
    label, reference : str
        How the message names the two sides, e.g. ``"mixtures[2]"`` and
        ``"mixtures[0]"``.
    what : str, default="they"
        How the message names everything that must agree, e.g. ``"all
        input mixtures"``.

    Raises
    ------
    ValueError
        If the numbers differ.
    """
    if n_features != expected:
        raise InvalidInputError(
            f"{label} has {n_features} features but {reference} has {expected}; "
            f"{what} must have the same number of features."
        )


def check_mixture_list(mixtures, name, *, reference=None, **kwargs):
    """Validate a non-empty sequence of mixtures with one number of features.

    Parameters
    ----------
    mixtures : sequence of mixtures
        Fitted ``GaussianMixture`` objects or ``(means, covariances,
        weights)`` tuples; item i is named ``f"{name}[{i}]"`` in errors.
    name : str
        How error messages name the sequence.
    reference : tuple (label, n_features), optional
        The number of features every mixture must have and what has it;
        default: those of the first mixture.
    **kwargs
        Passed to :func:`check_mixture`.

    Returns
    -------
    mixtures : list of tuple
        ``(means, covariances, weights)`` of every mixture, validated copies.
    """
    if isinstance(mixtures, np.ndarray) or not hasattr(mixtures, "__iter__"):
        raise InvalidInputError(
            f"{name} must be a sequence of mixtures (fitted GaussianMixture "
            "objects or (means, covariances, weights) tuples), got "
            f"{type(mixtures).__name__}."
        )
    checked = [
        check_mixture(mixture, f"{name}[{i}]", **kwargs)
        for i, mixture in enumerate(mixtures)
    ]
    if not checked:
        raise InvalidInputError(f"{name} must contain at least one mixture, got none.")
    label, d = reference or (f"{name}[0]", checked[0][0].shape[1])
    for i, (means, _, _) in enumerate(checked):
        check_n_features(means.shape[1], d, f"{name}[{i}]", label, "all mixtures")
    return checked


def check_sample_domain(sample_domain, n_samples, *, signed=False):
    """Validate one group label per sample.

    Parameters
    ----------
    sample_domain : array-like of shape (n_samples,)
        The labels.
    n_samples : int
    signed : bool, default=False
        skada's convention of ``GMMOTFlow``: integer labels, >= 0 for source
        samples and < 0 for target ones. Otherwise (``GMMOTBarycenter``'s
        groups) labels may be of any type that sorts (numbers, or strings);
        missing ones (None, NaN) and a mix of types that do not sort together
        (strings and numbers) are errors naming the first offending position.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    """
    labels = np.asarray(sample_domain)
    if signed:
        if labels.shape != (n_samples,) or not np.issubdtype(labels.dtype, np.integer):
            raise InvalidInputError(
                "sample_domain must hold one integer label per sample (>= 0 "
                f"source, < 0 target), got an array of shape {labels.shape} and "
                f"dtype {labels.dtype}{_first_non_integer(labels)}."
            )
        return labels
    if labels.shape != (n_samples,):
        raise InvalidInputError(
            "sample_domain must have one label per sample: got shape "
            f"{labels.shape} for {n_samples} samples."
        )
    if labels.dtype.kind in "fc" and not np.all(np.isfinite(labels)):
        i = int(np.flatnonzero(~np.isfinite(labels))[0])
        raise InvalidInputError(
            f"sample_domain contains NaN or infinity (first at index {i})."
        )
    if labels.dtype == object:
        _check_object_labels(labels)
    return labels


def _first_non_integer(labels):
    """Where an object array of labels first holds no integer (None, a string)."""
    if labels.ndim == 1 and labels.dtype == object:
        for i, label in enumerate(labels):
            if isinstance(label, bool) or not isinstance(label, numbers.Integral):
                return f" (sample_domain[{i}] is {label!r})"
    return ""


def _check_object_labels(labels):
    """Reject missing labels and labels that do not sort with the first one."""
    for i, label in enumerate(labels):
        if label is None or (isinstance(label, float) and np.isnan(label)):
            raise InvalidInputError(
                f"sample_domain[{i}] is {label!r}; every sample needs a group label."
            )
    try:
        np.unique(labels)
    except TypeError:
        first = labels[0]
        for i, label in enumerate(labels):
            try:
                bool(first < label)
                bool(label < first)
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"sample_domain[{i}] is {label!r} ({type(label).__name__}), "
                    f"which cannot be ordered with sample_domain[0] = {first!r} "
                    f"({type(first).__name__}); give labels of one kind, e.g. "
                    "all integers or all strings."
                ) from None
        raise InvalidInputError(
            "sample_domain holds labels that cannot be ordered; give labels "
            "of one kind, e.g. all integers or all strings."
        ) from None


def check_points(x, n_features, label):
    """Validate sample points of shape (n, d).

    Parameters
    ----------
    x : array-like of shape (n, d)
    n_features : int
        Required ``d``.
    label : str
        How error messages name the field.

    Returns
    -------
    x : ndarray of shape (n, d)
        A float64 C-contiguous copy.
    """
    arr, _ = _as_float_array(x, label)
    if arr.ndim != 2 or arr.shape[1] != n_features:
        raise InvalidInputError(
            f"{label} must be a 2-D array of shape (n_samples, {n_features}), "
            f"got shape {arr.shape}."
        )
    _check_finite(arr, label)
    _check_magnitude(arr, label, MAX_COORDINATE)
    return arr


def check_time(t):
    """Validate a time of a path between two mixtures: a real number in [0, 1].

    Parameters
    ----------
    t : float

    Returns
    -------
    t : float
    """
    if (
        isinstance(t, bool)
        or not isinstance(t, numbers.Real)
        or not 0.0 <= t <= 1.0  # also rejects NaN
    ):
        raise InvalidInputError(f"t must be a number in [0, 1], got {t!r}.")
    return float(t)


def check_positive_int(value, label, *, allow_zero=False):
    """Validate an integer count (iterations, steps).

    Parameters
    ----------
    value : int
    label : str
    allow_zero : bool, default=False

    Returns
    -------
    value : int
    """
    low = 0 if allow_zero else 1
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        raise InvalidInputError(f"{label} must be an integer >= {low}, got {value!r}.")
    return int(value)


def check_num_iter_max(value, label="numItermax"):
    """Validate the exact solver's iteration limit: None or a positive integer.

    Parameters
    ----------
    value : int or None
    label : str, default="numItermax"
        How the message names the argument.

    Returns
    -------
    value : int or None
    """
    if value is None:
        return None
    return check_positive_int(value, label)


def check_tolerance(value, label):
    """Validate a non-negative, finite tolerance.

    Parameters
    ----------
    value : float
    label : str

    Returns
    -------
    value : float
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or value < 0
    ):
        raise InvalidInputError(f"{label} must be a finite number >= 0, got {value!r}.")
    return float(value)


def check_tuple_count(sizes, max_tuples, what):
    """Raise if the multi-marginal program of inputs of ``sizes`` is too large."""
    count = math.prod(int(s) for s in sizes)
    if count > max_tuples:
        shape = " x ".join(str(s) for s in sizes)
        raise InvalidInputError(
            f"{what}: the exact (multi-marginal) barycenter of inputs with "
            f"{shape} components has {count} tuples of components, more than "
            f"max_tuples={max_tuples}; its time and memory grow with that "
            "product. Use the fixed point (gmm_barycenter_fixed_point, or "
            'GMMOTBarycenter(algorithm="fixed_point")), fewer input components, '
            "or raise max_tuples."
        )
    return count


def _positive_real(value, label, *, allow_inf=False):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or np.isnan(value)
        or value <= 0
        or (np.isinf(value) and not allow_inf)
    ):
        bound = "a number > 0 (or inf)" if allow_inf else "a finite number > 0"
        raise InvalidInputError(f"{label} must be {bound}, got {value!r}.")
    return float(value)


def check_entropic(reg, reg_m, stop_thr):
    """Validate POT's entropic options ``reg``, ``reg_m`` and ``stopThr``.

    Parameters
    ----------
    reg : float or None
        Entropic regularisation; None for exact plans.
    reg_m : float, pair of float, or None
        KL relaxation of the marginals (POT's ``sinkhorn_unbalanced``); a
        pair relaxes the source and target marginals differently, ``inf``
        keeps one exact. None: balanced.
    stop_thr : float or None
        Tolerance of the iterations (None: the default).

    Returns
    -------
    reg : float or None
    reg_m : tuple of two floats, or None
    stop_thr : float or None
    """
    if reg is not None:
        reg = _positive_real(reg, "reg")
    if reg_m is not None:
        if reg is None:
            raise InvalidInputError(
                "reg_m (unbalanced plans, KL-relaxed marginals) needs the "
                "entropic regularisation reg > 0, as POT's sinkhorn_unbalanced; "
                "got reg=None."
            )
        pair = reg_m if isinstance(reg_m, list | tuple | np.ndarray) else (reg_m,) * 2
        if len(pair) != 2:
            raise InvalidInputError(
                f"reg_m must be a number or a pair (source, target), got {reg_m!r}."
            )
        reg_m = tuple(_positive_real(r, "reg_m", allow_inf=True) for r in pair)
    if stop_thr is not None:
        stop_thr = _positive_real(stop_thr, "stopThr")
    if stop_thr is not None and reg is None:
        raise InvalidInputError(
            "stopThr is the tolerance of the entropic iterations; give reg too, "
            "or leave stopThr unset for exact plans."
        )
    return reg, reg_m, stop_thr


def check_component_labels(labels_s, labels_t, label_cost, k_s, k_t):
    """Validate the labels of labelled mixtures; return their label vectors.

    Parameters
    ----------
    labels_s, labels_t : array-like or None
        Classes of the components, shapes (k_s,) and (k_t,), or label vectors
        (distributions over classes), shapes (k_s, C) and (k_t, C).
    label_cost : float
        The weight of the label term; 0 ignores the labels.
    k_s, k_t : int
        The numbers of components.

    Returns
    -------
    (vectors_s, vectors_t) or None
        Float label vectors, (k_s, C) and (k_t, C); None if ``label_cost`` is 0.
    """
    if (
        isinstance(label_cost, bool)
        or not isinstance(label_cost, numbers.Real)
        or not np.isfinite(label_cost)
        or label_cost < 0
    ):
        raise InvalidInputError(
            f"label_cost must be a finite number >= 0, got {label_cost!r}."
        )
    if label_cost == 0:
        return None
    if labels_s is None or labels_t is None:
        raise InvalidInputError(
            "label_cost > 0 needs the labels of both mixtures' components "
            "(labels_s and labels_t)."
        )
    arrays = [np.asarray(labels_s), np.asarray(labels_t)]
    for array, k, name in zip(
        arrays, (k_s, k_t), ("labels_s", "labels_t"), strict=True
    ):
        if array.ndim not in (1, 2) or array.shape[0] != k:
            raise InvalidInputError(
                f"{name} must have one class (or label vector) per component "
                f"({k}), got shape {array.shape}."
            )
    if arrays[0].ndim != arrays[1].ndim:
        raise InvalidInputError(
            "labels_s and labels_t must both be classes (1-D) or both label "
            "vectors (2-D)."
        )
    if arrays[0].ndim == 1:
        classes, index = np.unique(np.concatenate(arrays), return_inverse=True)
        onehot = np.eye(classes.size)[index]
        return onehot[:k_s], onehot[k_s:]
    vectors = [
        _as_float_array(a, name)[0]
        for a, name in zip(arrays, ("labels_s", "labels_t"), strict=True)
    ]
    if vectors[0].shape[1] != vectors[1].shape[1] or not all(
        np.all(np.isfinite(v)) for v in vectors
    ):
        raise InvalidInputError(
            "labels_s and labels_t must be finite label vectors over the same "
            f"classes, got {vectors[0].shape[1]} and {vectors[1].shape[1]} columns."
        )
    return vectors[0], vectors[1]
