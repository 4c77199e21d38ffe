"""Run each gallery example as ``python -W default plot_x.py`` would, and record it.

sphinx-gallery calls :func:`before_each_example` (``reset_modules`` in
``conf.py``) before it executes an example. The hook

- points ``$SKGMMOT_FIGURE_DIR`` at a folder of that example's own, under the
  figure folder of the build, so the figures each script saves are known per
  script;
- resets the warning filters to Python's ``default`` action, which also forgets
  the warnings already shown by earlier examples (a changed filter list empties
  every once-per-location registry): each example shows its own warnings in its
  captured output, as it would when run alone with ``PYTHONWARNINGS=default``.

With the captured output that sphinx-gallery writes into
``auto_examples/plot_x.rst``, these figures are the record that
``tests/test_examples.py`` checks when ``SKGMMOT_EXAMPLES=from-gallery`` (CI runs
each example once, in the documentation build).
"""

import os
import warnings
from pathlib import Path

#: The figure folder of the build: ``$SKGMMOT_FIGURE_DIR`` as ``conf.py`` leaves
#: it, read before the first example changes it.
_FIGURE_ROOT = []


def before_each_example(gallery_conf, fname, when):
    """Give the next example its own figure folder and fresh warning filters."""
    if when != "before" or fname is None:
        return
    if not _FIGURE_ROOT:
        _FIGURE_ROOT.append(Path(os.environ["SKGMMOT_FIGURE_DIR"]))
    os.environ["SKGMMOT_FIGURE_DIR"] = str(_FIGURE_ROOT[0] / Path(fname).stem)
    warnings.simplefilter("default")
