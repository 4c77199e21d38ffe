"""Full parity of the functional layer with POT 0.9.7's ``ot.gmm`` (issue 15).

``tests/test_ot_pot.py`` compares the values of the core functions with POT's.
This module covers what a drop-in also needs:

- the functions POT's ``ot.gmm`` has beyond the core: ``gaussian_pdf``,
  ``gaussian_logpdf``, ``gmm_ot_plan_density`` and
  ``bures_wasserstein_mapping`` (which ``ot.gmm`` imports from
  ``ot.gaussian``), against POT and independent references;
- ``bures_wasserstein_barycenter``'s ``method`` (and POT's other options);
- the same signatures, and results of the same types and shapes, for every
  function and every ``log``;
- bad inputs raise an exception that ``except AssertionError`` (POT's) and
  ``except ValueError`` both catch, naming the mixture and the field;
- the weight policy: sums within POT's 1.5e-6 of one are accepted and divided
  by their sum.
"""

import inspect
import re
import subprocess
import sys
import warnings

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

import skgmmot
from skgmmot import (
    bures_wasserstein_barycenter,
    bures_wasserstein_mapping,
    dist_bures_squared,
    gaussian_logpdf,
    gaussian_pdf,
    gmm_barycenter_fixed_point,
    gmm_barycenter_multimarginal,
    gmm_ot_apply_map,
    gmm_ot_interpolate,
    gmm_ot_loss,
    gmm_ot_plan,
    gmm_ot_plan_density,
    gmm_pdf,
    pairwise_gmm_ot_distances,
)
from skgmmot.exceptions import InvalidInputError
from tests.conftest import make_gmm, random_spd

RTOL = 1e-9
DIMS = [1, 2, 3, 5]
#: Converged Gaussian barycenters of POT (its default eps is absolute and far
#: from converged).
POT_EPS = 1e-13
POT_NUM_ITER = 20000

PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, database=None)
seeds = st.integers(min_value=0, max_value=2**32 - 1)

#: skgmmot's functions that POT's ``ot.gmm`` has too (``ot.gmm`` imports the
#: two ``bures_wasserstein_*`` functions from ``ot.gaussian``).
POT_NAMES = sorted(name for name in skgmmot.ot.__all__ if hasattr(ot.gmm, name))


def _pair(rng, d, k_s=3, k_t=4):
    return make_gmm(rng, k_s, d), make_gmm(rng, k_t, d)


def _assert_close(actual, desired):
    desired = np.asarray(desired)
    scale = np.max(np.abs(desired)) if desired.size else 0.0
    assert_allclose(actual, desired, rtol=RTOL, atol=1e-12 * scale)


# --------------------------------------------------------------------------
# Signatures and the names POT has
# --------------------------------------------------------------------------


def test_every_function_of_pots_gmm_module_is_provided():
    pot_functions = {
        name
        for name, value in vars(ot.gmm).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }
    # POT's helpers imported into ot.gmm from elsewhere (backend, solvers).
    helpers = {"get_backend", "emd", "emd2", "dist"}
    assert pot_functions - helpers <= set(skgmmot.ot.__all__)


#: POT's arguments that skgmmot takes by keyword only: API.md keeps
#: ``num_iter`` 4th in ``bures_wasserstein_barycenter``, where POT has ``method``.
KEYWORD_ONLY = {"bures_wasserstein_barycenter": {"method", "step_size", "batch_size"}}


@pytest.mark.parametrize("name", POT_NAMES)
def test_signature_is_pots(name):
    """POT's arguments, defaults and positional order; extras keyword-only."""
    ours = inspect.signature(getattr(skgmmot, name)).parameters
    theirs = inspect.signature(getattr(ot.gmm, name)).parameters
    moved = KEYWORD_ONLY.get(name, set())
    for p in theirs.values():
        assert p.name in ours, p.name
        assert ours[p.name].default == p.default, p.name
        expected = inspect.Parameter.KEYWORD_ONLY if p.name in moved else p.kind
        assert ours[p.name].kind == expected, p.name
    positional = [p for p in theirs if p not in moved]
    assert list(ours)[: len(positional)] == positional
    for extra in set(ours) - set(theirs):
        assert ours[extra].kind == inspect.Parameter.KEYWORD_ONLY, extra


