"""One exact-OT path: every exact plan of skgmmot is the plan of ``ot.emd``.

The problems have ties in the costs (small integers) and zero weights, where
several plans are optimal and the network simplex's choice depends on the
problem it is given: POT 0.9.7's ``ot.emd`` leaves rows and columns of zero
weight out, and so must every path of skgmmot (``solve_exact``). Plans are
compared with ``array_equal``; duals, costs and POT's log too.
"""

import warnings

import numpy as np
import ot
import ot.gmm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

import skgmmot._engine.transport as transport
from skgmmot import (
    GMMOTBarycenter,
    GMMOTFlow,
    dist_bures_squared,
    gmm_ot_loss,
    gmm_ot_plan,
    pairwise_gmm_ot_distances,
)
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import (
    INFEASIBLE,
    MAX_ITER_REACHED,
    OPTIMAL,
    exact_duals,
    exact_plan,
    exact_plans,
    pot_emd,
    solve_exact,
)

N_PROBLEMS = 2000
MAX_SIZE = 30


def tie_problem(rng, n=None, m=None, zeros="random"):
    """Weights with zeros (in a, b or both) and small integer costs.

    ``zeros``: "a", "b", "both", "none" or "random" (one of the first three).
    Half the weight vectors are small integers (ties in the weights too).
    """
    n = rng.randint(1, MAX_SIZE + 1) if n is None else n
    m = rng.randint(1, MAX_SIZE + 1) if m is None else m
    cost = rng.randint(0, rng.randint(1, 5) + 1, size=(n, m)).astype(float)
    if zeros == "random":
        zeros = ("a", "b", "both")[rng.randint(3)]

    def weights(k, with_zeros):
        if rng.rand() < 0.5:
            w = rng.randint(1, 4, size=k).astype(float)
        else:
            w = rng.rand(k) + 0.05
        if with_zeros and k > 1:
            w[rng.rand(k) < rng.uniform(0.1, 0.6)] = 0.0
            if not w.any():
                w[rng.randint(k)] = 1.0
        return w / w.sum()

    a = weights(n, zeros in ("a", "both"))
    b = weights(m, zeros in ("b", "both"))
    return a, b, cost


def problems(seed, count=N_PROBLEMS):
    rng = np.random.RandomState(seed)
    return [tie_problem(rng) for _ in range(count)]


@pytest.fixture(scope="module")
def tie_problems():
    return problems(0)


def _unfiltered_plan(a, b, cost):
    """The plan of the call the estimators made before: zero weights kept."""
    emd_c = transport._emd_c()
    b = b * (a.sum() / b.sum())
    return emd_c(a, b, np.ascontiguousarray(cost), 100000, 1)[0]


# ------------------------------------------------------------------ plans


def test_the_problems_have_several_optimal_plans(tie_problems):
    """Keeping zero weights in, the simplex picks another plan: the tests see it."""
    if transport._emd_c() is None:  # pragma: no cover - other POT versions
        pytest.skip("POT's compiled emd_c is not available")
    differ = sum(
        not np.array_equal(_unfiltered_plan(a, b, cost), ot.emd(a, b, cost))
        for a, b, cost in tie_problems
    )
    assert differ > N_PROBLEMS // 10, differ


def test_every_exact_path_gives_ot_emds_plan(tie_problems):
    for a, b, cost in tie_problems:
        expected = ot.emd(a, b, cost)
        np.testing.assert_array_equal(exact_plan(a, b, cost, notes=Notes()), expected)
        np.testing.assert_array_equal(solve_exact(a, b, cost).plan, expected)
        np.testing.assert_array_equal(pot_emd(a, b, cost, notes=Notes()), expected)
        plans = exact_plans(
            a, [b, b[::-1]], np.hstack([cost, cost[:, ::-1]]), notes=Notes()
        )
        m = b.shape[0]
        np.testing.assert_array_equal(plans[:, :m], expected)
        np.testing.assert_array_equal(
            plans[:, m:], ot.emd(a, b[::-1], cost[:, ::-1].copy())
        )


