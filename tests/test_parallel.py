"""The joblib chunk runner, and n_jobs in GMMOTBarycenter's plans."""

import joblib
import numba
import numpy as np
import pytest

from skgmmot import GMMOTBarycenter, _barycenter
from skgmmot._engine import barycenter as _engine_barycenter
from skgmmot._parallel import effective_n_jobs, run_chunks
from skgmmot.datasets import make_gmm_family


def _threads_and_sum(a, b):
    return numba.get_num_threads(), a + b


def test_run_chunks_serial_keeps_order_and_numba_threads():
    before = numba.get_num_threads()
    out = run_chunks(_threads_and_sum, [(1, 2), (3, 4), (5, 6)])
    assert out == [(before, 3), (before, 7), (before, 11)]
    assert run_chunks(_threads_and_sum, []) == []


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_run_chunks_parallel_caps_numba_threads(backend):
    before = numba.get_num_threads()
    with joblib.parallel_config(backend=backend):
        out = run_chunks(_threads_and_sum, [(i, i) for i in range(6)], n_jobs=2)
    assert out == [(1, 2 * i) for i in range(6)]
    assert numba.get_num_threads() == before


def test_run_chunks_restores_numba_threads_after_errors():
    before = numba.get_num_threads()
    with (
        joblib.parallel_config(backend="threading"),
        pytest.raises(ZeroDivisionError),
    ):
        run_chunks(divmod, [(1, 1), (1, 0)], n_jobs=2)
    assert numba.get_num_threads() == before


def test_effective_n_jobs_honours_parallel_config():
    assert effective_n_jobs(None) == 1
    assert effective_n_jobs(2) == 2
    with joblib.parallel_config(n_jobs=3):
        assert effective_n_jobs(None) == 3


@pytest.mark.parametrize("learn_weights", [False, True])
def test_barycenter_parallel_plans_equal_serial(monkeypatch, learn_weights):
    mixtures = make_gmm_family(5, n_components=[3, 4, 5, 3, 6], random_state=0)
    params = {"n_components": 4, "random_state": 0, "learn_weights": learn_weights}
    serial = GMMOTBarycenter(**params).fit(mixtures)
    calls = []
    original = _engine_barycenter.run_chunks

    def counting(*args, **kwargs):
        calls.append(kwargs["n_jobs"])
        return original(*args, **kwargs)

    monkeypatch.setattr(_engine_barycenter, "PARALLEL_PLANS_ABOVE", 0.0)
    monkeypatch.setattr(_engine_barycenter, "run_chunks", counting)
    parallel = GMMOTBarycenter(n_jobs=2, **params).fit(mixtures)
    assert len(calls) >= serial.n_iter_ and set(calls) == {2}
    for name in ("means_", "covariances_", "weights_", "cost_curve_"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name))
    for p, q in zip(parallel.plans_, serial.plans_, strict=True):
        np.testing.assert_array_equal(p, q)


def test_barycenter_small_problems_stay_serial(monkeypatch):
    mixtures = make_gmm_family(3, n_components=3, random_state=1)

    def forbidden(*args, **kwargs):
        raise AssertionError("small plans must not go through joblib")

    monkeypatch.setattr(_engine_barycenter, "run_chunks", forbidden)
    GMMOTBarycenter(n_components=3, n_jobs=2, random_state=0).fit(mixtures)


def test_small_group_fits_start_no_workers(monkeypatch):
    # Four groups of 300 samples fit in milliseconds; worker processes would
    # take seconds to start, so n_jobs is not used for them.
    rng = np.random.RandomState(0)
    groups = np.repeat(np.arange(4), 300)
    X = rng.randn(groups.size, 2) + 4.0 * (groups % 2)[:, None]
    serial = GMMOTBarycenter(2, random_state=0).fit(X, sample_domain=groups)
    seen = []
    original = _barycenter.Parallel

    def recording(*args, **kwargs):
        seen.append(kwargs["n_jobs"])
        return original(*args, **kwargs)

    monkeypatch.setattr(_barycenter, "Parallel", recording)
    parallel = GMMOTBarycenter(2, n_jobs=2, random_state=0).fit(X, sample_domain=groups)
    assert seen == [1]
    np.testing.assert_array_equal(parallel.means_, serial.means_)
    monkeypatch.setattr(_barycenter, "PARALLEL_GROUP_FITS_ABOVE", 0.0)
    seen.clear()
    estimator = GMMOTBarycenter(2, n_jobs=2, random_state=0)
    with joblib.parallel_config(backend="threading"):
        again = estimator.fit(X, sample_domain=groups)
    assert seen == [2]
    np.testing.assert_array_equal(again.means_, serial.means_)
