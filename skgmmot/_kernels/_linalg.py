"""Small dense linear algebra on (d, d) symmetric matrices, inside numba kernels.

These helpers are called once per pair of Gaussians, so they avoid LAPACK's
per-call overhead where it dominates (eigenvalues of small matrices) and never
allocate inside a call: every output and scratch array is passed in.
"""

import math

import numpy as np

from skgmmot._kernels._jit import kernel

_EPS = np.finfo(np.float64).eps
_EPS2 = _EPS * _EPS
# Householder columns whose squared norm lies outside (_SQUARE_MIN, _SQUARE_MAX)
# are scaled by a power of two before their reflector is formed.
_SQUARE_MIN = 1e-100
_SQUARE_MAX = 1e100
# Tridiagonal matrices whose largest entry lies outside this range are scaled by
# a power of four before the root-free iteration, which takes up to 6th powers.
_UNSCALED_MIN = 2.0**-100
_UNSCALED_MAX = 2.0**100
# Squared couplings below _TINY count as zero (entries under 1e-150, while the
# tridiagonal matrix has an entry of at least 2**-100 ~ 1e-30).
_TINY = 1e-300
# Rotations with r * pi2 above _SAFE take the one-reciprocal route.
_SAFE = 1e-290
# Passes per eigenvalue before it is accepted as is: guarantees termination.
_MAX_PASSES = 64
# Passes over at most this many rows make one (Wilkinson-shifted) sweep, and
# so do passes after the first _PAIRED_MAX_PASSES on the same eigenvalue (two
# shifts that are both exact eigenvalues of a cluster can stall the pair).
_PAIRED_MIN = 4
_PAIRED_MAX_PASSES = 4


@kernel()
def _cholesky_lower(S, L):
    """Write the lower Cholesky factor of ``S`` into ``L``; False if S is singular.

    A pivot below ``d * eps * max(diag(S))`` counts as a failure, so the caller
    switches to the eigendecomposition route for (near) rank-deficient matrices
    instead of producing a factor with huge entries.

    Parameters
    ----------
    S : ndarray of shape (d, d)
        Symmetric matrix; only the lower triangle is read.
    L : ndarray of shape (d, d)
        Output, overwritten (upper triangle set to zero).

    Returns
    -------
    ok : bool
        Whether the factorisation succeeded.
    """
    d = S.shape[0]
    scale = 0.0
    for a in range(d):
        scale = max(scale, abs(S[a, a]))
    floor = d * _EPS * scale
    for a in range(d):
        for b in range(d):
            L[a, b] = 0.0
    for b in range(d):
        pivot = S[b, b]
        for c in range(b):
            pivot -= L[b, c] * L[b, c]
        if not pivot > floor:
            return False
        root = np.sqrt(pivot)
        L[b, b] = root
        for a in range(b + 1, d):
            acc = S[a, b]
            for c in range(b):
                acc -= L[a, c] * L[b, c]
            L[a, b] = acc / root
    return True


@kernel()
def _lower_inverse(L, out):
    """Write the inverse of the lower-triangular, invertible ``L`` into ``out``.

    Parameters
    ----------
    L : ndarray of shape (d, d)
        Lower-triangular matrix with nonzero diagonal.
    out : ndarray of shape (d, d)
        Output, overwritten; lower triangular.
    """
    d = L.shape[0]
    for a in range(d):
        for b in range(d):
            out[a, b] = 0.0
    for b in range(d):
        out[b, b] = 1.0 / L[b, b]
        for a in range(b + 1, d):
            acc = 0.0
            for c in range(b, a):
                acc += L[a, c] * out[c, b]
            out[a, b] = -acc / L[a, a]


@kernel()
def _pow2_exponent(amax):
    """Exponent ``e`` such that ``2**-e * amax`` lies in [1/2, 1).

    Parameters
    ----------
    amax : float
        A magnitude.

    Returns
    -------
    e : int
        The exponent, clipped to [-1020, 1020] so that ``2**-e`` stays finite;
        0 if ``amax`` is zero or not finite.
    """
    if not (amax > 0.0 and amax < np.inf):
        return 0
    return min(max(math.frexp(amax)[1], -1020), 1020)


