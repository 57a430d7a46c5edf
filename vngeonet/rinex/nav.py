"""RINEX navigation (broadcast ephemeris) reader, versions 2.xx, 3.0x and 4.0x.

:func:`read_nav` reads one or several navigation files (plain, gzip, ``.Z``,
zip, bzip2) and returns a :class:`NavData`: the ephemerides as
:class:`~vngeonet.model.KeplerEphemeris` (GPS, Galileo, BeiDou, QZSS, NavIC)
or :class:`~vngeonet.model.GlonassEphemeris` (GLONASS, and SBAS, see below),
the broadcast ionosphere coefficients, the leap seconds and the system time
corrections.  All values are SI: metres, seconds, radians (RINEX already
stores angles in radians, positions of GLONASS/SBAS in km which are converted).

Record layouts
--------------
* RINEX 2: ``I2`` PRN and a 2-digit-year epoch (22 columns), then 3 values of
  19 columns; continuation lines have 3 blanks then 4 values.  The system is
  given by the file type (``N`` GPS, ``G`` GLONASS, ``H`` SBAS, ``E``/``L``
  Galileo of RINEX 2.12).  Record lengths are fixed per type.
* RINEX 3: system letter, 2-digit PRN and a 4-digit-year epoch (23 columns);
  continuation lines have 4 blanks then 4 values.  A record ends where the
  next line starts with a non-blank character, so the 4-line (3.04) and
  5-line (3.05) GLONASS layouts are both read.
* RINEX 4: every record follows a ``> EPH|ION|STO|EOP sat type`` line; EPH
  data lines are as in RINEX 3.  ``LNAV``, ``INAV``, ``FNAV``, ``D1``, ``D2``,
  ``FDMA``, ``SBAS`` use the RINEX 3 field order; ``CNAV``/``CNV2`` (GPS,
  QZSS) and ``CNV1``/``CNV2``/``CNV3`` (BeiDou) carry ``A_dot`` and
  ``delta_n0_dot`` (kept in ``extra`` as ``a_dot_mps`` and
  ``delta_n_dot_radps2``) and have ``toe = toc``.

Unknown-value sentinels (``.999999999999e+09`` written by RINEX 3.05 for an
unknown GLONASS group delay, ``-1`` URA/SISA "no accuracy prediction") become
NaN.  SBAS ephemerides are returned as :class:`GlonassEphemeris` with
``source="SBAS"``, ``tau_n_s = -a_Gf0`` and ``gamma_n = a_Gf1`` so that the
GLONASS clock convention ``dt = -tau_n + gamma_n (t - t_b)`` gives the SBAS
clock; their orbit is propagated with the quadratic SBAS model, not
integrated.

References
----------
RINEX 2.11 (IGS/RTCM-SC104, 2012) Tables A3/A4/A11; RINEX 2.12 (Galileo);
RINEX 3.05 (IGS, 2020) Tables A6-A18 (GPS, GLONASS, Galileo, QZSS, BDS, SBAS,
NavIC navigation records and header labels); RINEX 4.00 (IGS, 2021) §5 and
Tables A31-A42 (EPH, STO, EOP, ION records).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from vngeonet.errors import RINEXError
from vngeonet.gnss.constants import is_bds_geo
from vngeonet.gnss.time import (
    BDT_WEEK_OFFSET,
    GST_WEEK_OFFSET,
    GPSTime,
    resolve_week,
    utc_to_gps,
)
from vngeonet.model import GlonassEphemeris, KeplerEphemeris

log = logging.getLogger(__name__)

NAN = float("nan")
SENTINEL_ABS = 9.99e8  # |value| >= this is a RINEX "unknown" marker (.999999999999e+09)
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[EeDd][+-]?\d+)?")
_KEPLER_SYSTEMS = "GECJI"


@dataclass(frozen=True, slots=True)
class NavData:
    """Content of one or several navigation files.

    Attributes
    ----------
    ephemerides : list of KeplerEphemeris or GlonassEphemeris
        Every ephemeris record, in file order.
    iono : dict
        Broadcast ionosphere coefficients: ``"GPSA"``/``"GPSB"`` (Klobuchar
        alpha 0-3 in s, s/sc, s/sc^2, s/sc^3 and beta 0-3 in s, s/sc...),
        ``"GAL"`` (NeQuick-G a_i0 sfu, a_i1 sfu/deg, a_i2 sfu/deg^2, flags),
        ``"BDSA"``/``"BDSB"``, ``"QZSA"``/``"QZSB"``, ``"IRNA"``/``"IRNB"``;
        RINEX 4 BDGIM parameters as ``"BDGIM"`` (9 values).
    leap_seconds : int or None
        GPST - UTC from the ``LEAP SECONDS`` header line, if present.
    time_corr : dict
        System time corrections, ``{"GPUT": (a0_s, a1_sps, t_ref_s, week)}`` as
        in the RINEX 3 ``TIME SYSTEM CORR`` lines (RINEX 2 ``DELTA-UTC`` -> ``GPUT``;
        RINEX 4 STO records: ``(a0, a1, t_tot_s, week)`` of the first record).
    eop : list of dict
        RINEX 4 EOP records (``time``, ``xp``, ``dxp``, ``ddxp``, ``yp``, ...
        in arc-seconds and days as written).
    version : float
        RINEX version of the first file.
    skipped : int
        Records dropped because essential fields were missing or unknown
        (logged at WARNING).
    """

    ephemerides: list
    iono: dict
    leap_seconds: int | None
    time_corr: dict = field(default_factory=dict)
    eop: list = field(default_factory=list)
    version: float = 0.0
    skipped: int = 0


def read_nav(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> NavData:
    """Read RINEX navigation files (2.xx, 3.0x, 4.0x; any packing).

    Parameters
    ----------
    paths : path or iterable of paths
        One file or several (e.g. a GPS ``.n`` and a GLONASS ``.g`` file);
        their ephemerides are concatenated, the first file that has a header
        item wins for ``iono``, ``leap_seconds`` and ``time_corr``.

    Returns
    -------
    NavData

    Raises
    ------
    RINEXError
        A file is not a RINEX navigation file or a record is unreadable
        (the message names the file and the 1-based line).
    OSError
        A file cannot be opened.

    Examples
    --------
    >>> nav = read_nav("brdc1820.10n")  # doctest: +SKIP
    >>> nav.ephemerides[0].sat, nav.iono["GPSA"]  # doctest: +SKIP
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    ephs: list = []
    iono: dict = {}
    time_corr: dict = {}
    eop: list = []
    leap = None
    version = 0.0
    skipped = 0
    for path in paths:
        text = _read_text(path)
        parser = _NavParser(text, str(path))
        parser.parse()
        ephs.extend(parser.ephemerides)
        for k, v in parser.iono.items():
            iono.setdefault(k, v)
        for k, v in parser.time_corr.items():
            time_corr.setdefault(k, v)
        eop.extend(parser.eop)
        if leap is None:
            leap = parser.leap_seconds
        version = version or parser.version
        skipped += parser.skipped
    return NavData(ephs, iono, leap, time_corr, eop, version, skipped)


