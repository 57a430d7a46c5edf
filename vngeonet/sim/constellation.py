"""Nominal constellations as broadcast ephemerides.

The simulator's satellites follow perfect Keplerian orbits (GPS, Galileo,
BeiDou) whose broadcast ephemerides are exact, so that what a receiver
computes from the simulated ephemeris messages is the simulated truth.
GLONASS satellites are integrated with the same PZ-90 equations (J2, no
lunisolar term) the broadcast algorithm uses, and each broadcast state is a
sample of that one continuous trajectory.

Where the numbers come from
---------------------------
* GPS: the baseline 24-slot constellation of the GPS SPS Performance
  Standard (4th ed. 2008, Table 3.1-1; also 2001 ed. Table 3-1): six planes
  A-F with RAAN 272.847 + 60 k degrees and the slots' arguments of latitude at
  the defined epoch 1993-07-01 00:00Z, Greenwich hour angle 18h36m14.4s;
  inclination 55 deg, semi-major axis 26,559.7 km, circular.
* Galileo: Walker 24/3/1 at 29,600.318 km, 56 deg (Galileo OS SDD §2.1).
* BeiDou-3 MEO: Walker 24/3/1 at 27,906.1 km, 55 deg; IGSO: 3 satellites at
  42,164.2 km, 55 deg, ground track centred on 118 deg E; GEO C01-C05 at 140,
  80, 110.5, 160 and 58.75 deg E, exactly geostationary, broadcast with the
  GEO algorithm (BDS OS SIS ICD 3.0 §3; BDS-SIS-ICD-B1I 3.0 §5.2.4.12; BDS
  Open Service Performance Standard 3.0 §2.1).
* GLONASS: 3 planes x 8 slots, 45 deg apart with 15 deg shift between
  planes, 25,510 km, 64.8 deg (GLONASS ICD 5.1 §3.1.2); frequency channels
  of the slots as published by the Information and Analysis Center (antipodal
  satellites share a channel).

Node longitudes are fixed in inertial space (no nodal regression) and the
inertial frame is tied to ECEF by rotating at the WGS84 rate from the GPS
epoch; UT1 and precession are ignored.  That is a simplification of the
real sky, not of the broadcast algorithms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vngeonet.gnss import constants as K
from vngeonet.gnss.time import GPSTime, gps_to_bdt
from vngeonet.model import GlonassEphemeris, KeplerEphemeris

_T1993_GPS_S = GPSTime.from_datetime(__import__("datetime").datetime(1993, 7, 1)).seconds + 8.0
_GHA1993_DEG = (18 + 36 / 60 + 14.4 / 3600) * 15.0

# (plane RAAN deg, [argument of latitude deg of slots 1..4]) at the 1993-07-01 epoch
_GPS_SLOTS = {
    "A": (272.847, (268.126, 161.786, 11.676, 41.806)),
    "B": (332.847, (80.956, 173.336, 309.976, 204.376)),
    "C": (32.847, (111.876, 11.796, 339.666, 241.556)),
    "D": (92.847, (135.226, 265.446, 35.156, 167.356)),
    "E": (152.847, (197.046, 302.596, 66.066, 333.686)),
    "F": (212.847, (238.886, 345.226, 105.206, 135.346)),
}
# BeiDou-2 GEO slots C01-C05, degrees east (BDS OS SIS ICD B1I 3.0 §3.1).
BDS_GEO_LON_DEG = (140.0, 80.0, 110.5, 160.0, 58.75)
GLONASS_CHANNELS = (1, -4, 5, 6, 1, -4, 5, 6, -2, -7, 0, -1, -2, -7, 0, -1,
                    4, -3, 3, 2, 4, -3, 3, 2)  # k of slots 1..24


@dataclass(frozen=True, slots=True)
class Orbit:
    """A circular orbit: node longitude and argument of latitude at t = 0 (GPS epoch)."""

    sat: str
    a_m: float
    incl_rad: float
    node_rad: float  # inertial node, expressed as ECEF longitude at GPS time 0 (GEO: its longitude)
    u0_rad: float  # argument of latitude at GPS time 0
    gm: float
    geo: bool = False  # geostationary: fixed in ECEF at longitude node_rad


def _walker(system, n, planes, phase, a_m, incl_deg, node0_deg=0.0, u0_deg=0.0, prns=None):
    per = n // planes
    prns = list(prns or range(1, n + 1))
    out = []
    for p in range(planes):
        for s in range(per):
            prn = prns[p * per + s]
            out.append((f"{system}{prn:02d}", a_m, math.radians(incl_deg),
                        math.radians(node0_deg + 360.0 * p / planes),
                        math.radians(u0_deg + 360.0 * s / per + 360.0 * phase * p / n)))
    return out


def nominal_orbits(systems: str = "GREC") -> list[Orbit]:
    """The nominal satellites of ``systems`` (letters G, R, E, C)."""
    rows = []
    geo = []
    if "G" in systems:
        # RAAN at the 1993 epoch -> node longitude at GPS time 0 (inertial node, rotating Earth).
        dt = _T1993_GPS_S
        prn = 1
        for plane in "ABCDEF":
            raan, slots = _GPS_SLOTS[plane]
            for u in slots:
                n = math.sqrt(K.GM_GPS_M3PS2 / 26559.7e3**3)
                node = math.radians(raan - _GHA1993_DEG) + K.OMEGA_E_RADPS * dt
                rows.append((f"G{prn:02d}", 26559.7e3, math.radians(55.0), node,
                             math.radians(u) - n * dt))
                prn += 1
    if "E" in systems:
        rows += _walker("E", 24, 3, 1, 29600.318e3, 56.0, 25.0, 10.0)
    if "C" in systems:
        bds3_meo = [*range(19, 31), *range(32, 38), *range(41, 47)]  # BDS-3 MEO PRNs
        rows += _walker("C", 24, 3, 1, 27906.1e3, 55.0, 40.0, 20.0, prns=bds3_meo)
        for i in range(3):  # IGSO: geosynchronous, node at 118 E (for u = 0) and 120 deg apart in u
            u0 = math.radians(120.0 * i)
            rows.append((f"C{38 + i:02d}", 42164.2e3, math.radians(55.0),
                         math.radians(118.0) + u0, u0))
        a_geo = (K.GM_BDS_M3PS2 / K.OMEGA_E_RADPS**2) ** (1.0 / 3.0)
        geo = [(f"C{prn:02d}", a_geo, 0.0, math.radians(lon), 0.0)
               for prn, lon in zip(range(1, 6), BDS_GEO_LON_DEG)]
    if "R" in systems:
        rows += _walker("R", 24, 3, 1, 25510.0e3, 64.8, 5.0, 0.0)
    gm = {"G": K.GM_GPS_M3PS2, "E": K.GM_GAL_M3PS2, "C": K.GM_BDS_M3PS2, "R": K.GM_GLO_M3PS2}
    out = [Orbit(s, a, i, nd, u, gm[s[0]]) for s, a, i, nd, u in rows]
    return out + [Orbit(s, a, i, nd, u, K.GM_BDS_M3PS2, geo=True) for s, a, i, nd, u in geo]


def kepler_ephemeris(orb: Orbit, toe: GPSTime, iode: int = 0) -> KeplerEphemeris:
    """The broadcast ephemeris that reproduces ``orb`` exactly (no perturbations)."""
    sysl = orb.sat[0]
    gm, we = K.KEPLER_CONSTANTS[sysl]
    if sysl == "C":
        week, sow = gps_to_bdt(toe)
    else:
        week, sow = toe.week, toe.tow_s
        if sysl == "E":
            week -= 1024
    n = math.sqrt(orb.gm / orb.a_m**3)
    n0 = math.sqrt(gm / orb.a_m**3)
    m0 = orb.u0_rad + n * toe.seconds
    # Broadcast: Omega_k = Omega0 + (Omegadot - we) t_k - we toe_sow, with the system's own
    # Earth rate we; the truth rotates at the WGS84 rate, so Omegadot absorbs the difference.
    w_true = K.OMEGA_E_RADPS
    omega_dot = we - w_true
    omega0 = orb.node_rad - w_true * toe.seconds + we * sow
    incl = orb.incl_rad
    if orb.geo:
        # GEO algorithm: the orbit is computed in the frame of ECEF at toe, then rotated by
        # -5 deg about X and by we t_k about Z.  An equatorial satellite at longitude lon is,
        # in that frame, a 5-deg orbit with node at 180 deg and argument of latitude
        # lon + pi + we t_k.
        incl = -K.BDS_GEO_INCL_RAD
        omega_dot = 0.0
        omega0 = math.pi + we * sow
        m0 = orb.node_rad + math.pi
        n = we
    wrap = lambda a: (a + math.pi) % (2 * math.pi) - math.pi
    return KeplerEphemeris(
        sat=orb.sat, toe=toe, toc=toe, week=int(week), toe_sow=float(sow), toc_sow=float(sow),
        sqrt_a=math.sqrt(orb.a_m), e=0.0, i0_rad=incl, omega0_rad=wrap(omega0),
        omega_rad=0.0, m0_rad=wrap(m0), delta_n_radps=n - n0, idot_radps=0.0,
        omega_dot_radps=omega_dot, cuc_rad=0.0, cus_rad=0.0, crc_m=0.0, crs_m=0.0, cic_rad=0.0,
        cis_rad=0.0, af0_s=0.0, af1_sps=0.0, af2_sps2=0.0, tgd_s=0.0, tgd2_s=0.0,
        iode=iode, iodc=iode, health=0, accuracy_m=2.0, fit_interval_h=4.0,
        source="D2" if orb.geo else {"G": "LNAV", "E": "INAV", "C": "D1"}.get(sysl, "LNAV"),
    )


class OrbitSet:
    """The orbits of many satellites as arrays, for vectorised evaluation.

    Parameters
    ----------
    orbits : list of Orbit
    """

    def __init__(self, orbits: list[Orbit]):
        self.sats = np.array([o.sat for o in orbits])
        self.a_m = np.array([o.a_m for o in orbits])
        self.incl_rad = np.array([o.incl_rad for o in orbits])
        self.node_rad = np.array([o.node_rad for o in orbits])
        self.u0_rad = np.array([o.u0_rad for o in orbits])
        self.n_radps = np.sqrt(np.array([o.gm for o in orbits]) / self.a_m**3)
        self.geo = np.array([o.geo for o in orbits], dtype=bool)

    def state(self, t_gps_s, idx=None) -> tuple[np.ndarray, np.ndarray]:
        """ECEF positions (m) and velocities (m/s), shape (..., 3).

        ``t_gps_s`` is broadcast against the satellites selected by ``idx``
        (all when ``None``).
        """
        sl = slice(None) if idx is None else idx
        a, inc, node = self.a_m[sl], self.incl_rad[sl], self.node_rad[sl]
        n = self.n_radps[sl]
        t = np.asarray(t_gps_s, dtype=np.float64)
        u = self.u0_rad[sl] + n * t
        lon = node - K.OMEGA_E_RADPS * t
        ci, si = np.cos(inc), np.sin(inc)
        cu, su = np.cos(u), np.sin(u)
        cl, sl_ = np.cos(lon), np.sin(lon)
        x, y = a * cu, a * su
        pos = np.stack([x * cl - y * ci * sl_, x * sl_ + y * ci * cl, y * si], axis=-1)
        vx, vy = -a * n * su, a * n * cu
        vel = np.stack([vx * cl - vy * ci * sl_, vx * sl_ + vy * ci * cl, vy * si], axis=-1)
        vel[..., 0] += K.OMEGA_E_RADPS * pos[..., 1]
        vel[..., 1] -= K.OMEGA_E_RADPS * pos[..., 0]
        geo = self.geo[sl]
        if geo.any():
            g = np.broadcast_to(geo, pos.shape[:-1])
            lon_g = np.broadcast_to(node, pos.shape[:-1])[g]
            a_g = np.broadcast_to(a, pos.shape[:-1])[g]
            pos[g] = np.stack([a_g * np.cos(lon_g), a_g * np.sin(lon_g), np.zeros_like(a_g)], axis=-1)
            vel[g] = 0.0
        return pos, vel


class GlonassTruth:
    """Continuous GLONASS trajectories: the broadcast PZ-90 equations (J2, no lunisolar term)
    integrated once from circular initial states, sampled at 30 s nodes and interpolated.

    A broadcast ephemeris taken from a node (``ephemeris``) and propagated by a receiver
    with the ICD algorithm reproduces this truth to well below a millimetre, so the
    simulated GLONASS sky is consistent with its own broadcast messages.

    Parameters
    ----------
    orbits : list of Orbit
        The GLONASS satellites (circular initial orbits at ``anchor_gps_s``).
    anchor_gps_s : float
        GPS time of the first node; choose a broadcast t_b (15-minute UTC grid) so that
        every later t_b falls on a node.
    """

    STEP_S = 30.0

    def __init__(self, orbits: list[Orbit], anchor_gps_s: float):
        self.sats = [o.sat for o in orbits]
        self.t0 = float(anchor_gps_s)
        pos, vel = OrbitSet(orbits).state(self.t0)
        x0 = np.concatenate([pos, vel], axis=1)
        self._fwd = [x0]  # nodes t0, t0 + h, ...
        self._bwd = [x0]  # nodes t0, t0 - h, ...

    def _node(self, j: int) -> np.ndarray:
        from vngeonet.orbits.broadcast import glonass_rk4

        seq, step = (self._fwd, self.STEP_S) if j >= 0 else (self._bwd, -self.STEP_S)
        zero = np.zeros((len(self.sats), 3))
        while len(seq) <= abs(j):
            seq.append(glonass_rk4(seq[-1], zero, step))
        return seq[abs(j)]

    def state(self, t_gps_s) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities (ECEF/PZ-90, m and m/s), shape ``t.shape + (3,)``.

        ``t_gps_s`` has shape (..., m): one time per satellite (in ``self.sats`` order).
        """
        t = np.asarray(t_gps_s, dtype=np.float64)
        u = (t - self.t0) / self.STEP_S
        j = np.floor(u).astype(np.int64)
        lo, hi = int(j.min()), int(j.max()) + 1
        nodes = np.stack([self._node(k) for k in range(lo, hi + 1)])  # (nn, m, 6)
        sat = np.broadcast_to(np.arange(len(self.sats)), t.shape)
        x0, x1 = nodes[j - lo, sat], nodes[j - lo + 1, sat]
        s = (u - j)[..., None]
        h = self.STEP_S
        p0, p1, v0, v1 = x0[..., :3], x1[..., :3], x0[..., 3:] * h, x1[..., 3:] * h
        s2, s3 = s * s, s * s * s
        pos = (2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * v0 + (3 * s2 - 2 * s3) * p1 + (s3 - s2) * v1
        vel = ((6 * s2 - 6 * s) * p0 + (3 * s2 - 4 * s + 1) * v0 + (6 * s - 6 * s2) * p1
               + (3 * s2 - 2 * s) * v1) / h
        return pos, vel

    def ephemeris(self, k: int, tb_gps_s: float, clk_s: float, clk_drift: float):
        """Broadcast ephemeris of satellite ``k`` at t_b (must be a node time)."""
        from vngeonet.gnss.time import gps_to_utc

        j = round((tb_gps_s - self.t0) / self.STEP_S)
        if abs(self.t0 + j * self.STEP_S - tb_gps_s) > 1e-6:
            raise ValueError("t_b must fall on a 30 s node of the trajectory")
        x = self._node(j)[k]
        toe = GPSTime.from_seconds(tb_gps_s)
        moscow = gps_to_utc(toe) + __import__("datetime").timedelta(hours=3)
        tb_s = moscow.hour * 3600.0 + moscow.minute * 60.0 + moscow.second
        slot = int(self.sats[k][1:])
        return GlonassEphemeris(
            sat=self.sats[k], toe=toe, freq_channel=GLONASS_CHANNELS[(slot - 1) % 24],
            pos_m=tuple(float(v) for v in x[:3]), vel_mps=tuple(float(v) for v in x[3:]),
            acc_mps2=(0.0, 0.0, 0.0), tau_n_s=-float(clk_s), gamma_n=float(clk_drift), health=0,
            age_days=0, tb_s=tb_s, source="FDMA",
        )


class BroadcastSky:
    """A real sky: satellites and clocks from real broadcast ephemerides.

    With a navigation file the simulator puts its stations under the real
    constellation of that day: positions, velocities and clocks are those the
    broadcast algorithms give (so a receiver using the same messages sees no
    orbit or clock error), satellites without a valid healthy ephemeris are
    not seen.

    Parameters
    ----------
    ephemerides : list or NavData
        Broadcast ephemerides (e.g. ``read_nav(path).ephemerides``).
    systems : str
        System letters to keep.
    """

    def __init__(self, ephemerides, systems: str = "GREC"):
        from vngeonet.orbits.store import EphemerisStore

        ephs = getattr(ephemerides, "ephemerides", ephemerides)
        ephs = [e for e in ephs if e.sat[0] in systems]
        self.store = EphemerisStore(ephs)
        self.sats = np.array(self.store.satellites, dtype="<U3")
        self.geo = np.zeros(len(self.sats), dtype=bool)
        self.glo_channels = {e.sat: e.freq_channel for e in ephs if isinstance(e, GlonassEphemeris)}
        self._by_sat: dict[str, list] = {}
        for e in ephs:
            self._by_sat.setdefault(e.sat, []).append(e)

    def _query(self, t_gps_s):
        t = np.asarray(t_gps_s, dtype=np.float64)
        tt = np.broadcast_to(t, t.shape[:-1] + (len(self.sats),))
        sat = np.broadcast_to(self.sats, tt.shape)
        st = self.store.sat_state(sat.ravel(), tt.ravel())
        return st, tt.shape

    def state(self, t_gps_s) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities, shape ``t.shape + (3,)`` (NaN where no valid ephemeris)."""
        st, shape = self._query(t_gps_s)
        return st.pos_m.reshape(shape + (3,)), st.vel_mps.reshape(shape + (3,))

    def clock_of(self, idx, t_gps_s) -> np.ndarray:
        """Clock offsets (s) of satellites ``idx`` (indices into ``sats``) at ``t_gps_s``, broadcast
        against each other; NaN where no valid ephemeris."""
        idx_b, t_b = np.broadcast_arrays(np.asarray(idx), np.asarray(t_gps_s, dtype=np.float64))
        st = self.store.sat_state(self.sats[idx_b.ravel()], t_b.ravel())
        return st.clk_s.reshape(t_b.shape)

    def ephemerides(self, t: GPSTime) -> list:
        """The ephemeris of every satellite in use at ``t`` (what a receiver would be sending)."""
        out = []
        for sat in self.sats:
            e = self.store.select(str(sat), t)
            if e is not None:
                out.append(e)
        return out
