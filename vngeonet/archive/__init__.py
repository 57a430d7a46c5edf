"""RINEX production: offline conversion (:mod:`.convert`) and the live, crash-safe archive (:mod:`.recorder`).

Layout ``<root>/YYYY/DDD/``; names in RINEX 3 long form; Hatanaka + gzip.
"""
