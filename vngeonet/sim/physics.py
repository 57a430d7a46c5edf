"""Signal physics of the station-network simulator.

For every station, satellite and signal at a receiver epoch the simulator
forms pseudorange, carrier phase, Doppler and CNR from:

* geometric range at signal transmission, solved iteratively, with the
  Earth's rotation during the signal's flight (Sagnac);
* satellite clock (the broadcast polynomial, so the ephemeris is exact) and
  a receiver clock with offset, drift and 1 ms steering jumps like real
  receivers;
* troposphere: Saastamoinen zenith delays for the station height mapped with
  Niell (:mod:`vngeonet.positioning.models`), times a per-station wet scale
  and a slowly varying zenith wet perturbation, so a solver using the
  standard model still sees a realistic residual;
* ionosphere: a smooth vertical TEC field over the region with a diurnal
  cycle and a north-south gradient (stronger towards the equatorial anomaly
  crest), single-layer mapping at 350 km; code delayed and phase advanced by
  40.3 TEC / f^2;
* integer carrier ambiguities per station-satellite-signal, fixed at lock
  and renewed after a slip or an outage;
* elevation-dependent white noise and a sinusoidal multipath per
  station-satellite, CNR from elevation.

Everything is vectorised over (station x satellite x signal) rows; one call
gives one epoch of the whole network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vngeonet.gnss import constants as K
from vngeonet.gnss.coords import ecef_to_llh, enu_rotation
from vngeonet.gnss.signals import frequency_hz
from vngeonet.gnss.time import GPSTime, gps_to_utc, utc_to_gps
from vngeonet.model import ObsEpoch
from vngeonet.positioning.models import niell, saastamoinen_zenith
from vngeonet.sim.constellation import (
    GLONASS_CHANNELS,
    BroadcastSky,
    GlonassTruth,
    OrbitSet,
    kepler_ephemeris,
    nominal_orbits,
)

C = K.C_MPS
R_EARTH_M = 6371e3
H_IONO_M = 350e3

# Signals each simulated receiver tracks (a Leica GR50-like multi-frequency set).
DEFAULT_SIGNALS = {"G": ("1C", "2W", "5Q"), "R": ("1C", "2C"), "E": ("1C", "5Q", "7Q"),
                   "C": ("2I", "6I", "7I")}


@dataclass(frozen=True, slots=True)
class SimStation:
    """A simulated reference station: id and true antenna reference point (ECEF, m)."""

    id: str
    pos_ecef_m: tuple[float, float, float]


@dataclass
class SimOptions:
    """Knobs of the simulation (defaults: a realistic, clean CORS network)."""

    systems: str = "GEC"
    signals: dict = field(default_factory=lambda: dict(DEFAULT_SIGNALS))
    elev_mask_deg: float = 5.0
    code_sigma_m: float = 0.25  # at zenith, grows as 1/sin(el)
    phase_sigma_m: float = 0.0015
    doppler_sigma_hz: float = 0.02
    multipath_code_m: float = 0.3  # amplitude at low elevation
    multipath_phase_m: float = 0.003
    slip_prob: float = 0.0  # per satellite-signal and epoch
    outage_prob: float = 0.0  # per station and epoch: the receiver stops tracking ...
    outage_s: float = 60.0  # ... for this long (all locks lost; its epochs are empty)
    iono_scale: float = 1.0
    tropo_wet_scale_sigma: float = 0.1
    seed: int = 20261123


class NetworkSimulator:
    """Simulated observations for a set of stations.

    Parameters
    ----------
    stations : list of SimStation
    opts : SimOptions, optional

    Notes
    -----
    The simulator is deterministic for a given seed and sequence of epoch
    calls.  ``epoch(t)`` must be called with non-decreasing times (lock time
    and ambiguities carry state from call to call).
    """

    def __init__(self, stations: list[SimStation], opts: SimOptions | None = None, nav=None):
        self.opts = opts or SimOptions()
        self.stations = list(stations)
        # The sky: a real day's broadcast ephemerides when given, else the nominal constellations.
        self.sky = BroadcastSky(nav, self.opts.systems) if nav is not None else None
        self.orbits = self.sky if self.sky is not None else OrbitSet(nominal_orbits(self.opts.systems))
        rng = np.random.default_rng(self.opts.seed)
        self._rng = rng
        ns, nk = len(self.stations), len(self.orbits.sats)
        self.rx_ecef = np.array([s.pos_ecef_m for s in self.stations], dtype=np.float64).reshape(ns, 3)
        self.rx_llh = ecef_to_llh(self.rx_ecef).reshape(ns, 3)
        self._enu_rot = np.array([enu_rotation(la, lo) for la, lo, _h in self.rx_llh]).reshape(ns, 3, 3)
        self.sv_af0 = rng.uniform(-5e-4, 5e-4, nk)
        self.sv_af1 = rng.uniform(-5e-12, 5e-12, nk)
        self.rx_clk0 = rng.uniform(-5e-4, 5e-4, ns)
        self.rx_drift = rng.uniform(-3e-9, 3e-9, ns)
        self.wet_scale = 1.0 + self.opts.tropo_wet_scale_sigma * rng.standard_normal(ns)
        self.mp_phase0 = rng.uniform(0, 2 * np.pi, (ns, nk))
        self.mp_period_s = rng.uniform(300.0, 1500.0, (ns, nk))
        # Per (station, satellite, signal): integer ambiguity and lock start (NaN = not locked).
        self._sig = [(sysl, sig) for sysl in self.opts.systems for sig in self.opts.signals.get(sysl, ())]
        nsig = len(self._sig)
        self._amb = np.zeros((ns, nk, nsig))
        self._lock_t0 = np.full((ns, nk, nsig), np.nan)
        sys_of_sat = np.array([s[0] for s in self.orbits.sats])
        self._valid = np.array([[sys_of_sat[k] == sysl for (sysl, _s) in self._sig] for k in range(nk)])
        # Wavelength per (satellite, signal): GLONASS FDMA carriers depend on the channel k.
        self.glo_channels = (dict(self.sky.glo_channels) if self.sky is not None else
                             {str(sat): GLONASS_CHANNELS[(int(sat[1:]) - 1) % 24]
                              for sat in self.orbits.sats if sat[0] == "R"})
        self._lam = np.array([[C / frequency_hz(sysl, sig, self.glo_channels.get(str(sat)))
                               if sat[0] == sysl else np.nan for sysl, sig in self._sig]
                              for sat in self.orbits.sats]).reshape(nk, nsig)
        self._glo_idx = (np.zeros(0, dtype=np.intp) if self.sky is not None else
                         np.flatnonzero(np.char.startswith(self.orbits.sats.astype(str), "R")))
        self._glo = None  # GlonassTruth, anchored at the first epoch
        self._sig_names = np.array([sig for _sysl, sig in self._sig], dtype="<U2")
        self._sat_names = self.orbits.sats.astype("<U3")
        self._eph_cache = None
        self._outage_until = np.full(ns, -np.inf)

    # -- broadcast products -------------------------------------------------
    def ephemerides(self, t: GPSTime) -> list:
        """Broadcast ephemerides valid at ``t`` with the simulated clocks.

        Reference times are whole hours of the system's own time scale, as
        broadcast (BeiDou: BDT, 14 s behind GPS time; every field then fits its
        RTCM/RINEX resolution, e.g. the 8 s BeiDou toe).
        """
        if self.sky is not None:
            return self.sky.ephemerides(t)
        # The set changes only with the hour (of GPS time, and of BDT for BeiDou).
        key = (math.floor(t.seconds / 3600.0), math.floor((t.seconds - 14.0) / 3600.0),
               _glonass_tb(t.seconds, 1800.0) if len(self._glo_idx) else None)
        if self._eph_cache is not None and self._eph_cache[0] == key:
            return list(self._eph_cache[1])
        out = []
        for k, sat in enumerate(self.orbits.sats):
            if sat[0] == "R":
                continue
            shift = 14.0 if sat[0] == "C" else 0.0
            toe = GPSTime.from_seconds(math.floor((t.seconds - shift) / 3600.0) * 3600.0 + shift)
            iode = int(toe.tow_s // 3600) % (32 if sat[0] == "C" else 256)  # BeiDou AODE has 5 bits
            e = kepler_ephemeris(_orbit_at(self.orbits, k), toe, iode=iode)
            af0 = self.sv_af0[k] + self.sv_af1[k] * (toe.seconds - self._t_ref)
            out.append(_with_clock(e, af0, self.sv_af1[k]))
        if len(self._glo_idx):
            out += self._glonass_ephemerides(t)
        self._eph_cache = (key, tuple(out))
        return out

    _t_ref = GPSTime(2300, 0.0).seconds  # satellite clock polynomials are referred to this time

    def _sat_state(self, t_gps_s):
        """True satellite positions/velocities, shape ``t.shape + (3,)``, t of shape (..., n_sat)."""
        pos, vel = self.orbits.state(t_gps_s)
        if len(self._glo_idx):
            g = self._glonass(float(np.min(t_gps_s)))
            pos[..., self._glo_idx, :], vel[..., self._glo_idx, :] = g.state(t_gps_s[..., self._glo_idx])
        return pos, vel

    def _glonass(self, t_gps_s: float) -> GlonassTruth:
        if self._glo is None:
            anchor = _glonass_tb(t_gps_s) - 3600.0
            orbs = [_orbit_at(self.orbits, k) for k in self._glo_idx]
            self._glo = GlonassTruth(orbs, anchor)
        return self._glo

    def _glonass_ephemerides(self, t: GPSTime) -> list:
        """GLONASS messages of the half-hour containing ``t`` (t_b on the 30-minute UTC grid)."""
        tb = _glonass_tb(t.seconds, 1800.0)
        g = self._glonass(tb)
        return [g.ephemeris(i, tb, self.sat_clock_s(k, tb), self.sv_af1[k])
                for i, k in enumerate(self._glo_idx)]

    def sat_clock_s(self, idx, t_gps_s):
        """Satellite clock offsets (s) of satellites ``idx`` at ``t_gps_s`` (broadcastable)."""
        if self.sky is not None:
            return self.sky.clock_of(idx, t_gps_s)
        return self.sv_af0[idx] + self.sv_af1[idx] * (t_gps_s - self._t_ref)

    def rx_clock_s(self, t_gps_s):
        """Receiver clock offsets (s), shape (n_station,), steered back by 1 ms jumps."""
        b = self.rx_clk0 + self.rx_drift * (t_gps_s - self._t_ref)
        return b - 1e-3 * np.round(b / 1e-3)

    # -- observations --------------------------------------------------------
    def epoch(self, t: GPSTime) -> dict[str, ObsEpoch]:
        """One epoch of observations of every station, keyed by station id."""
        o = self.opts
        t_rx = t.seconds
        b = self.rx_clock_s(t_rx)  # (ns,)
        t_true = t_rx - b  # receiver epoch in true GPS time
        ns, nk = len(self.stations), len(self.orbits.sats)
        # Light-time iteration, vectorised over (station, satellite).
        tau = np.full((ns, nk), 0.075)
        for _ in range(3):
            pos, vel = self._sat_state(t_true[:, None] - tau)
            ang = K.OMEGA_E_RADPS * tau
            ca, sa = np.cos(ang), np.sin(ang)
            sv = np.stack([ca * pos[..., 0] + sa * pos[..., 1], -sa * pos[..., 0] + ca * pos[..., 1],
                           pos[..., 2]], axis=-1)
            d = sv - self.rx_ecef[:, None, :]
            rho = np.linalg.norm(d, axis=-1)
            tau = rho / C
        los = d / rho[..., None]
        enu = np.einsum("sij,skj->ski", self._enu_rot, los)
        az = np.mod(np.arctan2(enu[..., 0], enu[..., 1]), 2 * np.pi)
        el = np.arcsin(np.clip(enu[..., 2], -1.0, 1.0))
        rho_dot = np.einsum("skj,skj->sk", vel, los)
        dts = self.sat_clock_s(np.arange(nk)[None, :], t_true[:, None] - tau)
        tropo = self._tropo(el, t)
        stec = self._stec(az, el, t_true)
        visible = (el > math.radians(o.elev_mask_deg)) & np.isfinite(rho) & np.isfinite(dts)
        if o.outage_prob > 0:
            start = (self._rng.random(ns) < o.outage_prob) & (t.seconds >= self._outage_until)
            self._outage_until[start] = t.seconds + o.outage_s
        visible &= (t.seconds >= self._outage_until)[:, None]
        return self._observe(t, t_true, b, rho, rho_dot, dts, tropo, stec, el, visible)

    def _tropo(self, el, t: GPSTime):
        lat, h = self.rx_llh[:, 0][:, None], self.rx_llh[:, 2][:, None]
        doy = t.to_datetime().timetuple().tm_yday
        zhd, zwd = saastamoinen_zenith(lat, h)
        zwd = zwd * self.wet_scale[:, None] * (1.0 + 0.05 * math.sin(t.seconds * 2 * math.pi / 21600.0))
        mh, mw = niell(np.maximum(el, 0.05), lat, h, doy)
        return zhd * mh + zwd * mw

    def _stec(self, az, el, t_true):
        """Slant TEC (TECU) from a smooth regional vertical-TEC field at the pierce points."""
        lat, lon = self.rx_llh[:, 0][:, None], self.rx_llh[:, 1][:, None]
        psi = math.pi / 2 - el - np.arcsin(R_EARTH_M / (R_EARTH_M + H_IONO_M) * np.cos(el))
        ipp_lat = np.arcsin(np.clip(np.sin(lat) * np.cos(psi) + np.cos(lat) * np.sin(psi) * np.cos(az), -1, 1))
        ipp_lon = lon + np.arcsin(np.clip(np.sin(psi) * np.sin(az) / np.cos(ipp_lat), -1, 1))
        local_h = (t_true[:, None] / 3600.0 + np.degrees(ipp_lon) / 15.0) % 24.0
        diurnal = np.maximum(0.0, np.cos(2 * np.pi * (local_h - 14.0) / 24.0))
        crest = np.exp(-((np.degrees(ipp_lat) - 15.0) / 12.0) ** 2)  # equatorial anomaly crest
        vtec = 5.0 + 45.0 * diurnal * (0.5 + 0.5 * crest) + 2.0 * np.sin(3 * ipp_lon + 2 * ipp_lat)
        mapping = 1.0 / np.sqrt(1.0 - (R_EARTH_M * np.cos(el) / (R_EARTH_M + H_IONO_M)) ** 2)
        return self.opts.iono_scale * vtec * mapping

    def _observe(self, t, t_true, b, rho, rho_dot, dts, tropo, stec, el, visible):
        o, rng = self.opts, self._rng
        lam = self._lam[None, :, :]
        f = C / lam
        sin_el = np.maximum(np.sin(el), 0.05)[..., None]
        valid = visible[..., None] & self._valid[None, :, :]
        if o.slip_prob > 0:
            slips = rng.random(valid.shape) < o.slip_prob
            self._lock_t0[slips] = np.nan
        newly = valid & np.isnan(self._lock_t0)
        self._lock_t0[~valid] = np.nan
        base = (rho + C * (b[:, None] - dts) + tropo)[..., None]
        iono = 40.3e16 * stec[..., None] / f**2
        mp_arg = 2 * np.pi * t_true[:, None] / self.mp_period_s + self.mp_phase0
        mp = (np.sin(mp_arg) / sin_el[..., 0])[..., None]
        pr = base + iono + o.multipath_code_m * mp + o.code_sigma_m / sin_el * rng.standard_normal(valid.shape)
        geo_phase = base - iono + o.multipath_phase_m * mp
        if newly.any():
            # At lock the receiver sets the phase near the code, offset by a whole number of cycles.
            n0 = np.round((pr - geo_phase) / lam) + rng.integers(-50, 50, valid.shape)
            self._amb[newly] = n0[newly]
            self._lock_t0[newly] = t.seconds
        cp = (geo_phase + o.phase_sigma_m / sin_el * rng.standard_normal(valid.shape)) / lam + self._amb
        sv_drift = self.sv_af1[None, :, None]
        dop = -(rho_dot[..., None] + C * (self.rx_drift[:, None, None] - sv_drift)) / lam
        dop = dop + o.doppler_sigma_hz * rng.standard_normal(valid.shape)
        cn0 = 32.0 + 18.0 * np.sqrt(sin_el) + 0.5 * rng.standard_normal(valid.shape)
        lock = t.seconds - self._lock_t0
        return {st.id: self._pack(t, st.id, valid[s], pr[s], cp[s], dop[s], cn0[s], lock[s])
                for s, st in enumerate(self.stations)}

    def _pack(self, t, sid, valid, pr, cp, dop, cn0, lock):
        k, j = np.nonzero(valid)
        return ObsEpoch(
            time=t, station=sid, sat=self._sat_names[k], sig=self._sig_names[j],
            pr_m=pr[k, j], cp_cyc=cp[k, j], dop_hz=dop[k, j], cn0_dbhz=np.round(cn0[k, j] * 16) / 16,
            lli=np.zeros(len(k), dtype=np.uint8), lock_s=lock[k, j],
        )


def _glonass_tb(t_gps_s: float, step_s: float = 900.0) -> float:
    """GPS time of the latest GLONASS t_b grid point (multiples of ``step_s`` of UTC) at or before t."""
    utc = gps_to_utc(GPSTime.from_seconds(t_gps_s))
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    sod = (utc - day).total_seconds()
    start = day + __import__("datetime").timedelta(seconds=math.floor(sod / step_s) * step_s)
    return utc_to_gps(start).seconds


def _orbit_at(orbits: OrbitSet, k: int):
    from vngeonet.sim.constellation import Orbit

    gm = orbits.n_radps[k] ** 2 * orbits.a_m[k] ** 3
    return Orbit(str(orbits.sats[k]), float(orbits.a_m[k]), float(orbits.incl_rad[k]),
                 float(orbits.node_rad[k]), float(orbits.u0_rad[k]), float(gm), bool(orbits.geo[k]))


def _with_clock(e, af0, af1):
    from dataclasses import replace

    return replace(e, af0_s=float(af0), af1_sps=float(af1))
