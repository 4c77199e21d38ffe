"""The catalogue of hostile inputs shared by every module in ``tests/hostile``.

API.md: a *mixture* is a fitted ``GaussianMixture`` (any covariance type) or a
tuple ``(means, covariances, weights)``; an unfitted GaussianMixture raises
``NotFittedError``; anything else malformed raises ``ValueError`` naming the
offending mixture and field. Every entry point gets one test module here.

How it fits together
--------------------
A test class describes one public entry point:

- ``slots``: where a mixture goes in a call. ``kind="split"`` slots take the
  mixture as three separate arrays (the functional layer: ``m_s, C_s, w_s``),
  ``kind="object"`` slots take it whole (estimators, ``plot_gmm``, ...). A
  slot also says how messages name the mixture and its fields, whether its
  covariances must be positive definite, and which catalogue entries it skips
  (with the reason in the test module).
- ``build(rng, d)`` returns a dict of valid arguments, ``call(args)`` runs the
  entry point and returns the arrays to compare.

A test method with the arguments ``slot`` and ``mixture_case`` is
parametrized by :func:`pytest_generate_tests` over every applicable
(slot, catalogue entry) pair; one with ``samples_case`` over
:data:`SAMPLE_CASES`. The ``hostile`` fixture holds the runner and helpers
(``--import-mode=importlib`` makes a shared helper module unimportable).

Every test records how its hostile input ended (an exception class, a
documented conversion, or a valid input with a finite result);
``SKGMMOT_HOSTILE_REPORT=1 pytest tests/hostile`` prints the counts per entry
point at the end of the run.
"""

import collections
import contextlib
import dataclasses
import os
import re
import types
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

# ---------------------------------------------------------------- outcomes


@dataclasses.dataclass(frozen=True)
class Raises:
    """The call raises ``exc`` naming the mixture and ``field`` (+ ``suffix``).

    ``field`` is "m", "C", "w" (the slot's name for that field), "dims" (a
    dimension mismatch, named by the slot's ``dims`` phrase) or None (only
    the mixture is named).
    """

    exc: type = ValueError
    field: str | None = None
    suffix: str = ""


@dataclasses.dataclass(frozen=True)
class Converts:
    """The call succeeds and equals the call on ``reference(mixture)``.

    ``reference`` returns the float64 ``(means, covariances, weights)`` the
    input documents itself to be converted to; None: the input is valid as
    is and the result must only be finite.
    """

    reference: Callable | None = None
    rtol: float | None = None  # None: the test class's tolerance


#: Raises for slots whose covariances must be positive definite, else valid.
PD_ONLY = "pd-only"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    apply: Callable  # (mixture tuple, rng) -> new mixture (tuple or object)
    outcome: object
    scope: str = "fields"  # "fields": split and object slots; "object": whole
    needs_weights: bool = False


# ---------------------------------------------------------------- helpers


def names(*parts):
    """Regex matching a message that contains every part as a whole token."""
    looks = "".join(
        rf"(?=.*(?<!\w){re.escape(p)}(?!\w))" for p in parts if p is not None
    )
    return "(?s)" + looks


def random_mixture(rng, k=3, d=2, spread=3.0):
    means = spread * rng.randn(k, d)
    B = rng.randn(k, d, d)
    covs = B @ B.transpose(0, 2, 1) / d + 0.1 * np.eye(d)
    covs = 0.5 * (covs + covs.transpose(0, 2, 1))
    w = rng.rand(k) + 0.1
    return means, covs, w / w.sum()


def _with(mix, m=None, C=None, w=None):
    return (
        mix[0] if m is None else m,
        mix[1] if C is None else C,
        mix[2] if w is None else w,
    )


def _at(arr, index, value=np.nan):
    out = np.array(arr, dtype=float, copy=True)
    out[index] = value
    return out


def _indefinite(C):
    out = C.copy()
    d = C.shape[1]
    out[1] = np.diag(np.r_[1.0, -0.5, np.ones(d - 2)])
    return out


