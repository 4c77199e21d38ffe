"""skgmmot: fast, scikit-learn-native optimal transport between Gaussian mixtures.

The functional layer (:mod:`skgmmot.ot`) is a drop-in for POT's ``ot.gmm``.
The estimators (:class:`GMMOTBarycenter`, :class:`GMMOTFlow`) follow
scikit-learn's API. Importing skgmmot compiles nothing and imports neither
scikit-learn nor POT (the estimators are loaded on first access); numba kernels
compile on first use and are cached on disk.
"""

from skgmmot._pairwise import pairwise_gmm_ot_distances
from skgmmot.ot import (
    bures_wasserstein_barycenter,
    bures_wasserstein_mapping,
    dist_bures_squared,
    gaussian_logpdf,
    gaussian_pdf,
    gmm_barycenter_fixed_point,
    gmm_barycenter_multimarginal,
    gmm_ot_apply_map,
    gmm_ot_interpolate,
    gmm_ot_loss,
    gmm_ot_plan,
    gmm_ot_plan_density,
    gmm_pdf,
)

__version__ = "0.1.0.dev0"

_LAZY = {"GMMOTBarycenter": "skgmmot._barycenter", "GMMOTFlow": "skgmmot._flow"}

__all__ = [
    "GMMOTBarycenter",
    "GMMOTFlow",
    "__version__",
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
    "pairwise_gmm_ot_distances",
]


def __getattr__(name):
    """Import the estimators on first access (they need scikit-learn)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skgmmot' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
