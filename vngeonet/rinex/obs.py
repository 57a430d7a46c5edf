"""Read RINEX observation files (2.10/2.11, 3.0x, 4.0x; plain, gzip, .Z, zip, Hatanaka).

:func:`read_obs` returns an :class:`ObsData`: the header plus row arrays, one
row per (epoch, satellite, signal) with pseudorange, phase, Doppler, SNR and
LLI.  The body is parsed by the ``rinex_obs`` kernel (Cython, with a
pure-Python twin) straight from the bytes.

Times are converted from the file's time system to GPS time: GPS, GAL, QZS,
IRN as written; GLO (UTC in RINEX obs files) plus leap seconds; BDT plus 14 s.

References
----------
RINEX 2.11 §5 and Tables A1-A3; RINEX 3.05 §5 and Tables A1-A3; RINEX 4.00.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from vngeonet import kernels
from vngeonet.errors import RINEXError
from vngeonet.gnss.time import GPS_EPOCH, LEAP_SECONDS, GPSTime
from vngeonet.model import ObsEpoch
from vngeonet.rinex.compress import unpack
from vngeonet.rinex.header import (
    KIND_OF_TYPE,
    RINEXObsHeader,
    parse_obs_header,
    signal_code,
)

log = logging.getLogger(__name__)

ROWS = 256  # local signal rows per system (kernel constant MAX_ROWS_PER_SAT)
_END_OF_HEADER = re.compile(rb"(?m)^[^\n]{60}END OF HEADER")
TYPE_LABELS = ("# / TYPES OF OBSERV", "SYS / # / OBS TYPES")


@dataclass(frozen=True, slots=True)
class ObsEvent:
    """An event epoch (flags 2-5) or a block of cycle-slip records (flag 6).

    Attributes
    ----------
    flag : int
        2 start moving, 3 new site occupation, 4 header records follow,
        5 external event, 6 cycle-slip records (RINEX 3.05 Table A3).
    time : GPSTime or None
        Epoch of the event (None when the record leaves it blank).
    line : int
        Line number of the event record.
    records : tuple of str
        The special records (header lines, slip records) that follow it.
    """

    flag: int
    time: GPSTime | None
    line: int
    records: tuple = ()


@dataclass(frozen=True, slots=True, eq=False)
class ObsData:
    """Observations of one RINEX file (contract: see ``prompts/contracts.md``).

    Attributes
    ----------
    header : RINEXObsHeader
    time_gps_s : ndarray of float64, shape (n_epoch,)
        Epoch times, seconds since the GPS epoch (``GPSTime.from_seconds``).
    epoch_flag : ndarray of uint8, shape (n_epoch,)
        0 OK or 1 power failure (events are in ``events``).
    clock_offset_s : ndarray of float64, shape (n_epoch,)
        Receiver clock offset when written, else NaN.
    epoch_idx : ndarray of int32, shape (n,)
        Epoch of each row; rows are sorted by epoch, satellite, signal.
    sat : ndarray of '<U3', shape (n,)
    sig : ndarray of '<U2', shape (n,)
    pr_m, cp_cyc, dop_hz, cn0_dbhz : ndarray of float64, shape (n,)
        Pseudorange (m), carrier phase (cycles), Doppler (Hz), SNR (dB-Hz); NaN = missing.
    lli : ndarray of uint8, shape (n,)
        Loss-of-lock indicator of the phase (0 when blank).
    ssi : ndarray of uint8, shape (n,)
        Signal strength indicator (1-9) of the phase, 0 when blank.
    events : tuple of ObsEvent
    source : str
        File name.
    warnings : tuple of str
        Problems tolerated with ``strict=False`` (e.g. a truncated last epoch dropped).
    """

    header: RINEXObsHeader
    time_gps_s: np.ndarray
    epoch_flag: np.ndarray
    clock_offset_s: np.ndarray
    epoch_idx: np.ndarray
    sat: np.ndarray
    sig: np.ndarray
    pr_m: np.ndarray
    cp_cyc: np.ndarray
    dop_hz: np.ndarray
    cn0_dbhz: np.ndarray
    lli: np.ndarray
    ssi: np.ndarray
    events: tuple = ()
    source: str = ""
    warnings: tuple = ()

    @property
    def n_epochs(self) -> int:
        """Number of observation epochs."""
        return int(self.time_gps_s.shape[0])

    def time(self, i: int) -> GPSTime:
        """GPS time of epoch ``i``."""
        return GPSTime.from_seconds(float(self.time_gps_s[i]))

    def summary(self) -> dict:
        """JSON-serialisable overview: header, epochs, span, interval, satellites, types, gaps.

        A gap is a step between consecutive epochs longer than 1.5 sampling
        intervals (the header INTERVAL, else the median step).
        """
        return summarize(self)

    def epochs(self, station: str | None = None) -> Iterator[ObsEpoch]:
        """Yield one :class:`~vngeonet.model.ObsEpoch` per epoch (lock times NaN)."""
        station = station if station is not None else self.header.marker_name[:4]
        bounds = np.searchsorted(self.epoch_idx, np.arange(self.n_epochs + 1))
        for i in range(self.n_epochs):
            a, b = bounds[i], bounds[i + 1]
            yield ObsEpoch(
                time=self.time(i), station=station, sat=self.sat[a:b], sig=self.sig[a:b],
                pr_m=self.pr_m[a:b], cp_cyc=self.cp_cyc[a:b], dop_hz=self.dop_hz[a:b],
                cn0_dbhz=self.cn0_dbhz[a:b], lli=self.lli[a:b], lock_s=np.full(b - a, np.nan),
                flag=int(self.epoch_flag[i]),
            )


def read_obs(path: str | os.PathLike, *, strict: bool = True) -> ObsData:
    """Read a RINEX observation file.

    Parameters
    ----------
    path : str or path-like
        RINEX 2.10/2.11, 3.0x or 4.0x observation file, plain or packed (gzip,
        unix compress, zip, bzip2, Hatanaka CRX 1/3; detected from content).
    strict : bool
        When False, a file that ends inside its last epoch (a truncated
        download) yields the complete epochs before it, with a logged warning
        and a note in ``ObsData.warnings``; when True that raises.

    Returns
    -------
    ObsData

    Raises
    ------
    RINEXError
        Malformed file; the message names the file and line.
    OSError
        The file cannot be read.

    Examples
    --------
    >>> obs = read_obs("NYA100NOR_S_20241240000_01D_30S_MO.crx.gz")  # doctest: +SKIP
    >>> obs.sat[:3], obs.sig[:3], obs.pr_m[:3]                         # doctest: +SKIP
    """
    with open(path, "rb") as f:
        data = f.read()
    return read_obs_bytes(data, source=str(path), strict=strict)


def read_obs_bytes(data: bytes, source: str | None = None, *, strict: bool = True) -> ObsData:
    """Read RINEX observations from the file content ``data`` (see :func:`read_obs`)."""
    text, layers = unpack(data, source=source)
    header, body_pos = _read_header(text, source)
    log.debug("%s: RINEX %.2f, layers %s, body at byte %d", source, header.version, layers, body_pos)
    notes: list[str] = []
    parts = _parse_segments(text, body_pos, header, source, None if strict else notes)
    return replace(_assemble(header, parts, text, source), warnings=tuple(notes))


def _line_offset(text: bytes, pos: int, line0: int, line: int) -> int:
    """Byte offset of line number ``line`` given that ``pos`` starts line ``line0``."""
    for _ in range(line - line0):
        pos = text.index(b"\n", pos) + 1
    return pos


def _read_header(text: bytes, source: str | None) -> tuple[RINEXObsHeader, int]:
    m = _END_OF_HEADER.search(text)
    idx = m.start() if m else text.find(b"END OF HEADER")  # label off column 61 in sloppy files
    if idx < 0:
        what = "empty file" if not text.strip() else "no END OF HEADER"
        raise RINEXError(what, source=source, line=1)
    nl = text.find(b"\n", idx)
    body_pos = len(text) if nl < 0 else nl + 1
    lines = text[:body_pos].decode("ascii", "replace").splitlines()
    return parse_obs_header(lines, source), body_pos


@dataclass(frozen=True, slots=True)
class _Tables:
    """Kernel tables for one set of observation types."""

    sys_letters: str
    sys_lut: np.ndarray
    ntypes: np.ndarray
    trow: np.ndarray
    tkind: np.ndarray
    row_sig: np.ndarray  # (n_sys * ROWS,) '<U2'


def build_tables(header: RINEXObsHeader) -> _Tables:
    """Kernel lookup tables from the header's observation types (see ``kernels/rinex_obs.py``)."""
    letters = "".join(s for s in header.obs_types)
    nsys = len(letters)
    maxt = max([len(v) for v in header.obs_types.values()] + [1])
    lut = np.zeros(128, np.uint8)
    ntypes = np.zeros(nsys, np.int16)
    trow = np.full((nsys, maxt), -1, np.int16)
    tkind = np.zeros((nsys, maxt), np.int8)
    row_sig = np.full(nsys * ROWS, "", dtype="<U2")
    for s, letter in enumerate(letters):
        if not ("A" <= letter <= "Z"):
            continue
        lut[ord(letter)] = s + 1
        codes = header.obs_types[letter]
        ntypes[s] = len(codes)
        sigs = [signal_code(letter, c, header.version) for c in codes]
        names = sorted({x[1:] for x in sigs if x})
        for j, x in enumerate(sigs):
            if x:
                r = names.index(x[1:])
                trow[s, j] = r
                tkind[s, j] = KIND_OF_TYPE[x[0]]
                row_sig[s * ROWS + r] = x[1:]
    return _Tables(letters, lut, ntypes, trow, tkind, row_sig)


