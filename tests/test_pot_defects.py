"""POT 0.9.7 defects in ``ot.gmm`` / ``ot.gaussian`` that skgmmot must not repeat.

One test per defect. Each asserts that skgmmot is right, against an independent
reference where there is one. Where POT is run too, it is guarded: the test
never asserts that POT fails, so it keeps passing once POT is fixed.
"""

import functools
import warnings

import numpy as np
import ot
import pytest
import scipy.linalg
from numpy.testing import assert_allclose, assert_array_equal, assert_array_less
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

from skgmmot import (
    bures_wasserstein_barycenter,
    bures_wasserstein_mapping,
    dist_bures_squared,
    gmm_barycenter_fixed_point,
    gmm_ot_apply_map,
    gmm_ot_loss,
    gmm_ot_plan,
    gmm_ot_plan_density,
    gmm_pdf,
)
from tests.conftest import make_gmm

EPS = np.finfo(np.float64).eps
RTOL = 1e-9


def _rel_err(actual, desired):
    return np.max(np.abs(actual - desired)) / np.max(np.abs(desired))


# --------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------


def _psd_sqrt(S):
    """Symmetric square root of a PSD matrix (scipy eigh).

    Eigenvalues below ``d * eps * max`` are round-off of zero eigenvalues and
    are set to zero. (``scipy.linalg.sqrtm`` itself is not usable as a
    reference on singular matrices: its Schur-based root is non-symmetric at
    the 1e-8 level, which ``S^1/2 C S^1/2`` then amplifies to 1e-4 errors.)
    """
    vals, vecs = scipy.linalg.eigh(0.5 * (S + S.T))
    vals = np.where(vals > S.shape[0] * EPS * np.max(np.abs(vals)), vals, 0.0)
    return (vecs * np.sqrt(vals)) @ vecs.T


def _bures_reference(m1, m2, C1, C2):
    """W2^2 between N(m1, C1) and N(m2, C2), slowly, one pair at a time."""
    root1 = _psd_sqrt(C1)
    cross = _psd_sqrt(root1 @ C2 @ root1)
    return np.sum((m1 - m2) ** 2) + np.trace(C1) + np.trace(C2) - 2 * np.trace(cross)


def _bures_from_factors(m_s, m_t, F_s, F_t):
    """Exact W2^2 matrix for C = F F^T: tr (C_s^1/2 C_t C_s^1/2)^1/2 is the sum of
    the singular values of F_t^T F_s (no square root of a singular matrix)."""
    cross = np.einsum("jab,iac->ijbc", F_t, F_s)
    root = np.linalg.svd(cross, compute_uv=False).sum(axis=-1)
    sq_means = np.sum((m_s[:, None] - m_t[None]) ** 2, axis=-1)
    tr_s = np.sum(F_s**2, axis=(1, 2))
    tr_t = np.sum(F_t**2, axis=(1, 2))
    return sq_means + tr_s[:, None] + tr_t[None] - 2 * root


def _cost_scale(m_s, m_t, C_s, C_t):
    """|m_s - m_t|^2 + tr C_s + tr C_t: the terms whose cancellation gives W2^2."""
    sq_means = np.sum((m_s[:, None] - m_t[None]) ** 2, axis=-1)
    tr_s = np.trace(C_s, axis1=1, axis2=2)
    tr_t = np.trace(C_t, axis1=1, axis2=2)
    return sq_means + tr_s[:, None] + tr_t[None]


def _gaussian_map(m1, m2, C1, C2, x):
    """The OT map from N(m1, C1) to N(m2, C2) at x (POT's matrix)."""
    A, _ = ot.gaussian.bures_wasserstein_mapping(m1, m2, C1, C2)
    return m2 + A @ (x - m1)


