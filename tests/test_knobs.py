"""Public solver options, and warnings given once at the user's own line.

The exact solver's ``numItermax`` (a keyword of every function that solves
plans, a parameter of the estimators) and Sinkhorn's ``sinkhorn_max_iter`` and
``sinkhorn_tol`` replace the private module globals; a computation that meets
a non-converged solve many times warns once, and the warning points at the
line of the test that called skgmmot, whatever the depth of the call.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

import skgmmot
from skgmmot import (
    GMMOTBarycenter,
    GMMOTFlow,
    gmm_barycenter_fixed_point,
    gmm_ot_apply_map,
    gmm_ot_interpolate,
    gmm_ot_loss,
    gmm_ot_plan,
    gmm_ot_plan_density,
    pairwise_gmm_ot_distances,
)
from skgmmot.datasets import make_gmm_family, make_random_gmm

HERE = __file__


def _pair(k=12, seed=0):
    """Two mixtures whose k x k plan needs more than one simplex iteration."""
    rng = np.random.RandomState(seed)
    a = make_random_gmm(k, 2, random_state=rng)
    b = make_random_gmm(k, 2, center=3.0, random_state=rng)
    return a, b


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = call()
    return out, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def _functions(a, b):
    (ms, Cs, ws), (mt, Ct, wt) = a, b
    x = ms[:3] + 0.1
    return {
        "gmm_ot_loss": lambda **kw: gmm_ot_loss(ms, mt, Cs, Ct, ws, wt, **kw),
        "gmm_ot_plan": lambda **kw: gmm_ot_plan(ms, mt, Cs, Ct, ws, wt, **kw),
        "gmm_ot_apply_map": lambda **kw: gmm_ot_apply_map(
            x, ms, mt, Cs, Ct, ws, wt, **kw
        ),
        "gmm_ot_interpolate": lambda **kw: gmm_ot_interpolate(a, b, 0.5, **kw),
        "gmm_ot_plan_density": lambda **kw: gmm_ot_plan_density(
            x, x, ms, mt, Cs, Ct, ws, wt, **kw
        ),
        "gmm_barycenter_fixed_point": lambda **kw: gmm_barycenter_fixed_point(
            [ms, mt], [Cs, Ct], [ws, wt], ms, Cs, [0.5, 0.5], iterations=3, **kw
        ),
        "pairwise_gmm_ot_distances": lambda **kw: pairwise_gmm_ot_distances(
            [a, b], **kw
        ),
    }


@pytest.mark.parametrize("name", list(_functions(*_pair())))
def test_num_iter_max_is_a_keyword_of_every_exact_function(name):
    call = _functions(*_pair())[name]
    _, caught = _caught(call)
    assert caught == []  # the default limit suffices
    _, caught = _caught(lambda: call(numItermax=1))
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert "numItermax=1" in message and "Raise the limit with numItermax" in message
    assert "_transport" not in message and "EMD_MAX_ITER" not in message
    assert caught[0].filename == HERE  # the line of this test


@pytest.mark.parametrize("name", list(_functions(*_pair())))
def test_bad_num_iter_max_is_rejected(name):
    call = _functions(*_pair())[name]
    for bad in (0, -3, 2.5, True, "many"):
        with pytest.raises(ValueError, match="numItermax must be an integer"):
            call(numItermax=bad)


def test_a_large_limit_gives_the_default_result():
    a, b = _pair()
    for name, call in _functions(a, b).items():
        default = call()
        large = call(numItermax=10**7)
        if isinstance(default, tuple):
            for x, y in zip(default, large, strict=True):
                np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            np.testing.assert_array_equal(default, large, err_msg=name)


def test_the_barycenter_warns_once_per_fit_at_the_callers_line():
    mixtures = make_gmm_family(3, n_components=[6, 7, 8], random_state=0)
    bary = GMMOTBarycenter(6, numItermax=1, max_iter=5, tol=0.0, random_state=0)
    _, caught = _caught(lambda: bary.fit(mixtures))
    emd = [w for w in caught if "network simplex" in str(w.message)]
    assert len(emd) == 1
    assert "times in this call" in str(emd[0].message)
    assert all(w.filename == HERE for w in caught)


def test_sinkhorn_options_of_the_estimators():
    mixtures = make_gmm_family(3, n_components=4, random_state=1)
    params = {"ot_solver": "sinkhorn", "reg": 0.05, "random_state": 0}
    bary = GMMOTBarycenter(4, sinkhorn_max_iter=1, sinkhorn_tol=1e-14, **params)
    _, caught = _caught(lambda: bary.fit(mixtures))
    sinkhorn = [w for w in caught if "Sinkhorn did not converge" in str(w.message)]
    assert len(sinkhorn) == 1 and "in at most 1 iterations" in str(sinkhorn[0].message)
    assert "sinkhorn_max_iter" in str(sinkhorn[0].message)
    assert sinkhorn[0].filename == HERE
    # A loose tolerance is met at once: no warning, and marginals within it.
    loose = GMMOTBarycenter(4, sinkhorn_tol=1e-3, **params)
    _, caught = _caught(lambda: loose.fit(mixtures))
    assert not [w for w in caught if "Sinkhorn" in str(w.message)]
    for plan, (_, _, w) in zip(loose.plans_, loose.mixtures_, strict=True):
        assert np.linalg.norm(plan.sum(axis=0) - w) < 1e-3


def test_flow_options_and_warning_line():
    a, b = _pair(6, seed=3)
    flow = GMMOTFlow(b, numItermax=1, n_steps=3)
    _, caught = _caught(lambda: flow.fit(a))
    emd = [w for w in caught if "network simplex" in str(w.message)]
    assert len(emd) == 1 and emd[0].filename == HERE
    flow = GMMOTFlow(b, ot_solver="sinkhorn", reg=0.1, sinkhorn_max_iter=1, n_steps=3)
    _, caught = _caught(lambda: flow.fit(a))
    sinkhorn = [w for w in caught if "Sinkhorn did not converge" in str(w.message)]
    assert len(sinkhorn) == 1 and sinkhorn[0].filename == HERE


def test_warning_lands_on_the_line_calling_a_pipeline():
    _, b = _pair(6, seed=4)
    rng = np.random.RandomState(0)
    X = rng.randn(60, 2)
    pipe = make_pipeline(GMMOTFlow(b, numItermax=1, n_steps=2, random_state=0))
    _, caught = _caught(lambda: pipe.fit(X))
    assert caught and all(w.filename == HERE for w in caught)


@pytest.mark.parametrize("estimator", [GMMOTBarycenter(), GMMOTFlow()])
def test_knobs_are_parameters(estimator):
    params = estimator.get_params()
    assert params["numItermax"] is None
    assert params["sinkhorn_max_iter"] == 10000
    assert params["sinkhorn_tol"] == 1e-10
    assert clone(estimator.set_params(numItermax=5)).numItermax == 5


@pytest.mark.parametrize("cls", [GMMOTBarycenter, GMMOTFlow])
@pytest.mark.parametrize(
    "param, bad",
    [("numItermax", 0), ("sinkhorn_max_iter", 0), ("sinkhorn_tol", 0.0)],
)
def test_bad_knobs_are_rejected_by_fit(cls, param, bad):
    a, b = _pair(3)
    est = cls(**{param: bad})
    with pytest.raises(ValueError, match=param):
        est.fit([a, b] if cls is GMMOTBarycenter else a)


def test_no_warning_points_at_private_globals():
    for module in (skgmmot.ot, skgmmot._engine.transport):
        text = open(module.__file__).read()
        assert "._transport." not in text
        assert "EMD_MAX_ITER (or" not in text
