"""Station and descriptor messages: 1005, 1006, 1007, 1008, 1013, 1029, 1033, 1230.

Fixed-layout messages (1005/1006) decode with one ``unpack_fields`` call of
the ``bits`` kernel through :mod:`vngeonet.rtcm.fields`; the variable-length
ones (strings, announcements, the 1230 bias mask) by small explicit code.
Every decoder has a bit-exact encoder: ``ENCODERS[type(msg)](msg)`` gives
back the payload the message was decoded from.

References
----------
RTCM 10403.3 §3.5.3 (1005, 1006: stationary antenna reference point),
§3.5.4 (1007, 1008, 1033: antenna and receiver descriptors), §3.5.5 (1013
system parameters, 1029 Unicode text string), §3.5.14 (1230 GLONASS
L1 and L2 code-phase biases); data fields DF003-DF033, DF051-DF057,
DF138-DF142, DF227-DF232, DF364, DF421-DF426.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vngeonet.errors import FormatError
from vngeonet.gnss.time import GPSTime
from vngeonet.rtcm.fields import layout

MJD_GPS_EPOCH = 44244  # MJD of 1980-01-06
_NAN = float("nan")


def _source(ctx) -> str:
    return getattr(ctx, "source", "") or ""


def _short(msg_type: int, payload: bytes, need_bytes: int, ctx) -> FormatError:
    return FormatError(
        f"RTCM {msg_type}: payload of {len(payload)} bytes is too short ({need_bytes} needed)",
        source=_source(ctx) or None,
    )


# ---------------------------------------------------------------- 1005 / 1006


@dataclass(frozen=True, slots=True)
class StationARP:
    """Stationary RTK reference station ARP (1005), with antenna height (1006).

    Attributes
    ----------
    msg_type : int
        1005 or 1006 (DF002).
    station_id : int
        DF003.
    arp_ecef_m : tuple of 3 float
        Antenna reference point, ECEF metres (DF025-DF027, 0.0001 m).
    antenna_height_m : float or None
        Height of the ARP above the marker (DF028, 1006 only).
    itrf_year : int
        DF021 (reserved for the ITRF realization year).
    gps, glonass, galileo : bool
        DF022-DF024 system indicators.
    reference_station : bool
        DF141: ``True`` for a non-physical (virtual) reference station.
    single_oscillator : bool
        DF142.
    quarter_cycle : int
        DF364 quarter-cycle indicator.
    reserved : int
        The reserved bit after DF142 (kept for a bit-exact re-encode).
    """

    msg_type: int
    station_id: int
    arp_ecef_m: tuple[float, float, float]
    antenna_height_m: float | None = None
    itrf_year: int = 0
    gps: bool = True
    glonass: bool = False
    galileo: bool = False
    reference_station: bool = False
    single_oscillator: bool = False
    quarter_cycle: int = 0
    reserved: int = 0

    def to_json(self) -> dict:
        d = {"type": self.msg_type, "station": self.station_id, "arp_ecef_m": list(self.arp_ecef_m)}
        if self.antenna_height_m is not None:
            d["antenna_height_m"] = self.antenna_height_m
        d.update(itrf_year=self.itrf_year, gps=self.gps, glonass=self.glonass,
                 galileo=self.galileo, reference_station=self.reference_station,
                 single_oscillator=self.single_oscillator, quarter_cycle=self.quarter_cycle)
        return d


def _payload_type(payload: bytes, default: int) -> int:
    return (payload[0] << 4 | payload[1] >> 4) if len(payload) >= 2 else default


def decode_arp(payload: bytes, ctx=None, msg_type: int | None = None) -> StationARP:
    """Decode a 1005 or 1006 payload (RTCM 10403.3 §3.5.3).

    ``msg_type`` defaults to the payload's DF002.

    Examples
    --------
    The worked example of RTCM 10403.3 §3.5.3 (reference station 2003):

    >>> frame = bytes.fromhex("D300133ED7D30202980EDEEF34B4BD62AC0941986F33360B98")
    >>> m = decode_arp(frame[3:-3])
    >>> m.station_id, [round(c, 4) for c in m.arp_ecef_m]
    (2003, [1114104.5999, -4850729.7108, 3975521.4643])
    >>> encode_arp(m) == frame[3:-3]
    True
    """
    if msg_type is None:
        msg_type = 1006 if _payload_type(payload, 1005) == 1006 else 1005
    lay = layout(msg_type)
    v = lay.unpack(payload, msg_type, source=_source(ctx)).tolist()
    # Dividing by the exact 10^4 gives the double nearest the decimal value (0.0001 m steps).
    xyz = (v[6] / 1e4, v[9] / 1e4, v[11] / 1e4)
    return StationARP(
        msg_type, v[0], xyz, v[12] / 1e4 if msg_type == 1006 else None,
        v[1], bool(v[2]), bool(v[3]), bool(v[4]), bool(v[5]), bool(v[7]), v[10], v[8],
    )


def encode_arp(m: StationARP) -> bytes:
    """Payload of a :class:`StationARP` (1005, or 1006 when ``msg_type`` is 1006)."""
    x, y, z = (round(c * 1e4) for c in m.arp_ecef_m)
    vals = [m.station_id, m.itrf_year, int(m.gps), int(m.glonass), int(m.galileo),
            int(m.reference_station), x, int(m.single_oscillator), m.reserved, y,
            m.quarter_cycle, z]
    if m.msg_type == 1006:
        vals.append(round((m.antenna_height_m or 0.0) * 1e4))
    return layout(m.msg_type).pack(m.msg_type, vals)


# ---------------------------------------------------------- 1007 / 1008 / 1033


@dataclass(frozen=True, slots=True)
class AntennaDescriptor:
    """Antenna descriptor (1007) and serial number (1008).

    Attributes
    ----------
    msg_type : int
        1007 or 1008.
    station_id : int
        DF003.
    antenna : str
        DF030, IGS antenna name (ISO 8859-1).
    setup_id : int
        DF031 antenna setup id.
    antenna_serial : str or None
        DF033 (1008 only).
    """

    msg_type: int
    station_id: int
    antenna: str
    setup_id: int = 0
    antenna_serial: str | None = None

    def to_json(self) -> dict:
        d = {"type": self.msg_type, "station": self.station_id, "antenna": self.antenna,
             "antenna_setup_id": self.setup_id}
        if self.msg_type == 1008:
            d["antenna_serial"] = self.antenna_serial
        return d


@dataclass(frozen=True, slots=True)
class ReceiverAntennaDescriptor:
    """Receiver and antenna descriptors (1033).

    Attributes
    ----------
    station_id : int
        DF003.
    antenna : str
        DF030.
    antenna_setup_id : int
        DF031.
    antenna_serial : str
        DF033.
    receiver : str
        DF228 receiver type.
    firmware : str
        DF230 receiver firmware version.
    receiver_serial : str
        DF232.
    msg_type : int
        Always 1033.
    """

    station_id: int
    antenna: str
    antenna_setup_id: int
    antenna_serial: str
    receiver: str
    firmware: str
    receiver_serial: str
    msg_type: int = 1033

    def to_json(self) -> dict:
        return {"type": self.msg_type, "station": self.station_id, "antenna": self.antenna,
                "antenna_setup_id": self.antenna_setup_id, "antenna_serial": self.antenna_serial,
                "receiver": self.receiver, "firmware": self.firmware,
                "receiver_serial": self.receiver_serial}


def _read_strings(payload: bytes, msg_type: int, layout_: tuple, ctx) -> list:
    """Walk a byte-aligned sequence of counters + strings / single bytes.

    ``layout_`` items: ``"s"`` an 8-bit counter then that many ISO 8859-1
    characters, ``"b"`` one 8-bit integer.  Starts at byte 3 (after DF002,
    DF003); every field of 1007/1008/1033 is 8 bits wide, so all are aligned.
    """
    out = []
    p = 3
    n = len(payload)
    for item in layout_:
        if p >= n:
            raise _short(msg_type, payload, p + 1, ctx)
        if item == "b":
            out.append(payload[p])
            p += 1
            continue
        k = payload[p]
        if p + 1 + k > n:
            raise _short(msg_type, payload, p + 1 + k, ctx)
        out.append(payload[p + 1:p + 1 + k].decode("latin-1"))
        p += 1 + k
    return out


def _write_strings(msg_type: int, station_id: int, items: list) -> bytes:
    out = bytearray(((msg_type << 12) | station_id).to_bytes(3, "big"))
    for it in items:
        if isinstance(it, str):
            b = it.encode("latin-1")
            if len(b) > 255:
                raise OverflowError(f"RTCM {msg_type}: string of {len(b)} characters (max 255)")
            out.append(len(b))
            out += b
        else:
            out.append(it)
    return bytes(out)


def _station_id(payload: bytes, msg_type: int, ctx) -> int:
    if len(payload) < 3:
        raise _short(msg_type, payload, 3, ctx)
    return ((payload[1] & 0x0F) << 8) | payload[2]


def decode_antenna(payload: bytes, ctx=None, msg_type: int | None = None) -> AntennaDescriptor:
    """Decode 1007 or 1008 (RTCM 10403.3 §3.5.4); ``msg_type`` defaults to the payload's DF002."""
    if msg_type is None:
        msg_type = 1008 if _payload_type(payload, 1007) == 1008 else 1007
    sid = _station_id(payload, msg_type, ctx)
    if msg_type == 1008:
        ant, setup, serial = _read_strings(payload, msg_type, ("s", "b", "s"), ctx)
        return AntennaDescriptor(1008, sid, ant, setup, serial)
    ant, setup = _read_strings(payload, 1007, ("s", "b"), ctx)
    return AntennaDescriptor(1007, sid, ant, setup)


