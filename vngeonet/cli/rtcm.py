"""``vngeonet rtcm``: inspect RTCM 3 files and streams.

* ``vngeonet rtcm scan FILE|-`` — decodes every message completely (so it also
  validates the file) and prints frames per type, stations, systems and
  signals, time span, rates, CRC failures and skipped bytes; ``--json`` prints
  the same as one JSON object.
* ``vngeonet rtcm decode FILE|- --jsonl`` — one JSON object per message.

Times: MSM epochs carry only a time of week (or of day); ``--date`` gives the
approximate date that resolves them.  Without it the date is taken from the
stream itself (1013 system parameters, Galileo/BeiDou/GPS ephemerides) when
the stream has one.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

# Messages whose decoders can tell the date (RTCM 10403.3 §3.5.5, §3.5.6-§3.5.8).
DATE_TYPES = (1013, 1046, 1045, 1042, 1044, 1019, 1041, 1020)
MSM_SYSTEMS = {
    1070: "GPS",
    1080: "GLONASS",
    1090: "Galileo",
    1100: "SBAS",
    1110: "QZSS",
    1120: "BeiDou",
    1130: "NavIC",
}
TYPE_NAMES = {
    1001: "GPS L1 observables",
    1002: "GPS L1 extended observables",
    1003: "GPS L1/L2 observables",
    1004: "GPS L1/L2 extended observables",
    1005: "station ARP",
    1006: "station ARP + antenna height",
    1007: "antenna descriptor",
    1008: "antenna descriptor + serial",
    1009: "GLONASS L1 observables",
    1010: "GLONASS L1 extended observables",
    1011: "GLONASS L1/L2 observables",
    1012: "GLONASS L1/L2 extended observables",
    1013: "system parameters",
    1019: "GPS ephemeris",
    1020: "GLONASS ephemeris",
    1029: "unicode text",
    1033: "receiver + antenna descriptor",
    1041: "NavIC ephemeris",
    1042: "BeiDou ephemeris",
    1043: "SBAS ephemeris",
    1044: "QZSS ephemeris",
    1045: "Galileo F/NAV ephemeris",
    1046: "Galileo I/NAV ephemeris",
    1230: "GLONASS code-phase biases",
    1300: "CRS service",
    1301: "CRS transformation",
    1302: "CRS name",
}
_PROGRESS_MIN_BYTES = 8 << 20


def type_name(t: int) -> str:
    """Short description of message type ``t``."""
    base = t - t % 10
    if base in MSM_SYSTEMS and 1 <= t % 10 <= 7:
        return f"{MSM_SYSTEMS[base]} MSM{t % 10}"
    if t in TYPE_NAMES:
        return TYPE_NAMES[t]
    if 1057 <= t <= 1068 or 1240 <= t <= 1270:
        return "SSR (kept raw)"
    if 4001 <= t <= 4095:
        return "proprietary (kept raw)"
    return "kept raw"


def register(subparsers) -> None:
    """Add the ``rtcm`` command and its ``scan`` / ``decode`` actions."""
    p = subparsers.add_parser(
        "rtcm",
        help="RTCM 3 files and streams: scan, decode",
        description="Inspect RTCM 3 files and streams.",
    )
    sub = p.add_subparsers(dest="rtcm_action", metavar="ACTION", required=True)
    s = sub.add_parser(
        "scan",
        help="summarise (and validate) an RTCM 3 file",
        description="Decode every message of FILE and summarise it.",
    )
    _common(s)
    s.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    s.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 if any frame failed its CRC or failed to decode",
    )
    s.set_defaults(func=scan_main)
    d = sub.add_parser(
        "decode",
        help="decode every message",
        description="Decode every message of FILE, one per line.",
    )
    _common(d)
    d.add_argument(
        "--jsonl",
        action="store_true",
        help="one JSON object per message (default: one text line per message)",
    )
    d.set_defaults(func=decode_main)


def _common(p) -> None:
    p.add_argument("file", help="RTCM 3 file (may be gzip-compressed), or - for standard input")
    p.add_argument(
        "--date",
        type=_parse_date,
        metavar="YYYY-MM-DD",
        help="approximate date (GPS) to resolve MSM epochs; default: from 1013/ephemerides",
    )


def _parse_date(text: str):
    import argparse

    try:
        return dt.datetime.strptime(text, "%Y-%m-%d")
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from err


def scan_main(args) -> int:
    """``vngeonet rtcm scan``: parse arguments, call the library, print."""
    data, name = read_input(args.file)
    report = scan_bytes(data, name, args.date, progress=_progress_wanted(len(data)))
    if args.json:
        print(json.dumps(report, default=_json_default))
    else:
        print(format_report(report))
    if args.strict and (report["decode_errors"] or report["crc_failures"]):
        print(
            f"{name}: {report['crc_failures']} CRC failures, {report['decode_errors']} decode errors",
            file=sys.stderr,
        )
        return 1
    return 0


def decode_main(args) -> int:
    """``vngeonet rtcm decode``: one line per message on stdout."""
    from vngeonet.rtcm.decode import DecodeStats, decode_stream

    fmt = _jsonl_line if args.jsonl else _text_line
    if args.file == "-":
        name = "<stdin>"
        stats = _decode_live(sys.stdin.buffer, args.date, fmt)
    else:
        data, name = read_input(args.file)
        stats = DecodeStats()
        ctx = make_context(data, name, args.date)
        _write_lines(fmt(m) for m in decode_stream(data, ctx, stats=stats))
    if stats.decode_errors or stats.framing.crc_failures:
        print(
            f"{name}: {stats.messages} messages, {stats.decode_errors} decode errors, "
            f"{stats.framing.crc_failures} CRC failures",
            file=sys.stderr,
        )
    return 0


def _decode_live(stream, date, fmt):
    """Decode a pipe as it arrives (a live stream never ends), writing each line at once."""
    from vngeonet.gnss.time import GPSTime
    from vngeonet.rtcm.decode import RTCMDecoder

    dec = RTCMDecoder(source="<stdin>")
    if date is not None:
        dec.ctx.approx_time = GPSTime.from_datetime(date + dt.timedelta(hours=12))
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = read(65536)
        msgs = dec.feed(chunk) if chunk else dec.flush()
        _write_lines(fmt(m) for m in msgs)
        sys.stdout.flush()
        if not chunk:
            return dec.stats


def _write_lines(lines) -> None:
    out = sys.stdout
    for line in lines:
        out.write(line)
        out.write("\n")
    out.flush()


def read_input(path: str) -> tuple[bytes, str]:
    """Bytes of FILE (gunzipped if gzip) or of stdin for ``-``; errors name the file."""
    import gzip

    from vngeonet.errors import FormatError, StreamError

    if path == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            data, name = Path(path).read_bytes(), path
        except OSError as err:
            raise StreamError(f"{path}: cannot read: {err.strerror or err}") from err
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise FormatError(f"corrupt gzip data: {err}", source=name) from err
    return data, name


def make_context(data: bytes, name: str, date):
    """A DecodeContext for the stream, its approximate time from ``date`` or the stream.

    Without ``date``, the first message that teaches the date (1013, then
    ephemerides) is decoded ahead of the rest, so that MSM epochs before it
    resolve too.
    """
    from vngeonet.gnss.time import GPSTime
    from vngeonet.rtcm.context import DecodeContext

    ctx = DecodeContext(source=name)
    if date is not None:
        ctx.approx_time = GPSTime.from_datetime(date + dt.timedelta(hours=12))
    else:
        ctx.approx_time = approx_time_from(data, name)
    return ctx


def approx_time_from(data: bytes, name: str = ""):
    """Approximate GPS time taught by the stream (1013 or an ephemeris), or None."""
    from vngeonet.rtcm.context import DecodeContext
    from vngeonet.rtcm.decode import decode
    from vngeonet.rtcm.framer import iter_frames

    frames = [f for f in iter_frames(data) if f.msg_type in DATE_TYPES]
    frames.sort(key=lambda f: DATE_TYPES.index(f.msg_type))
    for frame in frames:
        scratch = DecodeContext(source=name)
        try:
            msg = decode(frame, scratch)
        except ValueError:
            continue
        if scratch.approx_time is not None:
            return scratch.approx_time
        toe = getattr(getattr(msg, "eph", None), "toe", None)
        if toe is not None:
            return toe
    return None


def scan_bytes(data: bytes, name: str, date=None, progress: bool = False) -> dict:
    """Decode all of ``data`` and return the scan report (a JSON-serialisable dict)."""
    from vngeonet.rtcm.decode import DecodeStats, decode_stream

    ctx = make_context(data, name, date)
    approx = {
        "time": _iso(ctx.approx_time),
        "from": "--date" if date is not None else ("stream" if ctx.approx_time else None),
    }
    stats = DecodeStats()
    summary = ScanSummary()
    t0 = last = time.monotonic()
    for msg in decode_stream(data, ctx, stats=stats):
        summary.add(msg)
        if progress and stats.messages % 4096 == 0 and time.monotonic() - last > 0.5:
            last = time.monotonic()
            _show_progress(name, stats, last - t0)
    if progress:
        sys.stderr.write("\n")
    report = {"file": name, "bytes": len(data), "approx_time": approx}
    report.update(summary.report(stats))
    report["decode_s"] = round(time.monotonic() - t0, 3)
    return report


class ScanSummary:
    """Accumulates what ``rtcm scan`` reports from decoded messages.

    Kept cheap per message (it runs once per message of possibly large
    files): message classes are classified once, and the satellites/signals
    of an observation message are only unpacked when its set is new.
    """

    _OBS, _INFO, _OTHER = 0, 1, 2
    _INFO_KEYS = ("antenna", "antenna_serial", "receiver", "firmware", "receiver_serial")

    def __init__(self):
        self.stations: dict[int, dict] = defaultdict(dict)
        self.signals: dict[str, set] = defaultdict(set)
        self.sats: dict[str, set] = defaultdict(set)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.tow_only: Counter = Counter()
        self._kinds: dict[type, int] = {}
        self._seen_cells: set = set()
        self._seen_station_types: set = set()

    def _classify(self, msg) -> int:
        if hasattr(msg, "sig") and hasattr(msg, "sat") and hasattr(msg, "system"):
            return self._OBS
        if hasattr(msg, "arp_ecef_m") or any(hasattr(msg, k) for k in self._INFO_KEYS):
            return self._INFO
        return self._OTHER

    def add(self, msg) -> None:
        """Take what matters from one decoded message."""
        cls = type(msg)
        kind = self._kinds.get(cls)
        if kind is None:
            kind = self._kinds[cls] = self._classify(msg)
        if kind == self._OBS:
            self._add_obs(msg.msg_type, msg)
        elif kind == self._INFO:
            self._add_info(msg)
        sid = getattr(msg, "station_id", None)
        if sid is not None and (sid, msg.msg_type) not in self._seen_station_types:
            self._seen_station_types.add((sid, msg.msg_type))
            self.stations[sid].setdefault("types", set()).add(msg.msg_type)

    def _add_info(self, msg) -> None:
        st = self.stations[msg.station_id]
        arp = getattr(msg, "arp_ecef_m", None)
        if arp is not None:
            st["arp_ecef_m"] = [float(v) for v in arp]
            h = getattr(msg, "antenna_height_m", None)
            if h is not None:
                st["antenna_height_m"] = float(h)
        for key in self._INFO_KEYS:
            val = getattr(msg, key, None)
            if val:
                st[key] = str(val).strip()

    def _add_obs(self, t: int, msg) -> None:
        key = (msg.system, msg.sat.tobytes(), msg.sig.tobytes())
        if key not in self._seen_cells:
            self._seen_cells.add(key)
            self.signals[msg.system].update(msg.sig.tolist())
            self.sats[msg.system].update(msg.sat.tolist())
        tm = msg.time
        if tm is None:
            self.tow_only[t] += 1
            return
        s = tm.seconds
        first = self.first.get(t)
        if first is None:
            self.first[t] = self.last[t] = s
        elif s < first:
            self.first[t] = s
        elif s > self.last[t]:
            self.last[t] = s

    def report(self, stats) -> dict:
        """The scan report (without file name and size)."""
        span = self._span()
        fr = stats.framing
        types = []
        for t, n in sorted(fr.per_type.items()):
            row = {
                "type": t,
                "name": type_name(t),
                "count": n,
                "errors": stats.errors_per_type.get(t, 0),
            }
            row["rate_hz"] = round(n / span["duration_s"], 4) if span["duration_s"] else None
            if t in self.first and self.last[t] > self.first[t] and n > 1:
                row["interval_s"] = round((self.last[t] - self.first[t]) / (n - 1), 3)
            types.append(row)
        return {
            "frames": fr.frames,
            "crc_failures": fr.crc_failures,
            "skipped_bytes": fr.skipped_bytes,
            "decode_errors": stats.decode_errors,
            "time_span": span,
            "types": types,
            "stations": [self._station(k, v) for k, v in sorted(self.stations.items())],
            "systems": {
                s: {"signals": sorted(self.signals[s]), "satellites": sorted(self.sats[s])}
                for s in sorted(self.signals)
            },
            "unresolved_obs_messages": sum(self.tow_only.values()),
        }

    def _span(self) -> dict:
        if not self.first:
            return {"start": None, "end": None, "duration_s": None}
        from vngeonet.gnss.time import GPSTime

        a, b = min(self.first.values()), max(self.last.values())
        return {
            "start": GPSTime.from_seconds(a).isoformat(),
            "end": GPSTime.from_seconds(b).isoformat(),
            "duration_s": round(b - a, 3),
            "time_system": "GPST",
        }

    @staticmethod
    def _station(sid: int, st: dict) -> dict:
        out = {"id": sid, **{k: v for k, v in st.items() if k != "types"}}
        out["types"] = sorted(st.get("types", ()))
        arp = st.get("arp_ecef_m")
        if arp is not None and any(arp):
            from vngeonet.gnss.coords import ecef_to_llh

            lat, lon, h = (float(v) for v in ecef_to_llh(arp))
            out["arp_llh"] = {
                "lat_deg": round(math.degrees(lat), 9),
                "lon_deg": round(math.degrees(lon), 9),
                "h_m": round(h, 4),
            }
        return out


def format_report(r: dict) -> str:
    """The scan report as a text table."""
    lines = [
        (
            f"{r['file']}: {r['bytes']} bytes, {r['frames']} frames, {r['crc_failures']} CRC failures, "
            f"{r['skipped_bytes']} bytes skipped, {r['decode_errors']} decode errors"
        )
    ]
    sp = r["time_span"]
    if sp["start"]:
        lines.append(f"time span: {sp['start']} .. {sp['end']} GPST ({sp['duration_s']} s)")
    elif r["unresolved_obs_messages"]:
        lines.append("time span: unknown (no date in the stream; give --date YYYY-MM-DD)")
    lines += ["", f"{'type':>5} {'count':>7} {'rate_Hz':>8} {'errors':>6}  description"]
    for t in r["types"]:
        rate = f"{t['rate_hz']:.3f}" if t["rate_hz"] is not None else "-"
        lines.append(f"{t['type']:>5} {t['count']:>7} {rate:>8} {t['errors']:>6}  {t['name']}")
    if r["stations"]:
        lines += ["", "stations:"]
        for st in r["stations"]:
            lines.append(_station_line(st))
    if r["systems"]:
        lines += ["", "systems and signals:"]
        for s, v in r["systems"].items():
            lines.append(
                f"  {s}: {len(v['satellites']):>2} satellites  signals {' '.join(v['signals'])}"
            )
    return "\n".join(lines)


def _station_line(st: dict) -> str:
    parts = [f"  {st['id']:>4}"]
    if "arp_ecef_m" in st:
        x, y, z = st["arp_ecef_m"]
        parts.append(f"ARP {x:.4f} {y:.4f} {z:.4f} m")
    if "arp_llh" in st:
        ll = st["arp_llh"]
        parts.append(f"({ll['lat_deg']:.8f} {ll['lon_deg']:.8f} {ll['h_m']:.3f} m)")
    if "antenna_height_m" in st:
        parts.append(f"h {st['antenna_height_m']:.4f} m")
    for key in ("antenna", "antenna_serial", "receiver", "firmware", "receiver_serial"):
        if key in st:
            parts.append(f"{key} {st[key]!r}")
    return "  ".join(parts)


def _jsonl_line(msg) -> str:
    return json.dumps(msg.to_json(), default=_json_default, allow_nan=False)


def _text_line(msg) -> str:
    parts = [f"{msg.msg_type:>4}", type_name(msg.msg_type)]
    sid = getattr(msg, "station_id", None)
    if sid is not None:
        parts.append(f"station {sid}")
    tm = getattr(msg, "time", None)
    if tm is not None:
        parts.append(_iso(tm))
    if hasattr(msg, "sig"):
        parts.append(f"{len(set(msg.sat.tolist()))} sats {len(msg.sig)} cells")
    eph = getattr(msg, "eph", None)
    if eph is not None:
        parts.append(f"{eph.sat} toe {_iso(getattr(eph, 'toe', None))}")
    err = getattr(msg, "error", "")
    if err:
        parts.append(f"ERROR {err}")
    return "  ".join(parts)


def _iso(t) -> str | None:
    return t.isoformat() if t is not None else None


def _json_default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return [None if isinstance(v, float) and math.isnan(v) else v for v in o.tolist()]
    if isinstance(o, np.generic):
        v = o.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    if isinstance(o, (set, frozenset, tuple)):
        return sorted(o)
    if isinstance(o, (bytes, bytearray)):
        return o.hex()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _progress_wanted(size: int) -> bool:
    return size >= _PROGRESS_MIN_BYTES and sys.stderr.isatty()


def _show_progress(name: str, stats, elapsed_s: float) -> None:
    sys.stderr.write(f"\r{name}: {stats.messages} messages, {elapsed_s:.1f} s")
    sys.stderr.flush()
