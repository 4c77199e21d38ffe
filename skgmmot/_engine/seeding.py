"""Initial GMM-OT barycenters drawn from the pooled input components."""

import numpy as np

from skgmmot._engine.costs import cost_matrix

__all__ = ["cell_weights", "draw", "kmeans_init", "random_init"]


def draw(rng, weights):
    """Index drawn with probability proportional to ``weights``.

    The draw of ``rng.choice(weights.size, p=weights / weights.sum())``, from
    the same uniform, without its argument checks (a tenth of a small fit).
    """
    cdf = np.cumsum(weights)
    return int(np.searchsorted(cdf / cdf[-1], rng.random_sample(), side="right"))


def kmeans_init(pooled, n_components, rng):
    r"""k-means++ seeding in Bures distance, within one input first.

    The first seed is a pooled input component drawn with probability
    proportional to its pooled weight :math:`\lambda_k w_{kj}`. The next seeds
    are drawn k-means++-style (proportionally to that weight times the squared
    Bures distance to the nearest seed) among the other components of the
    same input while it has any, then among all pooled components. Inputs
    that share one cluster structure seen through different batch effects
    (groups, domains) each hold one component per cluster, whereas seeds drawn
    from the pool can pick one cluster twice, shifted by two groups' effects;
    the fixed point rarely recovers from such a start. Returns the indices of
    the chosen pooled components.
    """
    means, covs, mass = pooled.means, pooled.covs, pooled.mass
    # All pairwise costs in one call when the pool is small enough.
    pairwise = cost_matrix(means, covs, means, covs) if mass.size <= 2000 else None

    def costs_to(j):
        if pairwise is not None:
            return pairwise[:, j]
        return cost_matrix(means, covs, means[[j]], covs[[j]])[:, 0]

    chosen = [draw(rng, mass)]
    owner = np.searchsorted(pooled.bounds, chosen[0], side="right") - 1
    lo, hi = pooled.bounds[owner], pooled.bounds[owner + 1]
    nearest = costs_to(chosen[0])
    allowed = np.zeros(mass.size, dtype=bool)
    allowed[lo:hi] = True
    for _ in range(1, n_components):
        if len(chosen) == hi - lo:  # the first seed's input has no components left
            allowed[:] = True
        allowed[chosen] = False
        score = np.where(allowed, mass * nearest, 0.0)
        if score.sum() <= 0.0:  # the candidates coincide with seeds, or weigh 0
            score = np.where(allowed, mass + 1e-12 * mass.max(), 0.0)
        new = draw(rng, score)
        chosen.append(new)
        nearest = np.minimum(nearest, costs_to(new))
    return np.asarray(chosen)


def random_init(pooled, n_components, rng):
    """Distinct pooled input components drawn proportionally to their weights."""
    mass = pooled.mass + 1e-12 * pooled.mass.max()  # zero weights stay drawable
    return rng.choice(mass.size, size=n_components, replace=False, p=mass / mass.sum())


def cell_weights(pooled, chosen):
    r"""Give each seed the input mass nearest to it: the initial weights.

    Every input component gives its mass :math:`\lambda_k w_{kj}` to the
    chosen component nearest to it in Bures distance (shared equally between
    exact ties, e.g. copies of one component), as k-means gives a centre the
    mass of its cell. When all seeds come from one input, only that input's
    components vote: the components of other inputs sit where their own
    batch effects put them, and would give a seed the mass of a cluster it
    does not represent. The barycenter of K copies of one mixture thus starts
    at that mixture, weights included. A seed whose cell is empty (a
    zero-weight input component) gets a small share.
    """
    owners = np.searchsorted(pooled.bounds, chosen, side="right") - 1
    if np.all(owners == owners[0]):
        voters = np.arange(pooled.bounds[owners[0]], pooled.bounds[owners[0] + 1])
    else:
        voters = np.arange(pooled.mass.size)
    costs = cost_matrix(
        pooled.means[voters],
        pooled.covs[voters],
        pooled.means[chosen],
        pooled.covs[chosen],
    )
    nearest = costs == costs.min(axis=1, keepdims=True)
    weights = pooled.mass[voters] @ (nearest / nearest.sum(axis=1, keepdims=True))
    total = weights.sum()
    weights = weights / total if total > 0.0 else np.full(chosen.size, 1.0)
    weights /= weights.sum()
    floor = 1e-3 / chosen.size
    if np.any(weights < floor):
        weights = np.maximum(weights, floor)
        weights /= weights.sum()
    return weights
