"""Sans-I/O RTCM 3 framer: bytes in, whole CRC-checked frames out.

The framer never reads or writes anything itself; a file reader, serial
driver or asyncio protocol feeds it whatever bytes arrived (1 byte to many
megabytes) and gets back the complete frames.  It resynchronises after
garbage and after corrupted frames, and other protocols interleaved in the
same stream (NMEA sentences, UBX packets) cost nothing but skipped bytes.

Frame layout (RTCM 10403.3 §4, Table 4-1)::

    0xD3 | 6 reserved bits | 10-bit length L | L payload bytes | CRC-24Q (3 bytes)

Resynchronisation rule: every 0xD3 is a candidate; on a CRC failure scanning
resumes one byte after that 0xD3, so a real frame hidden inside a false
candidate is not lost.  At most one maximal frame (1029 bytes) of undecided
bytes is ever buffered.

References
----------
RTCM 10403.3 §4 (transport layer); the scanner is the ``crc24q`` kernel
(``ext/crc24q.pyx`` / ``vngeonet/kernels/crc24q.py``).

Examples
--------
>>> payload = bytes.fromhex("3ed00003b5964465b88637bbb352b774e1e579")
>>> raw = frame_payload(payload)
>>> framer = RTCMFramer()
>>> [f.msg_type for f in framer.feed(b"junk" + raw[:10])], [f.msg_type for f in framer.feed(raw[10:])]
([], [1005])
>>> framer.stats.frames, framer.stats.skipped_bytes
(1, 4)
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from vngeonet import kernels
from vngeonet.errors import FramingError
from vngeonet.model import Frame

log = logging.getLogger(__name__)

_crc = kernels.get("crc24q")

PREAMBLE = 0xD3
MAX_PAYLOAD = 1023  # 10-bit length field
MAX_FRAME = MAX_PAYLOAD + 6


@dataclass(slots=True)
class FramerStats:
    """Counters of one framer (mutable; read them, do not write them).

    Attributes
    ----------
    frames : int
        Whole, CRC-valid frames returned.
    crc_failures : int
        Candidates with a plausible header (0xD3, reserved bits zero) whose
        CRC-24Q did not match.
    skipped_bytes : int
        Bytes that were not part of any frame (garbage, other protocols,
        corrupted frames).
    bytes_in : int
        Bytes fed so far.
    per_type : Counter[int, int]
        Frames per message number.
    """

    frames: int = 0
    crc_failures: int = 0
    skipped_bytes: int = 0
    bytes_in: int = 0
    per_type: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        """The counters as a JSON-serialisable dict (``per_type`` keys are strings)."""
        return {
            "frames": self.frames,
            "crc_failures": self.crc_failures,
            "skipped_bytes": self.skipped_bytes,
            "bytes_in": self.bytes_in,
            "per_type": {str(k): v for k, v in sorted(self.per_type.items())},
        }


def _make_frames(buf: bytes, offsets, lengths, types, base: int) -> list[Frame]:
    """Frames for the scanner's arrays; ``base`` is the stream offset of ``buf[0]``."""
    return _crc.make_frames(buf, offsets, lengths, types, base, Frame)


class RTCMFramer:
    """Incremental RTCM 3 framer (sans-I/O).

    Parameters
    ----------
    source : str
        Name of the stream, for log messages.

    Attributes
    ----------
    stats : FramerStats
        Frames, CRC failures, skipped bytes and per-type counts so far.

    Notes
    -----
    Feeding the bytes of a stream in any chunking yields the same frames as
    :func:`iter_frames` on the whole stream, once :meth:`flush` has been
    called at the end.  A frame is returned as soon as its last byte arrived
    and every earlier candidate was decided.
    """

    def __init__(self, source: str = ""):
        self.source = source
        self.stats = FramerStats()
        self._buf = b""
        self._base = 0  # stream offset of self._buf[0]

    @property
    def pending(self) -> int:
        """Undecided bytes held back (always < 1029)."""
        return len(self._buf)

    def feed(self, data) -> list[Frame]:
        """Add bytes; return the frames completed by them (possibly none).

        Parameters
        ----------
        data : bytes-like
            The next bytes of the stream, any length.

        Returns
        -------
        list of Frame
            In stream order; ``Frame.offset`` is the position in the stream.
        """
        data = bytes(data)
        self.stats.bytes_in += len(data)
        buf = self._buf + data if self._buf else data
        return self._scan(buf, False)

    def flush(self) -> list[Frame]:
        """End of stream: decide the held-back bytes and return any frames in them.

        Incomplete candidates at the end are counted as skipped bytes.  The
        framer can be fed again afterwards (offsets continue).
        """
        if not self._buf:
            return []
        return self._scan(self._buf, True)

    def _scan(self, buf: bytes, final: bool) -> list[Frame]:
        offs, lens, types, crc_fail, skipped, consumed = _crc.scan_frames(buf, final)
        st = self.stats
        st.crc_failures += crc_fail
        st.skipped_bytes += skipped
        if crc_fail:
            log.debug("%s: %d CRC-24Q failures near byte %d", self.source, crc_fail, self._base)
        frames = _make_frames(buf, offs, lens, types, self._base) if len(offs) else []
        if frames:
            st.frames += len(frames)
            st.per_type.update(types.tolist())
        self._buf = buf[consumed:]
        self._base += consumed
        return frames


def iter_frames(data, stats: FramerStats | None = None) -> Iterator[Frame]:
    """All whole, CRC-valid frames of a complete buffer (a file's contents).

    Parameters
    ----------
    data : bytes-like
        The whole stream.
    stats : FramerStats, optional
        Filled with the counters when given (complete once the iterator is
        exhausted; the scan itself happens on the first ``next``).

    Yields
    ------
    Frame
        In stream order, ``offset`` = position in ``data``.
    """
    buf = bytes(data)
    offs, lens, types, crc_fail, skipped, _ = _crc.scan_frames(buf, True)
    if stats is not None:
        stats.crc_failures += crc_fail
        stats.skipped_bytes += skipped
        stats.bytes_in += len(buf)
        stats.frames += len(offs)
        stats.per_type.update(types.tolist())
    step = 4096
    for k in range(0, len(offs), step):
        yield from _make_frames(buf, offs[k : k + step], lens[k : k + step], types[k : k + step], 0)


def frame_payload(payload) -> bytes:
    """Wrap a message payload into a whole RTCM 3 frame.

    Adds the preamble 0xD3, six zero reserved bits, the 10-bit length and the
    CRC-24Q (RTCM 10403.3 §4, Table 4-1).

    Parameters
    ----------
    payload : bytes-like
        Message body, 0..1023 bytes.

    Returns
    -------
    bytes
        ``len(payload) + 6`` bytes.

    Raises
    ------
    FramingError
        The payload is longer than 1023 bytes.

    Examples
    --------
    >>> frame_payload(bytes.fromhex("3ed00003b5964465b88637bbb352b774e1e579")).hex()
    'd300133ed00003b5964465b88637bbb352b774e1e5794c9492'
    """
    payload = bytes(payload)
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise FramingError(f"payload of {n} bytes exceeds the RTCM 3 maximum of {MAX_PAYLOAD}")
    head = bytes((PREAMBLE, n >> 8, n & 0xFF)) + payload
    return head + _crc.crc24q(head).to_bytes(3, "big")


def frame_msg_type(payload: bytes) -> int:
    """Message number (DF002) of a payload: its first 12 bits (0 if empty)."""
    if len(payload) >= 2:
        return (payload[0] << 4) | (payload[1] >> 4)
    return payload[0] << 4 if payload else 0
