"""GMMOTBarycenter: scikit-learn conventions, agreement with POT, behaviour."""

import functools
import pickle
import re
import warnings

import numpy as np
import ot
import ot.gmm
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmmot import GMMOTBarycenter, gmm_ot_loss


@parametrize_with_checks([GMMOTBarycenter(n_components=1)])
def test_sklearn_common_checks(estimator, check):
    check(estimator)


def _three_groups(rng, n=150):
    X = np.vstack(
        [
            rng.randn(n, 2),
            rng.randn(n, 2) + np.array([5.0, 0.0]),
            rng.randn(n, 2) * np.array([2.0, 1.0]) + np.array([0.0, 5.0]),
        ]
    )
    return X, np.repeat([0, 1, 2], n)


def _mixtures(gmm_factory, sizes=(3, 4, 5), d=2):
    return [gmm_factory(k, d) for k in sizes]


#: skgmmot's projection that computes what POT's does.
POT_PROJECTION = {"euclidean": "euclidean", "bures_two_stage": "bures"}


@pytest.mark.parametrize("projection", ["euclidean", "bures_two_stage"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_matches_pot_fixed_point(gmm_factory, monkeypatch, projection, d):
    """Same init, same iterations, uniform weights: POT's barycenter (1e-8).

    POT's ``"bures"`` is skgmmot's ``"bures_two_stage"``.
    """
    monkeypatch.setattr(
        ot.gmm,
        "bures_wasserstein_barycenter",
        functools.partial(
            ot.gaussian.bures_wasserstein_barycenter, eps=1e-13, num_iter=20000
        ),
    )
    mixtures = _mixtures(gmm_factory, d=d)
    m0, C0, _ = gmm_factory(3, d)
    w0 = np.full(3, 1 / 3)
    with warnings.catch_warnings():
        # tol=0 runs all 4 iterations unless the fixed point is hit exactly.
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GMMOTBarycenter(
            n_components=3,
            init=(m0, C0, w0),
            max_iter=4,
            tol=0.0,
            projection=projection,
            learn_weights=False,  # POT keeps the weights fixed
        ).fit(mixtures)
    pm, pc = ot.gmm.gmm_barycenter_fixed_point(
        [m for m, _, _ in mixtures],
        [C for _, C, _ in mixtures],
        [w for _, _, w in mixtures],
        m0.copy(),
        C0.copy(),
        np.full(3, 1 / 3),
        iterations=est.n_iter_,
        barycentric_proj_method=POT_PROJECTION[projection],
    )
    np.testing.assert_allclose(est.means_, pm, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(est.covariances_, pc, rtol=1e-8, atol=1e-10)
    assert 1 <= est.n_iter_ <= 4
    assert len(est.cost_curve_) == est.n_iter_ + 1


@pytest.mark.parametrize("learn_weights", [False, True])
@pytest.mark.parametrize("cond", [None, 1e3])
def test_bures_projection_never_increases_objective(gmm_factory, cond, learn_weights):
    """Every iteration of "bures" is a descent step (see test_bures_projection)."""
    mixtures = [gmm_factory(k, 3, cond=cond) for k in (4, 5, 6)]
    est = GMMOTBarycenter(
        n_components=4,
        weights=[0.6, 0.395, 0.005],
        projection="bures",
        learn_weights=learn_weights,
        tol=1e-12,
        max_iter=50,
        random_state=0,
    ).fit(mixtures)
    assert np.all(np.diff(est.cost_curve_) <= 1e-12 * est.cost_curve_[0])
    assert est.converged_


def test_cost_is_objective(gmm_factory):
    mixtures = _mixtures(gmm_factory)
    lambdas = np.array([0.2, 0.3, 0.5])
    est = GMMOTBarycenter(n_components=3, weights=lambdas, random_state=0).fit(mixtures)
    expected = sum(
        lam * gmm_ot_loss(est.means_, m, est.covariances_, C, est.weights_, w)
        for lam, (m, C, w) in zip(lambdas, mixtures, strict=True)
    )
    np.testing.assert_allclose(est.cost_, expected, rtol=1e-10)
    np.testing.assert_allclose(est.cost_curve_[-1], est.cost_)
    assert est.score(mixtures) == pytest.approx(
        -np.mean(
            [
                gmm_ot_loss(est.means_, m, est.covariances_, C, est.weights_, w)
                for m, C, w in mixtures
            ]
        )
    )


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_sample_mode_equals_mixture_mode(rng, covariance_type):
    X, groups = _three_groups(rng)
    template = GaussianMixture(2, covariance_type=covariance_type, random_state=3)
    est = GMMOTBarycenter(n_components=2, gmm=template, random_state=0)
    est.fit(X, sample_domain=groups)
    fitted = [clone(template).fit(X[groups == g]) for g in range(3)]
    ref = GMMOTBarycenter(n_components=2, random_state=0).fit(fitted)
    np.testing.assert_allclose(est.means_, ref.means_, rtol=1e-12)
    np.testing.assert_allclose(est.covariances_, ref.covariances_, rtol=1e-12)
    np.testing.assert_array_equal(est.domains_, [0, 1, 2])


def test_transform_removes_group_shift(rng):
    base = np.vstack([rng.randn(300, 2), rng.randn(300, 2) * 0.5 + [4.0, 4.0]])
    shifts = np.array([[0.0, 0.0], [10.0, -3.0], [-6.0, 8.0]])
    X = np.vstack([base + s for s in shifts])
    groups = np.repeat([0, 1, 2], base.shape[0])
    est = GMMOTBarycenter(n_components=2, random_state=0)
    Y = est.fit_transform(X, sample_domain=groups)
    moved = [Y[groups == g] for g in range(3)]
    # Every group lands on the same place: the average of the shifts removed.
    for g in range(3):
        np.testing.assert_allclose(
            moved[g].mean(axis=0), base.mean(axis=0) + shifts.mean(axis=0), atol=0.1
        )
        np.testing.assert_allclose(moved[g], moved[0], atol=0.3)


def test_learn_weights_recovers_unequal_weights(rng):
    X = np.vstack([rng.randn(800, 2) * 0.3, rng.randn(200, 2) * 0.3 + [6.0, 0.0]])
    mixtures = [
        GaussianMixture(2, random_state=s).fit(X + shift)
        for s, shift in enumerate([0.0, 0.5])
    ]
    fixed = GMMOTBarycenter(
        n_components=2,
        init=(mixtures[0].means_, mixtures[0].covariances_, [0.5, 0.5]),
        learn_weights=False,
        random_state=0,
    ).fit(mixtures)
    learned = GMMOTBarycenter(n_components=2, learn_weights=True, random_state=0)
    learned.fit(mixtures)
    np.testing.assert_allclose(fixed.weights_, [0.5, 0.5])
    np.testing.assert_allclose(np.sort(learned.weights_), [0.2, 0.8], atol=0.02)
    assert learned.cost_ < 0.5 * fixed.cost_


@pytest.mark.parametrize("seed", range(5))
def test_learn_weights_never_worse_than_fixed_weights(gmm_factory, seed):
    """Weights are learnt after the fixed-weight fixed point, then only descend."""
    mixtures = _mixtures(gmm_factory, sizes=(4, 6, 5, 3))
    common = dict(n_components=4, projection="bures", random_state=seed)
    fixed = GMMOTBarycenter(**common).fit(mixtures)
    learned = GMMOTBarycenter(learn_weights=True, **common).fit(mixtures)
    assert learned.converged_
    assert learned.cost_ <= fixed.cost_ * (1.0 + 1e-12)
    # The fixed-weight phase comes first: its curve is a prefix of the curve.
    n = fixed.cost_curve_.size
    np.testing.assert_allclose(learned.cost_curve_[:n], fixed.cost_curve_)
    assert np.all(np.diff(learned.cost_curve_) <= 1e-9 * learned.cost_curve_[0])


@pytest.mark.parametrize("init", ["kmeans", "random"])
def test_random_state_reproducible(gmm_factory, init):
    mixtures = _mixtures(gmm_factory)
    a = GMMOTBarycenter(n_components=3, init=init, random_state=7).fit(mixtures)
    b = GMMOTBarycenter(n_components=3, init=init, random_state=7).fit(mixtures)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)


@pytest.mark.parametrize("init", ["kmeans", "random"])
@pytest.mark.parametrize(
    ("input_weights", "lambdas"),
    [
        ([[1.0, 0.0, 0.0]], None),  # one input, one positive weight
        ([[0.5, 0.5, 0.0, 0.0]] * 2, None),  # the first input runs out
        ([[0.5, 0.5], [0.5, 0.5]], [1.0, 0.0]),  # an input of coefficient 0
    ],
)
def test_more_components_than_positive_input_weights(
    gmm_factory, init, input_weights, lambdas
):
    # Issue 14.13: once the positive-weight components were seeds, k-means++
    # drew the next seed with probabilities 0 / 0 (a RuntimeWarning).
    mixtures = [(*gmm_factory(len(w), 2)[:2], np.array(w)) for w in input_weights]
    fits = []
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est = GMMOTBarycenter(3, weights=lambdas, init=init, random_state=0)
            fits.append(est.fit(mixtures))
    for name in ("means_", "covariances_", "weights_", "cost_"):
        assert np.all(np.isfinite(getattr(fits[0], name)))
        np.testing.assert_array_equal(getattr(fits[0], name), getattr(fits[1], name))


@pytest.mark.parametrize("reg", [0.5, 5.0])
def test_sinkhorn_plans_are_pots_log_domain_sinkhorn(gmm_factory, reg):
    mixtures = _mixtures(gmm_factory)
    lambdas = np.array([0.2, 0.3, 0.5])
    with warnings.catch_warnings():
        # Only the estimator's max_iter warning; Sinkhorn must converge.
        warnings.filterwarnings(
            "ignore", "GMMOTBarycenter did not converge", ConvergenceWarning
        )
        est = GMMOTBarycenter(
            n_components=3,
            weights=lambdas,
            ot_solver="sinkhorn",
            reg=reg,
            max_iter=5,
            random_state=0,
        ).fit(mixtures)
    total = 0.0
    for lam, plan, (m, C, w) in zip(lambdas, est.plans_, mixtures, strict=True):
        cost = ot.gmm.dist_bures_squared(est.means_, m, est.covariances_, C)
        expected = ot.sinkhorn(
            est.weights_,
            w,
            cost,
            reg,
            method="sinkhorn_log",
            numItermax=200000,
            stopThr=1e-10,
        )
        # Both stop at marginal errors below 1e-10: entries agree to that.
        np.testing.assert_allclose(plan, expected, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(plan.sum(axis=0), w, atol=1e-8)
        total += lam * np.sum(plan * cost)
    np.testing.assert_allclose(est.cost_, total, rtol=1e-10)
    assert np.all(np.isfinite(est.covariances_))


def test_sinkhorn_not_converging_warns(gmm_factory):
    with pytest.warns(ConvergenceWarning, match="Sinkhorn did not converge"):
        GMMOTBarycenter(
            n_components=3,
            ot_solver="sinkhorn",
            reg=1e-3,
            tol=1.0,
            sinkhorn_max_iter=1,
            random_state=0,
        ).fit(_mixtures(gmm_factory))


def test_inputs_of_different_sizes_and_gmm_objects(rng, gmm_factory):
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(
        rng.randn(80, 2)
    )
    mixtures = [gm, gmm_factory(4, 2), gmm_factory(1, 2)]
    est = GMMOTBarycenter(n_components=2, random_state=0).fit(mixtures)
    assert [p.shape for p in est.plans_] == [(2, 2), (2, 4), (2, 1)]
    for plan, (_, _, w) in zip(est.plans_, est.mixtures_, strict=True):
        np.testing.assert_allclose(plan.sum(axis=0), w, atol=1e-12)


def test_gaussian_mixture_methods(rng):
    X, groups = _three_groups(rng)
    est = GMMOTBarycenter(n_components=2, random_state=0).fit(X, sample_domain=groups)
    gm = est.to_gaussian_mixture()
    np.testing.assert_allclose(est.score_samples(X), gm.score_samples(X))
    np.testing.assert_array_equal(est.predict(X), gm.predict(X))
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)
    assert est.bic(X) == pytest.approx(gm.bic(X))
    assert est.aic(X) == pytest.approx(gm.aic(X))
    samples, labels = est.sample(50)
    assert samples.shape == (50, 2) and labels.shape == (50,)
    assert est.score(X) == pytest.approx(gm.score(X))


def test_pickle_round_trip(rng):
    X, groups = _three_groups(rng)
    est = GMMOTBarycenter(n_components=2, random_state=0).fit(X, sample_domain=groups)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.score_samples(X), est.score_samples(X))
    np.testing.assert_array_equal(
        again.transform(X, sample_domain=groups), est.transform(X, sample_domain=groups)
    )


def test_not_fitted_and_bad_inputs(rng, gmm_factory):
    est = GMMOTBarycenter()
    with pytest.raises(NotFittedError):
        est.predict(rng.randn(3, 2))
    with pytest.raises(NotFittedError):
        GMMOTBarycenter().fit([GaussianMixture(2), gmm_factory(2, 2)])
    with pytest.raises(ValueError, match=r"mixtures\[1\] has 3 features"):
        GMMOTBarycenter(n_components=1).fit([gmm_factory(2, 2), gmm_factory(2, 3)])
    with pytest.raises(ValueError, match="larger than the 3 components"):
        GMMOTBarycenter(n_components=4).fit([gmm_factory(1, 2), gmm_factory(2, 2)])
    mixtures = _mixtures(gmm_factory)
    with pytest.raises(ValueError, match="weights"):
        GMMOTBarycenter(weights=[0.5, 0.5]).fit(mixtures)
    fitted = GMMOTBarycenter(
        n_components=2, unseen_domains="raise", random_state=0
    ).fit(mixtures)
    with pytest.raises(ValueError, match="sample_domain is required"):
        fitted.transform(rng.randn(4, 2))
    with pytest.raises(ValueError, match="not seen in fit"):
        fitted.transform(rng.randn(4, 2), sample_domain=[0, 1, 2, 7])


def test_max_iter_warns(gmm_factory):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        GMMOTBarycenter(n_components=3, max_iter=1, tol=0.0, random_state=0).fit(
            _mixtures(gmm_factory)
        )


def test_verbose_reports_iterations(gmm_factory, capsys):
    GMMOTBarycenter(n_components=2, verbose=2, random_state=0).fit(
        _mixtures(gmm_factory)
    )
    out = capsys.readouterr().out
    assert "iteration    0" in out and "objective" in out
    assert re.search(r"\[[#.]{30}\] \d+/100", out)


def test_does_not_modify_inputs(gmm_factory):
    mixtures = _mixtures(gmm_factory)
    before = [tuple(a.copy() for a in m) for m in mixtures]
    init = gmm_factory(3, 2)
    init_before = tuple(a.copy() for a in init)
    GMMOTBarycenter(n_components=3, init=init, max_iter=3, tol=1.0).fit(mixtures)
    for mix, ref in zip(mixtures, before, strict=True):
        for a, b in zip(mix, ref, strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(init, init_before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bayesian_gaussian_mixtures_are_mixtures(rng):
    from sklearn.mixture import BayesianGaussianMixture

    models = [
        BayesianGaussianMixture(n_components=2, random_state=0).fit(
            rng.randn(80, 2) + s
        )
        for s in (0.0, 3.0)
    ]
    est = GMMOTBarycenter(n_components=2, random_state=0).fit(models)
    np.testing.assert_array_equal(est.domains_, [0, 1])
    assert est.means_.shape == (2, 2)


# ---------------------------------------------------------------- n_init


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("init", ["kmeans", "random"])
def test_n_init_keeps_the_best_of_its_runs(gmm_factory, seed, init):
    mixtures = _mixtures(gmm_factory, sizes=(4, 5, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        runs = [
            GMMOTBarycenter(4, init=init, n_init=n, random_state=seed).fit(mixtures)
            for n in (1, 6)
        ]
    # The first of the six starts is the single run's start.
    assert runs[1].cost_ <= runs[0].cost_ + 1e-12
    loss = sum(
        gmm_ot_loss(runs[1].means_, m, runs[1].covariances_, C, runs[1].weights_, w)
        for m, C, w in mixtures
    ) / len(mixtures)
    np.testing.assert_allclose(runs[1].cost_, loss, rtol=1e-10)


def test_n_init_finds_a_lower_minimum_than_some_single_start(gmm_factory):
    mixtures = _mixtures(gmm_factory, sizes=(4, 5, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        singles = [
            GMMOTBarycenter(4, init="random", random_state=s).fit(mixtures).cost_
            for s in range(8)
        ]
        best = GMMOTBarycenter(4, init="random", n_init=8, random_state=0)
        best.fit(mixtures)
    assert max(singles) > min(singles) * 1.001  # local minima exist here
    assert best.cost_ <= np.median(singles)


def test_n_init_with_a_mixture_init_runs_once(gmm_factory, capsys):
    mixtures = _mixtures(gmm_factory)
    start = mixtures[0]
    est = GMMOTBarycenter(3, init=start, n_init=5, verbose=1).fit(mixtures)
    assert "initialisation" not in capsys.readouterr().out
    again = GMMOTBarycenter(3, init=start).fit(mixtures)
    assert est.cost_ == again.cost_


def test_n_init_reports_each_start_and_warns_once_for_the_kept_run(gmm_factory, capsys):
    mixtures = _mixtures(gmm_factory)
    with pytest.warns(ConvergenceWarning) as caught:
        GMMOTBarycenter(3, n_init=3, max_iter=1, tol=0.0, verbose=1).fit(mixtures)
    (warning,) = [w for w in caught if "did not converge" in str(w.message)]
    assert warning.filename == __file__  # points at the user's call
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if "initialisation" in line] == [
        f"[GMMOTBarycenter] initialisation {i}/3" for i in (1, 2, 3)
    ]


def test_n_init_must_be_positive(gmm_factory):
    with pytest.raises(ValueError, match="n_init"):
        GMMOTBarycenter(n_init=0).fit(_mixtures(gmm_factory))
