"""Propagation and geometry models for code positioning, vectorised over observations.

* Ionosphere: GPS/QZSS Klobuchar (IS-GPS-200N §20.3.3.5.2.5) and the BeiDou
  variant (BDS-SIS-ICD-B1I 3.0 §5.2.4.7).  Galileo NeQuick-G is **not**
  implemented; the documented fallback (see :func:`iono_broadcast`) is the
  dual-frequency ionosphere-free combination when a second frequency exists
  (the solver's default, better than any broadcast model), else the GPS
  Klobuchar coefficients, else the BeiDou ones, else no correction with an
  inflated variance.
* Troposphere: Saastamoinen zenith delays with the standard atmosphere
  (Saastamoinen 1972; pressure/temperature after the 1976 US standard
  atmosphere, 70 % relative humidity), mapped with the Niell (1996)
  hydrostatic and wet mapping functions (Niell, J. Geophys. Res. 101(B2),
  1996, Table 3, including the hydrostatic height correction).
* Geometry: azimuth/elevation via :mod:`vngeonet.gnss.coords`; DOPs from the
  unweighted line-of-sight matrix in the local ENU frame.

All arrays are float64; angles are radians unless a name says ``_deg``.
"""

from __future__ import annotations

import numpy as np

C_MPS = 299792458.0
PI_GPS = 3.1415926535898  # IS-GPS-200 value of pi used with semicircles

# Niell 1996 Table 3: rows a, b, c; columns latitude 15, 30, 45, 60, 75 deg.
_NMF_LAT_DEG = np.array([15.0, 30.0, 45.0, 60.0, 75.0])
_NMF_HYD_AVG = np.array([
    [1.2769934e-3, 1.2683230e-3, 1.2465397e-3, 1.2196049e-3, 1.2045996e-3],
    [2.9153695e-3, 2.9152299e-3, 2.9288445e-3, 2.9022565e-3, 2.9024912e-3],
    [62.610505e-3, 62.837393e-3, 63.721774e-3, 63.824265e-3, 64.258455e-3],
])
_NMF_HYD_AMP = np.array([
    [0.0, 1.2709626e-5, 2.6523662e-5, 3.4000452e-5, 4.1202191e-5],
    [0.0, 2.1414979e-5, 3.0160779e-5, 7.2562722e-5, 11.723375e-5],
    [0.0, 9.0128400e-5, 4.3497037e-5, 84.795348e-5, 170.37206e-5],
])
_NMF_WET = np.array([
    [5.8021897e-4, 5.6794847e-4, 5.8118019e-4, 5.9727542e-4, 6.1641693e-4],
    [1.4275268e-3, 1.5138625e-3, 1.4572752e-3, 1.5007428e-3, 1.7599082e-3],
    [4.3472961e-2, 4.6729510e-2, 4.3908931e-2, 4.4626982e-2, 5.4736038e-2],
])
_NMF_HT = (2.53e-5, 5.49e-3, 1.14e-3)


def _continued_fraction(sin_el, a, b, c):
    """Marini continued fraction normalised to 1 at zenith (Niell 1996 eq. 4)."""
    top = 1.0 + a / (1.0 + b / (1.0 + c))
    return top / (sin_el + a / (sin_el + b / (sin_el + c)))


def niell(el_rad, lat_rad, h_m, doy) -> tuple[np.ndarray, np.ndarray]:
    """Niell hydrostatic and wet mapping functions.

    Parameters
    ----------
    el_rad, lat_rad, h_m, doy : array_like, broadcastable
        Elevation, geodetic latitude, ellipsoidal height (m) and day of year
        (fractional; UT).

    Returns
    -------
    m_hyd, m_wet : ndarray
        Mapping factors (dimensionless, 1 at zenith).
    """
    ch, cw = _niell_coefficients(np.asarray(lat_rad, dtype=np.float64), np.asarray(doy, dtype=np.float64))
    return _niell_map(np.asarray(el_rad, dtype=np.float64), np.asarray(h_m, dtype=np.float64), ch, cw)


def _niell_coefficients(lat, doy):
    """Hydrostatic and wet (a, b, c) at the latitudes and days of year (Niell 1996 eq. 5)."""
    alat = np.abs(np.degrees(lat))
    # seasonal phase: reference day 28 in the north, +half a year in the south
    phase = 2.0 * np.pi * (doy - 28.0) / 365.25 + np.where(lat < 0, np.pi, 0.0)
    cos_p = np.cos(phase)
    coef_h = [np.interp(alat, _NMF_LAT_DEG, _NMF_HYD_AVG[i])
              - np.interp(alat, _NMF_LAT_DEG, _NMF_HYD_AMP[i]) * cos_p for i in range(3)]
    coef_w = [np.interp(alat, _NMF_LAT_DEG, _NMF_WET[i]) for i in range(3)]
    return coef_h, coef_w


