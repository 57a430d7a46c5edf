"""``sim://ID`` sources: simulated reference stations as live streams.

All ``sim://`` stations of a process share one :class:`SimNetwork`, which
computes each epoch for every station in one vectorised pass
(:class:`~vngeonet.sim.physics.NetworkSimulator`) and encodes each station's
RTCM 3 frames (:class:`~vngeonet.sim.receiver.SimReceiver`); the broadcast
ephemeris set is computed and framed once per change (hourly) for all of them.  A
:class:`SimSource` reads its station's bytes like any receiver stream.

URI parameters: ``speed`` (epochs per wall-clock second relative to real
time, default 1; 0 = as fast as the consumer reads), ``start`` (ISO GPS time
of the first epoch; default: now), ``interval`` (s between epochs, default 1),
``seed``, ``systems`` (default ``GREC``), ``nav`` (a RINEX navigation file: the sky of that
day instead of the nominal constellations), ``id`` (RTCM station id, default from
the station's position in the network).

Cancellation
    Cancelling ``read()`` loses nothing: epochs are queued per station.
Resource handling
    The network's producer task stops when its last source is closed.
Error handling
    The simulator cannot fail on I/O; a programming error is logged and
    ends the stream (``b""``).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import time

import numpy as np

from vngeonet.errors import ConfigError
from vngeonet.gnss.time import GPSTime
from vngeonet.streams.base import Source
from vngeonet.streams.timetag import gps_now

log = logging.getLogger(__name__)

_QUEUE_EPOCHS = 120  # per-station backlog; older epochs are dropped (and counted) beyond it


class SimNetwork:
    """The shared clock and simulator of all ``sim://`` stations in a process.

    Parameters
    ----------
    start : GPSTime
        Time of the first epoch.
    speed : float
        Simulated seconds per wall-clock second (0: unpaced).
    interval_s : float
        Epoch interval.
    seed : int
    systems : str
    clock, sleep :
        Injectable monotonic clock and ``async sleep`` (tests).
    """

    def __init__(self, start: GPSTime, speed: float = 1.0, interval_s: float = 1.0,
                 seed: int = 20261123, systems: str = "GREC", clock=time.monotonic,
                 sleep=asyncio.sleep, nav=None):
        self.nav = nav  # real broadcast ephemerides for the sky (None: nominal constellations)
        self.live = False  # start is the current time: pace epochs on the wall clock's seconds
        self.start = start
        self.speed = speed
        self.interval_s = interval_s
        self.seed = seed
        self.systems = systems
        self._clock = clock
        self._sleep = sleep
        self._stations: dict[str, tuple] = {}  # id -> (pos, rtcm id)
        self._queues: dict[str, asyncio.Queue] = {}
        self.dropped: dict[str, int] = {}
        self._task: asyncio.Task | None = None
        self._sim = None
        self._receivers: dict = {}
        self._eph_key = None  # (sat, toe) of the set last given to the receivers
        self.epochs = 0
        self.t = start

    def add_station(self, sid: str, pos_ecef_m, rtcm_id: int) -> asyncio.Queue:
        """Register a station (before or after the start); returns its byte queue."""
        if sid in self._stations:
            raise ConfigError(f"sim station {sid} is opened twice", key="stream.uri")
        self._stations[sid] = (tuple(float(v) for v in pos_ecef_m), rtcm_id)
        q: asyncio.Queue = asyncio.Queue(maxsize=_QUEUE_EPOCHS)
        self._queues[sid] = q
        self.dropped[sid] = 0
        self._sim = None  # rebuilt with the new station at the next epoch
        return q

    def remove_station(self, sid: str) -> None:
        self._stations.pop(sid, None)
        self._queues.pop(sid, None)
        self._sim = None
        if not self._stations and self._task is not None:
            self._task.cancel()
            self._task = None

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sim-network")

    def _build(self):
        from vngeonet.sim.physics import NetworkSimulator, SimOptions, SimStation
        from vngeonet.sim.receiver import SimReceiver

        ids = sorted(self._stations)
        self._sim = NetworkSimulator([SimStation(s, self._stations[s][0]) for s in ids],
                                     SimOptions(systems=self.systems, seed=self.seed), nav=self.nav)
        old = self._receivers
        glo = self._sim.glo_channels
        self._receivers = {s: old.get(s) or SimReceiver(self._stations[s][1], self._stations[s][0],
                                                        systems=self.systems, glo_channels=glo)
                           for s in ids}
        self._eph_key = None  # new receivers need the current set

    def step(self) -> dict[str, bytes]:
        """Compute and encode the next epoch of every station (pure, no pacing)."""
        if self._sim is None:
            self._build()
        t = self.t
        self._update_ephemerides(t)
        out = {}
        for sid, ep in self._sim.epoch(t).items():
            out[sid] = self._receivers[sid].encode(ep)
        self.t = t + self.interval_s
        self.epochs += 1
        return out

    def _update_ephemerides(self, t: GPSTime) -> None:
        """Give every receiver the ephemeris set of ``t`` when it changes, framed once for all."""
        from vngeonet.sim.receiver import ephemeris_frames

        ephs = self._sim.ephemerides(t)
        key = tuple((e.sat, e.toe) for e in ephs)
        if key == self._eph_key:
            return
        frames = ephemeris_frames(ephs)
        for rx in self._receivers.values():
            rx.set_ephemerides(ephs, frames)
        self._eph_key = key

    async def _run(self) -> None:
        wall0 = self._clock()
        if self.live and self.speed == 1.0:
            # Real-time simulation of "now": emit each epoch when the wall clock reaches it,
            # as a receiver does (latency then is encoding and transport only).
            now = gps_now()
            wall0 += (self.t - now) if 0.0 < (self.t - now) < 5.0 else 0.0
        n = 0
        try:
            while self._stations:
                if self.speed > 0:
                    delay = wall0 + n * self.interval_s / self.speed - self._clock()
                    if delay > 0:
                        await self._sleep(delay)
                else:
                    # Unpaced: produce only as fast as the slowest reader drains.
                    while any(q.full() for q in self._queues.values()):
                        await self._sleep(0.001)
                for sid, data in self.step().items():
                    self._offer(sid, data)
                n += 1
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("simulated network stopped")
            for q in self._queues.values():
                self._put_drop_oldest(q, b"")

    def _offer(self, sid: str, data: bytes) -> None:
        q = self._queues.get(sid)
        if q is not None and self._put_drop_oldest(q, data):
            self.dropped[sid] += 1
            log.warning("sim station %s: reader too slow, dropped the oldest epoch", sid)

    @staticmethod
    def _put_drop_oldest(q: asyncio.Queue, data: bytes) -> bool:
        dropped = False
        if q.full():
            q.get_nowait()
            dropped = True
        q.put_nowait(data)
        return dropped


_networks: dict[tuple, SimNetwork] = {}


def network_for(start: GPSTime | None, speed: float, interval_s: float, seed: int, systems: str,
                nav_path: str | None = None) -> SimNetwork:
    """The shared :class:`SimNetwork` for these parameters (one per distinct set).

    ``nav_path``: a RINEX navigation file whose real ephemerides make the sky; the
    simulation then starts (by default) at 01:00 of the file's day.
    """
    key = (start, speed, interval_s, seed, systems, nav_path)
    net = _networks.get(key)
    if net is None:
        nav = None
        if nav_path:
            from vngeonet.rinex.nav import read_nav

            nav = read_nav([nav_path]).ephemerides
            if not nav:
                raise ConfigError(f"{nav_path}: no ephemerides for the simulated sky", key="nav")
        if start is None and nav:
            # 01:00 of the day most ephemerides belong to (a daily file also holds the eve's).
            mid = float(np.median([e.toe.seconds for e in nav]))
            start = GPSTime.from_seconds(86400.0 * (mid // 86400.0) + 3600.0)  # GPS days start at t = k * 86400
        live = start is None and not nav
        if live:
            now = gps_now()
            start = GPSTime.from_seconds(float(int(now.seconds)) + 1.0)
        net = SimNetwork(start, speed, interval_s, seed, systems, nav=nav)
        net.live = live
        _networks[key] = net
    return net


class SimSource(Source):
    """One simulated station's RTCM 3 stream.

    Parameters
    ----------
    station : str
        Station id (``sim://ID``).
    pos_ecef_m : tuple of 3 float
        True antenna position (normally the station file's adopted position).
    rtcm_id : int
        DF003 station id in the frames.
    network : SimNetwork
    """

    def __init__(self, station: str, pos_ecef_m, rtcm_id: int, network: SimNetwork, name: str = ""):
        super().__init__(name or f"sim://{station}")
        self.station = station
        self.pos_ecef_m = pos_ecef_m
        self.rtcm_id = rtcm_id
        self.network = network
        self._q: asyncio.Queue | None = None

    async def _open(self) -> None:
        self._q = self.network.add_station(self.station, self.pos_ecef_m, self.rtcm_id)
        self.network.ensure_running()

    async def _read(self) -> bytes:
        return await self._q.get()

    async def _close(self) -> None:
        if self._q is not None:
            self.network.remove_station(self.station)
            self._q = None


def parse_start(text: str | None) -> GPSTime | None:
    """``start`` URI parameter (ISO 8601 GPS time) to GPSTime; ``None`` when absent."""
    if not text:
        return None
    try:
        return GPSTime.from_datetime(_dt.datetime.fromisoformat(text))
    except ValueError as err:
        raise ConfigError(f"sim start {text!r} is not an ISO 8601 time", key="start") from err
