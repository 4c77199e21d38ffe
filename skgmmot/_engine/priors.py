"""Class proportions of an unlabelled domain under label shift."""

import numpy as np

from skgmmot._engine.mixtures import posterior

__all__ = ["class_proportions"]

#: EM on the proportions stops when none moves by more than this.
PROPORTIONS_TOL = 1e-8
#: EM iterations at most (linear convergence: slow only when the classes
#: overlap heavily, where the likelihood is flat anyway).
PROPORTIONS_MAX_ITER = 1000


def class_proportions(x, means, covs, within, classes, n_classes):
    r"""Maximum-likelihood class proportions of samples, class densities fixed.

    The samples are modelled by :math:`\sum_c p_c f_c` with the class
    densities :math:`f_c = \sum_{i \in c} q_i N_i` of a labelled source
    fixed and the proportions :math:`p` free: the setting of target (label)
    shift, where only the proportions change between the domains. The
    likelihood is concave in :math:`p`; EM (Saerens, Latinne & Decaestecker,
    Neural Computation 2002) replaces :math:`p_c` by the mean posterior
    probability of class :math:`c`, and increases it at every step.

    Parameters
    ----------
    x : ndarray of shape (n, d)
        The unlabelled samples.
    means : ndarray of shape (k, d)
    covs : ndarray of shape (k, d, d)
        The source components (positive definite covariances).
    within : ndarray of shape (k,)
        Weight of every component within its class (summing to one over each
        class).
    classes : ndarray of shape (k,)
        Class index (0 to ``n_classes - 1``) of every component.
    n_classes : int

    Returns
    -------
    proportions : ndarray of shape (n_classes,)
        Summing to one.
    """
    k = means.shape[0]
    # Posteriors under equal weights are the densities up to a per-sample
    # factor, which the posteriors below normalise away; they are computed
    # once, stably, whatever the distances.
    resp = posterior(x, means, covs, np.full(k, 1.0 / k), "X", "source mixture")
    class_density = np.zeros((x.shape[0], n_classes))
    np.add.at(class_density.T, classes, (resp * within).T)
    p = np.full(n_classes, 1.0 / n_classes)
    for _ in range(PROPORTIONS_MAX_ITER):
        joint = class_density * p
        new = (joint / joint.sum(axis=1, keepdims=True)).mean(axis=0)
        moved = np.abs(new - p).max()
        p = new
        if moved <= PROPORTIONS_TOL:
            break
    return p / p.sum()
