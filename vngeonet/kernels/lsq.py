"""Per-epoch iterated weighted least squares for code positioning, with RAIM FDE.

Pure-Python/numpy twin of ``ext/lsq.pyx``: same function names, signatures,
dtypes and exceptions.  The twin is the specification.

Model (one row ``i`` per satellite observation of epoch ``k``)::

    y_i = |s_i - r| + OMEGA_E (s_x r_y - s_y r_x) / c + b_{sys(i)} + v_i

``y`` is the pseudorange already corrected for the satellite clock, group
delays, ionosphere and troposphere (m); ``s_i`` the satellite ECEF position at
transmit time (m); ``r`` the receiver position (m) and ``b_j`` the receiver
clock of system index ``j`` (m).  The second term is the Sagnac correction
(IS-GPS-200N §20.3.3.4.3.3.2; RTCM/IGS convention).

Unknowns ``x = [r_x, r_y, r_z, b_0 .. b_{nsys-1}]``; only systems with a used
row in the epoch get a clock column.  Gauss-Newton on the normal equations
``N dx = H^T W v`` with ``N = H^T W H`` solved by Cholesky.  ``H`` (m x nx)
rows are ``[-(s-r)^T/|s-r|, 0..1..0]``; ``W = diag(w)`` (1/m^2).

RAIM FDE: when the weighted sum of squared residuals exceeds
``chi2_thr[dof]`` (``dof = m - nx``), the row with the largest normalised
residual ``|v| sqrt(w)`` is excluded and the epoch solved again, at most
``max_excl`` times and never below ``dof = 1``.

Status codes (int32): see the ``ST_*`` constants.
"""

from __future__ import annotations

import numpy as np

OMEGA_E_RADPS = 7.2921151467e-5
C_MPS = 299792458.0
MAX_SYS = 8

ST_OK = 0
ST_FEW_SATS = 1
ST_NOT_CONVERGED = 2
ST_SINGULAR = 3
ST_CHI2 = 4


def _geometry(s, r):
    d = s - r
    rho = np.sqrt((d * d).sum(axis=1))
    rng = rho + OMEGA_E_RADPS * (s[:, 0] * r[1] - s[:, 1] * r[0]) / C_MPS
    return rng, -d / rho[:, None]


def _solve_once(s, y, w, cols, nx, x, max_iter, tol_m):
    """Gauss-Newton from ``x``; returns (x, status, v, N) with ``v`` the residuals."""
    m = len(y)
    h = np.zeros((m, nx))
    h[np.arange(m), cols] = 1.0
    nmat = None
    for _ in range(max_iter):
        rng, los = _geometry(s, x[:3])
        h[:, :3] = los
        v = y - rng - x[cols]
        hw = h * w[:, None]
        nmat = hw.T @ h
        try:
            lo = np.linalg.cholesky(nmat)
        except np.linalg.LinAlgError:
            return x, ST_SINGULAR, v, nmat
        dx = np.linalg.solve(lo.T, np.linalg.solve(lo, hw.T @ v))
        x = x + dx
        if np.sqrt(dx @ dx) < tol_m:
            rng, los = _geometry(s, x[:3])
            h[:, :3] = los
            hw = h * w[:, None]
            nmat = hw.T @ h
            return x, ST_OK, y - rng - x[cols], nmat
    rng, _ = _geometry(s, x[:3])
    return x, ST_NOT_CONVERGED, y - rng - x[cols], nmat


def _solve_epoch(s, y, w, si, used, x0, nsys, chi2_thr, max_iter, tol_m, max_excl):
    """One epoch; ``used`` (bool, local rows) is updated in place."""
    nsum = len(chi2_thr)
    pos = x0.copy()
    n_excl = 0
    while True:
        idx = np.flatnonzero(used)
        present = np.unique(si[idx])
        nx = 3 + len(present)
        if len(idx) < nx:
            return None, ST_FEW_SATS, None, None
        colmap = np.full(nsys, -1)
        colmap[present] = np.arange(3, nx)
        cols = colmap[si[idx]]
        x = np.zeros(nx)
        x[:3] = pos
        x, st, v, nmat = _solve_once(s[idx], y[idx], w[idx], cols, nx, x, max_iter, tol_m)
        if st != ST_OK:
            return None, st, None, None
        pos = x[:3]
        dof = len(idx) - nx
        resid = np.full(len(y), np.nan)
        resid[idx] = v
        xout = np.full(3 + nsys, np.nan)
        xout[:3] = x[:3]
        xout[3 + present] = x[3:]
        cov = np.linalg.inv(nmat)[:3, :3]
        if dof <= 0:
            return xout, ST_OK, resid, cov
        ssr = float((w[idx] * v * v).sum())
        thr = chi2_thr[min(dof, nsum - 1)]
        if ssr <= thr:
            return xout, ST_OK, resid, cov
        if n_excl >= max_excl or dof < 2:
            return xout, ST_CHI2, resid, cov
        worst = idx[np.argmax(np.abs(v) * np.sqrt(w[idx]))]
        used[worst] = False
        n_excl += 1


