"""Package-level guarantees: public names, lazy imports, read-only installs."""

import os
import subprocess
import sys
import textwrap

import pytest

import skgmmot


def _run(code, **env):
    """Run ``code`` in a fresh interpreter and return its stdout."""
    full_env = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", skgmmot.__all__)
def test_all_names_importable(name):
    assert getattr(skgmmot, name) is not None


def test_functional_names_match_pot():
    import ot.gmm

    # API.md: "Beyond ot.gmm", and the exact barycenter
    beyond_pot = {"gmm_ot_interpolate", "gmm_barycenter_multimarginal"}
    for name in skgmmot.ot.__all__:
        if name == "bures_wasserstein_barycenter":
            continue  # lives in ot.gaussian, checked below
        assert hasattr(ot.gmm, name) != (name in beyond_pot), name
    import ot.gaussian

    assert hasattr(ot.gaussian, "bures_wasserstein_barycenter")


def test_import_is_light():
    """Importing skgmmot imports neither scikit-learn nor POT."""
    out = _run(
        """
        import sys
        import skgmmot
        print(sorted(m for m in ("sklearn", "ot") if m in sys.modules))
        """
    )
    assert out.strip() == "[]"


def test_cost_needs_neither_sklearn_nor_pot():
    out = _run(
        """
        import sys
        import numpy as np
        import skgmmot
        skgmmot.dist_bures_squared(np.zeros((2, 3)), np.ones((1, 3)),
                                   np.stack([np.eye(3)] * 2), np.eye(3)[None])
        print(sorted(m for m in ("sklearn", "ot") if m in sys.modules))
        """
    )
    assert out.strip() == "[]"


@pytest.mark.slow
def test_works_without_any_writable_numba_cache():
    """A read-only install with no writable cache directory still computes.

    numba refuses ``cache=True`` when it finds no writable cache location; the
    kernels then compile without a disk cache. (Permissions cannot simulate
    this for root, so the test removes numba's cache locators instead.)
    """
    out = _run(
        """
        import numba.core.caching as caching
        caching.CacheImpl._locator_classes = []
        import numpy as np
        import skgmmot
        from skgmmot._kernels._bures import _bures_cost_rows
        d = skgmmot.dist_bures_squared(np.zeros((1, 3)), np.ones((1, 3)),
                                       np.eye(3)[None], 4 * np.eye(3)[None])
        print(type(_bures_cost_rows._cache).__name__, float(d[0, 0]))
        """
    )
    assert out.split() == ["NullCache", "6.0"]


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="uses POSIX permissions")
@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root ignores directory permissions",
)
def test_read_only_package_directory(tmp_path):
    import shutil

    package = tmp_path / "site" / "skgmmot"
    shutil.copytree(
        os.path.dirname(skgmmot.__file__),
        package,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    home = tmp_path / "home"
    home.mkdir()
    for root, dirs, files in os.walk(tmp_path):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o555)
    os.chmod(tmp_path, 0o555)
    try:
        out = _run(
            """
            import numpy as np
            import skgmmot
            print(float(skgmmot.dist_bures_squared(
                np.zeros((1, 3)), np.ones((1, 3)), np.eye(3)[None],
                4 * np.eye(3)[None])[0, 0]))
            """,
            PYTHONPATH=str(tmp_path / "site"),
            HOME=str(home),
            NUMBA_CACHE_DIR="",
            XDG_CACHE_HOME=str(home),
        )
    finally:
        for root, dirs, _ in os.walk(tmp_path):
            os.chmod(root, 0o755)
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
    assert float(out) == 6.0
