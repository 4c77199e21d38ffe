"""Child processes run kernels after the parent ran them (issue 14, item 7).

With numba's OpenMP threading layer, a child forked after a parallel kernel
ran aborted at its first kernel call, so ``multiprocessing.Pool`` and joblib's
multiprocessing backend waited forever. skgmmot's kernels now run on worker
threads of its own (``skgmmot/_kernels/_threads.py``), which a forked child
replaces. These tests fork after kernel calls split between two threads,
while another thread is in the middle of such a call, and while another
thread compiles (a child forked then used to wait forever for numba's
compiler lock), and also try the spawn and forkserver start methods.

Every scenario runs in a fresh interpreter (``python <this file>
<scenario>``) with two numba threads, in its own process group, and is killed
after ``SCENARIO_TIMEOUT`` seconds: a hang fails the test instead of hanging
the run. Inside, waits for children are bounded by ``CHILD_TIMEOUT``.
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import joblib
import numba
import numpy as np
import pytest

import skgmmot
import skgmmot._kernels._threads as threads
import skgmmot._pairwise as _pairwise
from skgmmot import (
    GMMOTBarycenter,
    dist_bures_squared,
    gmm_ot_apply_map,
    pairwise_gmm_ot_distances,
)
from skgmmot.datasets import make_gmm_family

#: Bound of a whole scenario; room for compiling every kernel on a cold cache.
SCENARIO_TIMEOUT = 180
#: Bound of the wait for a child's result, once the parent has run kernels.
CHILD_TIMEOUT = 30
#: Forks of the mid-call scenario that must land inside a split call.
BUSY_FORKS = 3


def _has(method):
    return method in multiprocessing.get_all_start_methods()


# ------------------------------------------------------ run in the children


def _split_every_call():
    """Split every kernel call of two rows or more between the threads."""
    threads.SERIAL_BELOW_FLOPS = 0.0
    threads.ALWAYS_PARALLEL_FLOPS = 0.0


def _n_workers():
    """The worker threads this process started (0 right after a fork)."""
    return sum(thread.name == "skgmmot" for thread in threading.enumerate())


def _bures_problem():
    rng = np.random.RandomState(0)
    means = rng.randn(500, 2)
    A = rng.randn(500, 2, 2)
    return means, A @ A.transpose(0, 2, 1) + np.eye(2)


#: Built once: a thread inside NumPy's OpenBLAS (``A @ A.T``) when another
#: forks leaves the child's OpenBLAS locked (its ``alloc_lock``); the
#: mid-call scenario's thread must run skgmmot's calls only.
BURES_PROBLEM = _bures_problem()


def _bures():
    means, covs = BURES_PROBLEM
    return dist_bures_squared(means, means[::-1], covs, covs[::-1])


def _barycenter():
    mixtures = make_gmm_family(3, n_components=4, random_state=0)
    fitted = GMMOTBarycenter(n_components=3, random_state=0).fit(mixtures)
    return np.concatenate(
        [fitted.means_.ravel(), fitted.covariances_.ravel(), fitted.weights_]
    )


def _apply_map():
    (m_s, C_s, w_s), (m_t, C_t, w_t) = make_gmm_family(
        2, n_components=4, random_state=1
    )
    x = np.random.RandomState(2).randn(300, 2)
    return gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t)


CALLS = {"bures": _bures, "barycenter": _barycenter, "apply_map": _apply_map}


def _in_child(name):
    """Make a kernel call with every call split; the result and the workers."""
    _split_every_call()
    return CALLS[name](), _n_workers()


def _check_children(names, results, expected):
    """The children's results are the parent's; each child split its calls."""
    for name, (result, workers) in zip(names, results, strict=True):
        np.testing.assert_array_equal(result, expected[name], err_msg=name)
        assert workers == 1, f"{name}: the child split no call ({workers} workers)"


# ----------------------------------------------------------------- scenarios


def scenario_fork_pool():
    """Children forked after split calls split their own calls, same results."""
    _split_every_call()
    expected = {name: call() for name, call in CALLS.items()}
    assert _n_workers() == 1, "the parent's calls were not split"
    names = [*CALLS, *CALLS]  # each child makes several calls
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map_async(_in_child, names).get(timeout=CHILD_TIMEOUT)
    _check_children(names, results, expected)


def scenario_pairwise():
    """``pairwise_gmm_ot_distances(n_jobs=2)`` on forked joblib workers."""
    _split_every_call()
    _bures()
    assert _n_workers() == 1, "the parent's calls were not split"
    mixtures = make_gmm_family(12, n_components=3, random_state=0)
    serial = pairwise_gmm_ot_distances(mixtures)
    forks = []
    os.register_at_fork(after_in_parent=lambda: forks.append(1))
    _pairwise.PARALLEL_ABOVE_SECONDS = 0.0  # use the workers, however small
    with joblib.parallel_config(backend="multiprocessing"):
        parallel = pairwise_gmm_ot_distances(mixtures, n_jobs=2)
    np.testing.assert_array_equal(parallel, serial)
    assert len(forks) == 2, f"{len(forks)} worker processes forked, not 2"


def _child_of_fork(expected):
    """In a child made by ``os.fork``: check a split call, then exit."""
    code = 1
    try:
        result, workers = _in_child("bures")
        code = 0 if np.array_equal(result, expected) and workers == 1 else 2
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _exit_code(pid, timeout):
    """Wait for a forked child; its exit code, or kill it and fail on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the forked child hung for {timeout} s")


