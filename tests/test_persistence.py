"""Fitted estimators survive pickle and joblib round trips, also across processes.

Predictions after loading are bit-identical to those before saving:
``score_samples``, ``predict``, ``predict_proba``, ``transform``,
``inverse_transform``, ``mixture_at`` and ``sample`` (same random_state).
One test fits and saves a model in a fresh Python process and loads it in
another one; its outputs must equal the in-process ones bit for bit.
"""

import io
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest

from skgmmot import GMMOTBarycenter, GMMOTFlow
from skgmmot.datasets import make_gmm_family, make_random_gmm


def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def _samples(seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(50, 2) @ rng.randn(2, 2) + 4 * g for g in range(3)])
    return X, np.repeat([0, 1, 2], 50)


def _barycenter(kind):
    X, labels = _samples()
    if kind == "samples":
        return GMMOTBarycenter(3, random_state=0).fit(X, sample_domain=labels)
    mixtures = make_gmm_family(3, n_components=[2, 3, 4], random_state=0)
    return GMMOTBarycenter(
        3, random_state=0, ot_solver="sinkhorn", reg=0.5, learn_weights=True
    ).fit(mixtures)


def _flow(kind):
    source = make_random_gmm(3, 2, random_state=0)
    target = make_random_gmm(2, 2, random_state=1)
    params = {"method": kind, "transport": "rand", "random_state": 0}
    if kind == "gradient":
        params.update(n_steps=40, tol=5e-2)
    return GMMOTFlow(target, **params).fit(source)


def barycenter_outputs(est):
    X, labels = _samples(1)
    return [
        _bits(est.score_samples(X)),
        _bits(est.predict(X)),
        _bits(est.predict_proba(X)),
        _bits(est.transform(X, sample_domain=labels)),
        _bits(est.sample(9)[0]),
        _bits(est.sample(9)[1]),
        _bits(est.to_gaussian_mixture().score_samples(X)),
        repr(est.score(X)),
        repr(est.bic(X)),
    ]


def flow_outputs(est):
    X, _ = _samples(1)
    return [
        _bits(est.transform(X)),
        _bits(est.transform(X, 0.3)),
        _bits(est.inverse_transform(X)),
        _bits(est.mixture_at(0.5).means_),
        _bits(est.mixture_at(0.5).covariances_),
        _bits(est.mixture_at(0.5).sample(6)[0]),
        _bits(est.mixture_at(1.0).score_samples(X)),
    ]


def _pickle(est):
    return pickle.loads(pickle.dumps(est, protocol=pickle.HIGHEST_PROTOCOL))


def _joblib(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def _joblib_file(est, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(est, path, compress=3)
    return joblib.load(path)


def _joblib_mmap(est, tmp_path):
    # Memory-mapped arrays come back read-only.
    path = tmp_path / "model-mmap.joblib"
    joblib.dump(est, path)
    return joblib.load(path, mmap_mode="r")


ROUND_TRIPS = {
    "pickle": lambda est, tmp_path: _pickle(est),
    "joblib": lambda est, tmp_path: _joblib(est),
    "joblib-file": _joblib_file,
    "joblib-mmap": _joblib_mmap,
}


@pytest.mark.parametrize("trip", list(ROUND_TRIPS))
@pytest.mark.parametrize("kind", ["samples", "mixtures"])
def test_barycenter_round_trip(kind, trip, tmp_path):
    est = _barycenter(kind)
    before = barycenter_outputs(est)
    loaded = ROUND_TRIPS[trip](est, tmp_path)
    assert loaded is not est
    assert barycenter_outputs(loaded) == before
    assert loaded.get_params() == est.get_params()
    for name in ("means_", "covariances_", "weights_", "precisions_cholesky_"):
        assert _bits(getattr(loaded, name)) == _bits(getattr(est, name))


@pytest.mark.parametrize("trip", list(ROUND_TRIPS))
@pytest.mark.parametrize("kind", ["gradient", "geodesic"])
def test_flow_round_trip(kind, trip, tmp_path):
    est = _flow(kind)
    before = flow_outputs(est)
    loaded = ROUND_TRIPS[trip](est, tmp_path)
    assert flow_outputs(loaded) == before
    assert loaded.get_params().keys() == est.get_params().keys()
    for name in ("means_path_", "covariances_path_", "weights_path_", "loss_curve_"):
        assert _bits(getattr(loaded, name)) == _bits(getattr(est, name))


def test_refitting_a_loaded_model_gives_the_same_model():
    est = _barycenter("samples")
    loaded = _pickle(est)
    X, labels = _samples()
    loaded.fit(X, sample_domain=labels)
    assert barycenter_outputs(loaded) == barycenter_outputs(est)


# ------------------------------------------------------ across processes

SCRIPT = textwrap.dedent(
    """
    import pickle
    import sys

    import joblib

    sys.path.insert(0, {tests!r})
    import test_persistence as t

    mode, path, out = sys.argv[1:]
    if mode == "fit":
        models = {{"bary": t._barycenter("samples"), "flow": t._flow("gradient")}}
        joblib.dump(models, path)
    else:
        models = joblib.load(path)
        result = {{
            "bary": t.barycenter_outputs(models["bary"]),
            "flow": t.flow_outputs(models["flow"]),
        }}
        with open(out, "wb") as f:
            pickle.dump(result, f)
    """
)


@pytest.mark.slow
def test_fit_save_load_in_fresh_processes(tmp_path):
    from pathlib import Path

    script = tmp_path / "roundtrip.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    model, out = tmp_path / "models.joblib", tmp_path / "outputs.pkl"
    for mode in ("fit", "load"):
        done = subprocess.run(
            [sys.executable, str(script), mode, str(model), str(out)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    with open(out, "rb") as f:
        loaded = pickle.load(f)
    assert loaded["bary"] == barycenter_outputs(_barycenter("samples"))
    assert loaded["flow"] == flow_outputs(_flow("gradient"))
