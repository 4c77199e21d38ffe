"""Hostile inputs for ``skgmmot.plotting``: one class per function.

``plot_gmm`` takes a mixture and runs the whole catalogue of conftest.py;
``plot_barycenter``, ``plot_flow`` and ``plot_loss`` take a fitted estimator
and are fed unfitted ones, fitted ones of the wrong kind and non-estimators.
Argument checks (``dims``, ``nstd``, ``steps``, ...) are in test_plotting.py.
"""

from typing import ClassVar

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Ellipse
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture

from skgmmot import GMMOTBarycenter, GMMOTFlow
from skgmmot.datasets import make_gmm_family, make_random_gmm
from skgmmot.plotting import plot_barycenter, plot_flow, plot_gmm, plot_loss


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class TestPlotGmm:
    slots: ClassVar[dict] = {
        "mixture": {
            "kind": "object",
            "paths": (("mixture",),),
            "name": "mixture",
            # dims picks two features: a mixture in 3-D is drawn projected.
            "override": {"other-dimension": "valid"},
        },
    }

    @staticmethod
    def build(rng, d):
        return {"mixture": make_random_gmm(3, d, random_state=rng)}

    @staticmethod
    def call(a):
        _, ax = plt.subplots()
        plot_gmm(a["mixture"], ax, nstd=1.0, alpha=0.5)
        ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
        out = np.array(
            [
                (*e.center, e.width, e.height, np.cos(np.radians(2 * e.angle)))
                for e in ellipses
            ]
        )
        plt.close(ax.figure)
        return out

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_dimension_one(self, rng, hostile):
        with hostile.raises(ValueError, match="at least 2 features"):
            self.call(self.build(rng, 1))


def _barycenter():
    return GMMOTBarycenter(2, random_state=0).fit(make_gmm_family(2, random_state=0))


def _flow():
    source, target = make_gmm_family(2, random_state=0)
    return GMMOTFlow(target, method="geodesic").fit(source)


def _gm():
    return GaussianMixture(2, random_state=0).fit(np.random.RandomState(0).randn(50, 2))


#: id -> (estimator factory, exception class, regex) for each plotting function.
ESTIMATORS = {
    "unfitted-barycenter": GMMOTBarycenter,
    "unfitted-flow": GMMOTFlow,
    "unfitted-gm": GaussianMixture,
    "fitted-gm": _gm,
    "fitted-barycenter": _barycenter,
    "fitted-flow": _flow,
    "none": lambda: None,
    "string": lambda: "estimator",
    "mixture-tuple": lambda: make_random_gmm(2, 2, random_state=0),
}

NOT_AN_ESTIMATOR = (TypeError, "is not an estimator instance")

EXPECTED = {
    plot_barycenter: {
        "unfitted-barycenter": (NotFittedError, "GMMOTBarycenter instance is not"),
        "unfitted-flow": (NotFittedError, "GMMOTFlow instance is not fitted"),
        "unfitted-gm": (NotFittedError, "GaussianMixture instance is not"),
        "fitted-gm": (ValueError, "GaussianMixture has no mixtures_, domains_"),
        "fitted-barycenter": None,
        "fitted-flow": (ValueError, "GMMOTFlow has no mixtures_, domains_"),
    },
    plot_flow: {
        "unfitted-barycenter": (NotFittedError, "GMMOTBarycenter instance is not"),
        "unfitted-flow": (NotFittedError, "GMMOTFlow instance is not fitted"),
        "unfitted-gm": (NotFittedError, "GaussianMixture instance is not"),
        "fitted-gm": (ValueError, "GaussianMixture has no means_path_"),
        "fitted-barycenter": (ValueError, "GMMOTBarycenter has no means_path_"),
        "fitted-flow": None,
    },
    plot_loss: {
        "unfitted-barycenter": (NotFittedError, "GMMOTBarycenter instance is not"),
        "unfitted-flow": (NotFittedError, "GMMOTFlow instance is not fitted"),
        "unfitted-gm": (NotFittedError, "GaussianMixture instance is not"),
        "fitted-gm": (ValueError, "neither cost_curve_ nor loss_curve_"),
        "fitted-barycenter": None,
        "fitted-flow": None,
    },
}


def _estimator_cases(func):
    return [
        pytest.param(key, EXPECTED[func].get(key, NOT_AN_ESTIMATOR), id=key)
        for key in ESTIMATORS
    ]


def _check(hostile, func, key, expected):
    _, ax = plt.subplots()
    estimator = ESTIMATORS[key]()
    if expected is None:
        assert func(estimator, ax) is ax
        assert ax.lines or ax.patches
        hostile.record("valid")
        return
    with hostile.raises(expected[0], match=expected[1]):
        func(estimator, ax)


class TestPlotBarycenter:
    @pytest.mark.parametrize(("key", "expected"), _estimator_cases(plot_barycenter))
    def test_estimator(self, hostile, key, expected):
        _check(hostile, plot_barycenter, key, expected)


class TestPlotFlow:
    @pytest.mark.parametrize(("key", "expected"), _estimator_cases(plot_flow))
    def test_estimator(self, hostile, key, expected):
        _check(hostile, plot_flow, key, expected)


class TestPlotLoss:
    @pytest.mark.parametrize(("key", "expected"), _estimator_cases(plot_loss))
    def test_estimator(self, hostile, key, expected):
        _check(hostile, plot_loss, key, expected)