def _pot_or_none(func, *args, **kwargs):
    """POT's result, or None where POT raises or returns non-finite values."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            out = func(*args, **kwargs)
        except (np.linalg.LinAlgError, ValueError):
            return None
    return out if np.all(np.isfinite(out)) else None


def _fixed_point_residual(S, C, w):
    """||S - sum_k w_k (S^1/2 C_k S^1/2)^1/2||_F / ||S||_F."""
    root = _psd_sqrt(S)
    image = sum(wk * _psd_sqrt(root @ Ck @ root) for wk, Ck in zip(w, C, strict=True))
    return np.linalg.norm(S - image) / np.linalg.norm(S)


def _plain_iteration(C, w, eps, max_iter):
    """POT's plain fixed point S <- sum_k w_k (S^1/2 C_k S^1/2)^1/2, stopped on
    skgmmot's relative criterion. Returns (S, iterations done)."""
    S = np.einsum("k,kab->ab", w, C)
    for it in range(1, max_iter + 1):
        root = _psd_sqrt(S)
        new = sum(wk * _psd_sqrt(root @ Ck @ root) for wk, Ck in zip(w, C, strict=True))
        diff = np.linalg.norm(new - S) / np.linalg.norm(new)
        S = new
        if diff <= eps:
            return S, it
    return S, max_iter


def _gaussian_barycenter(means, covs, weights):
    """A converged Bures barycenter (POT's plain iteration, tight tolerance)."""
    return ot.gaussian.bures_wasserstein_barycenter(
        means, covs, weights, eps=1e-13, num_iter=20000
    )


def _barycenter_step(mixtures, lambdas, means, covs, w_bar, method, row_scale):
    """One GMM-OT barycenter update, written from the paper.

    Row i of plan k is turned into selection weights ``pi_k[i, :] * row_scale[i]``:
    ``1 / w_bar`` is the true update, ``n`` (for every row) is POT 0.9.7's.
    ``"bures"`` is the Gaussian barycenter of all the input components with
    coefficients ``lambda_k`` times these weights; ``"euclidean"`` and
    ``"bures_two_stage"`` (POT's ``"bures"``) the Gaussian barycenter
    (coefficients ``lambdas``) of one Gaussian selected from each input.
    """
    n, d = means.shape
    K = len(mixtures)
    plans = [
        ot.emd(w_bar, w_k, ot.gmm.dist_bures_squared(means, m_k, covs, C_k))
        for m_k, C_k, w_k in mixtures
    ]
    if method == "bures":
        coef = np.hstack([lam * plan for lam, plan in zip(lambdas, plans, strict=True)])
        pooled_means = np.concatenate([m_k for m_k, _, _ in mixtures])
        pooled_covs = np.concatenate([C_k for _, C_k, _ in mixtures])
        steps = [
            _gaussian_barycenter(pooled_means, pooled_covs, coef[i] * row_scale[i])
            for i in range(n)
        ]
        return np.array([m for m, _ in steps]), np.array([C for _, C in steps])
    sel_means = np.empty((n, K, d))
    sel_covs = np.empty((n, K, d, d))
    for k, (m_k, C_k, _) in enumerate(mixtures):
        rows = plans[k] * row_scale[:, None]
        for i in range(n):
            if method == "euclidean":
                sel_means[i, k] = rows[i] @ m_k
                sel_covs[i, k] = np.einsum("j,jab->ab", rows[i], C_k)
            else:
                sel_means[i, k], sel_covs[i, k] = _gaussian_barycenter(
                    m_k, C_k, rows[i]
                )
    new_means = np.empty_like(means)
    new_covs = np.empty_like(covs)
    for i in range(n):
        new_means[i], new_covs[i] = _gaussian_barycenter(
            sel_means[i], sel_covs[i], lambdas
        )
    return new_means, new_covs


# --------------------------------------------------------------------------
# Rank-deficient covariances: POT takes square roots of negative round-off
# eigenvalues and returns NaN or raises LinAlgError.
# --------------------------------------------------------------------------

#: tr (C_s^1/2 C_t C_s^1/2)^1/2 has an infinite derivative at singular
#: arguments, so an eigendecomposition of the full d x d product (the slow
#: reference below, or POT) turns round-off eigenvalues ~eps * |C| into errors
#: ~sqrt(eps) * scale ~ 1.5e-8 * scale. skgmmot factors the covariance of lower
#: rank with exact zero columns, so it matches the exact value from the factors
#: to ~1e-12 of the scale. Tolerances are relative to
#: scale = |m_s - m_t|^2 + tr C_s + tr C_t, the terms that cancel.
SKGMMOT_RANK_DEFICIENT_RTOL = 1e-11
REFERENCE_RANK_DEFICIENT_RTOL = 1e-7


