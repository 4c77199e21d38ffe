"""Hostile inputs for ``skgmmot.GMMOTFlow``, one class per method.

The catalogue of malformed mixtures and sample arrays and the runner are in
conftest.py. A mixture goes into ``fit`` (the source) and into the ``target``
parameter; sample arrays go into ``fit``, ``fit_transform``, ``transform``
and ``inverse_transform``; times into ``transform`` and ``mixture_at``.
"""

import functools
import re
from typing import ClassVar

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture

from skgmmot import GMMOTFlow
from skgmmot.datasets import make_random_gmm


def _result(flow):
    return (
        flow.means_path_,
        flow.covariances_path_,
        flow.weights_path_,
        flow.plan_,
        flow.loss_curve_,
    )


#: X in fit may also be samples: objects that are no mixture go that way and
#: get scikit-learn's messages for samples.
SOURCE_AS_SAMPLES = {
    "obj-none": (ValueError, "Expected 2D array, got scalar array"),
    "obj-string": (ValueError, "could not convert string to float"),
    # 3 rows of means are 3 valid samples (a 3-component mixture is fitted).
    "obj-means-array": "valid",
}


class TestFitSource:
    """``fit(source)``: the source mixture (positive definite covariances)."""

    slots: ClassVar[dict] = {
        "source": {
            "kind": "object",
            "paths": (("X",),),
            "name": "source mixture",
            "dims": "target mixture",
            "pd": True,
            "override": SOURCE_AS_SAMPLES,
        },
    }

    @staticmethod
    def build(rng, d):
        return {
            "X": make_random_gmm(3, d, random_state=rng),
            "target": make_random_gmm(3, d, random_state=rng),
        }

    @staticmethod
    def call(a):
        return _result(GMMOTFlow(a["target"], method="geodesic").fit(a["X"]))

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)

    @pytest.mark.parametrize(
        ("flow", "token"),
        [
            (("means", "foo"), "flow"),
            ((), "flow"),
            (("means", "means"), "flow"),
            ("means", "flow"),
        ],
    )
    def test_bad_flow_parameter(self, rng, hostile, flow, token):
        a = self.build(rng, 2)
        with hostile.raises(ValueError, match=hostile.names(token)):
            GMMOTFlow(a["target"], flow=flow).fit(a["X"])


class TestTarget:
    """The ``target`` parameter given as a mixture."""

    slots: ClassVar[dict] = {
        "target": {
            "kind": "object",
            "paths": (("target",),),
            "name": "target mixture",
            "dims": "target mixture",
            "override": {
                # None is the default: the source is its own target.
                "obj-none": "valid",
                # A string is neither a mixture nor samples (declared constraint).
                "obj-string": (ValueError, "target"),
                # An array is samples (a 3-component mixture is fitted).
                "obj-means-array": "valid",
            },
        },
    }

    build = staticmethod(TestFitSource.build)
    call = staticmethod(TestFitSource.call)

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)


@functools.cache
def _fitted(seed, method):
    # Fitted once per seed: no method modifies the estimator (test_no_mutation).
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(40, 2), rng.randn(40, 2) + 4.0])
    labels = np.repeat([1, -1], 40)
    flow = GMMOTFlow(n_components=2, method=method, tol=1e-3, random_state=0)
    return flow.fit(X, sample_domain=labels), X, labels


def _fitted_flow(rng, method="geodesic"):
    flow, X, labels = _fitted(rng.randint(2**31 - 1), method)
    return flow, X.copy(), labels.copy()


