"""Quickstart: GMM-OT distance and plan between two fitted GaussianMixtures.

Fits a Gaussian mixture to each of two point clouds, then prints the GMM-OT
distance of Delon & Desolneux (2020) between them, the optimal plan between
their components, and how long each call took. Run with
``python examples/quickstart.py``.
"""

import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

import skgmmot

X_source, _ = make_blobs(n_samples=600, centers=3, n_features=2, random_state=0)
X_target, _ = make_blobs(n_samples=600, centers=4, n_features=2, random_state=1)
source = GaussianMixture(n_components=3, random_state=0).fit(X_source)
target = GaussianMixture(n_components=4, random_state=0).fit(X_target)

# covariance_type="full" (the default) stores (k, d, d) covariances.
m_s, C_s, w_s = source.means_, source.covariances_, source.weights_
m_t, C_t, w_t = target.means_, target.covariances_, target.weights_

start = time.perf_counter()
loss = skgmmot.gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
first = time.perf_counter() - start
start = time.perf_counter()
plan = skgmmot.gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
second = time.perf_counter() - start

np.set_printoptions(precision=3, suppress=True)
print(f"GMM-OT distance MW2 = {np.sqrt(loss):.4f} (squared: {loss:.4f})")
print("Optimal plan between the 3 source and 4 target components:")
print(plan)
print(
    f"first call {first:.3f} s (compiles or loads the numba cache), "
    f"next call {1e3 * second:.2f} ms"
)
