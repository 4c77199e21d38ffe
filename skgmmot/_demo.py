"""The command line: ``python -m skgmmot demo [--out DIR]``.

The demo computes a GMM-OT barycenter and a GMM-OT gradient flow on built-in
2-D data (:mod:`skgmmot.datasets`), writes one PNG figure for each, and
prints one line per step with its duration. It needs no network and no
display: figures are drawn on matplotlib's Agg canvas directly, without
pyplot, so no backend is chosen or changed.
"""

import argparse
import importlib
import sys
import time
from pathlib import Path

#: Where ``demo`` writes its figures unless ``--out`` says otherwise.
DEFAULT_OUT = "skgmmot-demo"
#: File names of the figures, in the order they are written.
FIGURES = ("barycenter.png", "flow.png")
#: A first fit slower than this (seconds) gets a note even when numba's
#: statistics are unavailable (e.g. a numba that no longer exposes them).
SLOW_FIRST_FIT = 1.0

_DESCRIPTION = """\
Optimal transport between Gaussian mixture models (GMM-OT), with
scikit-learn estimators and numba kernels."""

_DEMO_DESCRIPTION = f"""\
Compute a GMM-OT barycenter and a GMM-OT flow on built-in 2-D data, write a
figure of each to DIR, and print what was done and how long each step took.

  barycenter  the problem of POT's gallery example: 3 mixtures of 5, 6 and 7
              components, their 6-component barycenter (GMMOTBarycenter)
  flow        a 3-component mixture flowing toward a 2-component one by
              gradient descent on the GMM-OT distance MW2^2 (GMMOTFlow)

Figures: DIR/{FIGURES[0]} (inputs, barycenter, objective per iteration) and
DIR/{FIGURES[1]} (the flow coloured by time, loss per step). The first run after
installation also compiles the numba kernels (about 5 s on 2 cores, cached for next
time). No network or display is needed."""


def build_parser():
    """Return the parser of ``python -m skgmmot``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with one subcommand, ``demo``.
    """
    from skgmmot import __version__

    parser = argparse.ArgumentParser(
        prog="python -m skgmmot",
        description=_DESCRIPTION,
        epilog="Run 'python -m skgmmot demo --help' for the demo's options.",
    )
    parser.add_argument("--version", action="version", version=f"skgmmot {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="command", title="commands", required=True
    )
    demo = commands.add_parser(
        "demo",
        help="fit a barycenter and a flow on built-in data, write their figures",
        description=_DEMO_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path(DEFAULT_OUT),
        help=f"directory for the figures, created if needed (default: ./{DEFAULT_OUT})",
    )
    return parser


