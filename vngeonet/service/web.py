"""The status page and JSON API of ``vngeonet run``.

A small asyncio HTTP/1.1 server (read-only, GET only) on its own port:

* ``GET /status``  JSON: ``{"stations": [...], "rovers": ..., ...}``;
* ``GET /``        an HTML page that polls ``/status`` and renders it;
* ``GET /health``  ``ok``.

Requests are parsed with the caster's sans-I/O :class:`RequestParser`
(size-limited) under a read timeout; every connection is closed after one
response.

Cancellation
    :meth:`StatusServer.aclose` stops accepting and closes open connections.
Resource handling
    One listening socket; connections live for one request.
Error handling
    Malformed requests get 400/404/405/431 and are closed; errors while
    building the status are answered with 500 and logged, never raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from importlib import resources

from vngeonet.caster.request import RequestError, RequestParser

log = logging.getLogger(__name__)

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            408: "Request Timeout", 431: "Request Header Fields Too Large", 500: "Internal Server Error"}


def _page() -> bytes:
    return resources.files("vngeonet.service").joinpath("web/index.html").read_bytes()


class StatusServer:
    """Serve ``status()`` as JSON and the status page.

    Parameters
    ----------
    status : callable
        Returns the status dictionary (JSON-serialisable); called per request.
    host, port : str, int
        Where to listen (port 0 picks a free port; see :attr:`port`).
    read_timeout_s : float
        Time allowed for a whole request head.
    """

    def __init__(self, status: Callable[[], dict], host: str = "127.0.0.1", port: int = 8080,
                 read_timeout_s: float = 5.0):
        self._status = status
        self.host = host
        self.port = port
        self.read_timeout_s = read_timeout_s
        self._server: asyncio.base_events.Server | None = None
        self._page = _page()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("status page on http://%s:%d/", self.host, self.port)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, ctype, body = await asyncio.wait_for(self._respond(reader), self.read_timeout_s)
        except TimeoutError:
            status, ctype, body = 408, "text/plain", b"request timeout\n"
        try:
            head = (f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
                    "Connection: close\r\n\r\n").encode()
            writer.write(head + body)
            await writer.drain()
        except (ConnectionError, OSError) as err:
            log.debug("status client went away: %s", err)
        finally:
            writer.close()

    async def _respond(self, reader) -> tuple[int, str, bytes]:
        parser = RequestParser(max_header_bytes=8192)
        req = None
        try:
            while req is None:
                data = await reader.read(4096)
                if not data:
                    return 400, "text/plain", b"incomplete request\n"
                req = parser.feed(data)
        except RequestError as err:
            return err.status, "text/plain", f"{err.reason}\n".encode()
        if req.method != "GET":
            return 405, "text/plain", b"only GET\n"
        path = req.mount.strip("/")
        if path == "status":
            try:
                body = json.dumps(self._status(), default=_json_default).encode()
            except Exception:
                log.exception("building /status failed")
                return 500, "text/plain", b"status unavailable\n"
            return 200, "application/json", body
        if path in ("", "index.html"):
            return 200, "text/html; charset=utf-8", self._page
        if path == "health":
            return 200, "text/plain", b"ok\n"
        return 404, "text/plain", b"not found\n"


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(obj)
