"""The README's Python example runs and does what it says."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    namespace = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    plan, loss = namespace["plan"], namespace["loss"]
    assert plan.shape == (3, 2)
    np.testing.assert_allclose(plan.sum(axis=1), namespace["src"].weights_)
    assert loss > 0
    assert namespace["X_moved"].shape == namespace["X"].shape


def test_readme_commands_match_ci():
    """.ci/run runs the README's test command verbatim."""
    text = README.read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)
    assert len(commands) >= 2
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1].strip() in ci


def test_readme_every_python_block_runs(capsys):
    """Every python block of the README runs in a fresh namespace."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    for block in blocks[1:]:
        namespace = {}
        exec(compile(block, str(README), "exec"), namespace)
    flow = namespace["flow"]
    assert flow.loss_curve_[-1] < 1e-6 and namespace["moved"].shape == (5, 2)
    assert "steps" in capsys.readouterr().out


def test_readme_links_and_pictures_exist():
    """Every relative link or picture of the README names a file of the repo."""
    targets = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    local = [t for t in targets if "://" not in t and not t.startswith("#")]
    assert any(t.endswith(".png") for t in local), "README.md shows no picture"
    missing = [t for t in local if not (README.parent / t).exists()]
    assert missing == []
