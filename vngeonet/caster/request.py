"""Sans-I/O parser for NTRIP 1.0 / 2.0 requests and chunked bodies.

The caster's socket code feeds whatever bytes arrive into
:class:`RequestParser` until it returns a :class:`Request`; nothing here reads
a socket or looks at the clock, so the same parser is tested with byte
strings.  Limits (header size, number of header lines, request-line length)
are enforced while feeding, so an attacker can never make the caster buffer
more than ``max_header_bytes``.

Request forms understood (NTRIP 1.0 §3, NTRIP 2.0 §3 (RTCM 10410.1)):

* ``GET /MOUNT HTTP/1.x`` with optional ``Authorization: Basic``; NTRIP 2 when
  the ``Ntrip-Version: Ntrip/2.0`` header is present, NTRIP 1 otherwise.
* ``POST /MOUNT HTTP/1.1`` (NTRIP 2 server upload, Basic auth).
* ``SOURCE password /MOUNT`` (NTRIP 1 server upload, optional ``STR:`` header).

References
----------
RTCM 10410.0 (NTRIP 1.0), RTCM 10410.1 (NTRIP 2.0) §3 and §4; RFC 7230 §3
(message syntax) and §4.1 (chunked transfer coding); RFC 7617 (Basic).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import unquote

__all__ = [
    "ChunkedDecoder",
    "Request",
    "RequestError",
    "RequestParser",
    "chunk",
]

_METHODS = frozenset({"GET", "POST", "SOURCE"})


class RequestError(ValueError):
    """The request is malformed or too large.

    ``status`` is the HTTP status to answer with (400, 405, 413, 414, 431);
    the caller sends it and closes the connection.
    """

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request head.

    Attributes
    ----------
    method : str
        ``GET``, ``POST`` or ``SOURCE``.
    mount : str
        Request path without the leading slash: the mountpoint name, "" for
        the sourcetable, or another path such as ``admin/status``.
    query : str
        Text after ``?`` in the target ("" if none).
    http_version : str
        ``HTTP/1.0``, ``HTTP/1.1`` or "" for ``SOURCE``.
    ntrip_version : int
        2 when ``Ntrip-Version: Ntrip/2.0`` was sent, else 1.
    headers : dict[str, str]
        Header fields, names lower-cased (last one wins).
    user, password : str or None
        Basic-auth credentials (``None`` when absent or undecodable).
    source_password : str or None
        The password of a ``SOURCE`` request.
    body : bytes
        Bytes received after the blank line (start of stream data or GGA).
    """

    method: str
    mount: str
    query: str
    http_version: str
    ntrip_version: int
    headers: dict = field(default_factory=dict)
    user: str | None = None
    password: str | None = None
    source_password: str | None = None
    body: bytes = b""

    @property
    def is_upload(self) -> bool:
        """True for a base-station upload (``SOURCE`` or ``POST``)."""
        return self.method in ("SOURCE", "POST")

    @property
    def chunked(self) -> bool:
        """True when the request body uses chunked transfer coding."""
        return "chunked" in self.headers.get("transfer-encoding", "").lower()


class RequestParser:
    """Accumulate bytes until a whole request head has arrived.

    Parameters
    ----------
    max_header_bytes : int
        Largest request head accepted (request line + headers + blank line).
    max_headers : int
        Largest number of header lines.
    max_line_bytes : int
        Longest request line (the target) accepted.

    Examples
    --------
    >>> p = RequestParser()
    >>> p.feed(b"GET /TEST HTTP/1.0\\r\\nUser-Agent: NTRIP x\\r\\n") is None
    True
    >>> p.feed(b"\\r\\n").mount
    'TEST'
    """

    def __init__(self, max_header_bytes: int = 8192, max_headers: int = 64, max_line_bytes: int = 2048):
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_line_bytes = max_line_bytes
        self._buf = bytearray()

    def feed(self, data: bytes) -> Request | None:
        """Add received bytes; return the request once its head is complete.

        Raises
        ------
        RequestError
            On a malformed or oversized head (answer ``.status`` and close).
        """
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        sep = 4
        if end < 0:
            # Some NTRIP 1 servers terminate lines with a bare LF.
            end = self._buf.find(b"\n\n")
            sep = 2
        if end < 0:
            if len(self._buf) > self.max_header_bytes:
                raise RequestError(431, "Request Header Fields Too Large")
            first = self._buf.find(b"\n")
            if first < 0 and len(self._buf) > self.max_line_bytes:
                raise RequestError(414, "URI Too Long")
            return None
        if end + sep > self.max_header_bytes:
            raise RequestError(431, "Request Header Fields Too Large")
        head = bytes(self._buf[:end])
        body = bytes(self._buf[end + sep:])
        self._buf.clear()
        return parse_head(head, body, self.max_headers, self.max_line_bytes)


