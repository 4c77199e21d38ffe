"""Every script in examples/ runs cleanly; the plot_ scripts write figures."""

import os
import pathlib
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


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "SKGMMOT_FIGURE_DIR": str(tmp_path),
        "PYTHONWARNINGS": "default",
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.strip(), "an example should say what it computed"
    if script.name.startswith("plot_"):
        figures = list(tmp_path.glob("*.png"))
        assert figures, f"{script.name} wrote no PNG into SKGMMOT_FIGURE_DIR"
        assert all(figure.stat().st_size > 0 for figure in figures)