class TestSampleArrays:
    """Every method taking samples, fed malformed sample arrays."""

    sample_methods: ClassVar[list] = [
        "fit",
        "fit_transform",
        "transform",
        "inverse_transform",
    ]

    def test_malformed_samples(self, hostile, rng, method, samples_case):
        flow, X, _ = _fitted_flow(rng)

        def call(method, value):
            if method in ("fit", "fit_transform"):
                est = GMMOTFlow(n_components=1, method="geodesic", random_state=0)
                out = getattr(est, method)(value)
                return _result(out) if method == "fit" else out
            return getattr(flow, method)(value)

        if method in ("fit", "fit_transform") and samples_case == "other-features":
            # Any number of features is valid when fitting.
            hostile.assert_finite(call(method, np.hstack([X, X[:, :1]])))
            return
        hostile.run_samples_case(method, samples_case, X[:6], call)

    @pytest.mark.parametrize("method", ["geodesic", "gradient"])
    @pytest.mark.parametrize(
        "t", [-0.1, 1.5, np.nan, np.inf, "0.5", None, True, [0.5], 1j]
    )
    def test_bad_time(self, rng, hostile, method, t):
        flow, X, _ = _fitted_flow(rng, method)
        with hostile.raises(ValueError, match=hostile.names("t")):
            flow.transform(X[:3], t)
        with hostile.raises(ValueError, match=hostile.names("t")):
            flow.mixture_at(t)

    @pytest.mark.parametrize(
        ("t", "same_as"), [(np.float32(0.5), 0.5), (1, 1.0), (np.int64(0), 0.0)]
    )
    def test_numeric_times_convert(self, rng, hostile, t, same_as):
        flow, X, _ = _fitted_flow(rng)
        hostile.assert_same(flow.transform(X[:3], t), flow.transform(X[:3], same_as))
        hostile.assert_same(flow.mixture_at(t).means_, flow.mixture_at(same_as).means_)

    @pytest.mark.parametrize(
        ("labels", "message"),
        [
            ("float", "one integer label per sample"),
            ("short", "one integer label per sample"),
            ("strings", "one integer label per sample"),
            ("none-entry", r"one integer label per sample.*sample_domain\[1\] is None"),
            ("mixed", r"one integer label per sample.*sample_domain\[40\] is 'a'"),
            ("all-source", "some rows as source"),
            ("all-target", "some rows as source"),
        ],
    )
    def test_bad_sample_domain(self, rng, hostile, labels, message):
        _, X, sd = _fitted_flow(rng)
        labels = {
            "float": sd.astype(float),
            "short": sd[:-1],
            "strings": sd.astype(str),
            "none-entry": np.array([sd[0], None, *sd[2:]], dtype=object),
            "mixed": np.array([*sd[:40], *["a"] * 40], dtype=object),
            "all-source": np.ones_like(sd),
            "all-target": -np.ones_like(sd),
        }[labels]
        with hostile.raises(ValueError, match=message):
            GMMOTFlow(n_components=1).fit(X, sample_domain=labels)
        if labels.shape == sd.shape and labels.dtype.kind in "iu":
            return
        flow, _, _ = _fitted_flow(rng)
        with hostile.raises(ValueError, match=message):
            flow.transform(X, sample_domain=labels)

    @pytest.mark.parametrize("where", ["source", "target", "target parameter"])
    @pytest.mark.parametrize("gmm", [None, GaussianMixture(3)])
    def test_too_few_samples_named(self, rng, hostile, where, gmm):
        # Issue 14.11: scikit-learn's message named neither the mixture nor
        # the parameter. Labels: 40 source rows (1), then 40 target rows (-1).
        _, X, sd = _fitted_flow(rng)
        flow = GMMOTFlow(n_components=3, gmm=gmm)
        rows = {"source": np.r_[0, 1, 40:80], "target": np.r_[0:42]}.get(where)
        parameter = "n_components" if gmm is None else "gmm.n_components"
        message = (
            f"{where.split()[0]} mixture: 2 samples, fewer than the 3 needed to "
            f"fit a mixture of 3 components ({parameter})."
        )
        with hostile.raises(ValueError, match=re.escape(message)):
            if rows is None:
                flow.set_params(target=X[40:42]).fit(X[:40])
            else:
                flow.fit(X[rows], sample_domain=sd[rows])

    def test_target_twice(self, rng, hostile):
        _, X, sd = _fitted_flow(rng)
        with hostile.raises(ValueError, match="either as the target parameter"):
            GMMOTFlow(X[40:], n_components=1).fit(X, sample_domain=sd)


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("transform", (np.zeros((3, 2)),)),
        ("inverse_transform", (np.zeros((3, 2)),)),
        ("mixture_at", (0.5,)),
    ],
)
def test_unfitted_estimator_raises_not_fitted(hostile, method, args):
    with hostile.raises(NotFittedError, match="GMMOTFlow"):
        getattr(GMMOTFlow(), method)(*args)


