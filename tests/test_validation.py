"""Input validation: accepted forms, conversions, errors that say where, no mutation.

API.md: a mixture is a fitted ``GaussianMixture`` (any covariance type) or a
tuple ``(means, covariances, weights)``; an unfitted GaussianMixture raises
``NotFittedError``; anything else malformed raises ``ValueError`` naming the
offending mixture and field; no function modifies what it was given.
"""

import re

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from skgmmot import (
    bures_wasserstein_barycenter,
    dist_bures_squared,
    gmm_barycenter_fixed_point,
    gmm_ot_apply_map,
    gmm_ot_loss,
    gmm_ot_plan,
    gmm_pdf,
)
from skgmmot._validation import check_mixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _random_mixture(rng, k, d, spread=3.0):
    means = spread * rng.randn(k, d)
    B = rng.randn(k, d, d)
    covs = B @ B.transpose(0, 2, 1) / d + 0.1 * np.eye(d)
    covs = 0.5 * (covs + covs.transpose(0, 2, 1))
    w = rng.rand(k) + 0.1
    return means, covs, w / w.sum()


def _names(*parts):
    """Regex matching a message that contains every part as a whole token.

    ``None`` parts are skipped. Parts may appear in any order.
    """
    looks = "".join(
        rf"(?=.*(?<!\w){re.escape(p)}(?!\w))" for p in parts if p is not None
    )
    return "(?s)" + looks


def _fit_gmm(rng, covariance_type, cls=GaussianMixture, d=3, k=3):
    centers = 6.0 * rng.randn(k, d)
    X = np.concatenate(
        [c + rng.randn(60, d) * (0.5 + i) for i, c in enumerate(centers)]
    )
    return cls(
        n_components=k,
        covariance_type=covariance_type,
        random_state=rng.randint(2**31 - 1),
        max_iter=500,
    ).fit(X)


def _expected_full_covariances(gm):
    """Full (k, d, d) covariances of a fitted mixture, built independently."""
    k, d = gm.means_.shape
    cov = gm.covariances_
    if gm.covariance_type == "full":
        return np.array(cov, copy=True)
    if gm.covariance_type == "tied":
        return np.stack([cov] * k)
    if gm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([v * np.eye(d) for v in cov])


# ---------------------------------------------------------------------------
# scikit-learn mixtures
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [GaussianMixture, BayesianGaussianMixture])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_check_mixture_accepts_sklearn_mixtures(rng, cls, covariance_type):
    gm = _fit_gmm(rng, covariance_type, cls)
    expected = _expected_full_covariances(gm)
    assert expected.shape == (3, 3, 3)
    means, covs, weights = check_mixture(gm, "source mixture")
    ref_means, ref_covs, ref_weights = check_mixture(
        (gm.means_, expected, gm.weights_), "source mixture"
    )
    np.testing.assert_array_equal(means, ref_means)
    np.testing.assert_array_equal(covs, ref_covs)
    np.testing.assert_array_equal(weights, ref_weights)
    np.testing.assert_array_equal(means, gm.means_)
    np.testing.assert_array_equal(weights, gm.weights_)
    # scikit-learn's full covariances may be asymmetric at round-off level;
    # the validated ones are symmetrised.
    np.testing.assert_array_equal(covs, covs.transpose(0, 2, 1))
    sym = 0.5 * (expected + expected.transpose(0, 2, 1))
    np.testing.assert_allclose(covs, sym, rtol=1e-15, atol=0)
    np.testing.assert_allclose(covs, expected, rtol=1e-12, atol=0)
    for arr in (means, covs, weights):
        assert arr.dtype == np.float64
        assert arr.flags.c_contiguous
        for attr in (gm.means_, gm.covariances_, gm.weights_):
            assert not np.shares_memory(arr, attr)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sklearn_mixture_arrays_give_sklearn_densities(rng, covariance_type):
    gm = _fit_gmm(rng, covariance_type)
    means, covs, weights = check_mixture(gm)
    X = rng.randn(20, 3) * 4.0
    np.testing.assert_allclose(
        gmm_pdf(X, means, covs, weights), np.exp(gm.score_samples(X)), rtol=1e-9
    )


