"""Shared fixtures: seeded random generators and random Gaussian mixtures.

Never seeds the global numpy RNG. ``SKGMMOT_SEED`` (an integer, or "all" for
seeds 0-4) sets the seeds of the ``global_random_seed`` fixture, after
scikit-learn's fixture of the same name.
"""

import os

import numpy as np
import pytest

from skgmmot._kernels._threads import python_bodies

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"


def pytest_collection_modifyitems(config, items):
    """Skip tests marked slow when numba's JIT is disabled (coverage runs)."""
    if not JIT_DISABLED:
        return
    skip = pytest.mark.skip(reason="slow without the JIT (NUMBA_DISABLE_JIT=1)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _seeds():
    value = os.environ.get("SKGMMOT_SEED", "0")
    if value == "all":
        return list(range(5))
    return [int(value)]


@pytest.fixture(params=_seeds())
def global_random_seed(request):
    """An integer seed; tests must pass for any value."""
    return request.param


@pytest.fixture
def rng(global_random_seed):
    """A ``numpy.random.RandomState`` seeded with ``global_random_seed``."""
    return np.random.RandomState(global_random_seed)


def random_spd(rng, k, d, *, rank=None, cond=None, scale=1.0):
    """Random symmetric positive (semi-)definite matrices of shape (k, d, d).

    ``rank`` < d gives rank-deficient PSD matrices; ``cond`` fixes the
    condition number (eigenvalues log-spaced from 1 to 1/cond).
    """
    if cond is not None:
        out = np.empty((k, d, d))
        vals = np.logspace(0.0, -np.log10(cond), d)
        for i in range(k):
            q, _ = np.linalg.qr(rng.randn(d, d))
            out[i] = (q * vals) @ q.T
        out = 0.5 * (out + out.transpose(0, 2, 1))
        return scale * out
    r = d if rank is None else rank
    B = rng.randn(k, d, r)
    out = B @ B.transpose(0, 2, 1) / r
    if rank is None:
        out += 0.1 * np.eye(d)
    return scale * 0.5 * (out + out.transpose(0, 2, 1))


def make_gmm(rng, k, d, *, spread=3.0, **spd_kwargs):
    """A random mixture tuple ``(means, covariances, weights)``."""
    means = spread * rng.randn(k, d)
    covs = random_spd(rng, k, d, **spd_kwargs)
    w = rng.rand(k) + 0.1
    return means, covs, w / w.sum()


@pytest.fixture
def gmm_factory(rng):
    """Call ``gmm_factory(k, d, **kwargs)`` to get a random mixture tuple."""

    def factory(k, d, **kwargs):
        return make_gmm(rng, k, d, **kwargs)

    return factory


@pytest.fixture
def spd_factory(rng):
    """Call ``spd_factory(k, d, **kwargs)`` to get random SPD matrices."""

    def factory(k, d, **kwargs):
        return random_spd(rng, k, d, **kwargs)

    return factory


def python_body(kernel):
    """The pure-Python source of a kernel, as run without the JIT.

    For a numba dispatcher its ``py_func``; for a Python driver that splits
    rows between threads, the driver with its row kernels' ``py_func``.
    """
    if hasattr(kernel, "py_func"):
        return kernel.py_func

    def python(*args):
        with python_bodies():
            return kernel(*args)

    return python
