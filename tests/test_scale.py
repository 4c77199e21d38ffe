"""Big mixtures: bounded memory for Bures costs, optimal plans for large k.

Memory is measured in a fresh subprocess with ``ru_maxrss`` (numba's
allocations are invisible to tracemalloc): the peak resident size during a
call may exceed the resident size before it by the result plus a margin, no
more. The network simplex stops at an iteration limit; skgmmot grows the limit
with the problem, solves again with larger limits, and warns with a
``ConvergenceWarning`` when a plan is still not optimal.
"""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import ot
import pytest
from ot.lp.emd_wrap import emd_c
from sklearn.exceptions import ConvergenceWarning

import skgmmot._engine.transport as transport
from skgmmot import dist_bures_squared, gmm_ot_loss, gmm_ot_plan
from skgmmot._engine.status import Notes
from skgmmot._engine.transport import emd_limits, exact_duals, exact_plan, exact_plans
from skgmmot.datasets import make_random_gmm

#: Extra peak memory allowed on top of the result, in MiB.
MEMORY_MARGIN_MB = 64

_MEMORY_SCRIPT = """
import json, resource, sys
import numpy as np
from scipy.linalg import sqrtm
from skgmmot import dist_bures_squared
from skgmmot.datasets import make_random_gmm

def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident size
        return True
    except OSError:
        return False

def maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

k, d = int(sys.argv[1]), int(sys.argv[2])
ms, Cs, _ = make_random_gmm(k, d, random_state=0)
mt, Ct, _ = make_random_gmm(k, d, random_state=1)
# Compile (or load) the kernels and start the thread pool first.
dist_bures_squared(ms[:200], mt[:200], Cs[:200], Ct[:200])
maxrss0 = maxrss_mb()
hwm_reset = reset_peak()
before = status_mb("VmRSS")
cost = dist_bures_squared(ms, mt, Cs, Ct)
hwm, maxrss1 = status_mb("VmHWM"), maxrss_mb()
rng = np.random.RandomState(0)
worst = 0.0
for i, j in zip(rng.randint(k, size=25), rng.randint(k, size=25)):
    root = sqrtm(Cs[i])
    cross = np.real(sqrtm(root @ Ct[j] @ root))
    ref = np.sum((ms[i] - mt[j]) ** 2) + np.trace(Cs[i] + Ct[j] - 2 * cross)
    worst = max(worst, abs(cost[i, j] - ref) / ref)
print(json.dumps({
    "hwm_extra_mb": hwm - before if hwm_reset else None,
    "maxrss_extra_mb": maxrss1 - before,
    "maxrss_inherited": maxrss0 > before + 16,
    "result_mb": cost.nbytes / 2**20,
    "shape": cost.shape,
    "worst_rel_error": worst,
}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("k", "d"), [(5000, 2), (2000, 10)])
def test_bures_costs_run_in_bounded_memory(k, d):
    """No (k_s, k_t, d, d) temporaries: peak memory is the result plus a margin.

    The peak is VmHWM after resetting it, or else ``ru_maxrss``; the latter
    only when the child did not inherit a larger peak from this process
    (``ru_maxrss`` keeps the parent's peak across ``exec``).
    """
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(k), str(d)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["shape"] == [k, k]
    assert report["worst_rel_error"] < 1e-8, report
    extra = report["hwm_extra_mb"]
    if extra is None:
        if report["maxrss_inherited"]:
            pytest.skip("no way to measure the peak: VmHWM cannot be reset")
        extra = report["maxrss_extra_mb"]
    # POT's (k, k, d, d) temporaries would need k * k * d * d * 8 bytes:
    # 763 MiB for (5000, 2), 3052 MiB for (2000, 10), each several times.
    assert extra < report["result_mb"] + MEMORY_MARGIN_MB, report


def _gmm_pair(seed, k, d=2):
    source = make_random_gmm(k, d, random_state=seed)
    target = make_random_gmm(k, d, random_state=seed + 1000)
    cost = dist_bures_squared(source[0], target[0], source[1], target[1])
    return source, target, cost


def _args(source, target):
    return (source[0], target[0], source[1], target[1], source[2], target[2])


def test_emd_limits_grow_with_the_problem(monkeypatch):
    assert emd_limits(10, 10) == [100000, 1000000]
    assert emd_limits(5000, 4000) == [2000000, 20000000]
    assert emd_limits(200000, 200000) == [2**31 - 1]
    monkeypatch.setattr(transport, "EMD_RETRIES", 0)
    assert emd_limits(10, 10) == [100000]
    monkeypatch.setattr(transport, "EMD_RETRIES", 3)
    assert emd_limits(10, 10)[-1] == 10**8


def _tiny_limits(monkeypatch, retries):
    monkeypatch.setattr(transport, "EMD_MAX_ITER", 1)
    monkeypatch.setattr(transport, "EMD_ITER_PER_ENTRY", 0)
    monkeypatch.setattr(transport, "EMD_RETRIES", retries)


def _stops_at_one_iteration(a, b, cost):
    b = b * (a.sum() / b.sum())
    return emd_c(a, b, np.ascontiguousarray(cost), 1, 1)[4] == 3


def test_retries_with_larger_limits_give_pots_optimal_plan(
    global_random_seed, monkeypatch
):
    source, target, cost = _gmm_pair(global_random_seed, 20)
    a, b = source[2], target[2]
    assert _stops_at_one_iteration(a, b, cost)  # the first run stops early
    expected = ot.emd(a, b, cost)
    expected_loss = ot.emd2(a, b, cost)
    _tiny_limits(monkeypatch, retries=5)  # limits 1, 10, ..., 100000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan, log = gmm_ot_plan(*_args(source, target), log=True)
        loss = gmm_ot_loss(*_args(source, target))
        plans = exact_plans(a, [b, b], np.hstack([cost, cost]), notes=Notes())
        single = exact_plan(a, b, cost, notes=Notes())
        duals = exact_duals(a, b, cost, notes=Notes())
    assert not caught, [str(w.message) for w in caught]  # POT's warning silenced
    assert log["result_code"] == 1
    np.testing.assert_array_equal(plan, expected)
    assert loss == expected_loss
    np.testing.assert_allclose(single, expected, atol=1e-15)
    np.testing.assert_allclose(plans, np.hstack([expected, expected]), atol=1e-15)
    support = expected > 0
    gap = cost - duals[:, None]
    # f_i + g_j = cost_ij on the support, with the same g_j down each column.
    g = np.where(support, gap, np.nan)
    np.testing.assert_allclose(np.nanmax(g, axis=0), np.nanmin(g, axis=0), atol=1e-9)


def test_warns_when_the_last_limit_is_reached(global_random_seed, monkeypatch):
    source, target, cost = _gmm_pair(global_random_seed, 20)
    a, b = source[2], target[2]
    assert _stops_at_one_iteration(a, b, cost)
    optimum = ot.emd2(a, b, cost)
    _tiny_limits(monkeypatch, retries=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan, log = gmm_ot_plan(*_args(source, target), log=True)
    assert [w.category for w in caught] == [ConvergenceWarning]
    assert "not optimal" in str(caught[0].message)
    assert "Raise the limit with numItermax" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the user's call
    assert log["result_code"] == 3
    # Stopped early, the simplex may not even have moved all the mass yet.
    stopped_early = not np.isclose(plan.sum(), 1.0) or np.sum(plan * cost) > optimum
    assert stopped_early and not np.allclose(plan, ot.emd(a, b, cost))
    match = "stopped at its limit of 1 iterations on a 20 x 20 OT problem"
    with pytest.warns(ConvergenceWarning, match=match):
        gmm_ot_loss(*_args(source, target))
    for solve in (
        lambda notes: exact_plan(a, b, cost, notes=notes),
        lambda notes: exact_plans(a, [b], cost, notes=notes),
        lambda notes: exact_duals(a, b, cost, notes=notes),
    ):
        notes = Notes()
        solve(notes)
        [(kind, (message, count, _))] = notes.items()
        assert kind == "emd" and count == 1 and match in message


def test_warns_without_pots_compiled_entry_point(rng, monkeypatch):
    source, target, cost = _gmm_pair(int(rng.randint(1000)), 20)
    monkeypatch.setattr(transport, "_emd_c", lambda: None)
    np.testing.assert_allclose(
        exact_plan(source[2], target[2], cost, notes=Notes()),
        ot.emd(source[2], target[2], cost),
        atol=1e-15,
    )
    _tiny_limits(monkeypatch, retries=0)
    notes = Notes()
    exact_plan(source[2], target[2], cost, notes=notes)
    assert "not optimal" in notes.items()[0][1][0]
    with pytest.warns(ConvergenceWarning, match="not optimal"):
        gmm_ot_plan(*_args(source, target))


@pytest.mark.slow
def test_large_problem_is_solved_to_optimality(monkeypatch):
    """k = 2000: the simplex needs tens of thousands of pivots."""
    source, target, cost = _gmm_pair(0, 2000)
    a, b = source[2], target[2]
    optimum = ot.emd2(a, b, cost, numItermax=10**9)
    loss = gmm_ot_loss(*_args(source, target))
    np.testing.assert_allclose(loss, optimum, rtol=1e-12)
    # A first limit too small for it: the retry (10 times larger) finishes.
    monkeypatch.setattr(transport, "EMD_MAX_ITER", 10000)
    monkeypatch.setattr(transport, "EMD_ITER_PER_ENTRY", 0)
    b_scaled = b * (a.sum() / b.sum())
    assert emd_c(a, b_scaled, cost, 10000, 1)[4] == 3
    plan = gmm_ot_plan(*_args(source, target))
    np.testing.assert_allclose(np.sum(plan * cost), optimum, rtol=1e-12)
    np.testing.assert_allclose(exact_plan(a, b, cost, notes=Notes()), plan, atol=1e-15)


BENCH_SCALING = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scaling.py"


@pytest.mark.slow
@pytest.mark.skipif(not BENCH_SCALING.exists(), reason="no benchmarks/ folder")
def test_bench_scaling_quick_runs(tmp_path):
    """Smoke test: ``bench_scaling.py --quick`` prints its tables and saves a PNG."""
    png, report = tmp_path / "scaling.png", tmp_path / "scaling.json"
    command = [sys.executable, str(BENCH_SCALING), "--quick", "--out", str(png)]
    out = subprocess.run(
        [*command, "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.count("| skgmmot median (runs) | POT median (runs) |") == 4
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads(report.read_text())
    for section in ("bures", "barycenter"):
        for axis in ("k", "d"):
            exponents = results[section][axis]["exponents"]
            assert all(np.isfinite(p) for p in exponents.values()), exponents
