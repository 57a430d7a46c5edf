"""The main process's side of a fan-out worker (see :mod:`vngeonet.caster.worker`).

:class:`WorkerLink` starts one worker process, sends it messages (never
blocking the event loop: what the socket does not take is queued in order
and written when it becomes writable), and hands every message the worker
sends back to a callback.  A worker that stops reading is killed once its
backlog passes ``max_backlog_bytes``; end of file on its socket (exit or
crash) calls ``on_exit`` once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import subprocess
import sys
from collections import deque

from vngeonet.caster.worker import RECV_BYTES, recv_messages, socketpair

log = logging.getLogger(__name__)

__all__ = ["WorkerLink"]


class WorkerLink:
    """One worker process and its SEQPACKET channel.

    Parameters
    ----------
    index : int
        Slot number (for logs and status).
    limits : vngeonet.caster.config.Limits
        Queue bound, write mark and idle limit passed to the worker.
    on_message : callable(WorkerLink, tuple)
    on_exit : callable(WorkerLink)
    use_uvloop : bool
        Run the worker on uvloop (when installed).
    """

    def __init__(self, index: int, limits, on_message, on_exit, *, use_uvloop: bool = True,
                 max_backlog_bytes: int = 256 << 20):
        self.index = index
        self.limits = limits
        self.on_message, self.on_exit = on_message, on_exit
        self.use_uvloop = use_uvloop
        self.max_backlog_bytes = max_backlog_bytes
        self.sessions: dict = {}  # session id -> server session
        self.mount_counts: dict[str, int] = {}
        self.info: dict = {}
        self.alive = False
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.exited: asyncio.Future | None = None
        self._out: deque = deque()  # (bytes, fd or None)
        self._out_bytes = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        """Start the worker process and watch its socket."""
        loop = asyncio.get_running_loop()
        mine, theirs = socketpair()
        lim = self.limits
        cmd = [sys.executable, "-m", "vngeonet.caster.worker", "--fd", str(theirs.fileno()),
               "--queue-bytes", str(lim.client_queue_bytes), "--write-mark", str(lim.write_buffer_bytes),
               "--idle-s", str(lim.client_read_idle_s), "--log-level", str(logging.getLogger().getEffectiveLevel())]
        if not self.use_uvloop:
            cmd.append("--no-uvloop")
        try:
            self.proc = subprocess.Popen(cmd, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self.sock = mine
        self.alive = True
        self.exited = loop.create_future()
        loop.add_reader(mine, self._readable)
        log.info("fan-out worker %d started (pid %d)", self.index, self.proc.pid)

    def send(self, msg: tuple, fd: int | None = None) -> None:
        """Send a message (with an optional fd, which this link then closes)."""
        if not self.alive:
            if fd is not None:
                os.close(fd)
            return
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > RECV_BYTES:
            raise ValueError(f"worker message of {len(data)} bytes exceeds {RECV_BYTES}")
        if not self._out and self._send_now(data, fd):
            return
        if not self._out:
            asyncio.get_running_loop().add_writer(self.sock, self._writable)
        self._out.append((data, fd))
        self._out_bytes += len(data)
        if self._out_bytes > self.max_backlog_bytes:
            log.error("fan-out worker %d (pid %d) does not read its messages (%d bytes waiting): killing it",
                      self.index, self.pid, self._out_bytes)
            self.kill()

    def _send_now(self, data: bytes, fd: int | None) -> bool:
        try:
            if fd is None:
                self.sock.send(data)
            else:
                socket.send_fds(self.sock, [data], [fd])
                os.close(fd)
            return True
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as err:
            log.warning("fan-out worker %d: send failed: %r", self.index, err)
            if fd is not None:
                os.close(fd)
            return True  # dropped; end of file follows

    def _writable(self) -> None:
        while self._out:
            data, fd = self._out[0]
            if not self._send_now(data, fd):
                return
            self._out.popleft()
            self._out_bytes -= len(data)
        asyncio.get_running_loop().remove_writer(self.sock)

    def _readable(self) -> None:
        msgs, eof = recv_messages(self.sock)
        for msg, fds in msgs:
            for fd in fds:
                os.close(fd)
            try:
                self.on_message(self, msg)
            except Exception:
                log.exception("fan-out worker %d: bad message %r", self.index, msg[:1])
        if eof:
            self._lost()

    def _lost(self) -> None:
        if not self.alive:
            return
        self.alive = False
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.sock)
        loop.remove_writer(self.sock)
        self.sock.close()
        for _data, fd in self._out:
            if fd is not None:
                os.close(fd)
        self._out.clear()
        self._out_bytes = 0
        if not self.exited.done():
            self.exited.set_result(None)
        self.on_exit(self)

    def kill(self) -> None:
        """Kill the process; end of file then runs the exit path."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def reap(self, timeout_s: float = 0.0) -> bool:
        """Collect the exit status; True when the process has ended."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout_s) if timeout_s > 0 else None
        except subprocess.TimeoutExpired:
            return False
        return self.proc.poll() is not None

    def status(self) -> dict:
        return {"index": self.index, "pid": self.pid, "alive": self.alive, "rovers": len(self.sessions),
                "backlog_bytes": self._out_bytes} | {k: v for k, v in self.info.items() if k.startswith("fanout")}
