"""Hostile inputs for ``skgmmot.gmm_barycenter_fixed_point``.

The catalogue of malformed mixtures and the runner are in conftest.py.
"""

from typing import ClassVar

import numpy as np

from skgmmot import gmm_barycenter_fixed_point
from skgmmot.datasets import make_random_gmm


class TestGmmBarycenterFixedPoint:
    slots: ClassVar[dict] = {
        f"input{k}": {
            "kind": "split",
            "paths": (("means_list", k), ("covs_list", k), ("w_list", k)),
            "name": f"input mixture {k}",
            "fields": (f"means_list[{k}]", f"covs_list[{k}]", f"w_list[{k}]"),
            "dims": "input mixtures",
        }
        for k in (0, 1)
    } | {
        # w_bar (the initial barycenter's weights) is named on its own.
        "init": {
            "kind": "split",
            "paths": (("means_init",), ("covs_init",), ("w_bar",)),
            "name": "initial barycenter",
            "fields": ("means_init", "covs_init", "w_bar"),
            "unnamed": "w",
            "dims": "barycenter",
        },
    }

    @staticmethod
    def build(rng, d):
        mixtures = [make_random_gmm(3, d, random_state=rng) for _ in range(3)]
        init = make_random_gmm(3, d, random_state=rng)
        return dict(
            means_list=[m[0] for m in mixtures],
            covs_list=[m[1] for m in mixtures],
            w_list=[m[2] for m in mixtures],
            means_init=init[0],
            covs_init=init[1],
            weights=np.array([0.2, 0.3, 0.5]),
            w_bar=init[2],
        )

    @staticmethod
    def call(a):
        return gmm_barycenter_fixed_point(
            a["means_list"],
            a["covs_list"],
            a["w_list"],
            a["means_init"],
            a["covs_init"],
            a["weights"],
            w_bar=a["w_bar"],
            iterations=5,
        )

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)
