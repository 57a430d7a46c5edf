"""GNSS time scales: GPST, GST, BDT, GLONASST, UTC.

All times inside vngeonet are :class:`GPSTime` values (GPS week and seconds
of week).  The other scales convert to and from it:

* GST (Galileo) = GPST; its week count starts at GPS week 1024
  (1999-08-22), so ``gst_week = gps_week - 1024``.
* BDT (BeiDou) = GPST - 14 s; week 0 starts 2006-01-01 00:00:00 BDT
  (GPS week 1356).
* UTC = GPST - leap seconds (18 s since 2017-01-01).
* GLONASST = UTC + 3 h.

References
----------
IS-GPS-200N §20.3.3.5.2.4; Galileo OS SIS ICD 2.1 §5.1.2; BDS-SIS-ICD-B1I 3.0
§4.1; GLONASS ICD 5.1 §3.3.3; IERS Bulletin C (leap seconds).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

SECONDS_PER_WEEK = 604800.0
SECONDS_PER_DAY = 86400.0
GPS_EPOCH = _dt.datetime(1980, 1, 6)
GST_WEEK_OFFSET = 1024  # GST week 0 = GPS week 1024
BDT_WEEK_OFFSET = 1356  # BDT week 0 = GPS week 1356
BDT_MINUS_GPST_S = -14.0

# (UTC date from which the offset applies, GPST - UTC in seconds).  IERS Bulletin C.
LEAP_SECONDS: tuple[tuple[_dt.datetime, int], ...] = (
    (_dt.datetime(1981, 7, 1), 1),
    (_dt.datetime(1982, 7, 1), 2),
    (_dt.datetime(1983, 7, 1), 3),
    (_dt.datetime(1985, 7, 1), 4),
    (_dt.datetime(1988, 1, 1), 5),
    (_dt.datetime(1990, 1, 1), 6),
    (_dt.datetime(1991, 1, 1), 7),
    (_dt.datetime(1992, 7, 1), 8),
    (_dt.datetime(1993, 7, 1), 9),
    (_dt.datetime(1994, 7, 1), 10),
    (_dt.datetime(1996, 1, 1), 11),
    (_dt.datetime(1997, 7, 1), 12),
    (_dt.datetime(1999, 1, 1), 13),
    (_dt.datetime(2006, 1, 1), 14),
    (_dt.datetime(2009, 1, 1), 15),
    (_dt.datetime(2012, 7, 1), 16),
    (_dt.datetime(2015, 7, 1), 17),
    (_dt.datetime(2017, 1, 1), 18),
)


@dataclass(frozen=True, slots=True, order=True)
class GPSTime:
    """A time in the GPS time scale.

    Attributes
    ----------
    week : int
        Full GPS week number (no 1024 roll-over), week 0 starts 1980-01-06.
    tow_s : float
        Seconds of week, ``0 <= tow_s < 604800``.

    Examples
    --------
    >>> t = GPSTime.from_datetime(_dt.datetime(2024, 5, 3))
    >>> t
    GPSTime(week=2312, tow_s=432000.0)
    >>> (t + 86400.0).to_datetime()
    datetime.datetime(2024, 5, 4, 0, 0)
    >>> (t + 86400.0) - t
    86400.0
    """

    week: int
    tow_s: float

    def __post_init__(self):
        if not 0.0 <= self.tow_s < SECONDS_PER_WEEK:
            w, s = divmod(self.tow_s, SECONDS_PER_WEEK)
            object.__setattr__(self, "week", self.week + int(w))
            object.__setattr__(self, "tow_s", float(s))

    @classmethod
    def from_seconds(cls, gps_s: float) -> GPSTime:
        """From seconds since the GPS epoch (1980-01-06 00:00:00 GPST)."""
        w, s = divmod(gps_s, SECONDS_PER_WEEK)
        return cls(int(w), float(s))

    @property
    def seconds(self) -> float:
        """Seconds since the GPS epoch (float64: sub-microsecond until ~2100)."""
        return self.week * SECONDS_PER_WEEK + self.tow_s

    @classmethod
    def from_datetime(cls, t: _dt.datetime) -> GPSTime:
        """From a naive datetime read as GPS time (use :func:`utc_to_gps` for UTC)."""
        if t.tzinfo is not None:
            t = t.astimezone(_dt.UTC).replace(tzinfo=None)
        d = t - GPS_EPOCH
        return cls.from_seconds(d.days * SECONDS_PER_DAY + d.seconds + d.microseconds * 1e-6)

    def to_datetime(self) -> _dt.datetime:
        """Naive datetime in GPS time (microsecond resolution)."""
        return GPS_EPOCH + _dt.timedelta(weeks=self.week, seconds=self.tow_s)

    def isoformat(self) -> str:
        """ISO 8601 text of the GPS time, e.g. ``2024-05-03T00:00:00.000``."""
        return self.to_datetime().isoformat(timespec="milliseconds")

    def __add__(self, dt_s: float) -> GPSTime:
        return GPSTime(self.week, self.tow_s + dt_s)

    def __sub__(self, other):
        if isinstance(other, GPSTime):
            return (self.week - other.week) * SECONDS_PER_WEEK + (self.tow_s - other.tow_s)
        return GPSTime(self.week, self.tow_s - other)


def leap_seconds(t_utc: _dt.datetime) -> int:
    """GPST - UTC in whole seconds at UTC time ``t_utc`` (0 before 1981-07-01)."""
    n = 0
    for start, value in LEAP_SECONDS:
        if t_utc >= start:
            n = value
    return n


def leap_seconds_gps(t: GPSTime) -> int:
    """GPST - UTC in whole seconds at GPS time ``t``."""
    approx = t.to_datetime()
    n = leap_seconds(approx)
    return leap_seconds(approx - _dt.timedelta(seconds=n))


def utc_to_gps(t_utc: _dt.datetime) -> GPSTime:
    """GPS time of a UTC datetime."""
    return GPSTime.from_datetime(t_utc) + leap_seconds(t_utc)


def gps_to_utc(t: GPSTime) -> _dt.datetime:
    """UTC datetime of a GPS time."""
    return (t - leap_seconds_gps(t)).to_datetime()


def gst_to_gps(week: int, tow_s: float) -> GPSTime:
    """GPS time of Galileo system time (GST week, seconds of week); same scale, other week count."""
    return GPSTime(week + GST_WEEK_OFFSET, tow_s)


def bdt_to_gps(week: int, tow_s: float) -> GPSTime:
    """GPS time of BeiDou time (BDT week, seconds of week)."""
    return GPSTime(week + BDT_WEEK_OFFSET, tow_s) - BDT_MINUS_GPST_S


def gps_to_bdt(t: GPSTime) -> tuple[int, float]:
    """BeiDou (week, seconds of week) of a GPS time."""
    b = t + BDT_MINUS_GPST_S
    return b.week - BDT_WEEK_OFFSET, b.tow_s


def glonass_to_gps(t_glo: _dt.datetime) -> GPSTime:
    """GPS time of a GLONASS time (UTC(SU) + 3 h) given as a naive datetime."""
    return utc_to_gps(t_glo - _dt.timedelta(hours=3))


def resolve_week(tow_s: float, near: GPSTime) -> GPSTime:
    """The GPS time with seconds-of-week ``tow_s`` closest to ``near``.

    Used to attach a week to times that carry only a time of week (RTCM MSM
    epochs, ephemeris reference times).
    """
    t = GPSTime(near.week, tow_s)
    dt = t - near
    if dt > SECONDS_PER_WEEK / 2:
        t = GPSTime(near.week - 1, tow_s)
    elif dt < -SECONDS_PER_WEEK / 2:
        t = GPSTime(near.week + 1, tow_s)
    return t


def resolve_rollover(week_mod: int, bits: int, near: GPSTime, offset: int = 0) -> int:
    """Full week number from a week count modulo ``2**bits``, closest to ``near``.

    ``offset`` is the week count's origin as a GPS week (1024 for GST, 1356
    for BDT); the result is in the system's own week count.

    >>> resolve_rollover(2312 % 1024, 10, GPSTime(2312, 0.0))
    2312
    """
    span = 1 << bits
    own = near.week - offset
    full = own - ((own - week_mod) % span)
    if own - full > span // 2:
        full += span
    return full


def glonass_tod_to_gps(tod_s: float, near: GPSTime) -> GPSTime:
    """GPS time of a GLONASS time of day (Moscow time, e.g. ephemeris ``t_b``) closest to ``near``.

    GLONASS messages carry only the time of day in GLONASST = UTC(SU) + 3 h
    (GLONASS ICD 5.1 §3.3.3, t_b = 15 min x index; t_k); the day comes from
    an approximate time ``near`` (GPS), taken within +-12 h.

    >>> glonass_tod_to_gps(3 * 3600.0 + 900.0, GPSTime.from_datetime(_dt.datetime(2020, 6, 25, 0, 20)))
    GPSTime(week=2111, tow_s=346518.0)
    """
    moscow = gps_to_utc(near) + _dt.timedelta(hours=3)
    start = _dt.datetime(moscow.year, moscow.month, moscow.day)
    best = start + _dt.timedelta(seconds=tod_s)
    for k in (-1, 1):
        cand = start + _dt.timedelta(days=k, seconds=tod_s)
        if abs((cand - moscow).total_seconds()) < abs((best - moscow).total_seconds()):
            best = cand
    return glonass_to_gps(best)
