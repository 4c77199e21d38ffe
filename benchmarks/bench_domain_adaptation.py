"""GMM-OTDA (skgmmot.da) against skada's OT domain adaptation, simulated shifts.

Run ``python benchmarks/bench_domain_adaptation.py [--quick] [--only NAME] [--json PATH]
[--busy] [--full-grid]``. Prints markdown tables to stdout and progress
messages to stderr. Needs skada (``pip install 'skgmmot[da]'``).

Data: SKADA-Bench's "Simulated" dataset (``datasets/simulated.py`` of
github.com/scikit-adaptation/skada-bench): ``skada.datasets.make_shifted_datasets``
with binary labels, ``n_samples_source = n_samples_target = 100`` (x 3 for
``subspace``), noise 0.6 (covariate shift), 0.8 (target and conditional
shift, SKADA-Bench's "concept_drift") or 0.4 (subspace),
``center_cov_shift=(-0.4, 3)``, random states 0-4 (0-1 with ``--quick``). Each
dataset is split as SKADA-Bench's outer loop does
(``StratifiedDomainShuffleSplit(n_splits=5, test_size=0.2, random_state=0)``),
but only its first split is used: methods are fitted on the training part
(target labels masked as -1) and scored on the held-out 20 % of the target.
Base classifier everywhere: ``SVC(probability=True)`` with default C and gamma,
SKADA-Bench's choice for this dataset (``config/best_base_estimators.yml``),
with ``random_state=0`` for reproducible Platt scaling.

Sections:

1. ``accuracy``: target accuracy (mean +- std over seeds) and fit time (median
   of single fits over all datasets) of source only, skada's OTMapping,
   EntropicOTMapping, LinearOTMapping and OTLabelProp (skada's defaults, plus
   SKADA-Bench's grids for the selection rows: without EntropicOTMapping's
   cosine / cityblock and reg_e=0.1 points and OTLabelProp's reg=0.1 points,
   which take seconds per fit, unless ``--full-grid``; skada's defaults only
   with ``--quick``; plus OTLabelProp with ``n_iter_max=1e6``, because
   skada's default stops its exact plan after 200 network-simplex
   iterations) and of skgmmot's GMMOTMapping, GMMOTLabelProp and
   GMMOTLabelPropAdapter (its own ``predict``), each with
   ``n_components_per_class`` in 1-4, an exact or unbalanced
   (``reg=0.05, reg_m=1.0``) plan and ``class_prior`` "source" or
   "estimate", fixed in advance. Then the settings
   selected without the target labels: by skada's CircularValidation
   (SKADA-Bench's best scorer for the OT methods) or PredictionEntropyScorer
   on 3 inner splits of the training part (1 with ``--quick``; GMM rows
   only), and leave-one-shift-out (the setting with the best mean accuracy on
   the other three shifts); the best setting per shift by target accuracy is
   shown too, labelled oracle. Then the verdicts (against skada as
   SKADA-Bench runs it, and with converged exact plans), a diagnosis of the
   GMM plans, the published SKADA-Bench numbers, and every failure.
2. ``scaling``: time (median) and peak traced memory of the adaptation step
   alone (``adapter.fit_transform``, no classifier) from 800 to 80000
   samples per domain.
3. ``threads``: what BLAS / OpenMP threads cost the GMM fits. The other two
   sections run with one BLAS / OpenMP thread (threadpoolctl), for every
   method alike.
"""

import argparse
import contextlib
import io
import itertools
import math
import statistics
import sys
import time
import tracemalloc
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from _harness import (
    environment,
    fmt_bytes,
    fmt_ratio,
    fmt_runs,
    fmt_time,
    markdown_table,
    measure,
    print_section,
    progress,
    record,
    run_script,
)
from scipy.stats import multivariate_normal

# skada turns on scikit-learn's metadata routing when imported.
from skada import (
    EntropicOTMapping,
    EntropicOTMappingAdapter,
    LinearOTMapping,
    LinearOTMappingAdapter,
    OTLabelProp,
    OTLabelPropAdapter,
    OTMapping,
    OTMappingAdapter,
    SelectSource,
    SelectTarget,
    make_da_pipeline,
)
from skada import __version__ as skada_version
from skada.datasets import make_shifted_datasets
from skada.metrics import CircularValidation, PredictionEntropyScorer
from skada.model_selection import StratifiedDomainShuffleSplit
from sklearn.mixture import GaussianMixture
from sklearn.svm import SVC
from threadpoolctl import threadpool_info, threadpool_limits

from skgmmot.da import (
    GMMOTLabelProp,
    GMMOTLabelPropAdapter,
    GMMOTMapping,
    GMMOTMappingAdapter,
)

# ----------------------------------------------------------------------- data

#: SKADA-Bench's simulated datasets: shift -> (sample multiplier, noise).
#: skada 0.6 calls SKADA-Bench's "concept_drift" "conditional_shift".
SHIFTS = {
    "covariate_shift": (1, 0.6),
    "target_shift": (1, 0.8),
    "conditional_shift": (1, 0.8),
    "subspace": (3, 0.4),
}
SHORT = {
    "covariate_shift": "covariate",
    "target_shift": "target",
    "conditional_shift": "conditional",
    "subspace": "subspace",
}
N_SAMPLES = 100
CENTER_COV_SHIFT = (-0.4, 3)
SEEDS, QUICK_SEEDS = 5, 2
#: SKADA-Bench's outer split (objective.py); its first split is used.
OUTER_SPLIT = {"n_splits": 5, "test_size": 0.2, "random_state": 0}
#: Inner splits of the training part for the scorers (SKADA-Bench: 5).
N_INNER, QUICK_N_INNER = 3, 1
#: Every section runs with this many BLAS / OpenMP threads (see ``threads``).
BLAS_THREADS = 1

#: Published SKADA-Bench accuracies on these datasets (skada-bench's docs,
#: 1.0.0/experiment_results/table_results_all_dataset_unsupervised_accuracy:
#: best unsupervised scorer per method, 5 seeds x 5 outer splits).
PUBLISHED = {
    "Train Src": (0.88, 0.85, 0.66, 0.19),
    "Train Tgt": (0.92, 0.93, 0.82, 0.98),
    "MapOT": (0.72, 0.58, 0.81, 0.10),
    "EntOT": (0.71, 0.60, 0.82, 0.12),
    "LinOT": (0.73, 0.73, 0.76, 0.18),
    "OTLabelProp": (0.72, 0.59, 0.80, 0.07),
}
#: The numbers quoted in the issue (target shift; conditional shift).
ISSUE_QUOTED = (
    "target shift: source-only 0.850, MapOT 0.633, LinOT 0.810, OTLabelProp "
    "0.760; concept drift (conditional shift): OT methods 0.81-0.82"
)


