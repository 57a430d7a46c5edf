# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RINEX observation body kernel (compiled twin of ``vngeonet/kernels/rinex_obs.py``).

``parse_body``: observation records -> row arrays.  (The Compact RINEX expansion
is the ``crx`` kernel, ``ext/crx.pyx``.)

Same function, signature, dtypes and exceptions as the Python module, which is
the specification (record layouts: RINEX 2.11 Table A3, RINEX 3.05 Table A3).
Numbers are parsed from the bytes as integer mantissa / 10**decimals, the
correctly rounded value, identical to ``float()`` of the text.
"""

from textlines cimport split_lines

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


cdef int _add_epoch(Ctx* c, Eps* E, long long li, long long col, long long w, double t,
                    long long flag) noexcept nogil:
    """Read the receiver clock offset (columns col..col+w of line li) and append the epoch; its index, or -1."""
    cdef double clk
    cdef int ep
    if not _num(c, li, col, w, &clk):
        return -1
    ep = <int>E.n
    E.t[ep] = t
    E.flag[ep] = <unsigned char>flag
    E.clk[ep] = clk
    E.n += 1
    return ep


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
    cdef double t
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
    ep = _add_epoch(c, E, i, 41, 15, t, flag)
    if ep < 0:
        return -1
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
    cdef double t
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
    ep = _add_epoch(c, E, i, 68, 12, t, flag)
    if ep < 0:
        return -1
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
        split_lines(b, pos, end, N, &ls[0], &ll[0])
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
