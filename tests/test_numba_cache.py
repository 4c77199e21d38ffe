"""numba's on-disk cache: read-only installs and concurrent compilations.

Every test runs fresh interpreters (``sys.executable``) that compile a few
kernels from scratch, hence ``slow``.

Read-only for real, even as root. Root ignores permission bits through the
capabilities ``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH`` and ``CAP_FOWNER``;
when the tests run as root, the child interpreters drop these from their
capability bounding set before ``exec`` (``prctl(PR_CAPBSET_DROP)``), so that
root gets only the owner's permission bits, like any user; running as another
user (e.g. ``nobody``) is not possible when the interpreter lives under a
directory only root may enter. Each child checks that it indeed cannot write
into the package, and the test is skipped where that cannot be arranged.
"""

import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import skgmmot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="Linux permissions"),
]

PR_CAPBSET_DROP = 24
#: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER.
DAC_CAPABILITIES = (1, 2, 3)


def _drop_permission_overrides():
    """In the child, before exec: lose root's right to ignore permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in DAC_CAPABILITIES:
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _start(code, env, *, unprivileged):
    """Start ``code`` in a fresh interpreter with environment ``env``.

    ``-P`` keeps the working directory off ``sys.path``: from the
    repository it would import the repository's skgmmot, and from the
    temporary directory any stray ``types.py`` or ``json.py`` left there.
    """
    preexec = None
    if unprivileged and os.geteuid() == 0:
        preexec = _drop_permission_overrides
    return subprocess.Popen(
        [sys.executable, "-P", "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
        preexec_fn=preexec,
    )


def _finish(process, timeout=900):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), err


def _env(**values):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(values)
    return env


def _make_read_only(path):
    """Remove every write permission under ``path`` (owner's included)."""
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            os.chmod(full, stat.S_IMODE(os.stat(full).st_mode) & ~0o222)
        os.chmod(root, 0o555)


def _make_writable(path):
    for root, dirs, _ in os.walk(path):
        os.chmod(root, 0o755)
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)


@pytest.fixture
def sandbox():
    """A temporary directory with a read-only copy of the package.

    Yields ``(base, site)``: ``site`` holds ``skgmmot/`` (without any
    ``__pycache__``), read-only; ``base`` is writable scratch space.
    """
    base = Path(tempfile.mkdtemp(prefix="skgmmot-cache-"))
    site = base / "site"
    shutil.copytree(
        Path(skgmmot.__file__).parent,
        site / "skgmmot",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    _make_read_only(site)
    try:
        yield base, site
    finally:
        _make_writable(base)
        shutil.rmtree(base, ignore_errors=True)


# What every child reports: where skgmmot comes from, whether it could write
# into the package, the kernel's cache type and a computed distance.
_PROBE = """
    import json, os
    import numpy as np
    import skgmmot
    from skgmmot._kernels._bures import _bures_cost_rows
    package = os.path.dirname(skgmmot.__file__)
    try:
        with open(os.path.join(package, "probe.tmp"), "w"):
            pass
        os.remove(os.path.join(package, "probe.tmp"))
        writable = True
    except OSError:
        writable = False
    d = skgmmot.dist_bures_squared(np.zeros((1, 3)), np.ones((1, 3)),
                                   np.eye(3)[None], 4 * np.eye(3)[None])
    print(json.dumps({"file": skgmmot.__file__, "writable": writable,
                      "cache": type(_bures_cost_rows._cache).__name__,
                      "value": float(d[0, 0])}))
"""


def _run_probe(site, **env):
    report, err = _finish(
        _start(_PROBE, _env(PYTHONPATH=str(site), **env), unprivileged=True)
    )
    assert report["file"] == str(site / "skgmmot" / "__init__.py")
    if report["writable"]:
        pytest.skip("cannot make a directory read-only for this user")
    return report, err


def _cache_files(path):
    return sorted(p.name for p in Path(path).rglob("*") if p.suffix in {".nbi", ".nbc"})


def test_read_only_package_caches_in_numba_cache_dir(sandbox):
    base, site = sandbox
    cache = base / "numba-cache"
    cache.mkdir()
    home = base / "home"
    home.mkdir()
    _make_read_only(home)
    report, _ = _run_probe(
        site, NUMBA_CACHE_DIR=str(cache), HOME=str(home), XDG_CACHE_HOME=str(home)
    )
    assert report["value"] == 6.0
    assert report["cache"] == "FunctionCache"
    files = _cache_files(cache)
    assert any(f.startswith("_bures._bures_cost_rows") for f in files), files
    assert _cache_files(site) == []
    # A second process loads the kernel from there.
    report, _ = _run_probe(
        site, NUMBA_CACHE_DIR=str(cache), HOME=str(home), XDG_CACHE_HOME=str(home)
    )
    assert report["value"] == 6.0


def test_read_only_package_without_writable_cache_compiles_uncached(sandbox):
    base, site = sandbox
    cache = base / "numba-cache"
    cache.mkdir()
    home = base / "home"
    (home / ".cache").mkdir(parents=True)
    _make_read_only(cache)
    _make_read_only(home)
    report, err = _run_probe(
        site, NUMBA_CACHE_DIR=str(cache), HOME=str(home), XDG_CACHE_HOME=str(home)
    )
    assert report["value"] == 6.0
    assert report["cache"] == "NullCache"  # _jit.kernel's uncached fallback
    assert "Traceback" not in err and "Error" not in err, err
    assert _cache_files(base) == []


_WORKLOAD = """
    import json
    import numpy as np
    from skgmmot import GMMOTBarycenter, dist_bures_squared, gmm_ot_loss
    from skgmmot._demo import _dispatcher_stats
    rng = np.random.RandomState(0)
    eye = np.eye(2)
    m_s, m_t = rng.randn(2, 2), rng.randn(3, 2) + 1
    C_s, C_t = np.stack([eye, 2 * eye]), np.stack([eye, 0.5 * eye, 3 * eye])
    w_s, w_t = np.full(2, 0.5), np.full(3, 1 / 3)
    cost = dist_bures_squared(m_s, m_t, C_s, C_t)
    loss = gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    bary = GMMOTBarycenter(2, random_state=0).fit(
        [(m_s, C_s, w_s), (m_t, C_t, w_t)]
    )
    stats = _dispatcher_stats()
    print(json.dumps({
        "cost": cost.tolist(), "loss": loss, "means": bary.means_.tolist(),
        "covariances": bary.covariances_.tolist(), "cost_": bary.cost_,
        "misses": sum(sum(s.cache_misses.values()) for s in stats),
        "hits": sum(sum(s.cache_hits.values()) for s in stats),
    }))
"""


def test_concurrent_compilation_into_one_cache_dir(tmp_path):
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    env = _env(NUMBA_CACHE_DIR=str(cache))
    first = _start(_WORKLOAD, env, unprivileged=False)
    second = _start(_WORKLOAD, env, unprivileged=False)
    (a, err_a), (b, err_b) = _finish(first), _finish(second)
    assert "Traceback" not in err_a + err_b, err_a + err_b
    results = ("cost", "loss", "means", "covariances", "cost_")
    assert {k: a[k] for k in results} == {k: b[k] for k in results}
    assert a["misses"] > 0 and b["misses"] > 0  # both compiled
    assert _cache_files(cache)
    # A third process finds every kernel it needs in the cache.
    c, _ = _finish(_start(_WORKLOAD, env, unprivileged=False))
    assert {k: c[k] for k in results} == {k: a[k] for k in results}
    assert c["misses"] == 0
    assert c["hits"] > 0
