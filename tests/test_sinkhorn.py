"""Entropic plans: our ε-scaling + Newton Sinkhorn against POT's sinkhorn_log.

The entropic problem has one solution, so however the kernel gets there
(exact-dual start, ε-scaling, Newton steps on the semi-dual), its plan must be
POT's plan once both meet the marginals to the same tolerance.
"""

import warnings

import numpy as np
import ot
import pytest
from sklearn.exceptions import ConvergenceWarning

import skgmmot._engine.transport as transport
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import (
    SINKHORN_TOL,
    exact_plan,
    exact_plans,
    sinkhorn_plan,
    sinkhorn_plans,
)


def _pot(a, b, M, reg):
    """POT's log-domain Sinkhorn, run to a tighter marginal error than ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return ot.sinkhorn(
            a, b, M, reg, method="sinkhorn_log", numItermax=200000, stopThr=1e-13
        )


def _random_problem(rng, n, m, scale):
    a = rng.rand(n) + 0.1
    b = rng.rand(m) + 0.1
    M = scale * rng.rand(n, m) ** 2
    return a / a.sum(), b / b.sum(), M


def _check(plan, expected, a, b):
    np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-12)
    assert np.linalg.norm(plan.sum(axis=0) - b) < SINKHORN_TOL
    # Entries relative to their own size (log-domain accuracy), tiny ones absolute.
    np.testing.assert_allclose(plan, expected, rtol=1e-6, atol=1e-14)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (3, 5), (6, 5), (20, 30)])
@pytest.mark.parametrize("relative_reg", [1.0, 1e-1, 1e-2])
def test_matches_pot(rng, shape, relative_reg):
    a, b, M = _random_problem(rng, *shape, scale=100.0)
    reg = relative_reg * 100.0
    plan = sinkhorn_plan(a, b, M, reg, notes=Notes())
    _check(plan, _pot(a, b, M, reg), a, b)


def _gibbs_rtol(M, reg):
    """Relative error of exp((f + g - M) / reg) from rounding f + g - M."""
    return 1e-14 + 64 * np.finfo(float).eps * np.abs(M).max() / reg


def test_small_reg_with_nearly_split_support():
    """Uniform weights and far-apart blocks: plain Sinkhorn needs ~1e4 sweeps.

    The plan's support splits into blocks joined by entries of size exp(-50);
    the mass that must cross between them makes Sinkhorn crawl, and the Newton
    Hessian is (numerically) singular along the shift between the blocks.
    """
    a = np.full(6, 1 / 6)
    b = np.array([0.36136, 0.30841, 0.33023])
    b /= b.sum()
    M = np.array(
        [
            [2032.95735, 1791.35085, 1800.21244],
            [2200.42143, 1954.27286, 1975.53434],
            [2162.40487, 1909.90337, 1922.59257],
            [2530.56407, 2252.30771, 2251.87944],
            [2004.52824, 1768.83703, 1782.98671],
            [2251.71487, 1988.18552, 1988.70802],
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        plan, log = sinkhorn_plan(a, b, M, 0.1, log=True, notes=Notes())
    f, g = log["f"], log["g"]
    # POT does not converge here in 2e5 iterations, but the solution is
    # certified: a plan of Gibbs form exp((f_i + g_j - M_ij) / reg) with the
    # right marginals is the unique optimum of the entropic problem.
    # (To the rounding of the exponents in the costs' units, eps max|M| / reg.)
    gibbs = np.exp((f[:, None] + g[None, :] - M) / 0.1)
    np.testing.assert_allclose(plan, gibbs, rtol=_gibbs_rtol(M, 0.1), atol=0.0)
    np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-12)
    assert np.linalg.norm(plan.sum(axis=0) - b) < SINKHORN_TOL


def test_zero_masses(rng):
    a, b, M = _random_problem(rng, 5, 4, scale=10.0)
    a[1] = 0.0
    b[2] = 0.0
    a, b = a / a.sum(), b / b.sum()
    plan, log = sinkhorn_plan(a, b, M, 0.5, log=True, notes=Notes())
    f, g = log["f"], log["g"]
    assert np.all(plan[1] == 0.0) and np.all(plan[:, 2] == 0.0)
    keep_a, keep_b = a > 0, b > 0
    expected = _pot(a[keep_a], b[keep_b], M[keep_a][:, keep_b], 0.5)
    _check(plan[keep_a][:, keep_b], expected, a[keep_a], b[keep_b])
    assert np.isneginf(f[1]) and np.isneginf(g[2])


def test_without_pots_solver(rng, monkeypatch):
    """Cold start from zeros when POT's compiled solver is unavailable."""
    a, b, M = _random_problem(rng, 8, 7, scale=100.0)
    expected = sinkhorn_plan(a, b, M, 0.5, notes=Notes())
    monkeypatch.setattr(transport, "_emd_c", lambda: None)
    np.testing.assert_allclose(
        sinkhorn_plan(a, b, M, 0.5, notes=Notes()), expected, rtol=1e-6, atol=1e-14
    )
    _check(sinkhorn_plan(a, b, M, 0.5, notes=Notes()), _pot(a, b, M, 0.5), a, b)


