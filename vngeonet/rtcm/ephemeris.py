"""Broadcast ephemeris messages: 1019, 1020, 1041, 1042, 1044, 1045, 1046.

Each message has a fixed layout (:data:`vngeonet.rtcm.fields.SPECS`): a
decode is one call of the ``ephfields`` kernel (``FieldPlan.unpack``: the
integer field vector, the few integers the decode reads, and the elements
scaled to SI units), integer time arithmetic, then the
:class:`~vngeonet.model.KeplerEphemeris` / :class:`~vngeonet.model.GlonassEphemeris`
built slot by slot (``SlotMaker``), about 2 us per message compiled.
The message keeps the integer field vector as transmitted, so the encoder
is a single ``pack_fields`` call and bit-exact; :func:`from_ephemeris`
quantises an SI ephemeris (e.g. from RINEX) into a message.

Conventions
-----------
* Angles: semicircles x pi -> radians; rates in rad/s.
* Clock: ``af0_s``, ``af1_sps``, ``af2_sps2``; group delays in seconds
  (BeiDou TGD1/TGD2 from 0.1 ns units).
* Full times: Galileo (12-bit GST week) and BeiDou (13-bit BDT week) weeks
  are unambiguous, so their ``toe`` is a full GPS time and, when
  ``ctx.approx_time`` is ``None``, it becomes the context's approximate time.
  GPS, QZSS and NavIC broadcast a 10-bit week: it is resolved with
  ``ctx.approx_time``; without it the 10-bit week is kept and the message
  says ``time_resolved=False``.
* GLONASS: PZ-90 state in m, m/s, m/s^2 (from km, sign-magnitude fields);
  ``tb_s`` = DF110 x 900 s of the GLONASS (Moscow) day; ``toe`` is resolved
  with ``ctx.approx_time``, else from NT/N4 when DF131 says they are
  available; the channel k = DF040 - 7 goes to ``ctx.glo_channels``.
* Accuracy: GPS/QZSS/BeiDou/NavIC URA index -> nominal metres
  (IS-GPS-200 §20.3.3.3.1.3; index 15 -> NaN); Galileo SISA index -> metres
  (Galileo OS SIS ICD §5.1.11; 255 = NAPA -> NaN and ``eph.extra["napa"]``,
  as the RINEX reader does).
* Health: GPS/QZSS 6-bit word, BeiDou SatH1, NavIC (L5 flag << 1 | S flag),
  Galileo in the RINEX 3 bit layout (bit 0 E1-B DVS, bits 1-2 E1-B HS,
  bit 3 E5a DVS, bits 4-5 E5a HS, bit 6 E5b DVS, bits 7-8 E5b HS).

References
----------
RTCM 10403.3 §3.5.6 (1019, 1020), §3.5.7 (1044, 1045, 1046), §3.5.8
(1041, 1042); IS-GPS-200N Table 20-III; GLONASS ICD 5.1 Table 4.5;
Galileo OS SIS ICD 2.1 Table 60; BDS-SIS-ICD-B1I 3.0 §5.2.4; IS-QZSS-PNT;
IRNSS SIS ICD 1.1.
"""

from __future__ import annotations

import datetime as _dt
import math
from bisect import bisect_right
from dataclasses import dataclass
from dataclasses import fields as dc_fields
from operator import itemgetter

import numpy as np

from vngeonet import kernels
from vngeonet.errors import FormatError, UnsupportedMessage
from vngeonet.gnss.time import GPS_EPOCH, LEAP_SECONDS, GPSTime, gps_to_utc
from vngeonet.model import GlonassEphemeris, KeplerEphemeris
from vngeonet.rtcm.fields import layout

_NAN = float("nan")
_WEEK_S = 604800.0
_HALF_WEEK_S = 302400.0

