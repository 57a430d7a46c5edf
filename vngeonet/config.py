"""Station configuration files: ``stations/<ID>.toml``, schema-checked.

A station file describes one reference station: its 4-character id and
9-character RINEX long name, the adopted position with its epoch, receiver,
antenna with ARP eccentricity, the stream it is read from, and the archive
files to write.  :func:`load_station` rejects a bad file with a
:class:`~vngeonet.errors.ConfigError` naming the file, the key and the reason.

Example (see ``stations/README.md`` for every key)::

    [station]
    id = "HNOI"
    long_name = "HNOI00VNM"
    name = "Ha Noi"

    [position]
    ecef_m = [-1626343.56, 5730606.24, 2271881.10]
    epoch = 2024.0
    frame = "ITRF2020"

    [receiver]
    type = "LEICA GR50"

    [antenna]
    type = "LEIAR20"
    radome = "LEIM"
    eccentricity_hen_m = [0.0, 0.0, 0.0]

    [stream]
    uri = "ntrip://user:pass@caster:2101/HNOI00VNM?v=2"

    [[archive.files]]
    span = "1D"
    interval_s = 30

References: RINEX 3.05 §4 (long file names: 4-char marker, monument/receiver
digits, ISO country code); IGS site log conventions for antenna/radome names.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from vngeonet.errors import ConfigError

SPANS_S = {"15M": 900, "1H": 3600, "1D": 86400}
_ID = re.compile(r"^[A-Z0-9]{4}$")
_LONG = re.compile(r"^[A-Z0-9]{4}[0-9]{2}[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One archive product: files covering ``span`` ("1H", "1D", "15M") at ``interval_s``."""

    span: str
    interval_s: float
    rinex_version: int = 3
    compress: bool = True  # Hatanaka + gzip

    @property
    def span_s(self) -> int:
        return SPANS_S[self.span]


@dataclass(frozen=True, slots=True)
class StationConfig:
    """A validated station file (all lengths in metres, positions ECEF)."""

    path: str
    id: str
    long_name: str
    name: str = ""
    domes: str = ""
    marker_type: str = "GEODETIC"
    agency: str = ""
    observer: str = ""
    pos_ecef_m: tuple = (math.nan, math.nan, math.nan)
    pos_epoch_yr: float = math.nan
    frame: str = ""
    receiver_type: str = ""
    receiver_serial: str = ""
    receiver_firmware: str = ""
    antenna_type: str = ""
    antenna_radome: str = "NONE"
    antenna_serial: str = ""
    ecc_hen_m: tuple = (0.0, 0.0, 0.0)
    stream_uri: str = ""
    stream_format: str = "rtcm3"  # "rtcm3" or "mixed" (RTCM 3 + UBX + NMEA, u-blox bases)
    outage_after_s: float = 30.0
    on_event_command: tuple = ()
    event_webhook: str = ""
    archive_root: str = "archive"
    flush_interval_s: float = 10.0
    archive: tuple = field(default_factory=tuple)

    @property
    def antenna_with_radome(self) -> str:
        """Antenna type padded to 16 columns + radome (IGS convention, RINEX ANT # / TYPE)."""
        return f"{self.antenna_type:<16s}{self.antenna_radome or 'NONE':>4s}"[:20]


