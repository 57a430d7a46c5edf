"""``vngeonet caster``: run the NTRIP caster."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("caster", help="run the NTRIP 1/2 caster",
                              description="Run the NTRIP 1.0/2.0 caster until SIGINT/SIGTERM.")
    p.add_argument("--config", help="caster.toml (default: listen 127.0.0.1:2101, db var/caster.db, no mountpoints)")
    p.add_argument("--listen", help="override [caster] listen, HOST:PORT")
    p.add_argument("--workers", type=int, metavar="N",
                   help="override [caster] workers: fan-out worker processes (0: serve all rovers in one process)")
    p.set_defaults(func=main)


def main(args) -> int:
    import dataclasses

    from vngeonet.caster.config import CasterConfig, load_config, parse_hostport
    from vngeonet.caster.server import run_caster
    from vngeonet.store import open_store

    config = load_config(args.config) if args.config else CasterConfig()
    if args.listen:
        config = dataclasses.replace(config, listen=parse_hostport(args.listen, key="--listen"))
    if args.workers is not None:
        if not 0 <= args.workers <= 64:
            print("vngeonet caster: --workers must be 0..64", file=sys.stderr)
            return 2
        config = dataclasses.replace(config, workers=args.workers)
    if not config.mounts:
        print("vngeonet caster: warning: no [[mount]] configured", file=sys.stderr)
    store = open_store(config.db)

    def started(caster) -> None:
        host = config.listen[0]
        tls = f", TLS port {caster.tls_port}" if caster.tls_port else ""
        workers = f", {config.workers} fan-out workers" if config.workers else ""
        print(f"caster listening on {host}:{caster.port}{tls}{workers}; mountpoints: "
              f"{', '.join(m.name for m in config.mounts) or '-'}", file=sys.stderr, flush=True)

    try:
        run_caster(config, store, on_started=started)
    finally:
        store.close()
    return 0