# URA index -> nominal metres (IS-GPS-200 §20.3.3.3.1.3; BDS and NavIC use the same scale).
URA_M = (2.0, 2.8, 4.0, 5.7, 8.0, 11.3, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
         1024.0, 2048.0, 4096.0, _NAN)
# GLONASS-M F_T accuracy index -> metres (GLONASS ICD 5.1 Table 4.4).
FT_M = (1.0, 2.0, 2.5, 4.0, 5.0, 7.0, 10.0, 12.0, 14.0, 16.0, 32.0, 64.0, 128.0, 256.0,
        512.0, _NAN)


def sisa_m(index: int) -> float:
    """Galileo SISA index -> metres (Galileo OS SIS ICD §5.1.11); NaN for spare / NAPA."""
    if index < 50:
        return index * 0.01
    if index < 75:
        return 0.5 + (index - 50) * 0.02
    if index < 100:
        return 1.0 + (index - 75) * 0.04
    if index < 126:
        return 2.0 + (index - 100) * 0.16
    return _NAN


def _sisa_index(acc_m: float) -> int:
    if math.isnan(acc_m):
        return 255
    for i in range(126):
        if sisa_m(i) >= acc_m - 1e-9:
            return i
    return 255


def _ura_index(acc_m: float) -> int:
    if math.isnan(acc_m):
        return 15
    for i, v in enumerate(URA_M[:15]):
        if v >= acc_m - 1e-9:
            return i
    return 15


# The generated __init__ of a frozen dataclass pays object.__setattr__ per field (about half
# of a decode for the 33 fields of KeplerEphemeris): decoders fill the slots directly.
_EPHF = kernels.get("ephfields")
_MAKE_KEPLER = _EPHF.SlotMaker(KeplerEphemeris, [f.name for f in dc_fields(KeplerEphemeris)]).make
_MAKE_TIME = _EPHF.SlotMaker(GPSTime, ("week", "tow_s")).make  # only for 0 <= tow_s < 1 week

# --------------------------------------------------------------------- Kepler


@dataclass(frozen=True, slots=True)
class _KeplerSpec:
    """Where each Keplerian element sits in a message (DF numbers)."""

    system: str
    ints: tuple  # DFs of (prn, week, iode, iodc, accuracy index); iodc None = none (0)
    reals: tuple  # DFs of (toe, toc, sqrt_a, e, i0, OMEGA0, omega, M0, dn, IDOT, OMEGADOT,
    #                      Cuc, Cus, Crc, Crs, Cic, Cis, af0, af1, af2, tgd, tgd2); None = absent
    week_bits: int


_KEPLER_SPECS = {
    1019: _KeplerSpec("G", (9, 76, 71, 85, 77),
                      (93, 81, 92, 90, 97, 95, 99, 88, 87, 79, 100, 89, 91, 98, 86, 94, 96,
                       84, 83, 82, 101, None), 10),
    1044: _KeplerSpec("J", (429, 452, 434, 456, 453),
                      (442, 430, 441, 439, 446, 444, 448, 437, 436, 450, 449, 438, 440, 447,
                       435, 443, 445, 433, 432, 431, 455, None), 10),
    1041: _KeplerSpec("I", (516, 517, 525, None, 521),
                      (537, 522, 539, 538, 543, 540, 541, 536, 524, 535, 542, 529, 530, 533,
                       534, 531, 532, 518, 519, 520, 523, None), 10),
    1042: _KeplerSpec("C", (488, 489, 492, 497, 490),
                      (505, 493, 504, 502, 509, 507, 511, 500, 499, 491, 512, 501, 503, 510,
                       498, 506, 508, 496, 495, 494, 513, 514), 13),
    1045: _KeplerSpec("E", (252, 289, 290, None, 291),
                      (304, 293, 303, 301, 308, 306, 310, 299, 298, 292, 311, 300, 302, 309,
                       297, 305, 307, 296, 295, 294, 312, None), 12),
    1046: _KeplerSpec("E", (252, 289, 290, None, 286),
                      (304, 293, 303, 301, 308, 306, 310, 299, 298, 292, 311, 300, 302, 309,
                       297, 305, 307, 296, 295, 294, 312, 313), 12),
}

