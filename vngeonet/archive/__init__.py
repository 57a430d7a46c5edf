"""RINEX production: offline conversion (:mod:`.convert`), the crash-safe archive files
(:mod:`.files`), per-station and network archives (:mod:`.station`) and live recording
(:mod:`.recorder`).

Layout ``<root>/YYYY/DDD/``; names in RINEX 3 long form; Hatanaka + gzip.
``Archive`` and ``StationArchive`` are imported on first use, so that the
converter does not load the live archive's modules.
"""

__all__ = ["Archive", "StationArchive"]


def __getattr__(name: str):
    if name in __all__:
        from vngeonet.archive import station

        return getattr(station, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
