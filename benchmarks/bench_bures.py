"""Benchmark skgmmot against POT's ``ot.gmm`` (Bures costs, maps, barycenters).

Run ``python benchmarks/bench_bures.py [--quick] [--only NAME] [--json PATH]``.
Prints markdown tables (medians, ratios POT / skgmmot, targets) to stdout and
progress messages to stderr. See ``benchmarks/README.md`` for what each section
measures.
"""

import json
from dataclasses import dataclass

import numpy as np
import ot
import ot.gaussian
import ot.gmm
from _harness import (
    SKGMMOT_PROJECTION,
    Quiet,
    environment,
    fmt_bytes,
    fmt_ratio,
    fmt_runs,
    fmt_time,
    fresh_runs,
    markdown_table,
    max_rel_diff,
    measure,
    print_section,
    progress,
    run_child,
    run_script,
    scaled_diff,
    verdict,
)

import skgmmot

SECTIONS = ("bures", "memory", "first-call", "others")

#: Section 1: (k, d, target ratio POT / skgmmot) with k_s = k_t = k.
BURES_CASES = ((500, 2, 100.0), (200, 10, 20.0), (100, 30, 50.0))
BURES_SK_RUNS = 7
BURES_SK_RUNS_QUICK = 5

#: Section 2: size, limit, and the smaller size where POT is actually measured.
MEMORY_K, MEMORY_D = 2000, 10
MEMORY_LIMIT_BYTES = 300e6
POT_CHECK_K, POT_CHECK_D = 200, 10
#: Live (k_s, k_t, d, d) float64 arrays at the peak of POT's dist_bures_squared:
#: C2 = Cs12 C_t Cs12, the eigenvectors V of C2, Q = V diag(sqrt L), R = Q V^T.
POT_LIVE_ARRAYS = 4

#: Section 3.
FRESH_RUNS = 5
FIRST_CALL_TARGET = 1.0

#: Section 4: sizes.
LOSS_K, LOSS_D = 50, 5
MAP_N, MAP_K, MAP_D = 2000, 10, 3
PDF_N, PDF_K, PDF_D = 10000, 10, 5
BWB_K, BWB_D = 10, 10
FP_INPUTS, FP_K, FP_D, FP_BARY_K, FP_ITER = 10, 20, 5, 10, 20


# --------------------------------------------------------------------------- data


def random_spd(rng, k, d):
    """k random SPD (d, d) matrices with eigenvalues bounded away from 0."""
    a = rng.standard_normal((k, d, d))
    return a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d)


def random_gaussians(rng, k, d, spread=3.0):
    return spread * rng.standard_normal((k, d)), random_spd(rng, k, d)


def random_gmm(rng, k, d):
    means, covs = random_gaussians(rng, k, d)
    weights = rng.uniform(0.5, 1.5, size=k)
    return means, covs, weights / weights.sum()


def sample_gmm(rng, means, covs, weights, n):
    labels = rng.choice(len(weights), size=n, p=weights)
    z = rng.standard_normal((n, means.shape[1]))
    factors = np.linalg.cholesky(covs)[labels]
    return means[labels] + np.einsum("nab,nb->na", factors, z)


# ------------------------------------------------------------------------- timing


def measure_skgmmot(fn, runs_fast=5, runs_slow=3, what=None):
    label = None if what is None else f"skgmmot: {what}"
    return measure(
        fn, runs_fast=runs_fast, runs_slow=runs_slow, warmup=True, label=label
    )


def measure_pot(fn, quick, what=None):
    """POT has nothing to compile: its first full-size run counts in the median."""
    label = None if what is None else f"POT: {what}"
    if quick:
        return measure(
            fn, runs_fast=1, runs_slow=1, warmup=False, min_total=0.0, label=label
        )
    return measure(fn, runs_fast=5, runs_slow=3, warmup=False, label=label)


def warm_up_pot():
    """Run POT once at a tiny size, so lazy imports are not timed."""
    rng = np.random.RandomState(0)
    m, C, w = random_gmm(rng, 3, 2)
    x = sample_gmm(rng, m, C, w, 5)
    quiet = Quiet()
    quiet(lambda: ot.gmm.gmm_ot_apply_map(x, m, m, C, C, w, w))()
    quiet(lambda: ot.gmm.gmm_ot_apply_map(x, m, m, C, C, w, w, method="rand"))()
    quiet(lambda: ot.gmm.gmm_pdf(x, m, C, w))()
    quiet(lambda: ot.gaussian.bures_wasserstein_barycenter(m, C, w))()