@pytest.mark.parametrize("covariance_type", ["tied", "diag", "spherical"])
def test_public_functions_on_converted_mixture_equal_expanded_tuple(
    rng, covariance_type
):
    gm_s = _fit_gmm(rng, covariance_type)
    gm_t = _fit_gmm(rng, covariance_type)
    m_s, C_s, w_s = check_mixture(gm_s)
    m_t, C_t, w_t = check_mixture(gm_t)
    E_s, E_t = _expected_full_covariances(gm_s), _expected_full_covariances(gm_t)
    loss = gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    ref = gmm_ot_loss(gm_s.means_, gm_t.means_, E_s, E_t, gm_s.weights_, gm_t.weights_)
    assert loss > 0.0
    np.testing.assert_allclose(loss, ref, rtol=1e-13)
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    ref_plan = gmm_ot_plan(
        gm_s.means_, gm_t.means_, E_s, E_t, gm_s.weights_, gm_t.weights_
    )
    np.testing.assert_allclose(plan, ref_plan, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cls", [GaussianMixture, BayesianGaussianMixture])
def test_check_mixture_unfitted_raises_not_fitted(cls):
    with pytest.raises(NotFittedError):
        check_mixture(cls(n_components=2), "source mixture")


@pytest.mark.parametrize(
    ("fitted_as", "changed_to", "found", "expected"),
    [
        ("full", "diag", (3, 2, 2), (3, 2)),
        ("full", "spherical", (3, 2, 2), (3,)),
        ("full", "tied", (3, 2, 2), (2, 2)),
        ("diag", "full", (3, 2), (3, 2, 2)),
        ("spherical", "diag", (3,), (3, 2)),
        ("tied", "spherical", (2, 2), (3,)),
    ],
)
def test_check_mixture_covariance_type_must_match_covariances(
    rng, fitted_as, changed_to, found, expected
):
    # Issue 14.10: covariance_type changed after fitting gave NumPy's raw
    # broadcast error (or a misleading one) instead of naming the mixture.
    gm = _fit_gmm(rng, fitted_as, d=2, k=3)
    gm.covariance_type = changed_to
    message = (
        f"source mixture: covariances_ has shape {found}, but covariance_type="
        f"'{changed_to}' expects shape {expected} for means_ of shape (3, 2)."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        check_mixture(gm, "source mixture")


def test_check_mixture_covariances_of_wrong_shape_named(rng):
    gm = _fit_gmm(rng, "full", d=2, k=3)
    gm.covariances_ = gm.covariances_[:2]
    message = (
        "mixtures[1]: covariances_ has shape (2, 2, 2), but covariance_type="
        "'full' expects shape (3, 2, 2) for means_ of shape (3, 2)."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        check_mixture(gm, "mixtures[1]")


@pytest.mark.parametrize("covariance_type", ["Full", None, ["full"]])
def test_check_mixture_unknown_covariance_type_named(rng, covariance_type):
    gm = _fit_gmm(rng, "full", d=2, k=3)
    gm.covariance_type = covariance_type
    message = (
        "target mixture: covariance_type must be 'full', 'tied', 'diag' or "
        f"'spherical', got {covariance_type!r}."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        check_mixture(gm, "target mixture")


def test_check_mixture_accepts_tuple_and_list(rng):
    m, C, w = _random_mixture(rng, 3, 2)
    for form in ((m, C, w), [m, C, w], (m.tolist(), C.tolist(), w.tolist())):
        got = check_mixture(form, "mixtures[0]")
        for a, b in zip(got, (m, C, w), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "bad",
    [
        "means array",
        "two-tuple",
        "four-tuple",
        "dict",
        None,
        "string",
        "kmeans",
    ],
)
def test_check_mixture_rejects_other_objects(rng, bad):
    m, C, w = _random_mixture(rng, 2, 2)
    obj = {
        "means array": m,
        "two-tuple": (m, C),
        "four-tuple": (m, C, w, w),
        "dict": {"means": m, "covariances": C, "weights": w},
        None: None,
        "string": "gmm",
        "kmeans": KMeans(n_clusters=2, n_init=1).fit(rng.randn(10, 2)),
    }[bad]
    with pytest.raises(ValueError, match=_names("mixtures[2]")) as info:
        check_mixture(obj, "mixtures[2]")
    assert "GaussianMixture" in str(info.value)


def test_check_mixture_names_fields_of_tuples(rng):
    m, C, w = _random_mixture(rng, 3, 2)
    C_bad = C.copy()
    C_bad[2, 0, 1] += 1.0
    with pytest.raises(ValueError, match=_names("mixtures[4]", "covariances[2]")):
        check_mixture((m, C_bad, w), "mixtures[4]")
    with pytest.raises(ValueError, match=_names("mixtures[4]", "weights")):
        check_mixture((m, C, 2 * w), "mixtures[4]")


# ---------------------------------------------------------------------------
# Malformed inputs: other arguments than the mixtures
# ---------------------------------------------------------------------------
#
# The arguments of every call live in a dict.


def _pair_args(rng, d=2):
    m_s, C_s, w_s = _random_mixture(rng, 3, d)
    m_t, C_t, w_t = _random_mixture(rng, 3, d)
    return {
        "x": rng.randn(5, d),
        "m_s": m_s,
        "C_s": C_s,
        "w_s": w_s,
        "m_t": m_t,
        "C_t": C_t,
        "w_t": w_t,
    }


def _pdf_args(rng, d=2):
    m, C, w = _random_mixture(rng, 3, d)
    return {"x": rng.randn(5, d), "m": m, "C": C, "w": w}


def _bwb_args(rng, d=2):
    m, C, w = _random_mixture(rng, 3, d)
    return {"m": m, "C": C, "weights": w}


def _bary_args(rng, d=2):
    mixtures = [_random_mixture(rng, 3, d) for _ in range(3)]
    init = _random_mixture(rng, 3, d)
    return {
        "means_list": [m[0] for m in mixtures],
        "covs_list": [m[1] for m in mixtures],
        "w_list": [m[2] for m in mixtures],
        "means_init": init[0],
        "covs_init": init[1],
        "weights": np.array([0.2, 0.3, 0.5]),
        "w_bar": init[2],
        "iterations": 5,
    }


def _call(func, a):
    if func == "dist_bures_squared":
        return dist_bures_squared(a["m_s"], a["m_t"], a["C_s"], a["C_t"])
    if func == "gmm_ot_loss":
        return gmm_ot_loss(a["m_s"], a["m_t"], a["C_s"], a["C_t"], a["w_s"], a["w_t"])
    if func == "gmm_ot_plan":
        return gmm_ot_plan(a["m_s"], a["m_t"], a["C_s"], a["C_t"], a["w_s"], a["w_t"])
    if func == "gmm_ot_apply_map":
        return gmm_ot_apply_map(
            a["x"],
            a["m_s"],
            a["m_t"],
            a["C_s"],
            a["C_t"],
            a["w_s"],
            a["w_t"],
            **{key: a[key] for key in ("plan", "method", "seed") if key in a},
        )
    if func == "gmm_pdf":
        return gmm_pdf(a["x"], a["m"], a["C"], a["w"])
    if func == "bures_wasserstein_barycenter":
        return bures_wasserstein_barycenter(
            a["m"],
            a["C"],
            a["weights"],
            **{key: a[key] for key in ("num_iter", "eps", "log") if key in a},
        )
    if func == "gmm_barycenter_fixed_point":
        extra = ("iterations", "log", "barycentric_proj_method")
        return gmm_barycenter_fixed_point(
            a["means_list"],
            a["covs_list"],
            a["w_list"],
            a["means_init"],
            a["covs_init"],
            a["weights"],
            w_bar=a["w_bar"],
            **{key: a[key] for key in extra if key in a},
        )
    raise AssertionError(func)


ARGS = {
    "dist_bures_squared": _pair_args,
    "gmm_ot_loss": _pair_args,
    "gmm_ot_plan": _pair_args,
    "gmm_ot_apply_map": _pair_args,
    "gmm_pdf": _pdf_args,
    "bures_wasserstein_barycenter": _bwb_args,
    "gmm_barycenter_fixed_point": _bary_args,
}

# The malformed-mixture matrix (every corruption of every mixture of every
# function: 28 corruptions x 13 slots, and weights within tolerance) moved to
# tests/hostile/, one module per entry point, generated from one catalogue
# (tests/hostile/conftest.py) that also covers the estimators and plotting.


@pytest.mark.parametrize(
    "func", ["dist_bures_squared", "gmm_ot_loss", "gmm_ot_plan", "gmm_ot_apply_map"]
)
def test_source_and_target_dimensions_must_match(rng, func):
    args = _pair_args(rng)
    m, C, w = _random_mixture(rng, 3, 3)
    args.update(m_t=m, C_t=C, w_t=w)
    with pytest.raises(ValueError, match=_names("source and target mixtures")):
        _call(func, args)


def test_barycenter_input_dimensions_must_match(rng):
    args = _bary_args(rng)
    m, C, w = _random_mixture(rng, 3, 3)
    args["means_list"][2], args["covs_list"][2], args["w_list"][2] = m, C, w
    with pytest.raises(ValueError, match=_names("input mixtures")):
        _call("gmm_barycenter_fixed_point", args)
    args = _bary_args(rng)
    args["means_init"], args["covs_init"] = m, C
    with pytest.raises(ValueError, match=_names("barycenter")):
        _call("gmm_barycenter_fixed_point", args)


def test_barycenter_list_lengths(rng):
    args = _bary_args(rng)
    args["w_list"] = args["w_list"][:2]
    with pytest.raises(ValueError, match=_names("w_list")):
        _call("gmm_barycenter_fixed_point", args)
    args = _bary_args(rng)
    args.update(means_list=[], covs_list=[], w_list=[])
    with pytest.raises(ValueError, match="input mixture"):
        _call("gmm_barycenter_fixed_point", args)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("weights", np.array([0.5, 0.5]), "weights"),
        ("weights", np.array([0.5, 0.7, -0.2]), "weights[2]"),
        ("weights", np.array([0.5, 0.5, 0.5]), "weights"),
        ("weights", np.array([0.2, np.nan, 0.8]), "weights"),
        ("w_bar", np.array([0.5, 0.5]), "w_bar"),
        ("w_bar", np.array([-0.5, 1.0, 0.5]), "w_bar[0]"),
        ("w_bar", np.array([0.2, 0.2, 0.2]), "w_bar"),
        ("iterations", -1, "iterations"),
        ("iterations", 2.5, "iterations"),
        ("iterations", "10", "iterations"),
        ("iterations", True, "iterations"),
        ("iterations", None, "iterations"),
        ("barycentric_proj_method", "wasserstein", "barycentric_proj_method"),
        ("barycentric_proj_method", None, "barycentric_proj_method"),
    ],
)
def test_gmm_barycenter_bad_parameters(rng, key, value, field):
    args = _bary_args(rng)
    args[key] = value
    with pytest.raises(ValueError, match=_names(field)):
        _call("gmm_barycenter_fixed_point", args)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("num_iter", 0),
        ("num_iter", -3),
        ("num_iter", 10.0),
        ("num_iter", True),
        ("num_iter", "100"),
        ("eps", -1e-7),
        ("eps", np.nan),
        ("eps", np.inf),
        ("eps", "1e-7"),
        ("eps", False),
        ("eps", None),
    ],
)
def test_bures_barycenter_bad_parameters(rng, key, value):
    args = _bwb_args(rng)
    args[key] = value
    with pytest.raises(ValueError, match=_names(key)):
        _call("bures_wasserstein_barycenter", args)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("method", "barycentric", "method"),
        ("method", None, "method"),
        ("plan", np.full((3, 2), 1 / 6), "plan"),
        ("plan", np.full((2, 3), 1 / 6), "plan"),
        ("plan", np.full(9, 1 / 9), "plan"),
        ("plan", np.full((3, 3, 1), 1 / 9), "plan"),
        (
            "plan",
            np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.1], [0.0, -0.1, 0.0]]),
            "plan",
        ),
        (
            "plan",
            np.array([[0.5, 0.0, 0.0], [0.0, 0.5, np.nan], [0.0, 0.0, 0.0]]),
            "plan",
        ),
        ("x", np.zeros((4, 3)), "x"),
        ("x", np.zeros(2), "x"),
        ("x", np.array([[0.0, np.nan]]), "x"),
    ],
)
def test_gmm_ot_apply_map_bad_parameters(rng, key, value, message):
    args = _pair_args(rng)
    args[key] = value
    with pytest.raises(ValueError, match=_names(message)):
        _call("gmm_ot_apply_map", args)