def _parse_segments(text: bytes, pos: int, header: RINEXObsHeader, source: str | None,
                    notes: list | None = None) -> list:
    """Run the kernel; restart it after a flag-4 event that redefines the observation types.

    With ``notes`` (non-strict mode) a file ending inside its last epoch is cut
    before that epoch and a note is appended.
    """
    kern = kernels.get("rinex_obs")
    line0 = header.n_lines + 1
    parts = []
    end = len(text)

    def run(tables, a, b, n0):
        try:
            return kern.parse_body(text, a, b, n0, 2 if header.major == 2 else 3,
                                   tables.sys_lut, tables.ntypes, tables.trow, tables.tkind)
        except RINEXError as err:
            msg = str(err).split(": ", 1)[-1] if err.line is not None else str(err)
            if notes is None or not msg.startswith("file ends inside") or err.line is None:
                raise RINEXError(msg, source=source, line=err.line) from None
            note = f"line {err.line}: {msg}; incomplete last epoch dropped"
            log.warning("%s: %s", source, note)
            notes.append(note)
            cut = _line_offset(text, a, n0, err.line)
            return kern.parse_body(text, a, cut, n0, 2 if header.major == 2 else 3,
                                   tables.sys_lut, tables.ntypes, tables.trow, tables.tkind)

    while True:
        tables = build_tables(header)
        res = run(tables, pos, end, line0)
        new = _types_change(text, res, header, source)
        if new is None:
            parts.append((tables, res))
            return parts
        k, new_header = new
        stop = int(res[16][k])
        parts.append((tables, run(tables, pos, stop, line0)))
        line0 += text.count(b"\n", pos, stop)
        pos, header = stop, new_header


