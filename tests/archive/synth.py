"""Synthetic variants of a real RTCM capture, for tests.

Every frame of the real capture is kept; only MSM header fields are edited
and the message re-encoded bit-exactly by ``vngeonet.rtcm``: epoch times
shifted (longer recordings, GPS week rollover), BeiDou epochs stamped with GPS
time (the receiver bug), multiple-message bits changed.
"""

from __future__ import annotations

import dataclasses

from tests.conftest import data_path
from vngeonet.rtcm.context import DecodeContext
from vngeonet.rtcm.decode import decode
from vngeonet.rtcm.encode import encode
from vngeonet.rtcm.framer import iter_frames
from vngeonet.rtcm.msm import MSMMessage

WEEK_MS = 604_800_000
DAY_MS = 86_400_000
CAPTURE = "pygnssutils/tests/ntrip_encode_none.bin"  # Trimble ALLOY via NTRIP, 2024-08-18, 33 epochs 1 Hz


def frames(rel: str = CAPTURE):
    """(frame, decoded message) of every frame of a real capture."""
    data = data_path(rel).read_bytes()
    ctx = DecodeContext()
    return [(f, decode(f, ctx)) for f in iter_frames(data)]


def shift_epoch(msg: MSMMessage, dt_ms: int) -> MSMMessage:
    """The MSM message with its epoch field moved by ``dt_ms`` (GLONASS day of week kept consistent)."""
    h = list(msg.head)
    e = h[2]
    if msg.system == "R":
        dow, tod = e >> 27, e & ((1 << 27) - 1)
        tod += dt_ms
        if dow != 7:
            dow = (dow + tod // DAY_MS) % 7
        h[2] = (dow << 27) | (tod % DAY_MS)
    else:
        h[2] = (e + dt_ms) % WEEK_MS
    return dataclasses.replace(msg, head=tuple(h))


def with_multiple(msg: MSMMessage, bit: bool) -> MSMMessage:
    h = list(msg.head)
    h[3] = int(bit)
    return dataclasses.replace(msg, head=tuple(h))


def stream(pairs, edit=None, skip_types=()) -> bytes:
    """Bytes of the frames, MSMs passed through ``edit(msg)`` (None keeps the original frame)."""
    out = []
    for f, m in pairs:
        if f.msg_type in skip_types:
            continue
        if edit is not None and isinstance(m, MSMMessage):
            new = edit(m)
            out.append(f.raw if new is None else encode(new))
        else:
            out.append(f.raw)
    return b"".join(out)


def looped(pairs, n: int, period_ms: int = 33_000, start_ms: int = 0) -> bytes:
    """``n`` copies of the capture, the k-th shifted by ``start_ms + k * period_ms``: a longer 1 Hz recording."""
    return b"".join(stream(pairs, lambda m, k=k: shift_epoch(m, start_ms + k * period_ms)) for k in range(n))
