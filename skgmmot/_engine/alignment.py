r"""A barycenter carried onto a group: the likelihood of groups after alignment.

``GMMOTBarycenter`` models every group (batch, domain) as the barycenter
moved by a group-specific map. Take the plan :math:`\pi` between the
barycenter :math:`\bar\mu = \sum_i \bar w_i N(\bar m_i, \bar S_i)` and the
group's mixture :math:`\nu = \sum_j w_j N(m_j, S_j)`. Barycenter component i
is *carried* to the group component :math:`j(i)` its plan row sends most mass
to, by the Gaussian OT map between them, which pushes
:math:`N(\bar m_i, \bar S_i)` exactly onto :math:`N(m_{j(i)}, S_{j(i)})`; it
keeps its weight :math:`\bar w_i`. The carried mixture is the group's mixture
when the barycenter has the group's structure, and loses likelihood where it
does not: group components that no barycenter component reaches get no mass,
and barycenter weights that differ from the group's shift mass. Its
log-likelihood on the group's samples is a proper log-density, comparable
across barycenter sizes, and measures how well the barycenter explains the
group *after alignment*, whatever the group's batch effect.

Averaging the maps of a plan row instead (``T_bary`` restricted to one
component) is not robust here: a small weight mismatch makes a row send a few
percent of its mass to a distant component, and the averaged map then moves
the whole component part of the way there.

Pure array code on validated ``(means, covariances, weights)`` tuples; the
estimator validates, fits the group mixtures and picks the samples.
"""

import numpy as np

from skgmmot._engine.costs import cost_matrix
from skgmmot._engine.mixtures import log_mixture_pdf

__all__ = ["carried_mixture", "group_plan", "mixture_log_likelihood"]


def group_plan(barycenter, group, solver):
    """Plan from the barycenter's components to a group mixture's.

    Parameters
    ----------
    barycenter, group : tuple of ndarray
        ``(means, covariances, weights)`` of both mixtures.
    solver : Solver
        Solves the plan (``skgmmot._engine.transport.Solver``).

    Returns
    -------
    plan : ndarray of shape (k_barycenter, k_group)
    """
    cost = cost_matrix(barycenter[0], barycenter[1], group[0], group[1])
    return solver.plan(barycenter[2], group[2], cost)


def carried_mixture(barycenter, group, plan):
    """Move the barycenter onto a group through the plan's main pairs.

    Parameters
    ----------
    barycenter, group : tuple of ndarray
        ``(means, covariances, weights)`` of both mixtures.
    plan : ndarray of shape (k_barycenter, k_group)
        Plan between their components.

    Returns
    -------
    mixture : tuple of ndarray
        ``(means, covariances, weights)`` of the group components, each with
        the barycenter weight of the components carried to it; group
        components that receive none are left out.
    """
    weights_b = barycenter[2]
    keep = weights_b > 0.0
    target = np.argmax(plan[keep], axis=1)
    weights = np.bincount(target, weights=weights_b[keep], minlength=plan.shape[1])
    reached = weights > 0.0
    return (
        group[0][reached],
        group[1][reached],
        weights[reached] / weights[reached].sum(),
    )


def mixture_log_likelihood(x, mixture):
    """Log-density of a mixture with positive definite covariances at ``x``.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    mixture : tuple of ndarray
        ``(means, covariances, weights)``.

    Returns
    -------
    log_density : ndarray of shape (n,)
    """
    means, covs, weights = mixture
    return log_mixture_pdf(x, means, covs, weights)