def _asymmetric(C):
    out = C.copy()
    out[1, 0, 1] += 0.1 * np.abs(C[1]).max()
    return out


def _tiny_asymmetry(C):
    out = C.copy()
    out[:, 0, 1] *= 1 + 1e-12
    return out


def _symmetrised(mix):
    C = mix[1]
    return _with(mix, C=0.5 * (C + C.transpose(0, 2, 1)))


def _integer_covs(k, d):
    """Integer SPD matrices: 2 on the diagonal, 1 above and below it."""
    C = 2 * np.eye(d, dtype=np.int64) + np.diag(np.ones(d - 1, np.int64), 1)
    C = C + np.diag(np.ones(d - 1, np.int64), -1) if d > 1 else C
    return np.stack([C * (i + 1) for i in range(k)])


def _float64(mix):
    return tuple(np.asarray(a, dtype=np.float64) for a in mix)


def _float32_reference(mix):
    m, C, w = (np.asarray(a, dtype=np.float32).astype(np.float64) for a in mix)
    return m, C, w / w.sum()


def _readonly(mix):
    out = tuple(np.array(a, copy=True) for a in mix)
    for a in out:
        a.setflags(write=False)
    return out


def _strided(mix):
    m, C, w = mix
    return (
        np.asfortranarray(m),
        np.repeat(C, 2, axis=0)[::2],
        np.repeat(w, 2)[::2],
    )


def _one_component(mix, rng):
    d = mix[0].shape[1]
    m, C, _ = random_mixture(rng, 1, d)
    return m, C, np.ones(1)


def _other_dimension(mix, rng):
    return random_mixture(rng, mix[0].shape[0], mix[0].shape[1] + 1)


def _empty(mix):
    d = mix[0].shape[1]
    return np.empty((0, d)), np.empty((0, d, d)), np.empty(0)


def _singular(C):
    out = C.copy()
    out[2] = 0.0
    return out


def _rank_one(C):
    out = C.copy()
    v = np.arange(1.0, C.shape[1] + 1.0)
    out[0] = np.outer(v, v)
    return out


# Fitted scikit-learn mixtures, cached per (class, covariance type, d).
_FITTED = {}


def _fitted(cls, covariance_type, d, k=3):
    key = (cls, covariance_type, d, k)
    if key not in _FITTED:
        rng = np.random.RandomState(1234 + d)
        centers = 6.0 * rng.randn(k, d)
        X = np.concatenate(
            [c + rng.randn(40, d) * (0.5 + 0.3 * i) for i, c in enumerate(centers)]
        )
        model = cls(
            n_components=k, covariance_type=covariance_type, random_state=0
        ).fit(X)
        for name in ("means_", "covariances_", "weights_"):
            getattr(model, name).setflags(write=False)
        _FITTED[key] = model
    return _FITTED[key]


def expanded(gm):
    """Full (k, d, d) covariances of a fitted mixture, built independently."""
    k, d = gm.means_.shape
    cov = np.asarray(gm.covariances_)
    covs = {
        "full": lambda: cov.copy(),
        "tied": lambda: np.stack([cov] * k),
        "diag": lambda: np.stack([np.diag(c) for c in cov]),
        "spherical": lambda: np.stack([v * np.eye(d) for v in cov]),
    }[gm.covariance_type]()
    return gm.means_.copy(), 0.5 * (covs + covs.transpose(0, 2, 1)), gm.weights_.copy()


def _gm_case(cls, covariance_type):
    def apply(mix, rng):
        return _fitted(cls, covariance_type, mix[0].shape[1])

    def reference(mix):
        return expanded(_fitted(cls, covariance_type, mix[0].shape[1]))

    name = "bgm" if cls is BayesianGaussianMixture else "gm"
    return Case(f"{name}-{covariance_type}", apply, Converts(reference), "object")


def _tampered(attr, value_fn):
    """A fitted GaussianMixture copy with one attribute replaced."""

    def apply(mix, rng):
        model = _fitted(GaussianMixture, "full", mix[0].shape[1])
        copy = GaussianMixture(**model.get_params())
        copy.__dict__.update(
            {
                key: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                for key, v in model.__dict__.items()
            }
        )
        setattr(copy, attr, value_fn(getattr(copy, attr)))
        return copy

    return apply