def _read_text(path) -> list[str]:
    """Lines of a (possibly compressed) text file."""
    try:
        from vngeonet.rinex.compress import read_bytes
    except ImportError:  # the shared opener is optional for this reader
        read_bytes = _read_bytes_fallback
    data, _ = read_bytes(path)
    return data.decode("ascii", errors="replace").splitlines()


def _read_bytes_fallback(path):
    import bz2
    import gzip

    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:3] == b"BZh":
        data = bz2.decompress(data)
    return data, []


# --------------------------------------------------------------------------- fields


def parse_float(s: str) -> float:
    """A RINEX floating-point field: ``D``/``d`` exponents, embedded blanks ignored, blank -> NaN.

    >>> parse_float(" 0.123D+01"), parse_float("   ")
    (1.23, nan)
    """
    s = s.strip()
    if not s:
        return NAN
    # Fortran list-free reads ignore blanks inside a numeric field (BN editing)
    return float(s.replace(" ", "").replace("D", "E").replace("d", "e"))


def _values(line: str, start: int, n: int, width: int = 19) -> list[float]:
    """``n`` fixed-width values from column ``start``; regex fallback for odd spacing."""
    out = []
    text = line.replace("D", "E").replace("d", "e")
    try:
        for k in range(n):
            chunk = text[start + k * width : start + (k + 1) * width]
            try:
                out.append(float(chunk))  # the common case, fast
            except ValueError:
                out.append(parse_float(chunk))  # blank -> NaN, embedded blanks
        return out
    except ValueError:
        pass
    tokens = _FLOAT_RE.findall(line[start:])
    if not tokens or "".join(tokens) != "".join(line[start:].split()):
        raise ValueError(f"unreadable numeric fields in {line[start:].rstrip()!r}")
    found = [float(m.replace("D", "E").replace("d", "e")) for m in tokens]
    return (found + [NAN] * n)[:n]


