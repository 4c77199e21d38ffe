"""Notes of problems a computation met but did not stop for.

The engine never warns: where a solver stops at its iteration limit or a
Gaussian barycenter misses its tolerance, it adds a note, and the public
function or estimator that started the computation warns once per kind of
problem, at the user's line (see ``skgmmot._warnings``).
"""

import threading

__all__ = ["Notes"]


class Notes:
    """Kinds of non-fatal problems met, each with its first message and a count.

    Safe to share between the threads of one computation.
    """

    def __init__(self):
        self._found = {}
        self._lock = threading.Lock()

    def add(self, kind, message, category="convergence"):
        """Record one occurrence of ``kind``; the first message is kept.

        Parameters
        ----------
        kind : str
            What went wrong, e.g. ``"emd"`` or ``"sinkhorn"``.
        message : str
            The text of the warning the caller will give.
        category : {"convergence", "user"}, default="convergence"
            The caller warns with scikit-learn's ``ConvergenceWarning``, or
            with a ``UserWarning``.
        """
        with self._lock:
            first, count, cat = self._found.get(kind, (message, 0, category))
            self._found[kind] = (first, count + 1, cat)

    def merge(self, other):
        """Add the notes of ``other`` (e.g. from another process) to these."""
        for kind, (message, count, category) in other.items():
            with self._lock:
                first, seen, cat = self._found.get(kind, (message, 0, category))
                self._found[kind] = (first, seen + count, cat)

    def items(self):
        """List ``(kind, (first message, count, category))``, in the order met."""
        with self._lock:
            return list(self._found.items())

    def __bool__(self):
        return bool(self._found)

    def __getstate__(self):
        return {"found": self.items()}

    def __setstate__(self, state):
        self._found = dict(state["found"])
        self._lock = threading.Lock()