def make_split(shift, seed, n_samples=N_SAMPLES):
    """SKADA-Bench's simulated dataset and the first split of its outer loop."""
    multiplier, noise = SHIFTS[shift]
    X, y, domain = make_shifted_datasets(
        n_samples_source=multiplier * n_samples,
        n_samples_target=multiplier * n_samples,
        shift=shift,
        noise=noise,
        label="binary",
        center_cov_shift=CENTER_COV_SHIFT,
        random_state=seed,
    )
    cv = StratifiedDomainShuffleSplit(**OUTER_SPLIT)
    train, test = next(cv.split(X, y, domain))
    test = test[domain[test] < 0]  # scored on the target only
    y_train = y[train].copy()
    y_masked = np.where(domain[train] < 0, -1, y_train)
    return {
        "X": X[train],
        "y": y_masked,
        "y_true": y_train,
        "domain": domain[train],
        "X_test": X[test],
        "y_test": y[test],
        "domain_test": domain[test],
    }


# -------------------------------------------------------------------- methods

TARGET_ONLY = "Train on target (reference)"
SOURCE_ONLY = "Source only"
SKADA_FAMILIES = ("OTMapping", "EntropicOTMapping", "LinearOTMapping", "OTLabelProp")
#: OTLabelProp's settings without the exact plans stopped at n_iter_max=200.
OTLP_CONVERGED = "OTLabelProp, converged"
SKADA_CONVERGED = (*SKADA_FAMILIES[:3], OTLP_CONVERGED)
GMM_FAMILIES = (
    "GMMOTMapping + SVC",
    "GMMOTLabelProp + SVC",
    "GMMOTLabelPropAdapter.predict",
)
#: n_components_per_class: the issue's 1-3, plus 4 (class 1 of the generator is
#: four Gaussian clusters).
GMM_SIZES = (1, 2, 3, 4)
#: The source's class proportions: its own, or estimated on the target (EM).
GMM_PRIORS = ("source", "estimate")
#: The unbalanced setting: reg and reg_m relative to the median component cost.
UNBALANCED = {"reg": 0.05, "reg_m": 1.0}
ANY_GMM = "skgmmot, any of the 3 families"


def base():
    return SVC(probability=True, random_state=0)


@dataclass(frozen=True)
class Config:
    family: str
    setting: str
    make: object = field(compare=False)
    default: bool = False
    uses_target_labels: bool = False
    #: skada's OTLabelProp exact plan, stopped after n_iter_max=200 iterations.
    truncated: bool = False
    #: The default of OTLP_CONVERGED (the default of skada, converged).
    converged_default: bool = False

    @property
    def key(self):
        return f"{self.family} | {self.setting}"


def gmm_setting(k, unbalanced, prior="source"):
    plan = "unbalanced (reg=0.05, reg_m=1)" if unbalanced else "exact"
    estimated = ", class_prior=estimate" if prior == "estimate" else ""
    return f"K={k}, {plan}{estimated}"


def configs(grid):
    """Every method and setting, fixed in advance (no target label chooses them).

    ``grid`` is "quick" (skada's defaults only), "default" (SKADA-Bench's grids
    without the slowest entropic points) or "full" (SKADA-Bench's grids).
    """
    out = [
        Config(
            TARGET_ONLY,
            "SelectTarget(SVC), target labels",
            lambda: make_da_pipeline(SelectTarget(base())),
            default=True,
            uses_target_labels=True,
        ),
        Config(
            SOURCE_ONLY,
            "SelectSource(SVC)",
            lambda: make_da_pipeline(SelectSource(base())),
            default=True,
        ),
    ]
    quick, full = grid == "quick", grid == "full"
    metrics = ("sqeuclidean",) if quick else ("sqeuclidean", "cosine", "cityblock")
    # SKADA-Bench's grids (config/datasets/Simulated.yml). The cost
    # normalisation does not change an exact plan, and 1e5 iterations (skada's
    # default max_iter) are enough here, so the sqeuclidean point is skada's
    # default OTMapping.
    for metric in metrics:
        out.append(
            Config(
                "OTMapping",
                f"metric={metric}, norm=median, max_iter=1e6",
                lambda m=metric: OTMapping(
                    base(), metric=m, norm="median", max_iter=1_000_000
                ),
                default=metric == "sqeuclidean",
            )
        )
    out.append(
        Config(
            "EntropicOTMapping",
            "reg_e=1, norm=None",
            lambda: EntropicOTMapping(base()),
            default=True,
        )
    )
    entropic = () if quick else (0.1, 0.5, 1.0) if full else (0.5, 1.0)
    for metric in metrics if full else ("sqeuclidean",):
        for reg_e in entropic:
            out.append(
                Config(
                    "EntropicOTMapping",
                    f"metric={metric}, reg_e={reg_e}, norm=median",
                    lambda m=metric, r=reg_e: EntropicOTMapping(
                        base(), metric=m, reg_e=r, norm="median", tol=1e-6
                    ),
                )
            )
    for bias in (True,) if quick else (True, False):
        for reg in (1.0,) if quick else (1e-8, 1e-6, 0.1, 1.0, 10.0):
            out.append(
                Config(
                    "LinearOTMapping",
                    f"reg={reg:g}, bias={bias}",
                    lambda r=reg, b=bias: LinearOTMapping(base(), reg=r, bias=b),
                    default=reg == 1.0 and bias,
                )
            )
    # skada's OTLabelProp stops the exact solver after n_iter_max=200
    # iterations (POT warns "numItermax reached"): the n_iter_max=1e6 points,
    # not in SKADA-Bench's grid, are the converged exact plan.
    regs = (None,) if quick else (None, 0.1, 1.0) if full else (None, 1.0)
    for metric in metrics:
        for reg in regs:
            out.append(
                Config(
                    "OTLabelProp",
                    f"metric={metric}, reg={reg}",
                    lambda m=metric, r=reg: OTLabelProp(base(), metric=m, reg=r),
                    default=metric == "sqeuclidean" and reg is None,
                    truncated=reg is None,
                )
            )
        out.append(
            Config(
                "OTLabelProp",
                f"metric={metric}, reg=None, n_iter_max=1e6",
                lambda m=metric: OTLabelProp(base(), metric=m, n_iter_max=1_000_000),
                converged_default=metric == "sqeuclidean",
            )
        )
    for unbalanced, prior, k in itertools.product((False, True), GMM_PRIORS, GMM_SIZES):
        params = {"n_components_per_class": k, "random_state": 0}
        if unbalanced:
            params.update(UNBALANCED)
        params["class_prior"] = prior
        setting = gmm_setting(k, unbalanced, prior)
        # the adapters' defaults
        default = k == 2 and not unbalanced and prior == "source"
        out += [
            Config(
                GMM_FAMILIES[0],
                setting,
                lambda p=params: GMMOTMapping(base(), **p),
                default,
            ),
            Config(
                GMM_FAMILIES[1],
                setting,
                lambda p=params: GMMOTLabelProp(base(), **p),
                default,
            ),
            Config(
                GMM_FAMILIES[2],
                setting,
                lambda p=params: make_da_pipeline(GMMOTLabelPropAdapter(**p)),
                default,
            ),
        ]
    return out


