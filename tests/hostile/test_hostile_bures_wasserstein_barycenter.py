"""Hostile inputs for ``skgmmot.bures_wasserstein_barycenter``.

The catalogue of malformed mixtures and the runner are in conftest.py.
"""

from typing import ClassVar

from skgmmot import bures_wasserstein_barycenter
from skgmmot.datasets import make_random_gmm


class TestBuresWassersteinBarycenter:
    slots: ClassVar[dict] = {
        # The barycentric coefficients belong to no mixture.
        "gaussians": {
            "kind": "split",
            "paths": (("m",), ("C",), ("weights",)),
            "name": "Gaussians",
            "fields": ("m", "C", "weights"),
            "unnamed": "w",
            # One set of Gaussians: any dimension is valid.
            "override": {"other-dimension": "valid"},
        },
    }

    @staticmethod
    def build(rng, d):
        m, C, w = make_random_gmm(3, d, random_state=rng)
        return dict(m=m, C=C, weights=w)

    @staticmethod
    def call(a):
        return bures_wasserstein_barycenter(a["m"], a["C"], a["weights"])

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)