def scenario_fork_during_split_call():
    """Fork while another thread is inside a call split between threads."""
    _split_every_call()
    expected = _bures()
    busy = []  # whether each fork happened while the workers were in use
    os.register_at_fork(before=lambda: busy.append(threads._Pool.lock.locked()))
    stop = threading.Event()

    def keep_calling():
        while not stop.is_set():
            _bures()

    caller = threading.Thread(target=keep_calling)
    caller.start()
    try:
        for _ in range(50):
            pid = os.fork()
            if pid == 0:
                _child_of_fork(expected)
            code = _exit_code(pid, CHILD_TIMEOUT)
            assert code == 0, f"the forked child failed (exit code {code})"
            if sum(busy) >= BUSY_FORKS:
                break
    finally:
        stop.set()
        caller.join()
    assert sum(busy) >= BUSY_FORKS, f"{sum(busy)} of {len(busy)} forks mid-call"


@numba.njit  # not cached: compiled (a few tenths of a second) in every run
def _compiled_by_the_scenario(x):
    return x.sum()


def _compiling_elsewhere():
    """Whether another thread holds numba's compiler lock."""
    from numba.core.compiler_lock import global_compiler_lock

    lock = global_compiler_lock._lock
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True


def scenario_fork_while_compiling():
    """Fork while another thread compiles; the child compiles a kernel too."""
    _split_every_call()
    expected = {name: CALLS[name]() for name in ("bures", "barycenter")}
    at_fork = []  # hooks registered last run first: before skgmmot's wait
    os.register_at_fork(before=lambda: at_fork.append(_compiling_elsewhere()))
    compiler = threading.Thread(target=_compiled_by_the_scenario, args=(np.ones(3),))
    compiler.start()
    deadline = time.monotonic() + CHILD_TIMEOUT
    while not _compiling_elsewhere() and time.monotonic() < deadline:
        time.sleep(0.001)
    # The child's gmm_ot_apply_map runs kernels the parent has not compiled.
    names = ["bures", "apply_map", "barycenter"]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        results = pool.map_async(_in_child, names).get(timeout=CHILD_TIMEOUT)
    compiler.join()
    assert at_fork == [True], f"no fork while compiling: {at_fork}"
    expected["apply_map"] = _apply_map()
    _check_children(names, results, expected)


def scenario_start_method(method):
    """A child started with ``method`` after split calls splits its own."""
    _split_every_call()
    expected = _bures()
    assert _n_workers() == 1, "the parent's calls were not split"
    with multiprocessing.get_context(method).Pool(1) as pool:
        result = pool.apply_async(_in_child, ("bures",)).get(timeout=CHILD_TIMEOUT)
    _check_children(["bures"], [result], {"bures": expected})


SCENARIOS = {
    "fork_pool": scenario_fork_pool,
    "pairwise": scenario_pairwise,
    "fork_during_split_call": scenario_fork_during_split_call,
    "fork_while_compiling": scenario_fork_while_compiling,
    "start_method": scenario_start_method,
}


# --------------------------------------------------------------------- tests


def _run(*argv, env=None):
    """Run a scenario in a fresh interpreter; fail on error or timeout."""
    root = os.path.dirname(os.path.dirname(skgmmot.__file__))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "NUMBA_NUM_THREADS": "2", "PYTHONPATH": path, **(env or {})}
    command = [sys.executable, os.path.abspath(__file__), *argv]
    own_group = hasattr(os, "killpg")
    with subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=own_group,
    ) as process:
        try:
            output, _ = process.communicate(timeout=SCENARIO_TIMEOUT)
        except subprocess.TimeoutExpired:
            if own_group:  # the scenario's children too
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            output, _ = process.communicate()
            pytest.fail(f"{argv} hung for {SCENARIO_TIMEOUT} s:\n{output}")
    assert process.returncode == 0, f"{argv} failed:\n{output}"


needs_fork = pytest.mark.skipif(not _has("fork"), reason="no fork start method")


@needs_fork
def test_forked_pool_children_run_kernels_after_the_parent():
    _run("fork_pool")


@needs_fork
def test_pairwise_n_jobs_on_the_multiprocessing_backend():
    # JOBLIB_START_METHOD: joblib's multiprocessing backend forks on every
    # Python version. The loky and threading backends, whose workers are not
    # forked: tests/test_parallel.py and tests/test_pairwise.py.
    _run("pairwise", env={"JOBLIB_START_METHOD": "fork"})


@needs_fork
def test_fork_during_a_split_call_of_another_thread():
    _run("fork_during_split_call")


@needs_fork
@pytest.mark.skipif(
    numba.config.DISABLE_JIT, reason="nothing compiles with NUMBA_DISABLE_JIT=1"
)
def test_fork_while_another_thread_compiles():
    _run("fork_while_compiling")


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_other_start_methods(method):
    if not _has(method):
        pytest.skip(f"no {method} start method")
    _run("start_method", method)


if __name__ == "__main__":
    SCENARIOS[sys.argv[1]](*sys.argv[2:])