def test_method_given_in_pots_position_is_explained():
    m, C = np.zeros((2, 2)), np.array([np.eye(2), 2 * np.eye(2)])
    with pytest.raises(ValueError, match="pass the method by keyword"):
        skgmmot.bures_wasserstein_barycenter(m, C, None, "fixed_point")


# --------------------------------------------------------------------------
# Result types and shapes
# --------------------------------------------------------------------------


def _structure(obj):
    """Types, shapes and dtypes of a result, recursively (no values)."""
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.shape, obj.dtype.str)
    if isinstance(obj, np.generic):
        return (type(obj).__name__, obj.dtype.str)
    if isinstance(obj, list | tuple):
        return (type(obj).__name__, tuple(_structure(x) for x in obj))
    if isinstance(obj, dict):
        return ("dict", tuple(sorted((k, _structure(v)) for k, v in obj.items())))
    return type(obj).__name__


def _type_cases(rng):
    """(name, args, kwargs) calls to run with skgmmot and POT alike."""
    d = 3
    (m_s, C_s, w_s), (m_t, C_t, w_t) = _pair(rng, d)
    mix = (m_s, m_t, C_s, C_t, w_s, w_t)
    x = rng.randn(5, d)
    cases = []
    for shape in [(d,), (1, d), (5, d), (2, 3, d)]:
        pts = rng.randn(*shape)
        cases += [
            ("gmm_pdf", (pts, m_s, C_s, w_s), {}),
            ("gaussian_pdf", (pts, m_s[0], C_s[0]), {}),
            ("gaussian_logpdf", (pts, m_s[0], C_s[0]), {}),
        ]
    for log in (False, True):
        cases += [
            ("gmm_ot_loss", mix, {"log": log}),
            ("gmm_ot_plan", mix, {"log": log}),
            (
                "bures_wasserstein_mapping",
                (m_s[0], m_t[0], C_s[0], C_t[0]),
                {"log": log},
            ),
            ("bures_wasserstein_barycenter", (m_s, C_s, w_s), {"log": log}),
            (
                "gmm_barycenter_fixed_point",
                (
                    [m_s, m_t],
                    [C_s, C_t],
                    [w_s, w_t],
                    m_t[:2],
                    C_t[:2],
                    np.array([0.5, 0.5]),
                ),
                {"iterations": 2, "log": log},
            ),
        ]
    cases += [
        ("dist_bures_squared", mix[:4], {}),
        ("gmm_ot_apply_map", (x, *mix), {}),
        ("gmm_ot_apply_map", (x, *mix), {"method": "rand", "seed": 0}),
        ("gmm_ot_plan_density", (x, rng.randn(4, d), *mix), {}),
    ]
    return cases


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_results_have_pots_types_and_shapes(rng):
    cases = _type_cases(rng)
    assert {name for name, _, _ in cases} == set(POT_NAMES)
    for name, args, kwargs in cases:
        pot_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        ours = getattr(skgmmot, name)(*args, **kwargs)
        with np.errstate(all="ignore"):  # POT's own round-off warnings
            theirs = getattr(ot.gmm, name)(*pot_args, **kwargs)
        assert _structure(ours) == _structure(theirs), (name, kwargs)


def test_pdf_of_one_point_is_a_numpy_scalar(rng):
    m, C, w = make_gmm(rng, 3, 2)
    for value in (
        gmm_pdf(np.zeros(2), m, C, w),
        gaussian_pdf(np.zeros(2), m[0], C[0]),
        gaussian_logpdf(np.zeros(2), m[0], C[0]),
    ):
        assert type(value) is np.float64
    # and it is the entry of the (1, d) call
    assert gmm_pdf(np.zeros(2), m, C, w) == gmm_pdf(np.zeros((1, 2)), m, C, w)[0]


