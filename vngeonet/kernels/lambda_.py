"""LAMBDA integer least squares: LtDL decomposition, Z-transform decorrelation, search.

Pure-Python/numpy twin of ``ext/lambda_.pyx``: same function names, signatures,
dtypes and exceptions.  The twin is the specification.

Problem: given a float ambiguity vector ``a`` (n,) with covariance ``Q`` (n, n)
find the integer vectors ``z`` minimising ``(z - a)^T Q^-1 (z - a)``, best
``m`` first.

Steps (Teunissen 1995; de Jonge & Tiberius 1996; Chang, Yang & Zhou 2005,
"MLAMBDA", J. Geodesy 79:552-565):

1. ``ltdl``: ``Q = L^T diag(D) L`` with ``L`` unit lower triangular.
2. ``reduction``: integer Gauss transformations and permutations (a
   unimodular ``Z``) so that ``Z^T Q Z = L'^T diag(D') L'`` is decorrelated
   and ``D'`` is close to descending (the last conditional variances small).
3. ``search``: depth-first enumeration with shrinking ellipsoid from the last
   component down (Schnorr-Euchner order), keeping the ``m`` best.

``lambda_`` chains them and maps the candidates back to the original space
(``a_int = Z^-T z``).

Exceptions: ``ValueError`` when ``Q`` is not positive definite or shapes
disagree; ``RuntimeError`` when the search exceeds ``MAX_LOOPS`` steps.
"""

from __future__ import annotations

import math

import numpy as np

MAX_LOOPS = 1_000_000


def _round(x: float) -> float:
    # floor(x + 0.5): the same rule in both backends (numpy's round is half-to-even).
    return float(math.floor(x + 0.5))


def ltdl(Q):
    """Factor ``Q = L^T diag(D) L``.

    Parameters
    ----------
    Q : ndarray of float64, shape (n, n)
        Symmetric positive definite covariance (cycles^2).

    Returns
    -------
    L : ndarray of float64, shape (n, n)
        Unit lower triangular.
    D : ndarray of float64, shape (n,)
        Conditional variances.

    Raises
    ------
    ValueError
        ``Q`` not square or not positive definite.
    """
    A = np.array(Q, dtype=np.float64, copy=True)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("Q must be a square matrix")
    n = A.shape[0]
    L = np.zeros((n, n))
    D = np.zeros(n)
    for i in range(n - 1, -1, -1):
        D[i] = A[i, i]
        if not D[i] > 0.0:
            raise ValueError("Q is not positive definite")
        a = np.sqrt(D[i])
        L[i, : i + 1] = A[i, : i + 1] / a
        for j in range(i):
            A[j, : j + 1] -= L[i, : j + 1] * L[i, j]
        L[i, : i + 1] /= L[i, i]
    return L, D


def _gauss(L, Z, i, j):
    L.shape[0]
    mu = _round(L[i, j])
    if mu != 0.0:
        L[i:, j] -= mu * L[i:, i]
        Z[:, j] -= mu * Z[:, i]


def _perm(L, D, j, delta, Z):
    L.shape[0]
    eta = D[j] / delta
    lam = D[j + 1] * L[j + 1, j] / delta
    D[j] = eta * D[j + 1]
    D[j + 1] = delta
    a0 = L[j, :j].copy()
    a1 = L[j + 1, :j].copy()
    L[j, :j] = -L[j + 1, j] * a0 + a1
    L[j + 1, :j] = eta * a0 + lam * a1
    L[j + 1, j] = lam
    t = L[j + 2 :, j].copy()
    L[j + 2 :, j] = L[j + 2 :, j + 1]
    L[j + 2 :, j + 1] = t
    t = Z[:, j].copy()
    Z[:, j] = Z[:, j + 1]
    Z[:, j + 1] = t


def reduction(L, D):
    """Decorrelate: returns ``(L', D', Z)`` with ``Z^T Q Z = L'^T diag(D') L'``.

    Parameters
    ----------
    L : ndarray of float64, shape (n, n)
    D : ndarray of float64, shape (n,)
        From :func:`ltdl` (not modified).

    Returns
    -------
    L, D : as above, for the transformed problem
    Z : ndarray of float64, shape (n, n)
        Unimodular integer matrix (integer values stored as float64).
    """
    L = np.array(L, dtype=np.float64, copy=True)
    D = np.array(D, dtype=np.float64, copy=True)
    n = D.shape[0]
    Z = np.eye(n)
    j = n - 2
    k = n - 2
    while j >= 0:
        if j > k:
            # rows below the last permutation need no Gauss step: test j, j-1, ..., k+1 at once
            # (the same floating-point expression as the scalar branch, so the same decisions)
            js = np.arange(j, k, -1)
            sub = L[js + 1, js]
            delta = D[js] + sub * sub * D[js + 1]
            hit = np.flatnonzero(delta + 1e-6 < D[js + 1])
            if hit.size:
                jj = int(js[hit[0]])
                _perm(L, D, jj, float(delta[hit[0]]), Z)
                k = jj
                j = n - 2
            else:
                j = k
            continue
        col = L[j + 1 :, j]
        # every multiplier is floor(l + 0.5) = 0 exactly when -0.5 <= l < 0.5: nothing to do
        if not np.all((col >= -0.5) & (col < 0.5)):
            for i in range(j + 1, n):
                _gauss(L, Z, i, j)
        delta = D[j] + L[j + 1, j] * L[j + 1, j] * D[j + 1]
        if delta + 1e-6 < D[j + 1]:
            _perm(L, D, j, delta, Z)
            k = j
            j = n - 2
        else:
            j -= 1
    return L, D, Z


