"""Hostile inputs for ``skgmmot.gmm_pdf``.

The catalogue of malformed mixtures and the runner are in conftest.py.
"""

from typing import ClassVar

import numpy as np

from skgmmot import gmm_pdf
from skgmmot.datasets import make_random_gmm


class TestGmmPdf:
    slots: ClassVar[dict] = {
        "mixture": {
            "kind": "split",
            "paths": (("m",), ("C",), ("w",)),
            "name": "mixture",
            "fields": ("m", "C", "w"),
            "pd": True,
            # A mixture in another dimension than the points: x is named.
            "override": {"other-dimension": (ValueError, "x")},
        },
    }

    #: gmm_pdf takes points of any shape (..., d).
    points_override: ClassVar[dict] = {
        "1d": "converts",
        "3d": "converts",
        "scalar": r"x must have shape \(\.\.\., 2\), got shape \(\)",
        "none": r"x must have shape \(\.\.\., 2\), got shape \(\)",
    }

    #: The embedded density has an extra factor N(0; 0, 1) = 1 / sqrt(2 pi).
    embedded_factor = np.sqrt(2.0 * np.pi)

    @staticmethod
    def build(rng, d):
        m, C, w = make_random_gmm(3, d, random_state=rng)
        return dict(x=rng.randn(5, d), m=m, C=C, w=w)

    @staticmethod
    def call(a):
        return gmm_pdf(a["x"], a["m"], a["C"], a["w"])

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_malformed_points(self, hostile, rng, points_case):
        hostile.run_points_case(self, points_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)