def encode_antenna(m: AntennaDescriptor) -> bytes:
    """Payload of a 1007 / 1008 message."""
    items = [m.antenna, m.setup_id]
    if m.msg_type == 1008:
        items.append(m.antenna_serial or "")
    return _write_strings(m.msg_type, m.station_id, items)


def decode_1033(payload: bytes, ctx=None) -> ReceiverAntennaDescriptor:
    """Decode 1033 (RTCM 10403.3 §3.5.4)."""
    sid = _station_id(payload, 1033, ctx)
    items = ("s", "b", "s", "s", "s", "s")
    ant, setup, aser, rcv, fw, rser = _read_strings(payload, 1033, items, ctx)
    return ReceiverAntennaDescriptor(sid, ant, setup, aser, rcv, fw, rser)


def encode_1033(m: ReceiverAntennaDescriptor) -> bytes:
    """Payload of a 1033 message."""
    return _write_strings(1033, m.station_id, [m.antenna, m.antenna_setup_id, m.antenna_serial,
                                               m.receiver, m.firmware, m.receiver_serial])


# ------------------------------------------------------------------------ 1013


@dataclass(frozen=True, slots=True)
class MessageAnnouncement:
    """One announced message of a 1013 (DF055-DF057)."""

    msg_id: int  # DF055
    sync: bool  # DF056
    interval_s: float  # DF057, 0.1 s