@kernel()
def _root_free_rotation(diag, off2, j, shift, gamma, pi2, c2, s2):
    """One step, at row ``j``, of a root-free QR sweep down a tridiagonal matrix.

    The root-free recurrence of Pal, Walker and Kahan (B. N. Parlett, "The
    Symmetric Eigenvalue Problem", SIAM 1998, chapter 8, there written for QL),
    run from the top. With ``pi2`` the square of the entry to rotate away and
    ``b = off2[j]``, ``r = pi2 + b``, the squared cosine and sine become
    ``pi2 / r`` and ``b / r``, then ``gamma' = c2' (diag[j] - shift) - s2' gamma``
    and ``pi2' = gamma'^2 / c2'``. Both divisions go through one reciprocal
    ``1 / (r pi2)``, leaving a single division on the serial dependency chain
    of a sweep.

    Parameters
    ----------
    diag, off2 : ndarray of shape (d,)
        Diagonal and squared couplings (``off2[j]`` couples rows ``j - 1`` and
        ``j``). Reads row ``j``; writes ``diag[j - 1]`` and ``off2[j - 1]``.
    j : int
        Row, at least 1.
    shift : float
        Shift of the sweep.
    gamma, pi2, c2, s2 : float
        State of the sweep after row ``j - 1``.

    Returns
    -------
    gamma, pi2, c2, s2 : float
        State of the sweep after row ``j``.
    """
    b = off2[j]
    r = pi2 + b
    off2[j - 1] = s2 * r
    x = diag[j] - shift
    rp = r * pi2
    if rp > _SAFE:
        t = 1.0 / rp
        num = pi2 * x - b * gamma
        pt = pi2 * t
        gamma_new = num * pt
        c2_new = pi2 * pt
        s2_new = b * pt
        pi2_new = (num * num) * t
    elif r > 0.0:
        c2_new = pi2 / r
        s2_new = b / r
        gamma_new = c2_new * x - s2_new * gamma
        pi2_new = gamma_new * gamma_new / c2_new if c2_new > 0.0 else c2 * b
    else:
        # Nothing to rotate (both entries zero): the identity rotation.
        c2_new = 1.0
        s2_new = 0.0
        gamma_new = x
        pi2_new = x * x
    diag[j - 1] = gamma + (diag[j] - gamma_new)
    return gamma_new, pi2_new, c2_new, s2_new