def _known(v: float) -> float:
    """NaN for RINEX unknown-value sentinels."""
    return NAN if (not math.isfinite(v) or abs(v) >= SENTINEL_ABS) else v


def _int(v: float, default: int = 0) -> int:
    return int(v) if math.isfinite(v) and abs(v) < 2**62 else default


# --------------------------------------------------------------------------- parser


class _NavParser:
    """One file's parser; results in attributes after :meth:`parse`."""

    def __init__(self, lines: list[str], source: str):
        self.lines = lines
        self.source = source
        self.ephemerides: list = []
        self.iono: dict = {}
        self.time_corr: dict = {}
        self.eop: list = []
        self.leap_seconds: int | None = None
        self.version = 0.0
        self.file_sys = "G"
        self.skipped = 0

    def error(self, msg: str, lineno: int) -> RINEXError:
        return RINEXError(msg, source=self.source, line=lineno)

    # ---- header
    def parse(self) -> None:
        body = self._header()
        if self.version >= 4:
            self._body_v4(body)
        elif self.version >= 3:
            self._body_v3(body)
        else:
            self._body_v2(body)

    def _header(self) -> int:
        if not self.lines or "RINEX VERSION / TYPE" not in self.lines[0][60:]:
            raise self.error("not a RINEX file (no RINEX VERSION / TYPE)", 1)
        first = self.lines[0]
        try:
            self.version = float(first[:9])
        except ValueError as err:
            raise self.error(f"bad RINEX version {first[:9]!r}", 1) from err
        ftype = first[20:21].upper()
        if self.version >= 3:
            if ftype != "N":
                raise self.error(f"not a navigation file (type {ftype!r})", 1)
            self.file_sys = first[40:41].upper() or "M"
        else:
            v2 = {"N": "G", "G": "R", "H": "S", "E": "E", "L": "E"}
            if ftype not in v2:
                raise self.error(f"not a navigation file (type {ftype!r})", 1)
            self.file_sys = v2[ftype]
        for i, line in enumerate(self.lines[1:], start=1):
            label = line[60:].strip()
            if label == "END OF HEADER":
                return i + 1
            try:
                self._header_line(line, label)
            except ValueError as err:
                raise self.error(f"bad header line {label!r}: {err}", i + 1) from err
        raise self.error("no END OF HEADER", len(self.lines))

    def _header_line(self, line: str, label: str) -> None:
        if label == "IONOSPHERIC CORR":
            key = line[:4].strip()
            if key:
                self.iono.setdefault(key, tuple(_values(line, 5, 4, 12)))
        elif label in ("ION ALPHA", "ION BETA"):
            if self.file_sys == "E":
                self.iono.setdefault("GAL", tuple(_values(line, 2, 4, 12)))
            else:
                key = "GPSA" if label == "ION ALPHA" else "GPSB"
                self.iono.setdefault(key, tuple(_values(line, 2, 4, 12)))
        elif label == "LEAP SECONDS":
            if line[:6].strip():
                self.leap_seconds = int(line[:6])
        elif label == "TIME SYSTEM CORR":
            key = line[:4].strip()
            a0, a1 = parse_float(line[5:22]), parse_float(line[22:38])
            t = _int(parse_float(line[38:45]))
            w = _int(parse_float(line[45:50]))
            self.time_corr.setdefault(key, (a0, a1, float(t), w))
        elif label.startswith("DELTA-UTC"):
            a0, a1 = _values(line, 3, 2, 19)
            t, w = int(line[41:50] or 0), int(line[50:59] or 0)
            key = "GAUT" if self.file_sys == "E" else "GPUT"
            self.time_corr.setdefault(key, (a0, a1, float(t), w))

    # ---- bodies
    def _body_v2(self, start: int) -> None:
        nlines = {"G": 8, "E": 8, "R": 4, "S": 4}[self.file_sys]
        i = start
        n = len(self.lines)
        while i < n:
            if not self.lines[i].strip():
                i += 1
                continue
            rec = self.lines[i : i + nlines]
            try:
                prn = int(rec[0][:2])
                epoch = _epoch(rec[0][2:22], two_digit_year=True)
            except ValueError as err:
                raise self.error(f"bad RINEX 2 record start {rec[0][:22]!r}", i + 1) from err
            sat = f"{self.file_sys}{prn:02d}"
            vals = self._record_values(rec, i, 22, 3)
            self._make(sat, epoch, vals, "", i + 1)
            i += nlines

    def _body_v3(self, start: int) -> None:
        i, n = start, len(self.lines)
        while i < n:
            line = self.lines[i]
            if not line.strip():
                i += 1
                continue
            if line[0] == " ":
                raise self.error("continuation line outside a record", i + 1)
            j = i + 1
            while j < n and self.lines[j][:1] == " " and self.lines[j].strip():
                j += 1
            self._eph_record(self.lines[i:j], i, "")
            i = j

    def _body_v4(self, start: int) -> None:
        i, n = start, len(self.lines)
        while i < n:
            line = self.lines[i]
            if not line.strip():
                i += 1
                continue
            if not line.startswith(">"):
                raise self.error("RINEX 4 record does not start with '>'", i + 1)
            j = i + 1
            while j < n and not self.lines[j].startswith(">"):
                j += 1
            parts = line[1:].split()
            kind = parts[0] if parts else ""
            rec = self.lines[i + 1 : j]
            if rec:
                if kind == "EPH":
                    self._eph_record(rec, i + 1, parts[2] if len(parts) > 2 else "")
                elif kind == "ION":
                    self._ion_record(parts, rec, i + 1)
                elif kind == "STO":
                    self._sto_record(rec, i + 1)
                elif kind == "EOP":
                    self._eop_record(rec, i + 1)
            i = j

    def _record_values(self, rec: list[str], i: int, first_col: int, cont_col: int) -> list[float]:
        k = 0
        try:
            vals = _values(rec[0], first_col, 3)
            for k, line in enumerate(rec[1:], start=1):
                vals.extend(_values(line, cont_col, 4))
        except ValueError as err:
            raise self.error(f"unreadable navigation record: {err}", i + 1 + k) from err
        return vals

    def _eph_record(self, rec: list[str], i: int, rtype: str) -> None:
        head = rec[0]
        sys = head[0].upper()
        try:
            prn = int(head[1:3])
            epoch = _epoch(head[3:23], two_digit_year=False)
        except ValueError as err:
            raise self.error(f"bad record start {head[:23]!r}", i + 1) from err
        vals = self._record_values(rec, i, 23, 4)
        self._make(f"{sys}{prn:02d}", epoch, vals, rtype, i + 1)

    def _make(self, sat: str, epoch: _dt.datetime, vals: list[float], rtype: str, lineno: int):
        sys = sat[0]
        try:
            if sys in _KEPLER_SYSTEMS:
                eph = _kepler(sat, epoch, vals, rtype)
            elif sys == "R":
                eph = _glonass(sat, epoch, vals, rtype)
            elif sys == "S":
                eph = _sbas(sat, epoch, vals)
            else:
                eph = None
        except (IndexError, ValueError, OverflowError) as err:
            eph = None
            log.warning("%s line %d: %s record skipped (%s)", self.source, lineno, sat, err)
        if eph is None:
            self.skipped += 1
            return
        self.ephemerides.append(eph)

    def _ion_record(self, parts: list[str], rec: list[str], i: int) -> None:
        sat = parts[1] if len(parts) > 1 else ""
        rtype = parts[2] if len(parts) > 2 else ""
        vals = self._record_values(rec, i, 23, 4)
        sys = sat[:1]
        if rtype == "IFNV":
            self.iono.setdefault("GAL", tuple(vals[:4]))
        elif rtype == "CNVX":
            self.iono.setdefault("BDGIM", tuple(vals[:9]))
        elif rtype in ("LNAV", "D1D2", "CNAV", "CNV2"):
            key = {"G": "GPS", "J": "QZS", "C": "BDS", "I": "IRN"}.get(sys)
            if key and len(vals) >= 8:
                self.iono.setdefault(key + "A", tuple(vals[:4]))
                self.iono.setdefault(key + "B", tuple(vals[4:8]))

    def _sto_record(self, rec: list[str], i: int) -> None:
        """RINEX 4 STO: epoch + correction code on line 1, (t_tot, a0, a1, a2) on line 2."""
        code = rec[0][24:42].split()
        if not code or len(rec) < 2:
            return
        try:
            t = GPSTime.from_datetime(_epoch(rec[0][4:23], False))
            vals = _values(rec[1], 4, 4)
        except ValueError as err:
            raise self.error(f"bad STO record: {err}", i + 1) from err
        self.time_corr.setdefault(code[0], (vals[1], vals[2], vals[0], t.week))

    def _eop_record(self, rec: list[str], i: int) -> None:
        vals = self._record_values(rec, i, 23, 4)
        try:
            t = GPSTime.from_datetime(_epoch(rec[0][4:23], False))
        except ValueError as err:
            raise self.error("bad EOP epoch", i + 1) from err
        names = ("xp", "dxp", "ddxp", "yp", "dyp", "ddyp", "t_tm", "dut1", "ddut1", "dddut1")
        self.eop.append({"time": t, **dict(zip(names, vals))})


