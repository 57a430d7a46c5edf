# cython: language_level=3
"""Inline MSB-first bit readers shared by the bit-field kernels (``bits``, ``ephfields``, ``legacy``).

RTCM 10403.3 §3.3 bit order.  Declared ``cdef inline`` here so each kernel
compiles its own copy (``cimport bitread``); there is no runtime module behind
this file.  Callers check the bounds.
"""

from libc.stdint cimport int64_t, uint64_t


cdef inline uint64_t read_bits(const unsigned char* p, Py_ssize_t pos, int n) noexcept nogil:
    """n (0..64) bits from bit pos; the caller checked the bounds (n == 0 reads nothing)."""
    cdef uint64_t v
    cdef Py_ssize_t byte = pos >> 3
    if n == 0:
        return 0
    cdef int have = 8 - (pos & 7)
    v = p[byte] & ((1 << have) - 1)
    byte += 1
    if have >= n:
        return v >> (have - n)
    n -= have
    while n >= 8:
        v = (v << 8) | p[byte]
        byte += 1
        n -= 8
    if n:
        v = (v << n) | (p[byte] >> (8 - n))
    return v


cdef inline int64_t field_value(uint64_t v, int n, int kind) noexcept nogil:
    """The ``n``-bit field ``v`` as kind 0 unsigned, 1 two's complement, 2 sign-magnitude (intS)."""
    if n == 0:
        return 0
    if kind == 1:
        if n < 64 and (v >> (n - 1)) & 1:
            return <int64_t>(v | (~<uint64_t>0 << n))
        return <int64_t>v
    if kind == 2:
        if (v >> (n - 1)) & 1:
            return -<int64_t>(v & ((<uint64_t>1 << (n - 1)) - 1))
        return <int64_t>v
    return <int64_t>v