def test_loss_with_log_is_a_list_as_pots(rng):
    (m_s, C_s, w_s), (m_t, C_t, w_t) = _pair(rng, 2)
    out = gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t, log=True)
    assert type(out) is list
    loss, log = out  # unpacks as before
    assert loss == gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    assert set(log) == {"cost", "u", "v", "warning", "result_code"}


# --------------------------------------------------------------------------
# gaussian_pdf and gaussian_logpdf
# --------------------------------------------------------------------------


@pytest.mark.parametrize("d", DIMS)
def test_gaussian_logpdf_matches_pot_and_scipy(rng, d):
    m = 3.0 * rng.randn(d)
    C = random_spd(rng, 1, d)[0]
    chol = np.linalg.cholesky(C)
    x = m + 2.0 * rng.randn(30, d) @ chol.T
    logpdf = gaussian_logpdf(x, m, C)
    assert logpdf.shape == (30,)
    # Log-densities near their mode are O(1): an absolute floor for those
    # near zero.
    assert_allclose(logpdf, ot.gmm.gaussian_logpdf(x, m, C), rtol=RTOL, atol=1e-12)
    assert_allclose(logpdf, multivariate_normal(m, C).logpdf(x), rtol=RTOL, atol=1e-12)
    pdf = gaussian_pdf(x, m, C)
    assert_allclose(pdf, ot.gmm.gaussian_pdf(x, m, C), rtol=RTOL)
    assert_allclose(pdf, multivariate_normal(m, C).pdf(x), rtol=RTOL)
    assert_allclose(pdf, np.exp(logpdf), rtol=1e-15)
    # Points of shape (..., d) and (d,).
    grid = x.reshape(5, 6, d)
    assert_array_equal(gaussian_logpdf(grid, m, C), logpdf.reshape(5, 6))
    assert_array_equal(gaussian_pdf(grid, m, C), pdf.reshape(5, 6))
    assert gaussian_logpdf(x[3], m, C) == logpdf[3]
    assert_allclose(gaussian_pdf(x[3], m, C), ot.gmm.gaussian_pdf(x[3], m, C), RTOL)


@pytest.mark.parametrize("d", DIMS)
def test_gaussian_pdf_is_the_one_component_mixture(rng, d):
    m, C, _ = make_gmm(rng, 1, d)
    x = rng.randn(10, d)
    assert_allclose(gaussian_pdf(x, m[0], C[0]), gmm_pdf(x, m, C, [1.0]), rtol=1e-15)


def test_gaussian_logpdf_stays_finite_far_in_the_tails():
    # 1e4 standard deviations away the density underflows to zero; its
    # logarithm is an ordinary number (-5e7).
    m, C = np.zeros(2), np.diag([1.0, 4.0])
    x = np.array([[1e4, 0.0], [0.0, 2e4]])
    expected = multivariate_normal(m, C).logpdf(x)
    assert_allclose(gaussian_logpdf(x, m, C), expected, rtol=1e-14)
    assert_array_equal(gaussian_pdf(x, m, C), [0.0, 0.0])


@PROPERTY_SETTINGS
@given(seed=seeds, d=st.sampled_from(DIMS), log_scale=st.floats(-3.0, 3.0))
def test_gaussian_logpdf_property_matches_scipy(seed, d, log_scale):
    # Any scale of the data: the log-density moves by -d log(scale) and the
    # Mahalanobis distances are unchanged.
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    m = scale * rng.randn(d)
    C = scale**2 * random_spd(rng, 1, d, cond=1e4)[0]
    x = m + scale * rng.randn(8, d)
    expected = multivariate_normal(m, C).logpdf(x)
    assert_allclose(
        gaussian_logpdf(x, m, C), expected, rtol=1e-10, atol=1e-10 * (d + 10.0)
    )


# --------------------------------------------------------------------------
# bures_wasserstein_mapping
# --------------------------------------------------------------------------


