"""Every script in examples/ runs cleanly; the plot_ scripts write figures.

``SKGMMOT_EXAMPLES`` says where a script's result comes from:

- ``run`` (the default): each script runs here, in its own Python process;
- ``skip-for-gallery``: the plot_ scripts do not run here, because the
  documentation build that follows runs them (CI's test pass: each example runs
  once in CI);
- ``from-gallery``: the checks read what that build recorded of each plot_
  script (``docs/auto_examples/plot_x.rst``: its captured output, warnings
  included; ``$SKGMMOT_FIGURE_DIR/plot_x/``: the figures it saved; see
  ``docs/sphinxext/gallery_record.py``), and fail if there is no record of the
  current script. The other scripts, which the gallery does not run, skip.
"""

import hashlib
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
GALLERY = ROOT / "docs" / "auto_examples"

MODE = os.environ.get("SKGMMOT_EXAMPLES", "run")
if MODE not in {"run", "skip-for-gallery", "from-gallery"}:
    raise ValueError(
        f"SKGMMOT_EXAMPLES={MODE!r}: use run, skip-for-gallery or from-gallery"
    )

#: A block of captured output in a sphinx-gallery page: its language ("none"
#: for printed text, "pytb" for a traceback) and its lines, indented by 4.
_OUTPUT = re.compile(
    r"^\.\. rst-class:: sphx-glr-script-out\n\n ?\.\. code-block:: (\w+)\n\n"
    r"((?:    .*\n|\n)*)",
    re.M,
)


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
        "plot_multisource_digits.py",
        "plot_simulated_shifts.py",
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


def _gallery_record(script):
    """What the documentation build recorded of ``script``, and its figures.

    The output stands for both stdout and stderr, since sphinx-gallery captures
    them together. The return code is 0 only if this version of the example ran
    to its end: the gallery writes its MD5 into ``plot_x.py.md5`` after a clean
    run only, and shows a traceback block after an error.
    """
    copy = GALLERY / script.name
    if not copy.is_file() or copy.read_text() != script.read_text():
        pytest.fail(
            f"the documentation build has no record of the current {script.name}"
            " (build it first: make -C docs html)"
        )
    blocks = _OUTPUT.findall((GALLERY / f"{script.stem}.rst").read_text())
    output = "\n".join(
        "\n".join(line[4:] for line in text.split("\n")) for _, text in blocks
    )
    failed = any(language == "pytb" for language, _ in blocks)
    clean_run = GALLERY / f"{script.name}.md5"
    md5 = hashlib.md5(script.read_text(encoding="utf-8").encode()).hexdigest()
    ran = clean_run.is_file() and clean_run.read_text() == md5 and not failed
    result = subprocess.CompletedProcess(
        [str(script)], 0 if ran else 1, stdout=output, stderr=output
    )
    root = os.environ.get("SKGMMOT_FIGURE_DIR", ROOT / "docs/_build/example-figures")
    # Figures older than the copy come from an earlier version of the script.
    written_since = copy.stat().st_mtime
    figures = [
        figure
        for figure in (pathlib.Path(root) / script.stem).glob("*.png")
        if figure.stat().st_mtime >= written_since
    ]
    return result, figures


def _result(script, tmp_path):
    """The example's result (as :func:`subprocess.run`'s) and its PNG figures."""
    in_gallery = script.name.startswith("plot_")
    if MODE == "skip-for-gallery" and in_gallery:
        pytest.skip("the documentation build runs it (SKGMMOT_EXAMPLES)")
    if MODE == "from-gallery":
        if not in_gallery:
            pytest.skip("not in the gallery (SKGMMOT_EXAMPLES=from-gallery)")
        return _gallery_record(script)
    result = _run(script, tmp_path)
    return result, list(tmp_path.glob("*.png"))


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    result, figures = _result(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.strip(), "an example should say what it computed"
    if script.name.startswith("plot_"):
        assert figures, f"{script.name} wrote no PNG into SKGMMOT_FIGURE_DIR"
        assert all(figure.stat().st_size > 0 for figure in figures)


@pytest.mark.slow
def test_batch_effects_example_finds_the_clusters(tmp_path):
    """The gallery's batch-effects example: size 3 by both routes, new batch right."""
    result, _ = _result(EXAMPLES / "plot_batch_effects.py", tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "chosen n_components: 3 by GridSearchCV after alignment" in out, out
    assert "3 by BIC after alignment" in out, out
    raw, aligned = map(
        float, re.search(r"([\d.]+) on raw samples, ([\d.]+) after", out).groups()
    )
    assert aligned >= 0.98 > raw, out


@pytest.mark.slow
def test_multisource_digits_example_adapts_to_the_target(tmp_path):
    """Multi-source digits: GMM-WBT >= label propagation on merged sources >> source."""
    result, _ = _result(EXAMPLES / "plot_multisource_digits.py", tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout

    def accuracy(row):
        return float(re.search(re.escape(row) + r"\s+([\d.]+) \(", out).group(1))

    source_only = accuracy("source only (SVC on the pooled sources)")
    label_prop = accuracy("GMM-OTDA_L on the merged sources")
    wbt = accuracy("GMM-WBT (label_cost=1)")
    assert source_only < 0.6, out
    assert label_prop > 0.8, out
    assert wbt >= max(label_prop, 0.9), out


@pytest.mark.slow
def test_simulated_shifts_example_shows_where_gmmotda_helps(tmp_path):
    """skada's shifts: GMM-OTDA fixes the conditional shift, unbalanced plans and
    estimated class proportions help under target shift, and the subspace
    reflection defeats every variant."""
    result, _ = _result(EXAMPLES / "plot_simulated_shifts.py", tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    shifts = ["covariate_shift", "target_shift", "conditional_shift", "subspace"]
    table = {
        name: dict(zip(shifts, map(float, scores), strict=True))
        for name, *scores in re.findall(
            r"^((?:source only|GMMOTMapping|GMMOTLabelProp)"
            r"(?: unbalanced| estimated prior)?)"
            r"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$",
            out,
            re.M,
        )
    }
    assert len(table) == 6, out
    conditional = {name: row["conditional_shift"] for name, row in table.items()}
    assert min(conditional["GMMOTMapping"], conditional["GMMOTLabelProp"]) >= 0.9, out
    assert conditional["source only"] < 0.7, out
    target = {name: row["target_shift"] for name, row in table.items()}
    assert target["GMMOTLabelProp unbalanced"] > target["GMMOTLabelProp"] + 0.2, out
    # The target's class proportions, estimated, repair the exact map.
    assert target["GMMOTMapping estimated prior"] > target["GMMOTMapping"] + 0.2, out
    assert all(
        row["subspace"] < 0.5 for name, row in table.items() if name != "source only"
    ), out
    relaxed = {
        shift: list(map(float, scores))
        for shift, *scores in re.findall(
            r"^(target_shift|conditional_shift)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
            r"\s+([\d.]+)$",
            out,
            re.M,
        )
    }
    # reg_m = 0.2 ... 10: small follows the target's proportions, large does not.
    assert relaxed["target_shift"][0] > relaxed["target_shift"][-1], out
    assert relaxed["conditional_shift"][0] < relaxed["conditional_shift"][-1], out