def _niell_map(el, h, coef_h, coef_w):
    s = np.sin(np.maximum(el, 1e-3))
    m_h = _continued_fraction(s, *coef_h)
    dm = 1.0 / s - _continued_fraction(s, *_NMF_HT)
    m_h = m_h + dm * h * 1e-3
    m_w = _continued_fraction(s, *coef_w)
    return m_h, m_w


def saastamoinen_zenith(lat_rad, h_m, humidity: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Saastamoinen zenith hydrostatic and wet delays (m) for a standard atmosphere.

    Pressure ``P = 1013.25 (1 - 2.2557e-5 h)^5.2568`` hPa, temperature
    ``15 - 6.5e-3 h`` deg C, water-vapour pressure from the relative
    ``humidity`` (Magnus formula).  Heights are clipped to [-500, 10000] m.
    """
    h = np.clip(np.asarray(h_m, dtype=np.float64), -500.0, 1e4)
    lat = np.asarray(lat_rad, dtype=np.float64)
    p_hpa = 1013.25 * (1.0 - 2.2557e-5 * h) ** 5.2568
    t_k = 15.0 - 6.5e-3 * h + 273.15
    e_hpa = 6.108 * humidity * np.exp((17.15 * t_k - 4684.0) / (t_k - 38.45))
    zhd = 0.0022768 * p_hpa / (1.0 - 0.00266 * np.cos(2.0 * lat) - 0.00028 * h * 1e-3)
    zwd = 0.002277 * (1255.0 / t_k + 0.05) * e_hpa
    return zhd, zwd


def tropo_delay(el_rad, lat_rad, h_m, doy, idx=None) -> tuple[np.ndarray, np.ndarray]:
    """Slant tropospheric delay (m) and its variance (m^2).

    Saastamoinen zenith delays mapped with Niell; the variance
    ``(0.1 m * m_hyd)^2`` covers the standard-atmosphere error (a few cm at
    zenith, growing with the mapping).  Non-positive elevations give 0.

    ``lat_rad``, ``h_m`` and ``doy`` may be given per receiver epoch with
    ``idx`` mapping each elevation to its epoch (the zenith delays and
    mapping coefficients are then computed once per epoch).
    """
    el = np.asarray(el_rad, dtype=np.float64)
    lat = np.asarray(lat_rad, dtype=np.float64)
    h = np.asarray(h_m, dtype=np.float64)
    day = np.asarray(doy, dtype=np.float64)
    zhd, zwd = saastamoinen_zenith(lat, h)
    ch, cw = _niell_coefficients(lat, day)
    if idx is not None:
        zhd, zwd, h = zhd[idx], zwd[idx], h[idx]
        ch = [c[idx] for c in ch]
        cw = [c[idx] for c in cw]
    m_h, m_w = _niell_map(el, h, ch, cw)
    d = np.where(el > 0, zhd * m_h + zwd * m_w, 0.0)
    var = (0.1 * m_h) ** 2
    return d, var


def _ipp_spherical(lat_rad, lon_rad, az_rad, el_rad, psi):
    """Geographic latitude/longitude (rad) of the ionospheric pierce point."""
    phi = np.arcsin(np.clip(np.sin(lat_rad) * np.cos(psi)
                            + np.cos(lat_rad) * np.sin(psi) * np.cos(az_rad), -1, 1))
    lam = lon_rad + np.arcsin(np.clip(np.sin(psi) * np.sin(az_rad) / np.cos(phi), -1, 1))
    return phi, lam


def klobuchar_gps(alpha, beta, lat_rad, lon_rad, az_rad, el_rad, tow_s) -> np.ndarray:
    """GPS broadcast (Klobuchar) ionospheric delay on L1, metres.

    IS-GPS-200N §20.3.3.5.2.5, Figure 20-4: semicircle arithmetic, 350 km
    shell, geomagnetic latitude of the pierce point, cosine daytime term with
    a 5 ns night floor.

    Parameters
    ----------
    alpha, beta : sequence of 4 floats
        Broadcast coefficients (s, s/semicircle^n; s, s/semicircle^n).
    lat_rad, lon_rad : array_like
        Receiver geodetic latitude and longitude.
    az_rad, el_rad : array_like
        Satellite azimuth and elevation.
    tow_s : array_like
        GPS seconds of week of the observation.

    Returns
    -------
    ndarray
        Delay on L1 (1575.42 MHz), metres; scale by ``(f_L1/f)^2`` for another frequency.
    """
    e = np.asarray(el_rad, dtype=np.float64) / PI_GPS  # semicircles
    a = np.asarray(az_rad, dtype=np.float64)
    psi = 0.0137 / (e + 0.11) - 0.022
    phi = np.asarray(lat_rad) / PI_GPS + psi * np.cos(a)
    phi = np.clip(phi, -0.416, 0.416)
    lam = np.asarray(lon_rad) / PI_GPS + psi * np.sin(a) / np.cos(phi * PI_GPS)
    phim = phi + 0.064 * np.cos((lam - 1.617) * PI_GPS)
    t = np.mod(43200.0 * lam + np.asarray(tow_s, dtype=np.float64), 86400.0)
    f = 1.0 + 16.0 * (0.53 - e) ** 3
    amp = np.polyval(np.asarray(alpha, dtype=np.float64)[::-1], phim)
    per = np.polyval(np.asarray(beta, dtype=np.float64)[::-1], phim)
    amp = np.maximum(amp, 0.0)
    per = np.maximum(per, 72000.0)
    x = 2.0 * np.pi * (t - 50400.0) / per
    day = np.where(np.abs(x) < 1.57, amp * (1.0 - x * x / 2.0 + x ** 4 / 24.0), 0.0)
    return C_MPS * f * (5e-9 + day)


def klobuchar_bds(alpha, beta, lat_rad, lon_rad, az_rad, el_rad, bdt_sow) -> np.ndarray:
    """BeiDou broadcast (Klobuchar-type) ionospheric delay on B1I, metres.

    BDS-SIS-ICD-B1I 3.0 §5.2.4.7: geographic pierce point on a 375 km shell
    over a spherical Earth (R = 6378 km), amplitude/period polynomials in the
    pierce-point latitude, period bounded to [72000, 172800] s, BDT local time.

    Returns
    -------
    ndarray
        Delay on B1I (1561.098 MHz), metres.
    """
    re, hion = 6378.0e3, 375.0e3
    el = np.asarray(el_rad, dtype=np.float64)
    lat = np.asarray(lat_rad, dtype=np.float64)
    psi = np.pi / 2 - el - np.arcsin(re / (re + hion) * np.cos(el))
    phi, lam = _ipp_spherical(lat, np.asarray(lon_rad, dtype=np.float64), az_rad, el, psi)
    phim = np.abs(phi / np.pi)
    amp = np.maximum(np.polyval(np.asarray(alpha, dtype=np.float64)[::-1], phim), 0.0)
    per = np.clip(np.polyval(np.asarray(beta, dtype=np.float64)[::-1], phim), 72000.0, 172800.0)
    t = np.mod(np.asarray(bdt_sow, dtype=np.float64) + lam * 43200.0 / np.pi, 86400.0)
    dz = np.where(np.abs(t - 50400.0) < per / 4.0,
                  5e-9 + amp * np.cos(2.0 * np.pi * (t - 50400.0) / per), 5e-9)
    obliq = 1.0 / np.sqrt(1.0 - (re / (re + hion) * np.cos(el)) ** 2)
    return C_MPS * dz * obliq


F_L1_HZ = 1575.42e6
F_B1I_HZ = 1561.098e6


def iono_broadcast(system, freq_hz, iono: dict, lat_rad, lon_rad, az_rad, el_rad, tow_s,
                   err_ratio: float = 0.5):
    """Broadcast ionospheric delay (m) and variance (m^2) per observation.

    Model per system letter (array ``system`` of single characters):
    GPS/QZSS/SBAS/GLONASS/NavIC/Galileo use GPS Klobuchar (``"GPSA"``/``"GPSB"``,
    QZSS's own ``"QZSA"``/``"QZSB"`` for J when present); BeiDou uses
    ``"BDSA"``/``"BDSB"``.  When a system's coefficients are missing the other
    family is used (Galileo included: NeQuick-G is not implemented), and with
    none at all the delay is 0 with a variance of (5 m)^2.  Delays scale with
    ``(f_ref / freq_hz)^2``; the variance is ``(err_ratio I)^2`` (Klobuchar
    removes roughly half of the delay, hence the default 0.5).

    Parameters
    ----------
    system : ndarray of '<U1', shape (n,)
    freq_hz : ndarray, shape (n,)
        Carrier frequency of each observation.
    iono : dict
        As ``NavData.iono`` (keys "GPSA", "GPSB", "BDSA", "BDSB", "QZSA", "QZSB", ...).
    tow_s : ndarray, shape (n,)
        GPS seconds of week.
    """
    sysarr = np.asarray(system)
    n = sysarr.shape[0]
    out = np.zeros(n)
    var = np.full(n, 25.0)
    gps = _pair(iono, "GPS")
    bds = _pair(iono, "BDS")
    qzs = _pair(iono, "QZS") or gps
    args = (lat_rad, lon_rad, az_rad, el_rad)
    for model, mask in (("C", sysarr == "C"), ("J", sysarr == "J"), ("*", (sysarr != "C") & (sysarr != "J"))):
        if not mask.any():
            continue
        coeffs = {"C": bds or gps, "J": qzs or bds, "*": gps or bds}[model]
        if coeffs is None:
            continue
        use_bds = coeffs is bds
        sel = [np.broadcast_to(np.asarray(a, dtype=np.float64), (n,))[mask] for a in args]
        t = np.broadcast_to(np.asarray(tow_s, dtype=np.float64), (n,))[mask]
        if use_bds:
            d = klobuchar_bds(*coeffs, *sel, t - 14.0) * (F_B1I_HZ / freq_hz[mask]) ** 2
        else:
            d = klobuchar_gps(*coeffs, *sel, t) * (F_L1_HZ / freq_hz[mask]) ** 2
        out[mask] = d
        var[mask] = (err_ratio * d) ** 2
    return out, var


def has_klobuchar(iono: dict) -> bool:
    """True when ``iono`` holds usable GPS, QZSS or BeiDou Klobuchar coefficients."""
    return any(_pair(iono or {}, p) is not None for p in ("GPS", "BDS", "QZS"))


def _pair(iono: dict, prefix: str):
    a, b = iono.get(prefix + "A"), iono.get(prefix + "B")
    if a is None or b is None or len(a) < 4 or len(b) < 4:
        return None
    a4 = np.asarray(a[:4], dtype=np.float64)
    b4 = np.asarray(b[:4], dtype=np.float64)
    if not (np.all(np.isfinite(a4)) and np.all(np.isfinite(b4))) or not np.any(a4):
        return None
    return a4, b4




def normal_blocks(h, ep_start, y=None, weight=None):
    """Per-epoch normal matrices ``sum h h^T`` (n_ep, k, k), right-hand sides ``sum h y``
    (n_ep, k) and sums of ``weight`` (n_ep,) for row ranges ``ep_start[k]:ep_start[k+1]``.

    Only the upper triangle is accumulated (one ``reduceat`` over (n, k(k+1)/2)).
    """
    n_ep = len(ep_start) - 1
    k = h.shape[1]
    iu = np.triu_indices(k)
    cols = [h[:, iu[0]] * h[:, iu[1]]]
    if y is not None:
        cols.append(h * y[:, None])
    if weight is not None:
        cols.append(weight[:, None])
    a = np.concatenate(cols, axis=1)
    sums = np.zeros((n_ep, a.shape[1]))
    nonempty = np.flatnonzero(np.diff(ep_start) > 0)
    if len(nonempty):
        sums[nonempty] = np.add.reduceat(a, np.asarray(ep_start)[nonempty], axis=0)
    nt = len(iu[0])
    nmat = np.zeros((n_ep, k, k))
    nmat[:, iu[0], iu[1]] = sums[:, :nt]
    nmat[:, iu[1], iu[0]] = sums[:, :nt]
    rhs = sums[:, nt:nt + k] if y is not None else None
    wsum = sums[:, -1] if weight is not None else None
    return nmat, rhs, wsum


def dops(e_unit, ep_start, use=None) -> np.ndarray:
    """Dilution of precision per epoch from line-of-sight unit vectors.

    Parameters
    ----------
    e_unit : ndarray, shape (n, 3)
        Receiver-to-satellite unit vectors in the local ENU frame of each epoch.
    ep_start : ndarray of int64, shape (n_ep + 1,)
        Row ranges: epoch ``k`` owns rows ``ep_start[k]:ep_start[k+1]``.
    use : ndarray of bool, shape (n,), optional
        Rows that count (default all).

    Returns
    -------
    ndarray, shape (n_ep, 4)
        GDOP, PDOP, HDOP, VDOP (one receiver clock); NaN where fewer than 4 rows.
    """
    n_ep = len(ep_start) - 1
    out = np.full((n_ep, 4), np.nan)
    if n_ep == 0:
        return out
    e = np.asarray(e_unit, dtype=np.float64)
    u = np.ones(len(e), bool) if use is None else np.asarray(use, bool)
    h = np.where(u[:, None], np.column_stack([-e, np.ones(len(e))]), 0.0)
    nmat, _, cnt = normal_blocks(h, ep_start, weight=u.astype(np.float64))
    ok = cnt >= 4
    ok &= np.abs(np.linalg.det(np.where(ok[:, None, None], nmat, np.eye(4)))) > 1e-12
    if not ok.any():
        return out
    q = np.linalg.inv(nmat[ok])
    d = np.diagonal(q, axis1=1, axis2=2)
    out[ok, 0] = np.sqrt(d.sum(axis=1))
    out[ok, 1] = np.sqrt(d[:, :3].sum(axis=1))
    out[ok, 2] = np.sqrt(d[:, :2].sum(axis=1))
    out[ok, 3] = np.sqrt(d[:, 2])
    return out