@contextlib.contextmanager
def captured():
    """Record warnings and swallow stdout (POT prints); yield the warnings list."""
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(io.StringIO()),
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("always")
        yield caught


def warning_keys(caught):
    return sorted({f"{w.category.__name__}: {str(w.message)[:90]}" for w in caught})


def run_one(config, data):
    """Fit on the training part, score on the held-out target; catch failures."""
    y = data["y_true"] if config.uses_target_labels else data["y"]
    estimator = config.make()
    with captured() as caught:
        start = time.perf_counter()
        try:
            estimator.fit(data["X"], y, sample_domain=data["domain"])
            seconds = time.perf_counter() - start
            pred = estimator.predict(data["X_test"], sample_domain=data["domain_test"])
            acc, error = float(np.mean(pred == data["y_test"])), None
            one_class = np.unique(pred).size == 1
        except Exception as exc:  # counted and reported, never hidden
            seconds = time.perf_counter() - start
            acc, error = math.nan, f"{type(exc).__name__}: {str(exc)[:160]}"
            one_class = False
    out = {"acc": acc, "fit_seconds": seconds, "error": error, "one_class": one_class}
    return out, warning_keys(caught)


SVC_PROBABILITY_WARNING = "The `probability` parameter was deprecated"

SCORERS = {"CircV": CircularValidation(), "PE": PredictionEntropyScorer()}


def inner_scores(config, data, n_inner):
    """Mean unsupervised scores on inner splits (no target labels)."""
    X, y, domain = data["X"], data["y"], data["domain"]
    cv = StratifiedDomainShuffleSplit(
        n_splits=n_inner, test_size=OUTER_SPLIT["test_size"], random_state=0
    )
    scores = {name: [] for name in SCORERS}
    failures = []
    for train, val in cv.split(X, y, domain):
        with captured():
            try:
                estimator = config.make().fit(
                    X[train], y[train], sample_domain=domain[train]
                )
            except Exception as exc:
                failures.append(f"fit: {type(exc).__name__}: {str(exc)[:120]}")
                continue
            for name, scorer in SCORERS.items():
                try:
                    value = scorer(estimator, X[val], y[val], sample_domain=domain[val])
                    scores[name].append(float(value))
                except Exception as exc:
                    failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
    out = {
        name: float(np.mean(v)) if len(v) == n_inner else math.nan
        for name, v in scores.items()
    }
    out["failures"] = failures
    return out


def plan_diagnosis(data, k, unbalanced):
    """How much of the GMM plan lands on target components of the other class.

    Uses the target labels, for diagnosis only: every target component gets
    the majority true label of the training target samples it explains best.
    """
    params = {"n_components_per_class": k, "random_state": 0}
    if unbalanced:
        params.update(UNBALANCED)
    target = data["domain"] < 0
    Xt, yt = data["X"][target], data["y_true"][target]
    with captured():
        adapter = GMMOTLabelPropAdapter(**params).fit(
            data["X"], data["y"], sample_domain=data["domain"]
        )
        means, covs, weights = adapter.target_mixture_
        logp = np.column_stack(
            [
                multivariate_normal(m, c, allow_singular=True).logpdf(Xt) + np.log(w)
                for m, c, w in zip(means, covs, weights, strict=True)
            ]
        )
        predicted = adapter.predict(Xt)
    nearest = logp.argmax(axis=1)
    majority = np.array(
        [
            np.bincount(yt[nearest == j], minlength=2).argmax()
            if np.any(nearest == j)
            else -1
            for j in range(weights.size)
        ]
    )
    plan = adapter.plan_
    source_classes = adapter.classes_[adapter.component_classes_]
    wrong = plan[source_classes[:, None] != majority[None, :]].sum() / plan.sum()
    return {
        "target_class1_share": float(np.mean(yt == 1)),
        "predicted_class1_share": float(np.mean(predicted == 1)),
        "wrong_class_mass": float(wrong),
        "plan_mass": float(plan.sum()),
    }


# ---------------------------------------------------------------- aggregation


def mean_std(values):
    ok = [v for v in values if not math.isnan(v)]
    failed = len(values) - len(ok)
    if not ok:
        return "all failed"
    text = f"{statistics.mean(ok):.3f} ± {statistics.pstdev(ok):.3f}"
    return text + (f" ({failed}/{len(values)} failed)" if failed else "")


def score_for_choice(values):
    """Mean accuracy with failed runs counted as 0 (used to pick settings)."""
    return float(np.mean([0.0 if math.isnan(v) else v for v in values]))


def clean_mean(values):
    ok = [v for v in values if not math.isnan(v)]
    return statistics.mean(ok) if ok else math.nan


