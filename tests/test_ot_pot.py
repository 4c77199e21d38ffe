"""Parity of the functional layer :mod:`skgmmot.ot` with POT 0.9.7's ``ot.gmm``.

Every public function is run on seeded random problems and compared with POT's
function of the same name to 1e-9 relative (API.md: "Results agree with POT
0.9.x to 1e-9 relative wherever POT is correct"). Where an entry can be close
to zero through cancellation (costs of nearly identical components, mapped
coordinates near the origin, dual potentials), a small absolute tolerance
proportional to the scale of the compared values is added.

POT's Gaussian barycenter stops on an absolute threshold of 1e-7 by default,
which is far from converged; the barycenter tests monkeypatch it to a
converged one (eps=1e-13, num_iter=20000) before comparing.
"""

import functools

import numpy as np
import ot
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skgmmot import (
    bures_wasserstein_barycenter,
    dist_bures_squared,
    gmm_barycenter_fixed_point,
    gmm_ot_apply_map,
    gmm_ot_loss,
    gmm_ot_plan,
    gmm_pdf,
)

RTOL = 1e-9
#: Absolute tolerance, as a fraction of the largest magnitude compared.
ATOL_SCALE = 1e-12

DIMS = [1, 2, 3, 5, 10]
#: (k_s, k_t): single components, one-to-many, many-to-one, unequal sizes.
SIZES = [(1, 1), (1, 4), (3, 1), (2, 5), (6, 3)]

#: Gaussian barycenter tolerance used to make POT's inner fixed point converged.
POT_EPS = 1e-13
POT_NUM_ITER = 20000


def assert_close(actual, desired, scale=None):
    """``assert_allclose`` at RTOL plus an absolute floor relative to ``scale``."""
    desired = np.asarray(desired)
    if scale is None:
        scale = np.max(np.abs(desired)) if desired.size else 0.0
    assert_allclose(actual, desired, rtol=RTOL, atol=ATOL_SCALE * scale)


def _points_near(rng, means, covs, n):
    """``n`` points drawn from the components (equal chances), so that every
    component has a non-negligible posterior somewhere."""
    k, d = means.shape
    comp = rng.randint(k, size=n)
    chol = np.linalg.cholesky(covs)
    z = rng.randn(n, d)
    return means[comp] + 1.5 * np.einsum("nab,nb->na", chol[comp], z)


def _north_west_corner(a, b):
    """A sparse coupling of the weight vectors ``a`` and ``b``."""
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    plan = np.zeros((a.size, b.size))
    i = j = 0
    while i < a.size and j < b.size:
        mass = min(a[i], b[j])
        plan[i, j] = mass
        a[i] -= mass
        b[j] -= mass
        if a[i] <= b[j]:
            i += 1
        else:
            j += 1
    return plan


@pytest.fixture
def converged_pot_barycenter(monkeypatch):
    """Make ``ot.gmm`` use a converged Gaussian barycenter."""
    monkeypatch.setattr(
        ot.gmm,
        "bures_wasserstein_barycenter",
        functools.partial(
            ot.gaussian.bures_wasserstein_barycenter,
            eps=POT_EPS,
            num_iter=POT_NUM_ITER,
        ),
    )


# --------------------------------------------------------------------------
# Costs, loss and plan
# --------------------------------------------------------------------------


@pytest.mark.parametrize("k_s, k_t", SIZES)
@pytest.mark.parametrize("d", DIMS)
def test_dist_bures_squared_matches_pot(gmm_factory, d, k_s, k_t):
    m_s, C_s, _ = gmm_factory(k_s, d)
    m_t, C_t, _ = gmm_factory(k_t, d)
    dist = dist_bures_squared(m_s, m_t, C_s, C_t)
    expected = ot.gmm.dist_bures_squared(m_s, m_t, C_s, C_t)
    assert dist.shape == (k_s, k_t)
    assert_close(dist, expected)


