"""NTRIP client (rover side), versions 1.0 and 2.0, and sourcetables.

* NTRIP 2.0: ``GET /MOUNT HTTP/1.1`` with ``Ntrip-Version: Ntrip/2.0``, basic
  authentication, ``Host``; the caster answers ``HTTP/1.1 200 OK`` and usually
  sends the data with chunked transfer coding (decoded here, and gzip content
  coding on top when announced, including one gzip member per chunk).
* NTRIP 1.0: ``GET /MOUNT HTTP/1.0``; the caster answers ``ICY 200 OK`` and
  then raw data, or ``SOURCETABLE 200 OK`` when the mountpoint is unknown.
* GGA upload: the rover position is sent as an NMEA GGA sentence right after
  the request (and in the ``Ntrip-GGA`` header for 2.0), then every
  ``gga_interval_s`` seconds, as VRS and nearest-base mountpoints need.

References
----------
RTCM 10410.1 NTRIP 2.0 §2.3-2.5 (requests, responses, sourcetable records
STR/CAS/NET); RTCM 10410.0 NTRIP 1.0; RFC 9112 §7.1 (chunked);
RFC 1952 (gzip); RFC 7617 (basic authentication); NMEA 0183 (GGA).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import logging
import re
import time
import zlib
from dataclasses import dataclass, field

import vngeonet
from vngeonet.errors import NTRIPError, StreamError
from vngeonet.streams.base import Source

log = logging.getLogger(__name__)

USER_AGENT = f"NTRIP vngeonet/{vngeonet.__version__}"
MAX_HEAD_BYTES = 16384
_HEADER_LINE = re.compile(rb"^[A-Za-z0-9-]+:[ \t]*[^\r\n]*\r?\n")


# ---------------------------------------------------------------- transfer/content coding
class ChunkedDecoder:
    """Sans-I/O decoder of HTTP chunked transfer coding (RFC 9112 §7.1).

    ``feed(bytes) -> bytes`` returns the payload decoded so far; ``done`` is set
    after the last (zero-size) chunk.  Chunk extensions and trailers are
    ignored.

    Raises
    ------
    NTRIPError
        On a chunk-size line that is not hexadecimal or too long.
    """

    def __init__(self):
        self._buf = bytearray()
        self._need = 0  # payload bytes left in the current chunk
        self._state = "size"  # size | data | crlf | trailer
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        buf = self._buf
        while buf and not self.done:
            if self._state == "data":
                take = min(self._need, len(buf))
                out += buf[:take]
                del buf[:take]
                self._need -= take
                if self._need == 0:
                    self._state = "crlf"
            elif self._state == "crlf":
                if len(buf) < 2:
                    break
                if buf[:2] != b"\r\n":
                    raise NTRIPError("chunked body: missing CRLF after chunk", reason="bad chunk")
                del buf[:2]
                self._state = "size"
            else:
                if not self._line_step(buf):
                    break
        return bytes(out)

    def _line_step(self, buf: bytearray) -> bool:
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > 256:
                raise NTRIPError("chunked body: chunk-size line too long", reason="bad chunk")
            return False
        line = bytes(buf[:end])
        del buf[:end + 2]
        if self._state == "trailer":
            if not line:
                self.done = True
            return True
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as err:
            raise NTRIPError(f"chunked body: bad chunk size {line[:20]!r}", reason="bad chunk") from err
        if size == 0:
            self._state = "trailer"
        else:
            self._need, self._state = size, "data"
        return True


class GzipDecoder:
    """Streaming gzip decoder that accepts several concatenated members (RFC 1952 §2.2)."""

    def __init__(self):
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            try:
                out.append(self._z.decompress(data))
            except zlib.error as err:
                raise NTRIPError(f"gzip body: {err}", reason="bad gzip") from err
            if not self._z.eof:
                break
            data = self._z.unused_data
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return b"".join(out)


# ---------------------------------------------------------------- response head
@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Status line and headers of a caster response.

    ``protocol`` is ``"ICY"`` (NTRIP 1 data), ``"SOURCETABLE"`` (NTRIP 1 table)
    or ``"HTTP/1.x"``; header names are lower-cased.
    """

    protocol: str
    status: int
    reason: str
    headers: dict = field(default_factory=dict)

    @property
    def ntrip_version(self) -> int:
        v = self.headers.get("ntrip-version", "")
        return 2 if "2.0" in v else 1

    @property
    def is_sourcetable(self) -> bool:
        return self.protocol == "SOURCETABLE" or \
            self.headers.get("content-type", "").lower().startswith("gnss/sourcetable")