# ------------------------------------------------------- section 1: Bures costs


def bures_case(k, d, target, quick):
    progress(f"dist_bures_squared k={k} d={d}")
    rng = np.random.RandomState(1000 + d)
    m_s, C_s = random_gaussians(rng, k, d)
    m_t, C_t = random_gaussians(rng, k, d)
    args = (m_s, m_t, C_s, C_t)
    sk_runs = BURES_SK_RUNS_QUICK if quick else BURES_SK_RUNS
    what = f"dist_bures_squared k={k} d={d}"
    sk, sk_out = measure_skgmmot(
        lambda: skgmmot.dist_bures_squared(*args), sk_runs, sk_runs, what=what
    )
    pot, pot_out = measure_pot(
        Quiet()(lambda: ot.gmm.dist_bures_squared(*args)), quick, what=what
    )
    ratio = pot.median / sk.median
    return {
        "k": k,
        "d": d,
        "skgmmot": sk,
        "pot": pot,
        "ratio": ratio,
        "target": target,
        "pass": ratio >= target,
        "max_rel_diff": max_rel_diff(sk_out, pot_out),
    }


def bench_bures(quick):
    results = [bures_case(k, d, target, quick) for k, d, target in BURES_CASES]
    rows = [
        [
            r["k"],
            r["d"],
            fmt_time(r["skgmmot"].first),
            fmt_runs(r["skgmmot"]),
            fmt_runs(r["pot"]),
            fmt_ratio(r["ratio"]),
            f">= {r['target']:.0f}x",
            verdict(r["pass"]),
            f"{r['max_rel_diff']:.1e}",
        ]
        for r in results
    ]
    headers = [
        "k",
        "d",
        "skgmmot first call",
        "skgmmot median (runs)",
        "POT median (runs)",
        "POT / skgmmot",
        "target",
        "result",
        "max rel. diff",
    ]
    notes = [
        "k_s = k_t = k; random SPD covariances from a seeded RandomState.",
        "First call = compile or numba cache load + one run; it is not in the "
        "median. Only the first case of the process pays the compilation.",
        "max rel. diff = max_ij |skgmmot - POT| / |POT|.",
    ]
    if quick:
        notes.append("--quick: POT timed once (1 run), not a median.")
    print_section(
        "dist_bures_squared: skgmmot vs POT", markdown_table(headers, rows), notes
    )
    for r in results:
        r["skgmmot"], r["pot"] = r["skgmmot"].as_dict(), r["pot"].as_dict()
    return results


# ---------------------------------------------------------- section 2: memory

_MEMORY_CHILD = r"""
import gc, json, resource, sys, time, tracemalloc
import numpy as np

lib, k, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if lib == "skgmmot":
    from skgmmot import dist_bures_squared
else:
    import warnings
    warnings.simplefilter("ignore")
    from ot.gmm import dist_bures_squared

def spd(rng, k, d):
    a = rng.standard_normal((k, d, d))
    return a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d)

def data(rng, k, d):
    m_s, m_t = rng.standard_normal((k, d)), rng.standard_normal((k, d))
    return m_s, m_t, spd(rng, k, d), spd(rng, k, d)

def status_bytes(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

def maxrss_bytes():
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

rng = np.random.RandomState(7)
dist_bures_squared(*data(rng, 4, d))  # warm-up: compile / cache load, threads
args = data(rng, k, d)
gc.collect()
maxrss0 = maxrss_bytes()
tracemalloc.start()
hwm_reset = reset_peak()
rss0 = status_bytes("VmRSS")
start = time.perf_counter()
out = dist_bures_squared(*args)
elapsed = time.perf_counter() - start
hwm1 = status_bytes("VmHWM")
maxrss1 = maxrss_bytes()
traced_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
out_bytes = out.nbytes
print(json.dumps({
    "rss_extra": hwm1 - rss0 if hwm_reset and hwm1 is not None else None,
    "maxrss_extra": maxrss1 - maxrss0,
    "traced_peak": traced_peak,
    "out_bytes": out_bytes,
    "seconds": elapsed,
}))
"""


def memory_child(lib, k, d):
    return json.loads(run_child(_MEMORY_CHILD, lib, k, d)[0])


def pot_estimate(k, d):
    return POT_LIVE_ARRAYS * k * k * d * d * 8


def peak_extra(child):
    """Conservative peak: the larger of the RSS peak and tracemalloc's peak."""
    rss = child["rss_extra"] if child["rss_extra"] is not None else 0
    return max(rss, child["traced_peak"])