def _epoch(text: str, two_digit_year: bool) -> _dt.datetime:
    """Epoch fields ``yyyy mm dd hh mm ss[.s]`` (RINEX 2: 2-digit year)."""
    f = text.split()
    if len(f) < 6:
        raise ValueError(f"short epoch {text!r}")
    year = int(f[0])
    if two_digit_year or year < 100:
        year += 2000 if year < 80 else 1900
    sec = float(f[5])
    base = _dt.datetime(year, int(f[1]), int(f[2]), int(f[3]), int(f[4]))
    return base + _dt.timedelta(seconds=sec)


def _get(vals: list[float], k: int) -> float:
    return vals[k] if k < len(vals) else NAN


# --------------------------------------------------------------------------- Kepler


def _own_times(sys: str, epoch: _dt.datetime, toe_sow: float, toe_is_toc: bool):
    """(toc, toe) as full GPS times, and the own-scale week of toe.

    The first-line epoch is toc in the system's own time (BDT for BeiDou,
    GPS-aligned otherwise).  ``toe`` gets the week that puts it closest to
    ``toc`` (no reliance on the broadcast week field), then BDT -> GPST.
    """
    toc_own = GPSTime.from_datetime(epoch)
    toe_own = (
        toc_own if toe_is_toc or not math.isfinite(toe_sow) else resolve_week(toe_sow, toc_own)
    )
    if sys == "C":
        week = toe_own.week - BDT_WEEK_OFFSET
        return toc_own + 14.0, toe_own + 14.0, week, toe_own.tow_s, toc_own.tow_s
    week = toe_own.week - (GST_WEEK_OFFSET if sys in "EI" else 0)
    return toc_own, toe_own, week, toe_own.tow_s, toc_own.tow_s