@pytest.mark.parametrize("x", [np.zeros((4, 3)), np.float64(1.0), [[np.inf, 0.0]]])
def test_gmm_pdf_bad_points(rng, x):
    args = _pdf_args(rng)
    args["x"] = x
    with pytest.raises(ValueError, match=_names("x")):
        _call("gmm_pdf", args)


# ---------------------------------------------------------------------------
# Documented conversions
# ---------------------------------------------------------------------------


def _flatten(out):
    """The arrays of a result, in order (dicts from ``log=True`` excluded)."""
    if isinstance(out, tuple | list):
        return [np.asarray(o) for o in out if not isinstance(o, dict)]
    return [np.asarray(out)]


def _assert_same_result(out, ref):
    out, ref = _flatten(out), _flatten(ref)
    assert len(out) == len(ref)
    for a, b in zip(out, ref, strict=True):
        assert a.dtype == np.float64
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _map_arrays(args, func):
    """Apply ``func`` to every array in ``args`` (lists of arrays included)."""
    out = {}
    for key, value in args.items():
        if isinstance(value, list):
            out[key] = [func(key, v) for v in value]
        elif isinstance(value, np.ndarray):
            out[key] = func(key, value)
        else:
            out[key] = value
    return out


ALL_FUNCS = list(ARGS)