def _f(fn):
    """A field-level corruption that ignores the generator."""
    return lambda mix, rng: fn(mix)


# ------------------------------------------------------------ the catalogue

MIXTURE_CASES = [
    # --- means
    Case("means-1d", _f(lambda x: _with(x, m=x[0][0])), Raises(field="m")),
    Case("means-3d", _f(lambda x: _with(x, m=x[0][None])), Raises(field="m")),
    Case(
        "means-fewer-features",
        _f(lambda x: _with(x, m=x[0][:, :1])),
        Raises(field="m"),
    ),
    Case(
        "means-extra-component",
        _f(lambda x: _with(x, m=np.vstack([x[0], x[0][:1]]))),
        Raises(field="m"),
    ),
    Case("means-nan", _f(lambda x: _with(x, m=_at(x[0], (1, 0)))), Raises(field="m")),
    Case(
        "means-inf",
        _f(lambda x: _with(x, m=_at(x[0], (2, 1), -np.inf))),
        Raises(field="m"),
    ),
    Case(
        "means-overflow",
        _f(lambda x: _with(x, m=_at(x[0], (1, 0), 1e200))),
        Raises(field="m"),
    ),
    Case(
        "means-strings",
        _f(lambda x: _with(x, m=np.full(x[0].shape, "a"))),
        Raises(field="m"),
    ),
    Case(
        "means-ragged",
        _f(lambda x: _with(x, m=[[0.0, 1.0], [2.0], [3.0, 4.0]])),
        Raises(field="m"),
    ),
    Case("means-complex", _f(lambda x: _with(x, m=x[0] + 1j)), Raises(field="m")),
    Case(
        "means-int",
        _f(lambda x: _with(x, m=np.round(x[0]).astype(np.int64))),
        Converts(lambda x: _with(x, m=np.round(x[0]))),
    ),
    Case(
        "means-list",
        _f(lambda x: _with(x, m=x[0].tolist())),
        Converts(lambda x: x),
    ),
    # --- covariances
    Case("covs-2d", _f(lambda x: _with(x, C=x[1][0])), Raises(field="C")),
    Case("covs-nonsquare", _f(lambda x: _with(x, C=x[1][:, :, :1])), Raises(field="C")),
    Case(
        "covs-fewer-components",
        _f(lambda x: _with(x, C=x[1][:2])),
        Raises(field="C"),
    ),
    Case(
        "covs-wrong-dimension",
        _f(lambda x: _with(x, C=np.stack([np.eye(x[1].shape[1] + 1)] * 3))),
        Raises(field="C"),
    ),
    Case("covs-nan", _f(lambda x: _with(x, C=_at(x[1], (1, 0, 0)))), Raises(field="C")),
    Case(
        "covs-inf",
        _f(lambda x: _with(x, C=_at(x[1], (2, 1, 1), np.inf))),
        Raises(field="C"),
    ),
    Case(
        "covs-overflow",
        _f(lambda x: _with(x, C=1e250 * x[1])),
        Raises(field="C"),
    ),
    Case(
        "covs-asymmetric",
        _f(lambda x: _with(x, C=_asymmetric(x[1]))),
        Raises(field="C", suffix="[1]"),
    ),
    Case(
        "covs-indefinite",
        _f(lambda x: _with(x, C=_indefinite(x[1]))),
        Raises(field="C", suffix="[1]"),
    ),
    Case(
        "covs-negative-definite",
        _f(lambda x: _with(x, C=_at(x[1], 0, 0.0) - np.eye(x[1].shape[1]))),
        Raises(field="C", suffix="[0]"),
    ),
    Case(
        "covs-complex",
        _f(lambda x: _with(x, C=x[1].astype(complex))),
        Raises(field="C"),
    ),
    Case(
        "covs-none",
        lambda x, rng: (x[0], None, x[2]),
        Raises(field="C"),
    ),
    Case(
        "covs-singular",
        _f(lambda x: _with(x, C=_singular(x[1]))),
        PD_ONLY,
    ),
    Case(
        "covs-rank-one",
        _f(lambda x: _with(x, C=_rank_one(x[1]))),
        PD_ONLY,
    ),
    Case(
        "covs-tiny-asymmetry",
        _f(lambda x: _with(x, C=_tiny_asymmetry(x[1]))),
        Converts(lambda x: _symmetrised(_with(x, C=_tiny_asymmetry(x[1])))),
    ),
    Case(
        "covs-int",
        _f(lambda x: _with(x, C=_integer_covs(*x[1].shape[:2]))),
        Converts(lambda x: _with(x, C=_integer_covs(*x[1].shape[:2]).astype(float))),
    ),
    # --- weights
    Case(
        "weights-fewer",
        _f(lambda x: _with(x, w=x[2][:2])),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-2d",
        _f(lambda x: _with(x, w=x[2][None])),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-nan",
        _f(lambda x: _with(x, w=_at(x[2], 1))),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-inf",
        _f(lambda x: _with(x, w=_at(x[2], 0, np.inf))),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-negative",
        _f(lambda x: _with(x, w=np.array([0.6, 0.6, -0.2]))),
        Raises(field="w", suffix="[2]"),
        needs_weights=True,
    ),
    Case(
        # Beyond the tolerance of 1.5e-6 (POT's) on the sum.
        "weights-sum-above",
        _f(lambda x: _with(x, w=x[2] * (1 + 1e-5))),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-sum-below",
        _f(lambda x: _with(x, w=x[2] * (1 - 2e-6))),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-counts",
        _f(lambda x: _with(x, w=np.array([2.0, 3.0, 5.0]))),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-all-zero",
        _f(lambda x: _with(x, w=np.zeros(3))),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-object",
        _f(lambda x: _with(x, w=np.array([0.5, None, 0.5], dtype=object))),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-strings",
        _f(lambda x: _with(x, w=["0.2", "0.3", "0.5"])),
        Raises(field="w"),
        needs_weights=True,
    ),
    Case(
        "weights-within-tolerance",
        _f(lambda x: _with(x, w=x[2] * (1 + 1e-6))),
        # Accepted and divided by their sum: the result of the exact weights.
        Converts(lambda x: x),
        needs_weights=True,
    ),
    Case(
        "weights-zero-entry",
        _f(lambda x: _with(x, w=np.array([0.5, 0.5, 0.0]))),
        Converts(),
        needs_weights=True,
    ),
    Case(
        "weights-int-onehot",
        _f(lambda x: _with(x, w=np.array([0, 1, 0]))),
        Converts(lambda x: _with(x, w=np.array([0.0, 1.0, 0.0]))),
        needs_weights=True,
    ),
    # --- the whole mixture, still as three arrays
    Case("empty", _f(_empty), Raises(field="m")),
    Case("one-component", _one_component, Converts()),
    Case("other-dimension", _other_dimension, Raises(field="dims")),
    Case(
        "float32",
        _f(lambda x: tuple(np.asarray(a, dtype=np.float32) for a in x)),
        Converts(_float32_reference),
    ),
    Case(
        "lists",
        _f(lambda x: tuple(np.asarray(a).tolist() for a in x)),
        Converts(lambda x: x),
    ),
    Case("readonly", _f(_readonly), Converts(lambda x: x)),
    Case("strided-fortran", _f(_strided), Converts(lambda x: x)),
    # --- objects in place of the whole mixture
    Case("list-container", _f(list), Converts(lambda x: x), "object"),
    _gm_case(GaussianMixture, "full"),
    _gm_case(GaussianMixture, "tied"),
    _gm_case(GaussianMixture, "diag"),
    _gm_case(GaussianMixture, "spherical"),
    _gm_case(BayesianGaussianMixture, "diag"),
    Case(
        "gm-unfitted",
        lambda x, rng: GaussianMixture(n_components=2),
        Raises(NotFittedError),
        "object",
    ),
    Case(
        "gm-nan-means",
        _tampered("means_", lambda m: _at(m, (0, 0))),
        Raises(field="means_"),
        "object",
    ),
    Case(
        "gm-asymmetric-covariances",
        _tampered("covariances_", _asymmetric),
        Raises(field="covariances_", suffix="[1]"),
        "object",
    ),
    # covariance_type must describe how covariances_ is stored (issue 14.10).
    Case(
        "gm-covariance-type-changed",
        _tampered("covariance_type", lambda _: "diag"),
        Raises(field="covariances_"),
        "object",
    ),
    Case(
        "gm-covariances-wrong-shape",
        _tampered("covariances_", lambda C: C[:, 0]),
        Raises(field="covariances_"),
        "object",
    ),
    Case(
        "gm-weights-not-normalised",
        _tampered("weights_", lambda w: 2.0 * w),
        Raises(field="weights_"),
        "object",
    ),
    Case(
        "obj-dict", _f(lambda x: dict(zip("mCw", x, strict=True))), Raises(), "object"
    ),
    Case("obj-none", lambda x, rng: None, Raises(), "object"),
    Case("obj-string", lambda x, rng: "gmm", Raises(), "object"),
    Case("obj-means-array", _f(lambda x: x[0]), Raises(), "object"),
    Case("obj-two-tuple", _f(lambda x: x[:2]), Raises(), "object"),
    Case("obj-four-tuple", _f(lambda x: (*x, x[2])), Raises(), "object"),
]