def _kepler(sat: str, epoch: _dt.datetime, c: list[float], rtype: str) -> KeplerEphemeris | None:
    """KeplerEphemeris from RINEX 3/4 record values ``c`` (clock line first)."""
    sys = sat[0]
    cnav = rtype in ("CNAV", "CNV1", "CNV2", "CNV3")
    if len(c) < 19 or not all(math.isfinite(c[k]) for k in (0, 7, 8, 10, 13, 15, 17)):
        raise ValueError("essential Keplerian fields missing")
    if not 1000.0 < c[10] < 10000.0 or not 0.0 <= c[8] < 1.0:
        raise ValueError(f"implausible sqrt(A)={c[10]} or e={c[8]}")
    toc, toe, week, toe_sow, toc_sow = _own_times(sys, epoch, c[11], cnav and sys != "C")
    extra: dict = {}
    geo = False
    if cnav:
        extra["a_dot_mps"] = _known(c[3])
        extra["delta_n_dot_radps2"] = _known(_get(c, 20))
        iode = iodc = 0
        if sys == "C":
            geo = _get(c, 21) == 1.0
            extra["sat_type"] = _int(_get(c, 21))
            health = _int(_get(c, 32)) if rtype != "CNV3" else _int(_get(c, 28))
            tgd = _known(_get(c, 29)) if rtype != "CNV3" else NAN
            tgd2 = _known(_get(c, 30)) if rtype != "CNV3" else NAN
            iodc, iode = _int(_get(c, 34)), _int(_get(c, 38))
            acc = NAN
        else:
            health = _int(_get(c, 24))
            tgd, tgd2 = _known(_get(c, 25)), NAN
            acc = NAN
            extra["isc_s"] = tuple(_known(_get(c, k)) for k in range(27, 31))
    else:
        iode = _int(c[3])
        health = _int(_get(c, 24))
        acc = _known(_get(c, 23))
        if acc < 0:  # Galileo SISA "no accuracy prediction available" (NAPA) is written as -1
            extra["napa"] = True
            acc = NAN
        tgd = _known(_get(c, 25))
        tgd2 = NAN
        iodc = _int(_get(c, 26)) if sys in "GJ" else 0
        if sys == "E":
            tgd2 = _known(_get(c, 26))
            src = _int(_get(c, 20))
            extra["data_sources"] = src
            if not rtype:
                rtype = "FNAV" if (src & 0x2) and not (src & 0x5) else "INAV"
        elif sys == "C":
            tgd2 = _known(_get(c, 26))
            iodc = _int(_get(c, 28))
            geo = is_bds_geo(sat)
            if not rtype:
                rtype = "D2" if geo else "D1"
        elif not rtype:
            rtype = "LNAV"
    extra["geo"] = geo
    return KeplerEphemeris(
        sat=sat,
        toe=toe,
        toc=toc,
        week=week,
        toe_sow=toe_sow,
        toc_sow=toc_sow,
        sqrt_a=c[10],
        e=c[8],
        i0_rad=c[15],
        omega0_rad=c[13],
        omega_rad=c[17],
        m0_rad=c[6],
        delta_n_radps=c[5],
        idot_radps=_get(c, 19),
        omega_dot_radps=c[18],
        cuc_rad=c[7],
        cus_rad=c[9],
        crc_m=c[16],
        crs_m=c[4],
        cic_rad=c[12],
        cis_rad=c[14],
        af0_s=c[0],
        af1_sps=c[1],
        af2_sps2=c[2] if math.isfinite(c[2]) else 0.0,
        tgd_s=tgd,
        tgd2_s=tgd2,
        iode=iode,
        iodc=iodc,
        health=health,
        accuracy_m=acc,
        fit_interval_h=_fit_hours(sys, c),
        source=rtype,
        extra=extra,
    )