def _types_change(text, res, header, source):
    """(event index, new header) of the first flag-4 event listing new obs types, else None."""
    flags, starts, stops = res[12], res[15], res[16]
    for k in np.flatnonzero(flags == 4):
        block = text[int(starts[k]) : int(stops[k])].decode("ascii", "replace").splitlines()
        keep = [ln for ln in block if ln[60:80].strip() in TYPE_LABELS]
        if not keep:
            continue
        first = f"{header.version:9.2f}           OBSERVATION DATA    {header.system:<20}RINEX VERSION / TYPE"
        new = parse_obs_header([first] + keep + [" " * 60 + "END OF HEADER"], source)
        log.info("%s: observation types redefined at line %d", source, int(res[14][k]))
        return int(k), replace(header, obs_types=new.obs_types, signals=new.signals)
    return None


def _sat_names() -> np.ndarray:
    names = np.full(128 * 100, "", dtype="<U3")
    for c in range(65, 91):
        for prn in range(100):
            names[c * 100 + prn] = f"{chr(c)}{prn:02d}"
    return names


_SAT_NAMES = _sat_names()
_LEAP_AT_S = np.array([(t - GPS_EPOCH).total_seconds() for t, _ in LEAP_SECONDS])
_LEAP_VAL = np.array([v for _, v in LEAP_SECONDS], dtype=np.float64)


def to_gps_seconds(t_s: np.ndarray, time_system: str) -> np.ndarray:
    """GPS seconds of epoch times ``t_s`` (seconds since 1980-01-06 in ``time_system``).

    GLO (and UTC) epochs get the leap seconds in force at that UTC time; BDT gets
    +14 s; GPS, GAL, QZS and IRN are returned unchanged.
    """
    if time_system in ("GLO", "UTC"):
        idx = np.searchsorted(_LEAP_AT_S, t_s, side="right") - 1
        return t_s + np.where(idx >= 0, _LEAP_VAL[np.maximum(idx, 0)], 0.0)
    if time_system == "BDT":
        return t_s + 14.0
    return t_s


def _events(text, res, time_system) -> list:
    flags, ts, lines, starts, stops = res[12], res[13], res[14], res[15], res[16]
    out = []
    gps = to_gps_seconds(ts, time_system)
    for k in range(len(flags)):
        recs = text[int(starts[k]) : int(stops[k])].decode("ascii", "replace").splitlines()
        t = None if np.isnan(gps[k]) else GPSTime.from_seconds(float(gps[k]))
        out.append(ObsEvent(int(flags[k]), t, int(lines[k]), tuple(recs)))
    return out


