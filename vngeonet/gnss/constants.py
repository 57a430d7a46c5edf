"""Physical and system constants of the GNSS constellations, SI units.

Each system's broadcast orbit must be computed with the constants its ICD
defines (they differ in the last digits, which matters at the metre level
over an ephemeris' fit interval).

References
----------
IS-GPS-200N §20.3.3.4.3 (Table 20-IV: mu, Omega_e dot, F);
Galileo OS SIS ICD 2.1 §5.1.1 (GTRF);
BDS-SIS-ICD-B1I 3.0 §5.2.4 (CGCS2000);
GLONASS ICD 5.1 §3.1.3 and Appendix A.3 (PZ-90.11);
IRNSS SIS ICD for SPS 1.1 (WGS84 constants);
NIMA TR8350.2 (WGS84 ellipsoid).
"""

from __future__ import annotations

import math

C_MPS = 299792458.0  # speed of light in vacuum

# Earth rotation rates (rad/s)
OMEGA_E_RADPS = 7.2921151467e-5  # WGS84 / IS-GPS-200
OMEGA_E_GAL_RADPS = 7.2921151467e-5  # Galileo GTRF
OMEGA_E_BDS_RADPS = 7.2921150e-5  # CGCS2000
OMEGA_E_GLO_RADPS = 7.292115e-5  # PZ-90.11

# Earth gravitational constants GM (m^3/s^2)
GM_GPS_M3PS2 = 3.986005e14  # WGS84 as used by IS-GPS-200 (also QZSS, NavIC)
GM_GAL_M3PS2 = 3.986004418e14  # Galileo GTRF
GM_BDS_M3PS2 = 3.986004418e14  # CGCS2000
GM_GLO_M3PS2 = 3.986004418e14  # PZ-90.11

# PZ-90.11 Earth model used to integrate GLONASS orbits (GLONASS ICD 5.1 §3.1.3)
A_GLO_M = 6378136.0  # equatorial radius
J2_GLO = 1.0826257e-3  # second zonal harmonic (C20 = -J2)

# Ellipsoids: semi-major axis (m), flattening
WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
CGCS2000_A_M = 6378137.0
CGCS2000_F = 1.0 / 298.257222101
PZ90_A_M = 6378136.0
PZ90_F = 1.0 / 298.25784
GRS80_A_M = 6378137.0
GRS80_F = 1.0 / 298.257222101
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared
WGS84_B_M = WGS84_A_M * (1.0 - WGS84_F)

# BeiDou GEO satellites: the ICD's extra rotation of the orbital frame (-5 degrees)
BDS_GEO_INCL_RAD = math.radians(-5.0)
BDS_GEO_PRN_MAX = 5  # BDS-2 GEO: C01-C05
BDS3_GEO_PRN_MIN = 59  # BDS-3 GEO: C59-C63


def is_bds_geo(sat: str) -> bool:
    """True for BeiDou GEO satellites (C01-C05, C59-C63), whose orbits use the GEO algorithm.

    >>> is_bds_geo("C03"), is_bds_geo("C19"), is_bds_geo("C60"), is_bds_geo("G03")
    (True, False, True, False)
    """
    if not sat.startswith("C"):
        return False
    prn = int(sat[1:])
    return prn <= BDS_GEO_PRN_MAX or prn >= BDS3_GEO_PRN_MIN


def relativity_f(gm_m3ps2: float) -> float:
    """Relativistic clock constant F = -2 sqrt(GM) / c^2 (s/sqrt(m)).

    IS-GPS-200N §20.3.3.3.3.1: dt_r = F e sqrt(A) sin(E_k).

    >>> round(relativity_f(GM_GPS_M3PS2) * 1e10, 9)
    -4.442807633
    """
    return -2.0 * math.sqrt(gm_m3ps2) / C_MPS**2


# Per system letter: (GM, Earth rotation rate) for Keplerian broadcast orbits.
KEPLER_CONSTANTS: dict[str, tuple[float, float]] = {
    "G": (GM_GPS_M3PS2, OMEGA_E_RADPS),
    "J": (GM_GPS_M3PS2, OMEGA_E_RADPS),
    "I": (GM_GPS_M3PS2, OMEGA_E_RADPS),
    "E": (GM_GAL_M3PS2, OMEGA_E_GAL_RADPS),
    "C": (GM_BDS_M3PS2, OMEGA_E_BDS_RADPS),
}

SYSTEMS = "GRECJIS"  # RINEX 3 system letters handled by vngeonet (S = SBAS)
