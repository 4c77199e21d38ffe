"""Benchmark how skgmmot and POT scale with the number of components and the dimension.

Run ``python benchmarks/bench_scaling.py [--quick] [--only NAME] [--json PATH]
[--out PNG]``. Prints markdown tables (medians, fitted log-log exponents) to
stdout and progress messages to stderr, and saves a log-log plot of time
against k and d (default ``benchmarks/results/bench_scaling.png``). See
``benchmarks/README.md`` for what each section measures.
"""

import argparse
import os
import sys

import numpy as np
import ot
import ot.gmm
from _harness import (
    Quiet,
    environment,
    fmt_bytes,
    fmt_ratio,
    fmt_runs,
    fmt_time,
    markdown_table,
    measure,
    print_section,
    progress,
    run_script,
)

import skgmmot
from skgmmot.datasets import make_gmm_family, make_random_gmm

#: Sweep over k (k_s = k_t = k, and the barycenter has k components too) at
#: dimension K_SWEEP_D, and over d at K_SWEEP_FIXED components.
K_SWEEP = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
K_SWEEP_QUICK = (10, 20, 50, 100, 200)
K_SWEEP_D = 2
D_SWEEP = (1, 2, 4, 8, 16, 32, 64)
D_SWEEP_QUICK = (1, 2, 4, 8)
D_SWEEP_K = 100
D_SWEEP_K_QUICK = 50
#: Expected exponents: k * k pairs; d**3 flops per pair (eigenvalues).
EXPECTED = {"k": 2.0, "d": 3.0}

#: Barycenter section: K input mixtures, one fixed-point iteration.
BARY_INPUTS = 3
BARY_ITERATIONS = 1

#: A size is skipped when its predicted time per call exceeds the budget (the
#: previous point extrapolated with the slope of the last two points).
BUDGET_SECONDS = {"skgmmot": 60.0, "POT": 20.0}
#: POT's dist_bures_squared keeps this many (k_s, k_t, d, d) float64 arrays
#: alive at its peak (see bench_bures.py); skipped above MEMORY_LIMIT_BYTES.
POT_LIVE_ARRAYS = 4
MEMORY_LIMIT_BYTES = 2e9

#: Exponents are fitted on the larger half of the measured sizes (>= 2 points).
DEFAULT_PNG = os.path.join(os.path.dirname(__file__), "results", "bench_scaling.png")

LIBRARIES = ("skgmmot", "POT")
#: Filled by the sections, plotted at the end.
_PLOT_DATA = {}


# --------------------------------------------------------------------------- data


def bures_problem(k, d):
    m_s, C_s, _ = make_random_gmm(k, d, random_state=0)
    m_t, C_t, _ = make_random_gmm(k, d, random_state=1)
    return m_s, m_t, C_s, C_t


def barycenter_problem(k, d):
    inputs = make_gmm_family(BARY_INPUTS, k, d, random_state=10)
    means_init, covs_init, _ = make_random_gmm(k, d, random_state=0)
    return inputs, means_init, covs_init


def bures_calls(k, d):
    args = bures_problem(k, d)
    return {
        "skgmmot": lambda: skgmmot.dist_bures_squared(*args),
        "POT": lambda: ot.gmm.dist_bures_squared(*args),
    }


def barycenter_calls(k, d):
    inputs, means_init, covs_init = barycenter_problem(k, d)
    means_list = [m for m, _, _ in inputs]
    covs_list = [C for _, C, _ in inputs]
    w_list = [w for _, _, w in inputs]
    lambdas = np.full(BARY_INPUTS, 1.0 / BARY_INPUTS)

    def call(fixed_point):
        # POT writes into means_init and covs_init: every call gets copies.
        return lambda: fixed_point(
            means_list,
            covs_list,
            w_list,
            means_init.copy(),
            covs_init.copy(),
            lambdas,
            iterations=BARY_ITERATIONS,
        )

    return {
        "skgmmot": call(skgmmot.gmm_barycenter_fixed_point),
        "POT": call(ot.gmm.gmm_barycenter_fixed_point),
    }


def quiet_pot(calls):
    """Silence POT's prints and warnings ("Dit not converge.")."""
    calls["POT"] = Quiet()(calls["POT"])
    return calls