@pytest.mark.slow
@pytest.mark.parametrize("target", ["rank-2", "full-rank"])
def test_dist_bures_squared_rank_deficient(rng, target):
    d, k = 5, 200
    F_s = rng.randn(k, d, 2)
    C_s = F_s @ F_s.transpose(0, 2, 1)
    if target == "rank-2":
        F_t = rng.randn(k, d, 2)
    else:
        F_t = rng.randn(k, d, d) / np.sqrt(d) + 0.3 * np.eye(d)
    C_t = F_t @ F_t.transpose(0, 2, 1)
    assert np.all(np.linalg.matrix_rank(C_s) == 2)
    m_s, m_t = rng.randn(k, d), rng.randn(k, d)

    dist = dist_bures_squared(m_s, m_t, C_s, C_t)
    assert dist.shape == (k, k)
    assert np.all(np.isfinite(dist))
    assert np.all(dist >= 0)

    scale = _cost_scale(m_s, m_t, C_s, C_t)
    exact = _bures_from_factors(m_s, m_t, F_s, F_t)
    assert_array_less(np.abs(dist - exact), SKGMMOT_RANK_DEFICIENT_RTOL * scale)

    # The slow eigh-based reference, on the PSD matrices themselves (k pairs).
    pairs = [(i, (7 * i + 3) % k) for i in range(k)]
    slow = np.array(
        [_bures_reference(m_s[i], m_t[j], C_s[i], C_t[j]) for i, j in pairs]
    )
    rows, cols = np.array(pairs).T
    tol = REFERENCE_RANK_DEFICIENT_RTOL * scale[rows, cols]
    assert_array_less(np.abs(slow - exact[rows, cols]), tol)
    assert_array_less(np.abs(dist[rows, cols] - slow), tol)

    # Same costs through the loss: finite, and the plan is a coupling.
    w = np.full(k, 1.0 / k)
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w, w)
    assert_allclose(plan.sum(axis=1), w, atol=1e-12)
    assert np.isfinite(gmm_ot_loss(m_s, m_t, C_s, C_t, w, w))

    # POT 0.9.7 raises LinAlgError here; a POT that answers must agree.
    pot = _pot_or_none(ot.gmm.dist_bures_squared, m_s, m_t, C_s, C_t)
    if pot is not None:
        assert_array_less(np.abs(dist - pot), 2 * REFERENCE_RANK_DEFICIENT_RTOL * scale)


def _rank_one_map(C_s, f):
    """The exact OT map matrix from N(., C_s) to N(., f f^T).

    With g = C_s^1/2 f, (C_s^1/2 f f^T C_s^1/2)^1/2 = g g^T / |g|, so
    A = C_s^-1/2 g g^T C_s^-1/2 / |g| = f f^T / sqrt(f^T C_s f).
    """
    return np.outer(f, f) / np.sqrt(f @ C_s @ f)