assert len({c.id for c in MIXTURE_CASES}) == len(MIXTURE_CASES)
CASES_BY_ID = {c.id: c for c in MIXTURE_CASES}

#: Sample arrays (``X`` of estimator methods): sklearn's ``validate_data``
#: messages, or a documented conversion. id -> (corrupt(X), outcome) where
#: outcome is a regex for ValueError or "converts" (result equals the call on
#: ``np.asarray(value, dtype=float64)``).
SAMPLE_CASES = {
    "1d": (lambda X: X[0], r"Expected 2D array, got 1D array"),
    "3d": (lambda X: X[None], r"Found array with dim 3"),
    "scalar": (lambda X: 3.0, r"Expected 2D array, got scalar array"),
    "none": (lambda X: None, r"Expected 2D array, got scalar array"),
    "other-features": (
        lambda X: np.hstack([X, X[:, :1]]),
        r"X has 3 features, but \w+ is expecting 2 features",
    ),
    "nan": (lambda X: _at(X, (1, 0)), r"Input X contains NaN"),
    "inf": (lambda X: _at(X, (0, 1), np.inf), r"Input X contains infinity"),
    "empty": (lambda X: X[:0], r"Found array with 0 sample\(s\)"),
    "strings": (lambda X: np.full(X.shape, "a"), r"could not convert string to float"),
    "complex": (lambda X: X + 1j, r"Complex data not supported"),
    "list": (lambda X: X.tolist(), "converts"),
    "int": (lambda X: np.round(X).astype(np.int64), "converts"),
    "bool": (lambda X: X > 0, "converts"),
    "float32": (lambda X: X.astype(np.float32), "converts"),
    "readonly-fortran": (
        lambda X: _readonly((np.asfortranarray(X), X, X))[0],
        "converts",
    ),
}


