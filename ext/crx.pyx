# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compact RINEX (Hatanaka) expansion (compiled twin of ``vngeonet/kernels/crx.py``).

``crx_to_rnx``: Compact RINEX 1.0 / 3.0 -> RINEX observation text, byte-identical
to RNXCMP ``crx2rnx``.  Same function, signature and exceptions as the Python
module, which is the specification (Y. Hatanaka, Bull. GSI 55, 2008).
"""

from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memset

from textlines cimport split_lines

import numpy as np

from vngeonet.errors import RINEXError


cdef enum:
    CRX_MAX_SATS = 300
    CRX_MAX_TYPES = 200
    CRX_FLW = 400          # 2 * CRX_MAX_TYPES
    CRX_MAXLINE = 8192


cdef struct Arc:
    int arc
    int order
    long long d[6]


cdef struct Out:
    unsigned char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef struct Crx:
    const unsigned char* b
    const long long* ls
    const long long* ll
    long long N
    int crx_ver
    int rnx_ver
    int ntype
    int ntype_sys[128]
    unsigned char line[CRX_MAXLINE]
    int line_n
    unsigned char sats[CRX_MAX_SATS * 3]
    int nsat_prev
    Arc* arcs_prev
    Arc* arcs_cur
    unsigned char* fl_prev
    unsigned char* fl_cur
    int* nt_prev
    int* nt_cur
    Arc clk
    int err
    long long err_line
    const char* msg


cdef inline bint _cfail(Crx* c, const char* msg, long long line) noexcept nogil:
    c.err = 1
    c.msg = msg
    c.err_line = line
    return False


cdef bint _grow(Out* o, Py_ssize_t extra) noexcept nogil:
    cdef Py_ssize_t cap = o.cap
    cdef unsigned char* q
    if o.n + extra <= cap:
        return True
    while cap < o.n + extra:
        cap = cap * 2 + 4096
    q = <unsigned char*>realloc(o.p, cap)
    if q == NULL:
        return False
    o.p = q
    o.cap = cap
    return True


cdef inline void _put(Out* o, const unsigned char* s, Py_ssize_t n) noexcept nogil:
    memcpy(o.p + o.n, s, n)
    o.n += n


cdef inline void _rstrip_nl(Out* o, Py_ssize_t start) noexcept nogil:
    while o.n > start and o.p[o.n - 1] == 32:
        o.n -= 1
    o.p[o.n] = 10
    o.n += 1


cdef long long _catoi(const unsigned char* s, long long n) noexcept nogil:
    cdef long long k = 0, v = 0
    while k < n and s[k] == 32:
        k += 1
    while k < n and 48 <= s[k] <= 57:
        v = v * 10 + s[k] - 48
        k += 1
    return v


cdef bint _cint(Crx* c, const unsigned char* s, long long n, long long* out, long long line) noexcept nogil:
    cdef long long k = 0, v = 0
    cdef bint neg = False
    if n > 0 and s[0] == 45:
        neg = True
        k = 1
    if k >= n or n - k > 18:
        return _cfail(c, "bad difference", line)
    while k < n:
        if not 48 <= s[k] <= 57:
            return _cfail(c, "bad difference", line)
        v = v * 10 + s[k] - 48
        k += 1
    out[0] = -v if neg else v
    return True


cdef void _crepair(unsigned char* old, int* n_old, const unsigned char* d, long long nd, int cap) noexcept nogil:
    """Apply a text difference in place; the result may grow up to ``cap``."""
    cdef long long k, m = n_old[0]
    cdef unsigned char ch
    for k in range(nd if nd < cap else cap):
        ch = d[k]
        if k < m:
            if ch != 32:
                old[k] = 32 if ch == 38 else ch
        else:
            old[k] = 32 if ch == 38 else ch
    if nd > m:
        n_old[0] = <int>(nd if nd < cap else cap)


cdef long long _rebuild_c(Arc* a, const Arc* prev) noexcept nogil:
    cdef int k
    if a.order < a.arc:
        a.order += 1
        for k in range(a.order):
            a.d[k + 1] = a.d[k] + prev.d[k]
    else:
        for k in range(a.order):
            a.d[k + 1] = a.d[k] + prev.d[k + 1]
    return a.d[a.order]


cdef bint _fmt_fixed(long long v, int ipw, int digits, unsigned char* o) noexcept nogil:
    """``v`` units of 10**-digits as text: integer part right-aligned in ``o[0:ipw]`` (no 0
    before the point), ``.`` at ``o[ipw]``, ``digits`` fraction digits; False if it does not fit."""
    cdef unsigned long long a = <unsigned long long>(-v if v < 0 else v)
    cdef unsigned long long scale = 1
    cdef int k, pos = ipw - 1
    for k in range(digits):
        scale *= 10
    cdef unsigned long long ip = a // scale, fr = a % scale
    for k in range(digits):
        o[ipw + digits - k] = 48 + fr % 10
        fr //= 10
    o[ipw] = 46
    while ip > 0:
        if pos < 0:
            return False
        o[pos] = 48 + ip % 10
        ip //= 10
        pos -= 1
    if v < 0:
        if pos < 0:
            return False
        o[pos] = 45
        pos -= 1
    while pos >= 0:
        o[pos] = 32
        pos -= 1
    return True


cdef inline bint _fmt_data_c(long long v, unsigned char* o) noexcept nogil:
    """RINEX F14.3 (crx2rnx style) of ``v`` thousandths into ``o[0:14]``."""
    return _fmt_fixed(v, 10, 3, o)


cdef inline bint _fmt_clock_c(long long v, int digits, unsigned char* o) noexcept nogil:
    """Receiver clock offset (F12.9 / F15.12 style) of ``v`` units of 10**-digits into ``o``."""
    return _fmt_fixed(v, 2, digits, o)


cdef Py_ssize_t _put_chop(Out* o, unsigned char first, const unsigned char* s, long long n) noexcept nogil:
    """Write a line (first character replaced unless ``first`` is 0) without trailing blanks; returns its length."""
    cdef Py_ssize_t start = o.n
    if n <= 0:
        return 0
    _put(o, s, n)
    if first:
        o.p[start] = first
    while o.n > start + 1 and o.p[o.n - 1] == 32:
        o.n -= 1
    return o.n - start


cdef void _ctypes(Crx* c, const unsigned char* s, long long n) noexcept nogil:
    cdef const char* a = b"# / TYPES OF OBSERV"
    cdef const char* b3 = b"SYS / # / OBS TYPES"
    cdef int k
    cdef bint m1 = n >= 79, m2 = n >= 79
    if n < 79:
        return
    for k in range(19):
        if s[60 + k] != <unsigned char>a[k]:
            m1 = False
        if s[60 + k] != <unsigned char>b3[k]:
            m2 = False
    if m1 and s[5] != 32:
        c.ntype = <int>_catoi(s, 6)
    elif m2 and s[0] != 32 and s[0] < 128:
        c.ntype_sys[s[0]] = <int>_catoi(s + 3, 3)


cdef long long _cevent(Crx* c, long long i, Out* o) noexcept nogil:
    cdef int ev = 28 if c.rnx_ver == 2 else 31
    cdef unsigned char top_from = 38 if c.rnx_ver == 2 else 62
    cdef unsigned char top_to = 32 if c.rnx_ver == 2 else 62
    cdef long long k, cnt, n
    cdef Py_ssize_t start, ln
    cdef const unsigned char* s
    while True:
        if not _grow(o, c.ll[i] + 2):
            return -2
        start = o.n
        ln = _put_chop(o, top_to, c.b + c.ls[i], c.ll[i])
        _put(o, b"\n", 1)
        if ln > 29:
            cnt = _catoi(o.p + start + ev + 1, ln - ev - 1)
            for k in range(cnt):
                i += 1
                if i >= c.N:
                    _cfail(c, "file ends inside event records", i)
                    return -1
                if not _grow(o, c.ll[i] + 2):
                    return -2
                start = o.n
                ln = _put_chop(o, 0, c.b + c.ls[i], c.ll[i])
                _put(o, b"\n", 1)
                _ctypes(c, o.p + start, ln)
        i += 1
        while i < c.N and c.crx_ver == 3 and c.ll[i] > 0 and c.b[c.ls[i]] == 38:
            i += 1
        if i >= c.N:
            return i
        s = c.b + c.ls[i]
        n = c.ll[i]
        if n < 29 or s[0] != top_from or not (48 <= s[ev] <= 57):
            _cfail(c, "the epoch after an event is not initialised", i + 1)
            return -1
        if s[ev] == 48 or s[ev] == 49:
            return i


cdef bint _cclock(Crx* c, long long li, unsigned char* txt, bint* present) noexcept nogil:
    cdef const unsigned char* s = c.b + c.ls[li]
    cdef long long n = c.ll[li]
    cdef long long v
    cdef Arc cur
    present[0] = False
    if n == 0:
        c.clk.order = -1
        return True
    cur = c.clk
    if n >= 2 and s[1] == 38:
        if not 48 <= s[0] <= 53:
            return _cfail(c, "bad clock arc order", li + 1)
        cur.arc = s[0] - 48
        cur.order = -1
        s += 2
        n -= 2
    if not _cint(c, s, n, &cur.d[0], li + 1):
        return False
    v = _rebuild_c(&cur, &c.clk)
    c.clk = cur
    if not _fmt_clock_c(v, 9 if c.rnx_ver == 2 else 12, txt):
        return _cfail(c, "clock offset out of range", li + 1)
    present[0] = True
    return True


cdef bint _cfields(Crx* c, long long li, int nt, int i0, Arc* arcs, unsigned char* fl) noexcept nogil:
    """Split one satellite line into arcs (new values) and apply its flag difference to ``fl``."""
    cdef const unsigned char* s = c.b + c.ls[li]
    cdef long long n = c.ll[li], p = 0, q
    cdef int j, flen = 2 * nt
    cdef const Arc* pa
    for j in range(nt):
        if p > n:
            arcs[j].arc = -1
            arcs[j].order = -1
            continue
        q = p
        while q < n and s[q] != 32:
            q += 1
        if q == p:
            arcs[j].arc = -1
            arcs[j].order = -1
        elif q - p >= 2 and s[p + 1] == 38:
            if not 48 <= s[p] <= 53:
                return _cfail(c, "bad arc order", li + 1)
            arcs[j].arc = s[p] - 48
            arcs[j].order = -1
            if not _cint(c, s + p + 2, q - p - 2, &arcs[j].d[0], li + 1):
                return False
        else:
            if i0 < 0:
                return _cfail(c, "new satellite without arc initialisation", li + 1)
            pa = &c.arcs_prev[i0 * CRX_MAX_TYPES + j]
            if pa.arc < 0:
                return _cfail(c, "data arc without initialisation", li + 1)
            arcs[j].arc = pa.arc
            arcs[j].order = pa.order
            if not _cint(c, s + p, q - p, &arcs[j].d[0], li + 1):
                return False
        p = q + 1
    if p <= n:
        _crepair(fl, &flen, s + p, n - p, 2 * nt)
    return True


cdef bint _csat(Crx* c, Out* o, const unsigned char* sat, int nt, int i0, Arc* arcs,
                unsigned char* fl, long long li) noexcept nogil:
    """Rebuild and print one satellite (RINEX 3: one line; RINEX 2: lines of 5 fields)."""
    cdef Arc zero
    cdef const Arc* pa
    cdef int j
    cdef Py_ssize_t start = o.n
    cdef long long v
    memset(&zero, 0, sizeof(Arc))
    if c.rnx_ver != 2:
        _put(o, sat, 3)
    for j in range(nt):
        if arcs[j].arc >= 0:
            pa = &c.arcs_prev[i0 * CRX_MAX_TYPES + j] if i0 >= 0 else &zero
            v = _rebuild_c(&arcs[j], pa)
            if not _fmt_data_c(v, o.p + o.n):
                return _cfail(c, "value out of the RINEX F14.3 range", li + 1)
            o.n += 14
            o.p[o.n] = fl[2 * j]
            o.p[o.n + 1] = fl[2 * j + 1]
            o.n += 2
        else:
            memset(o.p + o.n, 32, 16)
            if c.crx_ver == 1:
                fl[2 * j] = 32
                fl[2 * j + 1] = 32
            else:
                o.p[o.n + 14] = fl[2 * j]
                o.p[o.n + 15] = fl[2 * j + 1]
            o.n += 16
        if c.rnx_ver == 2 and (j + 1) % 5 == 0 and j + 1 < nt:
            _rstrip_nl(o, start)
            start = o.n
    _rstrip_nl(o, start)
    return True


cdef void _cepoch_line(Crx* c, Out* o, int nsat, const unsigned char* clk, bint present) noexcept nogil:
    """Print the rebuilt epoch record: RINEX 2 with continuation lines of 12 satellites."""
    cdef long long k, m, p
    if c.rnx_ver == 2:
        m = c.line_n if c.line_n < 68 else 68
        _put(o, c.line, m)
        if present:
            while m < 68:
                o.p[o.n] = 32
                o.n += 1
                m += 1
            _put(o, clk, 12)
        _put(o, b"\n", 1)
        for k in range(12, nsat, 12):
            p = 68 + 36 * (k // 12 - 1)
            memset(o.p + o.n, 32, 32)
            o.n += 32
            if p < c.line_n:
                _put(o, c.line + p, (c.line_n - p) if c.line_n - p < 36 else 36)
            _put(o, b"\n", 1)
    else:
        m = c.line_n if c.line_n < 41 else 41
        _put(o, c.line, m)
        if present:
            _put(o, clk, 15)
            _put(o, b"\n", 1)
        else:
            _rstrip_nl(o, o.n - m)


cdef long long _cepoch(Crx* c, long long i, Out* o) noexcept nogil:
    cdef const unsigned char* s = c.b + c.ls[i]
    cdef long long n = c.ll[i], lineno = i + 1, k, m
    cdef bint v2 = c.rnx_ver == 2, present
    cdef int ev = 28 if v2 else 31, off = 3 if v2 else 6, sl = 32 if v2 else 41
    cdef int nsat, nt, i0, j
    cdef unsigned char top = 32 if v2 else 62
    cdef unsigned char clk[16]
    cdef unsigned char* sat
    cdef unsigned char* tmp
    cdef Arc* atmp
    cdef int* itmp
    if c.crx_ver == 3 and n > 0 and s[0] == 38:
        return i + 1
    if n > 0 and s[0] == (38 if v2 else 62):
        if n <= ev or not (s[ev] == 48 or s[ev] == 49):
            return _cevent(c, i, o)
        c.line_n = 0
        c.nsat_prev = 0
    elif n > 0 and s[0] == 26:
        return c.N
    _crepair(c.line, &c.line_n, s, n, CRX_MAXLINE)
    if (c.line_n < 26 + off or c.line[0] != top or c.line[off + 23] != 32 or c.line[off + 24] != 32
            or not 48 <= c.line[off + 25] <= 57):
        _cfail(c, "bad epoch record", lineno)
        return -1
    while c.line_n > 1 and c.line[c.line_n - 1] == 32:
        c.line_n -= 1
    nsat = <int>_catoi(c.line + ev + 1, c.line_n - ev - 1)
    if nsat > CRX_MAX_SATS:
        _cfail(c, "more than 300 satellites", lineno)
        return -1
    if nsat > 0 and c.line_n < sl + 3 * nsat:
        _cfail(c, "satellite list shorter than announced", lineno)
        return -1
    if i + 1 + nsat >= c.N:
        _cfail(c, "file ends inside the epoch", lineno)
        return -1
    if not _cclock(c, i + 1, clk, &present):
        return -1
    if not _grow(o, 1024 + 3 * nsat + <Py_ssize_t>nsat * (17 * CRX_MAX_TYPES + 16)):
        return -2
    _cepoch_line(c, o, nsat, clk, present)
    for k in range(nsat):
        sat = c.line + sl + 3 * k
        if v2:
            nt = c.ntype
        else:
            nt = c.ntype_sys[sat[0]] if sat[0] < 128 else -1
        if nt < 0:
            _cfail(c, "satellite system not declared", lineno)
            return -1
        if nt > CRX_MAX_TYPES:
            _cfail(c, "more than 200 observation types", lineno)
            return -1
        i0 = -1
        for j in range(c.nsat_prev):
            if (c.sats[3 * j] == sat[0] and c.sats[3 * j + 1] == sat[1]
                    and c.sats[3 * j + 2] == sat[2]):
                i0 = j
                break
        tmp = c.fl_cur + k * CRX_FLW
        memset(tmp, 32, 2 * nt)
        if i0 >= 0:
            m = 2 * c.nt_prev[i0] if c.nt_prev[i0] < nt else 2 * nt
            memcpy(tmp, c.fl_prev + i0 * CRX_FLW, m)
        if not _cfields(c, i + 2 + k, nt, i0, c.arcs_cur + k * CRX_MAX_TYPES, tmp):
            return -1
        if not _csat(c, o, sat, nt, i0, c.arcs_cur + k * CRX_MAX_TYPES, tmp, i + 2 + k):
            return -1
        c.nt_cur[k] = nt
    itmp = c.nt_prev
    c.nt_prev = c.nt_cur
    c.nt_cur = itmp
    atmp = c.arcs_prev
    c.arcs_prev = c.arcs_cur
    c.arcs_cur = atmp
    tmp = c.fl_prev
    c.fl_prev = c.fl_cur
    c.fl_cur = tmp
    memcpy(c.sats, c.line + sl, 3 * nsat)
    c.nsat_prev = nsat
    return i + 2 + nsat


def crx_to_rnx(bytes data):
    """Expand Compact RINEX 1.0 / 3.0 (Hatanaka) to RINEX observation text (see the Python twin)."""
    cdef const unsigned char* b = data
    cdef long long n = len(data), nl = 0, p, N, i, k
    for p in range(n):
        if b[p] == 10:
            nl += 1
    N = nl if (n > 0 and b[n - 1] == 10) else (nl + 1 if n > 0 else 0)
    ls_a = np.empty(N + 1, np.int64)
    ll_a = np.empty(N + 1, np.int64)
    cdef long long[::1] ls = ls_a
    cdef long long[::1] ll = ll_a
    split_lines(b, 0, n, N, &ls[0], &ll[0])
    line = lambda j: data[ls[j]:ls[j] + ll[j]]
    if N < 3 or line(0)[:3] not in (b"1.0", b"3.0") or not line(0)[60:].startswith(b"CRINEX VERS"):
        raise RINEXError("Compact RINEX: not a Compact RINEX 1.0/3.0 file", line=1)
    first = _pychop(line(2))
    if not first[60:].startswith(b"RINEX VERSION / TYPE") or first[5:6] not in (b"2", b"3", b"4"):
        raise RINEXError("Compact RINEX: no RINEX VERSION / TYPE record", line=3)
    cdef Crx* c = <Crx*>malloc(sizeof(Crx))
    cdef Out o
    if c == NULL:
        raise MemoryError()
    memset(c, 0, sizeof(Crx))
    o.p = NULL
    o.n = 0
    o.cap = 0
    try:
        c.crx_ver = 1 if line(0)[:1] == b"1" else 3
        c.rnx_ver = 2 if first[5:6] == b"2" else 3
        for k in range(128):
            c.ntype_sys[k] = -1
        head = [first]
        i = 3
        while True:
            if i >= N:
                raise RINEXError("Compact RINEX: no END OF HEADER", line=i)
            ln = _pychop(line(i))
            head.append(ln)
            _ctypes(c, ln, len(ln))
            i += 1
            if ln[60:].startswith(b"END OF HEADER"):
                break
        text = b"\n".join(head) + b"\n"
        c.arcs_prev = <Arc*>malloc(sizeof(Arc) * CRX_MAX_SATS * CRX_MAX_TYPES)
        c.arcs_cur = <Arc*>malloc(sizeof(Arc) * CRX_MAX_SATS * CRX_MAX_TYPES)
        c.fl_prev = <unsigned char*>malloc(CRX_MAX_SATS * CRX_FLW)
        c.fl_cur = <unsigned char*>malloc(CRX_MAX_SATS * CRX_FLW)
        c.nt_prev = <int*>malloc(sizeof(int) * CRX_MAX_SATS)
        c.nt_cur = <int*>malloc(sizeof(int) * CRX_MAX_SATS)
        if (c.arcs_prev == NULL or c.arcs_cur == NULL or c.fl_prev == NULL or c.fl_cur == NULL
                or c.nt_prev == NULL or c.nt_cur == NULL or not _grow(&o, 4 * n + len(text) + 65536)):
            raise MemoryError()
        _put(&o, text, len(text))
        c.b = b
        c.ls = &ls[0]
        c.ll = &ll[0]
        c.N = N
        with nogil:
            while i < N:
                i = _cepoch(c, i, &o)
                if i < 0:
                    break
        if i == -2:
            raise MemoryError()
        if i < 0:
            raise RINEXError("Compact RINEX: " + c.msg.decode("ascii"), line=c.err_line)
        return (<char*>o.p)[:o.n]
    finally:
        free(c.arcs_prev)
        free(c.arcs_cur)
        free(c.fl_prev)
        free(c.fl_cur)
        free(c.nt_prev)
        free(c.nt_cur)
        free(c)
        free(o.p)


def _pychop(bytes s):
    t = s.rstrip(b" ")
    return t if t or not s else b" "