@pytest.mark.parametrize(
    ("n", "m"), [(1, 1), (1, 7), (7, 1), (2, 2), (30, 1), (1, 30), (30, 30)]
)
@pytest.mark.parametrize("zeros", ["a", "b", "both", "none"])
def test_edge_shapes(n, m, zeros, global_random_seed):
    rng = np.random.RandomState(global_random_seed)
    for _ in range(20):
        a, b, cost = tie_problem(rng, n, m, zeros)
        expected, log = ot.emd(a, b, cost, log=True)
        result = solve_exact(a, b, cost)
        np.testing.assert_array_equal(result.plan, expected)
        np.testing.assert_array_equal(exact_plan(a, b, cost, notes=Notes()), expected)
        np.testing.assert_array_equal(result.u, log["u"])
        np.testing.assert_array_equal(result.v, log["v"])
        assert result.cost == log["cost"]
        assert result.status == OPTIMAL == log["result_code"]


@settings(max_examples=200, deadline=None, database=None)
@given(
    n=st.integers(1, 12),
    m=st.integers(1, 12),
    data=st.data(),
)
def test_hypothesis_ties_and_zero_weights(n, m, data):
    levels = data.draw(st.integers(0, 3))
    cost = np.array(
        data.draw(st.lists(st.integers(0, levels), min_size=n * m, max_size=n * m)),
        dtype=float,
    ).reshape(n, m)

    def weights(k):
        w = data.draw(st.lists(st.integers(0, 3), min_size=k, max_size=k).filter(any))
        w = np.array(w, dtype=float)
        return w / w.sum()

    a, b = weights(n), weights(m)
    expected, log = ot.emd(a, b, cost, log=True)
    result = solve_exact(a, b, cost)
    np.testing.assert_array_equal(result.plan, expected)
    np.testing.assert_array_equal(exact_plan(a, b, cost, notes=Notes()), expected)
    np.testing.assert_array_equal(exact_plans(a, [b], cost, notes=Notes()), expected)
    np.testing.assert_array_equal(result.u, log["u"])
    np.testing.assert_array_equal(result.v, log["v"])
    assert result.cost == log["cost"]
    plan, info = pot_emd(a, b, cost, log=True, notes=Notes())
    np.testing.assert_array_equal(plan, expected)
    assert list(info) == list(log)


def test_zero_weight_filtering_matches_pot_emd(tie_problems):
    """Catch a POT release that changes how ``ot.emd`` prepares the problem.

    ``solve_exact`` copies POT 0.9.7's ``ot.emd``: ``b * a.sum() / b.sum()``,
    rows with ``a == 0`` and columns with ``b == 0`` left out, the plan and
    potentials put back with zeros there. If this fails after a POT upgrade,
    update ``solve_exact`` to the new preparation (or pin POT).
    """
    emd_c = transport._emd_c()
    if emd_c is None:  # pragma: no cover - other POT versions
        pytest.skip("POT's compiled emd_c is not available")
    for a, b, cost in tie_problems[:500]:
        scaled = b * a.sum() / b.sum()
        rows, cols = np.flatnonzero(a != 0), np.flatnonzero(scaled != 0)
        sub = np.ascontiguousarray(cost[np.ix_(rows, cols)])
        plan = np.zeros(cost.shape)
        plan[np.ix_(rows, cols)] = emd_c(a[rows], scaled[cols], sub, 100000, 1)[0]
        np.testing.assert_array_equal(plan, ot.emd(a, b, cost))


def test_plans_are_ot_emds_beyond_ties(global_random_seed):
    """Random real costs and weights, including b's total off by 1e-9."""
    rng = np.random.RandomState(global_random_seed)
    for _ in range(50):
        n, m = rng.randint(1, 40, size=2)
        a, b = rng.rand(n), rng.rand(m) * (1.0 + 1e-9)
        a /= a.sum()
        b /= b.sum() / (1.0 + 1e-9)
        cost = rng.standard_normal((n, m)) * 10.0 ** rng.randint(-6, 6)
        expected, log = ot.emd(a, b, cost, log=True)
        result = solve_exact(a, b, cost)
        np.testing.assert_array_equal(result.plan, expected)
        np.testing.assert_array_equal(result.u, log["u"])
        np.testing.assert_array_equal(result.v, log["v"])
        assert result.cost == log["cost"]