@pytest.mark.parametrize("d", DIMS)
def test_dist_bures_squared_near_zero_costs_match_pot(gmm_factory, rng, d):
    # Target components are the source ones, slightly moved: the costs on the
    # diagonal are ~1e-10 and come out of a cancellation between traces of
    # order 1, so they are compared with an absolute floor.
    m_s, C_s, _ = gmm_factory(4, d)
    m_t = m_s + 1e-5 * rng.randn(*m_s.shape)
    C_t = C_s * (1.0 + 1e-6)
    dist = dist_bures_squared(m_s, m_t, C_s, C_t)
    expected = ot.gmm.dist_bures_squared(m_s, m_t, C_s, C_t)
    scale = np.max(np.trace(C_s, axis1=1, axis2=2)) + np.max(expected)
    assert_close(dist, expected, scale=scale)
    # The diagonal really is the tiny part of the matrix.
    assert np.all(np.diag(dist) < 1e-6 * scale)


@pytest.mark.parametrize("k_s, k_t", SIZES)
@pytest.mark.parametrize("d", DIMS)
def test_gmm_ot_loss_matches_pot(gmm_factory, d, k_s, k_t):
    m_s, C_s, w_s = gmm_factory(k_s, d)
    m_t, C_t, w_t = gmm_factory(k_t, d)
    loss = gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    expected = ot.gmm.gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    assert np.ndim(loss) == 0
    assert_close(loss, expected)

    loss_log, log = gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t, log=True)
    expected_log, pot_log = ot.gmm.gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t, log=True)
    assert_close(loss_log, expected_log)
    assert set(log) == set(pot_log)
    assert_close(log["cost"], pot_log["cost"])
    # Dual potentials: entries may be near zero after centring.
    cost_scale = np.max(ot.gmm.dist_bures_squared(m_s, m_t, C_s, C_t))
    assert_close(log["u"], pot_log["u"], scale=cost_scale)
    assert_close(log["v"], pot_log["v"], scale=cost_scale)
    assert log["warning"] == pot_log["warning"]
    assert log["result_code"] == pot_log["result_code"]


@pytest.mark.parametrize("k_s, k_t", SIZES)
@pytest.mark.parametrize("d", DIMS)
def test_gmm_ot_plan_matches_pot(gmm_factory, d, k_s, k_t):
    m_s, C_s, w_s = gmm_factory(k_s, d)
    m_t, C_t, w_t = gmm_factory(k_t, d)
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    expected = ot.gmm.gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    assert plan.shape == (k_s, k_t)
    assert_close(plan, expected, scale=1.0)
    # Marginals are the component weights.
    assert_allclose(plan.sum(axis=1), w_s, rtol=0, atol=1e-12)
    assert_allclose(plan.sum(axis=0), w_t, rtol=0, atol=1e-12)
    assert np.all(plan >= 0)

    plan_log, log = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t, log=True)
    expected_log, pot_log = ot.gmm.gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t, log=True)
    assert_close(plan_log, expected_log, scale=1.0)
    assert set(log) == set(pot_log)
    assert_close(log["cost"], pot_log["cost"])
    cost_scale = np.max(ot.gmm.dist_bures_squared(m_s, m_t, C_s, C_t))
    assert_close(log["u"], pot_log["u"], scale=cost_scale)
    assert_close(log["v"], pot_log["v"], scale=cost_scale)
    assert log["result_code"] == pot_log["result_code"]
    # The cost of the plan is the loss.
    cost = dist_bures_squared(m_s, m_t, C_s, C_t)
    assert_close(np.sum(plan * cost), gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t))


@pytest.mark.parametrize("d", DIMS)
def test_single_component_loss_is_bures_wasserstein(gmm_factory, d):
    m_s, C_s, w_s = gmm_factory(1, d)
    m_t, C_t, w_t = gmm_factory(1, d)
    closed_form = (
        ot.gaussian.bures_wasserstein_distance(m_s[0], m_t[0], C_s[0], C_t[0]) ** 2
    )
    assert_close(gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t), closed_form)
    assert_close(dist_bures_squared(m_s, m_t, C_s, C_t), [[closed_form]])
    assert_array_equal(gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t), [[1.0]])


# --------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------