OPERATIONS = {
    "bures": ("dist_bures_squared", bures_calls),
    "barycenter": (
        f"gmm_barycenter_fixed_point, {BARY_ITERATIONS} iteration, "
        f"{BARY_INPUTS} inputs",
        barycenter_calls,
    ),
}


def warm_up():
    """Compile (or load from cache) every kernel path: d = 1, 2 and >= 3."""
    for d in (1, 2, 3, 8):
        for name in OPERATIONS:
            for fn in quiet_pot(OPERATIONS[name][1](6, d)).values():
                fn()


# ------------------------------------------------------------------ measurement


def pot_bytes(k, d):
    return POT_LIVE_ARRAYS * k * k * d * d * 8


def predicted_seconds(points, x):
    """Extrapolate the measured (x, seconds) points to x, or None if too few."""
    if not points:
        return None
    (x1, t1) = points[-1]
    if len(points) >= 2:
        x0, t0 = points[-2]
        slope = np.log(t1 / t0) / np.log(x1 / x0)
        slope = float(np.clip(slope, 1.0, 4.0))
    else:
        slope = 3.0
    return t1 * (x / x1) ** slope


def fitted_exponent(points):
    """Least-squares slope of log t against log x over the larger half."""
    if len(points) < 2:
        return None
    xs, ts = np.array(points, dtype=float).T
    larger = xs >= np.median(xs)
    if larger.sum() < 2:
        larger[-2:] = True
    return float(np.polyfit(np.log(xs[larger]), np.log(ts[larger]), 1)[0])


def time_call(fn, quick, library):
    if quick:
        runs = 1 if library == "POT" else 3
        return measure(fn, runs_fast=runs, runs_slow=1, warmup=False, min_total=0.0)
    return measure(fn, runs_fast=5, runs_slow=3, warmup=False)


def sweep(operation, axis, sizes, fixed, quick):
    """Time both libraries over one sweep; returns rows and (x, t) points."""
    label, make_calls = OPERATIONS[operation]
    points = {lib: [] for lib in LIBRARIES}
    skipped = {lib: [] for lib in LIBRARIES}
    rows = []
    for x in sizes:
        k, d = (x, fixed) if axis == "k" else (fixed, x)
        calls = quiet_pot(make_calls(k, d))
        row = {"k": k, "d": d}
        for lib in LIBRARIES:
            reason = None
            if lib == "POT" and pot_bytes(k, d) > MEMORY_LIMIT_BYTES:
                reason = f"skipped (needs {fmt_bytes(pot_bytes(k, d))})"
            guess = predicted_seconds(points[lib], x)
            if reason is None and guess is not None and guess > BUDGET_SECONDS[lib]:
                reason = f"skipped (predicted {fmt_time(guess)})"
            if reason is not None:
                row[lib] = reason
                skipped[lib].append(x)
                continue
            progress(f"{operation} {lib} k={k} d={d}")
            timing, _ = time_call(calls[lib], quick, lib)
            points[lib].append((x, timing.median))
            row[lib] = timing
        rows.append(row)
    _PLOT_DATA[(operation, axis)] = {
        "label": label,
        "fixed": fixed,
        "points": points,
        "skipped": skipped,
    }
    return rows, points


def report_sweep(operation, axis, sizes, fixed, quick):
    rows, points = sweep(operation, axis, sizes, fixed, quick)
    other = "d" if axis == "k" else "k"
    table = []
    for row in rows:
        cells = [row[axis]]
        for lib in LIBRARIES:
            value = row[lib]
            cells.append(value if isinstance(value, str) else fmt_runs(value))
        both = all(not isinstance(row[lib], str) for lib in LIBRARIES)
        ratio = row["POT"].median / row["skgmmot"].median if both else None
        cells.append(fmt_ratio(ratio) if ratio is not None else "-")
        table.append(cells)
    exponents = {lib: fitted_exponent(points[lib]) for lib in LIBRARIES}
    headers = [axis, "skgmmot median (runs)", "POT median (runs)", "POT / skgmmot"]
    fits = ", ".join(
        f"{lib} {'-' if e is None else f'{e:.2f}'}" for lib, e in exponents.items()
    )
    notes = [
        f"{other} = {fixed}; time against {axis} fitted as t ~ {axis}^p by least "
        f"squares on log t vs log {axis}, over the larger half of the measured "
        f"sizes: p = {fits} (expected about {EXPECTED[axis]:.0f} for large "
        f"{axis}).",
    ]
    notes.append(
        "skgmmot runs calls below skgmmot._kernels._threads.SERIAL_BELOW_FLOPS on "
        "one thread: where calls turn parallel, the step up measures the wake-up "
        "of numba's threads (large when other jobs keep the cores busy)."
    )
    if quick:
        notes.append("--quick: small sizes, POT timed once; exponents only indicative.")
    label = OPERATIONS[operation][0]
    print_section(f"{label}: time vs {axis}", markdown_table(headers, table), notes)
    return {
        "axis": axis,
        "fixed": fixed,
        "exponents": exponents,
        "rows": [
            {
                key: (value.as_dict() if hasattr(value, "as_dict") else value)
                for key, value in row.items()
            }
            for row in rows
        ],
    }


