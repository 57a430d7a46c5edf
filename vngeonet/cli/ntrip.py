"""``vngeonet ntrip get|push``: NTRIP client and NTRIP server (base-station) commands."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("ntrip", help="NTRIP client (get) and server/base-station push")
    sub = p.add_subparsers(dest="ntrip_command", metavar="ACTION")
    g = sub.add_parser("get", help="stream a mountpoint to stdout or a file, or print the sourcetable")
    g.add_argument("url", help="ntrip://user:pass@host:port/MOUNT?v=2[&gga=lat,lon,h]")
    g.add_argument("-o", "--output", help="write the stream here (default: standard output)")
    g.add_argument("--sourcetable", action="store_true", help="download and print the sourcetable")
    g.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    g.add_argument("--max-bytes", type=int, default=None, metavar="N", help="stop after N bytes")
    g.set_defaults(func=_get)
    q = sub.add_parser("push", help="send a recording or stream to a caster mountpoint")
    q.add_argument("source", help="a file (replayed paced by its GNSS time) or any stream URI")
    q.add_argument("target", help="ntrip://[user]:PASSWORD@host:port/MOUNT?v=2 (v=1 uses SOURCE)")
    q.add_argument("--speed", type=float, default=1.0, help="replay speed factor; 0 = as fast as possible")
    q.add_argument("--loop", action="store_true", help="replay the file again and again")
    q.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    q.set_defaults(func=_push)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _get(args) -> int:
    import asyncio

    from vngeonet.streams.uri import open_source, parse_uri

    u = parse_uri(args.url)
    if args.sourcetable:
        from vngeonet.streams.ntrip_client import fetch_sourcetable

        text, table = asyncio.run(fetch_sourcetable(
            u.host, u.port, user=u.user, password=u.password, version=u.param("v", 2, int)))
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        print(f"# {len(table.streams)} streams, {len(table.casters)} casters, "
              f"{len(table.networks)} networks", file=sys.stderr)
        return 0
    from vngeonet.streams.pump import drain

    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    try:
        n = asyncio.run(drain(open_source(u), out.write, max_bytes=args.max_bytes,
                              duration_s=args.duration))
    finally:
        out.flush()
        if args.output:
            out.close()
    print(f"{n} bytes from {u.redacted()}", file=sys.stderr)
    return 0


def _push(args) -> int:
    import asyncio

    from vngeonet.streams.pump import push_to_caster
    from vngeonet.streams.uri import parse_uri

    n = asyncio.run(push_to_caster(args.source, args.target, speed=args.speed, loop=args.loop,
                                   duration_s=args.duration))
    print(f"{n} bytes pushed to {parse_uri(args.target).redacted()}", file=sys.stderr)
    return 0