@kernel()
def _eigvalsh_inplace(A, diag, off, v, p):
    """Eigenvalues of the symmetric matrix ``A``, written into ``diag``.

    1. Householder tridiagonalisation (Golub & Van Loan, "Matrix Computations",
       4th ed., Algorithm 8.3.1): step k applies ``I - beta v v^T`` on both
       sides to zero column k below the subdiagonal, updating the trailing block
       as ``A - v w^T - w v^T`` with ``p = beta A v`` and
       ``w = p - (beta p^T v / 2) v``. Inner loops run over contiguous row
       segments from index 0, which numba compiles without negative-index
       handling, so LLVM vectorises them. The rows and columns are first put in
       reverse order when the last diagonal entry is the larger one: graded
       matrices then keep their small eigenvalues to high relative accuracy.
    2. A tridiagonal matrix whose largest entry lies outside [2**-100, 2**100]
       is scaled by a power of four into [1/4, 1) (exact, and undone exactly).
    3. Root-free implicit QR on the squared couplings (``_root_free_rotation``),
       deflating at the bottom of the unreduced block. A pass shifts by the two
       eigenvalues of the trailing 2x2 block (first the one nearer its last
       diagonal entry, Wilkinson's shift of Golub & Van Loan section 8.3.5; cf.
       their double-shift strategy, section 7.5) and makes both sweeps at once,
       the second one row behind the first: the same arithmetic as two sweeps
       in a row, with their two serial dependency chains overlapped. Blocks of at most
       ``_PAIRED_MIN`` rows, and an eigenvalue still unconverged after
       ``_PAIRED_MAX_PASSES`` passes, get single Wilkinson-shifted sweeps. A
       coupling splits the matrix once it is below ``eps`` times the sum of
       its two diagonal entries; a trailing 2x2 block is solved in closed form.

    About ``2 d^3`` flops for step 1 and ``O(d^2)`` for step 3; no allocation,
    which for d <= 64 beats a LAPACK call made from inside a parallel loop.

    Parameters
    ----------
    A : ndarray of shape (d, d)
        Symmetric matrix (both triangles filled); destroyed.
    diag : ndarray of shape (d,)
        Output: the eigenvalues, unordered.
    off, v, p : ndarray of shape (d,)
        Scratch space.
    """
    n = A.shape[0]
    if n == 0:
        return
    # Start the reduction at the larger end of the diagonal (see step 1).
    if abs(A[n - 1, n - 1]) > abs(A[0, 0]):
        for i in range((n + 1) // 2):
            top = A[i]
            bottom = A[n - 1 - i]
            for j in range(n if 2 * i < n - 1 else n // 2):
                tmp = top[j]
                top[j] = bottom[n - 1 - j]
                bottom[n - 1 - j] = tmp
    # 1. off[j] = T[j, j - 1], off[0] = 0.
    off[0] = 0.0
    for k in range(n - 2):
        k1 = k + 1
        size = n - k1
        vv = v[k1:]
        pp = p[k1:]
        x0 = A[k1, k]
        sigma = 0.0
        for i in range(1, size):
            a = A[k1 + i, k]
            vv[i] = a
            sigma += a * a
        # The reflector does not change when v is scaled: a column whose
        # squared norm is outside the safe range is scaled by a power of two.
        scale = 1.0
        if not (_SQUARE_MIN < x0 * x0 + sigma < _SQUARE_MAX):
            amax = abs(x0)
            for i in range(1, size):
                amax = max(amax, abs(vv[i]))
            scale = math.ldexp(1.0, -_pow2_exponent(amax))
            x0 *= scale
            sigma = 0.0
            for i in range(1, size):
                vv[i] *= scale
                sigma += vv[i] * vv[i]
        if sigma == 0.0:
            off[k1] = x0 / scale
        else:
            mu = np.sqrt(x0 * x0 + sigma)
            alpha = -mu if x0 >= 0.0 else mu
            off[k1] = alpha / scale
            vv[0] = x0 - alpha
            beta = 2.0 / (sigma + vv[0] * vv[0])
            # p = beta A v from rows of the symmetric block, two rows per pass.
            if size % 2 == 1:
                row = A[n - 1, k1:]
                b0 = beta * vv[size - 1]
                for j in range(size):
                    pp[j] = b0 * row[j]
            else:
                for j in range(size):
                    pp[j] = 0.0
            for i in range(0, size - 1, 2):
                r0 = A[k1 + i, k1:]
                r1 = A[k1 + i + 1, k1:]
                b0 = beta * vv[i]
                b1 = beta * vv[i + 1]
                for j in range(size):
                    pp[j] += b0 * r0[j] + b1 * r1[j]
            vp = 0.0
            for i in range(size):
                vp += vv[i] * pp[i]
            half = 0.5 * beta * vp
            for i in range(size):
                pp[i] -= half * vv[i]
            for i in range(size):
                row = A[k1 + i, k1:]
                vi = vv[i]
                wi = pp[i]
                for j in range(size):
                    row[j] -= vi * pp[j] + wi * vv[j]
    for i in range(n):
        diag[i] = A[i, i]
    if n >= 2:
        off[n - 1] = A[n - 1, n - 2]

    # 2. Scale, then square the couplings: off[j] couples rows j - 1 and j.
    amax = 0.0
    for i in range(n):
        amax = max(amax, abs(diag[i]), abs(off[i]))
    t = 0
    if not (_UNSCALED_MIN < amax < _UNSCALED_MAX):
        t = (_pow2_exponent(amax) + 1) // 2
        factor = math.ldexp(1.0, -2 * t)
        for i in range(n):
            diag[i] *= factor
            off[i] *= factor
    for i in range(n):
        off[i] = off[i] * off[i]

    # 3. Root-free QR passes on the unreduced block [l, m]; rows below m
    # hold converged eigenvalues.
    m = n - 1
    passes = 0
    while m > 0:
        l = m
        while l > 0:
            dd = abs(diag[l]) + abs(diag[l - 1])
            if off[l] <= _EPS2 * dd * dd + _TINY:
                break
            l -= 1
        if l == m or passes >= _MAX_PASSES:
            m -= 1
            passes = 0
            continue
        a = diag[m]
        b = diag[m - 1]
        # Eigenvalues of the trailing 2x2 block, the smaller one from the
        # determinant to avoid cancellation; "near" is the one nearer to a.
        mean = 0.5 * (a + b)
        half = 0.5 * (a - b)
        root = np.sqrt(half * half + off[m])
        big = mean + root if mean >= 0.0 else mean - root
        small = (a * b - off[m]) / big if big != 0.0 else 0.0
        if (half >= 0.0) == (mean >= 0.0):
            near = big
            far = small
        else:
            near = small
            far = big
        if l == m - 1:
            diag[m] = near
            diag[m - 1] = far
            m -= 2
            passes = 0
            continue
        passes += 1
        g1 = diag[l] - near
        q1 = g1 * g1
        g1, q1, c1, s1 = _root_free_rotation(diag, off, l + 1, near, g1, q1, 1.0, 0.0)
        if m - l < _PAIRED_MIN or passes > _PAIRED_MAX_PASSES:
            for j in range(l + 2, m + 1):
                g1, q1, c1, s1 = _root_free_rotation(diag, off, j, near, g1, q1, c1, s1)
            off[m] = s1 * q1
            diag[m] = near + g1
            continue
        g2 = diag[l] - far
        q2 = g2 * g2
        c2 = 1.0
        s2 = 0.0
        for j in range(l + 2, m + 1):
            g1, q1, c1, s1 = _root_free_rotation(diag, off, j, near, g1, q1, c1, s1)
            g2, q2, c2, s2 = _root_free_rotation(diag, off, j - 1, far, g2, q2, c2, s2)
        off[m] = s1 * q1
        diag[m] = near + g1
        g2, q2, c2, s2 = _root_free_rotation(diag, off, m, far, g2, q2, c2, s2)
        off[m] = s2 * q2
        diag[m] = far + g2

    # 4. Undo the scaling (exact).
    if t != 0:
        factor = math.ldexp(1.0, 2 * t)
        for i in range(n):
            diag[i] *= factor


@kernel()
def _copy_into(src, out):
    """Copy the (d, d) matrix ``src`` into ``out``.

    An explicit loop: numba's ``out[:, :] = src`` compiles a shape-mismatch
    error message (string formatting) that costs seconds of first-call compile
    time in every kernel using it.
    """
    d = src.shape[0]
    for a in range(d):
        for b in range(src.shape[1]):
            out[a, b] = src[a, b]


@kernel()
def _symmetric_part(M, out):
    """Write ``(M + M^T) / 2`` into ``out`` (no temporaries)."""
    d = M.shape[0]
    for a in range(d):
        for b in range(a + 1):
            sym = 0.5 * (M[a, b] + M[b, a])
            out[a, b] = sym
            out[b, a] = sym


#: Matrices up to this size are diagonalised by Jacobi rotations, which beat
#: LAPACK's call overhead there (benchmarks/bench_barycenter.py, ``--only eigh``).
JACOBI_MAX_D = 6
_JACOBI_MAX_SWEEPS = 50


@kernel()
def _jacobi_rotation(app, apq, aqq):
    """Return ``(t, c, s)`` of the rotation zeroing ``apq`` in [[app, apq], [apq, aqq]].

    ``t`` is the tangent of the angle, the smaller root of
    ``t^2 + 2 theta t - 1 = 0`` with ``theta = (aqq - app) / (2 apq)``;
    the rotated diagonal is ``app - t apq`` and ``aqq + t apq``.
    """
    theta = (aqq - app) / (2.0 * apq)
    if abs(theta) > 1e150:
        t = 0.5 / theta
    else:
        t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
        if theta < 0.0:
            t = -t
    c = 1.0 / math.sqrt(t * t + 1.0)
    return t, c, t * c


@kernel()
def _jacobi_eigh(A, V):
    """Diagonalise the symmetric matrix ``A`` in place by cyclic Jacobi rotations.

    On return the diagonal of ``A`` holds the eigenvalues (unsorted) and the
    columns of ``V`` the eigenvectors. A rotation zeroing ``A[p, q]`` is skipped
    once ``|A[p, q]| <= eps * sqrt(|A[p, p] A[q, q]|)``, the criterion of
    Demmel & Veselić (1992) under which positive definite matrices get their
    eigenvalues to high relative accuracy, small ones included.

    Parameters
    ----------
    A : ndarray of shape (d, d)
        Symmetric matrix, overwritten.
    V : ndarray of shape (d, d)
        Output, overwritten with the orthogonal eigenvector matrix.
    """
    d = A.shape[0]
    for i in range(d):
        for j in range(d):
            V[i, j] = 1.0 if i == j else 0.0
    for _ in range(_JACOBI_MAX_SWEEPS):
        rotated = False
        for p in range(d - 1):
            for q in range(p + 1, d):
                apq = A[p, q]
                app = A[p, p]
                aqq = A[q, q]
                small = _EPS * math.sqrt(abs(app)) * math.sqrt(abs(aqq))
                if abs(apq) <= small or abs(apq) < _TINY:
                    A[p, q] = 0.0
                    A[q, p] = 0.0
                    continue
                rotated = True
                t, c, s = _jacobi_rotation(app, apq, aqq)
                A[p, p] = app - t * apq
                A[q, q] = aqq + t * apq
                A[p, q] = 0.0
                A[q, p] = 0.0
                for r in range(d):
                    if r != p and r != q:
                        arp = A[r, p]
                        arq = A[r, q]
                        A[r, p] = c * arp - s * arq
                        A[p, r] = A[r, p]
                        A[r, q] = s * arp + c * arq
                        A[q, r] = A[r, q]
                for r in range(d):
                    vrp = V[r, p]
                    vrq = V[r, q]
                    V[r, p] = c * vrp - s * vrq
                    V[r, q] = s * vrp + c * vrq
        if not rotated:
            return


@kernel()
def _sqrtm_psd(M, out):
    """Write the PSD square root of the symmetric matrix ``M`` into ``out``.

    Eigenvalues below ``d * eps * max(eigenvalues)`` (round-off on singular
    matrices) count as 0. Jacobi rotations up to ``JACOBI_MAX_D``, LAPACK's
    ``eigh`` above.

    Parameters
    ----------
    M : ndarray of shape (d, d)
        Symmetric positive semi-definite matrix.
    out : ndarray of shape (d, d)
        Output, overwritten.
    """
    d = M.shape[0]
    sym = np.empty((d, d))
    _symmetric_part(M, sym)
    if d <= JACOBI_MAX_D:
        vecs = np.empty((d, d))
        _jacobi_eigh(sym, vecs)
        vals = np.empty(d)
        for c in range(d):
            vals[c] = sym[c, c]
    else:
        vals, vecs = np.linalg.eigh(sym)
    _sqrt_from_eigen(vals, vecs, out)


@kernel()
def _sqrt_from_eigen(vals, vecs, out):
    """Write ``vecs diag(sqrt(vals)) vecs^T`` into ``out``.

    Eigenvalues at round-off level (below ``d * eps * max(vals)``) count as
    zero: their square roots, of size sqrt(eps), would be noise far above the
    accuracy of the others.
    """
    d = vals.shape[0]
    floor = 0.0
    for c in range(d):
        floor = max(floor, d * _EPS * vals[c])
    for a in range(d):
        for b in range(d):
            out[a, b] = 0.0
    for c in range(d):
        if vals[c] <= floor:
            continue
        root = np.sqrt(vals[c])
        for a in range(d):
            va = vecs[a, c] * root
            for b in range(d):
                out[a, b] += va * vecs[b, c]


@kernel()
def _sqrtm_psd_warm(M, V, out, X, T, Q, vals):
    """PSD square root of ``M`` by Jacobi rotations, warm-started from ``V``.

    ``V`` holds the eigenvectors of a nearby matrix (those of the previous
    call, in a fixed-point iteration) and is overwritten with those of ``M``:
    ``V^T M V`` is then nearly diagonal and Jacobi needs one or two sweeps
    instead of five or six.

    Parameters
    ----------
    M : ndarray of shape (d, d)
        Symmetric positive semi-definite matrix.
    V : ndarray of shape (d, d)
        Orthogonal matrix, updated in place (the identity for a cold start).
    out : ndarray of shape (d, d)
        Output, overwritten.
    X, T, Q : ndarray of shape (d, d)
        Scratch space.
    vals : ndarray of shape (d,)
        Scratch space.
    """
    d = M.shape[0]
    for a in range(d):
        for b in range(d):
            acc = 0.0
            for c in range(d):
                acc += M[a, c] * V[c, b]
            X[a, b] = acc
    for a in range(d):
        for b in range(a + 1):
            acc = 0.0
            for c in range(d):
                acc += V[c, a] * X[c, b]
            T[a, b] = acc
            T[b, a] = acc
    _jacobi_eigh(T, Q)
    for a in range(d):
        vals[a] = T[a, a]
        for b in range(d):
            acc = 0.0
            for c in range(d):
                acc += V[a, c] * Q[c, b]
            X[a, b] = acc
    _copy_into(X, V)
    _sqrt_from_eigen(vals, V, out)


@kernel()
def _psd_factor(S, F, G):
    """Factor ``S = F F^T`` and write a (pseudo-)inverse ``G`` of ``F``.

    Cholesky when ``S`` is safely positive definite (``F`` lower triangular,
    ``G = F^-1``). Otherwise, from the eigendecomposition ``S = V diag(l) V^T``,
    ``F = V diag(sqrt(l+))`` and ``G = diag(1 / sqrt(l+)) V^T`` (its
    pseudo-inverse), where eigenvalues below ``d * eps * max(l)`` count as zero.
    The columns of ``F`` for those eigenvalues are exactly zero, so a product
    ``F^T T F`` has exact zero rows and columns there instead of round-off whose
    square roots (of size sqrt(eps)) would spoil a Bures cost.

    Parameters
    ----------
    S : ndarray of shape (d, d)
        Symmetric positive semi-definite matrix.
    F, G : ndarray of shape (d, d)
        Outputs, overwritten.

    Returns
    -------
    triangular : bool
        True when ``F`` is the Cholesky factor (so lower triangular).
    rank : int
        ``d`` for a Cholesky factor, else the number of eigenvalues kept.
    """
    d = S.shape[0]
    if _cholesky_lower(S, F):
        _lower_inverse(F, G)
        return True, d
    return False, _eigen_factor(S, F, G)


@kernel()
def _eigen_factor(S, F, G):
    """Factor a singular ``S`` as ``_psd_factor`` does; return the rank kept."""
    d = S.shape[0]
    sym = np.empty((d, d))
    _symmetric_part(S, sym)
    vals, vecs = np.linalg.eigh(sym)
    top = 0.0
    for c in range(d):
        top = max(top, abs(vals[c]))
    floor = d * _EPS * top
    rank = 0
    for c in range(d):
        kept = vals[c] > floor
        root = np.sqrt(vals[c]) if kept else 0.0
        rank += 1 if kept else 0
        for a in range(d):
            F[a, c] = vecs[a, c] * root
            G[c, a] = vecs[a, c] / root if kept else 0.0
    return rank


@kernel()
def _congruence(F, T, triangular, W, out):
    """Write ``F^T T F`` (symmetric, both triangles) into ``out``.

    Parameters
    ----------
    F : ndarray of shape (d, d)
        Factor; lower triangular if ``triangular``.
    T : ndarray of shape (d, d)
        Symmetric matrix.
    triangular : bool
        Skip the structural zeros of a lower-triangular ``F``.
    W : ndarray of shape (d, d)
        Scratch space.
    out : ndarray of shape (d, d)
        Output, overwritten.
    """
    d = F.shape[0]
    # Row-by-row axpy loops: contiguous inner loops that vectorise.
    for a in range(d):
        for b in range(d):
            W[a, b] = 0.0
        for c in range(d):
            tac = T[a, c]
            stop = c + 1 if triangular else d
            for b in range(stop):
                W[a, b] += tac * F[c, b]
    for a in range(d):
        for b in range(d):
            out[a, b] = 0.0
        start = a if triangular else 0
        for c in range(start, d):
            fca = F[c, a]
            for b in range(d):
                out[a, b] += fca * W[c, b]
    for a in range(d):
        for b in range(a):
            sym = 0.5 * (out[a, b] + out[b, a])
            out[a, b] = sym
            out[b, a] = sym