_ELEMENTS = ("sqrt_a", "e", "i0_rad", "omega0_rad", "omega_rad", "m0_rad", "delta_n_radps",
             "idot_radps", "omega_dot_radps", "cuc_rad", "cus_rad", "crc_m", "crs_m",
             "cic_rad", "cis_rad", "af0_s", "af1_sps", "af2_sps2", "tgd_s", "tgd2_s")


# Integer fields read besides _KeplerSpec.ints: health (_health_getter), fit flag (_fit_getter).
_PICKED = {1019: (102, 137), 1044: (454, 457), 1042: (515,), 1041: (527, 528),
           1045: (314, 315), 1046: (316, 317, 287, 288)}


def _health_getter(msg_type: int, ix: dict):
    """Function of the picked integer fields giving the health word (see module notes).

    ``ix`` maps a DF number to its position in the list of picked fields.
    """
    if msg_type == 1041:
        l5, s_ = ix[527], ix[528]
        return lambda v: v[l5] << 1 | v[s_]
    if msg_type == 1045:
        hs, dvs = ix[314], ix[315]
        return lambda v: v[hs] << 4 | v[dvs] << 3
    if msg_type == 1046:
        hs5, dvs5, hs1, dvs1 = ix[316], ix[317], ix[287], ix[288]
        return lambda v: v[hs5] << 7 | v[dvs5] << 6 | v[hs1] << 1 | v[dvs1]
    return itemgetter(ix[{1019: 102, 1044: 454, 1042: 515}[msg_type]])


def _gps_fit_interval_h(iodc: int) -> float:
    """GPS curve-fit interval when the fit flag is set (IS-GPS-200 §20.3.4.4, Table 20-XII)."""
    if 240 <= iodc <= 247:
        return 8.0
    if 248 <= iodc <= 255 or iodc == 496:
        return 14.0
    if 497 <= iodc <= 503 or 1021 <= iodc <= 1023:
        return 26.0
    if 504 <= iodc <= 510:
        return 50.0
    if iodc == 511 or 752 <= iodc <= 756:
        return 74.0
    return 98.0 if iodc == 757 else 6.0


def _fit_getter(msg_type: int, ix: dict):
    """Function of the picked integer fields giving the curve-fit interval in hours.

    GPS: IS-GPS-200 §20.3.4.4 (4 h unless the fit flag is set); QZSS:
    IS-QZSS (2 h, more with the flag); BeiDou 2 h (hourly updates, as
    ``vngeonet.rinex.nav``); others 4 h.
    """
    if msg_type == 1019:
        flag, iodc = ix[137], ix[85]
        return lambda v: _gps_fit_interval_h(v[iodc]) if v[flag] else 4.0
    if msg_type == 1044:
        flag = ix[457]
        return lambda v: 4.0 if v[flag] else 2.0
    hours = 2.0 if msg_type == 1042 else 4.0
    return lambda v: hours


def _source(msg_type: int, prn: int) -> str:
    if msg_type == 1045:
        return "FNAV"
    if msg_type == 1046:
        return "INAV"
    if msg_type == 1042:
        return "D2" if prn <= 5 or prn >= 59 else "D1"
    return "LNAV"


