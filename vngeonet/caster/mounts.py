"""Mountpoints, their live statistics, and per-client bounded send queues.

Fan-out is the caster's hot path (10,000 rovers x every frame), so it is
written to cost one ``transport.write`` per client per source read, with no
task switch for a client that keeps up (with fan-out worker processes,
``Mount.forward`` first relays the read once per worker, and each worker
runs the same loop over its own rovers: :mod:`vngeonet.caster.worker`):

* a source read yields whole RTCM frames (the project's
  :class:`~vngeonet.rtcm.framer.RTCMFramer`); they are joined once, and
  chunk-encoded once for NTRIP 2 clients (RTCM 10410.1 §4.1);
* :meth:`ClientQueue.offer` writes straight to the socket transport while
  the transport's own buffer is below ``write_mark`` bytes and nothing is
  queued; otherwise the blob goes to the client's queue.

**Overflow policy (slow rovers).**  Each client's queue holds at most
``max_bytes`` bytes of whole-frame blobs.  When a new blob would exceed it,
the *oldest whole blobs are dropped* (``dropped_frames`` and
``dropped_bytes`` counted; frames are never cut, so the client only ever
sees whole frames).  When a client has had more than ``max_bytes`` dropped
without accepting a single byte since, it is disconnected
(``slow_disconnect``).  Memory per client is thus bounded by
``write_mark + max_bytes`` plus one blob.

References
----------
RTCM 10403.3 §3.5.3 (1005/1006 ARP, DF025-DF027, decoded by
:mod:`vngeonet.rtcm.decode`), §3.5.12 (MSM signals); RTCM 10410.1 (NTRIP 2.0).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field

from vngeonet.caster.config import MountConfig
from vngeonet.caster.request import chunk

log = logging.getLogger(__name__)

__all__ = ["ClientQueue", "Mount", "TypeStats", "message_system"]


class ClientQueue:
    """Bounded per-client send queue in front of an asyncio transport.

    Parameters
    ----------
    transport : asyncio.WriteTransport-like
        Needs ``write``, ``get_write_buffer_size``, ``abort``, ``is_closing``.
    chunked : bool
        True for NTRIP 2 clients (receive the chunk-encoded blob).
    max_bytes : int
        Queue bound (see the module's overflow policy).
    write_mark : int
        Transport buffer level above which blobs are queued, not written.
    on_pending : callable(ClientQueue) or None
        Called when the queue becomes non-empty (the server starts a drainer).
    """

    __slots__ = (
        "_dropped_since_progress",
        "bytes_sent",
        "chunked",
        "close_reason",
        "closed",
        "dropped_bytes",
        "dropped_frames",
        "frames_sent",
        "max_bytes",
        "on_pending",
        "owner",
        "pending",
        "pending_bytes",
        "transport",
        "write_mark",
    )

    def __init__(self, transport, *, chunked: bool, max_bytes: int = 65536, write_mark: int = 16384,
                 on_pending=None, owner=None):
        self.transport = transport
        self.chunked = chunked
        self.max_bytes = max_bytes
        self.write_mark = write_mark
        self.on_pending = on_pending
        self.owner = owner
        self.pending: deque = deque()  # of (blob, n_frames, n_payload_bytes)
        self.pending_bytes = 0
        self.bytes_sent = 0
        self.frames_sent = 0
        self.dropped_frames = 0
        self.dropped_bytes = 0
        self._dropped_since_progress = 0
        self.closed = False
        self.close_reason = ""

    def offer(self, raw: bytes, chunked_blob: bytes, n_frames: int) -> None:
        """Send (or queue) one blob of whole frames."""
        if self.closed:
            return
        blob = chunked_blob if self.chunked else raw
        if not self.pending and self.transport.get_write_buffer_size() <= self.write_mark:
            self.transport.write(blob)
            self.bytes_sent += len(raw)
            self.frames_sent += n_frames
            self._dropped_since_progress = 0
            return
        was_empty = not self.pending
        self.pending.append((blob, n_frames, len(raw)))
        self.pending_bytes += len(blob)
        while self.pending_bytes > self.max_bytes and len(self.pending) > 1:
            old, n, nraw = self.pending.popleft()
            self.pending_bytes -= len(old)
            self.dropped_frames += n
            self.dropped_bytes += nraw
            self._dropped_since_progress += len(old)
        if self._dropped_since_progress > self.max_bytes:
            self.close("slow client: send queue overflowed twice without progress")
            return
        if was_empty and self.on_pending is not None:
            self.on_pending(self)

    def flush(self) -> bool:
        """Move queued blobs to the transport while its buffer allows; True when empty."""
        while self.pending and not self.closed and self.transport.get_write_buffer_size() <= self.write_mark:
            blob, n, nraw = self.pending.popleft()
            self.pending_bytes -= len(blob)
            self.transport.write(blob)
            self.bytes_sent += nraw
            self.frames_sent += n
            self._dropped_since_progress = 0
        return not self.pending

    def finish(self, reason: str) -> None:
        """End the stream cleanly: send what is queued (if the socket takes it),
        the last chunk for NTRIP 2, and close after the buffer has gone out."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        self.close_reason = reason
        self.pending.clear()
        self.pending_bytes = 0
        if self.chunked:
            self.transport.write(b"0\r\n\r\n")
        self.transport.close()

    def close(self, reason: str) -> None:
        """Stop sending and abort the connection (used for slow clients)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.pending.clear()
        self.pending_bytes = 0
        log.info("client closed: %s", reason)
        self.transport.abort()


@dataclass(slots=True)
class TypeStats:
    """Counts and timing of one message type on one mountpoint."""

    count: int = 0
    first_s: float = 0.0
    last_s: float = 0.0

    @property
    def interval_s(self) -> float | None:
        """Mean interval between messages (``None`` before the second one)."""
        if self.count < 2 or self.last_s <= self.first_s:
            return None
        return (self.last_s - self.first_s) / (self.count - 1)


_SYSTEM_RANGES = (
    (1001, 1004, "GPS"), (1009, 1012, "GLO"), (1071, 1077, "GPS"), (1081, 1087, "GLO"),
    (1091, 1097, "GAL"), (1101, 1107, "SBAS"), (1111, 1117, "QZS"), (1121, 1127, "BDS"),
    (1131, 1137, "IRS"),
)


def message_system(msg_type: int) -> str | None:
    """GNSS carried by an observation message type (None for others).

    Examples
    --------
    >>> message_system(1077), message_system(1127), message_system(1005)
    ('GPS', 'BDS', None)
    """
    for lo, hi, name in _SYSTEM_RANGES:
        if lo <= msg_type <= hi:
            return name
    return None


def _decoded(frame):
    """Decode one frame with the RTCM package; ``None`` if it is malformed."""
    from vngeonet.errors import FormatError
    from vngeonet.rtcm.decode import decode

    try:
        return decode(frame)
    except (FormatError, ValueError, IndexError) as err:
        log.info("undecodable %d frame on a mountpoint: %s", frame.msg_type, err)
        return None


@dataclass
class Mount:
    """One mountpoint: its config, its live source state and its clients.

    ``publish`` is called with the whole frames of one source read.
    ``live`` is true while a source is connected and has sent data within the
    source idle limit; a mountpoint that is not live is left out of the
    sourcetable and refuses rovers.
    """

    config: MountConfig
    clients: dict = field(default_factory=dict)  # ClientQueue -> None (insertion-ordered set)
    live: bool = False
    source_ip: str = ""
    source_since: float = 0.0
    frames: int = 0
    bytes_in: int = 0
    last_data_s: float = 0.0
    types: dict = field(default_factory=dict)  # msg_type -> TypeStats
    arp_ecef_m: tuple | None = None
    max_bands: int = 0  # distinct frequency bands seen in MSM cells
    generation: int = 0  # bumped per source session (resets statistics)
    fanout_last_s: float = 0.0  # time to hand the last read's frames to every client
    fanout_max_s: float = 0.0
    fanout_cpu_last_s: float = 0.0  # CPU time of the last fan-out (wall - CPU = waiting for a core)
    forward: object = None  # callable(name, frames, raw): relays to fan-out workers first

    @property
    def name(self) -> str:
        return self.config.name

    def attach_source(self, ip: str, now_s: float) -> None:
        self.live = True
        self.source_ip = ip
        self.source_since = now_s
        self.last_data_s = now_s
        self.types = {}
        self.generation += 1

    def detach_source(self) -> None:
        self.live = False
        self.source_ip = ""

    def publish(self, frames: list, now_s: float | None = None) -> int:
        """Fan one read's whole frames out to every client; returns bytes published."""
        if not frames:
            return 0
        now_s = time.monotonic() if now_s is None else now_s
        raw = frames[0].raw if len(frames) == 1 else b"".join(f.raw for f in frames)
        if self.forward is not None:
            self.forward(self.name, frames, raw)
        if self.clients:
            t0, c0 = time.perf_counter(), time.thread_time()
            blob = chunk(raw)
            n = len(frames)
            for client in tuple(self.clients):
                client.offer(raw, blob, n)
            fanout_s = time.perf_counter() - t0
            self.fanout_cpu_last_s = time.thread_time() - c0
            self.fanout_last_s = fanout_s
            self.fanout_max_s = max(self.fanout_max_s, fanout_s)
        # Statistics after the fan-out: rovers never wait for bookkeeping.
        for f in frames:
            self._observe(f, now_s)
        self.frames += len(frames)
        self.bytes_in += len(raw)
        self.last_data_s = now_s
        return len(raw)

    def _observe(self, frame, now_s: float) -> None:
        st = self.types.get(frame.msg_type)
        if st is None:
            st = self.types[frame.msg_type] = TypeStats(first_s=now_s)
            # First frame of each type per source session: decode it for the
            # sourcetable (position, bands); relaying never waits on decoding.
            if frame.msg_type in (1005, 1006):
                msg = _decoded(frame)
                arp = getattr(msg, "arp_ecef_m", None)
                self.arp_ecef_m = tuple(arp) if arp is not None else self.arp_ecef_m
            elif message_system(frame.msg_type) and frame.msg_type >= 1071:
                msg = _decoded(frame)
                bands = {str(sig)[0] for sig in getattr(msg, "sig", ())}
                self.max_bands = max(self.max_bands, len(bands))
        st.count += 1
        st.last_s = now_s

    def add_client(self, client: ClientQueue) -> None:
        self.clients[client] = None

    def remove_client(self, client: ClientQueue) -> None:
        self.clients.pop(client, None)

    def position_deg(self) -> tuple[float, float] | None:
        """(latitude, longitude) in degrees from 1005/1006, else from config."""
        if self.arp_ecef_m is not None:
            from vngeonet.gnss.coords import ecef_to_llh

            llh = ecef_to_llh(self.arp_ecef_m)
            return math.degrees(float(llh[0])), math.degrees(float(llh[1]))
        if self.config.lat_deg is not None and self.config.lon_deg is not None:
            return self.config.lat_deg, self.config.lon_deg
        return None

    def systems(self) -> list[str]:
        seen = []
        for t in sorted(self.types):
            s = message_system(t)
            if s and s not in seen:
                seen.append(s)
        return seen

    def carrier(self) -> int:
        """NTRIP carrier field: 0 none, 1 L1, 2 L1+L2 (from the observation types seen)."""
        kinds = set(self.types)
        if kinds & {1004, 1012} or (self.max_bands >= 2):
            return 2
        if kinds & {1002, 1010} or self.max_bands == 1:
            return 1
        return 0

    def status(self) -> dict:
        """JSON-ready state for ``/admin/status``."""
        return {
            "live": self.live,
            "source_ip": self.source_ip,
            "frames": self.frames,
            "bytes": self.bytes_in,
            "clients": len(self.clients),
            "fanout_last_ms": round(self.fanout_last_s * 1e3, 3),
            "fanout_max_ms": round(self.fanout_max_s * 1e3, 3),
            "fanout_cpu_last_ms": round(self.fanout_cpu_last_s * 1e3, 3),
            "position_deg": self.position_deg(),
            "types": {str(t): {"count": s.count, "interval_s": s.interval_s} for t, s in sorted(self.types.items())},
        }
