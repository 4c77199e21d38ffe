"""Hostile inputs for ``skgmmot.gmm_ot_plan_density``.

The catalogue of malformed mixtures and the runner are in conftest.py.
"""

from typing import ClassVar

import numpy as np

from skgmmot import gmm_ot_plan_density
from skgmmot.datasets import make_random_gmm


class TestGmmOtPlanDensity:
    slots: ClassVar[dict] = {
        "source": {
            "kind": "split",
            "paths": (("m_s",), ("C_s",), ("w_s",)),
            "name": "source mixture",
            "fields": ("m_s", "C_s", "w_s"),
            "dims": "source and target mixtures",
            "pd": True,
        },
        "target": {
            "kind": "split",
            "paths": (("m_t",), ("C_t",), ("w_t",)),
            "name": "target mixture",
            "fields": ("m_t", "C_t", "w_t"),
            "dims": "source and target mixtures",
        },
    }

    #: The embedded density has an extra factor N(0; 0, 1) = 1 / sqrt(2 pi)
    #: (the extra coordinate of x is 0, and so are its image and that of y).
    embedded_factor = np.sqrt(2.0 * np.pi)

    @staticmethod
    def build(rng, d):
        m_s, C_s, w_s = make_random_gmm(3, d, random_state=rng)
        m_t, C_t, w_t = make_random_gmm(3, d, random_state=rng)
        return dict(
            x=rng.randn(5, d),
            y=m_t[rng.randint(3, size=4)] + rng.randn(4, d),
            m_s=m_s,
            m_t=m_t,
            C_s=C_s,
            C_t=C_t,
            w_s=w_s,
            w_t=w_t,
        )

    @staticmethod
    def call(a):
        # A wide tolerance, so that many pairs count and results are not all 0.
        return gmm_ot_plan_density(
            a["x"],
            a["y"],
            a["m_s"],
            a["m_t"],
            a["C_s"],
            a["C_t"],
            a["w_s"],
            a["w_t"],
            atol=3.0,
        )

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_malformed_points(self, hostile, rng, points_case):
        hostile.run_points_case(self, points_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)
