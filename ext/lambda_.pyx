# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled twin of ``vngeonet/kernels/lambda_.py`` (see there for the algorithm and API).

Same scalar operation order as the twin, so candidates and distances agree
exactly on well-posed problems.
"""

import numpy as np
from libc.math cimport sqrt, floor, INFINITY

MAX_LOOPS = 1000000
cdef long _MAX_LOOPS = 1000000


cdef inline double _round(double x) noexcept nogil:
    return floor(x + 0.5)


cdef inline double _sgn(double x) noexcept nogil:
    return -1.0 if x <= 0.0 else 1.0


def ltdl(Q):
    """Factor ``Q = L^T diag(D) L`` (see the twin)."""
    A_arr = np.array(Q, dtype=np.float64, copy=True)
    if A_arr.ndim != 2 or A_arr.shape[0] != A_arr.shape[1]:
        raise ValueError("Q must be a square matrix")
    cdef Py_ssize_t n = A_arr.shape[0]
    L_arr = np.zeros((n, n))
    D_arr = np.zeros(n)
    cdef double[:, ::1] A = A_arr
    cdef double[:, ::1] L = L_arr
    cdef double[::1] D = D_arr
    cdef Py_ssize_t i, j, k
    cdef double a
    cdef int bad = 0
    with nogil:
        for i in range(n - 1, -1, -1):
            D[i] = A[i, i]
            if not D[i] > 0.0:
                bad = 1
                break
            a = sqrt(D[i])
            for j in range(i + 1):
                L[i, j] = A[i, j] / a
            for j in range(i):
                for k in range(j + 1):
                    A[j, k] -= L[i, k] * L[i, j]
            for j in range(i + 1):
                L[i, j] /= L[i, i]
    if bad:
        raise ValueError("Q is not positive definite")
    return L_arr, D_arr


cdef void _gauss(double[:, ::1] L, double[:, ::1] Z, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    cdef Py_ssize_t n = L.shape[0], k
    cdef double mu = _round(L[i, j])
    if mu != 0.0:
        for k in range(i, n):
            L[k, j] -= mu * L[k, i]
        for k in range(n):
            Z[k, j] -= mu * Z[k, i]


cdef void _perm(double[:, ::1] L, double[::1] D, Py_ssize_t j, double delta,
                double[:, ::1] Z) noexcept nogil:
    cdef Py_ssize_t n = L.shape[0], k
    cdef double eta = D[j] / delta
    cdef double lam = D[j + 1] * L[j + 1, j] / delta
    cdef double a0, a1, t
    D[j] = eta * D[j + 1]
    D[j + 1] = delta
    for k in range(j):
        a0 = L[j, k]
        a1 = L[j + 1, k]
        L[j, k] = -L[j + 1, j] * a0 + a1
        L[j + 1, k] = eta * a0 + lam * a1
    L[j + 1, j] = lam
    for k in range(j + 2, n):
        t = L[k, j]
        L[k, j] = L[k, j + 1]
        L[k, j + 1] = t
    for k in range(n):
        t = Z[k, j]
        Z[k, j] = Z[k, j + 1]
        Z[k, j + 1] = t


def reduction(L, D):
    """Decorrelate: ``(L', D', Z)`` (see the twin)."""
    L_arr = np.array(L, dtype=np.float64, copy=True)
    D_arr = np.array(D, dtype=np.float64, copy=True)
    cdef Py_ssize_t n = D_arr.shape[0]
    Z_arr = np.eye(n)
    cdef double[:, ::1] Lv = L_arr
    cdef double[::1] Dv = D_arr
    cdef double[:, ::1] Zv = Z_arr
    cdef Py_ssize_t i, j = n - 2, k = n - 2
    cdef double delta
    with nogil:
        while j >= 0:
            if j <= k:
                for i in range(j + 1, n):
                    _gauss(Lv, Zv, i, j)
            delta = Dv[j] + Lv[j + 1, j] * Lv[j + 1, j] * Dv[j + 1]
            if delta + 1e-6 < Dv[j + 1]:
                _perm(Lv, Dv, j, delta, Zv)
                k = j
                j = n - 2
            else:
                j -= 1
    return L_arr, D_arr, Z_arr


def search(zs, L, D, int m):
    """The ``m`` best integer vectors of the decorrelated problem (see the twin)."""
    zs_arr = np.ascontiguousarray(zs, dtype=np.float64)
    cdef Py_ssize_t n = zs_arr.shape[0]
    if m < 1 or n < 1:
        raise ValueError("need n >= 1 and m >= 1")
    cdef double[::1] zsv = zs_arr
    cdef double[:, ::1] Lv = np.ascontiguousarray(L, dtype=np.float64)
    cdef double[::1] Dv = np.ascontiguousarray(D, dtype=np.float64)
    cdef double[:, ::1] S = np.zeros((n, n))
    cdef double[::1] dist = np.zeros(n)
    cdef double[::1] zb = np.zeros(n)
    cdef double[::1] z = np.zeros(n)
    cdef double[::1] step = np.zeros(n)
    zn_arr = np.zeros((n, m))
    s_arr = np.zeros(m)
    cdef double[:, ::1] zn = zn_arr
    cdef double[::1] s = s_arr
    cdef Py_ssize_t k = n - 1, i, nn = 0, imax = 0
    cdef long loop
    cdef double y, newdist, maxdist = INFINITY
    cdef int done = 0
    with nogil:
        zb[k] = zsv[k]
        z[k] = _round(zb[k])
        y = zb[k] - z[k]
        step[k] = _sgn(y)
        for loop in range(_MAX_LOOPS):
            newdist = dist[k] + y * y / Dv[k]
            if newdist < maxdist:
                if k != 0:
                    k -= 1
                    dist[k] = newdist
                    for i in range(k + 1):
                        S[k, i] = S[k + 1, i] + (z[k + 1] - zb[k + 1]) * Lv[k + 1, i]
                    zb[k] = zsv[k] + S[k, k]
                    z[k] = _round(zb[k])
                    y = zb[k] - z[k]
                    step[k] = _sgn(y)
                else:
                    if nn < m:
                        if nn == 0 or newdist > s[imax]:
                            imax = nn
                        for i in range(n):
                            zn[i, nn] = z[i]
                        s[nn] = newdist
                        nn += 1
                    else:
                        if newdist < s[imax]:
                            for i in range(n):
                                zn[i, imax] = z[i]
                            s[imax] = newdist
                            imax = 0
                            for i in range(1, m):
                                if s[i] > s[imax]:
                                    imax = i
                        maxdist = s[imax]
                    z[0] += step[0]
                    y = zb[0] - z[0]
                    step[0] = -step[0] - _sgn(step[0])
            else:
                if k == n - 1:
                    done = 1
                    break
                k += 1
                z[k] += step[k]
                y = zb[k] - z[k]
                step[k] = -step[k] - _sgn(step[k])
    if not done:
        raise RuntimeError("LAMBDA search did not terminate")
    order = np.argsort(s_arr[:nn], kind="stable")
    return zn_arr[:, order], s_arr[order]


def lambda_(a, Q, int m):
    """Integer least-squares candidates of ``a`` with covariance ``Q`` (see the twin)."""
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