def test_does_not_modify_inputs(rng):
    a, b, M = _random_problem(rng, 4, 6, scale=10.0)
    copies = [x.copy() for x in (a, b, M)]
    sinkhorn_plan(a, b, M, 0.3, notes=Notes())
    for x, y in zip((a, b, M), copies, strict=True):
        np.testing.assert_array_equal(x, y)


def test_notes_when_not_converged(rng):
    a, b, M = _random_problem(rng, 6, 5, scale=1000.0)
    notes = Notes()
    sinkhorn_plan(a, b, M, 0.01, max_iter=1, notes=notes)
    [(kind, (message, count, category))] = notes.items()
    assert kind == "sinkhorn" and count == 1 and category == "convergence"
    assert "Sinkhorn did not converge" in message and "at most 1 iterations" in message


@pytest.mark.parametrize("shape", [(1, 1), (4, 6), (10, 3)])
def test_exact_plan_is_pots_emd(rng, shape):
    a, b, M = _random_problem(rng, *shape, scale=10.0)
    b = b * (1.0 + 1e-9)  # ot.emd rescales b to a's total; so must we
    np.testing.assert_allclose(
        exact_plan(a, b, M, notes=Notes()), ot.emd(a, b, M), atol=1e-15
    )
    if shape[0] == 1:
        return
    a[0] = 0.0
    a /= a.sum()
    np.testing.assert_allclose(
        exact_plan(a, b, M, notes=Notes()), ot.emd(a, b, M), atol=1e-15
    )


def test_exact_plan_falls_back_on_pot(rng, monkeypatch):
    a, b, M = _random_problem(rng, 4, 5, scale=10.0)
    monkeypatch.setattr(transport, "_emd_c", lambda: None)
    np.testing.assert_allclose(
        exact_plan(a, b, M, notes=Notes()), ot.emd(a, b, M), atol=1e-15
    )


@pytest.mark.slow
def test_converges_on_hard_random_problems():
    """Tiny regularisations (down to 1e-6 of the cost range), ties, zero masses.

    Plain Sinkhorn would need up to ~1e6 iterations here; every plan must meet
    the marginals and be of Gibbs form, which certifies it as the optimum.
    """
    rng = np.random.RandomState(1)
    for _ in range(200):
        n, m = rng.randint(1, 30, size=2)
        a = rng.rand(n) + 0.01 if rng.rand() < 0.5 else np.ones(n)
        b = rng.rand(m) + 0.01 if rng.rand() < 0.5 else np.ones(m)
        if rng.rand() < 0.2 and n > 1:
            a[rng.randint(n)] = 0.0
        if rng.rand() < 0.2 and m > 1:
            b[rng.randint(m)] = 0.0
        a, b = a / a.sum(), b / b.sum()
        kind = rng.randint(3)
        if kind == 0:
            M = rng.rand(n, m)
        elif kind == 1:
            x, y = rng.randn(n, 2), 3.0 * rng.randn(m, 2)
            M = ((x[:, None] - y[None]) ** 2).sum(-1)
        else:
            M = rng.randint(0, 3, size=(n, m)).astype(float)  # many ties
        M *= 10.0 ** rng.uniform(-2, 4)
        reg = (np.ptp(M) + 1e-3) * 10.0 ** rng.uniform(-6, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            plan, log = sinkhorn_plan(a, b, M, reg, log=True, notes=Notes())
        f, g = log["f"], log["g"]
        np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-12)
        assert np.linalg.norm(plan.sum(axis=0) - b) < SINKHORN_TOL
        with np.errstate(invalid="ignore"):
            gibbs = np.exp((f[:, None] + g[None, :] - M) / reg)
        np.testing.assert_allclose(
            plan, np.nan_to_num(gibbs), rtol=_gibbs_rtol(M, reg), atol=0.0
        )


