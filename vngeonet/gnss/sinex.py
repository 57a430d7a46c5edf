"""SINEX station coordinates and velocities: read SOLUTION/ESTIMATE, propagate to an epoch.

Reads the ``STAX/STAY/STAZ`` (m) and ``VELX/VELY/VELZ`` (m/y) parameters of
the ``+SOLUTION/ESTIMATE`` block, with their reference epochs and standard
deviations, the validity windows of ``+SOLUTION/EPOCHS`` and the marker-to-ARP
eccentricities of ``+SITE/ECCENTRICITY`` (UNE).  Plain or gzip files.

SINEX epochs are ``YY:DOY:SSSSS`` (YY <= 50 -> 20YY, else 19YY; ``00:000:00000``
means "open").  They are taken as GPS time; the UTC/GPS difference (< 20 s) is
irrelevant for coordinates moving by centimetres per year.

References
----------
IERS/IGS "SINEX - Solution (Software/technique) INdependent EXchange Format,
version 2.02" (2006), §§ SOLUTION/ESTIMATE, SOLUTION/EPOCHS, SITE/ECCENTRICITY.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
from dataclasses import dataclass, field

import numpy as np

from vngeonet.errors import FormatError
from vngeonet.gnss.time import GPSTime

SECONDS_PER_YEAR = 365.25 * 86400.0


def parse_epoch(text: str) -> GPSTime | None:
    """GPS time of a SINEX ``YY:DOY:SSSSS`` epoch (``None`` for ``00:000:00000``).

    >>> parse_epoch("20:316:43200").to_datetime()
    datetime.datetime(2020, 11, 11, 12, 0)
    """
    yy, doy, sod = text.strip().split(":")
    y, d, s = int(yy), int(doy), int(sod)
    if y == 0 and d == 0 and s == 0:
        return None
    year = 2000 + y if y <= 50 else 1900 + y
    t = dt.datetime(year, 1, 1) + dt.timedelta(days=max(d, 1) - 1, seconds=s)
    return GPSTime.from_datetime(t)


@dataclass(frozen=True, slots=True)
class SINEXStation:
    """One solution of one station from a SINEX file.

    Attributes
    ----------
    code : str
        4-character site code.
    soln : str
        Solution number (discontinuities give several).
    pos_ecef_m : ndarray (3,)
        Coordinates at ``ref_epoch``, metres.
    vel_ecef_mpy : ndarray (3,)
        Velocity, metres per year (zeros when the file has none).
    ref_epoch : GPSTime
    std_m : ndarray (3,)
    has_velocity : bool
    valid_from, valid_to : GPSTime or None
        From SOLUTION/EPOCHS (data span), when given.
    ecc_une_m : ndarray (3,)
        Marker-to-ARP eccentricity (up, north, east), metres.
    """

    code: str
    soln: str
    pos_ecef_m: np.ndarray
    vel_ecef_mpy: np.ndarray
    ref_epoch: GPSTime
    std_m: np.ndarray
    has_velocity: bool = False
    valid_from: GPSTime | None = None
    valid_to: GPSTime | None = None
    ecc_une_m: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def position_at(self, t: GPSTime) -> np.ndarray:
        """ECEF position (m) at ``t``: ``pos + vel * (t - ref_epoch)`` in years."""
        years = (t - self.ref_epoch) / SECONDS_PER_YEAR
        return self.pos_ecef_m + self.vel_ecef_mpy * years


def _lines(path) -> list[str]:
    p = os.fspath(path)
    with open(p, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("latin-1").splitlines()


def _blocks(lines: list[str], names: set[str]):
    """Yield (block name, line number, line) for data lines inside the named blocks."""
    current = None
    for no, line in enumerate(lines, 1):
        if line.startswith("+"):
            current = line[1:].split()[0] if line[1:].strip() else None
            continue
        if line.startswith("-"):
            current = None
            continue
        if current in names and line[:1] == " ":
            yield current, no, line


def read_sinex(path) -> dict[str, list[SINEXStation]]:
    """All station solutions of a SINEX file, keyed by site code (upper case).

    Raises
    ------
    FormatError
        A malformed estimate line, or no SOLUTION/ESTIMATE block at all.
    """
    lines = _lines(path)
    if not lines or not lines[0].startswith("%=SNX"):
        raise FormatError("not a SINEX file (no %=SNX header line)", source=str(path), line=1)
    est: dict[tuple[str, str, str], dict] = {}
    epochs: dict[tuple[str, str, str], tuple] = {}
    ecc: dict[tuple[str, str], np.ndarray] = {}
    seen = False
    for block, no, line in _blocks(lines, {"SOLUTION/ESTIMATE", "SOLUTION/EPOCHS", "SITE/ECCENTRICITY"}):
        f = line.split()
        try:
            if block == "SOLUTION/ESTIMATE":
                seen = True
                ptype, code, pt, soln, epoch = f[1], f[2].upper(), f[3], f[4], f[5]
                if ptype[:3] not in ("STA", "VEL") or ptype[3:] not in ("X", "Y", "Z"):
                    continue
                d = est.setdefault((code, pt, soln), {})
                d[ptype] = (float(f[8]), float(f[9]) if len(f) > 9 else float("nan"), epoch)
            elif block == "SOLUTION/EPOCHS":
                epochs[(f[0].upper(), f[1], f[2])] = (parse_epoch(f[4]), parse_epoch(f[5]))
            else:
                ecc[(f[0].upper(), f[1])] = np.array([float(f[-3]), float(f[-2]), float(f[-1])])
        except (IndexError, ValueError) as err:
            raise FormatError(f"malformed {block} line: {err}", source=str(path), line=no) from err
    if not seen:
        raise FormatError("no SOLUTION/ESTIMATE block", source=str(path))
    out: dict[str, list[SINEXStation]] = {}
    for (code, pt, soln), d in est.items():
        if not all(k in d for k in ("STAX", "STAY", "STAZ")):
            continue
        pos = np.array([d["STAX"][0], d["STAY"][0], d["STAZ"][0]])
        std = np.array([d["STAX"][1], d["STAY"][1], d["STAZ"][1]])
        has_v = all(k in d for k in ("VELX", "VELY", "VELZ"))
        vel = np.array([d["VELX"][0], d["VELY"][0], d["VELZ"][0]]) if has_v else np.zeros(3)
        vf, vt = epochs.get((code, pt, soln), (None, None))
        out.setdefault(code, []).append(SINEXStation(
            code=code, soln=soln, pos_ecef_m=pos, vel_ecef_mpy=vel,
            ref_epoch=parse_epoch(d["STAX"][2]), std_m=std, has_velocity=has_v,
            valid_from=vf, valid_to=vt, ecc_une_m=ecc.get((code, pt), np.zeros(3)),
        ))
    return out


def station_position(path, code: str, t: GPSTime) -> tuple[np.ndarray, SINEXStation]:
    """Position (ECEF, m) of station ``code`` propagated to ``t``, and the solution used.

    With several solutions (discontinuities), the one whose SOLUTION/EPOCHS
    window contains ``t`` wins; else the one with the nearest reference epoch.

    Raises
    ------
    KeyError
        The station is not in the file.
    """
    sols = read_sinex(path).get(code.upper())
    if not sols:
        raise KeyError(f"station {code!r} not in {os.fspath(path)}")

    def score(s: SINEXStation):
        inside = (s.valid_from is None or s.valid_from <= t) and (s.valid_to is None or t <= s.valid_to)
        return (0 if inside and (s.valid_from or s.valid_to) else 1, abs(t - s.ref_epoch))

    best = min(sols, key=score)
    return best.position_at(t), best
