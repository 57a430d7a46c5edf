"""``vngeonet record STATION.toml...``: live ingest of station streams into the RINEX archive."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("record", help="record station streams to the crash-safe RINEX archive")
    p.add_argument("stations", nargs="+", metavar="STATION.toml", help="station files")
    p.add_argument("--root", default=None, help="archive root (default: each station's archive.root)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--source", default=None, metavar="URI", help="override the stream URI (one station only)")
    p.add_argument("--no-reconnect", action="store_true", help="stop when a stream ends instead of reconnecting")
    p.add_argument("--log-epochs", action="store_true", help="print one line per archived epoch (tests)")
    p.add_argument("--quiet", action="store_true", help="no status line")
    p.set_defaults(func=_main)


def _main(args) -> int:
    import asyncio

    from vngeonet.config import load_station

    configs = [load_station(p) for p in args.stations]
    if args.source and len(configs) != 1:
        print("vngeonet: --source needs exactly one station", file=sys.stderr)
        return 2
    return asyncio.run(_record(configs, args))


def _make_source(cfg, args):
    from vngeonet.errors import ConfigError
    from vngeonet.streams.reconnect import Backoff, LogHook, OutageMonitor, ReconnectingSource
    from vngeonet.streams.uri import open_source

    uri = args.source or cfg.stream_uri
    if not uri:
        raise ConfigError("no stream URI", path=cfg.path, key="stream.uri")
    if args.no_reconnect:
        return open_source(uri)
    hooks = [LogHook()]
    if cfg.on_event_command:
        from vngeonet.streams.reconnect import CommandHook

        hooks.append(CommandHook(list(cfg.on_event_command)))
    if cfg.event_webhook:
        from vngeonet.streams.reconnect import WebhookHook

        hooks.append(WebhookHook(cfg.event_webhook))
    monitor = OutageMonitor(cfg.id, silence_s=cfg.outage_after_s, hooks=hooks)
    return ReconnectingSource(lambda: open_source(uri), backoff=Backoff(1.0, 2.0, 120.0), monitor=monitor,
                              name=cfg.id)


async def _record(configs, args) -> int:
    import asyncio
    import signal
    import time

    from vngeonet.archive.recorder import StationRecorder

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # graceful stop: close every file under its final name
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    recs = []
    for cfg in configs:
        on_epoch = (lambda ep, sid=cfg.id: print(f"EPOCH {sid} {ep.time.seconds:.3f}", flush=True)) \
            if args.log_epochs else None
        rec = StationRecorder(cfg, _make_source(cfg, args), root=args.root, on_epoch=on_epoch, wall=time.time)
        for f in rec.recover():
            print(f"recovered {f}", file=sys.stderr)
        recs.append(rec)
    tasks = [asyncio.ensure_future(r.run(stop=stop)) for r in recs]
    status_task = None if args.quiet or args.log_epochs else asyncio.ensure_future(_status(recs))
    try:
        stopper = asyncio.ensure_future(stop.wait())
        everything = asyncio.ensure_future(asyncio.wait(tasks))
        await asyncio.wait([everything, stopper], timeout=args.duration, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        everything.cancel()
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=10)
        for r in recs:
            await r.source.aclose()
        if status_task is not None:
            status_task.cancel()
    if not args.quiet:
        print(file=sys.stderr)
        for r in recs:
            print(_line(r.status), file=sys.stderr)
    return 0


def _line(s) -> str:
    lat = f"{s.latency_s:8.1f} s" if s.latency_s is not None else "       - s"
    return (f"{s.station} {s.state:8s} {s.bytes_in:>10d} B {s.messages:>7d} msg {s.epochs:>6d} ep "
            f"last {s.last_epoch or '-':23s} latency {lat} files {s.files_closed}")


async def _status(recs) -> None:
    import asyncio

    while True:
        text = " | ".join(_line(r.status) for r in recs)
        print("\r" + text[:200], end="", file=sys.stderr, flush=True)
        await asyncio.sleep(1.0)
