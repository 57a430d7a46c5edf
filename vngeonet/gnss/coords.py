"""Earth-centred coordinates: ECEF <-> geodetic (LLH), local ENU frames, azimuth/elevation.

All functions are vectorised: positions are arrays of shape (3,) or (n, 3)
and the result has the matching shape.  Angles are radians unless a name
says ``_deg``.  The ellipsoid defaults to WGS84; GRS80 differs from it only
in the flattening (by ~0.1 mm at the poles) and is available as ``GRS80``.

References
----------
NIMA TR8350.2 (WGS84) §3; Moritz, "Geodetic Reference System 1980",
Bull. Géod. 54 (1980); Bowring, "Transformation from spatial to geographical
coordinates", Survey Review 23 (1976); Hofmann-Wellenhof et al., "GNSS",
Springer 2008, §10.2 (local level frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Ellipsoid:
    """A reference ellipsoid: semi-major axis ``a_m`` and flattening ``f``."""

    a_m: float
    f: float

    @property
    def e2(self) -> float:
        """First eccentricity squared."""
        return self.f * (2.0 - self.f)

    @property
    def b_m(self) -> float:
        """Semi-minor axis, metres."""
        return self.a_m * (1.0 - self.f)


WGS84 = Ellipsoid(6378137.0, 1.0 / 298.257223563)
GRS80 = Ellipsoid(6378137.0, 1.0 / 298.257222101)


def ecef_to_llh(xyz_m, ell: Ellipsoid = WGS84) -> np.ndarray:
    """Geodetic latitude, longitude (rad) and ellipsoidal height (m) of ECEF points.

    Bowring's formula followed by two fixed-point refinements; the result is
    accurate to well below 1e-9 m for any point above the Earth's centre
    region (|r| > 1 km), including the poles.

    Parameters
    ----------
    xyz_m : array_like, shape (3,) or (n, 3)
        ECEF coordinates, metres.
    ell : Ellipsoid

    Returns
    -------
    ndarray, shape (3,) or (n, 3)
        ``[lat_rad, lon_rad, h_m]``.

    Examples
    --------
    >>> llh = ecef_to_llh([6378137.0, 0.0, 0.0])
    >>> [round(float(v), 6) for v in llh]
    [0.0, 0.0, 0.0]
    """
    p_ = np.asarray(xyz_m, dtype=np.float64)
    p2 = np.atleast_2d(p_)
    x, y, z = p2[:, 0], p2[:, 1], p2[:, 2]
    a, e2, b = ell.a_m, ell.e2, ell.b_m
    ep2 = e2 / (1.0 - e2)
    p = np.hypot(x, y)
    th = np.arctan2(z * a, p * b)
    lat = np.arctan2(z + ep2 * b * np.sin(th) ** 3, p - e2 * a * np.cos(th) ** 3)
    for _ in range(2):
        s = np.sin(lat)
        n = a / np.sqrt(1.0 - e2 * s * s)
        h = _height(p, z, lat, n, e2)
        lat = np.arctan2(z, p * (1.0 - e2 * n / (n + h)))
    s = np.sin(lat)
    n = a / np.sqrt(1.0 - e2 * s * s)
    h = _height(p, z, lat, n, e2)
    lon = np.arctan2(y, x)
    out = np.stack([lat, lon, h], axis=-1)
    return out[0] if p_.ndim == 1 else out


def _height(p, z, lat, n, e2):
    c, s = np.cos(lat), np.sin(lat)
    # Use whichever of the two equivalent forms is well conditioned.
    return np.where(np.abs(c) > 1e-3, p / np.where(c == 0, 1.0, c) - n,
                    z / np.where(s == 0, 1.0, s) - n * (1.0 - e2))


def llh_to_ecef(llh, ell: Ellipsoid = WGS84) -> np.ndarray:
    """ECEF coordinates (m) of geodetic ``[lat_rad, lon_rad, h_m]``, shape (3,) or (n, 3).

    Examples
    --------
    >>> [round(float(v), 3) for v in llh_to_ecef([0.0, 0.0, 0.0])]
    [6378137.0, 0.0, 0.0]
    """
    q = np.asarray(llh, dtype=np.float64)
    q2 = np.atleast_2d(q)
    lat, lon, h = q2[:, 0], q2[:, 1], q2[:, 2]
    s = np.sin(lat)
    n = ell.a_m / np.sqrt(1.0 - ell.e2 * s * s)
    x = (n + h) * np.cos(lat) * np.cos(lon)
    y = (n + h) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - ell.e2) + h) * s
    out = np.stack([x, y, z], axis=-1)
    return out[0] if q.ndim == 1 else out


def enu_rotation(lat_rad, lon_rad) -> np.ndarray:
    """Rotation matrix ECEF -> local East/North/Up at geodetic (lat, lon).

    Returns
    -------
    ndarray, shape (3, 3) for scalars or (n, 3, 3) for arrays
        Rows are the unit vectors e, n, u in ECEF, so ``enu = R @ d_ecef``.
    """
    la = np.asarray(lat_rad, dtype=np.float64)
    lo = np.asarray(lon_rad, dtype=np.float64)
    sl, cl = np.sin(la), np.cos(la)
    so, co = np.sin(lo), np.cos(lo)
    zero = np.zeros_like(sl * so)
    r = np.stack(
        [
            np.stack([-so + zero, co + zero, zero], axis=-1),
            np.stack([-sl * co, -sl * so, cl + zero], axis=-1),
            np.stack([cl * co, cl * so, sl + zero], axis=-1),
        ],
        axis=-2,
    )
    return r


def ecef_to_enu(xyz_m, ref_ecef_m, ell: Ellipsoid = WGS84) -> np.ndarray:
    """East/North/Up (m) of ECEF points relative to the reference point ``ref_ecef_m``.

    Parameters
    ----------
    xyz_m : array_like, shape (3,) or (n, 3)
        Points, ECEF metres.
    ref_ecef_m : array_like, shape (3,)
        Origin of the local frame, ECEF metres.

    Returns
    -------
    ndarray, shape like ``xyz_m``
    """
    ref = np.asarray(ref_ecef_m, dtype=np.float64)
    llh = ecef_to_llh(ref, ell)
    r = enu_rotation(llh[0], llh[1])
    d = np.asarray(xyz_m, dtype=np.float64) - ref
    return d @ r.T


def enu_to_ecef(enu_m, ref_ecef_m, ell: Ellipsoid = WGS84) -> np.ndarray:
    """Inverse of :func:`ecef_to_enu`: ECEF points from ENU offsets about ``ref_ecef_m``."""
    ref = np.asarray(ref_ecef_m, dtype=np.float64)
    llh = ecef_to_llh(ref, ell)
    r = enu_rotation(llh[0], llh[1])
    return np.asarray(enu_m, dtype=np.float64) @ r + ref


def az_el(rx_ecef_m, sv_ecef_m, ell: Ellipsoid = WGS84) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation (rad) of satellites seen from receivers.

    Parameters
    ----------
    rx_ecef_m : array_like, shape (3,) or (n, 3)
        Receiver position(s), ECEF metres (broadcast against ``sv_ecef_m``).
    sv_ecef_m : array_like, shape (3,) or (n, 3)
        Satellite position(s), ECEF metres.

    Returns
    -------
    az_rad, el_rad : ndarray, shape (n,) or scalar arrays
        Azimuth clockwise from north in [0, 2 pi); elevation in [-pi/2, pi/2].
        A receiver near the Earth's centre (|r| < 1 km) gets elevation pi/2.
    """
    rx = np.asarray(rx_ecef_m, dtype=np.float64)
    sv = np.asarray(sv_ecef_m, dtype=np.float64)
    llh = ecef_to_llh(rx, ell)
    r = enu_rotation(llh[..., 0], llh[..., 1])
    d = sv - rx
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    enu = np.einsum("...ij,...j->...i", r, d)
    az = np.mod(np.arctan2(enu[..., 0], enu[..., 1]), 2.0 * np.pi)
    el = np.arcsin(np.clip(enu[..., 2], -1.0, 1.0))
    centre = np.linalg.norm(rx, axis=-1) < 1e3
    el = np.where(centre, np.pi / 2, el)
    return az, el
