"""``vngeonet run``: every configured station, the caster, the archive, the monitors.

For each station file in the stations directory:

* its stream (``sim://``, ``ntrip://``, ``serial://``, ``tcp://``...) is read,
  reconnecting with back-off when it is a real link;
* the bytes are framed once; whole frames go untouched to the station's
  caster mountpoint (raw relay), and each frame is decoded once;
* the decoded messages build the station's epochs
  (:class:`~vngeonet.epochs.EpochBuilder`), which feed the RINEX archive and
  the SPP monitor (position against the configured coordinates, alarm over a
  threshold).

The caster serves one mountpoint per station plus ``NEAREST``; accounts live in
SQLite under the data directory; the status page and ``/status`` JSON are on
their own port (:mod:`vngeonet.service.web`).

Queues and overflow: a station pipeline processes each chunk as it arrives
(no queue between reading and framing); the caster's per-rover queues drop
the oldest whole frames for slow rovers (see :mod:`vngeonet.caster.mounts`);
the simulator drops its oldest epoch when a station is not read (counted).

Shutdown order (Ctrl-C / SIGTERM): stop the status page, stop the station
readers, close the archive files (complete files are renamed into place,
the open hour is flushed), close the caster (stop accepting, close mounts,
drain rovers, cancel), close the database.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vngeonet.config import StationConfig, load_stations
from vngeonet.errors import ConfigError, FormatError, StreamError
from vngeonet.gnss.time import GPSTime
from vngeonet.streams.timetag import gps_now

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """Settings of :class:`NetworkService` (the CLI's options)."""

    stations_dir: Path = Path("stations")
    data_dir: Path = Path("var")
    caster_listen: tuple = ("127.0.0.1", 2101)
    http_listen: tuple = ("127.0.0.1", 8080)
    users: list = field(default_factory=list)  # [(name, password)]
    sim: bool = True  # False: skip sim:// stations (--no-sim)
    sim_speed: float | None = None  # override the speed of every sim:// stream
    sim_start: str | None = None  # ISO GPS time of the simulation's first epoch
    archive: bool = True
    spp_interval_s: float = 10.0  # data seconds between SPP monitor solutions per station
    alarm_m: float = 10.0  # SPP error (3D) that raises a station alarm
    stale_s: float = 10.0  # a station with no data this long is shown down


@dataclass
class StationState:
    """Live state of one station pipeline (read by the status page)."""

    config: StationConfig
    rtcm_id: int
    up: bool = False
    frames: int = 0
    decode_errors: int = 0
    epochs: int = 0
    nsat: int = 0
    latency_s: float | None = None
    last_epoch: GPSTime | None = None
    last_data_mono: float | None = None
    spp_error_m: float | None = None
    spp_enu_m: list | None = None
    spp_time: GPSTime | None = None
    alarm: bool = False
    archived_epochs: int = 0
    source: object = None
    framer: object = None
    builder: object = None
    store: object = None
    store_key: tuple = ()
    last_spp_s: float = -math.inf
    error: str = ""


class NetworkService:
    """The whole network in one process.

    Parameters
    ----------
    opts : RunOptions

    Notes
    -----
    **Cancellation**: cancelling :meth:`run` performs :meth:`aclose`.
    **Resource handling**: every socket, file and task is released by
    :meth:`aclose`.  **Error handling**: a station's stream failing is logged
    and retried; bad frames are counted; nothing one station does stops the others.
    """

    def __init__(self, opts: RunOptions):
        self.opts = opts
        stations = load_stations(opts.stations_dir)
        if not opts.sim:
            stations = [s for s in stations if not s.stream_uri.startswith("sim://")]
        stations = [s for s in stations if s.stream_uri]
        if not stations:
            raise ConfigError(f"no station with a stream in {opts.stations_dir}", path=str(opts.stations_dir))
        self.stations = {s.id: StationState(s, rtcm_id=i + 1) for i, s in enumerate(stations)}
        self.caster = None
        self.web = None
        self.archive = None
        self.user_store = None
        self._tasks: list[asyncio.Task] = []
        self._started_mono = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        from vngeonet.caster.server import NTRIPCaster
        from vngeonet.service.web import StatusServer
        from vngeonet.store import open_store

        self.opts.data_dir.mkdir(parents=True, exist_ok=True)
        self.user_store = open_store(self.opts.data_dir / "caster.db")
        for name, password in self.opts.users:
            _upsert_user(self.user_store, name, password)
        self.caster = NTRIPCaster(self._caster_config(), self.user_store)
        await self.caster.start()
        if self.opts.archive:
            self.archive = _open_archive(self.opts.data_dir / "archive", list(self.stations.values()))
        self.web = StatusServer(self.status, *self.opts.http_listen)
        await self.web.start()
        loop = asyncio.get_running_loop()
        for st in self.stations.values():
            self._tasks.append(loop.create_task(self._run_station(st), name=f"station-{st.config.id}"))
        self._tasks.append(loop.create_task(self._watchdog(), name="watchdog"))

    async def aclose(self) -> None:
        if self.web is not None:
            await self.web.aclose()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for st in self.stations.values():
            if st.source is not None:
                await st.source.aclose()
            if st.builder is not None:
                for ep in st.builder.flush():
                    self._archive_epoch(st, ep)
        if self.archive is not None:
            self.archive.close()
            self.archive = None
        if self.caster is not None:
            await self.caster.aclose()
        if self.user_store is not None:
            self.user_store.close()
            self.user_store = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Start, wait for ``stop`` (or cancellation), shut down."""
        await self.start()
        try:
            await (stop or asyncio.Event()).wait()
        finally:
            await self.aclose()

    # ------------------------------------------------------------------ configuration
    def _caster_config(self):
        from vngeonet.caster.config import CasterConfig, MountConfig
        from vngeonet.gnss.coords import ecef_to_llh

        mounts = []
        for st in self.stations.values():
            c = st.config
            lat = lon = None
            if all(math.isfinite(v) for v in c.pos_ecef_m):
                llh = ecef_to_llh(np.asarray(c.pos_ecef_m, dtype=float))
                lat, lon = math.degrees(llh[0]), math.degrees(llh[1])
            mounts.append(MountConfig(name=c.id, identifier=c.name or c.id, country="VNM",
                                      network="VNGEONET", lat_deg=lat, lon_deg=lon))
        mounts.append(MountConfig(name="NEAREST", kind="nearest", identifier="nearest station",
                                  country="VNM", network="VNGEONET", nmea=True))
        return CasterConfig(listen=tuple(self.opts.caster_listen), db=str(self.opts.data_dir / "caster.db"),
                            mounts=tuple(mounts),
                            networks=({"identifier": "VNGEONET", "operator": "vngeonet"},))

    # ------------------------------------------------------------------ station pipelines
    def _open_source(self, st: StationState):
        from vngeonet.streams.uri import open_source, parse_uri

        uri = parse_uri(st.config.stream_uri)
        if uri.scheme == "sim":
            params = dict(uri.params)
            if self.opts.sim_speed is not None:
                params["speed"] = str(self.opts.sim_speed)
            if self.opts.sim_start is not None:
                params["start"] = self.opts.sim_start
            uri = type(uri)(uri.scheme, uri.host, uri.port, uri.path, uri.user, uri.password, params)
            return open_source(uri, pos_ecef_m=st.config.pos_ecef_m, rtcm_id=st.rtcm_id)
        from vngeonet.streams.reconnect import ReconnectingSource

        return ReconnectingSource(lambda: open_source(uri), name=f"{st.config.id}:{uri.redacted()}")

    async def _run_station(self, st: StationState) -> None:
        from vngeonet.epochs import EpochBuilder
        from vngeonet.rtcm.context import DecodeContext
        from vngeonet.rtcm.framer import RTCMFramer

        st.framer = RTCMFramer()
        ctx = DecodeContext(source=st.config.id)
        st.builder = EpochBuilder(st.config.id, config=st.config, ctx=ctx)
        while True:
            try:
                st.source = self._open_source(st)
                async with st.source:
                    async for chunk in st.source:
                        self._ingest(st, chunk)
                log.warning("%s: stream ended", st.config.id)
            except asyncio.CancelledError:
                raise
            except (StreamError, OSError, ConfigError) as err:
                st.error = str(err)
                log.warning("%s: stream failed: %s", st.config.id, err)
            except Exception:
                st.error = "internal error (see log)"
                log.exception("%s: pipeline failed", st.config.id)
            st.up = False
            if self.caster is not None:
                self.caster.close_source(st.config.id)
            await asyncio.sleep(5.0)

    def _ingest(self, st: StationState, chunk: bytes) -> None:
        from vngeonet.rtcm.decode import decode

        now = time.monotonic()
        st.last_data_mono = now
        st.up = True
        frames = st.framer.feed(chunk)
        if not frames:
            return
        st.frames += len(frames)
        self.caster.publish(st.config.id, frames)
        for f in frames:
            try:
                msg = decode(f, st.builder.ctx)
            except FormatError as err:
                st.decode_errors += 1
                log.debug("%s: %s", st.config.id, err)
                continue
            for ep in st.builder.add(msg, now):
                self._on_epoch(st, ep)

    def _on_epoch(self, st: StationState, ep) -> None:
        st.epochs += 1
        st.last_epoch = ep.time
        st.nsat = len(np.unique(ep.obs.sat))
        st.latency_s = float(gps_now() - ep.time)
        self._archive_epoch(st, ep)
        if ep.time.seconds - st.last_spp_s >= self.opts.spp_interval_s:
            st.last_spp_s = ep.time.seconds
            self._monitor(st, ep)

    def _archive_epoch(self, st: StationState, ep) -> None:
        if self.archive is None:
            return
        try:
            self.archive.write(st.config.id, ep, st.builder)
            st.archived_epochs += 1
        except Exception:
            log.exception("%s: archiving epoch %s failed", st.config.id, ep.time.isoformat())

    def _monitor(self, st: StationState, ep) -> None:
        from vngeonet.gnss.coords import ecef_to_enu
        from vngeonet.orbits.store import EphemerisStore
        from vngeonet.positioning.spp import solve_epoch

        ephs = st.builder.current_ephemerides()
        key = tuple(sorted((e.sat, e.toe.seconds) for e in ephs))
        if key != st.store_key:
            st.store, st.store_key = EphemerisStore(ephs), key
        if not ephs:
            return
        ref = np.asarray(st.config.pos_ecef_m, dtype=float)
        sol = solve_epoch(ep.obs, st.store, x0_ecef_m=ref if np.isfinite(ref).all() else None)
        st.spp_time = ep.time
        if not np.isfinite(sol.pos_ecef_m).all() or not np.isfinite(ref).all():
            st.spp_error_m = None
            return
        enu = ecef_to_enu(sol.pos_ecef_m, ref)
        st.spp_enu_m = [round(float(v), 3) for v in enu]
        st.spp_error_m = float(np.linalg.norm(enu))
        was = st.alarm
        st.alarm = st.spp_error_m > self.opts.alarm_m
        if st.alarm and not was:
            log.warning("%s: SPP position %.1f m from the configured coordinates (alarm)",
                        st.config.id, st.spp_error_m)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for st in self.stations.values():
                if st.builder is not None:
                    for ep in st.builder.poll(now):
                        self._on_epoch(st, ep)
                if st.up and st.last_data_mono is not None and now - st.last_data_mono > self.opts.stale_s:
                    st.up = False

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        """The ``/status`` document."""
        rovers = 0
        per_mount: dict[str, int] = {}
        if self.caster is not None:
            sessions = self.caster.status().get("sessions", [])
            rovers = len(sessions)
            for s in sessions:
                key = s.get("station") or s.get("mount") or ""
                per_mount[key] = per_mount.get(key, 0) + 1
        out = []
        for st in self.stations.values():
            out.append({
                "id": st.config.id, "name": st.config.name, "up": st.up,
                "stream": _redacted(st.config.stream_uri),
                "latency_s": None if st.latency_s is None else round(st.latency_s, 3),
                "nsat": st.nsat, "epochs": st.epochs, "frames": st.frames,
                "crc_failures": 0 if st.framer is None else st.framer.stats.crc_failures,
                "decode_errors": st.decode_errors,
                "last_epoch": None if st.last_epoch is None else st.last_epoch.isoformat(),
                "spp_error_m": None if st.spp_error_m is None else round(st.spp_error_m, 3),
                "spp_enu_m": st.spp_enu_m, "alarm": st.alarm,
                "archived_epochs": st.archived_epochs, "rovers": per_mount.get(st.config.id, 0),
                "error": st.error,
            })
        return {
            "stations": out, "rovers": rovers,
            "caster": None if self.caster is None else f"{self.opts.caster_listen[0]}:{self.caster.port}",
            "uptime_s": round(time.monotonic() - self._started_mono, 1),
        }


def _redacted(uri: str) -> str:
    from vngeonet.streams.uri import parse_uri

    try:
        return parse_uri(uri).redacted()
    except ConfigError:
        return "(invalid)"


def _upsert_user(store, name: str, password: str) -> None:
    from vngeonet.caster.auth import hash_password

    if not name or not password:
        raise ConfigError("--user needs NAME:PASSWORD with both parts", key="user")
    h = hash_password(password)
    if store.get_user(name) is None:
        store.add_user(name, h, mounts=("*",))
    else:
        store.set_password(name, h)
        store.grant("*", user=name)


def _open_archive(root: Path, stations: list[StationState]):
    """The RINEX archive writer for these stations (see :mod:`vngeonet.archive`)."""
    from vngeonet.archive import Archive

    return Archive(root, {st.config.id: st.config for st in stations})
