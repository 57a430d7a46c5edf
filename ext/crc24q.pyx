# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""CRC-24Q and the RTCM 3 frame scanner (compiled twin of vngeonet/kernels/crc24q.py).

See the twin for the frame layout, the scanning rule and the references
(RTCM 10403.3 §4, Table 4-1; CRC-24Q polynomial 0x1864CFB).
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.stdlib cimport free, realloc
from libc.string cimport memchr
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.object cimport PyObject_GenericSetAttr

cnp.import_array()

POLY = 0x1864CFB
PREAMBLE = 0xD3
MAX_PAYLOAD = 1023
MAX_FRAME = MAX_PAYLOAD + 6

cdef uint32_t _TABLE[256]
# Slicing-by-8 tables of the same CRC seen as a 32-bit MSB-first CRC: register
# = CRC-24 << 8, polynomial 0x864CFB << 8.  _T8[k][b] advances byte b by k+1 bytes.
cdef uint32_t _T8[8][256]


cdef void _init_table() noexcept:
    cdef uint32_t b, c
    cdef int k
    for b in range(256):
        c = b << 16
        for k in range(8):
            c <<= 1
            if c & 0x1000000:
                c ^= 0x1864CFB
        _TABLE[b] = c & 0xFFFFFF
    for b in range(256):
        _T8[0][b] = _TABLE[b] << 8
    for k in range(1, 8):
        for b in range(256):
            c = _T8[k - 1][b]
            _T8[k][b] = (c << 8) ^ _T8[0][c >> 24]


_init_table()
TABLE = tuple(_TABLE[b] for b in range(256))