#: Points ``x`` of the functional layer (``gmm_pdf``, ``gmm_ot_apply_map``):
#: id -> (corrupt(x), regex of the ValueError or "converts"). A test class
#: may override entries with ``points_override``.
POINT_CASES = {
    "1d": (lambda x: x[0], r"x must be a 2-D array of shape \(n_samples, 2\)"),
    "3d": (lambda x: x[None], r"x must be a 2-D array of shape \(n_samples, 2\)"),
    "scalar": (lambda x: 3.0, r"(?<!\w)x must"),
    "none": (lambda x: None, r"(?<!\w)x must"),
    "other-features": (lambda x: np.hstack([x, x[:, :1]]), r"(?<!\w)x must"),
    "nan": (lambda x: _at(x, (1, 0)), r"x contains NaN or infinity"),
    "inf": (lambda x: _at(x, (0, 1), -np.inf), r"x contains NaN or infinity"),
    "overflow": (lambda x: _at(x, (0, 0), 1e200), r"x has entries of magnitude"),
    "strings": (lambda x: np.full(x.shape, "a"), r"x must hold real numbers"),
    "complex": (lambda x: x + 1j, r"x must hold real numbers, got complex"),
    "empty": (lambda x: x[:0], "converts"),
    "list": (lambda x: x.tolist(), "converts"),
    "int": (lambda x: np.round(x).astype(np.int64), "converts"),
    "bool": (lambda x: x > 0, "converts"),
    "float32": (lambda x: x.astype(np.float32), "converts"),
    "readonly-fortran": (
        lambda x: _readonly((np.asfortranarray(x), x, x))[0],
        "converts",
    ),
}