def bench_memory(quick):
    progress(f"memory: skgmmot k={MEMORY_K} d={MEMORY_D} in a fresh process")
    sk = memory_child("skgmmot", MEMORY_K, MEMORY_D)
    progress(f"memory: POT k={POT_CHECK_K} d={POT_CHECK_D} in a fresh process")
    pot_check = memory_child("pot", POT_CHECK_K, POT_CHECK_D)
    sk_peak = peak_extra(sk)
    estimate = pot_estimate(MEMORY_K, MEMORY_D)
    one_array = pot_estimate(MEMORY_K, MEMORY_D) / POT_LIVE_ARRAYS
    rss = "n/a" if sk["rss_extra"] is None else fmt_bytes(sk["rss_extra"])
    limit = f"< {fmt_bytes(MEMORY_LIMIT_BYTES)}"
    rows = [
        [
            "skgmmot",
            "measured: peak RSS - RSS before (fresh process)",
            rss,
            limit,
            verdict(sk_peak < MEMORY_LIMIT_BYTES),
        ],
        ["skgmmot", "measured: tracemalloc peak", fmt_bytes(sk["traced_peak"]), "", ""],
        ["skgmmot", "output (k, k) matrix alone", fmt_bytes(sk["out_bytes"]), "", ""],
        [
            f"POT {ot.__version__}",
            f"computed: {POT_LIVE_ARRAYS} live (k, k, d, d) float64 arrays, not run",
            fmt_bytes(estimate),
            limit,
            verdict(estimate < MEMORY_LIMIT_BYTES),
        ],
    ]
    check_estimate = pot_estimate(POT_CHECK_K, POT_CHECK_D)
    notes = [
        f"One skgmmot call, {fmt_time(sk['seconds'])} at this size (with "
        "tracemalloc on); a warm-up call at k=4 ran first, so compilation is not "
        "counted.",
        "Peak RSS = VmHWM after resetting it with /proc/self/clear_refs. "
        "ru_maxrss is not used: a child inherits its parent's peak at exec, which "
        f"hides the call (ru_maxrss delta here: {fmt_bytes(sk['maxrss_extra'])}).",
        "tracemalloc does see numba's allocations (numba's NRT allocates with "
        "PyMem_RawMalloc); the result uses the larger of the two measures.",
        f"POT: one (k, k, d, d) array is {fmt_bytes(one_array)}. Check of the "
        f"formula at k={POT_CHECK_K}, d={POT_CHECK_D}: estimate "
        f"{fmt_bytes(check_estimate)}, measured peak RSS "
        f"{fmt_bytes(pot_check['rss_extra'] or 0)}, tracemalloc "
        f"{fmt_bytes(pot_check['traced_peak'])}.",
    ]
    print_section(
        f"Peak extra memory of dist_bures_squared (k_s = k_t = {MEMORY_K}, "
        f"d = {MEMORY_D})",
        markdown_table(["library", "how", "peak extra", "limit", "result"], rows),
        notes,
    )
    return {
        "k": MEMORY_K,
        "d": MEMORY_D,
        "skgmmot": sk,
        "skgmmot_peak_extra": sk_peak,
        "limit": MEMORY_LIMIT_BYTES,
        "pass": sk_peak < MEMORY_LIMIT_BYTES,
        "pot_estimate": estimate,
        "pot_check": {"k": POT_CHECK_K, "d": POT_CHECK_D, "estimate": check_estimate}
        | pot_check,
    }


# ------------------------------------------------ section 3: first call, fresh


_FIRST_CALL_CHILD = """
import time
t = time.perf_counter()
import numpy as np
import skgmmot
m = np.arange(12.0).reshape(4, 3)
C = np.broadcast_to(np.eye(3), (4, 3, 3)).copy()
skgmmot.dist_bures_squared(m, m[::-1].copy(), C, 2.0 * C)
print(time.perf_counter() - t)
"""

_IMPORT_CHILD = """
import time
t = time.perf_counter()
import skgmmot
print(time.perf_counter() - t)
"""


