"""Benchmark GMMOTFlow against POT's gallery example "GMM Flow" (torch + Adam).

Run ``python benchmarks/bench_flow.py [--quick] [--only NAME] [--json PATH]``.
Prints markdown tables (medians, ratios, targets) to stdout and progress
messages to stderr. See ``benchmarks/README.md`` for what each section measures.
The example's arrays are read from ``SKGMMOT_POT_FLOW_DATA`` (default:
``/work/shared/data/pot_gmm_flow_example.npz``).
"""

import contextlib
import importlib.metadata
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import ot
import ot.gmm
from _harness import (
    environment,
    fmt_ratio,
    fmt_runs,
    fmt_time,
    fresh_runs,
    markdown_table,
    measure,
    print_section,
    progress,
    run_script,
    verdict,
)
from sklearn.exceptions import ConvergenceWarning

from skgmmot import GMMOTBarycenter, GMMOTFlow
from skgmmot.datasets import make_random_gmm

DATA = Path(
    os.environ.get(
        "SKGMMOT_POT_FLOW_DATA", "/work/shared/data/pot_gmm_flow_example.npz"
    )
)

#: Section 1: POT's example loop (examples/gaussian_gmm/plot_GMM_flow.py).
POT_STEPS = 100
POT_LR = 3e-2  # covariances and logits; the means get 2 * POT_LR
POT_EIG_MIN = 1e-6  # proj_SDP(C, vmin=...) after every step
POT_TARGET = 20.0

#: Section 2.
FRESH_RUNS = 5
COLD_RUNS = 1


# --------------------------------------------------------------------------- data


def load_problem(path=DATA):
    """Source and target mixtures of POT's example, as float64 tuples."""
    if not path.is_file():
        raise SystemExit(
            f"{path} not found: set SKGMMOT_POT_FLOW_DATA to the .npz of POT's "
            "'GMM Flow' example arrays (see /work/shared/data/README.md)."
        )
    with np.load(path) as data:
        source = tuple(data[f"{f}_source"] for f in ("means", "covariances", "weights"))
        target = tuple(data[f"{f}_target"] for f in ("means", "covariances", "weights"))
    return source, target


def mw2(mixture, target):
    """MW2^2 by POT's NumPy ``gmm_ot_loss``: the one score for both libraries."""
    (m_s, C_s, w_s), (m_t, C_t, w_t) = mixture, target
    return float(ot.gmm.gmm_ot_loss(m_s, m_t, C_s, C_t, w_s / w_s.sum(), w_t))