@pytest.mark.parametrize("d", [3, 5])
def test_maps_and_plan_density_rank_deficient_target(rng, d):
    # POT's bures_wasserstein_mapping takes the square root of the negative
    # round-off eigenvalues of C_s^1/2 C_t C_s^1/2 for a singular C_t: its map
    # is NaN, and gmm_ot_plan_density, which tests ||T(x) - y|| < atol, then
    # silently gives 0 on the whole graph of that map (NaN < atol is False)
    # instead of pi_ij g_i(x).
    k_s, k_t = 2, 3
    m_s = 10.0 * rng.randn(k_s, d)
    B = rng.randn(k_s, d, d)
    C_s = B @ B.transpose(0, 2, 1) / d + 0.3 * np.eye(d)
    m_t = 10.0 * rng.randn(k_t, d)
    F = rng.randn(k_t, d, 1)
    C_t = F @ F.transpose(0, 2, 1)  # rank 1
    w_s, w_t = np.array([0.6, 0.4]), np.array([0.2, 0.3, 0.5])

    # The map of every pair: finite, symmetric, pushes C_s onto C_t.
    for i in range(k_s):
        for j in range(k_t):
            A, b = bures_wasserstein_mapping(m_s[i], m_t[j], C_s[i], C_t[j])
            ref = _rank_one_map(C_s[i], F[j, :, 0])
            assert_allclose(A, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
            assert_allclose(A @ C_s[i] @ A, C_t[j], atol=1e-10 * np.abs(C_t[j]).max())
            assert_allclose(A @ m_s[i] + b, m_t[j], atol=1e-12 * np.abs(m_t[j]).max())

    # The density on the graphs of the maps is pi_ij g_i(x).
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    pairs = list(zip(*np.nonzero(plan), strict=True))
    x = m_s[rng.randint(k_s, size=6)] + rng.randn(6, d)
    y = np.array(
        [
            m_t[j] + _rank_one_map(C_s[i], F[j, :, 0]) @ (x[a] - m_s[i])
            for a in range(6)
            for i, j in pairs
        ]
    )
    density = gmm_ot_plan_density(x, y, m_s, m_t, C_s, C_t, w_s, w_t, atol=1e-4)
    for a in range(6):
        for p, (i, j) in enumerate(pairs):
            own = plan[i, j] * multivariate_normal(m_s[i], C_s[i]).pdf(x[a])
            # (maps of other pairs pass within 1e-4 only by coincidence: >=)
            assert density[a, a * len(pairs) + p] >= own * (1 - 1e-9)

    # POT 0.9.7 returns NaN maps here; a POT whose maps are finite must agree.
    maps = [
        _pot_or_none(
            lambda *a: ot.gaussian.bures_wasserstein_mapping(*a)[0],
            m_s[i],
            m_t[j],
            C_s[i],
            C_t[j],
        )
        for i, j in pairs
    ]
    if all(m is not None for m in maps):
        pot = ot.gmm.gmm_ot_plan_density(
            x, y, m_s, m_t, C_s, C_t, w_s, w_t, plan=plan, atol=1e-4
        )
        assert_allclose(density, pot, rtol=1e-9)


# --------------------------------------------------------------------------
# Gaussian barycenter: POT iterates the plain map (slow, not guaranteed to
# converge), with an absolute threshold, and prints instead of warning.
# --------------------------------------------------------------------------


def test_bures_barycenter_converges_on_ill_conditioned_input(rng, spd_factory):
    # Condition numbers 1e6, eigenvectors drawn independently per matrix.
    d, k = 5, 4
    C = spd_factory(k, d, cond=1e6)
    m = rng.randn(k, d)
    w = rng.rand(k) + 0.1
    w /= w.sum()
    eps = 1e-9

    mb, S, log = bures_wasserstein_barycenter(m, C, w, eps=eps, log=True)
    assert log["final_diff"] <= eps
    assert_allclose(mb, w @ m, rtol=1e-12)
    # S solves the fixed-point equation and is symmetric positive definite.
    assert _fixed_point_residual(S, C, w) <= 1e-8
    assert_allclose(S, S.T, rtol=0, atol=1e-14 * np.abs(S).max())
    assert np.linalg.eigvalsh(S)[0] > 0

    # The plain iteration (POT's) with the same relative stopping rule needs
    # many more iterations (~1000-3000 here).
    _, plain_iters = _plain_iteration(C, w, eps, max_iter=20000)
    assert log["num_iter"] < plain_iters
    assert log["num_iter"] * 5 < plain_iters


def test_bures_barycenter_tolerance_is_scale_free(rng, spd_factory):
    d, k = 3, 3
    C = spd_factory(k, d)
    m = rng.randn(k, d)
    w = np.array([0.2, 0.3, 0.5])
    mb, S = bures_wasserstein_barycenter(m, C, w)
    mb_small, S_small = bures_wasserstein_barycenter(m, 1e-6 * C, w)
    assert_allclose(mb_small, mb, rtol=1e-12)
    assert_allclose(S_small, 1e-6 * S, rtol=RTOL, atol=0)
    # And it is the barycenter, not just a consistent answer.
    assert _fixed_point_residual(S_small, 1e-6 * C, w) <= 1e-6

    # POT's absolute eps=1e-7 stops after 3-4 steps at this scale (5-10% off in
    # 0.9.7, which also starts from (1/k) sum_k w_k C_k): skgmmot is never worse.
    _, pot_S_small = ot.gaussian.bures_wasserstein_barycenter(m, 1e-6 * C, w)
    err = _rel_err(S_small, 1e-6 * S)
    pot_err = _rel_err(pot_S_small, 1e-6 * S)
    assert err <= max(pot_err, RTOL)


@pytest.mark.parametrize("num_iter, eps", [(1, 0.0), (2, 1e-15)])
def test_bures_barycenter_not_converged_warns(rng, spd_factory, capsys, num_iter, eps):
    d, k = 4, 3
    C = spd_factory(k, d, cond=1e3)
    m = rng.randn(k, d)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        _, S, log = bures_wasserstein_barycenter(
            m, C, num_iter=num_iter, eps=eps, log=True
        )
    assert log["num_iter"] == num_iter
    assert log["final_diff"] > eps
    assert np.all(np.isfinite(S))
    # A warning, never a print (POT prints "Dit not converge.").
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_bures_barycenter_converged_does_not_warn(rng, spd_factory, capsys):
    C = spd_factory(3, 4)
    m = rng.randn(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, log = bures_wasserstein_barycenter(m, C, log=True)
    assert log["final_diff"] <= 1e-7
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------
# gmm_ot_apply_map far from every component: POT exponentiates differences of
# log-densities (overflow, RuntimeWarning).
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["bary", "rand"])
@pytest.mark.parametrize("d", [2, 5])
def test_gmm_ot_apply_map_far_from_components(gmm_factory, rng, d, method):
    m_s, C_s, w_s = gmm_factory(3, d)
    m_t, C_t, w_t = gmm_factory(4, d)
    component_scale = np.sqrt(np.max(np.linalg.eigvalsh(C_s)))
    n = 40
    directions = rng.randn(n, d)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = component_scale * np.logspace(3, 4, n)
    x = m_s.mean(axis=0) + radii[:, None] * directions

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t, method=method, seed=0)
    assert out.shape == x.shape
    assert np.all(np.isfinite(out))

    # Reference: the posterior is a point mass on the component with the
    # largest log(w_i g_i(x)); the map is that component's row of the plan.
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    log_joint = np.column_stack(
        [
            np.log(w_s[i]) + multivariate_normal(m_s[i], C_s[i]).logpdf(x)
            for i in range(3)
        ]
    )
    top_two = np.sort(log_joint, axis=1)[:, -2:]
    assert np.all(top_two[:, 1] - top_two[:, 0] > 50)  # the reference is exact
    best = np.argmax(log_joint, axis=1)
    # The log-densities are of size |log g(x)| ~ 1e8 here, so the posterior
    # weights carry a relative error ~eps |log g| (inherent to the inputs).
    rtol = RTOL + 4 * EPS * np.max(np.abs(log_joint), axis=1)
    for p in range(n):
        i = best[p]
        images = [
            (plan[i, j] / w_s[i], _gaussian_map(m_s[i], m_t[j], C_s[i], C_t[j], x[p]))
            for j in range(4)
            if plan[i, j] > 0
        ]
        if method == "bary":
            expected = sum(weight * y for weight, y in images)
            assert_allclose(out[p], expected, rtol=0, atol=rtol[p] * radii[p])
        else:
            gaps = [np.max(np.abs(out[p] - y)) for _, y in images]
            assert min(gaps) <= RTOL * radii[p]

    # A POT that returns finite values must agree (0.9.7 does, with overflow
    # warnings, for "bary").
    if method == "bary":
        pot = _pot_or_none(ot.gmm.gmm_ot_apply_map, x, m_s, m_t, C_s, C_t, w_s, w_t)
        if pot is not None:
            assert_allclose(out, pot, rtol=0, atol=rtol.max() * radii.max())