@pytest.mark.parametrize("d", DIMS)
def test_bures_wasserstein_mapping_matches_pot(rng, d):
    ms, mt = 3.0 * rng.randn(2, d)
    Cs, Ct = random_spd(rng, 2, d)
    A, b = bures_wasserstein_mapping(ms, mt, Cs, Ct)
    pot_A, pot_b = ot.gaussian.bures_wasserstein_mapping(ms, mt, Cs, Ct)
    assert A.shape == (d, d) and b.shape == (d,)
    _assert_close(A, pot_A)
    _assert_close(b, pot_b)
    A_log, b_log, log = bures_wasserstein_mapping(ms, mt, Cs, Ct, log=True)
    _, _, pot_log = ot.gaussian.bures_wasserstein_mapping(ms, mt, Cs, Ct, log=True)
    assert_array_equal(A_log, A)
    assert_array_equal(b_log, b)
    assert set(log) == set(pot_log) == {"Cs12", "Cs12inv"}
    _assert_close(log["Cs12"], pot_log["Cs12"])
    _assert_close(log["Cs12inv"], pot_log["Cs12inv"])
    # The map pushes N(ms, Cs) onto N(mt, Ct).
    _assert_close(A, A.T)
    _assert_close(A @ Cs @ A, Ct)
    _assert_close(A @ ms + b, mt)
    _assert_close(log["Cs12"] @ log["Cs12"], Cs)


@pytest.mark.parametrize("d", DIMS)
def test_bures_wasserstein_mapping_is_the_map_of_gmm_ot_apply_map(rng, d):
    (m_s, C_s, _), (m_t, C_t, _) = make_gmm(rng, 1, d), make_gmm(rng, 1, d)
    A, b = bures_wasserstein_mapping(m_s[0], m_t[0], C_s[0], C_t[0])
    x = rng.randn(7, d)
    moved = gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, [1.0], [1.0])
    _assert_close(moved, x @ A + b)


# --------------------------------------------------------------------------
# gmm_ot_plan_density
# --------------------------------------------------------------------------


def _maps(m_s, m_t, C_s, C_t, plan):
    """{(i, j): (A, b)} for the pairs with plan mass, from POT."""
    return {
        (i, j): ot.gaussian.bures_wasserstein_mapping(m_s[i], m_t[j], C_s[i], C_t[j])
        for i, j in zip(*np.nonzero(plan), strict=True)
    }