@dataclass(frozen=True, slots=True)
class SystemParameters:
    """System parameters (1013): UTC time, leap seconds, message schedule.

    Attributes
    ----------
    station_id : int
        DF003.
    mjd : int
        DF051 modified Julian day (UTC).
    sod_s : int
        DF052 seconds of the UTC day.
    leap_s : int
        DF054 GPS - UTC leap seconds.
    announcements : tuple of MessageAnnouncement
        DF055-DF057 per announced message.
    msg_type : int
        Always 1013.
    """

    station_id: int
    mjd: int
    sod_s: int
    leap_s: int
    announcements: tuple[MessageAnnouncement, ...] = ()
    msg_type: int = 1013

    @property
    def time(self) -> GPSTime:
        """The message time as GPS time (UTC + DF054 leap seconds)."""
        return GPSTime.from_seconds((self.mjd - MJD_GPS_EPOCH) * 86400.0 + self.sod_s + self.leap_s)

    def to_json(self) -> dict:
        return {"type": 1013, "station": self.station_id, "mjd": self.mjd, "sod_s": self.sod_s,
                "leap_s": self.leap_s, "time": self.time.isoformat(),
                "announcements": [{"msg_id": a.msg_id, "sync": a.sync, "interval_s": a.interval_s}
                                  for a in self.announcements]}


def decode_1013(payload: bytes, ctx=None) -> SystemParameters:
    """Decode 1013 (RTCM 10403.3 §3.5.5); sets ``ctx.approx_time`` when it is ``None``."""
    head = layout("1013")
    sid, mjd, sod, n, leap = head.unpack(payload, 1013, source=_source(ctx)).tolist()
    group = layout(layout("1013.announcement").dfs * n)
    v = group.unpack(payload, 1013, pos=12 + head.nbits, source=_source(ctx)).tolist()
    ann = tuple(MessageAnnouncement(v[i], bool(v[i + 1]), v[i + 2] / 10.0)
                for i in range(0, 3 * n, 3))
    msg = SystemParameters(sid, mjd, sod, leap, ann)
    if ctx is not None and ctx.approx_time is None:
        ctx.approx_time = msg.time
    return msg


def encode_1013(m: SystemParameters) -> bytes:
    """Payload of a 1013 message."""
    vals = [m.station_id, m.mjd, m.sod_s, len(m.announcements), m.leap_s]
    for a in m.announcements:
        vals += [a.msg_id, int(a.sync), round(a.interval_s * 10.0)]
    spec = layout("1013").dfs + layout("1013.announcement").dfs * len(m.announcements)
    return layout(spec).pack(1013, vals)


# ------------------------------------------------------------------------ 1029