def test_gmm_ot_apply_map_far_points_full_precision():
    # Every component map is x -> x + 5, so the GMM-OT map is x + 5 exactly,
    # whatever the posterior: only the posterior weights' sum can spoil it,
    # and skgmmot normalises the posterior after exponentiating.
    m_s = np.array([[0.0], [1.0]])
    C = np.ones((2, 1, 1))
    w = np.array([0.3, 0.7])
    x = -np.logspace(3, 4.5, 16)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gmm_ot_apply_map(x, m_s, m_s + 5.0, C, C, w, w)
    assert_allclose(out, x + 5.0, rtol=RTOL)


# --------------------------------------------------------------------------
# Unknown method: POT silently falls back to "rand".
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["random", "barycentric", "Bary", "", None])
def test_gmm_ot_apply_map_unknown_method_raises(gmm_factory, rng, method):
    m_s, C_s, w_s = gmm_factory(2, 2)
    m_t, C_t, w_t = gmm_factory(3, 2)
    x = rng.randn(5, 2)
    with pytest.raises(ValueError, match="method"):
        gmm_ot_apply_map(x, m_s, m_t, C_s, C_t, w_s, w_t, method=method, seed=0)


# --------------------------------------------------------------------------
# gmm_barycenter_fixed_point with non-uniform w_bar: POT's "euclidean"
# projection weighs plan rows by n instead of 1 / w_bar[i].
# --------------------------------------------------------------------------


