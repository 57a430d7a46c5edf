"""RTCM 3 legacy RTK observation messages 1001-1004 (GPS) and 1009-1012 (GLONASS).

Decoded into :class:`LegacyObsMessage`: one row per (satellite, signal) with
the same observable arrays as the MSM messages, plus the raw integer fields
for a bit-exact re-encode.

Layouts (RTCM 10403.3 §3.5.2, Tables 3.5-2..3.5-14)::

    GPS header  DF002 12, DF003 12, DF004 30, DF005 1, DF006 5, DF007 1, DF008 3
    GLO header  DF002 12, DF003 12, DF034 27, DF005 1, DF035 5, DF036 1, DF037 3
    1001 DF009 6, DF010 1, DF011 24, DF012 20s, DF013 7
    1002 1001 + DF014 8, DF015 8
    1003 1001 + DF016 2, DF017 14s, DF018 20s, DF019 7
    1004 1002 + DF016 2, DF017 14s, DF018 20s, DF019 7, DF020 8
    1009 DF038 6, DF039 1, DF040 5, DF041 25, DF042 20s, DF043 7
    1010 1009 + DF044 7, DF045 8
    1011 1009 + DF046 2, DF047 14s, DF048 20s, DF049 7
    1012 1010 + DF046 2, DF047 14s, DF048 20s, DF049 7, DF050 8

Observables: L1 pseudorange = DF011 * 0.02 m + DF014 * 299 792.458 m (GLONASS
DF041 * 0.02 + DF044 * 599 584.916 m); L1 phase = (pr1 + DF012 * 0.0005 m) / wavelength;
L2 pseudorange = pr1 + DF017 * 0.02 m; L2 phase = (pr1 + DF018 * 0.0005 m) / wavelength;
CNR DF015/DF020 * 0.25 dB-Hz (0 = not computed -> NaN).  Invalid markers:
DF012/DF018/DF042/DF048 = -2^19 (0x80000), DF017/DF047 = -2^13 (0x2000).
1001/1003 (and 1009/1011) carry no ambiguity (DF014/DF044): their ranges are
modulo one light-millisecond (GLONASS: two).

References
----------
RTCM 10403.3 §3.5.2; DF001-DF050 (Table 3.4-1); DF013 lock-time table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vngeonet import kernels
from vngeonet.errors import FormatError
from vngeonet.gnss import signals
from vngeonet.gnss.time import GPSTime
from vngeonet.model import ObsEpoch
from vngeonet.rtcm.msm import resolve_epoch

_bits = kernels.get("bits")
_k = kernels.get("legacy")

PRUNIT_GPS_M = 299792.458
PRUNIT_GLO_M = 599584.916
INVALID_PHASE = -(1 << 19)
INVALID_PR_DIFF = -(1 << 13)

GPS_HEAD = (12, 12, 30, 1, 5, 1, 3)
GLO_HEAD = (12, 12, 27, 1, 5, 1, 3)
# Per message: field names and (width, signed).
_L1_GPS = (("id", 6, 0), ("code1", 1, 0), ("pr1", 24, 0), ("ph1", 20, 1), ("lock1", 7, 0))
_L1_GLO = (
    ("id", 6, 0),
    ("code1", 1, 0),
    ("chan", 5, 0),
    ("pr1", 25, 0),
    ("ph1", 20, 1),
    ("lock1", 7, 0),
)
_AMB_GPS = (("amb", 8, 0), ("cnr1", 8, 0))
_AMB_GLO = (("amb", 7, 0), ("cnr1", 8, 0))
_L2 = (("code2", 2, 0), ("dpr2", 14, 1), ("ph2", 20, 1), ("lock2", 7, 0))
_CNR2 = (("cnr2", 8, 0),)
RECORDS = {
    1001: _L1_GPS,
    1002: _L1_GPS + _AMB_GPS,
    1003: _L1_GPS + _L2,
    1004: _L1_GPS + _AMB_GPS + _L2 + _CNR2,
    1009: _L1_GLO,
    1010: _L1_GLO + _AMB_GLO,
    1011: _L1_GLO + _L2,
    1012: _L1_GLO + _AMB_GLO + _L2 + _CNR2,
}
L1_CODES = {"G": ("1C", "1P"), "R": ("1C", "1P")}
L2_CODES = {"G": ("2X", "2P", "2D", "2W"), "R": ("2C", "2P", "2P", "2P")}


LOCK_S = _k.LOCK_LEGACY_S  # DF013/DF019/DF043/DF049 minimum lock time (s) per indicator


@dataclass(frozen=True, slots=True, eq=False)
class LegacyObsMessage:
    """A decoded 1001-1004 or 1009-1012 message; one row per (satellite, signal).

    Attributes
    ----------
    msg_type, station_id : int          # DF002, DF003
    system : str                        # "G" (1001-1004) or "R" (1009-1012)
    time : GPSTime or None
    multiple : bool                     # DF005 synchronous GNSS flag
    head : tuple of 7 int               # raw header fields
    raw : ndarray int64 (nsat, nfields) # raw satellite records (see RECORDS)
    sat, sig, pr_m, cp_cyc, dop_hz, cn0_dbhz, lock_s, half_cycle : per-row arrays
    glo_k : ndarray int8                # GLONASS channel per row (DF040 - 7), 0 for GPS
    tail, tail_nbits : int              # padding bits after the last record
    """

    msg_type: int
    station_id: int
    system: str
    time: GPSTime | None
    multiple: bool
    head: tuple
    raw: np.ndarray
    sat: np.ndarray
    sig: np.ndarray
    pr_m: np.ndarray
    cp_cyc: np.ndarray
    dop_hz: np.ndarray
    cn0_dbhz: np.ndarray
    lock_s: np.ndarray
    half_cycle: np.ndarray
    glo_k: np.ndarray
    tail: int = 0
    tail_nbits: int = 0

    smoothing = property(lambda self: self.head[5], doc="DF007/DF036 divergence-free smoothing")
    smoothing_interval = property(lambda self: self.head[6], doc="DF008/DF037 smoothing interval")

    @property
    def tow_ms(self) -> int | None:
        """GPS time of week, ms (DF004); None for GLONASS."""
        return self.head[2] if self.system == "G" else None

    @property
    def glo_tod_ms(self) -> int | None:
        """GLONASS time of day, ms (DF034); None for GPS."""
        return self.head[2] if self.system == "R" else None

    def field(self, name: str) -> np.ndarray:
        """Raw per-satellite field by name (see :data:`RECORDS`), e.g. ``"pr1"``."""
        names = [f[0] for f in RECORDS[self.msg_type]]
        return self.raw[:, names.index(name)]

    def to_json(self) -> dict:
        """JSON-serialisable dict (contract of vngeonet.rtcm)."""
        from vngeonet.rtcm.msm import _obs_json

        out = {
            "type": self.msg_type,
            "station": self.station_id,
            "system": self.system,
            "epoch": self.time.isoformat() if self.time is not None else None,
        }
        if self.system == "G":
            out.update(time_system="GPST", tow_ms=self.head[2])
        else:
            out.update(time_system="GLONASST", glo_tod_ms=self.head[2])
        out["multiple"] = self.multiple
        out["obs"] = _obs_json(self)
        return out

    def to_obs_epoch(self, station: str) -> ObsEpoch:
        """The observations as an ObsEpoch (raises ValueError when the time is not resolved)."""
        if self.time is None:
            raise ValueError(f"{self.msg_type}: epoch time not resolved (no approximate time)")
        return ObsEpoch(
            self.time,
            station,
            self.sat,
            self.sig,
            self.pr_m,
            self.cp_cyc,
            self.dop_hz,
            self.cn0_dbhz,
            np.zeros(len(self.sat), np.uint8),
            self.lock_s,
        )


def _layout(msg_type: int, nsat: int):
    head = GPS_HEAD if msg_type <= 1004 else GLO_HEAD
    rec = RECORDS[msg_type]
    widths = np.array(head + tuple(f[1] for f in rec) * nsat, dtype=np.int32)
    kinds = np.array((0,) * len(head) + tuple(f[2] for f in rec) * nsat, dtype=np.uint8)
    return widths, kinds


@dataclass(frozen=True, slots=True)
class _Spec:
    """Kernel inputs for one message type (see vngeonet.kernels.legacy.unpack_legacy)."""

    system: str
    head_w: np.ndarray
    rec_w: np.ndarray
    rec_signed: np.ndarray
    cols: np.ndarray
    unit_m: float
    wl1: np.ndarray
    wl2: np.ndarray
    sat_names: np.ndarray
    sig_names: np.ndarray

    def kernel_args(self, payload) -> tuple:
        """Arguments of the legacy kernel's ``unpack_legacy`` for ``payload`` of this type."""
        return (
            payload,
            self.head_w,
            self.rec_w,
            self.rec_signed,
            self.cols,
            self.unit_m,
            self.wl1,
            self.wl2,
            self.sat_names,
            self.sig_names,
        )