def _fit_hours(sys: str, c: list[float]) -> float:
    """Fit interval in hours (GPS field in hours, QZSS a flag; 0/blank -> 4 h / 2 h)."""
    v = _get(c, 28)
    if sys == "G":
        return v if math.isfinite(v) and v > 0 else 4.0
    if sys == "J":
        return 2.0 if not (math.isfinite(v) and v > 0) else 4.0
    if sys == "E":
        return 4.0
    if sys == "C":
        return 2.0
    return 4.0


# --------------------------------------------------------------------------- GLONASS / SBAS


def _glonass(sat: str, epoch: _dt.datetime, c: list[float], rtype: str) -> GlonassEphemeris:
    """GlonassEphemeris from a RINEX record; the epoch (t_b) is UTC in RINEX 2/3/4."""
    if len(c) < 15 or not all(math.isfinite(c[k]) for k in (0, 3, 4, 7, 8, 11, 12)):
        raise ValueError("essential GLONASS fields missing")
    toe = utc_to_gps(epoch)
    t_msk = epoch + _dt.timedelta(hours=3)
    tb_s = t_msk.hour * 3600.0 + t_msk.minute * 60.0 + t_msk.second + t_msk.microsecond * 1e-6
    km = 1e3
    acc = tuple(_z(c[k]) * km for k in (5, 9, 13))
    extra = {"message_frame_time_s": c[2]}
    if len(c) > 15:
        extra["status_flags"] = _int(_get(c, 15))
        extra["urai"] = _int(_get(c, 17))
        extra["health_flags"] = _int(_get(c, 18))
    return GlonassEphemeris(
        sat=sat,
        toe=toe,
        freq_channel=_int(c[10]),
        pos_m=(c[3] * km, c[7] * km, c[11] * km),
        vel_mps=(c[4] * km, c[8] * km, c[12] * km),
        acc_mps2=acc,  # type: ignore[arg-type]
        tau_n_s=-c[0],
        gamma_n=_z(c[1]),
        health=_int(c[6]),
        age_days=_int(_get(c, 14)),
        delta_tau_n_s=_known(_get(c, 16)),
        tb_s=tb_s,
        source=rtype or "FDMA",
        extra=extra,
    )


def _sbas(sat: str, epoch: _dt.datetime, c: list[float]) -> GlonassEphemeris:
    """SBAS GEO ephemeris (RINEX Table A10/A16); epoch in GPS time."""
    if len(c) < 15 or not all(math.isfinite(c[k]) for k in (0, 3, 4, 7, 8, 11, 12)):
        raise ValueError("essential SBAS fields missing")
    toe = GPSTime.from_datetime(epoch)
    km = 1e3
    return GlonassEphemeris(
        sat=sat,
        toe=toe,
        freq_channel=0,
        pos_m=(c[3] * km, c[7] * km, c[11] * km),
        vel_mps=(c[4] * km, c[8] * km, c[12] * km),
        acc_mps2=(_z(c[5]) * km, _z(c[9]) * km, _z(c[13]) * km),
        tau_n_s=-c[0],
        gamma_n=_z(c[1]),
        health=_int(c[6]),
        tb_s=toe.tow_s % 86400.0,
        source="SBAS",
        extra={"ura": _known(_get(c, 10)), "iodn": _int(_get(c, 14)), "transmission_time_s": c[2]},
    )


def _z(v: float) -> float:
    """0 for a blank optional field."""
    return v if math.isfinite(v) else 0.0
