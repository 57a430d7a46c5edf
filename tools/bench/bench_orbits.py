"""Broadcast vs precise orbit/clock accuracy per system, and sat_state cost.

Usage::

    python tools/bench/bench_orbits.py [--step 300] [--data ../shared/data]

For every data set with broadcast navigation data and precise SP3 (+ CLK)
products for the same day under ``VNGEONET_DATA``, evaluates the broadcast
store and the precise store on a common time grid (every ``--step`` s) and
prints, per system: satellites, samples, 3D orbit RMS and its radial /
along-track / cross-track parts, and the clock RMS after removing the
per-epoch, per-system mean (the clock datum: broadcast clocks refer to each
system's time, precise clocks to one reference clock), plus the clock STD
after also removing each satellite's mean (the constant signal-bias part:
e.g. Galileo I/NAV clocks refer to E1/E5b, IGS clocks to E1/E5a; BeiDou
broadcast clocks to B3I).  BeiDou rows: ``C`` all, ``C2g`` BDS-2 GEO
(C01-C05), ``C2`` BDS-2 IGSO/MEO (C06-C18), ``C3`` BDS-3 (C19-C58).  For
a GEO, along/cross-track from the (near-zero) ECEF velocity are not meaningful.

Antenna offsets: broadcast orbits refer to an antenna phase centre (APC) as
defined by each control segment, SP3 to the centre of mass (NGA's SP3-a for
2015 is an APC product).  The ``mean R`` column (mean radial difference,
broadcast - precise) shows that offset.  Where an ANTEX file with the
satellites is available (``rtklib/igs05.atx`` for 2009/2010), the IGS
satellite z-offset is applied to GLONASS only (``PCO: z(R)``): for GLONASS
it removes the ~2.2 m radial bias (2009: mean R -2.2 m -> ~0), while for GPS
the control segment's offsets differ from the IGS ones (2010: mean radial
difference -0.9 m for Block IIA (IGS z 2.3-2.7 m), -1.55 m for IIR-A/B
(z 0.9-1.3 m), ~0 for IIR-M), so applying the IGS values would not be a
correction; GPS, Galileo, BeiDou and QZSS rows are therefore uncorrected.

Finally the cost of ``EphemerisStore.sat_state`` for 30 satellites per call
is timed (the SPP hot path), broadcast and precise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import time
import timeit
from pathlib import Path

import numpy as np

from vngeonet.gnss.time import GPSTime
from vngeonet.orbits import EphemerisStore
from vngeonet.orbits.precise import PreciseStore
from vngeonet.rinex.nav import read_nav

REPO = Path(__file__).resolve().parents[2]

# (label, day (UTC), nav files, sp3 files, clk files or None, ANTEX for PCO or None, span hours)
DATASETS = [
    (
        "RTKLIB 2010-182",
        dt.datetime(2010, 7, 1),
        ["rtklib/rinex/brdc1820.10n"],
        ["rtklib/sp3/igs15904.sp3", "rtklib/sp3/igs15905.sp3"],
        None,
        "rtklib/igs05.atx",
        24,
    ),
    (
        "RTKLIB 2010-182 CLK",
        dt.datetime(2010, 7, 1),
        ["rtklib/rinex/brdc1820.10n"],
        ["rtklib/sp3/igs15904.sp3"],
        ["rtklib/sp3/igs15904.clk"],
        "rtklib/igs05.atx",
        0.9,
    ),
    (
        "RTKLIB 2009-091 GLO",
        dt.datetime(2009, 4, 1),
        ["rtklib/rinex/brdc0910.09g"],
        ["rtklib/sp3/esa15253.sp3"],
        ["rtklib/sp3/esa15253.clk"],
        "rtklib/igs05.atx",
        24,
    ),
    (
        "gnsstk 2015-200 (NGA APC)",
        dt.datetime(2015, 7, 19),
        ["gnsstk-data/glob200a.15n"],
        ["gnsstk-data/data/test_input_sp3_nav_2015_200.sp3"],
        None,
        None,
        24,
    ),
    (
        "gnss_lib_py 2021-118",
        dt.datetime(2021, 4, 28, 18),
        ["gnss_lib_py/rinex/nav/brdc1180.21n"],
        ["gnss_lib_py/sp3/COD0MGXFIN_20211180000_01D_05M_ORB.SP3"],
        ["gnss_lib_py/clk/COD0MGXFIN_20211180000_01D_30S_CLK.CLK"],
        None,
        6,
    ),
    (
        "ESBC 2020-177",
        dt.datetime(2020, 6, 25),
        ["nav-solutions-data/NAV/V3/ESBC00DNK_R_20201770000_01D_MN.rnx.gz"],
        ["nav-solutions-data/SP3/C/GRG0MGXFIN_20201770000_01D_15M_ORB.SP3.gz"],
        ["nav-solutions-data/CLK/V3/GRG0MGXFIN_20201770000_01D_30S_CLK.CLK.gz"],
        None,
        24,
    ),
    (
        "ESBC 2020-177 vs IAC SP3 (SP3 clocks)",
        dt.datetime(2020, 6, 25),
        ["nav-solutions-data/NAV/V3/ESBC00DNK_R_20201770000_01D_MN.rnx.gz"],
        ["nav-solutions-data/SP3/D/Sta21114.sp3.gz"],
        None,
        None,
        24,
    ),
]


def antex_z_offsets(path: Path, day: dt.datetime) -> dict[str, float]:
    """Satellite PCO z (m, first frequency) valid on ``day`` from an ANTEX file."""
    out: dict[str, float] = {}
    sat, valid, z, start, end = None, True, None, None, None
    for line in path.read_text(errors="replace").splitlines():
        label = line[60:].strip()
        if label == "START OF ANTENNA":
            sat, z, start, end = None, None, None, None
        elif label == "TYPE / SERIAL NO":
            s = line[20:23]
            sat = s if s[:1] in "GREC J" and s[1:].strip().isdigit() else None
        elif label == "VALID FROM":
            f = line[:43].split()
            start = dt.datetime(*map(int, f[:5]))
        elif label == "VALID UNTIL":
            f = line[:43].split()
            end = dt.datetime(*map(int, f[:5]))
        elif label == "NORTH / EAST / UP" and sat and z is None:
            z = float(line[20:30]) * 1e-3
        elif label == "END OF ANTENNA" and sat and z is not None:
            valid = (start is None or start <= day) and (end is None or day <= end)
            if valid:
                out[sat] = z
    return out


def rac(pos: np.ndarray, vel: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Radial, along-track, cross-track components of ``d`` (n, 3)."""
    r = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    c = np.cross(pos, vel)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    a = np.cross(c, r)
    return np.stack([(d * r).sum(1), (d * a).sum(1), (d * c).sum(1)], axis=1)


