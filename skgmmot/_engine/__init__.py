"""The engine: GMM-OT computations on validated arrays.

Everything here takes and returns plain NumPy arrays (mixtures as
``(means, covariances, weights)`` tuples) that the public layers have already
validated, and imports nothing from scikit-learn: the functional layer
(:mod:`skgmmot.ot`) and the estimators (``GMMOTBarycenter``, ``GMMOTFlow``,
:func:`skgmmot.pairwise_gmm_ot_distances`) validate, call the engine and warn;
the engine calls the numba kernels of ``skgmmot._kernels``. Problems that do
not stop a computation (an OT solver at its iteration limit, a Gaussian
barycenter that did not reach its tolerance) are collected in a
:class:`~skgmmot._engine.status.Notes` that the caller turns into one warning.

Modules
-------
costs
    Bures costs between components and the Gaussian maps of plan pairs.
mixtures
    Pooled mixtures, densities and posteriors.
gaussian
    Single Gaussians: densities, maps, plan densities, gradient descent.
transport
    Exact (network simplex) and entropic (Sinkhorn) plans.
maps
    The GMM-OT maps and the geodesic.
barycenter
    The fixed point of GMM-OT barycenters and its Gaussian barycenters.
seeding
    Initial barycenters drawn from the pooled inputs.
weights
    Optimal barycenter weights (a linear program).
alignment
    A barycenter carried onto a group mixture.
flow
    The Riemannian gradient flow, the geodesic path and the inverse map.
pairwise
    GMM-OT distances between many mixtures, tile by tile.
status
    Notes of non-fatal problems, for the caller's warning.
"""