def _non_uniform_problem(gmm_factory, rng, d):
    mixtures = [gmm_factory(k, d) for k in (3, 4)]
    means_init, covs_init, _ = gmm_factory(3, d)
    lambdas = np.array([0.4, 0.6])
    w_bar = np.array([0.6, 0.3, 0.1])
    return mixtures, means_init, covs_init, lambdas, w_bar


def _call(func, mixtures, means_init, covs_init, lambdas, **kwargs):
    return func(
        [mix[0] for mix in mixtures],
        [mix[1] for mix in mixtures],
        [mix[2] for mix in mixtures],
        means_init,
        covs_init,
        lambdas,
        **kwargs,
    )


@pytest.mark.parametrize("method", ["euclidean", "bures", "bures_two_stage"])
@pytest.mark.parametrize("d", [1, 3])
def test_gmm_barycenter_non_uniform_w_bar_one_step(gmm_factory, rng, d, method):
    mixtures, means_init, covs_init, lambdas, w_bar = _non_uniform_problem(
        gmm_factory, rng, d
    )
    means, covs = _call(
        gmm_barycenter_fixed_point,
        mixtures,
        means_init,
        covs_init,
        lambdas,
        w_bar=w_bar,
        iterations=1,
        barycentric_proj_method=method,
    )
    ref_means, ref_covs = _barycenter_step(
        mixtures, lambdas, means_init, covs_init, w_bar, method, 1.0 / w_bar
    )
    assert_allclose(means, ref_means, rtol=RTOL, atol=RTOL * np.abs(ref_means).max())
    assert_allclose(covs, ref_covs, rtol=RTOL, atol=RTOL * np.abs(ref_covs).max())

    if method == "euclidean":
        # The problem tells the two updates apart: n * pi is far off.
        _, n_covs = _barycenter_step(
            mixtures, lambdas, means_init, covs_init, w_bar, method, np.full(3, 3.0)
        )
        assert _rel_err(n_covs, ref_covs) > 1e-2
        # POT 0.9.7 computes the n * pi update; skgmmot is never further from
        # the true update than POT.
        pot_means, pot_covs = _call(
            ot.gmm.gmm_barycenter_fixed_point,
            mixtures,
            means_init.copy(),
            covs_init.copy(),
            lambdas,
            w_bar=w_bar,
            iterations=1,
        )
        assert _rel_err(covs, ref_covs) <= max(_rel_err(pot_covs, ref_covs), RTOL)
        assert _rel_err(means, ref_means) <= max(_rel_err(pot_means, ref_means), RTOL)


@pytest.mark.parametrize("d", [2, 3])
def test_gmm_barycenter_non_uniform_w_bar_is_fixed_point(gmm_factory, rng, d):
    mixtures, means_init, covs_init, lambdas, w_bar = _non_uniform_problem(
        gmm_factory, rng, d
    )
    kwargs = {"w_bar": w_bar, "barycentric_proj_method": "euclidean"}
    means, covs = _call(
        gmm_barycenter_fixed_point,
        mixtures,
        means_init,
        covs_init,
        lambdas,
        iterations=30,
        **kwargs,
    )
    # One more skgmmot iteration barely moves ...
    means_next, covs_next = _call(
        gmm_barycenter_fixed_point,
        mixtures,
        means,
        covs,
        lambdas,
        iterations=1,
        **kwargs,
    )
    assert_allclose(means_next, means, rtol=RTOL, atol=RTOL * np.abs(means).max())
    assert_allclose(covs_next, covs, rtol=RTOL, atol=RTOL * np.abs(covs).max())
    # ... and neither does the true update written from the paper.
    ref_means, ref_covs = _barycenter_step(
        mixtures, lambdas, means, covs, w_bar, "euclidean", 1.0 / w_bar
    )
    assert_allclose(ref_means, means, rtol=RTOL, atol=RTOL * np.abs(means).max())
    assert_allclose(ref_covs, covs, rtol=RTOL, atol=RTOL * np.abs(covs).max())
    # POT's n * pi update does move it: skgmmot's answer is not POT's.
    _, n_covs = _barycenter_step(
        mixtures, lambdas, means, covs, w_bar, "euclidean", np.full(3, 3.0)
    )
    assert _rel_err(n_covs, covs) > 1e-2