def bench(operation, quick):
    k_sizes = K_SWEEP_QUICK if quick else K_SWEEP
    d_sizes = D_SWEEP_QUICK if quick else D_SWEEP
    d_fixed_k = D_SWEEP_K_QUICK if quick else D_SWEEP_K
    return {
        "k": report_sweep(operation, "k", k_sizes, K_SWEEP_D, quick),
        "d": report_sweep(operation, "d", d_sizes, d_fixed_k, quick),
    }


def bench_bures(quick):
    return bench("bures", quick)


def bench_barycenter(quick):
    return bench("barycenter", quick)


# ------------------------------------------------------------------------- plot


def plot(path):
    """Save the log-log plot of every sweep that ran; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    operations = [op for op in OPERATIONS if any(key[0] == op for key in _PLOT_DATA)]
    fig, axes = plt.subplots(
        len(operations), 2, figsize=(11, 4.2 * len(operations)), squeeze=False
    )
    styles = {
        "skgmmot": {"color": "tab:blue", "marker": "o", "linestyle": "-"},
        "POT": {"color": "tab:orange", "marker": "s", "linestyle": "--"},
    }
    for row, operation in enumerate(operations):
        for col, axis in enumerate(("k", "d")):
            ax = axes[row, col]
            data = _PLOT_DATA.get((operation, axis))
            if data is None:
                ax.set_visible(False)
                continue
            for lib in LIBRARIES:
                pts = data["points"][lib]
                if not pts:
                    continue
                xs, ts = np.array(pts, dtype=float).T
                p = fitted_exponent(pts)
                details = [] if p is None else [f"slope {p:.2f}"]
                if data["skipped"][lib]:
                    details.append(f"{axis} >= {min(data['skipped'][lib])} skipped")
                label = lib + (f" ({'; '.join(details)})" if details else "")
                ax.plot(xs, ts, label=label, **styles[lib])
            sk = data["points"]["skgmmot"]
            if sk:
                # Reference slope through skgmmot's largest measured size,
                # over the sizes the exponents are fitted on.
                x_end, t_end = sk[-1]
                xs = np.array([x for x, _ in sk], dtype=float)
                ref = np.array([xs[xs >= np.median(xs)][0], x_end])
                power = EXPECTED[axis]
                ax.plot(
                    ref,
                    t_end * (ref / x_end) ** power,
                    color="gray",
                    linestyle=":",
                    label=f"reference slope {power:.0f}",
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            sizes = sorted({x for lib in LIBRARIES for x, _ in data["points"][lib]})
            ax.set_xticks(sizes)
            ax.set_xticklabels([str(x) for x in sizes])
            ax.minorticks_off()
            other = "d" if axis == "k" else "k"
            ax.set_title(f"{data['label']}\nvs {axis} ({other} = {data['fixed']})")
            ax.set_xlabel(axis)
            ax.set_ylabel("median time per call (s)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- main


BENCHES = {"bures": bench_bures, "barycenter": bench_barycenter}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--out", default=DEFAULT_PNG)
    args, rest = extra.parse_known_args(argv)
    run_script(
        "Scaling benchmark: time vs k and d",
        __doc__.splitlines()[0] + f" Also: --out PNG (default {DEFAULT_PNG}).",
        BENCHES,
        environment(),
        rest,
        quick_help="small sizes, POT timed once (a smoke test)",
        before=warm_up,
    )
    if _PLOT_DATA:
        progress(f"plot saved to {plot(args.out)}")


if __name__ == "__main__":
    main()
