#!/usr/bin/env python3
"""Benchmark of ``vngeonet baseline`` (static and kinematic RTK), whole process, against RTKLIB rnx2rtkp.

Usage::

    python tools/bench/bench_rtk.py [--rtklib PATH/rnx2rtkp] [--sim-epochs N] [--repeat K]

Cases:

* the real GEONET 0759-3040 pair (RINEX 2, GPS L1/L2, 30 s, 120 epochs, 3.3 km),
  static and kinematic;
* a long simulated pair (``vngeonet.sim``, 1 Hz, GPS+Galileo+BeiDou, two
  frequencies, 10 km by default) written to RINEX 3 files once, kinematic
  (and static).

Each timing is the wall time of the whole process (interpreter start,
reading, orbits, solving, writing the .pos), best of ``--repeat`` runs;
epochs/s = rover epochs / that time.  The peer is RTKLIB's ``rnx2rtkp``
(``-p 3`` static, ``-p 2`` kinematic, ``-f 2``, its default 15 deg mask and
ratio 3) when found (``--rtklib``, ``$RNX2RTKP`` or under /tmp); otherwise the
issue's quoted figures are printed: about 1,100 epochs/s static on the real
pair and 700 epochs/s kinematic on a 1 Hz multi-GNSS pair.  Fix counts and
baseline lengths of both programs are printed beside the speeds.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("VNGEONET_DATA", REPO.parent / "shared" / "data")).resolve()
BASE_3040 = (-3978241.958, 3382840.234, 3649900.853)
QUOTED = {"static": 1100.0, "kinematic": 700.0}


def _find_rtklib(arg):
    for cand in (
        [arg, os.environ.get("RNX2RTKP")]
        + sorted(glob.glob("/tmp/*/app/consapp/rnx2rtkp/gcc/rnx2rtkp"))
        + sorted(glob.glob("/tmp/**/rnx2rtkp", recursive=True))
    ):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _timed(cmd, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        dt = time.perf_counter() - t0
        if p.returncode not in (0, 3):
            raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-500:]}")
        best, out = min(best, dt), p
    return best, out


def _ours(rover, base, navs, base_pos, mode, out_pos, repeat):
    cmd = [
        sys.executable,
        "-m",
        "vngeonet",
        "baseline",
        rover,
        base,
        *navs,
        "--base-pos=" + ",".join(f"{v:.4f}" for v in base_pos),
        "--mode",
        mode,
        "--out",
        out_pos,
        "--json",
    ]
    dt, p = _timed(cmd, repeat)
    recs = [json.loads(x) for x in p.stdout.splitlines()]
    epochs = [r for r in recs if not r.get("final")]
    fin = next((r for r in recs if r.get("final")), None)
    nfix = sum(r["q"] == "fix" for r in epochs)
    if fin is not None:
        length = np.linalg.norm(fin["baseline_m"])
    else:
        fx = [r["baseline_m"] for r in epochs if r["q"] == "fix"]
        length = float(np.linalg.norm(np.mean(fx, axis=0))) if fx else float("nan")
    return dt, len(epochs), nfix, length


def _rtklib(exe, rover, base, navs, base_pos, mode, out_pos, repeat, systems="G"):
    cmd = [
        exe,
        "-p",
        "3" if mode == "static" else "2",
        "-f",
        "2",
        "-sys",
        systems,
        "-e",
        "-r",
        *[f"{v:.4f}" for v in base_pos],
        "-o",
        out_pos,
        rover,
        base,
        *navs,
    ]
    dt, _p = _timed(cmd, repeat)
    rows = [
        ln.split() for ln in Path(out_pos).read_text().splitlines() if ln and not ln.startswith("%")
    ]
    q = np.array([int(r[5]) for r in rows]) if rows else np.zeros(0, int)
    xyz = np.array([[float(v) for v in r[2:5]] for r in rows]) if rows else np.zeros((0, 3))
    sel = xyz[q == 1] if (q == 1).any() else xyz
    length = (
        float(np.linalg.norm(sel.mean(axis=0) - np.array(base_pos))) if len(sel) else float("nan")
    )
    if mode == "static" and len(xyz):
        length = float(np.linalg.norm(xyz[-1] - np.array(base_pos)))
    return dt, len(rows), int((q == 1).sum()), length


def _write_sim(tmp: Path, n_epochs: int, km: float, dt_s: float):
    """A simulated base/rover pair as RINEX 3 obs files plus a mixed nav file."""
    from vngeonet.gnss import coords
    from vngeonet.gnss.time import GPSTime
    from vngeonet.rinex import writer
    from vngeonet.sim.physics import NetworkSimulator, SimOptions, SimStation

    t0 = GPSTime(2390, 5 * 3600.0)
    base = coords.llh_to_ecef(np.radians([21.0, 105.8, 0.0]) + [0, 0, 20.0])
    rot = coords.enu_rotation(np.radians(21.0), np.radians(105.8))
    rover = base + rot.T @ np.array([0.6 * km * 1e3, 0.8 * km * 1e3, 40.0])
    sim = NetworkSimulator(
        [SimStation("BASE", tuple(base)), SimStation("ROVR", tuple(rover))], SimOptions(seed=7)
    )
    eps = [sim.epoch(t0 + dt_s * k) for k in range(n_epochs)]
    paths = {}
    for sid, pos in (("ROVR", rover), ("BASE", base)):
        obs = [e[sid] for e in eps]
        keys = {(s[0], g) for o in obs[:5] for s, g in zip(o.sat, o.sig)}
        types = writer.obs_types_from(keys)
        h = writer.ObsHeader(
            marker_name=sid,
            approx_pos_ecef_m=tuple(pos),
            obs_types=types,
            interval_s=dt_s,
            first_obs=obs[0].time,
            leap_s=18,
        )
        p = tmp / f"{sid.lower()}.obs"
        p.write_text(writer.format_obs_header(h) + writer.format_epochs(obs, types))
        paths[sid] = str(p)
    ephs = []
    for k in range(int(n_epochs * dt_s // 3600) + 2):
        ephs += sim.ephemerides(t0 + 3600.0 * k)
    nav = tmp / "sim.nav"
    nav.write_text(writer.format_nav_header(3, 18) + "".join(writer.format_kepler(e) for e in ephs))
    return paths["ROVR"], paths["BASE"], [str(nav)], tuple(base), tuple(rover)


def _row(name, mode, ours, peer, quoted):
    dt, n, nfix, length = ours
    eps = n / dt
    line = (
        f"{name:<28s} {mode:<9s} ours {eps:8.0f} ep/s ({dt:5.2f} s, fix {nfix}/{n}, {length:.4f} m)"
    )
    if peer is not None:
        pdt, pn, pfix, plen = peer
        line += f" | RTKLIB {pn / pdt:8.0f} ep/s ({pdt:5.2f} s, fix {pfix}/{pn}, {plen:.4f} m) ratio {eps / (pn / pdt):.2f}"
    else:
        line += f" | RTKLIB quoted {quoted:.0f} ep/s, ratio {eps / quoted:.2f}"
    print(line, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rtklib", help="path of rnx2rtkp")
    ap.add_argument(
        "--sim-epochs", type=int, default=1800, help="simulated epochs (1 Hz), default 1800"
    )
    ap.add_argument("--sim-km", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    exe = _find_rtklib(args.rtklib)
    print(
        f"peer: {exe or 'not found - quoted RTKLIB figures'}; machine load {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        d = DATA / "rtklib" / "rinex"
        real = (
            str(d / "07590920.05o"),
            str(d / "30400920.05o"),
            [str(d / "07590920.05n"), str(d / "30400920.05n")],
        )
        for mode in ("static", "kinematic"):
            ours = _ours(*real, BASE_3040, mode, str(tmp / "o.pos"), args.repeat)
            peer = (
                _rtklib(exe, *real, BASE_3040, mode, str(tmp / "r.pos"), args.repeat)
                if exe
                else None
            )
            _row("0759-3040 30 s 3.3 km G", mode, ours, peer, QUOTED["static"])
        t0 = time.perf_counter()
        rover, base, navs, base_pos, truth = _write_sim(tmp, args.sim_epochs, args.sim_km, 1.0)
        print(
            f"simulated pair written ({args.sim_epochs} epochs, {time.perf_counter() - t0:.1f} s); "
            f"true baseline {np.linalg.norm(np.subtract(truth, base_pos)):.4f} m"
        )
        for mode in ("kinematic", "static"):
            ours = _ours(rover, base, navs, base_pos, mode, str(tmp / "o.pos"), 1)
            peer = (
                _rtklib(exe, rover, base, navs, base_pos, mode, str(tmp / "r.pos"), 1, "G,E,C")
                if exe
                else None
            )
            _row(f"sim 1 Hz GEC {args.sim_km:.0f} km", mode, ours, peer, QUOTED["kinematic"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
