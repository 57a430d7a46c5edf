# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RINEX observation records of many epochs in one call (compiled twin of vngeonet/kernels/rinex_fmt.py).

See the twin for the layout tables, the F14.3 rounding rule, the lock-time
rule and the references (RINEX 3.05 §5.1, §5.3, Table A3; RINEX 4.00 Table A4).
"""

from libc.math cimport fabs, floor, isinf, isnan, rint, signbit
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize, _PyBytes_Resize
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

import numpy as np

cimport numpy as cnp

cnp.import_array()

cdef double _LOW = -999999999.999
cdef double _HIGH = 9999999999.999


cdef char _D2[200]  # "00" "01" ... "99"


cdef void _init_digits() noexcept:
    cdef int k
    for k in range(100):
        _D2[2 * k] = 48 + k // 10
        _D2[2 * k + 1] = 48 + k % 10


_init_digits()


cdef inline void _f14_3(char* out, double v) noexcept nogil:
    """F14.3 of a finite value into out[0:14] (already blank)."""
    cdef double a = fabs(v)
    cdef double ip = floor(a)
    cdef double fr = rint((a - ip) * 1000.0)
    cdef uint64_t i, q
    cdef int f, pos, d
    if fr >= 1000.0:
        ip += 1.0
        fr -= 1000.0
    i = <uint64_t>ip
    f = <int>fr
    out[11] = 48 + f // 100
    out[12] = _D2[2 * (f % 100)]
    out[13] = _D2[2 * (f % 100) + 1]
    out[10] = 46
    pos = 9  # last integer digit
    while i >= 100:
        q = i // 100
        d = <int>(i - q * 100)
        out[pos - 1] = _D2[2 * d]
        out[pos] = _D2[2 * d + 1]
        pos -= 2
        i = q
    if i >= 10:
        out[pos - 1] = _D2[2 * i]
        out[pos] = _D2[2 * i + 1]
        pos -= 2
    else:
        out[pos] = 48 + <int>i
        pos -= 1
    if signbit(v) and pos >= 0:
        out[pos] = 45


cdef struct Buf:
    PyObject* obj  # a bytes object used as the output buffer (owned reference)
    char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef int _reserve(Buf* b, Py_ssize_t extra) except -1:
    """Make room for ``extra`` more bytes (the bytes object grows in place when it can)."""
    cdef Py_ssize_t cap
    cdef object o
    if b.n + extra <= b.cap:
        return 0
    cap = max(2 * b.cap, b.n + extra + 65536)
    if b.obj == NULL:
        o = PyBytes_FromStringAndSize(NULL, cap)
        Py_INCREF(o)
        b.obj = <PyObject*>o
    else:
        _PyBytes_Resize(&b.obj, cap)
    b.p, b.cap = PyBytes_AS_STRING(<object>b.obj), cap
    return 0


cdef inline void _sort_rows(int64_t* key, int64_t* idx, Py_ssize_t m) noexcept nogil:
    """Stable insertion sort of (key, idx) by key (rows usually come sorted: linear then)."""
    cdef Py_ssize_t a, b
    cdef int64_t k, r
    for a in range(1, m):
        k, r = key[a], idx[a]
        b = a - 1
        while b >= 0 and key[b] > k:
            key[b + 1], idx[b + 1] = key[b], idx[b]
            b -= 1
        key[b + 1], idx[b + 1] = k, r


cdef void _fill_line(char* cells, Py_ssize_t r0, Py_ssize_t r1, const int64_t* idx, int slot,
                     const uint32_t[:, ::1] sig, const double** vals, const uint8_t[::1] lli,
                     const int16_t[:, :, ::1] col_table) noexcept nogil:
    """Fields of one satellite line from rows idx[r0:r1]."""
    cdef Py_ssize_t a, r
    cdef int kind, col, f
    cdef uint32_t g0, g1
    cdef double v
    cdef char* c
    for a in range(r0, r1):
        r = idx[a]
        g0, g1 = sig[r, 0], sig[r, 1]
        if g0 >= 128 or g1 >= 128:
            continue
        for kind in range(4):
            col = col_table[slot, kind, g0 * 128 + g1]
            if col < 0:
                continue
            v = vals[kind][r]
            if not (v > _LOW and v < _HIGH):
                continue
            c = cells + 16 * col
            memset(c, 32, 14)
            _f14_3(c, v)
            if kind == 1:
                f = lli[r]
                c[14] = 48 + f if 0 < f < 10 else 32


cdef Py_ssize_t _count_text(char* out, Py_ssize_t n) noexcept:
    """``"%3d\\n" % n`` into out; returns its length."""
    cdef char tmp[24]
    cdef Py_ssize_t k = 0, j = 0
    if n == 0:
        tmp[0] = 48
        k = 1
    while n > 0:
        tmp[k] = 48 + n % 10
        n //= 10
        k += 1
    while k + j < 3:
        out[j] = 32
        j += 1
    while k > 0:
        k -= 1
        out[j] = tmp[k]
        j += 1
    out[j] = 10
    return j + 1


def format_obs_records(list heads, const int64_t[::1] ep_row0, const uint32_t[:, ::1] sat,
                       const uint32_t[:, ::1] sig, const double[::1] pr_m, const double[::1] cp_cyc,
                       const double[::1] dop_hz, const double[::1] cn0_dbhz, const uint8_t[::1] lli,
                       const int16_t[::1] sys_slot, const int16_t[::1] sys_rank, const int32_t[::1] ncol,
                       const int16_t[:, :, ::1] col_table):
    """See vngeonet/kernels/rinex_fmt.py."""
    cdef Py_ssize_t n_ep = ep_row0.shape[0] - 1
    cdef Py_ssize_t n = ep_row0[n_ep] if n_ep >= 0 else 0
    cdef Py_ssize_t e, r, r0, r1, m, a, b, nl, width, cut, k, maxrows = 0
    cdef int64_t* key
    cdef int64_t* idx
    cdef int slot
    cdef uint32_t s0, s1, s2
    cdef const double* vals[4]
    cdef Buf buf
    cdef char* line
    cdef bytes head
    cdef char cnt[24]
    if n_ep < 0 or sat.shape[0] < n or sig.shape[0] < n or pr_m.shape[0] < n or cp_cyc.shape[0] < n \
            or dop_hz.shape[0] < n or cn0_dbhz.shape[0] < n or lli.shape[0] < n or len(heads) < n_ep:
        raise ValueError("format_obs_records: arrays shorter than ep_row0 says")
    if sys_slot.shape[0] < 128 or sys_rank.shape[0] < 128 or col_table.shape[2] < 16384 \
            or col_table.shape[1] < 4 or col_table.shape[0] < ncol.shape[0]:
        raise ValueError("format_obs_records: layout tables of the wrong shape")
    for e in range(n_ep):
        if ep_row0[e + 1] < ep_row0[e] or ep_row0[e] < 0:
            raise ValueError("format_obs_records: ep_row0 must not decrease")
        maxrows = max(maxrows, ep_row0[e + 1] - ep_row0[e])
    vals[0] = vals[1] = vals[2] = vals[3] = NULL
    if n:
        vals[0], vals[1], vals[2], vals[3] = &pr_m[0], &cp_cyc[0], &dop_hz[0], &cn0_dbhz[0]
    key = <int64_t*>malloc((maxrows + 1) * sizeof(int64_t))
    idx = <int64_t*>malloc((maxrows + 1) * sizeof(int64_t))
    buf.obj, buf.p, buf.n, buf.cap = NULL, NULL, 0, 0
    try:
        if key == NULL or idx == NULL:
            raise MemoryError()
        _reserve(&buf, 70 * n + 48 * n_ep)  # 4 fields of 16 per row + line ends, epoch lines: rarely grown
        for e in range(n_ep):
            r0, r1 = ep_row0[e], ep_row0[e + 1]
            m = 0
            for r in range(r0, r1):
                s0, s1, s2 = sat[r, 0], sat[r, 1], sat[r, 2]
                if s0 >= 128 or s1 >= 128 or s2 >= 128 or sys_slot[s0] < 0 or sys_slot[s0] >= ncol.shape[0]:
                    continue
                key[m] = (<int64_t>sys_rank[s0] << 21) | (s0 << 14) | (s1 << 7) | s2
                idx[m] = r
                m += 1
            _sort_rows(key, idx, m)
            nl = 0
            for a in range(m):
                if a == 0 or key[a] != key[a - 1]:
                    nl += 1
            head = heads[e]
            k = PyBytes_GET_SIZE(head)
            cut = _count_text(cnt, nl)
            _reserve(&buf, k + cut)
            memcpy(buf.p + buf.n, PyBytes_AS_STRING(head), k)
            memcpy(buf.p + buf.n + k, cnt, cut)
            buf.n += k + cut
            a = 0
            while a < m:
                b = a + 1
                while b < m and key[b] == key[a]:
                    b += 1
                r = idx[a]
                slot = sys_slot[sat[r, 0]]
                width = ncol[slot]
                _reserve(&buf, 4 + 16 * width)
                line = buf.p + buf.n
                line[0], line[1], line[2] = <char>sat[r, 0], <char>sat[r, 1], <char>sat[r, 2]
                memset(line + 3, 32, 16 * width)
                _fill_line(line + 3, a, b, idx, slot, sig, vals, lli, col_table)
                cut = 3 + 16 * width
                while cut > 3 and line[cut - 1] == 32:
                    cut -= 1
                line[cut] = 10
                buf.n += cut + 1
                a = b
        if buf.n == 0:
            return b""
        _PyBytes_Resize(&buf.obj, buf.n)
        out = <object>buf.obj
        return out
    finally:
        free(key)
        free(idx)
        Py_XDECREF(buf.obj)


cdef struct Slot:
    uint64_t key
    double t
    double lock
    int used


cdef Slot* _grow(Slot* old, Py_ssize_t old_cap, Py_ssize_t cap) noexcept nogil:
    """A table of ``cap`` slots (power of two) holding the entries of ``old``; NULL when out of memory."""
    cdef Slot* new = <Slot*>calloc(cap, sizeof(Slot))
    cdef Py_ssize_t i, h
    if new == NULL:
        return NULL
    for i in range(old_cap):
        if old[i].used:
            h = <Py_ssize_t>((old[i].key * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1)
            while new[h].used:
                h = (h + 1) & (cap - 1)
            new[h] = old[i]
    return new


def lock_slips(const int64_t[::1] ep_row0, const double[::1] t_ep, const uint32_t[:, ::1] sat,
               const uint32_t[:, ::1] sig, const double[::1] lock_s):
    """See vngeonet/kernels/rinex_fmt.py."""
    cdef Py_ssize_t n_ep = ep_row0.shape[0] - 1
    cdef Py_ssize_t n = ep_row0[n_ep] if n_ep >= 0 else 0
    cdef Py_ssize_t cap = 1024, count = 0, e, r, h
    cdef Slot* tab
    cdef Slot* bigger
    cdef uint64_t key
    cdef double t, lk, dt
    if n_ep < 0 or t_ep.shape[0] < n_ep or sat.shape[0] < n or sig.shape[0] < n or lock_s.shape[0] < n:
        raise ValueError("lock_slips: arrays shorter than ep_row0 says")
    for e in range(n_ep):
        if ep_row0[e + 1] < ep_row0[e] or ep_row0[e] < 0:
            raise ValueError("lock_slips: ep_row0 must not decrease")
    out = np.zeros(n, dtype=np.uint8)
    cdef uint8_t[::1] flag = out
    tab = <Slot*>calloc(cap, sizeof(Slot))
    if tab == NULL:
        raise MemoryError()
    try:
        for e in range(n_ep):
            t = t_ep[e]
            for r in range(ep_row0[e], ep_row0[e + 1]):
                key = (((<uint64_t>sat[r, 0] << 14) | (<uint64_t>sat[r, 1] << 7) | sat[r, 2]) << 14) \
                    | (((<uint64_t>sig[r, 0] << 7) | sig[r, 1]) & 0x3FFF)
                h = <Py_ssize_t>((key * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1)
                while tab[h].used and tab[h].key != key:
                    h = (h + 1) & (cap - 1)
                lk = lock_s[r]
                if tab[h].used:
                    dt = t - tab[h].t
                    if not isnan(lk) and not isinf(lk) and (lk < dt - 1e-6 or (lk < tab[h].lock - 1e-6 and lk < dt + tab[h].lock)):
                        flag[r] = 1
                else:
                    tab[h].used = 1
                    tab[h].key = key
                    count += 1
                tab[h].t = t
                tab[h].lock = lk
                if 2 * count > cap:
                    bigger = _grow(tab, cap, 4 * cap)
                    if bigger == NULL:
                        raise MemoryError()
                    free(tab)
                    tab, cap = bigger, 4 * cap
        return out
    finally:
        free(tab)


def join_arrays(list arrays, dtype, Py_ssize_t n):
    """See vngeonet/kernels/rinex_fmt.py."""
    cdef cnp.dtype dt = np.dtype(dtype)
    cdef Py_ssize_t total = n * dt.itemsize, pos = 0, nb
    cdef cnp.ndarray arr
    cdef char* dst
    cdef int type_num = dt.type_num
    cdef bint native = dt.isnative and dt.kind in "biufcU"
    out = np.empty(n, dtype=dt)
    dst = <char*>cnp.PyArray_DATA(out)
    for a in arrays:
        if not cnp.PyArray_Check(a):
            raise ValueError("join_arrays: not an ndarray")
        arr = <cnp.ndarray>a
        if cnp.PyArray_SIZE(arr) == 0:
            continue
        if cnp.PyArray_NDIM(arr) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(arr) or \
                (<void*>cnp.PyArray_DESCR(arr) != <void*>dt and not (
                    cnp.PyArray_TYPE(arr) == type_num and cnp.PyArray_ITEMSIZE(arr) == dt.itemsize
                    and native and cnp.PyArray_ISNOTSWAPPED(arr)) and arr.dtype != dt):
            raise ValueError("join_arrays: every array must be 1-D, contiguous, of the dtype asked for")
        nb = cnp.PyArray_NBYTES(arr)
        if pos + nb > total:
            raise ValueError("join_arrays: more elements than n")
        memcpy(dst + pos, cnp.PyArray_DATA(arr), nb)
        pos += nb
    if pos != total:
        raise ValueError("join_arrays: fewer elements than n")
    return out
