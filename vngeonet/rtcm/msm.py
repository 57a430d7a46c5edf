"""RTCM 3 Multiple Signal Messages MSM1-MSM7 (message types 1071-1137).

Decoding turns one payload into an :class:`MSMMessage` holding per-cell
numpy arrays of reconstructed observables (pseudorange m, carrier phase
cycles, Doppler Hz, CNR dB-Hz, lock time s, half-cycle flag) and every raw
field needed to re-encode the payload bit for bit.  The bit work is done by
the ``msm`` kernel in one call per message; this module only builds lookup
tables, resolves the epoch time and wraps the arrays.

Encoding: :func:`encode_msm` re-packs a decoded message exactly;
:func:`encode_msm_obs` builds MSM4/MSM7 payloads from observation arrays
(cell selection, the per-satellite rough ranges and every raw field are
computed by the kernel's ``select_msm_cells`` and ``encode_msm_cells``, one
call each per message, so that a simulated 65-station network encodes in a
few milliseconds per epoch).

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
import math
from dataclasses import dataclass, fields
from functools import lru_cache

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
TIME_SYSTEM = {
    "G": "GPST",
    "R": "GLONASST",
    "E": "GST",
    "S": "GPST",
    "J": "QZSST",
    "C": "BDT",
    "I": "IRNWT",
}

# RTCM signal id -> RINEX 3 signal code, per system (RTCM 10403.3 signal-id tables).
SIGNAL_IDS: dict[str, dict[int, str]] = {
    "G": {
        2: "1C",
        3: "1P",
        4: "1W",
        8: "2C",
        9: "2P",
        10: "2W",
        15: "2S",
        16: "2L",
        17: "2X",
        22: "5I",
        23: "5Q",
        24: "5X",
        30: "1S",
        31: "1L",
        32: "1X",
    },
    "R": {2: "1C", 3: "1P", 8: "2C", 9: "2P"},
    "E": {
        2: "1C",
        3: "1A",
        4: "1B",
        5: "1X",
        6: "1Z",
        8: "6C",
        9: "6A",
        10: "6B",
        11: "6X",
        12: "6Z",
        14: "7I",
        15: "7Q",
        16: "7X",
        18: "8I",
        19: "8Q",
        20: "8X",
        22: "5I",
        23: "5Q",
        24: "5X",
    },
    "S": {2: "1C", 22: "5I", 23: "5Q", 24: "5X"},
    "J": {
        2: "1C",
        9: "6S",
        10: "6L",
        11: "6X",
        15: "2S",
        16: "2L",
        17: "2X",
        22: "5I",
        23: "5Q",
        24: "5X",
        30: "1S",
        31: "1L",
        32: "1X",
    },
    "C": {
        2: "2I",
        3: "2Q",
        4: "2X",
        8: "6I",
        9: "6Q",
        10: "6X",
        14: "7I",
        15: "7Q",
        16: "7X",
        22: "5D",
        23: "5P",
        24: "5X",
        25: "7D",
        30: "1D",
        31: "1P",
        32: "1X",
    },
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
        out = {
            "epoch": self.time.isoformat() if self.time is not None else None,
            "time_system": TIME_SYSTEM[self.system],
        }
        if self.system == "R":
            out["glo_dow"] = self.glo_dow
            out["glo_tod_ms"] = self.glo_tod_ms
        else:
            out["tow_ms"] = self.head[2]
        return out

    def to_json(self) -> dict:
        """JSON-serialisable dict (contract of vngeonet.rtcm); null where a level lacks a field.

        ``epoch`` is the ISO 8601 GPS time (null when unresolved); the raw epoch field
        is always given too, labelled by ``time_system`` (the message's own scale):
        ``tow_ms`` (GPST, GST, QZSST, BDT, IRNWT) or ``glo_dow`` + ``glo_tod_ms`` (GLONASST).
        """
        out = {
            "type": self.msg_type,
            "station": self.station_id,
            "system": self.system,
            "msm": self.msm,
            **self.time_json(),
            "multiple": self.multiple,
            "iods": self.iods,
        }
        out["obs"] = _obs_json(self)
        return out

    def to_obs_epoch(self, station: str) -> ObsEpoch:
        """The observations as an :class:`~vngeonet.model.ObsEpoch`.

        Cells of signal ids without a RINEX code (``sig == ""``) are left out.
        LLI is 2 (half-cycle ambiguity) where DF420 is set, else 0.

        Raises
        ------
        ValueError
            The epoch time is not resolved (decode with ``ctx.approx_time``).
        """
        if self.time is None:
            raise ValueError(f"MSM {self.msg_type}: epoch time not resolved (no approximate time)")
        cols = (
            self.sat,
            self.sig,
            self.pr_m,
            self.cp_cyc,
            self.dop_hz,
            self.cn0_dbhz,
            self.half_cycle,
            self.lock_s,
        )
        keep = self.sig != ""
        if not keep.all():
            cols = tuple(c[keep] for c in cols)
        sat, sig, pr, cp, dop, cn0, half, lock = cols
        lli = np.where(half, 2, 0).astype(np.uint8)
        return ObsEpoch(self.time, station, sat, sig, pr, cp, dop, cn0, lli, lock)


def _slot_constructor(cls):
    """A positional constructor for frozen slotted dataclass ``cls`` that sets each slot
    through its member descriptor.

    The dataclass ``__init__`` of a frozen class goes through ``object.__setattr__``
    once per field; on the decode hot path (one object per MSM message) that is a
    sizeable share of the time.  The result is the same object; field order is the
    dataclass field order and every field must be given.
    """
    names = [f.name for f in fields(cls)]
    ns = {"_new": object.__new__, "_cls": cls}
    ns.update({f"_set_{n}": cls.__dict__[n].__set__ for n in names})
    body = "".join(f"    _set_{n}(o, {n})\n" for n in names)
    exec(f"def make({', '.join(names)}):\n    o = _new(_cls)\n{body}    return o\n", ns)  # noqa: S102
    return ns["make"]


_make_msm = _slot_constructor(MSMMessage)


def _obs_json(m) -> list[dict]:
    def clean(a):
        return [None if math.isnan(v) else v for v in a.tolist()]

    cols = (
        m.sat.tolist(),
        m.sig.tolist(),
        clean(m.pr_m),
        clean(m.cp_cyc),
        clean(m.dop_hz),
        clean(m.cn0_dbhz),
        clean(m.lock_s),
        m.half_cycle.tolist(),
    )
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
        if (
            len(sat) == 3
            and sat[0] == "R"
            and sat[1:].isdigit()
            and 1 <= int(sat[1:]) <= 64
            and signals.GLO_CHANNEL_MIN <= k <= signals.GLO_CHANNEL_MAX
        ):
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
    period = SECONDS_PER_WEEK
    if system == "R":
        dow, tod_ms = epoch_raw >> 27, epoch_raw & ((1 << 27) - 1)
        tow_s = tod_ms / 1000.0 - 10800.0 + _leap_s(approx)
        if dow == 7:
            period = 86400.0
        else:
            tow_s += dow * 86400.0
    elif system == "C":
        tow_s = epoch_raw / 1000.0 + 14.0
    else:
        tow_s = epoch_raw / 1000.0
    return _nearest(approx, tow_s, period)


@lru_cache(maxsize=64)
def _leap_week(week: int) -> int | None:
    """GPST - UTC valid for the whole GPS week, or None when a leap second falls inside it."""
    first = leap_seconds_gps(GPSTime(week, 0.0))
    return first if first == leap_seconds_gps(GPSTime(week, SECONDS_PER_WEEK - 1.0)) else None


def _leap_s(t: GPSTime) -> int:
    leap = _leap_week(t.week)
    return leap_seconds_gps(t) if leap is None else leap


def _nearest(approx: GPSTime, t_s: float, period_s: float) -> GPSTime:
    """The time ``t_s`` seconds into a period (day or week, aligned to the GPS week) nearest ``approx``.

    Returns ``approx`` itself when it is that time (consecutive messages of one epoch).
    """
    if t_s == approx.tow_s:
        return approx
    t_s %= period_s
    pos = approx.tow_s % period_s
    d = t_s - pos
    if d == 0.0:
        return approx
    adj = -period_s if d > period_s / 2 else (period_s if d < -period_s / 2 else 0.0)
    return GPSTime(approx.week, (approx.tow_s - pos) + adj + t_s)


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
    level = msg_type % 10
    system = SYSTEM_BASE.get(msg_type - level)
    if system is None or not 1 <= level <= 7:
        raise FormatError(f"message {msg_type} is not an MSM message", source=_src(ctx))
    tb = TABLES[system]
    if system == "R":
        ent, glo = _glo_table(ctx)
        before = glo.tobytes() if ent is not None and (level == 5 or level == 7) else b""
    else:
        glo, before = _NO_GLO, b""
    try:
        head, prn, sat_raw, cell_raw, obs, half, sat, sig, tail, tail_nbits = _k.unpack_msm(
            payload, level, tb.f0_hz, tb.df_hz, glo, tb.sat_names, tb.sig_names
        )
    except ValueError as err:
        raise FormatError(f"MSM {msg_type}: {err}", source=_src(ctx)) from err
    if before:
        _learn_channels(ent, glo, before, prn)
    time = None
    if ctx is not None and ctx.approx_time is not None:
        time = resolve_epoch(system, head[2], ctx.approx_time)
        ctx.approx_time = time
    return _make_msm(
        msg_type,
        head[1],
        system,
        level,
        time,
        head[3] == 1,
        head,
        prn,
        sat_raw,
        cell_raw,
        sat,
        sig,
        obs[0],
        obs[1],
        obs[2],
        obs[3],
        obs[4],
        half,
        tail,
        tail_nbits,
    )


def _src(ctx) -> str | None:
    return getattr(ctx, "source", None) or None


def encode_msm(msg: MSMMessage) -> bytes:
    """Payload of a decoded (or constructed) MSM message, bit-exact to the raw fields.

    Raises
    ------
    ValueError, OverflowError
        Arrays inconsistent with the masks, or a value too wide for its field.
    """
    return _k.pack_msm(
        msg.msm,
        msg.head,
        np.ascontiguousarray(msg.sat_raw, dtype=np.int32),
        np.ascontiguousarray(msg.cell_raw, dtype=np.int32),
        msg.tail,
        msg.tail_nbits,
    )


MSM_TYPES = tuple(b + lv for b in SYSTEM_BASE for lv in range(1, 8))
DECODERS = {t: decode_msm for t in MSM_TYPES}
ENCODERS = {MSMMessage: encode_msm}

__all__ = [
    "DECODERS",
    "ENCODERS",
    "SIGNAL_IDS",
    "TABLES",
    "MSMMessage",
    "decode_msm",
    "encode_msm",
    "resolve_epoch",
    "sat_name",
]


# --------------------------------------------------------------------------- encoding from observations

MAX_CELLS = 64  # RTCM 10403.3 §3.5.16: nsat * nsig <= 64
MAX_PAYLOAD_BYTES = 1023


def epoch_field(system: str, t: GPSTime) -> int:
    """The 30-bit MSM epoch time field for GPS time ``t`` (inverse of :func:`resolve_epoch`).

    GLONASS: DF416 day of week << 27 | DF034 ms of day, GLONASS time = UTC + 3 h.
    BeiDou: TOW ms of BDT (GPST - 14 s).  Others: TOW ms on the GPS scale.
    """
    ms_week = 604800000
    if system == "R":
        ms = round((t.seconds - leap_seconds_gps(t) + 10800.0) * 1000.0) % ms_week
        return ((ms // 86400000) << 27) | (ms % 86400000)
    if system == "C":
        return round((t.seconds - 14.0) * 1000.0) % ms_week
    return round(t.seconds * 1000.0) % ms_week


RANGE_MS = signals.C_MPS * 1e-3


def _prn_of(system: str, sat: str) -> int:
    n = int(sat[1:])
    return n - 19 if system == "S" else n


def _wavelengths(system: str, sig_ids: np.ndarray, prns: np.ndarray, glo: dict) -> np.ndarray:
    tb = TABLES[system]
    f0 = tb.f0_hz[sig_ids]
    df = tb.df_hz[sig_ids]
    k = np.array([glo.get(sat_name(system, int(p)), np.nan) for p in prns], dtype=float)
    k = np.where(df != 0.0, k, 0.0)
    return signals.C_MPS / (f0 + k * df)


def _sig_lut(system: str) -> np.ndarray:
    """RTCM signal id (0: none) indexed by ``128 * ord(c0) + ord(c1)`` of a 2-character RINEX code."""
    lut = np.zeros(128 * 128, dtype=np.int8)
    for code, sid in TABLES[system].sig_ids.items():
        lut[128 * ord(code[0]) + ord(code[1])] = sid
    return lut


def _cdma_wavelengths(system: str) -> np.ndarray:
    """Wavelength (m) per RTCM signal id of a CDMA system, as :func:`_wavelengths` computes it."""
    tb = TABLES[system]
    return signals.C_MPS / (tb.f0_hz + 0.0 * tb.df_hz)


_SIG_LUT = {s: _sig_lut(s) for s in TABLES}
_WL_CDMA = {s: _cdma_wavelengths(s) for s in TABLES if s != "R"}
_U3, _U2 = np.dtype("<U3"), np.dtype("<U2")


def encode_msm_obs(
    epoch: ObsEpoch,
    system: str,
    msm: int,
    station_id: int,
    *,
    iods: int = 0,
    clock_steering: int = 0,
    external_clock: int = 0,
    smoothing: int = 0,
    smoothing_interval: int = 0,
    glo_channels: dict | None = None,
    cp_offset_cyc: dict | None = None,
) -> list[bytes]:
    """MSM4 or MSM7 payloads carrying one system's observations of an epoch.

    Parameters
    ----------
    epoch : ObsEpoch
        Observations (rows of other systems and of signals without an RTCM
        signal id are ignored).
    system : str
        System letter to encode.
    msm : {4, 7}
        MSM level.
    station_id : int
        DF003.
    iods, clock_steering, external_clock, smoothing, smoothing_interval : int
        DF409, DF411, DF412, DF417, DF418.
    glo_channels : dict, optional
        GLONASS channel per satellite (needed for GLONASS phase and Doppler;
        MSM7 also transmits it as DF419).
    cp_offset_cyc : dict, optional
        Per-stream state ``{(sat, sig): cycles}``: integer cycles added to the
        carrier phase so that the phase-range stays within the fine-phase
        field of the rough range.  Keep the same dict for successive epochs.

    Returns
    -------
    list of bytes
        Payloads; all but the last have the multiple-message bit set.  Empty
        when the epoch has nothing for ``system``.

    Notes
    -----
    Rough range (DF397 + DF398) is each satellite's median pseudorange
    rounded to 1/1024 ms, so that the fine pseudoranges (±2^-10 ms) of all its
    signals fit.  The carrier phase is sent relative to the same rough range.
    The phase carries an arbitrary integer ambiguity, so its phase-range may
    lie far from the pseudorange; it is then shifted by an integer number of
    cycles to the pseudorange (RTCM 10403.3 DF401/DF406 note: the phase-range
    is re-initialised by whole cycles) and that signal's lock-time indicator
    is reset to 0 so that rovers see the discontinuity (as it is for rows with
    RINEX LLI bit 0, loss of lock).  Lock times are sent as the largest
    indicator whose minimum lock time does not exceed ``lock_s``; LLI bit 1
    (half-cycle ambiguity) becomes DF420.  With
    ``cp_offset_cyc`` the shift is remembered and reused while it still fits,
    so continuous tracking stays continuous.  Satellites are split over
    several messages (DF393 = 1 on all but the last) so that no message has
    more than 64 cells or exceeds 1023 bytes.

    Raises
    ------
    ValueError
        ``msm`` not 4 or 7, or unknown system.
    """
    if msm not in (4, 7):
        raise ValueError(f"encode_msm_obs supports MSM4 and MSM7, not MSM{msm}")
    if system not in TABLES:
        raise ValueError(f"unknown system {system!r}")
    prn, sid, row = _select_cells(epoch, system)
    if not len(row):
        return []
    glo = dict(glo_channels or {})
    groups = _split_sats(prn, sid, msm)
    head_common = (
        epoch_field(system, epoch.time),
        iods,
        0,
        clock_steering,
        external_clock,
        smoothing,
        smoothing_interval,
    )
    out = []
    for gi, (lo, hi) in enumerate(groups):
        multiple = 1 if gi < len(groups) - 1 else 0
        cells = (prn[lo:hi], sid[lo:hi], row[lo:hi])
        out.append(
            _encode_group(
                epoch, system, msm, station_id, cells, multiple, head_common, glo, cp_offset_cyc
            )
        )
    return out


def _select_cells(epoch: ObsEpoch, system: str):
    """(prn, sig id, row) int arrays of the system's encodable rows, sorted as MSM cells.

    A row is encodable when its satellite is of ``system`` with an MSM id 1..64,
    its signal has an RTCM signal id and it has a pseudorange or a phase; of
    rows repeating a (satellite, signal) the first is used.
    """
    sat, sig = epoch.sat, epoch.sig
    if sat.dtype != _U3 or sig.dtype != _U2:
        return _select_cells_slow(epoch, system)
    got = _k.select_msm_cells(
        np.ascontiguousarray(sat).view(np.uint32).reshape(-1, 3),
        np.ascontiguousarray(sig).view(np.uint32).reshape(-1, 2),
        ord(system),
        19 if system == "S" else 0,
        _SIG_LUT[system],
        np.ascontiguousarray(epoch.pr_m, dtype=np.float64),
        np.ascontiguousarray(epoch.cp_cyc, dtype=np.float64),
    )
    return _select_cells_slow(epoch, system) if got is None else got


_EMPTY = (np.zeros(0, dtype=np.int64),) * 3


def _select_cells_slow(epoch: ObsEpoch, system: str):
    """:func:`_select_cells` for satellite/signal arrays of other dtypes or unusual names."""
    ids = TABLES[system].sig_ids
    cells = {}
    for r, (sat, sig) in enumerate(zip(epoch.sat.tolist(), epoch.sig.tolist())):
        if sat[:1] != system or sig not in ids:
            continue
        prn = _prn_of(system, sat)
        if not 1 <= prn <= 64:
            continue
        if not (np.isfinite(epoch.pr_m[r]) or np.isfinite(epoch.cp_cyc[r])):
            continue
        cells.setdefault((prn, ids[sig]), r)
    if not cells:
        return _EMPTY
    prn, sid, row = np.array(sorted((p, s, r) for (p, s), r in cells.items()), dtype=np.int64).T
    return prn, sid, row


def _split_sats(prn: np.ndarray, sid: np.ndarray, msm: int) -> list[tuple[int, int]]:
    """Greedy satellite groups with nsat*nsig <= 64 and payload <= 1023 bytes, as cell slices."""
    sat_bits, cell_bits = (18, 48) if msm == 4 else (36, 80)
    first = np.flatnonzero(_starts(prn))
    nsat, nsig, ncell = len(first), int(np.count_nonzero(np.bincount(sid, minlength=33))), len(prn)
    if (
        nsat * nsig <= MAX_CELLS
        and 169 + nsat * nsig + nsat * sat_bits + ncell * cell_bits <= 8 * MAX_PAYLOAD_BYTES
    ):
        return [(0, ncell)]  # greedy grouping of a set that fits as a whole is that whole set
    bounds = first.tolist() + [ncell]
    sid_l = sid.tolist()
    groups, lo, cur_n, cur_sigs = [], 0, 0, set()
    for i in range(nsat):
        sigs_p = set(sid_l[bounds[i] : bounds[i + 1]])
        sigs = cur_sigs | sigs_p
        x = (cur_n + 1) * len(sigs)
        nbits = 169 + x + (cur_n + 1) * sat_bits + (bounds[i + 1] - lo) * cell_bits
        if cur_n and (x > MAX_CELLS or nbits > 8 * MAX_PAYLOAD_BYTES):
            groups.append((lo, bounds[i]))
            lo, cur_n, sigs = bounds[i], 0, sigs_p
        cur_n += 1
        cur_sigs = sigs
    groups.append((lo, ncell))
    return groups


def _starts(a: np.ndarray) -> np.ndarray:
    """True where a sorted array starts a new run of equal values."""
    out = np.ones(len(a), dtype=bool)
    np.not_equal(a[1:], a[:-1], out=out[1:])
    return out


def _encode_group(epoch, system, msm, station_id, cells, multiple, head_common, glo, offsets):
    """One MSM payload of the cells ``(prn, sig id, row)`` (sorted; see :func:`encode_msm_obs`)."""
    cell_prn, cell_sig, r = cells
    first = _starts(cell_prn)
    prn_list = cell_prn[first].tolist()
    has_sig = np.zeros(33, dtype=bool)
    has_sig[cell_sig] = True
    sig_list = np.flatnonzero(has_sig).tolist()
    sig_rank = np.cumsum(has_sig) - 1
    sat_idx = np.cumsum(first, dtype=np.int32) - 1
    tb = TABLES[system]
    if system == "R":
        wl = _wavelengths(system, cell_sig, cell_prn, glo)
    else:
        wl = _WL_CDMA[system][cell_sig]
    keys = prev = None
    off = np.zeros(len(r))
    if offsets is not None:
        keys = list(zip(tb.sat_names[cell_prn].tolist(), tb.sig_names[cell_sig].tolist()))
        prev = list(map(offsets.get, keys))  # None where absent
        if offsets:
            off[:] = [0 if v is None else v for v in prev]
    f64 = np.float64
    sat_raw, cell_raw, used = _k.encode_msm_cells(
        msm, sat_idx, len(prn_list), epoch.pr_m[r].astype(f64, copy=False),
        epoch.cp_cyc[r].astype(f64), wl, epoch.dop_hz[r].astype(f64, copy=False),
        epoch.cn0_dbhz[r].astype(f64, copy=False), epoch.lock_s[r].astype(f64, copy=False),
        epoch.lli[r].astype(np.uint8), off, offsets is not None,
    )  # fmt: skip
    if offsets is not None:
        _store_offsets(offsets, keys, prev, off, used)
    if system == "R" and msm == 7:  # DF419 = k + 7; 15 (reserved value) where k is unknown
        sat_raw[:, 1] = [
            glo[sat_name("R", p)] + 7 if sat_name("R", p) in glo else 15 for p in prn_list
        ]
    nsig = len(sig_list)
    pos = (sat_idx * nsig + sig_rank[cell_sig]).tolist()
    x = len(prn_list) * nsig
    cell_mask = 0
    for q in pos:
        cell_mask |= 1 << (x - 1 - q)
    head = (
        BASE_OF_SYSTEM[system] + msm,
        station_id,
        head_common[0],
        multiple,
        *head_common[1:],
        sum(1 << (64 - p) for p in prn_list),
        sum(1 << (32 - s) for s in sig_list),
        cell_mask,
    )
    return _k.pack_msm(msm, head, sat_raw, cell_raw, 0, -1)


def _store_offsets(
    offsets: dict, keys: list, prev: list, off: np.ndarray, used: np.ndarray
) -> None:
    """Write back the phase offsets of the cells that use one (unchanged entries keep their object).

    ``prev`` holds the entries before the epoch (None where absent).
    """
    if all(used.tolist()) and None not in prev:
        new = off.tolist()
        if new == prev:
            return
    for i in np.flatnonzero(used).tolist():
        v, old = off[i], prev[i]
        if old is None or old != v:
            offsets[keys[i]] = int(v)
