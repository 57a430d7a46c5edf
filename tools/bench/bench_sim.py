#!/usr/bin/env python3
"""Benchmark of the ``sim://`` station-network simulator: CPU cost per 1 Hz epoch.

Usage::

    python tools/bench/bench_sim.py [--stations 65] [--epochs 120] [--json]

Builds a network over Vietnam (the 13 demonstration stations of
``stations/*.toml`` plus a generated grid over 8.5-23.4 N, 102-109.5 E, up to
``--stations``), then runs ``--epochs`` epochs through
:meth:`vngeonet.streams.sim.SimNetwork.step` (pure: no pacing, no queues),
timing with the process CPU clock:

* physics: :meth:`NetworkSimulator.epoch` (all stations, one vectorised pass);
* encoding: the broadcast ephemeris set (computed and framed once for all
  stations when it changes, hourly) and every station's RTCM 3 frames (MSM7
  for GPS, Galileo, BeiDou, 1006/1033 every 10 epochs, ephemerides in
  rotation) via :meth:`SimReceiver.encode` -- the same calls, in the same
  order, as :meth:`SimNetwork.step`.

The run starts one minute before an hour, so it includes the hourly change of
the ephemeris set (every station then sends the whole new set).

It prints CPU ms per epoch (mean and 95th percentile), split into physics and
encoding, the RTCM bytes per station-epoch, and the share of one core at
1 Hz; plus a micro-benchmark of :func:`vngeonet.rtcm.msm.encode_msm_obs` on
one system's observations of one station (the issue's "typical 10-satellite x
3-signal epoch").  The target (issue 6) is under 10 % of one core for 65
stations.

No peer: no other open simulator produces RTCM 3 MSM7 network streams to
compare against, so no ratio is printed; the figure is compared with the
issue's absolute target instead.  The first epoch (which builds the
simulator and sends the full ephemeris set) is reported separately and left
out of the means.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from vngeonet import kernels
from vngeonet.gnss.coords import llh_to_ecef
from vngeonet.gnss.time import GPSTime

# One minute before an hour: the run crosses the hourly change of the broadcast ephemeris set
# (GPS/Galileo at 06:00:00, BeiDou at 06:00:14 GPS time).
T0 = GPSTime(2390, 6 * 3600.0 - 60.0)
T_MICRO = GPSTime(2390, 5 * 3600.0 + 17.0)  # Ha Noi sees 9 GPS, 9 Galileo, 10 BeiDou satellites
TARGET_PCT = 10.0


def demo_positions() -> list[tuple[str, tuple]]:
    """(id, ECEF m) of the demonstration stations in ``stations/*.toml``."""
    from vngeonet.config import load_stations

    try:
        cfgs = load_stations(REPO / "stations")
    except Exception:  # noqa: BLE001 - the grid alone still makes a network
        return []
    out = []
    for c in cfgs:
        if c.stream_uri.startswith("sim://") and np.all(np.isfinite(c.pos_ecef_m)):
            out.append((c.id, tuple(float(v) for v in c.pos_ecef_m)))
    return out


def grid_positions(n: int, taken: set) -> list[tuple[str, tuple]]:
    """``n`` points of a regular grid over Vietnam's bounding box, heights 0-300 m."""
    side = int(np.ceil(np.sqrt(n)))
    lats = np.linspace(8.5, 23.4, side)
    lons = np.linspace(102.0, 109.5, side)
    out = []
    for i, (la, lo) in enumerate((a, b) for a in lats for b in lons):
        if len(out) == n:
            break
        sid = f"G{i:03d}"
        if sid in taken:
            continue
        h = 300.0 * ((i * 37) % 11) / 10.0
        out.append((sid, tuple(llh_to_ecef(np.radians([la, lo, 0.0]) + [0, 0, h]))))
    return out


def build_network(n_stations: int):
    from vngeonet.streams.sim import SimNetwork

    net = SimNetwork(T0, speed=0.0)
    stations = demo_positions()[:n_stations]
    stations += grid_positions(n_stations - len(stations), {s for s, _ in stations})
    for k, (sid, pos) in enumerate(stations):
        net.add_station(sid, pos, 100 + k)
    return net, stations


def run(n_stations: int, n_epochs: int) -> dict:
    """Time ``n_epochs`` steps of a network of ``n_stations``: physics and encoding split."""
    net, stations = build_network(n_stations)
    net._build()
    sim, rxs = net._sim, net._receivers
    phys, enc, nbytes = [], [], []
    first = None
    for n in range(n_epochs + 1):
        t = net.t
        c0 = time.process_time()
        eps = sim.epoch(t)
        c1 = time.process_time()
        net._update_ephemerides(t)
        out = {sid: rxs[sid].encode(ep) for sid, ep in eps.items()}
        c2 = time.process_time()
        net.t = t + net.interval_s
        net.epochs += 1
        if n == 0:
            first = (c1 - c0, c2 - c1)
            continue
        phys.append(c1 - c0)
        enc.append(c2 - c1)
        nbytes.append(sum(len(b) for b in out.values()) / len(out))
    # The same code path as the service, end to end (includes SimNetwork.step bookkeeping).
    c0 = time.process_time()
    k = min(10, n_epochs)
    for _ in range(k):
        net.step()
    step_ms = (time.process_time() - c0) / k * 1e3
    phys, enc = np.array(phys) * 1e3, np.array(enc) * 1e3
    tot = phys + enc
    return {
        "stations": len(stations),
        "epochs": n_epochs,
        "backend_msm": kernels.backends()["msm"],
        "physics_ms": float(phys.mean()),
        "encoding_ms": float(enc.mean()),
        "total_ms": float(tot.mean()),
        "total_p95_ms": float(np.percentile(tot, 95)),
        "total_max_ms": float(tot.max()),
        "step_ms": step_ms,
        "first_epoch_ms": [first[0] * 1e3, first[1] * 1e3],
        "bytes_per_station_epoch": float(np.mean(nbytes)),
        "core_pct_at_1hz": float(tot.mean() / 10.0),
        "target_pct": TARGET_PCT,
    }


def bench_encode_msm_obs(repeat: int = 2000) -> dict:
    """CPU ms per :func:`encode_msm_obs` call for one station's GPS (and all) systems."""
    from vngeonet.rtcm.msm import encode_msm_obs
    from vngeonet.sim.physics import NetworkSimulator, SimStation

    sim = NetworkSimulator(
        [SimStation("HANO", tuple(llh_to_ecef(np.radians([21.03, 105.85, 0.0]) + [0, 0, 20])))]
    )
    ep = sim.epoch(T_MICRO)["HANO"]
    res = {}
    for sysl in "GEC":
        m = np.char.startswith(ep.sat.astype(str), sysl)
        offsets: dict = {}
        encode_msm_obs(ep, sysl, 7, 1, cp_offset_cyc=offsets)
        c0 = time.process_time()
        for _ in range(repeat):
            encode_msm_obs(ep, sysl, 7, 1, cp_offset_cyc=offsets)
        ms = (time.process_time() - c0) / repeat * 1e3
        res[sysl] = {"nsat": len(set(ep.sat[m].tolist())), "ncell": int(m.sum()), "ms_per_call": ms}
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stations", type=int, default=65)
    ap.add_argument("--epochs", type=int, default=120)
    ap.add_argument(
        "--repeat", type=int, default=2000, help="encode_msm_obs micro-benchmark calls per system"
    )
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    res = run(a.stations, a.epochs)
    res["encode_msm_obs"] = bench_encode_msm_obs(a.repeat)
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print(
        f"sim network: {res['stations']} stations, {res['epochs']} epochs at 1 Hz, msm kernel: {res['backend_msm']}"
    )
    print(f"  physics   {res['physics_ms']:8.2f} ms CPU / epoch")
    print(
        f"  encoding  {res['encoding_ms']:8.2f} ms CPU / epoch  ({res['bytes_per_station_epoch']:.0f} B / station-epoch)"
    )
    print(
        f"  total     {res['total_ms']:8.2f} ms CPU / epoch  (p95 {res['total_p95_ms']:.2f}, max {res['total_max_ms']:.2f} ms; "
        f"SimNetwork.step {res['step_ms']:.2f} ms)"
    )
    print(
        f"  first epoch (build + full ephemeris set): physics {res['first_epoch_ms'][0]:.1f} ms, "
        f"encoding {res['first_epoch_ms'][1]:.1f} ms"
    )
    print(
        f"  share of one core at 1 Hz: {res['core_pct_at_1hz']:.1f} %  (target < {TARGET_PCT:.0f} %: "
        f"{'met' if res['core_pct_at_1hz'] < TARGET_PCT else 'NOT met'})"
    )
    for sysl, r in res["encode_msm_obs"].items():
        print(
            f"  encode_msm_obs {sysl}: {r['nsat']} sats, {r['ncell']} cells: {r['ms_per_call']:.3f} ms / call"
        )
    print(
        "  peer: none (no open simulator emits RTCM 3 MSM7 network streams); absolute target only"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
