"""``vngeonet mounts list``: the mountpoints a caster config defines."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("mounts", help="list caster mountpoints")
    sub = p.add_subparsers(dest="mounts_cmd", metavar="ACTION", required=True)
    li = sub.add_parser("list", help="list the mountpoints of a caster.toml")
    li.add_argument("--config", required=True, help="caster.toml")
    li.add_argument("--json", action="store_true", help="JSON output")
    li.set_defaults(func=list_)


def list_(args) -> int:
    import json

    from vngeonet.caster.config import load_config

    config = load_config(args.config)
    rows = [{"name": m.name, "kind": m.kind, "auth": m.auth, "format": m.format,
             "source_password": "set" if m.source_password else "-", "country": m.country,
             "network": m.network, "lat_deg": m.lat_deg, "lon_deg": m.lon_deg, "nmea": m.nmea}
            for m in config.mounts]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        pos = f"{r['lat_deg']:.4f},{r['lon_deg']:.4f}" if r["lat_deg"] is not None else "-"
        print(f"{r['name']:<16} {r['kind']:<8} auth={r['auth']} source_password={r['source_password']} "
              f"nmea={int(r['nmea'])} pos={pos} {r['format']}")
    return 0