def test_batch_equals_single_problems(rng):
    a = rng.rand(7) + 0.1
    a /= a.sum()
    inputs = [b / b.sum() for b in (rng.rand(3) + 0.1, rng.rand(5) + 0.1)]
    cost = 100.0 * rng.rand(7, 8)
    plan, (f, g) = sinkhorn_plans(a, inputs, cost, 0.5, notes=Notes())
    assert plan.shape == (7, 8) and f.shape == (2, 7) and g.shape == (8,)
    _check(plan[:, :3], _pot(a, inputs[0], cost[:, :3], 0.5), a, inputs[0])
    _check(plan[:, 3:], _pot(a, inputs[1], cost[:, 3:], 0.5), a, inputs[1])


@pytest.mark.slow
def test_warm_starts_give_the_cold_plans():
    """Potentials of a nearby problem (costs moved by up to 1e4 reg) as start."""
    rng = np.random.RandomState(2)
    for _ in range(300):
        n, K = rng.randint(1, 20), rng.randint(1, 4)
        sizes = rng.randint(1, 20, size=K)
        a = rng.rand(n) + 0.01
        if rng.rand() < 0.2 and n > 1:
            a[rng.randint(n)] = 0.0
        inputs = []
        for m in sizes:
            b = rng.rand(m) + 0.01
            if rng.rand() < 0.2 and m > 1:
                b[rng.randint(m)] = 0.0
            inputs.append(b / b.sum())
        x, y = rng.randn(n, 2), 3.0 * rng.randn(sizes.sum(), 2)
        M = ((x[:, None] - y[None]) ** 2).sum(-1) * 10.0 ** rng.uniform(-2, 4)
        reg = (np.ptp(M) + 1e-3) * 10.0 ** rng.uniform(-6, 0)
        moved = M + np.abs(rng.randn(*M.shape)) * reg * 10.0 ** rng.uniform(-1, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            _, potentials = sinkhorn_plans(a / a.sum(), inputs, M, reg, notes=Notes())
            a = a + 0.1 * rng.rand(n) * (a > 0)  # the weights may move too
            warm, _ = sinkhorn_plans(
                a / a.sum(), inputs, moved, reg, potentials=potentials, notes=Notes()
            )
            cold, _ = sinkhorn_plans(a / a.sum(), inputs, moved, reg, notes=Notes())
        np.testing.assert_allclose(warm, cold, rtol=1e-6, atol=1e-9)


def test_exact_plans_are_pots_emd_blocks(rng, monkeypatch):
    a = rng.rand(6) + 0.1
    a /= a.sum()
    inputs = [b / b.sum() for b in (rng.rand(4) + 0.1, rng.rand(3) + 0.1)]
    cost = 10.0 * rng.rand(6, 7)
    expected = np.hstack(
        [ot.emd(a, inputs[0], cost[:, :4]), ot.emd(a, inputs[1], cost[:, 4:])]
    )
    np.testing.assert_allclose(
        exact_plans(a, inputs, cost, notes=Notes()), expected, atol=1e-15
    )
    monkeypatch.setattr(transport, "_emd_c", lambda: None)
    np.testing.assert_allclose(
        exact_plans(a, inputs, cost, notes=Notes()), expected, atol=1e-15
    )