@pytest.mark.parametrize("func", ALL_FUNCS)
def test_python_lists_give_same_result(rng, func):
    args = ARGS[func](rng)
    ref = _call(func, args)
    out = _call(func, _map_arrays(args, lambda key, v: v.tolist()))
    _assert_same_result(out, ref)


def _weight_keys():
    return {"w_s", "w_t", "w", "weights", "w_list", "w_bar"}


@pytest.mark.parametrize("func", ALL_FUNCS)
def test_float32_gives_same_result_as_float64_of_float32(rng, func):
    args = ARGS[func](rng)
    args32 = _map_arrays(args, lambda key, v: v.astype(np.float32))

    def as64(key, v):
        v = v.astype(np.float64)
        # float32 weights are accepted within float32 precision and
        # renormalised in float64.
        return v / v.sum() if key in _weight_keys() else v

    ref = _call(func, _map_arrays(args32, as64))
    out = _call(func, args32)
    _assert_same_result(out, ref)


def test_float32_weights_accepted_within_float32_precision(rng):
    m, C, _ = _random_mixture(rng, 10, 2)
    w32 = np.full(10, 0.1, dtype=np.float32)
    total = w32.astype(np.float64).sum()
    # Off by more than the float64 tolerance, within float32 precision.
    assert 1e-8 < abs(total - 1.0) < 1e-6
    ref = gmm_ot_loss(m, m[::-1], C, C[::-1], w32 / total, w32 / total)
    loss = gmm_ot_loss(m, m[::-1], C, C[::-1], w32, w32)
    np.testing.assert_allclose(loss, ref, rtol=1e-14)
    # The float64 copy is within the tolerance of every dtype (1.5e-6, POT's)
    # and gives the same result; 1e-5 off is rejected.
    loss64 = gmm_ot_loss(m, m[::-1], C, C[::-1], w32.astype(np.float64), w32)
    np.testing.assert_allclose(loss64, ref, rtol=1e-14)
    with pytest.raises(ValueError, match=_names("source mixture", "w_s")):
        gmm_ot_loss(m, m[::-1], C, C[::-1], w32 * (1 + 1e-5), w32)
    with pytest.raises(ValueError, match=_names("target mixture", "w_t")):
        gmm_ot_loss(m, m[::-1], C, C[::-1], w32, w32 * np.float32(1.01))


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("k", [3, 100, 1000])
def test_low_precision_weight_tolerance_does_not_grow_with_k(rng, dtype, k):
    # Issue 14.6: the tolerance was 4 k eps, so 100 float16 weights summing
    # to 0.70 were accepted and silently renormalised.
    m, C, _ = _random_mixture(rng, k, 2)
    x = rng.rand(k)
    w = (x / x.sum()).astype(dtype)
    gmm_pdf(np.zeros((1, 2)), m, C, w)  # normalised in that precision: accepted
    # The tolerance: POT's 1.5e-6, or 4 eps of the dtype where that is larger.
    tol = max(1.5e-6, 4.0 * float(np.finfo(dtype).eps))
    for total in (0.7, 1.0 + 2.0 * tol, 1.0 - 2.0 * tol):
        off = (x / x.sum() * total).astype(dtype)
        with pytest.raises(ValueError, match=r"w must sum to 1 \(within"):
            gmm_pdf(np.zeros((1, 2)), m, C, off)