def _glo_wavelengths(band: str) -> np.ndarray:
    """Wavelength per DF040 value (k + 7); NaN outside k = -7..+6."""
    f0, step = signals.GLO_FDMA_HZ[band]
    wl = np.full(32, np.nan)
    for ch in range(14):
        wl[ch] = signals.C_MPS / (f0 + (ch - 7) * step)
    return wl


def _spec(msg_type: int) -> _Spec:
    system = "G" if msg_type <= 1004 else "R"
    rec = RECORDS[msg_type]
    names = [f[0] for f in rec]
    cols = np.array([names.index(c) if c in names else -1 for c in _k.LEGACY_COLS], dtype=np.int32)
    if system == "G":
        wl1 = np.full(32, signals.wavelength_m("G", "1C"))
        wl2 = np.full(32, signals.wavelength_m("G", "2C"))
    else:
        wl1, wl2 = _glo_wavelengths("1"), _glo_wavelengths("2")
    sats = np.array(
        [f"S{i - 20:02d}" if i >= 40 else f"{system}{i:02d}" for i in range(64)], dtype="<U3"
    )
    sigs = np.array(list(L1_CODES[system]) * 2 + list(L2_CODES[system]), dtype="<U2")
    return _Spec(
        system,
        np.array(GPS_HEAD if system == "G" else GLO_HEAD, dtype=np.int32),
        np.array([f[1] for f in rec], dtype=np.int32),
        np.array([f[2] for f in rec], dtype=np.uint8),
        cols,
        PRUNIT_GPS_M if system == "G" else PRUNIT_GLO_M,
        wl1,
        wl2,
        sats,
        sigs,
    )


