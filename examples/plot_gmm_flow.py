"""
==========================================
Gradient flow of a Gaussian mixture
==========================================

The problem of POT's gallery example "GMM Flow": a 3-component 2-D Gaussian
mixture (the source) flows toward a fixed 2-component mixture (the target) by
gradient descent on the GMM-OT distance :math:`MW_2^2` between them, moving
its means, covariances and weights. POT runs 100 Adam steps with torch and
reprojects the covariances onto the SPD cone after each step;
:class:`skgmmot.GMMOTFlow` takes Riemannian steps instead (Euclidean on the
means, Bures-Wasserstein on the covariances, multiplicative on the weights),
which never leave the set of mixtures. The four figures are the example's:
the two mixtures, the loss per step, the last step against the target, and
every step coloured by time.
"""

# sphinx_gallery_thumbnail_number = 4

import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from skgmmot import GMMOTFlow
from skgmmot.plotting import plot_flow, plot_gmm, plot_loss

FIGURE_DIR = Path(os.environ.get("SKGMMOT_FIGURE_DIR", "figures"))
FIGURE_DIR.mkdir(parents=True, exist_ok=True)

# %%
# The source and the target
# -------------------------
# POT's example arrays (``torch.manual_seed(3)``, float32 values written out
# in float64): three source components with the softmax of the example's
# initial logits as weights, two target components with equal weights.
source = (
    np.array(
        [
            [0.8032760620117188, 0.17483338713645935],
            [0.08897809684276581, -0.6137180328369141],
            [0.04618244990706444, -1.3682591915130615],
        ]
    ),
    np.array(
        [
            [
                [1.9049739837646484, -0.08129435777664185],
                [-0.08129435777664185, 0.9369723200798035],
            ],
            [
                [0.2821210026741028, 0.32323336601257324],
                [0.32323336601257324, 1.62356698513031],
            ],
            [
                [0.3722122311592102, -0.1616901010274887],
                [-0.1616901010274887, 1.681341290473938],
            ],
        ]
    ),
    np.array([0.327547559963094, 0.23071340414027583, 0.44173903589663016]),
)
target = (
    np.array(
        [
            [0.3374950885772705, 1.0111159086227417],
            [-1.435179352760315, 0.9774317741394043],
        ]
    ),
    np.array(
        [
            [
                [0.7161318063735962, -0.25691428780555725],
                [-0.25691428780555725, 0.27685993909835815],
            ],
            [
                [1.786765694618225, 1.381311058998108],
                [1.381311058998108, 2.601578712463379],
            ],
        ]
    ),
    np.array([0.5, 0.5]),
)
limits = (-3.0, 3.0)

# %%
# Ellipses are drawn at one standard deviation, more opaque for heavier
# components, with "+" at the means.
fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharex=True, sharey=True)
for ax, mixture, name, color in zip(
    axes, (source, target), ("Source", "Target"), ("C0", "C1"), strict=True
):
    plot_gmm(mixture, ax, color=color, nstd=1.0)
    ax.set(xlim=limits, ylim=limits, aspect="equal", title=f"{name} GMM")
fig.tight_layout()
fig.savefig(FIGURE_DIR / "plot_gmm_flow_mixtures.png", dpi=100)

# %%
# The flow
# --------
# Up to 100 steps, as in POT's example; every step is line-searched, so the
# loss decreases at every step. The first fit also compiles (or loads from
# the cache) the numba kernels.
flow = GMMOTFlow(target, n_steps=100)
timings = []
for _ in range(2):
    start = time.perf_counter()
    flow.fit(source)
    timings.append(time.perf_counter() - start)
print(
    f"GMMOTFlow: MW2^2 from {flow.loss_curve_[0]:.4f} to {flow.loss_curve_[-1]:.3g} "
    f"in {flow.n_iter_} steps (converged: {flow.converged_}); "
    f"first fit {timings[0]:.3f} s, second fit {1e3 * timings[1]:.1f} ms"
)

# %%
# The loss per step
# -----------------
# POT's torch + Adam loop reaches about 0.015 after its 100 steps.
fig, ax = plt.subplots(figsize=(6, 4))
plot_loss(flow, ax)
ax.set_title("Loss of the flow")
fig.tight_layout()
fig.savefig(FIGURE_DIR / "plot_gmm_flow_loss.png", dpi=100)

# %%
# The last step against the target
# --------------------------------
# The flow keeps the source's three components: two move onto the two target
# components and take their weights, and the third, which the target has no
# room for, ends with weight 0 (the plan sends it nowhere). The outlines of the
# final mixture (green) cover the target's ellipses.
print("final weights:", np.round(flow.weights_, 4))
print("final plan (source components x target components):")
print(np.round(flow.plan_, 4))
fig, ax = plt.subplots(figsize=(6, 6))
plot_gmm(source, ax, color="C0", nstd=1.0, alpha=0.3, label="Source")
plot_gmm(target, ax, color="C1", nstd=1.0, alpha=0.5, label="Target")
plot_gmm(
    (flow.means_, flow.covariances_, flow.weights_),
    ax,
    color="C2",
    nstd=1.0,
    label="Last step",
    fill=False,
    linewidth=2,
    zorder=3,
)
ax.set(xlim=limits, ylim=limits, aspect="equal", title="GMM flow, last step")
ax.legend(loc="upper right")
fig.tight_layout()
fig.savefig(FIGURE_DIR / "plot_gmm_flow_last_step.png", dpi=100)

# %%
# Every step, coloured by time
# ----------------------------
# :func:`skgmmot.plotting.plot_flow` draws the mixture at some recorded
# steps, coloured by the time ``t = step / n_iter_`` (the time of
# ``flow.transform(X, t)`` and ``flow.mixture_at(t)``), the paths of the
# component means through every step, and the target as dashed outlines.
# The mixture moves mostly during the first quarter of the steps (the loss
# falls below 0.1 within 25 steps); the rest refines it to 1e-8, too little
# to see, so the steps drawn are the first ones and the last one (yellow,
# under the target).
fig, ax = plt.subplots(figsize=(7, 6))
plot_flow(flow, ax, steps=[0, 4, 8, 12, 16, 20, 25, flow.n_iter_], nstd=1.0)
ax.set_adjustable("box")  # keep the limits below; plot_flow adjusts data limits
ax.set(xlim=limits, ylim=limits, title="GMM flow, all steps")
fig.tight_layout()
fig.savefig(FIGURE_DIR / "plot_gmm_flow_steps.png", dpi=100)