cdef inline uint32_t _crc(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef uint32_t crc = 0  # CRC-24 << 8
    cdef Py_ssize_t k = 0
    while k + 8 <= n:
        crc ^= (<uint32_t>p[k] << 24) | (<uint32_t>p[k + 1] << 16) | (<uint32_t>p[k + 2] << 8) | p[k + 3]
        crc = (_T8[7][crc >> 24] ^ _T8[6][(crc >> 16) & 0xFF] ^ _T8[5][(crc >> 8) & 0xFF]
               ^ _T8[4][crc & 0xFF] ^ _T8[3][p[k + 4]] ^ _T8[2][p[k + 5]] ^ _T8[1][p[k + 6]]
               ^ _T8[0][p[k + 7]])
        k += 8
    while k < n:
        crc = (crc << 8) ^ _T8[0][(crc >> 24) ^ p[k]]
        k += 1
    return crc >> 8


def crc24q(const unsigned char[::1] buf):
    """CRC-24Q of a bytes-like object (see the twin)."""
    if buf.shape[0] == 0:
        return 0
    return _crc(&buf[0], buf.shape[0])


cdef struct _Out:
    int64_t* offs
    int32_t* lens
    int32_t* types
    Py_ssize_t n
    Py_ssize_t cap


cdef int _push(_Out* o, int64_t off, int32_t length, int32_t mtype) noexcept nogil:
    cdef Py_ssize_t cap
    cdef void* p
    if o.n == o.cap:
        cap = o.cap * 2 if o.cap else 256
        p = realloc(o.offs, cap * sizeof(int64_t))
        if p == NULL:
            return -1
        o.offs = <int64_t*>p
        p = realloc(o.lens, cap * sizeof(int32_t))
        if p == NULL:
            return -1
        o.lens = <int32_t*>p
        p = realloc(o.types, cap * sizeof(int32_t))
        if p == NULL:
            return -1
        o.types = <int32_t*>p
        o.cap = cap
    o.offs[o.n] = off
    o.lens[o.n] = length
    o.types[o.n] = mtype
    o.n += 1
    return 0


cdef inline int32_t _msg_type(const unsigned char* p, Py_ssize_t plen) noexcept nogil:
    if plen >= 2:
        return (p[0] << 4) | (p[1] >> 4)
    if plen == 1:
        return p[0] << 4
    return 0


cdef int _scan(const unsigned char* d, Py_ssize_t n, bint final, _Out* o,
               Py_ssize_t* crc_fail, Py_ssize_t* skipped, Py_ssize_t* pos) noexcept nogil:
    cdef Py_ssize_t i = 0, plen, total
    cdef const unsigned char* hit
    while i < n:
        hit = <const unsigned char*>memchr(d + i, 0xD3, n - i)
        if hit == NULL:
            skipped[0] += n - i
            i = n
            break
        skipped[0] += (hit - d) - i
        i = hit - d
        if i + 3 > n:
            if not final:
                break
            skipped[0] += 1
            i += 1
            continue
        plen = ((d[i + 1] & 0x03) << 8) | d[i + 2]
        total = plen + 6
        if i + total > n:
            if not final:
                break
            skipped[0] += 1
            i += 1
            continue
        if _crc(d + i, total) == 0:
            if _push(o, i, <int32_t>total, _msg_type(d + i + 3, plen)) < 0:
                return -1
            i += total
        else:
            if d[i + 1] & 0xFC == 0:
                crc_fail[0] += 1
            skipped[0] += 1
            i += 1
    pos[0] = i
    return 0


def scan_frames(const unsigned char[::1] buf, bint final=False):
    """Find the whole, CRC-valid RTCM 3 frames in a buffer (see the twin).

    Returns ``(offsets int64, lengths int32, msg_types int32, crc_failures,
    skipped, consumed)``.
    """
    cdef _Out o
    cdef Py_ssize_t crc_fail = 0, skipped = 0, pos = 0, n = buf.shape[0], k
    cdef int rc = 0
    cdef const unsigned char* d = &buf[0] if n else NULL
    o.offs = NULL
    o.lens = NULL
    o.types = NULL
    o.n = 0
    o.cap = 0
    try:
        if n:
            with nogil:
                rc = _scan(d, n, final, &o, &crc_fail, &skipped, &pos)
        if rc < 0:
            raise MemoryError("scan_frames: out of memory")
        offs = np.empty(o.n, dtype=np.int64)
        lens = np.empty(o.n, dtype=np.int32)
        types = np.empty(o.n, dtype=np.int32)
        _copy(o, offs, lens, types)
    finally:
        free(o.offs)
        free(o.lens)
        free(o.types)
    return offs, lens, types, crc_fail, skipped, pos


cdef void _copy(_Out o, int64_t[::1] offs, int32_t[::1] lens, int32_t[::1] types) noexcept:
    cdef Py_ssize_t k
    for k in range(o.n):
        offs[k] = o.offs[k]
        lens[k] = o.lens[k]
        types[k] = o.types[k]


def make_frames(bytes buf, const int64_t[::1] offsets, const int32_t[::1] lengths,
                const int32_t[::1] msg_types, int64_t base, frame_cls):
    """Frame objects for the scanner's arrays (see the twin).

    Builds each instance with ``object.__new__`` and sets its four slots
    directly, as a dataclass ``__init__`` does, without the Python-level call.
    """
    cdef Py_ssize_t k, n = offsets.shape[0], o, length
    cdef const char* p = PyBytes_AS_STRING(buf)
    cdef Py_ssize_t size = len(buf)
    if lengths.shape[0] != n or msg_types.shape[0] != n:
        raise ValueError("offsets, lengths and msg_types differ in length")
    for k in range(n):
        if offsets[k] < 0 or lengths[k] < 6 or offsets[k] + lengths[k] > size:
            raise ValueError(f"frame {k} outside the buffer")
    new = object.__new__
    out = [None] * n
    for k in range(n):
        o = offsets[k]
        length = lengths[k]
        f = new(frame_cls)
        PyObject_GenericSetAttr(f, "msg_type", msg_types[k])
        PyObject_GenericSetAttr(f, "payload", PyBytes_FromStringAndSize(p + o + 3, length - 6))
        PyObject_GenericSetAttr(f, "raw", PyBytes_FromStringAndSize(p + o, length))
        PyObject_GenericSetAttr(f, "offset", base + o)
        out[k] = f
    return out
