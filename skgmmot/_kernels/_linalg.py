"""Small dense linear algebra on (d, d) symmetric matrices, inside numba kernels.

These helpers are called once per pair of Gaussians, so they avoid LAPACK's
per-call overhead where it dominates (eigenvalues of small matrices) and never
allocate inside a call: every output and scratch array is passed in.
"""

import numpy as np

from skgmmot._kernels._jit import kernel

_EPS = np.finfo(np.float64).eps


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
def _eigvalsh_inplace(A, diag, off, v, p):
    """Eigenvalues of the symmetric matrix ``A``, written into ``diag``.

    Householder reduction to tridiagonal form followed by the implicit QL
    iteration with Wilkinson shifts (Golub & Van Loan, "Matrix Computations",
    sections 8.3.1 and 8.3.5). About ``2 d^3`` flops and no allocation, which
    for d <= 64 beats a LAPACK call made from inside a parallel loop.

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
    # Householder: at step k, reflect rows/columns k+1.. so that column k
    # becomes zero below the subdiagonal. off[k + 1] keeps that subdiagonal.
    off[0] = 0.0
    for k in range(n - 2):
        scale = 0.0
        for i in range(k + 1, n):
            scale += abs(A[i, k])
        if scale == 0.0:
            off[k + 1] = 0.0
            continue
        sigma = 0.0
        for i in range(k + 1, n):
            v[i] = A[i, k] / scale
            sigma += v[i] * v[i]
        x0 = v[k + 1]
        alpha = -np.sqrt(sigma) if x0 >= 0.0 else np.sqrt(sigma)
        off[k + 1] = alpha * scale
        v[k + 1] = x0 - alpha
        vtv = sigma - x0 * x0 + v[k + 1] * v[k + 1]
        if vtv == 0.0:
            continue
        beta = 2.0 / vtv
        # p = beta A v, accumulated by rows of the symmetric A so that the
        # inner loop is a contiguous axpy (vectorised without reassociation).
        for i in range(k + 1, n):
            p[i] = 0.0
        for j in range(k + 1, n):
            bv = beta * v[j]
            for i in range(k + 1, n):
                p[i] += bv * A[j, i]
        vp = 0.0
        for i in range(k + 1, n):
            vp += v[i] * p[i]
        half = 0.5 * beta * vp
        for i in range(k + 1, n):
            p[i] -= half * v[i]
        for i in range(k + 1, n):
            for j in range(k + 1, n):
                A[i, j] -= v[i] * p[j] + p[i] * v[j]
    for i in range(n):
        diag[i] = A[i, i]
    if n >= 2:
        off[n - 1] = A[n - 1, n - 2]
    # Shift so that off[i] couples diag[i] and diag[i + 1].
    for i in range(n - 1):
        off[i] = off[i + 1]
    off[n - 1] = 0.0

    # Implicit QL with Wilkinson shifts on the tridiagonal (diag, off).
    for l in range(n):
        for _ in range(64):
            m = l
            while m < n - 1:
                dd = abs(diag[m]) + abs(diag[m + 1])
                if abs(off[m]) <= _EPS * dd:
                    break
                m += 1
            if m == l:
                break
            g = (diag[l + 1] - diag[l]) / (2.0 * off[l])
            r = np.sqrt(g * g + 1.0)
            g = diag[m] - diag[l] + off[l] / (g + (r if g >= 0.0 else -r))
            s = 1.0
            c = 1.0
            shift = 0.0
            i = m - 1
            deflated = False
            while i >= l:
                f = s * off[i]
                b = c * off[i]
                r = np.sqrt(f * f + g * g)
                off[i + 1] = r
                if r == 0.0:
                    diag[i + 1] -= shift
                    off[m] = 0.0
                    deflated = True
                    break
                s = f / r
                c = g / r
                g = diag[i + 1] - shift
                r = (diag[i] - g) * s + 2.0 * c * b
                shift = s * r
                diag[i + 1] = g + shift
                g = c * r - b
                i -= 1
            if deflated:
                continue
            diag[l] -= shift
            off[l] = g
            off[m] = 0.0


@kernel()
def _sqrtm_psd(M, out):
    """Write the PSD square root of the symmetric matrix ``M`` into ``out``.

    Eigenvalues below zero (round-off on singular matrices) are clipped to 0.

    Parameters
    ----------
    M : ndarray of shape (d, d)
        Symmetric positive semi-definite matrix.
    out : ndarray of shape (d, d)
        Output, overwritten.
    """
    d = M.shape[0]
    sym = 0.5 * (M + M.T)
    vals, vecs = np.linalg.eigh(sym)
    for a in range(d):
        for b in range(d):
            out[a, b] = 0.0
    for c in range(d):
        root = np.sqrt(max(vals[c], 0.0))
        for a in range(d):
            va = vecs[a, c] * root
            for b in range(d):
                out[a, b] += va * vecs[b, c]


@kernel()
def _psd_factor(S, F, G):
    """Factor ``S = F F^T`` and write a (pseudo-)inverse ``G`` of ``F``.

    Cholesky when ``S`` is safely positive definite (``F`` lower triangular,
    ``G = F^-1``); otherwise the symmetric square root from an eigendecomposition
    with eigenvalues clipped at zero (``F = S^1/2``, ``G`` its pseudo-inverse,
    treating eigenvalues below ``d * eps * max`` as zero).

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
    """
    if _cholesky_lower(S, F):
        _lower_inverse(F, G)
        return True
    d = S.shape[0]
    sym = 0.5 * (S + S.T)
    vals, vecs = np.linalg.eigh(sym)
    top = 0.0
    for c in range(d):
        top = max(top, abs(vals[c]))
    floor = d * _EPS * top
    for a in range(d):
        for b in range(d):
            F[a, b] = 0.0
            G[a, b] = 0.0
    for c in range(d):
        if vals[c] > floor:
            root = np.sqrt(vals[c])
            for a in range(d):
                for b in range(d):
                    prod = vecs[a, c] * vecs[b, c]
                    F[a, b] += prod * root
                    G[a, b] += prod / root
    return False


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
