"""skgmmot: fast, scikit-learn-native optimal transport between Gaussian mixtures.

The functional layer (:mod:`skgmmot.ot`) is a drop-in for POT's ``ot.gmm``.
Importing skgmmot compiles nothing and imports neither scikit-learn nor POT;
numba kernels compile on first use and are cached on disk.
"""

from skgmmot.ot import (
    bures_wasserstein_barycenter,
    dist_bures_squared,
    gmm_barycenter_fixed_point,
    gmm_ot_apply_map,
    gmm_ot_loss,
    gmm_ot_plan,
    gmm_pdf,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "bures_wasserstein_barycenter",
    "dist_bures_squared",
    "gmm_barycenter_fixed_point",
    "gmm_ot_apply_map",
    "gmm_ot_loss",
    "gmm_ot_plan",
    "gmm_pdf",
]