class Results:
    """Accuracies, fit times and inner scores of every setting on every dataset."""

    def __init__(self, cfgs, shifts, seeds):
        self.cfgs = {c.key: c for c in cfgs}
        self.shifts = shifts
        self.seeds = seeds
        self.acc = {key: {s: [] for s in shifts} for key in self.cfgs}
        self.fit = {key: [] for key in self.cfgs}
        self.inner = {}  # (key, shift, seed) -> scores
        self.errors = Counter()  # (key, shift, error) -> runs
        self.warned = Counter()  # (family, warning) -> runs
        self.one_class = Counter()  # key -> runs predicting a single class
        self.diagnosis = {}

    def pool(self, family):
        if family == ANY_GMM:
            return [k for k, c in self.cfgs.items() if c.family in GMM_FAMILIES]
        if family == OTLP_CONVERGED:
            return [
                k
                for k, c in self.cfgs.items()
                if c.family == "OTLabelProp" and not c.truncated
            ]
        return [k for k, c in self.cfgs.items() if c.family == family]

    def default(self, family):
        flag = "converged_default" if family == OTLP_CONVERGED else "default"
        return next(k for k in self.pool(family) if getattr(self.cfgs[k], flag))

    def loso(self, family, shift):
        others = [s for s in self.shifts if s != shift]
        return max(
            self.pool(family),
            key=lambda k: np.mean([score_for_choice(self.acc[k][s]) for s in others]),
        )

    def oracle(self, family, shift):
        return max(
            self.pool(family), key=lambda k: score_for_choice(self.acc[k][shift])
        )

    def by_scorer(self, family, shift, scorer):
        """Per seed: the setting with the best inner score, and its accuracy."""
        picks, accs = [], []
        for i, seed in enumerate(self.seeds):

            def inner(k, seed=seed):
                value = self.inner[(k, shift, seed)][scorer]
                return -math.inf if math.isnan(value) else value

            best = max(self.pool(family), key=inner)
            picks.append(best)
            accs.append(self.acc[best][shift][i])
        return picks, accs

    def rule(self, family, rule, shift):
        """(accuracies per seed, settings picked) of a selection rule."""
        if rule == "default":
            key = self.default(family)
            return self.acc[key][shift], [key]
        if rule == "LOSO":
            key = self.loso(family, shift)
            return self.acc[key][shift], [key]
        if rule == "oracle":
            key = self.oracle(family, shift)
            return self.acc[key][shift], [key]
        picks, accs = self.by_scorer(family, shift, rule)
        return accs, picks


def picked_text(picks):
    """The settings picked (with their families), most frequent first."""
    counts = Counter(picks)
    if len(counts) == 1:
        return picks[0]
    return ", ".join(f"{k} x{n}" for k, n in counts.most_common())


# ------------------------------------------------------------- section: accuracy


def bench_accuracy(quick, full_grid=False):
    grid = "quick" if quick else "full" if full_grid else "default"
    seeds = list(range(QUICK_SEEDS if quick else SEEDS))
    n_inner = QUICK_N_INNER if quick else N_INNER
    cfgs = configs(grid)
    shifts = list(SHIFTS)
    res = Results(cfgs, shifts, seeds)
    gmm_cfgs = [c for c in cfgs if c.family in GMM_FAMILIES]
    start = time.perf_counter()
    with threadpool_limits(limits=BLAS_THREADS):
        for shift in shifts:
            for seed in seeds:
                progress(f"accuracy: {shift}, seed {seed} ({len(cfgs)} settings)")
                data = make_split(shift, seed)
                for config in cfgs:
                    out, warned = run_one(config, data)
                    res.acc[config.key][shift].append(out["acc"])
                    res.fit[config.key].append(out["fit_seconds"])
                    if out["error"]:
                        res.errors[(config.key, shift, out["error"])] += 1
                    res.one_class[config.key] += out["one_class"]
                    for w in warned:
                        res.warned[(config.family, w)] += 1
                for config in gmm_cfgs:
                    scores = inner_scores(config, data, n_inner)
                    res.inner[(config.key, shift, seed)] = scores
                    for failure in scores["failures"]:
                        res.errors[(config.key + " [inner]", shift, failure)] += 1
                for k in (2, 4):
                    for unbalanced in (False, True):
                        res.diagnosis.setdefault((k, unbalanced, shift), []).append(
                            plan_diagnosis(data, k, unbalanced)
                        )
    elapsed = time.perf_counter() - start
    report_fixed(res, n_inner, quick)
    selected = report_selected(res, n_inner)
    verdicts = {
        "skada as run": report_verdict(
            res,
            SKADA_FAMILIES,
            "Verdict: skgmmot's selected GMM-OT methods against skada's OT "
            "methods, as SKADA-Bench runs them",
            "skada as SKADA-Bench runs it: OTLabelProp's exact plans stop after "
            "n_iter_max=200 network-simplex iterations (skada's default), far "
            "from optimal here; see the next table.",
        ),
        "skada converged": report_verdict(
            res,
            SKADA_CONVERGED,
            "Verdict: the same against skada's OT methods with converged exact plans",
            f"{OTLP_CONVERGED}: OTLabelProp without its n_iter_max=200 exact "
            "settings, its default replaced by n_iter_max=1e6. The other "
            "families do not change (their exact plans converge at this size).",
        ),
    }
    report_published(res)
    report_diagnosis(res)
    report_failures(res)
    for key, config in res.cfgs.items():
        if config.default:
            lib = "skgmmot" if config.family in GMM_FAMILIES else "skada"
            record(
                f"{lib}: fit {config.family} (n=100)", statistics.median(res.fit[key])
            )
    return {
        "seeds": seeds,
        "n_inner": n_inner,
        "grid": grid,
        "seconds": elapsed,
        "settings": {
            key: {
                "family": c.family,
                "setting": c.setting,
                "default": c.default,
                "acc": res.acc[key],
                "fit_seconds": res.fit[key],
                "one_class_runs": res.one_class[key],
            }
            for key, c in res.cfgs.items()
        },
        "inner_scores": {
            f"{k} @ {s} seed {seed}": v for (k, s, seed), v in res.inner.items()
        },
        "selected": selected,
        "verdict": verdicts,
        "diagnosis": {
            f"K={k}, {'unbalanced' if u else 'exact'} @ {s}": v
            for (k, u, s), v in res.diagnosis.items()
        },
        "failures": [
            {"setting": k, "shift": s, "error": e, "runs": n}
            for (k, s, e), n in res.errors.items()
        ],
        "warnings": [
            {"family": f, "warning": w, "runs": n} for (f, w), n in res.warned.items()
        ],
    }


def shift_headers():
    return [SHORT[s] for s in SHIFTS]


