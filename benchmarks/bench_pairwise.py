"""Benchmark pairwise_gmm_ot_distances: serial, n_jobs=2, and a POT loop.

Run ``python benchmarks/bench_pairwise.py [--quick] [--only NAME] [--json PATH]``.
Prints markdown tables (medians, speedups, targets) to stdout and progress
messages to stderr. See ``benchmarks/README.md`` for what each section measures.
"""

import numpy as np
import ot
import ot.gmm
from _harness import (
    environment,
    fmt_ratio,
    fmt_runs,
    fmt_time,
    markdown_table,
    max_rel_diff,
    measure,
    print_section,
    progress,
    run_script,
    timed,
    verdict,
)

from skgmmot import pairwise_gmm_ot_distances
from skgmmot.datasets import make_gmm_family

#: Section "scaling": n mixtures of K components in dimension D.
N_MIXTURES = 1000
N_MIXTURES_QUICK = 300
K = 10
D = 2
SERIAL_TARGET_SECONDS = 60.0
SPEEDUP_TARGET = 1.7
N_JOBS = 2

#: Section "pot": the POT loop runs on this many mixtures (all pairs i < j).
POT_SUBSET = 60
POT_SUBSET_QUICK = 30


def family(n):
    return make_gmm_family(n, n_components=K, n_features=D, random_state=0)


def n_pairs(n):
    return n * (n - 1) // 2


def warm_up():
    """Compile (or load) the kernels and start the joblib workers, untimed."""
    small = family(40)
    pairwise_gmm_ot_distances(small)
    pairwise_gmm_ot_distances(small, n_jobs=N_JOBS)


# ------------------------------------------------- section 1: serial vs n_jobs


def bench_scaling(quick):
    n = N_MIXTURES_QUICK if quick else N_MIXTURES
    mixtures = family(n)
    progress(f"scaling: warm-up (compilation, {N_JOBS} joblib workers)")
    first, _ = timed(warm_up)
    runs = 2 if quick else 3
    progress(f"scaling: serial, {n} mixtures ({n_pairs(n)} pairs), {runs} runs")
    serial, D_serial = measure(
        lambda: pairwise_gmm_ot_distances(mixtures),
        runs_fast=runs,
        runs_slow=runs,
        warmup=False,
        min_total=0.0,
    )
    progress(f"scaling: n_jobs={N_JOBS}, {runs} runs")
    parallel, D_parallel = measure(
        lambda: pairwise_gmm_ot_distances(mixtures, n_jobs=N_JOBS),
        runs_fast=runs,
        runs_slow=runs,
        warmup=False,
        min_total=0.0,
    )
    identical = bool(np.array_equal(D_serial, D_parallel))
    speedup = serial.median / parallel.median
    serial_ok = serial.median < SERIAL_TARGET_SECONDS
    speedup_ok = speedup >= SPEEDUP_TARGET
    per_pair = serial.median / n_pairs(n)
    headers = ["run", "median (runs)", "per pair", "speedup", "target", "result"]
    rows = [
        [
            "serial (n_jobs=None)",
            fmt_runs(serial),
            fmt_time(per_pair),
            "1.0x",
            f"< {SERIAL_TARGET_SECONDS:.0f} s"
            + ("" if n == N_MIXTURES else " at 1000"),
            verdict(serial_ok) if n == N_MIXTURES else "quick: not judged",
        ],
        [
            f"n_jobs={N_JOBS} (loky)",
            fmt_runs(parallel),
            fmt_time(parallel.median / n_pairs(n)),
            fmt_ratio(speedup),
            f">= {SPEEDUP_TARGET}x",
            verdict(speedup_ok),
        ],
    ]
    notes = [
        f"{n} mixtures of {K} components in d={D} (make_gmm_family, seed 0): "
        f"{n_pairs(n)} GMM-OT problems (pairs i < j).",
        f"Warm-up (kernel compilation or cache load, worker start): "
        f"{fmt_time(first)}, not counted.",
        f"n_jobs={N_JOBS} gives the serial matrix bit for bit: {identical}.",
        "The speedup needs idle cores: on a loaded machine it measures the load.",
    ]
    print_section(
        "pairwise_gmm_ot_distances: serial vs n_jobs",
        markdown_table(headers, rows),
        notes,
    )
    return {
        "n_mixtures": n,
        "n_pairs": n_pairs(n),
        "warmup_seconds": first,
        "serial": serial.as_dict(),
        "parallel": parallel.as_dict(),
        "speedup": speedup,
        "identical": identical,
        "serial_target_met": serial_ok if n == N_MIXTURES else None,
        "speedup_target_met": speedup_ok,
    }


