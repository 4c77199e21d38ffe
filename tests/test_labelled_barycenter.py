"""Barycenters of labelled mixtures: the supervised cost W2^2 + beta |v_i - v_j|^2."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from skgmmot import GMMOTBarycenter, dist_bures_squared, gmm_ot_plan
from skgmmot.datasets import make_random_gmm


def _labelled(seed, K=3, k=4, d=2, n_classes=2):
    rng = np.random.RandomState(seed)
    mixtures = [make_random_gmm(k, d, random_state=rng) for _ in range(K)]
    classes = [rng.randint(n_classes, size=k) for _ in range(K)]
    for c in classes:  # every class present somewhere
        c[:n_classes] = np.arange(n_classes)
    return mixtures, classes


def _supervised_objective(fitted, mixtures, classes, beta, lambdas):
    """sum_k lambda_k <P_k, W2^2 + beta |v - v_k|^2>, from the fitted plans."""
    onehot = np.eye(len(fitted.classes_))
    total = 0.0
    for lam, (m, C, _), c, plan in zip(
        lambdas, mixtures, classes, fitted.plans_, strict=True
    ):
        cost = dist_bures_squared(fitted.means_, m, fitted.covariances_, C)
        v = onehot[np.searchsorted(fitted.classes_, c)]
        label = ((fitted.labels_[:, None, :] - v[None]) ** 2).sum(-1)
        total += lam * np.sum(plan * (cost + beta * label))
    return total


@pytest.mark.parametrize("algorithm", ["fixed_point", "multimarginal"])
@pytest.mark.parametrize("seed", range(4))
def test_cost_is_the_supervised_objective(seed, algorithm):
    mixtures, classes = _labelled(seed)
    beta = 5.0
    fitted = GMMOTBarycenter(
        4, label_cost=beta, algorithm=algorithm, random_state=0
    ).fit(mixtures, classes)
    np.testing.assert_array_equal(fitted.classes_, [0, 1])
    np.testing.assert_allclose(fitted.labels_.sum(axis=1), 1.0)
    assert np.all(fitted.labels_ >= -1e-12)
    lambdas = np.full(3, 1 / 3)
    objective = _supervised_objective(fitted, mixtures, classes, beta, lambdas)
    assert fitted.cost_ == pytest.approx(objective, rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_exact_labelled_barycenter_matches_a_dense_program(seed):
    """The multi-marginal program with the label term, solved independently.

    A tuple's barycenter has the Bures barycenter of its Gaussians (computed
    by the package, checked elsewhere) and the average label vector; its
    label cost is beta sum_k lambda_k |v_bar - v_k|^2.
    """
    mixtures, classes = _labelled(seed, K=2, k=3)
    beta = 3.0
    fitted = GMMOTBarycenter(label_cost=beta, algorithm="multimarginal").fit(
        mixtures, classes
    )
    unlabelled = GMMOTBarycenter(algorithm="multimarginal").fit(mixtures)
    # Tuple costs: the unlabelled exact solver's costs are checked against
    # SciPy in test_multimarginal; here the label term is added by hand.
    lambdas = np.array([0.5, 0.5])
    tuples = list(itertools.product(range(3), range(3)))
    onehot = np.eye(2)
    costs = []
    for t in tuples:
        ms = [mixtures[k][0][j] for k, j in enumerate(t)]
        Cs = [mixtures[k][1][j] for k, j in enumerate(t)]
        vs = [onehot[classes[k][j]] for k, j in enumerate(t)]
        # Bures part: a one-component pair's exact barycenter cost.
        pair = GMMOTBarycenter(algorithm="multimarginal").fit(
            [(m[None], C[None], np.ones(1)) for m, C in zip(ms, Cs, strict=True)]
        )
        v_bar = lambdas @ np.array(vs)
        label = sum(
            lam * np.sum((v_bar - v) ** 2) for lam, v in zip(lambdas, vs, strict=True)
        )
        costs.append(pair.cost_ + beta * label)
    rows, rhs = [], []
    for k, (_, _, w) in enumerate(mixtures):
        for j in range(3):
            rows.append([1.0 if t[k] == j else 0.0 for t in tuples])
            rhs.append(w[j])
    reference = linprog(costs, A_eq=rows, b_eq=rhs, bounds=(0, None), method="highs")
    assert fitted.cost_ == pytest.approx(reference.fun, rel=1e-9)
    assert fitted.cost_ >= unlabelled.cost_ - 1e-12


def test_a_large_label_cost_keeps_classes_apart():
    """Two classes with the same Gaussians: only the labels tell them apart."""
    rng = np.random.RandomState(0)
    base = make_random_gmm(2, 2, random_state=rng)
    means, covs, _ = base
    mixture = (np.vstack([means, means]), np.vstack([covs, covs]), np.full(4, 0.25))
    classes = np.array([0, 0, 1, 1])
    shifted = (mixture[0] + 0.3, mixture[1], mixture[2])
    fitted = GMMOTBarycenter(4, label_cost=100.0, random_state=0).fit(
        [mixture, shifted], [classes, classes]
    )
    assert np.allclose(np.sort(fitted.labels_.max(axis=1)), 1.0, atol=1e-9)
    # Unlabelled, the same fit may pair components across classes.
    plain = GMMOTBarycenter(4, random_state=0).fit([mixture, shifted], [classes] * 2)
    assert plain.labels_ is None and plain.classes_ is None


def test_label_cost_zero_ignores_y():
    mixtures, classes = _labelled(4)
    a = GMMOTBarycenter(3, random_state=0).fit(mixtures)
    b = GMMOTBarycenter(3, random_state=0).fit(mixtures, classes)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert b.labels_ is None


def test_errors():
    mixtures, classes = _labelled(5)
    with pytest.raises(ValueError, match="needs y"):
        GMMOTBarycenter(label_cost=1.0).fit(mixtures)
    with pytest.raises(ValueError, match=r"y\[1\] must give one class per component"):
        GMMOTBarycenter(label_cost=1.0).fit(
            mixtures, [classes[0], classes[1][:2], classes[2]]
        )
    X = np.random.RandomState(0).randn(40, 2)
    with pytest.raises(ValueError, match="needs labelled mixtures"):
        GMMOTBarycenter(1, label_cost=1.0).fit(X, np.zeros(40))


def test_plans_see_the_label_term():
    """The fitted plans are optimal for the supervised cost, not W2^2 alone."""
    mixtures, classes = _labelled(6)
    fitted = GMMOTBarycenter(4, label_cost=50.0, random_state=0).fit(mixtures, classes)
    onehot = np.eye(2)
    for (m, C, w), c, plan in zip(mixtures, classes, fitted.plans_, strict=True):
        label = 50.0 * ((fitted.labels_[:, None] - onehot[c][None]) ** 2).sum(-1)
        cost = dist_bures_squared(fitted.means_, m, fitted.covariances_, C) + label
        unsupervised = gmm_ot_plan(
            fitted.means_, m, fitted.covariances_, C, fitted.weights_, w
        )
        assert np.sum(plan * cost) <= np.sum(unsupervised * cost) + 1e-9


# ----------------------------------------------------- labelled plans (functions)


def test_labelled_plan_is_the_plan_of_the_supervised_cost():
    import ot

    from skgmmot import gmm_ot_loss

    rng = np.random.RandomState(7)
    ms, Cs, ws = make_random_gmm(5, 2, random_state=rng)
    mt, Ct, wt = make_random_gmm(4, 2, random_state=rng)
    ys, yt = np.array([0, 1, 2, 0, 1]), np.array([2, 2, 0, 1])
    beta = 4.0
    M = dist_bures_squared(ms, mt, Cs, Ct)
    M = M + beta * 2.0 * (ys[:, None] != yt[None, :])  # |e_a - e_b|^2 = 2
    expected = ot.emd(ws, wt, M)
    kwargs = {"label_cost": beta, "labels_s": ys, "labels_t": yt}
    plan = gmm_ot_plan(ms, mt, Cs, Ct, ws, wt, **kwargs)
    np.testing.assert_array_equal(plan, expected)
    assert gmm_ot_loss(ms, mt, Cs, Ct, ws, wt, **kwargs) == pytest.approx(
        np.sum(expected * M), rel=1e-12
    )
    # Label vectors give the same costs as classes.
    vs, vt = np.eye(3)[ys], np.eye(3)[yt]
    same = gmm_ot_plan(
        ms, mt, Cs, Ct, ws, wt, label_cost=beta, labels_s=vs, labels_t=vt
    )
    np.testing.assert_array_equal(same, plan)
    # Entropic and unbalanced plans see the label term too.
    entropic = gmm_ot_plan(ms, mt, Cs, Ct, ws, wt, reg=1.0, **kwargs)
    expected = ot.sinkhorn(
        ws, wt, M, 1.0, method="sinkhorn_log", numItermax=100000, stopThr=1e-14
    )
    np.testing.assert_allclose(entropic, expected, rtol=1e-6, atol=1e-12)
    # A large label cost keeps mass within classes where it can.
    strict = gmm_ot_plan(ms, mt, Cs, Ct, ws, wt, **{**kwargs, "label_cost": 1e6})
    across = strict[ys[:, None] != yt[None, :]].sum()
    within_possible = sum(min(ws[ys == c].sum(), wt[yt == c].sum()) for c in range(3))
    assert across == pytest.approx(1.0 - within_possible, abs=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"label_cost": -1.0}, "label_cost must be"),
        ({"label_cost": 1.0}, "needs the labels of both"),
        ({"label_cost": 1.0, "labels_s": [0, 1], "labels_t": [0, 1, 1]}, "labels_s"),
        (
            {"label_cost": 1.0, "labels_s": [0, 1, 0], "labels_t": np.eye(3)},
            "both be classes",
        ),
    ],
)
def test_bad_labels(kwargs, message):
    rng = np.random.RandomState(8)
    ms, Cs, ws = make_random_gmm(3, 2, random_state=rng)
    mt, Ct, wt = make_random_gmm(3, 2, random_state=rng)
    with pytest.raises(ValueError, match=message):
        gmm_ot_plan(ms, mt, Cs, Ct, ws, wt, **kwargs)
    with pytest.raises(AssertionError, match=message):
        gmm_ot_plan(ms, mt, Cs, Ct, ws, wt, **kwargs)