def fit_skgmmot(source, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GMMOTFlow(target=target, n_steps=POT_STEPS).fit(source)


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def pot_torch_flow(torch, source, target):
    """POT's example loop from ``source``: Adam on means, covariances, logits.

    Float64 tensors throughout (the example's means and covariances are
    float32; the trajectory is the same to about 1e-5). The logits start at
    log(weights): the softmax is shift invariant, so Adam follows the
    example's path. Returns the final mixture as NumPy arrays.
    """
    from ot.utils import proj_SDP

    m_s = torch.tensor(source[0], requires_grad=True)
    C_s = torch.tensor(source[1], requires_grad=True)
    logits = torch.tensor(np.log(source[2]), requires_grad=True)
    m_t, C_t, w_t = (torch.tensor(a) for a in target)
    optimizer = torch.optim.Adam(
        [
            {"params": m_s, "lr": 2 * POT_LR},
            {"params": C_s, "lr": POT_LR},
            {"params": logits, "lr": POT_LR},
        ]
    )
    for _ in range(POT_STEPS):
        optimizer.zero_grad()
        loss = ot.gmm.gmm_ot_loss(m_s, m_t, C_s, C_t, torch.softmax(logits, 0), w_t)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            C_s.data = proj_SDP(C_s.data, vmin=POT_EIG_MIN)
    with torch.no_grad():
        return (
            m_s.numpy().copy(),
            C_s.numpy().copy(),
            torch.softmax(logits, 0).numpy().copy(),
        )


# ------------------------------------------- section 1: POT's example, torch


def steps_to_reach(curve, level):
    """First recorded step whose loss is <= level (None if never)."""
    hits = np.flatnonzero(np.asarray(curve) <= level)
    return int(hits[0]) if hits.size else None


def bench_pot_torch(quick):
    source, target = load_problem()
    initial = mw2(source, target)
    progress("pot-torch: skgmmot GMMOTFlow.fit (warm-up, then timed runs)")
    sk_timing, flow = measure(
        lambda: fit_skgmmot(source, target),
        runs_fast=9,
        runs_slow=5,
        warmup=True,
        label="skgmmot: GMM flow example",
    )
    sk_loss = mw2((flow.means_, flow.covariances_, flow.weights_), target)
    headers = [
        "method",
        "median (runs)",
        "first call",
        "steps",
        "final MW2^2",
        "POT+torch / skgmmot",
        "target",
        "result",
    ]
    sk_row = [
        "skgmmot GMMOTFlow.fit",
        fmt_runs(sk_timing),
        fmt_time(sk_timing.first),
        f"{flow.n_iter_} ({'converged' if flow.converged_ else 'n_steps'})",
        f"{sk_loss:.6g}",
        "",
        "",
        "",
    ]
    result = {
        "initial_loss": initial,
        "skgmmot": sk_timing.as_dict(),
        "skgmmot_loss": sk_loss,
        "skgmmot_n_iter": flow.n_iter_,
    }
    notes = [
        "POT's gallery example 'GMM Flow' (examples/gaussian_gmm/plot_GMM_flow.py): "
        f"3 source and 2 target components in 2-D, initial MW2^2 = {initial:.4f}.",
    ]
    torch = torch_or_none()
    if torch is None:
        rows = [
            ["POT + torch", "torch not installed", "-", "-", "-", "-", "-", "SKIP"],
            sk_row,
        ]
        notes.append("torch is not installed (`pip install torch`): POT not timed.")
        print_section(
            "GMMOTFlow vs POT's GMM flow example", markdown_table(headers, rows), notes
        )
        result["pot"] = "torch not installed"
        return result

    progress("pot-torch: POT + torch Adam loop (warm-up, then timed runs)")
    runs = 3 if quick else 5
    pot_timing, pot_final = measure(
        lambda: pot_torch_flow(torch, source, target),
        runs_fast=runs,
        runs_slow=runs,
        warmup=True,
        min_total=0.0,
        label="POT: GMM flow example",
    )
    pot_loss = mw2(pot_final, target)
    ratio = pot_timing.median / sk_timing.median
    ok = ratio >= POT_TARGET and sk_loss <= pot_loss
    rows = [
        [
            f"POT {ot.__version__} + torch {torch.__version__} (Adam)",
            fmt_runs(pot_timing),
            fmt_time(pot_timing.first),
            str(POT_STEPS),
            f"{pot_loss:.6g}",
            "",
            "",
            "",
        ],
        sk_row,
    ]
    rows[1][5:] = [
        fmt_ratio(ratio),
        f">= {POT_TARGET:.0f}x, loss <= POT's",
        verdict(ok),
    ]
    reach = steps_to_reach(flow.loss_curve_, pot_loss)
    notes += [
        f"POT + torch: the example's loop, {POT_STEPS} Adam steps (lr {2 * POT_LR:g} "
        f"on the means, {POT_LR:g} on the covariances and the softmax logits), "
        f"proj_SDP(vmin={POT_EIG_MIN:g}) after each step, loss ot.gmm.gmm_ot_loss "
        f"with the torch backend (float64 tensors; {torch.get_num_threads()} torch "
        "threads).",
        f"skgmmot: GMMOTFlow(target, n_steps={POT_STEPS}).fit(source), every other "
        "parameter at its default (Riemannian steps of size 0.1; it stops early "
        "once MW2^2 <= tol = 1e-8 times the initial loss, or at a certified "
        "stationary point).",
        "Both final mixtures are scored by POT's NumPy gmm_ot_loss. skgmmot's "
        f"loss first falls below POT's final one at step {reach}."
        if reach is not None
        else "skgmmot's loss never falls below POT's final one.",
        "Both first calls (torch start-up; numba compilation or cache load) are "
        "warm-ups, not in the medians.",
    ]
    print_section(
        "GMMOTFlow vs POT's GMM flow example (torch + Adam)",
        markdown_table(headers, rows),
        notes,
    )
    result.update(
        {
            "pot": pot_timing.as_dict(),
            "pot_loss": pot_loss,
            "ratio": ratio,
            "skgmmot_steps_to_pot_loss": reach,
            "pass": ok,
        }
    )
    return result


# ------------------------------------------- section 2: first fit, fresh process

_FIRST_FIT_CHILD = f"""
import time
t = time.perf_counter()
import numpy as np
from skgmmot import GMMOTBarycenter, GMMOTFlow
from skgmmot.datasets import make_random_gmm
with np.load({str(DATA)!r}) as data:
    source = tuple(data[f + "_source"] for f in ("means", "covariances", "weights"))
    target = tuple(data[f + "_target"] for f in ("means", "covariances", "weights"))
GMMOTFlow(target=target, n_steps={POT_STEPS}).fit(source)
print(time.perf_counter() - t)
"""


@contextlib.contextmanager
def child_environment(**variables):
    """Set environment variables for the child processes started inside."""
    old = {name: os.environ.get(name) for name in variables}
    os.environ.update({name: str(value) for name, value in variables.items()})
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def bench_first_fit(quick):
    load_problem()  # fail early, with a clear message, if the data is missing
    runs = 3 if quick else FRESH_RUNS
    progress("first-fit: cache-warming child process")
    fresh_runs(_FIRST_FIT_CHILD, 1)
    progress(f"first-fit: {runs} fresh processes with a warm cache")
    warm, warm_wall = fresh_runs(_FIRST_FIT_CHILD, runs)
    progress(f"first-fit: {runs} fresh processes, POT's torch backend disabled")
    with child_environment(POT_BACKEND_DISABLE_PYTORCH=1):
        no_torch, no_torch_wall = fresh_runs(_FIRST_FIT_CHILD, runs)
    progress(f"first-fit: {COLD_RUNS} fresh process(es) with an empty numba cache")
    with tempfile.TemporaryDirectory() as tmp, child_environment(NUMBA_CACHE_DIR=tmp):
        cold, cold_wall = fresh_runs(_FIRST_FIT_CHILD, COLD_RUNS)

    def row(name, inner, wall):
        spread = f"{fmt_time(min(inner.times))} - {fmt_time(max(inner.times))}"
        return [
            name,
            inner.runs,
            fmt_time(inner.median),
            spread,
            fmt_time(wall.median),
        ]

    rows = [
        row("import + load + fit, warm numba cache", warm, warm_wall),
        row("the same, POT_BACKEND_DISABLE_PYTORCH=1", no_torch, no_torch_wall),
        row("import + load + fit, empty numba cache (compiles)", cold, cold_wall),
    ]
    headers = ["fresh process", "runs", "median", "min - max", "process wall (median)"]
    notes = [
        "Measured inside the child from before the first import to after fit "
        f"(GMMOTFlow(target, n_steps={POT_STEPS}).fit(source) on the example's "
        "arrays); 'process wall' adds interpreter start-up, for information.",
        "Warm: a cache-warming child ran first. Empty: NUMBA_CACHE_DIR points to a "
        "new temporary directory, so every kernel used is compiled.",
        "The import pulls in scikit-learn; the exact solver imports POT, and "
        "POT imports torch when it is installed (its torch backend), unless "
        "POT_BACKEND_DISABLE_PYTORCH is set: the second row.",
    ]
    print_section(
        "GMMOTFlow first fit in a fresh process", markdown_table(headers, rows), notes
    )
    return {
        "warm": warm.as_dict(),
        "warm_pot_torch_backend_disabled": no_torch.as_dict(),
        "cold": cold.as_dict(),
    }


# ------------------------------------------ section 3: learning-rate table

RATES = (0.05, 0.1, 0.2, 0.5, 1.0)


def issue_problem():
    """Issue 12's problem: 3 -> 3 components, the target moved and widened."""
    means = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    source = (means, np.array([np.eye(2)] * 3), np.array([0.36, 0.30, 0.34]))
    target = (means + 1, np.array([1.5 * np.eye(2)] * 3), np.full(3, 1 / 3))
    return source, target


def fitted_problem(seed=0):
    """A "diag" GaussianMixture fitted to 3 clusters, a "full" one to moved ones.

    The same construction as ``_fitted_problem`` in ``tests/test_flow.py``.
    """
    from sklearn.mixture import GaussianMixture

    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0], [7.0, 0.0], [0.0, 7.0]]) + rng.randn(3, 2)

    def samples(shift):
        return np.vstack(
            [
                rng.randn(300, 2) @ (0.6 * rng.randn(2, 2) + 0.5 * np.eye(2))
                + c
                + shift
                for c in centers
            ]
        )

    gs = GaussianMixture(3, covariance_type="diag", random_state=seed)
    gt = GaussianMixture(3, covariance_type="full", random_state=seed)
    return gs.fit(samples(0.0)), gt.fit(samples(rng.randn(2)))


