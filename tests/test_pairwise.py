"""pairwise_gmm_ot_distances against a loop over pairs, and its contract."""

import copy
import itertools

import joblib
import numpy as np
import ot
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

import skgmmot
from skgmmot import (
    _pairwise,
    dist_bures_squared,
    gmm_ot_loss,
    pairwise_gmm_ot_distances,
)
from skgmmot._engine import pairwise as _engine_pairwise
from skgmmot._engine.mixtures import Pooled
from skgmmot._validation import check_mixture_list
from skgmmot.datasets import make_gmm_family

RTOL = 1e-10


def _family(rng, n, d, max_k=5):
    """n random mixtures in dimension d with 1 to max_k components."""
    sizes = rng.randint(1, max_k + 1, size=n)
    return make_gmm_family(
        n, n_components=[int(k) for k in sizes], n_features=d, random_state=rng
    )


def _reference(X, Y, loss):
    """The obvious loop: ``loss`` between every pair (squared distances)."""
    return np.array(
        [[float(loss(mx, my, Cx, Cy, wx, wy)) for my, Cy, wy in Y] for mx, Cx, wx in X]
    )


def _assert_close(actual, expected):
    scale = max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-12 * scale)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_symmetric_matches_loops_over_skgmmot_and_pot(rng, d):
    X = _family(rng, 7, d)
    D2 = pairwise_gmm_ot_distances(X, squared=True)
    ours = _reference(X, X, gmm_ot_loss)
    np.fill_diagonal(ours, 0.0)
    pot = _reference(X, X, ot.gmm.gmm_ot_loss)
    np.fill_diagonal(pot, 0.0)
    _assert_close(D2, ours)
    _assert_close(D2, pot)
    D = pairwise_gmm_ot_distances(X)
    np.testing.assert_array_equal(D, np.sqrt(D2))
    assert D.shape == (7, 7)
    assert D.dtype == np.float64


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_rectangular_matches_loop(rng, d):
    X, Y = _family(rng, 4, d), _family(rng, 6, d)
    D2 = pairwise_gmm_ot_distances(X, Y, squared=True)
    assert D2.shape == (4, 6)
    _assert_close(D2, _reference(X, Y, gmm_ot_loss))
    _assert_close(D2, _reference(X, Y, ot.gmm.gmm_ot_loss))
    # MW2 is symmetric: swapping the roles transposes the matrix.
    _assert_close(pairwise_gmm_ot_distances(Y, X, squared=True), D2.T)
    np.testing.assert_array_equal(pairwise_gmm_ot_distances(X, Y), np.sqrt(D2))


def test_symmetric_matrix_has_exact_zero_diagonal_and_symmetry(rng):
    X = _family(rng, 9, 3)
    D = pairwise_gmm_ot_distances(X)
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(np.diag(D), np.zeros(9))
    off = D[~np.eye(9, dtype=bool)]
    assert np.all(off > 0)
    # Triangle inequality (MW2 is a distance).
    assert np.all(D[:, :, None] <= D[:, None, :] + D.T[None, :, :] + 1e-9)


def test_identical_mixtures_are_at_distance_zero(rng):
    X = _family(rng, 3, 2)
    D = pairwise_gmm_ot_distances(X, [copy.deepcopy(m) for m in X], squared=True)
    np.testing.assert_allclose(np.diag(D), 0.0, atol=1e-10)


def test_single_gaussians_give_the_bures_distance(rng):
    X = _family(rng, 5, 3, max_k=1)
    means = np.concatenate([m for m, _, _ in X])
    covs = np.concatenate([C for _, C, _ in X])
    expected = dist_bures_squared(means, means, covs, covs)
    np.fill_diagonal(expected, 0.0)
    _assert_close(pairwise_gmm_ot_distances(X, squared=True), expected)


def test_one_mixture():
    X = make_gmm_family(1, n_components=3, random_state=0)
    np.testing.assert_array_equal(pairwise_gmm_ot_distances(X), [[0.0]])
    assert pairwise_gmm_ot_distances(X, X).shape == (1, 1)


def test_docstring_values():
    one = np.ones((1, 1, 1))
    X = [
        (np.array([[0.0]]), one, np.array([1.0])),
        (np.array([[3.0]]), one, np.array([1.0])),
        (np.array([[0.0], [6.0]]), np.ones((2, 1, 1)), np.array([0.5, 0.5])),
    ]
    expected = np.array([[0.0, 9.0, 18.0], [9.0, 0.0, 9.0], [18.0, 9.0, 0.0]])
    _assert_close(pairwise_gmm_ot_distances(X, squared=True), expected)


