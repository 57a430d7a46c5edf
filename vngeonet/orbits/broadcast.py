"""Satellite position, velocity and clock from broadcast ephemerides, vectorised.

Keplerian orbits (GPS, QZSS, Galileo, BeiDou MEO/IGSO/GEO, NavIC) are
evaluated for many (ephemeris, time) pairs at once from a parameter table
(:func:`kepler_table`), so one call serves all satellites of an epoch or all
epochs of a satellite.  GLONASS orbits are integrated with 4th-order
Runge-Kutta in PZ-90 (central body, J2, centrifugal and Coriolis terms and
the broadcast lunisolar acceleration), once per ephemeris on a grid of nodes
(:func:`glonass_nodes`); positions and velocities at any time are then
cubic-Hermite interpolated between nodes (:func:`glonass_interp`).  SBAS GEO
ephemerides use the quadratic SBAS model.

All positions are ECEF of the system's own frame (WGS84, GTRF, CGCS2000,
PZ-90: they agree at the centimetre level) at the given transmit time, in
metres; no Earth-rotation (Sagnac) correction is applied here.

Clock offsets include the relativistic eccentricity term
``dt_r = F e sqrt(A) sin(E_k)`` and exclude group delays (TGD/BGD).

References
----------
IS-GPS-200N §20.3.3.3.3.1 (clock, relativity) and Table 20-IV (orbit);
IS-QZSS-PNT-005 §5.2.2.2.4; Galileo OS SIS ICD 2.1 §5.1.1 and §5.1.4;
BDS-SIS-ICD-B1I 3.0 §5.2.4.12 (GEO rotation Rx(-5 deg), Rz(omega_e t_k));
BDS-SIS-ICD-B1C 1.0 §7.8 (A_dot, delta_n0_dot); IRNSS SIS ICD 1.1 §6.2;
GLONASS ICD 5.1 §3.1.2 and Appendix A.3.1.2 (Runge-Kutta integration);
RTCA DO-229E Appendix A.4.4.11 (SBAS GEO navigation message);
IS-GPS-200N §30.3.3.1.3 (CNAV A_dot, delta_n0_dot).
"""

from __future__ import annotations

import math

import numpy as np

from vngeonet.gnss.constants import (
    A_GLO_M,
    BDS_GEO_INCL_RAD,
    GM_GLO_M3PS2,
    J2_GLO,
    KEPLER_CONSTANTS,
    OMEGA_E_GLO_RADPS,
    is_bds_geo,
    relativity_f,
)
from vngeonet.gnss.time import GPSTime
from vngeonet.model import GlonassEphemeris, KeplerEphemeris

# Columns of the Keplerian parameter table (see kepler_table).  The sine and
# cosine harmonic coefficients are adjacent (CUS, CRS, CIS then CUC, CRC, CIC)
# so that kepler_state_t takes them as (3, n) blocks without copying.
(
    TOE,
    TOC,
    SQRTA,
    ECC,
    I0,
    OMEGA0,
    OMEGA,
    M0,
    DN,
    IDOT,
    OMEGADOT,
    CUS,
    CRS,
    CIS,
    CUC,
    CRC,
    CIC,
    AF0,
    AF1,
    AF2,
    OMGE,
    FREL,
    GEO,
    ADOT,
    DNDOT,
    TOESOW,
    A0,
    N0,
    SQ1E2,
) = range(29)
N_KEPLER_COLS = 29

# Columns of the GLONASS/SBAS table: toe, state (6), lunisolar acc (3), tau_n, gamma_n
G_TOE, G_X, G_ACC, G_TAU, G_GAMMA = 0, 1, 7, 10, 11
N_GLO_COLS = 12

GLO_STEP_S = 30.0  # node spacing of the integrated GLONASS trajectories
GLO_HALF_SPAN_S = 1800.0  # nodes cover toe +- this (the selection's maximum age)
_KEPLER_ITERATIONS = 4  # Newton steps from E = M + e sin M: |E error| < 1e-15 rad for e < 0.2


