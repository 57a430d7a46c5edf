"""File replay source: as fast as possible, or paced by the data's own GNSS time.

Paced replay (``speed > 0``) splits the file into packets (RTCM 3, UBX, NMEA
through :class:`~vngeonet.streams.demux.Demuxer`) and hands out, at once, all
packets of one data epoch when the wall clock reaches
``start + (t_data - t_first) / speed``.  The data time comes from the
observation messages themselves (:mod:`~vngeonet.streams.timetag`), so a
recording is replayed as the receiver sent it.  Packets without a time
(station, ephemeris messages) go out with the epoch they follow.  Bytes
outside valid packets are dropped in paced mode (a base station sends whole
frames only); unpaced replay passes the file through byte for byte.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path

from vngeonet.errors import StreamError
from vngeonet.streams.base import Source
from vngeonet.streams.demux import Demuxer
from vngeonet.streams.timetag import DataClock, packet_epoch_sod

log = logging.getLogger(__name__)


class FileSource(Source):
    """Replay a recorded stream from a file.

    Parameters
    ----------
    path : str or Path
        The recording (raw RTCM 3 / UBX / NMEA bytes).
    speed : float or None
        Pacing factor: 1 = real time, 10 = ten times faster; ``None`` or 0 =
        as fast as possible, unpaced.
    loop : bool
        Start again at the end of the file instead of ending the stream.
    max_gap_s : float
        A data-time jump larger than this (in data seconds) restarts the pacing
        instead of sleeping through it (gaps, loop restarts).
    chunk_size : int
        Bytes per file read.
    clock, sleep :
        Injectable monotonic clock and ``async sleep`` (tests).
    """

    def __init__(self, path, *, speed: float | None = None, loop: bool = False,
                 max_gap_s: float = 30.0, chunk_size: int = 65536,
                 clock=time.monotonic, sleep=asyncio.sleep, name: str = ""):
        super().__init__(name or f"file:{path}", clock=clock)
        self.path = Path(path)
        self.speed = float(speed) if speed else 0.0
        self.loop = loop
        self.max_gap_s = max_gap_s
        self.chunk_size = chunk_size
        self._clock = clock
        self._sleep = sleep
        self._fh = None
        self._demux = Demuxer()
        self._data_clock = DataClock()
        self._ready: deque = deque()  # (data time or None, bytes) per epoch group
        self._group_t: float | None = None
        self._group: list[bytes] = []
        self._anchor: tuple[float, float] | None = None  # (wall, data)
        self._last_t: float | None = None
        self.loops = 0

    async def _open(self) -> None:
        try:
            self._fh = open(self.path, "rb")
        except OSError as err:
            raise StreamError(f"{self.path}: {err.strerror or err}") from err

    async def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _read_raw(self) -> bytes:
        data = self._fh.read(self.chunk_size)
        if not data and self.loop and self._fh.tell() > 0:
            self._fh.seek(0)
            self.loops += 1
            data = self._fh.read(self.chunk_size)
        return data

    async def _read(self) -> bytes:
        if not self.speed:
            return self._read_raw()
        while not self._ready:
            data = self._read_raw()
            if not data:
                self._flush_group()
                if not self._ready:
                    return b""
                break
            self._split(data)
        t_data, chunk = self._ready.popleft()
        await self._pace(t_data)
        return chunk

    def _split(self, data: bytes) -> None:
        for pkt in self._demux.feed(data):
            sod = packet_epoch_sod(pkt)
            t = self._data_clock.update(sod) if sod is not None else None
            if t is not None and self._group_t is not None and abs(t - self._group_t) > 1e-6:
                self._flush_group()
            if t is not None:
                self._group_t = t
            self._group.append(pkt.raw)

    def _flush_group(self) -> None:
        if self._group:
            self._ready.append((self._group_t, b"".join(self._group)))
            self._group = []

    async def _pace(self, t_data: float | None) -> None:
        if t_data is None:
            return
        now = self._clock()
        if self._anchor is None:
            self._anchor, self._last_t = (now, t_data), t_data
            return
        wall0, data0 = self._anchor
        lag = t_data - data0
        back = self._last_t is not None and t_data < self._last_t - 1e-3
        self._last_t = t_data
        if back or lag < 0 or (lag - (now - wall0) * self.speed) > self.max_gap_s:
            self._anchor = (now, t_data)
            return
        delay = wall0 + lag / self.speed - now
        if delay > 0:
            await self._sleep(delay)
