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


def warn_notes(notes):
    """Warn once per kind of problem recorded in ``notes``.

    Notes of category ``"convergence"`` become scikit-learn's
    ``ConvergenceWarning``, those of category ``"user"`` a ``UserWarning``
    (as POT's for infeasible problems).

    Parameters
    ----------
    notes : Notes
        Problems met by the computation.
    """
    if not notes:
        return
    from sklearn.exceptions import ConvergenceWarning

    classes = {"convergence": ConvergenceWarning, "user": UserWarning}
    level = user_stacklevel()
    for _, (message, count, category) in notes.items():
        if count > 1:
            message = f"{message} (met {count} times in this call)"
        warnings.warn(message, classes[category], stacklevel=level)