def kepler_table(ephs: list[KeplerEphemeris]) -> np.ndarray:
    """Parameter table of Keplerian ephemerides, one row per ephemeris.

    Parameters
    ----------
    ephs : list of KeplerEphemeris

    Returns
    -------
    ndarray, shape (n, N_KEPLER_COLS), float64
        Columns named by the module constants ``TOE`` (GPS seconds), ``TOC``,
        ``SQRTA`` ... ``SQ1E2``, including the per-system constants
        (Earth rotation rate, relativistic F) and derived values (A0, n0).
    """
    tab = np.zeros((len(ephs), N_KEPLER_COLS))
    for i, k in enumerate(ephs):
        mu, omge = KEPLER_CONSTANTS.get(k.sat[0], KEPLER_CONSTANTS["G"])
        a0 = k.sqrt_a**2
        ex = k.extra or {}
        adot = ex.get("a_dot_mps", 0.0)
        dndot = ex.get("delta_n_dot_radps2", 0.0)
        row = tab[i]
        row[TOE], row[TOC], row[SQRTA], row[ECC] = k.toe.seconds, k.toc.seconds, k.sqrt_a, k.e
        row[I0], row[OMEGA0], row[OMEGA], row[M0] = k.i0_rad, k.omega0_rad, k.omega_rad, k.m0_rad
        row[DN], row[IDOT], row[OMEGADOT] = k.delta_n_radps, _f(k.idot_radps), k.omega_dot_radps
        row[CUS], row[CRS], row[CIS] = k.cus_rad, k.crs_m, k.cis_rad
        row[CUC], row[CRC], row[CIC] = k.cuc_rad, k.crc_m, k.cic_rad
        row[AF0], row[AF1], row[AF2] = k.af0_s, _f(k.af1_sps), _f(k.af2_sps2)
        # GEO by the ephemeris' own flag, else by PRN (ephemerides from RTCM 1042 carry no flag).
        geo = ex.get("geo", is_bds_geo(k.sat))
        row[OMGE], row[FREL], row[GEO] = omge, relativity_f(mu), 1.0 if geo else 0.0
        row[ADOT], row[DNDOT], row[TOESOW] = _f(adot), _f(dndot), k.toe_sow
        row[A0], row[N0], row[SQ1E2] = a0, math.sqrt(mu / a0**3), math.sqrt(1.0 - k.e**2)
    return tab


def _f(v) -> float:
    return 0.0 if v is None or not math.isfinite(v) else float(v)


def kepler_state(k: np.ndarray, t_s: np.ndarray):
    """Position, velocity and clock from Keplerian parameters, vectorised.

    Parameters
    ----------
    k : ndarray, shape (n, N_KEPLER_COLS)
        Rows of a :func:`kepler_table` (one per query).
    t_s : ndarray, shape (n,)
        Transmit times, GPS seconds.

    Returns
    -------
    pos_m : ndarray, shape (n, 3)
        ECEF position at ``t_s``.
    vel_mps : ndarray, shape (n, 3)
        ECEF velocity (analytic derivative of the orbit model).
    clk_s : ndarray, shape (n,)
        Clock offset including the relativistic term, excluding group delays.
    clk_drift_sps : ndarray, shape (n,)
        Clock drift including the relativistic term's rate.
    """
    return kepler_state_t(np.ascontiguousarray(np.asarray(k, dtype=float).T), t_s)


