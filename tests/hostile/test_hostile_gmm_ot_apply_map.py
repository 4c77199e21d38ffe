"""Hostile inputs for ``skgmmot.gmm_ot_apply_map``.

The catalogue of malformed mixtures and the runner are in conftest.py.
"""

from typing import ClassVar

import numpy as np
import pytest

from skgmmot import gmm_ot_apply_map
from skgmmot.datasets import make_random_gmm


class TestGmmOtApplyMap:
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

    @staticmethod
    def build(rng, d):
        m_s, C_s, w_s = make_random_gmm(3, d, random_state=rng)
        m_t, C_t, w_t = make_random_gmm(3, d, random_state=rng)
        return dict(
            x=rng.randn(5, d), m_s=m_s, m_t=m_t, C_s=C_s, C_t=C_t, w_s=w_s, w_t=w_t
        )

    @staticmethod
    def call(a):
        bary = gmm_ot_apply_map(
            a["x"], a["m_s"], a["m_t"], a["C_s"], a["C_t"], a["w_s"], a["w_t"]
        )
        rand = gmm_ot_apply_map(
            a["x"],
            a["m_s"],
            a["m_t"],
            a["C_s"],
            a["C_t"],
            a["w_s"],
            a["w_t"],
            method="rand",
            seed=0,
        )
        return bary, rand

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_malformed_points(self, hostile, rng, points_case):
        hostile.run_points_case(self, points_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)


class TestUserPlans:
    """Plans whose rows match ``w_s`` only to the documented absolute 1e-6."""

    @staticmethod
    def _problem(w0):
        m_s = np.array([[0.0, 0.0], [50.0, 0.0]])
        m_t = np.array([[3.0, 1.0], [40.0, 5.0]])
        C = np.stack([np.eye(2), 2.0 * np.eye(2)])
        w_s = np.array([w0, 1.0 - w0])
        exact = np.diag(w_s)
        return m_s, m_t, C, w_s, exact

    @pytest.mark.parametrize("method", ["bary", "rand"])
    @pytest.mark.parametrize("w0", [1e-9, 1e-3, 0.5])
    def test_row_off_by_the_tolerance_does_not_scale_the_map(self, w0, method):
        # Issue 14.4: the map divided row 0 by w_s[0] = 1e-9 while the row
        # summed to 5e-7 more: the point moved ~500x too far.
        m_s, m_t, C, w_s, exact = self._problem(w0)
        off = exact.copy()
        off[0, 0] += 5e-7
        x = np.array([[0.5, -0.3], [1.0, 1.0]])
        ref = gmm_ot_apply_map(x, m_s, m_t, C, C, w_s, w_s, plan=exact, method=method)
        out = gmm_ot_apply_map(x, m_s, m_t, C, C, w_s, w_s, plan=off, method=method)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)

    def test_row_split_keeps_its_proportions(self):
        m_s, m_t, C, w_s, _ = self._problem(1e-9)
        plan = np.array([[0.25e-9, 0.75e-9 + 4e-7], [0.0, w_s[1]]])
        x = np.zeros((1, 2))
        out = gmm_ot_apply_map(x, m_s, m_t, C, C, w_s, w_s, plan=plan)
        # Row 0 rescaled to w_s[0] keeps the ratio 0.25e-9 : (0.75e-9 + 4e-7).
        share = 0.25e-9 / (1e-9 + 4e-7)
        expected = share * (m_t[0] + np.sqrt(1.0) * x[0]) + (1 - share) * (
            m_t[1] + np.sqrt(2.0) * x[0]
        )
        np.testing.assert_allclose(out[0], expected, rtol=1e-12)

    def test_empty_row_of_positive_weight_is_named(self):
        m_s, m_t, C, w_s, exact = self._problem(1e-9)
        plan = exact.copy()
        plan[0, 0] = 0.0
        with pytest.raises(ValueError, match=r"plan row 0 is zero.*w_s\[0\]"):
            gmm_ot_apply_map(np.zeros((1, 2)), m_s, m_t, C, C, w_s, w_s, plan=plan)

    def test_user_plan_is_not_modified(self):
        m_s, m_t, C, w_s, exact = self._problem(1e-3)
        plan = exact.copy()
        plan[0, 0] += 5e-7
        before = plan.copy()
        gmm_ot_apply_map(np.zeros((1, 2)), m_s, m_t, C, C, w_s, w_s, plan=plan)
        np.testing.assert_array_equal(plan, before)


class TestFarAwayPoints:
    """Issue 14.5: points whose squared Mahalanobis distances overflow.

    With covariances 1e-150 I, a point at 1e100 was mapped to exactly 0.
    """

    def test_one_component_source_maps_far_points_exactly(self):
        m_s, C_s = np.zeros((1, 2)), 1e-150 * np.eye(2)[None]
        m_t, C_t = np.ones((1, 2)), np.eye(2)[None]
        x = np.array([[1e100, 0.0], [0.0, -1e100]])
        out = gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, [1.0], [1.0])
        # The map x -> m_t + 1e75 (x - m_s).
        np.testing.assert_allclose(out, [[1e175, 1.0], [1.0, -1e175]], rtol=1e-14)

    def test_far_point_goes_to_the_nearest_component(self):
        # Same mean, covariances 1e-150 I and 1e-140 I: at 1e100 the second is
        # nearer by a factor 1e10 in squared Mahalanobis distance.
        m_s = np.zeros((2, 2))
        C_s = np.stack([1e-150 * np.eye(2), 1e-140 * np.eye(2)])
        m_t = np.array([[5.0, 0.0], [-5.0, 0.0]])
        C_t = np.stack([np.eye(2), np.eye(2)])
        w = np.array([0.5, 0.5])
        x = np.array([[1e100, 0.0]])
        for method in ("bary", "rand"):
            out = gmm_ot_apply_map(
                x, m_s, m_t, C_s, C_t, w, w, plan=np.diag(w), method=method, seed=0
            )
            # Component 2 (std 1e-70) to N((-5, 0), I): x -> (-5, 0) + 1e70 x.
            np.testing.assert_allclose(out, [[1e170, 0.0]], rtol=1e-14)

    def test_indistinguishable_far_point_is_named(self):
        m_s = np.array([[0.0, 0.0], [1.0, 0.0]])
        C_s = np.stack([1e-150 * np.eye(2)] * 2)
        w = np.array([0.5, 0.5])
        x = np.array([[0.0, 0.0], [1e100, 0.0]])
        with pytest.raises(ValueError, match=r"x\[1\] is too far .* source mixture"):
            gmm_ot_apply_map(x, m_s, m_s, C_s, C_s, w, w)
