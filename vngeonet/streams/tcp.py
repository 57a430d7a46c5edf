"""TCP drivers: a client that connects to a receiver or relay, and a server
that receivers push to.
"""

from __future__ import annotations

import asyncio
import logging
import time

from vngeonet.errors import StreamError
from vngeonet.streams.base import QueuedSource, Source

log = logging.getLogger(__name__)


class TCPClientSource(Source):
    """Read a stream from ``host:port`` (e.g. a receiver's TCP server port).

    Parameters
    ----------
    host, port :
        Where to connect.
    connect_timeout_s : float
        Time allowed for the TCP handshake.
    read_timeout_s : float or None
        ``read()`` raises :class:`~vngeonet.errors.StreamError` after this much
        silence (``None``: wait for ever; outage detection is then the job of
        :mod:`~vngeonet.streams.reconnect`).
    """

    def __init__(self, host: str, port: int, *, connect_timeout_s: float = 10.0,
                 read_timeout_s: float | None = None, bufsize: int = 65536,
                 clock=time.monotonic, name: str = ""):
        super().__init__(name or f"tcp://{host}:{port}", clock=clock)
        self.host, self.port = host, int(port)
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.bufsize = bufsize
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout_s)
        except (TimeoutError, OSError) as err:
            raise StreamError(f"{self.name}: cannot connect: {err or 'timeout'}") from err

    async def _read(self) -> bytes:
        try:
            return await asyncio.wait_for(self._reader.read(self.bufsize), self.read_timeout_s)
        except TimeoutError as err:
            raise StreamError(f"{self.name}: no data for {self.read_timeout_s} s") from err
        except OSError as err:
            raise StreamError(f"{self.name}: {err}") from err

    async def write(self, data: bytes) -> None:
        """Send bytes to the peer (commands to a receiver, GGA)."""
        await self.open()
        self._writer.write(data)
        await self._writer.drain()

    async def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), 2.0)
            except (TimeoutError, OSError):
                pass


class TCPServerSource(QueuedSource):
    """Listen on ``host:port`` and read what connecting receivers push.

    Several peers may connect; their chunks are merged in arrival order.
    Queue policy: at most ``max_chunks`` chunks wait to be read; when full the
    oldest chunk is dropped and counted in ``dropped_chunks`` (a stalled
    consumer must not stall the receivers).

    Parameters
    ----------
    host, port :
        Listening address; port 0 picks a free port (see :attr:`port` after
        :meth:`open`).
    end_on_disconnect : bool
        End the stream (``read()`` returns ``b""``) when the last peer
        disconnects, instead of waiting for the next one.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, max_chunks: int = 4096,
                 end_on_disconnect: bool = False, clock=time.monotonic, name: str = ""):
        super().__init__(name or f"tcpserver://{host}:{port}", max_chunks=max_chunks, clock=clock)
        self.host, self.port = host, int(port)
        self.end_on_disconnect = end_on_disconnect
        self._server: asyncio.base_events.Server | None = None
        self._peers: set[asyncio.StreamWriter] = set()
        self._had_peer = False

    async def _open(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as err:
            raise StreamError(f"{self.name}: cannot listen: {err}") from err
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._peers.add(writer)
        self._had_peer = True
        peer = writer.get_extra_info("peername")
        log.info("%s: receiver connected from %s", self.name, peer)
        try:
            while data := await reader.read(65536):
                self._put(data)
        except OSError as err:
            log.info("%s: peer %s failed: %s", self.name, peer, err)
        finally:
            self._peers.discard(writer)
            writer.close()
            log.info("%s: receiver %s disconnected", self.name, peer)
            if self.end_on_disconnect and not self._peers:
                self._put(b"")

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._peers):
            w.close()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            except TimeoutError:
                pass
