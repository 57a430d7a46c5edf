# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bit-field extraction and packing, MSB first (compiled twin of vngeonet/kernels/bits.py).

RTCM 10403.3 §3.3 bit order.  Kinds: 0 unsigned, 1 two's complement, 2
sign-magnitude (intS).  See the twin for the full specification.
"""

import numpy as np

cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memset

from bitread cimport field_value, read_bits

cnp.import_array()

KIND_UNSIGNED = 0
KIND_SIGNED = 1
KIND_SIGNMAG = 2


cdef inline bytes _as_bytes(object buf):
    """``buf`` as bytes (no copy when it already is)."""
    if type(buf) is bytes:
        return <bytes>buf
    return bytes(memoryview(buf).cast("B"))


cdef bytes _span(object buf, Py_ssize_t pos, int n):
    """``buf`` as bytes once ``n`` (0..64) bits from bit ``pos`` are checked to lie in it; None when n == 0."""
    cdef Py_ssize_t nbytes
    cdef bytes b
    if n < 0 or n > 64:
        raise ValueError(f"bit field width {n} outside 0..64")
    if n == 0:
        return None
    b = _as_bytes(buf)
    nbytes = PyBytes_GET_SIZE(b)
    if pos < 0 or pos + n > nbytes * 8:
        raise IndexError(f"bit field {pos}+{n} beyond {nbytes * 8} bits")
    return b


def getbitu(buf, Py_ssize_t pos, int n):
    """Unsigned integer from ``n`` bits of ``buf`` starting at bit ``pos`` (see the twin)."""
    cdef bytes b = _span(buf, pos, n)
    if b is None:
        return 0
    return read_bits(<const unsigned char*>PyBytes_AS_STRING(b), pos, n)


def getbits(buf, Py_ssize_t pos, int n):
    """Two's complement signed integer from ``n`` bits (see :func:`getbitu`)."""
    cdef bytes b = _span(buf, pos, n)
    if b is None:
        return 0
    return field_value(read_bits(<const unsigned char*>PyBytes_AS_STRING(b), pos, n), n, 1)


cdef cnp.ndarray _as_array(obj, int typenum):
    """``obj`` as a C-contiguous 1-D array of ``typenum`` (no copy when it already is one)."""
    cdef cnp.ndarray a
    if (type(obj) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>obj) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>obj) and cnp.PyArray_NDIM(<cnp.ndarray>obj) == 1
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>obj)):
        return <cnp.ndarray>obj
    a = np.ascontiguousarray(obj, dtype=cnp.PyArray_DescrFromType(typenum))
    if cnp.PyArray_NDIM(a) != 1:
        raise ValueError("field arrays must be one-dimensional")
    return a


def unpack_fields(buf, Py_ssize_t pos, widths, kinds):
    """Read consecutive bit fields; returns ``(values int64 (n,), end_bit)`` (see the twin)."""
    cdef cnp.ndarray wa = _as_array(widths, cnp.NPY_INT32)
    cdef cnp.ndarray ka = _as_array(kinds, cnp.NPY_UINT8)
    cdef const int32_t* w = <const int32_t*>cnp.PyArray_DATA(wa)
    cdef const uint8_t* k = <const uint8_t*>cnp.PyArray_DATA(ka)
    cdef Py_ssize_t nf = cnp.PyArray_DIM(wa, 0), i, total = 0, nbytes, p
    cdef cnp.npy_intp dims[1]
    cdef bytes b
    cdef const unsigned char* d
    cdef int64_t* o
    cdef int wi
    if cnp.PyArray_DIM(ka, 0) != nf:
        raise ValueError("widths and kinds differ in length")
    for i in range(nf):
        wi = w[i]
        if wi < 0 or wi > 64:
            raise ValueError(f"bit field width {wi} outside 0..64")
        total += wi
    b = _as_bytes(buf)
    nbytes = PyBytes_GET_SIZE(b)
    d = <const unsigned char*>PyBytes_AS_STRING(b)
    if pos < 0 or pos + total > nbytes * 8:
        raise IndexError(f"bit fields {pos}+{total} beyond {nbytes * 8} bits")
    dims[0] = nf
    out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)
    o = <int64_t*>cnp.PyArray_DATA(out)
    p = pos
    with nogil:
        for i in range(nf):
            wi = w[i]
            if wi == 0:
                o[i] = 0
                continue
            o[i] = field_value(read_bits(d, p, wi), wi, k[i])
            p += wi
    return out, p


cdef inline void _put(unsigned char* d, Py_ssize_t pos, int n, uint64_t v) noexcept nogil:
    """OR ``n`` bits of ``v`` into the zeroed buffer ``d`` at bit ``pos``."""
    cdef int bit
    cdef Py_ssize_t byte
    cdef int room, take
    while n > 0:
        byte = pos >> 3
        room = 8 - (pos & 7)
        take = room if room < n else n
        bit = n - take
        d[byte] |= <unsigned char>(((v >> bit) & ((1 << take) - 1)) << (room - take))
        pos += take
        n -= take


def pack_fields(values, widths, kinds):
    """Write consecutive bit fields, MSB first, zero-padded to whole bytes (see the twin)."""
    cdef cnp.ndarray va = _as_array(values, cnp.NPY_INT64)
    cdef cnp.ndarray wa = _as_array(widths, cnp.NPY_INT32)
    cdef cnp.ndarray ka = _as_array(kinds, cnp.NPY_UINT8)
    cdef const int64_t* v = <const int64_t*>cnp.PyArray_DATA(va)
    cdef const int32_t* w = <const int32_t*>cnp.PyArray_DATA(wa)
    cdef const uint8_t* k = <const uint8_t*>cnp.PyArray_DATA(ka)
    cdef Py_ssize_t nf = cnp.PyArray_DIM(wa, 0), i, total = 0, pos = 0
    cdef int n, kd
    cdef int64_t x
    cdef uint64_t u, mag
    if cnp.PyArray_DIM(va, 0) != nf or cnp.PyArray_DIM(ka, 0) != nf:
        raise ValueError("values, widths and kinds differ in length")
    for i in range(nf):
        if w[i] < 0 or w[i] > 64:
            raise ValueError(f"bit field width {w[i]} outside 0..64")
        total += w[i]
    out = PyBytes_FromStringAndSize(NULL, (total + 7) // 8)
    cdef unsigned char* d = <unsigned char*>PyBytes_AS_STRING(out)
    memset(d, 0, (total + 7) // 8)
    for i in range(nf):
        n = w[i]
        x = v[i]
        kd = k[i]
        if n == 0:
            continue
        if kd == 0:
            u = <uint64_t>x
            if n < 64 and (x < 0 or (u >> n) != 0):
                raise OverflowError(f"field {i}: {x} does not fit uint{n}")
        elif kd == 1:
            if n < 64 and not (-(<int64_t>1 << (n - 1)) <= x < (<int64_t>1 << (n - 1))):
                raise OverflowError(f"field {i}: {x} does not fit int{n}")
            u = <uint64_t>x
        else:
            mag = (<uint64_t>0 - <uint64_t>x) if x < 0 else <uint64_t>x
            if (mag >> (n - 1)) != 0:
                raise OverflowError(f"field {i}: {x} does not fit intS{n}")
            u = ((<uint64_t>1 << (n - 1)) | mag) if x < 0 else mag
        _put(d, pos, n, u)
        pos += n
    return out