@dataclass(frozen=True, slots=True, eq=False)
class EphemerisMessage:
    """A decoded ephemeris message (1019, 1020, 1041, 1042, 1044, 1045, 1046).

    Attributes
    ----------
    msg_type : int
        DF002.
    sat : str
        RINEX 3 satellite id ("G05", "R18", "E11", "C23", "J01", "I03").
    eph : KeplerEphemeris or GlonassEphemeris
        The ephemeris in SI units.
    fields : ndarray of int64, shape (n,)
        The data fields after DF002 as transmitted, in the order of
        ``vngeonet.rtcm.fields.SPECS[msg_type]`` (read-only).
    time_resolved : bool
        ``False`` when the full week / date could not be determined (no
        ``ctx.approx_time`` for GPS/QZSS/NavIC/GLONASS); ``eph.toe`` then
        carries the broadcast week (GLONASS: week 0) and must not be used
        as an absolute time.
    """

    msg_type: int
    sat: str
    eph: KeplerEphemeris | GlonassEphemeris
    fields: np.ndarray
    time_resolved: bool = True

    def field(self, df: int) -> int:
        """Integer value of data field ``df`` as transmitted."""
        return int(self.fields[layout(self.msg_type).index[df]])

    def to_json(self) -> dict:
        d = {"type": self.msg_type, "sat": self.sat, "system": self.sat[0],
             "time_resolved": self.time_resolved}
        for f in dc_fields(self.eph):
            if f.name in ("sat", "extra"):
                continue
            d[f.name] = _json_value(getattr(self.eph, f.name), self.time_resolved)
        return d


_MAKE_MESSAGE = _EPHF.SlotMaker(EphemerisMessage, [f.name for f in dc_fields(EphemerisMessage)]).make


def _json_value(x, resolved: bool):
    if isinstance(x, GPSTime):
        return x.isoformat() if resolved else None
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if isinstance(x, tuple):
        return [_json_value(y, resolved) for y in x]
    return x


# Own time scale -> GPS time: (week count origin as a GPS week, GPST - own time in s).
# GST: week 0 = GPS week 1024, same scale; BDT: week 0 = GPS week 1356, GPST = BDT + 14 s;
# NavIC (IRNWT): week 0 = GPS week 1024, same scale.
_TIME_ORIGIN = {"G": (0, 0.0), "J": (0, 0.0), "E": (1024, 0.0), "C": (1356, 14.0),
                "I": (1024, 0.0)}


class _Compiled:
    """Everything per message type that a decode needs, built once.

    ``plan`` reads the field vector, scales the 22 reals of the spec
    (``_KeplerSpec.reals``, NaN where absent) and picks the integer fields
    the decode reads (``_PICKED``) in one kernel call; the rest are
    positions in that list of picks and per-type lookups, so that a decode
    does no dictionary lookup, no numpy call and no string formatting.
    """

    __slots__ = (
        "acc_m",
        "fit_h",
        "galileo",
        "health",
        "i_acc",
        "i_iodc",
        "i_iode",
        "i_prn",
        "i_week",
        "msg_type",
        "offset",
        "plan",
        "sats",
        "shift",
        "source",
        "span",
        "system",
        "unambiguous",
    )

    def __init__(self, msg_type: int):
        spec = _KEPLER_SPECS[msg_type]
        lay = layout(msg_type)
        ix = lay.index
        picked = [d for d in spec.ints if d] + list(_PICKED[msg_type])
        self.msg_type = msg_type
        self.plan = _EPHF.FieldPlan(
            lay.widths.tolist(), lay.kinds.tolist(),
            [ix[d] if d else -1 for d in spec.reals],
            [float(lay.si[ix[d]]) if d else _NAN for d in spec.reals],
            [ix[d] for d in picked])
        ix = {d: i for i, d in enumerate(picked)}  # DF -> position in the picked ints
        self.i_prn, self.i_week, self.i_iode, self.i_iodc, self.i_acc = (
            ix[d] if d else None for d in spec.ints)
        self.system = sys_ = spec.system
        self.offset, self.shift = _TIME_ORIGIN[sys_]
        self.span = 1 << spec.week_bits
        self.unambiguous = sys_ in ("E", "C")  # 12/13-bit weeks
        self.sats = tuple(f"{sys_}{prn:02d}" for prn in range(64))
        self.galileo = sys_ == "E"
        self.acc_m = tuple(sisa_m(i) for i in range(256)) if self.galileo else URA_M
        self.health = _health_getter(msg_type, ix)
        self.fit_h = _fit_getter(msg_type, ix)
        self.source = tuple(_source(msg_type, prn) for prn in range(64))


