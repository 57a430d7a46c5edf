"""CRC-24Q and the RTCM 3 frame scanner.

Pure-Python twin of ``ext/crc24q.pyx``; the two have the same functions,
signatures, dtypes and exceptions.

An RTCM 3 frame (RTCM 10403.3 §4, Table 4-1) is::

    preamble 0xD3 (8 bits) | reserved (6 bits, 000000) | length (10 bits, 0..1023)
    | payload (length bytes) | CRC-24Q (24 bits)

so a frame is 6..1029 bytes.  The CRC covers preamble, reserved bits, length
and payload.  CRC-24Q is the Qualcomm 24-bit CRC: generator polynomial
``0x1864CFB`` (x^24 + x^23 + x^18 + x^17 + x^14 + x^11 + x^10 + x^7 + x^6 +
x^5 + x^4 + x^3 + x + 1), initial value 0, no reflection, no final XOR; the
result is sent most significant byte first.

Scanning rule (both implementations):

* every 0xD3 byte starts a candidate frame;
* a candidate whose bytes are all present and whose CRC matches is a frame;
  scanning resumes right after it;
* otherwise scanning resumes one byte after the 0xD3, so a real frame hidden
  inside a false candidate is still found.  A failed candidate whose reserved
  bits are zero (a plausible header) counts as a CRC failure; one with
  reserved bits set is plain garbage;
* bytes that are not part of a frame are "skipped";
* a candidate that runs past the end of the buffer is left undecided
  (scanning stops there) unless ``final`` is true, in which case it is
  treated as a failed candidate.

References
----------
RTCM 10403.3 §4 (transport layer), Table 4-1; Qualcomm CRC-24Q as used in
RTCM 3 and SBAS (RTCA DO-229 §A.4.3.3).
"""

from __future__ import annotations

import numpy as np

POLY = 0x1864CFB
PREAMBLE = 0xD3
MAX_PAYLOAD = 1023
MAX_FRAME = MAX_PAYLOAD + 6


def _make_table() -> tuple[int, ...]:
    table = []
    for b in range(256):
        c = b << 16
        for _ in range(8):
            c <<= 1
            if c & 0x1000000:
                c ^= POLY
        table.append(c & 0xFFFFFF)
    return tuple(table)


TABLE = _make_table()


def crc24q(buf) -> int:
    """CRC-24Q of a bytes-like object.

    Parameters
    ----------
    buf : bytes-like
        Data to check; for an RTCM frame, preamble through payload.

    Returns
    -------
    int
        The 24-bit CRC (0 over a whole valid frame including its CRC).
    """
    crc = 0
    tab = TABLE
    for b in bytes(buf):
        crc = ((crc << 8) & 0xFFFFFF) ^ tab[(crc >> 16) ^ b]
    return crc


def scan_frames(buf, final: bool = False):
    """Find the whole, CRC-valid RTCM 3 frames in a buffer.

    Parameters
    ----------
    buf : bytes-like
        Stream bytes.
    final : bool
        ``True`` when no more bytes will follow (end of file); then nothing is
        left undecided.

    Returns
    -------
    offsets : ndarray of int64, shape (n,)
        Byte offset of each frame's preamble in ``buf``.
    lengths : ndarray of int32, shape (n,)
        Whole frame length in bytes (payload length + 6).
    msg_types : ndarray of int32, shape (n,)
        Message number (DF002, first 12 payload bits; an empty payload gives
        0 and a one-byte payload its 8 bits shifted left by 4).
    crc_failures : int
        Failed candidates with a plausible header (see module notes).
    skipped : int
        Bytes before ``consumed`` that are not part of a frame.
    consumed : int
        Bytes decided: ``buf[consumed:]`` starts with an incomplete candidate
        (always ``len(buf)`` when ``final``); fewer than ``MAX_FRAME`` bytes.
    """
    data = bytes(buf)
    n = len(data)
    offs: list[int] = []
    lens: list[int] = []
    types: list[int] = []
    crc_fail = 0
    skipped = 0
    i = 0
    while i < n:
        j = data.find(b"\xd3", i)
        if j < 0:
            skipped += n - i
            i = n
            break
        skipped += j - i
        i = j
        if i + 3 > n:
            if not final:
                break
            skipped += 1
            i += 1
            continue
        plen = ((data[i + 1] & 0x03) << 8) | data[i + 2]
        total = plen + 6
        if i + total > n:
            if not final:
                break
            skipped += 1
            i += 1
            continue
        if crc24q(data[i : i + total]) == 0:
            offs.append(i)
            lens.append(total)
            types.append(_msg_type(data, i + 3, plen))
            i += total
        else:
            if data[i + 1] & 0xFC == 0:
                crc_fail += 1
            skipped += 1
            i += 1
    return (
        np.array(offs, dtype=np.int64),
        np.array(lens, dtype=np.int32),
        np.array(types, dtype=np.int32),
        crc_fail,
        skipped,
        i,
    )


def _msg_type(data: bytes, p: int, plen: int) -> int:
    if plen >= 2:
        return (data[p] << 4) | (data[p + 1] >> 4)
    if plen == 1:
        return data[p] << 4
    return 0


def make_frames(buf: bytes, offsets, lengths, msg_types, base: int, frame_cls) -> list:
    """Frame objects for the arrays returned by :func:`scan_frames`.

    Parameters
    ----------
    buf : bytes
        The scanned buffer.
    offsets, lengths, msg_types : ndarray of int64, int32, int32, shape (n,)
        As returned by :func:`scan_frames`.
    base : int
        Stream offset of ``buf[0]`` (added to each frame's offset).
    frame_cls : type
        A class with fields ``(msg_type, payload, raw, offset)``, normally
        :class:`vngeonet.model.Frame`.

    Returns
    -------
    list of frame_cls
        ``frame_cls(msg_type, raw[3:-3], raw, base + offset)`` per frame.

    Raises
    ------
    ValueError
        The arrays differ in length or a frame lies outside ``buf``.
    """
    n = len(offsets)
    if len(lengths) != n or len(msg_types) != n:
        raise ValueError("offsets, lengths and msg_types differ in length")
    offs, lens = np.asarray(offsets).tolist(), np.asarray(lengths).tolist()
    for k in range(n):
        if offs[k] < 0 or lens[k] < 6 or offs[k] + lens[k] > len(buf):
            raise ValueError(f"frame {k} outside the buffer")
    return [
        frame_cls(t, buf[o + 3 : o + m - 3], buf[o : o + m], base + o)
        for o, m, t in zip(offs, lens, np.asarray(msg_types).tolist())
    ]