def solve_epochs(sv_pos_m, y_m, w, sys_idx, ep_start, x0_m, nsys, use, chi2_thr,
                 max_iter, tol_m, max_excl):
    """Solve every epoch; rows of epoch ``k`` are ``ep_start[k]:ep_start[k+1]``.

    Parameters
    ----------
    sv_pos_m : float64 (n, 3)
        Satellite ECEF positions at transmit time, metres.
    y_m : float64 (n,)
        Corrected pseudoranges, metres.
    w : float64 (n,)
        Weights 1/sigma^2, 1/m^2 (must be > 0 where ``use``).
    sys_idx : int32 (n,)
        System index of each row, ``0 <= sys_idx < nsys``.
    ep_start : int64 (n_ep + 1,)
        Epoch row boundaries (non-decreasing, ``ep_start[-1] == n``).
    x0_m : float64 (n_ep, 3)
        Initial receiver positions (ECEF, m); zeros start at the Earth's centre.
    nsys : int
        Number of system indices, ``1 <= nsys <= MAX_SYS``.
    use : uint8 (n,)
        1 for rows to use.
    chi2_thr : float64 (k,)
        Chi-square thresholds by degrees of freedom (entry 0 unused; ``dof >= k``
        uses the last entry).
    max_iter : int
        Gauss-Newton iterations per solve.
    tol_m : float
        Convergence threshold on ``|dx|``, metres.
    max_excl : int
        Maximum RAIM exclusions per epoch.

    Returns
    -------
    x_m : float64 (n_ep, 3 + nsys)
        Position and per-system clock (m); NaN where not solved / absent.
    status : int32 (n_ep,)
    resid_m : float64 (n,)
        Post-fit residuals of the rows used in the final solve (NaN elsewhere).
    used : uint8 (n,)
        Rows used in the final solve (``use`` minus RAIM exclusions).
    cov_m2 : float64 (n_ep, 3, 3)
        Position block of ``N^-1`` (m^2, NaN where not solved).

    Raises
    ------
    ValueError
        Inconsistent shapes or ``nsys`` out of range.
    """
    s = np.ascontiguousarray(sv_pos_m, dtype=np.float64)
    y = np.ascontiguousarray(y_m, dtype=np.float64)
    w = np.ascontiguousarray(w, dtype=np.float64)
    si = np.ascontiguousarray(sys_idx, dtype=np.int32)
    es = np.ascontiguousarray(ep_start, dtype=np.int64)
    x0 = np.ascontiguousarray(x0_m, dtype=np.float64)
    u = np.ascontiguousarray(use, dtype=np.uint8)
    thr = np.ascontiguousarray(chi2_thr, dtype=np.float64)
    _check(s, y, w, si, es, x0, nsys, u, thr)
    n, n_ep = len(y), len(es) - 1
    x_out = np.full((n_ep, 3 + nsys), np.nan)
    status = np.zeros(n_ep, np.int32)
    resid = np.full(n, np.nan)
    used = u.copy()
    cov = np.full((n_ep, 3, 3), np.nan)
    for k in range(n_ep):
        a, b = es[k], es[k + 1]
        loc = used[a:b].astype(bool)
        xk, st, rk, ck = _solve_epoch(s[a:b], y[a:b], w[a:b], si[a:b], loc, x0[k], nsys, thr,
                                      max_iter, tol_m, max_excl)
        status[k] = st
        used[a:b] = loc
        if xk is not None:
            x_out[k] = xk
            resid[a:b] = rk
            cov[k] = ck
    return x_out, status, resid, used, cov


def _check(s, y, w, si, es, x0, nsys, u, thr):
    n = len(y)
    if s.shape != (n, 3) or w.shape != (n,) or si.shape != (n,) or u.shape != (n,):
        raise ValueError("sv_pos_m (n,3), y_m, w, sys_idx and use (n,) must agree")
    if es.ndim != 1 or len(es) < 1 or es[0] != 0 or es[-1] != n or np.any(np.diff(es) < 0):
        raise ValueError("ep_start must run from 0 to n, non-decreasing")
    if x0.shape != (len(es) - 1, 3):
        raise ValueError("x0_m must have shape (n_ep, 3)")
    if not 1 <= nsys <= MAX_SYS:
        raise ValueError(f"nsys must be in 1..{MAX_SYS}")
    if n and (si.min() < 0 or si.max() >= nsys):
        raise ValueError("sys_idx out of range")
    if len(thr) < 2:
        raise ValueError("chi2_thr needs at least 2 entries")
