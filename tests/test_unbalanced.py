"""Entropic and unbalanced plans of the functional layer, against POT.

``gmm_ot_plan(..., reg=, reg_m=)`` must be POT's ``sinkhorn_unbalanced`` (and
``reg`` alone POT's log-domain ``sinkhorn``) on the same Bures costs.
"""

import warnings

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from skgmmot import dist_bures_squared, gmm_ot_loss, gmm_ot_plan
from skgmmot.datasets import make_random_gmm


def _pair(seed, d, k_s=None, k_t=None):
    rng = np.random.RandomState(seed)
    k_s = k_s or int(rng.randint(2, 7))
    k_t = k_t or int(rng.randint(2, 7))
    ms, Cs, ws = make_random_gmm(k_s, d, random_state=rng)
    mt, Ct, wt = make_random_gmm(k_t, d, random_state=rng)
    return ms, mt, Cs, Ct, ws, wt


def _pot_unbalanced(args, reg, reg_m):
    ms, mt, Cs, Ct, ws, wt = args
    M = dist_bures_squared(ms, mt, Cs, Ct)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan, log = ot.unbalanced.sinkhorn_unbalanced(
            ws, wt, M, reg, reg_m, numItermax=500000, stopThr=1e-15, log=True
        )
    return M, plan, log


def _kl(p, q):
    p, q = np.ravel(p), np.ravel(q)
    return float(np.sum(p * np.log(p / q)) - p.sum() + q.sum())


def _objective(plan, M, ws, wt, reg, reg_m):
    rho_s, rho_t = reg_m if isinstance(reg_m, tuple) else (reg_m, reg_m)
    value = np.sum(plan * M) + reg * _kl(plan, np.outer(ws, wt))
    for rho, mass, ref in ((rho_s, plan.sum(1), ws), (rho_t, plan.sum(0), wt)):
        if np.isfinite(rho):
            value += rho * _kl(mass, ref)
    return value


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("reg_m", [0.05, 1.0, 20.0, (0.5, np.inf), (np.inf, 3.0)])
@pytest.mark.parametrize("relative_reg", [0.05, 0.5])
@pytest.mark.parametrize("seed", range(3))
def test_unbalanced_plan_is_pots(seed, relative_reg, reg_m, d):
    args = _pair(seed, d)
    M = dist_bures_squared(*args[:4])
    reg = relative_reg * float(np.median(M))
    _, expected, _ = _pot_unbalanced(args, reg, reg_m)
    plan, log = gmm_ot_plan(*args, log=True, reg=reg, reg_m=reg_m, stopThr=1e-13)
    np.testing.assert_allclose(plan, expected, rtol=1e-7, atol=1e-12 * expected.max())
    loss, loss_log = gmm_ot_loss(*args, log=True, reg=reg, reg_m=reg_m, stopThr=1e-13)
    assert loss == pytest.approx(float(np.sum(expected * M)), rel=1e-7)
    assert log["cost"] == pytest.approx(loss, rel=1e-12)
    # total_cost is the objective (generalised KL divergences), which the
    # plan minimises: perturbing it only raises it.
    ws, wt = args[4], args[5]
    objective = _objective(plan, M, ws, wt, reg, reg_m)
    assert loss_log["total_cost"] == pytest.approx(objective, rel=1e-9)
    rng = np.random.RandomState(seed)
    # (An infinite reg_m is a constraint that a perturbation would break.)
    for _ in range(5 if np.all(np.isfinite(reg_m)) else 0):
        other = plan * np.exp(0.01 * rng.randn(*plan.shape))
        assert _objective(other, M, ws, wt, reg, reg_m) >= objective - 1e-12 * abs(
            objective
        )


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("seed", range(3))
def test_balanced_entropic_plan_is_pots_sinkhorn(seed, d):
    args = _pair(seed, d)
    ms, mt, Cs, Ct, ws, wt = args
    M = dist_bures_squared(ms, mt, Cs, Ct)
    reg = 0.1 * float(np.median(M))
    expected = ot.sinkhorn(
        ws, wt, M, reg, method="sinkhorn_log", numItermax=100000, stopThr=1e-14
    )
    plan = gmm_ot_plan(*args, reg=reg)
    np.testing.assert_allclose(plan, expected, rtol=1e-6, atol=1e-12)
    assert gmm_ot_loss(*args, reg=reg) == pytest.approx(np.sum(expected * M), rel=1e-8)
    # An infinite relaxation on both sides is the balanced plan.
    exact_marginals = gmm_ot_plan(*args, reg=reg, reg_m=np.inf, stopThr=1e-13)
    np.testing.assert_allclose(exact_marginals, expected, rtol=1e-6, atol=1e-12)


