"""
=====================================================
Multi-source domain adaptation on handwritten digits
=====================================================

Four digits of scikit-learn's ``load_digits``, reduced to six dimensions, are
split into four domains, each distorted by its own affine map (a rotation, a
scaling and a shift as large as the distance between the classes). Three
domains are labelled sources; the fourth is the unlabelled target. A
classifier trained on the pooled sources meets the target's own distortion;
:class:`~skgmmot.da.GMMOTLabelPropAdapter` (GMM-OTDA\\ :sub:`L`) on the merged
sources and :class:`~skgmmot.da.GMMWBTAdapter` (multi-source GMM-WBT, a
labelled barycenter of the sources) transport the source labels to the
target through Gaussian mixtures. The adapters are used directly, with
``fit(X, y, sample_domain=...)`` and ``predict``: skada is not needed (see
:ref:`domain-adaptation` for its conventions, which the adapters follow).
"""

# sphinx_gallery_thumbnail_number = 1

import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.linalg import expm
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skgmmot.da import GMMOTLabelPropAdapter, GMMWBTAdapter
from skgmmot.plotting import plot_gmm

FIGURE_DIR = Path(os.environ.get("SKGMMOT_FIGURE_DIR", "figures"))
FIGURE_DIR.mkdir(parents=True, exist_ok=True)

# %%
# Digits in six dimensions
# ------------------------
# The digits 0, 1, 3 and 4 (724 images of 8 x 8 pixels), projected on their
# first six principal components and standardised: few enough dimensions for
# mixtures of two full-covariance components per class.
digits = load_digits()
classes = np.array([0, 1, 3, 4])
keep = np.isin(digits.target, classes)
Z = StandardScaler().fit_transform(
    PCA(n_components=6, random_state=0).fit_transform(digits.data[keep])
)
labels = digits.target[keep]
n_features = Z.shape[1]
class_means = np.array([Z[labels == c].mean(axis=0) for c in classes])
separation = np.mean(
    [
        np.linalg.norm(a - b)
        for i, a in enumerate(class_means)
        for b in class_means[i + 1 :]
    ]
)

# %%
# Four domains, each with its own affine distortion
# -------------------------------------------------
# The images are dealt at random into four domains of 181. Domain ``g`` is
# distorted by ``x -> R_g S_g x + b_g``: ``R_g`` a random rotation (the
# exponential of 0.25 times a random antisymmetric matrix), ``S_g`` a
# diagonal scaling by factors in [0.7, 1.3], and ``b_g`` a shift in a random
# direction whose length is the mean distance between two class means. Domains
# 0, 1 and 2 are the labelled sources (``sample_domain`` 0, 1, 2); domain 3 is
# the target (``sample_domain`` -1), whose labels are masked as -1 (skada's
# conventions).
rng = np.random.RandomState(1)
n_domains = 4
domain = rng.permutation(np.arange(len(Z)) % n_domains)
X = np.empty_like(Z)
for g in range(n_domains):
    skew = rng.randn(n_features, n_features)
    rotation = expm(0.25 * (skew - skew.T) / 2)
    scaling = np.diag(rng.uniform(0.7, 1.3, n_features))
    shift = rng.randn(n_features)
    shift *= separation / np.linalg.norm(shift)
    X[domain == g] = Z[domain == g] @ (rotation @ scaling).T + shift
sample_domain = np.where(domain == 3, -1, domain)
source, target = sample_domain >= 0, sample_domain < 0
y = np.where(source, labels, -1)
print(
    f"{len(X)} digits ({', '.join(map(str, classes))}) in {n_features} "
    f"dimensions: 3 source domains of {source.sum() // 3}, a target of "
    f"{target.sum()}; mean distance between class means {separation:.2f}"
)

# %%
# Source only, merged sources, and the labelled barycenter
# --------------------------------------------------------
# * Source only: an RBF support vector classifier trained on the pooled
#   source samples predicts the target samples.
# * GMM-OTDA\ :sub:`L` on the merged sources: one mixture per class on the
#   pooled sources (all source domains as one), one mixture on the target,
#   the GMM-OT plan between their components; every target component gets
#   the classes of the source mass it receives, and ``predict`` labels a
#   target sample by its components' classes, weighted by its posterior.
# * GMM-WBT: one labelled mixture per source domain, their GMM-OT barycenter
#   under the supervised cost :math:`W_2^2 + \beta \|v_i - v_j\|^2`
#   (``label_cost``: :math:`\beta` relative to the median cost between the
#   source components), which keeps the classes of the sources apart, then
#   the plan from the barycenter to the target mixture and the same label
#   propagation.
#
# For reference, the same classifier trained on the target's own labels
# (5-fold cross-validation) shows what the target allows.
start = time.perf_counter()
source_only = SVC().fit(X[source], labels[source])
time_source_only = time.perf_counter() - start
acc_source_only = source_only.score(X[target], labels[target])

start = time.perf_counter()
label_prop = GMMOTLabelPropAdapter(2, random_state=0)
label_prop.fit(X, y, sample_domain=sample_domain)
time_label_prop = time.perf_counter() - start
acc_label_prop = np.mean(label_prop.predict(X[target]) == labels[target])

start = time.perf_counter()
wbt = GMMWBTAdapter(2, label_cost=1.0, random_state=0)
wbt.fit(X, y, sample_domain=sample_domain)
time_wbt = time.perf_counter() - start
predicted = wbt.predict(X[target])
acc_wbt = np.mean(predicted == labels[target])

