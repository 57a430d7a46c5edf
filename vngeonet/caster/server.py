"""The NTRIP caster: NTRIP 1.0 and 2.0 on one port, asyncio (uvloop when installed).

Serves

* ``GET /`` — the sourcetable (``SOURCETABLE 200 OK`` to NTRIP 1 clients,
  ``HTTP/1.1 200 OK`` + ``Content-Type: gnss/sourcetable`` to NTRIP 2);
* ``GET /MOUNT`` — a stream, Basic auth against the user store; NTRIP 1
  rovers get ``ICY 200 OK`` and raw bytes, NTRIP 2 rovers ``HTTP/1.1 200 OK``
  with chunked transfer coding; an unknown mountpoint gives NTRIP 1 clients
  the sourcetable and NTRIP 2 clients ``404``;
* ``SOURCE pw /MOUNT`` (NTRIP 1) and ``POST /MOUNT`` with Basic auth (NTRIP 2,
  plain or chunked body) — uploads from base stations, checked against the
  mountpoint's ``source_password``;
* pulled sources: a mountpoint with ``pull = "<stream URI>"`` is fed by the
  caster itself through :mod:`vngeonet.streams` (upstream NTRIP, TCP, serial...),
  reconnecting with back-off;
* ``GET /admin/status`` — JSON state for users with the admin flag.

Source bytes go through the project's :class:`~vngeonet.rtcm.framer.RTCMFramer`;
only whole, CRC-checked frames are relayed, so a source killed mid-frame never
sends half a frame to anyone.  Fan-out and the slow-client policy are in
:mod:`vngeonet.caster.mounts`.

Protection
----------
* request head: at most ``max_header_bytes``, all of it within
  ``header_timeout_s`` (slowloris) — else ``431``/``408`` and close;
* at most ``max_connections`` in all and ``max_connections_per_ip`` per
  address (``503``);
* failed logins per IP: :class:`~vngeonet.caster.auth.LoginLimiter`
  (``429`` while locked out; decided before any password hashing);
* per-user connection limit and account expiry from the store;
* per-client bounded send queue (drop oldest whole frames, then disconnect);
* sources silent for ``source_idle_s`` are dropped;
* ``accept()`` failing with EMFILE/ENFILE/ENOBUFS/ENOMEM: logged, counted,
  exponential back-off 10 ms .. 1 s.

Shutdown (:meth:`NTRIPCaster.aclose`): stop accepting, close the mountpoints
(sources), drain client queues for up to ``drain_timeout_s``, then cancel
what remains and log why.

Fan-out workers (``[caster] workers = N``, ``--workers N``)
-----------------------------------------------------------
One ``send`` per rover per source read is the floor of the fan-out cost
(~10-15 µs per call on loopback, kernel time), so one process serves about
10,000 rovers per ~0.1 s of CPU.  With N workers (:mod:`vngeonet.caster.worker`,
:mod:`vngeonet.caster.pool`) this process still accepts, parses, authenticates,
serves sources, sourcetable, admin, NEAREST and TLS rovers; each authenticated
plain-TCP rover of a station mountpoint gets its response head from here and
is then handed (``SCM_RIGHTS``) to the least-loaded worker.  Each source read
goes once to every worker that has rovers on that mountpoint; the worker
applies the same queue policy and reports the session's end (bytes, frames
dropped, GGA count, reason), GGA positions (to :attr:`NTRIPCaster.hooks`)
and, on request, live counters for ``/admin/status``.  A dead worker's rovers
are logged as ended (``fan-out worker k (pid p) exited``) and a new worker is
started; on shutdown the workers drain and finish their rovers like this
process does.  ``workers = 0`` (the default) keeps everything in one process.

References
----------
RTCM 10410.0 NTRIP 1.0; RTCM 10410.1 NTRIP 2.0 §3 (requests, responses),
§4 (chunked transfer); RFC 7230/7231 (status codes); RFC 7617 (Basic).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import errno
import itertools
import json
import logging
import os
import socket
import ssl
import time
from dataclasses import dataclass, field

import vngeonet
from vngeonet.caster.auth import (
    LoginLimiter,
    VerifyCache,
    check_secret,
    hash_password,
    verify_password,
)
from vngeonet.caster.config import CasterConfig
from vngeonet.caster.mounts import ClientQueue, Mount
from vngeonet.caster.nearest import GGAReader, PositionHooks, RoverPosition, choose_station
from vngeonet.caster.request import ChunkedDecoder, Request, RequestError, RequestParser
from vngeonet.caster.sourcetable import build_sourcetable
from vngeonet.store.base import SessionRecord, UserStore

log = logging.getLogger(__name__)

__all__ = ["NTRIPCaster", "install_uvloop", "run_caster"]

_ACCEPT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
    414: "URI Too Long", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
}


def install_uvloop() -> str:
    """Use uvloop's event loop policy when uvloop is installed; return the loop name."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(eq=False)