#: POT's maps exponentiate differences of log-densities and overflow (harmlessly
#: here, the overflowing terms end up divided by infinity) for points far in the
#: tails of a component; that is POT's warning, not skgmmot's.
pot_overflow = pytest.mark.filterwarnings(
    "ignore:overflow encountered in exp:RuntimeWarning"
)


@pot_overflow
@pytest.mark.parametrize("k_s, k_t", SIZES)
@pytest.mark.parametrize("d", DIMS)
def test_gmm_ot_apply_map_bary_matches_pot(gmm_factory, rng, d, k_s, k_t):
    m_s, C_s, w_s = gmm_factory(k_s, d)
    m_t, C_t, w_t = gmm_factory(k_t, d)
    x = _points_near(rng, m_s, C_s, 30)
    out = gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t)
    expected = ot.gmm.gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t)
    assert out.shape == x.shape
    assert_close(out, expected)
    # "bary" is the default method.
    assert_close(
        gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t, method="bary"), expected
    )


@pot_overflow
@pytest.mark.parametrize("seed", [0, 7, 12345])
@pytest.mark.parametrize("k_s, k_t", SIZES)
@pytest.mark.parametrize("d", DIMS)
def test_gmm_ot_apply_map_rand_matches_pot_draws(gmm_factory, rng, d, k_s, k_t, seed):
    m_s, C_s, w_s = gmm_factory(k_s, d)
    m_t, C_t, w_t = gmm_factory(k_t, d)
    x = _points_near(rng, m_s, C_s, 30)
    out = gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t, method="rand", seed=seed)
    expected = ot.gmm.gmm_ot_apply_map(
        x, m_s, m_t, C_s, C_t, w_s, w_t, method="rand", seed=seed
    )
    assert_close(out, expected)
    # The same seed gives the same draws again.
    again = gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t, method="rand", seed=seed)
    assert_array_equal(out, again)


@pot_overflow
@pytest.mark.parametrize("method", ["bary", "rand"])
@pytest.mark.parametrize("d", DIMS)
def test_gmm_ot_apply_map_user_plan_matches_pot(gmm_factory, rng, d, method):
    m_s, C_s, w_s = gmm_factory(3, d)
    m_t, C_t, w_t = gmm_factory(4, d)
    # Couplings of w_s and w_t other than the default (optimal) plan: the
    # independent one (12 positive entries, where an optimal plan has at most
    # k_s + k_t - 1 = 6), and a sparse one (north-west corner rule).
    x = _points_near(rng, m_s, C_s, 25)
    outputs = []
    for plan in (np.outer(w_s, w_t), _north_west_corner(w_s, w_t)):
        out = gmm_ot_apply_map(
            x, m_s, m_t, C_s, C_t, w_s, w_t, plan=plan, method=method, seed=3
        )
        expected = ot.gmm.gmm_ot_apply_map(
            x, m_s, m_t, C_s, C_t, w_s, w_t, plan=plan, method=method, seed=3
        )
        assert_close(out, expected)
        outputs.append(out)
    # The user's plan is used: the independent coupling changes the result.
    default = gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t, method=method, seed=3)
    assert not np.allclose(default, outputs[0])


@pot_overflow
@pytest.mark.parametrize("seed", [0, 42])
def test_gmm_ot_apply_map_rand_random_state_matches_int_seed(gmm_factory, rng, seed):
    # POT draws with ``np.random.RandomState(seed)``; a RandomState built from
    # the same integer gives the same draws.
    m_s, C_s, w_s = gmm_factory(3, 2)
    m_t, C_t, w_t = gmm_factory(4, 2)
    x = _points_near(rng, m_s, C_s, 40)
    expected = ot.gmm.gmm_ot_apply_map(
        x, m_s, m_t, C_s, C_t, w_s, w_t, method="rand", seed=seed
    )
    out = gmm_ot_apply_map(
        x,
        m_s,
        m_t,
        C_s,
        C_t,
        w_s,
        w_t,
        method="rand",
        seed=np.random.RandomState(seed),
    )
    assert_close(out, expected)