# ------------------------------------------------------------ parametrizing


def _applicable(slot, case):
    if case.id in slot.get("skip", ()):
        return False
    if slot["kind"] == "split":
        if case.scope == "object":
            return False
        if case.needs_weights and slot["paths"][2] is None:
            return False
    return True


def pytest_generate_tests(metafunc):
    cls = metafunc.cls
    if {"slot", "mixture_case"} <= set(metafunc.fixturenames):
        params = [
            pytest.param(name, case, id=f"{name}-{case.id}")
            for name, slot in cls.slots.items()
            for case in MIXTURE_CASES
            if _applicable(slot, case)
        ]
        metafunc.parametrize(("slot", "mixture_case"), params)
    if "points_case" in metafunc.fixturenames:
        metafunc.parametrize("points_case", list(POINT_CASES))
    if "samples_case" in metafunc.fixturenames:
        methods = getattr(cls, "sample_methods", [None])
        params = [
            pytest.param(method, case, id=f"{method}-{case}" if method else case)
            for method in methods
            for case in SAMPLE_CASES
        ]
        metafunc.parametrize(("method", "samples_case"), params)


# --------------------------------------------------------------- recording

#: nodeid -> how the test's hostile input ended.
OUTCOMES = {}
_CURRENT = {"nodeid": None}


def record(kind):
    """Record the outcome of the running test ("converted", "valid", or an
    exception class name); an exception outranks a conversion."""
    nodeid = _CURRENT["nodeid"]
    if nodeid is None:  # pragma: no cover - called outside a test
        return
    previous = OUTCOMES.get(nodeid)
    if previous is None or previous == "valid" or kind not in ("valid", "converted"):
        OUTCOMES[nodeid] = kind


@contextlib.contextmanager
def raises(exc, match=None):
    """``pytest.raises`` that records the class of the exception raised."""
    with pytest.raises(exc, match=match) as info:
        yield info
    record(info.type.__name__)


@pytest.fixture(autouse=True)
def _track_outcome(request):
    _CURRENT["nodeid"] = request.node.nodeid
    yield
    _CURRENT["nodeid"] = None


def _entry_point(nodeid):
    module, _, rest = nodeid.partition("::")
    name = module.rsplit("/", 1)[-1].removeprefix("test_hostile_").removesuffix(".py")
    cls = rest.split("::")[0] if "::" in rest else "(module-level tests)"
    return f"{name}.{cls}" if name in _PER_CLASS else name


#: Modules whose classes are separate entry points (methods, functions).
_PER_CLASS = {"gmmot_barycenter", "gmmot_flow", "plotting", "datasets"}


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("SKGMMOT_HOSTILE_REPORT") != "1" or not OUTCOMES:
        return
    table = collections.defaultdict(collections.Counter)
    for nodeid, kind in OUTCOMES.items():
        table[_entry_point(nodeid)][kind] += 1
    for report in terminalreporter.stats.get("passed", []):
        if report.when == "call" and report.nodeid not in OUTCOMES:
            table[_entry_point(report.nodeid)]["unrecorded"] += 1
    kinds = sorted({k for counts in table.values() for k in counts})
    write = terminalreporter.write_line
    write("")
    write("hostile inputs per entry point (how each ended)")
    write(f"{'entry point':44s} {'total':>6s} " + " ".join(f"{k:>15s}" for k in kinds))
    for entry in sorted(table):
        counts = table[entry]
        cells = " ".join(f"{counts.get(k, 0):15d}" for k in kinds)
        write(f"{entry:44s} {sum(counts.values()):6d} {cells}")
    total = collections.Counter()
    for counts in table.values():
        total.update(counts)
    cells = " ".join(f"{total.get(k, 0):15d}" for k in kinds)
    write(f"{'all':44s} {sum(total.values()):6d} {cells}")


