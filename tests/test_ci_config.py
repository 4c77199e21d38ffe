"""The versions that CI, pre-commit and the minimum-versions job use agree.

- ruff and codespell: ``.pre-commit-config.yaml`` runs the versions that
  pyproject.toml's test extra pins (the ones CI installs);
- ``.ci/min-versions.txt`` pins every runtime dependency to exactly its lower
  bound in pyproject.toml, so CI's minimum-versions job tests the oldest
  versions the package claims to support.
"""

import pathlib
import re

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(lines):
    """The requirements of ``lines`` by normalised name."""
    parsed = (Requirement(line) for line in lines)
    return {req.name.lower(): req for req in parsed}


def _pre_commit_rev(repo):
    """The ``rev`` of ``repo`` (a URL's last part) in .pre-commit-config.yaml."""
    text = (ROOT / ".pre-commit-config.yaml").read_text()
    match = re.search(rf"- repo: \S+/{re.escape(repo)}\n\s+rev: v(\S+)\n", text)
    assert match, f".pre-commit-config.yaml has no {repo} hook with a rev"
    return match.group(1)


def _lower_bound(req):
    """The version of the ``>=`` clause of ``req``."""
    bounds = [spec.version for spec in req.specifier if spec.operator == ">="]
    assert len(bounds) == 1, f"{req} needs exactly one >= lower bound"
    return bounds[0]


def test_pre_commit_ruff_is_the_pinned_ruff():
    ruff = _requirements(PROJECT["optional-dependencies"]["test"])["ruff"]
    pins = [spec.version for spec in ruff.specifier if spec.operator == "=="]
    assert pins == [_pre_commit_rev("ruff-pre-commit")], (
        f"the test extra requires {ruff}; make .pre-commit-config.yaml's "
        "ruff-pre-commit rev v<that version>"
    )


def test_pre_commit_codespell_is_allowed_by_the_test_extra():
    codespell = _requirements(PROJECT["optional-dependencies"]["test"])["codespell"]
    rev = _pre_commit_rev("codespell")
    assert codespell.specifier.contains(rev), (codespell, rev)
    assert _lower_bound(codespell) == rev, "CI's oldest codespell is pre-commit's"


def test_min_versions_pin_every_lower_bound():
    lines = (ROOT / ".ci" / "min-versions.txt").read_text().splitlines()
    pinned = _requirements(
        line for line in lines if line.strip() and not line.startswith("#")
    )
    required = _requirements(PROJECT["dependencies"])
    assert pinned.keys() == required.keys()
    for name, req in required.items():
        specs = list(pinned[name].specifier)
        assert [spec.operator for spec in specs] == ["=="], name
        assert Version(specs[0].version) == Version(_lower_bound(req)), (
            f"{name}: pin {req}'s lower bound"
        )
