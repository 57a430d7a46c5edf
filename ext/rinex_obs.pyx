# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RINEX observation kernels (compiled twin of ``vngeonet/kernels/rinex_obs.py``).

``parse_body``: observation records -> row arrays; ``crx_to_rnx``: Compact RINEX
(Hatanaka) 1.0/3.0 expansion.

Same function, signature, dtypes and exceptions as the Python module, which is
the specification (record layouts: RINEX 2.11 Table A3, RINEX 3.05 Table A3).
Numbers are parsed from the bytes as integer mantissa / 10**decimals, the
correctly rounded value, identical to ``float()`` of the text.
"""

from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memset

import numpy as np

from vngeonet.errors import RINEXError

cdef double NAN_ = float("nan")
cdef double POW10[16]
cdef int _k
for _k in range(16):
    POW10[_k] = 10.0 ** _k

# error kinds (message built in Python after the nogil loop)
cdef enum:
    E_NONE = 0
    E_NUM = 1
    E_INT = 2
    E_DIGIT = 3
    E_TIME = 4
    E_SAT = 5
    E_GT = 6
    E_COUNT = 7
    E_FLAG = 8
    E_END_EPOCH = 9
    E_NO_TIME = 10
    E_FOUND = 11
    E_END_EVENT = 12
    E_END_LIST = 13


cdef struct Ctx:
    const unsigned char* b
    const long long* ls      # line starts
    const long long* ll      # line lengths (without \n and one trailing \r)
    long long nlines
    long long line0
    int major
    int err
    long long err_line
    long long err_a          # field start (absolute)
    long long err_n          # field length
    long long err_x          # extra number for the message
    long long err_y


cdef inline bint _fail(Ctx* c, int kind, long long line, long long a, long long n) noexcept nogil:
    c.err = kind
    c.err_line = line
    c.err_a = a
    c.err_n = n
    return False


cdef bint _num(Ctx* c, long long li, long long a, long long w, double* out) noexcept nogil:
    """Number in columns [a, a+w) of line li (clipped); NaN when blank."""
    cdef long long L = c.ll[li], s = c.ls[li]
    cdef long long e = a + w
    cdef long long i, m = 0
    cdef int nd = 0, ndec = 0, ndot = 0, neg = 0, state = 0
    cdef unsigned char ch
    if e > L:
        e = L
    if a >= e:
        out[0] = NAN_
        return True
    while a < e and c.b[s + a] == 32:
        a += 1
    while e > a and c.b[s + e - 1] == 32:
        e -= 1
    if a >= e:
        out[0] = NAN_
        return True
    i = a
    if c.b[s + i] == 45:
        neg = 1
        i += 1
    while i < e:
        ch = c.b[s + i]
        if 48 <= ch <= 57:
            m = m * 10 + (ch - 48)
            nd += 1
            if ndot:
                ndec += 1
        elif ch == 46 and not ndot:
            ndot = 1
        else:
            return _fail(c, E_NUM, c.line0 + li, s + a, e - a)
        i += 1
    if nd == 0 or nd > 15:
        return _fail(c, E_NUM, c.line0 + li, s + a, e - a)
    out[0] = (<double>m) / POW10[ndec] if ndec else <double>m
    if neg:
        out[0] = -out[0]
    return True


cdef bint _int(Ctx* c, long long li, long long a, long long w, int kind, long long* out) noexcept nogil:
    """Unsigned integer in [a, a+w) of line li; -1 when blank."""
    cdef long long L = c.ll[li], s = c.ls[li], e = a + w, v = 0
    if e > L:
        e = L
    while a < e and c.b[s + a] == 32:
        a += 1
    while e > a and c.b[s + e - 1] == 32:
        e -= 1
    if a >= e:
        out[0] = -1
        return True
    cdef long long i
    for i in range(a, e):
        if not 48 <= c.b[s + i] <= 57:
            c.err_x = kind
            return _fail(c, E_INT, c.line0 + li, s + a, e - a)
        v = v * 10 + c.b[s + i] - 48
    out[0] = v
    return True


cdef inline bint _digit(Ctx* c, long long li, long long col, unsigned char* out) noexcept nogil:
    cdef unsigned char ch
    if col >= c.ll[li]:
        out[0] = 0
        return True
    ch = c.b[c.ls[li] + col]
    if ch == 32:
        out[0] = 0
    elif 48 <= ch <= 57:
        out[0] = ch - 48
    else:
        return _fail(c, E_DIGIT, c.line0 + li, c.ls[li] + col, 1)
    return True


cdef long long _days(long long y, long long m, long long d) noexcept nogil:
    cdef long long yy = y - 1 if m <= 2 else y
    cdef long long era = yy // 400
    cdef long long yoe = yy - era * 400
    cdef long long mp = (m + 9) % 12
    cdef long long doy = (153 * mp + 2) // 5 + d - 1
    cdef long long doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 - 3657


cdef bint _time(Ctx* c, long long li, double* out) noexcept nogil:
    cdef long long p[5]
    cdef int k
    cdef long long cols2[5]
    cdef double sec
    cdef long long y
    if c.major == 2:
        cols2[:] = [1, 4, 7, 10, 13]
    else:
        cols2[:] = [2, 7, 10, 13, 16]
    for k in range(5):
        if not _int(c, li, cols2[k], 4 if (k == 0 and c.major != 2) else 2, 1, &p[k]):
            return False
    if not _num(c, li, 15 if c.major == 2 else 18, 11, &sec):
        return False
    if p[0] < 0 and p[1] < 0 and p[2] < 0 and p[3] < 0 and p[4] < 0 and sec != sec:
        out[0] = NAN_
        return True
    y = p[0]
    if c.major == 2 and 0 <= y < 100:
        y += 2000 if y < 80 else 1900
    if (p[0] < 0 or p[1] < 0 or p[2] < 0 or p[3] < 0 or p[4] < 0 or sec != sec
            or not (1 <= p[1] <= 12 and 1 <= p[2] <= 31 and p[3] <= 24 and p[4] <= 59)
            or not (0.0 <= sec < 61.0) or y < 1980):
        return _fail(c, E_TIME, c.line0 + li, c.ls[li], min(c.ll[li], 26 if c.major == 2 else 29))
    out[0] = <double>(_days(y, p[1], p[2]) * 86400 + p[3] * 3600 + p[4] * 60) + sec
    return True


cdef bint _sat(Ctx* c, long long li, long long a, const unsigned char[::1] lut,
               int* s_out, int* code_out) noexcept nogil:
    cdef long long L = c.ll[li], s0 = c.ls[li]
    cdef int ch = c.b[s0 + a] if a < L else 32
    cdef int s, p0, p1
    if ch == 32 and c.major == 2:
        ch = 71
    s = (<int>lut[ch]) - 1 if ch < 128 else -1
    p0 = c.b[s0 + a + 1] if a + 1 < L else -1
    p1 = c.b[s0 + a + 2] if a + 2 < L else -1
    if s < 0 or p1 < 0 or not (p0 == 32 or 48 <= p0 <= 57) or not (48 <= p1 <= 57):
        return _fail(c, E_SAT, c.line0 + li, s0 + a, 3 if a + 3 <= L else (L - a if L > a else 0))
    s_out[0] = s
    code_out[0] = ch * 100 + (0 if p0 == 32 else p0 - 48) * 10 + p1 - 48
    return True


cdef struct Rows:
    int* r_ep
    short* r_sat
    short* r_sig
    double* pr
    double* cp
    double* dop
    double* cn0
    unsigned char* lli
    unsigned char* ssi
    long long n


cdef bint _fields(Ctx* c, long long li0, int nlines, int per_line, long long col0, int s, int code,
                  int ep, const short[:, ::1] trow, const signed char[:, ::1] tkind, int nt,
                  Rows* R) noexcept nogil:
    """Fields of one satellite on lines li0..li0+nlines-1, ``per_line`` fields from ``col0``."""
    cdef double vals[256][4]
    cdef unsigned char lli_[256]
    cdef unsigned char ssi_[256]
    cdef bint have[256]
    cdef int j = 0, q, f, r, k, rmax = -1
    cdef long long a, L
    cdef double v
    cdef unsigned char d1, d2
    for q in range(nlines):
        L = c.ll[li0 + q]
        a = col0
        for f in range(per_line):
            if j >= nt:
                break
            if a < L:
                if not _num(c, li0 + q, a, 14, &v):
                    return False
                if not _digit(c, li0 + q, a + 14, &d1) or not _digit(c, li0 + q, a + 15, &d2):
                    return False
                r = trow[s, j]
                if r >= 0 and v == v:
                    while rmax < r:
                        rmax += 1
                        have[rmax] = False
                    if not have[r]:
                        have[r] = True
                        vals[r][0] = NAN_
                        vals[r][1] = NAN_
                        vals[r][2] = NAN_
                        vals[r][3] = NAN_
                        lli_[r] = 0
                        ssi_[r] = 0
                    k = tkind[s, j]
                    vals[r][k] = v
                    if k == 1:
                        lli_[r] = d1
                        ssi_[r] = d2
            a += 16
            j += 1
    for r in range(rmax + 1):
        if have[r]:
            R.r_ep[R.n] = ep
            R.r_sat[R.n] = <short>code
            R.r_sig[R.n] = <short>(s * 256 + r)
            R.pr[R.n] = vals[r][0]
            R.cp[R.n] = vals[r][1]
            R.dop[R.n] = vals[r][2]
            R.cn0[R.n] = vals[r][3]
            R.lli[R.n] = lli_[r]
            R.ssi[R.n] = ssi_[r]
            R.n += 1
    return True


cdef struct Eps:
    double* t
    unsigned char* flag
    double* clk
    long long n
    unsigned char* ev_flag
    double* ev_t
    int* ev_line
    long long* ev_start
    long long* ev_end
    long long nev


cdef inline void _event(Ctx* c, Eps* E, int flag, double t, long long li, long long a, long long b) noexcept nogil:
    E.ev_flag[E.nev] = flag
    E.ev_t[E.nev] = t
    E.ev_line[E.nev] = <int>(c.line0 + li)
    E.ev_start[E.nev] = c.ls[a]
    E.ev_end[E.nev] = c.ls[b]
    E.nev += 1


cdef bint _head(Ctx* c, long long li, long long* flag, long long* count) noexcept nogil:
    cdef long long fa = 28 if c.major == 2 else 31
    if not _int(c, li, fa, 1, 2, flag) or not _int(c, li, fa + 1, 3, 3, count):
        return False
    if count[0] < 0:
        return _fail(c, E_COUNT, c.line0 + li, 0, 0)
    if flag[0] > 6:
        c.err_x = flag[0]
        return _fail(c, E_FLAG, c.line0 + li, 0, 0)
    if flag[0] < 0:
        flag[0] = 0
    return True


cdef void _order(const int* code, int n, int* idx) noexcept nogil:
    """Stable insertion sort of 0..n-1 by ``code`` (a few dozen satellites per epoch)."""
    cdef int a, b, t
    for a in range(n):
        idx[a] = a
    for a in range(1, n):
        t = idx[a]
        b = a - 1
        while b >= 0 and code[idx[b]] > code[t]:
            idx[b + 1] = idx[b]
            b -= 1
        idx[b + 1] = t


cdef long long _v3(Ctx* c, long long i, Eps* E, Rows* R, const unsigned char[::1] lut,
                   const short[::1] ntypes, const short[:, ::1] trow,
                   const signed char[:, ::1] tkind, int* sat_s, int* sat_c, int* idx,
                   long long* blk) noexcept nogil:
    """One RINEX 3/4 epoch from line i; returns the next line, -1 on error."""
    cdef long long flag, count, k, sl, q
    cdef double t, clk
    cdef int s, code, ep
    if c.b[c.ls[i]] != 62:
        _fail(c, E_GT, c.line0 + i, 0, 0)
        return -1
    if not _head(c, i, &flag, &count) or not _time(c, i, &t):
        return -1
    if i + count >= c.nlines:
        c.err_x = count
        _fail(c, E_END_EPOCH, c.line0 + i, 0, 0)
        return -1
    if 2 <= flag <= 6:
        _event(c, E, <int>flag, t, i, i + 1, i + 1 + count)
        return i + 1 + count
    if t != t:
        _fail(c, E_NO_TIME, c.line0 + i, 0, 0)
        return -1
    if not _num(c, i, 41, 15, &clk):
        return -1
    ep = <int>E.n
    E.t[ep] = t
    E.flag[ep] = <unsigned char>flag
    E.clk[ep] = clk
    E.n += 1
    for k in range(count):
        sl = i + 1 + k
        if c.ll[sl] > 0 and c.b[c.ls[sl]] == 62:
            c.err_x = count
            c.err_y = k
            c.err_a = c.line0 + i
            c.err = E_FOUND
            c.err_line = c.line0 + sl
            return -1
        if not _sat(c, sl, 0, lut, &sat_s[k], &sat_c[k]):
            return -1
        blk[k] = sl
    _order(sat_c, <int>count, idx)
    for q in range(count):
        k = idx[q]
        s = sat_s[k]
        if not _fields(c, blk[k], 1, ntypes[s], 3, s, sat_c[k], ep, trow, tkind, ntypes[s], R):
            return -1
    return i + 1 + count


cdef long long _v2(Ctx* c, long long i, Eps* E, Rows* R, const unsigned char[::1] lut,
                   const short[::1] ntypes, const short[:, ::1] trow,
                   const signed char[:, ::1] tkind, int* sat_s, int* sat_c, int* idx,
                   long long* blk) noexcept nogil:
    """One RINEX 2 epoch from line i; returns the next line, -1 on error."""
    cdef long long flag, count, k, li, j, n_list, first, per, q, end
    cdef double t, clk
    cdef int ep
    if not _head(c, i, &flag, &count) or not _time(c, i, &t):
        return -1
    if 2 <= flag <= 5:
        if i + count >= c.nlines:
            c.err_x = count
            _fail(c, E_END_EVENT, c.line0 + i, 0, 0)
            return -1
        _event(c, E, <int>flag, t, i, i + 1, i + 1 + count)
        return i + 1 + count
    if t != t:
        _fail(c, E_NO_TIME, c.line0 + i, 0, 0)
        return -1
    n_list = (count + 11) // 12
    for k in range(count):
        li = i + k // 12
        if li >= c.nlines:
            c.err_x = count
            _fail(c, E_END_LIST, c.line0 + i, 0, 0)
            return -1
        if not _sat(c, li, 32 + 3 * (k % 12), lut, &sat_s[k], &sat_c[k]):
            return -1
    first = i + (n_list if n_list > 1 else 1)
    j = first
    for k in range(count):
        per = (ntypes[sat_s[k]] + 4) // 5
        if j + per > c.nlines:
            c.err_x = count
            _fail(c, E_END_EPOCH, c.line0 + i, 0, 0)
            return -1
        j += per
    if flag == 6:
        _event(c, E, 6, t, i, first, j)
        return j
    if not _num(c, i, 68, 12, &clk):
        return -1
    ep = <int>E.n
    E.t[ep] = t
    E.flag[ep] = <unsigned char>flag
    E.clk[ep] = clk
    E.n += 1
    end = j
    j = first
    for k in range(count):
        blk[k] = j
        j += (ntypes[sat_s[k]] + 4) // 5
    _order(sat_c, <int>count, idx)
    for q in range(count):
        k = idx[q]
        per = (ntypes[sat_s[k]] + 4) // 5
        if not _fields(c, blk[k], <int>per, 5, 0, sat_s[k], sat_c[k], ep, trow, tkind, ntypes[sat_s[k]], R):
            return -1
    return end


_WHAT = {1: "epoch time", 2: "epoch flag", 3: "satellite count"}


cdef object _message(Ctx* c, bytes buf):
    cdef int e = c.err
    field = buf[c.err_a:c.err_a + c.err_n].decode("ascii", "replace")
    if e == E_NUM:
        return f"bad number {field!r}"
    if e == E_INT:
        return f"bad {_WHAT[c.err_x]} {field!r}"
    if e == E_DIGIT:
        return f"bad LLI/SSI character {field!r}"
    if e == E_TIME:
        return f"bad epoch time {field!r}"
    if e == E_SAT:
        return f"bad or undeclared satellite {field!r}"
    if e == E_GT:
        return "expected an epoch record starting with '>'"
    if e == E_COUNT:
        return "epoch record without satellite/record count"
    if e == E_FLAG:
        return f"bad epoch flag {c.err_x}"
    if e == E_END_EPOCH:
        if c.major == 2:
            return f"file ends inside the epoch (announces {c.err_x} satellites)"
        return f"file ends inside the epoch (announces {c.err_x} records)"
    if e == E_NO_TIME:
        return "epoch record without time"
    if e == E_FOUND:
        return f"epoch at line {c.err_a} announces {c.err_x} satellites, found {c.err_y}"
    if e == E_END_EVENT:
        return f"file ends inside the event (announces {c.err_x} records)"
    return f"file ends inside the satellite list (announces {c.err_x})"


cdef void _split(const unsigned char* b, long long pos, long long end, long long N,
                 long long* ls, long long* ll) noexcept nogil:
    """Start and length (without the line end and one CR) of the N lines in b[pos:end]."""
    cdef long long i = 0, p = pos
    while i < N:
        ls[i] = p
        while p < end and b[p] != 10:
            p += 1
        ll[i] = p - ls[i]
        if ll[i] > 0 and b[p - 1] == 13:
            ll[i] -= 1
        p += 1
        i += 1
    ls[N] = p if p < end else end
    ll[N] = 0


def parse_body(bytes buf, long long pos, long long end, long long line0, int major,
               const unsigned char[::1] sys_lut, const short[::1] ntypes,
               const short[:, ::1] trow, const signed char[:, ::1] tkind):
    """Parse the observation records in ``buf[pos:end]`` (see the Python twin for details)."""
    cdef const unsigned char* b = buf
    cdef long long nl = 0, p, N, i, nxt
    if end > len(buf):
        end = len(buf)
    for p in range(pos, end):
        if b[p] == 10:
            nl += 1
    N = nl if (end > pos and b[end - 1] == 10) else (nl + 1 if end > pos else 0)
    ls_a = np.empty(N + 1, np.int64)
    ll_a = np.empty(N + 1, np.int64)
    cdef long long[::1] ls = ls_a
    cdef long long[::1] ll = ll_a
    cap_rows = (end - pos) // 16 + N + 1
    cap_ep = N + 1
    out = [np.empty(cap_ep, np.float64), np.empty(cap_ep, np.uint8), np.empty(cap_ep, np.float64),
           np.empty(cap_rows, np.int32), np.empty(cap_rows, np.int16), np.empty(cap_rows, np.int16),
           np.empty(cap_rows, np.float64), np.empty(cap_rows, np.float64),
           np.empty(cap_rows, np.float64), np.empty(cap_rows, np.float64),
           np.empty(cap_rows, np.uint8), np.empty(cap_rows, np.uint8),
           np.empty(cap_ep, np.uint8), np.empty(cap_ep, np.float64), np.empty(cap_ep, np.int32),
           np.empty(cap_ep, np.int64), np.empty(cap_ep, np.int64)]
    sat_buf = np.empty(1000, np.int32)
    sat_buf2 = np.empty(1000, np.int32)
    idx_buf = np.empty(1000, np.int32)
    blk_buf = np.empty(1000, np.int64)
    cdef int[::1] sat_s = sat_buf, sat_c = sat_buf2, idx = idx_buf
    cdef long long[::1] blk = blk_buf
    cdef double[::1] ep_t = out[0], ep_clk = out[2], pr = out[6], cp = out[7], dop = out[8]
    cdef double[::1] cn0 = out[9], ev_t = out[13]
    cdef unsigned char[::1] ep_flag = out[1], lli = out[10], ssi = out[11], ev_flag = out[12]
    cdef int[::1] r_ep = out[3], ev_line = out[14]
    cdef short[::1] r_sat = out[4], r_sig = out[5]
    cdef long long[::1] ev_start = out[15], ev_end = out[16]
    cdef Ctx c
    cdef Rows R
    cdef Eps E
    with nogil:
        _split(b, pos, end, N, &ls[0], &ll[0])
        c.b = b
        c.ls = &ls[0]
        c.ll = &ll[0]
        c.nlines = N
        c.line0 = line0
        c.major = major
        c.err = E_NONE
        R.r_ep = &r_ep[0]; R.r_sat = &r_sat[0]; R.r_sig = &r_sig[0]
        R.pr = &pr[0]; R.cp = &cp[0]; R.dop = &dop[0]; R.cn0 = &cn0[0]
        R.lli = &lli[0]; R.ssi = &ssi[0]; R.n = 0
        E.t = &ep_t[0]; E.flag = &ep_flag[0]; E.clk = &ep_clk[0]; E.n = 0
        E.ev_flag = &ev_flag[0]; E.ev_t = &ev_t[0]; E.ev_line = &ev_line[0]
        E.ev_start = &ev_start[0]; E.ev_end = &ev_end[0]; E.nev = 0
        i = 0
        while i < N:
            p = 0
            while p < ll[i] and b[ls[i] + p] == 32:
                p += 1
            if p == ll[i]:
                i += 1
                continue
            if major == 2:
                nxt = _v2(&c, i, &E, &R, sys_lut, ntypes, trow, tkind, &sat_s[0], &sat_c[0], &idx[0], &blk[0])
            else:
                nxt = _v3(&c, i, &E, &R, sys_lut, ntypes, trow, tkind, &sat_s[0], &sat_c[0], &idx[0], &blk[0])
            if nxt < 0:
                break
            i = nxt
    if c.err != E_NONE:
        raise RINEXError(_message(&c, buf), line=c.err_line)
    n, ne, nv = R.n, E.n, E.nev
    # copies: the capacity arrays are several times larger than the rows
    return tuple(a[:m].copy() for a, m in zip(out, (ne, ne, ne) + (n,) * 9 + (nv,) * 5))



# --- Compact RINEX (Hatanaka) expansion: compiled twin of kernels/rinex_obs.py crx_to_rnx ---


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


cdef bint _fmt_data_c(long long v, unsigned char* o) noexcept nogil:
    cdef unsigned long long a = <unsigned long long>(-v if v < 0 else v)
    cdef unsigned long long ip = a // 1000, fr = a % 1000
    cdef int pos = 9
    o[13] = 48 + fr % 10
    o[12] = 48 + (fr // 10) % 10
    o[11] = 48 + fr // 100
    o[10] = 46
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


cdef bint _fmt_clock_c(long long v, int digits, unsigned char* o) noexcept nogil:
    cdef unsigned long long a = <unsigned long long>(-v if v < 0 else v)
    cdef unsigned long long scale = 1
    cdef int k, pos = 1
    for k in range(digits):
        scale *= 10
    cdef unsigned long long ip = a // scale, fr = a % scale
    for k in range(digits):
        o[2 + digits - k] = 48 + fr % 10
        fr //= 10
    o[2] = 46
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
    _split(b, 0, n, N, &ls[0], &ll[0])
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
