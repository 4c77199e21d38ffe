"""Numba kernels against slow, obvious NumPy/SciPy references.

Every kernel is checked compiled and through ``.py_func`` (its Python body),
on random inputs in several dimensions, including rank-deficient and
ill-conditioned covariances.
"""

from decimal import Decimal, getcontext

import numpy as np
import pytest
from scipy import linalg, special, stats

from skgmmot._kernels._barycenter import _bures_barycenters
from skgmmot._kernels._bures import (
    _bures_cost_matrix,
    _factors,
    _gaussian_maps,
)
from skgmmot._kernels._density import (
    _log_mixture_densities,
    _map_barycentric,
    _map_random,
    _posteriors,
)
from skgmmot._kernels._linalg import (
    JACOBI_MAX_D,
    _cholesky_lower,
    _jacobi_eigh,
    _lower_inverse,
    _psd_factor,
    _sqrtm_psd,
    _sqrtm_psd_warm,
)
from tests.conftest import python_body

DIMS = [1, 2, 3, 5, 10]


def _compiled_and_python(kernel):
    return pytest.mark.parametrize(
        "impl",
        [kernel, python_body(kernel)],
        ids=["jit", "python"],
    )


def _sqrtm_ref(S):
    """PSD square root; eigenvalues at round-off level (d eps max) count as 0."""
    vals, vecs = np.linalg.eigh(0.5 * (S + S.T))
    vals = np.where(vals > S.shape[0] * np.finfo(float).eps * vals.max(), vals, 0.0)
    return (vecs * np.sqrt(vals)) @ vecs.T


def _bures_ref(m1, S1, m2, S2):
    r1 = _sqrtm_ref(S1)
    cross = _sqrtm_ref(r1 @ S2 @ r1)
    return max(np.sum((m1 - m2) ** 2) + np.trace(S1 + S2 - 2.0 * cross), 0.0)


def _map_ref(S1, S2):
    r1 = np.real(linalg.sqrtm(S1))
    inv = np.linalg.inv(r1)
    return inv @ np.real(linalg.sqrtm(r1 @ S2 @ r1)) @ inv


# --- dense helpers -----------------------------------------------------------


