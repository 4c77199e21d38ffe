"""Every script in examples/ runs cleanly; the plot_ scripts write figures."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def test_examples_are_found():
    names = {script.name for script in SCRIPTS}
    assert {
        "plot_gmm_barycenter.py",
        "plot_ott_style_barycenter.py",
        "plot_barycenter_size_selection.py",
        "plot_gmm_flow.py",
        "plot_gmm_geodesic.py",
        "plot_color_transfer.py",
        "plot_color_barycenter.py",
        "plot_batch_alignment.py",
        "plot_distribution_clustering.py",
    } <= names
    assert (EXAMPLES / "README.txt").is_file()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_gallery_layout(script):
    """sphinx-gallery: the module docstring, with an RST title, comes first."""
    text = script.read_text()
    if not script.name.startswith("plot_"):
        return
    assert text.startswith('"""\n')
    lines = text.splitlines()
    overline, title, underline = lines[1], lines[2], lines[3]
    assert set(overline) == {"="} and set(underline) == {"="}
    assert len(underline) >= len(title.strip()) > 0
    assert "# %%" in text


def _run(script, tmp_path):
    """Run an example in ``tmp_path`` with figures written there; no display."""
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "SKGMMOT_FIGURE_DIR": str(tmp_path),
        "PYTHONWARNINGS": "default",
    }
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    result = _run(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.strip(), "an example should say what it computed"
    if script.name.startswith("plot_"):
        figures = list(tmp_path.glob("*.png"))
        assert figures, f"{script.name} wrote no PNG into SKGMMOT_FIGURE_DIR"
        assert all(figure.stat().st_size > 0 for figure in figures)


@pytest.mark.slow
def test_batch_effects_example_finds_the_clusters(tmp_path):
    """The gallery's batch-effects example: size 3 by both routes, new batch right."""
    result = _run(EXAMPLES / "plot_batch_effects.py", tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "chosen n_components: 3 by GridSearchCV after alignment" in out, out
    assert "3 by BIC after alignment" in out, out
    raw, aligned = map(
        float, re.search(r"([\d.]+) on raw samples, ([\d.]+) after", out).groups()
    )
    assert aligned >= 0.98 > raw, out
