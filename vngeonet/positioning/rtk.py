"""Carrier-phase relative positioning: static baselines and kinematic RTK.

Observation model (between-receiver single differences SD = rover - base,
double differences DD = SD_i - SD_ref per system and frequency band, metres)::

    DD(lambda phi) = DD(rho) + DD(T) + DD(m_w) dZ - kappa_f DD(I) + lambda_f DD(N)
    DD(P)          = DD(rho) + DD(T) + DD(m_w) dZ + kappa_f DD(I)

``rho`` is the geometric range with the satellite at its transmit time
(from each receiver's own pseudorange, so receiver clocks cancel exactly) and
the Earth's rotation during the flight (Sagnac).  ``T`` is the a-priori
troposphere (Saastamoinen zenith delays + Niell mapping at each station's
height); ``dZ`` an optional zenith wet residual of the rover relative to the
base with the Niell wet mapping ``m_w``.  ``I`` is the single-difference slant
ionosphere on the first band, ``kappa_f = (f_1 / f_f)^2``.  ``N`` are the
single-difference ambiguities (cycles): they are the filter states, so the
reference satellite (the highest at the rover, chosen per system and band at
every epoch) can change freely; differences of SD ambiguities of a CDMA band
are integers, which is what LAMBDA fixes.

Ionosphere rule: baselines shorter than ``iono_auto_km`` (5 km) ignore the
differential ionosphere (about 1 cm there even under the equatorial anomaly
gradients of Vietnam's sky); longer ones estimate the SD
slant ionosphere per satellite with a prior of ``iono_ppm`` (2 ppm) of the
baseline length and a random walk (ionosphere-weighted model).  Troposphere:
model only below ``tropo_auto_km`` (5 km), above that a zenith residual of
the rover relative to the base is estimated as a random walk.

Weights: per receiver and satellite ``sigma^2 = a^2 + a^2 / sin^2(el)`` with
``a = phase_sigma_m`` (3 mm) for phase and ``code_phase_ratio`` times more for
code; DD covariances are formed exactly (correlated through the reference).

Estimation: one extended Kalman filter serves both modes.  Kinematic: the
position is white noise, re-initialised every epoch at the code solution with
``pos_sigma_m``.  Static: the position has no process noise, so the filter is
the recursive form of the batch least-squares adjustment of all epochs (same
normal equations, ambiguities of finished arcs kept in the state until
their satellite reappears with a slip); its last epoch is the batch solution.
Float then fixed: LAMBDA (:mod:`vngeonet.positioning.ambiguity`) with the
adaptive ratio test and partial fixing, the fix validated by the phase
residuals.  Kinematic "hold": once fixed for ``hold_after`` epochs the fixed
integers are fed back as tight pseudo-observations.  Optional backward pass
and combination (covariance-weighted mean of the forward and backward
solutions; a fixed one wins over a float one).

Static runs check that the receiver stood still: at every epoch the code
double differences alone give a position offset from the running static
solution; when it exceeds 1 m at 99.9999 % significance (chi-square, 3 dof)
in at least 3 epochs and 5 % of them, the final solution is marked
``moving`` with status NONE and a reason, instead of an average.

Antennas: the RINEX header antenna deltas (H/E/N) are applied at both ends
(base ARP = given marker + delta; rover results are markers); with an ANTEX
file, receiver PCO and elevation-dependent PCV of the header antenna types.
Orbits: any store with ``sat_state`` (broadcast ``EphemerisStore`` or
``PreciseStore`` from SP3/CLK).

GLONASS (system ``R`` in ``systems``) is used as float only: every satellite
has its own wavelength, so its SD ambiguity state (cycles of that wavelength)
also absorbs the receiver pair's inter-frequency phase bias, which is
satellite-dependent; no GLONASS ambiguity is ever fixed, so that bias does
no harm.  GLONASS code differences carry the receivers' inter-frequency code
biases (up to metres between makes): their variance is multiplied by
``GLO_CODE_VAR_FACTOR``.  Only the first ``nfreq`` bands are used.

References
----------
Teunissen P.J.G. & Kleusberg A. (eds.) (1998), GPS for Geodesy, ch. 8 and 9.
Takasu T. & Yasuda A. (2009), Development of the low-cost RTK-GPS receiver with
an open source program package RTKLIB (ideas only).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from vngeonet.gnss import coords
from vngeonet.gnss.signals import frequency_hz
from vngeonet.gnss.time import GPSTime
from vngeonet.model import FixQuality
from vngeonet.positioning import ambiguity
from vngeonet.positioning.models import niell, tropo_delay
from vngeonet.positioning.slips import detect_slips

log = logging.getLogger(__name__)
C_MPS = 299792458.0
OMEGA_E_RADPS = 7.2921151467e-5

# Bands used per system, in order, with the signal priority inside each band.
BANDS = {
    "G": (("1", "CWPXSL"), ("2", "WXLSPCD"), ("5", "QXI")),
    "J": (("1", "CXSL"), ("2", "XLS"), ("5", "QXI")),
    "E": (("1", "CXB"), ("5", "QXI"), ("7", "QXI")),
    "C": (("2", "IXQ"), ("7", "IXQ"), ("6", "IXQ")),
    "R": (("1", "CP"), ("2", "CP")),
}
GLO_CODE_VAR_FACTOR = 10.0  # GLONASS code variance factor: receiver inter-frequency code biases


@dataclass(frozen=True, slots=True)
class RTKOptions:
    """Settings of :func:`solve_baseline` (see the module notes for the model)."""

    mode: str = "kinematic"  # "kinematic" or "static"
    systems: str = "GECJ"
    nfreq: int = 2
    elev_mask_deg: float = 15.0
    ar_elev_mask_deg: float = 15.0
    phase_sigma_m: float = 0.003
    code_phase_ratio: float = 100.0
    iono: str = "auto"  # "auto", "off", "est"
    iono_auto_km: float = 5.0
    iono_ppm: float = 2.0
    iono_rate_mps: float = 1e-4  # random walk of the SD slant ionosphere, m/sqrt(s) per 10 km
    tropo: str = "auto"  # "auto", "model", "est"
    tropo_auto_km: float = 5.0
    tropo_rate_mps: float = 1e-4
    tropo_sigma_m: float = 0.05  # prior of the relative zenith wet residual
    pos_sigma_m: float = 30.0
    amb_sigma_cyc: float = 30.0
    amb_rate_cyc: float = 1e-4
    ar: bool = True
    par: bool = True
    min_success: float = 0.9999  # PAR subsets
    full_min_success: float = 0.5  # full set
    ratio_min: float = 1.5
    par_min_frac: float = 0.5  # PAR keeps at least this fraction of the ambiguities
    hold: bool = True
    hold_after: int = 5
    backward: bool = False
    max_gap_s: float = 300.0
    validate_sigma: float = 5.0


@dataclass(frozen=True, slots=True, eq=False)
class StaticSummary:
    """Final static solution (the batch adjustment of all epochs)."""

    status: FixQuality
    pos_ecef_m: np.ndarray
    cov_ecef_m2: np.ndarray
    baseline_m: np.ndarray
    length_m: float
    length_sd_m: float
    ratio: float
    success_rate: float
    n_amb: int
    n_fixed: int
    moving: bool
    reason: str = ""
    flagged_epochs: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class RTKResult:
    """Per-epoch solutions (arrays over the rover epochs) and, for static, the final one."""

    time_gps_s: np.ndarray
    status: np.ndarray  # int8 FixQuality
    pos_ecef_m: np.ndarray  # (n, 3)
    cov_ecef_m2: np.ndarray  # (n, 3, 3)
    nsat: np.ndarray
    ratio: np.ndarray
    success_rate: np.ndarray
    n_fixed: np.ndarray
    base_ecef_m: np.ndarray
    mode: str
    final: StaticSummary | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.time_gps_s)

    @property
    def baseline_m(self) -> np.ndarray:
        """Rover minus base, ECEF (n, 3)."""
        return self.pos_ecef_m - self.base_ecef_m

    def fix_rate(self) -> float:
        """Fraction of rover epochs with a fixed solution."""
        return float(np.mean(self.status == FixQuality.FIX)) if len(self) else 0.0


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True, slots=True, eq=False)
class EpochStack:
    """Flat per-row arrays of a sequence of :class:`~vngeonet.model.ObsEpoch` (the ``ObsData`` layout).

    Build with :func:`stack_epochs`; accepted wherever an ``ObsData`` is (no header).
    """

    time_gps_s: np.ndarray
    epoch_flag: np.ndarray
    epoch_idx: np.ndarray
    sat: np.ndarray
    sig: np.ndarray
    pr_m: np.ndarray
    cp_cyc: np.ndarray
    dop_hz: np.ndarray
    cn0_dbhz: np.ndarray
    lli: np.ndarray
    header: object = None


def stack_epochs(epochs) -> EpochStack:
    """Concatenate observation epochs (live streams, the simulator) into an :class:`EpochStack`."""
    eps = list(epochs)
    cat = lambda name, dt: (
        np.concatenate([getattr(e, name) for e in eps]).astype(dt) if eps else np.zeros(0, dt)
    )
    idx = (
        np.concatenate([np.full(len(e.sat), i, np.int32) for i, e in enumerate(eps)])
        if eps
        else np.zeros(0, np.int32)
    )
    return EpochStack(
        np.array([e.time.seconds for e in eps], np.float64),
        np.array([e.flag for e in eps], np.uint8),
        idx,
        cat("sat", "<U3"),
        cat("sig", "<U2"),
        cat("pr_m", np.float64),
        cat("cp_cyc", np.float64),
        cat("dop_hz", np.float64),
        cat("cn0_dbhz", np.float64),
        cat("lli", np.uint8),
    )


@dataclass(eq=False)
class _Pair:
    t: np.ndarray  # (n_ep,)
    sats: np.ndarray  # (ns,)
    sys: np.ndarray  # (ns,) system letters
    lam: np.ndarray  # (ns, nf)
    kappa: np.ndarray  # (ns, nf)
    r: dict  # rover wide arrays: pr, cp, dop, lli (n_ep, ns, nf)
    b: dict  # base wide arrays
    has_base: np.ndarray  # (n_ep,)
    spp: np.ndarray  # (n_ep, 3) rover code positions (NaN unknown)
    base: np.ndarray  # (3,)
    t_base: np.ndarray  # (n_ep,) base time tags matched to the rover epochs


def _band_lut(systems: str, nf: int):
    lut = {}
    for s in systems:
        for f, (band, prio) in enumerate(BANDS.get(s, ())[:nf]):
            for p, c in enumerate(prio):
                lut[(s, band + c)] = (f, p)
    return lut


def _wide(obs, rows_ep, sat_index, lut, n_ep, ns, nf):
    """Per (epoch, satellite, band) arrays of the best signal with phase and code."""
    code = np.char.add(np.asarray(obs.sat, "<U3").astype("<U1"), np.asarray(obs.sig, "<U2"))
    uc, inv = np.unique(code, return_inverse=True)
    keys = np.array([lut.get((c[0], c[1:]), (-1, 99)) for c in uc], np.int64).reshape(-1, 2)[
        inv.ravel()
    ]
    us, inv_s = np.unique(np.asarray(obs.sat, "<U3"), return_inverse=True)
    k = np.array([sat_index.get(x, -1) for x in us], np.int64)[inv_s.ravel()]
    ok = (
        (rows_ep >= 0)
        & (k >= 0)
        & (keys[:, 0] >= 0)
        & np.isfinite(obs.cp_cyc)
        & np.isfinite(obs.pr_m)
    )
    idx = np.flatnonzero(ok)
    cell = (rows_ep[idx].astype(np.int64) * ns + k[idx]) * nf + keys[idx, 0]
    order = np.lexsort((keys[idx, 1], cell))
    cell, idx = cell[order], idx[order]
    first = np.ones(len(cell), bool)
    first[1:] = cell[1:] != cell[:-1]
    cell, idx = cell[first], idx[first]
    out = {}
    for name, src, fill in (
        ("pr", obs.pr_m, np.nan),
        ("cp", obs.cp_cyc, np.nan),
        ("dop", obs.dop_hz, np.nan),
        ("lli", obs.lli, 0),
    ):
        a = np.full(n_ep * ns * nf, fill, dtype=np.uint8 if name == "lli" else np.float64)
        a[cell] = src[idx]
        out[name] = a.reshape(n_ep, ns, nf)
    return out


def prepare(rover, base, base_pos, opt: RTKOptions, spp_pos=None, glo_channels=None) -> _Pair:
    """Align rover and base observations (``ObsData``) on the rover epochs.

    GLONASS satellites need their frequency channel (``glo_channels`` merged
    over the RINEX headers' GLONASS SLOT records); those without are dropped.
    """
    glo = {}
    for obs in (base, rover):
        glo.update(getattr(getattr(obs, "header", None), "glonass_slots", None) or {})
    glo.update(glo_channels or {})
    lut = _band_lut(opt.systems, opt.nfreq)
    t = np.asarray(rover.time_gps_s, np.float64)
    tb = np.asarray(base.time_gps_s, np.float64)
    j = np.clip(np.searchsorted(tb, t - 0.05), 0, max(len(tb) - 1, 0))
    has_base = (np.abs(tb[j] - t) < 0.05) if len(tb) else np.zeros(len(t), bool)
    t_base = np.where(has_base, tb[j], t) if len(tb) else t.copy()
    base_map = np.full(len(tb), -1, np.int64)
    base_map[j[has_base]] = np.flatnonzero(has_base)
    sigs = np.unique(rover.sig)
    sats = np.array(
        sorted(
            {
                s
                for s in np.unique(rover.sat)
                if s[0] in opt.systems
                and (s[0] != "R" or s in glo)
                and any((s[0], g) in lut for g in sigs)
            }
        ),
        dtype="<U3",
    )
    ns, nf, n_ep = len(sats), opt.nfreq, len(t)
    sat_index = {s: i for i, s in enumerate(sats)}
    r = _wide(rover, np.asarray(rover.epoch_idx, np.int64), sat_index, lut, n_ep, ns, nf)
    b = _wide(base, base_map[np.asarray(base.epoch_idx, np.int64)], sat_index, lut, n_ep, ns, nf)
    lam = np.full((ns, nf), np.nan)
    for i, s in enumerate(sats):
        for f, (band, _p) in enumerate(BANDS[s[0]][:nf]):
            lam[i, f] = C_MPS / frequency_hz(
                s[0], band + _p[0], glo.get(s) if s[0] == "R" else None
            )
    kappa = (lam / lam[:, :1]) ** 2
    sysl = np.array([s[0] for s in sats])
    spp = np.full((n_ep, 3), np.nan) if spp_pos is None else np.asarray(spp_pos, np.float64)
    return _Pair(
        t, sats, sysl, lam, kappa, r, b, has_base, spp, np.asarray(base_pos, np.float64), t_base
    )


def _sat_positions(pair: _Pair, w: dict, rx: np.ndarray, store, t_tag):
    """Satellite ECEF at transmit time, rotated to the receive-time frame (n_ep, ns, 3)."""
    pr = np.where(np.isfinite(w["pr"][..., 0]), w["pr"][..., 0], w["pr"][..., -1])
    n_ep, ns = pr.shape
    ok = np.isfinite(pr)
    e, k = np.nonzero(ok)
    tt = t_tag[e] - pr[e, k] / C_MPS
    st = store.sat_state(pair.sats[k], tt)
    st = store.sat_state(pair.sats[k], tt - st.clk_s)
    pos = st.pos_m
    rxe = rx[e] if rx.ndim == 2 else np.broadcast_to(rx, pos.shape)
    tau = np.linalg.norm(pos - rxe, axis=1) / C_MPS
    ang = OMEGA_E_RADPS * tau
    ca, sa = np.cos(ang), np.sin(ang)
    rot = np.stack(
        [ca * pos[:, 0] + sa * pos[:, 1], -sa * pos[:, 0] + ca * pos[:, 1], pos[:, 2]], 1
    )
    out = np.full((n_ep, ns, 3), np.nan)
    out[e, k] = rot
    return out


def _tropo(sv, rx, t0):
    """Elevation and azimuth (rad), a-priori slant troposphere (m) and wet mapping for a receiver."""
    n_ep, ns, _ = sv.shape
    rxe = np.broadcast_to(rx.reshape(-1, 1, 3) if rx.ndim == 2 else rx, sv.shape)
    ok = np.all(np.isfinite(sv), axis=2) & np.all(np.isfinite(rxe), axis=2)
    el = np.full((n_ep, ns), np.nan)
    az = np.full((n_ep, ns), np.nan)
    trop = np.zeros((n_ep, ns))
    mw = np.zeros((n_ep, ns))
    if not ok.any():
        return el, trop, mw, az
    flat_rx, flat_sv = rxe[ok], sv[ok]
    llh = coords.ecef_to_llh(flat_rx)
    a, e = coords.az_el(flat_rx, flat_sv)
    doy = GPSTime.from_seconds(t0).to_datetime().timetuple().tm_yday
    d, _v = tropo_delay(e, llh[:, 0], llh[:, 2], doy)
    _mh, m_w = niell(np.maximum(e, 0.05), llh[:, 0], llh[:, 2], doy)
    el[ok], trop[ok], mw[ok], az[ok] = e, d, m_w, a
    return el, trop, mw, az


# ----------------------------------------------------------------------------- antennas
@dataclass(frozen=True, slots=True, eq=False)
class AntennaModel:
    """Receiver antenna phase-centre model of one type from ANTEX (per frequency code "G01").

    ``pco_enu_m[code]`` (3,) offset of the mean phase centre from the ARP (E, N, U);
    ``pcv_m[code]`` (n,) non-azimuthal variations at zenith angles ``zen_deg`` (n,).
    """

    name: str
    pco_enu_m: dict
    pcv_m: dict
    zen_deg: np.ndarray

    def correction_m(self, code: str, el_rad, az_rad) -> np.ndarray:
        """Range correction ``-PCO . e + PCV(z)`` (m) for one frequency (GPS L1/L2 values as fallback)."""
        if code not in self.pco_enu_m:
            code = "G01" if code[2] == "1" or "G02" not in self.pco_enu_m else "G02"
        if code not in self.pco_enu_m:
            return np.zeros(np.shape(el_rad))
        ce = np.cos(el_rad)
        e = np.stack([ce * np.sin(az_rad), ce * np.cos(az_rad), np.sin(el_rad)], axis=-1)
        pcv = np.interp(90.0 - np.degrees(el_rad), self.zen_deg, self.pcv_m[code])
        return -(e @ self.pco_enu_m[code]) + pcv


def read_antex(path, names) -> dict:
    """Receiver antenna models for the RINEX header antenna strings ``names`` from an ANTEX 1.4 file.

    A name matches "TYPE RADOME" exactly (radome "NONE" when absent), else the
    same type with radome NONE.  Satellite antennas are skipped.  Returns
    ``{name: AntennaModel}`` for the names found.  Reference: ANTEX 1.4 (IGS).
    """
    types = {_antenna_key(n)[0] for n in names if n}
    found, cur, freq = {}, None, ""
    with open(path, encoding="ascii", errors="replace") as fh:
        for line in fh:
            label = line[60:].strip()
            if label == "TYPE / SERIAL NO":
                key = (line[0:16].strip(), line[16:20].strip() or "NONE")
                serial = line[20:40].strip()
                is_sat = len(serial) == 3 and serial[0].isalpha() and serial[1:].isdigit()
                cur = (
                    {"key": key, "pco": {}, "pcv": {}, "zen": None}
                    if (key[0] in types and not is_sat)
                    else None
                )
            elif cur is None:
                continue
            elif label == "ZEN1 / ZEN2 / DZEN":
                z1, z2, dz = (float(v) for v in line[2:20].split())
                cur["zen"] = np.arange(z1, z2 + dz / 2, dz)
            elif label == "START OF FREQUENCY":
                freq = line[3:6].strip()
            elif label == "NORTH / EAST / UP":
                n, e, u = (float(v) for v in line[0:30].split())
                cur["pco"][freq] = np.array([e, n, u]) / 1000.0
            elif line[3:8] == "NOAZI":
                cur["pcv"][freq] = np.array([float(v) for v in line[8:].split()]) / 1000.0
            elif label == "END OF ANTENNA":
                k = cur["key"]
                found[k] = AntennaModel(" ".join(k), cur["pco"], cur["pcv"], cur["zen"])
                cur = None
    out = {}
    for n in names:
        if n:
            key = _antenna_key(n)
            m = found.get(key) or found.get((key[0], "NONE"))
            if m is not None:
                out[n] = m
    return out


def _antenna_key(name: str):
    return (name[0:16].strip(), name[16:20].strip() or "NONE")


def _antenna_sd(pair, geo, models: dict, names) -> np.ndarray:
    """Rover-minus-base antenna range corrections (n_ep, ns, nf), m."""
    nf = pair.lam.shape[1]
    corr = np.zeros((len(pair.t), len(pair.sats), nf))
    for sign, name, el, az in (
        (1.0, names[0], geo["el_r"], geo["az_r"]),
        (-1.0, names[1], geo["el_b"], geo["az_b"]),
    ):
        model = models.get(name)
        if model is None:
            continue
        for f in range(nf):
            for sysl in np.unique(pair.sys):
                k = np.flatnonzero(pair.sys == sysl)
                code = f"{sysl}0{BANDS[sysl][f][0]}"
                val = model.correction_m(code, np.nan_to_num(el[:, k]), np.nan_to_num(az[:, k]))
                corr[:, k, f] += sign * val
    return corr


# ----------------------------------------------------------------------------- filter
class _Filter:
    """The EKF over [pos(3), dZ, I(ns), N(ns x nf)] for one processing direction."""

    def __init__(
        self, pair: _Pair, geo: dict, opt: RTKOptions, est_iono: bool, est_tropo: bool, bl_km: float
    ):
        self.p, self.g, self.o = pair, geo, opt
        ns, nf = len(pair.sats), pair.lam.shape[1]
        self.ns, self.nf = ns, nf
        self.N = 4 + ns + ns * nf
        self.x = np.zeros(self.N)
        self.P = np.zeros((self.N, self.N))
        self.est_iono, self.est_tropo = est_iono, est_tropo
        self.iono0 = max(opt.iono_ppm * 1e-6 * bl_km * 1e3, 0.02)
        self.iono_q = (opt.iono_rate_mps * max(bl_km, 1.0) / 10.0) ** 2
        self.last_t = np.full(self.N, np.nan)
        self.sys_id = np.unique(pair.sys, return_inverse=True)[1].astype(np.int64)
        self.has_glo = bool(np.any(pair.sys == "R"))
        self.ant = geo.get("ant")
        rx = np.asarray(geo["rx"], np.float64)
        self.rx_approx = np.broadcast_to(rx, (len(pair.t), 3)) if rx.ndim == 1 else rx
        self.up = self.rx_approx / np.linalg.norm(self.rx_approx, axis=1)[:, None]
        self.sd_cp = pair.r["cp"] - pair.b["cp"]
        self.sd_pr = pair.r["pr"] - pair.b["pr"]
        a2 = opt.phase_sigma_m**2
        with np.errstate(invalid="ignore"):
            self.var_sd = a2 * (1 + 1 / np.maximum(np.sin(geo["el_r"]), 0.1) ** 2) + a2 * (
                1 + 1 / np.maximum(np.sin(geo["el_b"]), 0.1) ** 2
            )
        self.nfix = 0
        self.nis_flags = 0
        self.last_fix = None  # {SD ambiguity slot: fixed value} of the previous epoch, if fixed
        self.just_reset = set()

    def ia(self, k, f):
        return 4 + self.ns + k * self.nf + f

    def _reset(self, idx, val, var):
        self.P[idx, :] = 0.0
        self.P[:, idx] = 0.0
        self.x[idx] = val
        self.P[idx, idx] = var

    def predict(self, e, t, ok, slip, static):
        o, p = self.o, self.p
        if not static or not np.isfinite(self.last_t[0]):
            x0 = (
                p.spp[e]
                if np.all(np.isfinite(p.spp[e]))
                else (self.x[:3] if np.isfinite(self.last_t[0]) else self.g["rx0"])
            )
            self._reset(np.arange(3), x0, o.pos_sigma_m**2)
        self.last_t[:3] = t
        if self.est_tropo:
            if not np.isfinite(self.last_t[3]):
                self._reset(np.array([3]), 0.0, o.tropo_sigma_m**2)
            else:
                self.P[3, 3] += o.tropo_rate_mps**2 * abs(t - self.last_t[3])
            self.last_t[3] = t
        ks = np.flatnonzero(ok.any(axis=1))
        if self.est_iono:
            ii = 4 + ks
            dt = np.abs(t - self.last_t[ii])
            fresh = ~(dt <= o.max_gap_s)
            if fresh.any():
                self._reset(ii[fresh], 0.0, self.iono0**2)
            self.P[ii[~fresh], ii[~fresh]] += self.iono_q * dt[~fresh]
            self.last_t[ii] = t
        k, f = np.nonzero(ok)
        ia = self.ia(k, f)
        dt = np.abs(t - self.last_t[ia])
        new = slip[k, f] | ~(dt <= o.max_gap_s)
        if new.any():
            kn, fn = k[new], f[new]
            lam = p.lam[kn, fn]
            sd_cp = lam * (p.r["cp"][e, kn, fn] - p.b["cp"][e, kn, fn])
            sd_pr = p.r["pr"][e, kn, fn] - p.b["pr"][e, kn, fn]
            self._reset(ia[new], (sd_cp - sd_pr) / lam, o.amb_sigma_cyc**2)
        self.just_reset = set(ia[new].tolist())
        old = ia[~new]
        self.P[old, old] += o.amb_rate_cyc**2 * dt[~new]
        self.last_t[ia] = t

    def pairs(self, e, ok):
        """DD pairs of epoch ``e``: (sat, reference sat, band, group) of every non-reference row.

        The reference of each system and band is its highest satellite at the rover.
        """
        k, f = np.nonzero(ok)
        el = self.g["el_r"][e][k]
        grp = self.sys_id[k] * self.nf + f
        order = np.lexsort((-el, grp))
        k, f, grp = k[order], f[order], grp[order]
        first = np.ones(len(grp), bool)
        first[1:] = grp[1:] != grp[:-1]
        start = np.flatnonzero(first)
        ref = np.repeat(k[start], np.diff(np.append(start, len(grp))))
        keep = ~first
        return k[keep], ref[keep], f[keep], grp[keep]

    def design(self, e, ok, x):
        """DD residuals v (m), design H (m, N), covariance R and the number of phase rows (first ones)."""
        p, g, o = self.p, self.g, self.o
        j, r, f, grp = self.pairs(e, ok)
        m = len(j)
        if m == 0:
            return None
        d = g["sv_r"][e] - x[:3]
        rho = np.sqrt((d * d).sum(axis=1))
        los = d / rho[:, None]
        # the rover troposphere was computed at the approximate position: first-order height correction
        # (hydrostatic scale height ~8.4 km, wet ~2 km, wet ~10 %: dT/dh ~ -T / 6500 m)
        dh = float(self.up[e] @ (x[:3] - self.rx_approx[e]))
        geo = rho - g["rho_b"][e] + g["trop_r"][e] * (1.0 - dh / 6500.0) - g["trop_b"][e]
        if self.est_tropo:
            geo = geo + g["mw_r"][e] * x[3]
        iono = x[4 : 4 + self.ns] if self.est_iono else np.zeros(self.ns)
        lj, lr, kj, kr = p.lam[j, f], p.lam[r, f], p.kappa[j, f], p.kappa[r, f]
        aj, ar = 4 + self.ns + j * self.nf + f, 4 + self.ns + r * self.nf + f
        cp, pr = self.sd_cp[e], self.sd_pr[e]
        if self.ant is not None:
            ant = self.ant[e]
            cp = cp - ant / p.lam
            pr = pr - ant
        v_ph = (lj * cp[j, f] - geo[j] + kj * iono[j] - lj * x[aj]) - (
            lr * cp[r, f] - geo[r] + kr * iono[r] - lr * x[ar]
        )
        v_pr = (pr[j, f] - geo[j] - kj * iono[j]) - (pr[r, f] - geo[r] - kr * iono[r])
        H = np.zeros((2 * m, self.N))
        rows = np.arange(m)
        tr = g["trop_r"][e]
        H[:m, :3] = H[m:, :3] = -(los[j] - los[r]) - np.outer((tr[j] - tr[r]) / 6500.0, self.up[e])
        if self.est_tropo:
            H[:, 3] = np.tile(g["mw_r"][e][j] - g["mw_r"][e][r], 2)
        if self.est_iono:
            H[rows, 4 + j], H[rows, 4 + r] = -kj, kr
            H[m + rows, 4 + j], H[m + rows, 4 + r] = kj, -kr
        H[rows, aj], H[rows, ar] = lj, -lr
        var = self.var_sd[e]
        vj, vr = var[j], var[r]
        Rph = np.where(grp[:, None] == grp[None, :], vr[:, None], 0.0)
        Rph[rows, rows] += vj
        R = np.zeros((2 * m, 2 * m))
        R[:m, :m] = Rph
        R[m:, m:] = Rph * o.code_phase_ratio**2
        if self.has_glo:
            fac = np.where(p.sys[j] == "R", GLO_CODE_VAR_FACTOR, 1.0)
            R[m:, m:] *= np.sqrt(np.outer(fac, fac))
        return np.concatenate([v_ph, v_pr]), H, R, m

    def update(self, v, H, R):
        PHt = self.P @ H.T
        S = H @ PHt + R
        try:
            K = np.linalg.solve(S, PHt.T).T
        except np.linalg.LinAlgError:
            return None
        self.x = self.x + K @ v
        self.P = self.P - K @ PHt.T
        self.P = 0.5 * (self.P + self.P.T)
        return S

    def amb_transform(self, e, ok):
        """DD ambiguity transform T (nd, N) over the AR-eligible SD ambiguities."""
        el = self.g["el_r"][e]
        elig = ok & ((el >= math.radians(self.o.ar_elev_mask_deg)) & (self.p.sys != "R"))[:, None]
        j, r, f, _grp = self.pairs(e, elig)
        T = np.zeros((len(j), self.N))
        rows = np.arange(len(j))
        T[rows, 4 + self.ns + j * self.nf + f] = 1.0
        T[rows, 4 + self.ns + r * self.nf + f] = -1.0
        return T


def _epoch(flt: _Filter, e, ok, slip, static):
    """Process one epoch; returns (status, pos, cov, nsat, ratio, ps, n_fixed, flagged)."""
    p, _o = flt.p, flt.o
    t = p.t[e]
    flt.predict(e, t, ok, slip, static)
    d = flt.design(e, ok, flt.x)
    nsat = int(ok.any(axis=1).sum())
    if d is None or nsat < 4:
        return FixQuality.SPP, p.spp[e], np.eye(3) * 100.0, nsat, 0.0, 0.0, 0, False
    v, H, R, m = d
    flagged = False
    if static and np.isfinite(flt.last_t[0]):
        flagged = _motion_test(flt, v, H, R, m)
    x0 = flt.x.copy()
    if flt.update(v, H, R) is None:
        return FixQuality.SPP, p.spp[e], np.eye(3) * 100.0, nsat, 0.0, 0.0, 0, flagged
    out = _resolve(flt, e, ok, (x0, v[:m], H[:m], np.sqrt(np.diag(R)[:m])))
    return (*out[:2], out[2], nsat, *out[3:], flagged)


def _motion_test(flt, v, H, R, m):
    """Static mode: do the code DD innovations demand a different position?"""
    code = np.arange(m, len(v))
    if len(code) < 4:
        return False
    Hc = H[code, :3]
    W = np.linalg.inv(R[np.ix_(code, code)])
    N = Hc.T @ W @ Hc
    try:
        C = np.linalg.inv(N)
    except np.linalg.LinAlgError:
        return False
    dx = C @ Hc.T @ W @ v[code]
    Ptot = C + flt.P[:3, :3]
    stat = float(dx @ np.linalg.solve(Ptot, dx))
    return stat > 27.9 and float(np.linalg.norm(dx)) > 1.0  # chi2(3) 99.9999 %


def _resolve(flt: _Filter, e, ok, lin):
    o = flt.o
    pos, cov = flt.x[:3].copy(), flt.P[:3, :3].copy()
    if not o.ar:
        return FixQuality.FLOAT, pos, cov, 0.0, 0.0, 0
    T = flt.amb_transform(e, ok)
    if T.shape[0] < 2:
        return FixQuality.FLOAT, pos, cov, 0.0, 0.0, 0
    a = T @ flt.x
    Q = T @ flt.P @ T.T
    min_fixed = max(4, math.ceil(o.par_min_frac * len(a)))
    fix = ambiguity.resolve(
        a,
        Q,
        par=o.par,
        min_success=o.min_success,
        min_fixed=min_fixed,
        full_min_success=o.full_min_success,
        ratio_fn=lambda n: max(o.ratio_min, ambiguity.ratio_threshold(n)),
    )
    if not fix.ok:
        flt.nfix = 0
        flt.last_fix = None
        return FixQuality.FLOAT, pos, cov, fix.ratio, fix.success_rate, 0
    xf, Pf = ambiguity.condition(flt.x, flt.P, T, fix)
    # phase residuals of the fixed solution (the model is linear to well below a mm at this step)
    x0, v0, H0, sd0 = lin
    z = np.abs(v0 - H0 @ (xf - x0)) / sd0
    dpos = xf[:3] - pos
    jump = float(dpos @ np.linalg.solve(cov + 1e-12 * np.eye(3), dpos))
    # 5 x the chi2(3) 99.9 % point: code errors are time-correlated, the float covariance optimistic
    if (len(z) and z.max() > o.validate_sigma) or jump > 16.27 * 25.0:
        log.debug(
            "fix rejected at epoch %d: max phase residual %.1f sigma, position jump chi2 %.1f",
            e,
            z.max() if len(z) else 0.0,
            jump,
        )
        flt.nfix = 0
        flt.last_fix = None
        return FixQuality.FLOAT, pos, cov, fix.ratio, fix.success_rate, 0
    if not _consistent(flt, T, xf, Pf):
        log.debug("fix rejected at epoch %d: integers differ from the previous epoch's", e)
        flt.nfix = 0
        return FixQuality.FLOAT, pos, cov, fix.ratio, fix.success_rate, 0
    flt.nfix += 1
    if o.hold and o.mode == "kinematic" and flt.nfix >= o.hold_after:
        flt.x, flt.P = ambiguity.condition(flt.x, flt.P, T, fix, var_cyc2=1e-4)
    return FixQuality.FIX, xf[:3], Pf[:3, :3], fix.ratio, fix.success_rate, fix.n_fixed


def _consistent(flt: _Filter, T, xf, Pf) -> bool:
    """Do this epoch's fixed integers agree with the previous epoch's on the continuing arcs?

    Compares the SD ambiguities determined by the fix (DD variance < 0.01
    cycle^2) per system and band, up to the common constant of the band; a
    difference over half a cycle means one of the two fixes is wrong.
    """
    dd_var = np.einsum("ij,jk,ik->i", T, Pf, T)
    cols = np.flatnonzero(np.abs(T[dd_var < 0.01]).sum(axis=0) > 0)
    cur = dict(zip(cols.tolist(), xf[cols].tolist()))
    prev, flt.last_fix = flt.last_fix, cur
    if prev is None:
        return True
    common = np.array([c for c in cur if c in prev and c not in flt.just_reset], np.int64)
    if len(common) < 2:
        return True
    slot = common - 4 - flt.ns
    grp = flt.sys_id[slot // flt.nf] * flt.nf + slot % flt.nf
    diff = np.array([cur[c] - prev[c] for c in common.tolist()])
    for g in np.unique(grp):
        d = diff[grp == g]
        if len(d) >= 2 and np.abs(d - np.median(d)).max() > 0.5:
            return False
    return True


# ----------------------------------------------------------------------------- driver
class _SingleThreadBLAS:
    """Run OpenBLAS single-threaded inside the block (restored after).

    The filter multiplies matrices of ~100 x 100 thousands of times; OpenBLAS
    splits those over threads, which on a loaded machine costs 100x more than
    the arithmetic.  Only numpy's bundled OpenBLAS is handled; anything else
    is left alone.
    """

    _lib = None
    _looked = False

    @classmethod
    def _find(cls):
        if not cls._looked:
            cls._looked = True
            import ctypes
            import glob
            import os

            libs = glob.glob(
                os.path.join(
                    os.path.dirname(os.path.dirname(np.__file__)),
                    "numpy.libs",
                    "libscipy_openblas*",
                )
            )
            try:
                lib = ctypes.CDLL(libs[0]) if libs else None
                if lib is not None:
                    lib.scipy_openblas_get_num_threads64_.restype = ctypes.c_int
                    cls._lib = lib
            except (OSError, AttributeError):
                cls._lib = None
        return cls._lib

    def __enter__(self):
        lib = self._find()
        self.prev = lib.scipy_openblas_get_num_threads64_() if lib is not None else None
        if lib is not None:
            lib.scipy_openblas_set_num_threads64_(1)
        return self

    def __exit__(self, *exc):
        if self.prev is not None:
            self._lib.scipy_openblas_set_num_threads64_(int(self.prev))
        return False


def _geometry(pair: _Pair, store, rx_approx):
    sv_b = _sat_positions(pair, pair.b, pair.base, store, pair.t_base)
    sv_r = _sat_positions(pair, pair.r, rx_approx, store, pair.t)
    t0 = float(pair.t[0]) if len(pair.t) else 0.0
    el_b, trop_b, _, az_b = _tropo(sv_b, pair.base, t0)
    el_r, trop_r, mw_r, az_r = _tropo(sv_r, rx_approx, t0)
    rho_b = np.linalg.norm(sv_b - pair.base, axis=2)
    return {
        "sv_r": sv_r,
        "sv_b": sv_b,
        "el_b": el_b,
        "el_r": el_r,
        "trop_b": trop_b,
        "trop_r": trop_r,
        "mw_r": mw_r,
        "rho_b": rho_b,
        "az_b": az_b,
        "az_r": az_r,
        "rx": rx_approx,
        "rx0": rx_approx if rx_approx.ndim == 1 else np.nanmedian(rx_approx, 0),
    }


def _usable(pair: _Pair, geo, opt):
    m = math.radians(opt.elev_mask_deg)
    el_ok = (geo["el_r"] >= m) & (geo["el_b"] >= m)
    ok = (
        np.isfinite(pair.r["cp"])
        & np.isfinite(pair.b["cp"])
        & np.isfinite(pair.r["pr"])
        & np.isfinite(pair.b["pr"])
        & el_ok[..., None]
        & pair.has_base[:, None, None]
    )
    return ok


def _slips(pair: _Pair, order):
    out = np.zeros(pair.r["cp"].shape, bool)
    for w in (pair.r, pair.b):
        lli = w["lli"]
        if order[0] > order[-1] if len(order) > 1 else False:
            # backward: a loss of lock flagged at epoch k starts a new arc at k-1
            lli = np.concatenate([lli[1:], np.zeros_like(lli[:1])])
        s, _r = detect_slips(
            pair.t[order], w["cp"][order], w["pr"][order], w["dop"][order], lli[order], pair.lam
        )
        out[order] |= s
    return out


def _run(pair, geo, opt, order, est_iono, est_tropo, bl_km, progress=None, done0=0, total=0):
    n = len(pair.t)
    static = opt.mode == "static"
    ok_all = _usable(pair, geo, opt)
    slip = _slips(pair, order)
    flt = _Filter(pair, geo, opt, est_iono, est_tropo, bl_km)
    st = np.zeros(n, np.int8)
    pos = np.full((n, 3), np.nan)
    cov = np.full((n, 3, 3), np.nan)
    nsat, ratio, ps, nfx, flags = (
        np.zeros(n, np.int64),
        np.zeros(n),
        np.zeros(n),
        np.zeros(n, np.int64),
        np.zeros(n, bool),
    )
    for i, e in enumerate(order):
        if progress is not None and i % 200 == 0:
            progress(done0 + i, total)
        s, x, c, ns_, r, p_, k, fl = _epoch(flt, e, ok_all[e], slip[e], static)
        if s == FixQuality.SPP and not np.all(np.isfinite(x)):
            s = FixQuality.NONE
        st[e], pos[e], cov[e], nsat[e], ratio[e], ps[e], nfx[e], flags[e] = (
            s,
            x,
            c,
            ns_,
            r,
            p_,
            k,
            fl,
        )
    return {
        "status": st,
        "pos": pos,
        "cov": cov,
        "nsat": nsat,
        "ratio": ratio,
        "ps": ps,
        "nfix": nfx,
        "flags": flags,
        "filter": flt,
        "ok": ok_all,
    }


def _combine(fw, bw):
    """Forward/backward combination: covariance-weighted mean; a fixed solution wins over a float one."""
    out = {k: v.copy() for k, v in fw.items() if isinstance(v, np.ndarray)}
    for e in range(len(fw["status"])):
        sf, sb = fw["status"][e], bw["status"][e]
        if sb > sf:
            for k in ("status", "pos", "cov", "nsat", "ratio", "ps", "nfix"):
                out[k][e] = bw[k][e]
        elif sb == sf and sf >= FixQuality.FLOAT:
            Wf, Wb = np.linalg.inv(fw["cov"][e]), np.linalg.inv(bw["cov"][e])
            C = np.linalg.inv(Wf + Wb)
            out["pos"][e] = C @ (Wf @ fw["pos"][e] + Wb @ bw["pos"][e])
            out["cov"][e] = C
            out["ratio"][e] = max(fw["ratio"][e], bw["ratio"][e])
    return out


def solve_baseline(
    rover,
    base,
    store,
    base_pos,
    options: RTKOptions | None = None,
    spp_pos=None,
    progress=None,
    glo_channels=None,
    antex=None,
) -> RTKResult:
    """Relative positioning of a rover against a base of known position.

    Parameters
    ----------
    rover, base : vngeonet.rinex.obs.ObsData
    store : EphemerisStore or PreciseStore
    base_pos : array_like (3,)
        Base antenna position, ECEF m.
    options : RTKOptions
    spp_pos : ndarray (n_rover_epochs, 3), optional
        Rover code positions (NaN where unknown); computed with
        :func:`~vngeonet.positioning.spp.solve_spp` when omitted.
    progress : callable(done, total), optional
    glo_channels : dict, optional
        GLONASS frequency channels ``{"R05": k}`` (e.g. from the navigation data).
    antex : path, optional
        ANTEX file: receiver antenna PCO + elevation-dependent PCV of the
        header antenna types are applied (rover and base; GPS L1/L2 values
        for frequencies the file lacks).

    Returns
    -------
    RTKResult
    """
    opt = options or RTKOptions()
    base_marker = np.asarray(base_pos, np.float64)
    base_pos = _arp(base_marker, base)
    if spp_pos is None:
        from vngeonet.positioning.spp import SPPOptions, solve_spp

        spp_pos = solve_spp(
            rover, store, None, SPPOptions(systems=opt.systems, velocity=False)
        ).pos_ecef_m
    pair = prepare(rover, base, base_pos, opt, spp_pos, glo_channels)
    good = np.all(np.isfinite(pair.spp), axis=1)
    if good.any():
        approx = np.median(pair.spp[good], axis=0)
    elif getattr(rover, "header", None) is not None:
        approx = np.asarray(rover.header.approx_pos_ecef_m, np.float64)
    else:
        approx = np.asarray(base_pos, np.float64)
    rx = approx if opt.mode == "static" else np.where(good[:, None], pair.spp, approx)
    geo = _geometry(pair, store, rx)
    antennas = _apply_antex(antex, rover, base, pair, geo)
    bl_km = float(np.linalg.norm(approx - pair.base)) / 1e3
    est_iono = opt.iono == "est" or (opt.iono == "auto" and bl_km >= opt.iono_auto_km)
    est_tropo = opt.tropo == "est" or (opt.tropo == "auto" and bl_km >= opt.tropo_auto_km)
    n = len(pair.t)
    two = opt.backward and opt.mode == "kinematic" and n > 1
    total = n * (2 if two else 1)
    with _SingleThreadBLAS():
        fw = _run(pair, geo, opt, np.arange(n), est_iono, est_tropo, bl_km, progress, 0, total)
        res = fw
        if two:
            bw = _run(
                pair, geo, opt, np.arange(n)[::-1], est_iono, est_tropo, bl_km, progress, n, total
            )
            res = _combine(fw, bw)
    if progress is not None:
        progress(total, total)
    d_rov = _arp(np.zeros(3), rover, base_marker)
    res["pos"] = res["pos"] - d_rov
    final = _static_final(fw, pair, opt, base_marker) if opt.mode == "static" else None
    info = {
        "antenna_delta_rover_ecef_m": d_rov.tolist(),
        "antenna_delta_base_ecef_m": (base_pos - base_marker).tolist(),
        "baseline_km": bl_km,
        "iono": "estimated" if est_iono else "ignored",
        "tropo": "zenith residual" if est_tropo else "model",
        "n_sats": len(pair.sats),
        "epochs_with_base": int(pair.has_base.sum()),
        "antennas": antennas,
    }
    return RTKResult(
        pair.t,
        res["status"],
        res["pos"],
        res["cov"],
        res["nsat"],
        res["ratio"],
        res["ps"],
        res["nfix"],
        base_marker,
        opt.mode,
        final,
        info,
    )


def _apply_antex(antex, rover, base, pair, geo) -> dict:
    """Put the ANTEX rover-minus-base corrections in ``geo["ant"]``; which models were found."""
    names = tuple(
        getattr(getattr(o, "header", None), "antenna_type", "") or "" for o in (rover, base)
    )
    if antex is None:
        return {"rover": names[0], "base": names[1], "model": "none (ARP = phase centre)"}
    models = read_antex(antex, names)
    geo["ant"] = _antenna_sd(pair, geo, models, names)
    for role, n in zip(("rover", "base"), names):
        if n not in models:
            log.warning(
                "antenna %r of the %s not in %s: no phase-centre correction", n, role, antex
            )
    return {
        "rover": names[0],
        "base": names[1],
        "model": {
            role: (models[n].name if n in models else None)
            for role, n in zip(("rover", "base"), names)
        },
    }


def _arp(marker, obs, near=None):
    """Marker + the RINEX header antenna delta H/E/N (ECEF m); ``near`` sets the local frame."""
    hdr = getattr(obs, "header", None)
    hen = getattr(hdr, "antenna_delta_hen_m", None) if hdr is not None else None
    hen = np.zeros(3) if hen is None else np.asarray(hen, np.float64)
    if not np.any(hen):
        return np.asarray(marker, np.float64).copy()
    llh = coords.ecef_to_llh(marker if near is None else near)
    rot = coords.enu_rotation(llh[0], llh[1])
    return marker + rot.T @ np.array([hen[1], hen[2], hen[0]])


def _static_final(fw, pair, opt, base_marker) -> StaticSummary:
    """The last epoch of the static filter is the batch solution; check the receiver stood still."""
    n = len(pair.t)
    solved = np.flatnonzero(fw["status"] >= FixQuality.FLOAT)
    flagged = int(fw["flags"].sum())
    moving = flagged >= 3 and flagged >= 0.05 * max(n, 1)
    if not len(solved):
        nan3 = np.full(3, np.nan)
        return StaticSummary(
            FixQuality.NONE,
            nan3,
            np.full((3, 3), np.nan),
            nan3,
            math.nan,
            math.nan,
            0.0,
            0.0,
            0,
            0,
            moving,
            "no epoch solved",
            flagged,
        )
    e = solved[-1]
    pos, cov = fw["pos"][e], fw["cov"][e]
    bl = pos - base_marker
    length = float(np.linalg.norm(bl))
    u = bl / length if length > 0 else np.zeros(3)
    sd_len = float(math.sqrt(max(u @ cov @ u, 0.0)))
    status = FixQuality(int(fw["status"][e]))
    reason = ""
    if moving:
        reason = (
            f"receiver moved: {flagged} of {n} epochs reject a fixed position "
            "(code double differences); static solution not valid"
        )
        log.warning("static baseline: %s", reason)
        status = FixQuality.NONE
    n_amb = int(fw["filter"].amb_transform(e, fw["ok"][e]).shape[0])
    return StaticSummary(
        status,
        pos,
        cov,
        bl,
        length,
        sd_len,
        float(fw["ratio"][e]),
        float(fw["ps"][e]),
        n_amb,
        int(fw["nfix"][e]),
        moving,
        reason,
        flagged,
    )


# ----------------------------------------------------------------------------- output
_Q = {
    FixQuality.FIX: "fix",
    FixQuality.FLOAT: "float",
    FixQuality.SPP: "single",
    FixQuality.NONE: "none",
}


def _num(v):
    v = float(v)
    return round(v, 5) if math.isfinite(v) else None


def _sd(cov):
    return [_num(math.sqrt(c)) if c >= 0 else None for c in np.diag(cov)]


def json_records(res: RTKResult):
    """One JSON-serialisable dict per epoch, then (static) the final solution with ``"final": true``.

    Keys: ``time`` (ISO GPS time), ``q`` (fix/float/single/none), ``ecef_m``,
    ``nsat``, ``ratio``, ``baseline_m`` [dx, dy, dz], ``baseline_sd_m``,
    ``length_m``, ``length_sd_m``, ``success_rate``, ``n_fixed``.
    """
    bl = res.baseline_m
    for k in range(len(res)):
        ok = res.status[k] != FixQuality.NONE and np.all(np.isfinite(res.pos_ecef_m[k]))
        length = float(np.linalg.norm(bl[k])) if ok else math.nan
        u = bl[k] / length if ok and length > 0 else np.zeros(3)
        cov = res.cov_ecef_m2[k] if ok else np.full((3, 3), np.nan)
        yield {
            "time": GPSTime.from_seconds(float(res.time_gps_s[k])).isoformat(),
            "q": _Q[FixQuality(int(res.status[k]))],
            "ecef_m": [_num(v) for v in res.pos_ecef_m[k]],
            "nsat": int(res.nsat[k]),
            "ratio": _num(res.ratio[k]),
            "baseline_m": [_num(v) for v in bl[k]],
            "baseline_sd_m": _sd(cov) if ok else [None] * 3,
            "length_m": _num(length),
            "length_sd_m": _num(math.sqrt(max(u @ cov @ u, 0.0))) if ok else None,
            "success_rate": _num(res.success_rate[k]),
            "n_fixed": int(res.n_fixed[k]),
        }
    f = res.final
    if f is not None:
        enu = (
            coords.ecef_to_enu(f.pos_ecef_m, res.base_ecef_m)
            if np.all(np.isfinite(f.pos_ecef_m))
            else [math.nan] * 3
        )
        yield {
            "final": True,
            "time": GPSTime.from_seconds(float(res.time_gps_s[-1])).isoformat()
            if len(res)
            else None,
            "q": _Q[f.status],
            "ecef_m": [_num(v) for v in f.pos_ecef_m],
            "nsat": int(res.nsat[-1]) if len(res) else 0,
            "ratio": _num(f.ratio),
            "baseline_m": [_num(v) for v in f.baseline_m],
            "baseline_sd_m": _sd(f.cov_ecef_m2),
            "baseline_enu_m": [_num(v) for v in enu],
            "length_m": _num(f.length_m),
            "length_sd_m": _num(f.length_sd_m),
            "success_rate": _num(f.success_rate),
            "n_amb": f.n_amb,
            "n_fixed": f.n_fixed,
            "moving": bool(f.moving),
            "reason": f.reason,
        }


def json_lines(res: RTKResult):
    """Compact JSON text lines (with newline) of :func:`json_records`."""
    import json

    for rec in json_records(res):
        yield json.dumps(rec, separators=(",", ":")) + "\n"


def pos_lines(res: RTKResult, header: dict | None = None):
    """RTKLIB-readable ``.pos`` lines (ECEF variant; Q 1 fix, 2 float, 5 single), via :mod:`pos`."""
    from vngeonet.positioning import pos as posout

    lines = posout.pos_lines(res, header, xyz=True)
    next(lines)
    yield "% program   : vngeonet baseline\n"
    yield from lines
