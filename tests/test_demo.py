"""``python -m skgmmot``: the demo runs, writes its figures and says so."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from skgmmot._demo import DEFAULT_OUT, FIGURES, build_parser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIMING = r"\d+(\.\d+)? (ms|s)$"


def run_cli(*args, cwd=None):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "default"}
    return subprocess.run(
        [sys.executable, "-m", "skgmmot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_demo_writes_figures_and_reports_timings(tmp_path):
    out = tmp_path / "new" / "figures"  # created, parents included
    result = run_cli("demo", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    for name in FIGURES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
    lines = result.stdout.splitlines()
    steps = {line.split()[0]: line for line in lines if line[:1].strip()}
    for step in ("import", "barycenter", "flow", "plotting"):
        assert re.search(TIMING, steps[step]), steps[step]
    assert "6 components" in steps["barycenter"]
    assert "3 -> 2 components" in steps["flow"]
    assert "MW2^2" in steps["flow"]
    assert re.search(r"^done in \d", result.stdout, flags=re.M)
    assert str(out.resolve()) in result.stdout
    assert "README.md" in result.stdout
    # Short and friendly: a few lines, none of them wide.
    assert len(lines) <= 10
    assert max(len(line) for line in lines) <= 100


def test_help_explains_the_demo():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: python -m skgmmot" in result.stdout
    assert "demo" in result.stdout

    result = run_cli("demo", "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "--out DIR" in text and DEFAULT_OUT in text
    for word in ("barycenter", "flow", *FIGURES, "numba"):
        assert word in text, word


def test_version():
    from skgmmot import __version__

    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"skgmmot {__version__}"


@pytest.mark.parametrize(
    "args",
    [[], ["bogus"], ["demo", "--bogus"], ["demo", "--out"], ["demo", "extra"]],
    ids=["no-command", "unknown-command", "unknown-option", "missing-dir", "extra"],
)
def test_bad_arguments_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "usage: python -m skgmmot" in result.stderr
    assert result.stdout == ""


def test_out_that_is_a_file_exits_2_before_fitting(tmp_path):
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("")
    result = run_cli("demo", "--out", str(not_a_dir))
    assert result.returncode == 2
    assert "--out" in result.stderr and "cannot create the directory" in result.stderr
    assert result.stdout == ""


def test_default_out_is_relative_to_the_working_directory():
    args = build_parser().parse_args(["demo"])
    assert args.command == "demo"
    assert args.out == Path(DEFAULT_OUT)
    assert not args.out.is_absolute()


def test_importing_main_runs_nothing(capsys):
    import importlib

    importlib.import_module("skgmmot.__main__")
    assert capsys.readouterr() == ("", "")


def test_first_run_is_detected_from_an_empty_numba_cache(tmp_path):
    code = "import skgmmot._demo as d; print(d._cache_is_empty())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    jit_disabled = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
    assert result.stdout.strip() == str(not jit_disabled)


class _Estimator:
    def fit(self, data):
        return self


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        ([(0, True), (3, True)], "compiled the numba kernels (cached for next"),
        ([(0, True), (3, False)], "no writable cache"),
        ([(2, True), (2, True)], None),  # loaded from the cache, or warm
        ([None, None], None),  # JIT disabled; the fit was fast
    ],
)
def test_timed_fit_says_when_the_kernels_compiled(monkeypatch, stats, expected):
    from skgmmot import _demo

    calls = iter(stats)
    monkeypatch.setattr(_demo, "_kernel_stats", lambda: next(calls))
    seconds, note = _demo._timed_fit(_Estimator(), None)
    assert seconds >= 0
    if expected is None:
        assert note is None
    else:
        assert expected in note and "; refit " in note


def test_timed_fit_without_numba_statistics_notes_a_slow_fit(monkeypatch):
    from skgmmot import _demo

    monkeypatch.setattr(_demo, "_kernel_stats", lambda: None)
    monkeypatch.setattr(_demo, "SLOW_FIRST_FIT", -1.0)
    _, note = _demo._timed_fit(_Estimator(), None)
    assert note.startswith("first fit compiled or loaded the numba kernels; refit ")
