"""Benchmark: ``vngeonet convert`` throughput (RTCM messages/s) beside RTKLIB convbin.

Two inputs, both made only of real frames:

1. ``concat``: every real RTCM 3 capture of ../shared/data with observations or
   ephemerides, concatenated (different stations and dates, as in the issue), repeated
   ``--repeat`` times so that the run is long enough to time;
2. ``hour``: the Trimble ALLOY NTRIP capture (MSM7 x 4 systems + 1006/1033/1230 +
   ephemerides) re-timed bit-exactly into one continuous hour at 1 Hz (109 copies).

Both tools convert the same bytes to RINEX 3 obs + nav, timed end to end (process
start to files written, best of ``--runs``, after one untimed warm-up run of each).
Python's bytecode is cached in a temporary ``PYTHONPYCACHEPREFIX`` as an installed
package has it (this environment sets ``PYTHONDONTWRITEBYTECODE=1``, which makes every
start-up recompile all modules, ~0.1 s); ``--no-bytecode-cache`` measures that way.  convbin is RTKLIB 2.4.3's, built
from source in /tmp (never committed); pass its path with ``--convbin``.
Messages are counted by vngeonet's framer (CRC-valid frames).

Usage::

    python tools/bench/bench_convert.py [--convbin /tmp/rtklib/app/consapp/convbin/gcc/convbin]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("VNGEONET_DATA", REPO.parent / "shared" / "data"))

CAPTURES = [
    "pygnssutils/tests/ntrip_encode_none.bin",
    "pygnssutils/tests/pygpsdata-rtcm3.log",
    "pyrtcm/tests/pygpsdata-NTRIP.log",
    "pyrtcm/tests/pygpsdata-NTRIP-USCL00CHL0.log",
    "pygnssutils/examples/rtcmntrip.log",
    "rtklib/rcvraw/testglo.rtcm3",
    "cssrlib-data/doy2023-229/idd2023229c.rtc",
]


def make_inputs(tmp: Path, repeat: int) -> dict:
    from tests.archive.synth import frames, looped

    concat = b"".join((DATA / c).read_bytes() for c in CAPTURES if (DATA / c).exists()) * repeat
    p1 = tmp / "concat.rtcm"
    p1.write_bytes(concat)
    p2 = tmp / "hour.rtcm"
    p2.write_bytes(looped(frames(), 109))
    return {"concat": (p1, "2024-08-18"), "hour": (p2, "2024-08-18")}


def count_messages(path: Path) -> int:
    from vngeonet.rtcm.framer import iter_frames

    return sum(1 for _ in iter_frames(path.read_bytes()))


def run_ours(path: Path, date: str, out: Path, env: dict) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vngeonet", "convert", str(path), "-o", str(out), "--date", date],
                   check=True, capture_output=True, cwd=REPO, env=env)
    return time.perf_counter() - t


def child_env(tmp: Path, cache: bool) -> dict:
    env = dict(os.environ)
    if cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def run_convbin(convbin: str, path: Path, date: str, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    y, m, d = date.split("-")
    t = time.perf_counter()
    subprocess.run([convbin, "-r", "rtcm3", "-tr", f"{y}/{m}/{d} 12:00:00", "-v", "3.04", "-od", "-os",
                    "-o", str(out / "cb.obs"), "-n", str(out / "cb.nav"), str(path)],
                   check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--convbin", default="/tmp/rtklib/app/consapp/convbin/gcc/convbin")
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-bytecode-cache", action="store_true", help="recompile every module at each start")
    args = ap.parse_args()
    have_cb = shutil.which(args.convbin) is not None or Path(args.convbin).exists()
    from vngeonet import kernels

    cache = not args.no_bytecode_cache
    print(f"vngeonet kernels: {kernels.BACKEND}; bytecode cache: {'yes' if cache else 'no'}; "
          f"convbin: {args.convbin if have_cb else 'not built'}")
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        env = child_env(tmp, cache)
        for name, (path, date) in make_inputs(tmp, args.repeat).items():
            n = count_messages(path)
            run_ours(path, date, tmp / f"o_{name}_warm", env)
            ours = min(run_ours(path, date, tmp / f"o_{name}_{k}", env) for k in range(args.runs))
            line = f"{name:7s} {n:7d} msgs  vngeonet {ours:6.2f} s = {n / ours:9.0f} msg/s"
            if have_cb:
                run_convbin(args.convbin, path, date, tmp / f"c_{name}_warm")
                cb = min(run_convbin(args.convbin, path, date, tmp / f"c_{name}_{k}") for k in range(args.runs))
                line += f"  | convbin {cb:6.2f} s = {n / cb:9.0f} msg/s  | ratio vngeonet/convbin {cb / ours:5.2f}"
            else:
                line += "  | convbin not built: quoted steady state ~83,000 msg/s"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