def _density_points(rng, x, maps, atol):
    """Targets on, near and off the graphs of the maps, for the points ``x``.

    For every x (cycling through the pairs): its image, images moved by
    ``atol / 2`` (inside the tolerance) and by ``2 atol`` (outside) in a random
    direction, and random points.
    """
    d = x.shape[1]
    pairs = list(maps)
    images = np.array(
        [
            x[a] @ maps[pairs[a % len(pairs)]][0] + maps[pairs[a % len(pairs)]][1]
            for a in range(x.shape[0])
        ]
    )
    direction = rng.randn(*images.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return np.vstack(
        [
            images,
            images + 0.5 * atol * direction,
            images + 2.0 * atol * direction,
            3.0 * rng.randn(5, d),
        ]
    )


@pytest.mark.parametrize("atol", [1e-8, 1e-2, 0.5, 5.0])
@pytest.mark.parametrize("k_s, k_t", [(1, 1), (2, 3), (4, 2)])
@pytest.mark.parametrize("d", DIMS)
def test_gmm_ot_plan_density_matches_pot(rng, d, k_s, k_t, atol):
    (m_s, C_s, w_s), (m_t, C_t, w_t) = _pair(rng, d, k_s, k_t)
    x = m_s[rng.randint(k_s, size=8)] + rng.randn(8, d)
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    y = _density_points(rng, x, _maps(m_s, m_t, C_s, C_t, plan), atol)
    density = gmm_ot_plan_density(x, y, m_s, m_t, C_s, C_t, w_s, w_t, atol=atol)
    expected = ot.gmm.gmm_ot_plan_density(x, y, m_s, m_t, C_s, C_t, w_s, w_t, atol=atol)
    assert density.shape == (8, y.shape[0])
    # The same pairs count as on a graph, with the same values.
    assert_array_equal(density > 0, expected > 0)
    assert_allclose(density, expected, rtol=RTOL, atol=0)
    # Every x is on the graph of one of its maps (its image, and within atol / 2
    # of it), never at 2 atol from it when the maps are far apart.
    n = x.shape[0]
    assert np.all(density[np.arange(n), np.arange(n)] > 0)
    assert np.all(density[np.arange(n), n + np.arange(n)] > 0)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_gmm_ot_plan_density_user_plan_matches_pot(rng, d):
    (m_s, C_s, w_s), (m_t, C_t, w_t) = _pair(rng, d, 3, 4)
    plan = np.outer(w_s, w_t)  # every pair has mass
    x = m_s[rng.randint(3, size=6)] + rng.randn(6, d)
    y = _density_points(rng, x, _maps(m_s, m_t, C_s, C_t, plan), 0.1)
    args = (x, y, m_s, m_t, C_s, C_t, w_s, w_t)
    density = gmm_ot_plan_density(*args, plan=plan, atol=0.1)
    expected = ot.gmm.gmm_ot_plan_density(*args, plan=plan, atol=0.1)
    assert_array_equal(density > 0, expected > 0)
    assert_allclose(density, expected, rtol=RTOL)
    default = gmm_ot_plan_density(*args, atol=0.1)
    assert np.abs(density - default).max() > 1e-3 * density.max()


def test_gmm_ot_plan_density_atol_is_a_strict_euclidean_distance():
    # One Gaussian onto another in 2-D: T(x) = 2 x + (1, 0). y at distance
    # exactly 0.25 of T(x) (a binary fraction: no rounding) is not within
    # atol=0.25, but within any larger atol; the coordinates' offsets
    # (0.15, 0.2) are each below 0.25.
    m_s, C_s, w = np.zeros((1, 2)), np.eye(2)[None], np.ones(1)
    m_t, C_t = np.array([[1.0, 0.0]]), 4.0 * np.eye(2)[None]
    x = np.array([[0.5, 0.5]])
    y = np.array([[2.0, 1.0], [2.15, 1.2], [2.0, 1.25]])  # T(x) = (2, 1)
    args = (x, y, m_s, m_t, C_s, C_t, w, w)
    g = gaussian_pdf(x[0], m_s[0], C_s[0])
    assert_array_equal(gmm_ot_plan_density(*args, atol=0.25), [[g, g, 0.0]])
    assert_array_equal(gmm_ot_plan_density(*args, atol=0.2501), [[g, g, g]])
    assert_array_equal(gmm_ot_plan_density(*args, atol=0.0), [[0.0, 0.0, 0.0]])
    assert_array_equal(ot.gmm.gmm_ot_plan_density(*args, atol=0.25), [[g, g, 0.0]])


@PROPERTY_SETTINGS
@given(
    seed=seeds, d=st.sampled_from(DIMS), k_s=st.integers(1, 4), k_t=st.integers(1, 4)
)
def test_gmm_ot_plan_density_properties(seed, d, k_s, k_t):
    rng = np.random.RandomState(seed)
    (m_s, C_s, w_s), (m_t, C_t, w_t) = _pair(rng, d, k_s, k_t)
    x, y = 3.0 * rng.randn(6, d), 3.0 * rng.randn(5, d)
    args = (x, y, m_s, m_t, C_s, C_t, w_s, w_t)
    # With an infinite tolerance every y is the image of every x: the density
    # is the source density, whatever y.
    everywhere = gmm_ot_plan_density(*args, atol=np.inf)
    assert_allclose(everywhere, np.repeat(gmm_pdf(x, m_s, C_s, w_s)[:, None], 5, 1))
    assert_array_equal(gmm_ot_plan_density(*args, atol=0.0), np.zeros((6, 5)))
    # Larger tolerances count more pairs, never fewer.
    small, large = (gmm_ot_plan_density(*args, atol=a) for a in (0.5, 2.0))
    assert np.all(small <= large)
    # On the graph of one map only, the density is that pair's mass times the
    # source component's density.
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    i, j = (int(v[0]) for v in np.nonzero(plan))
    A, b = bures_wasserstein_mapping(m_s[i], m_t[j], C_s[i], C_t[j])
    on = x @ A + b
    density = gmm_ot_plan_density(x, on, *args[2:], atol=1e-9)
    own = plan[i, j] * gaussian_pdf(x, m_s[i], C_s[i])
    # (other maps pass through the same point only by coincidence: >= own)
    assert np.all(np.diag(density) >= own * (1 - 1e-12))


# --------------------------------------------------------------------------
# bures_wasserstein_barycenter: POT's methods and options
# --------------------------------------------------------------------------


@pytest.mark.parametrize("step_size", [1.0, 0.5])
@pytest.mark.parametrize("d", DIMS)
def test_gradient_descent_barycenter_matches_pot(rng, d, step_size):
    m = rng.randn(4, d)
    C = random_spd(rng, 4, d)
    w = rng.rand(4) + 0.1
    w /= w.sum()
    kwargs = {"method": "gradient_descent", "step_size": step_size}
    mb, Cb, log = bures_wasserstein_barycenter(
        m, C, w, eps=1e-13, num_iter=5000, log=True, **kwargs
    )
    pot_mb, pot_Cb = ot.gaussian.bures_wasserstein_barycenter(
        m, C, w, eps=POT_EPS, num_iter=POT_NUM_ITER, **kwargs
    )
    _assert_close(mb, pot_mb)
    assert_allclose(Cb, pot_Cb, rtol=1e-9, atol=1e-11 * np.abs(pot_Cb).max())
    assert log["final_diff"] <= 1e-13
    # The same barycenter as the default method.
    _, Cb_fixed = bures_wasserstein_barycenter(m, C, w, eps=1e-13)
    assert_allclose(Cb, Cb_fixed, rtol=1e-10, atol=1e-12 * np.abs(Cb).max())


def test_gradient_descent_with_unit_step_is_the_fixed_point(rng):
    m, C, w = make_gmm(rng, 5, 3)
    # The same iterates.
    for n in (1, 2, 5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, Cb_grad = bures_wasserstein_barycenter(
                m, C, w, n, 0.0, method="gradient_descent"
            )
            _, Cb_fixed = bures_wasserstein_barycenter(
                m, C, w, n, 0.0, method="fixed_point"
            )
        assert_allclose(
            Cb_grad, Cb_fixed, rtol=1e-12, atol=1e-13 * np.abs(Cb_fixed).max()
        )


def test_num_iter_stays_the_fourth_positional_argument(rng):
    # API.md's signature: num_iter 4th (POT has method there, by keyword here).
    m, C, w = make_gmm(rng, 3, 2)
    assert_array_equal(
        bures_wasserstein_barycenter(m, C, w, 500)[1],
        bures_wasserstein_barycenter(m, C, w, method="fixed_point")[1],
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "stochastic_gradient_descent"}, "global random state"),
        ({"method": "averaged_stochastic_gradient_descent"}, "global random state"),
        ({"method": "newton"}, "method must be 'fixed_point' or 'gradient_desc"),
        ({"method": None}, "method must be"),
        ({"batch_size": 2}, "batch_size"),
        ({"method": "gradient_descent", "step_size": 0.0}, r"step_size .* \(0, 1\]"),
        ({"method": "gradient_descent", "step_size": 1.5}, r"step_size"),
        ({"method": "gradient_descent", "step_size": np.nan}, r"step_size"),
        ({"method": "gradient_descent", "step_size": "1"}, r"step_size"),
    ],
)
def test_unsupported_barycenter_options_raise(rng, kwargs, match):
    m, C, w = make_gmm(rng, 3, 2)
    with pytest.raises(ValueError, match=match):
        bures_wasserstein_barycenter(m, C, w, **kwargs)


