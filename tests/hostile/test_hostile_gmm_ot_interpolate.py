"""Hostile inputs for ``skgmmot.gmm_ot_interpolate``.

The catalogue of malformed mixtures and the runner are in conftest.py.
"""

from typing import ClassVar

import numpy as np
import pytest

from skgmmot import gmm_ot_interpolate
from skgmmot.datasets import make_random_gmm


class TestGmmOtInterpolate:
    slots: ClassVar[dict] = {
        # Maps out of the source need positive definite covariances.
        "source": {
            "kind": "object",
            "paths": (("source",),),
            "name": "source mixture",
            "dims": "source and target mixtures",
            "pd": True,
        },
        "target": {
            "kind": "object",
            "paths": (("target",),),
            "name": "target mixture",
            "dims": "source and target mixtures",
        },
    }

    @staticmethod
    def build(rng, d):
        return {
            "source": make_random_gmm(3, d, random_state=rng),
            "target": make_random_gmm(3, d, random_state=rng),
            "t": 0.3,
        }

    @staticmethod
    def call(a):
        return gmm_ot_interpolate(a["source"], a["target"], a["t"])

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)

    @pytest.mark.parametrize(
        "t", [-0.1, 1.5, np.nan, np.inf, "0.5", None, True, [0.5], 1j]
    )
    def test_bad_time(self, rng, hostile, t):
        a = self.build(rng, 2)
        a["t"] = t
        with hostile.raises(ValueError, match=hostile.names("t")):
            self.call(a)

    @pytest.mark.parametrize(
        ("t", "same_as"), [(np.float32(0.5), 0.5), (1, 1.0), (np.int64(0), 0.0)]
    )
    def test_numeric_times_convert(self, rng, hostile, t, same_as):
        a = self.build(rng, 2)
        hostile.assert_same(self.call(dict(a, t=t)), self.call(dict(a, t=same_as)))