# ----------------------------------------------------------------- runner


def _get(args, path):
    value = args[path[0]]
    return value[path[1]] if len(path) == 2 else value


def _set(args, path, value):
    if len(path) == 2:
        args[path[0]] = list(args[path[0]])
        args[path[0]][path[1]] = value
    else:
        args[path[0]] = value


def _read(args, slot):
    paths = slot["paths"]
    if slot["kind"] == "object":
        return _get(args, paths[0])
    m, C = _get(args, paths[0]), _get(args, paths[1])
    w = np.full(m.shape[0], 1.0 / m.shape[0]) if paths[2] is None else None
    return m, C, (w if w is not None else _get(args, paths[2]))


def _write(args, slot, value):
    paths = slot["paths"]
    if slot["kind"] == "object":
        _set(args, paths[0], value)
        return
    if not isinstance(value, tuple) or len(value) != 3:  # pragma: no cover
        raise AssertionError("split slots take field-level corruptions only")
    for path, arr in zip(paths, value, strict=True):
        if path is not None:
            _set(args, path, arr)


OBJECT_FIELDS = ("means", "covariances", "weights")


def flatten(out):
    """The arrays of a result, in order (dicts and None excluded)."""
    if isinstance(out, tuple | list):
        return [
            a
            for o in out
            if not isinstance(o, dict) and o is not None
            for a in flatten(o)
        ]
    return [np.asarray(out)]


def assert_same(out, ref, rtol=1e-12, atol=1e-14):
    """Same shapes, float64 floats, equal values; records a conversion."""
    record("converted")
    out, ref = flatten(out), flatten(ref)
    assert len(out) == len(ref)
    for a, b in zip(out, ref, strict=True):
        assert a.shape == b.shape
        if a.dtype.kind == "f":
            assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def assert_finite(out):
    """A non-empty, finite result; records a valid input."""
    record("valid")
    arrays = flatten(out)
    assert arrays
    for a in arrays:
        assert np.all(np.isfinite(a.astype(np.float64)))


def run_mixture_case(test, slot_name, case, rng, d=2):
    """Corrupt one slot of valid arguments and assert the documented outcome."""
    slot = test.slots[slot_name]
    args = test.build(rng, d)
    original = _read(args, slot)
    value = case.apply(original, rng)
    _write(args, slot, value)
    outcome = case.outcome
    if outcome == PD_ONLY:
        outcome = (
            Raises(field="C", suffix="[2]" if "singular" in case.id else "[0]")
            if slot.get("pd")
            else Converts()
        )
    # A slot may override an entry: "valid" (the input is valid there) or a
    # tuple (exception class, *tokens the message must name).
    override = slot.get("override", {}).get(case.id)
    if override == "valid":
        outcome = Converts()
    elif override is not None:
        with raises(override[0], match=names(*override[1:])):
            test.call(args)
        return "raises"
    if isinstance(outcome, Raises):
        fields = slot.get("fields", OBJECT_FIELDS)
        position = {"m": 0, "C": 1, "w": 2}.get(outcome.field)
        if outcome.field == "dims":
            parts = [slot.get("dims", slot["name"])]
        elif position is not None:
            field = fields[position] + outcome.suffix
            # Some fields belong to no mixture (barycentric coefficients).
            unnamed = "mCw"[position] in slot.get("unnamed", "")
            parts = [None if unnamed else slot["name"], field]
        else:
            parts = [slot["name"], outcome.field and outcome.field + outcome.suffix]
        with raises(outcome.exc, match=names(*parts)):
            test.call(args)
        return "raises"
    assert isinstance(outcome, Converts), outcome
    out = test.call(args)
    assert_finite(out)
    if outcome.reference is not None:
        ref_args = dict(args)
        ref = tuple(
            np.array(a, dtype=np.float64, copy=True)
            for a in outcome.reference(original)
        )
        _write(ref_args, slot, ref)
        tolerance = dict(getattr(test, "tolerance", {}))
        if outcome.rtol is not None:
            tolerance.update(rtol=outcome.rtol, atol=1e-12)
        assert_same(out, test.call(ref_args), **tolerance)
    return "converts"


