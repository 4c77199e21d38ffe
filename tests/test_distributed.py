"""n_jobs on a real Dask cluster (worker processes) gives the serial results.

``joblib.parallel_config(backend="dask")`` sends skgmmot's joblib tasks to the
cluster of the current ``dask.distributed.Client``; here a local cluster of
two single-threaded worker processes stands in for a remote one.
"""

import joblib
import numpy as np
import pytest

from skgmmot import (
    GMMOTBarycenter,
    _barycenter,
    _pairwise,
    pairwise_gmm_ot_distances,
)
from skgmmot._engine import barycenter as _engine_barycenter
from skgmmot.datasets import make_gmm_family

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    """A Client of a local cluster of two worker processes, always closed."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


def test_pairwise_distances_on_dask_equal_serial(client, monkeypatch):
    monkeypatch.setattr(_pairwise, "PARALLEL_ABOVE_SECONDS", 0.0)  # small work too
    X = make_gmm_family(
        30, n_components=[1 + i % 5 for i in range(30)], n_features=3, random_state=0
    )
    Y = make_gmm_family(4, n_components=2, n_features=3, random_state=1)
    serial = pairwise_gmm_ot_distances(X)
    serial_xy = pairwise_gmm_ot_distances(X, Y, squared=True)
    with (
        joblib.parallel_config(backend="dask"),
        distributed.get_task_stream(client) as stream,
    ):
        np.testing.assert_array_equal(pairwise_gmm_ot_distances(X, n_jobs=2), serial)
        np.testing.assert_array_equal(
            pairwise_gmm_ot_distances(X, Y, squared=True, n_jobs=2), serial_xy
        )
        # n_jobs=None uses every thread of the cluster.
        np.testing.assert_array_equal(pairwise_gmm_ot_distances(X), serial)
    # The chunks (4 per worker and call, one task each) ran on both workers.
    assert len(stream.data) >= 3 * 4
    assert len({task["worker"] for task in stream.data}) == 2


def test_barycenter_on_dask_equals_serial(client, monkeypatch):
    rng = np.random.RandomState(0)
    groups = np.repeat([0, 1, 2], 80)
    X = rng.randn(groups.size, 2) + 4.0 * groups[:, None]
    params = {"n_components": 3, "random_state": 0}
    serial = GMMOTBarycenter(**params).fit(X, sample_domain=groups)
    # Send the small group fits and the plans of every iteration to the workers.
    monkeypatch.setattr(_barycenter, "PARALLEL_GROUP_FITS_ABOVE", 0.0)
    monkeypatch.setattr(_engine_barycenter, "PARALLEL_PLANS_ABOVE", 0.0)
    with (
        joblib.parallel_config(backend="dask"),
        distributed.get_task_stream(client) as stream,
    ):
        parallel = GMMOTBarycenter(n_jobs=2, **params).fit(X, sample_domain=groups)
    # Three group fits, then three plan chunks (one per input) per iteration.
    assert len(stream.data) >= 3 + 3 * serial.n_iter_
    for name in ("means_", "covariances_", "weights_", "cost_curve_"):
        np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name))
    for p, q in zip(parallel.mixtures_, serial.mixtures_, strict=True):
        for a, b in zip(p, q, strict=True):
            np.testing.assert_array_equal(a, b)
    assert parallel.n_iter_ == serial.n_iter_