def bench_rates(quick):
    """Final loss, steps and convergence of GMMOTFlow for each learning rate."""
    problems = [("issue 12, 3 -> 3", issue_problem())]
    problems += [("fitted diag -> full, seed 0", fitted_problem(0))]
    headers = [
        "problem",
        "learning_rate",
        "n_steps",
        "initial MW2^2",
        "final MW2^2",
        "n_iter_",
        "converged_",
        "warning",
        "median time",
    ]
    rows, result = [], []
    for name, (source, target) in problems:
        for rate in RATES:
            budgets = sorted({100, max(100, int(np.ceil(15 / rate)))})
            for n_steps in budgets:
                progress(f"rates: {name}, learning_rate={rate}, n_steps={n_steps}")

                def fit(rate=rate, n_steps=n_steps, source=source, target=target):
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", ConvergenceWarning)
                        flow = GMMOTFlow(
                            target, learning_rate=rate, n_steps=n_steps
                        ).fit(source)
                    return flow, bool(caught)

                timing, (flow, warned) = measure(
                    fit, runs_fast=3 if quick else 5, runs_slow=3, warmup=True
                )
                curve = flow.loss_curve_
                rows.append(
                    [
                        name,
                        f"{rate:g}",
                        str(n_steps),
                        f"{curve[0]:.4g}",
                        f"{curve[-1]:.3g}",
                        str(flow.n_iter_),
                        str(flow.converged_),
                        "ConvergenceWarning" if warned else "-",
                        fmt_time(timing.median),
                    ]
                )
                result.append(
                    {
                        "problem": name,
                        "learning_rate": rate,
                        "n_steps": n_steps,
                        "final_loss": float(curve[-1]),
                        "n_iter": int(flow.n_iter_),
                        "converged": bool(flow.converged_),
                        "warning": warned,
                        "time": timing.as_dict(),
                    }
                )
    notes = [
        "GMMOTFlow(target, learning_rate=r, n_steps=N).fit(source), other "
        "parameters at their defaults (tol=1e-8, relative to the initial loss). "
        "N = 100 (the default), and the documented budget 15 / learning_rate "
        "where that is larger.",
        "converged_ is True only at loss <= tol * initial loss or at a "
        "certified stationary point; otherwise fit warns.",
    ]
    print_section(
        "GMMOTFlow by learning rate (issue 12)", markdown_table(headers, rows), notes
    )
    return result