def main(argv=None, *, startup=0.0):
    """Run ``python -m skgmmot`` with the arguments ``argv``.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after ``python -m skgmmot``; None reads ``sys.argv``.
    startup : float, default=0.0
        Seconds spent before the call, reported with the demo's import step
        (``python -m skgmmot`` passes the time since the process started).

    Returns
    -------
    status : int
        0 on success. Invalid usage exits with status 2 (argparse).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        out = args.out
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            parser.error(f"--out {out}: cannot create the directory ({error})")
        run_demo(out, startup=startup)
    return 0


class _Report:
    """Print one aligned line per step: name, what it did, how long it took."""

    def __init__(self, stream):
        self.stream = stream

    def step(self, name, text, seconds):
        self.line(f"{name:<11} {text:<56} {_duration(seconds):>8}")

    def note(self, text):
        self.line(f"{'':<11} {text}")

    def line(self, text=""):
        print(text.rstrip(), file=self.stream, flush=True)


def _duration(seconds):
    if seconds < 1.0:
        return f"{1e3 * seconds:.0f} ms"
    return f"{seconds:.1f} s"


def _dispatcher_stats():
    """Numba's statistics of every skgmmot kernel imported so far.

    Empty when numba does not tell: its JIT disabled (kernels are then plain
    functions), or a numba without ``Dispatcher.stats``.
    """
    found = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("skgmmot._kernels"):
            continue
        for obj in list(vars(module).values()):
            try:
                stats = obj.stats
                sum(stats.cache_misses.values())
            except Exception:  # not a numba dispatcher
                continue
            found.append(stats)
    return found


def _kernel_stats():
    """Return how many kernel signatures were compiled so far, and if cached.

    Returns ``(compiled, cached)``: the number of kernel signatures compiled
    in this process (not loaded from numba's disk cache), and whether the
    compiled kernels have a disk cache. None when numba does not tell.
    """
    found = _dispatcher_stats()
    if not found:
        return None
    compiled = 0
    cached = True
    for stats in found:
        misses = sum(stats.cache_misses.values())
        compiled += misses
        if misses and stats.cache_path is None:
            cached = False
    return compiled, cached


def _cache_is_empty():
    """Whether numba's disk cache holds no compiled skgmmot kernel yet.

    True on the first run after installation (or after the cache was
    deleted), when the first fit will compile the kernels; False when some
    are cached or numba does not tell.
    """
    paths = {stats.cache_path for stats in _dispatcher_stats()}
    if not paths or None in paths:
        return False
    return not any(any(Path(path).glob("*.nbc")) for path in paths)


def _timed_fit(estimator, data):
    """Fit ``estimator``; return the fit's duration and a note, or None.

    The note says when the fit compiled the numba kernels (or, without
    numba's statistics, when it was slow), with the time of a second fit,
    which shows the speed for next time.
    """
    before = _kernel_stats()
    start = time.perf_counter()
    estimator.fit(data)
    seconds = time.perf_counter() - start
    after = _kernel_stats()
    if before is not None and after is not None:
        if after[0] == before[0]:
            return seconds, None
        where = (
            "cached for next time"
            if after[1]
            else "no writable cache: they compile again next run"
        )
        note = f"first fit compiled the numba kernels ({where})"
    elif seconds > SLOW_FIRST_FIT:
        note = "first fit compiled or loaded the numba kernels"
    else:
        return seconds, None
    start = time.perf_counter()
    estimator.fit(data)
    return seconds, f"{note}; refit {_duration(time.perf_counter() - start)}"


def _barycenter_problem():
    """POT's gallery barycenter problem: three mixtures and POT's start."""
    from skgmmot.datasets import make_gmm_family, make_random_gmm

    mixtures = make_gmm_family(
        3,
        n_components=[5, 6, 7],
        n_features=2,
        style="pot",
        centers=[[-3.0, 0.0], [2.0, 0.0], [0.0, 4.0]],
        spread=0.5,
        covariance_scale=0.5,
        min_eigenvalue=0.25,
        random_state=0,
    )
    init = make_random_gmm(6, 2, style="pot", weights="uniform", random_state=0)
    return mixtures, init


def _flow_problem():
    """Return a 3-component source (left) and a 2-component target (right)."""
    from skgmmot.datasets import make_random_gmm

    source = make_random_gmm(3, 2, center=[-3.0, 0.0], spread=1.5, random_state=4)
    target = make_random_gmm(2, 2, center=[3.0, 0.0], spread=1.5, random_state=104)
    return source, target


def _new_figure(figsize):
    """Return a Figure on matplotlib's Agg canvas, without pyplot or a backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _plot_barycenter(bary, path):
    from skgmmot.plotting import plot_barycenter, plot_loss

    fig = _new_figure((11, 5))
    ax, ax_loss = fig.subplots(1, 2, width_ratios=[3, 2])
    plot_barycenter(bary, ax, nstd=1.0)
    ax.set_title(f"GMM-OT barycenter ({bary.n_components} components) of 3 mixtures")
    plot_loss(bary, ax_loss)
    ax_loss.set_title("Objective per fixed-point iteration")
    fig.suptitle("skgmmot demo: GMMOTBarycenter on POT's gallery problem")
    fig.savefig(path, dpi=100)


def _plot_flow(flow, source, path):
    from matplotlib.patches import Patch

    from skgmmot.plotting import plot_flow, plot_gmm, plot_loss

    fig = _new_figure((12, 5))
    ax, ax_loss = fig.subplots(1, 2, width_ratios=[3, 2])
    plot_gmm(source, ax, color="C0", nstd=1.0, alpha=0.35, means=False)
    plot_flow(flow, ax, nstd=1.0)
    # plot_flow's legend (target, mean paths), with the filled source first.
    legend = ax.get_legend()
    handles = [Patch(facecolor="C0", alpha=0.35, label="source (t = 0)")]
    handles += legend.legend_handles if legend is not None else []
    ax.legend(handles=handles, loc="upper left")
    ax.set_title(
        f"Source ({flow.source_[0].shape[0]} components) flowing to the target "
        f"({flow.target_[0].shape[0]}), t = step / {flow.n_iter_}"
    )
    plot_loss(flow, ax_loss)
    ax_loss.set_title("Loss per gradient step")
    fig.suptitle("skgmmot demo: GMMOTFlow, gradient flow of the GMM-OT distance")
    fig.savefig(path, dpi=100)


def seconds_since_start():
    """CPU seconds this process has used so far: the time its imports took.

    ``python -m skgmmot`` imports the package (numpy, numba) before the demo
    starts. Imports run on one thread and hardly wait, so the process's CPU
    time measures them. (The wall time since the process's start, from
    ``/proc/self/stat`` and the boot clock, read 20 s instead of 1 s right
    after an install on a virtual machine.)
    """
    return time.process_time()


def run_demo(out, stream=None, *, startup=0.0):
    """Fit a barycenter and a flow on built-in data and write their figures.

    Parameters
    ----------
    out : path-like
        Existing directory for the figures (``barycenter.png``,
        ``flow.png``); files of those names are overwritten.
    stream : file-like, default=None
        Where to print the report; None is ``sys.stdout``.
    startup : float, default=0.0
        Seconds spent before the call (starting Python, importing skgmmot),
        added to the import step and the total.

    Returns
    -------
    paths : list of pathlib.Path
        The figures written.
    """
    from skgmmot import __version__

    report = _Report(sys.stdout if stream is None else stream)
    out = Path(out)
    start_all = time.perf_counter()
    report.line(f"skgmmot {__version__} demo: GMM-OT on built-in 2-D mixtures")

    start = time.perf_counter()
    # scikit-learn (the estimators), POT (its exact OT solver, imported by the
    # first fit otherwise) and matplotlib (its Agg canvas).
    for name in (
        "skgmmot._barycenter",
        "skgmmot._flow",
        "ot",
        "skgmmot.plotting",
        "matplotlib.figure",
        "matplotlib.backends.backend_agg",
    ):
        importlib.import_module(name)
    from skgmmot import GMMOTBarycenter, GMMOTFlow

    report.step(
        "import",
        "numba, scikit-learn, POT, matplotlib, skgmmot",
        startup + time.perf_counter() - start,
    )

    if _cache_is_empty():
        report.note("first run: compiling the numba kernels, about 5 s (only once)")
    mixtures, init = _barycenter_problem()
    bary = GMMOTBarycenter(n_components=6, init=init, random_state=0)
    seconds, note = _timed_fit(bary, mixtures)
    sizes = ", ".join(str(m.shape[0]) for m, _, _ in mixtures)
    report.step(
        "barycenter",
        f"of 3 mixtures ({sizes} comp.): 6 components, {bary.n_iter_} iterations",
        seconds,
    )
    if note:
        report.note(note)

    source, target = _flow_problem()
    flow = GMMOTFlow(target, n_steps=200, tol=1e-3, random_state=0)
    seconds, note = _timed_fit(flow, source)
    report.step(
        "flow",
        f"3 -> 2 components: MW2^2 {flow.loss_curve_[0]:.3g} -> "
        f"{flow.loss_curve_[-1]:.1e} in {flow.n_iter_} steps",
        seconds,
    )
    if note:
        report.note(note)

    start = time.perf_counter()
    paths = [out / name for name in FIGURES]
    _plot_barycenter(bary, paths[0])
    _plot_flow(flow, source, paths[1])
    report.step("plotting", ", ".join(FIGURES), time.perf_counter() - start)

    total = startup + time.perf_counter() - start_all
    report.line(f"done in {_duration(total)}; figures in {out.resolve()}")
    report.line(
        "more: README.md; help(skgmmot.GMMOTBarycenter), help(skgmmot.GMMOTFlow)"
    )
    return paths
