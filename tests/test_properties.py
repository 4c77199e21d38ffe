"""Property-based tests of the Bures kernels and the GMM-OT functions.

Hypothesis draws a seed, a scale and a rank pattern; the matrices are built
from a local ``numpy.random.RandomState`` (the global RNG is never touched).
Dimensions 1 and 2 exercise the closed forms, d >= 3 the eigenvalue route.

Tolerances follow from floating-point error analysis, not from observation:

- positive definite inputs: the costs are accurate to a small multiple of
  ``d * eps`` times the scale (traces plus squared means);
- rank-deficient inputs: an eigenvalue that is zero in exact arithmetic comes
  out as ``O(eps * |M|)``, and its square root as ``O(sqrt(eps) * |M|^1/2)``,
  so the trace of the square root, hence the cost, is only accurate to
  ``O(d * sqrt(eps))`` times the scale. This is inherent to the problem
  (POT and scipy behave the same), not a weakness of the implementation.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skgmmot import (
    bures_wasserstein_barycenter,
    dist_bures_squared,
    gmm_barycenter_fixed_point,
    gmm_ot_loss,
    gmm_ot_plan,
)
from skgmmot._kernels._bures import _gaussian_maps
from skgmmot._kernels._linalg import _psd_factor, _sqrtm_psd
from tests.conftest import python_body

EPS = np.finfo(np.float64).eps
SQRT_EPS = np.sqrt(EPS)
DIMS = [1, 2, 3, 5, 10]

PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, database=None)

seeds = st.integers(min_value=0, max_value=2**32 - 1)
log_scales = st.floats(min_value=-3.0, max_value=3.0)
kinds = st.sampled_from(["pd", "psd"])


def _random_cov(rng, d, *, rank=None, scale=1.0):
    """A symmetric PSD matrix; positive definite (eigenvalues >= 0.1) if rank is None.

    ``rank`` may be 0 (the zero matrix: a Dirac) up to ``d - 1``.
    """
    r = d if rank is None else rank
    B = rng.randn(d, r)
    S = B @ B.T / max(r, 1)
    if rank is None:
        S += 0.1 * np.eye(d)
    return scale * 0.5 * (S + S.T)


def _random_covs(rng, k, d, kind, scale):
    """``k`` covariances; for ``kind == "psd"`` each has a random rank < d."""
    if kind == "pd":
        return np.array([_random_cov(rng, d, scale=scale) for _ in range(k)])
    return np.array(
        [_random_cov(rng, d, rank=rng.randint(0, d), scale=scale) for _ in range(k)]
    )


def _random_mixture(rng, k, d, scale=1.0, kind="pd"):
    means = np.sqrt(scale) * 3.0 * rng.randn(k, d)
    covs = _random_covs(rng, k, d, kind, scale)
    w = rng.rand(k) + 0.1
    return means, covs, w / w.sum()


def _cost_scale(m_s, m_t, C_s, C_t):
    """(k_s, k_t) scale of every cost: squared norms of the means plus traces."""
    tr_s = np.trace(C_s, axis1=1, axis2=2)
    tr_t = np.trace(C_t, axis1=1, axis2=2)
    norm_s = np.sum(m_s**2, axis=1)
    norm_t = np.sum(m_t**2, axis=1)
    return (norm_s + tr_s)[:, None] + (norm_t + tr_t)[None, :]


def _cost_atol(scale, d, kind):
    """Absolute error bound of a squared Bures cost (see the module docstring)."""
    if kind == "pd":
        return 100 * d * EPS * scale + 1e-300
    return 2 * d * SQRT_EPS * scale + 1e-300


def _sqrt_err(value, atol):
    """Bound on |sqrt(x) - sqrt(value)| when |x - value| <= atol, x, value >= 0."""
    value = np.maximum(value, 0.0)
    return np.minimum(np.sqrt(atol), atol / np.maximum(np.sqrt(value), 1e-300))


IMPLS = ["jit", "py_func"]


def _impl(kernel, impl):
    """The compiled kernel, or its pure-Python source (as run without the JIT)."""
    return kernel if impl == "jit" else python_body(kernel)


def _min_eig_ok(S, rtol):
    """Whether the symmetric S has no eigenvalue below -rtol * max|eig|."""
    eig = np.linalg.eigvalsh(S)
    return eig[0] >= -rtol * max(np.abs(eig).max(), 1e-300)


# ---------------------------------------------------------------------------
# Bures costs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(
    seed=seeds,
    log_scale=log_scales,
    kind=kinds,
    k_s=st.integers(1, 4),
    k_t=st.integers(1, 4),
)
def test_bures_cost_symmetric_under_swap(d, seed, log_scale, kind, k_s, k_t):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    m_s, C_s, _ = _random_mixture(rng, k_s, d, scale, kind)
    m_t, C_t, _ = _random_mixture(rng, k_t, d, scale, kind)
    D_st = dist_bures_squared(m_s, m_t, C_s, C_t)
    D_ts = dist_bures_squared(m_t, m_s, C_t, C_s)
    assert D_st.shape == (k_s, k_t)
    assert D_ts.shape == (k_t, k_s)
    assert np.all(D_st >= 0.0)
    atol = _cost_atol(_cost_scale(m_s, m_t, C_s, C_t), d, kind)
    assert np.all(np.abs(D_st - D_ts.T) <= 2 * atol)


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(seed=seeds, log_scale=log_scales, kind=kinds, k=st.integers(1, 4))
def test_bures_cost_zero_on_identical_gaussians(d, seed, log_scale, kind, k):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    m, C, _ = _random_mixture(rng, k, d, scale, kind)
    D = dist_bures_squared(m, m, C, C)
    trace = np.trace(C, axis1=1, axis2=2)
    # Identical Gaussians: the exact cost is 0 and the computed one is a
    # difference of equal traces, so only the nonzero eigenvalues' round-off
    # (a few d * eps relative) remains; the zero eigenvalues' sqrt(eps) error
    # can only make the cost negative, and it is clipped at zero.
    assert np.all(np.diag(D) >= 0.0)
    assert np.all(np.diag(D) <= 100 * d * EPS * trace + 1e-300)
    # Off the diagonal, distinct Gaussians (distinct means) cost more.
    if k > 1:
        off = ~np.eye(k, dtype=bool)
        assert np.all(D[off] > 0.0)


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(seed=seeds, log_scale=log_scales, k=st.integers(1, 4))
def test_gmm_ot_loss_zero_on_identical_mixtures(d, seed, log_scale, k):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    m, C, w = _random_mixture(rng, k, d, scale)
    loss = gmm_ot_loss(m, m, C, C, w, w)
    trace = np.trace(C, axis1=1, axis2=2)
    assert 0.0 <= loss <= 100 * d * EPS * trace.max()
    plan = gmm_ot_plan(m, m, C, C, w, w)
    # Distinct components: the optimal plan keeps every component in place.
    np.testing.assert_allclose(plan, np.diag(w), rtol=0, atol=1e-15)


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(
    seed=seeds,
    log_scale=log_scales,
    kind=kinds,
    k_s=st.integers(1, 4),
    k_t=st.integers(1, 4),
    shift_scale=st.floats(min_value=-2.0, max_value=2.0),
)
def test_bures_cost_translation_invariance(
    d, seed, log_scale, kind, k_s, k_t, shift_scale
):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    m_s, C_s, _ = _random_mixture(rng, k_s, d, scale, kind)
    m_t, C_t, _ = _random_mixture(rng, k_t, d, scale, kind)
    shift = 10.0**shift_scale * np.sqrt(scale) * rng.randn(d)
    zeros_s, zeros_t = np.zeros_like(m_s), np.zeros_like(m_t)
    cov_part = dist_bures_squared(zeros_s, zeros_t, C_s, C_t)
    diff = m_s[:, None, :] - m_t[None, :, :]
    mean_part = np.sum(diff**2, axis=-1)
    D = dist_bures_squared(m_s, m_t, C_s, C_t)
    D_shift = dist_bures_squared(m_s + shift, m_t + shift, C_s, C_t)
    # The covariance part is a function of the covariances only.
    cov_atol = _cost_atol(_cost_scale(zeros_s, zeros_t, C_s, C_t), d, kind)
    # Rounding of the shifted means adds eps * |m + shift|^2-sized errors.
    big = _cost_scale(m_s, m_t, C_s, C_t) + 2 * np.sum(shift**2)
    mean_atol = 100 * d * EPS * big
    np.testing.assert_array_less(
        np.abs(D - (cov_part + mean_part)), cov_atol + mean_atol
    )
    np.testing.assert_array_less(
        np.abs(D_shift - (cov_part + mean_part)), cov_atol + mean_atol
    )


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(seed=seeds, log_scale=log_scales, kinds3=st.lists(kinds, min_size=3, max_size=3))
def test_w2_triangle_inequality_gaussians(d, seed, log_scale, kinds3):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    gs = [_random_mixture(rng, 1, d, scale, kind)[:2] for kind in kinds3]
    kind = "psd" if "psd" in kinds3 else "pd"

    def w2(a, b):
        D = dist_bures_squared(a[0], b[0], a[1], b[1])[0, 0]
        atol = _cost_atol(_cost_scale(a[0], b[0], a[1], b[1])[0, 0], d, kind)
        return np.sqrt(D), _sqrt_err(D, atol)

    (ab, e_ab), (bc, e_bc), (ac, e_ac) = (
        w2(gs[0], gs[1]),
        w2(gs[1], gs[2]),
        w2(gs[0], gs[2]),
    )
    assert ac <= ab + bc + e_ab + e_bc + e_ac
    assert ab <= ac + bc + e_ab + e_bc + e_ac
    assert bc <= ab + ac + e_ab + e_bc + e_ac


def test_bures_cost_matches_closed_form_examples():
    # Commuting covariances: W2^2 = |m1 - m2|^2 + |S1^1/2 - S2^1/2|_F^2.
    for d in DIMS:
        S1 = np.diag(np.arange(1.0, d + 1.0))
        S2 = np.diag(np.arange(d, 0.0, -1.0) ** 2)
        m1, m2 = np.zeros(d), np.ones(d)
        expected = d + np.sum((np.sqrt(np.diag(S1)) - np.sqrt(np.diag(S2))) ** 2)
        D = dist_bures_squared(m1[None], m2[None], S1[None], S2[None])
        np.testing.assert_allclose(D, [[expected]], rtol=1e-12)
        # A Dirac against a Gaussian: only the trace remains.
        D0 = dist_bures_squared(m1[None], m2[None], np.zeros((1, d, d)), S2[None])
        np.testing.assert_allclose(D0, [[d + np.trace(S2)]], rtol=1e-12)


# ---------------------------------------------------------------------------
# Linear-algebra kernels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(seed=seeds, log_scale=log_scales, kind=kinds)
def test_sqrtm_psd_is_symmetric_psd_root(impl, d, seed, log_scale, kind):
    rng = np.random.RandomState(seed)
    M = _random_covs(rng, 1, d, kind, 10.0**log_scale)[0]
    R = np.empty((d, d))
    _impl(_sqrtm_psd, impl)(np.ascontiguousarray(M), R)
    norm_R = max(np.abs(R).max(), 1e-300)
    np.testing.assert_allclose(R, R.T, rtol=0, atol=10 * d * EPS * norm_R)
    assert _min_eig_ok(0.5 * (R + R.T), 100 * d * EPS)
    np.testing.assert_allclose(
        R @ R, M, rtol=0, atol=100 * d * EPS * max(np.abs(M).max(), 1e-300)
    )


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(seed=seeds, log_scale=log_scales, kind=kinds)
def test_psd_factor_reconstructs(impl, d, seed, log_scale, kind):
    rng = np.random.RandomState(seed)
    S = _random_covs(rng, 1, d, kind, 10.0**log_scale)[0]
    F = np.empty((d, d))
    G = np.empty((d, d))
    triangular, rank = _impl(_psd_factor, impl)(np.ascontiguousarray(S), F, G)
    norm_S = max(np.abs(S).max(), 1e-300)
    np.testing.assert_allclose(F @ F.T, S, rtol=0, atol=100 * d * EPS * norm_S)
    if kind == "pd":
        # Eigenvalues >= 0.1 * scale: Cholesky always succeeds.
        assert triangular
    if triangular:
        assert rank == d
        np.testing.assert_array_equal(np.triu(F, 1), 0.0)
        # A (numerically) rank-deficient S may still pass the pivot test, so
        # F can be ill-conditioned (cond(F) <= 1 / sqrt(d * eps)).
        np.testing.assert_allclose(
            G @ F, np.eye(d), rtol=0, atol=10 * d * EPS * np.linalg.cond(F)
        )
    else:
        # F = V diag(sqrt(l+)) and G = F^+: G F selects the kept eigenvectors
        # (a 0/1 diagonal with `rank` ones; the dropped columns of F are exact
        # zeros) and F G is the orthogonal projector onto the range of S.
        kept = np.linalg.norm(F, axis=0) > 0
        assert kept.sum() == rank
        np.testing.assert_allclose(G @ F, np.diag(kept.astype(float)), atol=1e-6)
        P = F @ G
        np.testing.assert_allclose(P, P.T, atol=1e-6)
        np.testing.assert_allclose(P @ P, P, atol=1e-6)
        np.testing.assert_allclose(P @ S, S, rtol=0, atol=1e-6 * norm_S)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(
    seed=seeds,
    log_scale=log_scales,
    target_kind=kinds,
    k_s=st.integers(1, 3),
    k_t=st.integers(1, 3),
)
def test_gaussian_maps_push_source_to_target(
    impl, d, seed, log_scale, target_kind, k_s, k_t
):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    C_s = _random_covs(rng, k_s, d, "pd", scale)
    C_t = _random_covs(rng, k_t, d, target_kind, scale * 10.0 ** rng.uniform(-1, 1))
    rows, cols = np.divmod(np.arange(k_s * k_t, dtype=np.int64), k_t)
    maps = _impl(_gaussian_maps, impl)(C_s, C_t, rows, cols)
    assert maps.shape == (k_s * k_t, d, d)
    for A, i, j in zip(maps, rows, cols, strict=True):
        S1, S2 = C_s[i], C_t[j]
        norm_A = max(np.abs(A).max(), 1e-300)
        np.testing.assert_allclose(A, A.T, rtol=0, atol=10 * d * EPS * norm_A)
        assert _min_eig_ok(A, 1e3 * d * EPS)
        # cond(S1) <= (max eig of B B^T / d + 0.1) / 0.1 stays below ~1e3.
        np.testing.assert_allclose(
            A @ S1 @ A, S2, rtol=0, atol=1e4 * d * EPS * np.abs(S2).max() + 1e-300
        )


# ---------------------------------------------------------------------------
# GMM-OT distance and plan
# ---------------------------------------------------------------------------


def _mw2(a, b):
    loss = gmm_ot_loss(a[0], b[0], a[1], b[1], a[2], b[2])
    atol = 100 * a[0].shape[1] * EPS * _cost_scale(a[0], b[0], a[1], b[1]).max()
    return np.sqrt(max(loss, 0.0)), float(_sqrt_err(loss, atol)), loss


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(
    seed=seeds,
    log_scale=log_scales,
    ks=st.lists(st.integers(1, 4), min_size=3, max_size=3),
)
def test_gmm_ot_distance_symmetric_and_triangle(d, seed, log_scale, ks):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    mix = [_random_mixture(rng, k, d, scale) for k in ks]
    ab, e_ab, loss_ab = _mw2(mix[0], mix[1])
    _, _, loss_ba = _mw2(mix[1], mix[0])
    bc, e_bc, _ = _mw2(mix[1], mix[2])
    ac, e_ac, _ = _mw2(mix[0], mix[2])
    atol = 100 * d * EPS * _cost_scale(mix[0][0], mix[1][0], mix[0][1], mix[1][1]).max()
    assert abs(loss_ab - loss_ba) <= 2 * atol
    err = e_ab + e_bc + e_ac
    assert ac <= ab + bc + err
    assert ab <= ac + bc + err
    assert bc <= ab + ac + err


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(
    seed=seeds,
    log_scale=log_scales,
    k_s=st.integers(1, 6),
    k_t=st.integers(1, 6),
    n_zero=st.integers(0, 2),
)
def test_plan_marginals_equal_weights(d, seed, log_scale, k_s, k_t, n_zero):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    m_s, C_s, w_s = _random_mixture(rng, k_s, d, scale)
    m_t, C_t, w_t = _random_mixture(rng, k_t, d, scale, "psd")
    if n_zero and k_s > n_zero:
        # Components of zero weight are allowed and receive no mass.
        w_s[:n_zero] = 0.0
        w_s /= w_s.sum()
    plan = gmm_ot_plan(m_s, m_t, C_s, C_t, w_s, w_t)
    assert plan.shape == (k_s, k_t)
    assert np.all(plan >= 0.0)
    np.testing.assert_allclose(plan.sum(axis=1), w_s, rtol=0, atol=1e-14)
    np.testing.assert_allclose(plan.sum(axis=0), w_t, rtol=0, atol=1e-14)
    # The plan's cost is the loss.
    D = dist_bures_squared(m_s, m_t, C_s, C_t)
    loss = gmm_ot_loss(m_s, m_t, C_s, C_t, w_s, w_t)
    np.testing.assert_allclose(np.sum(plan * D), loss, rtol=1e-12, atol=1e-300)


# ---------------------------------------------------------------------------
# Barycenters
# ---------------------------------------------------------------------------


def _assert_spd(S):
    np.testing.assert_allclose(S, np.swapaxes(S, -1, -2), rtol=0, atol=0)
    eig = np.linalg.eigvalsh(S)
    assert np.all(eig > 0.0)


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(seed=seeds, log_scale=log_scales, k=st.integers(1, 5), uniform=st.booleans())
def test_bures_barycenter_is_spd_fixed_point(d, seed, log_scale, k, uniform):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    m, C, lam = _random_mixture(rng, k, d, scale)
    mb, Cb = bures_wasserstein_barycenter(m, C, None if uniform else lam)
    if uniform:
        lam = np.full(k, 1.0 / k)
    assert mb.shape == (d,)
    assert Cb.shape == (d, d)
    np.testing.assert_allclose(mb, lam @ m, rtol=1e-12, atol=1e-12 * np.abs(m).max())
    _assert_spd(Cb)
    # Fixed-point equation S = sum_k lam_k (S^1/2 C_k S^1/2)^1/2 (eps=1e-7).
    R = np.empty((d, d))
    _sqrtm_psd(Cb, R)
    total = np.zeros((d, d))
    for lam_k, C_k in zip(lam, C, strict=True):
        root = np.empty((d, d))
        _sqrtm_psd(np.ascontiguousarray(R @ C_k @ R), root)
        total += lam_k * root
    np.testing.assert_allclose(total, Cb, rtol=0, atol=1e-5 * np.abs(Cb).max())


@pytest.mark.parametrize("d", DIMS)
@PROPERTY_SETTINGS
@given(
    seed=seeds,
    log_scale=log_scales,
    ks=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    n=st.integers(1, 3),
    method=st.sampled_from(["euclidean", "bures", "bures_two_stage"]),
)
def test_gmm_barycenter_is_spd(d, seed, log_scale, ks, n, method):
    rng = np.random.RandomState(seed)
    scale = 10.0**log_scale
    mix = [_random_mixture(rng, k, d, scale) for k in ks]
    init = _random_mixture(rng, n, d, scale)
    lam = rng.rand(len(ks)) + 0.1
    lam /= lam.sum()
    means, covs = gmm_barycenter_fixed_point(
        [m[0] for m in mix],
        [m[1] for m in mix],
        [m[2] for m in mix],
        init[0],
        init[1],
        lam,
        w_bar=init[2],
        iterations=3,
        barycentric_proj_method=method,
    )
    assert means.shape == (n, d)
    assert covs.shape == (n, d, d)
    assert np.all(np.isfinite(means))
    _assert_spd(covs)
