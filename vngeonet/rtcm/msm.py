"""RTCM 3 Multiple Signal Messages MSM1-MSM7 (message types 1071-1137).

Decoding turns one payload into an :class:`MSMMessage` holding per-cell
numpy arrays of reconstructed observables (pseudorange m, carrier phase
cycles, Doppler Hz, CNR dB-Hz, lock time s, half-cycle flag) and every raw
field needed to re-encode the payload bit for bit.  The bit work is done by
the ``msm`` kernel in one call per message; this module only builds lookup
tables, resolves the epoch time and wraps the arrays.

Encoding: :func:`encode_msm` re-packs a decoded message exactly;
:func:`encode_msm_obs` builds MSM4/MSM7 payloads from observation arrays.

References
----------
RTCM 10403.3 (with amendments 1-2) §3.5.16 (MSM), Tables 3.5-71..3.5-98:
header DF002, DF003, DF004/DF416+DF034/DF248/DF427/DF428/DF546, DF393,
DF409, DF001, DF411, DF412, DF417, DF418, DF394-DF396; satellite data
DF397-DF399 and extended satellite info (DF419 for GLONASS); signal data
DF400-DF408, DF420; signal-id tables 3.5-91 (GPS), 3.5-96 (GLONASS),
3.5-99 (Galileo), 3.5-102 (SBAS), 3.5-105 (QZSS), 3.5-108 (BeiDou), NavIC.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vngeonet import kernels
from vngeonet.errors import FormatError
from vngeonet.gnss import signals
from vngeonet.gnss.time import SECONDS_PER_WEEK, GPSTime, leap_seconds_gps
from vngeonet.model import ObsEpoch

log = logging.getLogger(__name__)
_k = kernels.get("msm")

# Message-type base (type = base + MSM level) -> system letter.
SYSTEM_BASE = {1070: "G", 1080: "R", 1090: "E", 1100: "S", 1110: "J", 1120: "C", 1130: "I"}
BASE_OF_SYSTEM = {v: k for k, v in SYSTEM_BASE.items()}
TIME_SYSTEM = {"G": "GPST", "R": "GLONASST", "E": "GST", "S": "GPST", "J": "QZSST", "C": "BDT", "I": "IRNWT"}

# RTCM signal id -> RINEX 3 signal code, per system (RTCM 10403.3 signal-id tables).
SIGNAL_IDS: dict[str, dict[int, str]] = {
    "G": {2: "1C", 3: "1P", 4: "1W", 8: "2C", 9: "2P", 10: "2W", 15: "2S", 16: "2L", 17: "2X",
          22: "5I", 23: "5Q", 24: "5X", 30: "1S", 31: "1L", 32: "1X"},
    "R": {2: "1C", 3: "1P", 8: "2C", 9: "2P"},
    "E": {2: "1C", 3: "1A", 4: "1B", 5: "1X", 6: "1Z", 8: "6C", 9: "6A", 10: "6B", 11: "6X",
          12: "6Z", 14: "7I", 15: "7Q", 16: "7X", 18: "8I", 19: "8Q", 20: "8X", 22: "5I",
          23: "5Q", 24: "5X"},
    "S": {2: "1C", 22: "5I", 23: "5Q", 24: "5X"},
    "J": {2: "1C", 9: "6S", 10: "6L", 11: "6X", 15: "2S", 16: "2L", 17: "2X", 22: "5I",
          23: "5Q", 24: "5X", 30: "1S", 31: "1L", 32: "1X"},
    "C": {2: "2I", 3: "2Q", 4: "2X", 8: "6I", 9: "6Q", 10: "6X", 14: "7I", 15: "7Q", 16: "7X",
          22: "5D", 23: "5P", 24: "5X", 25: "7D", 30: "1D", 31: "1P", 32: "1X"},
    "I": {8: "9A", 22: "5A"},
}


def sat_name(system: str, prn: int) -> str:
    """RINEX 3 satellite id of MSM satellite id ``prn`` (1..64, DF394 bit position).

    SBAS id 1 is PRN 120 ("S20"); QZSS id 1 is PRN 193 ("J01").
    """
    if system == "S":
        return f"S{prn + 19:02d}"
    return f"{system}{prn:02d}"


@dataclass(frozen=True, slots=True)
class _SystemTables:
    sat_names: np.ndarray  # '<U3' (65,), index = MSM satellite id
    sig_names: np.ndarray  # '<U2' (33,), index = RTCM signal id ("" undefined)
    f0_hz: np.ndarray  # (33,) carrier of channel 0, NaN undefined
    df_hz: np.ndarray  # (33,) FDMA channel step, 0 for CDMA
    sig_ids: dict  # RINEX code -> RTCM signal id


def _build_tables(system: str) -> _SystemTables:
    sats = np.array([""] + [sat_name(system, i) for i in range(1, 65)], dtype="<U3")
    sigs = np.array([""] * 33, dtype="<U2")
    f0 = np.full(33, np.nan)
    df = np.zeros(33)
    for sid, code in SIGNAL_IDS[system].items():
        sigs[sid] = code
        f0[sid], df[sid] = signals.band_parameters(system, code)
    inv = {code: sid for sid, code in SIGNAL_IDS[system].items()}
    return _SystemTables(sats, sigs, f0, df, inv)


TABLES = {s: _build_tables(s) for s in SIGNAL_IDS}
_NO_GLO = np.full(65, -128, dtype=np.int8)
_GLO_CACHE: dict[int, list] = {}


@dataclass(frozen=True, slots=True, eq=False)
class MSMMessage:
    """One decoded MSM message (RTCM 10403.3 §3.5.16).

    Per-cell arrays have shape (ncell,), in cell-mask order (satellite, then
    signal).  Absent or invalid observables are NaN.

    Attributes
    ----------
    msg_type : int              # DF002
    station_id : int            # DF003
    system : str                # "G" "R" "E" "S" "J" "C" "I"
    msm : int                   # MSM level 1..7
    time : GPSTime or None      # epoch as full GPS time, None when not resolvable
    multiple : bool             # DF393 multiple message bit
    head : tuple of 13 int      # raw header (see vngeonet.kernels.msm)
    prn : ndarray uint8 (nsat,) # MSM satellite ids 1..64
    sat_raw : ndarray int32 (nsat, 4)   # DF397, ext info, DF398, DF399
    cell_raw : ndarray int32 (ncell, 6) # fine pr, fine phase, lock ind., DF420, CNR, DF404
    sat, sig : ndarray '<U3', '<U2'     # "G05", "1C"
    pr_m, cp_cyc, dop_hz, cn0_dbhz, lock_s : ndarray float64
    half_cycle : ndarray bool           # DF420
    tail : int                  # value of the padding bits after the last field
    tail_nbits : int            # number of padding bits

    Notes
    -----
    MSM1-MSM3 carry no integer milliseconds (DF397): their ``pr_m`` and
    ``cp_cyc`` are the observables modulo one light-millisecond
    (299 792.458 m), as transmitted.
    """

    msg_type: int
    station_id: int
    system: str
    msm: int
    time: GPSTime | None
    multiple: bool
    head: tuple
    prn: np.ndarray
    sat_raw: np.ndarray
    cell_raw: np.ndarray
    sat: np.ndarray
    sig: np.ndarray
    pr_m: np.ndarray
    cp_cyc: np.ndarray
    dop_hz: np.ndarray
    cn0_dbhz: np.ndarray
    lock_s: np.ndarray
    half_cycle: np.ndarray
    tail: int = 0
    tail_nbits: int = 0

    @property
    def epoch_raw(self) -> int:
        """The 30-bit epoch time field as transmitted."""
        return self.head[2]

    @property
    def tow_ms(self) -> int | None:
        """System time of week in ms (DF004/DF248/DF427/DF428/DF546); None for GLONASS."""
        return None if self.system == "R" else self.head[2]

    @property
    def glo_dow(self) -> int | None:
        """GLONASS day of week DF416 (0 Sunday .. 6, 7 unknown); None for other systems."""
        return self.head[2] >> 27 if self.system == "R" else None

    @property
    def glo_tod_ms(self) -> int | None:
        """GLONASS time of day in ms, DF034 (GLONASS time = UTC(SU) + 3 h)."""
        return self.head[2] & ((1 << 27) - 1) if self.system == "R" else None

    iods = property(lambda self: self.head[4], doc="DF409 issue of data station")
    reserved = property(lambda self: self.head[5], doc="DF001 7 reserved bits")
    clock_steering = property(lambda self: self.head[6], doc="DF411 clock steering indicator")
    external_clock = property(lambda self: self.head[7], doc="DF412 external clock indicator")
    smoothing = property(lambda self: self.head[8], doc="DF417 divergence-free smoothing")
    smoothing_interval = property(lambda self: self.head[9], doc="DF418 smoothing interval code")
    sat_mask = property(lambda self: self.head[10], doc="DF394 satellite mask")
    sig_mask = property(lambda self: self.head[11], doc="DF395 signal mask")
    cell_mask = property(lambda self: self.head[12], doc="DF396 cell mask")

    @property
    def ext_info(self) -> np.ndarray:
        """Extended satellite info per satellite (MSM5/MSM7; GLONASS DF419 = k + 7)."""
        return self.sat_raw[:, 1]

    def time_json(self) -> dict:
        """Epoch fields of :meth:`to_json`: ISO GPS time, or the labelled system time."""
        out = {"epoch": self.time.isoformat() if self.time is not None else None,
               "time_system": TIME_SYSTEM[self.system]}
        if self.system == "R":
            out["glo_dow"] = self.glo_dow
            out["glo_tod_ms"] = self.glo_tod_ms
        else:
            out["tow_ms"] = self.head[2]
        return out

    def to_json(self) -> dict:
        """JSON-serialisable dict (contract of vngeonet.rtcm); null where a level lacks a field."""
        out = {"type": self.msg_type, "station": self.station_id, "system": self.system,
               "msm": self.msm, **self.time_json(), "multiple": self.multiple, "iods": self.iods}
        out["obs"] = _obs_json(self)
        return out

    def to_obs_epoch(self, station: str) -> ObsEpoch:
        """The observations as an :class:`~vngeonet.model.ObsEpoch`.

        Raises
        ------
        ValueError
            The epoch time is not resolved (decode with ``ctx.approx_time``).
        """
        if self.time is None:
            raise ValueError(f"MSM {self.msg_type}: epoch time not resolved (no approximate time)")
        return ObsEpoch(self.time, station, self.sat, self.sig, self.pr_m, self.cp_cyc,
                        self.dop_hz, self.cn0_dbhz, np.where(self.half_cycle, 2, 0).astype(np.uint8),
                        self.lock_s)


def _obs_json(m) -> list[dict]:
    def clean(a):
        return [None if v != v else v for v in a.tolist()]

    cols = (m.sat.tolist(), m.sig.tolist(), clean(m.pr_m), clean(m.cp_cyc), clean(m.dop_hz),
            clean(m.cn0_dbhz), clean(m.lock_s), m.half_cycle.tolist())
    keys = ("sat", "sig", "pr_m", "cp_cyc", "dop_hz", "cn0_dbhz", "lock_s", "half_cycle")
    return [dict(zip(keys, row)) for row in zip(*cols)]


def _glo_table(ctx):
    """GLONASS channel table (int8 (65,), -128 unknown) mirroring ``ctx.glo_channels``."""
    if ctx is None:
        return None, _NO_GLO.copy()
    d = ctx.glo_channels
    ent = _GLO_CACHE.get(id(d))
    if ent is not None and ent[0] is d and ent[1] == d:
        return ent, ent[2]
    tab = np.full(65, -128, dtype=np.int8)
    for sat, k in d.items():
        if len(sat) == 3 and sat[0] == "R" and sat[1:].isdigit() and 1 <= int(sat[1:]) <= 64:
            if signals.GLO_CHANNEL_MIN <= k <= signals.GLO_CHANNEL_MAX:
                tab[int(sat[1:])] = k
    if len(_GLO_CACHE) > 256:
        _GLO_CACHE.clear()
    ent = [d, dict(d), tab]
    _GLO_CACHE[id(d)] = ent
    return ent, tab


def _learn_channels(ent, tab, before: bytes, prn):
    """Copy channels the message taught (MSM5/7 DF419) into ctx.glo_channels."""
    if ent is None or tab.tobytes() == before:
        return
    d = ent[0]
    for p in prn.tolist():
        k = int(tab[p])
        if k != -128:
            d[f"R{p:02d}"] = k
    ent[1] = dict(d)


def resolve_epoch(system: str, epoch_raw: int, approx: GPSTime | None) -> GPSTime | None:
    """Full GPS time of an MSM/legacy epoch field, nearest to ``approx``.

    GPS/SBAS/QZSS/Galileo/NavIC: TOW ms on the GPS scale.  BeiDou: TOW ms of
    BDT (= GPST - 14 s).  GLONASS: DF416 day of week (3 bits, 7 = unknown)
    and DF034 ms of the GLONASS day (UTC(SU) + 3 h); the leap seconds are
    taken at ``approx``.  Returns None without ``approx``.
    """
    if approx is None:
        return None
    if system == "R":
        dow, tod_ms = epoch_raw >> 27, epoch_raw & ((1 << 27) - 1)
        sod = tod_ms * 1e-3 - 10800.0 + leap_seconds_gps(approx)
        if dow == 7:
            return _nearest(approx, sod, 86400.0)
        tow_s = dow * 86400.0 + sod
    elif system == "C":
        tow_s = epoch_raw * 1e-3 + 14.0
    else:
        tow_s = epoch_raw * 1e-3
    return _nearest(approx, tow_s, SECONDS_PER_WEEK)


def _nearest(approx: GPSTime, t_s: float, period_s: float) -> GPSTime:
    """The time congruent to ``t_s`` modulo ``period_s`` (seconds into the period) nearest ``approx``."""
    ref = approx.seconds
    base = ref - (ref % period_s)
    t = base + (t_s % period_s)
    if t - ref > period_s / 2:
        t -= period_s
    elif ref - t > period_s / 2:
        t += period_s
    return GPSTime.from_seconds(t)


def decode_msm(payload: bytes, ctx=None) -> MSMMessage:
    """Decode an MSM1-MSM7 payload (message types 1071-1137).

    Parameters
    ----------
    payload : bytes
        Message body, DF002 first.
    ctx : DecodeContext, optional
        Supplies ``approx_time`` (to resolve the epoch) and ``glo_channels``
        (GLONASS carrier wavelengths); MSM5/MSM7 GLONASS messages add the
        channels they carry, and a resolved epoch becomes the new
        ``approx_time``.

    Raises
    ------
    FormatError
        Not an MSM type, or the payload is shorter than its masks require.
    """
    msg_type = (payload[0] << 4) | (payload[1] >> 4) if len(payload) >= 2 else 0
    base, level = msg_type - msg_type % 10, msg_type % 10
    system = SYSTEM_BASE.get(base)
    src = getattr(ctx, "source", None) or None
    if system is None or not 1 <= level <= 7:
        raise FormatError(f"message {msg_type} is not an MSM message", source=src)
    tb = TABLES[system]
    ent, glo = _glo_table(ctx) if system == "R" else (None, _NO_GLO)
    before = glo.tobytes() if ent is not None and level in (5, 7) else b""
    try:
        head, prn, sat_raw, _, _, cell_raw, obs, half, sat, sig, end = _k.unpack_msm(
            payload, level, tb.f0_hz, tb.df_hz, glo, tb.sat_names, tb.sig_names)
    except ValueError as err:
        raise FormatError(f"MSM {msg_type}: {err}", source=src) from err
    if before:
        _learn_channels(ent, glo, before, prn)
    time = None
    if ctx is not None and ctx.approx_time is not None:
        time = resolve_epoch(system, head[2], ctx.approx_time)
        ctx.approx_time = time
    nbits = len(payload) * 8 - end
    tail = int.from_bytes(payload[end >> 3:], "big") & ((1 << nbits) - 1) if nbits else 0
    return MSMMessage(msg_type, head[1], system, level, time, head[3] == 1, head, prn, sat_raw,
                      cell_raw, sat, sig, obs[0], obs[1], obs[2],
                      obs[3], obs[4], half, tail, nbits)


def encode_msm(msg: MSMMessage) -> bytes:
    """Payload of a decoded (or constructed) MSM message, bit-exact to the raw fields.

    Raises
    ------
    ValueError, OverflowError
        Arrays inconsistent with the masks, or a value too wide for its field.
    """
    return _k.pack_msm(msg.msm, msg.head, np.ascontiguousarray(msg.sat_raw, dtype=np.int32),
                       np.ascontiguousarray(msg.cell_raw, dtype=np.int32), msg.tail, msg.tail_nbits)


MSM_TYPES = tuple(b + lv for b in SYSTEM_BASE for lv in range(1, 8))
DECODERS = {t: decode_msm for t in MSM_TYPES}
ENCODERS = {MSMMessage: encode_msm}

__all__ = ["MSMMessage", "decode_msm", "encode_msm", "resolve_epoch", "SIGNAL_IDS", "DECODERS",
           "ENCODERS", "TABLES", "sat_name"]