def run_points_case(test, case, rng):
    """Corrupt the points ``x`` of valid arguments; assert the documented end."""
    args = test.build(rng, 2)
    corrupt, outcome = POINT_CASES[case]
    outcome = getattr(test, "points_override", {}).get(case, outcome)
    args["x"] = corrupt(args["x"])
    if outcome == "converts":
        out = test.call(args)
        ref = test.call(dict(args, x=np.asarray(args["x"], dtype=np.float64)))
        assert_same(out, ref)
        return
    with raises(ValueError, match=outcome):
        test.call(args)


def embed(obj):
    """Embed 1-D arguments in 2-D: a second, independent N(0, 1) coordinate.

    Means and points (arrays of shape (n, 1)) get a zero column, covariances
    (k, 1, 1) become diag(C, 1); weights are unchanged. Every GMM-OT quantity
    of the embedded mixtures restricts to that of the 1-D ones (the extra
    coordinate is the same standard Gaussian everywhere and costs nothing).
    """
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        if obj.ndim == 2 and obj.shape[1] == 1:
            return np.hstack([obj, np.zeros_like(obj)])
        if obj.ndim == 3 and obj.shape[1:] == (1, 1):
            out = np.zeros((obj.shape[0], 2, 2))
            out[:, 0, 0], out[:, 1, 1] = obj[:, 0, 0], 1.0
            return out
        return obj
    if isinstance(obj, list | tuple):
        return type(obj)(embed(x) for x in obj)
    if isinstance(obj, dict):
        return {key: embed(value) for key, value in obj.items()}
    return obj


def check_dimension_one(test, rng):
    """d = 1 works and agrees with the same mixtures embedded in 2-D."""
    args = test.build(rng, 1)
    out = flatten(test.call(args))
    assert_finite(out)
    embedded = flatten(test.call(embed(args)))
    assert len(out) == len(embedded)
    factor = getattr(test, "embedded_factor", 1.0)
    for a, b in zip(out, embedded, strict=True):
        # The 1-D result is the leading block of the 2-D one.
        block = b[tuple(slice(0, n) for n in a.shape)]
        np.testing.assert_allclose(a, factor * block, rtol=1e-9, atol=1e-12)


def run_samples_case(method, case, X, call):
    """Corrupt a sample array and assert sklearn's message or a conversion."""
    corrupt, outcome = SAMPLE_CASES[case]
    value = corrupt(X)
    if outcome == "converts":
        out = call(method, value)
        ref = call(method, np.asarray(value, dtype=np.float64))
        # float32 samples are evaluated in float32, as GaussianMixture does.
        tolerance = {"rtol": 1e-4, "atol": 1e-6} if case == "float32" else {}
        assert_same(out, ref, **tolerance)
        return
    with raises(ValueError, match=outcome):
        call(method, value)


@pytest.fixture
def hostile():
    """The runner and helpers of the hostile-input tests."""
    return types.SimpleNamespace(
        run_mixture_case=run_mixture_case,
        run_samples_case=run_samples_case,
        run_points_case=run_points_case,
        check_dimension_one=check_dimension_one,
        raises=raises,
        record=record,
        random_mixture=random_mixture,
        names=names,
        assert_same=assert_same,
        assert_finite=assert_finite,
        flatten=flatten,
        cases=CASES_BY_ID,
        fitted=_fitted,
        expanded=expanded,
    )