class _Session:
    """One rover connection in the data phase."""

    id: int
    user: str
    ip: str
    requested: str
    ntrip_version: int
    start: str
    queue: ClientQueue | None = None
    station: str | None = None  # mountpoint currently streamed
    nearest: bool = False
    gga: GGAReader = field(default_factory=GGAReader)
    writer: asyncio.StreamWriter | None = None
    drainer: asyncio.Task | None = None
    link: object = None  # WorkerLink when a fan-out worker serves the rover
    done: asyncio.Future | None = None  # worker sessions: resolved with the end reason
    remote_bytes: int = 0
    remote_dropped: int = 0
    remote_gga: int = 0


class NTRIPCaster:
    """An NTRIP 1/2 caster bound to the addresses of a :class:`CasterConfig`.

    Parameters
    ----------
    config : CasterConfig
    store : UserStore or None
        Accounts and session log.  Without a store only ``auth = "N"``
        mountpoints can be read.
    framer_factory : callable or None
        Makes one RTCM framer per source connection (``feed(bytes) ->
        list[Frame]``); default :class:`vngeonet.rtcm.framer.RTCMFramer`.
    ssl_context : ssl.SSLContext or None
        For the TLS port; built from ``tls_cert``/``tls_key`` when omitted.
    workers : int or None
        Fan-out worker processes (default ``config.workers``; 0: everything in
        this process).  With workers, authenticated plain-TCP rovers of station
        mountpoints are handed to them (:mod:`vngeonet.caster.worker`);
        NEAREST and TLS rovers stay here.

    Examples
    --------
    ::

        caster = NTRIPCaster(load_config("caster.toml"), open_store("var/caster.db"))
        await caster.start()
        ...
        await caster.aclose()

    Notes
    -----
    **Cancellation**: cancelling the task that awaits :meth:`serve_forever`
    runs :meth:`aclose`.  **Resource handling**: every socket and task the
    caster opens is closed by :meth:`aclose`.  **Error handling**: a failing
    connection is logged and closed; nothing a client sends can stop the server.
    """

    _MAX_VERIFY_WAITING = 256  # password checks queued beyond this are answered 503

    def __init__(self, config: CasterConfig, store: UserStore | None = None, *, framer_factory=None,
                 ssl_context: ssl.SSLContext | None = None, workers: int | None = None):
        self.config = config
        self.limits = config.limits
        self.store = store
        if framer_factory is None:
            from vngeonet.rtcm.framer import RTCMFramer as framer_factory
        import vngeonet.rtcm.decode  # noqa: F401  (imported now, not on a source's first frame)
        self._framer_factory = framer_factory
        self.mounts: dict[str, Mount] = {m.name: Mount(m) for m in config.mounts}
        self.hooks = PositionHooks()
        self.limiter = LoginLimiter(self.limits.max_failures, self.limits.failure_window_s,
                                    self.limits.lockout_s, self.limits.max_lockout_s)
        self._cache = VerifyCache()
        self._verify_slots = asyncio.Semaphore(4)  # scrypt is CPU and memory heavy: bound concurrency
        self._verify_waiting = 0
        self._inflight: dict[tuple, asyncio.Future] = {}
        self._dummy_hash = hash_password("no such user", log2_n=14)
        self._ssl = ssl_context
        self.port: int | None = None
        self.tls_port: int | None = None
        self.counters = dict.fromkeys((
            "connections", "rejected_capacity", "rejected_ip", "bad_requests", "header_timeouts",
            "auth_failures", "rate_limited", "accept_errors", "slow_disconnects", "sources_dropped",
            "sessions", "dropped_frames", "worker_exits"), 0)
        self._n_workers = config.workers if workers is None else workers
        self._links: list = []
        self._old_links: list = []
        self._polls: dict[int, tuple] = {}
        self._poll_ids = itertools.count(1)
        self._n_conn = 0
        self._per_ip: dict[str, int] = {}
        self._per_user: dict[str, int] = {}
        self._sessions: dict[int, _Session] = {}
        self._source_writers: dict[str, asyncio.StreamWriter] = {}
        self._ids = itertools.count(1)
        self._finished: list[SessionRecord] = []
        self._conn_tasks: set[asyncio.Task] = set()
        self._aux_tasks: set[asyncio.Task] = set()
        self._lsocks: list[socket.socket] = []
        self._accepting = False
        self._closed = asyncio.Event()
        self._started_s = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind the listening sockets and start accepting."""
        host, port = self.config.listen
        plain = _listen_socket(host, port)
        self._lsocks.append(plain)
        self.port = plain.getsockname()[1]
        self._accepting = True
        self._spawn_aux(self._accept_loop(plain, None))
        if self.config.tls_listen is not None or self._ssl is not None:
            ctx = self._ssl or _server_ssl_context(self.config.tls_cert, self.config.tls_key)
            thost, tport = self.config.tls_listen or (host, 0)
            tls = _listen_socket(thost, tport)
            self._lsocks.append(tls)
            self.tls_port = tls.getsockname()[1]
            self._spawn_aux(self._accept_loop(tls, ctx))
        self._spawn_aux(self._housekeeping())
        if self._n_workers:
            self._links = [self._start_link(i) for i in range(self._n_workers)]
            for mount in self.mounts.values():
                mount.forward = self._forward
        for mount in self.mounts.values():
            if mount.config.pull:
                self._spawn_aux(self._pull(mount))
        log.info("caster listening on %s:%s%s", host, self.port,
                 f", TLS on {self.tls_port}" if self.tls_port else "")

    async def serve_forever(self) -> None:
        """Start (if needed) and run until :meth:`aclose` or cancellation."""
        if not self._lsocks:
            await self.start()
        try:
            await self._closed.wait()
        except asyncio.CancelledError:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Graceful shutdown: stop accepting, close sources, drain clients, cancel the rest."""
        if self._closed.is_set():
            return
        self._accepting = False
        for s in self._lsocks:
            s.close()
        for t in list(self._aux_tasks):
            t.cancel()
        for name, w in list(self._source_writers.items()):
            log.info("shutdown: closing source of %s", name)
            w.transport.abort()
        for link in self._links:
            link.send(("Q", self.limits.drain_timeout_s))
        await self._drain_clients(self.limits.drain_timeout_s)
        await self._stop_links()
        pending = [t for t in self._conn_tasks if not t.done()]
        if pending:
            log.info("shutdown: cancelling %d connection tasks still running after drain", len(pending))
            for t in pending:
                t.cancel()
            await asyncio.wait(pending, timeout=5.0)
        await asyncio.gather(*self._aux_tasks, return_exceptions=True)
        self._flush_sessions_now()
        self._closed.set()

    async def _drain_clients(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            busy = [s for s in self._sessions.values()
                    if s.queue and not s.queue.closed
                    and (s.queue.pending or s.queue.transport.get_write_buffer_size())]
            if not busy:
                break
            await asyncio.sleep(0.02)
        for s in list(self._sessions.values()):
            if s.queue is not None:
                s.queue.finish("caster shutting down")

    def _spawn_aux(self, coro) -> asyncio.Task:
        t = asyncio.get_running_loop().create_task(coro)
        self._aux_tasks.add(t)
        t.add_done_callback(self._aux_tasks.discard)
        return t

    async def _accept_loop(self, lsock: socket.socket, ssl_ctx) -> None:
        loop = asyncio.get_running_loop()
        delay_s = 0.0
        while self._accepting:
            try:
                conn, addr = await loop.sock_accept(lsock)
            except OSError as err:
                if err.errno not in _ACCEPT_ERRNOS or not self._accepting:
                    if self._accepting:
                        log.exception("accept failed")
                        await asyncio.sleep(0.1)
                    continue
                self.counters["accept_errors"] += 1
                delay_s = min(max(delay_s * 2, 0.01), 1.0)
                log.warning("accept: %s; backing off %.2f s", err, delay_s)
                await asyncio.sleep(delay_s)
                continue
            delay_s = 0.0
            task = loop.create_task(self._connection(conn, addr, ssl_ctx))
            self._conn_tasks.add(task)
            task.add_done_callback(self._conn_tasks.discard)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.limits.session_flush_s)
            self._old_links = [link for link in self._old_links if not link.reap()]
            if self._finished and self.store is not None:
                batch, self._finished = self._finished, []
                try:
                    await asyncio.to_thread(self.store.log_sessions, batch)
                except Exception:
                    log.exception("session log write failed; %d records kept for retry", len(batch))
                    self._finished[:0] = batch

    def _flush_sessions_now(self) -> None:
        if self._finished and self.store is not None:
            batch, self._finished = self._finished, []
            try:
                self.store.log_sessions(batch)
            except Exception:
                log.exception("session log write failed at shutdown (%d records lost)", len(batch))

    # ------------------------------------------------------------------ connections
    async def _connection(self, conn: socket.socket, addr, ssl_ctx) -> None:
        ip = addr[0] if isinstance(addr, tuple) else str(addr)
        lim = self.limits
        total = self._n_conn
        self._n_conn += 1
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        self.counters["connections"] += 1
        writer = None
        try:
            if lim.socket_sndbuf_bytes:
                # Bound what the kernel holds per rover too, or a stalled rover
                # hides megabytes in its socket before the queue policy sees it.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, lim.socket_sndbuf_bytes)
            reader, writer = await _streams_for(conn, ssl_ctx, lim.header_timeout_s)
            if total >= lim.max_connections:
                self.counters["rejected_capacity"] += 1
                await self._reply_close(writer, 1, 503, extra=(("Retry-After", "10"),))
                return
            if self._per_ip[ip] > lim.max_connections_per_ip:
                self.counters["rejected_ip"] += 1
                await self._reply_close(writer, 1, 503, extra=(("Retry-After", "10"),))
                return
            req = await self._read_request(reader, writer)
            if req is not None:
                await self._dispatch(req, reader, writer, ip)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError, OSError) as err:
            log.debug("connection from %s ended: %r", ip, err)
        except Exception:
            log.exception("connection from %s failed", ip)
        finally:
            self._n_conn -= 1
            self._per_ip[ip] -= 1
            if not self._per_ip[ip]:
                del self._per_ip[ip]
            if writer is not None:
                writer.close()
            else:
                conn.close()

    async def _read_request(self, reader, writer) -> Request | None:
        parser = RequestParser(max_header_bytes=self.limits.max_header_bytes)
        try:
            async with asyncio.timeout(self.limits.header_timeout_s):
                while True:
                    data = await reader.read(4096)
                    if not data:
                        return None
                    req = parser.feed(data)
                    if req is not None:
                        return req
        except TimeoutError:
            self.counters["header_timeouts"] += 1
            await self._reply_close(writer, 1, 408)
        except RequestError as err:
            self.counters["bad_requests"] += 1
            await self._reply_close(writer, 1, err.status)
        return None

    async def _dispatch(self, req: Request, reader, writer, ip: str) -> None:
        if req.is_upload:
            await self._serve_source(req, reader, writer, ip)
        elif req.mount == "":
            await self._send_sourcetable(writer, req.ntrip_version)
        elif req.mount == "admin/status":
            await self._serve_admin(req, writer, ip)
        else:
            await self._serve_rover(req, reader, writer, ip)

    # ------------------------------------------------------------------ responses
    def _head(self, ntrip_version: int, status: int, headers=()) -> bytes:
        proto = "HTTP/1.1" if ntrip_version == 2 else "HTTP/1.0"
        lines = [f"{proto} {status} {_REASONS.get(status, 'Error')}"]
        if ntrip_version == 2:
            lines.append("Ntrip-Version: Ntrip/2.0")
        lines.append(f"Server: NTRIP {self.config.server_name}/{vngeonet.__version__}")
        lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
        lines.extend(f"{k}: {v}" for k, v in headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _reply_close(self, writer, ntrip_version: int, status: int, *, extra=(), body: bytes = b"") -> None:
        headers = list(extra) + [("Connection", "close"), ("Content-Length", str(len(body)))]
        if body:
            headers.insert(0, ("Content-Type", "text/plain"))
        writer.write(self._head(ntrip_version, status, headers) + body)
        try:
            async with asyncio.timeout(2.0):
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass

    async def _send_sourcetable(self, writer, ntrip_version: int) -> None:
        body = build_sourcetable(self.config, self.mounts, now_s=time.monotonic())
        if ntrip_version == 2:
            head = self._head(2, 200, (("Connection", "close"), ("Content-Type", "gnss/sourcetable"),
                                       ("Content-Length", str(len(body)))))
        else:
            head = (f"SOURCETABLE 200 OK\r\nServer: NTRIP {self.config.server_name}/{vngeonet.__version__}\r\n"
                    f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                    ).encode("latin-1")
        writer.write(head + body)
        async with asyncio.timeout(10.0):
            await writer.drain()

    # ------------------------------------------------------------------ authentication
    async def _authenticate(self, req: Request, writer, ip: str, mount: str | None):
        """Return the user (after replying with an error and returning None on failure)."""
        v = req.ntrip_version
        wait_s = self.limiter.locked(ip)
        if wait_s:
            self.counters["rate_limited"] += 1
            await self._reply_close(writer, v, 429, extra=(("Retry-After", str(int(wait_s) + 1)),))
            return None
        realm = (("WWW-Authenticate", f'Basic realm="/{mount or "admin"}"'),)
        if req.user is None or self.store is None:
            await self._reply_close(writer, v, 401, extra=realm)
            return None
        user = self.store.get_user(req.user)
        ok = await self._check_password(user, req.password)
        if ok is None:
            # Many distinct wrong passwords at once (a distributed guess): shed
            # load instead of queueing scrypt work without bound.
            self.counters["rate_limited"] += 1
            await self._reply_close(writer, v, 503, extra=(("Retry-After", "5"),))
            return None
        if not ok:
            self.counters["auth_failures"] += 1
            self.limiter.fail(ip)
            log.info("failed login for %r from %s", req.user, ip)
            await self._reply_close(writer, v, 401, extra=realm)
            return None
        self.limiter.succeed(ip)
        if user.expired(dt.date.today()) or (mount is not None and not user.may_read(mount)):
            await self._reply_close(writer, v, 403)
            return None
        return user

    async def _check_password(self, user, password: str) -> bool | None:
        """Verify against the slow hash (cached); ``None`` when too many checks are queued.

        Identical checks in flight are coalesced: a burst of rovers sharing one
        account's password waits on the first verification and costs no slot.
        """
        if user is not None and self._cache.hit(user.name, user.pw_hash, password):
            return True
        if user is None:
            return await self._verify_slow(user, password)
        key = self._cache._k(user.name, user.pw_hash, password)
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut = self._inflight[key] = asyncio.get_running_loop().create_future()
        try:
            ok = await self._verify_slow(user, password)
            fut.set_result(ok)
            return ok
        except BaseException as err:
            fut.set_exception(err if isinstance(err, Exception) else ConnectionError("verification cancelled"))
            fut.exception()  # retrieved: waiters get it, nobody else must
            raise
        finally:
            del self._inflight[key]

    async def _verify_slow(self, user, password: str) -> bool | None:
        if self._verify_waiting >= self._MAX_VERIFY_WAITING:
            return None
        self._verify_waiting += 1
        try:
            await self._verify_slots.acquire()
        finally:
            self._verify_waiting -= 1
        try:
            # Re-check: a burst of reconnecting rovers waits here while the
            # first of them verifies the shared password.
            if user is not None and self._cache.hit(user.name, user.pw_hash, password):
                return True
            stored = user.pw_hash if user is not None else self._dummy_hash
            ok = await asyncio.to_thread(verify_password, password, stored) and user is not None
        finally:
            self._verify_slots.release()
        if ok:
            self._cache.add(user.name, user.pw_hash, password)
        return ok

    # ------------------------------------------------------------------ admin
    async def _serve_admin(self, req: Request, writer, ip: str) -> None:
        user = await self._authenticate(req, writer, ip, None)
        if user is None:
            return
        if not user.is_admin:
            await self._reply_close(writer, req.ntrip_version, 403)
            return
        await self.poll_workers()
        body = json.dumps(self.status(), indent=1).encode()
        writer.write(self._head(req.ntrip_version, 200, (("Content-Type", "application/json"),
                                                         ("Content-Length", str(len(body))),
                                                         ("Connection", "close"))) + body)
        await writer.drain()

    def status(self) -> dict:
        """The caster's state as a JSON-ready dict (what ``/admin/status`` returns)."""
        sessions = [{
            "id": s.id, "user": s.user, "ip": s.ip, "mount": s.requested, "station": s.station,
            "ntrip_version": s.ntrip_version, "start": s.start, "gga_count": s.gga.count + s.remote_gga,
            "bytes": s.queue.bytes_sent if s.queue else s.remote_bytes,
            "dropped_frames": s.queue.dropped_frames if s.queue else s.remote_dropped,
            "worker": s.link.index if s.link is not None else None,
        } for s in self._sessions.values()]
        return {
            "server": f"{self.config.server_name}/{vngeonet.__version__}",
            "uptime_s": round(time.monotonic() - self._started_s, 3),
            "connections": self._n_conn,
            "counters": dict(self.counters) | self.limiter.snapshot(),
            "mounts": {name: m.status() for name, m in self.mounts.items()},
            "workers": [link.status() for link in self._links],
            "sessions": sessions,
        }

    # ------------------------------------------------------------------ sources
    async def _serve_source(self, req: Request, reader, writer, ip: str) -> None:
        mount = self.mounts.get(req.mount)
        password = req.source_password if req.method == "SOURCE" else req.password
        if self.limiter.locked(ip):
            self.counters["rate_limited"] += 1
            await self._source_refuse(writer, req, 429, "ERROR - Too Many Failures")
            return
        if mount is None or mount.config.kind != "station":
            await self._source_refuse(writer, req, 404, "ERROR - Mount Point Invalid")
            return
        if not check_secret(password, mount.config.source_password):
            self.counters["auth_failures"] += 1
            self.limiter.fail(ip)
            await self._source_refuse(writer, req, 401, "ERROR - Bad Password")
            return
        if mount.live:
            await self._source_refuse(writer, req, 409, "ERROR - Mount Point Taken")
            return
        if req.method == "SOURCE":
            writer.write(b"ICY 200 OK\r\n\r\n")
        else:
            writer.write(self._head(2, 200, (("Connection", "close"),)))
        await writer.drain()
        await self._run_source(mount, req, reader, writer, ip)

    async def _source_refuse(self, writer, req: Request, status: int, v1_text: str) -> None:
        if req.method == "SOURCE":
            writer.write(v1_text.encode() + b"\r\n")
            await writer.drain()
        else:
            extra = (("WWW-Authenticate", f'Basic realm="/{req.mount}"'),) if status == 401 else ()
            await self._reply_close(writer, req.ntrip_version, status, extra=extra)

    async def _run_source(self, mount: Mount, req: Request, reader, writer, ip: str) -> None:
        start = _utc_now()
        mount.attach_source(ip, time.monotonic())
        self._source_writers[mount.name] = writer
        framer = self._framer_factory()
        dechunk = ChunkedDecoder() if req.chunked else None
        log.info("source up: %s from %s (NTRIP %d)", mount.name, ip, req.ntrip_version)
        reason = "source closed"
        received = 0
        try:
            data = req.body
            while True:
                if data:
                    received += len(data)
                    payload = dechunk.feed(data) if dechunk else data
                    mount.publish(framer.feed(payload))
                    if dechunk and dechunk.done:
                        break
                try:
                    async with asyncio.timeout(self.limits.source_idle_s):
                        data = await reader.read(65536)
                except TimeoutError:
                    reason = "source idle"
                    break
                if not data:
                    break
        except RequestError as err:
            reason = f"bad chunked body: {err}"
        except (ConnectionError, OSError) as err:
            reason = f"source connection lost: {err!r}"
        finally:
            self.counters["sources_dropped"] += 1
            log.info("source down: %s (%s)", mount.name, reason)
            self._source_writers.pop(mount.name, None)
            mount.detach_source()
            self._source_down(mount)
            self._finished.append(SessionRecord(req.user or "", mount.name, ip, start, _utc_now(), received, 0,
                                                "source", req.ntrip_version, reason))

    async def _pull(self, mount: Mount) -> None:
        """Read a mountpoint's ``pull`` stream URI ourselves, reconnecting with back-off.

        The mountpoint is live only while whole frames arrive; silence for
        ``source_idle_s`` or a lost connection takes it out of the table.
        """
        from vngeonet.errors import StreamError
        from vngeonet.streams.reconnect import Backoff
        from vngeonet.streams.uri import open_source, parse_uri

        name = parse_uri(mount.config.pull).redacted()
        backoff = Backoff(initial_s=1.0, ceiling_s=60.0)
        while True:
            src = open_source(mount.config.pull)
            framer = self._framer_factory()
            attached = False
            try:
                await src.open()
                while True:
                    async with asyncio.timeout(self.limits.source_idle_s):
                        data = await src.read()
                    if not data:
                        break
                    frames = framer.feed(data)
                    if frames and not attached and not mount.live:
                        mount.attach_source(name, time.monotonic())
                        attached = True
                        backoff.reset()
                        log.info("pulled source up: %s <- %s", mount.name, name)
                    if attached:
                        mount.publish(frames)
            except (StreamError, OSError, TimeoutError) as err:
                log.info("pulled source %s for %s: %s", name, mount.name, err or "idle")
            finally:
                await src.aclose()
                if attached:
                    mount.detach_source()
                    self._source_down(mount)
                    self.counters["sources_dropped"] += 1
            await asyncio.sleep(backoff.next_delay())

    def _source_down(self, mount: Mount) -> None:
        """Rovers of a dead station: NEAREST ones move on, direct ones are closed."""
        for link in self._links:
            if link.mount_counts.get(mount.name):
                link.send(("D", mount.name, f"source of {mount.name} went down"))
        for q in tuple(mount.clients):
            session = q.owner
            mount.remove_client(q)
            if session is not None and session.nearest and session.gga.last is not None:
                session.station = None
                if self._place_nearest(session):
                    continue
            q.finish(f"source of {mount.name} went down")

    # ------------------------------------------------------------------ rovers
    async def _serve_rover(self, req: Request, reader, writer, ip: str) -> None:
        v = req.ntrip_version
        mount = self.mounts.get(req.mount)
        available = mount is not None and (mount.live or mount.config.kind == "nearest")
        if not available:
            if v == 1:
                await self._send_sourcetable(writer, 1)
            else:
                await self._reply_close(writer, 2, 404)
            return
        user_name = ""
        if mount.config.auth != "N":
            user = await self._authenticate(req, writer, ip, mount.name)
            if user is None:
                return
            if user.max_connections is not None and self._per_user.get(user.name, 0) >= user.max_connections:
                await self._reply_close(writer, v, 403, body=b"connection limit reached\r\n")
                return
            user_name = user.name
        session = _Session(next(self._ids), user_name, ip, mount.name, v, _utc_now(),
                           nearest=mount.config.kind == "nearest", writer=writer)
        await self._stream_to_rover(session, mount, req, reader, writer)

    async def _stream_to_rover(self, session: _Session, mount: Mount, req: Request, reader, writer) -> None:
        v = session.ntrip_version
        if v == 2:
            writer.write(self._head(2, 200, (
                ("Cache-Control", "no-store, no-cache, max-age=0"), ("Pragma", "no-cache"),
                ("Connection", "close"), ("Content-Type", "gnss/data"), ("Transfer-Encoding", "chunked"))))
        else:
            writer.write(b"ICY 200 OK\r\n\r\n")
        link = self._pick_link(session, writer)
        if link is not None:
            await self._serve_remote(session, mount, req, reader, writer, link)
            return
        writer.transport.set_write_buffer_limits(high=self.limits.write_buffer_bytes)
        session.queue = ClientQueue(writer.transport, chunked=v == 2, max_bytes=self.limits.client_queue_bytes,
                                    write_mark=self.limits.write_buffer_bytes, on_pending=self._start_drainer,
                                    owner=session)
        self._sessions[session.id] = session
        self._per_user[session.user] = self._per_user.get(session.user, 0) + 1
        self.counters["sessions"] += 1
        if not session.nearest:
            session.station = mount.name
            mount.add_client(session.queue)
        reason = "client closed"
        try:
            self._on_upstream(session, (req.headers.get("ntrip-gga", "") + "\r\n").encode() + req.body)
            reason = await self._rover_loop(session, reader)
        finally:
            self._end_session(session, reason)

    async def _rover_loop(self, session: _Session, reader) -> str:
        idle_s = self.limits.client_read_idle_s or None
        gga_deadline = time.monotonic() + self.limits.gga_timeout_s if session.nearest else None
        while True:
            timeout = idle_s
            if gga_deadline is not None and session.station is None:
                timeout = max(0.0, gga_deadline - time.monotonic())
            try:
                async with asyncio.timeout(timeout):
                    data = await reader.read(4096)
            except TimeoutError:
                return "no GGA for NEAREST" if session.station is None and session.nearest else "idle"
            if not data:
                return session.queue.close_reason or "client closed"
            self._on_upstream(session, data)

    def _on_upstream(self, session: _Session, data: bytes) -> None:
        for pos in session.gga.feed(data):
            if session.nearest:
                self._place_nearest(session)
            self.hooks.emit(RoverPosition(session.id, session.user, session.requested, session.ip, pos,
                                          session.gga.count))

    def _place_nearest(self, session: _Session) -> bool:
        """(Re)attach a NEAREST session to the closest live station; False if none."""
        pos = session.gga.last
        live = {n: p for n, m in self.mounts.items()
                if m.live and m.config.kind == "station" and (p := m.position_deg()) is not None}
        best = choose_station(pos.lat_deg, pos.lon_deg, live, session.station, self.limits.nearest_hysteresis_m)
        if best is None:
            return False
        if best != session.station:
            if session.station in self.mounts:
                self.mounts[session.station].remove_client(session.queue)
            log.info("session %d: NEAREST -> %s", session.id, best)
            session.station = best
            self.mounts[best].add_client(session.queue)
        return True

    def _start_drainer(self, q: ClientQueue) -> None:
        session = q.owner
        if session.drainer is None or session.drainer.done():
            session.drainer = self._spawn_aux(self._drain(session))

    async def _drain(self, session: _Session) -> None:
        q, writer = session.queue, session.writer
        try:
            while q.pending and not q.closed:
                await writer.drain()
                before = q.pending_bytes
                q.flush()
                if q.pending and q.pending_bytes == before:
                    # No progress although drain() returned: never spin on the loop.
                    await asyncio.sleep(0.005)
        except (ConnectionError, OSError):
            pass

    def _end_session(self, session: _Session, reason: str) -> None:
        q = session.queue
        if session.station in self.mounts:
            self.mounts[session.station].remove_client(q)
        if q.close_reason.startswith("slow client"):
            self.counters["slow_disconnects"] += 1
            reason = q.close_reason
        q.closed = True
        self.counters["dropped_frames"] += q.dropped_frames
        if session.drainer is not None:
            session.drainer.cancel()
        self._sessions.pop(session.id, None)
        self._per_user[session.user] -= 1
        if not self._per_user[session.user]:
            del self._per_user[session.user]
        self._finished.append(SessionRecord(session.user, session.requested, session.ip, session.start,
                                            _utc_now(), q.bytes_sent, session.gga.count, "rover",
                                            session.ntrip_version, reason))

    # ------------------------------------------------------------------ fan-out workers
    def _start_link(self, index: int):
        from vngeonet.caster.pool import WorkerLink

        link = WorkerLink(index, self.limits, self._on_worker_message, self._on_worker_exit,
                          use_uvloop=_running_uvloop())
        link.start()
        return link

    def _pick_link(self, session: _Session, writer):
        """The least-loaded live worker for a plain-TCP station rover, else None (serve here)."""
        if session.nearest or not self._links or writer.get_extra_info("sslcontext") is not None:
            return None
        live = [link for link in self._links if link.alive]
        return min(live, key=lambda link: len(link.sessions)) if live else None

    async def _serve_remote(self, session: _Session, mount: Mount, req: Request, reader, writer, link) -> None:
        """Hand the rover's socket to a worker; wait for its end-of-session report."""
        await writer.drain()
        async with asyncio.timeout(self.limits.header_timeout_s):
            while writer.transport.get_write_buffer_size():
                await asyncio.sleep(0.005)
        if not link.alive or writer.transport.is_closing():
            return
        leftover = bytes(getattr(reader, "_buffer", b""))  # what the rover sent after its request
        fd = os.dup(writer.get_extra_info("socket").fileno())
        session.station, session.link = mount.name, link
        session.done = asyncio.get_running_loop().create_future()
        self._sessions[session.id] = session
        self._per_user[session.user] = self._per_user.get(session.user, 0) + 1
        self.counters["sessions"] += 1
        link.sessions[session.id] = session
        link.mount_counts[mount.name] = link.mount_counts.get(mount.name, 0) + 1
        link.send(("R", session.id, mount.name, session.ntrip_version == 2), fd)
        writer.transport.abort()  # our descriptor only: the connection lives on in the worker
        reason = "caster shutting down"
        try:
            self._on_upstream(session, (req.headers.get("ntrip-gga", "") + "\r\n").encode() + req.body + leftover)
            reason = await session.done
        finally:
            self._end_remote(session, reason)

    def _end_remote(self, session: _Session, reason: str) -> None:
        if session.done.done() and not session.done.cancelled():
            reason = session.done.result()  # the worker's reason even if our task was cancelled
        link = session.link
        if link.sessions.pop(session.id, None) is not None:
            link.mount_counts[session.station] -= 1
        self._sessions.pop(session.id, None)
        self._per_user[session.user] -= 1
        if not self._per_user[session.user]:
            del self._per_user[session.user]
        self._finished.append(SessionRecord(session.user, session.requested, session.ip, session.start,
                                            _utc_now(), session.remote_bytes, session.gga.count + session.remote_gga,
                                            "rover", session.ntrip_version, reason))

    def _on_worker_message(self, link, msg: tuple) -> None:
        kind = msg[0]
        if kind == "E":
            _k, sid, nbytes, _frames, dropped, _dropped_bytes, gga, reason = msg
            session = link.sessions.get(sid)
            if session is None:
                return
            session.remote_bytes, session.remote_dropped, session.remote_gga = nbytes, dropped, gga
            self.counters["dropped_frames"] += dropped
            if reason.startswith("slow client"):
                self.counters["slow_disconnects"] += 1
            if not session.done.done():
                session.done.set_result(reason)
        elif kind == "G":
            _k, sid, pos, count = msg
            session = link.sessions.get(sid)
            if session is not None:
                session.remote_gga = count
                self.hooks.emit(RoverPosition(session.id, session.user, session.requested, session.ip, pos,
                                              session.gga.count + count))
        elif kind == "S":
            _k, request_id, rows, last, info = msg
            for sid, nbytes, dropped, gga in rows:
                session = link.sessions.get(sid)
                if session is not None:
                    session.remote_bytes, session.remote_dropped, session.remote_gga = nbytes, dropped, gga
            waiter = self._polls.get(request_id)
            if last and waiter is not None:
                link.info = info
                waiter[1].discard(link)
                if not waiter[1] and not waiter[0].done():
                    waiter[0].set_result(None)

    def _on_worker_exit(self, link) -> None:
        """A worker is gone: its rovers' sessions end (their sockets died with it); start another."""
        expected = not self._accepting
        reason = f"fan-out worker {link.index} (pid {link.pid}) exited"
        if not expected:
            self.counters["worker_exits"] += 1
            log.error("%s: dropping its %d rovers", reason, len(link.sessions))
        for session in list(link.sessions.values()):
            if not session.done.done():
                session.done.set_result("caster shutting down" if expected else reason)
        for waiter in self._polls.values():
            waiter[1].discard(link)
            if not waiter[1] and not waiter[0].done():
                waiter[0].set_result(None)
        if not expected and link in self._links:
            self._old_links.append(link)
            self._spawn_aux(self._restart_link(link))

    async def _restart_link(self, old) -> None:
        await asyncio.sleep(0.5)
        if self._accepting and old in self._links:
            self._links[self._links.index(old)] = self._start_link(old.index)

    def _forward(self, mount_name: str, frames: list, raw: bytes) -> None:
        """Relay one source read to every worker serving rovers of that mountpoint."""
        links = [link for link in self._links if link.alive and link.mount_counts.get(mount_name)]
        if not links:
            return
        parts = [(raw, len(frames))]
        if len(raw) > (256 << 10):  # keep messages well under the channel's size limit
            parts, cur, size = [], [], 0
            for f in frames:
                if cur and size + len(f.raw) > (256 << 10):
                    parts.append((b"".join(c.raw for c in cur), len(cur)))
                    cur, size = [], 0
                cur.append(f)
                size += len(f.raw)
            parts.append((b"".join(c.raw for c in cur), len(cur)))
        for link in links:
            for blob, n in parts:
                link.send(("F", mount_name, blob, n))

    async def poll_workers(self, timeout_s: float = 2.0) -> None:
        """Refresh per-session counters of worker-served rovers (for :meth:`status`)."""
        live = {link for link in self._links if link.alive}
        if not live:
            return
        request_id = next(self._poll_ids)
        fut = asyncio.get_running_loop().create_future()
        self._polls[request_id] = (fut, live)
        try:
            for link in list(live):
                link.send(("P", request_id))
            await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            log.warning("status: fan-out workers did not answer within %.1f s", timeout_s)
        finally:
            del self._polls[request_id]

    async def _stop_links(self) -> None:
        """Wait for the workers' shutdown reports (``Q`` was sent); kill stragglers."""
        links = [link for link in self._links if link.alive]
        if links:
            await asyncio.wait([link.exited for link in links], timeout=self.limits.drain_timeout_s + 5.0)
        for link in self._links + self._old_links:
            if link.alive:
                log.warning("shutdown: fan-out worker %d did not finish; killing it", link.index)
                link.kill()
        if links:
            await asyncio.wait([link.exited for link in links], timeout=5.0)
        for link in self._links + self._old_links:
            if not await asyncio.to_thread(link.reap, 5.0):
                link.kill()
                await asyncio.to_thread(link.reap, 5.0)

    # ------------------------------------------------------------------ in-process sources
    def publish(self, mount_name: str, frames: list) -> int:
        """Relay whole frames produced in this process (service, network engine) to a mountpoint.

        The mountpoint is marked live on first use; :meth:`close_source` ends it.
        """
        mount = self.mounts[mount_name]
        if not mount.live:
            mount.attach_source("local", time.monotonic())
        return mount.publish(frames)

    def close_source(self, mount_name: str) -> None:
        """Mark an in-process source down (its rovers are moved or closed)."""
        mount = self.mounts[mount_name]
        mount.detach_source()
        self._source_down(mount)


def _running_uvloop() -> bool:
    return type(asyncio.get_running_loop()).__module__.startswith("uvloop")


async def _streams_for(conn: socket.socket, ssl_ctx, handshake_timeout_s: float):
    loop = asyncio.get_running_loop()
    conn.setblocking(False)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = asyncio.StreamReader(limit=65536)
    protocol = asyncio.StreamReaderProtocol(reader)
    kw = {"ssl": ssl_ctx, "ssl_handshake_timeout": handshake_timeout_s} if ssl_ctx else {}
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn, **kw)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def _listen_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4096)
    s.setblocking(False)
    return s


def _server_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def run_caster(config: CasterConfig, store: UserStore | None, *, on_started=None) -> None:
    """Run a caster until SIGINT/SIGTERM (used by ``vngeonet caster``)."""
    import signal

    loop_name = install_uvloop()
    log.info("event loop: %s", loop_name)

    async def main() -> None:
        caster = NTRIPCaster(config, store)
        await caster.start()
        if on_started is not None:
            on_started(caster)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("signal received: shutting down")
        await caster.aclose()

    asyncio.run(main())