# --------------------------------------------------------------------------
# Bures projection: POT's "bures" update is two-stage (per input, the Bures
# barycenter of the components a plan row selects; then the Bures barycenter
# of these K Gaussians). That is not the minimiser of the objective for the
# plans, so the objective can rise (issue 18.1). skgmmot's "bures" is the
# one-stage minimiser; its "bures_two_stage" is POT's update.
# --------------------------------------------------------------------------


def _audit_problem(seed):
    """Like issue 18's audit: inputs of 3, 3 and 4 Gaussians in 2-D.

    Covariances of condition number 1e3, one coefficient tiny, and a start at
    4 input components with uniform weights.
    """
    rng = np.random.RandomState(seed)
    mixtures = [
        make_gmm(rng, k, 2, spread=2.0, cond=1e3, scale=10 ** rng.uniform(-1, 1))
        for k in (3, 3, 4)
    ]
    lambdas = rng.dirichlet(np.ones(3))
    lambdas[rng.randint(3)] = 0.01 * rng.rand()
    lambdas /= lambdas.sum()
    start = rng.choice(10, 4, replace=False)
    means_init = np.concatenate([m for m, _, _ in mixtures])[start]
    covs_init = np.concatenate([C for _, C, _ in mixtures])[start]
    return mixtures, lambdas, means_init, covs_init


def _pot_objectives(mixtures, lambdas, means_its, covs_its):
    """The objective of every iterate (uniform weights), by POT's GMM-OT loss."""
    w_bar = np.full(means_its[0].shape[0], 1.0 / means_its[0].shape[0])
    return np.array(
        [
            sum(
                lam * ot.gmm.gmm_ot_loss(m, m_k, C, C_k, w_bar, w_k)
                for lam, (m_k, C_k, w_k) in zip(lambdas, mixtures, strict=True)
            )
            for m, C in zip(means_its, covs_its, strict=True)
        ]
    )


def test_gmm_barycenter_bures_projection_never_rises(monkeypatch):
    # POT's inner Gaussian barycenters converge tightly: the rise is its
    # update's, not its inner tolerance's.
    monkeypatch.setattr(
        ot.gmm,
        "bures_wasserstein_barycenter",
        functools.partial(
            ot.gaussian.bures_wasserstein_barycenter, eps=1e-13, num_iter=20000
        ),
    )
    mixtures, lambdas, means_init, covs_init = _audit_problem(81)
    assert lambdas.min() < 0.003
    runs = {}
    for method in ("bures", "bures_two_stage"):
        _, _, log = _call(
            gmm_barycenter_fixed_point,
            mixtures,
            means_init,
            covs_init,
            lambdas,
            iterations=30,
            log=True,
            barycentric_proj_method=method,
        )
        runs[method] = log
    one, two = (
        _pot_objectives(mixtures, lambdas, runs[m]["means_its"], runs[m]["covs_its"])
        for m in ("bures", "bures_two_stage")
    )
    # skgmmot's "bures" is a descent method: it never rises (measured rises
    # are round-off, below 1e-14 relative).
    assert np.all(np.diff(one) <= 1e-12 * one[0])
    # The two-stage update rises, from 2.419190 to 2.419202 (5e-6 relative),
    # and stays there: the plans no longer change.
    rise = int(np.argmax(np.diff(two)))
    assert two[rise + 1] - two[rise] > 1e-6 * two[rise]
    # From the iterate before the rise, the one-stage update descends.
    step_means, step_covs = _call(
        gmm_barycenter_fixed_point,
        mixtures,
        runs["bures_two_stage"]["means_its"][rise],
        runs["bures_two_stage"]["covs_its"][rise],
        lambdas,
        iterations=1,
        barycentric_proj_method="bures",
    )
    step = _pot_objectives(mixtures, lambdas, [step_means], [step_covs])[0]
    assert step < two[rise]
    assert one[-1] < two[-1] * (1 - 1e-4)
    # POT's "bures" never ends below skgmmot's.
    _, _, pot_log = _call(
        ot.gmm.gmm_barycenter_fixed_point,
        mixtures,
        means_init.copy(),
        covs_init.copy(),
        lambdas,
        iterations=30,
        log=True,
        barycentric_proj_method="bures",
    )
    pot = _pot_objectives(mixtures, lambdas, pot_log["means_its"], pot_log["covs_its"])
    assert one[-1] <= pot[-1] * (1 + 1e-12)


