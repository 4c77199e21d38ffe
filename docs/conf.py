"""Sphinx configuration of the skgmmot documentation.

Build with ``make -C docs html`` (warnings are errors). The gallery runs every
``examples/plot_*.py`` script, and the build fails if one of them raises. The
figures the scripts save themselves go to ``$SKGMMOT_FIGURE_DIR/<script name>``,
by default ``docs/_build/example-figures/plot_x/`` (ignored by git), while
sphinx-gallery captures the open matplotlib figures for the pages. Each script
runs under Python's ``default`` warning filter, so its warnings appear in its
captured output (``sphinxext/gallery_record.py``). CI runs the examples only
here and checks this record with ``tests/test_examples.py`` afterwards.

The build needs no network. Links to the Python, NumPy, SciPy, scikit-learn and
POT documentation (intersphinx) are off unless ``SKGMMOT_DOCS_INTERSPHINX=1``,
because fetching their inventories needs the network.
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "sphinxext"))

try:
    import skgmmot
except ImportError:  # not installed: document the checkout
    sys.path.insert(0, str(ROOT))
    import skgmmot

# Examples save their figures under $SKGMMOT_FIGURE_DIR: keep them out of the tree.
os.environ.setdefault("SKGMMOT_FIGURE_DIR", str(DOCS / "_build" / "example-figures"))
os.environ.setdefault("MPLBACKEND", "Agg")

# -- Project ---------------------------------------------------------------

project = "skgmmot"
author = "skgmmot developers"
copyright = "skgmmot developers"
release = skgmmot.__version__
version = ".".join(release.split(".")[:2])

# -- General ---------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "readme_section",
]
if os.environ.get("SKGMMOT_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "ot": ("https://pythonot.github.io", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb"]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ----------------------------------------

autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "groupwise"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

#: scikit-learn's metadata-routing and set_output machinery, inherited by every
#: estimator: its docstrings link to scikit-learn's own pages (labels that only
#: resolve inside scikit-learn's documentation), so the class pages leave it to
#: scikit-learn's documentation and name it in a note instead.
_SKLEARN_MACHINERY = re.compile(r"^(get_metadata_routing|set_output|set_\w+_request)$")


def _skip_sklearn_machinery(app, what, name, obj, skip, options):
    """Leave scikit-learn's routing and output methods off the class pages."""
    if what == "class" and _SKLEARN_MACHINERY.match(name):
        return True
    return None


# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Execute the plot_ scripts only; quickstart.py is a command-line script
    # shown on the getting-started page instead.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(__init__|quickstart)\.py$",
    "doc_module": ("skgmmot",),
    "backreferences_dir": "generated",
    "reference_url": {"skgmmot": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "matplotlib_animations": False,
    "abort_on_example_error": False,
    # An example that raises fails the build, after the others have run.
    "only_warn_on_example_error": False,
    # Before each example: its own figure folder and fresh warning filters.
    "reset_modules": ("matplotlib", "gallery_record.before_each_example"),
    "reset_modules_order": "before",
}

# -- HTML ------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skgmmot {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "navbar_end": ["theme-switcher"],
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "getting_started": [], "performance": []}


def setup(app):
    """Connect the documentation's own event handlers."""
    app.connect("autodoc-skip-member", _skip_sklearn_machinery)
