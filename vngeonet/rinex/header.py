"""RINEX observation header: parsing and the signal tables the body reader needs.

A header is a block of 80-column lines, each with its label in columns 61-80,
ending with ``END OF HEADER``.  :func:`parse_obs_header` reads it into a frozen
:class:`RINEXObsHeader`.

RINEX 2 observation codes are mapped to RINEX 3 signals (band + attribute)
with :data:`RINEX2_SIGNALS`, so that every version yields the same ``"1C"``,
``"2W"``... rows.  A RINEX 2 code is a type letter (C, P: pseudorange; L: phase;
D: Doppler; S: SNR) and a band digit; ``P`` becomes ``C`` in the RINEX 3 code:

* GPS (G): C1 -> C1C, P1 -> C1W, L1/D1/S1 -> 1C; C2 -> C2X (L2C, tracking mode
  unknown), P2 -> C2W, L2/D2/S2 -> 2W; band 5 -> 5X.
* GLONASS (R): C1 -> C1C, P1 -> C1P, L1/D1/S1 -> 1C; C2 -> C2C, P2 -> C2P,
  L2/D2/S2 -> 2P; band 3 -> 3X.
* Galileo (E): bands 1, 5, 6, 7, 8 -> 1X, 5X, 6X, 7X, 8X.
* SBAS (S): band 1 -> 1C, band 5 -> 5I.
* QZSS (J): band 1 -> 1C; bands 2, 5, 6 -> 2X, 5X, 6X.
* BeiDou (C, RINEX 2.12): bands 1/2, 6, 7 -> 2I, 6I, 7I (B1 is band 2 in RINEX 3.03+).
* NavIC (I): bands 5, 9 -> 5A, 9A.
* Anything else (e.g. GLONASS C5) has no RINEX 3 equivalent and is ignored.

The rule: the phase, Doppler and SNR of band 1 go with the C/A row (``1C``)
because a RINEX 2 receiver reports one L1 phase, tracked on C/A; those of band 2
go with the P(Y) row (``2W``) because the classic L2 phase is the semi-codeless
one.  Unknown tracking modes get the attribute ``X``.

RINEX 3.00-3.02 files write the BeiDou B1I signal as band 1 (``C1I``); RINEX
3.03 renamed it band 2.  Such codes are renamed to ``2I``/``2Q``/``2X`` here so
that one signal has one name whatever the file version.

References
----------
RINEX 2.11 (Gurtner & Estey 2007) §5, Table A1-A3; RINEX 2.12 (BeiDou, QZSS);
RINEX 3.05 §5.1, Tables A1-A8 and §5.12 (BDS B1 band number); RINEX 4.00 §5.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field

import numpy as np

from vngeonet.errors import RINEXError
from vngeonet.gnss.time import GPSTime, leap_seconds

log = logging.getLogger(__name__)

SYSTEMS = "GRESJCI"
"""System letters the readers know (GPS, GLONASS, Galileo, SBAS, QZSS, BeiDou, NavIC)."""

TIME_SYSTEM_DEFAULT = {"G": "GPS", "R": "GLO", "E": "GAL", "J": "QZS", "C": "BDT", "I": "IRN", "S": "GPS"}

KIND_OF_TYPE = {"C": 0, "P": 0, "L": 1, "D": 2, "S": 3}
"""Observation type letter -> column: 0 pseudorange, 1 phase, 2 Doppler, 3 SNR."""

# RINEX 2 code -> RINEX 3 signal, per system: (type letter, band) -> attribute.
_V2_ATTR = {
    "G": {("C", "1"): "C", ("P", "1"): "W", ("*", "1"): "C", ("C", "2"): "X", ("P", "2"): "W",
          ("*", "2"): "W", ("*", "5"): "X"},
    "R": {("C", "1"): "C", ("P", "1"): "P", ("*", "1"): "C", ("C", "2"): "C", ("P", "2"): "P",
          ("*", "2"): "P", ("*", "3"): "X"},
    "E": {("*", b): "X" for b in "15678"},
    "S": {("*", "1"): "C", ("*", "5"): "I"},
    "J": {("*", "1"): "C", ("*", "2"): "X", ("*", "5"): "X", ("*", "6"): "X"},
    "C": {("*", b): "I" for b in "1267"},
    "I": {("*", "5"): "A", ("*", "9"): "A"},
}
RINEX2_SIGNALS = _V2_ATTR
"""RINEX 2 code mapping table: ``{system: {(type or "*", band): attribute}}`` (see module doc)."""


def rinex2_code_to_rinex3(system: str, code: str) -> str | None:
    """RINEX 3 observation code of RINEX 2 code ``code`` for ``system``.

    Returns ``None`` when there is no RINEX 3 equivalent (the type is then ignored).

    Examples
    --------
    >>> rinex2_code_to_rinex3("G", "P2"), rinex2_code_to_rinex3("G", "L1"), rinex2_code_to_rinex3("R", "P1")
    ('C2W', 'L1C', 'C1P')
    >>> rinex2_code_to_rinex3("C", "C2")
    'C2I'
    """
    if len(code) != 2 or code[0] not in KIND_OF_TYPE:
        return None
    letter, band = code[0], code[1]
    table = _V2_ATTR.get(system, {})
    attr = table.get((letter, band)) or table.get(("*", band))
    if attr is None:
        return None
    if system == "C" and band == "1":
        band = "2"
    return ("C" if letter == "P" else letter) + band + attr


@dataclass(frozen=True, slots=True, eq=False)
class RINEXObsHeader:
    """Metadata of a RINEX observation file (RINEX 2.11 §5.1, RINEX 3.05 Table A2).

    Attributes
    ----------
    version : float
        Format version, e.g. 2.11, 3.05, 4.0.
    marker_name, marker_number, marker_type : str
    receiver_type, receiver_number, receiver_version : str
    antenna_type, antenna_number : str
    approx_pos_ecef_m : ndarray (3,)
        APPROX POSITION XYZ, metres (NaN when absent).
    antenna_delta_hen_m : ndarray (3,)
        ANTENNA: DELTA H/E/N (height, east, north of the ARP over the marker), metres.
    interval_s : float
        INTERVAL, seconds (NaN when absent).
    obs_types : dict of str -> list of str
        Observation codes per system, as written (RINEX 2: the shared 2-letter
        codes under every system letter seen).
    signals : dict of str -> list of str
        RINEX 3 code of each entry of ``obs_types`` (None for ignored types).
    time_of_first_obs : GPSTime or None
        TIME OF FIRST OBS converted to GPS time.
    time_system : str
        Time system of the epochs: "GPS", "GLO" (UTC), "GAL", "QZS", "BDT", "IRN".
    glonass_slots : dict of str -> int
        GLONASS SLOT / FRQ #: frequency channel k per satellite ("R01": 1).
    phase_shifts : dict of str -> dict of str -> float
        SYS / PHASE SHIFT: ``{system: {code: shift_cyc}}`` (0.0 when blank).
    leap_seconds : int or None
        LEAP SECONDS (GPST - UTC) when given.
    """

    version: float
    file_type: str = "O"
    system: str = "M"
    marker_name: str = ""
    marker_number: str = ""
    marker_type: str = ""
    observer: str = ""
    agency: str = ""
    program: str = ""
    run_by: str = ""
    receiver_number: str = ""
    receiver_type: str = ""
    receiver_version: str = ""
    antenna_number: str = ""
    antenna_type: str = ""
    approx_pos_ecef_m: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    antenna_delta_hen_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    interval_s: float = float("nan")
    obs_types: dict = field(default_factory=dict)
    signals: dict = field(default_factory=dict)
    time_of_first_obs: GPSTime | None = None
    time_of_last_obs: GPSTime | None = None
    time_system: str = "GPS"
    glonass_slots: dict = field(default_factory=dict)
    phase_shifts: dict = field(default_factory=dict)
    leap_seconds: int | None = None
    comments: tuple = ()
    n_lines: int = 0  # header lines, END OF HEADER included

    @property
    def major(self) -> int:
        """Major version number (2, 3 or 4)."""
        return int(self.version)


def _float(text: str, default: float = float("nan")) -> float:
    text = text.strip()
    if not text:
        return default
    return float(text.replace("D", "E").replace("d", "e"))


def _triple(text: str) -> np.ndarray:
    return np.array([_float(text[i : i + 14]) for i in (0, 14, 28)], dtype=np.float64)


def header_time_to_gps(fields: list[int | float], time_system: str, leap: int | None) -> GPSTime:
    """GPS time of a header or epoch date ``[y, m, d, h, mi, s]`` written in ``time_system``.

    GLO epochs are UTC(SU) in RINEX obs files (RINEX 3.05 §6.2), so GPS = GLO +
    leap seconds; BDT = GPST - 14 s; GAL, QZS, IRN run on GPS seconds.
    """
    y, mo, d, h, mi, s = fields
    base = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi))
    t = GPSTime.from_datetime(base) + float(s)
    return t + time_offset_to_gps_s(time_system, base, leap)


def time_offset_to_gps_s(time_system: str, t: _dt.datetime, leap: int | None = None) -> float:
    """Seconds to add to a time tag in ``time_system`` to get GPS time (see :func:`header_time_to_gps`)."""
    if time_system == "GLO" or time_system == "UTC":
        return float(leap if leap is not None else leap_seconds(t))
    if time_system == "BDT":
        return 14.0
    return 0.0


class _HeaderBuilder:
    """Accumulates header records; one method per label family."""

    def __init__(self, source: str | None):
        self.source = source
        self.kw: dict = {"obs_types": {}, "glonass_slots": {}, "phase_shifts": {}}
        self.comments: list[str] = []
        self.v2_types: list[str] = []
        self.v2_count = 0
        self.v3_sys = ""
        self.v3_count: dict[str, int] = {}
        self.first: list | None = None
        self.last: list | None = None
        self.time_sys = ""

    def err(self, msg: str, line: int) -> RINEXError:
        return RINEXError(msg, source=self.source, line=line)

    def version(self, text: str, n: int) -> None:
        try:
            self.kw["version"] = float(text[0:9])
        except ValueError:
            raise self.err(f"bad RINEX version {text[0:9]!r}", n) from None
        self.kw["file_type"] = text[20:21].upper()
        self.kw["system"] = (text[40:41].strip() or "G").upper()
        if self.kw["file_type"] != "O":
            raise self.err(f"not an observation file (type {text[20:21]!r})", n)

    def types_v2(self, text: str, n: int) -> None:
        if not self.v2_types and text[0:6].strip():
            self.v2_count = int(text[0:6])
        for k in range(9):
            code = text[10 + 6 * k : 12 + 6 * k].strip()
            if code:
                self.v2_types.append(code)

    def types_v3(self, text: str, n: int) -> None:
        sys_ = text[0:1]
        if sys_.strip():
            self.v3_sys = sys_
            try:
                self.v3_count[sys_] = int(text[3:6])
            except ValueError:
                raise self.err(f"bad obs type count {text[3:6]!r}", n) from None
            self.kw["obs_types"][sys_] = []
        elif not self.v3_sys:
            raise self.err("obs type continuation without a system", n)
        for k in range(13):
            code = text[7 + 4 * k : 10 + 4 * k].strip()
            if code:
                self.kw["obs_types"][self.v3_sys].append(code)

    def glo_slots(self, text: str, n: int) -> None:
        for k in range(8):
            sat = text[4 + 7 * k : 7 + 7 * k].strip()
            num = text[8 + 7 * k : 10 + 7 * k].strip()
            if sat and num:
                self.kw["glonass_slots"][sat[0] + sat[1:].replace(" ", "0").zfill(2)] = int(num)

    def phase_shift(self, text: str, n: int) -> None:
        sys_, code = text[0:1].strip(), text[2:5].strip()
        if sys_ and code:
            self.kw["phase_shifts"].setdefault(sys_, {})[code] = _float(text[6:14], 0.0)

    def time_rec(self, text: str, n: int) -> list:
        try:
            vals = [int(text[6 * i : 6 * i + 6]) for i in range(5)] + [float(text[30:43])]
        except ValueError:
            raise self.err("bad time in header", n) from None
        ts = text[48:51].strip()
        if ts:
            self.time_sys = ts
        return vals


def parse_obs_header(lines: list[str], source: str | None = None) -> RINEXObsHeader:
    """Parse the header lines of an observation file.

    Parameters
    ----------
    lines : list of str
        The header lines (without line ends), ``END OF HEADER`` last.
    source : str, optional
        File name for error messages.

    Returns
    -------
    RINEXObsHeader

    Raises
    ------
    RINEXError
        Not an observation file, bad version, missing or malformed obs types.
    """
    b = _HeaderBuilder(source)
    kw = b.kw
    for n, line in enumerate(lines, start=1):
        label = line[60:80].strip().upper()
        text = line[:60].ljust(60)
        try:
            _dispatch(b, kw, label, text, n)
        except ValueError as err:
            if isinstance(err, RINEXError):
                raise
            raise b.err(f"bad {label or 'header'} record: {err}", n) from None
    if "version" not in kw:
        raise RINEXError("no RINEX VERSION / TYPE record", source=source, line=1)
    return _finish(b, len(lines))


def _dispatch(b: _HeaderBuilder, kw: dict, label: str, text: str, n: int) -> None:
    if n == 1 and label != "RINEX VERSION / TYPE":
        raise b.err("first line is not RINEX VERSION / TYPE", n)
    if label == "RINEX VERSION / TYPE":
        b.version(text, n)
    elif label == "COMMENT":
        b.comments.append(text.rstrip())
    elif label == "MARKER NAME":
        kw["marker_name"] = text.strip()
    elif label == "MARKER NUMBER":
        kw["marker_number"] = text[0:20].strip()
    elif label == "MARKER TYPE":
        kw["marker_type"] = text[0:20].strip()
    elif label == "OBSERVER / AGENCY":
        kw["observer"], kw["agency"] = text[0:20].strip(), text[20:60].strip()
    elif label == "PGM / RUN BY / DATE":
        kw["program"], kw["run_by"] = text[0:20].strip(), text[20:40].strip()
    elif label == "REC # / TYPE / VERS":
        kw["receiver_number"], kw["receiver_type"] = text[0:20].strip(), text[20:40].strip()
        kw["receiver_version"] = text[40:60].strip()
    elif label == "ANT # / TYPE":
        kw["antenna_number"], kw["antenna_type"] = text[0:20].strip(), text[20:40].strip()
    elif label == "APPROX POSITION XYZ":
        kw["approx_pos_ecef_m"] = _triple(text)
    elif label == "ANTENNA: DELTA H/E/N":
        kw["antenna_delta_hen_m"] = np.nan_to_num(_triple(text))
    elif label == "INTERVAL":
        kw["interval_s"] = _float(text[0:10])
    elif label == "# / TYPES OF OBSERV":
        b.types_v2(text, n)
    elif label == "SYS / # / OBS TYPES":
        b.types_v3(text, n)
    elif label == "TIME OF FIRST OBS":
        b.first = b.time_rec(text, n)
    elif label == "TIME OF LAST OBS":
        b.last = b.time_rec(text, n)
    elif label == "LEAP SECONDS":
        kw["leap_seconds"] = int(text[0:6])
    elif label == "GLONASS SLOT / FRQ #":
        b.glo_slots(text, n)
    elif label == "SYS / PHASE SHIFT":
        b.phase_shift(text, n)


def _finish(b: _HeaderBuilder, n_lines: int) -> RINEXObsHeader:
    kw = b.kw
    version = kw["version"]
    if int(version) == 2:
        if not b.v2_types:
            raise RINEXError("no # / TYPES OF OBSERV record", source=b.source, line=n_lines)
        if b.v2_count and b.v2_count != len(b.v2_types):
            raise RINEXError(
                f"# / TYPES OF OBSERV announces {b.v2_count} types, lists {len(b.v2_types)}",
                source=b.source, line=n_lines,
            )
        present = SYSTEMS if kw["system"] == "M" else (kw["system"] if kw["system"] in SYSTEMS else "G")
        kw["obs_types"] = {s: list(b.v2_types) for s in present}
    else:
        if not kw["obs_types"]:
            raise RINEXError("no SYS / # / OBS TYPES record", source=b.source, line=n_lines)
        for s, count in b.v3_count.items():
            if count != len(kw["obs_types"][s]):
                raise RINEXError(
                    f"SYS / # / OBS TYPES announces {count} types for {s}, lists {len(kw['obs_types'][s])}",
                    source=b.source, line=n_lines,
                )
    kw["signals"] = {s: [signal_code(s, c, version) for c in codes] for s, codes in kw["obs_types"].items()}
    ts = b.time_sys or (TIME_SYSTEM_DEFAULT.get(kw["system"], "GPS") if kw["system"] != "M" else "GPS")
    kw["time_system"] = ts
    leap = kw.get("leap_seconds")
    if b.first:
        kw["time_of_first_obs"] = header_time_to_gps(b.first, ts, leap)
    if b.last:
        kw["time_of_last_obs"] = header_time_to_gps(b.last, ts, leap)
    return RINEXObsHeader(comments=tuple(b.comments), n_lines=n_lines, **kw)


def signal_code(system: str, code: str, version: float) -> str | None:
    """Normalised RINEX 3 code (3 characters) of an observation code as written, or None.

    RINEX 2 codes go through :func:`rinex2_code_to_rinex3`; RINEX 3.00-3.02
    BeiDou band-1 codes become band 2 (see module doc).
    """
    if int(version) == 2:
        return rinex2_code_to_rinex3(system, code)
    if len(code) != 3 or code[0] not in KIND_OF_TYPE or code[0] == "P":
        return None
    if system == "C" and version < 3.03 and code[1] == "1" and code[2] in "IQX":
        return code[0] + "2" + code[2]
    return code