@pytest.mark.parametrize("symmetric", [True, False])
def test_threads_and_tiles_give_identical_results(rng, monkeypatch, symmetric):
    X = _family(rng, 11, 3, max_k=4)
    Y = None if symmetric else _family(rng, 5, 3)
    serial = pairwise_gmm_ot_distances(X, Y)
    monkeypatch.setattr(_pairwise, "PARALLEL_ABOVE_SECONDS", 0.0)  # use workers
    with joblib.parallel_config(backend="threading"):
        threaded = pairwise_gmm_ot_distances(X, Y, n_jobs=2)
    np.testing.assert_array_equal(threaded, serial)
    # Tiny tiles and many chunks: every tile/chunk boundary case is crossed.
    monkeypatch.setattr(_engine_pairwise, "TILE_ENTRIES", 7)
    monkeypatch.setattr(_engine_pairwise, "TILE_COLUMNS", 5)
    monkeypatch.setattr(_pairwise, "CHUNKS_PER_WORKER", 5)
    np.testing.assert_array_equal(pairwise_gmm_ot_distances(X, Y), serial)
    with joblib.parallel_config(backend="threading"):
        np.testing.assert_array_equal(pairwise_gmm_ot_distances(X, Y, n_jobs=3), serial)


@pytest.mark.slow
def test_process_workers_give_identical_results(rng, monkeypatch):
    monkeypatch.setattr(_pairwise, "PARALLEL_ABOVE_SECONDS", 0.0)  # use workers
    X = _family(rng, 40, 2, max_k=6)
    Y = _family(rng, 7, 2)
    np.testing.assert_array_equal(
        pairwise_gmm_ot_distances(X, n_jobs=2), pairwise_gmm_ot_distances(X)
    )
    np.testing.assert_array_equal(
        pairwise_gmm_ot_distances(X, Y, n_jobs=2), pairwise_gmm_ot_distances(X, Y)
    )


def test_small_work_skips_the_workers(rng, monkeypatch):
    # 51 mixtures took 0.03 s serially and 2.5-3 s with n_jobs=2 (process
    # start-up): below PARALLEL_ABOVE_SECONDS no joblib worker is started.
    X = _family(rng, 51, 2, max_k=10)
    serial = pairwise_gmm_ot_distances(X)

    def no_workers(*args, **kwargs):
        raise AssertionError("joblib.Parallel was called")

    monkeypatch.setattr(joblib, "Parallel", no_workers)
    np.testing.assert_array_equal(pairwise_gmm_ot_distances(X, n_jobs=2), serial)
    np.testing.assert_array_equal(pairwise_gmm_ot_distances(X, n_jobs=-1), serial)


def test_large_work_uses_the_workers(rng, monkeypatch):
    X = _family(rng, 12, 2, max_k=3)
    serial = pairwise_gmm_ot_distances(X)
    # The estimate of a 12-mixture call is far below a second: pretend the
    # unit of work is slow, so that the same call counts as large.
    monkeypatch.setattr(_pairwise, "SECONDS_PER_UNIT", 1.0)
    calls = []
    real = joblib.Parallel

    def counting(*args, **kwargs):
        calls.append(kwargs.get("n_jobs"))
        return real(*args, **kwargs)

    monkeypatch.setattr(joblib, "Parallel", counting)
    with joblib.parallel_config(backend="threading"):
        np.testing.assert_array_equal(pairwise_gmm_ot_distances(X, n_jobs=2), serial)
    assert calls == [2]


def test_tiles_cover_every_mixture_within_the_limit():
    offsets = np.cumsum([0, 3, 1, 7, 2, 2, 5]).astype(np.int64)
    for limit in (1, 3, 4, 8, 100):
        bounds = _engine_pairwise.tiles(offsets, limit)
        assert bounds[0] == 0 and bounds[-1] == 6
        for lo, hi in itertools.pairwise(bounds):
            assert hi > lo
            assert hi == lo + 1 or offsets[hi] - offsets[lo] <= limit


def test_row_chunks_split_work_evenly():
    work = np.arange(100, 0, -1, dtype=float)
    bounds = _pairwise._row_chunks(work, 4)
    assert bounds[0] == 0 and bounds[-1] == 100
    sums = [work[lo:hi].sum() for lo, hi in itertools.pairwise(bounds)]
    assert len(sums) == 4
    assert max(sums) < 1.1 * work.sum() / 4 + work.max()
    assert _pairwise._row_chunks(work, 1) == [0, 100]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_mixture_inputs(rng, covariance_type):
    groups = [rng.randn(60, 2) + shift for shift in (0.0, 3.0, 6.0)]
    models = [
        GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(x)
        for x in groups
    ]
    tuples = [skgmmot._validation.check_mixture(model) for model in models]
    np.testing.assert_array_equal(
        pairwise_gmm_ot_distances(models), pairwise_gmm_ot_distances(tuples)
    )
    np.testing.assert_array_equal(
        pairwise_gmm_ot_distances(models[:1], tuples),
        pairwise_gmm_ot_distances(tuples[:1], tuples),
    )