def test_integer_arrays_give_same_result():
    m_s = np.array([[0, 0], [4, 1]])
    m_t = np.array([[1, 2], [5, -1], [0, 3]])
    C_s = np.array([[[2, 1], [1, 2]], [[1, 0], [0, 3]]])
    C_t = np.array([[[1, 0], [0, 1]], [[4, 1], [1, 1]], [[2, 0], [0, 2]]])
    w_s, w_t = np.array([0, 1]), np.array([1, 0, 0])
    f = [np.asarray(a, dtype=np.float64) for a in (m_s, m_t, C_s, C_t, w_s, w_t)]
    _assert_same_result(
        dist_bures_squared(m_s, m_t, C_s, C_t), dist_bures_squared(*f[:4])
    )
    _assert_same_result(gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t), gmm_ot_loss(*f))
    _assert_same_result(gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t), gmm_ot_plan(*f))
    x = np.array([[0, 1], [2, 2]])
    _assert_same_result(
        gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t),
        gmm_ot_apply_map(x.astype(float), *f),
    )
    _assert_same_result(
        gmm_pdf(x, m_t, C_t, [0, 1, 0]), gmm_pdf(x, f[1], f[3], f[5][[1, 0, 2]])
    )
    _assert_same_result(
        bures_wasserstein_barycenter(m_t, C_t, [0, 1, 0]),
        bures_wasserstein_barycenter(f[1], f[3], [0.0, 1.0, 0.0]),
    )
    _assert_same_result(
        gmm_barycenter_fixed_point(
            [m_s, m_t], [C_s, C_t], [w_s, w_t], m_s, C_s, [1, 0]
        ),
        gmm_barycenter_fixed_point(
            [f[0], f[1]], [f[2], f[3]], [f[4], f[5]], f[0], f[2], [1.0, 0.0]
        ),
    )