def test_step_size_is_ignored_by_the_fixed_point_as_in_pot(rng):
    m, C, w = make_gmm(rng, 3, 2)
    assert_array_equal(
        bures_wasserstein_barycenter(m, C, w, step_size=7.0)[1],
        bures_wasserstein_barycenter(m, C, w)[1],
    )


def test_gradient_descent_needs_positive_definite_covariances(rng):
    m = rng.randn(3, 3)
    C = random_spd(rng, 3, 3, rank=2)
    bures_wasserstein_barycenter(m, C)  # the fixed point accepts them
    with pytest.raises(ValueError, match=r"covariances C.*gradient_descent"):
        bures_wasserstein_barycenter(m, C, method="gradient_descent")


# --------------------------------------------------------------------------
# Bad inputs: AssertionError (POT's) and ValueError alike
# --------------------------------------------------------------------------


def _bad_calls(rng):
    """{function name: (call, name parts)}: one malformed input per function."""
    d = 3
    (m_s, C_s, w_s), (m_t, C_t, w_t) = _pair(rng, d)
    x = rng.randn(4, d)
    mix = (m_s, m_t, C_s, C_t, w_s, w_t)
    return {
        "dist_bures_squared": (
            lambda: dist_bures_squared(m_s[:, 1:], m_t, C_s, C_t),
            ("source mixture", "C_s", "m_s"),
        ),
        "gmm_ot_loss": (
            lambda: gmm_ot_loss(m_s, m_t, C_s, C_t, w_s[1:], w_t),
            ("source mixture", "w_s"),
        ),
        "gmm_ot_plan": (
            lambda: gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t[1:]),
            ("target mixture", "w_t"),
        ),
        "gmm_ot_apply_map": (
            lambda: gmm_ot_apply_map(x, m_s, m_t, C_s, C_t[:, :2, :2], w_s, w_t),
            ("target mixture", "C_t"),
        ),
        "gmm_ot_plan_density": (
            lambda: gmm_ot_plan_density(x, x, m_s, m_t, C_s, C_t, 2 * w_s, w_t),
            ("source mixture", "w_s"),
        ),
        "gmm_pdf": (
            lambda: gmm_pdf(x, m_s, C_s[1:], w_s),
            ("mixture", "C", "m"),
        ),
        "gaussian_pdf": (
            lambda: gaussian_pdf(x, m_s[0], C_s[0, :2]),
            ("Gaussian", "C"),
        ),
        "gaussian_logpdf": (
            lambda: gaussian_logpdf(x, m_s[0, :2], C_s[0]),
            ("Gaussian", "C", "m"),
        ),
        "bures_wasserstein_mapping": (
            lambda: bures_wasserstein_mapping(m_s[0], m_t[0], C_s[0], -C_t[0]),
            ("target Gaussian", "Ct"),
        ),
        "bures_wasserstein_barycenter": (
            lambda: bures_wasserstein_barycenter(m_s, C_s[:2]),
            ("Gaussians", "C", "m"),
        ),
        "gmm_barycenter_fixed_point": (
            lambda: gmm_barycenter_fixed_point(
                [m_s, m_t], [C_s, C_t], [w_s, w_s], m_s, C_s, [0.5, 0.5]
            ),
            ("input mixture 1", "w_list[1]"),
        ),
        "gmm_barycenter_multimarginal": (
            lambda: gmm_barycenter_multimarginal(
                [m_s, m_t], [C_s, C_t], [w_s, np.abs(w_t) * 2]
            ),
            ("input mixture 1", "w_list[1]"),
        ),
        "gmm_ot_interpolate": (
            lambda: gmm_ot_interpolate(mix[::2], (m_t, C_t, w_t[::-1][:2]), 0.5),
            ("target mixture", "weights"),
        ),
        "pairwise_gmm_ot_distances": (
            lambda: pairwise_gmm_ot_distances([mix[::2], (m_t, np.nan * C_t, w_t)]),
            ("mixtures[1]", "covariances"),
        ),
    }