def parse_status_line(line: bytes) -> tuple[str, int, str]:
    """(protocol, status, reason) of ``ICY 200 OK``, ``SOURCETABLE 200 OK`` or an HTTP status line."""
    text = line.decode("latin-1").strip()
    parts = text.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise NTRIPError(f"not an NTRIP response: {text[:60]!r}", reason="bad status line")
    proto = parts[0].upper()
    if proto not in ("ICY", "SOURCETABLE") and not proto.startswith("HTTP/"):
        raise NTRIPError(f"not an NTRIP response: {text[:60]!r}", reason="bad status line")
    return proto, int(parts[1]), parts[2] if len(parts) > 2 else ""


def parse_headers(block: bytes) -> dict:
    """Header lines (``Name: value``) to a dict with lower-case names."""
    headers = {}
    for raw in block.split(b"\n"):
        line = raw.rstrip(b"\r").decode("latin-1")
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return headers


async def read_response_head(reader: asyncio.StreamReader, timeout_s: float) -> tuple[ResponseHead, bytes]:
    """Read a caster's response head; returns it and the body bytes already read.

    An NTRIP 1 ``ICY 200 OK`` may be followed by headers and a blank line, by
    a lone blank line, or directly by data: all three are handled.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    buf = bytearray()

    async def more():
        left = deadline - loop.time()
        if left <= 0 or len(buf) > MAX_HEAD_BYTES:
            raise NTRIPError("response head too slow or too long", reason="bad head")
        data = await asyncio.wait_for(reader.read(4096), left)
        if not data:
            raise NTRIPError("caster closed the connection before answering",
                             reason="connection closed")
        buf.extend(data)

    while b"\n" not in buf:
        await more()
    end = buf.index(b"\n")
    proto, status, reason = parse_status_line(bytes(buf[:end]))
    del buf[:end + 1]
    if proto == "ICY":
        return await _icy_rest(buf, more, proto, status, reason)
    while b"\r\n\r\n" not in buf and b"\n\n" not in buf and not buf.startswith((b"\r\n", b"\n")):
        await more()
    if buf.startswith((b"\r\n", b"\n")):
        cut = buf.index(b"\n") + 1
        block = b""
    else:
        i, j = buf.find(b"\r\n\r\n"), buf.find(b"\n\n")
        cut = (i + 4) if i >= 0 and (j < 0 or i < j) else (j + 2)
        block = bytes(buf[:cut])
    return ResponseHead(proto, status, reason, parse_headers(block)), bytes(buf[cut:])


async def _icy_rest(buf, more, proto, status, reason):
    headers: dict = {}
    while True:
        while len(buf) < 2:
            try:  # a caster may send nothing more until it gets our GGA
                await asyncio.wait_for(more(), 1.0)
            except TimeoutError:
                return ResponseHead(proto, status, reason, headers), bytes(buf)
        if buf.startswith(b"\r\n"):
            return ResponseHead(proto, status, reason, headers), bytes(buf[2:])
        m = _HEADER_LINE.match(buf)
        if m is None:
            if b"\n" not in buf and len(buf) < 64 and re.match(rb"^[A-Za-z0-9-]+:?", buf):
                await more()
                continue
            return ResponseHead(proto, status, reason, headers), bytes(buf)
        headers.update(parse_headers(m.group(0)))
        del buf[:m.end()]


# ---------------------------------------------------------------- requests
def basic_auth(user: str, password: str) -> str:
    """``Basic`` credentials (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def build_request(mount: str, host: str, port: int, *, user: str = "", password: str = "",
                  version: int = 2, gga: str | None = None) -> bytes:
    """Request bytes for ``mount`` (``""`` for the sourcetable) in NTRIP ``version`` 1 or 2."""
    path = "/" + mount.lstrip("/")
    lines = [f"GET {path} HTTP/1.1" if version == 2 else f"GET {path} HTTP/1.0"]
    if version == 2:
        lines += [f"Host: {host}:{port}", "Ntrip-Version: Ntrip/2.0"]
    lines += [f"User-Agent: {USER_AGENT}"]
    if user or password:
        lines.append("Authorization: " + basic_auth(user, password))
    if version == 2 and gga:
        lines.append("Ntrip-GGA: " + gga.strip())
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def make_gga(lat_deg: float, lon_deg: float, height_m: float, t_utc: _dt.datetime | None = None) -> str:
    """An NMEA GGA sentence (with checksum, no CR LF) for a rover position.

    Fix quality 1, 12 satellites, HDOP 1.0: what casters need to select a base.
    """
    t = t_utc or _dt.datetime.now(_dt.UTC)

    def dm(value: float, width: int) -> str:
        a = abs(value)
        d = int(a)
        return f"{d:0{width}d}{(a - d) * 60:08.5f}"

    body = (f"GPGGA,{t:%H%M%S}.00,{dm(lat_deg, 2)},{'N' if lat_deg >= 0 else 'S'},"
            f"{dm(lon_deg, 3)},{'E' if lon_deg >= 0 else 'W'},1,12,1.0,{height_m:.1f},M,0.0,M,,")
    x = 0
    for c in body.encode("ascii"):
        x ^= c
    return f"${body}*{x:02X}"


# ---------------------------------------------------------------- sourcetable
@dataclass(frozen=True, slots=True)
class STRRecord:
    """A ``STR`` (stream) record of a sourcetable (NTRIP 2.0 Table 7)."""

    mountpoint: str
    identifier: str = ""
    format: str = ""
    format_details: str = ""
    carrier: str = ""
    nav_system: str = ""
    network: str = ""
    country: str = ""
    lat_deg: float = float("nan")
    lon_deg: float = float("nan")
    nmea: bool = False
    solution: int = 0
    generator: str = ""
    compression: str = ""
    authentication: str = ""
    fee: str = ""
    bitrate: int = 0
    misc: str = ""


@dataclass(frozen=True, slots=True)
class Sourcetable:
    """A parsed sourcetable: streams, casters and networks (records as field lists for CAS/NET)."""

    streams: tuple
    casters: tuple
    networks: tuple
    other: tuple = ()

    def find(self, mountpoint: str) -> STRRecord | None:
        for s in self.streams:
            if s.mountpoint == mountpoint:
                return s
        return None


def _num(text: str, kind=float, default=None):
    try:
        return kind(text)
    except (TypeError, ValueError):
        return default


def parse_sourcetable(text: str) -> Sourcetable:
    """Parse sourcetable text (records up to ``ENDSOURCETABLE``).

    Unknown record types are kept in ``other``; a short STR record gets
    defaults for its missing fields.
    """
    streams, casters, networks, other = [], [], [], []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("ENDSOURCETABLE"):
            break
        f = line.split(";")
        kind = f[0].upper()
        if kind == "STR" and len(f) > 1:
            g = f[1:] + [""] * (18 - len(f[1:]))
            streams.append(STRRecord(
                g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
                _num(g[8], float, float("nan")), _num(g[9], float, float("nan")),
                g[10].strip() == "1", _num(g[11], int, 0), g[12], g[13], g[14], g[15],
                _num(g[16], int, 0), ";".join(g[17:]).rstrip(";")))
        elif kind == "CAS":
            casters.append(tuple(f[1:]))
        elif kind == "NET":
            networks.append(tuple(f[1:]))
        else:
            other.append(line)
    return Sourcetable(tuple(streams), tuple(casters), tuple(networks), tuple(other))


# ---------------------------------------------------------------- the source
class NTRIPClientSource(Source):
    """Stream an NTRIP mountpoint (NTRIP 1.0 or 2.0).

    Parameters
    ----------
    host, port, mount :
        Caster address and mountpoint.
    user, password :
        Basic-authentication credentials (none sent when both are empty).
    version : int
        1 or 2.
    gga : str or None
        A GGA sentence, or ``"lat,lon,height"`` in degrees and metres from
        which one is made; sent after the request and every ``gga_interval_s``.
    timeout_s : float
        Time allowed for connecting and for the response head.
    read_timeout_s : float or None
        Silence after which ``read()`` raises ``StreamError``.
    """

    def __init__(self, host: str, port: int, mount: str, *, user: str = "", password: str = "",
                 version: int = 2, gga: str | None = None, gga_interval_s: float = 10.0,
                 timeout_s: float = 10.0, read_timeout_s: float | None = None,
                 clock=time.monotonic, name: str = ""):
        super().__init__(name or f"ntrip://{host}:{port}/{mount}", clock=clock)
        if version not in (1, 2):
            raise ValueError(f"NTRIP version must be 1 or 2, not {version!r}")
        self.host, self.port, self.mount = host, int(port), mount.lstrip("/")
        self.user, self.password, self.version = user, password, version
        self.gga = gga
        self.gga_interval_s = gga_interval_s
        self.timeout_s = timeout_s
        self.read_timeout_s = read_timeout_s
        self.head: ResponseHead | None = None
        self.gga_sent = 0
        self._reader = self._writer = None
        self._decoders: list = []
        self._pending = b""
        self._gga_task: asyncio.Task | None = None

    def _gga_sentence(self) -> str | None:
        if not self.gga:
            return None
        if self.gga.lstrip().startswith("$"):
            return self.gga.strip()
        lat, lon, h = (float(x) for x in (self.gga.split(",") + ["0"])[:3])
        return make_gga(lat, lon, h)

    async def _open(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout_s)
        except (TimeoutError, OSError) as err:
            raise StreamError(f"{self.name}: cannot connect: {err or 'timeout'}") from err
        gga = self._gga_sentence()
        self._writer.write(build_request(self.mount, self.host, self.port, user=self.user,
                                         password=self.password, version=self.version, gga=gga))
        if gga:
            self._writer.write(gga.encode("ascii") + b"\r\n")
            self.gga_sent += 1
        try:
            await asyncio.wait_for(self._writer.drain(), self.timeout_s)
            head, rest = await read_response_head(self._reader, self.timeout_s)
        except NTRIPError:
            raise
        except (TimeoutError, OSError) as err:
            raise StreamError(f"{self.name}: no answer: {err or 'timeout'}") from err
        self._check(head)
        self.head = head
        self._decoders = self._decoders_for(head)
        self._pending = self._decode(rest)
        if gga and self.gga_interval_s > 0:
            self._gga_task = asyncio.get_running_loop().create_task(self._gga_loop())

    def _check(self, head: ResponseHead) -> None:
        if head.is_sourcetable:
            raise NTRIPError(f"{self.name}: mountpoint {self.mount!r} not offered (caster sent its "
                             "sourcetable)", status=404, reason="no such mountpoint")
        if head.status != 200:
            raise NTRIPError(f"{self.name}: caster answered {head.status} {head.reason}",
                             status=head.status, reason=head.reason)

    @staticmethod
    def _decoders_for(head: ResponseHead) -> list:
        decoders = []
        if "chunked" in head.headers.get("transfer-encoding", "").lower():
            decoders.append(ChunkedDecoder())
        if head.headers.get("content-encoding", "").lower() in ("gzip", "x-gzip"):
            decoders.append(GzipDecoder())
        return decoders

    def _decode(self, data: bytes) -> bytes:
        for d in self._decoders:
            data = d.feed(data)
        return data

    @property
    def _body_done(self) -> bool:
        return bool(self._decoders) and isinstance(self._decoders[0], ChunkedDecoder) \
            and self._decoders[0].done

    async def _read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        while not self._body_done:
            try:
                raw = await asyncio.wait_for(self._reader.read(65536), self.read_timeout_s)
            except TimeoutError as err:
                raise StreamError(f"{self.name}: no data for {self.read_timeout_s} s") from err
            except OSError as err:
                raise StreamError(f"{self.name}: {err}") from err
            if not raw:
                return b""
            data = self._decode(raw)
            if data:
                return data
        return b""

    async def _gga_loop(self) -> None:
        while True:
            await asyncio.sleep(self.gga_interval_s)
            gga = self._gga_sentence()
            try:
                self._writer.write(gga.encode("ascii") + b"\r\n")
                await self._writer.drain()
                self.gga_sent += 1
            except OSError as err:
                log.info("%s: GGA upload failed: %s", self.name, err)
                return

    async def _close(self) -> None:
        if self._gga_task is not None:
            self._gga_task.cancel()
        if self._writer is not None:
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), 2.0)
            except (TimeoutError, OSError):
                pass