_COMPILED = {t: _Compiled(t) for t in _KEPLER_SPECS}


def _decode_kepler(payload: bytes, ctx, c: _Compiled) -> EphemerisMessage:
    """Decode a Keplerian ephemeris message with the compiled description ``c``."""
    try:
        vals, v, r = c.plan.unpack(payload, 12)
    except IndexError as err:
        raise _short(payload, c.msg_type, c.plan.nbits, ctx) from err
    prn, week, acc_i = v[c.i_prn], v[c.i_week], v[c.i_acc]
    approx = getattr(ctx, "approx_time", None)
    resolved = True
    if c.unambiguous:
        pass
    elif approx is not None:  # vngeonet.gnss.time.resolve_rollover, inlined
        own = approx.week - c.offset
        week = own - ((own - week) % c.span)
        if own - week > c.span >> 1:
            week += c.span
    else:
        resolved = False
    # toe, toc as GPSTime in GPS weeks; toc's week follows toe's across a week boundary.
    toe_w = week + c.offset
    dt = r[1] - r[0]
    toc_w = toe_w - 1 if dt > _HALF_WEEK_S else toe_w + 1 if dt < -_HALF_WEEK_S else toe_w
    tow = r[0] + c.shift
    toe = _MAKE_TIME((toe_w, tow)) if 0.0 <= tow < _WEEK_S else GPSTime(toe_w, tow)
    tow = r[1] + c.shift
    toc = _MAKE_TIME((toc_w, tow)) if 0.0 <= tow < _WEEK_S else GPSTime(toc_w, tow)
    if resolved and approx is None and ctx is not None:
        ctx.approx_time = toe
    extra = {"napa": True} if acc_i == 255 and c.galileo else {}  # SISA: no prediction available
    sat = c.sats[prn]
    eph = _MAKE_KEPLER((sat, toe, toc, week) + r + (
        v[c.i_iode], 0 if c.i_iodc is None else v[c.i_iodc],  # Galileo / NavIC: no IODC
        c.health(v), c.acc_m[acc_i], c.fit_h(v), c.source[prn], extra))
    return _MAKE_MESSAGE((c.msg_type, sat, eph, vals, resolved))


def _short(payload: bytes, msg_type: int, nbits: int, ctx) -> FormatError:
    """The FormatError of a payload too short for its layout (as ``Layout.unpack`` words it)."""
    return FormatError(
        f"RTCM {msg_type}: payload of {len(payload)} bytes is too short "
        f"({12 + nbits} bits needed)",
        source=getattr(ctx, "source", "") or None,
    )


# -------------------------------------------------------------------- GLONASS

_GLO = layout(1020)
# Positions in the 1020 field vector (fields.SPECS[1020]).
_G_SLOT, _G_CH, _G_BN, _G_TB = 0, 1, 6, 8
_G_STATE = np.array([10, 13, 16, 9, 12, 15, 11, 14, 17, 19, 22, 23, 8], dtype=np.intp)
_G_STATE_SI = _GLO.si[_G_STATE]
_G_EN, _G_FT, _G_NT, _G_AVAIL, _G_N4 = 24, 26, 27, 29, 32


_GLO_PLAN = _EPHF.FieldPlan(_GLO.widths.tolist(), _GLO.kinds.tolist(), _G_STATE.tolist(),
                            _G_STATE_SI.tolist(), range(len(_GLO.dfs)))  # all, by position
_GLO_SATS = tuple(f"R{slot:02d}" for slot in range(64))
_MAKE_GLONASS = _EPHF.SlotMaker(GlonassEphemeris,
                                [f.name for f in dc_fields(GlonassEphemeris)]).make

