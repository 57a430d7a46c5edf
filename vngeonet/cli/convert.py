"""``vngeonet convert``: RTCM 3 / UBX recordings -> RINEX observation + navigation files."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("convert", help="convert RTCM 3 / UBX recordings to RINEX obs + nav (like convbin)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="recordings of one station, in time order")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--rinex", type=int, choices=(3, 4), default=3, help="RINEX version: 3 (3.05) or 4 (4.00)")
    p.add_argument("--interval", type=float, default=None, metavar="S", help="decimate to S seconds")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD",
                   help="date of the data when the stream carries none (no 1013/1042/1045/1046)")
    p.add_argument("--station", default="", metavar="ID", help="4-character marker name")
    p.add_argument("--config", default=None, metavar="STATION.toml", help="station file for the header")
    p.add_argument("--compress", action="store_true", help="Hatanaka + gzip (.crx.gz) obs, gzip nav")
    p.set_defaults(func=_main)


def _main(args) -> int:
    from vngeonet.archive.convert import convert

    config = None
    if args.config:
        from vngeonet.config import load_station

        config = load_station(args.config)
    res = convert(args.inputs, args.output, version=args.rinex, interval_s=args.interval, date=args.date,
                  station=args.station, config=config, compress=args.compress)
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    span = f"{res.first.isoformat()} .. {res.last.isoformat()}" if res.first else "no epochs"
    print(f"{res.messages} messages, {res.epochs} epochs ({res.epochs_written} written), "
          f"{res.ephemerides} ephemerides, {res.crc_failures} CRC failures, {res.decode_errors} decode errors")
    print(f"time span {span} GPST; date from {res.date_source or 'nowhere'}"
          + ("; BeiDou epochs stamped with GPS time were re-timed" if res.bds_gps_stamped else ""))
    for p in (res.obs_path, res.nav_path):
        if p is not None:
            print(p)
    return 0 if res.obs_path is not None or res.nav_path is not None else 1
