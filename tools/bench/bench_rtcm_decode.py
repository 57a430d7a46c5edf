#!/usr/bin/env python3
"""Benchmark: RTCM 3 decoding (framing + full MSM observables into numpy arrays) vs pyrtcm.

Corpus: every real RTCM 3 capture listed in ``$VNGEONET_DATA/catalog.jsonl``
(files with an RTCM 3 tally), reduced to their CRC-valid frames (NMEA/UBX and
garbage between frames dropped, so that every decoder sees the same pure RTCM
bytes).  HTTP/chunked NTRIP recordings are skipped (their frames duplicate
``ntrip_encode_none.bin`` or are split by chunk markers).  The corpus is
concatenated and looped to at least ``--target-mb`` MB.  A second corpus holds
only the MSM7 frames (1077, 1087, 1097, 1107, 1117, 1127, 1137), looped the
same way.

Measured in the same run:

* ours, compiled kernels: ``vngeonet.rtcm.decode.decode_stream`` over the
  whole looped corpus with one DecodeContext (MSM epochs resolved to GPS
  time, observables reconstructed into float64 arrays), best of ``--repeat``;
* ours, pure-Python twins (``VNGEONET_PUREPYTHON=1``, in a subprocess, since
  the backend is chosen per process), on an evenly sampled subset;
* pyrtcm ``RTCMReader`` (default options, errors not printed) on an evenly sampled subset of the
  same frames (pyrtcm would take minutes on 20 MB; its rate is extrapolated
  from the subset, which keeps the corpus' message mix).  pyrtcm parses the raw
  data fields only (no observable reconstruction, no epoch resolution), so
  the comparison favours it.

Rates are messages/s and MB/s, on wall-clock time (best of repeats) and on
process CPU time (less sensitive to other load on a shared machine).  The
ratio is ours / pyrtcm.  Target (issue 2): ratio >= 40 (RTKLIB's C decoder
speed on this machine).

Usage::

    python tools/bench/bench_rtcm_decode.py [--target-mb 20] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

MSM7 = (1077, 1087, 1097, 1107, 1117, 1127, 1137)


def data_dir() -> Path:
    return Path(os.environ.get("VNGEONET_DATA", REPO.parent / "shared" / "data")).resolve()


def _is_http(data: bytes, name: str) -> bool:
    return (
        "chunked" in name
        or data[:5] in (b"HTTP/", b"ICY 2")
        or b"Transfer-Encoding: chunked" in data[:4096]
    )


def build_corpus() -> tuple[bytes, bytes, dict]:
    """(all-frames base, MSM7-frames base, description) from the catalogued captures."""
    from vngeonet.rtcm.framer import iter_frames

    root = data_dir()
    cat = root / "catalog.jsonl"
    if not cat.exists():
        raise SystemExit(f"bench: {cat} not found (set VNGEONET_DATA)")
    rows = [json.loads(s) for s in cat.read_text().splitlines() if s.strip()]
    used, skipped, parts, msm = [], [], [], []
    for r in rows:
        if "rtcm3" not in r:
            continue
        path = root / r["file"]
        if not path.exists():
            skipped.append((r["file"], "missing"))
            continue
        data = path.read_bytes()
        if _is_http(data, r["file"]):
            skipped.append((r["file"], "HTTP/chunked NTRIP recording"))
            continue
        frames = list(iter_frames(data))
        parts += [f.raw for f in frames]
        msm += [f.raw for f in frames if f.msg_type in MSM7]
        used.append(r["file"])
    desc = {
        "files_used": len(used),
        "files_skipped": skipped,
        "frames": len(parts),
        "msm7_frames": len(msm),
    }
    return b"".join(parts), b"".join(msm), desc


def loop_to(base: bytes, target_bytes: int) -> bytes:
    return base * max(1, math.ceil(target_bytes / len(base)))


def sample(base: bytes, n_msgs: int) -> bytes:
    """About ``n_msgs`` frames of ``base`` taken evenly (same mix), looped if base is shorter."""
    from vngeonet.rtcm.framer import iter_frames

    frames = [f.raw for f in iter_frames(base)]
    if len(frames) >= n_msgs:
        step = len(frames) / n_msgs
        return b"".join(frames[int(i * step)] for i in range(n_msgs))
    return b"".join(frames[i % len(frames)] for i in range(n_msgs))


def time_ours(data: bytes, repeat: int) -> dict:
    """Decode ``data`` completely with vngeonet; best wall and CPU time of ``repeat`` runs."""
    from vngeonet.cli.rtcm import approx_time_from
    from vngeonet.rtcm.context import DecodeContext
    from vngeonet.rtcm.decode import DecodeStats, decode_stream

    approx = approx_time_from(data)
    best_wall = best_cpu = float("inf")
    n = 0
    for _ in range(repeat):
        ctx = DecodeContext(approx_time=approx, source="bench")
        stats = DecodeStats()
        w0, c0 = time.perf_counter(), time.process_time()
        n = 0
        for _msg in decode_stream(data, ctx, stats=stats):
            n += 1
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
        if stats.decode_errors:
            raise SystemExit(f"bench: {stats.decode_errors} decode errors: {stats.errors_per_type}")
    return _rates(n, len(data), best_wall, best_cpu)


def time_framing(data: bytes, repeat: int) -> dict:
    """Framing alone: CRC-checked scan plus Frame objects (the part before decoding)."""
    from vngeonet.rtcm.framer import iter_frames

    best_wall = best_cpu = float("inf")
    n = 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        n = 0
        for _f in iter_frames(data):
            n += 1
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return _rates(n, len(data), best_wall, best_cpu)


def per_type_profile(base: bytes, top: int = 12) -> list[dict]:
    """CPU microseconds per message and share of decode time, per message type (one pass)."""
    from collections import Counter

    from vngeonet.cli.rtcm import approx_time_from
    from vngeonet.rtcm.context import DecodeContext
    from vngeonet.rtcm.decode import decode
    from vngeonet.rtcm.framer import iter_frames

    frames = list(iter_frames(base))
    ctx = DecodeContext(approx_time=approx_time_from(base))
    for f in frames:  # warm-up (imports, caches)
        decode(f, ctx)
    count, ns = Counter(), Counter()
    clock = time.process_time_ns  # CPU time: robust against other load on a shared machine
    for f in frames:
        t0 = clock()
        decode(f, ctx)
        ns[f.msg_type] += clock() - t0
        count[f.msg_type] += 1
    total = sum(ns.values())
    rows = [
        {
            "type": t,
            "messages": count[t],
            "us_per_msg": round(v / count[t] / 1e3, 2),
            "share": round(v / total, 4),
        }
        for t, v in ns.most_common(top)
    ]
    return rows


def time_pyrtcm(data: bytes, repeat: int) -> dict:
    from pyrtcm import ERR_IGNORE, RTCMReader

    best_wall = best_cpu = float("inf")
    n = 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        n = 0
        # ERR_IGNORE only silences pyrtcm's error printing (it fails on some 1302 groups).
        for _raw, parsed in RTCMReader(io.BytesIO(data), quitonerror=ERR_IGNORE):
            if parsed is not None:
                n += 1
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    out = _rates(n, len(data), best_wall, best_cpu)
    import pyrtcm

    out["version"] = getattr(pyrtcm, "__version__", "?")
    return out


def _rates(n: int, nbytes: int, wall_s: float, cpu_s: float) -> dict:
    return {
        "messages": n,
        "bytes": nbytes,
        "wall_s": round(wall_s, 4),
        "cpu_s": round(cpu_s, 4),
        "msg_per_s": n / wall_s,
        "mb_per_s": nbytes / wall_s / 1e6,
        "msg_per_cpu_s": n / cpu_s if cpu_s > 0 else float("nan"),
    }


def run_twin(n_mix: int, n_msm: int, repeat: int) -> dict:
    """Time the pure-Python twins in a subprocess (VNGEONET_PUREPYTHON=1)."""
    env = dict(os.environ, VNGEONET_PUREPYTHON="1")
    cmd = [
        sys.executable,
        __file__,
        "--worker-twin",
        str(n_mix),
        str(n_msm),
        "--repeat",
        str(repeat),
    ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO, check=False)
    if res.returncode != 0:
        raise SystemExit(f"bench: twin worker failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout)


def worker_twin(n_mix: int, n_msm: int, repeat: int) -> None:
    from vngeonet import kernels

    base, msm, _ = build_corpus()
    out = {
        "backend": kernels.BACKEND,
        "mix": time_ours(sample(base, n_mix), repeat),
        "msm7": time_ours(sample(msm, n_msm), repeat),
    }
    print(json.dumps(out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--target-mb", type=float, default=20.0, help="loop each corpus to at least this size"
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is kept)")
    ap.add_argument("--pyrtcm-msgs", type=int, default=3000, help="pyrtcm subset size (messages)")
    ap.add_argument(
        "--twin-msgs", type=int, default=3000, help="pure-Python twin subset size (messages)"
    )
    ap.add_argument("--no-twin", action="store_true", help="skip the pure-Python twin measurement")
    ap.add_argument(
        "--by-type", action="store_true", help="also print decode time per message type (mix)"
    )
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    ap.add_argument("--worker-twin", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker_twin:
        worker_twin(*args.worker_twin, repeat=args.repeat)
        return 0
    from vngeonet import kernels

    base, msm, desc = build_corpus()
    target = int(args.target_mb * 1e6)
    res = {"corpus": desc, "backend": kernels.BACKEND, "kernels": kernels.backends(), "results": {}}
    for label, b in (("mix", base), ("msm7", msm)):
        data = loop_to(b, target)
        ours = time_ours(data, args.repeat)
        framing = time_framing(data, args.repeat)
        peer = time_pyrtcm(sample(b, args.pyrtcm_msgs), max(1, args.repeat - 1))
        res["results"][label] = {
            "ours": ours,
            "framing": framing,
            "pyrtcm": peer,
            "ratio_wall": ours["msg_per_s"] / peer["msg_per_s"],
            "ratio_cpu": ours["msg_per_cpu_s"] / peer["msg_per_cpu_s"],
        }
    if not args.no_twin:
        twin = run_twin(args.twin_msgs, args.twin_msgs, max(1, args.repeat - 1))
        for label in ("mix", "msm7"):
            res["results"][label]["twin"] = twin[label]
    if args.by_type:
        res["per_type_mix"] = per_type_profile(base)
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(format_table(res, args))
    return 0


def format_table(res: dict, args) -> str:
    d = res["corpus"]
    lines = [
        (
            f"corpus: {d['files_used']} captures, {d['frames']} frames ({d['msm7_frames']} MSM7); "
            f"skipped: {', '.join(f for f, _ in d['files_skipped']) or 'none'}"
        ),
        f"kernels: {res['backend']} ({', '.join(f'{k}={v}' for k, v in res['kernels'].items())})",
        "",
        (
            f"{'corpus':<6} {'decoder':<28} {'messages':>9} {'MB':>7} {'wall s':>7} {'msg/s':>10} "
            f"{'MB/s':>7} {'msg/CPU-s':>10}"
        ),
    ]
    for label, r in res["results"].items():
        rows = [("vngeonet (compiled)", r["ours"]), ("  of which framing alone", r["framing"])]
        if "twin" in r:
            rows.append(("vngeonet (pure-Python twin)*", r["twin"]))
        rows.append((f"pyrtcm {r['pyrtcm'].get('version', '')} RTCMReader*", r["pyrtcm"]))
        for name, m in rows:
            lines.append(
                f"{label:<6} {name:<28} {m['messages']:>9} {m['bytes'] / 1e6:>7.2f} {m['wall_s']:>7.2f} "
                f"{m['msg_per_s']:>10.0f} {m['mb_per_s']:>7.2f} {m['msg_per_cpu_s']:>10.0f}"
            )
        lines.append(
            f"{label:<6} ratio vngeonet/pyrtcm: {r['ratio_wall']:.1f}x (wall)  {r['ratio_cpu']:.1f}x (CPU)"
            f"   target >= 40x"
        )
        lines.append("")
    if "per_type_mix" in res:
        lines.append(
            "decode time per message type (mix corpus, compiled, CPU time incl. timer overhead):"
        )
        for row in res["per_type_mix"]:
            lines.append(
                f"  {row['type']:>5} {row['messages']:>6} msgs {row['us_per_msg']:>8.1f} us/msg "
                f"{100 * row['share']:>5.1f}% of decode time"
            )
        lines.append("")
    lines.append(
        f"* subset of ~{args.pyrtcm_msgs} (pyrtcm) / ~{args.twin_msgs} (twin) messages sampled evenly "
        "from the same frames; rates extrapolated to the full corpus."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
