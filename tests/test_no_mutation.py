"""No public function or method modifies what it is given (API.md).

Every public function and every public estimator method is called on
writeable arrays, read-only arrays and Python lists, with fitted
GaussianMixture objects among the mixtures; afterwards every argument must be
byte-identical: same bytes, dtype, shape, strides and flags for arrays, same
items (by identity and by value) for lists and tuples, same ``__dict__`` for
objects (fitted GaussianMixtures, estimators used as templates or inputs).
Methods of fitted estimators must not change the estimator either, and
``fit`` must not change hyperparameters (``get_params(deep=True)``, including
a ``gmm`` template and an ``init`` mixture).
"""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

import skgmmot
from skgmmot import (
    GMMOTBarycenter,
    GMMOTFlow,
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
from skgmmot.datasets import make_gmm_family, make_random_gmm
from skgmmot.plotting import plot_barycenter, plot_flow, plot_gmm, plot_loss

VARIANTS = ["writeable", "readonly", "lists"]


# ------------------------------------------------------------- snapshots


def snapshot(obj, _depth=0):
    """A comparable, deep description of ``obj``'s state."""
    if _depth > 12:  # pragma: no cover - guards against cycles
        return ("deep", type(obj).__name__)
    if isinstance(obj, np.ndarray):
        return (
            "ndarray",
            obj.dtype.str,
            obj.shape,
            obj.strides,
            obj.flags.writeable,
            obj.flags.c_contiguous,
            obj.flags.f_contiguous,
            obj.tobytes(),
        )
    if isinstance(obj, list | tuple):
        return (
            type(obj).__name__,
            tuple(id(x) for x in obj),
            tuple(snapshot(x, _depth + 1) for x in obj),
        )
    if isinstance(obj, dict):
        return (
            "dict",
            tuple(sorted((str(k), snapshot(v, _depth + 1)) for k, v in obj.items())),
        )
    if isinstance(obj, BaseEstimator):
        return (type(obj).__name__, snapshot(vars(obj), _depth + 1))
    if isinstance(obj, np.generic | int | float | str | bool | type(None)):
        return ("scalar", type(obj).__name__, repr(obj))
    return ("object", type(obj).__name__, id(obj))


def _all_arrays(obj, _depth=0):
    if _depth > 12:  # pragma: no cover
        return
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, list | tuple):
        for x in obj:
            yield from _all_arrays(x, _depth + 1)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _all_arrays(x, _depth + 1)
    elif isinstance(obj, BaseEstimator):
        yield from _all_arrays(vars(obj), _depth + 1)


def prepare(obj, variant):
    """Arrays of ``obj`` as given by the variant (objects keep theirs)."""
    if variant == "lists":
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, list | tuple):
            return type(obj)(prepare(x, variant) for x in obj)
        return obj
    if variant == "readonly":
        for arr in _all_arrays(obj):
            arr.setflags(write=False)
    return obj


def _fitted_gm(rng, d=2, k=3, covariance_type="full"):
    X = np.vstack([rng.randn(30, d) + 4 * i for i in range(k)])
    return GaussianMixture(k, covariance_type=covariance_type, random_state=0).fit(X)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


def assert_unchanged(fn, *args, watch=(), **kwargs):
    """Call ``fn`` and assert that its arguments and ``watch`` are unchanged."""
    before = snapshot((args, kwargs, watch))
    out = _quiet(fn, *args, **kwargs)
    assert snapshot((args, kwargs, watch)) == before
    return out


# ---------------------------------------------------------- the functions


def _pair(rng, variant, gm=False):
    src = make_random_gmm(3, 2, random_state=rng)
    tgt = _fitted_gm(rng) if gm else make_random_gmm(2, 2, random_state=rng)
    return prepare(src, variant), prepare(tgt, variant)


def _split(src, tgt):
    if isinstance(tgt, GaussianMixture):
        tgt = (tgt.means_, tgt.covariances_, tgt.weights_)
    (m_s, C_s, w_s), (m_t, C_t, w_t) = src, tgt
    return m_s, m_t, C_s, C_t, w_s, w_t


