"""Hostile arguments for ``skgmmot.datasets``: one class per function.

The generators take no mixture: their malformed inputs are counts, choices,
scales and centres. Each must raise a ValueError naming the argument, or be
converted as documented (numpy integers, integer-valued arrays).
"""

import numpy as np
import pytest

from skgmmot.datasets import make_gmm_family, make_random_gmm

BAD_COUNTS = [0, -1, 2.5, "3", None, True, np.nan]

BAD_SCALES = [-1.0, np.nan, np.inf, "1", True]


def _family_bad():
    cases = [({"n_mixtures": v}, "n_mixtures") for v in BAD_COUNTS]
    cases += [({"n_features": v}, "n_features") for v in BAD_COUNTS]
    cases += [
        ({"n_components": 0}, "n_components[0]"),
        ({"n_components": [2, 0]}, "n_components[1]"),
        ({"n_components": [2, 2, 2]}, "n_components"),
        ({"n_components": [2, 2.5]}, "n_components[1]"),
        ({"n_components": "3"}, "n_components"),
        ({"n_components": None}, "n_components"),
        ({"style": "sklearn"}, "style"),
        ({"style": None}, "style"),
        ({"weights": "dirichlet"}, "weights"),
        ({"weights": [0.5, 0.5]}, "weights"),
        ({"centers": np.zeros((3, 2))}, "centers"),
        ({"centers": np.zeros(2)}, "centers"),
        ({"centers": [[0.0, np.nan], [0.0, 0.0]]}, "centers"),
        ({"centers": [["a", "b"], ["c", "d"]]}, "centers"),
        ({"spread": [1.0, 2.0, 3.0]}, "spread"),
        ({"covariance_scale": [1.0]}, "covariance_scale"),
        # scikit-learn's check_random_state names the value, not the argument.
        ({"random_state": "seed"}, "'seed' cannot be used to seed"),
    ]
    cases += [({"spread": v}, "spread") for v in BAD_SCALES]
    cases += [({"covariance_scale": v}, "covariance_scale") for v in BAD_SCALES]
    cases += [({"min_eigenvalue": v}, "min_eigenvalue") for v in BAD_SCALES]
    return cases


def _gmm_bad():
    cases = [({"n_components": v}, "n_components") for v in BAD_COUNTS]
    cases += [({"n_features": v}, "n_features") for v in BAD_COUNTS]
    cases += [
        ({"style": "sklearn"}, "style"),
        ({"style": 1}, "style"),
        ({"weights": "dirichlet"}, "weights"),
        ({"weights": np.ones(3) / 3}, "weights"),
        ({"center": [0.0, 0.0, 0.0]}, "center"),
        ({"center": [[0.0, 0.0]]}, "center"),
        ({"center": [0.0, np.inf]}, "center"),
        ({"center": "origin"}, "center"),
        # scikit-learn's check_random_state names the value, not the argument.
        ({"random_state": "seed"}, "'seed' cannot be used to seed"),
    ]
    cases += [({"spread": v}, "spread") for v in BAD_SCALES]
    cases += [({"covariance_scale": v}, "covariance_scale") for v in BAD_SCALES]
    cases += [({"min_eigenvalue": v}, "min_eigenvalue") for v in BAD_SCALES]
    return cases


def _ids(cases):
    return [f"{next(iter(kw))}={next(iter(kw.values()))!r}"[:40] for kw, _ in cases]


class TestMakeRandomGmm:
    @pytest.mark.parametrize(("kwargs", "token"), _gmm_bad(), ids=_ids(_gmm_bad()))
    def test_bad_argument(self, hostile, kwargs, token):
        args = {"n_components": 3, "n_features": 2, "random_state": 0} | kwargs
        with hostile.raises(ValueError, match=hostile.names(token)):
            make_random_gmm(**args)

    @pytest.mark.parametrize(
        ("kwargs", "same_as"),
        [
            ({"n_components": np.int64(3)}, {"n_components": 3}),
            ({"n_features": np.int32(2)}, {"n_features": 2}),
            ({"center": [1, 2]}, {"center": np.array([1.0, 2.0])}),
            ({"center": 1}, {"center": [1.0, 1.0]}),
            ({"spread": 2}, {"spread": 2.0}),
            ({"random_state": np.int64(5)}, {"random_state": 5}),
        ],
    )
    def test_conversions(self, hostile, kwargs, same_as):
        base = {"n_components": 3, "n_features": 2, "random_state": 0}
        hostile.assert_same(
            make_random_gmm(**base | kwargs), make_random_gmm(**base | same_as)
        )

    def test_one_component_one_feature(self, hostile):
        m, C, w = make_random_gmm(1, 1, random_state=0)
        assert (m.shape, C.shape, w.tolist()) == ((1, 1), (1, 1, 1), [1.0])
        hostile.assert_finite((m, C))
        assert C[0, 0, 0] > 0


class TestMakeGmmFamily:
    @pytest.mark.parametrize(
        ("kwargs", "token"), _family_bad(), ids=_ids(_family_bad())
    )
    def test_bad_argument(self, hostile, kwargs, token):
        args = {"n_mixtures": 2, "random_state": 0} | kwargs
        with hostile.raises(ValueError, match=hostile.names(token)):
            make_gmm_family(**args)

    @pytest.mark.parametrize(
        ("kwargs", "same_as"),
        [
            ({"n_mixtures": np.int64(2)}, {"n_mixtures": 2}),
            ({"n_components": (2, 3)}, {"n_components": [2, 3]}),
            ({"n_components": np.array([2, 3])}, {"n_components": [2, 3]}),
            ({"centers": [[0, 1], [2, 3]]}, {"centers": np.arange(4.0).reshape(2, 2)}),
            ({"spread": (1, 2)}, {"spread": [1.0, 2.0]}),
        ],
    )
    def test_conversions(self, hostile, kwargs, same_as):
        base = {"n_mixtures": 2, "random_state": 0}
        out = make_gmm_family(**base | kwargs)
        ref = make_gmm_family(**base | same_as)
        assert len(out) == len(ref) == 2
        for a, b in zip(out, ref, strict=True):
            hostile.assert_same(a, b)