def report_fixed(res, n_inner, quick):
    rows = []
    for key, config in res.cfgs.items():
        if config.family in SKADA_FAMILIES and not config.default:
            continue  # grid points: in the JSON and the selection rows
        errors = sum(n for (k, _, _), n in res.errors.items() if k == key)
        rows.append(
            [
                config.family,
                config.setting + (" (default)" if config.default else ""),
                *(mean_std(res.acc[key][s]) for s in res.shifts),
                fmt_time(statistics.median(res.fit[key])),
                errors,
                res.one_class[key],
            ]
        )
    n_runs = len(res.seeds)
    notes = [
        f"Mean ± std of the target test accuracy over {n_runs} seeds "
        f"(random_state {res.seeds[0]}-{res.seeds[-1]}), first outer split of "
        "SKADA-Bench (80 % of each domain to fit, the other 20 % of the target "
        "to score: 160 samples, 240 for subspace).",
        "Fit time: median of the single fits over all "
        f"{n_runs * len(res.shifts)} datasets (800 samples per domain in the "
        "training part, 1920 for subspace), base SVC included, one BLAS / "
        "OpenMP thread; skgmmot's numba kernels were warmed up before.",
        "skada rows: skada's defaults; their SKADA-Bench grids are used in the "
        "next table. GMM rows: every setting of the fixed grid "
        "n_components_per_class in 1-4 x {exact, unbalanced reg=0.05 reg_m=1} x "
        "class_prior {source, estimate}; "
        "(default) = the adapters' defaults (K=2, exact).",
        "Train on target uses the target labels: an upper reference, not a method.",
        "failures: runs that raised (see the failures table; their accuracy is "
        "left out of the mean). 1-class runs: runs that predicted one class "
        "for every test target sample (0.90 on target shift, 0.50 on "
        "conditional shift: a collapse, not an adaptation).",
    ]
    if quick:
        notes.append("--quick: 2 seeds only; the means are rough.")
    print_section(
        "Target accuracy, fixed settings",
        markdown_table(
            [
                "family",
                "setting",
                *shift_headers(),
                "fit (median)",
                "failures",
                "1-class runs",
            ],
            rows,
        ),
        notes,
    )


def report_selected(res, n_inner):
    rows, out = [], {}
    plans = [
        (f, ("default", "LOSO", "oracle")) for f in (*SKADA_FAMILIES, OTLP_CONVERGED)
    ]
    plans += [(f, ("default", "CircV", "PE", "LOSO", "oracle")) for f in GMM_FAMILIES]
    plans.append((ANY_GMM, ("CircV", "PE", "LOSO", "oracle")))
    for family, rules in plans:
        for rule in rules:
            cells, picked = [], {}
            for shift in res.shifts:
                accs, picks = res.rule(family, rule, shift)
                cells.append(mean_std(accs))
                picked[shift] = picks
            label = {
                "default": "default setting",
                "CircV": f"CircularValidation ({n_inner} inner split(s))",
                "PE": f"PredictionEntropy ({n_inner} inner split(s))",
                "LOSO": "leave-one-shift-out",
                "oracle": "ORACLE (target test labels)",
            }[rule]
            rows.append([family, label, *cells])
            out[f"{family} | {rule}"] = {
                s: {"acc": res.rule(family, rule, s)[0], "picked": picked[s]}
                for s in res.shifts
            }
    notes = [
        "default: the setting of the previous table. CircularValidation / "
        "PredictionEntropy: skada's unsupervised scorers, on inner "
        "StratifiedDomainShuffleSplit(test_size=0.2, random_state=0) splits of "
        "the training part (as SKADA-Bench's GridSearchCV, with "
        f"{n_inner} instead of 5 splits), best mean score per dataset; GMM "
        "families only (SKADA-Bench selected the skada methods with 5 inner "
        "splits; their published numbers are below).",
        "leave-one-shift-out: the setting with the best mean accuracy on the "
        "other three shifts (no label of this shift is used; the labels of the "
        "other shifts are).",
        "ORACLE: the setting with the best mean accuracy on this shift's "
        "target test labels: an upper bound, not a result. Failed runs count "
        "as 0 when picking.",
        f"{OTLP_CONVERGED}: OTLabelProp's settings without the exact plans "
        "that skada stops after n_iter_max=200 network-simplex iterations "
        "(POT warns 'numItermax reached before optimality' on every such "
        "fit here); its default is skada's default with n_iter_max=1e6.",
    ]
    picks = []
    for family in (ANY_GMM,):
        for rule in ("CircV", "LOSO"):
            for shift in res.shifts:
                _, chosen = res.rule(family, rule, shift)
                picks.append(f"{rule} {SHORT[shift]}: {picked_text(chosen)}")
    notes.append("Settings picked for " + ANY_GMM + ": " + " | ".join(picks))
    print_section(
        "Target accuracy, settings selected without this shift's target labels",
        markdown_table(["family", "selection", *shift_headers()], rows),
        notes,
    )
    return out


def baseline_best(res, rule, shift, families):
    """Best mean accuracy of skada's OT families under a selection rule."""
    best, which = -math.inf, None
    for family in families:
        accs, _ = res.rule(family, rule, shift)
        value = clean_mean(accs)
        if value > best:
            best, which = value, family
    return best, which