def test_relaxation_moves_between_destroying_and_transporting_mass():
    """Small reg_m: little mass is moved; large reg_m: close to balanced."""
    args = _pair(3, 2, 4, 4)
    M = dist_bures_squared(*args[:4])
    reg = 0.05 * float(np.median(M))
    balanced = gmm_ot_plan(*args, reg=reg)
    masses = [gmm_ot_plan(*args, reg=reg, reg_m=r).sum() for r in (1e-3, 1e-1, 1e1)]
    assert masses[0] < masses[1] < masses[2] <= 1.0 + 1e-9
    gaps = [
        np.abs(gmm_ot_plan(*args, reg=reg, reg_m=f * reg) - balanced).max()
        for f in (1e1, 1e2, 1e3)
    ]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01


def test_label_shift_is_explained_by_reweighting():
    """Same components, other weights: the unbalanced plan stays diagonal."""
    rng = np.random.RandomState(0)
    means = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    covs = np.repeat(np.eye(2)[None], 3, axis=0)
    w_s = np.array([0.6, 0.2, 0.2])
    w_t = np.array([0.2, 0.2, 0.6])
    shifted = means + 0.1 * rng.randn(3, 2)
    balanced = gmm_ot_plan(means, shifted, covs, covs, w_s, w_t)
    unbalanced = gmm_ot_plan(means, shifted, covs, covs, w_s, w_t, reg=0.5, reg_m=1.0)
    off_diagonal = lambda p: p.sum() - np.trace(p)
    assert off_diagonal(balanced) == pytest.approx(0.4)
    assert off_diagonal(unbalanced) < 1e-3 * unbalanced.sum()


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    shift=st.floats(-50, 50),
    reg_m=st.floats(0.05, 50),
)
def test_translation_invariance(seed, shift, reg_m):
    args = _pair(seed, 2)
    M = dist_bures_squared(*args[:4])
    reg = 0.2 * float(np.median(M))
    plan = gmm_ot_plan(*args, reg=reg, reg_m=reg_m)
    ms, mt, *rest = args
    moved = gmm_ot_plan(ms + shift, mt + shift, *rest, reg=reg, reg_m=reg_m)
    np.testing.assert_allclose(moved, plan, rtol=1e-6, atol=1e-13)
    assert np.all(plan >= 0)


def test_zero_weights_get_no_mass():
    ms, mt, Cs, Ct, ws, wt = _pair(5, 2, 4, 4)
    ws = np.array([0.5, 0.0, 0.25, 0.25])
    plan = gmm_ot_plan(ms, mt, Cs, Ct, ws, wt, reg=1.0, reg_m=2.0)
    assert np.all(plan[1] == 0)
    # POT divides 0 by 0 there; its plan on the other rows is the reference.
    keep = ws > 0
    _, expected, _ = _pot_unbalanced(
        (ms[keep], mt, Cs[keep], Ct, ws[keep], wt), 1.0, 2.0
    )
    np.testing.assert_allclose(plan[keep], expected, rtol=1e-7, atol=1e-14)
    assert np.isfinite(gmm_ot_loss(ms, mt, Cs, Ct, ws, wt, reg=1.0, reg_m=2.0))


def test_iteration_limit_warns_once_at_the_callers_line():
    args = _pair(6, 2)
    with pytest.warns(ConvergenceWarning, match="numItermax") as record:
        gmm_ot_plan(*args, reg=0.01, reg_m=100.0, numItermax=2)
    assert len(record) == 1
    assert record[0].filename == __file__


def test_inputs_are_not_modified():
    args = _pair(7, 2)
    copies = [a.copy() for a in args]
    gmm_ot_plan(*args, reg=1.0, reg_m=(1.0, np.inf))
    gmm_ot_loss(*args, reg=1.0, reg_m=1.0, log=True)
    for a, b in zip(args, copies, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reg_m": 1.0}, "needs the entropic regularisation reg"),
        ({"reg": -1.0}, "reg must be a finite number > 0"),
        ({"reg": np.inf}, "reg must be a finite number > 0"),
        ({"reg": 1.0, "reg_m": 0.0}, "reg_m must be"),
        ({"reg": 1.0, "reg_m": (1.0, 2.0, 3.0)}, "pair"),
        ({"reg": 1.0, "reg_m": np.nan}, "reg_m must be"),
        ({"stopThr": 1e-9}, "stopThr"),
        ({"reg": 1.0, "stopThr": 0.0}, "stopThr"),
    ],
)
def test_bad_options(kwargs, message):
    args = _pair(8, 2)
    for function in (gmm_ot_plan, gmm_ot_loss):
        with pytest.raises(ValueError, match=message):
            function(*args, **kwargs)
        with pytest.raises(AssertionError, match=message):  # POT's exception
            function(*args, **kwargs)


def test_exact_default_unchanged():
    args = _pair(9, 2)
    ms, mt, Cs, Ct, ws, wt = args
    M = dist_bures_squared(ms, mt, Cs, Ct)
    np.testing.assert_array_equal(gmm_ot_plan(*args), ot.emd(ws, wt, M))
