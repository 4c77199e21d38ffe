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
from typing import ClassVar

import numba
import numpy as np

#: A call slower than this is "slow": 3 timed runs instead of 5.
SLOW_SECONDS = 2.0
#: Fast calls are repeated until they add up to this (at most MAX_RUNS runs).
MIN_TOTAL_SECONDS = 0.5
MAX_RUNS = 50

#: --busy: CPU-bound background processes (at nice 15) while the busy passes
#: run, and a BLAS matrix product of this size before every timed call (its
#: worker threads then spin on the cores for about 0.1 s, as in a user's
#: process that calls NumPy or scikit-learn between skgmmot calls).
BUSY_PROCESSES = 2
BUSY_BLAS_SIZE = 400
#: The passes of --busy, in order: (name, background load, numba threads).
PASSES = (("idle", False, None), ("busy", True, None), ("busy, 1 thread", True, 1))
#: Target of --busy: busy time / busy one-thread time at most this.
BUSY_TARGET = 1.5


class _Pass:
    """The pass being run, and every labelled timing of every pass."""

    name = "idle"
    section = None
    blas = None  # the matrix multiplied before every timed call when busy
    recorded: ClassVar[list] = []  # (pass, section, label, median seconds)


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
    if _Pass.blas is not None:
        _Pass.blas @ _Pass.blas  # not timed: what a user's process does in between
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(
    fn, *, runs_fast, runs_slow, warmup, min_total=MIN_TOTAL_SECONDS, label=None
):
    """Time ``fn``: optional untimed-in-median warm-up, then median of runs.

    The number of runs is ``runs_fast`` if the first timed run takes less than
    ``SLOW_SECONDS``, else ``runs_slow``; fast calls are repeated until they add
    up to ``min_total`` seconds (at most ``MAX_RUNS`` runs). Returns the timing
    and the output of the first timed run. A ``label`` ("skgmmot: what" or
    "POT: what") puts the median in the --busy summary.
    """
    first = timed(fn)[0] if warmup else None
    elapsed, out = timed(fn)
    times = [elapsed]
    wanted = runs_fast if elapsed < SLOW_SECONDS else runs_slow
    while len(times) < wanted or (sum(times) < min_total and len(times) < MAX_RUNS):
        times.append(timed(fn)[0])
    timing = Timing(times, first)
    if label is not None:
        record(label, timing.median)
    return timing, out


def record(label, median):
    """Put a median (seconds) in the --busy summary, as ``measure(label=...)``."""
    _Pass.recorded.append((_Pass.name, _Pass.section, label, median))


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

#: skgmmot's name of each of POT's barycentric projections: POT's "bures" is
#: the two-stage update, skgmmot's "bures_two_stage" (skgmmot's "bures" is the
#: one-stage minimiser, which POT does not have).
SKGMMOT_PROJECTION = {"euclidean": "euclidean", "bures": "bures_two_stage"}

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
    parser.add_argument(
        "--busy",
        action="store_true",
        help=f"run the sections three times: idle, busy ({BUSY_PROCESSES} "
        f"CPU-bound processes at nice 15, a {BUSY_BLAS_SIZE}x{BUSY_BLAS_SIZE} "
        "BLAS product before every timed call) and busy with numba on one "
        "thread; then compare the labelled timings side by side",
    )
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
    for pass_name, busy, threads in PASSES if args.busy else PASSES[:1]:
        if args.busy:
            print(f"\n## Pass: {pass_name}")
        with _pass(pass_name, busy, threads):
            for name, bench in benches.items():
                if name in sections:
                    _Pass.section = name
                    key = name if pass_name == "idle" else f"{name} [{pass_name}]"
                    results[key] = bench(args.quick)
    if args.busy:
        results["busy_summary"] = _busy_summary()
    results["total_seconds"] = time.perf_counter() - start
    results["threads"] = numba.get_num_threads()
    results["load_average_1min_at_end"] = load_average()
    print(
        f"\n- threads: {results['threads']} (the calling thread and skgmmot's "
        "worker threads; numba's threading layer is not used)"
    )
    print(f"- load average (1 min) at end: {results['load_average_1min_at_end']}")
    print(f"- total benchmark time: {results['total_seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=float)
        progress(f"results saved to {args.json}")


@contextlib.contextmanager
def _pass(name, busy, threads):
    """Run a pass: background load and BLAS calls if ``busy``, numba threads."""
    _Pass.name = name
    workers = []
    previous_threads = numba.get_num_threads()
    try:
        if busy:
            for _ in range(BUSY_PROCESSES):
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "-c", "while True: pass"],
                        preexec_fn=lambda: os.nice(15),
                    )
                )
            rng = np.random.RandomState(0)
            _Pass.blas = rng.standard_normal((BUSY_BLAS_SIZE, BUSY_BLAS_SIZE))
        if threads is not None:
            numba.set_num_threads(threads)
        yield
    finally:
        numba.set_num_threads(previous_threads)
        _Pass.blas = None
        for worker in workers:
            worker.kill()
            worker.wait()


def _busy_summary():
    """Print every labelled timing of the three passes side by side."""
    medians = {}
    order = []
    for pass_name, section, label, median in _Pass.recorded:
        key = (section, label)
        if key not in medians:
            medians[key] = {}
            order.append(key)
        medians[key][pass_name] = median
    rows, summary = [], []
    for section, label in order:
        m = medians[(section, label)]
        idle, busy, one = (m.get(name) for name, _, _ in PASSES)
        lib, _, what = label.partition(": ")
        row = {
            "section": section,
            "label": label,
            "idle": idle,
            "busy": busy,
            "busy_one_thread": one,
        }
        cells = [section, label, fmt_time(idle), fmt_time(busy), fmt_time(one)]
        if lib == "skgmmot" and busy is not None and one is not None:
            row["busy_over_one_thread"] = busy / one
            row["pass"] = busy / one <= BUSY_TARGET
            cells += [fmt_ratio(busy / one), verdict(row["pass"])]
        else:
            cells += ["", ""]
        pot = medians.get((section, f"POT: {what}"))
        if lib == "skgmmot" and pot and idle and busy and "idle" in pot:
            row["pot_ratio_idle"] = pot["idle"] / idle
            row["pot_ratio_busy"] = pot["busy"] / busy
            row["ratio_pass"] = row["pot_ratio_busy"] >= 0.5 * row["pot_ratio_idle"]
            cells += [
                fmt_ratio(row["pot_ratio_idle"]),
                fmt_ratio(row["pot_ratio_busy"]),
                verdict(row["ratio_pass"]),
            ]
        else:
            cells += ["", "", ""]
        rows.append(cells)
        summary.append(row)
    headers = [
        "section",
        "timing",
        "idle",
        "busy",
        "busy, numba 1 thread",
        "busy / 1 thread",
        f"<= {BUSY_TARGET}x",
        "POT / skgmmot idle",
        "POT / skgmmot busy",
        ">= half idle",
    ]
    notes = [
        f"busy: {BUSY_PROCESSES} CPU-bound processes at nice 15 and a "
        f"{BUSY_BLAS_SIZE}x{BUSY_BLAS_SIZE} NumPy matrix product (OpenBLAS, "
        "its own threads) before every timed call, in this process.",
        "Targets (issue 13): busy skgmmot within 1.5x of its one-thread time "
        "under the same load; busy ratio vs POT at least half the idle one.",
    ]
    print_section("Idle and busy side by side", markdown_table(headers, rows), notes)
    return summary


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