def bench_first_call(quick):
    progress("first call in fresh processes")
    warm, warm_wall = fresh_runs(_FIRST_CALL_CHILD, 1)
    first, first_wall = fresh_runs(_FIRST_CALL_CHILD, FRESH_RUNS)
    imp, imp_wall = fresh_runs(_IMPORT_CHILD, FRESH_RUNS)
    target = f"< {FIRST_CALL_TARGET:.0f} s"

    def row(name, inner, wall, target="", result=""):
        spread = f"{fmt_time(min(inner.times))} - {fmt_time(max(inner.times))}"
        median = fmt_time(inner.median)
        return [name, inner.runs, median, spread, fmt_time(wall.median), target, result]

    rows = [
        row("cache-warming run (may compile)", warm, warm_wall),
        row(
            "import skgmmot + first dist_bures_squared",
            first,
            first_wall,
            target,
            verdict(first.median < FIRST_CALL_TARGET),
        ),
        row("import skgmmot alone", imp, imp_wall),
    ]
    headers = [
        "fresh process",
        "runs",
        "median",
        "min - max",
        "process wall (median)",
        "target",
        "result",
    ]
    notes = [
        "Times are measured inside the child with time.perf_counter, from before "
        "`import skgmmot` to after the call (k = 4, d = 3); 'process wall' adds "
        "interpreter start-up and is for information only.",
        "The numba cache is warm: the cache-warming run came first.",
    ]
    print_section(
        "First call in a fresh process (warm numba cache)",
        markdown_table(headers, rows),
        notes,
    )
    return {
        "warm": warm.as_dict(),
        "first_call": first.as_dict(),
        "first_call_wall": first_wall.as_dict(),
        "import": imp.as_dict(),
        "import_wall": imp_wall.as_dict(),
        "target": FIRST_CALL_TARGET,
        "pass": first.median < FIRST_CALL_TARGET,
    }


# ---------------------------------------------- section 4: the other functions


@dataclass
class Case:
    name: str
    size: str
    sk: object
    pot: object
    compare: object


def loss_case(rng):
    ms, Cs, ws = random_gmm(rng, LOSS_K, LOSS_D)
    mt, Ct, wt = random_gmm(rng, LOSS_K, LOSS_D)
    args = (ms, mt, Cs, Ct, ws, wt)
    return Case(
        "gmm_ot_loss",
        f"k={LOSS_K}, d={LOSS_D}",
        lambda: skgmmot.gmm_ot_loss(*args),
        lambda: ot.gmm.gmm_ot_loss(*args),
        lambda a, b: f"rel. diff {max_rel_diff(a, b):.1e}",
    )


def map_case(rng, method):
    ms, Cs, ws = random_gmm(rng, MAP_K, MAP_D)
    mt, Ct, wt = random_gmm(rng, MAP_K, MAP_D)
    x = sample_gmm(rng, ms, Cs, ws, MAP_N)
    args = (x, ms, mt, Cs, Ct, ws, wt)

    def compare(a, b):
        same = np.mean(np.all(np.isclose(a, b, rtol=1e-9, atol=1e-9), axis=1))
        return f"max|diff|/max|POT| {scaled_diff(a, b):.1e}, rows equal {same:.1%}"

    return Case(
        f"gmm_ot_apply_map ({method})",
        f"n={MAP_N}, k={MAP_K}, d={MAP_D}",
        lambda: skgmmot.gmm_ot_apply_map(*args, method=method, seed=0),
        lambda: ot.gmm.gmm_ot_apply_map(*args, method=method, seed=0),
        compare,
    )


def pdf_case(rng):
    m, C, w = random_gmm(rng, PDF_K, PDF_D)
    x = sample_gmm(rng, m, C, w, PDF_N)
    return Case(
        "gmm_pdf",
        f"n={PDF_N}, k={PDF_K}, d={PDF_D}",
        lambda: skgmmot.gmm_pdf(x, m, C, w),
        lambda: ot.gmm.gmm_pdf(x, m, C, w),
        lambda a, b: f"max rel. diff {max_rel_diff(a, b):.1e}",
    )


def bwb_case(rng):
    m, C, w = random_gmm(rng, BWB_K, BWB_D)
    return Case(
        "bures_wasserstein_barycenter",
        f"k={BWB_K}, d={BWB_D}",
        lambda: skgmmot.bures_wasserstein_barycenter(m, C, w),
        lambda: ot.gaussian.bures_wasserstein_barycenter(m, C, w),
        lambda a, b: f"cov max|diff|/max|POT| {scaled_diff(a[1], b[1]):.1e}",
    )


def fixed_point_problem(rng):
    inputs = [random_gmm(rng, FP_K, FP_D) for _ in range(FP_INPUTS)]
    means_init, covs_init = random_gaussians(rng, FP_BARY_K, FP_D)
    lambdas = np.full(FP_INPUTS, 1.0 / FP_INPUTS)
    return inputs, means_init, covs_init, lambdas


