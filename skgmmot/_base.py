"""GaussianMixture-like behaviour for estimators whose result is a mixture."""

import functools
import numbers
import threading

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from skgmmot._engine.mixtures import far_posterior
from skgmmot._validation import check_coordinates, check_positive_int

_GENERATORS = threading.local()


def fit_random_state(random_state):
    """``check_random_state`` for the duration of one ``fit``.

    An integer seed gives the stream of ``RandomState(seed)``, but re-seeds a
    generator kept per thread instead of building one: building a
    ``RandomState`` draws OS entropy first and takes ~70 us, a tenth of a
    small fit. The generator must not outlive the ``fit`` that asked for it.

    Parameters
    ----------
    random_state : None, int or RandomState

    Returns
    -------
    rng : numpy.random.RandomState
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        rng = getattr(_GENERATORS, "rng", None)
        if rng is None:
            rng = _GENERATORS.rng = np.random.RandomState()
        rng.seed(int(random_state))
        return rng
    return check_random_state(random_state)


def atomic_fit(fit):
    """Make ``fit`` all-or-nothing: a ``fit`` that raises changes no attribute.

    The estimator's attributes are saved before the call and restored if it
    raises anything, ``KeyboardInterrupt`` included: an estimator that was not
    fitted stays unfitted (``check_is_fitted`` raises ``NotFittedError``), and
    a fitted one keeps the attributes of its previous fit, unchanged. This
    covers the attributes ``validate_data`` sets before the work starts
    (``n_features_in_``, ``feature_names_in_``). The saved state is a shallow
    copy: ``fit`` must replace attributes, never modify them in place.

    Parameters
    ----------
    fit : callable
        The estimator's ``fit(self, ...)``.

    Returns
    -------
    wrapped : callable
        ``fit`` with the same signature and docstring.
    """

    @functools.wraps(fit)
    def wrapped(self, *args, **kwargs):
        saved = self.__dict__.copy()
        try:
            result = fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        # What check_fitted compares with: the parameters of this fit.
        self._fit_params = self.get_params(deep=False)
        return result

    return wrapped


def check_fitted(estimator):
    """``check_is_fitted``, and that the fit belongs to the current parameters.

    A parameter changed by ``set_params`` after ``fit`` (other than those in
    the estimator's ``_call_time_params``, which methods read at each call)
    leaves fitted attributes computed for the old value, e.g. a gradient
    flow's path after ``method="geodesic"``: using them would give wrong
    results silently, so this raises instead.

    Parameters
    ----------
    estimator : BaseEstimator
        Fitted with a ``fit`` decorated by :func:`atomic_fit`.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted, or a parameter changed since ``fit``.
    """
    check_is_fitted(estimator)
    fitted = getattr(estimator, "_fit_params", None)
    if fitted is None:
        return
    skip = getattr(estimator, "_call_time_params", frozenset())
    # get_params(deep=False) reads these attributes too, after inspecting the
    # signature (20 us, a fifth of a small transform).
    current = {name: getattr(estimator, name) for name in fitted}
    changed = [
        name
        for name, value in current.items()
        if name not in skip and not _same_parameter(fitted.get(name), value)
    ]
    if changed:
        name = type(estimator).__name__
        was = ", ".join(f"{p}={fitted.get(p)!r}" for p in changed)
        now = ", ".join(f"{p}={current[p]!r}" for p in changed)
        raise NotFittedError(
            f"This {name} was fitted with {was}; its parameters are now {now}. "
            "Call fit again (refit) before using it."
        )


def _same_parameter(a, b):
    """Whether two parameter values are the same.

    Equal plain values (numbers, strings), equal arrays and sequences of such;
    any other object only equals itself.
    """
    if a is b:
        return True
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        return len(a) == len(b) and all(map(_same_parameter, a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    plain = (str, numbers.Number, np.generic)
    if isinstance(a, plain) and isinstance(b, plain) and type(a) is type(b):
        return bool(a == b) or (a != a and b != b)  # NaN equals NaN here
    return False


def check_factorable(covariances, label, reason):
    """Raise a ``ValueError`` naming the first matrix with no Cholesky factor.

    What a ``GaussianMixture`` needs of its covariances; after
    ``floor_eigenvalues`` only zero matrices (Dirac components) fail.

    Parameters
    ----------
    covariances : ndarray of shape (k, d, d)
    label : str
        How the message names the array.
    reason : str
        Why a factor is needed.
    """
    try:
        np.linalg.cholesky(covariances)
        return
    except np.linalg.LinAlgError:
        pass
    for i, cov in enumerate(covariances):
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"{label}[{i}] is singular (largest entry {np.abs(cov).max():.3g}); "
                f"{reason}."
            ) from None


def precisions_cholesky(covariances):
    """Cholesky factors of the precisions, as ``GaussianMixture`` stores them.

    Parameters
    ----------
    covariances : ndarray of shape (k, d, d)
        Positive definite covariances.

    Returns
    -------
    prec_chol : ndarray of shape (k, d, d)
        Upper-triangular ``U`` with ``U U^T = covariances^-1``.
    """
    lower = np.linalg.cholesky(covariances)
    eye = np.broadcast_to(np.eye(covariances.shape[1]), covariances.shape)
    return np.ascontiguousarray(np.linalg.solve(lower, eye).transpose(0, 2, 1))


def fitted_gaussian_mixture(
    weights,
    means,
    covariances,
    *,
    random_state=None,
    converged=True,
    n_iter=0,
    precisions_chol=None,
):
    """Build a fitted ``GaussianMixture`` (full covariances) from parameters.

    Parameters
    ----------
    weights : ndarray of shape (k,)
    means : ndarray of shape (k, d)
    covariances : ndarray of shape (k, d, d)
        Positive definite.
    random_state : None, int or RandomState, default=None
        Its ``random_state`` (used by ``sample``).
    converged : bool, default=True
    n_iter : int, default=0
        Its ``converged_`` and ``n_iter_``.
    precisions_chol : ndarray of shape (k, d, d), optional
        Computed from ``covariances`` if not given.

    Returns
    -------
    gmm : sklearn.mixture.GaussianMixture
    """
    k, d = means.shape
    if precisions_chol is None:
        precisions_chol = precisions_cholesky(covariances)
    gmm = GaussianMixture(
        n_components=k, covariance_type="full", random_state=random_state
    )
    # C-ordered copies: results must not depend on the callers' memory layout
    # (a pickled estimator gets C-ordered arrays back).
    gmm.weights_ = np.array(weights, dtype=np.float64, order="C")
    gmm.means_ = np.array(means, dtype=np.float64, order="C")
    gmm.covariances_ = np.array(covariances, dtype=np.float64, order="C")
    prec = np.array(precisions_chol, dtype=np.float64, order="C")
    gmm.precisions_cholesky_ = prec
    gmm.precisions_ = prec @ prec.transpose(0, 2, 1)
    gmm.converged_ = converged
    gmm.n_iter_ = n_iter
    gmm.lower_bound_ = -np.inf
    gmm.n_features_in_ = d
    return gmm


class MixtureResultMixin:
    """Methods of ``GaussianMixture`` for an estimator that fits a mixture.

    The estimator must set ``weights_``, ``means_`` and full ``covariances_``.
    Every method evaluates the fitted mixture through a ``GaussianMixture``
    built by :meth:`to_gaussian_mixture`, so results are scikit-learn's.
    """

    def to_gaussian_mixture(self):
        """Return a fitted ``GaussianMixture`` equal to the fitted mixture.

        Returns
        -------
        gmm : sklearn.mixture.GaussianMixture
            With ``covariance_type="full"``, the fitted weights, means and
            covariances, and this estimator's ``random_state`` (used by
            ``sample``).
        """
        check_fitted(self)
        return fitted_gaussian_mixture(
            self.weights_,
            self.means_,
            self.covariances_,
            random_state=self.random_state,
            converged=bool(self.converged_),
            n_iter=int(self.n_iter_),
            precisions_chol=self.precisions_cholesky_,
        )

    def _evaluate(self, method, X):
        """Call ``GaussianMixture.<method>(X)`` on the fitted mixture.

        Components of weight zero (possible with learned weights) have log
        weight -inf, which scikit-learn handles; the warning is silenced.
        """
        X = self._check_samples(X)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if method not in ("predict", "predict_proba"):
                return getattr(self.to_gaussian_mixture(), method)(X)
            proba = self.to_gaussian_mixture().predict_proba(X)
        # NaN rows: squared Mahalanobis distances to every component overflowed.
        lost = np.flatnonzero(~np.isfinite(proba).all(axis=1))
        if lost.size:
            chols = np.linalg.cholesky(self.covariances_)
            for i in lost:
                proba[i] = far_posterior(
                    X[i], self.means_, chols, self.weights_, f"X[{i}]", "fitted mixture"
                )
        return proba if method == "predict_proba" else proba.argmax(axis=1)

    def _check_samples(self, X):
        check_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        check_coordinates(X, "X")
        return X

    def score_samples(self, X):
        """Log-density of the fitted mixture at every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ``log p(x)`` for every row of ``X``.
        """
        return self._evaluate("score_samples", X)

    def predict(self, X):
        """Most likely component of the fitted mixture for every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component indices.
        """
        return self._evaluate("predict", X)

    def predict_proba(self, X):
        """Posterior probability of every component of the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Responsibilities; rows sum to one.
        """
        return self._evaluate("predict_proba", X)

    def sample(self, n_samples=1):
        """Draw samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples, grouped by component.
        labels : ndarray of shape (n_samples,)
            The component of every sample.
        """
        # Stricter than GaussianMixture.sample, which truncates 2.5 to 2 and
        # names the wrong value when n_samples < 1.
        n_samples = check_positive_int(n_samples, "n_samples")
        return self.to_gaussian_mixture().sample(n_samples)

    def bic(self, X):
        """Bayesian information criterion of the fitted mixture on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        bic : float
            Lower is better.
        """
        return self._evaluate("bic", X)

    def aic(self, X):
        """Akaike information criterion of the fitted mixture on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        aic : float
            Lower is better.
        """
        return self._evaluate("aic", X)