def report_verdict(res, families, title, baseline_note):
    candidates = [
        (f"{ANY_GMM}, CircularValidation", ANY_GMM, "CircV"),
        (f"{ANY_GMM}, PredictionEntropy", ANY_GMM, "PE"),
        (f"{ANY_GMM}, leave-one-shift-out", ANY_GMM, "LOSO"),
    ]
    for family in GMM_FAMILIES:
        candidates.append((f"{family}, CircularValidation", family, "CircV"))
        candidates.append((f"{family}, leave-one-shift-out", family, "LOSO"))
    levels = ("default", "LOSO", "oracle")
    bests = {
        (lvl, s): baseline_best(res, lvl, s, families)
        for lvl in levels
        for s in res.shifts
    }
    rows, out = [], {}
    for name, family, rule in candidates:
        cells, wins = [], dict.fromkeys(levels, 0)
        for shift in res.shifts:
            accs, _ = res.rule(family, rule, shift)
            value = clean_mean(accs)
            failed = any(math.isnan(a) for a in accs)
            marks = []
            for lvl in levels:
                win = not failed and value > bests[(lvl, shift)][0]
                wins[lvl] += win
                marks.append("W" if win else "L")
            cells.append(f"{value:.3f} {''.join(marks)}")
        rows.append([name, *cells, *(f"{wins[lvl]}/4" for lvl in levels)])
        out[name] = wins
    # Best fixed setting, picked after seeing all four shifts (optimistic).
    best_fixed = None
    for key in res.pool(ANY_GMM):
        wins = dict.fromkeys(levels, 0)
        for shift in res.shifts:
            accs = res.acc[key][shift]
            failed = any(math.isnan(a) for a in accs)
            for lvl in levels:
                wins[lvl] += not failed and clean_mean(accs) > bests[(lvl, shift)][0]
        rank = (wins["oracle"], wins["LOSO"], wins["default"])
        rank += (np.mean([score_for_choice(res.acc[key][s]) for s in res.shifts]),)
        if best_fixed is None or rank > best_fixed[0]:
            best_fixed = (rank, key, wins)
    _, key, wins = best_fixed
    cells = []
    for shift in res.shifts:
        value = clean_mean(res.acc[key][shift])
        failed = any(math.isnan(a) for a in res.acc[key][shift])
        marks = "".join(
            "W" if not failed and value > bests[(lvl, shift)][0] else "L"
            for lvl in levels
        )
        cells.append(f"{value:.3f} {marks}")
    rows.append(
        [
            f"POST HOC best fixed setting: {key}",
            *cells,
            *(f"{wins[lvl]}/4" for lvl in levels),
        ]
    )
    out["post hoc best fixed setting"] = {"setting": key, **wins}
    ref = [
        "skada OT best (default / LOSO / oracle)",
        *(
            " / ".join(f"{bests[(lvl, s)][0]:.3f}" for lvl in levels)
            for s in res.shifts
        ),
        "",
        "",
        "",
    ]
    rows.append(ref)
    which = "; ".join(
        f"{SHORT[s]}: "
        + ", ".join(f"{lvl} {bests[(lvl, s)][1]}" for lvl in ("default", "oracle"))
        for s in res.shifts
    )
    notes = [
        "Each cell: the GMM method's mean accuracy, then W (win) or L (loss) "
        f"against the best of skada's four OT families ({', '.join(families)}) "
        "with their default settings, their leave-one-shift-out settings, and "
        "their ORACLE settings (best on the target test labels, an upper bound "
        "for any selection). A run that failed makes the shift a loss.",
        baseline_note,
        "Goal of the issue: beat every skada OT baseline on at least 3 of the "
        "4 shifts. The last columns count the shifts won at each level.",
        f"Best skada OT family per shift: {which}.",
        "POST HOC row: the single GMM setting with the most wins, chosen after "
        "seeing all four shifts' target accuracies (optimistic, not a result).",
    ]
    print_section(
        title,
        markdown_table(
            [
                "skgmmot method, selection",
                *(f"{h}: acc, W/L vs default/LOSO/oracle" for h in shift_headers()),
                "wins vs default",
                "wins vs LOSO",
                "wins vs oracle",
            ],
            rows,
        ),
        notes,
    )
    return out


def report_published(res):
    rows = [[name, *(f"{v:.2f}" for v in values)] for name, values in PUBLISHED.items()]
    ours = {
        "Train Src": SOURCE_ONLY,
        "Train Tgt": TARGET_ONLY,
        "MapOT": "OTMapping",
        "EntOT": "EntropicOTMapping",
        "LinOT": "LinearOTMapping",
        "OTLabelProp": "OTLabelProp",
    }
    for name, family in ours.items():
        key = res.default(family)
        rows.append(
            [
                f"{name}, here (default setting)",
                *(f"{clean_mean(res.acc[key][s]):.2f}" for s in res.shifts),
            ]
        )
    notes = [
        "Published: skada-bench's results page "
        "(1.0.0/experiment_results/table_results_all_dataset_unsupervised_"
        "accuracy): the best unsupervised scorer per method, 25 runs (5 seeds "
        "x 5 outer splits), SKADA-Bench's grids, an older skada. The subspace "
        "column matches skada 0.6's generator (target = -source).",
        f"Quoted in the issue (source not found in skada-bench's repository): "
        f"{ISSUE_QUOTED}.",
    ]
    print_section(
        "Published SKADA-Bench means, and ours",
        markdown_table(["method", *shift_headers()], rows),
        notes,
    )


def report_diagnosis(res):
    rows = []
    for (k, unbalanced, shift), runs in sorted(
        res.diagnosis.items(), key=lambda i: (list(SHIFTS).index(i[0][2]), i[0][:2])
    ):

        def avg(name, runs=runs):
            return statistics.mean(r[name] for r in runs)

        rows.append(
            [
                SHORT[shift],
                gmm_setting(k, unbalanced),
                f"{avg('target_class1_share'):.2f}",
                f"{avg('predicted_class1_share'):.2f}",
                f"{avg('wrong_class_mass'):.2f}",
                f"{avg('plan_mass'):.2f}",
            ]
        )
    notes = [
        "GMMOTLabelPropAdapter on the training part, means over seeds. Uses "
        "the target labels, for diagnosis only: each target component is "
        "given the majority true label of the target training samples it "
        "explains best; 'plan mass to the other class' is the share of the "
        "plan between components of different classes.",
        "subspace: skada 0.6 makes the target the source reflected through "
        "the origin (X_t = -X_s); between the cluster centres, the plan that "
        "swaps the two classes costs 2.5 (squared distance, weighted by the "
        "class masses) and the right one 5, so a cost-minimising plan swaps "
        "the labels. "
        "target shift: the target has 10 % of class 1 against 50 % in the "
        "source; an exact (balanced) plan must send at least 40 % of the mass "
        "to components of the other class.",
    ]
    print_section(
        "Diagnosis: where the GMM plan sends the source classes",
        markdown_table(
            [
                "shift",
                "setting",
                "target class-1 share (true)",
                "predicted class-1 share",
                "plan mass to the other class",
                "plan mass",
            ],
            rows,
        ),
        notes,
    )