def parse_head(head: bytes, body: bytes = b"", max_headers: int = 64, max_line_bytes: int = 2048) -> Request:
    """Parse a complete request head (without the final blank line).

    Raises
    ------
    RequestError
        When the request line or a header is malformed.
    """
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as err:  # latin-1 never fails; kept for clarity
        raise RequestError(400, "Bad Request") from err
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) - 1 > max_headers:
        raise RequestError(431, "Request Header Fields Too Large")
    request_line = lines[0]
    if len(request_line) > max_line_bytes:
        raise RequestError(414, "URI Too Long")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in request_line):
        raise RequestError(400, "Bad Request")
    headers = _parse_headers(lines[1:])
    parts = request_line.split(" ")
    method = parts[0]
    if method not in _METHODS:
        raise RequestError(405 if method.isalpha() and method.isupper() else 400, "Bad Request")
    if method == "SOURCE":
        return _source_request(parts, headers, body)
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise RequestError(400, "Bad Request")
    target = parts[1]
    if not target.startswith("/"):
        target = _strip_absolute(target)
    path, _, query = target.partition("?")
    mount = unquote(path[1:])
    if any(not c.isprintable() for c in mount):
        raise RequestError(400, "Bad Request")
    user, password = _basic_auth(headers.get("authorization"))
    ntrip2 = headers.get("ntrip-version", "").strip().lower() == "ntrip/2.0"
    return Request(method, mount, query, parts[2], 2 if ntrip2 else 1, headers, user, password, None, body)


def _parse_headers(lines: list[str]) -> dict:
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or any(c in name for c in " \t"):
            raise RequestError(400, "Bad Request")
        headers[name.lower()] = value.strip()
    return headers


def _source_request(parts: list[str], headers: dict, body: bytes) -> Request:
    # NTRIP 1.0: "SOURCE <password> /<mountpoint>"; some servers omit the slash.
    if len(parts) != 3 or not parts[2]:
        raise RequestError(400, "Bad Request")
    mount = parts[2].removeprefix("/")
    if not mount or "/" in mount:
        raise RequestError(400, "Bad Request")
    return Request("SOURCE", mount, "", "", 1, headers, None, None, parts[1], body)


def _strip_absolute(target: str) -> str:
    # RFC 7230 §5.3.2 absolute-form "http://host:port/MOUNT".
    scheme, sep, rest = target.partition("://")
    if not sep or scheme.lower() not in ("http", "https", "ntrip"):
        raise RequestError(400, "Bad Request")
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def _basic_auth(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, None
    user, colon, password = decoded.partition(":")
    if not colon:
        return None, None
    return user, password


def chunk(data: bytes) -> bytes:
    """Wrap ``data`` as one HTTP/1.1 chunk (RFC 7230 §4.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class ChunkedDecoder:
    """Sans-I/O decoder of an HTTP/1.1 chunked body (RFC 7230 §4.1).

    ``feed`` returns the payload bytes decoded so far; ``done`` turns true
    after the last (zero-size) chunk.  Chunk extensions and trailers are
    ignored.  A malformed size line raises :class:`RequestError` (400).

    Examples
    --------
    >>> d = ChunkedDecoder()
    >>> d.feed(b"3\\r\\nabc\\r\\n0\\r\\n\\r\\n"), d.done
    (b'abc', True)
    """

    _MAX_SIZE_LINE = 64

    def __init__(self):
        self._buf = bytearray()
        self._left = 0  # payload bytes left in the current chunk
        self._crlf = False  # expecting the CRLF that ends a chunk
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while self._buf and not self.done:
            if self._left:
                take = min(self._left, len(self._buf))
                out += self._buf[:take]
                del self._buf[:take]
                self._left -= take
                if not self._left:
                    self._crlf = True
                continue
            if self._crlf:
                if self._buf.startswith(b"\r\n") or self._buf.startswith(b"\n"):
                    del self._buf[: 2 if self._buf[0] == 13 else 1]
                    self._crlf = False
                    continue
                if len(self._buf) >= 2 or self._buf[0] != 13:
                    raise RequestError(400, "Bad chunk terminator")
                break
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self._MAX_SIZE_LINE:
                    raise RequestError(400, "Bad chunk size")
                break
            line = bytes(self._buf[:nl]).strip()
            del self._buf[: nl + 1]
            try:
                size = int(line.split(b";")[0], 16)
            except ValueError as err:
                raise RequestError(400, "Bad chunk size") from err
            if size < 0:
                raise RequestError(400, "Bad chunk size")
            if size == 0:
                self.done = True
            self._left = size
        return bytes(out)