def _names(*parts):
    return "(?s)" + "".join(rf"(?=.*(?<!\w){re.escape(p)}(?!\w))" for p in parts)


def test_every_public_function_has_a_bad_input_case(rng):
    public = {n for n in skgmmot.__all__ if n[0].islower() and not n.startswith("_")}
    assert public <= set(_bad_calls(rng))


@pytest.mark.parametrize("name", sorted(_bad_calls(np.random.RandomState(0))))
def test_bad_input_is_an_assertion_error_and_a_value_error(rng, name):
    call, parts = _bad_calls(rng)[name]
    for exc in (AssertionError, ValueError, InvalidInputError):
        with pytest.raises(exc, match=_names(*parts)) as info:
            call()
        assert type(info.value) is InvalidInputError
    try:
        call()
    except AssertionError as exc:  # what code written for POT catches
        assert isinstance(exc, ValueError)


def test_same_except_clause_for_pot_and_skgmmot(rng):
    # Mistakes that POT's assert statements catch: the same handler works.
    (m_s, C_s, w_s), (m_t, C_t, w_t) = _pair(rng, 3)
    x = rng.randn(4, 3)
    for lib in (ot.gmm, skgmmot):
        calls = [
            lambda lib=lib: lib.dist_bures_squared(m_s[1:], m_t, C_s, C_t),
            lambda lib=lib: lib.gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t[1:]),
            lambda lib=lib: lib.gmm_pdf(x, m_s, C_s, w_s[1:]),
            lambda lib=lib: lib.gaussian_logpdf(x, m_s[0, :2], C_s[0]),
            lambda lib=lib: lib.gmm_ot_plan_density(
                x, x[:, :2], m_s, m_t, C_s, C_t, w_s, w_t
            ),
        ]
        for call in calls:
            with pytest.raises(AssertionError):
                call()