# --------------------------------------------------------------------------
# Density
# --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("d", DIMS)
def test_gmm_pdf_matches_pot(gmm_factory, rng, d, k):
    m, C, w = gmm_factory(k, d)
    x = _points_near(rng, m, C, 20)
    pdf = gmm_pdf(x, m, C, w)
    expected = ot.gmm.gmm_pdf(x, m, C, w)
    assert pdf.shape == (20,)
    assert np.all(expected > 0)
    assert_allclose(pdf, expected, rtol=RTOL)

    # Points of shape (..., d).
    grid = _points_near(rng, m, C, 20).reshape(4, 5, d)
    pdf_grid = gmm_pdf(grid, m, C, w)
    expected_grid = ot.gmm.gmm_pdf(grid, m, C, w)
    assert pdf_grid.shape == (4, 5)
    assert_allclose(pdf_grid, expected_grid, rtol=RTOL)
    assert_allclose(pdf_grid.ravel(), gmm_pdf(grid.reshape(20, d), m, C, w), rtol=0)


# --------------------------------------------------------------------------
# Barycenters
# --------------------------------------------------------------------------


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("d", DIMS)
def test_bures_wasserstein_barycenter_matches_pot(rng, spd_factory, d, k, uniform):
    m = rng.randn(k, d)
    C = spd_factory(k, d)
    if uniform:
        weights = None
    else:
        weights = rng.rand(k) + 0.1
        weights /= weights.sum()
    mb, Cb = bures_wasserstein_barycenter(m, C, weights, eps=POT_EPS)
    pot_mb, pot_Cb = ot.gaussian.bures_wasserstein_barycenter(
        m, C, weights, eps=POT_EPS, num_iter=POT_NUM_ITER
    )
    assert mb.shape == (d,)
    assert Cb.shape == (d, d)
    assert_close(mb, pot_mb, scale=np.max(np.abs(m)))
    assert_close(Cb, pot_Cb)

    mb_log, Cb_log, log = bures_wasserstein_barycenter(
        m, C, weights, eps=POT_EPS, log=True
    )
    assert_array_equal(mb_log, mb)
    assert_array_equal(Cb_log, Cb)
    assert set(log) == {"num_iter", "final_diff"}
    assert 1 <= log["num_iter"] <= 1000
    assert log["final_diff"] <= POT_EPS


# (means_list sizes, barycenter size n): K=2 and K=3 inputs, single-component
# inputs, a single-component barycenter, unequal sizes.
BARYCENTER_CASES = [((3, 4), 3), ((1, 2, 5), 2), ((2, 2), 1)]


def _barycenter_problem(gmm_factory, rng, d, sizes, n):
    mixtures = [gmm_factory(k, d) for k in sizes]
    means_list = [mix[0] for mix in mixtures]
    covs_list = [mix[1] for mix in mixtures]
    w_list = [mix[2] for mix in mixtures]
    means_init, covs_init, _ = gmm_factory(n, d)
    weights = rng.rand(len(sizes)) + 0.1
    weights /= weights.sum()
    return means_list, covs_list, w_list, means_init, covs_init, weights


#: skgmmot's projection that computes what POT's does (POT's "bures" is the
#: two-stage update).
POT_PROJECTION = {"euclidean": "euclidean", "bures_two_stage": "bures"}