# GLONASS times are handled as integer microseconds since 1980-01-06 00:00 (of whichever
# scale), which gives exactly what the datetime arithmetic of vngeonet.gnss.time gives.
_US = 1_000_000
_DAY_US = 86400 * _US
_MOSCOW_US = 3 * 3600 * _US  # GLONASST = UTC(SU) + 3 h
# LEAP_SECONDS as (UTC step times in us, values after 0, 1, 2... steps), for bisect.
_LEAP_STARTS_US = tuple((start - GPS_EPOCH) // _dt.timedelta(microseconds=1)
                        for start, _ in LEAP_SECONDS)
_LEAP_AFTER = (0,) + tuple(n for _, n in LEAP_SECONDS)
_TB_US: dict[float, int] = {}  # t_b (s) -> microseconds, as timedelta(seconds=t_b) rounds


def _gps_time(week: int, tow_s: float) -> GPSTime:
    """``GPSTime(week, tow_s)``, without the dataclass ``__init__`` when already normalised."""
    if 0.0 <= tow_s < _WEEK_S:
        return _MAKE_TIME((week, tow_s))
    return GPSTime(week, tow_s)


def _us_of(t: _dt.datetime) -> int:
    d = t - GPS_EPOCH
    return (d.days * 86400 + d.seconds) * _US + d.microseconds


def _glonass_us_to_gps(t_glo_us: int) -> GPSTime:
    """``glonass_to_gps`` of a GLONASS time given in microseconds (no datetime objects)."""
    utc = t_glo_us - _MOSCOW_US
    leap = _leap_at_us(utc)
    days, rem = divmod(utc, _DAY_US)
    secs, micro = divmod(rem, _US)
    if micro:  # same float steps as GPSTime.from_datetime (t_b is whole seconds: not reached)
        return GPSTime.from_seconds(days * 86400.0 + secs + micro * 1e-6) + leap
    week, tow = divmod(days * 86400 + secs, 604800)
    return _gps_time(week, float(tow) + leap)


def _leap_at_us(t_us: int) -> int:
    """``leap_seconds`` of a UTC time given in microseconds (the table is in time order)."""
    return _LEAP_AFTER[bisect_right(_LEAP_STARTS_US, t_us)]


def _round_us(x_s: float) -> int | None:
    """``x_s`` in whole microseconds as ``timedelta(seconds=x_s)`` rounds it, or ``None``
    within 1e-3 us of a half microsecond (where the float product could round otherwise)."""
    f = x_s * 1e6
    r = round(f)
    return None if abs(abs(f - r) - 0.5) < 1e-3 else r


def _glonass_now_us(approx: GPSTime) -> int:
    """GLONASST of ``approx`` in microseconds: ``gps_to_utc(approx) + 3 h`` without datetimes.

    Integer arithmetic on the same steps (``leap_seconds_gps``, ``to_datetime``); the rare
    inputs where a step could round differently (a half microsecond, the first leap
    seconds of a week) take the datetime route itself.
    """
    week_us = approx.week * 604800 * _US
    tow_us = _round_us(approx.tow_s)
    if tow_us is not None:
        gps_us = week_us + tow_us
        n = _leap_at_us(gps_us - _leap_at_us(gps_us) * _US)
        tow = approx.tow_s - n
        utc_us = _round_us(tow) if tow >= 0.0 else None
        if utc_us is not None:
            return week_us + utc_us + _MOSCOW_US
    return _us_of(gps_to_utc(approx)) + _MOSCOW_US


