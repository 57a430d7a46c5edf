"""RINEX production: offline conversion (:mod:`.convert`), the crash-safe archive files
(:mod:`.files`), per-station and network archives (:mod:`.station`) and live recording
(:mod:`.recorder`).

Layout ``<root>/YYYY/DDD/``; names in RINEX 3 long form; Hatanaka + gzip.
"""

from vngeonet.archive.station import Archive, StationArchive

__all__ = ["Archive", "StationArchive"]
