"""The documentation: its code runs, its API page is complete, and it builds.

The full Sphinx build (``make -C docs html`` runs the same command) is slow:
it executes every gallery example. It is skipped when Sphinx is not installed
(``pip install ".[docs]"``); CI builds the documentation in its own step.
"""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.rst"))


def _python_blocks(text):
    """The bodies of the ``.. code-block:: python`` directives of a page."""
    blocks = []
    for match in re.finditer(
        r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text, re.M
    ):
        lines = match.group(1).rstrip("\n").split("\n")
        blocks.append("\n".join(line[3:] for line in lines))
    return blocks


def test_pages_exist():
    names = {page.stem for page in PAGES}
    assert {
        "index",
        "getting_started",
        "user_guide",
        "api",
        "performance",
        "migrating_from_pot",
    } <= names
    assert (DOCS / "conf.py").is_file() and (DOCS / "Makefile").is_file()


def test_api_page_lists_every_public_name():
    import skgmmot
    import skgmmot.da
    import skgmmot.datasets
    import skgmmot.exceptions
    import skgmmot.ot
    import skgmmot.plotting

    api = (DOCS / "api.rst").read_text()
    listed = set(re.findall(r"^   (\w+)$", api, flags=re.M))
    public = (
        set(skgmmot.__all__)
        | set(skgmmot.ot.__all__)
        | set(skgmmot.plotting.__all__)
        | set(skgmmot.datasets.__all__)
        | set(skgmmot.exceptions.__all__)
        | set(skgmmot.da.__all__)
    ) - {"__version__", "HAS_SKADA"}
    assert public - listed == set(), "add these names to docs/api.rst"
    assert listed - public == set(), "docs/api.rst lists names that are not public"


def test_readme_sections_used_by_the_docs_exist():
    """Every ``.. readme-section:: TITLE`` names a heading of README.md."""
    headings = set(
        re.findall(r"^#+\s+(.*?)\s*$", (ROOT / "README.md").read_text(), re.M)
    )
    used = {
        title.strip()
        for page in PAGES
        for title in re.findall(r"^\.\. readme-section:: (.+)$", page.read_text(), re.M)
    }
    assert used, "the docs no longer include README sections"
    assert used <= headings, f"README.md has no section {sorted(used - headings)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run(page, monkeypatch, tmp_path):
    """Every python code block of a page runs in a fresh namespace."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    for block in _python_blocks(page.read_text()):
        exec(compile(block, str(page), "exec"), {})


def test_getting_started_example_computes_what_it_says():
    blocks = _python_blocks((DOCS / "getting_started.rst").read_text())
    namespace = {}
    exec(compile(blocks[0], "getting_started.rst", "exec"), namespace)
    plan, src = namespace["plan"], namespace["src"]
    assert plan.shape == (3, 2)
    assert abs(plan.sum(axis=1) - src.weights_).max() < 1e-12
    assert namespace["loss"] > 0
    assert namespace["X_moved"].shape == namespace["X"].shape


@pytest.mark.slow
def test_sphinx_build_without_warnings(tmp_path):
    if importlib.util.find_spec("sphinx") is None:
        pytest.skip('Sphinx is not installed (pip install ".[docs]")')
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "SKGMMOT_FIGURE_DIR": str(tmp_path / "figures"),
    }
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        str(DOCS),
        str(tmp_path / "html"),
    ]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-10000:]
    for page in ("index", "api", "user_guide", "auto_examples/index"):
        assert (tmp_path / "html" / f"{page}.html").is_file()
