"""Hostile inputs for ``skgmmot.GMMOTBarycenter``, one class per method.

The catalogue of malformed mixtures and sample arrays and the runner are in
conftest.py. A mixture goes into ``fit`` (an item of the sequence), into the
``init`` parameter and into ``score`` (an item of the sequence); sample arrays
go into every method that takes samples.
"""

import functools
import re
import warnings
from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture

from skgmmot import GMMOTBarycenter
from skgmmot.datasets import make_batch_effect_samples, make_random_gmm


def _mixtures(rng, d, n=3):
    return [make_random_gmm(3, d, random_state=rng) for _ in range(n)]


@functools.cache
def _fitted(seed):
    # Fitted once per seed: no method modifies the estimator (test_no_mutation).
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(40, 2), rng.randn(40, 2) + 4.0])
    labels = np.repeat([0, 1], 40)
    return GMMOTBarycenter(2, random_state=0).fit(X, sample_domain=labels), X, labels


def _fitted_on_samples(rng):
    est, X, labels = _fitted(rng.randint(2**31 - 1))
    return est, X.copy(), labels.copy()


def _result(est):
    return est.means_, est.covariances_, est.weights_, est.cost_


def _not_a_mixture_in_init(token="init"):
    # init is a hyperparameter: objects that are no mixture at all fail its
    # declared constraints (InvalidParameterError, a ValueError naming init).
    return {
        case: (ValueError, token)
        for case in ("obj-dict", "obj-none", "obj-string", "obj-means-array")
    }


class TestFitMixtures:
    """``fit([mixture, ...])``: item 1 of the sequence is corrupted."""

    slots: ClassVar[dict] = {
        "mixtures[1]": {
            "kind": "object",
            "paths": (("X", 1),),
            "name": "mixtures[1]",
            "dims": "mixtures[1]",
        },
    }

    @staticmethod
    def build(rng, d):
        return {"X": _mixtures(rng, d)}

    @staticmethod
    def call(a):
        return _result(GMMOTBarycenter(2, random_state=0).fit(a["X"]))

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)

    def test_dimension_one(self, hostile, rng):
        hostile.check_dimension_one(self, rng)

    @pytest.mark.parametrize(
        ("X", "message"),
        [
            ("empty", "X is empty"),
            ("single", "X is a single mixture"),
            ("single-gm", "X is a single mixture"),
        ],
    )
    def test_not_a_sequence(self, rng, hostile, X, message):
        mixture = make_random_gmm(3, 2, random_state=rng)
        X = {
            "single": mixture,
            "single-gm": hostile.fitted(GaussianMixture, "full", 2),
            "empty": [],
        }[X]
        with hostile.raises(ValueError, match=message):
            GMMOTBarycenter(2).fit(X)

    def test_sample_domain_with_mixtures(self, rng, hostile):
        with hostile.raises(ValueError, match="sample_domain is only used"):
            GMMOTBarycenter(2).fit(_mixtures(rng, 2), sample_domain=[0, 1, 2])

    @pytest.mark.parametrize(
        ("weights", "token"),
        [
            ([1.0], "weights (one per input mixture)"),
            ([0.5, 0.5, 0.5], "weights (one per input mixture)"),
            ([1.5, -0.25, -0.25], "weights (one per input mixture)[1]"),
            ([np.nan, 0.5, 0.5], "weights (one per input mixture)"),
            (["a", "b", "c"], "weights (one per input mixture)"),
        ],
    )
    def test_bad_barycentric_weights(self, rng, hostile, weights, token):
        with hostile.raises(ValueError, match=hostile.names(token)):
            GMMOTBarycenter(2, weights=weights).fit(_mixtures(rng, 2))

    def test_too_many_components(self, rng, hostile):
        with hostile.raises(ValueError, match=r"n_components=10 is larger than"):
            GMMOTBarycenter(10).fit(_mixtures(rng, 2))


class TestInit:
    """The ``init`` parameter given as a mixture."""

    slots: ClassVar[dict] = {
        "init": {
            "kind": "object",
            "paths": (("init",),),
            "name": "init",
            "dims": "init",
            "override": {
                "one-component": (ValueError, "init", "n_components=3"),
                # A zero covariance cannot start a component (issue 14.9).
                "covs-singular": (ValueError, "init: covariances[2] is singular"),
                **_not_a_mixture_in_init(),
            },
        },
    }

    @staticmethod
    def build(rng, d):
        return {"X": _mixtures(rng, d), "init": make_random_gmm(3, d, random_state=rng)}

    @staticmethod
    def call(a):
        return _result(GMMOTBarycenter(3, init=a["init"], max_iter=100).fit(a["X"]))

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)