class _Reader:
    """Typed access to a parsed TOML document with errors that name file and key."""

    def __init__(self, doc: dict, path: str):
        self.doc, self.path = doc, path

    def err(self, key: str, reason: str) -> ConfigError:
        return ConfigError(reason, path=self.path, key=key)

    def get(self, key: str, kind, default=..., *, check=None, reason: str = ""):
        node = self.doc
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is ...:
                    raise self.err(key, "missing (required)")
                return default
            node = node[part]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(node, int) and not isinstance(node, bool):
            node = float(node)
        if not isinstance(node, kinds) or (isinstance(node, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.err(key, f"must be {names}, not {type(node).__name__} {node!r}")
        if check is not None and not check(node):
            raise self.err(key, reason or f"invalid value {node!r}")
        return node

    def vector(self, key: str, default=...):
        v = self.get(key, list, default)
        if v is default and default is not ...:
            return default
        if len(v) != 3 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            raise self.err(key, f"must be a list of 3 numbers, not {v!r}")
        return tuple(float(x) for x in v)


def _epoch_years(r: _Reader) -> float:
    raw = r.get("position.epoch", (float, str))
    if isinstance(raw, float):
        if not 1980.0 <= raw <= 2100.0:
            raise r.err("position.epoch", f"year {raw} out of range 1980..2100")
        return raw
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", raw)
    if not m:
        raise r.err("position.epoch", f"must be a decimal year or YYYY-MM-DD, not {raw!r}")
    import datetime as _dt

    d = _dt.date(*map(int, m.groups()))
    start = _dt.date(d.year, 1, 1)
    days = (_dt.date(d.year + 1, 1, 1) - start).days
    return d.year + (d - start).days / days


def _archive(r: _Reader) -> tuple:
    files = r.get("archive.files", list, [])
    out = []
    for i, f in enumerate(files):
        key = f"archive.files[{i}]"
        if not isinstance(f, dict):
            raise r.err(key, "must be a table")
        sub = _Reader(f, r.path)
        try:
            span = sub.get("span", str, check=lambda s: s in SPANS_S,
                           reason=f"must be one of {', '.join(SPANS_S)}")
            interval = sub.get("interval_s", float, check=lambda x: 0 < x <= 3600,
                               reason="must be in (0, 3600] seconds")
            version = sub.get("rinex_version", int, 3, check=lambda v: v in (3, 4), reason="must be 3 or 4")
            compress = sub.get("compress", bool, True)
        except ConfigError as err:
            raise r.err(f"{key}.{err.key}", str(err).split("] ", 1)[-1]) from None
        out.append(ArchiveFile(span, interval, version, compress))
    return tuple(out)


def _command(r: _Reader) -> tuple:
    cmd = r.get("stream.on_event_command", list, [])
    if not all(isinstance(x, str) and x for x in cmd):
        raise r.err("stream.on_event_command", "must be a list of non-empty strings (program and arguments)")
    return tuple(cmd)


def parse_station(doc: dict, path: str = "<memory>") -> StationConfig:
    """Validate a parsed station document (see :func:`load_station`)."""
    r = _Reader(doc, path)
    sid = r.get("station.id", str, check=lambda s: bool(_ID.match(s)),
                reason="must be 4 characters A-Z/0-9 (upper case)")
    long_name = r.get("station.long_name", str, check=lambda s: bool(_LONG.match(s)),
                      reason="must be 9 characters: ID + 2 digits + 3-letter ISO country (e.g. HNOI00VNM)")
    if long_name[:4] != sid:
        raise r.err("station.long_name", f"must start with the station id {sid}")
    pos = r.vector("position.ecef_m")
    if not 6.0e6 < math.sqrt(sum(x * x for x in pos)) < 7.0e6:
        raise r.err("position.ecef_m", "is not near the Earth's surface (|r| must be 6000-7000 km)")
    ecc = r.vector("antenna.eccentricity_hen_m", (0.0, 0.0, 0.0))
    if any(abs(x) > 100 for x in ecc):
        raise r.err("antenna.eccentricity_hen_m", "components must be within 100 m")
    uri = r.get("stream.uri", str, "")
    if uri:
        from vngeonet.streams.uri import parse_uri

        try:
            parse_uri(uri)
        except ConfigError as err:
            raise r.err("stream.uri", str(err)) from None
    return StationConfig(
        path=path, id=sid, long_name=long_name, name=r.get("station.name", str, ""),
        domes=r.get("station.domes", str, ""), marker_type=r.get("station.marker_type", str, "GEODETIC"),
        agency=r.get("station.agency", str, ""), observer=r.get("station.observer", str, ""),
        pos_ecef_m=pos, pos_epoch_yr=_epoch_years(r), frame=r.get("position.frame", str, ""),
        receiver_type=r.get("receiver.type", str, check=lambda s: 0 < len(s) <= 20,
                            reason="must be 1-20 characters"),
        receiver_serial=r.get("receiver.serial", str, ""),
        receiver_firmware=r.get("receiver.firmware", str, ""),
        antenna_type=r.get("antenna.type", str, check=lambda s: 0 < len(s) <= 16,
                           reason="must be 1-16 characters (IGS antenna name)"),
        antenna_radome=r.get("antenna.radome", str, "NONE", check=lambda s: len(s) <= 4,
                             reason="must be at most 4 characters"),
        antenna_serial=r.get("antenna.serial", str, ""), ecc_hen_m=ecc, stream_uri=uri,
        stream_format=r.get("stream.format", str, "rtcm3", check=lambda f: f in ("rtcm3", "mixed"),
                            reason='must be "rtcm3" or "mixed"'),
        outage_after_s=r.get("stream.outage_after_s", float, 30.0, check=lambda x: 0 < x <= 86400,
                             reason="must be in (0, 86400] seconds"),
        on_event_command=_command(r), event_webhook=r.get("stream.event_webhook", str, "",
                                                           check=lambda u: u.startswith(("http://", "https://")),
                                                           reason="must be an http:// or https:// URL"),
        archive_root=r.get("archive.root", str, "archive"),
        flush_interval_s=r.get("archive.flush_interval_s", float, 10.0, check=lambda x: 0 < x <= 3600,
                               reason="must be in (0, 3600] seconds"),
        archive=_archive(r),
    )


def load_station(path) -> StationConfig:
    """Load and validate ``stations/<ID>.toml``.

    Raises
    ------
    ConfigError
        The file is missing, not TOML, or breaks the schema; ``path`` and
        ``key`` say where, the message says why.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror or err}", path=str(p)) from err
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", path=str(p)) from err
    cfg = parse_station(doc, str(p))
    if p.suffix == ".toml" and p.stem.upper() not in (cfg.id, cfg.long_name):
        raise ConfigError(f"file name must be {cfg.id}.toml (or {cfg.long_name}.toml)", path=str(p),
                          key="station.id")
    return cfg


def load_stations(directory) -> list[StationConfig]:
    """Every ``*.toml`` station file in ``directory``, sorted by id (ids must be unique)."""
    out = [load_station(p) for p in sorted(Path(directory).glob("*.toml"))]
    seen: dict = {}
    for c in out:
        if c.id in seen:
            raise ConfigError(f"station id {c.id} also in {seen[c.id]}", path=c.path, key="station.id")
        seen[c.id] = c.path
    return out