# ------------------------------------------------------------------ duals, logs


def test_duals_are_ot_emds(tie_problems):
    rng = np.random.RandomState(1)
    for a, b, cost in tie_problems[:1000]:
        cost = cost + rng.rand(*cost.shape) * rng.randint(2)
        _, log = ot.emd(a, b, cost, log=True)
        result = solve_exact(a, b, cost)
        np.testing.assert_array_equal(result.u, log["u"])
        np.testing.assert_array_equal(result.v, log["v"])
        assert result.cost == log["cost"]
        assert result.message is log["warning"] is None


def test_pot_emd_returns_what_pot_returns(tie_problems):
    for a, b, cost in tie_problems[:500]:
        for plan, solve in ((True, ot.emd), (False, ot.emd2)):
            expected, log = solve(a, b, cost, log=True)
            value, info = pot_emd(a, b, cost, plan=plan, log=True, notes=Notes())
            assert type(value) is type(expected)
            np.testing.assert_array_equal(value, expected)
            assert list(info) == list(log)
            for key in log:
                assert type(info[key]) is type(log[key]), key
                np.testing.assert_array_equal(info[key], log[key])
            assert type(pot_emd(a, b, cost, plan=plan, notes=Notes())) is type(expected)


@pytest.mark.parametrize(
    "convert",
    [
        lambda a, b, c: (a.tolist(), b.tolist(), c.tolist()),
        lambda a, b, c: (a.astype(np.float32), b, c),
        lambda a, b, c: (a, b, c.astype(np.float32)),
        lambda a, b, c: (np.asfortranarray(a), b, np.asfortranarray(c)),
        lambda a, b, c: (a[::-1].copy()[::-1], b, c[:, ::-1].copy()[:, ::-1]),
    ],
)
def test_pot_emd_on_other_inputs(convert, rng):
    a, b, cost = tie_problem(rng, 6, 5, "both")
    args = convert(a, b, cost)
    for plan, solve in ((True, ot.emd), (False, ot.emd2)):
        expected, log = solve(*args, log=True)
        value, info = pot_emd(*args, plan=plan, log=True, notes=Notes())
        assert type(value) is type(expected)
        np.testing.assert_array_equal(value, expected)
        assert getattr(value, "dtype", None) == getattr(expected, "dtype", None)
        for key in log:
            np.testing.assert_array_equal(info[key], log[key])


def test_pot_emd_raises_as_pot_on_unequal_totals():
    a, b, cost = np.array([0.5, 0.5]), np.array([0.5, 0.6]), np.eye(2)
    with pytest.raises(AssertionError, match="same sum"):
        ot.emd(a, b, cost)
    with pytest.raises(AssertionError, match="same sum"):
        pot_emd(a, b, cost, notes=Notes())


def test_exact_duals_are_ot_emds_u(tie_problems):
    rng = np.random.RandomState(2)
    for a, b, cost in tie_problems[:300]:
        # max |cost| in [0.5, 1): exact_duals' power-of-two scaling is 1.
        cost = (cost + rng.rand(*cost.shape)) / (cost.max() + 1.0)
        cost.flat[0] = 0.75
        np.testing.assert_array_equal(
            exact_duals(a, b, cost, notes=Notes()), ot.emd(a, b, cost, log=True)[1]["u"]
        )
        scaled = cost * 2.0**-40
        np.testing.assert_allclose(
            exact_duals(a, b, scaled, notes=Notes()) * 2.0**40,
            ot.emd(a, b, cost, log=True)[1]["u"],
            rtol=0,
            atol=1e-12,
        )


def test_exact_start_uses_the_solvers_potentials(tie_problems):
    for a, b, cost in tie_problems[:200]:
        f, g, start = transport._exact_start(a, b, cost, 0.1)
        result = solve_exact(a, b, cost)
        np.testing.assert_array_equal(f, np.where(a > 0, result.potentials[0], -np.inf))
        np.testing.assert_array_equal(g, result.potentials[1])
        assert start == min(np.ptp(cost) / 2.0, 0.1)
        support = result.plan > 0
        gap = (cost - f[:, None] - g[None, :])[support]
        np.testing.assert_allclose(gap, 0.0, atol=1e-12)


