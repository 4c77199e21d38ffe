"""What the single exact-OT path costs: per call and in whole fits.

Run ``python benchmarks/bench_exact.py [--quick] [--only NAME] [--json PATH]
[--baseline REF]``. Every exact plan of skgmmot comes from
``skgmmot._engine.transport.solve_exact``, which rescales ``b``, leaves zero weights
out and calls POT's compiled ``emd_c`` as ``ot.emd`` does. Section ``calls``
times ``exact_plan`` against a bare ``emd_c`` call and ``ot.emd``; section
``fits`` times whole fits whose exact plans dominate. With ``--baseline REF``
(a git revision, or the path of a ``_transport.py``), the ``_transport``
module of that revision is loaded next to the current one and both are timed
in alternating runs in this process: the old functions replace the new ones
wherever skgmmot's modules imported them.
"""

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import ot
from _harness import (
    Timing,
    environment,
    fmt_ratio,
    fmt_time,
    markdown_table,
    print_section,
    progress,
    record,
    run_script,
    timed,
    verdict,
)
from bench_barycenter import POT_BARY_K, POT_ITER, pot_problem
from bench_flow import DATA as FLOW_DATA
from bench_flow import POT_STEPS, load_problem
from sklearn.exceptions import ConvergenceWarning

import skgmmot._engine.transport as transport
from skgmmot import GMMOTBarycenter, GMMOTFlow
from skgmmot._engine.status import Notes

#: Section ``calls``: square problems of these sizes.
SIZES = (3, 10, 50, 300)
#: Share of the weights of ``a`` and ``b`` set to zero in the "zeros" rows.
ZERO_SHARE = 0.25
#: Each timing repeats a call for about this long (at least once) ...
BATCH_SECONDS = 2e-3
#: ... and each contender gets this many timings, in alternating order.
ROUNDS, QUICK_ROUNDS = 41, 11
#: Section ``fits``: alternating runs of the current and the baseline code.
FIT_ROUNDS, QUICK_FIT_ROUNDS = 31, 5
#: Target: fits with the current code at most this much slower than baseline.
FIT_TARGET = 1.10

_BASELINE = {}


# ----------------------------------------------------------------- baseline


def _transport_path(ref, root):
    """Where revision ``ref`` keeps the transport module (it moved in issue 15)."""
    for path in ("skgmmot/_engine/transport.py", "skgmmot/_transport.py"):
        found = subprocess.run(
            ["git", "cat-file", "-e", f"{ref}:{path}"], cwd=root, check=False
        )
        if found.returncode == 0:
            return path
    raise SystemExit(f"no transport module in revision {ref}")