class TestScore:
    """``score([mixture, ...])``: minus the mean MW2² to the mixtures."""

    slots: ClassVar[dict] = {
        "X[0]": {
            "kind": "object",
            "paths": (("X", 0),),
            "name": "X[0]",
            "dims": "X[0]",
        },
    }

    @staticmethod
    def build(rng, d):
        mixtures = _mixtures(rng, d)
        est = GMMOTBarycenter(2, random_state=0).fit(mixtures)
        return {"est": est, "X": mixtures[:2]}

    @staticmethod
    def call(a):
        return a["est"].score(a["X"])

    def test_malformed_mixture(self, hostile, rng, slot, mixture_case):
        hostile.run_mixture_case(self, slot, mixture_case, rng)


SAMPLE_METHODS = [
    "fit",
    "fit_transform",
    "transform",
    "score",
    "score_samples",
    "predict",
    "predict_proba",
    "bic",
    "aic",
]


class TestSampleArrays:
    """Every method taking samples, fed malformed sample arrays."""

    sample_methods = SAMPLE_METHODS

    def test_malformed_samples(self, hostile, rng, method, samples_case):
        est, X, _ = _fitted_on_samples(rng)

        def call(method, value):
            if method in ("fit", "fit_transform"):
                out = getattr(GMMOTBarycenter(1, random_state=0), method)(value)
                return _result(out) if method == "fit" else out
            if method == "transform":
                n = len(value) if np.ndim(value) >= 1 else 1
                return est.transform(value, sample_domain=np.zeros(n, dtype=int))
            return getattr(est, method)(value)

        if method in ("fit", "fit_transform") and samples_case == "other-features":
            # Any number of features is valid when fitting.
            hostile.assert_finite(call(method, np.hstack([X, X[:, :1]])))
            return
        hostile.run_samples_case(method, samples_case, X[:6], call)

    @pytest.mark.parametrize(
        ("labels", "message"),
        [
            ("short", r"one label per sample: got shape \(79,\) for 80 samples"),
            ("2d", r"one label per sample: got shape \(80, 1\)"),
            ("nan", r"sample_domain contains NaN or infinity \(first at index 40\)"),
        ],
    )
    def test_bad_sample_domain_in_fit(self, rng, hostile, labels, message):
        _, X, sd = _fitted_on_samples(rng)
        labels = {
            "short": sd[:-1],
            "2d": sd[:, None],
            "nan": np.where(sd == 1, np.nan, 0.0),
        }[labels]
        with hostile.raises(ValueError, match=message):
            GMMOTBarycenter(2).fit(X, sample_domain=labels)

    @pytest.mark.parametrize(
        ("labels", "message"),
        [
            ("unseen", r"sample_domain has labels \[5, 6\] not seen in fit"),
            ("strings", r"sample_domain has labels \['0', '1'\] not seen in fit"),
            ("none", r"sample_domain is required: the estimator was fitted on 2"),
            ("short", r"one label per sample: got shape \(79,\) for 80 samples"),
        ],
    )
    def test_bad_sample_domain_in_transform(self, rng, hostile, labels, message):
        est, X, sd = _fitted_on_samples(rng)
        labels = {
            "unseen": sd + 5,
            "strings": sd.astype(str),
            "none": None,
            "short": sd[:-1],
        }[labels]
        est.set_params(unseen_domains="raise")  # strings raise either way
        with hostile.raises(ValueError, match=message):
            est.transform(X, sample_domain=labels)

    @pytest.mark.parametrize(
        "method", ["fit", "fit_transform", "transform", "score", "bic", "aic"]
    )
    @pytest.mark.parametrize(
        ("labels", "message"),
        [
            ("none", r"sample_domain\[3\] is None; every sample needs a group label"),
            ("nan", r"sample_domain\[3\] is nan; every sample needs a group label"),
            (
                "mixed",
                r"sample_domain\[40\] is 1 \(int\), which cannot be ordered with "
                r"sample_domain\[0\] = 'a' \(str\)",
            ),
        ],
    )
    def test_missing_or_unorderable_labels(self, rng, hostile, method, labels, message):
        # Issue 14.12: np.unique raised a bare TypeError on these object arrays.
        est, X, sd = _fitted_on_samples(rng)
        labels = np.array(
            {
                "none": [*sd[:3], None, *sd[4:]],
                "nan": [*sd[:3], np.nan, *sd[4:]],
                "mixed": ["a"] * 40 + [1] * 40,
            }[labels],
            dtype=object,
        )
        if method in ("fit", "fit_transform"):
            est = GMMOTBarycenter(2)
        with hostile.raises(ValueError, match=message):
            getattr(est, method)(X, sample_domain=labels)

    def test_labels_that_sort_with_the_first_but_not_together(self, rng, hostile):
        class Anything:
            """A label that compares with every other one."""

            def __lt__(self, other):
                return True

            __gt__ = __lt__

        _, X, _ = _fitted_on_samples(rng)
        labels = np.array([Anything()] + ["a", 1] * 39 + ["a"], dtype=object)
        with hostile.raises(ValueError, match="sample_domain holds labels that cannot"):
            GMMOTBarycenter(2).fit(X, sample_domain=labels)

    @pytest.mark.parametrize(
        "method", ["fit", "fit_transform", "transform", "score", "bic", "aic"]
    )
    @pytest.mark.parametrize("gmm", [None, GaussianMixture(2)])
    def test_group_with_too_few_samples_named(self, rng, hostile, method, gmm):
        # Issue 14.11: the group, its size and the n_components it needs are
        # named, in fit and wherever a new group gets a mixture of its own.
        est, X, sd = _fitted_on_samples(rng)
        X, sd = np.vstack([X, X[:1] + 0.5]), np.append(sd, 7)  # one sample in 7
        if method in ("fit", "fit_transform"):
            est = GMMOTBarycenter(2, gmm=gmm)
        else:
            est = clone(est).set_params(gmm=gmm, unseen_domains="fit")
            est.fit(X[:-1], sample_domain=sd[:-1])
        parameter = "n_components" if gmm is None else "gmm.n_components"
        message = (
            "group 7 has 1 samples, fewer than the 2 needed to fit its mixture of "
            f"2 components ({parameter})."
        )
        with hostile.raises(ValueError, match=re.escape(message)):
            getattr(est, method)(X, sample_domain=sd)

    def test_integer_valued_float_labels_convert(self, rng, hostile):
        est, X, sd = _fitted_on_samples(rng)
        hostile.assert_same(
            est.transform(X, sample_domain=sd.astype(float)),
            est.transform(X, sample_domain=sd),
        )

    @pytest.mark.parametrize("n_samples", [0, -1, 2.5, "3", None, True])
    def test_bad_n_samples(self, rng, hostile, n_samples):
        est, _, _ = _fitted_on_samples(rng)
        with hostile.raises(ValueError, match=hostile.names("n_samples")):
            est.sample(n_samples)

    def test_numpy_integer_n_samples_converts(self, rng, hostile):
        est, _, _ = _fitted_on_samples(rng)
        hostile.assert_same(est.sample(np.int64(4)), est.sample(4))