SPECS = {t: _spec(t) for t in RECORDS}


def decode_legacy(payload: bytes, ctx=None) -> LegacyObsMessage:
    """Decode a 1001-1004 / 1009-1012 payload.

    ``ctx.approx_time`` resolves the epoch; GLONASS channels (DF040) are
    written to ``ctx.glo_channels``.

    Raises
    ------
    FormatError
        Unknown type or payload shorter than its satellite count requires.
    """
    msg_type = (payload[0] << 4) | (payload[1] >> 4) if len(payload) >= 2 else 0
    sp = SPECS.get(msg_type)
    if sp is None:
        raise FormatError(
            f"message {msg_type} is not a legacy observation message", source=_src(ctx)
        )
    try:
        head, raw, obs, half, glo_k, sat, sig, tail, tail_nbits = _k.unpack_legacy(
            *sp.kernel_args(payload)
        )
    except ValueError as err:
        raise FormatError(f"{msg_type}: {err}", source=_src(ctx)) from err
    system = sp.system
    time = None
    if ctx is not None:
        if system == "R":
            _learn_channels(raw, ctx.glo_channels)
        if ctx.approx_time is not None:
            epoch = head[2] if system == "G" else (7 << 27) | head[2]
            time = resolve_epoch(system, epoch, ctx.approx_time)
            ctx.approx_time = time
    return LegacyObsMessage(
        msg_type,
        head[1],
        system,
        time,
        head[3] == 1,
        head,
        raw,
        sat,
        sig,
        obs[0],
        obs[1],
        obs[2],
        obs[3],
        obs[4],
        half,
        glo_k,
        tail,
        tail_nbits,
    )


_LEARNT: dict[int, tuple[dict, bytes]] = {}


def _learn_channels(raw: np.ndarray, channels: dict) -> None:
    """GLONASS channel numbers (DF040 - 7) of the message's GLONASS satellites into ctx.

    Skipped when the same satellites and channels were just written to the same dict.
    """
    key = raw[:, 0:3].tobytes()
    last = _LEARNT.get(id(channels))
    if last is not None and last[0] is channels and last[1] == key:
        return
    for sid, ch in zip(raw[:, 0].tolist(), raw[:, 2].tolist()):
        if sid < 40 and 0 <= ch <= 13:  # k = DF040 - 7 in -7..+6
            channels[f"R{sid:02d}"] = ch - 7
    if len(_LEARNT) > 256:
        _LEARNT.clear()
    _LEARNT[id(channels)] = (channels, key)


def _src(ctx) -> str | None:
    return getattr(ctx, "source", None) or None


def encode_legacy(msg: LegacyObsMessage) -> bytes:
    """Payload of a decoded legacy message, bit-exact to its raw fields.

    Raises
    ------
    ValueError, OverflowError
        Record count disagrees with DF006/DF035, or a value does not fit.
    """
    nsat = msg.raw.shape[0]
    if msg.head[4] != nsat:
        raise ValueError(f"{msg.msg_type}: header says {msg.head[4]} satellites, records {nsat}")
    widths, kinds = _layout(msg.msg_type, nsat)
    vals = np.concatenate(
        [np.array(msg.head, dtype=np.int64), msg.raw.reshape(-1).astype(np.int64)]
    )
    body = _bits.pack_fields(vals, widths, kinds)
    if not msg.tail_nbits:
        return body
    # Padding bits may be many (e.g. a payload longer than its satellite count needs): append them as an int.
    used = int(widths.sum())
    total = used + msg.tail_nbits
    if total % 8:
        raise ValueError(f"{msg.msg_type}: payload is not a whole number of bytes")
    value = (int.from_bytes(body, "big") >> (len(body) * 8 - used)) << msg.tail_nbits
    return (value | (msg.tail & ((1 << msg.tail_nbits) - 1))).to_bytes(total // 8, "big")


DECODERS = {t: decode_legacy for t in RECORDS}
ENCODERS = {LegacyObsMessage: encode_legacy}