def compare(data: Path, label, day, navs, sp3s, clks, atx, span_h, step_s, prefer=None):
    paths = [data / p for p in navs + sp3s + (clks or [])]
    if not all(p.exists() for p in paths):
        print(f"{label}: data missing, skipped")
        return
    store = EphemerisStore(read_nav([data / p for p in navs]).ephemerides, prefer=prefer)
    prec = PreciseStore([data / p for p in sp3s], [data / p for p in clks] if clks else None)
    pco = antex_z_offsets(data / atx, day) if atx else {}
    t0 = GPSTime.from_datetime(day).seconds
    times = t0 + np.arange(0.0, span_h * 3600.0, step_s)
    sats = np.array(sorted(set(store.satellites) & set(prec.satellites)))
    S, T = np.meshgrid(sats, times, indexing="ij")
    S, T = S.ravel(), T.ravel()
    b = store.sat_state(S, T)
    p = prec.sat_state(S, T)
    ppos = p.pos_m.copy()
    pco = {k: v for k, v in pco.items() if k[0] == "R"}
    zo = np.array([pco.get(s, 0.0) for s in S])
    if pco:  # APC = CoM + z * nadir unit vector (z axis toward the Earth)
        ppos -= zo[:, None] * ppos / np.linalg.norm(ppos, axis=1, keepdims=True)
    ok = b.ok & p.ok
    d = b.pos_m - ppos
    comp = np.full_like(d, np.nan)
    comp[ok] = rac(ppos[ok], p.vel_mps[ok], d[ok])
    dclk = (b.clk_s - p.clk_s) * 299792458.0
    print(
        f"\n{label}  ({len(times)} epochs every {step_s:.0f} s; PCO: {'z(R) from ' + atx if pco else 'none'})"
    )
    print(
        f"  {'sys':3s} {'sats':>4s} {'samples':>7s} {'3D RMS m':>9s} {'R':>6s} {'A':>6s} {'C':>6s} {'mean R':>6s}"
        f" {'max 3D':>7s} {'clk RMS m':>9s} {'clk STD m':>9s} {'clk n':>6s}"
    )
    prn = np.array([int(x[1:]) for x in S])
    is_c = np.char.startswith(S, "C")
    groups = [
        ("G", np.char.startswith(S, "G")),
        ("R", np.char.startswith(S, "R")),
        ("E", np.char.startswith(S, "E")),
        ("C", is_c),
        ("C2g", is_c & (prn <= 5)),
        ("C2", is_c & (prn > 5) & (prn <= 18)),
        ("C3", is_c & (prn > 18) & (prn < 59)),
        ("J", np.char.startswith(S, "J")),
    ]
    for sys, sel in groups:
        m = ok & sel
        if not m.any():
            continue
        e3 = np.linalg.norm(d[m], axis=1)
        rms = lambda x: float(np.sqrt(np.nanmean(x**2)))
        cr, cs, cn = _clock_stats(dclk, m & np.isfinite(dclk), S, T)
        print(
            f"  {sys:3s} {len(set(S[m])):4d} {int(m.sum()):7d} {rms(e3):9.3f} {rms(comp[m, 0]):6.3f}"
            f" {rms(comp[m, 1]):6.3f} {rms(comp[m, 2]):6.3f} {np.nanmean(comp[m, 0]):6.2f}"
            f" {e3.max():7.2f} {cr:9.3f} {cs:9.3f} {cn:6d}"
        )