def kepler_state_t(kt: np.ndarray, t_s: np.ndarray):
    """:func:`kepler_state` for a transposed table ``kt`` of shape (N_KEPLER_COLS, n).

    The column-major layout keeps every parameter contiguous, which makes the
    few dozen small ufunc calls below cheap (the SPP hot path).
    """
    (
        toe,
        toc,
        sqrta,
        e,
        i0,
        omega0,
        omega,
        m0,
        dn,
        idot,
        omegadot,
        _cus,
        _crs,
        _cis,
        _cuc,
        _crc,
        _cic,
        af0,
        af1,
        af2,
        omge,
        frel,
        geo,
        adot,
        dndot,
        toesow,
        a0,
        n0,
        sq1e2,
    ) = kt
    n_q = len(t_s)
    tk = t_s - toe
    n = n0 + dn + 0.5 * dndot * tk
    a = a0 + adot * tk
    m = m0 + n * tk
    ea = m + e * np.sin(m)
    for _ in range(_KEPLER_ITERATIONS):
        ea -= (ea - e * np.sin(ea) - m) / (1.0 - e * np.cos(ea))
    sc = np.empty((2, n_q))
    np.sin(ea, out=sc[0])
    np.cos(ea, out=sc[1])
    se, ce = sc
    den = 1.0 - e * ce
    phi = np.arctan2(sq1e2 * se, ce - e) + omega
    trig = np.empty((2, n_q))
    np.sin(2.0 * phi, out=trig[0])
    np.cos(2.0 * phi, out=trig[1])
    s2, c2 = trig
    # harmonic corrections of u, r, i and their rates, in one (3, n) pass
    cs = kt[CUS : CUS + 3]  # (3, n): cus, crs, cis
    cc = kt[CUC : CUC + 3]  # (3, n): cuc, crc, cic
    corr = cs * s2 + cc * c2
    dcorr = 2.0 * (cs * c2 - cc * s2)
    edot = n / den
    phidot = edot * sq1e2 / den
    ang = np.empty((3, n_q))
    ang[0] = phi + corr[0]  # u
    ang[1] = i0 + corr[2] + idot * tk  # i
    omd = omegadot - omge * (1.0 - geo)
    ang[2] = omega0 + omd * tk - omge * toesow  # Omega
    sa, ca = np.sin(ang), np.cos(ang)
    su, si, so = sa
    cu, ci, co = ca
    r = a * den + corr[1]
    udot = phidot * (1.0 + dcorr[0])
    rdot = a * e * se * edot + phidot * dcorr[1] + adot * den
    incdot = idot + phidot * dcorr[2]
    xp, yp = r * cu, r * su
    xpd, ypd = rdot * cu - r * udot * su, rdot * su + r * udot * cu
    pos = np.empty((3, n_q))
    vel = np.empty((3, n_q))
    w = ypd * ci - yp * si * incdot
    yci = yp * ci
    pos[0] = xp * co - yci * so
    pos[1] = xp * so + yci * co
    pos[2] = yp * si
    vel[0] = xpd * co - w * so - pos[1] * omd
    vel[1] = xpd * so + w * co + pos[0] * omd
    vel[2] = ypd * si + yci * incdot
    if geo.any():
        _geo_rotate(pos, vel, geo, omge, tk)
    dtc = t_s - toc
    rel = frel * e * sqrta
    clk = af0 + dtc * (af1 + dtc * af2) + rel * se
    drift = af1 + 2.0 * af2 * dtc + rel * ce * edot
    return pos.T.copy(), vel.T.copy(), clk, drift


def _geo_rotate(pos, vel, geo, omge, tk) -> None:
    """BeiDou GEO: from the inertial-like frame to CGCS2000, Rz(omega_e t_k) Rx(-5 deg).

    BDS-SIS-ICD-B1I 3.0 §5.2.4.12.  ``pos``/``vel`` have shape (3, n) and are
    rotated in place; rows with ``geo == 0`` get the identity (both angles 0),
    which avoids fancy indexing in the hot path.
    """
    phi = BDS_GEO_INCL_RAD * geo
    cf, sf = np.cos(phi), np.sin(phi)
    w = omge * geo
    q = w * tk
    cq, sq = np.cos(q), np.sin(q)
    # Rx(phi) [x, y, z] = [x, y cf + z sf, -y sf + z cf]
    py, pz = pos[1] * cf + pos[2] * sf, pos[2] * cf - pos[1] * sf
    vy, vz = vel[1] * cf + vel[2] * sf, vel[2] * cf - vel[1] * sf
    px, vx = pos[0].copy(), vel[0].copy()
    # Rz(q) [x, y, z] = [cq x + sq y, -sq x + cq y, z]; d/dt Rz = w [[-sq, cq], [-cq, -sq]]
    pos[0] = cq * px + sq * py
    pos[1] = cq * py - sq * px
    pos[2] = pz
    vel[0] = cq * vx + sq * vy + w * pos[1]
    vel[1] = cq * vy - sq * vx - w * pos[0]
    vel[2] = vz


