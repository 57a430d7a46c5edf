#!/usr/bin/env python3
"""Benchmark of ``vngeonet spp``: accuracy on every catalogued data set with a reference
coordinate and navigation data, and whole-process speed, against RTKLIB's rnx2rtkp.

Usage::

    python tools/bench/bench_spp.py [--rtklib PATH/rnx2rtkp] [--only NAME ...] [--no-speed]

The peer is RTKLIB's ``rnx2rtkp`` in single-point mode with its default options
(``-p 0``, plus ``-sys`` for the constellations named by the issue).  Give its
path with ``--rtklib`` or ``$RNX2RTKP``; without it the issue's quoted RTKLIB EX
2.5.1 figures are printed beside ours.  RTKLIB cannot read Hatanaka/gzip by
itself here, so every input is expanded once into a temporary directory; our
timings are given both on the original (compressed) files and on those copies.

Accuracy: horizontal/vertical RMS and 95th percentile of the E/N/U errors
against the reference marker plus the RINEX header antenna delta (H/E/N).
SINEX references are propagated with their velocities when the file has
them (none of the SINEX files in the catalogue has velocities; the epoch gap
is printed).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("VNGEONET_DATA", REPO.parent / "shared" / "data")).resolve()
NAV3 = "nav-solutions-data/NAV/V3/"
SNX = "rtklib/pos/igs20P2131_wocov.snx"

# name, obs, navs, systems, reference, RTKLIB quoted (H RMS, V RMS) or None, rtklib -sys
DATASETS = [
    ("0759 2005-092 G", "rtklib/rinex/07590920.05o", ["rtklib/rinex/07590920.05n"], "G",
     ("geonet", "0759"), (1.23, 2.13), "G"),
    ("3040 2005-092 G", "rtklib/rinex/30400920.05o", ["rtklib/rinex/30400920.05n"], "G",
     ("xyz", (-3978241.958, 3382840.234, 3649900.853), "RTKLIB makefile base"), None, "G"),
    ("NYA1 2024-124 GEC", "nav-solutions-data/CRNX/V3/NYA100NOR_S_20241240000_01D_30S_MO.crx.gz",
     [NAV3 + f"NYA100NOR_S_20241240000_01D_{s}N.rnx.gz" for s in "GEC"], "GEC",
     ("sinex", "NYA1"), (0.86, 2.15), "G,E,C"),
    ("NYA1 2024-127 GE", "nav-solutions-data/CRNX/V3/NYA100NOR_S_20241270000_01D_30S_MO.crx.gz",
     [NAV3 + f"NYA100NOR_S_20241270000_01D_{s}N.rnx.gz" for s in "GE"], "GE",
     ("sinex", "NYA1"), (1.11, 1.66), "G,E"),
    ("AJAC 2024-209 E-nav", "nav-solutions-data/CRNX/V3/AJAC00FRA_R_20242090000_01D_30S_MO.crx.gz",
     [NAV3 + "GRAS00FRA_R_20242090000_01D_EN.rnx.gz"], "E", ("sinex", "AJAC"), (1.79, 4.46), "E"),
    ("AJAC 2024-210 E-nav", "nav-solutions-data/CRNX/V3/AJAC00FRA_R_20242100000_01D_30S_MO.crx.gz",
     [NAV3 + "GRAS00FRA_R_20242100000_01D_EN.rnx.gz"], "E", ("sinex", "AJAC"), None, "E"),
    ("EBRE 2002-030 G", "gnsstk/examples/ebre0300.02o", ["gnsstk/examples/brdc0300.02n"], "G",
     ("sinex", "EBRE"), None, "G"),
    *[(f"{st} 2010-077 G", f"glab-tutorials/TUT7/{st}0770.10o.gz", ["glab-tutorials/TUT7/brdc0770.10n.gz"],
       "G", ("header", "ICC CatNet 2006.0 (RINEX header)"), None, "G") for st in ("CREU", "EBRE", "GARR", "MATA")],
    ("CCJ2 2021-210 GE SP3", "pride-pppar/data/2021/210/ccj22100.21o",
     ["pride-pppar/products/WUM0MGXRAP_20212100000_01D_01M_ORB.SP3.gz",
      "pride-pppar/products/WUM0MGXRAP_20212100000_01D_30S_CLK.CLK.gz"], "GE", ("sinex", "CCJ2"), None, None),
    ("ESBC 2020-177 all", "nav-solutions-data/CRNX/V3/ESBC00DNK_R_20201770000_01D_30S_MO.crx.gz",
     [NAV3 + "ESBC00DNK_R_20201770000_01D_MN.rnx.gz"], "GREJC", None, None, "G,R,E,J,C"),
]
SPEED = ["NYA1 2024-124 GEC", "ESBC 2020-177 all"]
IFLC_CONF = "pos1-posmode=single\npos1-ionoopt=dual-freq\npos1-frequency=l1+l2\n"


def _reference(spec, obs):
    """Reference ARP (ECEF m) and a label, or (None, reason)."""
    from vngeonet.gnss import coords, sinex
    from vngeonet.gnss.time import GPSTime

    if spec is None:
        return None, "no independent reference"
    kind = spec[0]
    if kind == "geonet":
        text = (DATA / "rtklib/pos/geonet_F5.pos").read_bytes().decode("latin-1")
        f = next(line.split() for line in text.splitlines() if line[40:].split()[:1] == [spec[1]])
        marker = coords.llh_to_ecef([np.radians(float(f[0])), np.radians(float(f[1])), float(f[2])])
        label = "GEONET F5 (2020-10-03, not propagated)"
    elif kind == "xyz":
        marker, label = np.array(spec[1]), spec[2]
    elif kind == "header":
        marker, label = np.asarray(obs.header.approx_pos_ecef_m, float), spec[1]
    else:
        t = GPSTime.from_seconds(float(obs.time_gps_s[0]))
        marker, sol = sinex.station_position(DATA / SNX, spec[1], t)
        gap = (t - sol.ref_epoch) / sinex.SECONDS_PER_YEAR
        label = f"IGS SINEX igs20P2131 ({'propagated' if sol.has_velocity else f'no velocity, {gap:+.1f} y'})"
    hen = np.asarray(obs.header.antenna_delta_hen_m, float)
    llh = coords.ecef_to_llh(marker)
    rot = coords.enu_rotation(llh[0], llh[1])
    return marker + rot.T @ np.array([hen[1], hen[2], hen[0]]), label


def _ours(ds, iono="auto"):
    from vngeonet.positioning.spp import SPPOptions, open_orbits, solve_spp
    from vngeonet.rinex.obs import read_obs

    name, obs_rel, navs, systems = ds[:4]
    t0 = time.perf_counter()
    obs = read_obs(DATA / obs_rel)
    store, iono_coef, glo = open_orbits([DATA / n for n in navs])
    t1 = time.perf_counter()
    res = solve_spp(obs, store, iono_coef, SPPOptions(systems=systems, iono=iono), glo_channels=glo)
    t2 = time.perf_counter()
    return obs, res, t1 - t0, t2 - t1


def _expand(rel: str, tmp: Path) -> Path:
    """Plain RINEX copy of a data file (gzip/.Z/Hatanaka expanded) for RTKLIB."""
    from vngeonet.rinex.compress import read_bytes

    out = tmp / Path(rel).name.replace(".gz", "").replace(".crx", ".rnx").replace(".Z", "")
    if not out.exists():
        data, _ = read_bytes(DATA / rel)
        out.write_bytes(data)
    return out


def _rtklib(exe, ds, tmp: Path, conf: str | None = None):
    """Run rnx2rtkp; returns (ECEF positions of Q=5 epochs, number of epochs output, seconds)."""
    from vngeonet.gnss import coords

    obs = _expand(ds[1], tmp)
    navs = [_expand(n, tmp) for n in ds[2]]
    out = tmp / "rtk.pos"
    cmd = [exe, "-p", "0", "-sys", ds[6], "-o", str(out)]
    if conf:
        cpath = tmp / "iflc.conf"
        cpath.write_text(conf)
        cmd = [exe, "-k", str(cpath), "-sys", ds[6], "-o", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd + [str(obs)] + [str(n) for n in navs], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    dt = time.perf_counter() - t0
    llh = []
    for line in out.read_text().splitlines():
        f = line.split()
        if not f or line.startswith("%"):
            continue
        k = 2
        if f[5] != "5":
            continue
        llh.append([float(f[k]), float(f[k + 1]), float(f[k + 2])])
    if not llh:
        return np.zeros((0, 3)), 0, dt
    a = np.array(llh)
    return coords.llh_to_ecef(np.column_stack([np.radians(a[:, 0]), np.radians(a[:, 1]), a[:, 2]])), len(a), dt


def _fmt(st):
    if not st or not st.get("n"):
        return "      -      -      -      -"
    return f"{st['h_rms_m']:6.2f} {st['v_rms_m']:6.2f} {st['h_p95_m']:6.2f} {st['v_p95_m']:6.2f}"


def accuracy(datasets, exe, tmp: Path):
    from vngeonet.model import FixQuality
    from vngeonet.positioning.pos import enu_stats

    print("\n== accuracy (m): H RMS, V RMS, H 95%, V 95% against the reference ARP ==")
    print(f"{'data set':22s} {'epochs':>11s}  {'vngeonet':>27s}   {'RTKLIB (run here)':>27s}  "
          f"{'RTKLIB EX 2.5.1 quoted':>22s}  reference")
    for ds in datasets:
        obs, res, t_read, t_spp = _ours(ds)
        ok = res.status != FixQuality.NONE
        ref, label = _reference(ds[4], obs)
        if ref is None:
            med = np.nanmedian(res.pos_ecef_m[ok], axis=0)
            ref, label = med, "no reference: scatter about our median"
        st = enu_stats(res.pos_ecef_m, ref)
        peer, peer_n = "", ""
        if exe and ds[6]:
            p, n, _ = _rtklib(exe, ds, tmp)
            peer = _fmt(enu_stats(p, ref) if n else None)
            peer_n = f"{n}"
        quoted = f"{ds[5][0]:5.2f} / {ds[5][1]:5.2f}" if ds[5] else "-"
        print(f"{ds[0]:22s} {int(ok.sum()):5d}/{len(res):5d}  {_fmt(st)}   {peer:27s} ({peer_n:>4s})  "
              f"{quoted:>14s}  {label}")
        if ds[0].startswith("AJAC") and exe:
            p, n, _ = _rtklib(exe, ds, tmp, IFLC_CONF)
            print(f"{'  RTKLIB iono-free':22s} {'':11s}  {'':27s}   {_fmt(enu_stats(p, ref) if n else None):27s} "
                  f"({n:4d})  {'0.63 /  1.37':>14s}")


def _timed(cmd) -> tuple[float, float, str]:
    """Wall and CPU (user + sys) seconds of a child process, and its stdout."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, cpu, r.stdout