async def fetch_sourcetable(host: str, port: int, *, user: str = "", password: str = "",
                            version: int = 2, timeout_s: float = 10.0) -> tuple[str, Sourcetable]:
    """Download and parse a caster's sourcetable; returns (text, parsed).

    Raises
    ------
    NTRIPError
        When the caster answers with an error or something that is not a sourcetable.
    StreamError
        When the caster cannot be reached.
    """
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (TimeoutError, OSError) as err:
        raise StreamError(f"{host}:{port}: cannot connect: {err or 'timeout'}") from err
    try:
        writer.write(build_request("", host, port, user=user, password=password, version=version))
        await asyncio.wait_for(writer.drain(), timeout_s)
        head, rest = await read_response_head(reader, timeout_s)
        if head.status != 200:
            raise NTRIPError(f"{host}:{port}: caster answered {head.status} {head.reason}",
                             status=head.status, reason=head.reason)
        decoders = NTRIPClientSource._decoders_for(head)
        body = await _read_body(reader, rest, decoders, timeout_s)
    finally:
        writer.close()
    text = body.decode("latin-1")
    return text, parse_sourcetable(text)


async def _read_body(reader, rest: bytes, decoders: list, timeout_s: float) -> bytes:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    parts = []
    data = rest
    while True:
        for d in decoders:
            data = d.feed(data)
        parts.append(data)
        if b"ENDSOURCETABLE" in b"".join(parts[-2:]) or (decoders and getattr(decoders[0], "done", False)):
            break
        left = deadline - loop.time()
        if left <= 0:
            raise NTRIPError("sourcetable download timed out", reason="timeout")
        data = await asyncio.wait_for(reader.read(65536), left)
        if not data:
            break
    return b"".join(parts)
