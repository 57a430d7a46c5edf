"""Fan-out worker processes: the caster's multi-process mode (``[caster] workers = N``).

Why: relaying one frame blob to a rover costs one ``send`` system call
(~10 µs on loopback, mostly kernel TCP work), so one process spends ~0.1 s
per epoch on 10,000 rovers.  With ``workers = N`` the main process keeps
everything else (accepting, requests, authentication, sources, NEAREST and
TLS rovers, the session log, ``/admin/status``) and hands each
authenticated plain-TCP station rover to one of N worker processes, which
then do the per-rover sends in parallel on other cores.

Protocol
--------
One ``AF_UNIX`` ``SOCK_SEQPACKET`` socket pair per worker (message
boundaries and order kept by the kernel); each message is one pickled
tuple, a rover's socket travels as ``SCM_RIGHTS`` ancillary data
(``socket.send_fds``).  Main -> worker:

* ``("R", sid, mount, chunked)`` + one fd: a rover whose response head has
  been sent; the worker streams to it from now on;
* ``("F", mount, raw, n_frames)``: whole frames of one source read, sent once
  per worker, in source order;
* ``("D", mount, reason)``: the mountpoint's source went down: finish its rovers;
* ``("P", request_id)``: report per-session counters;
* ``("Q", drain_timeout_s)``: graceful shutdown (drain, finish, report, exit).

Worker -> main: ``("E", sid, bytes, frames, dropped_frames, dropped_bytes,
gga_count, reason)`` when a rover session ends; ``("G", sid, position,
gga_count)`` per GGA sentence a rover sends; ``("S", request_id, rows,
last, info)`` answers to ``P`` (rows ``(sid, bytes, dropped_frames,
gga_count)``, at most 2,000 per message); ``("BYE",)`` before exiting.

Each worker applies the same per-rover policy as the single-process
caster: :class:`~vngeonet.caster.mounts.ClientQueue` (bounded queue, drop
oldest whole frames, then disconnect).  A worker exits when the main
process goes away (end of file on its socket); when a worker dies the main
process logs its rovers' sessions as ended (``worker ... exited``), and
starts a new worker.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pickle
import signal
import socket
import sys
import time
from collections import deque

from vngeonet.caster.mounts import ClientQueue
from vngeonet.caster.nearest import GGAReader
from vngeonet.caster.request import chunk

log = logging.getLogger(__name__)

__all__ = ["RECV_BYTES", "STATS_ROWS", "FanoutWorker", "main", "recv_messages", "socketpair"]

RECV_BYTES = 1 << 20  # largest message; frames of one source read are split below this
STATS_ROWS = 2000
_SOCKBUF_BYTES = 4 << 20


def socketpair() -> tuple[socket.socket, socket.socket]:
    """A non-blocking SEQPACKET pair (main end, worker end) with large buffers."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for s in (a, b):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKBUF_BYTES)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKBUF_BYTES)
        s.setblocking(False)
    return a, b


def recv_messages(sock: socket.socket) -> tuple[list, bool]:
    """Read every message waiting on ``sock``: ``([(obj, fds)], eof)``."""
    out = []
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, RECV_BYTES, 4)
        except (BlockingIOError, InterruptedError):
            return out, False
        except (ConnectionError, OSError):
            return out, True
        if not data:
            for fd in fds:
                os.close(fd)
            return out, True
        out.append((pickle.loads(data), fds))


class _Rover(asyncio.Protocol):
    """One rover served by a worker: reads its GGA, flushes its queue on resume."""

    __slots__ = ("gga", "last_read_s", "lost", "mount", "queue", "sid", "transport", "worker")

    def __init__(self, worker: FanoutWorker, sid: int, mount: str):
        self.worker, self.sid, self.mount = worker, sid, mount
        self.gga = GGAReader()
        self.queue: ClientQueue | None = None
        self.transport = None
        self.lost = False
        self.last_read_s = time.monotonic()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_read_s = time.monotonic()
        for pos in self.gga.feed(data):
            self.worker.send(("G", self.sid, pos, self.gga.count))

    def eof_received(self) -> bool:
        return False  # close our side too

    def pause_writing(self) -> None:
        pass  # ClientQueue sees the transport's buffer level itself

    def resume_writing(self) -> None:
        if self.queue is not None:
            self.queue.flush()

    def connection_lost(self, exc) -> None:
        self.lost = True
        self.worker.ended(self, exc)