def _glonass_toe(tb_s: float, v: list, ctx) -> tuple[GPSTime, bool]:
    """Full GPS time of t_b: nearest to ``ctx.approx_time`` (first of equals), else from N4/NT."""
    tb_us = _TB_US.get(tb_s)
    if tb_us is None:
        tb_us = _TB_US.setdefault(tb_s, _dt.timedelta(seconds=tb_s) // _dt.timedelta(
            microseconds=1))
    approx = getattr(ctx, "approx_time", None)
    if approx is not None:
        now = _glonass_now_us(approx)
        cand = now - now % _DAY_US - _DAY_US + tb_us  # t_b of the previous GLONASS day
        best, best_diff = cand, abs(cand - now)
        for _ in (0, 1):
            cand += _DAY_US
            if abs(cand - now) < best_diff:
                best, best_diff = cand, abs(cand - now)
        return _glonass_us_to_gps(best), True
    nt, n4 = v[_G_NT], v[_G_N4]
    if v[_G_AVAIL] and nt > 0 and n4 > 0:
        day0 = _dt.datetime(1996 + 4 * (n4 - 1), 1, 1) + _dt.timedelta(days=nt - 1)
        return _glonass_us_to_gps(_us_of(day0) + tb_us), True
    return GPSTime(0, tb_s), False


def _decode_1020(payload: bytes, ctx) -> EphemerisMessage:
    try:
        vals, v, s = _GLO_PLAN.unpack(payload, 12)
    except IndexError as err:
        raise _short(payload, 1020, _GLO_PLAN.nbits, ctx) from err
    k = v[_G_CH] - 7
    sat = _GLO_SATS[v[_G_SLOT]]
    toe, resolved = _glonass_toe(s[12], v, ctx)
    eph = _MAKE_GLONASS((sat, toe, k, s[0:3], s[3:6], s[6:9], s[10], s[9], v[_G_BN], v[_G_EN],
                         s[11], s[12], "RTCM1020", {"accuracy_m": FT_M[v[_G_FT]]}))
    if ctx is not None:
        ctx.glo_channels[sat] = k
    return _MAKE_MESSAGE((1020, sat, eph, vals, resolved))


# ------------------------------------------------------------------- encoding


def encode_ephemeris(m: EphemerisMessage) -> bytes:
    """Payload of an ephemeris message: its integer field vector, packed (bit-exact)."""
    return layout(m.msg_type).pack(m.msg_type, m.fields)


def _quantise(lay, values: dict) -> np.ndarray:
    """Integer field vector from ``{df: integer}`` (absent DFs are 0)."""
    return np.array([values.get(d, 0) if d > 0 else 0 for d in lay.dfs], dtype=np.int64)


def _kepler_fields(eph: KeplerEphemeris, msg_type: int) -> np.ndarray:
    spec = _KEPLER_SPECS[msg_type]
    lay = layout(msg_type)
    reals = (eph.toe_sow, eph.toc_sow) + tuple(getattr(eph, n) for n in _ELEMENTS)
    vals = {d: int(eph.extra.get(f"DF{d:03d}", 0)) for d in lay.index}
    for d, x in zip(spec.reals, reals):
        if d is not None:
            vals[d] = round((0.0 if math.isnan(x) else x) / lay.si[lay.index[d]])
    acc = _sisa_index(eph.accuracy_m) if spec.system == "E" else _ura_index(eph.accuracy_m)
    prn = int(eph.sat[1:])
    for d, x in zip(spec.ints, (prn, eph.week % (1 << spec.week_bits), eph.iode, eph.iodc, acc)):
        if d is not None:
            vals[d] = x
    h = eph.health
    health = {1019: {102: h}, 1044: {454: h}, 1042: {515: h}, 1041: {527: h >> 1 & 1, 528: h & 1},
              1045: {314: h >> 4 & 3, 315: h >> 3 & 1},
              1046: {316: h >> 7 & 3, 317: h >> 6 & 1, 287: h >> 1 & 3, 288: h & 1}}
    vals.update(health[msg_type])
    if msg_type == 1019 and eph.fit_interval_h > 4.0:
        vals[137] = 1
    if msg_type == 1044 and eph.fit_interval_h > 2.0:
        vals[457] = 1
    return _quantise(lay, vals)