def test_inputs_are_not_modified(rng):
    X, Y = _family(rng, 4, 3), _family(rng, 3, 3)
    for mixture in X + Y:
        for array in mixture:
            array.flags.writeable = False
    X_before, Y_before = copy.deepcopy(X), copy.deepcopy(Y)
    pairwise_gmm_ot_distances(X, Y)
    pairwise_gmm_ot_distances(X)
    for after, before in zip(X + Y, X_before + Y_before, strict=True):
        for a, b in zip(after, before, strict=True):
            np.testing.assert_array_equal(a, b)
    model = GaussianMixture(2, random_state=0).fit(rng.randn(40, 3))
    means = model.means_.copy()
    pairwise_gmm_ot_distances([model, *X])
    np.testing.assert_array_equal(model.means_, means)


def _bad(mixture, field, value):
    means, covs, weights = (np.array(a, copy=True) for a in mixture)
    arrays = {"means": means, "covariances": covs, "weights": weights}
    arrays[field] = value(arrays[field])
    return arrays["means"], arrays["covariances"], arrays["weights"]


def _asymmetric(covs):
    covs[0, 0, 1] += 1.0
    return covs


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("covariances", _asymmetric, r"mixtures\[3\]: covariances\[0\] is not symm"),
        ("weights", lambda w: 2 * w, r"mixtures\[3\]: weights must sum to 1"),
        ("means", lambda m: np.full_like(m, np.nan), r"mixtures\[3\]: means .*NaN"),
        ("means", lambda m: m[:, :1], r"mixtures\[3\]: covariances are 3x3"),
    ],
)
def test_errors_name_the_mixture_and_field(rng, field, value, message):
    X = _family(rng, 5, 3)
    X[3] = _bad(X[3], field, value)
    with pytest.raises(ValueError, match=message):
        pairwise_gmm_ot_distances(X)
    with pytest.raises(ValueError, match=message.replace("mixtures", "Y")):
        pairwise_gmm_ot_distances(X[:2], X)


def test_mixed_dimensions_are_rejected(rng):
    X = _family(rng, 3, 2) + _family(rng, 1, 3)
    with pytest.raises(
        ValueError, match=r"mixtures\[3\] has 3 features but mixtures\[0\] has 2"
    ):
        pairwise_gmm_ot_distances(X)
    with pytest.raises(
        ValueError, match=r"Y\[0\] has 3 features but mixtures\[0\] has 2"
    ):
        pairwise_gmm_ot_distances(X[:3], X[3:])


def test_malformed_arguments_are_rejected(rng):
    X = _family(rng, 3, 2)
    with pytest.raises(ValueError, match="at least one mixture"):
        pairwise_gmm_ot_distances([])
    with pytest.raises(ValueError, match="Y must contain at least one"):
        pairwise_gmm_ot_distances(X, [])
    with pytest.raises(ValueError, match="mixtures must be a sequence"):
        pairwise_gmm_ot_distances(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="mixtures must be a sequence"):
        pairwise_gmm_ot_distances(GaussianMixture())
    with pytest.raises(ValueError, match=r"mixtures\[1\] must be a fitted"):
        pairwise_gmm_ot_distances([X[0], "gmm"])
    with pytest.raises(NotFittedError):
        pairwise_gmm_ot_distances([X[0], GaussianMixture()])
    with pytest.raises(ValueError, match="squared must be a bool"):
        pairwise_gmm_ot_distances(X, squared="yes")
    for n_jobs in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs must be"):
            pairwise_gmm_ot_distances(X, n_jobs=n_jobs)


def test_precomputed_metric_clusters_families():
    """Three families of mixtures around different centres are recovered."""
    centers = np.repeat([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]], 6, axis=0)
    X = make_gmm_family(
        18,
        n_components=3,
        centers=centers,
        spread=1.0,
        covariance_scale=0.5,
        random_state=0,
    )
    labels = np.repeat([0, 1, 2], 6)
    D = pairwise_gmm_ot_distances(X)
    found = AgglomerativeClustering(
        n_clusters=3, metric="precomputed", linkage="average"
    ).fit_predict(D)
    assert adjusted_rand_score(labels, found) == 1.0


def test_cost_tiles_stay_bounded(rng, monkeypatch):
    """No cost block larger than TILE_ENTRIES (unless one mixture pair is)."""
    X = _family(rng, 30, 2, max_k=4)
    expected = pairwise_gmm_ot_distances(X)
    shapes = []
    original = _engine_pairwise.cost_matrix

    def recording(ms, Cs, mt, Ct):
        shapes.append((ms.shape[0], mt.shape[0]))
        return original(ms, Cs, mt, Ct)

    monkeypatch.setattr(_engine_pairwise, "cost_matrix", recording)
    monkeypatch.setattr(_engine_pairwise, "TILE_ENTRIES", 40)
    monkeypatch.setattr(_engine_pairwise, "TILE_COLUMNS", 10)
    np.testing.assert_array_equal(pairwise_gmm_ot_distances(X), expected)
    assert len(shapes) > 10
    # Mixtures have at most 4 components, less than both limits.
    assert all(cols <= 10 and rows * cols <= 40 for rows, cols in shapes)
    # Only tiles reaching above the diagonal are computed: about half.
    total = sum(np.diff(Pooled(check_mixture_list(X, "X")).bounds))
    assert sum(r * c for r, c in shapes) < 0.8 * total**2
