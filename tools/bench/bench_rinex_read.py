"""RINEX observation reading: vngeonet ``read_obs`` vs ``georinex.load``, same run.

Usage::

    python tools/bench/bench_rinex_read.py [--json] [--repeat 3] [--files REL ...] [--no-georinex] [--check]

Default files (under ``VNGEONET_DATA``, default ``../shared/data``):

* NYA1 2024-124, RINEX 3.05 full day, Hatanaka inside gzip (2.9 MB -> 28 MB, 2,880 epochs);
* LHAZ 2016-044, RINEX 2.11 full day, Hatanaka 1 inside unix compress (2,795 epochs, events);
* ACOR 2008-148, RINEX 2.11 full day, plain (3.0 MB, 2,880 epochs; georinex's fast RINEX 2 path).

For each file: our total read time (median of ``--repeat`` runs) split into
unpacking (gzip/.Z/Hatanaka) and parsing (header + kernel + assembly), the
kernel backend in use, the number of rows, then one ``georinex.load`` of the
same file and the ratio georinex / ours.  Issue 3 target: >= 200x on NYA1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

DATA = Path(os.environ.get("VNGEONET_DATA", REPO.parent / "shared" / "data")).resolve()
FILES = [
    "nav-solutions-data/CRNX/V3/NYA100NOR_S_20241240000_01D_30S_MO.crx.gz",
    "orekit/orbit-determination/analytical/lhaz0440.16d.Z",
    "gnsstk/examples/acor1480.08o",
]


def _ours(path: Path, repeat: int) -> dict:
    from vngeonet import kernels
    from vngeonet.rinex.compress import unpack
    from vngeonet.rinex.obs import read_obs, read_obs_bytes

    totals, unpacks, parses = [], [], []
    obs = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        obs = read_obs(path)
        totals.append(time.perf_counter() - t0)
        raw = path.read_bytes()
        t1 = time.perf_counter()
        text, layers = unpack(raw)
        t2 = time.perf_counter()
        read_obs_bytes(text)
        t3 = time.perf_counter()
        unpacks.append(t2 - t1)
        parses.append(t3 - t2)
    crx = "vngeonet crx_to_rnx kernel" if (not kernels.PUREPYTHON and kernels.compiled("crx")) \
        else "hatanaka package (RNXCMP crx2rnx)"
    return {
        "backend": kernels.backends().get("rinex_obs"), "layers": layers, "crx_expander": crx, "bytes_text": len(text),
        "epochs": obs.n_epochs, "rows": int(obs.sat.size),
        "ours_s": statistics.median(totals), "ours_unpack_s": statistics.median(unpacks),
        "ours_parse_s": statistics.median(parses),
    }


def _georinex(path: Path, check: bool) -> dict:
    import georinex

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        ds = georinex.load(str(path))
        dt = time.perf_counter() - t0
    out = {"georinex_s": dt, "georinex_sizes": {k: int(v) for k, v in ds.sizes.items()}}
    if check:
        from tests.rinex.oracle import compare
        from vngeonet.rinex.obs import read_obs

        out["values_equal_to_georinex"] = compare(read_obs(path), ds)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", nargs="+", default=FILES, help="paths relative to VNGEONET_DATA")
    ap.add_argument("--repeat", type=int, default=3, help="runs of our reader (median reported)")
    ap.add_argument("--no-georinex", action="store_true", help="skip georinex (no ratio)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per file")
    ap.add_argument("--check", action="store_true",
                    help="also assert every value equals georinex's (tests/rinex/oracle.py)")
    args = ap.parse_args(argv)
    for rel in args.files:
        path = DATA / rel
        if not path.exists():
            print(f"skip {rel}: not found under {DATA}", file=sys.stderr)
            continue
        res = {"file": rel, **_ours(path, args.repeat)}
        if not args.no_georinex:
            res.update(_georinex(path, args.check))
            res["ratio"] = res["georinex_s"] / res["ours_s"]
        if args.json:
            print(json.dumps(res), flush=True)
            continue
        print(f"{rel}\n  ours ({res['backend']}): {res['ours_s']:.3f} s  "
              f"[unpack {'+'.join(res['layers']) or 'none'} {res['ours_unpack_s']:.3f} s, "
              f"parse {res['ours_parse_s']:.3f} s]  {res['epochs']} epochs, {res['rows']} rows, "
              f"{res['bytes_text'] / 1e6:.1f} MB text"
              + (f"; CRX by {res['crx_expander']}" if "hatanaka" in res["layers"] else ""), flush=True)
        if "ratio" in res:
            print(f"  georinex: {res['georinex_s']:.2f} s  {res['georinex_sizes']}\n"
                  f"  ratio georinex/ours: {res['ratio']:.0f}x", flush=True)
        if "values_equal_to_georinex" in res:
            print(f"  values equal to georinex: {res['values_equal_to_georinex']} compared", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
