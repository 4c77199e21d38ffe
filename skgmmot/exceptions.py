"""Exceptions raised by skgmmot.

Importing this module imports nothing else (it is safe to import first).
"""

__all__ = ["InvalidInputError"]


class InvalidInputError(ValueError, AssertionError):
    """A malformed input: wrong shapes, non-finite values, bad weights, ...

    Raised by the functional layer (and by the estimators, for the mixtures
    they are given) when an argument is malformed; the message names the
    mixture and the field, e.g. ``"source mixture: weights w_s must sum to 1
    ..."``.

    It is a :class:`ValueError`, the exception of scikit-learn and NumPy for
    bad values, and also an :class:`AssertionError`, the exception POT's
    ``ot.gmm`` raises for the same mistakes (from its ``assert`` statements):
    code written for either library catches it unchanged. Unlike an
    ``assert``, it is raised under ``python -O`` too.

    See Also
    --------
    sklearn.exceptions.NotFittedError : Raised for an unfitted
        ``GaussianMixture`` given as a mixture.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmmot import gmm_ot_loss
    >>> from skgmmot.exceptions import InvalidInputError
    >>> m, C, w = np.zeros((2, 1)), np.ones((2, 1, 1)), np.array([0.5, 0.5])
    >>> try:
    ...     gmm_ot_loss(m, m, C, C, w[:1], w)
    ... except AssertionError as exc:  # as with POT
    ...     print(type(exc).__name__, "-", exc)
    InvalidInputError - source mixture: weights w_s must be a 1-D array of length 2...
    >>> issubclass(InvalidInputError, ValueError)
    True
    """
