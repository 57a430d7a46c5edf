"""The asyncio ``Source`` interface every stream driver implements.

A source hands out the bytes of one data stream in arrival order.  It knows
nothing about RTCM or UBX: framing happens downstream (``rtcm.framer``,
``streams.demux``).

Contract (checked by ``tests/streams/test_conformance.py`` for every driver):

* ``await open()`` connects; ``read()`` opens on first use as well.
* ``await read()`` returns a non-empty ``bytes`` chunk, or ``b""`` exactly once
  when the stream has ended (peer closed, end of file).  Reading again after
  the end, or after :meth:`aclose`, raises :class:`~vngeonet.errors.StreamClosed`.
* ``await aclose()`` releases every resource; it is idempotent and never raises.
* ``stats`` is a :class:`~vngeonet.streams.stats.StreamStats` updated as data
  arrives (bytes, chunks, connects, last arrival).
* Sources are async context managers.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time

from vngeonet.errors import StreamClosed
from vngeonet.streams.stats import StreamStats

log = logging.getLogger(__name__)


class Source(abc.ABC):
    """Base class of the stream drivers.

    Subclasses implement :meth:`_open`, :meth:`_read` and :meth:`_close`; this
    class enforces the end-of-stream and closed-state rules and keeps the
    statistics.

    Cancellation
        Cancelling ``read()`` leaves the source usable; no data already
        received is lost (drivers buffer internally).
    Resource handling
        ``aclose()`` (or leaving ``async with``) closes sockets, ports and
        files; it is safe to call twice.
    Error handling
        I/O failures raise :class:`~vngeonet.errors.StreamError` (an
        ``OSError``); wrap the source in
        :class:`~vngeonet.streams.reconnect.ReconnectingSource` to retry.
    """

    def __init__(self, name: str = "", *, clock=time.monotonic):
        self.name = name or type(self).__name__
        self.stats = StreamStats(clock=clock)
        self._opened = False
        self._ended = False
        self._closed = False

    async def open(self) -> None:
        """Connect or open the stream (no-op when already open)."""
        if self._closed:
            raise StreamClosed(f"{self.name}: source is closed")
        if not self._opened:
            await self._open()
            self._opened = True
            self.stats.record_connect()

    async def read(self) -> bytes:
        """Next chunk of data; ``b""`` once at end of stream."""
        if self._closed or self._ended:
            raise StreamClosed(f"{self.name}: read after {'close' if self._closed else 'end'}")
        await self.open()
        data = await self._read()
        if not data:
            self._ended = True
            self.stats.record_disconnect()
            return b""
        self.stats.record_bytes(len(data))
        return bytes(data)

    async def aclose(self) -> None:
        """Close the stream and release its resources (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._close()
        except Exception as err:  # noqa: BLE001 - closing must not raise
            log.debug("%s: error while closing: %s", self.name, err)

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._closed

    async def __aenter__(self):
        await self.open()
        return self

    async def __aexit__(self, *exc):
        await self.aclose()

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        data = await self.read()
        if not data:
            raise StopAsyncIteration
        return data

    @abc.abstractmethod
    async def _open(self) -> None:
        """Driver hook: establish the connection."""

    @abc.abstractmethod
    async def _read(self) -> bytes:
        """Driver hook: next chunk, ``b""`` at end of stream."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Driver hook: release resources."""


class QueuedSource(Source):
    """A :class:`Source` whose data arrives by callback (sockets pushing to us) into a bounded queue.

    Queue policy: at most ``max_chunks`` chunks wait to be read; when full the
    oldest chunk is dropped and counted in ``dropped_chunks`` (a stalled
    consumer must not stall the senders).  Subclasses call :meth:`_put` from
    their callbacks and implement :meth:`_open` and :meth:`_close`.
    """

    def __init__(self, name: str = "", *, max_chunks: int = 4096, clock=time.monotonic):
        super().__init__(name, clock=clock)
        self._queue: asyncio.Queue = asyncio.Queue(max_chunks)
        self.dropped_chunks = 0

    def _put(self, data: bytes) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped_chunks += 1
        self._queue.put_nowait(data)

    async def _read(self) -> bytes:
        return await self._queue.get()