def speed(datasets, exe, tmp: Path, repeat: int = 3):
    """Whole-process time, best of ``repeat``: wall clock and CPU time (the machine is shared,
    so CPU time is the steadier figure)."""
    print("\n== speed: whole process, best of %d (wall s / CPU s; epochs/s from CPU) ==" % repeat)
    for ds in datasets:
        obs_rel, navs = ds[1], ds[2]
        plain = [str(_expand(obs_rel, tmp))] + [str(_expand(n, tmp)) for n in navs]
        orig = [str(DATA / obs_rel)] + [str(DATA / n) for n in navs]
        n_ep = 0
        rows = []
        runs = [(f"vngeonet spp ({lab})", [sys.executable, "-m", "vngeonet", "spp", *files, "--sys", ds[3]])
                for lab, files in (("original files", orig), ("expanded RINEX", plain))]
        if exe:
            out = tmp / "speed.pos"
            runs.append(("RTKLIB rnx2rtkp -p 0 (expanded RINEX)",
                         [exe, "-p", "0", "-sys", ds[6], "-o", str(out), *plain]))
        for label, cmd in runs:
            best_w, best_c = 1e9, 1e9
            for _ in range(repeat):
                w, c, out_text = _timed(cmd)
                best_w, best_c = min(best_w, w), min(best_c, c)
                if "epochs:" in out_text:
                    n_ep = int(out_text.split("epochs:")[1].split()[0])
            rows.append((label, best_w, best_c))
        print(f"{ds[0]} ({n_ep} epochs):")
        for label, w, c in rows:
            ratio = f"  RTKLIB CPU / ours {rows[-1][2] / c:5.2f}x" if exe else ""
            print(f"  {label:42s} {w:7.3f} s / {c:6.3f} s  {n_ep / c:8.0f} epochs/s{ratio}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rtklib", default=os.environ.get("RNX2RTKP") or shutil.which("rnx2rtkp"),
                    help="path of rnx2rtkp (RTKLIB EX 2.5.1 built from rtklibexplorer/RTKLIB v2.5.1)")
    ap.add_argument("--only", nargs="*", help="data set name prefixes")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-accuracy", action="store_true")
    args = ap.parse_args()
    from vngeonet import kernels

    print(f"kernels: {kernels.BACKEND} {kernels.backends().get('lsq')}; data: {DATA}; "
          f"peer: {args.rtklib or 'none (quoted figures only)'}")
    sel = [d for d in DATASETS if not args.only or any(d[0].startswith(o) for o in args.only)]
    sel = [d for d in sel if (DATA / d[1]).exists() and all((DATA / n).exists() for n in d[2])]
    with tempfile.TemporaryDirectory(prefix="bench_spp_") as td:
        tmp = Path(td)
        if not args.no_accuracy:
            accuracy(sel, args.rtklib, tmp)
        if not args.no_speed:
            speed([d for d in sel if d[0] in SPEED], args.rtklib, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