def test_inputs_are_not_modified(tie_problems):
    for a, b, cost in tie_problems[:100]:
        copies = [x.copy() for x in (a, b, cost)]
        result = solve_exact(a, b, cost)
        result.u  # noqa: B018 - the duals are computed on first use
        exact_plans(a, [b, b], np.hstack([cost, cost]), notes=Notes())
        pot_emd(a, b, cost, log=True, notes=Notes())
        exact_duals(a, b, cost, notes=Notes())
        for x, y in zip((a, b, cost), copies, strict=True):
            np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------ statuses


def _hard_problem(rng):
    """20 x 20, zero weights, ties broken: the simplex needs many pivots."""
    a, b, cost = tie_problem(rng, 20, 20, "both")
    return a, b, cost + rng.rand(20, 20)


def _tiny_limits(monkeypatch, retries):
    """Limits 1, 10, ..., 10**retries."""
    monkeypatch.setattr(transport, "EMD_MAX_ITER", 1)
    monkeypatch.setattr(transport, "EMD_ITER_PER_ENTRY", 0)
    monkeypatch.setattr(transport, "EMD_RETRIES", retries)


def test_status_at_a_tiny_limit(rng):
    a, b, cost = _hard_problem(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the solver never warns
        result = solve_exact(a, b, cost, num_iter_max=1)
    assert result.status == MAX_ITER_REACHED and not result.optimal
    assert result.limit == 1
    assert result.message.startswith("numItermax reached")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected, log = ot.emd(a, b, cost, numItermax=1, log=True)
    np.testing.assert_array_equal(result.plan, expected)
    assert result.cost == log["cost"]
    assert result.status == log["result_code"]
    assert result.message == log["warning"]
    np.testing.assert_array_equal(result.u, log["u"])


def test_status_with_growing_limits(rng, monkeypatch):
    a, b, cost = _hard_problem(rng)
    _tiny_limits(monkeypatch, retries=0)
    stopped = solve_exact(a, b, cost)
    assert stopped.status == MAX_ITER_REACHED and stopped.limit == 1
    _tiny_limits(monkeypatch, retries=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solved = solve_exact(a, b, cost)
    assert solved.status == OPTIMAL and 1 < solved.limit <= 10**6
    np.testing.assert_array_equal(solved.plan, ot.emd(a, b, cost))
    # A fixed limit is one run, without growth.
    assert solve_exact(a, b, cost, num_iter_max=1).limit == 1


def test_no_mass_is_infeasible_without_crashing():
    """POT 0.9.7's solver crashes on the empty problem left without any mass."""
    cost = np.ones((3, 2))
    for a, b in (
        (np.zeros(3), np.array([0.5, 0.5])),
        (np.zeros(3), np.zeros(2)),
        (np.array([0.5, 0.5, 0.0]), np.zeros(2)),
    ):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            result = solve_exact(a, b, cost)
        assert result.status == INFEASIBLE
        np.testing.assert_array_equal(result.plan, np.zeros((3, 2)))
        notes = Notes()
        with np.errstate(all="ignore"):
            plan = exact_plan(a, b, cost, notes=notes)
        np.testing.assert_array_equal(plan, np.zeros((3, 2)))
        [(kind, (message, _, category))] = notes.items()
        assert kind == "emd status" and category == "user"
        assert "Problem infeasible" in message


def test_wrappers_note_the_status(rng, monkeypatch):
    a, b, cost = _hard_problem(rng)
    _tiny_limits(monkeypatch, retries=0)
    match = "stopped at its limit of 1 iterations"
    for solve in (
        lambda notes: exact_plan(a, b, cost, notes=notes),
        lambda notes: exact_plans(a, [b], cost, notes=notes),
        lambda notes: exact_duals(a, b, cost, notes=notes),
        lambda notes: pot_emd(a, b, cost, notes=notes),
    ):
        notes = Notes()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the engine never warns
            solve(notes)
        [(kind, (message, count, _))] = notes.items()
        assert kind == "emd" and count == 1 and match in message
    notes = Notes()
    exact_plan(a, b, cost, num_iter_max=1, notes=notes)
    assert "numItermax=1" in notes.items()[0][1][0]


# ------------------------------------------------------------------ fallback


def _raising_emd_c(*args):
    raise TypeError("emd_c() takes a different signature")


@pytest.mark.parametrize("replacement", [None, _raising_emd_c])
def test_fallback_on_ot_emd_gives_the_same_results(
    tie_problems, monkeypatch, replacement
):
    expected = [solve_exact(a, b, cost) for a, b, cost in tie_problems[:300]]
    monkeypatch.setattr(transport, "_emd_c", lambda: replacement)
    for (a, b, cost), direct in zip(tie_problems[:300], expected, strict=True):
        result = solve_exact(a, b, cost)
        np.testing.assert_array_equal(result.plan, direct.plan)
        np.testing.assert_array_equal(result.u, direct.u)
        np.testing.assert_array_equal(result.v, direct.v)
        assert result.cost == direct.cost
        assert result.status == OPTIMAL
        np.testing.assert_array_equal(
            exact_plan(a, b, cost, notes=Notes()), direct.plan
        )
        np.testing.assert_array_equal(
            exact_plans(a, [b], cost, notes=Notes()), direct.plan
        )
    a, b, cost = tie_problems[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stopped = solve_exact(a, b, cost + 0.5, num_iter_max=1)
    if stopped.status != OPTIMAL:
        assert stopped.status == MAX_ITER_REACHED and stopped.limit == 1


# ---------------------------------------------- functional layer, estimators


def _integer_mixture(rng, k, d, zeros):
    """Integer means and identity covariances: costs are exact small integers.

    Repeated means give exactly tied costs, in skgmmot and in POT alike.
    """
    means = rng.randint(0, 3, size=(k, d)).astype(float)
    covs = np.tile(np.eye(d), (k, 1, 1))
    w = rng.randint(0 if zeros else 1, 4, size=k).astype(float)
    if not w.any():
        w[0] = 1.0
    return means, covs, w / w.sum()


def test_functional_layer_is_pots(global_random_seed):
    rng = np.random.RandomState(global_random_seed)
    for _ in range(100):
        d = rng.randint(1, 4)
        m_s, C_s, w_s = _integer_mixture(rng, rng.randint(1, 12), d, True)
        m_t, C_t, w_t = _integer_mixture(rng, rng.randint(1, 12), d, True)
        cost = dist_bures_squared(m_s, m_t, C_s, C_t)
        np.testing.assert_array_equal(
            cost, ot.gmm.dist_bures_squared(m_s, m_t, C_s, C_t)
        )
        expected = ot.gmm.gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
        np.testing.assert_array_equal(
            gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t), expected
        )
        np.testing.assert_array_equal(expected, ot.emd(w_s, w_t, cost))
        assert gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t) == ot.gmm.gmm_ot_loss(
            m_s, m_t, C_s, C_t, w_s, w_t
        )


def test_estimators_and_pairwise_plans_are_ot_emds(global_random_seed):
    rng = np.random.RandomState(global_random_seed)
    for _ in range(10):
        d = rng.randint(1, 3)
        source = _integer_mixture(rng, rng.randint(2, 8), d, True)
        target = _integer_mixture(rng, rng.randint(2, 8), d, True)
        cost = dist_bures_squared(source[0], target[0], source[1], target[1])
        expected = ot.emd(source[2], target[2], cost)
        flow = GMMOTFlow(target=target, method="geodesic", n_steps=2).fit(source)
        np.testing.assert_array_equal(flow.plan_, expected)

        distances = pairwise_gmm_ot_distances([source, target], squared=True)
        assert distances[0, 1] == np.sum(expected * cost)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bary = GMMOTBarycenter(
                3, init=_integer_mixture(rng, 3, d, True), max_iter=3
            ).fit([source, target])
        for plan, (m, C, w) in zip(bary.plans_, bary.mixtures_, strict=True):
            final = dist_bures_squared(bary.means_, m, bary.covariances_, C)
            np.testing.assert_array_equal(plan, ot.emd(bary.weights_, w, final))