class TestStaleStateAfterSetParams:
    """Issue 14.3: a fit must belong to the parameters it was fitted with.

    Fitted with ``method="gradient"``, then ``set_params(method="geodesic")``,
    ``transform`` used the gradient path as if it were the geodesic one.
    """

    @staticmethod
    def _fitted(method):
        target = make_random_gmm(2, 2, random_state=1)
        return GMMOTFlow(target, method=method, learning_rate=1.0, n_steps=5).fit(
            make_random_gmm(3, 2, random_state=0)
        )

    @pytest.mark.parametrize(
        ("fitted", "changed"), [("gradient", "geodesic"), ("geodesic", "gradient")]
    )
    @pytest.mark.parametrize("call", ["transform", "inverse_transform", "mixture_at"])
    def test_method_changed_after_fit_asks_for_refit(self, fitted, changed, call):
        flow = self._fitted(fitted)
        flow.set_params(method=changed)
        args = (0.5,) if call == "mixture_at" else (np.zeros((2, 2)),)
        refit = rf"fitted with method='{fitted}'; .* method='{changed}'. Call fit"
        with pytest.raises(NotFittedError, match=refit):
            getattr(flow, call)(*args)

    @pytest.mark.parametrize(
        "params",
        [{"n_steps": 7}, {"learning_rate": 0.5}, {"ot_solver": "sinkhorn"}],
    )
    def test_other_fit_parameters_ask_for_refit(self, params):
        flow = self._fitted("gradient")
        flow.set_params(**params)
        with pytest.raises(NotFittedError, match="Call fit again"):
            flow.transform(np.zeros((2, 2)))

    def test_call_time_parameters_and_refit(self):
        flow = self._fitted("gradient")
        x = np.random.RandomState(0).randn(4, 2)
        flow.set_params(transport="rand", random_state=3, verbose=0)
        flow.transform(x)  # read at each call: no refit needed
        flow.set_params(method="geodesic", transport="bary", random_state=None)
        flow.fit(make_random_gmm(3, 2, random_state=0))
        fresh = self._fitted("geodesic")
        np.testing.assert_array_equal(flow.transform(x), fresh.transform(x))


class TestFarAwayPoints:
    """Issue 14.5: ``transform`` mapped |x| >= ~1e155 to exactly 0."""

    @pytest.mark.parametrize("method", ["gradient", "geodesic"])
    @pytest.mark.parametrize("call", ["transform", "inverse_transform"])
    @pytest.mark.parametrize("far", [1e155, 1e200, 1e300])
    def test_coordinates_beyond_1e100_are_refused(self, method, call, far):
        flow = GMMOTFlow(
            make_random_gmm(2, 2, random_state=1), method=method, learning_rate=1.0
        ).fit(make_random_gmm(3, 2, random_state=0))
        x = np.array([[0.0, 0.0], [far, 0.0]])
        with pytest.raises(ValueError, match=r"X has entries of magnitude up to"):
            getattr(flow, call)(x)

    def test_far_but_representable_points_move(self):
        flow = GMMOTFlow(make_random_gmm(2, 2, random_state=1), learning_rate=1.0).fit(
            make_random_gmm(3, 2, random_state=0)
        )
        out = flow.transform(np.array([[1e99, 0.0]]))
        assert np.all(np.isfinite(out)) and np.abs(out).max() > 1e98


class TestSingularTargets:
    """Issue 14.9: a singular target gave bare LinAlgErrors after fit."""

    @staticmethod
    def _target(kind, d):
        covs = np.zeros((2, d, d))
        if kind == "rank-deficient":
            covs[:, 0, 0] = 1.0
        return (np.random.RandomState(0).randn(2, d), covs, np.array([0.5, 0.5]))

    @pytest.mark.parametrize("method", ["gradient", "geodesic"])
    @pytest.mark.parametrize("d", [1, 2, 3])
    def test_dirac_target(self, method, d):
        flow = GMMOTFlow(
            self._target("zero", d), method=method, learning_rate=1.0, n_steps=5
        ).fit(make_random_gmm(3, d, random_state=0))
        out = flow.transform(np.zeros((2, d)))  # maps into a Dirac: fine
        assert np.all(np.isfinite(out))
        with pytest.raises(ValueError, match=r"mixture_at\(1\): covariances\[0\] is"):
            flow.mixture_at(1.0)
        with pytest.raises(ValueError, match=r"covariances\[0\] is not positive def"):
            flow.inverse_transform(out)

    @pytest.mark.parametrize("method", ["gradient", "geodesic"])
    def test_rank_deficient_target(self, method):
        flow = GMMOTFlow(
            self._target("rank-deficient", 3), method=method, learning_rate=1.0
        ).fit(make_random_gmm(3, 3, random_state=0))
        np.linalg.cholesky(flow.mixture_at(1.0).covariances_)
        out = flow.transform(np.zeros((2, 3)))
        assert np.all(np.isfinite(out))
        with pytest.raises(ValueError, match="non-singular covariances"):
            flow.inverse_transform(out)