def _assemble(header: RINEXObsHeader, parts: list, text: bytes, source: str | None) -> ObsData:
    cols = [[] for _ in range(12)]
    sigs, events, n_ep = [], [], 0
    for tables, res in parts:
        for i in range(12):
            cols[i].append(res[i] + n_ep if i == 3 else res[i])
        sigs.append(tables.row_sig[res[5]])
        events.extend(_events(text, res, header.time_system))
        n_ep += len(res[0])
    ep_t, ep_flag, ep_clk, r_ep, r_sat, _, pr, cp, dop, cn0, lli, ssi = (
        c[0] if len(c) == 1 else np.concatenate(c) for c in cols
    )
    sig = sigs[0] if len(sigs) == 1 else np.concatenate(sigs)
    key = r_ep.astype(np.int64) * 16384 + r_sat
    if key.size and np.any(key[1:] < key[:-1]):
        order = np.argsort(key, kind="stable")
        r_ep, r_sat, sig = r_ep[order], r_sat[order], sig[order]
        pr, cp, dop, cn0, lli, ssi = pr[order], cp[order], dop[order], cn0[order], lli[order], ssi[order]
    if header.major == 2:
        header = _v2_systems(header, r_sat)
    return ObsData(
        header=header, time_gps_s=to_gps_seconds(ep_t, header.time_system), epoch_flag=ep_flag,
        clock_offset_s=ep_clk, epoch_idx=np.ascontiguousarray(r_ep), sat=_SAT_NAMES[r_sat],
        sig=sig, pr_m=pr, cp_cyc=cp, dop_hz=dop, cn0_dbhz=cn0, lli=lli, ssi=ssi,
        events=tuple(events), source=source or "",
    )


def _v2_systems(header: RINEXObsHeader, r_sat: np.ndarray) -> RINEXObsHeader:
    """Keep, in a RINEX 2 header, the obs types of the systems actually observed (or the declared one)."""
    seen = {chr(c // 100) for c in np.unique(r_sat)} if r_sat.size else set()
    keep = [s for s in header.obs_types if s in seen] or [s for s in header.obs_types][:1]
    if header.system != "M" and header.system in header.obs_types:
        keep = sorted(set(keep) | {header.system})
    return replace(header, obs_types={s: header.obs_types[s] for s in keep},
                   signals={s: header.signals[s] for s in keep})


def _nan_list(a) -> list:
    return [None if np.isnan(v) else float(v) for v in a]


def _iso(t_s: float) -> str:
    return GPSTime.from_seconds(float(t_s)).isoformat()


def find_gaps(time_s: np.ndarray, interval_s: float) -> list[dict]:
    """Gaps in an epoch series: steps longer than 1.5 ``interval_s``.

    Returns
    -------
    list of dict
        ``{"after": ISO time, "before": ISO time, "length_s": float, "missing_epochs": int}``.
    """
    if time_s.size < 2 or not interval_s > 0:
        return []
    dt = np.diff(time_s)
    out = []
    for k in np.flatnonzero(dt > 1.5 * interval_s):
        out.append({"after": _iso(time_s[k]), "before": _iso(time_s[k + 1]), "length_s": float(dt[k]),
                    "missing_epochs": round(dt[k] / interval_s) - 1})
    return out


def summarize(obs: ObsData) -> dict:
    """The overview behind :meth:`ObsData.summary` and ``vngeonet rinex info``."""
    h = obs.header
    t = obs.time_gps_s
    steps = np.diff(t)
    interval = h.interval_s if h.interval_s > 0 else (float(np.median(steps)) if steps.size else float("nan"))
    sats = np.unique(obs.sat)
    per_sys = {s: sorted(str(x) for x in sats if x[0] == s) for s in sorted({x[0] for x in sats})}
    sigs = {s: sorted({str(x) for x in np.unique(obs.sig[np.char.startswith(obs.sat, s)])}) for s in per_sys}
    return {
        "file": obs.source, "version": h.version, "marker_name": h.marker_name,
        "marker_number": h.marker_number, "receiver": h.receiver_type, "receiver_version": h.receiver_version,
        "antenna": h.antenna_type, "approx_pos_ecef_m": _nan_list(h.approx_pos_ecef_m),
        "antenna_delta_hen_m": _nan_list(h.antenna_delta_hen_m), "time_system": h.time_system,
        "epochs": obs.n_epochs, "first": _iso(t[0]) if t.size else None, "last": _iso(t[-1]) if t.size else None,
        "span_s": float(t[-1] - t[0]) if t.size else 0.0, "interval_s": interval,
        "observations": int(obs.sat.size), "satellites": {s: len(v) for s, v in per_sys.items()},
        "satellite_ids": per_sys, "obs_types": h.obs_types, "signals": sigs,
        "glonass_slots": h.glonass_slots, "leap_seconds": h.leap_seconds,
        "events": [{"flag": e.flag, "time": e.time.isoformat() if e.time else None, "line": e.line,
                    "records": len(e.records)} for e in obs.events],
        "gaps": find_gaps(t, interval), "warnings": list(obs.warnings),
    }