def _rank_deficient(rng, k, d, rank):
    B = rng.randn(k, d, rank)
    C = B @ B.transpose(0, 2, 1)
    return 0.5 * (C + C.transpose(0, 2, 1))


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_psd_covariances_accepted_for_costs(rng, d):
    m_s, C_s, w_s = _random_mixture(rng, 3, d)
    m_t, _, w_t = _random_mixture(rng, 3, d)
    C_s[1] = _rank_deficient(rng, 1, d, d - 1)[0]
    C_t = _rank_deficient(rng, 3, d, max(d - 2, 0))
    D = dist_bures_squared(m_s, m_t, C_s, C_t)
    # Reference through numpy's eigendecomposition (PSD: the zero eigenvalues
    # make the square roots accurate to sqrt(eps) only).
    ref = np.empty((3, 3))
    for i in range(3):
        vals, vecs = np.linalg.eigh(C_s[i])
        root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
        for j in range(3):
            M = root @ C_t[j] @ root
            eig = np.clip(np.linalg.eigvalsh(0.5 * (M + M.T)), 0.0, None)
            ref[i, j] = (
                np.sum((m_s[i] - m_t[j]) ** 2)
                + np.trace(C_s[i])
                + np.trace(C_t[j])
                - 2 * np.sum(np.sqrt(eig))
            )
    np.testing.assert_allclose(D, ref, rtol=1e-6, atol=1e-6)
    loss = gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    np.testing.assert_allclose(loss, np.sum(plan * D), rtol=1e-12)
    # A rank-deficient *target* is fine for maps too.
    out = gmm_ot_apply_map(
        rng.randn(4, d),
        m_s[[0, 2]],
        m_t,
        C_s[[0, 2]],
        C_t,
        w_s[[0, 2]] / w_s[[0, 2]].sum(),
        w_t,
    )
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_psd_covariances_rejected_for_densities_and_maps(rng, d):
    m, C, w = _random_mixture(rng, 3, d)
    C_sing = C.copy()
    # Exactly singular: a zero row and column.
    C_sing[2] = np.diag(np.r_[np.ones(d - 1), 0.0])
    x = rng.randn(4, d)
    with pytest.raises(ValueError, match=_names("mixture", "C[2]")):
        gmm_pdf(x, m, C_sing, w)
    with pytest.raises(ValueError, match=_names("source mixture", "C_s[2]")):
        gmm_ot_apply_map(x, m, m, C_sing, C, w, w)
    # Same arrays on the target side are fine.
    out = gmm_ot_apply_map(x, m, m, C, C_sing, w, w)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "vector",
    [
        [0.1, 0.3],  # eigvalsh gives a tiny positive eigenvalue (3.5e-18)
        [0.7, 0.1],  # numpy's Cholesky even succeeds on this singular matrix
    ],
)
def test_numerically_singular_covariance_named(vector):
    C = np.outer(vector, vector)[None]
    with pytest.raises(ValueError, match=_names("mixture", "C[0]")):
        gmm_pdf(np.zeros((1, 2)), np.zeros((1, 2)), C, [1.0])
    with pytest.raises(ValueError, match=_names("source mixture", "C_s[0]")):
        gmm_ot_apply_map(
            np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), C, C, [1.0], [1.0]
        )


