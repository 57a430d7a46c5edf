"""Offline conversion: RTCM 3 / UBX recordings -> RINEX observation + mixed navigation files.

The job of RTKLIB's convbin, without its traps: the date comes from the data
(1013, the Galileo week of 1045/1046, the BeiDou week of 1042) or from the
caller, never from the computer's clock; BeiDou epochs stamped with GPS time
are re-timed; GLONASS code-phase biases (1230) and leap seconds go into the
header.

All inputs are read as one stream of one station, in the order given.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from vngeonet.epochs import EpochBuilder, EpochMessages, MessageGrouper
from vngeonet.errors import FormatError
from vngeonet.gnss.time import GPSTime

log = logging.getLogger(__name__)

_SPANS = ((900, 900), (3600, 3600), (86400, 86400))
_BATCH = 2000  # epochs formatted per vectorised call


@dataclass
class ConvertResult:
    """What a conversion produced and met."""

    obs_path: Path | None = None
    nav_path: Path | None = None
    epochs: int = 0
    epochs_written: int = 0
    messages: int = 0
    frames: Counter = field(default_factory=Counter)
    crc_failures: int = 0
    decode_errors: int = 0
    ephemerides: int = 0
    first: GPSTime | None = None
    last: GPSTime | None = None
    bds_gps_stamped: bool = False
    dropped_undated: int = 0
    date_source: str = ""
    warnings: list = field(default_factory=list)


def approx_from_date(date: str | _dt.date | None) -> GPSTime | None:
    """Noon (GPS time) of a ``YYYY-MM-DD`` date: within half a week of any epoch that day."""
    if date is None:
        return None
    if isinstance(date, str):
        try:
            date = _dt.date.fromisoformat(date)
        except ValueError as err:
            raise FormatError(f"date must be YYYY-MM-DD, not {date!r}") from err
    return GPSTime.from_datetime(_dt.datetime(date.year, date.month, date.day, 12))


def _is_ubx(data: bytes) -> bool:
    head = data[:65536]
    return head.count(b"\xb5\x62") > 2 * head.count(b"\xd3\x00") + 2


def _rtcm_epochs(data: bytes, builder, res: ConvertResult, source: str):
    from vngeonet.rtcm.decode import DecodeStats, decode_frames
    from vngeonet.rtcm.framer import iter_frames

    stats = DecodeStats()
    builder.ctx.source = source
    out = []
    add = builder.add
    frames = _skip_repeated_ephemerides(iter_frames(data, stats.framing), res)
    for msg in decode_frames(frames, builder.ctx, stats=stats):
        ep = add(msg)
        if ep:
            out += ep
    res.messages += stats.messages
    res.decode_errors += stats.decode_errors
    res.crc_failures += stats.framing.crc_failures
    res.frames.update(stats.framing.per_type if hasattr(stats.framing, "per_type") else {})
    return out


_EPHEMERIS_TYPES = frozenset((1019, 1020, 1041, 1042, 1044, 1045, 1046))


def _skip_repeated_ephemerides(frames, res: ConvertResult):
    """Frames, without byte-identical repeats of ephemeris messages (stations rebroadcast them)."""
    seen: set = set()
    for f in frames:
        if f.msg_type in _EPHEMERIS_TYPES:
            if f.payload in seen:
                res.messages += 1
                res.frames["repeated ephemeris"] += 1
                continue
            seen.add(f.payload)
        yield f


def _ubx_epochs(data: bytes, builder: EpochBuilder, res: ConvertResult):
    """Observations from RXM-RAWX, GPS and Galileo ephemerides from RXM-SFRBX (other packets counted)."""
    from vngeonet.streams.demux import Demuxer, rawx_to_obs_epoch
    from vngeonet.streams.ubx_nav import UBXNavAssembler

    d = Demuxer(("UBX",))
    nav = UBXNavAssembler()
    week = None
    out = []
    for p in d.feed(data):
        res.messages += 1
        res.frames[f"UBX-{p.msg}"] += 1
        try:
            if p.msg == "RXM-RAWX":
                ep = rawx_to_obs_epoch(p.payload, builder.station)
                if ep.time.week < 1024 or len(ep.sat) == 0:  # receiver time not yet known (cold start)
                    res.frames["UBX-RXM-RAWX-untimed"] += 1
                    continue
                week = ep.time.week
                out.append(ep)
            elif p.msg == "RXM-SFRBX":
                eph = nav.add(p.payload, week)
                if eph is not None:
                    builder.add_ephemeris(eph)
        except FormatError as err:
            res.decode_errors += 1
            log.warning("%s", err)
    res.crc_failures += d.crc_failures
    return out


def read_epochs(inputs, *, station: str = "", config=None, date=None, res: ConvertResult | None = None):
    """Decode ``inputs`` into (observation epochs as ObsEpoch, builder, result)."""
    return _read(inputs, EpochBuilder, station=station, config=config, date=date, res=res)


def _read(inputs, builder_cls, *, station: str = "", config=None, date=None, res: ConvertResult | None = None):
    """Decode ``inputs`` with a builder of class ``builder_cls``; see :func:`read_epochs`.

    With :class:`~vngeonet.epochs.MessageGrouper` the RTCM epochs come as
    :class:`~vngeonet.epochs.EpochMessages` (UBX ones stay ObsEpochs).
    """
    res = res or ConvertResult()
    builder = builder_cls(station, config=config, approx_time=approx_from_date(date))
    if date is not None:
        res.date_source = "command line"
    obs = []
    for path in inputs:
        data = Path(path).read_bytes()
        if data[:2] == b"\x1f\x8b":
            import gzip

            data = gzip.decompress(data)
        if _is_ubx(data):
            obs += _ubx_epochs(data, builder, res)
            res.date_source = res.date_source or "UBX RXM-RAWX week"
        else:
            before = builder.ctx.approx_time
            obs += [_obs(e) for e in _rtcm_epochs(data, builder, res, str(path))]
            if not res.date_source and before is None and builder.ctx.approx_time is not None:
                res.date_source = "stream (1013/1042/1045/1046/1020)"
    obs += [_obs(e) for e in builder.flush()]
    res.bds_gps_stamped = builder.bds_gps_stamped
    res.dropped_undated = builder.stats.dropped_unresolved
    res.ephemerides = len(builder.ephemerides())
    return obs, builder, res


def _obs(e):
    return e if isinstance(e, EpochMessages) else e.obs


def _span_s(first: GPSTime, last: GPSTime) -> int:
    dur = last - first
    for limit, span in _SPANS:
        if dur < limit:
            return span
    return int(dur // 86400 + 1) * 86400


def convert(inputs, outdir, *, version: int = 3, interval_s: float | None = None, date=None,
            station: str = "", config=None, country: str = "XXX", created_utc=None,
            compress: bool = False) -> ConvertResult:
    """Convert recordings to a RINEX observation file and a mixed navigation file.

    Parameters
    ----------
    inputs : list of path
        RTCM 3 or UBX recordings of one station, in time order.
    outdir : path
        Output directory (created).
    version : int
        3 (RINEX 3.05) or 4 (RINEX 4.00).
    interval_s : float, optional
        Decimate to this sampling interval.
    date : str or date, optional
        ``YYYY-MM-DD`` of the data, when the stream carries no date (no 1013, 1042, 1045, 1046).
    station : str
        4-character marker name (default: the config's id, else the RTCM station id).
    compress : bool
        Write Hatanaka + gzip observations (``.crx.gz``) and gzip navigation (``.rnx.gz``).

    Returns
    -------
    ConvertResult
    """
    from vngeonet.rinex.writer import (
        format_nav,
        format_obs_header,
        format_rows,
        header_from_meta,
        lli_rows,
        long_name,
        obs_types_from,
        signal_keys,
    )

    res = ConvertResult()
    obs, builder, res = _read(inputs, MessageGrouper, station=station, config=config, date=date, res=res)
    res.epochs = len(obs)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = merge_epochs(obs, interval_s)
    meta = builder.meta
    marker = station or (config.id if config else "") or \
        (f"{meta.station_id:04d}"[-4:] if meta.station_id is not None else "XXXX")
    name9 = config.long_name if config else f"{marker[:4]:<4s}00{country}".replace(" ", "X")
    if rows.times:
        res.first, res.last = rows.times[0], rows.times[-1]
        types = obs_types_from(signal_keys(rows))
        hdr = header_from_meta(meta, types, interval_s=interval_s or _guess_interval(rows.times),
                               first_obs=res.first)
        hdr.marker_name, hdr.last_obs, hdr.created_utc = marker, res.last, created_utc
        body = format_rows(rows, types, lli_rows(rows))
        span = _span_s(res.first, res.last)
        ext = "crx.gz" if compress else "rnx"
        res.obs_path = outdir / long_name(name9, res.first, span, interval_s=hdr.interval_s or 1.0, ext=ext)
        _write(res.obs_path, [format_obs_header(hdr, version).encode("ascii"), body], compress, hatanaka=True)
        res.epochs_written = len(rows.times)
    eph = builder.ephemerides()
    if eph:
        t0 = res.first or min(e.toe for e in eph)
        res.nav_path = outdir / long_name(name9, t0, _span_s(t0, res.last or t0), kind="MN",
                                          ext="rnx.gz" if compress else "rnx")
        _write(res.nav_path, format_nav(eph, version, meta.leap_s, created_utc), compress, hatanaka=False)
    if res.dropped_undated:
        res.warnings.append(f"{res.dropped_undated} observation messages had no date: the stream has no "
                            "1013/1042/1045/1046; give --date YYYY-MM-DD")
    return res


def _write(path: Path, data, compress: bool, *, hatanaka: bool) -> None:
    """Write ``data`` (text, bytes or a list of bytes) atomically, Hatanaka/gzip-compressed if asked."""
    from vngeonet.archive.files import atomic_write, compress_rinex

    if isinstance(data, str):
        data = data.encode("ascii")
    if compress:
        data = compress_rinex(b"".join(data) if isinstance(data, list) else data, hatanaka=hatanaka)
    atomic_write(path, data)


def merge_epochs(items: list, interval_s: float | None = None):
    """Epochs sorted by time, those less than 0.5 ms apart merged, decimated, stacked.

    ``items`` are ObsEpochs or :class:`~vngeonet.epochs.EpochMessages`.
    Merging keeps the union of the rows; on a (satellite, signal) present in
    several of them the later epoch's row wins (as
    :func:`~vngeonet.rinex.writer.merge_same_time`), and the merged epoch has
    the first one's time.  Returns :class:`~vngeonet.rinex.writer.ObsRows`.
    """
    from vngeonet.epochs import epoch_parts, needs_dedupe, stack_messages
    from vngeonet.rinex.writer import collapse_rows, on_interval, unique_rows

    items = sorted(items, key=lambda o: o.time.seconds)
    groups: list = []
    for o in items:
        if groups and abs(groups[-1][0].time - o.time) < 5e-4:
            groups[-1].append(o)
        else:
            groups.append([o])
    parts, sizes, times, dedupe = [], [], [], False
    for g in groups:
        if not on_interval(g[0].time, interval_s):
            continue
        n0 = len(parts)
        for item in g:
            parts += epoch_parts(item)
            dedupe = dedupe or needs_dedupe(item)
        sizes.append(len(parts) - n0)
        times.append(g[0].time)
        dedupe = dedupe or len(g) > 1
    rows = stack_messages(parts)
    return unique_rows(rows, sizes, times) if dedupe else collapse_rows(rows, sizes, times)


def _guess_interval(times: list) -> float | None:
    if len(times) < 2:
        return None
    steps = Counter(round(b - a, 3) for a, b in pairwise(times))
    return float(max(steps.items(), key=lambda kv: kv[1])[0])