FUNCTION_CASES = {
    "dist_bures_squared": lambda rng, v: (
        dist_bures_squared,
        _split(*_pair(rng, v))[:4],
        {},
    ),
    "gmm_ot_loss": lambda rng, v: (gmm_ot_loss, _split(*_pair(rng, v)), {}),
    "gmm_ot_loss-log": lambda rng, v: (
        gmm_ot_loss,
        _split(*_pair(rng, v)),
        {"log": True},
    ),
    "gmm_ot_plan": lambda rng, v: (gmm_ot_plan, _split(*_pair(rng, v)), {}),
    "gmm_ot_apply_map-bary": lambda rng, v: (
        gmm_ot_apply_map,
        (prepare(rng.randn(6, 2), v), *_split(*_pair(rng, v))),
        {},
    ),
    "gmm_ot_apply_map-rand-plan": lambda rng, v: _apply_map_with_plan(rng, v),
    "gmm_pdf": lambda rng, v: (
        gmm_pdf,
        (
            prepare(rng.randn(6, 2), v),
            *prepare(make_random_gmm(3, 2, random_state=rng), v),
        ),
        {},
    ),
    "gaussian_pdf": lambda rng, v: _one_gaussian(gaussian_pdf, rng, v),
    "gaussian_logpdf": lambda rng, v: _one_gaussian(gaussian_logpdf, rng, v),
    "bures_wasserstein_mapping": lambda rng, v: (
        bures_wasserstein_mapping,
        prepare(_gaussian_pair(rng), v),
        {"log": True},
    ),
    "gmm_ot_plan_density": lambda rng, v: (
        gmm_ot_plan_density,
        (
            prepare(rng.randn(5, 2), v),
            prepare(rng.randn(4, 2), v),
            *_split(*_pair(rng, v)),
        ),
        {"atol": 1.0},
    ),
    "gmm_ot_plan_density-plan": lambda rng, v: _plan_density_with_plan(rng, v),
    "bures_wasserstein_barycenter": lambda rng, v: (
        bures_wasserstein_barycenter,
        prepare(make_random_gmm(4, 2, random_state=rng), v),
        {"log": True},
    ),
    "bures_wasserstein_barycenter-gradient": lambda rng, v: (
        bures_wasserstein_barycenter,
        prepare(make_random_gmm(4, 2, random_state=rng), v),
        {"method": "gradient_descent", "step_size": 0.5, "log": True},
    ),
    "gmm_barycenter_fixed_point": lambda rng, v: _fixed_point(rng, v),
    "gmm_barycenter_multimarginal": lambda rng, v: _multimarginal(rng, v),
    "gmm_ot_interpolate": lambda rng, v: (
        gmm_ot_interpolate,
        (*_pair(rng, v, gm=True), 0.4),
        {},
    ),
    "pairwise_gmm_ot_distances": lambda rng, v: (
        pairwise_gmm_ot_distances,
        ([*prepare([*make_gmm_family(3, random_state=rng)], v), _fitted_gm(rng)],),
        {"Y": prepare(make_gmm_family(2, random_state=rng), v)},
    ),
    "make_random_gmm": lambda rng, v: (
        make_random_gmm,
        (3, 2),
        {"center": prepare(np.array([1.0, 2.0]), v), "random_state": 0},
    ),
    "make_gmm_family": lambda rng, v: (
        make_gmm_family,
        (2,),
        {
            "n_components": prepare(np.array([2, 3]), v),
            "centers": prepare(np.zeros((2, 2)), v),
            "spread": prepare(np.array([1.0, 2.0]), v),
            "random_state": 0,
        },
    ),
    "plot_gmm-tuple": lambda rng, v: (
        plot_gmm,
        (prepare(make_random_gmm(3, 3, random_state=rng), v),),
        {"alpha": prepare(np.array([0.2, 0.5, 1.0]), v), "dims": (2, 0)},
    ),
    "plot_gmm-gaussian-mixture": lambda rng, v: (
        plot_gmm,
        (prepare(_fitted_gm(rng, covariance_type="diag"), v),),
        {"nstd": prepare(np.array([1.0, 2.0]), v)},
    ),
}


def _apply_map_with_plan(rng, variant):
    src, tgt = (
        make_random_gmm(3, 2, random_state=rng),
        make_random_gmm(3, 2, random_state=rng),
    )
    plan = np.diag(src[2])[:, [1, 2, 0]]
    tgt = (tgt[0], tgt[1], plan.sum(axis=0))
    args = (rng.randn(6, 2), *_split(src, tgt))
    kwargs = {"plan": plan, "method": "rand", "seed": 0}
    return gmm_ot_apply_map, prepare(args, variant), prepare(kwargs, variant)


