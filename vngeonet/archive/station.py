"""The archive of one station, and of a whole network (:class:`Archive`, used by ``vngeonet run``).

A :class:`StationArchive` owns one :class:`~vngeonet.archive.files.ObsFile`
per configured product (span x interval) and the daily navigation file of a
station; epochs and ephemerides come from the station's
:class:`~vngeonet.epochs.EpochBuilder`.  Headers are built from the station
file first, then from what the stream told (builder metadata).
"""

from __future__ import annotations

import logging
from pathlib import Path

from vngeonet.archive.files import NavFile, ObsFile, recover
from vngeonet.rinex.writer import header_from_meta

log = logging.getLogger(__name__)


class StationArchive:
    """Archive files of one station.

    Parameters
    ----------
    root : path
        Archive root (files go to ``<root>/YYYY/DDD/``).
    config : StationConfig
        Long name, products (``[[archive.files]]``) and flush interval.
    """

    def __init__(self, root, config):
        self.root, self.config = Path(root), config
        self._meta = None
        products = config.archive or ()
        self.products = [ObsFile(self.root, config.long_name, self._header, span_s=p.span_s,
                                 interval_s=p.interval_s, version=p.rinex_version, compress=p.compress,
                                 flush_interval_s=config.flush_interval_s) for p in products]
        self.nav = NavFile(self.root, config.long_name, compress=any(p.compress for p in products) or not products)
        self._eph_seen = 0
        self.files_closed = 0

    def _header(self, obs_types, first_obs, interval_s):
        return header_from_meta(self._meta, obs_types, interval_s=interval_s, first_obs=first_obs)

    def add(self, ep, builder) -> None:
        """Archive one epoch; new ephemerides of ``builder`` go to the navigation file."""
        self._meta = builder.meta
        for p in self.products:
            p.add(ep.obs)
        self.add_ephemerides(builder)

    def add_ephemerides(self, builder) -> None:
        eph = builder.ephemerides()
        if len(eph) == self._eph_seen:
            return
        t = builder.ctx.approx_time
        for e in eph[self._eph_seen:]:
            self.nav.add(e, t or e.toe, builder.meta.leap_s)
        self._eph_seen = len(eph)

    def flush(self) -> None:
        for p in self.products:
            p.flush()

    def close(self) -> None:
        """Close every open file (final names, compression)."""
        for p in self.products:
            if p.close() is not None:
                self.files_closed += 1
        if self.nav.close() is not None:
            self.files_closed += 1


class Archive:
    """The archive of a network: one :class:`StationArchive` per station id.

    Parameters
    ----------
    root : path
        Archive root shared by all stations.
    configs : dict[str, StationConfig]
        Station files by id.
    recover_parts : bool
        Finish the ``.part`` files a crash left under ``root`` first.
    """

    def __init__(self, root, configs: dict, *, recover_parts: bool = True):
        self.root = Path(root)
        self.recovered = recover(self.root) if recover_parts and self.root.exists() else []
        self.stations = {sid: StationArchive(self.root, cfg) for sid, cfg in configs.items()}

    def write(self, station_id: str, ep, builder) -> None:
        """Archive epoch ``ep`` of ``station_id`` (metadata and ephemerides from ``builder``)."""
        self.stations[station_id].add(ep, builder)

    def flush(self) -> None:
        for st in self.stations.values():
            st.flush()

    def close(self) -> None:
        for st in self.stations.values():
            st.close()