#: (source components, target components) of the fewer-components section.
FEWER = ((1, 3), (2, 3), (2, 4), (3, 5), (3, 6))
#: Flow restarts (random sources) and barycenter initialisations there.
FEWER_RESTARTS = 10
FEWER_N_INIT = 20
#: A flow "finds" the best approximation within this factor of its loss.
FEWER_WITHIN = 1.01


def bench_fewer_components(quick):
    """Where the flow ends with fewer source than target components.

    No k-component mixture reaches an m-component target (k < m); the flow
    ends at a stationary point of the loss over k-component mixtures. It is
    compared with the best k-component approximation found: the least loss
    over ``FEWER_RESTARTS`` flows from random sources and over the GMM-OT
    barycenter of the target alone (the k-component mixture closest to it, by
    its fixed point from ``FEWER_N_INIT`` initialisations).
    """
    seeds = range(3 if quick else 10)
    rows, result = [], []
    for k, m in FEWER:
        progress(f"fewer: {k} -> {m} components, {len(seeds)} targets")
        records = []
        for seed in seeds:
            target = make_random_gmm(m, 2, random_state=1000 + seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                flow = GMMOTFlow(target, n_steps=400).fit(
                    make_random_gmm(k, 2, random_state=seed)
                )
                restarts = [
                    GMMOTFlow(target, n_steps=400)
                    .fit(make_random_gmm(k, 2, random_state=5000 + 100 * seed + r))
                    .loss_curve_[-1]
                    for r in range(FEWER_RESTARTS)
                ]
            barycenter = GMMOTBarycenter(
                n_components=k,
                projection="bures",
                n_init=FEWER_N_INIT,
                random_state=0,
            ).fit([target])
            best = min(min(restarts), barycenter.cost_)
            records.append(
                {
                    "seed": seed,
                    "flow": float(flow.loss_curve_[-1]),
                    "converged": bool(flow.converged_),
                    "best_restart": float(min(restarts)),
                    "barycenter": float(barycenter.cost_),
                    "best": float(best),
                }
            )
        ratio = np.array([r["flow"] / r["best"] for r in records])
        restart = np.array([r["best_restart"] / r["best"] for r in records])
        bary = np.array([r["barycenter"] / r["best"] for r in records])
        rows.append(
            [
                f"{k} -> {m}",
                str(len(records)),
                str(sum(r["converged"] for r in records)),
                f"{np.median(ratio):.3f}",
                f"{ratio.max():.2f}",
                f"{np.sum(ratio <= FEWER_WITHIN)}/{len(records)}",
                f"{np.median(restart):.4f}",
                f"{np.median(bary):.4f}",
            ]
        )
        result.append({"k": k, "m": m, "records": records})
    headers = [
        "source -> target components",
        "targets",
        "converged_",
        "flow / best (median)",
        "flow / best (worst)",
        f"flow within {FEWER_WITHIN - 1:.0%} of best",
        f"best of {FEWER_RESTARTS} flows / best",
        "barycenter / best",
    ]
    notes = [
        "make_random_gmm(k, 2) sources and make_random_gmm(m, 2) targets; "
        "GMMOTFlow(target, n_steps=400) with the other parameters at their "
        "defaults (all three parts flow).",
        f"best: the least MW2^2 found, over {FEWER_RESTARTS} flows from other "
        "random sources and GMMOTBarycenter(n_components=k, projection='bures', "
        f"n_init={FEWER_N_INIT}).fit([target]) (the barycenter of one mixture "
        "is its best k-component approximation, up to local minima).",
    ]
    print_section(
        "GMMOTFlow with fewer source than target components (issue 18)",
        markdown_table(headers, rows),
        notes,
    )
    return result


# --------------------------------------------------------------------------- main


BENCHES = {
    "pot-torch": bench_pot_torch,
    "first-fit": bench_first_fit,
    "rates": bench_rates,
    "fewer": bench_fewer_components,
}


def main(argv=None):
    env = environment()
    try:  # the version only: torch itself is imported after skgmmot is timed
        env["torch"] = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        env["torch"] = "not installed"
    run_script(
        "GMMOTFlow benchmark",
        __doc__.splitlines()[0],
        BENCHES,
        env,
        argv,
        quick_help="time POT + torch 3 times instead of 5 and use 3 fresh processes",
    )


if __name__ == "__main__":
    main()