def _one_gaussian(fn, rng, variant):
    m, C, _ = make_random_gmm(1, 3, random_state=rng)
    return fn, prepare((rng.randn(2, 4, 3), m[0], C[0]), variant), {}


def _gaussian_pair(rng):
    (m_s, C_s, _), (m_t, C_t, _) = (
        make_random_gmm(1, 2, random_state=rng),
        make_random_gmm(1, 2, random_state=rng),
    )
    return m_s[0], m_t[0], C_s[0], C_t[0]


def _plan_density_with_plan(rng, variant):
    # The samples of the map case serve as the target points y.
    _, args, kwargs = _apply_map_with_plan(rng, variant)
    args = (prepare(rng.randn(3, 2), variant), *args)
    kwargs = {"plan": kwargs["plan"], "atol": 0.5}
    return gmm_ot_plan_density, args, kwargs


def _fixed_point(rng, variant):
    family = make_gmm_family(3, random_state=rng)
    init = make_random_gmm(3, 2, random_state=rng)
    args = (
        [m for m, _, _ in family],
        [C for _, C, _ in family],
        [w for _, _, w in family],
        init[0],
        init[1],
        np.array([0.2, 0.3, 0.5]),
    )
    kwargs = {"w_bar": init[2], "iterations": 3, "log": True}
    return gmm_barycenter_fixed_point, prepare(args, variant), prepare(kwargs, variant)


def _multimarginal(rng, variant):
    family = make_gmm_family(3, random_state=rng)
    args = (
        [m for m, _, _ in family],
        [C for _, C, _ in family],
        [w for _, _, w in family],
        np.array([0.2, 0.3, 0.5]),
    )
    kwargs = {"log": True, "max_support": 2}
    return gmm_barycenter_multimarginal, prepare(args, variant), kwargs


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", list(FUNCTION_CASES))
def test_functions_do_not_modify_arguments(rng, case, variant):
    fn, args, kwargs = FUNCTION_CASES[case](rng, variant)
    out = assert_unchanged(fn, *args, **kwargs)
    # The result shares no memory with the arguments.
    for res in _all_arrays(out if isinstance(out, tuple | list) else [out]):
        for arr in _all_arrays((args, kwargs)):
            assert not np.shares_memory(res, arr)
    plt.close("all")


def test_every_public_function_is_covered():
    covered = {case.split("-")[0] for case in FUNCTION_CASES}
    public = {
        name
        for name in skgmmot.__all__
        if name[0].islower() and not name.startswith("__")
    }
    public |= {"make_random_gmm", "make_gmm_family"}
    public |= set(skgmmot.plotting.__all__) - {
        "plot_barycenter",
        "plot_flow",
        "plot_loss",
    }
    assert public <= covered, public - covered


# --------------------------------------------------------------- estimators


def _barycenter_inputs(rng, variant):
    mixtures = [
        *make_gmm_family(2, random_state=rng),
        _fitted_gm(rng, covariance_type="tied"),
    ]
    return prepare(mixtures, variant)


def _samples(rng, variant):
    X = np.vstack([rng.randn(40, 2), rng.randn(40, 2) + 4.0])
    labels = np.repeat([0, 1], 40)
    return prepare(X, variant), prepare(labels, variant)