@pytest.mark.parametrize(
    "method",
    [
        "transform",
        "score",
        "score_samples",
        "predict",
        "predict_proba",
        "bic",
        "aic",
        "sample",
        "to_gaussian_mixture",
    ],
)
def test_unfitted_estimator_raises_not_fitted(hostile, method):
    est = GMMOTBarycenter(2)
    args = {"sample": (3,), "to_gaussian_mixture": ()}.get(method, (np.zeros((3, 2)),))
    with hostile.raises(NotFittedError, match="GMMOTBarycenter"):
        getattr(est, method)(*args)


class TestStaleStateAfterSetParams:
    """Issue 14.3: a fit must belong to the parameters it was fitted with."""

    @staticmethod
    def _fitted():
        X, groups, _ = make_batch_effect_samples(n_samples_per_group=60, random_state=0)
        return (
            GMMOTBarycenter(3, random_state=0).fit(X, sample_domain=groups),
            X,
            groups,
        )

    @pytest.mark.parametrize(
        "params", [{"n_components": 2}, {"projection": "bures"}, {"reg": 0.5}]
    )
    @pytest.mark.parametrize("call", ["transform", "score", "predict", "sample"])
    def test_fit_parameter_changed_asks_for_refit(self, params, call):
        bary, X, groups = self._fitted()
        bary.set_params(**params)
        ((name, value),) = params.items()
        with pytest.raises(
            NotFittedError, match=rf"with {name}=.*now {name}={value!r}"
        ):
            if call in ("transform", "score"):
                getattr(bary, call)(X, sample_domain=groups)
            elif call == "predict":
                bary.predict(X)
            else:
                bary.sample(3)

    def test_call_time_parameters_need_no_refit(self):
        bary, X, groups = self._fitted()
        before = bary.transform(X, sample_domain=groups)
        bary.set_params(verbose=0, n_jobs=1, unseen_domains="raise", random_state=1)
        np.testing.assert_array_equal(bary.transform(X, sample_domain=groups), before)