# --------------------------------------------------------------------------- GLONASS


def glonass_table(ephs: list[GlonassEphemeris]) -> np.ndarray:
    """Table of GLONASS (or SBAS) ephemerides: toe, x y z vx vy vz, ax ay az, tau_n, gamma_n."""
    tab = np.zeros((len(ephs), N_GLO_COLS))
    for i, g in enumerate(ephs):
        tab[i] = (g.toe.seconds, *g.pos_m, *g.vel_mps, *g.acc_mps2, g.tau_n_s, g.gamma_n)
    return tab


def glonass_deriv(x: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Time derivative of GLONASS states in the rotating PZ-90 frame.

    Parameters
    ----------
    x : ndarray, shape (m, 6)
        Position (m) and velocity (m/s).
    acc : ndarray, shape (m, 3)
        Broadcast lunisolar acceleration (m/s^2), constant over the fit.

    Returns
    -------
    ndarray, shape (m, 6)
        Velocity and acceleration (GLONASS ICD 5.1 Appendix A.3.1.2).
    """
    r2 = np.einsum("ij,ij->i", x[:, :3], x[:, :3])
    r = np.sqrt(r2)
    r3 = r2 * r
    a = 1.5 * J2_GLO * GM_GLO_M3PS2 * A_GLO_M**2 / (r2 * r3)
    b = 5.0 * x[:, 2] ** 2 / r2
    c = -GM_GLO_M3PS2 / r3 - a * (1.0 - b)
    w2 = OMEGA_E_GLO_RADPS**2
    out = np.empty_like(x)
    out[:, :3] = x[:, 3:]
    out[:, 3] = (c + w2) * x[:, 0] + 2.0 * OMEGA_E_GLO_RADPS * x[:, 4] + acc[:, 0]
    out[:, 4] = (c + w2) * x[:, 1] - 2.0 * OMEGA_E_GLO_RADPS * x[:, 3] + acc[:, 1]
    out[:, 5] = (c - 2.0 * a) * x[:, 2] + acc[:, 2]
    return out


def glonass_rk4(x: np.ndarray, acc: np.ndarray, h: np.ndarray | float) -> np.ndarray:
    """One Runge-Kutta 4 step of length ``h`` (s, scalar or per row) for states ``x`` (m, 6)."""
    h = np.asarray(h, dtype=float).reshape(-1, 1) if np.ndim(h) else float(h)
    k1 = glonass_deriv(x, acc)
    k2 = glonass_deriv(x + 0.5 * h * k1, acc)
    k3 = glonass_deriv(x + 0.5 * h * k2, acc)
    k4 = glonass_deriv(x + h * k3, acc)
    return x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def glonass_nodes(
    tab: np.ndarray, step_s: float = GLO_STEP_S, half_span_s: float = GLO_HALF_SPAN_S
):
    """Integrate every GLONASS ephemeris of ``tab`` to nodes at toe + k step, |k step| <= half span.

    Returns
    -------
    pos_m, vel_mps : ndarray, shape (m, 2 N + 1, 3)
        Node states; node ``N`` is the broadcast state at toe.
    """
    nh = round(half_span_s / step_s)
    m = len(tab)
    pos = np.empty((m, 2 * nh + 1, 3))
    vel = np.empty((m, 2 * nh + 1, 3))
    x0 = tab[:, G_X : G_X + 6]
    acc = tab[:, G_ACC : G_ACC + 3]
    pos[:, nh], vel[:, nh] = x0[:, :3], x0[:, 3:]
    for sign in (1.0, -1.0):
        x = x0.copy()
        for j in range(1, nh + 1):
            x = glonass_rk4(x, acc, sign * step_s)
            col = nh + int(sign) * j
            pos[:, col], vel[:, col] = x[:, :3], x[:, 3:]
    return pos, vel


def glonass_interp(pos_nodes, vel_nodes, ieph, dt_s, step_s: float = GLO_STEP_S):
    """Cubic Hermite interpolation of integrated GLONASS nodes.

    Parameters
    ----------
    pos_nodes, vel_nodes : ndarray, shape (m, 2 N + 1, 3)
        From :func:`glonass_nodes`.
    ieph : ndarray of int, shape (n,)
        Row of each query in the node arrays.
    dt_s : ndarray, shape (n,)
        Time from toe, seconds (clipped to the node span).

    Returns
    -------
    pos_m, vel_mps : ndarray, shape (n, 3)
        Interpolation error < 1 mm for 30 s nodes (4th derivative of the
        orbit ~ n^4 r ~ 1.5e-8 m/s^4).
    """
    nh = (pos_nodes.shape[1] - 1) // 2
    u = np.clip(dt_s / step_s + nh, 0.0, 2.0 * nh)
    j = np.minimum(u.astype(np.intp), 2 * nh - 1)
    s = (u - j)[:, None]
    p0, p1 = pos_nodes[ieph, j], pos_nodes[ieph, j + 1]
    v0, v1 = vel_nodes[ieph, j] * step_s, vel_nodes[ieph, j + 1] * step_s
    s2 = s * s
    s3 = s2 * s
    pos = (
        (2 * s3 - 3 * s2 + 1) * p0
        + (s3 - 2 * s2 + s) * v0
        + (3 * s2 - 2 * s3) * p1
        + (s3 - s2) * v1
    )
    vel = (
        (6 * s2 - 6 * s) * p0
        + (3 * s2 - 4 * s + 1) * v0
        + (6 * s - 6 * s2) * p1
        + (3 * s2 - 2 * s) * v1
    ) / step_s
    return pos, vel


def glonass_clock(g: np.ndarray, t_s: np.ndarray):
    """Clock offset and drift: ``-tau_n + gamma_n (t - t_b)`` (GLONASS ICD 5.1 §3.3.3; SBAS a_Gf0, a_Gf1)."""
    dt = t_s - g[:, G_TOE]
    return -g[:, G_TAU] + g[:, G_GAMMA] * dt, g[:, G_GAMMA].copy()


def sbas_state(g: np.ndarray, t_s: np.ndarray):
    """SBAS GEO position and velocity: x + v dt + a dt^2 / 2 (DO-229E A.4.4.11)."""
    dt = (t_s - g[:, G_TOE])[:, None]
    x, v, a = g[:, G_X : G_X + 3], g[:, G_X + 3 : G_X + 6], g[:, G_ACC : G_ACC + 3]
    return x + v * dt + 0.5 * a * dt * dt, v + a * dt


# --------------------------------------------------------------------------- one ephemeris


def eph_state(eph: KeplerEphemeris | GlonassEphemeris, t: GPSTime | float):
    """Position (3,), velocity (3,), clock offset and drift of one ephemeris at GPS time ``t``.

    GLONASS is integrated directly from toe (RK4, steps of at most 30 s);
    SBAS uses the quadratic model.

    Examples
    --------
    >>> pos, vel, clk, drift = eph_state(eph, GPSTime(2112, 345600.0))  # doctest: +SKIP
    """
    t_s = np.array([t.seconds if isinstance(t, GPSTime) else float(t)])
    if isinstance(eph, KeplerEphemeris):
        pos, vel, clk, drift = kepler_state(kepler_table([eph]), t_s)
        return pos[0], vel[0], float(clk[0]), float(drift[0])
    g = glonass_table([eph])
    clk, drift = glonass_clock(g, t_s)
    if eph.sat.startswith("S"):
        pos, vel = sbas_state(g, t_s)
        return pos[0], vel[0], float(clk[0]), float(drift[0])
    dt = float(t_s[0] - g[0, G_TOE])
    nstep = max(1, math.ceil(abs(dt) / GLO_STEP_S))
    x = g[:, G_X : G_X + 6].copy()
    acc = g[:, G_ACC : G_ACC + 3]
    for _ in range(nstep):
        x = glonass_rk4(x, acc, dt / nstep)
    return x[0, :3], x[0, 3:], float(clk[0]), float(drift[0])