def report_failures(res):
    rows = [
        [key, SHORT[shift], error, n]
        for (key, shift, error), n in sorted(res.errors.items())
    ]
    if not rows:
        rows = [["(none)", "", "", 0]]
    print_section(
        "Failures (exceptions caught per run)",
        markdown_table(["setting", "shift", "error", "runs"], rows),
        [
            "[inner]: a fit or scorer call on an inner split (that setting "
            "then cannot be selected by the scorer on that dataset)."
        ],
    )
    items = sorted(res.warned.items(), key=lambda i: (-i[1], i[0]))
    svc = sum(n for (_, w), n in items if SVC_PROBABILITY_WARNING in w)
    rows = [
        [family, warning, n]
        for (family, warning), n in items
        if SVC_PROBABILITY_WARNING not in warning
    ][:15]
    if rows or svc:
        print_section(
            "Most frequent warnings (outer fits)",
            markdown_table(["family", "warning", "runs"], rows or [["-", "-", 0]]),
            [
                f"Not listed: scikit-learn's FutureWarning that SVC's `probability` "
                f"is deprecated since 1.9 ({svc} runs: every fit with the SVC; "
                "SKADA-Bench's base estimator uses it, and "
                "PredictionEntropyScorer needs predict_proba)."
            ],
        )


# -------------------------------------------------------------- section: scaling

SCALE_SIZES, QUICK_SCALE_SIZES = (100, 300, 1000, 10000), (100, 300)
#: A size is skipped when its predicted time per call exceeds the budget, or
#: (sample-level OT) its memory, extrapolated as n_s * n_t from the traced
#: peak at the largest measured size, exceeds MEMORY_LIMIT_BYTES.
SCALE_BUDGET = {"skada": 30.0, "skgmmot": 60.0}
QUICK_SCALE_BUDGET = {"skada": 3.0, "skgmmot": 10.0}
MEMORY_LIMIT_BYTES = 4e9
#: Traced memory is measured in a separate untimed call when the call is
#: predicted to take less than this.
TRACE_BELOW_SECONDS = 3.0

SCALE_METHODS = (
    ("skada", "OTMapping (exact, default)", True, lambda: OTMappingAdapter()),
    (
        "skada",
        "OTLabelProp (default: n_iter_max=200)",
        True,
        lambda: OTLabelPropAdapter(),
    ),
    (
        "skada",
        "EntropicOTMapping (default reg_e=1)",
        True,
        lambda: EntropicOTMappingAdapter(),
    ),
    ("skada", "LinearOTMapping (default)", False, lambda: LinearOTMappingAdapter()),
    (
        "skgmmot",
        "GMMOTMapping K=2, exact",
        False,
        lambda: GMMOTMappingAdapter(2, random_state=0),
    ),
    (
        "skgmmot",
        "GMMOTMapping K=2, unbalanced",
        False,
        lambda: GMMOTMappingAdapter(2, random_state=0, **UNBALANCED),
    ),
    (
        "skgmmot",
        "GMMOTLabelProp K=2, exact",
        False,
        lambda: GMMOTLabelPropAdapter(2, random_state=0),
    ),
    (
        "skgmmot",
        "GMMOTLabelProp K=4, exact",
        False,
        lambda: GMMOTLabelPropAdapter(4, random_state=0),
    ),
)


def scale_data(n):
    X, y, domain = make_shifted_datasets(
        n_samples_source=n,
        n_samples_target=n,
        shift="conditional_shift",
        noise=SHIFTS["conditional_shift"][1],
        label="binary",
        random_state=0,
    )
    return X, np.where(domain < 0, -1, y), domain