@pytest.mark.parametrize("d", DIMS)
def test_cholesky_and_inverse(spd_factory, d):
    S = spd_factory(1, d)[0]
    L = np.empty((d, d))
    Linv = np.empty((d, d))
    assert _cholesky_lower(S, L)
    np.testing.assert_allclose(L, np.linalg.cholesky(S), rtol=1e-12, atol=1e-14)
    _lower_inverse(L, Linv)
    np.testing.assert_allclose(Linv, np.linalg.inv(L), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("d", [2, 3, 5])
def test_cholesky_reports_singular(spd_factory, d):
    S = spd_factory(1, d, rank=d - 1)[0]
    assert not _cholesky_lower(S, np.empty((d, d)))
    assert not _cholesky_lower(np.zeros((d, d)), np.empty((d, d)))


def _jacobi_cases(rng, d):
    q, _ = np.linalg.qr(rng.randn(d, d))
    a = rng.randn(d, d)
    yield "indefinite", a + a.T
    yield "cond 1e12", (q * np.logspace(0.0, -12.0, d)) @ q.T
    yield "repeated", (q * np.r_[np.full(d - 1, 2.0), 5.0]) @ q.T
    yield "identity", np.eye(d)
    yield "diagonal", np.diag(rng.rand(d))
    yield "zero", np.zeros((d, d))
    yield "huge", 1e200 * (a @ a.T)
    yield "tiny", 1e-200 * (a @ a.T)


@_compiled_and_python(_jacobi_eigh)
@pytest.mark.parametrize("d", range(1, JACOBI_MAX_D + 1))
def test_jacobi_eigh(rng, impl, d):
    for name, S in _jacobi_cases(rng, d):
        S = 0.5 * (S + S.T)
        A, V = S.copy(), np.empty((d, d))
        impl(A, V)
        vals = np.diag(A)
        order = np.argsort(vals)
        ref = np.linalg.eigvalsh(S)
        scale = np.abs(ref).max() if np.any(ref) else 1.0
        np.testing.assert_allclose(vals[order], ref, atol=1e-14 * scale, err_msg=name)
        np.testing.assert_allclose(V.T @ V, np.eye(d), atol=1e-14, err_msg=name)
        np.testing.assert_allclose(
            (V * vals) @ V.T, S, atol=1e-14 * scale, err_msg=name
        )
        np.testing.assert_array_equal(A - np.diag(vals), 0.0, err_msg=name)


@_compiled_and_python(_sqrtm_psd_warm)
@pytest.mark.parametrize("d", range(1, JACOBI_MAX_D + 1))
def test_sqrtm_warm_start(spd_factory, impl, d):
    """Any orthogonal warm start gives the square root, and V its eigenvectors."""
    S = spd_factory(1, d, cond=1e6)[0]
    nearby = S + 1e-3 * spd_factory(1, d)[0]
    V = np.eye(d)
    scratch = [np.empty((d, d)) for _ in range(4)]
    vals = np.empty(d)
    for M in (nearby, S, S, spd_factory(1, d, rank=max(d - 1, 1))[0]):
        impl(M, V, scratch[0], *scratch[1:], vals)
        np.testing.assert_allclose(scratch[0], _sqrtm_ref(M), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(V.T @ V, np.eye(d), atol=1e-13)
        np.testing.assert_allclose((V * vals) @ V.T, M, atol=1e-12 * np.abs(M).max())


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("rank", [None, 1])
def test_sqrtm_and_factor(spd_factory, d, rank):
    S = spd_factory(1, d, rank=rank)[0]
    R = np.empty((d, d))
    _sqrtm_psd(S, R)
    np.testing.assert_allclose(R, _sqrtm_ref(S), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(R @ R, S, rtol=1e-10, atol=1e-12)
    F, G = np.empty((d, d)), np.empty((d, d))
    triangular, found_rank = _psd_factor(S, F, G)
    assert triangular == (rank is None or rank == d)
    assert found_rank == (d if rank is None else rank)
    np.testing.assert_allclose(F @ F.T, S, rtol=1e-10, atol=1e-12)
    # G is the (pseudo-)inverse of F.
    np.testing.assert_allclose(G, np.linalg.pinv(F, rcond=1e-10), atol=1e-8)
    if not triangular:
        # Columns of F for dropped eigenvalues are exact zeros.
        assert np.sum(np.all(F == 0.0, axis=0)) == d - found_rank


# --- Bures costs and maps ----------------------------------------------------


@_compiled_and_python(_bures_cost_matrix)
@pytest.mark.parametrize("d", DIMS)
def test_cost_matrix_matches_reference(gmm_factory, impl, d):
    m_s, C_s, _ = gmm_factory(4, d)
    m_t, C_t, _ = gmm_factory(3, d)
    cost = impl(m_s, C_s, m_t, C_t)
    ref = np.array(
        [
            [_bures_ref(a, A, b, B) for b, B in zip(m_t, C_t, strict=True)]
            for a, A in zip(m_s, C_s, strict=True)
        ]
    )
    assert cost.shape == (4, 3)
    np.testing.assert_allclose(cost, ref, rtol=1e-9, atol=1e-10 * np.abs(ref).max())


@_compiled_and_python(_bures_cost_matrix)
@pytest.mark.parametrize("d", [2, 3, 5, 10])
@pytest.mark.parametrize("ranks", [(1, None), (None, 1), (1, 2), (2, 1), (2, 2)])
def test_cost_matrix_rank_deficient(rng, impl, d, ranks):
    """Rank-deficient covariances, against a reference built from their factors.

    With ``S1 = B1 B1^T`` (B1 of shape (d, r1)), ``tr (S1^1/2 S2 S1^1/2)^1/2``
    is the sum of square roots of the eigenvalues of the small, positive
    definite ``B1^T S2 B1``, which a reference can compute to full accuracy
    (the square root is not Lipschitz at zero, so the naive formula is not).
    """
    r_s, r_t = (min(d if r is None else r, d) for r in ranks)
    B_s = rng.randn(3, d, r_s)
    B_t = rng.randn(2, d, r_t)
    C_s, C_t = B_s @ B_s.transpose(0, 2, 1), B_t @ B_t.transpose(0, 2, 1)
    m_s, m_t = rng.randn(3, d), rng.randn(2, d)
    ref = np.empty((3, 2))
    for i in range(3):
        for j in range(2):
            if r_s <= r_t:
                small = B_s[i].T @ C_t[j] @ B_s[i]
            else:
                small = B_t[j].T @ C_s[i] @ B_t[j]
            root = np.sqrt(np.linalg.eigvalsh(small)).sum()
            ref[i, j] = np.sum((m_s[i] - m_t[j]) ** 2) + np.trace(C_s[i] + C_t[j])
            ref[i, j] -= 2 * root
    cost = impl(m_s, C_s, m_t, C_t)
    np.testing.assert_allclose(cost, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("d", [3, 5, 10])
@pytest.mark.parametrize("cond", [1e6, 1e12])
def test_cost_matrix_ill_conditioned(spd_factory, rng, d, cond):
    C_s = spd_factory(3, d, cond=cond)
    C_t = spd_factory(3, d, cond=cond)
    m = np.zeros((3, d))
    cost = _bures_cost_matrix(m, C_s, m, C_t)
    ref = np.array([[_bures_ref(m[0], A, m[0], B) for B in C_t] for A in C_s])
    assert np.all(np.isfinite(cost))
    np.testing.assert_allclose(cost, ref, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_factors_of_mixed_ranks(spd_factory, d):
    singular = spd_factory(2, d, rank=d - 1) if d > 1 else np.zeros((2, 1, 1))
    covs = np.concatenate([spd_factory(2, d), singular])
    F, _, triangular, rank = _factors(covs)
    assert triangular.tolist() == [True, True, False, False]
    assert rank.tolist() == [d, d, d - 1, d - 1]
    np.testing.assert_allclose(F @ F.transpose(0, 2, 1), covs, atol=1e-12)


@_compiled_and_python(_gaussian_maps)
@pytest.mark.parametrize("d", DIMS)
def test_gaussian_maps_match_reference(spd_factory, impl, d):
    C_s = spd_factory(3, d)
    C_t = spd_factory(4, d)
    rows = np.array([0, 0, 1, 2], dtype=np.int64)
    cols = np.array([1, 3, 0, 2], dtype=np.int64)
    maps = impl(C_s, C_t, rows, cols)
    for q, (i, j) in enumerate(zip(rows, cols, strict=True)):
        A = maps[q]
        np.testing.assert_allclose(A, _map_ref(C_s[i], C_t[j]), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(A @ C_s[i] @ A, C_t[j], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_map_from_singular_source_maps_its_range(rng, spd_factory, d):
    """From a rank-deficient source, the map attains the optimal Bures cost.

    The pushforward of N(0, S1) by x -> A x has E|x - Ax|^2 equal to the Bures
    cost, which a reference computes accurately from the factor B of S1.
    """
    B = rng.randn(d, d - 1)
    S1 = (B @ B.T)[None]
    S2 = spd_factory(1, d)
    zero = np.zeros(1, dtype=np.int64)
    A = _gaussian_maps(S1, S2, zero, zero)[0]
    assert np.all(np.isfinite(A))
    np.testing.assert_allclose(A, A.T, atol=1e-12)
    # A S1 A equals S2 on the range of S1: B^T A S1 A B = B^T S2 B.
    np.testing.assert_allclose(B.T @ A @ S1[0] @ A @ B, B.T @ S2[0] @ B, rtol=1e-9)
    transport = np.trace(S1[0] - 2 * A @ S1[0] + A @ S1[0] @ A)  # E|x - Ax|^2
    pushed_gap = np.trace(S2[0] - A @ S1[0] @ A)
    small = B.T @ S2[0] @ B
    if d > 1:
        root = np.sqrt(np.linalg.eigvalsh(small)).sum()
    else:
        root = 0.0
    expected = np.trace(S1[0] + S2[0]) - 2 * root
    np.testing.assert_allclose(transport + pushed_gap, expected, rtol=1e-9)


def _map_2x2_decimal(S1, S2):
    """The 2-D map's closed form in 60-digit decimals (exact float inputs)."""
    getcontext().prec = 60
    a, b, c = (Decimal(S1[0, 0]), Decimal(S1[0, 1]), Decimal(S1[1, 1]))
    p, q, r = (Decimal(S2[0, 0]), Decimal(S2[0, 1]), Decimal(S2[1, 1]))
    det1 = a * c - b * b
    root = (det1 * (p * r - q * q)).sqrt()
    tau = (a * p + 2 * b * q + c * r + 2 * root).sqrt()
    k = root / det1
    off = float((q - k * b) / tau)
    return np.array([[float((p + k * c) / tau), off], [off, float((r + k * a) / tau)]])


@pytest.mark.parametrize("cond", [1e3, 1e8, 1e11, 1e13, np.inf])
def test_small_map_is_accurate_when_nearly_singular(rng, cond):
    """2-D maps skip the factors; near-singular sources take an eigen route.

    Against the closed form evaluated in 60-digit decimals, the error is
    within the map's own conditioning (a few hundred eps times cond); from
    a rank-1 source, ``A = sqrt(v^T S2 v / l) v v^T`` for ``S1 = l v v^T``.
    """
    for _ in range(20):
        Q, _ = np.linalg.qr(rng.randn(2, 2))
        scale = rng.uniform(0.1, 10.0)
        B = rng.randn(2, 2)
        S2 = B @ B.T + 0.1 * np.eye(2)
        if np.isinf(cond):
            v = Q[:, 0]
            S1 = scale * np.outer(v, v)
            expected = np.sqrt(v @ S2 @ v / scale) * np.outer(v, v)
            tol = 1e-12
        else:
            S1 = (Q * np.array([1.0, 1.0 / cond])) @ Q.T * scale
            expected = _map_2x2_decimal(S1, S2)
            tol = 1e3 * np.finfo(float).eps * cond
        zero = np.zeros(1, dtype=np.int64)
        A = _gaussian_maps(S1[None], S2[None], zero, zero)[0]
        norm = np.abs(expected).max()
        np.testing.assert_allclose(A, expected, rtol=0, atol=tol * norm)
        np.testing.assert_array_equal(A, A.T)


def test_small_map_of_a_zero_source_is_zero():
    zero = np.zeros(1, dtype=np.int64)
    S2 = np.array([[[2.0, 0.5], [0.5, 1.0]]])
    A = _gaussian_maps(np.zeros((1, 2, 2)), S2, zero, zero)[0]
    np.testing.assert_array_equal(A, 0.0)


# --- Bures barycenters -------------------------------------------------------


def _fixed_point_residual(S, covs, coef):
    r = _sqrtm_ref(S)
    T = sum(c * _sqrtm_ref(r @ C @ r) for c, C in zip(coef, covs, strict=True))
    return np.abs(T - S).max() / np.abs(S).max()


@_compiled_and_python(_bures_barycenters)
@pytest.mark.parametrize("d", DIMS)
def test_bures_barycenters_are_fixed_points(spd_factory, rng, impl, d):
    pool = spd_factory(6, d)
    index = np.array([[0, 1, 2, 3], [2, 3, 4, 5], [5, 0, 1, 1]], dtype=np.int64)
    coef = rng.rand(3, 4)
    coef[2, 3] = 0.0  # zero coefficients are skipped
    coef /= coef.sum(axis=1, keepdims=True)
    init = np.stack([np.eye(d)] * 3)
    covs, n_iter, diff = impl(pool, index, coef, init, 1e-13, 500)
    assert np.all(diff <= 1e-13)
    assert np.all(n_iter < 500)
    for b in range(3):
        residual = _fixed_point_residual(covs[b], pool[index[b]], coef[b])
        assert residual < 1e-10
        assert np.linalg.eigvalsh(covs[b]).min() > 0


@pytest.mark.parametrize("d", [1, 2, 3])
def test_bures_barycenter_of_commuting_covariances(d):
    """Commuting covariances: the barycenter is (sum_k c_k C_k^1/2)^2."""
    vals = np.array([[1.0, 4.0, 9.0][:d], [16.0, 1.0, 0.25][:d]])
    pool = np.stack([np.diag(v) for v in vals])
    coef = np.array([[0.25, 0.75]])
    index = np.array([[0, 1]], dtype=np.int64)
    covs, _, _ = _bures_barycenters(pool, index, coef, np.eye(d)[None], 1e-14, 50)
    expected = np.diag((coef[0] @ np.sqrt(vals)) ** 2)
    np.testing.assert_allclose(covs[0], expected, rtol=1e-12)


def test_bures_barycenters_report_non_convergence(spd_factory):
    pool = spd_factory(3, 4, cond=1e4)
    index = np.arange(3, dtype=np.int64)[None]
    coef = np.full((1, 3), 1 / 3)
    _, n_iter, diff = _bures_barycenters(pool, index, coef, np.eye(4)[None], 0.0, 2)
    assert n_iter[0] == 2
    assert diff[0] > 0.0


# --- densities and maps on samples -------------------------------------------


def _scipy_log_joint(X, means, covs, weights):
    return np.stack(
        [
            stats.multivariate_normal(m, C).logpdf(X).reshape(-1) + np.log(w)
            for m, C, w in zip(means, covs, weights, strict=True)
        ],
        axis=1,
    )


@_compiled_and_python(_log_mixture_densities)
@pytest.mark.parametrize("d", DIMS)
def test_mixture_log_densities_match_scipy(gmm_factory, rng, impl, d):
    means, covs, weights = gmm_factory(3, d)
    X = 3 * rng.randn(20, d)
    out = impl(X, means, np.linalg.cholesky(covs), np.log(weights))
    ref = special.logsumexp(_scipy_log_joint(X, means, covs, weights), axis=1)
    np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-11)


@_compiled_and_python(_posteriors)
@pytest.mark.parametrize("d", DIMS)
def test_posteriors_match_scipy(gmm_factory, rng, impl, d):
    means, covs, weights = gmm_factory(3, d)
    weights[1] = 0.0  # a zero weight: zero posterior, no NaN
    X = 3 * rng.randn(20, d)
    with np.errstate(divide="ignore"):
        out = impl(X, means, np.linalg.cholesky(covs), np.log(weights))
        log_joint = _scipy_log_joint(X, means, covs, weights)
    ref = special.softmax(log_joint, axis=1)
    np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-14)
    assert (out[:, 1] == 0.0).all()


def test_posteriors_are_exact_where_densities_underflow():
    means = np.array([[0.0], [1.0]])
    chols = np.ones((2, 1, 1))
    X = np.array([[1e4]])  # both densities underflow to 0
    out = _posteriors(X, means, chols, np.log([0.5, 0.5]))
    np.testing.assert_array_equal(out, [[0.0, 1.0]])
    log_pdf = _log_mixture_densities(X, means, chols, np.log([0.5, 0.5]))
    ref = special.logsumexp(-0.5 * (X[0, 0] - means[:, 0]) ** 2 + np.log(0.5))
    np.testing.assert_allclose(log_pdf, ref - 0.5 * np.log(2 * np.pi), rtol=1e-14)


def _map_inputs(gmm_factory, rng, d):
    m_s, C_s, w_s = gmm_factory(3, d)
    m_t, C_t, _ = gmm_factory(2, d)
    plan = np.array([[0.2, 0.0], [0.1, 0.3], [0.0, 0.4]])
    w_s = plan.sum(axis=1)
    rows, cols = (a.astype(np.int64) for a in np.nonzero(plan))
    maps = _gaussian_maps(C_s, C_t, rows, cols)
    X = 2 * rng.randn(15, d)
    posterior = special.softmax(_scipy_log_joint(X, m_s, C_s, w_s), axis=1)
    coef = plan[rows, cols] / w_s[rows]
    return X, posterior, m_s, m_t, rows, cols, coef, maps


@_compiled_and_python(_map_barycentric)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_barycentric_map_matches_loop(gmm_factory, rng, impl, d):
    X, post, m_s, m_t, rows, cols, coef, maps = _map_inputs(gmm_factory, rng, d)
    out = impl(X, post, m_s, m_t, rows, cols, coef, maps)
    ref = np.zeros_like(X)
    for q, (i, j) in enumerate(zip(rows, cols, strict=True)):
        weight = coef[q] * post[:, i]
        ref += weight[:, None] * (m_t[j] + (X - m_s[i]) @ maps[q].T)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@_compiled_and_python(_map_random)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_random_map_matches_choice(gmm_factory, rng, impl, d):
    X, post, m_s, m_t, rows, cols, coef, maps = _map_inputs(gmm_factory, rng, d)
    uniforms = rng.random_sample(X.shape[0])
    out = impl(X, post, m_s, m_t, rows, cols, coef, maps, uniforms)
    for s in range(X.shape[0]):
        probs = coef * post[s, rows]
        cdf = np.cumsum(probs) / probs.sum()
        q = int(np.searchsorted(cdf, uniforms[s], side="right"))
        i, j = rows[q], cols[q]
        np.testing.assert_allclose(
            out[s], m_t[j] + maps[q] @ (X[s] - m_s[i]), rtol=1e-12, atol=1e-12
        )
