"""``vngeonet spp``: single point positioning of a RINEX observation file."""

from __future__ import annotations

import os
import sys

from vngeonet.cli._common import progress_bar


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "spp",
        help="single point positioning of a RINEX observation file",
        description="Code-only single point positioning (multi-GNSS, RAIM) with broadcast orbits. "
        "Prints a summary; with --ref, E/N/U error statistics.",
    )
    p.add_argument("obs", help="RINEX observation file (2/3/4; gzip, .Z, Hatanaka)")
    p.add_argument("nav", nargs="+", help="RINEX navigation file(s); SP3 (+ RINEX clock) files for precise orbits")
    p.add_argument("--sys", default="GREJC", help="systems to use (default GREJC)")
    p.add_argument("--elev-mask", type=float, default=10.0, metavar="DEG", help="elevation mask (default 10)")
    p.add_argument("--iono", default="auto", choices=("auto", "iflc", "broadcast", "none"),
                   help="ionosphere: auto (broadcast model if coefficients, else iono-free), iflc, broadcast, none")
    p.add_argument("--weight", default="elev", choices=("elev", "snr", "equal"), help="code weighting")
    p.add_argument("--no-raim", action="store_true", help="disable fault detection and exclusion")
    p.add_argument("--ref", metavar="X,Y,Z|SINEX:STATION",
                   help="reference marker: ECEF metres (write --ref=X,Y,Z when X is negative), or a SINEX "
                   "file and station, propagated to the data epoch; the RINEX header antenna delta is added")
    p.add_argument("--out", metavar="FILE.pos", help="write an RTKLIB-readable .pos file")
    p.add_argument("--xyz", action="store_true", help=".pos in ECEF instead of lat/lon/height")
    p.add_argument("--json", action="store_true", help="write one JSON object per epoch to stdout")
    p.set_defaults(func=main)


def _reference(text: str, obs):
    """Reference ARP (ECEF m) and a label from ``--ref``."""
    import numpy as np

    from vngeonet.errors import ConfigError
    from vngeonet.gnss import coords
    from vngeonet.gnss.time import GPSTime

    head, _, tail = text.rpartition(":")
    if head and os.path.exists(head):
        from vngeonet.gnss import sinex

        t = GPSTime.from_seconds(float(obs.time_gps_s[0])) if len(obs.time_gps_s) else GPSTime(0, 0.0)
        try:
            marker, sol = sinex.station_position(head, tail, t)
        except KeyError as err:
            raise ConfigError(str(err), key="--ref") from err
        label = f"SINEX {os.path.basename(head)} {tail.upper()} (ref epoch {sol.ref_epoch.isoformat()}, " \
                f"{'velocity applied' if sol.has_velocity else 'no velocity in file'})"
    else:
        try:
            marker = np.array([float(v) for v in text.split(",")])
        except ValueError as err:
            raise ConfigError(f"--ref must be X,Y,Z or SINEX_FILE:STATION, got {text!r}", key="--ref") from err
        if marker.shape != (3,):
            raise ConfigError("--ref needs three coordinates", key="--ref")
        label = "given ECEF"
    hen = np.asarray(getattr(obs.header, "antenna_delta_hen_m", np.zeros(3)), dtype=float)
    if np.any(hen != 0):
        llh = coords.ecef_to_llh(marker)
        rot = coords.enu_rotation(llh[0], llh[1])
        marker = marker + rot.T @ np.array([hen[1], hen[2], hen[0]])
        label += f" + antenna delta H/E/N {hen[0]:.4f}/{hen[1]:.4f}/{hen[2]:.4f} m"
    return marker, label


def main(args) -> int:
    from vngeonet.errors import ConfigError
    from vngeonet.positioning import pos as posout
    from vngeonet.positioning.spp import SPPOptions, open_orbits, solve_spp
    from vngeonet.rinex.obs import read_obs

    obs = read_obs(args.obs)
    try:
        store, iono, glo = open_orbits(args.nav)
    except ValueError as err:
        raise ConfigError(str(err), key="nav") from err
    opt = SPPOptions(systems=args.sys.upper(), elev_mask_deg=args.elev_mask, iono=args.iono,
                     weight=args.weight, raim=not args.no_raim)
    res = solve_spp(obs, store, iono, opt, glo_channels=glo,
                    progress=progress_bar() if len(obs.time_gps_s) > 2000 else None)
    if args.out:
        posout.write_pos(args.out, res, {"inp file": args.obs, "nav files": " ".join(args.nav),
                                         "pos mode": "single", "elev mask": f"{args.elev_mask:.1f} deg",
                                         "ionos opt": args.iono, "navi sys": opt.systems}, xyz=args.xyz)
    if args.json:
        sys.stdout.writelines(posout.json_lines(res))
    out = sys.stderr if args.json else sys.stdout
    _summary(res, obs, out)
    if args.ref:
        ref, label = _reference(args.ref, obs)
        _ref_report(posout.enu_stats(res.pos_ecef_m, ref), label, out)
    return 0


def _summary(res, obs, out) -> None:
    import numpy as np

    from vngeonet.gnss.time import GPSTime
    from vngeonet.model import FixQuality

    n = len(res)
    ok = res.status != FixQuality.NONE
    span = ""
    if n:
        span = f"{GPSTime.from_seconds(float(res.time_gps_s[0])).isoformat()} .. " \
               f"{GPSTime.from_seconds(float(res.time_gps_s[-1])).isoformat()} GPST"
    print(f"epochs: {n} ({span})", file=out)
    print(f"solved: {int(ok.sum())} single, {int((~ok).sum())} none", file=out)
    if ok.any():
        print(f"satellites used: mean {res.nsat[ok].mean():.1f}, min {res.nsat[ok].min()}; "
              f"PDOP median {np.nanmedian(res.dop[ok, 1]):.2f}; RAIM exclusions {int(res.n_excluded.sum())}",
              file=out)
        m = np.nanmean(res.pos_ecef_m[ok], axis=0)
        print(f"mean position ECEF: {m[0]:.4f} {m[1]:.4f} {m[2]:.4f} m", file=out)
    if (~ok).any():
        reasons, counts = np.unique(res.reason[~ok].astype(str), return_counts=True)
        print("unsolved: " + "; ".join(f"{r} x{c}" for r, c in zip(reasons, counts)), file=out)


def _ref_report(st: dict, label: str, out) -> None:
    print(f"reference: {label}", file=out)
    if not st.get("n"):
        print("no solved epochs to compare", file=out)
        return
    print(f"{'':8s}{'E':>9s}{'N':>9s}{'U':>9s}   (m, {st['n']} epochs)", file=out)
    for key, name in (("mean_enu_m", "mean"), ("rms_enu_m", "RMS"), ("p95_enu_m", "95%")):
        e, n, u = st[key]
        print(f"{name:8s}{e:9.3f}{n:9.3f}{u:9.3f}", file=out)
    print(f"horizontal RMS {st['h_rms_m']:.3f} m, 95% {st['h_p95_m']:.3f} m; "
          f"vertical RMS {st['v_rms_m']:.3f} m, 95% {st['v_p95_m']:.3f} m", file=out)