def traced_peak(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def predicted(points, size, quadratic):
    """Time at ``size`` from the last measured (size, seconds).

    The log-log slope of the last two points, clipped to [1, 3]; after one
    point, 2 for sample-level OT and 1 otherwise.
    """
    if not points:
        return None
    if len(points) == 1:
        (x2, t2), slope = points[0], 2.0 if quadratic else 1.0
    else:
        (x1, t1), (x2, t2) = points[-2:]
        slope = min(max(math.log(t2 / t1) / math.log(x2 / x1), 1.0), 3.0)
    return t2 * (size / x2) ** slope


def fitted_slope(points):
    if len(points) < 2:
        return None
    x = np.log([p[0] for p in points])
    t = np.log([p[1] for p in points])
    return float(np.polyfit(x, t, 1)[0])


def bench_scaling(quick):
    sizes = QUICK_SCALE_SIZES if quick else SCALE_SIZES
    budget = QUICK_SCALE_BUDGET if quick else SCALE_BUDGET
    out = {"sizes": sizes, "methods": {}}
    cells = {name: {} for _, name, _, _ in SCALE_METHODS}
    memory = {name: {} for _, name, _, _ in SCALE_METHODS}
    points = {name: [] for _, name, _, _ in SCALE_METHODS}
    warned = defaultdict(set)
    with threadpool_limits(limits=BLAS_THREADS):
        for n in sizes:
            X, y, domain = scale_data(n)
            per_domain = int(np.sum(domain >= 0))
            for lib, name, quadratic, make in SCALE_METHODS:
                guess = predicted(points[name], per_domain, quadratic)
                reason = None
                if quadratic and memory[name]:
                    last_size, last_peak = max(memory[name].items())
                    need = last_peak * (per_domain / last_size) ** 2
                    if need > MEMORY_LIMIT_BYTES:
                        reason = f"skipped (needs ~{fmt_bytes(need)})"
                if reason is None and guess is not None and guess > budget[lib]:
                    reason = f"skipped (predicted {fmt_time(guess)})"
                if reason is not None:
                    cells[name][n] = reason
                    continue
                progress(f"scaling: {name}, {per_domain} samples per domain")

                def call(make=make, X=X, y=y, domain=domain, name=name, at=per_domain):
                    with captured() as caught:
                        make().fit_transform(X, y, sample_domain=domain)
                    for w in warning_keys(caught):
                        warned[(name, w)].add(at)

                if guess is None or guess < TRACE_BELOW_SECONDS:
                    memory[name][per_domain] = traced_peak(call)
                once = lib == "skada" and quick
                timing, _ = measure(
                    call,
                    runs_fast=1 if once else 5,
                    runs_slow=1 if lib == "skada" else 3,
                    warmup=False,
                    label=f"{lib}: adapt {name}, {per_domain} per domain",
                )
                points[name].append((per_domain, timing.median))
                cells[name][n] = fmt_runs(timing)
                out["methods"].setdefault(name, {})[per_domain] = {
                    "times": timing.times,
                    "traced_peak_bytes": memory[name].get(per_domain),
                }
    headers = ["library", "adaptation step"]
    headers += [f"{8 * n} per domain" for n in sizes]
    headers.append("slope (time ~ n^p)")
    rows, mem_rows = [], []
    for lib, name, _, _ in SCALE_METHODS:
        slope = fitted_slope(points[name])
        rows.append(
            [
                lib,
                name,
                *(cells[name].get(n, "-") for n in sizes),
                "-" if slope is None else f"{slope:.2f}",
            ]
        )
        mem_rows.append(
            [
                lib,
                name,
                *(
                    fmt_bytes(memory[name][8 * n]) if 8 * n in memory[name] else "-"
                    for n in sizes
                ),
            ]
        )
    gmm = [p for _, name, _, _ in SCALE_METHODS[4:] for p in points[name]]
    notes = [
        "adapter.fit_transform(X, y, sample_domain) on all samples of "
        "make_shifted_datasets(n, n, shift='conditional_shift', noise=0.8) "
        "(8n samples per domain, 2-D), no classifier: the classifier's cost "
        "is the same for every method (SVC on 8n samples grows much faster "
        "than any adapter here).",
        "Median (runs); skada's sample-level OT is timed once when a call "
        "takes more than 2 s (always with --quick). One BLAS / OpenMP thread.",
        f"Skipped: predicted time over {budget['skada']:.0f} s (skada) / "
        f"{budget['skgmmot']:.0f} s (skgmmot), or sample-level OT memory "
        f"over {fmt_bytes(MEMORY_LIMIT_BYTES)} (extrapolated as n_s x n_t).",
        "On this machine, skada's exact OTMapping at 8000 per domain reached "
        "3.3 GB of RSS and its EntropicOTMapping 5.8 GB (measured while "
        "writing this script).",
    ]
    for (name, warning), at in sorted(warned.items()):
        if SVC_PROBABILITY_WARNING not in warning:
            notes.append(
                f"Warning from {name} at {', '.join(map(str, sorted(at)))} per "
                f"domain: {warning}"
            )
    out["warnings"] = {f"{k[0]}: {k[1]}": sorted(v) for k, v in warned.items()}
    if gmm:
        notes.append(
            "skgmmot's GMM adapters are linear in n (the GaussianMixture fits); "
            "the plan is between components and does not grow with n."
        )
    print_section(
        "Adaptation time vs samples per domain", markdown_table(headers, rows), notes
    )
    print_section(
        "Peak traced memory of one adaptation (tracemalloc)",
        markdown_table(headers[:-1], mem_rows),
        [
            "Measured in a separate untimed call, when that call was predicted "
            f"to take less than {TRACE_BELOW_SECONDS:.0f} s."
        ],
    )
    out["cells"] = cells
    return out


# -------------------------------------------------------------- section: threads


def bench_threads(quick):
    sizes = (100,) if quick else (100, 1000)
    rows, out = [], {}
    for n in sizes:
        X, y, domain = scale_data(n)
        Xt = X[domain < 0]
        per_domain = int(np.sum(domain >= 0))
        calls = {
            "GaussianMixture(4).fit, target samples": lambda Xt=Xt: GaussianMixture(
                4, reg_covar=1e-6, random_state=0
            ).fit(Xt),
            "GMMOTLabelPropAdapter(2).fit": lambda X=X, y=y, d=domain: (
                GMMOTLabelPropAdapter(2, random_state=0).fit(X, y, sample_domain=d)
            ),
        }
        if n == sizes[0]:  # SVC on 8n samples gets slow: the smallest size only
            calls["GMMOTMapping(SVC, K=2).fit"] = lambda X=X, y=y, d=domain: (
                GMMOTMapping(base(), random_state=0).fit(X, y, sample_domain=d)
            )
        for name, fn in calls.items():
            progress(f"threads: {name}, {per_domain} per domain")
            timings = {}
            for label, limit in (("default threads", None), ("1 thread", 1)):
                with threadpool_limits(limits=limit), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    timing, _ = measure(
                        fn,
                        runs_fast=3 if quick else 5,
                        runs_slow=3,
                        warmup=True,
                        label=f"skgmmot: {name} {per_domain}, {label}",
                    )
                timings[label] = timing
            ratio = timings["default threads"].median / timings["1 thread"].median
            rows.append(
                [
                    per_domain,
                    name,
                    fmt_runs(timings["default threads"]),
                    fmt_runs(timings["1 thread"]),
                    fmt_ratio(ratio),
                ]
            )
            out[f"{name} @ {per_domain}"] = {k: v.as_dict() for k, v in timings.items()}
    pools = "; ".join(
        f"{p['internal_api']} ({p['user_api']}): {p['num_threads']} threads"
        for p in threadpool_info()
    )
    notes = [
        f"Thread pools in this process: {pools}.",
        "default threads: as a user runs it. 1 thread: threadpoolctl's "
        "threadpool_limits(1), as in the other sections. A warm-up call "
        "first, then medians. With busy cores, the OpenMP threads of "
        "KMeans (GaussianMixture's initialisation) and the OpenBLAS threads "
        "of its tiny Cholesky factorisations wait on each other; compare the "
        "load average in the header.",
    ]
    print_section(
        "GMM fits with default and with one BLAS / OpenMP thread",
        markdown_table(
            [
                "per domain",
                "call",
                "default threads",
                "1 thread",
                "default / 1 thread",
            ],
            rows,
        ),
        notes,
    )
    return out


# ------------------------------------------------------------------------ main


def warm_up():
    """Compile or load skgmmot's numba kernels and POT's lazy imports, untimed."""
    data = make_split("conditional_shift", 99, n_samples=20)
    with threadpool_limits(limits=BLAS_THREADS):
        for config in configs("default"):
            run_one(config, data)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--full-grid", action="store_true")
    args, rest = extra.parse_known_args(argv)
    env = environment()
    env["skada"] = skada_version
    env["blas_openmp_threads"] = (
        f"{BLAS_THREADS} in accuracy and scaling (threadpoolctl); both in threads"
    )
    benches = {
        "accuracy": lambda quick: bench_accuracy(quick, args.full_grid),
        "scaling": bench_scaling,
        "threads": bench_threads,
    }
    run_script(
        "GMM-OTDA against skada's OT domain adaptation (SKADA-Bench simulated shifts)",
        __doc__.splitlines()[0]
        + " Also: --full-grid (SKADA-Bench's complete grids for skada's "
        "EntropicOTMapping and OTLabelProp: several minutes more).",
        benches,
        env,
        rest,
        quick_help=f"{QUICK_SEEDS} seeds, {QUICK_N_INNER} inner split, sizes "
        f"up to {8 * QUICK_SCALE_SIZES[-1]} per domain",
        before=warm_up,
    )


if __name__ == "__main__":
    main()