def test_subclass_of_gaussian_mixture_accepted(rng):
    class MyGMM(GaussianMixture):
        pass

    X = rng.randn(60, 2)
    mine = MyGMM(n_components=2, random_state=0).fit(X)
    plain = GaussianMixture(n_components=2, random_state=0).fit(X)
    for a, b in zip(check_mixture(mine), check_mixture(plain), strict=True):
        np.testing.assert_array_equal(a, b)


def test_tiny_asymmetry_accepted(rng):
    m_s, C_s, w_s = _random_mixture(rng, 3, 3)
    m_t, C_t, w_t = _random_mixture(rng, 3, 3)
    noisy = C_s.copy()
    noisy[:, 0, 1] *= 1 + 1e-12
    noisy[:, 2, 0] += 1e-12 * np.abs(C_s).max(axis=(1, 2))
    assert np.any(noisy != noisy.transpose(0, 2, 1))
    sym = 0.5 * (noisy + noisy.transpose(0, 2, 1))
    x = rng.randn(5, 3)
    for func, a, b in [
        (dist_bures_squared, (m_s, m_t, noisy, C_t), (m_s, m_t, sym, C_t)),
        (gmm_ot_loss, (m_s, m_t, noisy, C_t, w_s, w_t), (m_s, m_t, sym, C_t, w_s, w_t)),
        (gmm_pdf, (x, m_s, noisy, w_s), (x, m_s, sym, w_s)),
        (
            gmm_ot_apply_map,
            (x, m_s, m_t, noisy, C_t, w_s, w_t),
            (x, m_s, m_t, sym, C_t, w_s, w_t),
        ),
        (bures_wasserstein_barycenter, (m_s, noisy), (m_s, sym)),
    ]:
        _assert_same_result(func(*a), func(*b))
    # Asymmetry well above round-off is rejected.
    bad = C_s.copy()
    bad[1, 0, 1] += 1e-6 * np.abs(C_s[1]).max()
    with pytest.raises(ValueError, match=_names("source mixture", "C_s[1]")):
        dist_bures_squared(m_s, m_t, bad, C_t)


def test_roundoff_negative_eigenvalue_accepted(rng):
    m, _, w = _random_mixture(rng, 2, 3)
    q, _ = np.linalg.qr(rng.randn(3, 3))
    C = np.stack([(q * np.array([-1e-14, 1.0, 2.0])) @ q.T] * 2)
    C = 0.5 * (C + C.transpose(0, 2, 1))
    D = dist_bures_squared(m, m, C, C)
    assert np.all(np.isfinite(D))
    assert np.all(np.diag(D) <= 1e-6)
    C[1] = (q * np.array([-1e-3, 1.0, 2.0])) @ q.T
    C[1] = 0.5 * (C[1] + C[1].T)
    with pytest.raises(ValueError, match=_names("target mixture", "C_t[1]")):
        gmm_ot_loss(m, m, C[[0, 0]], C, w, w)


# ---------------------------------------------------------------------------
# No mutation
# ---------------------------------------------------------------------------

FLAGS = ("C_CONTIGUOUS", "F_CONTIGUOUS", "WRITEABLE", "OWNDATA", "ALIGNED")


def _arrays(args):
    for key, value in args.items():
        if isinstance(value, list):
            for i, v in enumerate(value):
                yield f"{key}[{i}]", v
        elif isinstance(value, np.ndarray):
            yield key, value


