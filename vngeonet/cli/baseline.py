"""``vngeonet baseline``: carrier-phase baseline (static) or kinematic RTK between two RINEX files."""

from __future__ import annotations

import os
import sys

from vngeonet.cli._common import progress_bar

EXIT_MOVING = 3


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "baseline",
        help="carrier-phase relative positioning: static baseline or kinematic RTK",
        description="Double-difference carrier-phase positioning of ROVER against BASE (known position) "
        "with LAMBDA ambiguity resolution.  Static: one final solution (a moving rover is detected and "
        f"reported, exit status {EXIT_MOVING}); kinematic: one solution per epoch.",
    )
    p.add_argument("rover", help="rover RINEX observation file")
    p.add_argument("base", help="base RINEX observation file")
    p.add_argument(
        "nav", nargs="+", help="RINEX navigation file(s); SP3 (+ clock) files for precise orbits"
    )
    p.add_argument(
        "--base-pos",
        required=True,
        metavar="X,Y,Z",
        help="base marker ECEF metres (write --base-pos=X,Y,Z when X is negative)",
    )
    p.add_argument("--mode", default="kinematic", choices=("static", "kinematic"))
    p.add_argument(
        "--sys", default="GECJ", help="systems (default GECJ; add R for GLONASS, float only)"
    )
    p.add_argument(
        "--elev-mask", type=float, default=15.0, metavar="DEG", help="elevation mask (default 15)"
    )
    p.add_argument(
        "--iono",
        default="auto",
        choices=("auto", "off", "est"),
        help="ionosphere: auto (ignored below 5 km, estimated above), off, est",
    )
    p.add_argument(
        "--tropo",
        default="auto",
        choices=("auto", "model", "est"),
        help="troposphere: auto (model below 5 km, + zenith residual above), model, est",
    )
    p.add_argument(
        "--antex",
        metavar="FILE.atx",
        help="apply receiver antenna PCO/PCV of the header antenna types from this ANTEX file",
    )
    p.add_argument("--no-ar", action="store_true", help="float solution only")
    p.add_argument(
        "--no-hold", action="store_true", help="kinematic: do not hold fixed ambiguities"
    )
    p.add_argument(
        "--backward",
        action="store_true",
        help="kinematic: also run backwards and combine (smoothed, post-processing)",
    )
    p.add_argument("--out", metavar="FILE.pos", help="write an RTKLIB-readable .pos file (ECEF)")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per epoch on stdout (static: plus a final object)",
    )
    p.set_defaults(func=main)


def _base_pos(text: str):
    import numpy as np

    from vngeonet.errors import ConfigError

    try:
        v = np.array([float(x) for x in text.split(",")])
    except ValueError as err:
        raise ConfigError(f"--base-pos must be X,Y,Z, got {text!r}", key="--base-pos") from err
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ConfigError("--base-pos needs three finite coordinates", key="--base-pos")
    return v


def main(args) -> int:
    from vngeonet.errors import ConfigError
    from vngeonet.positioning import rtk
    from vngeonet.positioning.spp import open_orbits
    from vngeonet.rinex.obs import read_obs

    base_pos = _base_pos(args.base_pos)
    if args.antex and not os.path.isfile(args.antex):
        raise ConfigError(f"ANTEX file not found: {args.antex}", key="--antex")
    rover, base = read_obs(args.rover), read_obs(args.base)
    try:
        store, _iono, glo = open_orbits(args.nav)
    except ValueError as err:
        raise ConfigError(str(err), key="nav") from err
    opt = rtk.RTKOptions(
        mode=args.mode,
        systems=args.sys.upper(),
        elev_mask_deg=args.elev_mask,
        ar_elev_mask_deg=args.elev_mask,
        iono=args.iono,
        tropo=args.tropo,
        ar=not args.no_ar,
        hold=not args.no_hold,
        backward=args.backward,
    )
    n = len(rover.time_gps_s)
    res = rtk.solve_baseline(
        rover,
        base,
        store,
        base_pos,
        opt,
        glo_channels=glo,
        antex=args.antex,
        progress=progress_bar() if n > 2000 else None,
    )
    if args.out:
        with open(args.out, "w", encoding="ascii", newline="\n") as fh:
            fh.writelines(
                rtk.pos_lines(
                    res,
                    {
                        "inp file": f"{args.rover} {args.base}",
                        "pos mode": args.mode,
                        "elev mask": f"{args.elev_mask:.1f} deg",
                        "ref pos": " ".join(f"{v:.4f}" for v in base_pos),
                    },
                )
            )
    if args.json:
        sys.stdout.writelines(rtk.json_lines(res))
    out = sys.stderr if args.json else sys.stdout
    for line in summary_lines(res):
        print(line, file=out)
    if res.final is not None and res.final.moving:
        print(f"error: {res.final.reason}", file=sys.stderr)
        return EXIT_MOVING
    return 0


