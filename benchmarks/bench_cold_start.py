"""First-call times of skgmmot's entry points with an empty numba cache.

Run ``python benchmarks/bench_cold_start.py [--quick] [--only NAME] [--json PATH]``.
Every case runs in fresh processes whose ``NUMBA_CACHE_DIR`` is a new empty
directory, as right after ``pip install .``: the time of importing skgmmot,
scikit-learn and POT is measured in one process and subtracted from a second
process that also makes the call, which then compiles every kernel it needs.
The ``demo`` section times ``python -m skgmmot demo`` the same way. Targets
(issue 13): a first call compiles for at most 3 s; the demo takes at most 10 s.
"""

import os
import subprocess
import sys
import tempfile
import time

from _harness import (
    environment,
    fmt_time,
    markdown_table,
    print_section,
    progress,
    run_script,
    verdict,
)

IMPORTS = "import numpy as np, skgmmot, sklearn, ot\n"
GAUSSIANS = (
    "rng = np.random.RandomState(0)\n"
    "m = rng.randn(3, {d}); C = np.tile(np.eye({d}), (3, 1, 1)); w = np.ones(3) / 3\n"
)
#: (name, dimension, code run after IMPORTS and GAUSSIANS).
CASES = (
    ("dist_bures_squared", 2, "skgmmot.dist_bures_squared(m, m + 1, C, 2 * C)"),
    ("dist_bures_squared", 5, "skgmmot.dist_bures_squared(m, m + 1, C, 2 * C)"),
    ("gmm_ot_loss", 2, "skgmmot.gmm_ot_loss(m, m + 1, C, 2 * C, w, w)"),
    (
        "gmm_ot_apply_map",
        2,
        "skgmmot.gmm_ot_apply_map(rng.randn(50, 2), m, m + 1, C, 2 * C, w, w)",
    ),
    (
        "GMMOTBarycenter.fit",
        2,
        "from skgmmot.datasets import make_gmm_family\n"
        "skgmmot.GMMOTBarycenter(3, random_state=0).fit("
        "make_gmm_family(3, n_components=4, n_features=2, random_state=0))",
    ),
    (
        "GMMOTFlow.fit",
        2,
        "from skgmmot.datasets import make_random_gmm\n"
        "skgmmot.GMMOTFlow(make_random_gmm(2, 2, random_state=1)).fit("
        "make_random_gmm(3, 2, random_state=0))",
    ),
    (
        "GMMOTBarycenter.fit, transform (samples)",
        2,
        "from skgmmot.datasets import make_batch_effect_samples\n"
        "X, groups, _ = make_batch_effect_samples(random_state=0)\n"
        "skgmmot.GMMOTBarycenter(3, random_state=0).fit("
        "X, sample_domain=groups).transform(X, sample_domain=groups)",
    ),
    (
        'GMMOTBarycenter(ot_solver="sinkhorn").fit',
        2,
        "from skgmmot.datasets import make_gmm_family\n"
        "skgmmot.GMMOTBarycenter(3, ot_solver='sinkhorn', random_state=0).fit("
        "make_gmm_family(3, n_components=4, n_features=2, random_state=0))",
    ),
    (
        "GMMOTBarycenter.fit",
        5,
        "from skgmmot.datasets import make_gmm_family\n"
        "skgmmot.GMMOTBarycenter(3, random_state=0).fit("
        "make_gmm_family(3, n_components=4, n_features=5, random_state=0))",
    ),
    (
        "GMMOTFlow.fit",
        5,
        "from skgmmot.datasets import make_random_gmm\n"
        "skgmmot.GMMOTFlow(make_random_gmm(2, 5, random_state=1)).fit("
        "make_random_gmm(3, 5, random_state=0))",
    ),
    (
        "gmm_ot_apply_map",
        5,
        "skgmmot.gmm_ot_apply_map(rng.randn(50, 5), m, m + 1, C, 2 * C, w, w)",
    ),
)
FIRST_CALL_TARGET = 3.0
DEMO_TARGET = 10.0


def _run(argv, cache):
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def first_call(code):
    """Seconds a fresh process spends on ``code`` beyond its imports."""
    with tempfile.TemporaryDirectory() as cache:
        imports = _run([sys.executable, "-c", IMPORTS], cache)
        total = _run([sys.executable, "-c", IMPORTS + code], cache)
    return total - imports


def bench_first_calls(quick):
    rows, results = [], []
    for name, d, call in CASES[:3] if quick else CASES:
        progress(f"first call: {name}, d = {d}")
        seconds = first_call(GAUSSIANS.format(d=d) + call)
        ok = seconds <= FIRST_CALL_TARGET
        target = f"<= {FIRST_CALL_TARGET:g} s"
        rows.append([name, d, fmt_time(seconds), target, verdict(ok)])
        results.append({"name": name, "d": d, "seconds": seconds, "pass": ok})
    headers = ["entry point", "d", "first call (compile + run)", "target", "result"]
    notes = [
        "One fresh process per case with an empty NUMBA_CACHE_DIR; the import of "
        "numpy, skgmmot, scikit-learn and POT is timed separately and subtracted.",
    ]
    if quick:
        notes.append("--quick: the first three cases only.")
    table = markdown_table(headers, rows)
    print_section("First calls with an empty cache", table, notes)
    return results


def bench_demo(quick):
    progress("demo: python -m skgmmot demo with an empty cache")
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        seconds = _run([sys.executable, "-m", "skgmmot", "demo", "--out", out], cache)
    ok = seconds <= DEMO_TARGET
    target = f"<= {DEMO_TARGET:g} s"
    rows = [["python -m skgmmot demo", fmt_time(seconds), target, verdict(ok)]]
    print_section(
        "The demo with an empty cache",
        markdown_table(["command", "wall time", "target", "result"], rows),
        ["Wall time of the whole process, imports included."],
    )
    return {"seconds": seconds, "pass": ok}


BENCHES = {"first-calls": bench_first_calls, "demo": bench_demo}


def main(argv=None):
    run_script(
        "skgmmot cold start",
        __doc__,
        BENCHES,
        environment(),
        argv,
        quick_help="time only the first three entry points",
    )


if __name__ == "__main__":
    main()
