"""The only module that imports private scikit-learn API.

scikit-learn's parameter validation (``_param_validation``, ``_fit_context``)
is private; keeping the imports here means one place to adapt when it moves.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["Interval", "StrOptions", "_fit_context"]
