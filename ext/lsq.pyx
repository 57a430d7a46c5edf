# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled twin of ``vngeonet/kernels/lsq.py`` (see there for the model and API).

The epoch loop runs without the GIL; normal equations are accumulated row by
row (no design matrix is stored) and solved by Cholesky in fixed-size C arrays.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt, fabs, NAN

from vngeonet.kernels.lsq import _check, MAX_SYS, OMEGA_E_RADPS, C_MPS

cdef double OMEGA_E = 7.2921151467e-5
cdef double CLIGHT = 299792458.0

cdef enum:
    MAXX = 11  # 3 + MAX_SYS

cpdef enum:
    ST_OK = 0
    ST_FEW_SATS = 1
    ST_NOT_CONVERGED = 2
    ST_SINGULAR = 3
    ST_CHI2 = 4


cdef inline double _range_los(const double[:, ::1] s, Py_ssize_t i, double* r, double* los) noexcept nogil:
    cdef double dx = s[i, 0] - r[0]
    cdef double dy = s[i, 1] - r[1]
    cdef double dz = s[i, 2] - r[2]
    cdef double rho = sqrt(dx * dx + dy * dy + dz * dz)
    los[0] = -dx / rho
    los[1] = -dy / rho
    los[2] = -dz / rho
    return rho + OMEGA_E * (s[i, 0] * r[1] - s[i, 1] * r[0]) / CLIGHT


cdef int _cholesky(double* a, int n) noexcept nogil:
    """In-place lower Cholesky of the n x n row-major matrix ``a``; 0 on success."""
    cdef int i, j, k
    cdef double t
    for j in range(n):
        t = a[j * n + j]
        for k in range(j):
            t -= a[j * n + k] * a[j * n + k]
        if t <= 0.0:
            return -1
        a[j * n + j] = sqrt(t)
        for i in range(j + 1, n):
            t = a[i * n + j]
            for k in range(j):
                t -= a[i * n + k] * a[j * n + k]
            a[i * n + j] = t / a[j * n + j]
    return 0


cdef void _chol_solve(const double* l, int n, double* b) noexcept nogil:
    """Solve L L^T x = b in place."""
    cdef int i, k
    cdef double t
    for i in range(n):
        t = b[i]
        for k in range(i):
            t -= l[i * n + k] * b[k]
        b[i] = t / l[i * n + i]
    for i in range(n - 1, -1, -1):
        t = b[i]
        for k in range(i + 1, n):
            t -= l[k * n + i] * b[k]
        b[i] = t / l[i * n + i]


cdef int _normal(const double[:, ::1] s, const double[::1] y, const double[::1] w,
                 const int* col, const unsigned char* used, Py_ssize_t a, Py_ssize_t b,
                 double* x, int nx, double* nmat, double* rhs, double* v) noexcept nogil:
    """Accumulate N and H^T W v at ``x``; residuals into ``v[i - a]``."""
    cdef Py_ssize_t i
    cdef int p, q, c
    cdef double los[3]
    cdef double h[MAXX]
    cdef double rng, vi, wi
    for p in range(nx * nx):
        nmat[p] = 0.0
    for p in range(nx):
        rhs[p] = 0.0
    for i in range(a, b):
        if not used[i - a]:
            continue
        c = col[i - a]
        rng = _range_los(s, i, x, los)
        vi = y[i] - rng - x[c]
        v[i - a] = vi
        wi = w[i]
        for p in range(nx):
            h[p] = 0.0
        h[0] = los[0]
        h[1] = los[1]
        h[2] = los[2]
        h[c] = 1.0
        for p in range(nx):
            if h[p] == 0.0:
                continue
            rhs[p] += wi * h[p] * vi
            for q in range(nx):
                nmat[p * nx + q] += wi * h[p] * h[q]
    return 0


