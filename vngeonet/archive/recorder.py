"""Live ingest: a station's stream -> epochs -> crash-safe hourly/daily RINEX archive.

One :class:`StationRecorder` per station: it reads the station's
:class:`~vngeonet.streams.base.Source` (wrapped for reconnects), frames and
decodes RTCM 3, builds epochs (:class:`~vngeonet.epochs.EpochBuilder`) and
hands them to one :class:`~vngeonet.archive.files.ObsFile` per configured
product, plus a daily navigation file.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import time
from dataclasses import dataclass

from vngeonet.archive.files import recover
from vngeonet.archive.station import StationArchive
from vngeonet.epochs import EpochBuilder

log = logging.getLogger(__name__)


@dataclass
class RecorderStatus:
    """What the status line shows for one station."""

    station: str
    bytes_in: int = 0
    messages: int = 0
    epochs: int = 0
    last_epoch: str = ""
    latency_s: float | None = None
    files_closed: int = 0
    decode_errors: int = 0
    state: str = "starting"


class StationRecorder:
    """Record one station to the archive.

    Parameters
    ----------
    config : StationConfig
        The station file (id, long name, archive products, flush interval).
    source : Source
        The stream (e.g. ``open_source(config.stream_uri)``, possibly wrapped in
        :class:`~vngeonet.streams.reconnect.ReconnectingSource`).
    root : path, optional
        Archive root (default ``config.archive_root``).
    on_epoch : callable, optional
        Called with every epoch after it was handed to the archive.
    clock : callable
        Monotonic clock for arrival times (epoch timeouts, flushes).
    wall : callable, optional
        Wall clock (``time.time``) for latency = arrival - data epoch; ``None``: not measured.
    """

    def __init__(self, config, source, *, root=None, on_epoch=None, clock=time.monotonic, wall=None):
        from vngeonet.rtcm.framer import RTCMFramer

        self.config, self.source = config, source
        self.root = root if root is not None else config.archive_root
        self.on_epoch, self.clock, self.wall = on_epoch, clock, wall
        self.builder = EpochBuilder(config.id, config=config)
        self.framer = RTCMFramer(source=config.id)
        self.demux = None
        if getattr(config, "stream_format", "rtcm3") != "rtcm3":
            from vngeonet.streams.demux import Demuxer
            from vngeonet.streams.ubx_nav import UBXNavAssembler

            self.demux = Demuxer()
            self._lnav = UBXNavAssembler()
            self._ubx_week = None
        self.status = RecorderStatus(config.id)
        self.archive = StationArchive(self.root, config)
        self.products = self.archive.products
        self.nav = self.archive.nav
        self._last_wall_flush = clock()

    def recover(self) -> list:
        """Finish ``.part`` files a crash left in the archive."""
        return recover(self.root)

    async def run(self, *, stop: asyncio.Event | None = None) -> RecorderStatus:
        """Record until the source ends or ``stop`` is set; closes every file at the end."""
        self.status.state = "running"
        try:
            while stop is None or not stop.is_set():
                data = await self._read(stop)
                if not data:
                    break
                self.status.bytes_in += len(data)
                now = self.clock()
                if self.demux is None:
                    self._rtcm(self.framer.feed(data), now)
                else:
                    self._mixed(data, now)
                self._note_ephemerides()
                self._timed_flush(now)
            for ep in self.builder.flush():
                self._archive(ep)
        finally:
            self.close()
        return self.status

    def _rtcm(self, frames, now: float) -> None:
        from vngeonet.rtcm.decode import decode_frames

        stats = self.source.stats
        for f in frames:
            stats.record_frame(f.msg_type)
        stats.crc_failures = self.framer.stats.crc_failures
        stats.skipped_bytes = self.framer.stats.skipped_bytes
        for msg in decode_frames(frames, self.builder.ctx):
            self.status.messages += 1
            for ep in self.builder.add(msg, now):
                self._archive(ep)

    def _mixed(self, data: bytes, now: float) -> None:
        """RTCM 3 + UBX + NMEA on one stream: RTCM decoded as usual, UBX RAWX/SFRBX directly."""
        from vngeonet.epochs import Epoch
        from vngeonet.model import Frame
        from vngeonet.streams.demux import rawx_to_obs_epoch

        frames = []
        for p in self.demux.feed(data):
            self.source.stats.record_frame(p.msg if p.proto == "RTCM3" else f"{p.proto}-{p.msg}")
            if p.proto == "RTCM3":
                frames.append(Frame(p.msg, p.payload, p.raw, p.offset))
            elif p.msg == "RXM-RAWX":
                self.status.messages += 1
                obs = rawx_to_obs_epoch(p.payload, self.config.id)
                if obs.time.week >= 1024 and len(obs.sat):
                    self._ubx_week = obs.time.week
                    self._archive(Epoch(obs.time, obs, tuple(sorted({s[0] for s in obs.sat.tolist()})), True,
                                        self.builder.meta, ()))
            elif p.msg == "RXM-SFRBX":
                self.status.messages += 1
                eph = self._lnav.add(p.payload, self._ubx_week)
                if eph is not None:
                    self.builder.add_ephemeris(eph)
        self.source.stats.crc_failures = self.demux.crc_failures
        self.source.stats.skipped_bytes = self.demux.skipped_bytes
        if frames:
            self._rtcm(frames, now)

    async def _read(self, stop):
        if stop is None:
            return await self.source.read()
        task = asyncio.ensure_future(self.source.read())
        waiter = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({task, waiter}, timeout=self.builder.timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task in done:
            return task.result()
        task.cancel()
        if stop.is_set():
            return b""
        for ep in self.builder.poll(self.clock()):
            self._archive(ep)
        return await self._read(stop)

    def _archive(self, ep) -> None:
        self.archive.add(ep, self.builder)
        self.status.epochs += 1
        self.status.last_epoch = ep.time.isoformat()
        if self.wall is not None:  # latency: arrival (wall clock as GPS time) minus the data epoch
            from vngeonet.gnss.time import utc_to_gps

            now = utc_to_gps(_dt.datetime.fromtimestamp(self.wall(), _dt.UTC).replace(tzinfo=None))
            self.status.latency_s = now - ep.time
            self.source.stats.latency_s.append(self.status.latency_s)
            if len(self.source.stats.latency_s) > self.source.stats.window:
                self.source.stats.latency_s.popleft()
        if self.on_epoch is not None:
            self.on_epoch(ep)

    def _note_ephemerides(self) -> None:
        self.archive.add_ephemerides(self.builder)

    def _timed_flush(self, now: float) -> None:
        if now - self._last_wall_flush >= self.config.flush_interval_s:
            for p in self.products:
                p.flush()
            self._last_wall_flush = now

    def close(self) -> None:
        """Close every open archive file (final names, compression)."""
        self.archive.close()
        self.status.files_closed = self.archive.files_closed
        self.status.state = "stopped"
