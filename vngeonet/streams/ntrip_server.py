"""NTRIP server (the base-station side): push a stream to a caster mountpoint.

* NTRIP 1.0: ``SOURCE <password> /<MOUNT>`` plus ``Source-Agent``; the caster
  answers ``ICY 200 OK`` (or ``ERROR - Bad Password``) and then reads raw data.
* NTRIP 2.0: ``POST /<MOUNT> HTTP/1.1`` with ``Ntrip-Version: Ntrip/2.0``,
  basic authentication and ``Transfer-Encoding: chunked``; the caster answers
  ``HTTP/1.1 200 OK`` and the data follow as chunks (one chunk per write).
  ``chunked=False`` sends a plain body instead, for casters that want that.

References
----------
RTCM 10410.1 NTRIP 2.0 §2.2.2 (server POST request), RTCM 10410.0 NTRIP 1.0
(SOURCE request); RFC 9112 §7.1 (chunked transfer coding).
"""

from __future__ import annotations

import asyncio
import logging

from vngeonet.errors import NTRIPError, StreamClosed, StreamError
from vngeonet.streams.ntrip_client import USER_AGENT, basic_auth, parse_headers

log = logging.getLogger(__name__)


def build_source_request(mount: str, host: str, port: int, *, user: str = "", password: str,
                         version: int = 2, chunked: bool = True) -> bytes:
    """Request head a base station sends to publish on ``mount``."""
    path = "/" + mount.lstrip("/")
    if version == 1:
        lines = [f"SOURCE {password} {path}", f"Source-Agent: {USER_AGENT}"]
    else:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Ntrip-Version: Ntrip/2.0",
                 f"User-Agent: {USER_AGENT}", "Authorization: " + basic_auth(user, password),
                 "Content-Type: gnss/data"]
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class NTRIPServerSink:
    """Publish bytes on a caster mountpoint.

    Parameters
    ----------
    host, port, mount :
        Caster and mountpoint.
    password, user :
        Source credentials: NTRIP 1 sends only the password; NTRIP 2 sends both
        by basic authentication (user may be empty).
    version : int
        1 (``SOURCE``) or 2 (``POST``).
    chunked : bool
        NTRIP 2 only: chunked transfer coding of the body.

    Resource handling
        ``aclose()`` ends the body (zero chunk in NTRIP 2) and closes the
        socket; idempotent.
    Error handling
        A refusal raises :class:`~vngeonet.errors.NTRIPError` with the status;
        a broken connection :class:`~vngeonet.errors.StreamError`.
    """

    def __init__(self, host: str, port: int, mount: str, *, password: str, user: str = "",
                 version: int = 2, chunked: bool = True, timeout_s: float = 10.0):
        if version not in (1, 2):
            raise ValueError(f"NTRIP version must be 1 or 2, not {version!r}")
        self.host, self.port, self.mount = host, int(port), mount.lstrip("/")
        self.user, self.password, self.version = user, password, version
        self.chunked = chunked and version == 2
        self.timeout_s = timeout_s
        self.name = f"ntrip-push://{host}:{port}/{self.mount}"
        self.bytes_out = 0
        self.writes = 0
        self._reader = self._writer = None
        self._closed = False

    async def open(self) -> None:
        """Connect and have the caster accept the source."""
        if self._writer is not None:
            return
        if self._closed:
            raise StreamClosed(f"{self.name}: closed")
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout_s)
            self._writer.write(build_source_request(
                self.mount, self.host, self.port, user=self.user, password=self.password,
                version=self.version, chunked=self.chunked))
            await asyncio.wait_for(self._writer.drain(), self.timeout_s)
            line = await asyncio.wait_for(self._reader.readline(), self.timeout_s)
        except (TimeoutError, OSError) as err:
            await self.aclose()
            raise StreamError(f"{self.name}: cannot connect: {err or 'timeout'}") from err
        await self._check_answer(line)

    async def _check_answer(self, line: bytes) -> None:
        text = line.decode("latin-1").strip()
        parts = text.split(" ", 2)
        ok = len(parts) >= 2 and parts[1] == "200" and parts[0].upper() in ("ICY", "HTTP/1.1", "HTTP/1.0")
        if not ok:
            status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
            await self.aclose()
            raise NTRIPError(f"{self.name}: caster refused the source: {text[:80]!r}",
                             status=status, reason=parts[2] if len(parts) > 2 else text)
        if parts[0].upper().startswith("HTTP"):
            try:  # consume the rest of the head
                head = await asyncio.wait_for(self._reader.readuntil(b"\r\n\r\n"), self.timeout_s)
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                head = b""
            log.debug("%s: caster head %s", self.name, parse_headers(head))
        log.info("%s: source accepted (%s)", self.name, text)

    async def write(self, data: bytes) -> None:
        """Send ``data`` (one chunk in NTRIP 2 chunked mode)."""
        if not data:
            return
        await self.open()
        n = len(data)
        if self.chunked:
            data = b"%X\r\n" % n + data + b"\r\n"
        try:
            self._writer.write(data)
            await asyncio.wait_for(self._writer.drain(), self.timeout_s)
        except (TimeoutError, OSError) as err:
            raise StreamError(f"{self.name}: send failed: {err or 'timeout'}") from err
        if self._reader.at_eof():
            raise StreamError(f"{self.name}: caster closed the connection")
        self.bytes_out += n
        self.writes += 1

    async def aclose(self) -> None:
        """End the upload and close the connection (idempotent, never raises)."""
        if self._closed:
            return
        self._closed = True
        if self._writer is None:
            return
        try:
            if self.chunked:
                self._writer.write(b"0\r\n\r\n")
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)
        except (TimeoutError, OSError):
            pass

    async def __aenter__(self):
        await self.open()
        return self

    async def __aexit__(self, *exc):
        await self.aclose()


async def push(source, sink: NTRIPServerSink, *, max_bytes: int | None = None) -> int:
    """Copy ``source`` (a :class:`~vngeonet.streams.base.Source`) to ``sink`` until it ends.

    Returns the number of payload bytes sent.
    """
    sent = 0
    await sink.open()
    while True:
        data = await source.read()
        if not data:
            return sent
        await sink.write(data)
        sent += len(data)
        if max_bytes is not None and sent >= max_bytes:
            return sent
