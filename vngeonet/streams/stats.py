"""Per-stream statistics: bytes, frames per type, rates, CRC failures, latency, gaps.

The drivers count bytes, chunks and (re)connects; whoever frames the stream
(the framer consumer, the epoch builder, ``vngeonet record``) reports frames,
CRC failures and data epochs through :meth:`StreamStats.record_frame` and
friends.  Latency is the arrival time (GPS time from the wall clock) minus the
data's GNSS epoch; a gap is a silence longer than ``gap_threshold_s``.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass
class StreamStats:
    """Mutable counters of one stream (one instance per :class:`Source`).

    Attributes
    ----------
    bytes_in : int
        Bytes received.
    chunks : int
        ``read()`` results handed out.
    connects, disconnects : int
        Successful opens and ends of stream / connection losses.
    frames : collections.Counter
        Frames per message type (RTCM number, ``"UBX-RXM-RAWX"``, ``"NMEA-GGA"``...).
    crc_failures : int
        Frames rejected by their checksum.
    skipped_bytes : int
        Bytes outside any valid frame.
    gaps : int
        Silences longer than ``gap_threshold_s``; ``longest_gap_s`` the worst one.
    latency_s : collections.deque
        The last ``window`` latency samples, seconds.
    """

    clock: object = time.monotonic
    gap_threshold_s: float = 5.0
    window: int = 600
    bytes_in: int = 0
    chunks: int = 0
    connects: int = 0
    disconnects: int = 0
    frames: Counter = field(default_factory=Counter)
    crc_failures: int = 0
    skipped_bytes: int = 0
    gaps: int = 0
    longest_gap_s: float = 0.0
    first_rx: float | None = None
    last_rx: float | None = None
    latency_s: deque = field(default_factory=deque)
    _frame_times: deque = field(default_factory=deque)

    def record_bytes(self, n: int) -> None:
        """Count ``n`` bytes arriving now; detects gaps."""
        now = self.clock()
        if self.last_rx is not None:
            silence = now - self.last_rx
            if silence > self.gap_threshold_s:
                self.gaps += 1
                self.longest_gap_s = max(self.longest_gap_s, silence)
        if self.first_rx is None:
            self.first_rx = now
        self.last_rx = now
        self.bytes_in += n
        self.chunks += 1

    def record_connect(self) -> None:
        self.connects += 1

    def record_disconnect(self) -> None:
        self.disconnects += 1

    def record_frame(self, msg_type, latency_s: float | None = None) -> None:
        """Count one frame of ``msg_type``; ``latency_s`` = arrival minus data epoch."""
        self.frames[msg_type] += 1
        self._frame_times.append((self.clock(), msg_type))
        if len(self._frame_times) > 20 * self.window:
            self._frame_times.popleft()
        if latency_s is not None:
            self.latency_s.append(float(latency_s))
            if len(self.latency_s) > self.window:
                self.latency_s.popleft()

    def record_crc_failure(self, n: int = 1) -> None:
        self.crc_failures += n

    def record_skipped(self, n: int) -> None:
        self.skipped_bytes += n

    def silence_s(self) -> float | None:
        """Seconds since the last byte (``None`` before any)."""
        return None if self.last_rx is None else self.clock() - self.last_rx

    def rates_hz(self, horizon_s: float = 60.0) -> dict:
        """Frames per second per type over the last ``horizon_s`` seconds."""
        now = self.clock()
        recent = Counter(t for ts, t in self._frame_times if now - ts <= horizon_s)
        if not recent:
            return {}
        span = min(horizon_s, max(now - (self.first_rx or now), 1e-9))
        return {k: v / span for k, v in sorted(recent.items(), key=lambda kv: str(kv[0]))}

    def snapshot(self) -> dict:
        """JSON-serialisable summary."""
        lat = sorted(self.latency_s)
        return {
            "bytes": self.bytes_in,
            "chunks": self.chunks,
            "connects": self.connects,
            "disconnects": self.disconnects,
            "frames": {str(k): v for k, v in sorted(self.frames.items(), key=lambda kv: str(kv[0]))},
            "crc_failures": self.crc_failures,
            "skipped_bytes": self.skipped_bytes,
            "gaps": self.gaps,
            "longest_gap_s": self.longest_gap_s,
            "latency_p50_s": lat[len(lat) // 2] if lat else None,
            "latency_max_s": lat[-1] if lat else None,
            "rates_hz": {str(k): round(v, 3) for k, v in self.rates_hz().items()},
        }
