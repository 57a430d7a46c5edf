"""SP3 precise orbit reader (SP3-a, -b, -c, -d, and the original letterless SP3).

:func:`read_sp3` returns an :class:`SP3Data` with positions and clocks on the
file's epoch grid, converted to SI units (metres, seconds) and GPS time.
Positions of exactly 0 and clocks of 999999.999999 (or more) are the
format's "bad or absent" markers and become NaN.

References
----------
S. Hilla, "The Extended Standard Product 3 Orbit Format (SP3-d)", 2016 (and
SP3-c 2007, SP3-a 1989 by B. Remondi): line 1 (#), line 2 (##), satellite
lines (+), accuracy (++), %c time system, * epoch, P/V records, EOF.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vngeonet.errors import RINEXError
from vngeonet.gnss.time import GPSTime, utc_to_gps

BAD_CLOCK_US = 999999.0
TAI_MINUS_GPS_S = 19.0


def time_to_gps_s(t: _dt.datetime, time_system: str) -> float:
    """GPS seconds of the naive epoch ``t`` read in the file's ``time_system``.

    Time-system codes of the SP3 ``%c`` line and the RINEX clock ``TIME SYSTEM ID``
    record: ``UTC``; ``GLO`` (UTC(SU) + 3 h); ``TAI`` (GPS + 19 s); ``BDT``/``BDS``
    (GPS - 14 s); any other code (``GPS``, ``GAL``, ``QZS``, ``IRN``, blank) is
    read as GPS time.
    """
    if time_system == "UTC":
        return utc_to_gps(t).seconds
    if time_system == "GLO":
        return utc_to_gps(t - _dt.timedelta(hours=3)).seconds
    g = GPSTime.from_datetime(t).seconds
    if time_system == "TAI":
        return g - TAI_MINUS_GPS_S
    if time_system in ("BDT", "BDS"):
        return g + 14.0
    return g


@dataclass(frozen=True, slots=True, eq=False)
class SP3Data:
    """Content of one SP3 file (or several concatenated by :func:`read_sp3`).

    Attributes
    ----------
    version : str
        Version letter (``"a"``, ``"c"``, ``"d"``; ``""`` for the original format).
    time_system : str
        Time system of the file epochs (``"GPS"`` if not stated); ``time_gps_s``
        is always GPS time.
    coord_system : str
        Reference frame label, e.g. ``"IGS14"``.
    agency : str
        Producing agency.
    interval_s : float
        Nominal epoch interval from line 2.
    sats : ndarray of '<U3', shape (m,)
        Satellite ids.
    time_gps_s : ndarray, shape (k,)
        Epochs, seconds since the GPS epoch, increasing.
    pos_m : ndarray, shape (m, k, 3)
        Centre-of-mass positions, ECEF metres; NaN where absent.
    clk_s : ndarray, shape (m, k)
        Clock offsets, seconds; NaN where absent.
    vel_mps : ndarray, shape (m, k, 3) or None
        Velocities when the file has V records.
    """

    version: str
    time_system: str
    coord_system: str
    agency: str
    interval_s: float
    sats: np.ndarray
    time_gps_s: np.ndarray
    pos_m: np.ndarray
    clk_s: np.ndarray
    vel_mps: np.ndarray | None = None


def read_sp3(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> SP3Data:
    """Read one or several SP3 files (plain or compressed) into one :class:`SP3Data`.

    Several files (e.g. consecutive days) are merged on the union of epochs and
    satellites; where epochs repeat, the later file wins.

    Raises
    ------
    RINEXError
        The file is not SP3 or a record is unreadable (file and line named).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    parts = [_read_one(p) for p in paths]
    if not parts:
        raise RINEXError("no SP3 file given")
    return parts[0] if len(parts) == 1 else _merge(parts)


