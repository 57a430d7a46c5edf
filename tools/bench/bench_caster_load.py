#!/usr/bin/env python3
"""Load benchmark of the vngeonet NTRIP caster: one 1 Hz source, N concurrent rovers.

Loopback only, bounded, stops by itself.  For each N (default 100, 1000,
5000, 10000) it

1. starts a fresh ``vngeonet caster`` process (uvloop when installed) with one
   mountpoint and one rover account (password hashed with the production
   scrypt cost; rovers share it, the caster's verification cache does the rest),
   once per ``--caster-workers K`` (default: K = 0, the single-process caster,
   and K = 2, rovers handed to 2 fan-out worker processes);
2. connects N NTRIP 1 rovers with Basic auth from ``--workers`` client processes
   (separate processes; ``--pin`` puts the caster alone on CPU 0 and the
   rovers and the source on the other CPUs);
3. pushes ``--epochs`` epochs of real RTCM frames (``SOURCE``, one write per
   epoch, 1 Hz) from ../shared/data (default ``pygnssutils/tests/ntrip_encode_none.bin``,
   ~1.9 KB per epoch: MSM7 x4 + ephemerides + 1006/1033);
4. reports: did every rover receive every frame byte-exact (yes/no and count),
   delivery latency p50/p99/max from the source's write to the rover's read of
   the epoch's last byte, caster CPU (% of one core while streaming, main
   process + fan-out workers), the rover clients' CPU (``cliCPU%``: they share
   the machine's cores with the caster), caster RSS (summed over its
   processes), frames dropped / slow disconnects from ``/admin/status``, the
   wall time of the last and the longest fan-out of one source read and the
   CPU time of the last one (``cpu``; main process or the slowest worker: wall
   minus CPU is time spent waiting for a core), and the 1-minute load average
   before the run (other work on the machine).

The rover clients are uvloop protocols (epoll, libuv reads up to 64 KiB per
call) in ``--workers`` processes; latency uses ``time.monotonic()`` (one
clock for every process) of the source's write and of the rover's read.

The peer: RTKLIB's built-in NTRIP caster (``str2str`` with an ``ntripc://``
output) accepts at most 32 clients and speaks NTRIP 1 only (published limit,
see the notes printed at the end); ``--rtklib PATH`` runs the same load
against a ``str2str`` binary at N = 32 when one has been built.

Usage::

    python tools/bench/bench_caster_load.py                # N = 100, 1000, 5000, 10000; caster workers 0 and 2
    python tools/bench/bench_caster_load.py --caster-workers 2 --n 10000
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
FILLER = bytes.fromhex("d3000047ea4b")  # an empty RTCM 3 frame (length 0, valid CRC)


_PIN = {"caster": None, "clients": None}  # CPU sets, filled in main() unless --no-pin


def _pin(role: str) -> None:
    cpus = _PIN[role]
    if cpus:
        os.sched_setaffinity(0, cpus)


def raise_nofile() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
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
    __slots__ = (
        "done",
        "ends",
        "expected",
        "hbuf",
        "head",
        "k",
        "ok",
        "pos",
        "pre",
        "ready",
        "times",
        "transport",
    )
    HEAD_END = b"\r\n\r\n"  # RTKLIB's caster sends only "ICY 200 OK\r\n": b"\r\n" there
    SKIP_FILLER = False  # RTKLIB only serves rovers while data flows: skip the keep-alive filler frames

    def __init__(self, expected: bytes, ends: list, ready, done):
        self.expected, self.ends = expected, ends
        self.pos = self.k = 0
        self.times = [float("nan")] * len(ends)
        self.ok = True
        self.head = True
        self.hbuf = b""
        self.ready, self.done = ready, done
        self.transport = None
        self.pre = b"" if self.SKIP_FILLER else None

    def connection_made(self, transport):
        self.transport = transport
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        transport.write(f"GET /BENCH HTTP/1.0\r\nUser-Agent: NTRIP bench\r\nAuthorization: Basic {auth}\r\n\r\n"
                        .encode())

    def data_received(self, data):
        now = time.monotonic()
        if self.head:
            self.hbuf += data
            i = self.hbuf.find(self.HEAD_END)
            if i < 0:
                return
            self.ok = self.hbuf.startswith(b"ICY 200 OK")
            data = self.hbuf[i + len(self.HEAD_END):]
            self.head = False
            self.ready.set_result(self.ok) if not self.ready.done() else None
        if self.pre is not None:
            buf = self.pre + data
            while buf.startswith(FILLER):
                buf = buf[len(FILLER):]
            if len(buf) < len(FILLER) and FILLER.startswith(buf):
                self.pre = buf
                return
            self.pre, data = None, buf
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


def rover_worker(wid: int, port: int, n: int, epochs: list, rate_per_s: float, out_q, go_evt, deadline_s: float,
                 head_end: bytes = b"\r\n\r\n"):
    _Rover.HEAD_END = head_end
    _Rover.SKIP_FILLER = head_end == b"\r\n"
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
    async def connect(r):
        try:
            await asyncio.wait_for(loop.create_connection(lambda: r, "127.0.0.1", port), 10)
        except (TimeoutError, OSError):
            if not r.ready.done():
                r.ready.set_result(False)
            if not r.done.done():
                r.done.set_result(False)

    connecting = []
    for i in range(n):
        r = _Rover(expected, ends, loop.create_future(), loop.create_future())
        connecting.append(asyncio.ensure_future(connect(r)))  # a refused rover must not hold up the others
        rovers.append(r)
        lag = (i + 1) / rate_per_s - (time.monotonic() - t0)
        if lag > 0:
            await asyncio.sleep(lag)
    await asyncio.wait([r.ready for r in rovers], timeout=20 + n / 250)
    live = [r for r in rovers if r.ready.done() and r.ready.result()]
    out_q.put(("ready", wid, len(live), n))
    if live:
        await asyncio.wait([r.done for r in live], timeout=deadline_s)
    ok = sum(1 for r in rovers if r.ok and r.pos == len(expected))
    times = np.array([r.times for r in rovers], dtype=float)
    for r in rovers:
        if r.transport is not None:
            r.transport.close()
    out_q.put(("result", wid, ok, times))


# ---------------------------------------------------------------- caster process
def _children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (the caster's fan-out workers)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _proc_cpu_s(pid: int, *, tree: bool = False) -> float:
    """CPU seconds (user + system) of ``pid``, plus its live children with ``tree``."""
    total = 0.0
    for p in [pid] + (_children(pid) if tree else []):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _proc_mem_mb(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MB of ``pid`` and its children (summed)."""
    rss = hwm = 0.0
    for p in [pid] + _children(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        rss += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        hwm += int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    return rss, hwm


def start_caster(tmp: Path, n: int, caster_workers: int = 0):
    from vngeonet.caster.auth import hash_password
    from vngeonet.store import open_store

    (tmp / "caster.toml").write_text(f"""
[caster]
listen = "127.0.0.1:0"
db = "caster.db"
workers = {caster_workers}
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_str2str(binary: str):
    """RTKLIB str2str: TCP server input (our paced source), NTRIP caster output."""
    p_in, p_out = _free_port(), _free_port()
    proc = subprocess.Popen([binary, "-in", f"tcpsvr://:{p_in}", "-out", f"ntripc://{USER}:{PASSWORD}@:{p_out}/BENCH"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: (raise_nofile(), _pin("caster")))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", p_out), timeout=1).close()
            return proc, p_in, p_out
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("str2str did not start")


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
def run_one(n: int, epochs: list, workers: int, rate_per_s: float, rtklib: str | None = None,
            caster_workers: int = 0) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="vng-bench-"))
    if rtklib:
        caster, src_port, port = start_str2str(rtklib)
    else:
        caster, port = start_caster(tmp, n, caster_workers)
        src_port = port
    ctx = mp.get_context("fork")
    out_q = ctx.Queue()
    go = ctx.Event()
    workers = max(1, min(workers, n // 50 or 1))
    shares = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    deadline_s = len(epochs) + 60.0
    head_end = b"\r\n" if rtklib else b"\r\n\r\n"
    procs = [ctx.Process(target=rover_worker, args=(i, port, k, epochs, rate_per_s / workers, out_q, go,
                                                    deadline_s, head_end), daemon=True)
             for i, k in enumerate(shares)]
    try:
        src = socket.create_connection(("127.0.0.1", src_port), timeout=10)
        stop_filler = None
        if not rtklib:
            src.sendall(f"SOURCE {SOURCE_PW} /BENCH\r\nSource-Agent: NTRIP bench\r\n\r\n".encode())
            assert src.recv(100).startswith(b"ICY 200 OK"), "source refused"
        else:
            import threading

            stop_filler = threading.Event()

            def filler():
                while not stop_filler.wait(0.05):
                    src.sendall(FILLER)

            filler_thread = threading.Thread(target=filler, daemon=True)
            filler_thread.start()
        src.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t_connect = time.monotonic()
        for p in procs:
            p.start()
        connected = 0
        for _ in procs:
            kind, wid, c, _k = out_q.get(timeout=120 + n / 50)
            connected += c
        t_connect = time.monotonic() - t_connect
        if stop_filler is not None:
            stop_filler.set()
            filler_thread.join()
        time.sleep(1.0)
        cpu0, t0 = _proc_cpu_s(caster.pid, tree=True), time.monotonic()
        ccpu0 = sum(_proc_cpu_s(p.pid) for p in procs)
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
        cpu1, t1 = _proc_cpu_s(caster.pid, tree=True), time.monotonic()
        ccpu1 = sum(_proc_cpu_s(p.pid) for p in procs)
        rss_mb, hwm_mb = _proc_mem_mb(caster.pid)
        results = []
        for _ in procs:
            _kind, _wid, ok, times = out_q.get(timeout=deadline_s + 60)
            results.append((ok, times))
        status = admin_status(port) if not rtklib else None
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
    if status is None:  # RTKLIB has no status page
        status = {"counters": {"slow_disconnects": -1}, "sessions": [],
                  "mounts": {"BENCH": {"fanout_last_ms": float("nan"), "fanout_max_ms": float("nan")}}}
    counters = status["counters"]
    dropped = counters.get("dropped_frames", -1) + sum(s["dropped_frames"] for s in status["sessions"])
    return {
        "n": n, "connected": connected, "connect_s": t_connect, "all_frames": ok == n, "ok_clients": ok,
        "epoch_deliveries": int(got.sum()), "expected_deliveries": n * len(epochs),
        "p50_ms": float(np.percentile(lat_ms[got], 50)) if got.any() else float("nan"),
        "p99_ms": float(np.percentile(lat_ms[got], 99)) if got.any() else float("nan"),
        "max_ms": float(lat_ms[got].max()) if got.any() else float("nan"),
        "cpu_pct": 100.0 * (cpu1 - cpu0) / (t1 - t0), "rss_mb": rss_mb, "hwm_mb": hwm_mb,
        "client_cpu_pct": 100.0 * (ccpu1 - ccpu0) / (t1 - t0),
        "dropped_frames": dropped, "slow_disconnects": counters["slow_disconnects"],
        "fanout_last_ms": max([status["mounts"]["BENCH"]["fanout_last_ms"]]
                              + [w.get("fanout_last_ms", 0.0) for w in status.get("workers", [])]),
        "fanout_max_ms": max([status["mounts"]["BENCH"]["fanout_max_ms"]]
                             + [w.get("fanout_max_ms", 0.0) for w in status.get("workers", [])]),
        "fanout_cpu_ms": max([status["mounts"]["BENCH"].get("fanout_cpu_last_ms", float("nan"))]
                             + [w.get("fanout_cpu_last_ms", 0.0) for w in status.get("workers", [])]),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, action="append", help="rover count (repeatable); default 100 1000 5000 10000")
    ap.add_argument("--epochs", type=int, default=20, help="1 Hz epochs streamed per run (default 20)")
    ap.add_argument("--workers", type=int, default=4, help="rover client processes (default 4)")
    ap.add_argument("--caster-workers", type=int, action="append", metavar="K",
                    help="caster fan-out worker processes ([caster] workers; repeatable); default 0 and 2")
    ap.add_argument("--rate", type=float, default=2000.0, help="rover connections per second (default 2000)")
    ap.add_argument("--data", default="pygnssutils/tests/ntrip_encode_none.bin", help="capture under VNGEONET_DATA")
    ap.add_argument("--rtklib", metavar="STR2STR",
                    help="also run the load against RTKLIB's caster (str2str -out ntripc://) at N = 32 "
                         "(its MAXCLI) and N = 100, with this binary")
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
    print(f"{'cw':>2} {'N':>6} {'conn':>6} {'conn_s':>6} {'all frames':>10} {'ok':>6} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'CPU %':>6} {'cliCPU%':>7} {'RSS MB':>7} {'peak MB':>7} {'drops':>6} {'slowdc':>6} {'fanout ms last/max':>18} {'cpu':>5} {'load1':>5}")
    for cw, n in [(cw, n) for cw in (args.caster_workers or [0, 2]) for n in ns]:
        if n + 100 > hard:
            print(f"{n:>6} skipped: RLIMIT_NOFILE hard limit {hard}")
            continue
        load_before = os.getloadavg()[0]
        r = run_one(n, epochs, args.workers, args.rate, caster_workers=cw)
        print(f"{cw:>2} {r['n']:>6} {r['connected']:>6} {r['connect_s']:>6.1f} {('yes' if r['all_frames'] else 'NO'):>10} "
              f"{r['ok_clients']:>6} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} "
              f"{r['cpu_pct']:>6.1f} {r['client_cpu_pct']:>7.1f} {r['rss_mb']:>7.0f} {r['hwm_mb']:>7.0f} "
              f"{r['dropped_frames']:>6} "
              f"{r['slow_disconnects']:>6} {r['fanout_last_ms']:>8.1f}/{r['fanout_max_ms']:<8.1f} "
              f"{r['fanout_cpu_ms']:>5.1f} {load_before:>5.1f}", flush=True)
    if args.rtklib:
        print("peer: RTKLIB str2str, -in tcpsvr:// (same paced source) -out ntripc:// (NTRIP 1 only)")
        rows = {}
        for who, n in (("vngeonet", 32), ("RTKLIB", 32), ("RTKLIB", 100)):
            load_before = os.getloadavg()[0]
            r = rows[(who, n)] = run_one(n, epochs, args.workers, args.rate,
                                         rtklib=args.rtklib if who == "RTKLIB" else None)
            print(f"{0:>2} {r['n']:>6} {r['connected']:>6} {r['connect_s']:>6.1f} "
                  f"{('yes' if r['all_frames'] else 'NO'):>10} {r['ok_clients']:>6} {r['p50_ms']:>7.1f} "
                  f"{r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['cpu_pct']:>6.1f} {r['client_cpu_pct']:>7.1f} "
                  f"{r['rss_mb']:>7.0f} "
                  f"{r['hwm_mb']:>7.0f} {'-':>6} {'-':>6} {'-':>18} {'-':>5} {load_before:>5.1f}  ({who})", flush=True)
        a, b = rows[("vngeonet", 32)], rows[("RTKLIB", 32)]
        print(f"ratio at N = 32 (RTKLIB / vngeonet): p50 {b['p50_ms'] / a['p50_ms']:.2f}, "
              f"p99 {b['p99_ms'] / a['p99_ms']:.2f}, CPU {b['cpu_pct'] / max(a['cpu_pct'], 1e-9):.2f}, "
              f"RSS {b['rss_mb'] / a['rss_mb']:.2f}; rovers served of 100: RTKLIB "
              f"{rows[('RTKLIB', 100)]['ok_clients']}, vngeonet 100")
    print("target: 10,000 rovers on 2 cores, all frames delivered, p99 <= 100 ms")
    print("peer: RTKLIB's built-in caster (str2str ntripc://): at most 32 clients (src/stream.c MAXCLI 32), "
          "NTRIP 1.0 only (answers ICY 200 OK, no chunked v2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