# -------------------------------------------- section 2: a POT loop over pairs


def pot_loop(mixtures):
    """The obvious code: POT's gmm_ot_loss for every pair i < j."""
    n = len(mixtures)
    out = np.zeros((n, n))
    for i in range(n):
        m_i, C_i, w_i = mixtures[i]
        for j in range(i + 1, n):
            m_j, C_j, w_j = mixtures[j]
            out[i, j] = ot.gmm.gmm_ot_loss(m_i, m_j, C_i, C_j, w_i, w_j)
    return out + out.T


def bench_pot(quick):
    n = POT_SUBSET_QUICK if quick else POT_SUBSET
    mixtures = family(n)
    pairwise_gmm_ot_distances(family(5))  # compiled before timing
    progress(f"pot: POT loop over the {n_pairs(n)} pairs of {n} mixtures")
    what = f"pairwise distances of {n} mixtures"
    pot, D_pot = measure(
        lambda: pot_loop(mixtures),
        runs_fast=3,
        runs_slow=3,
        warmup=True,
        label=f"POT: {what}",
    )
    progress("pot: skgmmot serial on the same mixtures")
    ours, D_ours = measure(
        lambda: pairwise_gmm_ot_distances(mixtures, squared=True),
        runs_fast=5,
        runs_slow=3,
        warmup=True,
        label=f"skgmmot: {what}",
    )
    off = ~np.eye(n, dtype=bool)
    diff = max_rel_diff(D_ours[off], D_pot[off])
    full = n_pairs(N_MIXTURES)
    pot_per_pair = pot.median / n_pairs(n)
    headers = ["method", f"median (runs), {n} mixtures", "per pair", "POT / skgmmot"]
    rows = [
        [
            f"POT {ot.__version__} loop of ot.gmm.gmm_ot_loss",
            fmt_runs(pot),
            fmt_time(pot_per_pair),
            "",
        ],
        [
            "skgmmot pairwise_gmm_ot_distances (serial)",
            fmt_runs(ours),
            fmt_time(ours.median / n_pairs(n)),
            fmt_ratio(pot.median / ours.median),
        ],
    ]
    notes = [
        f"Measured on {n} mixtures ({n_pairs(n)} pairs) only, {K} components, d={D}.",
        f"Largest relative difference between the two matrices: {diff:.2g}.",
        f"EXTRAPOLATED, not measured: the POT loop at {N_MIXTURES} mixtures "
        f"({full} pairs) would take about {fmt_time(pot_per_pair * full)} "
        "(its per-pair time times the number of pairs).",
    ]
    print_section(
        "skgmmot vs a POT loop over pairs", markdown_table(headers, rows), notes
    )
    return {
        "n_mixtures": n,
        "pot": pot.as_dict(),
        "skgmmot": ours.as_dict(),
        "ratio": pot.median / ours.median,
        "max_rel_diff": diff,
        "pot_extrapolated_seconds_at_full_size": pot_per_pair * full,
    }


BENCHES = {"scaling": bench_scaling, "pot": bench_pot}


def main(argv=None):
    run_script(
        "pairwise_gmm_ot_distances benchmark",
        __doc__.splitlines()[0],
        BENCHES,
        environment(),
        argv,
        quick_help=(
            f"{N_MIXTURES_QUICK} mixtures instead of {N_MIXTURES} (2 runs each), "
            f"POT loop on {POT_SUBSET_QUICK} mixtures instead of {POT_SUBSET}"
        ),
    )


if __name__ == "__main__":
    main()