@pytest.mark.parametrize("method", ["euclidean", "bures_two_stage"])
@pytest.mark.parametrize("sizes, n", BARYCENTER_CASES)
@pytest.mark.parametrize("d", DIMS)
def test_gmm_barycenter_fixed_point_matches_pot(
    gmm_factory, rng, converged_pot_barycenter, d, sizes, n, method
):
    means_list, covs_list, w_list, means_init, covs_init, weights = _barycenter_problem(
        gmm_factory, rng, d, sizes, n
    )
    iterations = 3
    means, covs, log = gmm_barycenter_fixed_point(
        means_list,
        covs_list,
        w_list,
        means_init,
        covs_init,
        weights,
        iterations=iterations,
        log=True,
        barycentric_proj_method=method,
    )
    # POT writes into means_init and covs_init: give it copies.
    pot_means, pot_covs, pot_log = ot.gmm.gmm_barycenter_fixed_point(
        means_list,
        covs_list,
        w_list,
        means_init.copy(),
        covs_init.copy(),
        weights,
        iterations=iterations,
        log=True,
        barycentric_proj_method=POT_PROJECTION[method],
    )
    assert means.shape == (n, d)
    assert covs.shape == (n, d, d)
    assert_close(means, pot_means)
    assert_close(covs, pot_covs)
    assert set(log) == set(pot_log) == {"means_its", "covs_its"}
    assert len(log["means_its"]) == len(pot_log["means_its"]) == iterations + 1
    assert len(log["covs_its"]) == len(pot_log["covs_its"]) == iterations + 1
    for it in range(iterations + 1):
        assert_close(log["means_its"][it], pot_log["means_its"][it])
        assert_close(log["covs_its"][it], pot_log["covs_its"][it])
    assert_array_equal(log["means_its"][0], means_init)
    assert_array_equal(log["covs_its"][0], covs_init)
    assert_array_equal(log["means_its"][-1], means)
    assert_array_equal(log["covs_its"][-1], covs)
    # log=False gives the same result.
    means_nolog, covs_nolog = gmm_barycenter_fixed_point(
        means_list,
        covs_list,
        w_list,
        means_init,
        covs_init,
        weights,
        iterations=iterations,
        barycentric_proj_method=method,
    )
    assert_array_equal(means_nolog, means)
    assert_array_equal(covs_nolog, covs)


@pytest.mark.parametrize("method", ["euclidean", "bures_two_stage"])
@pytest.mark.parametrize("d", [2, 5])
def test_gmm_barycenter_fixed_point_explicit_uniform_w_bar(
    gmm_factory, rng, converged_pot_barycenter, d, method
):
    means_list, covs_list, w_list, means_init, covs_init, weights = _barycenter_problem(
        gmm_factory, rng, d, (3, 4), 4
    )
    w_bar = np.full(4, 0.25)
    kwargs = {"iterations": 4, "barycentric_proj_method": method}
    args = (means_list, covs_list, w_list, means_init, covs_init, weights)
    means, covs = gmm_barycenter_fixed_point(*args, w_bar=w_bar, **kwargs)
    means_default, covs_default = gmm_barycenter_fixed_point(*args, **kwargs)
    assert_close(means, means_default)
    assert_close(covs, covs_default)
    pot_means, pot_covs = ot.gmm.gmm_barycenter_fixed_point(
        means_list,
        covs_list,
        w_list,
        means_init.copy(),
        covs_init.copy(),
        weights,
        w_bar=w_bar,
        iterations=4,
        barycentric_proj_method=POT_PROJECTION[method],
    )
    assert_close(means, pot_means)
    assert_close(covs, pot_covs)


@pytest.mark.parametrize("d", [1, 3, 5])
def test_gmm_barycenter_bures_projection_non_uniform_w_bar_matches_pot(
    gmm_factory, rng, converged_pot_barycenter, d
):
    # POT's "bures" projection (skgmmot's "bures_two_stage") divides the plan
    # rows by w_bar[i] (only its "euclidean" projection multiplies by n), so it
    # is correct for any w_bar.
    means_list, covs_list, w_list, means_init, covs_init, weights = _barycenter_problem(
        gmm_factory, rng, d, (3, 4), 3
    )
    inputs = (means_list, covs_list, w_list)
    kwargs = {"w_bar": np.array([0.5, 0.3, 0.2]), "iterations": 3}
    means, covs = gmm_barycenter_fixed_point(
        *inputs,
        means_init,
        covs_init,
        weights,
        barycentric_proj_method="bures_two_stage",
        **kwargs,
    )
    pot_means, pot_covs = ot.gmm.gmm_barycenter_fixed_point(
        *inputs,
        means_init.copy(),
        covs_init.copy(),
        weights,
        barycentric_proj_method="bures",
        **kwargs,
    )
    assert_close(means, pot_means)
    assert_close(covs, pot_covs)