class FanoutWorker:
    """The worker side: rovers by mountpoint, fed by the main process over ``sock``.

    Parameters
    ----------
    sock : socket.socket
        The worker end of :func:`socketpair`.
    max_bytes, write_mark : int
        Per-rover queue bound and transport buffer mark (``Limits.client_queue_bytes``,
        ``Limits.write_buffer_bytes``).
    idle_s : float
        Drop rovers that send nothing this long (0: never).
    """

    def __init__(self, sock: socket.socket, *, max_bytes: int, write_mark: int, idle_s: float = 0.0):
        self.sock = sock
        self.max_bytes, self.write_mark, self.idle_s = max_bytes, write_mark, idle_s
        self.by_mount: dict[str, dict] = {}  # mount -> {_Rover: None}
        self.rovers: dict[int, _Rover] = {}
        self._out: deque = deque()
        self._inbox: list = []
        self._wake: asyncio.Event | None = None
        self._eof = False
        self._stopping = False
        self.fanout_last_s = 0.0
        self.fanout_max_s = 0.0
        self.fanout_cpu_last_s = 0.0  # CPU time of the last fan-out (wall - CPU = waiting for a core)

    # ---------------------------------------------------------------- channel
    def send(self, msg: tuple) -> None:
        """Queue a message to the main process (sent in order, never blocking)."""
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        if not self._out:
            try:
                self.sock.send(data)
                return
            except (BlockingIOError, InterruptedError):
                asyncio.get_running_loop().add_writer(self.sock, self._flush_out)
            except OSError:
                return  # main is gone; the reader sees end of file
        self._out.append(data)

    def _flush_out(self) -> None:
        while self._out:
            try:
                self.sock.send(self._out[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._out.clear()
                break
            self._out.popleft()
        asyncio.get_running_loop().remove_writer(self.sock)

    def _readable(self) -> None:
        msgs, eof = recv_messages(self.sock)
        self._inbox.extend(msgs)
        self._eof = self._eof or eof
        self._wake.set()

    # ---------------------------------------------------------------- main loop
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        loop.add_reader(self.sock, self._readable)
        idle = loop.create_task(self._idle_check()) if self.idle_s > 0 else None
        try:
            while not self._stopping:
                await self._wake.wait()
                self._wake.clear()
                batch, self._inbox = self._inbox, []
                for msg, fds in batch:
                    await self._handle(msg, fds)
                    if self._stopping:
                        break
                if self._eof and not self._stopping:
                    log.info("worker %d: main process gone, closing %d rovers", os.getpid(), len(self.rovers))
                    for r in list(self.rovers.values()):
                        r.queue.close("caster main process gone")
                    break
        finally:
            if idle is not None:
                idle.cancel()
            loop.remove_reader(self.sock)

    async def _handle(self, msg: tuple, fds: list) -> None:
        kind = msg[0]
        if kind == "F":
            self._fanout(msg[1], msg[2], msg[3])
        elif kind == "R":
            await self._add_rover(msg[1], msg[2], msg[3], fds)
        elif kind == "D":
            for r in tuple(self.by_mount.get(msg[1], ())):
                r.queue.finish(msg[2])
        elif kind == "P":
            self._report(msg[1])
        elif kind == "Q":
            await self._shutdown(msg[1])
        else:
            log.warning("worker: unknown message %r", kind)

    def _fanout(self, mount: str, raw: bytes, n: int) -> None:
        rovers = self.by_mount.get(mount)
        if not rovers:
            return
        t0, c0 = time.perf_counter(), time.thread_time()
        blob = chunk(raw)
        for r in tuple(rovers):
            r.queue.offer(raw, blob, n)
        self.fanout_last_s = time.perf_counter() - t0
        self.fanout_cpu_last_s = time.thread_time() - c0
        self.fanout_max_s = max(self.fanout_max_s, self.fanout_last_s)

    async def _add_rover(self, sid: int, mount: str, chunked: bool, fds: list) -> None:
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            self.send(("E", sid, 0, 0, 0, 0, 0, "worker: rover socket missing"))
            return
        sock = socket.socket(fileno=fds[0])
        sock.setblocking(False)
        rover = _Rover(self, sid, mount)
        try:
            transport, _ = await asyncio.get_running_loop().connect_accepted_socket(lambda: rover, sock)
        except OSError as err:
            sock.close()
            self.send(("E", sid, 0, 0, 0, 0, 0, f"worker: {err!r}"))
            return
        transport.set_write_buffer_limits(high=self.write_mark)
        rover.queue = ClientQueue(transport, chunked=chunked, max_bytes=self.max_bytes, write_mark=self.write_mark,
                                  owner=rover)
        self.rovers[sid] = rover
        self.by_mount.setdefault(mount, {})[rover] = None
        if rover.lost:  # closed before we registered it: report now
            self.ended(rover, None)

    def ended(self, rover: _Rover, exc) -> None:
        """A rover connection is closed (by it, by the policy, or by a finish)."""
        if self.rovers.pop(rover.sid, None) is None:
            return
        self.by_mount.get(rover.mount, {}).pop(rover, None)
        q = rover.queue
        reason = q.close_reason or ("client closed" if exc is None else f"client connection lost: {exc!r}")
        q.closed = True
        self.send(("E", rover.sid, q.bytes_sent, q.frames_sent, q.dropped_frames, q.dropped_bytes,
                   rover.gga.count, reason))

    def _report(self, request_id: int) -> None:
        rows = [(r.sid, r.queue.bytes_sent, r.queue.dropped_frames, r.gga.count) for r in self.rovers.values()]
        info = {"pid": os.getpid(), "rovers": len(rows), "fanout_last_ms": round(self.fanout_last_s * 1e3, 3),
                "fanout_max_ms": round(self.fanout_max_s * 1e3, 3),
                "fanout_cpu_last_ms": round(self.fanout_cpu_last_s * 1e3, 3)}
        for i in range(0, max(len(rows), 1), STATS_ROWS):
            part = rows[i:i + STATS_ROWS]
            self.send(("S", request_id, part, i + STATS_ROWS >= len(rows), info))

    async def _idle_check(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_s / 2))
            limit = time.monotonic() - self.idle_s
            for r in list(self.rovers.values()):
                if r.last_read_s < limit and not r.queue.closed:
                    r.queue.finish("idle")

    async def _shutdown(self, drain_timeout_s: float) -> None:
        """Drain queues for up to ``drain_timeout_s``, finish every rover, report, say BYE."""
        self._stopping = True
        deadline = time.monotonic() + drain_timeout_s
        while time.monotonic() < deadline and any(
                r.queue.pending or r.queue.transport.get_write_buffer_size() for r in self.rovers.values()):
            await asyncio.sleep(0.02)
        for r in list(self.rovers.values()):
            r.queue.finish("caster shutting down")
        deadline = time.monotonic() + 2.0
        while self.rovers and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for r in list(self.rovers.values()):
            r.queue.transport.abort()
        await asyncio.sleep(0)
        for r in list(self.rovers.values()):  # connection_lost not delivered: report anyway
            self.ended(r, None)
        self.send(("BYE",))
        while self._out:
            await asyncio.sleep(0.01)


def main(argv=None) -> int:
    """Entry point of a worker process (``python -m vngeonet.caster.worker --fd N ...``)."""
    ap = argparse.ArgumentParser(description="vngeonet caster fan-out worker (started by the caster)")
    ap.add_argument("--fd", type=int, required=True)
    ap.add_argument("--queue-bytes", type=int, default=65536)
    ap.add_argument("--write-mark", type=int, default=16384)
    ap.add_argument("--idle-s", type=float, default=0.0)
    ap.add_argument("--log-level", type=int, default=logging.WARNING)
    ap.add_argument("--no-uvloop", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format=f"%(asctime)s worker[{os.getpid()}] %(levelname)s %(message)s")
    # The main process decides when to stop (``Q``, or end of file when it dies):
    # a SIGINT/SIGTERM sent to the whole process group (Ctrl-C, systemd, timeout)
    # must not cut the workers' rovers off before the main process drains them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not args.no_uvloop:
        from vngeonet.caster.server import install_uvloop

        install_uvloop()
    sock = socket.socket(fileno=args.fd)
    sock.setblocking(False)
    worker = FanoutWorker(sock, max_bytes=args.queue_bytes, write_mark=args.write_mark, idle_s=args.idle_s)
    asyncio.run(worker.run())
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
