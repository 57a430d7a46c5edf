"""``vngeonet rinex info FILE [--json]``: summary of a RINEX observation file."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("rinex", help="RINEX observation files: summary")
    sub = p.add_subparsers(dest="rinex_command", metavar="ACTION")
    i = sub.add_parser("info", help="header summary, epochs, span, interval, satellites, types, gaps")
    i.add_argument("file", help="RINEX 2/3/4 observation file (plain, .gz, .Z, .zip, Hatanaka)")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.add_argument("--lenient", action="store_true",
                   help="accept a file that ends inside its last epoch (that epoch is dropped)")
    i.set_defaults(func=_info)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _info(args) -> int:
    from vngeonet.rinex.obs import read_obs

    s = read_obs(args.file, strict=not args.lenient).summary()
    if args.json:
        json.dump(s, sys.stdout)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(format_summary(s))
    return 0


def format_summary(s: dict) -> str:
    """Human-readable text of a :func:`vngeonet.rinex.obs.summarize` dict."""
    pos = ", ".join("-" if v is None else f"{v:.4f}" for v in s["approx_pos_ecef_m"])
    out = [
        f"file          {s['file']}",
        f"RINEX         {s['version']:.2f}   time system {s['time_system']}",
        f"marker        {s['marker_name']} {s['marker_number']}".rstrip(),
        f"receiver      {s['receiver']} {s['receiver_version']}".rstrip(),
        f"antenna       {s['antenna']}   delta H/E/N {s['antenna_delta_hen_m']} m",
        f"approx XYZ    {pos} m",
        f"epochs        {s['epochs']}   {s['first']} .. {s['last']} GPST",
        f"span          {s['span_s']:.1f} s   interval {s['interval_s']:g} s   observations {s['observations']}",
        "satellites    " + "  ".join(f"{k}:{v}" for k, v in s["satellites"].items()),
    ]
    for sys_, codes in s["obs_types"].items():
        out.append(f"types {sys_}       " + " ".join(codes))
    for sys_, sigs in s["signals"].items():
        out.append(f"signals {sys_}     " + " ".join(sigs))
    out.append(f"events        {len(s['events'])}" + "".join(
        f"\n  flag {e['flag']} at line {e['line']} ({e['records']} records) {e['time'] or ''}" for e in s["events"]))
    out.append(f"gaps          {len(s['gaps'])}" + "".join(
        f"\n  {g['after']} -> {g['before']} ({g['length_s']:g} s, {g['missing_epochs']} epochs missing)"
        for g in s["gaps"]))
    for w in s["warnings"]:
        out.append(f"warning       {w}")
    return "\n".join(out) + "\n"