def _glonass_fields(eph: GlonassEphemeris) -> np.ndarray:
    lay = _GLO
    vals = {d: int(eph.extra.get(f"DF{d:03d}", 0)) for d in lay.index}
    vals.update({38: int(eph.sat[1:]), 40: eph.freq_channel + 7, 108: eph.health,
                 126: eph.age_days})
    dtau = 0.0 if math.isnan(eph.delta_tau_n_s) else eph.delta_tau_n_s
    state = eph.pos_m + eph.vel_mps + eph.acc_mps2 + (eph.gamma_n, eph.tau_n_s, dtau, eph.tb_s)
    for pos, x in zip(_G_STATE.tolist(), state):
        vals[lay.dfs[pos]] = round(x / lay.si[pos])
    return _quantise(lay, vals)


_DEFAULT_TYPE = {"G": 1019, "R": 1020, "E": 1046, "C": 1042, "J": 1044, "I": 1041}


def from_ephemeris(eph: KeplerEphemeris | GlonassEphemeris, msg_type: int | None = None,
                   ctx=None) -> EphemerisMessage:
    """Quantise an SI ephemeris into an ephemeris message (for encoding).

    Parameters
    ----------
    eph : KeplerEphemeris or GlonassEphemeris
        The ephemeris; fields a message carries but the ephemeris does not
        (e.g. GPS code on L2, GLONASS P1) are taken from ``eph.extra`` under
        ``"DFnnn"`` keys, else 0.
    msg_type : int, optional
        Message number; by default from the system (G 1019, R 1020, E 1046,
        C 1042, J 1044, I 1041).
    ctx : DecodeContext, optional
        Used to resolve the decoded copy's times (see :func:`decode_ephemeris`).

    Returns
    -------
    EphemerisMessage
        The message as a receiver would decode it from the encoded payload.

    Raises
    ------
    OverflowError
        A value does not fit its field.
    UnsupportedMessage
        No ephemeris message for the satellite's system (e.g. SBAS).
    """
    if msg_type is None:
        msg_type = _DEFAULT_TYPE.get(eph.sat[0], 0)
    if msg_type not in DECODERS:
        raise UnsupportedMessage(f"no RTCM ephemeris message for {eph.sat} (type {msg_type})",
                                 msg_type=msg_type)
    vals = _glonass_fields(eph) if msg_type == 1020 else _kepler_fields(eph, msg_type)
    return decode_ephemeris(layout(msg_type).pack(msg_type, vals), ctx)


def decode_ephemeris(payload: bytes, ctx=None) -> EphemerisMessage:
    """Decode any of the ephemeris messages (dispatch on DF002).

    Raises
    ------
    FormatError
        The payload is too short; the message names the type.
    UnsupportedMessage
        The payload is not one of the ephemeris messages.
    """
    msg_type = (payload[0] << 4 | payload[1] >> 4) if len(payload) >= 2 else 0
    decoder = DECODERS.get(msg_type)
    if decoder is None:
        raise UnsupportedMessage(f"RTCM {msg_type}: not an ephemeris message", msg_type=msg_type)
    return decoder(payload, ctx)


def _kepler_decoder(msg_type: int):
    c = _COMPILED[msg_type]

    def decode(payload: bytes, ctx=None) -> EphemerisMessage:
        return _decode_kepler(payload, ctx, c)

    decode.__name__ = f"decode_{msg_type}"
    decode.__doc__ = f"Decode a {msg_type} payload (RTCM 10403.3; see module notes)."
    return decode


DECODERS = {t: _kepler_decoder(t) for t in _KEPLER_SPECS}
DECODERS[1020] = _decode_1020

ENCODERS = {EphemerisMessage: encode_ephemeris}

__all__ = ["DECODERS", "ENCODERS", "EphemerisMessage", "from_ephemeris", "decode_ephemeris",
           "sisa_m", "URA_M", "FT_M"]