def load_baseline(ref):
    """The ``_transport`` module of git revision (or file) ``ref``, as a module."""
    path = Path(ref)
    if not path.is_file():
        root = Path(__file__).resolve().parents[1]
        source = subprocess.run(
            ["git", "show", f"{ref}:{_transport_path(ref, root)}"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        folder = Path(tempfile.mkdtemp(prefix="bench_exact_"))
        path = folder / "_transport_baseline.py"
        path.write_text(source)
    spec = importlib.util.spec_from_file_location("_transport_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _old_call(function):
    """``function`` of an older module, called as the current code calls it.

    The solver's options and notes became keyword arguments (issue 15); an
    older ``_transport`` warns by itself and takes neither.
    """

    def call(*args, notes=None, num_iter_max=None, **kwargs):
        for name in ("max_iter", "tol", "stacklevel"):
            kwargs.pop(name, None)
        return function(*args, **kwargs)

    return call


def swapped_in(module):
    """Replace the current exact functions by ``module``'s in skgmmot's modules.

    Returns the list of (module, name, current function) to restore.
    """
    names = ("exact_plan", "exact_plans", "exact_duals", "pot_emd", "_exact_start")
    current = {getattr(transport, n): _old_call(getattr(module, n)) for n in names}
    swaps = []
    for mod_name, mod in list(sys.modules.items()):
        if not mod_name.startswith("skgmmot") or mod is None:
            continue
        for attr, value in list(vars(mod).items()):
            if callable(value) and value in current:
                swaps.append((mod, attr, value))
                setattr(mod, attr, current[value])
    return swaps


def restore(swaps):
    for mod, attr, value in swaps:
        setattr(mod, attr, value)


# -------------------------------------------------------------- section calls


def problem(n, zeros, rng):
    """Uniform-ish weights, random costs; a share of zero weights if ``zeros``."""
    a, b = rng.rand(n) + 0.5, rng.rand(n) + 0.5
    if zeros and n > 1:
        k = max(1, int(ZERO_SHARE * n))
        a[rng.choice(n, k, replace=False)] = 0.0
        b[rng.choice(n, k, replace=False)] = 0.0
    return a / a.sum(), b / b.sum(), rng.rand(n, n)


def batched(fn):
    """``fn`` repeated to last about BATCH_SECONDS; returns (call, repeats)."""
    fn()
    once = timed(fn)[0]
    repeats = max(1, int(BATCH_SECONDS / max(once, 1e-7)))

    def call():
        for _ in range(repeats):
            fn()

    return call, repeats


def alternate(contenders, rounds):
    """Median seconds per call of each contender, timed in rotating order."""
    calls = {name: batched(fn) for name, fn in contenders.items()}
    times = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            call, repeats = calls[name]
            times[name].append(timed(call)[0] / repeats)
    return {name: Timing(t) for name, t in times.items()}


def bench_calls(quick):
    rng = np.random.RandomState(0)
    rounds = QUICK_ROUNDS if quick else ROUNDS
    baseline = _BASELINE.get("module")
    solver = transport._emd_c()
    rows, results = [], []
    for n in SIZES:
        for zeros in (False, True):
            progress(f"calls: {n} x {n}{', zero weights' if zeros else ''}")
            a, b, cost = problem(n, zeros, rng)
            b_direct = b * (a.sum() / b.sum())
            limit = transport.emd_limits(n, n)[0]
            expected = ot.emd(a, b, cost)
            assert np.array_equal(
                transport.exact_plan(a, b, cost, notes=Notes()), expected
            )
            contenders = {
                "exact_plan": lambda a=a, b=b, c=cost: transport.exact_plan(
                    a, b, c, notes=Notes()
                ),
                "emd_c": lambda a=a, b=b_direct, c=cost, k=limit: solver(a, b, c, k, 1),
                "ot.emd": lambda a=a, b=b, c=cost: ot.emd(a, b, c),
            }
            if baseline is not None:
                contenders["baseline"] = lambda a=a, b=b, c=cost: baseline.exact_plan(
                    a, b, c
                )
            t = alternate(contenders, rounds if n < 300 else max(5, rounds // 2))
            new = t["exact_plan"].median
            what = f"{n} x {n}{', zeros' if zeros else ''}"
            record(f"skgmmot: {what}", new)
            record(f"POT: {what}", t["ot.emd"].median)
            row = [
                f"{n} x {n}",
                "yes" if zeros else "no",
                fmt_time(new),
                fmt_time(t["emd_c"].median),
                fmt_time(t["ot.emd"].median),
                f"{new / t['emd_c'].median:.2f}x",
                fmt_ratio(t["ot.emd"].median / new),
            ]
            result = {
                "n": n,
                "zeros": zeros,
                **{name: timing.as_dict() for name, timing in t.items()},
            }
            if baseline is not None:
                old = t["baseline"].median
                row += [fmt_time(old), f"{new / old:.2f}x"]
                result["new_over_baseline"] = new / old
            rows.append(row)
            results.append(result)
    headers = [
        "size",
        "zero weights",
        "exact_plan",
        "bare emd_c",
        "ot.emd",
        "exact_plan / emd_c",
        "ot.emd / exact_plan",
    ]
    if baseline is not None:
        headers += ["baseline exact_plan", "exact_plan / baseline"]
    notes = [
        "Median seconds per call; each timing repeats the call for about "
        f"{BATCH_SECONDS * 1e3:g} ms, contenders alternate ({rounds} timings "
        "each, half as many at 300 x 300).",
        "Random costs in [0, 1), weights 0.5 + U(0, 1) normalised; 'zero "
        f"weights': {ZERO_SHARE:.0%} of a and of b set to 0.",
        "bare emd_c: POT's compiled solver alone on prepared arrays (b rescaled, "
        "zero weights kept), the call the estimators made before; exact_plan "
        "returns ot.emd's plan (checked), which needs the zero weights left out.",
    ]
    if baseline is not None:
        notes.append(f"baseline: exact_plan of {_BASELINE['ref']}.")
    print_section(
        "Per call: exact_plan, emd_c, ot.emd", markdown_table(headers, rows), notes
    )
    return results


# --------------------------------------------------------------- section fits


def quiet(fn):
    def wrapped():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return fn()

    return wrapped


def fit_cases():
    """(name, fit function, attribute compared) of the timed fits."""
    inputs, init = pot_problem()
    cases = []
    for projection in ("euclidean", "bures"):
        estimator = GMMOTBarycenter(
            POT_BARY_K, init=init, max_iter=POT_ITER, tol=0.0, projection=projection
        )
        cases.append(
            (
                f"GMMOTBarycenter.fit, bench_barycenter's POT problem ({projection})",
                quiet(lambda e=estimator: e.fit(inputs)),
                "means_",
            )
        )
    if FLOW_DATA.is_file():
        source, target = load_problem()
        flow = GMMOTFlow(target=target, n_steps=POT_STEPS)
        cases.append(
            (
                "GMMOTFlow.fit, POT's 'GMM Flow' gallery example",
                quiet(lambda: flow.fit(source)),
                "means_",
            )
        )
    return cases


def timed_fit(fit, module):
    """Seconds of one ``fit``, with ``module``'s exact functions if given."""
    if module is None:
        return timed(fit)[0]
    swaps = swapped_in(module)
    try:
        return timed(fit)[0]
    finally:
        restore(swaps)


def bench_fits(quick):
    baseline = _BASELINE.get("module")
    rounds = QUICK_FIT_ROUNDS if quick else FIT_ROUNDS
    rows, results = [], []
    for name, fit, attribute in fit_cases():
        progress(f"fits: {name}")
        new_out = np.array(getattr(fit(), attribute))  # warm-up (compilation)
        if baseline is None:
            current = Timing([timed_fit(fit, None) for _ in range(rounds)])
            record(f"skgmmot: {name}", current.median)
            rows.append([name, fmt_time(current.median), fmt_time(min(current.times))])
            results.append({"name": name, "current": current.as_dict()})
            continue
        swaps = swapped_in(baseline)
        try:
            same = bool(np.array_equal(new_out, getattr(fit(), attribute)))
        finally:
            restore(swaps)
        current, old = Timing(), Timing()
        for r in range(rounds):
            # One pair per round, its order flipping: the pair's ratio cancels
            # the load of the moment, which both runs share.
            if r % 2:
                old.times.append(timed_fit(fit, baseline))
                current.times.append(timed_fit(fit, None))
            else:
                current.times.append(timed_fit(fit, None))
                old.times.append(timed_fit(fit, baseline))
        record(f"skgmmot: {name}", current.median)
        pairs = statistics.median(
            c / o for c, o in zip(current.times, old.times, strict=True)
        )
        ok = pairs <= FIT_TARGET
        results.append(
            {
                "name": name,
                "current": current.as_dict(),
                "baseline": old.as_dict(),
                "median_ratio": current.median / old.median,
                "paired_ratio": pairs,
                "min_ratio": min(current.times) / min(old.times),
                "same_result": same,
                "pass": ok,
            }
        )
        rows.append(
            [
                name,
                fmt_time(current.median),
                fmt_time(old.median),
                f"{current.median / old.median:.3f}x",
                f"{min(current.times) / min(old.times):.3f}x",
                f"{pairs:.3f}x",
                "yes" if same else "no",
                f"<= {FIT_TARGET:.2f}x",
                verdict(ok),
            ]
        )
    headers = ["fit", "current", "fastest"]
    if baseline is not None:
        headers = [
            "fit",
            "current",
            "baseline",
            "ratio of medians",
            "ratio of fastest",
            "median paired ratio",
            "same result",
            "target",
            "result",
        ]
    notes = [
        f"{rounds} fits each after a warm-up fit. With a baseline, the two run in "
        "pairs (the order flips every round) in this process, the baseline's "
        "functions swapped into skgmmot's modules for its runs; the verdict is "
        "on the median of the pairs' ratios current / baseline.",
    ]
    if baseline is None:
        notes.append("No --baseline given: the current code only.")
    else:
        notes.append(f"baseline: skgmmot/_transport.py of {_BASELINE['ref']}.")
    if not FLOW_DATA.is_file():
        notes.append(f"{FLOW_DATA} not found: no GMMOTFlow row.")
    print_section("Whole fits", markdown_table(headers, rows), notes)
    return results


BENCHES = {"calls": bench_calls, "fits": bench_fits}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--baseline", default=None)
    args, rest = extra.parse_known_args(argv)
    env = environment()
    if args.baseline is not None:
        _BASELINE["module"] = load_baseline(args.baseline)
        _BASELINE["ref"] = args.baseline
        env["baseline"] = args.baseline
    run_script(
        "The exact-OT path: per call and in fits",
        __doc__.splitlines()[0]
        + " Also: --baseline REF (git revision or _transport.py to compare with).",
        BENCHES,
        env,
        rest,
        quick_help=f"{QUICK_ROUNDS} timings per call and {QUICK_FIT_ROUNDS} fits "
        f"per case instead of {ROUNDS} and {FIT_ROUNDS}",
    )


if __name__ == "__main__":
    main()
