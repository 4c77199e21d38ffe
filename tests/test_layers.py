"""The layers of the package import only what their role allows.

``skgmmot._kernels`` (numba kernels) import numpy and numba only;
``skgmmot._engine`` (array computations) imports nothing from scikit-learn
and none of the public faces; the public faces (``skgmmot.ot``, the
estimators, pairwise distances, plotting) never reach into the kernels and
never import private names from ``skgmmot.ot``. See docs/architecture.rst.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "skgmmot"
FACES = ["ot.py", "_barycenter.py", "_flow.py", "_pairwise.py", "plotting.py"]


def _imports(path):
    """Every module imported by a file (module-level and in functions).

    ``from a import b`` counts as ``a`` and ``a.b`` (b may be a submodule).
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                found.append((node.module, alias.name))
    return found


def _modules(names):
    out = set()
    for module, name in names:
        out.add(module)
        if name is not None:
            out.add(f"{module}.{name}")
    return out


def _files(directory):
    return sorted((PACKAGE / directory).glob("*.py"))


@pytest.mark.parametrize("path", _files("_kernels"), ids=lambda p: p.name)
def test_kernels_import_numpy_and_numba_only(path):
    allowed = ("numpy", "numba", "llvmlite", "skgmmot._kernels")
    stdlib = set(sys.stdlib_module_names)
    for module, _ in _imports(path):
        top = module.split(".")[0]
        assert top in stdlib or module.startswith(allowed), (path.name, module)


@pytest.mark.parametrize("path", _files("_engine"), ids=lambda p: p.name)
def test_engine_imports_no_sklearn_and_no_public_face(path):
    forbidden = ("sklearn", "skgmmot.ot", "skgmmot._validation", "skgmmot._base")
    forbidden += tuple(f"skgmmot.{face[:-3]}" for face in FACES)
    for module in _modules(_imports(path)):
        assert not module.startswith(forbidden), (path.name, module)


@pytest.mark.parametrize("name", [*FACES, "_base.py"])
def test_public_faces_never_import_kernels(name):
    for module in _modules(_imports(PACKAGE / name)):
        assert not module.startswith("skgmmot._kernels"), (name, module)


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_nothing_imports_private_names_of_ot(path):
    for module, name in _imports(path):
        if module == "skgmmot.ot" and name is not None:
            assert not name.startswith("_"), (path.name, name)


def test_engine_runs_without_loading_sklearn():
    code = (
        "import sys\n"
        "import skgmmot._engine.barycenter, skgmmot._engine.flow\n"
        "import skgmmot._engine.alignment, skgmmot._engine.pairwise\n"
        "import skgmmot._engine.seeding\n"
        "assert not any(m.split('.')[0] == 'sklearn' for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('sklearn'))[:5]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
