"""``vngeonet run``: the whole network (sources, caster, archive, monitors, status page)."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run the network: stations, NTRIP caster, RINEX archive, SPP monitors, status page",
        description="Start every station in the stations directory (the demonstration network "
                    "streams from the built-in simulator), the NTRIP caster (one mountpoint per "
                    "station and NEAREST), the RINEX archive, per-station SPP monitors and the "
                    "status page.  Ctrl-C shuts down cleanly.",
    )
    p.add_argument("--stations", default="stations", help="directory of station files (default: stations/)")
    p.add_argument("--data", default="var", help="data directory: database and archive (default: ./var)")
    p.add_argument("--caster", default="127.0.0.1:2101", metavar="HOST:PORT",
                   help="caster address (default 127.0.0.1:2101)")
    p.add_argument("--http", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="status page address (default 127.0.0.1:8080)")
    p.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD",
                   help="create or update this rover account (access to every mountpoint); repeatable")
    p.add_argument("--no-sim", action="store_true", help="skip stations whose stream is sim://")
    p.add_argument("--sim-speed", type=float, default=None,
                   help="simulated seconds per wall second for sim:// stations (default: the URI's, 1)")
    p.add_argument("--sim-start", default=None, metavar="ISO",
                   help="GPS time of the simulation's first epoch (default: now)")
    p.add_argument("--no-archive", action="store_true", help="do not write RINEX files")
    p.add_argument("--spp-interval", type=float, default=10.0, metavar="S",
                   help="seconds of data between SPP monitor solutions per station (default 10)")
    p.add_argument("--alarm", type=float, default=10.0, metavar="M",
                   help="SPP error that raises a station alarm, metres (default 10)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    from pathlib import Path

    from vngeonet.caster.config import parse_hostport
    from vngeonet.errors import ConfigError, StreamError
    from vngeonet.service.network import NetworkService, RunOptions

    users = []
    for u in args.user:
        name, sep, pw = u.partition(":")
        if not sep or not name or not pw:
            raise ConfigError(f"--user {name or u!r}: expected NAME:PASSWORD", key="user")
        users.append((name, pw))
    opts = RunOptions(
        stations_dir=Path(args.stations), data_dir=Path(args.data),
        caster_listen=parse_hostport(args.caster, key="caster"),
        http_listen=parse_hostport(args.http, key="http"), users=users, sim=not args.no_sim,
        sim_speed=args.sim_speed, sim_start=args.sim_start, archive=not args.no_archive,
        spp_interval_s=args.spp_interval, alarm_m=args.alarm,
    )

    async def main() -> None:
        svc = NetworkService(opts)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await svc.start()
        except OSError as err:
            await svc.aclose()
            raise StreamError(f"cannot start the network: {err.strerror or err} "
                              f"(is another vngeonet already listening? use --caster/--http)") from err
        host = opts.caster_listen[0]
        print(f"vngeonet: {len(svc.stations)} stations; NTRIP caster on {host}:{svc.caster.port} "
              f"(mountpoints: {', '.join(svc.stations)}, NEAREST)", flush=True)
        print(f"vngeonet: status page http://{opts.http_listen[0]}:{svc.web.port}/ "
              f"(JSON: /status); data in {opts.data_dir}/", flush=True)
        who = users[0][0] if users else "USER"
        print(f"vngeonet: connect a rover:  vngeonet ntrip get "
              f"'ntrip://{who}:PASSWORD@{host}:{svc.caster.port}/NEAREST?gga=21.03,105.85,20' -o rover.rtcm",
              flush=True)
        if not users:
            print("vngeonet: no rover account given: add one with --user NAME:PASSWORD", flush=True)
        print("vngeonet: Ctrl-C stops", flush=True)
        try:
            await stop.wait()
        finally:
            print("vngeonet: shutting down", flush=True)
            await svc.aclose()

    asyncio.run(main())
    return 0
