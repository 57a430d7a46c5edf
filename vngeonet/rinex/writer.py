"""RINEX writers: observation files 3.05 / 4.00 and mixed navigation files.

Observation headers are built from the station's configuration and what the
stream told (1005/1006 ARP, 1007/1008/1033 antenna and receiver, 1230
GLONASS code-phase biases, 1013 leap seconds, GLONASS channels).  Epochs are
written in the GPS time scale for every system.  Loss-of-lock indicator bit 0
is set when a signal's lock time is shorter than the time since it was last
written (a slip may have happened in between), bit 1 for a half-cycle
ambiguity.

References
----------
RINEX 3.05 (IGS/RTCM-SC104, 2020) §5, Tables A1-A3 (observation header and
records), A5-A14 (navigation records), §4 (long file names); RINEX 4.00
(2021) §5, Tables A1-A4, A30-A34 (EPH records).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field

import numpy as np

import vngeonet
from vngeonet.gnss.time import GPSTime, gps_to_utc, leap_seconds_gps
from vngeonet.model import GlonassEphemeris, KeplerEphemeris, ObsEpoch

SYSTEM_ORDER = "GRECJSI"
_BAND_ORDER = {b: i for i, b in enumerate("1256789")}
_KINDS = "CLDS"
_SPAN_CODE = {900: "15M", 3600: "01H", 86400: "01D"}
_MAX_VALUE = 9999999999.999


def obs_types_from(keys) -> dict[str, list[str]]:
    """RINEX observation types per system from (system, signal) pairs.

    Signals are ordered by band then attribute; each gets C, L, D, S
    (RINEX 3.05 §5.1), e.g. ``{"G": ["C1C", "L1C", "D1C", "S1C", "C2W", ...]}``.
    """
    per: dict[str, set] = {}
    for sys_, sig in keys:
        per.setdefault(sys_, set()).add(sig)
    out = {}
    for sys_ in sorted(per, key=lambda s: SYSTEM_ORDER.find(s)):
        sigs = sorted(per[sys_], key=lambda s: (_BAND_ORDER.get(s[0], 9), s[1:]))
        out[sys_] = [k + s for s in sigs for k in _KINDS]
    return out


@dataclass
class ObsHeader:
    """Everything an observation header holds (RINEX 3.05 Table A2)."""

    marker_name: str = ""
    marker_number: str = ""
    marker_type: str = "GEODETIC"
    observer: str = ""
    agency: str = ""
    receiver_serial: str = ""
    receiver_type: str = ""
    receiver_version: str = ""
    antenna_serial: str = ""
    antenna_type: str = ""
    approx_pos_ecef_m: tuple = (0.0, 0.0, 0.0)
    delta_hen_m: tuple = (0.0, 0.0, 0.0)
    obs_types: dict = field(default_factory=dict)
    interval_s: float | None = None
    first_obs: GPSTime | None = None
    last_obs: GPSTime | None = None
    glo_slots: dict = field(default_factory=dict)  # "R05" -> k
    glo_biases_m: tuple | None = None  # C1C, C1P, C2C, C2P
    leap_s: int | None = None
    comments: tuple = ()
    program: str = f"vngeonet {vngeonet.__version__}"
    run_by: str = "VNGEONET"
    created_utc: _dt.datetime | None = None


def header_from_meta(meta, obs_types: dict, *, interval_s=None, first_obs=None) -> ObsHeader:
    """An :class:`ObsHeader` from an :class:`~vngeonet.epochs.StationMeta` (config first, then stream)."""
    cfg = getattr(meta, "config", None)
    h = ObsHeader(obs_types=obs_types, interval_s=interval_s, first_obs=first_obs)
    h.marker_name = (cfg.id if cfg else meta.station) or "UNKN"
    h.marker_number = (cfg.domes if cfg else "") or ""
    if cfg is not None:
        h.marker_type, h.observer, h.agency = cfg.marker_type, cfg.observer, cfg.agency
    h.receiver_type = (cfg.receiver_type if cfg else "") or meta.receiver
    h.receiver_serial = (cfg.receiver_serial if cfg else "") or meta.receiver_serial
    h.receiver_version = (cfg.receiver_firmware if cfg else "") or meta.firmware
    h.antenna_type = cfg.antenna_with_radome if cfg else meta.antenna
    h.antenna_serial = (cfg.antenna_serial if cfg else "") or meta.antenna_serial
    if cfg is not None and all(math.isfinite(x) for x in cfg.pos_ecef_m):
        h.approx_pos_ecef_m = cfg.pos_ecef_m
    elif meta.arp_ecef_m is not None:
        h.approx_pos_ecef_m = meta.arp_ecef_m
    if cfg is not None:
        h.delta_hen_m = cfg.ecc_hen_m
    elif meta.antenna_height_m is not None:
        h.delta_hen_m = (meta.antenna_height_m, 0.0, 0.0)
    h.glo_slots = dict(meta.glo_channels)
    h.glo_biases_m = meta.glo_biases_m
    h.leap_s = meta.leap_s
    if h.leap_s is None and first_obs is not None:
        h.leap_s = leap_seconds_gps(first_obs)
    return h


def _line(text: str, label: str) -> str:
    return f"{text:<60.60s}{label}\n"


def _time_fields(t: GPSTime) -> str:
    d = t.to_datetime()
    sec = d.second + d.microsecond * 1e-6
    return f"{d.year:6d}{d.month:6d}{d.day:6d}{d.hour:6d}{d.minute:6d}{sec:13.7f}"


def format_obs_header(h: ObsHeader, version: int = 3) -> str:
    """Header text of an observation file (RINEX 3.05 or 4.00)."""
    ver = "3.05" if version == 3 else "4.00"
    created = h.created_utc or _dt.datetime.now(_dt.UTC)
    out = [_line(f"{ver:>9s}{'':11s}{'OBSERVATION DATA':<20s}{'M':<20s}", "RINEX VERSION / TYPE"),
           _line(f"{h.program:<20.20s}{h.run_by:<20.20s}{created:%Y%m%d %H%M%S} UTC", "PGM / RUN BY / DATE")]
    out += [_line(c, "COMMENT") for c in h.comments]
    out.append(_line(h.marker_name, "MARKER NAME"))
    if h.marker_number:
        out.append(_line(h.marker_number, "MARKER NUMBER"))
    out.append(_line(h.marker_type, "MARKER TYPE"))
    out.append(_line(f"{h.observer:<20.20s}{h.agency:<40.40s}", "OBSERVER / AGENCY"))
    out.append(_line(f"{h.receiver_serial:<20.20s}{h.receiver_type:<20.20s}{h.receiver_version:<20.20s}",
                     "REC # / TYPE / VERS"))
    out.append(_line(f"{h.antenna_serial:<20.20s}{h.antenna_type:<20.20s}", "ANT # / TYPE"))
    out.append(_line("".join(f"{x:14.4f}" for x in h.approx_pos_ecef_m), "APPROX POSITION XYZ"))
    out.append(_line("".join(f"{x:14.4f}" for x in h.delta_hen_m), "ANTENNA: DELTA H/E/N"))
    for sys_, types in h.obs_types.items():
        for i in range(0, len(types), 13):
            head = f"{sys_}  {len(types):3d}" if i == 0 else " " * 6
            out.append(_line(head + "".join(f" {t}" for t in types[i:i + 13]), "SYS / # / OBS TYPES"))
    if h.interval_s:
        out.append(_line(f"{h.interval_s:10.3f}", "INTERVAL"))
    if h.first_obs is not None:
        out.append(_line(_time_fields(h.first_obs) + "     GPS", "TIME OF FIRST OBS"))
    if h.last_obs is not None:
        out.append(_line(_time_fields(h.last_obs) + "     GPS", "TIME OF LAST OBS"))
    out += _glonass_lines(h)
    for sys_ in h.obs_types:
        out.append(_line(sys_, "SYS / PHASE SHIFT"))
    if h.leap_s is not None:
        out.append(_line(f"{h.leap_s:6d}", "LEAP SECONDS"))
    out.append(_line("", "END OF HEADER"))
    return "".join(out)


def _glonass_lines(h: ObsHeader) -> list[str]:
    out = []
    if "R" in h.obs_types or h.glo_slots:
        slots = sorted(h.glo_slots.items())
        for i in range(0, max(len(slots), 1), 8):
            head = f"{len(slots):3d} " if i == 0 else "    "
            out.append(_line(head + "".join(f"{s} {k:2d} " for s, k in slots[i:i + 8]), "GLONASS SLOT / FRQ #"))
    if "R" in h.obs_types:
        b = h.glo_biases_m
        vals = ["" if b is None or not math.isfinite(x) else f"{x:8.3f}" for x in (b or (math.nan,) * 4)]
        text = "".join(f" {c} {v:>8s}" for c, v in zip(("C1C", "C1P", "C2C", "C2P"), vals))
        out.append(_line(text, "GLONASS COD/PHS/BIS"))
    return out


def format_epoch(obs: ObsEpoch, obs_types: dict, lli: np.ndarray | None = None, flag: int = 0) -> str:
    """Data record of one epoch (RINEX 3.05 Table A3 / 4.00 Table A4).

    ``lli`` overrides ``obs.lli`` (shape (n,)); observations of a system or
    signal not in ``obs_types`` are left out.  Values that do not fit F14.3
    are left blank.  See :func:`format_epochs`.
    """
    return _format_one(obs, obs_types, obs.lli if lli is None else lli, flag)


_BLANK16 = " " * 16
_LLI_CHARS = " 123456789"


def _format_one(obs: ObsEpoch, obs_types: dict, lli, flag: int) -> str:
    """One epoch with plain Python string formatting (faster than numpy for ~100 rows).

    Same text as :func:`format_epochs`: all values go through one C-level
    ``%14.3f`` formatting call.
    """
    tables = _tables(obs_types)
    sats, sigs, lli_l = obs.sat.tolist(), obs.sig.tolist(), np.asarray(lli).tolist()
    rows: dict = {}
    pos, vals, flags = [], [], []
    for kind, arr in zip(_KINDS, (obs.pr_m, obs.cp_cyc, obs.dop_hz, obs.cn0_dbhz)):
        table = tables[kind]
        for i, v in enumerate(arr.tolist()):
            sat = sats[i]
            j = table.get(_code(sat[0] + sigs[i]))
            if j is None or v != v or not -999999999.999 < v < _MAX_VALUE:
                if j is not None and sat not in rows:
                    rows[sat] = [_BLANK16] * len(obs_types[sat[0]])
                continue
            if sat not in rows:
                rows[sat] = [_BLANK16] * len(obs_types[sat[0]])
            pos.append((sat, j))
            vals.append(v)
            f = lli_l[i] if kind == "L" else 0
            flags.append(_LLI_CHARS[f] if 0 < f < 10 else " ")
    text = ("%14.3f" * len(vals)) % tuple(vals) if vals else ""
    for k, ((sat, j), f) in enumerate(zip(pos, flags)):
        rows[sat][j] = text[14 * k:14 * k + 14] + f + " "
    order = sorted(rows, key=lambda x: (SYSTEM_ORDER.find(x[0]), x))
    d = obs.time.to_datetime()
    sec = d.second + d.microsecond * 1e-6
    out = [f"> {d.year:4d} {d.month:02d} {d.day:02d} {d.hour:02d} {d.minute:02d}{sec:11.7f}  {flag:1d}{len(order):3d}\n"]
    out += [(sat + "".join(rows[sat])).rstrip() + "\n" for sat in order]
    return "".join(out)


def _f14_3(v: np.ndarray) -> np.ndarray:
    """Fortran F14.3 text of finite values as a (n, 14) uint8 array (see :mod:`vngeonet.kernels.rinex_fmt`)."""
    from vngeonet.kernels.rinex_fmt import f14_3

    return f14_3(v)


def _keys(sat: np.ndarray, sig: np.ndarray):
    """Integer keys: system letter, satellite (3 chars) and system+signal (for table lookups)."""
    s = np.ascontiguousarray(sat, dtype="<U3").view(np.uint32).reshape(-1, 3).astype(np.int64)
    g = np.ascontiguousarray(sig, dtype="<U2").view(np.uint32).reshape(-1, 2).astype(np.int64)
    return s[:, 0], (s[:, 0] << 14) | (s[:, 1] << 7) | s[:, 2], (s[:, 0] << 14) | (g[:, 0] << 7) | g[:, 1]


def _code(text: str) -> int:
    k = 0
    for ch in text:
        k = (k << 7) | ord(ch)
    return k


_TABLES_CACHE: dict = {}


def _tables(obs_types: dict) -> dict:
    """Per observable kind: {system+signal code: column}, cached per obs_types layout."""
    key = tuple((k, tuple(v)) for k, v in obs_types.items())
    t = _TABLES_CACHE.get(key)
    if t is None:
        t = {kind: {_code(sys_ + c[1:]): j for sys_, types in obs_types.items()
                    for j, c in enumerate(types) if c[0] == kind} for kind in _KINDS}
        if len(_TABLES_CACHE) > 256:
            _TABLES_CACHE.clear()
        _TABLES_CACHE[key] = t
    return t


_LAYOUT_CACHE: dict = {}


def obs_layout(obs_types: dict) -> tuple:
    """Layout tables of a header's observation types for the ``rinex_fmt`` kernel (cached).

    Returns ``(sys_slot, sys_rank, ncol, col_table)`` as described in
    :mod:`vngeonet.kernels.rinex_fmt`.
    """
    key = tuple((k, tuple(v)) for k, v in obs_types.items())
    lay = _LAYOUT_CACHE.get(key)
    if lay is not None:
        return lay
    sys_slot = np.full(128, -1, dtype=np.int16)
    sys_rank = np.full(128, 99, dtype=np.int16)
    for i, ch in enumerate(SYSTEM_ORDER):
        sys_rank[ord(ch)] = i
    ncol = np.zeros(len(obs_types), dtype=np.int32)
    col_table = np.full((max(len(obs_types), 1), 4, 16384), -1, dtype=np.int16)
    for slot, (sys_, types) in enumerate(obs_types.items()):
        if len(sys_) == 1 and ord(sys_) < 128:
            sys_slot[ord(sys_)] = slot
        ncol[slot] = len(types)
        for j, c in enumerate(types):
            kind = _KINDS.find(c[:1])
            if kind >= 0 and len(c) == 3 and ord(c[1]) < 128 and ord(c[2]) < 128:
                col_table[slot, kind, ord(c[1]) * 128 + ord(c[2])] = j
    if len(_LAYOUT_CACHE) > 64:
        _LAYOUT_CACHE.clear()
    lay = _LAYOUT_CACHE[key] = (sys_slot, sys_rank, ncol, col_table)
    return lay


def epoch_heads(times, flag: int = 0) -> list[bytes]:
    """Epoch lines without the satellite count (RINEX 3.05 Table A3), e.g. ``b"> 2024 08 18 21 14 25.0000000  0"``.

    The date/hour/minute text is computed once per minute of whole-second epochs.
    """
    out = []
    cache: dict = {}
    for t in times:
        tow = t.tow_s
        s = int(tow)
        if s == tow:
            m = s // 60
            pre = cache.get((t.week, m))
            if pre is None:
                d = GPSTime(t.week, float(m * 60)).to_datetime()
                pre = cache[(t.week, m)] = \
                    f"> {d.year:4d} {d.month:02d} {d.day:02d} {d.hour:02d} {d.minute:02d}".encode()
            out.append(pre + b"%11.7f  %1d" % (s - 60 * m, flag))
        else:
            d = t.to_datetime()
            sec = d.second + d.microsecond * 1e-6
            out.append(f"> {d.year:4d} {d.month:02d} {d.day:02d} {d.hour:02d} {d.minute:02d}{sec:11.7f}"
                       f"  {flag:1d}".encode())
    return out


@dataclass(frozen=True, slots=True, eq=False)
class ObsRows:
    """The rows of many epochs stacked (one row per epoch x satellite x signal).

    ``ep_row0`` (n_epoch + 1,) int64 gives epoch ``k`` the rows
    ``ep_row0[k]:ep_row0[k + 1]``; the other arrays are (n,) as in
    :class:`~vngeonet.model.ObsEpoch` (``sat`` '<U3', ``sig`` '<U2').
    """

    times: list
    ep_row0: np.ndarray
    sat: np.ndarray
    sig: np.ndarray
    pr_m: np.ndarray
    cp_cyc: np.ndarray
    dop_hz: np.ndarray
    cn0_dbhz: np.ndarray
    lli: np.ndarray
    lock_s: np.ndarray


def _cat(arrays, dtype, n: int | None = None):
    """Concatenation of many small 1-D arrays as ``dtype`` (``n``: their total length, if known).

    The ``rinex_fmt`` kernel joins them without numpy's per-array overhead when
    every array already has ``dtype``; otherwise ``np.concatenate``.
    """
    if not arrays:
        return np.zeros(0, dtype)
    if n is not None and len(arrays) > 16:
        from vngeonet import kernels

        try:
            return kernels.get("rinex_fmt").join_arrays(arrays, dtype, n)
        except ValueError:
            pass
    return np.concatenate(arrays).astype(dtype, copy=False)


def stack_epochs(obs_list) -> ObsRows:
    """Stack the rows of ``obs_list`` (list of ObsEpoch) into one :class:`ObsRows`."""
    counts = np.fromiter((len(o.sat) for o in obs_list), dtype=np.int64, count=len(obs_list))
    ep_row0 = np.zeros(len(obs_list) + 1, dtype=np.int64)
    np.cumsum(counts, out=ep_row0[1:])
    n, f8 = int(ep_row0[-1]), np.float64
    return ObsRows([o.time for o in obs_list], ep_row0,
                   _cat([o.sat for o in obs_list], "<U3", n), _cat([o.sig for o in obs_list], "<U2", n),
                   _cat([o.pr_m for o in obs_list], f8, n), _cat([o.cp_cyc for o in obs_list], f8, n),
                   _cat([o.dop_hz for o in obs_list], f8, n), _cat([o.cn0_dbhz for o in obs_list], f8, n),
                   _cat([o.lli for o in obs_list], np.uint8, n), _cat([o.lock_s for o in obs_list], f8, n))


def signal_keys(rows: ObsRows) -> set:
    """Distinct (system, signal) pairs of stacked rows (vectorised, no sort)."""
    s0 = np.ascontiguousarray(rows.sat).view(np.uint32)[::3]
    g = np.ascontiguousarray(rows.sig).view(np.uint32)
    code = (s0 << 14) | (g[::2] << 7) | g[1::2]
    ok = (s0 < 128) & (g[::2] < 128) & (g[1::2] < 128)
    seen = np.zeros(1 << 21, dtype=bool)
    seen[code if ok.all() else code[ok]] = True
    return {(chr(c >> 14), chr((c >> 7) & 127) + chr(c & 127)) for c in np.flatnonzero(seen).tolist()}


def format_rows(rows: ObsRows, obs_types: dict, lli: np.ndarray | None = None, flag: int = 0) -> bytes:
    """Data records of stacked epochs as ASCII bytes, in one kernel call (the converter's hot path).

    ``lli`` (n,) overrides ``rows.lli``.  Same text as :func:`format_epochs`.
    """
    from vngeonet import kernels

    k = kernels.get("rinex_fmt")
    sys_slot, sys_rank, ncol, col_table = obs_layout(obs_types)
    return k.format_obs_records(epoch_heads(rows.times, flag), rows.ep_row0,
                                np.ascontiguousarray(rows.sat).view(np.uint32).reshape(-1, 3),
                                np.ascontiguousarray(rows.sig).view(np.uint32).reshape(-1, 2),
                                rows.pr_m, rows.cp_cyc, rows.dop_hz, rows.cn0_dbhz,
                                np.ascontiguousarray(rows.lli if lli is None else lli, dtype=np.uint8),
                                sys_slot, sys_rank, ncol, col_table)


def format_epochs(obs_list, obs_types: dict, lli_list=None, flag: int = 0) -> str:
    """Data records of many epochs at once (RINEX 3.05 Table A3 / 4.00 Table A4).

    Parameters
    ----------
    obs_list : list of ObsEpoch
        Epochs in the order to write.
    obs_types : dict
        ``{system: ["C1C", "L1C", ...]}`` as in the header.
    lli_list : list of ndarray, optional
        Loss-of-lock indicators per epoch (default each epoch's ``lli``).

    Notes
    -----
    Satellites of a system not in ``obs_types`` are left out; values that do
    not fit F14.3 are left blank (see :mod:`vngeonet.kernels.rinex_fmt`).
    """
    if not obs_list:
        return ""
    rows = stack_epochs(obs_list)
    lli = None if lli_list is None else _cat([np.asarray(x) for x in lli_list], np.uint8)
    return format_rows(rows, obs_types, lli, flag).decode("ascii")


class LockTracker:
    """Loss-of-lock indicator from lock times across written epochs.

    Bit 0 is set when a signal's lock time is shorter than the time since it
    was last written (or it decreased); bit 1 (half-cycle) is kept from the input.
    """

    def __init__(self):
        self._last: dict = {}

    def lli(self, obs: ObsEpoch) -> np.ndarray:
        t = obs.time.seconds
        out = obs.lli.astype(np.uint8).copy()
        last = self._last
        for i, (sat, sig, lock) in enumerate(zip(obs.sat.tolist(), obs.sig.tolist(), obs.lock_s.tolist())):
            key = sat + sig
            prev = last.get(key)
            if prev is not None and not math.isnan(lock):
                t0, lock0 = prev
                if lock < (t - t0) - 1e-6 or lock < lock0 - 1e-6 and lock < t - t0 + lock0:
                    out[i] |= 1
            last[key] = (t, lock)
        return out


def lli_rows(rows: ObsRows) -> np.ndarray:
    """:class:`LockTracker` applied to stacked epochs at once (same result); (n,) uint8."""
    from vngeonet import kernels

    out = rows.lli.astype(np.uint8)
    if len(out) == 0:
        return out
    t_ep = np.array([t.seconds for t in rows.times], dtype=np.float64)
    order = None
    if np.any(t_ep[1:] < t_ep[:-1]):  # the kernel compares rows in row order: put the epochs in time order
        order = np.argsort(t_ep, kind="stable")
        idx = np.concatenate([np.arange(rows.ep_row0[k], rows.ep_row0[k + 1]) for k in order.tolist()])
        inv = np.empty_like(idx)
        inv[idx] = np.arange(len(idx))
        counts = np.diff(rows.ep_row0)[order]
        ep_row0 = np.concatenate([[0], np.cumsum(counts)])
        rows = ObsRows([rows.times[k] for k in order.tolist()], ep_row0, rows.sat[idx], rows.sig[idx],
                       rows.pr_m[idx], rows.cp_cyc[idx], rows.dop_hz[idx], rows.cn0_dbhz[idx], rows.lli[idx],
                       rows.lock_s[idx])
        t_ep = t_ep[order]
    flags = kernels.get("rinex_fmt").lock_slips(
        rows.ep_row0, t_ep, np.ascontiguousarray(rows.sat).view(np.uint32).reshape(-1, 3),
        np.ascontiguousarray(rows.sig).view(np.uint32).reshape(-1, 2), np.ascontiguousarray(rows.lock_s, np.float64))
    return out | (flags if order is None else flags[inv])


def lli_batch(obs_list) -> list[np.ndarray]:
    """:class:`LockTracker` applied to a whole list of epochs at once (vectorised, same result)."""
    if not obs_list:
        return []
    rows = stack_epochs(obs_list)
    return np.split(lli_rows(rows), rows.ep_row0[1:-1])


def collapse_rows(rows: ObsRows, group_sizes, times=None) -> ObsRows:
    """Join consecutive epochs of stacked rows without deduplication (``group_sizes[i]`` -> epoch ``i``)."""
    first = np.zeros(len(group_sizes) + 1, dtype=np.int64)
    np.cumsum(np.asarray(group_sizes, dtype=np.int64), out=first[1:])
    if times is None:
        times = [rows.times[i] for i in first[:-1].tolist()]
    return ObsRows(list(times), rows.ep_row0[first], rows.sat, rows.sig, rows.pr_m, rows.cp_cyc, rows.dop_hz,
                   rows.cn0_dbhz, rows.lli, rows.lock_s)


def unique_rows(rows: ObsRows, group_sizes, times=None) -> ObsRows:
    """Merge consecutive epochs of stacked rows: ``group_sizes[i]`` epochs become epoch ``i``.

    A merged epoch has its first epoch's time (or ``times[i]``) and one row
    per (satellite, signal): the last one, as :func:`merge_same_time` applied
    in order; rows come sorted by satellite and signal.
    """
    sizes = np.asarray(group_sizes, dtype=np.int64)
    first = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=first[1:])
    ep_group = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    row_group = np.repeat(ep_group, np.diff(rows.ep_row0))
    _, satk, sigk = _keys(rows.sat, rows.sig)
    key = (row_group << 35) | (satk << 14) | (sigk & ((1 << 14) - 1))
    order = np.argsort(key, kind="stable")
    k = key[order]
    last = np.ones(len(k), dtype=bool)
    last[:-1] = k[1:] != k[:-1]
    idx = order[last]
    ep_row0 = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_group[idx], minlength=len(sizes)), out=ep_row0[1:])
    if times is None:
        times = [rows.times[i] for i in first[:-1].tolist()]
    return ObsRows(list(times), ep_row0, rows.sat[idx], rows.sig[idx],
                   rows.pr_m[idx], rows.cp_cyc[idx], rows.dop_hz[idx], rows.cn0_dbhz[idx], rows.lli[idx],
                   rows.lock_s[idx])


def merge_same_time(a: ObsEpoch, b: ObsEpoch) -> ObsEpoch:
    """Union of two ObsEpochs of the same time (``b`` wins on duplicate rows)."""
    key = np.char.add(np.concatenate([a.sat, b.sat]), np.concatenate([a.sig, b.sig]))
    idx_rev = np.unique(key[::-1], return_index=True)[1]
    idx = len(key) - 1 - idx_rev

    def cat(name):
        return np.concatenate([getattr(a, name), getattr(b, name)])[idx]

    return ObsEpoch(a.time, a.station, cat("sat"), cat("sig"), cat("pr_m"), cat("cp_cyc"), cat("dop_hz"),
                    cat("cn0_dbhz"), cat("lli"), cat("lock_s"), a.flag)


def on_interval(t: GPSTime, interval_s: float | None, tol_s: float = 0.01) -> bool:
    """True when ``t`` is within ``tol_s`` of the sampling grid of ``interval_s``.

    The tolerance admits receivers whose clock is not steered to the second
    (u-blox RXM-RAWX epochs at .996 s, for example).
    """
    if not interval_s:
        return True
    r = t.tow_s % interval_s
    return r < tol_s or interval_s - r < tol_s


# ---------------------------------------------------------------------- navigation
def _d19(x: float) -> str:
    """Fortran D19.12 as RINEX writes it (``E`` exponent)."""
    if math.isnan(x):
        x = 0.0
    return f"{x:19.12E}"


def format_nav_header(version: int = 3, leap_s: int | None = None,
                      created_utc: _dt.datetime | None = None) -> str:
    """Header of a mixed navigation file (RINEX 3.05 Table A5 / 4.00 Table A29)."""
    ver = "3.05" if version == 3 else "4.00"
    created = created_utc or _dt.datetime.now(_dt.UTC)
    out = [_line(f"{ver:>9s}{'':11s}{'N: GNSS NAV DATA':<20s}{'M: MIXED':<20s}", "RINEX VERSION / TYPE"),
           _line(f"{'vngeonet ' + vngeonet.__version__:<20.20s}{'VNGEONET':<20s}{created:%Y%m%d %H%M%S} UTC",
                 "PGM / RUN BY / DATE")]
    if leap_s is not None:
        out.append(_line(f"{leap_s:6d}", "LEAP SECONDS"))
    out.append(_line("", "END OF HEADER"))
    return "".join(out)


def _sys_time(e: KeplerEphemeris) -> _dt.datetime:
    """toc in the system's own time scale (BDT for BeiDou, GPST otherwise)."""
    t = e.toc.to_datetime()
    return t - _dt.timedelta(seconds=14) if e.sat[0] == "C" else t


def _nav_lines(first: str, rows: list[list[float]], indent: int) -> str:
    out = [first + "".join(_d19(v) for v in rows[0]) + "\n"]
    out += [" " * indent + "".join(_d19(v) for v in r).rstrip() + "\n" for r in rows[1:]]
    return "".join(out)


def format_kepler(e: KeplerEphemeris, version: int = 3) -> str:
    """A GPS/Galileo/BeiDou/QZSS/NavIC record (RINEX 3.05 Tables A6, A8, A12, A14, A16).

    Week fields: GPS/QZSS the full GPS week; Galileo the GAL week aligned with
    GPS weeks (GST week + 1024); BeiDou the BDT week; NavIC the GPS week.
    """
    s = e.sat[0]
    extra = e.extra if isinstance(e.extra, dict) else {}
    tx_sow = float(extra.get("tx_sow", e.toe_sow))
    if s == "E":
        data_src = 258.0 if "FNAV" in e.source.upper() else 517.0
        row5 = [e.idot_radps, data_src, float(e.week + 1024), 0.0]
        row6 = [e.accuracy_m, float(e.health), e.tgd_s, e.tgd2_s]
        row7 = [tx_sow, 0.0]
    elif s == "C":
        row5 = [e.idot_radps, 0.0, float(e.week), 0.0]
        row6 = [e.accuracy_m, float(e.health), e.tgd_s, e.tgd2_s]
        row7 = [tx_sow, float(e.iodc)]
    elif s == "I":
        row5 = [e.idot_radps, 0.0, float(e.toe.week), 0.0]
        row6 = [e.accuracy_m, float(e.health), e.tgd_s, 0.0]
        row7 = [tx_sow, 0.0]
    else:
        row5 = [e.idot_radps, float(extra.get("l2_codes", 1.0)), float(e.week), float(extra.get("l2p_flag", 0.0))]
        row6 = [e.accuracy_m, float(e.health), e.tgd_s, float(e.iodc)]
        row7 = [tx_sow, e.fit_interval_h]
    rows = [[e.af0_s, e.af1_sps, e.af2_sps2],
            [float(e.iode), e.crs_m, e.delta_n_radps, e.m0_rad],
            [e.cuc_rad, e.e, e.cus_rad, e.sqrt_a],
            [e.toe_sow, e.cic_rad, e.omega0_rad, e.cis_rad],
            [e.i0_rad, e.crc_m, e.omega_rad, e.omega_dot_radps],
            row5, row6, row7]
    text = _nav_lines(f"{e.sat} {_sys_time(e):%Y %m %d %H %M %S}", rows, 4)
    if version == 4:
        src = e.source.upper()
        kind = {"G": "LNAV", "J": "LNAV", "I": "LNAV", "E": "FNAV" if "FNAV" in src else "INAV",
                "C": "D2" if src.endswith("D2") else "D1"}[s]
        text = f"> EPH {e.sat} {kind}\n" + text
    return text


def format_glonass(e: GlonassEphemeris, version: int = 3) -> str:
    """A GLONASS record (RINEX 3.05 Table A10; 4.00 Table A21 adds a fifth line)."""
    utc = gps_to_utc(e.toe)
    first = f"{e.sat} {utc:%Y %m %d %H %M %S}"
    tk = e.extra.get("tk_s", 0.0) if isinstance(e.extra, dict) else 0.0
    rows = [[-e.tau_n_s, e.gamma_n, float(tk)],
            [e.pos_m[0] / 1e3, e.vel_mps[0] / 1e3, e.acc_mps2[0] / 1e3, float(e.health)],
            [e.pos_m[1] / 1e3, e.vel_mps[1] / 1e3, e.acc_mps2[1] / 1e3, float(e.freq_channel)],
            [e.pos_m[2] / 1e3, e.vel_mps[2] / 1e3, e.acc_mps2[2] / 1e3, float(e.age_days)]]
    if version == 4:
        rows.append([0.0, e.delta_tau_n_s if e.delta_tau_n_s == e.delta_tau_n_s else 0.0, 0.0, 0.0])
        return f"> EPH {e.sat} FDMA\n" + _nav_lines(first, rows, 4)
    return _nav_lines(first, rows, 4)


def format_nav(ephemerides, version: int = 3, leap_s: int | None = None,
               created_utc: _dt.datetime | None = None) -> str:
    """A whole mixed navigation file: header + records sorted by system, satellite, time."""
    def key(e):
        return (SYSTEM_ORDER.find(e.sat[0]), e.sat, e.toe.seconds)

    body = []
    for e in sorted(ephemerides, key=key):
        body.append(format_glonass(e, version) if isinstance(e, GlonassEphemeris) else format_kepler(e, version))
    return format_nav_header(version, leap_s, created_utc) + "".join(body)


# ---------------------------------------------------------------------- file names
def long_name(station9: str, start: GPSTime, span_s: int, *, interval_s: float | None = None,
              kind: str = "MO", source: str = "S", ext: str = "rnx") -> str:
    """RINEX 3 long file name (RINEX 3.05 §4.1), e.g. ``HNOI00VNM_S_20241230000_01D_30S_MO.rnx``.

    ``source`` is ``S`` (from a data stream) or ``R`` (from receiver data);
    ``kind`` ``MO`` (mixed observations) or ``MN`` (mixed navigation; no interval).
    """
    d = start.to_datetime()
    span = _SPAN_CODE.get(int(span_s), f"{int(span_s) // 60:02d}M")
    parts = [station9.upper(), source, f"{d:%Y}{d.timetuple().tm_yday:03d}{d:%H%M}", span]
    if interval_s is not None and kind != "MN":
        parts.append(f"{int(interval_s):02d}S" if interval_s >= 1 else f"{int(round(1 / interval_s)):02d}Z")
    parts.append(f"{kind}.{ext}")
    return "_".join(parts)