def fixed_point_objective(means, covs, inputs, lambdas):
    """sum_k lambda_k GMM-OT(bary, input_k), evaluated with POT for both."""
    w_bar = np.full(means.shape[0], 1.0 / means.shape[0])
    return float(
        sum(
            lam * ot.gmm.gmm_ot_loss(means, m, covs, C, w_bar, w)
            for lam, (m, C, w) in zip(lambdas, inputs, strict=True)
        )
    )


def fixed_point_case(rng, projection):
    """POT's ``projection`` against skgmmot's same update (``SKGMMOT_PROJECTION``)."""
    inputs, means_init, covs_init, lambdas = fixed_point_problem(rng)
    lists = tuple(list(x) for x in zip(*inputs, strict=True))

    def run(lib, method):
        # POT writes into means_init / covs_init: give both libraries copies.
        return lib.gmm_barycenter_fixed_point(
            *lists,
            means_init.copy(),
            covs_init.copy(),
            lambdas,
            iterations=FP_ITER,
            barycentric_proj_method=method,
        )

    def compare(a, b):
        obj_sk = fixed_point_objective(*a, inputs, lambdas)
        obj_pot = fixed_point_objective(*b, inputs, lambdas)
        obj_init = fixed_point_objective(means_init, covs_init, inputs, lambdas)
        return (
            f"objective: init {obj_init:.4f}, skgmmot {obj_sk:.6f}, "
            f"POT {obj_pot:.6f} (rel. diff {abs(obj_sk - obj_pot) / obj_pot:.1e})"
        )

    return Case(
        f"gmm_barycenter_fixed_point ({SKGMMOT_PROJECTION[projection]})",
        f"K={FP_INPUTS} x {FP_K} comp., d={FP_D}, {FP_ITER} it., bary {FP_BARY_K}",
        lambda: run(skgmmot, SKGMMOT_PROJECTION[projection]),
        lambda: run(ot.gmm, projection),
        compare,
    )


def other_cases():
    rng = np.random.RandomState(2024)
    return [
        loss_case(rng),
        map_case(rng, "bary"),
        map_case(rng, "rand"),
        pdf_case(rng),
        bwb_case(rng),
        fixed_point_case(rng, "euclidean"),
        fixed_point_case(rng, "bures"),
    ]


def bench_others(quick):
    rows, results = [], []
    for case in other_cases():
        progress(f"{case.name} ({case.size})")
        quiet = Quiet()
        what = f"{case.name} {case.size}"
        sk, sk_out = measure_skgmmot(quiet(case.sk), what=what)
        pot, pot_out = measure_pot(quiet(case.pot), quick, what=what)
        ratio = pot.median / sk.median
        agreement = case.compare(sk_out, pot_out)
        not_converged = quiet.printed("not converge")
        if not_converged:
            agreement += f"; POT printed 'Dit not converge.' {not_converged}x"
        rows.append(
            [
                case.name,
                case.size,
                fmt_time(sk.first),
                fmt_runs(sk),
                fmt_runs(pot),
                fmt_ratio(ratio),
                agreement,
            ]
        )
        results.append(
            {
                "name": case.name,
                "size": case.size,
                "skgmmot": sk.as_dict(),
                "pot": pot.as_dict(),
                "ratio": ratio,
                "agreement": agreement,
            }
        )
    headers = [
        "function",
        "size",
        "skgmmot first call",
        "skgmmot median (runs)",
        "POT median (runs)",
        "POT / skgmmot",
        "agreement",
    ]
    notes = [
        "Ratios below 1x mean skgmmot is slower than POT.",
        "Both libraries get the same seeded data; maps use seed=0 (same draws "
        "for 'rand'); POT's barycenter uses its defaults (fixed point, eps=1e-7).",
        "Fixed-point objective = sum_k lambda_k gmm_ot_loss(bary, input_k), "
        "evaluated with POT's gmm_ot_loss for both results; uniform w_bar.",
    ]
    if quick:
        notes.append("--quick: POT timed once (1 run), not a median.")
    print_section(
        "Other functions: skgmmot vs POT", markdown_table(headers, rows), notes
    )
    return results


# --------------------------------------------------------------------------- main


BENCHES = {
    "bures": bench_bures,
    "memory": bench_memory,
    "first-call": bench_first_call,
    "others": bench_others,
}


def main(argv=None):
    run_script(
        "skgmmot vs POT (ot.gmm) benchmark",
        __doc__.splitlines()[0],
        BENCHES,
        environment(),
        argv,
        quick_help="time POT once (1 run) instead of 3-5",
        before=warm_up_pot,
    )


if __name__ == "__main__":
    main()