cdef int _solve_epoch(const double[:, ::1] s, const double[::1] y, const double[::1] w,
                      const int[::1] si, Py_ssize_t a, Py_ssize_t b, unsigned char* used,
                      int* col, double* v, const double* x0, int nsys,
                      const double[::1] thr, int max_iter, double tol, int max_excl,
                      double* xout, double* cov) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j, it, nx, m, n_excl = 0, dof, st
    cdef int present[MAXX]
    cdef int colmap[MAXX]
    cdef double x[MAXX]
    cdef double nmat[MAXX * MAXX]
    cdef double rhs[MAXX]
    cdef double e[MAXX]
    cdef double step, ssr, t, best
    cdef Py_ssize_t worst
    cdef double pos[3]
    pos[0] = x0[0]; pos[1] = x0[1]; pos[2] = x0[2]
    while True:
        for j in range(nsys):
            present[j] = 0
        m = 0
        for i in range(a, b):
            if used[i - a]:
                present[si[i]] = 1
                m += 1
        nx = 3
        for j in range(nsys):
            colmap[j] = -1
            if present[j]:
                colmap[j] = nx
                nx += 1
        if m < nx:
            return ST_FEW_SATS
        for i in range(a, b):
            col[i - a] = colmap[si[i]]
        for j in range(nx):
            x[j] = 0.0
        x[0] = pos[0]; x[1] = pos[1]; x[2] = pos[2]
        st = ST_NOT_CONVERGED
        for it in range(max_iter):
            _normal(s, y, w, col, used, a, b, x, nx, nmat, rhs, v)
            if _cholesky(nmat, nx) != 0:
                return ST_SINGULAR
            _chol_solve(nmat, nx, rhs)
            step = 0.0
            for j in range(nx):
                x[j] += rhs[j]
                step += rhs[j] * rhs[j]
            if sqrt(step) < tol:
                st = ST_OK
                break
        if st != ST_OK:
            return st
        _normal(s, y, w, col, used, a, b, x, nx, nmat, rhs, v)
        if _cholesky(nmat, nx) != 0:
            return ST_SINGULAR
        pos[0] = x[0]; pos[1] = x[1]; pos[2] = x[2]
        for j in range(3 + nsys):
            xout[j] = NAN
        xout[0] = x[0]; xout[1] = x[1]; xout[2] = x[2]
        for j in range(nsys):
            if colmap[j] >= 0:
                xout[3 + j] = x[colmap[j]]
        for j in range(3):  # columns 0..2 of N^-1
            for i in range(nx):
                e[i] = 0.0
            e[j] = 1.0
            _chol_solve(nmat, nx, e)
            cov[0 * 3 + j] = e[0]; cov[1 * 3 + j] = e[1]; cov[2 * 3 + j] = e[2]
        dof = m - nx
        if dof <= 0:
            return ST_OK
        ssr = 0.0
        best = -1.0
        worst = -1
        for i in range(a, b):
            if used[i - a]:
                ssr += w[i] * v[i - a] * v[i - a]
                t = fabs(v[i - a]) * sqrt(w[i])
                if t > best:
                    best = t
                    worst = i
        t = thr[dof] if dof < thr.shape[0] else thr[thr.shape[0] - 1]
        if ssr <= t:
            return ST_OK
        if n_excl >= max_excl or dof < 2:
            return ST_CHI2
        used[worst - a] = 0
        n_excl += 1


def solve_epochs(sv_pos_m, y_m, w, sys_idx, ep_start, x0_m, nsys, use, chi2_thr,
                 max_iter, tol_m, max_excl):
    """See :func:`vngeonet.kernels.lsq.solve_epochs`."""
    s_a = np.ascontiguousarray(sv_pos_m, dtype=np.float64)
    y_a = np.ascontiguousarray(y_m, dtype=np.float64)
    w_a = np.ascontiguousarray(w, dtype=np.float64)
    si_a = np.ascontiguousarray(sys_idx, dtype=np.int32)
    es_a = np.ascontiguousarray(ep_start, dtype=np.int64)
    x0_a = np.ascontiguousarray(x0_m, dtype=np.float64)
    u_a = np.ascontiguousarray(use, dtype=np.uint8)
    thr_a = np.ascontiguousarray(chi2_thr, dtype=np.float64)
    _check(s_a, y_a, w_a, si_a, es_a, x0_a, nsys, u_a, thr_a)
    cdef Py_ssize_t n = y_a.shape[0], n_ep = es_a.shape[0] - 1, k, i, a, b, maxm = 0
    x_out = np.full((n_ep, 3 + nsys), np.nan)
    status = np.zeros(n_ep, np.int32)
    resid = np.full(n, np.nan)
    used = u_a.copy()
    cov = np.full((n_ep, 3, 3), np.nan)
    for k in range(n_ep):
        maxm = max(maxm, es_a[k + 1] - es_a[k])
    col_a = np.zeros(max(maxm, 1), np.int32)
    v_a = np.zeros(max(maxm, 1), np.float64)
    xk_a = np.zeros(3 + nsys, np.float64)
    ck_a = np.zeros(9, np.float64)
    cdef const double[:, ::1] s = s_a
    cdef const double[::1] yv = y_a, wv = w_a, thr = thr_a
    cdef const int[::1] si = si_a
    cdef const cnp.int64_t[::1] es = es_a
    cdef const double[:, ::1] x0 = x0_a
    cdef unsigned char[::1] uv = used
    cdef int[::1] col = col_a
    cdef double[::1] vv = v_a, xk = xk_a, ck = ck_a
    cdef double[:, ::1] xo = x_out
    cdef double[::1] rv = resid
    cdef double[:, :, ::1] cv = cov
    cdef int[::1] stv = status
    cdef int ns = nsys, mi = max_iter, me = max_excl, st, j
    cdef double tol = tol_m
    if n == 0:
        status[:] = ST_FEW_SATS
        return x_out, status, resid, used, cov
    cdef unsigned char* up = &uv[0]
    with nogil:
        for k in range(n_ep):
            a = es[k]
            b = es[k + 1]
            st = _solve_epoch(s, yv, wv, si, a, b, up + a,
                              &col[0], &vv[0], &x0[k, 0], ns, thr, mi, tol, me, &xk[0], &ck[0])
            stv[k] = st
            if st == ST_OK or st == ST_CHI2:
                for j in range(3 + ns):
                    xo[k, j] = xk[j]
                for j in range(9):
                    cv[k, j // 3, j % 3] = ck[j]
                for i in range(a, b):
                    if uv[i]:
                        rv[i] = vv[i - a]
    return x_out, status, resid, used, cov