def summary_lines(res) -> list[str]:
    """Human-readable summary: counts, fix rate, mean fixed baseline, static final solution."""
    import numpy as np

    from vngeonet.gnss import coords
    from vngeonet.gnss.time import GPSTime
    from vngeonet.model import FixQuality

    n = len(res)
    out = []
    if n:
        out.append(
            f"epochs: {n} ({GPSTime.from_seconds(float(res.time_gps_s[0])).isoformat()} .. "
            f"{GPSTime.from_seconds(float(res.time_gps_s[-1])).isoformat()} GPST), mode {res.mode}"
        )
    cnt = {
        q: int((res.status == q).sum())
        for q in (FixQuality.FIX, FixQuality.FLOAT, FixQuality.SPP, FixQuality.NONE)
    }
    out.append(
        f"solutions: fix {cnt[FixQuality.FIX]}, float {cnt[FixQuality.FLOAT]}, "
        f"single {cnt[FixQuality.SPP]}, none {cnt[FixQuality.NONE]}; fix rate {100 * res.fix_rate():.1f} %"
    )
    info = res.info
    out.append(
        f"baseline ~{info.get('baseline_km', float('nan')):.3f} km: ionosphere {info.get('iono')}, "
        f"troposphere {info.get('tropo')}"
    )
    fx = res.status == FixQuality.FIX
    if fx.any():
        bl = res.baseline_m[fx]
        m, sd = bl.mean(axis=0), bl.std(axis=0)
        enu = coords.ecef_to_enu(res.pos_ecef_m[fx], res.base_ecef_m)
        out.append(
            f"fixed epochs mean baseline dX dY dZ: {m[0]:.4f} {m[1]:.4f} {m[2]:.4f} m "
            f"(scatter {sd[0] * 1e3:.1f} {sd[1] * 1e3:.1f} {sd[2] * 1e3:.1f} mm); length {np.linalg.norm(m):.4f} m"
        )
        s = enu.std(axis=0) * 1e3
        out.append(f"fixed-epoch scatter E/N/U: {s[0]:.1f} / {s[1]:.1f} / {s[2]:.1f} mm")
    f = res.final
    if f is not None:
        q = {FixQuality.FIX: "fixed", FixQuality.FLOAT: "float"}.get(f.status, "NOT VALID")
        sd = (
            np.sqrt(np.maximum(np.diag(f.cov_ecef_m2), 0)) * 1e3
            if np.all(np.isfinite(f.cov_ecef_m2))
            else [np.nan] * 3
        )
        out.append(
            f"static solution ({q}; ratio {f.ratio:.1f}, {f.n_fixed}/{f.n_amb} ambiguities fixed, "
            f"success rate {f.success_rate:.4f}):"
        )
        out.append(
            f"  rover ECEF {f.pos_ecef_m[0]:.4f} {f.pos_ecef_m[1]:.4f} {f.pos_ecef_m[2]:.4f} m"
        )
        out.append(
            f"  baseline dX dY dZ {f.baseline_m[0]:.4f} {f.baseline_m[1]:.4f} {f.baseline_m[2]:.4f} m "
            f"(sd {sd[0]:.1f} {sd[1]:.1f} {sd[2]:.1f} mm)"
        )
        out.append(f"  length {f.length_m:.4f} m (sd {f.length_sd_m * 1e3:.1f} mm)")
        if f.moving:
            out.append(f"  WARNING: {f.reason}")
    return out