@dataclass(frozen=True, slots=True)
class TextMessage:
    """Unicode text string (1029).

    Attributes
    ----------
    station_id : int
        DF003.
    mjd : int
        DF051.
    sod_s : int
        DF052 seconds of the UTC day.
    text : str
        DF140 code units decoded as UTF-8 (invalid bytes kept as surrogate
        escapes, so the message re-encodes bit for bit).
    n_chars : int
        DF138, number of characters as transmitted.
    msg_type : int
        Always 1029.
    """

    station_id: int
    mjd: int
    sod_s: int
    text: str
    n_chars: int = -1
    msg_type: int = 1029

    def to_json(self) -> dict:
        return {"type": 1029, "station": self.station_id, "mjd": self.mjd, "sod_s": self.sod_s,
                "text": self.text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")}


def decode_1029(payload: bytes, ctx=None) -> TextMessage:
    """Decode 1029 (RTCM 10403.3 §3.5.5)."""
    sid, mjd, sod, nchar, nunit = layout("1029").unpack(payload, 1029, source=_source(ctx)).tolist()
    if len(payload) < 9 + nunit:  # head is 72 bits: the text is byte-aligned
        raise _short(1029, payload, 9 + nunit, ctx)
    text = payload[9:9 + nunit].decode("utf-8", "surrogateescape")
    return TextMessage(sid, mjd, sod, text, nchar)


def encode_1029(m: TextMessage) -> bytes:
    """Payload of a 1029 message (DF138 = ``n_chars``, or the character count when negative)."""
    raw = m.text.encode("utf-8", "surrogateescape")
    nchar = m.n_chars if m.n_chars >= 0 else len(m.text)
    head = layout("1029").pack(1029, [m.station_id, m.mjd, m.sod_s, nchar, len(raw)])
    return head + raw


# ------------------------------------------------------------------------ 1230


@dataclass(frozen=True, slots=True)
class GlonassCodePhaseBias:
    """GLONASS L1 and L2 code-phase biases (1230).

    Attributes
    ----------
    station_id : int
        DF003.
    aligned : bool
        DF421 code-phase bias indicator (``True``: code and phase are aligned).
    biases_m : tuple of 4 float
        DF423-DF426 biases for L1 C/A, L1 P, L2 C/A, L2 P in metres (0.02 m),
        NaN where the DF422 mask bit is clear.
    reserved : int
        The 3 reserved bits after DF421.
    msg_type : int
        Always 1230.
    """

    station_id: int
    aligned: bool
    biases_m: tuple[float, float, float, float]
    reserved: int = 0
    msg_type: int = 1230

    @property
    def mask(self) -> int:
        """DF422 signal mask: bit 3 L1 C/A, 2 L1 P, 1 L2 C/A, 0 L2 P."""
        m = 0
        for b in self.biases_m:
            m = (m << 1) | (not math.isnan(b))
        return m

    def to_json(self) -> dict:
        names = ("l1ca_m", "l1p_m", "l2ca_m", "l2p_m")
        d = {"type": 1230, "station": self.station_id, "aligned": self.aligned}
        d.update({k: (None if math.isnan(b) else b) for k, b in zip(names, self.biases_m)})
        return d


def decode_1230(payload: bytes, ctx=None) -> GlonassCodePhaseBias:
    """Decode 1230 (RTCM 10403.3 §3.5.14)."""
    sid, ind, res, mask = layout("1230").unpack(payload, 1230, source=_source(ctx)).tolist()
    n = bin(mask).count("1")
    vals = layout((423,) * n).unpack(payload, 1230, pos=32, source=_source(ctx)).tolist()
    it = iter(vals)
    biases = tuple(next(it) / 50.0 if mask >> (3 - i) & 1 else _NAN for i in range(4))  # 0.02 m
    return GlonassCodePhaseBias(sid, bool(ind), biases, res)


def encode_1230(m: GlonassCodePhaseBias) -> bytes:
    """Payload of a 1230 message."""
    present = [round(b / 0.02) for b in m.biases_m if not math.isnan(b)]
    spec = layout("1230").dfs + (423,) * len(present)
    return layout(spec).pack(1230, [m.station_id, int(m.aligned), m.reserved, m.mask] + present)


def _typed(fn, msg_type: int):
    def decode(payload: bytes, ctx=None):
        return fn(payload, ctx, msg_type)

    decode.__name__ = f"decode_{msg_type}"
    decode.__doc__ = fn.__doc__
    return decode


DECODERS = {
    1005: _typed(decode_arp, 1005),
    1006: _typed(decode_arp, 1006),
    1007: _typed(decode_antenna, 1007),
    1008: _typed(decode_antenna, 1008),
    1013: decode_1013,
    1029: decode_1029,
    1033: decode_1033,
    1230: decode_1230,
}

ENCODERS = {
    StationARP: encode_arp,
    AntennaDescriptor: encode_antenna,
    ReceiverAntennaDescriptor: encode_1033,
    SystemParameters: encode_1013,
    TextMessage: encode_1029,
    GlonassCodePhaseBias: encode_1230,
}

__all__ = ["DECODERS", "ENCODERS", "StationARP", "AntennaDescriptor", "ReceiverAntennaDescriptor",
           "MessageAnnouncement", "SystemParameters", "TextMessage", "GlonassCodePhaseBias"]
