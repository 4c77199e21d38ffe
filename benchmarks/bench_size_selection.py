"""How often GMMOTBarycenter's size selection finds the true size through batch effects.

Run ``python benchmarks/bench_size_selection.py [--quick] [--only NAME] [--json PATH]``.
Not a speed benchmark: for each seed of
:func:`skgmmot.datasets.make_batch_effect_samples` (4 batches of 300 samples,
3 clusters, affine batch effects as large as the clusters' separation), it
prints the ``n_components`` chosen among 1-6 by ``GridSearchCV`` over
``GroupKFold(4)`` with ``sample_domain`` routed to ``score`` (after
alignment), by the same search scoring raw samples, and by ``bic`` after
alignment, all with default parameters; then how many seeds picked 3.
"""

import time
import warnings

import numpy as np
from _harness import environment, markdown_table, print_section, progress, run_script
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, GroupKFold

from skgmmot import GMMOTBarycenter
from skgmmot.datasets import make_batch_effect_samples

SIZES = tuple(range(1, 7))
TRUE_SIZE = 3
SEEDS, QUICK_SEEDS = 10, 3
PROPORTIONS = {"equal": None, "unequal": (0.6, 0.3, 0.1)}


def chosen_sizes(X, groups):
    """Sizes picked by the search after alignment, on raw samples, and by BIC."""
    picks = {}
    with warnings.catch_warnings(), config_context(enable_metadata_routing=True):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for label, aligned in (("cv_aligned", True), ("cv_raw", False)):
            estimator = (
                GMMOTBarycenter(random_state=0)
                .set_fit_request(sample_domain=True)
                .set_score_request(sample_domain=aligned)
            )
            search = GridSearchCV(
                estimator,
                {"n_components": list(SIZES)},
                cv=GroupKFold(n_splits=4).set_split_request(groups=True),
                refit=False,
            )
            search.fit(X, sample_domain=groups, groups=groups)
            picks[label] = int(search.best_params_["n_components"])
        bics = [
            GMMOTBarycenter(k, random_state=0)
            .fit(X, sample_domain=groups)
            .bic(X, sample_domain=groups)
            for k in SIZES
        ]
    picks["bic_aligned"] = int(SIZES[int(np.argmin(bics))])
    return picks


def bench_selection(name, proportions, quick):
    n_seeds = QUICK_SEEDS if quick else SEEDS
    rows, per_seed = [], []
    for seed in range(n_seeds):
        progress(f"{name}: seed {seed + 1}/{n_seeds}")
        X, groups, _ = make_batch_effect_samples(
            proportions=proportions, random_state=seed
        )
        start = time.perf_counter()
        picks = chosen_sizes(X, groups)
        seconds = time.perf_counter() - start
        per_seed.append({"seed": seed, **picks, "seconds": seconds})
        rows.append(
            [
                seed,
                picks["cv_aligned"],
                picks["cv_raw"],
                picks["bic_aligned"],
                f"{seconds:.1f} s",
            ]
        )
    hits = {
        key: sum(r[key] == TRUE_SIZE for r in per_seed)
        for key in ("cv_aligned", "cv_raw", "bic_aligned")
    }
    rows.append(
        [
            f"picked {TRUE_SIZE}",
            f"{hits['cv_aligned']}/{n_seeds}",
            f"{hits['cv_raw']}/{n_seeds}",
            f"{hits['bic_aligned']}/{n_seeds}",
            "",
        ]
    )
    headers = [
        "seed",
        "GridSearchCV after alignment",
        "GridSearchCV on raw samples",
        "BIC after alignment",
        "time (3 selections)",
    ]
    notes = [
        f"Cluster proportions: {proportions or 'equal'}; sizes {SIZES[0]}-"
        f"{SIZES[-1]}, true size {TRUE_SIZE}; default GMMOTBarycenter "
        "(random_state=0) everywhere.",
    ]
    print_section(
        f"Chosen n_components, {name} clusters", markdown_table(headers, rows), notes
    )
    return {"per_seed": per_seed, "hits": hits}


BENCHES = {
    name: (lambda quick, name=name, p=p: bench_selection(name, p, quick))
    for name, p in PROPORTIONS.items()
}


def main(argv=None):
    run_script(
        "GMMOTBarycenter size selection through batch effects",
        __doc__,
        BENCHES,
        environment(),
        argv,
        quick_help=f"{QUICK_SEEDS} seeds instead of {SEEDS}",
    )


if __name__ == "__main__":
    main()