class TestFarAwayPoints:
    """Issue 14.5: ``predict_proba`` gave NaN rows and ``predict`` 0 at 1e160."""

    @staticmethod
    def _fitted(scale=1.0):
        means = [np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])]
        covs = np.stack([np.eye(2), 4.0 * np.eye(2)]) * scale**2
        mixtures = [(m * scale, covs, np.array([0.5, 0.5])) for m in means]
        return GMMOTBarycenter(2, random_state=0).fit(mixtures)

    @pytest.mark.parametrize("call", ["predict", "predict_proba", "score_samples"])
    def test_coordinates_beyond_1e100_are_refused(self, call):
        bary = self._fitted()
        with pytest.raises(ValueError, match=r"X has entries of magnitude up to"):
            getattr(bary, call)(np.array([[0.0, 0.0], [1e160, 0.0]]))

    def test_overflowing_distances_give_the_nearest_component(self):
        # Covariances ~1e-140: at 1e80 the squared Mahalanobis distances
        # overflow; the component with the larger covariance is nearer.
        bary = self._fitted(scale=1e-70)
        x = np.array([[1e80, 0.0], [0.0, -1e80]])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            proba = bary.predict_proba(x)
            labels = bary.predict(x)
        wide = int(np.argmax(bary.covariances_[:, 0, 0]))
        np.testing.assert_array_equal(proba, np.eye(2)[[wide, wide]])
        np.testing.assert_array_equal(labels, [wide, wide])


class TestSingularCovariances:
    """Issue 14.9: PSD-but-singular covariances gave NumPy's bare LinAlgError."""

    @staticmethod
    def _inputs(kind, d=2, seed=0):
        rng = np.random.RandomState(seed)
        covs = np.zeros((3, d, d))
        if kind == "rank-deficient":
            covs[:, 0, 0] = rng.rand(3) + 0.5
        return [(rng.randn(3, d), covs, np.full(3, 1 / 3)) for _ in range(3)]

    def test_rank_deficient_inputs_fit_but_transform_names_the_group(self):
        bary = GMMOTBarycenter(3, random_state=0).fit(self._inputs("rank-deficient"))
        np.linalg.cholesky(bary.covariances_)  # fitted covariances stay PD
        x = np.random.RandomState(1).randn(4, 2)
        with pytest.raises(
            ValueError, match=r"group 1's mixture: covariances\[0\] is not positive"
        ):
            bary.transform(x, sample_domain=np.array([1, 1, 2, 2]))

    @pytest.mark.parametrize("weights", [(0.5, 0.0, 0.5), (0.5, 0.5, 0.0)])
    def test_transform_names_the_singular_component_by_its_index(self, weights):
        # Component 2 is singular; with zero weight it is still factored.
        covs = np.stack([np.eye(2), np.eye(2), np.diag([1.0, 0.0])])
        rng = np.random.RandomState(0)
        inputs = [(rng.randn(3, 2), covs, np.array(weights)) for _ in range(2)]
        bary = GMMOTBarycenter(2, random_state=0).fit(inputs)
        with pytest.raises(
            ValueError, match=r"group 0's mixture: covariances\[2\] is not positive"
        ):
            bary.transform(rng.randn(2, 2), sample_domain=np.array([0, 0]))

    @pytest.mark.parametrize("d", [1, 2, 3])
    def test_dirac_inputs_are_a_named_error(self, d):
        with pytest.raises(ValueError, match=r"fitted covariances_\[0\] is singular"):
            GMMOTBarycenter(3, random_state=0).fit(self._inputs("zero", d))

    @pytest.mark.parametrize("learn_weights", [True, False])
    def test_init_with_a_dirac_component_is_a_named_error(self, learn_weights):
        covs = np.stack([np.eye(2), np.eye(2), np.zeros((2, 2))])
        init = (np.random.RandomState(0).randn(3, 2), covs, np.array([0.5, 0.5, 0.0]))
        mixtures = [make_random_gmm(3, 2, random_state=i) for i in range(3)]
        bary = GMMOTBarycenter(3, init=init, learn_weights=learn_weights)
        with pytest.raises(ValueError, match=r"init: covariances\[2\] is singular"):
            bary.fit(mixtures)

    def test_rank_deficient_init_still_fits(self):
        covs = np.stack([np.eye(2), np.eye(2), np.diag([1.0, 0.0])])
        init = (np.random.RandomState(0).randn(3, 2), covs, np.full(3, 1 / 3))
        mixtures = [make_random_gmm(3, 2, random_state=i) for i in range(3)]
        bary = GMMOTBarycenter(3, init=init, random_state=0).fit(mixtures)
        np.linalg.cholesky(bary.covariances_)