BARYCENTER_PARAMS = {
    "kmeans": lambda rng, v: {},
    "init-mixture-weights": lambda rng, v: {
        "init": prepare(make_random_gmm(2, 2, random_state=rng), v),
        "weights": prepare(np.array([0.2, 0.3, 0.5]), v),
        "learn_weights": True,
    },
    "init-gaussian-mixture-sinkhorn": lambda rng, v: {
        "init": prepare(_fitted_gm(rng, k=2), v),
        "ot_solver": "sinkhorn",
        "projection": "bures",
    },
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("params", list(BARYCENTER_PARAMS))
def test_barycenter_mixture_mode(rng, params, variant):
    est = GMMOTBarycenter(
        2, random_state=0, max_iter=30, **BARYCENTER_PARAMS[params](rng, variant)
    )
    mixtures = _barycenter_inputs(rng, variant)
    params_before = snapshot(est.get_params(deep=True))
    assert_unchanged(est.fit, mixtures)
    assert snapshot(est.get_params(deep=True)) == params_before
    _fitted_methods_leave_everything_unchanged(
        est, rng, variant, groups=np.arange(3).repeat(4), mixtures=mixtures
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_barycenter_sample_mode(rng, variant):
    template = GaussianMixture(2, covariance_type="diag", max_iter=200)
    est = GMMOTBarycenter(2, gmm=template, random_state=0)
    X, labels = _samples(rng, variant)
    params_before = snapshot(est.get_params(deep=True))
    assert_unchanged(est.fit, X, sample_domain=labels)
    assert snapshot(est.get_params(deep=True)) == params_before
    assert not hasattr(template, "means_")  # the template is cloned, never fitted
    assert_unchanged(est.fit_transform, X, sample_domain=labels)
    assert snapshot(est.get_params(deep=True)) == params_before
    _fitted_methods_leave_everything_unchanged(
        est, rng, variant, groups=np.repeat([0, 1], 6)
    )


def _fitted_methods_leave_everything_unchanged(
    est, rng, variant, groups, mixtures=None
):
    if variant == "readonly":
        prepare(est, "readonly")  # fitted arrays read-only too: methods must cope
    X = prepare(rng.randn(groups.size, 2), variant)
    groups = prepare(groups, variant)
    calls = [
        ("transform", (X,), {"sample_domain": groups}),
        ("score", (X,), {}),
        ("score_samples", (X,), {}),
        ("predict", (X,), {}),
        ("predict_proba", (X,), {}),
        ("bic", (X,), {}),
        ("aic", (X,), {}),
        ("sample", (5,), {}),
        ("to_gaussian_mixture", (), {}),
    ]
    if mixtures is not None:
        calls.append(("score", (mixtures,), {}))
    for name, args, kwargs in calls:
        out = assert_unchanged(getattr(est, name), *args, watch=est, **kwargs)
        for res in _all_arrays(out if isinstance(out, tuple) else [out]):
            for arr in _all_arrays(est):
                assert not np.shares_memory(res, arr), name


FLOW_CASES = {
    "gradient-gm-source": lambda rng, v: (
        GMMOTFlow(prepare(make_random_gmm(2, 2, random_state=rng), v), tol=1e-3),
        (prepare(_fitted_gm(rng), v),),
        {},
    ),
    "geodesic-rand-samples-target": lambda rng, v: (
        GMMOTFlow(
            prepare(rng.randn(40, 2) + 3.0, v),
            method="geodesic",
            transport="rand",
            n_components=2,
            gmm=GaussianMixture(2, covariance_type="spherical"),
            random_state=0,
        ),
        (prepare(rng.randn(40, 2), v),),
        {},
    ),
    "gradient-sample-domain": lambda rng, v: (
        GMMOTFlow(n_components=2, flow=["means", "weights"], tol=1e-3, random_state=0),
        (prepare(np.vstack([rng.randn(30, 2), rng.randn(30, 2) + 3.0]), v),),
        {"sample_domain": prepare(np.repeat([1, -1], 30), v)},
    ),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", list(FLOW_CASES))
def test_flow(rng, case, variant):
    est, args, kwargs = FLOW_CASES[case](rng, variant)
    params_before = snapshot(est.get_params(deep=True))
    assert_unchanged(est.fit, *args, **kwargs)
    assert snapshot(est.get_params(deep=True)) == params_before
    if "sample_domain" in kwargs:
        assert_unchanged(est.fit_transform, *args, **kwargs)
        assert snapshot(est.get_params(deep=True)) == params_before
    if variant == "readonly":
        prepare(est, "readonly")
    X = prepare(rng.randn(7, 2), variant)
    calls = [
        ("transform", (X,), {}),
        ("transform", (X, 0.3), {}),
        ("inverse_transform", (X,), {}),
        ("mixture_at", (0.6,), {}),
    ]
    for name, call_args, call_kwargs in calls:
        out = assert_unchanged(getattr(est, name), *call_args, watch=est, **call_kwargs)
        for res in _all_arrays([out]):
            for arr in _all_arrays(est):
                assert not np.shares_memory(res, arr), name


def test_plotting_estimators_leave_them_unchanged(rng):
    bary = GMMOTBarycenter(2, random_state=0).fit(make_gmm_family(2, random_state=rng))
    source, target = make_gmm_family(2, random_state=rng)
    flow = _quiet(GMMOTFlow(target, n_steps=5).fit, source)
    for fn, est in [
        (plot_barycenter, bary),
        (plot_loss, bary),
        (plot_flow, flow),
        (plot_loss, flow),
        (plot_gmm, bary),
    ]:
        prepare(est, "readonly")
        _, ax = plt.subplots()
        assert_unchanged(fn, est, ax, watch=est)
        plt.close("all")