def _sgn(x: float) -> float:
    return -1.0 if x <= 0.0 else 1.0


def search(zs, L, D, m):
    """The ``m`` best integer vectors of the (decorrelated) problem.

    Parameters
    ----------
    zs : ndarray of float64, shape (n,)
        Float ambiguities in the decorrelated space.
    L, D : from :func:`reduction`
    m : int
        Number of candidates (>= 1).

    Returns
    -------
    zn : ndarray of float64, shape (n, m)
        Candidates (integer values), best first.
    s : ndarray of float64, shape (m,)
        Their squared distances ``(z - zs)^T Qz^-1 (z - zs)``, ascending.

    Raises
    ------
    RuntimeError
        More than ``MAX_LOOPS`` search steps.
    """
    zs = np.asarray(zs, dtype=np.float64)
    n = zs.shape[0]
    if m < 1 or n < 1:
        raise ValueError("need n >= 1 and m >= 1")
    S = np.zeros((n, n))
    dist = [0.0] * n
    zb = [0.0] * n
    z = [0.0] * n
    step = [0.0] * n
    zn = np.zeros((n, m))
    s = np.zeros(m)
    zs, D = [float(v) for v in zs], [float(v) for v in D]
    k = n - 1
    zb[k] = zs[k]
    z[k] = _round(zb[k])
    y = zb[k] - z[k]
    step[k] = _sgn(y)
    maxdist = np.inf
    nn = 0
    imax = 0
    for _loop in range(MAX_LOOPS):
        newdist = dist[k] + y * y / D[k]
        if newdist < maxdist:
            if k != 0:
                k -= 1
                dist[k] = newdist
                S[k, : k + 1] = S[k + 1, : k + 1] + (z[k + 1] - zb[k + 1]) * L[k + 1, : k + 1]
                zb[k] = zs[k] + float(S[k, k])
                z[k] = _round(zb[k])
                y = zb[k] - z[k]
                step[k] = _sgn(y)
            else:
                if nn < m:
                    if nn == 0 or newdist > s[imax]:
                        imax = nn
                    zn[:, nn] = z
                    s[nn] = newdist
                    nn += 1
                else:
                    if newdist < s[imax]:
                        zn[:, imax] = z
                        s[imax] = newdist
                        imax = int(np.argmax(s))
                    maxdist = float(s[imax])
                z[0] += step[0]
                y = zb[0] - z[0]
                step[0] = -step[0] - _sgn(step[0])
        else:
            if k == n - 1:
                break
            k += 1
            z[k] += step[k]
            y = zb[k] - z[k]
            step[k] = -step[k] - _sgn(step[k])
    else:
        raise RuntimeError("LAMBDA search did not terminate")
    order = np.argsort(s[:nn], kind="stable")
    return zn[:, order], s[order]


def lambda_(a, Q, m):
    """Integer least-squares candidates of ``a`` with covariance ``Q``.

    Parameters
    ----------
    a : ndarray of float64, shape (n,)
        Float ambiguities (cycles).
    Q : ndarray of float64, shape (n, n)
        Their covariance (cycles^2), positive definite.
    m : int
        Number of candidates.

    Returns
    -------
    F : ndarray of float64, shape (n, m)
        Integer candidates in the original space, best first.
    s : ndarray of float64, shape (m,)
        Squared distances, ascending (``s[1] / s[0]`` is the ratio test).
    """
    a = np.asarray(a, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    if Q.shape != (a.shape[0], a.shape[0]):
        raise ValueError("Q must be (n, n) with n = len(a)")
    L, D = ltdl(Q)
    L, D, Z = reduction(L, D)
    zs = Z.T @ a
    zn, s = search(zs, L, D, m)
    F = np.linalg.solve(Z.T, zn)
    return np.floor(F + 0.5), s