def test_invalid_input_error_is_raised_under_python_optimize():
    code = (
        "import numpy as np, skgmmot\n"
        "try:\n"
        "    skgmmot.gmm_pdf(np.zeros((1, 2)), np.zeros((2, 2)), np.eye(2)[None],"
        " [1.0])\n"
        "except AssertionError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-O", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert out.stdout.strip() == "InvalidInputError"


# --------------------------------------------------------------------------
# Weights: accepted within POT's 1.5e-6 and divided by their sum
# --------------------------------------------------------------------------


def test_weights_rounded_to_six_decimals_are_accepted_as_by_pot(rng):
    d = 2
    m_s, C_s, _ = make_gmm(rng, 3, d)
    m_t, C_t, _ = make_gmm(rng, 2, d)
    w_s = np.full(3, 0.333333)  # sums to 0.999999
    w_t = np.array([0.5, 0.5])
    exact = np.full(3, 1 / 3)
    x = rng.randn(5, d)
    loss = gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    assert_allclose(loss, gmm_ot_loss(m_s, m_t, C_s, C_t, exact, w_t), rtol=1e-14)
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    assert_allclose(plan.sum(axis=1), exact, rtol=1e-14)
    assert_allclose(gmm_pdf(x, m_s, C_s, w_s), gmm_pdf(x, m_s, C_s, exact), 1e-14)
    assert_allclose(
        gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t),
        gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, exact, w_t),
        rtol=1e-13,
    )
    assert_allclose(
        bures_wasserstein_barycenter(m_s, C_s, w_s)[0],
        bures_wasserstein_barycenter(m_s, C_s, exact)[0],
        rtol=1e-13,
    )
    # POT accepts them too, and keeps their mass of 0.999999 (skgmmot's
    # results are those of the normalised weights: 1e-6 apart).
    pot_loss = ot.gmm.gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    assert_allclose(loss, pot_loss, rtol=2e-6)


@pytest.mark.parametrize("total", [1 + 1e-5, 1 - 2e-6, 0.5, 2.0])
def test_weights_beyond_the_tolerance_are_rejected(rng, total):
    m, C, w = make_gmm(rng, 3, 2)
    with pytest.raises(ValueError, match=r"w must sum to 1 \(within 1.5e-06\)"):
        gmm_pdf(np.zeros((1, 2)), m, C, w * total)
    with pytest.raises(AssertionError, match=_names("source mixture", "w_s")):
        gmm_ot_loss(m, m, C, C, w * total, w)


def test_weights_within_the_tolerance_give_the_normalised_result(rng):
    m, C, w = make_gmm(rng, 4, 2)
    x = rng.randn(6, 2)
    for total in (1 + 1.4e-6, 1 - 1.4e-6):
        assert_allclose(gmm_pdf(x, m, C, w * total), gmm_pdf(x, m, C, w), 1e-14)
