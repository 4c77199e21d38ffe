"""Timing, formatting and child-process helpers shared by the benchmark scripts.

Not a test module and not part of the package: ``benchmarks/bench_*.py`` import
it as ``_harness`` (the scripts' own folder is first on ``sys.path``).
"""

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field

import numba
import numpy as np

#: A call slower than this is "slow": 3 timed runs instead of 5.
SLOW_SECONDS = 2.0
#: Fast calls are repeated until they add up to this (at most MAX_RUNS runs).
MIN_TOTAL_SECONDS = 0.5
MAX_RUNS = 50


@dataclass
class Timing:
    times: list = field(default_factory=list)
    first: float | None = None

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def runs(self):
        return len(self.times)

    def as_dict(self):
        return {"first": self.first, "median": self.median, "times": self.times}


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(fn, *, runs_fast, runs_slow, warmup, min_total=MIN_TOTAL_SECONDS):
    """Time ``fn``: optional untimed-in-median warm-up, then median of runs.

    The number of runs is ``runs_fast`` if the first timed run takes less than
    ``SLOW_SECONDS``, else ``runs_slow``; fast calls are repeated until they add
    up to ``min_total`` seconds (at most ``MAX_RUNS`` runs). Returns the timing
    and the output of the first timed run.
    """
    first = timed(fn)[0] if warmup else None
    elapsed, out = timed(fn)
    times = [elapsed]
    wanted = runs_fast if elapsed < SLOW_SECONDS else runs_slow
    while len(times) < wanted or (sum(times) < min_total and len(times) < MAX_RUNS):
        times.append(timed(fn)[0])
    return Timing(times, first), out


class Quiet:
    """Silence numpy warnings and stdout (POT prints "Dit not converge.")."""

    def __init__(self):
        self.stdout = io.StringIO()

    def __call__(self, fn):
        def wrapped():
            with (
                np.errstate(all="ignore"),
                warnings.catch_warnings(),
                contextlib.redirect_stdout(self.stdout),
            ):
                warnings.simplefilter("ignore")
                return fn()

        return wrapped

    def printed(self, text):
        return self.stdout.getvalue().count(text)


# --------------------------------------------------------------------- formatting


def fmt_time(seconds):
    if seconds is None:
        return "-"
    if seconds < 1e-5:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_runs(timing):
    return f"{fmt_time(timing.median)} ({timing.runs})"


def fmt_ratio(ratio):
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def fmt_bytes(n):
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def markdown_table(headers, rows):
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values):
        return (
            "| "
            + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))
            + " |"
        )

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in cells)])


def print_section(title, table, notes=()):
    print(f"\n### {title}\n")
    print(table)
    if notes:
        print()
        for note in notes:
            print(f"- {note}")
    sys.stdout.flush()


def progress(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def max_rel_diff(a, b):
    """Largest entrywise relative difference |a - b| / |b|."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.abs(b), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b) / scale))


def scaled_diff(a, b):
    """max |a - b| / max |b|: for outputs with entries near 0 (points, matrices)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def run_child(code, *argv):
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"child process failed:\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1], wall


def fresh_runs(code, runs):
    inner, wall = [], []
    for _ in range(runs):
        out, elapsed = run_child(code)
        inner.append(float(out))
        wall.append(elapsed)
    return Timing(inner), Timing(wall)


#: The POT version the comparisons were written against.
WRITTEN_FOR_POT = "0.9.7"

#: Environment variables that change the timings, printed when set.
ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "NUMBA_NUM_THREADS",
    "NUMBA_THREADING_LAYER",
    "NUMBA_CACHE_DIR",
    "NUMBA_DISABLE_JIT",
)


def load_average():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def threading_layer():
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel ran in this process
        return "not initialised"


def run_script(title, description, benches, env, argv=None, *, quick_help, before=None):
    """Parse ``--quick/--only/--json``, run the chosen sections, report totals.

    Parameters
    ----------
    title : str
        Heading printed first.
    description : str
        ``--help`` text.
    benches : dict
        Section name -> function taking ``quick`` and returning a JSON-able
        result; run in this order.
    env : dict
        Environment facts printed in the header and saved with the results.
    argv : list of str, optional
        Command line (default ``sys.argv[1:]``).
    quick_help : str
        What ``--quick`` changes.
    before : callable, optional
        Run once before the sections (e.g. to warm up lazy imports).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--only",
        action="append",
        choices=tuple(benches),
        metavar="NAME",
        help=f"run only this section (repeatable): {', '.join(benches)}",
    )
    parser.add_argument("--json", metavar="PATH", help="also save results as JSON")
    args = parser.parse_args(argv)
    sections = args.only or list(benches)
    print(f"## {title}\n")
    for key, value in env.items():
        print(f"- {key}: {value}")
    print(f"- mode: {'quick' if args.quick else 'full'}; all times are medians")
    sys.stdout.flush()
    start = time.perf_counter()
    if before is not None:
        before()
    results = {"environment": env, "quick": args.quick}
    for name, bench in benches.items():
        if name in sections:
            results[name] = bench(args.quick)
    results["total_seconds"] = time.perf_counter() - start
    results["numba_threading_layer"] = threading_layer()
    results["load_average_1min_at_end"] = load_average()
    print(f"\n- numba threading layer: {results['numba_threading_layer']}")
    print(f"- load average (1 min) at end: {results['load_average_1min_at_end']}")
    print(f"- total benchmark time: {results['total_seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=float)
        progress(f"results saved to {args.json}")


def environment():
    """Versions, machine and timing-relevant settings, for the report header."""
    import ot

    import skgmmot

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "skgmmot": skgmmot.__version__,
        "pot": ot.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        **{name: os.environ[name] for name in ENV_VARS if name in os.environ},
        "load_average_1min_at_start": load_average(),
    }
    if not ot.__version__.startswith(WRITTEN_FOR_POT):
        env["warning"] = f"written for POT {WRITTEN_FOR_POT}, running {ot.__version__}"
    return env
