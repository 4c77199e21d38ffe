"""
=============================================
Choosing the number of barycenter components
=============================================

Samples come in groups (batches, sensors, sites) that share one 3-cluster
structure, each group shifted by its own offset. :class:`skgmmot.GMMOTBarycenter`
fits one Gaussian mixture per group (``sample_domain`` labels the groups) and
averages them into a common reference. Its size ``n_components`` is chosen
here in two ways: by cross-validation over whole groups (``GridSearchCV`` with
``GroupKFold``, scoring held-out groups by their log-likelihood under the
barycenter), and by the BIC of the barycenter.
"""

# sphinx_gallery_thumbnail_number = 1

import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn import config_context
from sklearn.model_selection import GridSearchCV, GroupKFold

from skgmmot import GMMOTBarycenter
from skgmmot.plotting import plot_barycenter

FIGURE_DIR = Path(os.environ.get("SKGMMOT_FIGURE_DIR", "figures"))
FIGURE_DIR.mkdir(parents=True, exist_ok=True)

# %%
# Grouped data
# ------------
# Six groups of 150 samples from the same three clusters (standard deviation
# 0.6), each group shifted by a random offset of standard deviation 0.3.
rng = np.random.RandomState(0)
centers = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 5.0]])
X, groups = [], []
for g in range(6):
    labels = rng.randint(len(centers), size=150)
    shift = 0.3 * rng.randn(2)
    X.append(centers[labels] + 0.6 * rng.randn(150, 2) + shift)
    groups.append(np.full(150, g))
X, groups = np.vstack(X), np.concatenate(groups)

# %%
# Cross-validation over whole groups
# ----------------------------------
# The barycenter's component weights are learned (the default), so 4 or 5
# components can share three clusters of any sizes.
#
# With metadata routing on (only inside this ``config_context``), the search
# passes ``sample_domain`` to ``fit`` for the training groups of each split,
# to ``score`` for the held-out ones (the estimator requests it by default),
# and ``groups`` to the splitter, so that every held-out group is unseen.
# ``score`` with ``sample_domain`` measures the held-out groups *after
# alignment*: under the barycenter carried onto each group (see the Notes of
# :class:`skgmmot.GMMOTBarycenter`), not their raw likelihood, which would
# measure the groups' offsets.
sizes = np.arange(1, 7)
start = time.perf_counter()
with config_context(enable_metadata_routing=True):
    estimator = GMMOTBarycenter(random_state=0)
    estimator.set_fit_request(sample_domain=True)
    search = GridSearchCV(
        estimator,
        {"n_components": sizes},
        cv=GroupKFold(n_splits=3).set_split_request(groups=True),
    )
    search.fit(X, sample_domain=groups, groups=groups)
cv_time = time.perf_counter() - start
mean_score = search.cv_results_["mean_test_score"]
std_score = search.cv_results_["std_test_score"]
best_cv = search.best_params_["n_components"]

# %%
# BIC of the barycenter
# ---------------------
# ``bic(X, sample_domain=groups)`` scores every group in-sample under the
# barycenter carried onto it, penalised by the parameters of the barycenter
# and of the group mixtures.
bics = []
for k in sizes:
    bary = GMMOTBarycenter(n_components=int(k), random_state=0)
    bics.append(bary.fit(X, sample_domain=groups).bic(X, sample_domain=groups))
best_bic = int(sizes[np.argmin(bics)])
print(
    f"chosen n_components: {best_cv} by group cross-validation "
    f"({cv_time:.1f} s for {len(sizes)} sizes x 3 folds), {best_bic} by BIC"
)

# %%
# Scores against the number of components
# ---------------------------------------
fig, (ax_cv, ax_bic) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax_cv.errorbar(sizes, mean_score, yerr=std_score, marker="o", capsize=4)
ax_cv.plot(best_cv, search.best_score_, "r*", markersize=16, label="best")
ax_cv.set_title("Held-out groups (GroupKFold, 3 folds)")
ax_cv.set_ylabel("mean log-likelihood after alignment\n(mean ± std over folds)")
ax_bic.plot(sizes, bics, marker="o")
ax_bic.plot(best_bic, min(bics), "r*", markersize=16, label="best")
ax_bic.set_title("BIC after alignment, all groups")
ax_bic.set_ylabel("BIC (lower is better)")
for ax in (ax_cv, ax_bic):
    ax.set_xlabel("n_components of the barycenter")
    ax.set_xticks(sizes)
    ax.legend()
fig.savefig(FIGURE_DIR / "plot_barycenter_size_selection.png", dpi=100)

# %%
# The chosen barycenter
# ---------------------
# ``GridSearchCV`` refits the best size on all groups: one 3-component
# mixture per group (faded colours) and their barycenter (black), which sits
# at the groups' average position.
fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
plot_barycenter(search.best_estimator_, ax, nstd=1.0)
ax.set_title(f"Barycenter of the {len(np.unique(groups))} group mixtures")
fig.savefig(FIGURE_DIR / "plot_barycenter_size_selection_barycenter.png", dpi=100)
