"""Warnings that land on the user's line.

A public function or estimator collects the non-fatal problems of a
computation in a :class:`~skgmmot._engine.status.Notes` and calls
:func:`warn_notes` once at the end: one warning per kind of problem, whose
``stacklevel`` is counted at run time up to the first frame outside skgmmot,
scikit-learn and joblib, so that it points at the user's own line whether they
called a function, ``fit`` or a ``Pipeline`` or ``GridSearchCV`` around it.
"""

import os
import sys
import warnings

__all__ = ["user_stacklevel", "warn_notes"]


def _package_dir(name):
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) + os.sep if path else None


_SKGMMOT = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LIBRARY_FILES = ("contextlib.py", "functools.py")


def _internal(filename):
    """Whether a frame's file belongs to skgmmot or a library calling it."""
    if filename.startswith(_SKGMMOT):
        return True
    for name in ("sklearn", "joblib"):
        directory = _package_dir(name)
        if directory is not None and filename.startswith(directory):
            return True
    return os.path.basename(filename) in _LIBRARY_FILES and "python" in filename


def user_stacklevel():
    """Return the ``stacklevel`` of the first caller outside skgmmot (from the caller).

    Counted for a :func:`warnings.warn` made by the function that calls this
    one: 1 would be that function's own line.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and _internal(os.path.abspath(frame.f_code.co_filename)):
        frame = frame.f_back
        level += 1
    return level


def warn_notes(notes, category=None):
    """Warn once per kind of problem recorded in ``notes``.

    Parameters
    ----------
    notes : Notes
        Problems met by the computation.
    category : type of Warning, default=ConvergenceWarning
        The warning class.
    """
    if not notes:
        return
    if category is None:
        from sklearn.exceptions import ConvergenceWarning

        category = ConvergenceWarning
    level = user_stacklevel()
    for _, (message, count) in notes.items():
        if count > 1:
            message = f"{message} (met {count} times in this call)"
        warnings.warn(message, category, stacklevel=level)
