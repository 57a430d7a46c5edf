"""Rover positions: NMEA GGA parsing, nearest-station choice, position hooks.

Pure code: the server feeds it the bytes rovers send and the live stations'
positions; it returns decisions.

* :class:`GGAReader` splits a rover's upstream bytes into NMEA sentences
  and parses GGA (NMEA 0183 v4.10 §GGA; checksum checked when present).
* :func:`choose_station` picks the closest live station, switching away from
  the current one only when another is closer by ``hysteresis_m`` (so a rover
  half-way between two bases does not flip every epoch).
* :class:`PositionHooks` is the registry through which each session's
  position is handed to the network engine (VRS/MAC) once it exists:
  ``hooks.register(callback)``; callbacks receive a :class:`RoverPosition`.

References
----------
NMEA 0183 v4.10 (GGA); NTRIP 2.0 §3.2.2 (GGA upstream for NMEA=1 mountpoints).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

log = logging.getLogger(__name__)

__all__ = ["GGAPosition", "GGAReader", "PositionHooks", "RoverPosition", "choose_station", "distance_m", "parse_gga"]

EARTH_RADIUS_M = 6371008.8  # IUGG mean radius; station choice needs no ellipsoid


@dataclass(frozen=True, slots=True)
class GGAPosition:
    """Position from one GGA sentence."""

    lat_deg: float
    lon_deg: float
    height_m: float  # orthometric height (MSL), field 9
    quality: int  # fix quality indicator, field 6 (1 SPS, 2 DGNSS, 4 RTK fix, 5 float...)
    n_sat: int
    utc: str  # hhmmss.ss as sent


@dataclass(frozen=True, slots=True)
class RoverPosition:
    """What position hooks receive: the session and its latest GGA."""

    session_id: int
    user: str
    mount: str
    ip: str
    position: GGAPosition
    gga_count: int


def _checksum_ok(sentence: str) -> bool:
    body, star, cs = sentence.partition("*")
    if not star:
        return True  # checksum is optional in NMEA 0183 for some talkers
    x = 0
    for ch in body[1:]:
        x ^= ord(ch)
    try:
        return int(cs[:2], 16) == x
    except ValueError:
        return False


def _coord(value: str, hemi: str, deg_digits: int) -> float:
    deg = int(value[:deg_digits])
    minutes = float(value[deg_digits:])
    if minutes >= 60.0:
        raise ValueError("minutes >= 60")
    v = deg + minutes / 60.0
    if hemi in ("S", "W"):
        return -v
    if hemi not in ("N", "E"):
        raise ValueError("hemisphere")
    return v


def parse_gga(sentence: str) -> GGAPosition | None:
    """Parse one ``$xxGGA`` sentence; ``None`` if not GGA, invalid or without a fix.

    Examples
    --------
    >>> p = parse_gga("$GPGGA,120000.00,2101.0000,N,10550.0000,E,1,10,0.9,10.0,M,-20.0,M,,*7A")
    >>> round(p.lat_deg, 4), round(p.lon_deg, 4), p.quality
    (21.0167, 105.8333, 1)
    """
    s = sentence.strip()
    if len(s) < 7 or s[0] != "$" or s[3:6] != "GGA" or not _checksum_ok(s):
        return None
    f = s.partition("*")[0].split(",")
    if len(f) < 10:
        return None
    try:
        quality = int(f[6] or 0)
        if quality == 0 or not f[2] or not f[4]:
            return None
        lat = _coord(f[2], f[3], 2)
        lon = _coord(f[4], f[5], 3)
        height = float(f[9]) if f[9] else 0.0
        nsat = int(f[7] or 0)
    except ValueError:
        return None
    if abs(lat) > 90 or abs(lon) > 180:
        return None
    return GGAPosition(lat, lon, height, quality, nsat, f[1])


class GGAReader:
    """Split a rover's upstream byte stream into sentences; keep GGA positions.

    Lines longer than ``max_line`` are discarded (counted in ``junk``) so a
    rover cannot make the caster buffer without bound.
    """

    def __init__(self, max_line: int = 256):
        self.max_line = max_line
        self._buf = bytearray()
        self.count = 0
        self.junk = 0
        self.last: GGAPosition | None = None

    def feed(self, data: bytes) -> list[GGAPosition]:
        """Add bytes; return positions of the complete GGA sentences among them."""
        self._buf += data
        out = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self.max_line:
                    self.junk += 1
                    self._buf.clear()
                break
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if len(line) > self.max_line:
                self.junk += 1
                continue
            pos = parse_gga(line.decode("ascii", "replace"))
            if pos is not None:
                self.count += 1
                self.last = pos
                out.append(pos)
        return out


def distance_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance on the mean sphere (haversine), metres."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp = p2 - p1
    dl = math.radians(lon2_deg - lon1_deg)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def choose_station(lat_deg: float, lon_deg: float, stations: dict, current: str | None = None,
                   hysteresis_m: float = 1000.0) -> str | None:
    """Name of the station to stream to a rover at (lat, lon).

    Parameters
    ----------
    stations : dict[str, tuple[float, float]]
        Live stations and their (lat_deg, lon_deg).
    current : str or None
        Station streamed now; kept unless another is closer by more than
        ``hysteresis_m`` (or it is no longer live).

    Examples
    --------
    >>> st = {"A": (21.0, 105.8), "B": (21.5, 105.8)}
    >>> choose_station(21.1, 105.8, st)
    'A'
    >>> choose_station(21.26, 105.8, st, current="A")    # B is 2.2 km closer: switch
    'B'
    >>> choose_station(21.252, 105.8, st, current="A")   # B only 0.4 km closer: stay
    'A'
    """
    if not stations:
        return None
    dist = {name: distance_m(lat_deg, lon_deg, la, lo) for name, (la, lo) in stations.items()}
    best = min(dist, key=dist.__getitem__)
    if current in dist and dist[best] > dist[current] - hysteresis_m:
        return current
    return best


class PositionHooks:
    """Registry of callbacks that receive every rover position.

    A callback raising an exception is logged and counted in ``errors``; it
    never disturbs the session.  ``register`` returns a function that removes
    the callback again.
    """

    def __init__(self):
        self._callbacks: list = []
        self.errors = 0

    def register(self, callback):
        self._callbacks.append(callback)

        def unregister() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unregister

    def emit(self, pos: RoverPosition) -> None:
        for cb in tuple(self._callbacks):
            try:
                cb(pos)
            except Exception:  # a hook must never break a rover session
                self.errors += 1
                log.exception("position hook %r failed", cb)