acc_oracle = cross_val_score(SVC(), X[target], labels[target], cv=5).mean()

print("accuracy on the target domain (fit time):")
print(f"  source only (SVC on the pooled sources)   {acc_source_only:.3f}", end="")
print(f" ({time_source_only:.2f} s)")
print(f"  GMM-OTDA_L on the merged sources           {acc_label_prop:.3f}", end="")
print(f" ({time_label_prop:.2f} s)")
print(f"  GMM-WBT (label_cost=1)                     {acc_wbt:.3f}", end="")
print(f" ({time_wbt:.2f} s)")
print(f"  SVC trained on the target labels (5-fold)  {acc_oracle:.3f}")

# %%
# The domains, the barycenter and the labelled target
# ---------------------------------------------------
# The first two of the six features. Left: the four domains, one colour per
# domain. Middle: the source samples, one colour per class, and the labelled
# barycenter of GMM-WBT, each component in the colour of its most probable
# class. Right: the target samples in the colour of the class GMM-WBT gives
# them (black crosses: wrong), with the target mixture.
class_colors = [f"C{i}" for i in range(len(classes))]
fig, axes = plt.subplots(1, 3, figsize=(15, 5), layout="constrained")
ax_domains, ax_bar, ax_target = axes
for g in range(n_domains):
    name = "target" if g == 3 else f"source {g}"
    mask = domain == g
    ax_domains.scatter(*X[mask, :2].T, s=6, alpha=0.6, label=name)
ax_domains.set_title("Four domains (colour: domain)")

for i, c in enumerate(classes):
    mask = source & (labels == c)
    ax_bar.scatter(*X[mask, :2].T, s=5, alpha=0.25, color=class_colors[i])
bar = wbt.barycenter_
bar_class = np.argmax(bar.labels_, axis=1)
for i, c in enumerate(classes):
    mine = (bar_class == i) & (bar.weights_ > 0)
    if mine.any():
        weights = bar.weights_[mine]
        plot_gmm(
            (bar.means_[mine], bar.covariances_[mine], weights / weights.sum()),
            ax=ax_bar,
            color=class_colors[i],
            label=f"digit {c}",
            alpha=np.clip(weights / bar.weights_.max(), 0.3, 0.9),
        )
ax_bar.set_title("Sources and the labelled barycenter (GMM-WBT)")

for i, c in enumerate(classes):
    mask = predicted == c
    ax_target.scatter(
        *X[target][mask, :2].T,
        s=8,
        alpha=0.6,
        color=class_colors[i],
        label=f"digit {c}",
    )
wrong = predicted != labels[target]
ax_target.scatter(*X[target][wrong, :2].T, s=25, marker="x", color="k", label="wrong")
plot_gmm(wbt.target_mixture_, ax=ax_target, color="0.3", means=False, fill=False)
ax_target.set_title(f"Target labelled by GMM-WBT (accuracy {acc_wbt:.2f})")
for ax in axes:
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.legend(fontsize="small", markerscale=2)
fig.savefig(FIGURE_DIR / "plot_multisource_digits.png", dpi=100)

# %%
# Where the plans send the source classes
# ---------------------------------------
# Each target component is named here by the true class of most of the target
# samples it explains (known in this example, unused by the adapters), so
# that mass outside the diagonal blocks carries labels to the wrong class.
# Pooled, the three source domains put every class in three places, which
# two components per class on the merged sources cannot follow: here one of
# the digit-0 components, and parts of digits 3 and 4, go to target
# components of other classes. The labelled barycenter has two components per
# class that summarise the class in all three sources at once, kept apart by
# ``label_cost``, and its plan to the target stays almost entirely in the
# diagonal blocks.


def component_classes(mixture, X_target, y_target):
    """The majority true class of the target samples each component explains."""
    means, covariances, weights = mixture
    log_density = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, C).logpdf(X_target)
            for m, C, w in zip(means, covariances, weights, strict=True)
        ]
    )
    posterior = np.exp(log_density - log_density.max(axis=1, keepdims=True))
    posterior /= posterior.sum(axis=1, keepdims=True)
    counts = np.array([posterior[y_target == c].sum(axis=0) for c in classes])
    return np.argmax(counts, axis=0)


fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
for ax, adapter, rows, title in (
    (
        axes[0],
        label_prop,
        label_prop.component_classes_,
        "GMM-OTDA_L: merged sources to target",
    ),
    (axes[1], wbt, bar_class, "GMM-WBT: barycenter to target"),
):
    columns = component_classes(adapter.target_mixture_, X[target], labels[target])
    row_order = np.argsort(rows, kind="stable")
    column_order = np.argsort(columns, kind="stable")
    plan = adapter.plan_[row_order][:, column_order]
    image = ax.imshow(plan, cmap="Greys", aspect="auto")
    ax.set_yticks(range(len(rows)), [f"digit {classes[k]}" for k in rows[row_order]])
    ax.set_xticks(range(len(columns)), [str(classes[k]) for k in columns[column_order]])
    for k in range(1, len(classes)):
        ax.axhline(np.searchsorted(rows[row_order], k) - 0.5, color="C3", lw=0.8)
        ax.axvline(np.searchsorted(columns[column_order], k) - 0.5, color="C3", lw=0.8)
    ax.set_xlabel("target component (true majority class)")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="plan mass")
fig.savefig(FIGURE_DIR / "plot_multisource_digits_plans.png", dpi=100)
