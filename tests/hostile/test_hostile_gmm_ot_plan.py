"""Hostile inputs for ``skgmmot.gmm_ot_plan``.

The catalogue of malformed mixtures and the runner are in conftest.py.
"""

from typing import ClassVar

from skgmmot import gmm_ot_plan
from skgmmot.datasets import make_random_gmm


class TestGmmOtPlan:
    slots: ClassVar[dict] = {
        "source": {
            "kind": "split",
            "paths": (("m_s",), ("C_s",), ("w_s",)),
            "name": "source mixture",
            "fields": ("m_s", "C_s", "w_s"),
            "dims": "source and target mixtures",
            "pd": False,
        },
        "target": {
            "kind": "split",
            "paths": (("m_t",), ("C_t",), ("w_t",)),
            "name": "target mixture",
            "fields": ("m_t", "C_t", "w_t"),
            "dims": "source and target mixtures",
        },
    }

    @staticmethod
    def build(rng, d):
        m_s, C_s, w_s = make_random_gmm(3, d, random_state=rng)
        m_t, C_t, w_t = make_random_gmm(3, d, random_state=rng)
        return dict(
            x=rng.randn(5, d), m_s=m_s, m_t=m_t, C_s=C_s, C_t=C_t, w_s=w_s, w_t=w_t
        )

    @staticmethod
    def call(a):
        return gmm_ot_plan(a["m_s"], a["m_t"], a["C_s"], a["C_t"], a["w_s"], a["w_t"])

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)