def _snapshot(args):
    snap = {
        name: (arr.tobytes(), arr.dtype, arr.shape, {f: arr.flags[f] for f in FLAGS})
        for name, arr in _arrays(args)
    }
    # Lists of arrays keep their length and their items.
    snap.update(
        {
            key: [id(v) for v in value]
            for key, value in args.items()
            if isinstance(value, list)
        }
    )
    return snap


MUTATION_CASES = [
    ("dist_bures_squared", {}),
    ("gmm_ot_loss", {}),
    ("gmm_ot_plan", {}),
    ("gmm_ot_apply_map", {}),
    ("gmm_ot_apply_map", {"method": "rand", "seed": 0}),
    ("gmm_ot_apply_map", {"plan": "diag"}),
    ("gmm_pdf", {}),
    ("bures_wasserstein_barycenter", {"log": True}),
    ("gmm_barycenter_fixed_point", {"log": True}),
    ("gmm_barycenter_fixed_point", {"barycentric_proj_method": "bures"}),
    ("gmm_barycenter_fixed_point", {"barycentric_proj_method": "bures_two_stage"}),
    ("gmm_barycenter_fixed_point", {"iterations": 0}),
]


@pytest.mark.parametrize("readonly", [False, True], ids=["writeable", "readonly"])
@pytest.mark.parametrize(
    ("func", "extra"),
    MUTATION_CASES,
    ids=[
        f"{f}-{'-'.join(map(str, e.values())) or 'default'}" for f, e in MUTATION_CASES
    ],
)
def test_inputs_not_modified(rng, func, extra, readonly):
    args = ARGS[func](rng)
    args.update(extra)
    if args.get("plan") == "diag":
        args["plan"] = np.diag(args["w_s"]) @ np.eye(3)[[1, 2, 0]]
        args["w_t"] = args["plan"].sum(axis=0)
    # Some inputs deliberately non-contiguous or Fortran-ordered.
    for key in ("m_s", "m", "means_init"):
        if key in args:
            args[key] = np.asfortranarray(args[key])
    if "C_t" in args:
        args["C_t"] = np.concatenate([args["C_t"], args["C_t"]])[::2]
    if readonly:
        for _, arr in _arrays(args):
            arr.setflags(write=False)
    before = _snapshot(args)
    out = _call(func, args)
    assert _snapshot(args) == before
    for res in _flatten(out):
        assert np.all(np.isfinite(res))
        for _, arr in _arrays(args):
            assert not np.shares_memory(res, arr)
    # Same result as on fresh writeable copies.
    fresh = _map_arrays(args, lambda key, v: np.array(v, copy=True))
    _assert_same_result(out, _call(func, fresh))


def test_check_mixture_does_not_modify_gaussian_mixture(rng):
    gm = _fit_gmm(rng, "diag")
    attrs = ("means_", "covariances_", "weights_", "precisions_cholesky_")
    before = {a: getattr(gm, a).tobytes() for a in attrs}
    params = gm.get_params()
    for a in attrs:
        getattr(gm, a).setflags(write=False)
    out = check_mixture(gm)
    for arr in out:
        arr += 1.0  # the returned arrays are the caller's to modify
    assert {a: getattr(gm, a).tobytes() for a in attrs} == before
    assert gm.get_params() == params
    assert gm.covariance_type == "diag"


@pytest.mark.parametrize("d", [1, 2, 3])
def test_extreme_eigenvalues_match_lapack(rng, d):
    """The closed forms in 1-D and 2-D that decide PSD / PD acceptance."""
    from skgmmot._validation import _extreme_eigenvalues

    A = rng.randn(50, d, d)
    sym = A + A.transpose(0, 2, 1)
    sym[0] = 0.0
    sym[1] = np.outer(np.ones(d), np.ones(d))  # rank 1
    low, high = _extreme_eigenvalues(sym)
    eig = np.linalg.eigvalsh(sym)
    scale = np.abs(eig).max(axis=1, keepdims=True) + 1e-300
    np.testing.assert_allclose(low / scale[:, 0], eig[:, 0] / scale[:, 0], atol=1e-14)
    np.testing.assert_allclose(high / scale[:, 0], eig[:, -1] / scale[:, 0], atol=1e-14)