def _read_one(path) -> SP3Data:
    from vngeonet.rinex.nav import _read_text

    lines = _read_text(path)
    while lines and not lines[0].strip():  # some files start with an empty line
        lines = lines[1:]
    src = str(path)
    if not lines or not lines[0].startswith("#"):
        raise RINEXError("not an SP3 file (no '#' first line)", source=src, line=1)
    version = lines[0][1:2].strip().lower()
    if version in ("p", "v"):  # original SP3: '#' then the P/V flag directly
        version = ""
    head = _Header(lines, src)
    epochs, recs, vrecs = [], {}, {}
    cur = -1
    for i in range(head.body, len(lines)):
        line = lines[i]
        c = line[:1]
        if c == "*":
            try:
                epochs.append(head.to_gps(_epoch(line[1:])))
            except ValueError as err:
                raise RINEXError(f"bad epoch line: {err}", source=src, line=i + 1) from err
            cur = len(epochs) - 1
        elif c in ("P", "V") and cur >= 0:
            sat = _sat_id(line[1:4])
            try:
                v = (float(line[4:18]), float(line[18:32]), float(line[32:46]), _f(line[46:60]))
            except ValueError as err:
                raise RINEXError(f"bad {c} record: {err}", source=src, line=i + 1) from err
            (recs if c == "P" else vrecs)[(sat, cur)] = v
        elif line.startswith("EOF"):
            break
    return _assemble(version, head, epochs, recs, vrecs)


class _Header:
    def __init__(self, lines: list[str], src: str):
        first = lines[0]
        self.coord = first[46:51].strip()
        self.agency = first[56:60].strip()
        self.interval = _f(lines[1][24:38]) if len(lines) > 1 and lines[1].startswith("##") else 0.0
        self.time_system = "GPS"
        self.body = len(lines)
        for i, line in enumerate(lines[1:], start=1):
            if line.startswith("%c") and i and self.time_system == "GPS":
                ts = line[9:12].strip()
                if ts and not ts.startswith("cc"):
                    self.time_system = ts
            if line.startswith("*"):
                self.body = i
                break
        if self.body == len(lines):
            raise RINEXError("no epoch record ('*') in SP3 file", source=src, line=len(lines))

    def to_gps(self, t: _dt.datetime) -> float:
        return time_to_gps_s(t, self.time_system)


def _f(s: str) -> float:
    s = s.strip()
    return float(s) if s else math.nan


def _epoch(text: str) -> _dt.datetime:
    f = text.split()
    sec = float(f[5])
    return _dt.datetime(int(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4])) + _dt.timedelta(
        seconds=sec
    )


def _sat_id(s: str) -> str:
    """'G01', 'G 1', ' 01' or '  1' (SP3-a: GPS) -> 'G01'."""
    sys = s[0] if s[0] != " " else "G"
    return f"{sys}{int(s[1:3].replace(' ', '0') or 0):02d}"


def _assemble(version, head, epochs, recs, vrecs) -> SP3Data:
    sats = sorted({s for s, _ in recs})
    t = np.array(epochs, dtype=float)
    m, k = len(sats), len(t)
    idx = {s: i for i, s in enumerate(sats)}
    pos = np.full((m, k, 3), np.nan)
    clk = np.full((m, k), np.nan)
    for (s, j), (x, y, z, c) in recs.items():
        if x != 0.0 or y != 0.0 or z != 0.0:
            pos[idx[s], j] = (x * 1e3, y * 1e3, z * 1e3)
        if math.isfinite(c) and abs(c) < BAD_CLOCK_US:
            clk[idx[s], j] = c * 1e-6
    vel = None
    if vrecs:
        vel = np.full((m, k, 3), np.nan)
        for (s, j), (x, y, z, _c) in vrecs.items():
            if s in idx and (x != 0.0 or y != 0.0 or z != 0.0):
                vel[idx[s], j] = (x * 0.1, y * 0.1, z * 0.1)  # dm/s
    return SP3Data(
        version,
        head.time_system,
        head.coord,
        head.agency,
        head.interval,
        np.array(sats, dtype="<U3"),
        t,
        pos,
        clk,
        vel,
    )


def _merge(parts: list[SP3Data]) -> SP3Data:
    sats = sorted({s for p in parts for s in p.sats.tolist()})
    t = np.unique(np.concatenate([p.time_gps_s for p in parts]))
    idx = {s: i for i, s in enumerate(sats)}
    pos = np.full((len(sats), len(t), 3), np.nan)
    clk = np.full((len(sats), len(t)), np.nan)
    for p in parts:
        rows = np.array([idx[s] for s in p.sats.tolist()], dtype=np.intp)
        cols = np.searchsorted(t, p.time_gps_s)
        pos[rows[:, None], cols[None, :]] = p.pos_m
        clk[rows[:, None], cols[None, :]] = p.clk_s
    p0 = parts[0]
    return SP3Data(
        p0.version,
        p0.time_system,
        p0.coord_system,
        p0.agency,
        p0.interval_s,
        np.array(sats, dtype="<U3"),
        t,
        pos,
        clk,
        None,
    )
