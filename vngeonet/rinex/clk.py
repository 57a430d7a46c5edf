"""RINEX clock file reader (versions 2.00, 3.00-3.04).

:func:`read_clk` returns the satellite clock offsets (``AS`` records) on the
union of their epochs, in seconds and GPS time, plus the receiver clocks
(``AR`` records) per station.  Records are read by whitespace-separated
fields, which covers both the 4-character (2.00/3.00) and the 9-character
(3.04) name fields; values beyond the second are on a continuation line.

References
----------
RINEX Clock 2.00 (J. Ray, W. Gurtner, 1998-2010) §4 and 3.04 (IGS, 2017)
Table A5 ("AS"/"AR" data records, TIME SYSTEM ID).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from vngeonet.errors import RINEXError
from vngeonet.rinex.sp3 import time_to_gps_s


@dataclass(frozen=True, slots=True, eq=False)
class ClockData:
    """Satellite (and receiver) clocks of RINEX clock files.

    Attributes
    ----------
    version : float
    time_system : str
        ``"GPS"`` unless the header's ``TIME SYSTEM ID`` says otherwise;
        ``time_gps_s`` is GPS time in any case.
    sats : ndarray of '<U3', shape (m,)
    time_gps_s : ndarray, shape (k,)
        Union of the satellite-record epochs, GPS seconds, increasing.
    clk_s : ndarray, shape (m, k)
        Satellite clock offsets, seconds (NaN where absent).
    receivers : dict
        ``{name: (time_gps_s (j,), clk_s (j,))}`` from ``AR`` records.
    """

    version: float
    time_system: str
    sats: np.ndarray
    time_gps_s: np.ndarray
    clk_s: np.ndarray
    receivers: dict = field(default_factory=dict)


def read_clk(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> ClockData:
    """Read one or several RINEX clock files (plain or compressed).

    Raises
    ------
    RINEXError
        Not a clock file, or an unreadable data record (file and line named).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    sat_rows: list[tuple[str, float, float]] = []
    rcv: dict[str, list[tuple[float, float]]] = {}
    version, tsys = 0.0, "GPS"
    for path in paths:
        v, ts = _read_one(path, sat_rows, rcv)
        version = version or v
        tsys = ts
    sats = sorted({s for s, _, _ in sat_rows})
    t = np.unique(np.array([r[1] for r in sat_rows], dtype=float))
    idx = {s: i for i, s in enumerate(sats)}
    clk = np.full((len(sats), len(t)), np.nan)
    if sat_rows:
        rows = np.array([idx[s] for s, _, _ in sat_rows], dtype=np.intp)
        cols = np.searchsorted(t, np.array([r[1] for r in sat_rows]))
        clk[rows, cols] = [r[2] for r in sat_rows]
    receivers = {
        k: (np.array([a for a, _ in v]), np.array([b for _, b in v])) for k, v in rcv.items()
    }
    return ClockData(version, tsys, np.array(sats, dtype="<U3"), t, clk, receivers)


def _read_one(path, sat_rows, rcv) -> tuple[float, str]:
    from vngeonet.rinex.nav import _read_text

    lines = _read_text(path)
    src = str(path)
    if not lines or "RINEX VERSION / TYPE" not in lines[0] or "C" not in lines[0][20:22]:
        raise RINEXError("not a RINEX clock file", source=src, line=1)
    try:
        version = float(lines[0].split()[0])
    except ValueError as err:
        raise RINEXError("bad RINEX clock version", source=src, line=1) from err
    tsys = "GPS"
    body = None
    for i, line in enumerate(lines):
        if "TIME SYSTEM ID" in line[55:]:
            tsys = line[:10].split()[0] if line[:10].split() else "GPS"
        if "END OF HEADER" in line[55:]:
            body = i + 1
            break
    if body is None:
        raise RINEXError("no END OF HEADER", source=src, line=len(lines))
    epochs: dict[tuple, float] = {}  # many records share an epoch: convert each once
    for i in range(body, len(lines)):
        line = lines[i]
        typ = line[:2]
        if typ not in ("AS", "AR"):
            continue
        f = line.split()
        try:
            key = tuple(f[2:8])
            t = epochs.get(key)
            if t is None:
                t = epochs[key] = time_to_gps_s(
                    _dt.datetime(int(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6]))
                    + _dt.timedelta(seconds=float(f[7])),
                    tsys,
                )
            bias = float(f[9].replace("D", "E"))
        except (ValueError, IndexError) as err:
            raise RINEXError(f"bad {typ} record: {err}", source=src, line=i + 1) from err
        if typ == "AS":
            sat = f[1]
            if len(sat) == 3 and sat[0].isalpha():
                sat_rows.append((sat, t, bias))
        else:
            rcv.setdefault(f[1], []).append((t, bias))
    return version, tsys
