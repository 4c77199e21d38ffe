"""Hostile inputs for ``skgmmot.pairwise_gmm_ot_distances``.

The catalogue of malformed mixtures and the runner are in conftest.py.
"""

from typing import ClassVar

import numpy as np
import pytest

from skgmmot import pairwise_gmm_ot_distances
from skgmmot.datasets import make_random_gmm


class TestPairwiseGmmOtDistances:
    slots: ClassVar[dict] = {
        "mixtures[1]": {
            "kind": "object",
            "paths": (("mixtures", 1),),
            "name": "mixtures[1]",
            "dims": "mixtures[1]",
        },
        "Y[0]": {
            "kind": "object",
            "paths": (("Y", 0),),
            "name": "Y[0]",
            "dims": "Y[0]",
        },
    }

    @staticmethod
    def build(rng, d):
        return {
            "mixtures": [make_random_gmm(3, d, random_state=rng) for _ in range(3)],
            "Y": [make_random_gmm(3, d, random_state=rng) for _ in range(2)],
        }

    @staticmethod
    def call(a):
        return (
            pairwise_gmm_ot_distances(a["mixtures"]),
            pairwise_gmm_ot_distances(a["mixtures"], a["Y"], squared=True),
        )

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)

    @pytest.mark.parametrize(
        ("key", "value", "token"),
        [
            ("mixtures", [], "mixtures"),
            ("mixtures", "gmm", "mixtures"),
            ("mixtures", np.zeros((3, 2)), "mixtures"),
            ("mixtures", None, "mixtures"),
            ("Y", [], "Y"),
            ("Y", np.zeros((3, 2)), "Y"),
        ],
    )
    def test_not_a_sequence_of_mixtures(self, rng, hostile, key, value, token):
        a = self.build(rng, 2)
        a[key] = value
        with hostile.raises(ValueError, match=hostile.names(token)):
            self.call(a)