def _clock_stats(dclk, m, S, T):
    """RMS after per-epoch mean removal, STD after also removing per-satellite means."""
    if m.sum() < 3:
        return float("nan"), float("nan"), 0
    x, s, t = dclk[m], S[m], T[m]
    _, ti = np.unique(t, return_inverse=True)
    cnt = np.bincount(ti)
    keep = cnt[ti] >= 2
    x, s, ti = x[keep], s[keep], ti[keep]
    if not len(x):
        return float("nan"), float("nan"), 0
    x = x - (np.bincount(ti, x) / np.bincount(ti))[ti]
    rms = float(np.sqrt(np.mean(x**2)))
    _, si = np.unique(s, return_inverse=True)
    y = x - (np.bincount(si, x) / np.bincount(si))[si]
    _, ti2 = np.unique(ti, return_inverse=True)
    y = y - (np.bincount(ti2, y) / np.bincount(ti2))[ti2]
    return rms, float(np.sqrt(np.mean(y**2))), len(x)


def time_sat_state(data: Path, repeat: int = 7, number: int = 300):
    """Per-call cost (best of ``repeat`` runs of ``number`` calls) and whole-day batch cost."""
    nav = data / "nav-solutions-data/NAV/V3/ESBC00DNK_R_20201770000_01D_MN.rnx.gz"
    sp3 = data / "nav-solutions-data/SP3/C/GRG0MGXFIN_20201770000_01D_15M_ORB.SP3.gz"
    clk = data / "nav-solutions-data/CLK/V3/GRG0MGXFIN_20201770000_01D_30S_CLK.CLK.gz"
    if not nav.exists():
        return
    store = EphemerisStore(read_nav(nav).ephemerides)
    prec = PreciseStore(sp3, clk) if sp3.exists() and clk.exists() else None
    t0 = GPSTime.from_datetime(dt.datetime(2020, 6, 25, 6)).seconds
    for label, sats in (
        ("30 sats G+E+C", [s for s in store.satellites if s[0] in "GEC"][::2][:30]),
        ("30 sats G+R+E+C", [s for s in store.satellites if s[0] in "GREC"][::3][:30]),
    ):
        sat = np.array(sats)
        t = np.full(len(sat), t0) - 0.07
        for name, st in (("broadcast", store), ("precise", prec)):
            if st is None:
                continue
            st.sat_state(sat, t)  # warm up (GLONASS nodes, tables)
            call = functools.partial(st.sat_state, sat, t)
            best = min(timeit.repeat(call, number=number, repeat=repeat))
            us = best / number * 1e6
            print(
                f"  sat_state {name:9s} {label:16s}: {us:8.1f} us/call ({us / len(sat):.2f} us/sat)"
            )
        # the whole day in one call (SPP can compute all transmit times first)
        S = np.repeat(sat, 2880)
        T = np.tile(t0 - 6 * 3600.0 + np.arange(2880) * 30.0, len(sat))
        tic = time.perf_counter()
        res = store.sat_state(S, T)
        sec = time.perf_counter() - tic
        print(
            f"  sat_state broadcast {label:16s}: whole day in one call, {len(S)} rows "
            f"({int(res.ok.sum())} ok): {sec * 1e3:.1f} ms ({sec / len(S) * 1e6:.2f} us/row)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", type=float, default=300.0, help="comparison step, s")
    ap.add_argument(
        "--data", default=os.environ.get("VNGEONET_DATA", str(REPO.parent / "shared" / "data"))
    )
    a = ap.parse_args()
    data = Path(a.data)
    for ds in DATASETS:
        compare(data, *ds, step_s=a.step)
    ds = DATASETS[-2]
    compare(
        data,
        ds[0] + " Galileo F/NAV (E1/E5a clocks)",
        *ds[1:],
        step_s=a.step,
        prefer={"E": ("FNAV",)},
    )
    print("\nsat_state cost (one call per epoch, 30 satellites):")
    time_sat_state(data)


if __name__ == "__main__":
    main()
