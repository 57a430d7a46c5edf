"""UDP driver: receive datagrams sent to ``host:port`` (one datagram per chunk)."""

from __future__ import annotations

import asyncio
import logging
import time

from vngeonet.errors import StreamError
from vngeonet.streams.base import QueuedSource

log = logging.getLogger(__name__)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: UDPSource):
        self.owner = owner

    def datagram_received(self, data, addr):
        self.owner._put(data)

    def error_received(self, exc):
        log.info("%s: %s", self.owner.name, exc)


class UDPSource(QueuedSource):
    """Bind ``host:port`` and hand out received datagrams.

    Queue policy: at most ``max_datagrams`` wait; when full the oldest is
    dropped and counted in ``dropped_chunks``.  UDP has no end of stream:
    ``read()`` only ever returns data (or raises after :meth:`aclose`).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, max_datagrams: int = 4096,
                 clock=time.monotonic, name: str = ""):
        super().__init__(name or f"udp://{host}:{port}", max_chunks=max_datagrams, clock=clock)
        self.host, self.port = host, int(port)
        self._transport = None

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=(self.host, self.port))
        except OSError as err:
            raise StreamError(f"{self.name}: cannot bind: {err}") from err
        self.port = self._transport.get_extra_info("sockname")[1]

    def _put(self, data: bytes) -> None:
        if data:  # an empty datagram is not the end of the stream
            super()._put(data)

    async def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