# --------------------------------------------------------------------------
# No mutation: POT's gmm_barycenter_fixed_point writes its iterates into
# means_init and covs_init.
# --------------------------------------------------------------------------


def _frozen_copies(arrays):
    """Read-only copies (a write raises) plus their original bytes."""
    frozen = []
    for a in arrays:
        c = np.array(a, copy=True)
        c.setflags(write=False)
        frozen.append(c)
    return frozen, [c.tobytes() for c in frozen]


def _assert_unchanged(frozen, original_bytes):
    for a, raw in zip(frozen, original_bytes, strict=True):
        assert a.tobytes() == raw


@pytest.mark.parametrize("method", ["euclidean", "bures", "bures_two_stage"])
def test_gmm_barycenter_fixed_point_does_not_mutate(gmm_factory, rng, method):
    d = 3
    mixtures = [gmm_factory(k, d) for k in (2, 3)]
    means_init, covs_init, _ = gmm_factory(2, d)
    lambdas = np.array([0.5, 0.5])
    w_bar = np.array([0.7, 0.3])
    arrays = [
        *(a for mix in mixtures for a in mix),
        means_init,
        covs_init,
        lambdas,
        w_bar,
    ]
    frozen, raw = _frozen_copies(arrays)
    means_list, covs_list, w_list = (frozen[0:6:3], frozen[1:6:3], frozen[2:6:3])
    f_means_init, f_covs_init, f_lambdas, f_w_bar = frozen[6:]

    means, covs, log = gmm_barycenter_fixed_point(
        means_list,
        covs_list,
        w_list,
        f_means_init,
        f_covs_init,
        f_lambdas,
        w_bar=f_w_bar,
        iterations=3,
        log=True,
        barycentric_proj_method=method,
    )
    _assert_unchanged(frozen, raw)
    assert len(means_list) == len(covs_list) == len(w_list) == 2
    # The iterates moved, yet nothing returned is a view of the inputs.
    assert not np.allclose(means, f_means_init)
    for out in (means, covs, *log["means_its"], *log["covs_its"]):
        assert not any(np.shares_memory(out, a) for a in frozen)
    assert_array_equal(log["means_its"][0], f_means_init)
    assert_array_equal(log["covs_its"][0], f_covs_init)

    # Writable inputs are left alone too (POT 0.9.7 overwrites means_init).
    writable = [np.array(a) for a in arrays]
    before = [a.copy() for a in writable]
    gmm_barycenter_fixed_point(
        writable[0:6:3],
        writable[1:6:3],
        writable[2:6:3],
        *writable[6:9],
        w_bar=writable[9],
        iterations=3,
        barycentric_proj_method=method,
    )
    for a, b in zip(writable, before, strict=True):
        assert_array_equal(a, b)


def test_other_functions_do_not_mutate(gmm_factory, rng):
    d = 3
    m_s, C_s, w_s = gmm_factory(3, d)
    m_t, C_t, w_t = gmm_factory(2, d)
    x = rng.randn(10, d)
    plan = np.outer(w_s, w_t)
    frozen, raw = _frozen_copies([x, m_s, m_t, C_s, C_t, w_s, w_t, plan])
    fx, fm_s, fm_t, fC_s, fC_t, fw_s, fw_t, fplan = frozen
    pair = (fm_s, fm_t, fC_s, fC_t)
    outputs = [
        dist_bures_squared(*pair),
        gmm_ot_loss(*pair, fw_s, fw_t, log=True)[1]["u"],
        gmm_ot_plan(*pair, fw_s, fw_t),
        gmm_ot_apply_map(fx, *pair, fw_s, fw_t),
        gmm_ot_apply_map(fx, *pair, fw_s, fw_t, plan=fplan, method="rand", seed=1),
        gmm_pdf(fx, fm_s, fC_s, fw_s),
        *bures_wasserstein_barycenter(fm_s, fC_s, fw_s),
    ]
    _assert_unchanged(frozen, raw)
    for out in outputs:
        assert not any(np.shares_memory(out, a) for a in frozen)
