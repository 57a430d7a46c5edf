"""Bit-field extraction and packing, MSB first (RTCM 10403.3 §3.3 bit order).

Pure-Python twin of ``ext/bits.pyx``; the two have the same functions,
signatures, dtypes and exceptions.

Field kinds (``kinds`` arrays, uint8):

* ``0`` unsigned (DF types uint*),
* ``1`` two's complement signed (int*),
* ``2`` sign-magnitude: leading sign bit, then magnitude (intS*, e.g. GLONASS
  DF104-DF136 and the MSM GLONASS fields use it).

Widths are 0..64 bits; a width of 0 yields 0.
"""

from __future__ import annotations

import numpy as np

KIND_UNSIGNED = 0
KIND_SIGNED = 1
KIND_SIGNMAG = 2


def getbitu(buf: bytes, pos: int, n: int) -> int:
    """Unsigned integer from ``n`` bits of ``buf`` starting at bit ``pos``.

    Raises
    ------
    IndexError
        The field runs past the end of ``buf``.
    ValueError
        ``n`` is outside 0..64.
    """
    _check_width(n)
    if n == 0:
        return 0
    end = pos + n
    if pos < 0 or end > len(buf) * 8:
        raise IndexError(f"bit field {pos}+{n} beyond {len(buf) * 8} bits")
    first = pos >> 3
    last = (end + 7) >> 3
    word = int.from_bytes(buf[first:last], "big")
    return (word >> ((last << 3) - end)) & ((1 << n) - 1)


def _check_width(n: int) -> None:
    if not 0 <= n <= 64:
        raise ValueError(f"bit field width {n} outside 0..64")


def _check_arrays(widths: np.ndarray, *others: np.ndarray) -> None:
    if any(len(o) != len(widths) for o in others):
        raise ValueError("field arrays differ in length")
    if len(widths) and (int(widths.min()) < 0 or int(widths.max()) > 64):
        raise ValueError("bit field width outside 0..64")


def getbits(buf: bytes, pos: int, n: int) -> int:
    """Two's complement signed integer from ``n`` bits (see :func:`getbitu`)."""
    v = getbitu(buf, pos, n)
    if n and v >> (n - 1):
        v -= 1 << n
    return v


def _apply_kind(v: int, n: int, kind: int) -> int:
    if n == 0:
        return 0
    if kind == KIND_SIGNED:
        if v >> (n - 1):
            v -= 1 << n
    elif kind == KIND_SIGNMAG:
        mag = v & ((1 << (n - 1)) - 1)
        v = -mag if v >> (n - 1) else mag
    return v


def unpack_fields(buf: bytes, pos: int, widths: np.ndarray, kinds: np.ndarray):
    """Read consecutive bit fields.

    Parameters
    ----------
    buf : bytes-like
        Message payload.
    pos : int
        Bit offset of the first field.
    widths : ndarray of int32, shape (n,)
        Width of each field in bits (0..64).
    kinds : ndarray of uint8, shape (n,)
        Field kinds (0 unsigned, 1 two's complement, 2 sign-magnitude).

    Returns
    -------
    values : ndarray of int64, shape (n,)
        The fields.  An unsigned 64-bit field wraps to int64.
    end : int
        Bit offset just after the last field.

    Raises
    ------
    IndexError
        The fields run past the end of ``buf``.
    ValueError
        A width is outside 0..64, or ``kinds`` and ``widths`` differ in length.
    """
    widths = np.asarray(widths, dtype=np.int32)
    kinds = np.asarray(kinds, dtype=np.uint8)
    _check_arrays(widths, kinds)
    total = int(widths.sum())
    nbits = len(buf) * 8
    if pos < 0 or pos + total > nbits:
        raise IndexError(f"bit fields {pos}+{total} beyond {nbits} bits")
    word = int.from_bytes(bytes(buf), "big")
    out = np.zeros(len(widths), dtype=np.int64)
    p = pos
    for i in range(len(widths)):
        n = int(widths[i])
        v = (word >> (nbits - p - n)) & ((1 << n) - 1) if n else 0
        v = _apply_kind(v, n, int(kinds[i]))
        if v >= 1 << 63:
            v -= 1 << 64
        out[i] = v
        p += n
    return out, p


def pack_fields(values: np.ndarray, widths: np.ndarray, kinds: np.ndarray) -> bytes:
    """Write consecutive bit fields, MSB first, zero-padded to whole bytes.

    Parameters
    ----------
    values : ndarray of int64, shape (n,)
    widths : ndarray of int32, shape (n,)
    kinds : ndarray of uint8, shape (n,)

    Returns
    -------
    bytes
        ``ceil(sum(widths) / 8)`` bytes.

    Raises
    ------
    OverflowError
        A value does not fit its field.
    ValueError
        A width is outside 0..64, or the three arrays differ in length.
    """
    values = np.asarray(values, dtype=np.int64)
    widths = np.asarray(widths, dtype=np.int32)
    kinds = np.asarray(kinds, dtype=np.uint8)
    _check_arrays(widths, values, kinds)
    acc = 0
    total = 0
    for i in range(len(widths)):
        n = int(widths[i])
        v = int(values[i])
        k = int(kinds[i])
        if n == 0:
            continue
        if k == KIND_UNSIGNED:
            if n == 64 and v < 0:
                v += 1 << 64
            if v < 0 or v >> n:
                raise OverflowError(f"field {i}: {v} does not fit uint{n}")
        elif k == KIND_SIGNED:
            if not -(1 << (n - 1)) <= v < (1 << (n - 1)):
                raise OverflowError(f"field {i}: {v} does not fit int{n}")
            v &= (1 << n) - 1
        else:
            mag = -v if v < 0 else v
            if mag >> (n - 1):
                raise OverflowError(f"field {i}: {v} does not fit intS{n}")
            v = ((1 << (n - 1)) | mag) if v < 0 else mag
        acc = (acc << n) | v
        total += n
    pad = (-total) % 8
    return (acc << pad).to_bytes((total + pad) // 8, "big")
