"""GMMOTBarycenter inside Pipelines and GridSearchCV, in both fit modes."""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, GroupKFold, LeaveOneGroupOut
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skgmmot import GMMOTBarycenter


def _groups_with_clusters(rng, n_clusters=3, n_groups=4, n=120):
    """Groups drawn from the same n_clusters-cluster law, each shifted."""
    centers = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])[:n_clusters]
    X, groups = [], []
    for g in range(n_groups):
        labels = rng.randint(n_clusters, size=n)
        X.append(centers[labels] + 0.5 * rng.randn(n, 2) + 0.3 * g)
        groups.append(np.full(n, g))
    return np.vstack(X), np.concatenate(groups)


def test_pipeline_routes_sample_domain(rng):
    X, groups = _groups_with_clusters(rng)
    with config_context(enable_metadata_routing=True):
        pipe = Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "bary",
                    GMMOTBarycenter(n_components=3, random_state=0)
                    .set_fit_request(sample_domain=True)
                    .set_transform_request(sample_domain=True),
                ),
            ]
        )
        pipe.fit(X, sample_domain=groups)
        Y = pipe.transform(X, sample_domain=groups)
    bary = pipe.named_steps["bary"]
    np.testing.assert_array_equal(bary.domains_, np.arange(4))
    assert Y.shape == X.shape
    # Scores the scaled data under the barycenter: finite log-likelihood.
    assert np.isfinite(pipe.score(X))


@pytest.mark.parametrize("routing", [True, False])
def test_grid_search_n_components_sample_mode(rng, routing):
    X, groups = _groups_with_clusters(rng)
    grid = {"n_components": [1, 3]}
    est = GMMOTBarycenter(random_state=0)
    cv = GroupKFold(n_splits=2)
    if routing:
        with config_context(enable_metadata_routing=True):
            est.set_fit_request(sample_domain=True)
            search = GridSearchCV(est, grid, cv=cv.set_split_request(groups=True))
            search.fit(X, sample_domain=groups, groups=groups)
    else:
        # Without routing, sample_domain is passed as a fit parameter and the
        # splitter's groups as ``groups``.
        search = GridSearchCV(est, grid, cv=cv)
        search.fit(X, groups=groups, sample_domain=groups)
    assert search.best_params_ == {"n_components": 3}


def test_grid_search_mixture_mode_scores_by_distance(rng):
    X, groups = _groups_with_clusters(rng, n_groups=6)
    mixtures = [
        GaussianMixture(3, random_state=0).fit(X[groups == g]) for g in range(6)
    ]
    search = GridSearchCV(
        GMMOTBarycenter(random_state=0), {"n_components": [1, 2, 3]}, cv=3
    )
    search.fit(mixtures)
    assert search.best_params_ == {"n_components": 3}
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores <= 0)  # minus mean MW2^2
    assert scores[2] > scores[0]


def test_bic_picks_true_barycenter_size(rng):
    X, groups = _groups_with_clusters(rng, n_clusters=3)
    bics = {}
    for k in (1, 2, 3, 4, 5):
        bary = GMMOTBarycenter(n_components=k, random_state=0).fit(
            X, sample_domain=groups
        )
        bics[k] = bary.bic(X, sample_domain=groups)
    assert min(bics, key=bics.get) == 3


def test_leave_one_group_out(rng):
    X, groups = _groups_with_clusters(rng)
    search = GridSearchCV(
        GMMOTBarycenter(random_state=0), {"n_components": [1, 3]}, cv=LeaveOneGroupOut()
    )
    search.fit(X, groups=groups, sample_domain=groups)
    assert search.best_params_ == {"n_components": 3}
