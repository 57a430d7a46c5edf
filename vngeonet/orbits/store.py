"""Broadcast ephemeris store: selection and vectorised satellite states.

:class:`EphemerisStore` keeps every ephemeris it is given and answers, for
arrays of (satellite, transmit time), the satellite position, velocity,
clock, drift, group delays and error variance.

Selection rules
---------------
* Only healthy ephemerides are used: GPS/QZSS/NavIC/BeiDou health 0;
  Galileo: the signal-health and data-validity bits of the message's own
  signals (I/NAV: E1-B and E5b, bits 0-2 and 6-8; F/NAV: E5a, bits 3-5);
  GLONASS ``B_n`` = 0; SBAS: not URA index 15 (bit 5), and MT17 health bits
  0-3 zero unless flagged unavailable (bit 4) (RINEX 3.05 §8.3.3).
* One message type per satellite, by preference (default: GPS/QZSS LNAV,
  then CNAV; Galileo I/NAV then F/NAV, because clocks refer to different
  signal pairs; BeiDou D1/D2 then CNAV-1/2/3); a satellite falls back to the
  next type only when it has none of the preferred one.
* Duplicates (same satellite, type and toe) keep the first one read.
* The ephemeris with the toe nearest to the requested time is chosen, and is
  valid if ``t - toe`` is within the system's window (:data:`VALIDITY_S`):
  GPS +-half the fit interval (at least 2 h), QZSS/NavIC +-2 h, Galileo
  -30 min..+4 h, BeiDou -30 min..+3 h, GLONASS +-30 min, SBAS +-6 min.  Where
  the next toe is further away than its window reaches back, the previous
  ephemeris keeps being used up to its forward limit.

Implementation: the selection is precomputed as a sorted array of
(satellite code, time) segment starts, one segment per ephemeris ending
half-way to the next toe, so a query is one ``np.searchsorted`` over all
satellites and epochs; orbit evaluation is then a single vectorised pass per
orbit kind (Keplerian, GLONASS, SBAS).

References
----------
IS-GPS-200N §20.3.3.4.3.1 (curve fit interval), §20.3.3.3.1.4 (SV health);
Galileo OS SIS ICD 2.1 §5.1.9.3 (signal health status / data validity);
GLONASS ICD 5.1 §4.4 (B_n); RINEX 3.05 Table A8 (Galileo data sources).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vngeonet.gnss.time import GPSTime
from vngeonet.model import GlonassEphemeris, KeplerEphemeris
from vngeonet.orbits import broadcast as bc

log = logging.getLogger(__name__)

DEFAULT_PREFER: dict[str, tuple[str, ...]] = {
    "G": ("LNAV", "CNAV", "CNV2"),
    "J": ("LNAV", "CNAV", "CNV2"),
    "E": ("INAV", "FNAV"),
    "C": ("D1", "D2", "CNV1", "CNV2", "CNV3"),
    "I": ("LNAV",),
    "R": ("FDMA",),
    "S": ("SBAS",),
}
# Validity window (seconds before toe, seconds after toe) per system.  GPS
# ephemerides fit +-half the curve-fit interval around toe; Galileo and
# BeiDou ones are made for use from toe onwards and degrade quickly when
# extrapolated backwards (ESBC 2020-177: Galileo 1.4 m at -1 h, 16 m at -2 h,
# 94 m at -3.5 h), so after a data gap the previous ephemeris is kept rather
# than reaching back from the next one.
VALIDITY_S: dict[str, tuple[float, float]] = {
    "G": (7200.0, 7200.0),
    "J": (7200.0, 7200.0),
    "I": (7200.0, 7200.0),
    "E": (1800.0, 14400.0),
    "C": (1800.0, 10800.0),
    "R": (1800.0, 1800.0),
    "S": (360.0, 360.0),
}
# Variance used when the accuracy is unknown (sigma, m): GLONASS and SBAS broadcast no URA in RINEX 2/3.04.
DEFAULT_SIGMA_M: dict[str, float] = {
    "G": 6.0,
    "J": 6.0,
    "I": 6.0,
    "E": 6.0,
    "C": 6.0,
    "R": 5.0,
    "S": 10.0,
}
NAPA_SIGMA_M = 500.0  # Galileo SISA "no accuracy prediction available"

_SYS_INDEX = {s: i + 1 for i, s in enumerate("GRECJIS")}
_CODE_LUT = np.zeros(128, dtype=np.int64)
for _s, _i in _SYS_INDEX.items():
    _CODE_LUT[ord(_s)] = _i
_SPAN = float(2**32)  # per-satellite key span in the segment table (GPS seconds < 2**32 until 2116)
_GAL_INAV_BITS = 0x1C7  # E1-B DVS/HS (bits 0-2), E5b DVS/HS (bits 6-8)
_GAL_FNAV_BITS = 0x038  # E5a DVS/HS (bits 3-5)
KIND_KEPLER, KIND_GLONASS, KIND_SBAS = 0, 1, 2


@dataclass(frozen=True, slots=True, eq=False)
class SatState:
    """Satellite states for n (satellite, transmit time) queries.

    Attributes
    ----------
    pos_m : ndarray, shape (n, 3)
        ECEF position at transmit time (no Earth-rotation correction).
    vel_mps : ndarray, shape (n, 3)
        ECEF velocity.
    clk_s : ndarray, shape (n,)
        Satellite clock offset, including the relativistic correction,
        excluding group delays.
    clk_drift_sps : ndarray, shape (n,)
        Clock drift.
    ok : ndarray of bool, shape (n,)
        An ephemeris was found, healthy and within its maximum age (NaN
        everywhere else where not ok).
    tgd_s, tgd2_s : ndarray, shape (n,)
        Group delays of the selected ephemeris (GPS TGD, Galileo BGD E1-E5a /
        E1-E5b, BeiDou TGD1 / TGD2, GLONASS delta tau_n), NaN if unknown.
    var_m2 : ndarray, shape (n,)
        Orbit + clock error variance from URA/SISA (m^2).
    """

    pos_m: np.ndarray
    vel_mps: np.ndarray
    clk_s: np.ndarray
    clk_drift_sps: np.ndarray
    ok: np.ndarray
    tgd_s: np.ndarray
    tgd2_s: np.ndarray
    var_m2: np.ndarray


def sat_codes(sat: np.ndarray) -> np.ndarray:
    """Integer code ``system_index * 100 + prn`` of RINEX 3 satellite ids, vectorised.

    >>> sat_codes(np.array(["G05", "E11", "R24"])).tolist()
    [105, 311, 224]
    """
    a = np.ascontiguousarray(sat, dtype="<U3").view(np.uint32).reshape(-1, 3).astype(np.int64)
    return _CODE_LUT[a[:, 0] & 127] * 100 + (a[:, 1] - 48) * 10 + (a[:, 2] - 48)


def is_healthy(eph: KeplerEphemeris | GlonassEphemeris) -> bool:
    """Health rule of the store for one ephemeris (see module notes)."""
    sys = eph.sat[0]
    if sys == "E":
        mask = _GAL_FNAV_BITS if eph.source == "FNAV" else _GAL_INAV_BITS
        return (eph.health & mask) == 0
    if sys == "S":
        # RINEX 3 §8.3.3: bits 0-3 MT17 health (valid unless bit 4 "unavailable"), bit 5 URA index 15
        if eph.health & 0x20:
            return False
        return bool(eph.health & 0x10) or (eph.health & 0x0F) == 0
    return eph.health == 0


class EphemerisStore:
    """Broadcast ephemerides with nearest-toe selection and vectorised states.

    Parameters
    ----------
    ephemerides : iterable of KeplerEphemeris or GlonassEphemeris, or NavData, optional
    prefer : dict, optional
        Message-type preference per system letter (overrides :data:`DEFAULT_PREFER`).
    validity_s : dict, optional
        ``(before, after)`` toe window per system letter (overrides :data:`VALIDITY_S`).

    Examples
    --------
    >>> from vngeonet.rinex.nav import read_nav  # doctest: +SKIP
    >>> store = EphemerisStore(read_nav("brdc1820.10n").ephemerides)  # doctest: +SKIP
    >>> st = store.sat_state(np.array(["G05", "G07"]), np.full(2, 1e9))  # doctest: +SKIP
    >>> st.pos_m.shape  # doctest: +SKIP
    (2, 3)
    """

    def __init__(
        self,
        ephemerides: Iterable[KeplerEphemeris | GlonassEphemeris] = (),
        *,
        prefer: dict[str, tuple[str, ...]] | None = None,
        validity_s: dict[str, tuple[float, float]] | None = None,
    ):
        # a NavData (from vngeonet.rinex.nav.read_nav) is accepted as well
        self._all: list = list(getattr(ephemerides, "ephemerides", ephemerides))
        self.prefer = {**DEFAULT_PREFER, **(prefer or {})}
        self.validity_s = {**VALIDITY_S, **(validity_s or {})}
        self._built = False

    def add(self, eph: KeplerEphemeris | GlonassEphemeris) -> None:
        """Add one ephemeris (e.g. decoded from RTCM); selection tables are rebuilt lazily."""
        self._all.append(eph)
        self._built = False

    def __len__(self) -> int:
        return len(self._all)

    @property
    def satellites(self) -> list[str]:
        """Satellites with at least one usable ephemeris, sorted."""
        self._ensure()
        return sorted(self._by_sat)

    # ------------------------------------------------------------------ build
    def _usable(self) -> dict[str, list]:
        groups: dict[str, dict[str, list]] = {}
        for eph in self._all:
            if not is_healthy(eph):
                continue
            groups.setdefault(eph.sat, {}).setdefault(eph.source, []).append(eph)
        out: dict[str, list] = {}
        for sat, by_src in groups.items():
            order = self.prefer.get(sat[0], ())
            src = next((s for s in order if s in by_src), None)
            if src is None:
                continue
            seen: dict[float, object] = {}
            for eph in by_src[src]:
                seen.setdefault(round(eph.toe.seconds, 3), eph)
            out[sat] = [seen[k] for k in sorted(seen)]
        return out

    def _ensure(self) -> None:
        if self._built:
            return
        self._by_sat = self._usable()
        kep, glo, sbs = [], [], []
        kind, row, toe, age, tgd, tgd2, var = [], [], [], [], [], [], []
        seg_key, seg_code, seg_eph = [], [], []
        for sat in sorted(self._by_sat, key=lambda s: int(sat_codes(np.array([s]))[0])):
            code = int(sat_codes(np.array([sat]))[0])
            ephs = self._by_sat[sat]
            toes = [e.toe.seconds for e in ephs]
            back, _ = self.validity_s.get(sat[0], (7200.0, 7200.0))
            for j, eph in enumerate(ephs):
                start = 0.0 if j == 0 else max(0.5 * (toes[j - 1] + toes[j]), toes[j] - back)
                seg_key.append(code * _SPAN + start)
                seg_code.append(code)
                seg_eph.append(len(kind))
                k, r, a, d1, d2, v = self._columns(eph, kep, glo, sbs)
                kind.append(k)
                row.append(r)
                toe.append(toes[j])
                age.append(a)
                tgd.append(d1)
                tgd2.append(d2)
                var.append(v)
        self._seg_key = np.array(seg_key, dtype=float)
        self._seg_code = np.array(seg_code, dtype=np.int64)
        self._seg_eph = np.array(seg_eph, dtype=np.intp)
        self._kind = np.array(kind, dtype=np.int8)
        self._row = np.array(row, dtype=np.intp)
        self._toe = np.array(toe, dtype=float)
        self._back = np.array([a[0] for a in age], dtype=float)
        self._fwd = np.array([a[1] for a in age], dtype=float)
        self._tgd = np.array(tgd, dtype=float)
        self._tgd2 = np.array(tgd2, dtype=float)
        self._var = np.array(var, dtype=float)
        self._kep = bc.kepler_table(kep)
        self._kep_t = np.ascontiguousarray(self._kep.T)
        self._glo = bc.glonass_table(glo)
        self._sbs = bc.glonass_table(sbs)
        self._glo_nodes = None
        self._only_kepler = not glo and not sbs
        self._built = True
        log.debug(
            "ephemeris store: %d satellites, %d usable of %d ephemerides",
            len(self._by_sat),
            len(kind),
            len(self._all),
        )

    def _columns(self, eph, kep, glo, sbs):
        sys = eph.sat[0]
        max_age = self.validity_s.get(sys, (7200.0, 7200.0))
        if isinstance(eph, KeplerEphemeris):
            if sys == "G":
                half = 1800.0 * eph.fit_interval_h
                max_age = (max(max_age[0], half), max(max_age[1], half))
            kep.append(eph)
            acc = eph.accuracy_m
            sigma = DEFAULT_SIGMA_M.get(sys, 6.0) if not math.isfinite(acc) or acc <= 0 else acc
            if sys == "E" and (eph.extra or {}).get("napa"):
                sigma = NAPA_SIGMA_M
            return KIND_KEPLER, len(kep) - 1, max_age, eph.tgd_s, eph.tgd2_s, sigma**2
        sigma = DEFAULT_SIGMA_M.get(sys, 6.0)
        if sys == "S":
            sbs.append(eph)
            return KIND_SBAS, len(sbs) - 1, max_age, float("nan"), float("nan"), sigma**2
        glo.append(eph)
        return KIND_GLONASS, len(glo) - 1, max_age, eph.delta_tau_n_s, float("nan"), sigma**2

    # ------------------------------------------------------------------ queries
    def _lookup(self, code: np.ndarray, t: np.ndarray):
        """(ephemeris index, found-and-valid) for codes and GPS seconds, vectorised."""
        if len(self._seg_key) == 0:
            return np.zeros(len(t), dtype=np.intp), np.zeros(len(t), dtype=bool)
        seg = np.searchsorted(self._seg_key, code * _SPAN + t, side="right") - 1
        np.maximum(seg, 0, out=seg)
        e = self._seg_eph[seg]
        dt = t - self._toe[e]
        ok = (self._seg_code[seg] == code) & (dt <= self._fwd[e]) & (dt >= -self._back[e])
        return e, ok

    def select(self, sat: str, t: GPSTime) -> KeplerEphemeris | GlonassEphemeris | None:
        """The ephemeris :meth:`sat_state` uses for ``sat`` at ``t`` (None if none is valid)."""
        self._ensure()
        ephs = self._by_sat.get(sat)
        if not ephs:
            return None
        e, ok = self._lookup(sat_codes(np.array([sat])), np.array([t.seconds]))
        if not ok[0]:
            return None
        toe = self._toe[e[0]]
        return next(x for x in ephs if x.toe.seconds == toe)

    def sat_state(self, sat, t_tx_gps_s) -> SatState:
        """Satellite states for arrays of satellites and transmit times.

        Parameters
        ----------
        sat : array_like of str, shape (n,) or scalar
            RINEX 3 satellite ids (``"G05"``).
        t_tx_gps_s : array_like of float, shape (n,) or scalar
            Transmit times, seconds since the GPS epoch (broadcast against ``sat``).

        Returns
        -------
        SatState
            Arrays of shape (n,) / (n, 3); rows that are not ``ok`` are NaN.
        """
        self._ensure()
        sat = np.asarray(sat)
        t = np.asarray(t_tx_gps_s, dtype=float)
        if sat.shape != t.shape:
            sat, t = np.broadcast_arrays(sat, t)
        sat, t = sat.ravel(), t.ravel()
        n = t.size
        e, ok = self._lookup(sat_codes(sat), t)
        if self._only_kepler:
            pos, vel, clk, drift = (
                bc.kepler_state_t(self._kep_t.take(self._row[e], axis=1), t) if n else _empty(0)
            )
        else:
            pos, vel, clk, drift = self._mixed(e, t)
        bad = ~ok
        if bad.any():
            pos[bad] = np.nan
            vel[bad] = np.nan
            clk[bad] = np.nan
            drift[bad] = np.nan
        tgd, tgd2, var = self._tgd[e], self._tgd2[e], self._var[e]
        if bad.any():
            tgd[bad] = tgd2[bad] = var[bad] = np.nan
        return SatState(pos, vel, clk, drift, ok, tgd, tgd2, var)

    def _mixed(self, e: np.ndarray, t: np.ndarray):
        pos, vel, clk, drift = _empty(len(t))
        kind = self._kind[e]
        row = self._row[e]
        for k in (KIND_KEPLER, KIND_GLONASS, KIND_SBAS):
            m = kind == k
            if not m.any():
                continue
            r, tm = row[m], t[m]
            if k == KIND_KEPLER:
                pos[m], vel[m], clk[m], drift[m] = bc.kepler_state_t(
                    self._kep_t.take(r, axis=1), tm
                )
                continue
            tab = self._glo if k == KIND_GLONASS else self._sbs
            g = tab[r]
            clk[m], drift[m] = bc.glonass_clock(g, tm)
            if k == KIND_SBAS:
                pos[m], vel[m] = bc.sbas_state(g, tm)
            else:
                if self._glo_nodes is None:
                    self._glo_nodes = bc.glonass_nodes(self._glo)
                pos[m], vel[m] = bc.glonass_interp(*self._glo_nodes, r, tm - g[:, bc.G_TOE])
        return pos, vel, clk, drift


def _empty(n: int):
    return (
        np.full((n, 3), np.nan),
        np.full((n, 3), np.nan),
        np.full(n, np.nan),
        np.full(n, np.nan),
    )
