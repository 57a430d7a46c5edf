# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""MSM cell unpacking and packing (RTCM 10403.3 §3.5.16); compiled twin of vngeonet/kernels/msm.py."""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, int8_t, int32_t, uint32_t, int64_t, uint64_t
from libc.math cimport NAN, rint, fabs, isfinite, isnan
from libc.string cimport memcpy, memset
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_AS_STRING, PyBytes_GET_SIZE

from ndout cimport empty_array, empty_like_dtype

cnp.import_array()

cdef double C_MPS = 299792458.0
cdef double RANGE_MS_M = 299792458.0 * 1e-3
cdef int SAT_BITS[8]
cdef int CELL_BITS[8]
SAT_BITS[:] = [0, 10, 10, 10, 18, 36, 18, 36]
CELL_BITS[:] = [0, 15, 27, 42, 48, 63, 65, 80]
# Per level: number of cell fields, then (column, width, signed) triples.
cdef int CF_N[8]
cdef int CF[8][6][3]
CF_N[:] = [0, 1, 3, 4, 5, 6, 5, 6]
CF[1][0][:] = [0, 15, 1]
CF[2][0][:] = [1, 22, 1]; CF[2][1][:] = [2, 4, 0]; CF[2][2][:] = [3, 1, 0]
CF[3][0][:] = [0, 15, 1]; CF[3][1][:] = [1, 22, 1]; CF[3][2][:] = [2, 4, 0]; CF[3][3][:] = [3, 1, 0]
CF[4][0][:] = [0, 15, 1]; CF[4][1][:] = [1, 22, 1]; CF[4][2][:] = [2, 4, 0]; CF[4][3][:] = [3, 1, 0]
CF[4][4][:] = [4, 6, 0]
CF[5][0][:] = [0, 15, 1]; CF[5][1][:] = [1, 22, 1]; CF[5][2][:] = [2, 4, 0]; CF[5][3][:] = [3, 1, 0]
CF[5][4][:] = [4, 6, 0]; CF[5][5][:] = [5, 15, 1]
CF[6][0][:] = [0, 20, 1]; CF[6][1][:] = [1, 24, 1]; CF[6][2][:] = [2, 10, 0]; CF[6][3][:] = [3, 1, 0]
CF[6][4][:] = [4, 10, 0]
CF[7][0][:] = [0, 20, 1]; CF[7][1][:] = [1, 24, 1]; CF[7][2][:] = [2, 10, 0]; CF[7][3][:] = [3, 1, 0]
CF[7][4][:] = [4, 10, 0]; CF[7][5][:] = [5, 15, 1]

cdef double LOCK402[16]
cdef double LOCK407[1024]


cdef void _init_tables():
    cdef int i
    cdef int64_t v = 0, step
    LOCK402[0] = 0.0
    for i in range(1, 16):
        LOCK402[i] = (<double>(1 << (i + 4))) * 1e-3
    for i in range(1024):
        LOCK407[i] = NAN
    for i in range(705):
        LOCK407[i] = v * 1e-3
        step = 1 if i < 64 else (<int64_t>1) << (i // 32 - 1)
        v += step


_init_tables()
LOCK_DF402_S = np.array([LOCK402[i] for i in range(16)])
LOCK_DF407_S = np.array([LOCK407[i] for i in range(1024)])


cdef inline uint64_t getu(const uint8_t* b, Py_ssize_t pos, int n) noexcept nogil:
    """n <= 57 bits from bit pos (caller checked bounds)."""
    cdef uint64_t v = 0
    cdef Py_ssize_t i = pos >> 3
    cdef Py_ssize_t end = pos + n
    cdef Py_ssize_t last = (end + 7) >> 3
    if n == 0:
        return 0
    while i < last:
        v = (v << 8) | b[i]
        i += 1
    return (v >> ((last << 3) - end)) & (((<uint64_t>1) << n) - 1)


cdef inline int64_t gets(const uint8_t* b, Py_ssize_t pos, int n) noexcept nogil:
    cdef uint64_t v = getu(b, pos, n)
    if (v >> (n - 1)) & 1:
        return <int64_t>v - ((<int64_t>1) << n)
    return <int64_t>v


cdef inline int popcount64(uint64_t v) noexcept nogil:
    cdef int c = 0
    while v:
        v &= v - 1
        c += 1
    return c


cdef inline const char* _table(cnp.ndarray a, Py_ssize_t n, int typenum, str what) except NULL:
    """Data pointer of a C-contiguous 1-D table with at least n entries of the given type."""
    if cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_IS_C_CONTIGUOUS(a) or a.shape[0] < n:
        raise ValueError(f"{what} must be a contiguous array of at least {n} entries of the documented dtype")
    return <const char*>cnp.PyArray_DATA(a)


def unpack_msm(buf, int msm, cnp.ndarray f0_hz, cnp.ndarray df_hz, cnp.ndarray glo_chan,
               cnp.ndarray sat_names, cnp.ndarray sig_names):
    """See vngeonet.kernels.msm.unpack_msm (the specification)."""
    cdef const uint8_t[::1] view
    cdef const uint8_t* b
    cdef Py_ssize_t nbytes
    if PyBytes_CheckExact(buf):
        b = <const uint8_t*>PyBytes_AS_STRING(buf)
        nbytes = PyBytes_GET_SIZE(buf)
    else:
        view = buf
        nbytes = view.shape[0]
        b = &view[0] if nbytes else <const uint8_t*>b""
    cdef Py_ssize_t nbits = nbytes * 8
    cdef Py_ssize_t pos, need, x
    cdef int i, j, c, f, col, n, nsat, nsig, ncell, sgn
    cdef uint64_t sat_mask, sig_mask
    cdef int prn_l[64]
    cdef int sig_l[32]
    cdef int cell_sat[2048]
    if msm < 1 or msm > 7:
        raise ValueError(f"MSM level must be 1..7, got {msm}")
    cdef const double* f0 = <const double*>_table(f0_hz, 33, cnp.NPY_FLOAT64, "f0_hz")
    cdef const double* df = <const double*>_table(df_hz, 33, cnp.NPY_FLOAT64, "df_hz")
    cdef int8_t* glo = <int8_t*>_table(glo_chan, 65, cnp.NPY_INT8, "glo_chan")
    _table(sat_names, 65, cnp.NPY_UNICODE, "sat_names")
    _table(sig_names, 33, cnp.NPY_UNICODE, "sig_names")
    if nbits < 169:
        raise ValueError(f"MSM payload too short: header needs 169 bits, have {nbits}")
    sat_mask = (getu(b, 73, 32) << 32) | getu(b, 105, 32)
    sig_mask = getu(b, 137, 32)
    nsat = 0
    nsig = 0
    for i in range(64):
        if (sat_mask >> (63 - i)) & 1:
            prn_l[nsat] = i + 1
            nsat += 1
    for i in range(32):
        if (sig_mask >> (31 - i)) & 1:
            sig_l[nsig] = i + 1
            nsig += 1
    x = nsat * nsig
    if 169 + x > nbits:
        raise ValueError(f"MSM payload too short: cell mask needs {169 + x} bits, have {nbits}")
    ncell = 0
    for i in range(x):
        if getu(b, 169 + i, 1):
            if ncell < 2048:
                cell_sat[ncell] = i
            ncell += 1
    need = 169 + x + nsat * SAT_BITS[msm] + ncell * CELL_BITS[msm]
    if need > nbits:
        raise ValueError(f"MSM payload too short: data needs {need} bits, have {nbits}")
    if x <= 57:
        cell_mask = getu(b, 169, <int>x)
    else:
        cell_mask = (int.from_bytes(bytes(buf), "big") >> (nbits - 169 - x)) & ((<object>1 << x) - 1)
    head = (<int>getu(b, 0, 12), <int>getu(b, 12, 12), <int>getu(b, 24, 30), <int>getu(b, 54, 1),
            <int>getu(b, 55, 3), <int>getu(b, 58, 7), <int>getu(b, 65, 2), <int>getu(b, 67, 2),
            <int>getu(b, 69, 1), <int>getu(b, 70, 3), sat_mask, sig_mask, cell_mask)

    cdef cnp.npy_intp d1[1]
    cdef cnp.npy_intp d2[2]
    d1[0] = nsat
    prn = empty_array(1, d1, cnp.NPY_UINT8, 0)
    d2[0] = nsat; d2[1] = 4
    sat_raw = empty_array(2, d2, cnp.NPY_INT32, 1)
    d1[0] = ncell
    half = empty_array(1, d1, cnp.NPY_BOOL, 1)
    d2[0] = ncell; d2[1] = 6
    cell_raw = empty_array(2, d2, cnp.NPY_INT32, 1)
    d2[0] = 5; d2[1] = ncell
    obs = empty_array(2, d2, cnp.NPY_FLOAT64, 0)
    sat = empty_like_dtype(sat_names, 1, d1)
    sig = empty_like_dtype(sig_names, 1, d1)
    cdef uint8_t* prn_v = <uint8_t*>cnp.PyArray_DATA(prn)
    cdef int32_t* sr = <int32_t*>cnp.PyArray_DATA(sat_raw)
    cdef uint8_t cp_buf[2048]
    cdef uint8_t cs_buf[2048]
    cdef uint8_t* cp_v = cp_buf
    cdef uint8_t* cs_v = cs_buf
    cdef int32_t* cr = <int32_t*>cnp.PyArray_DATA(cell_raw)
    cdef double* ob = <double*>cnp.PyArray_DATA(obs)
    cdef uint8_t* hv = <uint8_t*>cnp.PyArray_DATA(half)
    cdef char* sat_v = <char*>cnp.PyArray_DATA(sat)
    cdef char* sig_v = <char*>cnp.PyArray_DATA(sig)
    cdef const char* sat_t = <const char*>cnp.PyArray_DATA(sat_names)
    cdef const char* sig_t = <const char*>cnp.PyArray_DATA(sig_names)
    cdef Py_ssize_t sat_w = sat_names.itemsize, sig_w = sig_names.itemsize
    cdef int fdma = 0
    for i in range(1, 33):
        if df[i] != 0.0:
            fdma = 1
    if ncell > 2048:
        raise ValueError("MSM with more than 2048 cells")
    with nogil:
        for c in range(ncell):
            i = cell_sat[c]
            cell_sat[c] = i // nsig
            cp_v[c] = <uint8_t>prn_l[i // nsig]
            cs_v[c] = <uint8_t>sig_l[i % nsig]
            memcpy(sat_v + c * sat_w, sat_t + cp_v[c] * sat_w, sat_w)
            memcpy(sig_v + c * sig_w, sig_t + cs_v[c] * sig_w, sig_w)
        pos = 169 + x
        for i in range(nsat):
            prn_v[i] = <uint8_t>prn_l[i]
        if msm >= 4:
            for i in range(nsat):
                sr[4 * i] = <int32_t>getu(b, pos, 8)
                pos += 8
        if msm == 5 or msm == 7:
            for i in range(nsat):
                sr[4 * i + 1] = <int32_t>getu(b, pos, 4)
                pos += 4
        for i in range(nsat):
            sr[4 * i + 2] = <int32_t>getu(b, pos, 10)
            pos += 10
        if msm == 5 or msm == 7:
            for i in range(nsat):
                sr[4 * i + 3] = <int32_t>gets(b, pos, 14)
                pos += 14
        for f in range(CF_N[msm]):
            col = CF[msm][f][0]
            n = CF[msm][f][1]
            sgn = CF[msm][f][2]
            for j in range(ncell):
                if sgn:
                    cr[6 * j + col] = <int32_t>gets(b, pos, n)
                else:
                    cr[6 * j + col] = <int32_t>getu(b, pos, n)
                pos += n
        if fdma and (msm == 5 or msm == 7):
            for i in range(nsat):
                if sr[4 * i + 1] <= 13:
                    glo[prn_l[i]] = <int8_t>(sr[4 * i + 1] - 7)
        _observables(msm, sr, cr, cell_sat, cp_v, cs_v, f0, df, glo, ob, hv, ncell)
    cdef Py_ssize_t tail_nbits = nbits - pos
    if tail_nbits <= 57:
        tail = getu(b, pos, <int>tail_nbits)
    else:
        tail = int.from_bytes(bytes(buf), "big") & ((<object>1 << tail_nbits) - 1)
    return head, prn, sat_raw, cell_raw, obs, half, sat, sig, tail, tail_nbits


cdef void _observables(int msm, const int32_t* sr, const int32_t* cr, const int* cell_sat,
                       const uint8_t* cprn, const uint8_t* csig, const double* f0_hz,
                       const double* df_hz, const int8_t* glo_chan, double* ob,
                       uint8_t* hv, int ncell) noexcept nogil:
    cdef double nan = NAN
    cdef int c, s, sig, k, ext = msm >= 6
    cdef int32_t rough_ms, mod, rate, fpr, fcp, lock, cnr, frate
    cdef double wl, rough
    cdef int valid
    cdef int32_t pr_bad = -(1 << 19) if ext else -(1 << 14)
    cdef int32_t cp_bad = -(1 << 23) if ext else -(1 << 21)
    cdef double pr_sc = 1.862645149230957e-09 if ext else 5.960464477539063e-08  # 2^-29 / 2^-24
    cdef double cp_sc = 4.656612873077393e-10 if ext else 1.862645149230957e-09  # 2^-31 / 2^-29
    for c in range(ncell):
        s = cell_sat[c]
        rough_ms = sr[4 * s]
        mod = sr[4 * s + 2]
        rate = sr[4 * s + 3]
        fpr = cr[6 * c]
        fcp = cr[6 * c + 1]
        lock = cr[6 * c + 2]
        cnr = cr[6 * c + 4]
        frate = cr[6 * c + 5]
        sig = csig[c]
        k = glo_chan[cprn[c]]
        if df_hz[sig] != 0.0:
            wl = nan if k == -128 else C_MPS / (f0_hz[sig] + k * df_hz[sig])
        else:
            wl = C_MPS / f0_hz[sig]
        valid = msm < 4 or rough_ms != 255
        rough = (rough_ms if msm >= 4 else 0) + mod / 1024.0
        ob[0 * ncell + c] = nan
        ob[1 * ncell + c] = nan
        ob[2 * ncell + c] = nan
        ob[3 * ncell + c] = nan
        ob[4 * ncell + c] = nan
        if msm != 2 and valid and fpr != pr_bad:
            ob[0 * ncell + c] = (rough + fpr * pr_sc) * RANGE_MS_M
        if msm >= 2 and valid and fcp != cp_bad:
            ob[1 * ncell + c] = (rough + fcp * cp_sc) * RANGE_MS_M / wl
        if (msm == 5 or msm == 7) and rate != -8192 and frate != -(1 << 14):
            ob[2 * ncell + c] = -(rate + frate * 1e-4) / wl
        if msm >= 4 and cnr != 0:
            ob[3 * ncell + c] = cnr * (0.0625 if ext else 1.0)
        if msm >= 2:
            ob[4 * ncell + c] = LOCK407[lock] if ext else LOCK402[lock & 15]
            hv[c] = cr[6 * c + 3] != 0


cdef inline void putu(uint8_t* b, Py_ssize_t pos, int n, uint64_t v) noexcept nogil:
    """Write the low n bits of v at bit pos (buffer pre-zeroed)."""
    cdef int i
    for i in range(n):
        if (v >> (n - 1 - i)) & 1:
            b[(pos + i) >> 3] |= <uint8_t>(0x80 >> ((pos + i) & 7))


def pack_msm(int msm, tuple head, const int32_t[:, ::1] sat_raw, const int32_t[:, ::1] cell_raw,
             tail, Py_ssize_t tail_nbits):
    """See vngeonet.kernels.msm.pack_msm (the specification)."""
    cdef int i, j, f, col, n, sgn, nsat, nsig, ncell
    cdef int64_t v, lo, hi
    cdef Py_ssize_t pos, total, x
    cdef uint64_t sat_mask, sig_mask
    if msm < 1 or msm > 7:
        raise ValueError(f"MSM level must be 1..7, got {msm}")
    sat_mask = head[10]
    sig_mask = head[11]
    cell_mask = head[12]
    nsat = popcount64(sat_mask)
    nsig = popcount64(sig_mask)
    x = nsat * nsig
    ncell = bin(cell_mask).count("1")
    if sat_raw.shape[0] != nsat or cell_raw.shape[0] != ncell:
        raise ValueError("MSM arrays do not match the satellite/cell masks")
    if cell_mask >> x:
        raise ValueError("MSM cell mask longer than nsat*nsig")
    widths = (12, 12, 30, 1, 3, 7, 2, 2, 1, 3)
    for i in range(10):
        if not 0 <= head[i] < (1 << widths[i]):
            raise OverflowError(f"MSM field value {head[i]} does not fit {widths[i]} bits")
    total = 169 + x + nsat * SAT_BITS[msm] + ncell * CELL_BITS[msm]
    if tail_nbits < 0:
        tail = 0
        tail_nbits = (8 - total % 8) % 8
    if (total + tail_nbits) % 8:
        raise ValueError("MSM payload is not a whole number of bytes")
    out = bytearray((total + tail_nbits) // 8)
    cdef uint8_t[::1] ov = out
    cdef uint8_t* b = &ov[0]
    pos = 0
    for i in range(10):
        putu(b, pos, widths[i], head[i])
        pos += widths[i]
    putu(b, pos, 32, sat_mask >> 32)
    putu(b, pos + 32, 32, sat_mask & 0xFFFFFFFF)
    putu(b, pos + 64, 32, sig_mask)
    pos += 96
    for i in range(x):
        putu(b, pos + i, 1, (cell_mask >> (x - 1 - i)) & 1)
    pos += x
    cdef int err = 0
    with nogil:
        if msm >= 4:
            for i in range(nsat):
                err |= _put_checked(b, &pos, 8, 0, sat_raw[i, 0])
        if msm == 5 or msm == 7:
            for i in range(nsat):
                err |= _put_checked(b, &pos, 4, 0, sat_raw[i, 1])
        for i in range(nsat):
            err |= _put_checked(b, &pos, 10, 0, sat_raw[i, 2])
        if msm == 5 or msm == 7:
            for i in range(nsat):
                err |= _put_checked(b, &pos, 14, 1, sat_raw[i, 3])
        for f in range(CF_N[msm]):
            col = CF[msm][f][0]
            n = CF[msm][f][1]
            sgn = CF[msm][f][2]
            for j in range(ncell):
                err |= _put_checked(b, &pos, n, sgn, cell_raw[j, col])
    if err:
        raise OverflowError("MSM field value does not fit its width")
    if tail_nbits:
        t = int(tail) & ((<object>1 << tail_nbits) - 1)
        for i in range(tail_nbits):
            putu(b, pos + i, 1, (t >> (tail_nbits - 1 - i)) & 1)
    return bytes(out)


cdef inline int _put_checked(uint8_t* b, Py_ssize_t* pos, int n, int sgn, int64_t v) noexcept nogil:
    cdef int64_t lo = -((<int64_t>1) << (n - 1)) if sgn else 0
    cdef int64_t hi = ((<int64_t>1) << (n - 1)) if sgn else ((<int64_t>1) << n)
    if v < lo or v >= hi:
        return 1
    putu(b, pos[0], n, (<uint64_t>v) & (((<uint64_t>1) << n) - 1))
    pos[0] += n
    return 0


# ---------------------------------------------------------------- encoding from observations

cdef inline int64_t _fine_c(double delta, double scale, int bits) noexcept nogil:
    cdef int64_t lim = ((<int64_t>1) << (bits - 1)) - 1
    cdef double v = rint(delta / scale)
    if not isfinite(v) or fabs(v) > lim:
        return -(lim + 1)
    return <int64_t>v


cdef double _median_c(double* x, int n) noexcept nogil:
    """Median of x[0..n-1] (n >= 1), sorting x in place; two middle values give (a + b) / 2."""
    cdef int i, j
    cdef double v
    for i in range(1, n):
        v = x[i]
        j = i - 1
        while j >= 0 and x[j] > v:
            x[j + 1] = x[j]
            j -= 1
        x[j + 1] = v
    if n & 1:
        return x[n // 2]
    return (x[n // 2 - 1] + x[n // 2]) / 2.0


cdef double _sat_median(const double* v, const int32_t* sat, Py_ssize_t ncell, int s,
                        double* buf) noexcept nogil:
    """Median of the finite v of the cells of satellite s (NaN when none)."""
    cdef Py_ssize_t c
    cdef int n = 0
    for c in range(ncell):
        if sat[c] == s and isfinite(v[c]):
            buf[n] = v[c]
            n += 1
    return _median_c(buf, n) if n else NAN


cdef inline int _lock_ind(double lock_s, const double* table, int n) noexcept nogil:
    """Largest indicator whose minimum lock time does not exceed lock_s (NaN -> 0)."""
    cdef double x = (0.0 if isnan(lock_s) else lock_s) + 1e-9
    cdef int lo = 0, hi = n, mid
    while lo < hi:  # number of entries <= x
        mid = (lo + hi) >> 1
        if table[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    lo -= 1
    return 0 if lo < 0 else (n - 1 if lo > n - 1 else lo)


def select_msm_cells(const uint32_t[:, ::1] sat_u32, const uint32_t[:, ::1] sig_u32, int system_code,
                     int prn_shift, const int8_t[::1] sig_lut, const double[::1] pr_m,
                     const double[::1] cp_cyc):
    """See vngeonet.kernels.msm.select_msm_cells (the specification)."""
    cdef Py_ssize_t i, n = sat_u32.shape[0], ncell = 0
    cdef uint32_t c1, c2, g0, g1
    cdef int prn, sid, key
    cdef int32_t first[64 * 64]
    if (sat_u32.shape[1] != 3 or sig_u32.shape[0] != n or sig_u32.shape[1] != 2
            or pr_m.shape[0] != n or cp_cyc.shape[0] != n):
        raise ValueError("select_msm_cells: arrays of inconsistent shapes")
    if sig_lut.shape[0] < 16384:
        raise ValueError("select_msm_cells: sig_lut needs 16384 entries")
    memset(first, 0xFF, sizeof(first))  # -1: no row yet
    with nogil:
        for i in range(n):
            if sat_u32[i, 0] != <uint32_t>system_code:
                continue
            g0 = sig_u32[i, 0] if sig_u32[i, 0] < 127 else 127
            g1 = sig_u32[i, 1] if sig_u32[i, 1] < 127 else 127
            sid = sig_lut[g0 * 128 + g1]
            if sid <= 0 or sid >= 64:
                continue
            c1 = sat_u32[i, 1]
            c2 = sat_u32[i, 2]
            if c1 < 48 or c1 > 57 or not ((c2 >= 48 and c2 <= 57) or c2 == 0):
                ncell = -1
                break
            prn = <int>(c1 - 48) if c2 == 0 else <int>((c1 - 48) * 10 + (c2 - 48))
            prn -= prn_shift
            if prn < 1 or prn > 64 or not (isfinite(pr_m[i]) or isfinite(cp_cyc[i])):
                continue
            key = (prn - 1) * 64 + sid
            if first[key] < 0:
                first[key] = <int32_t>i
                ncell += 1
    if ncell < 0:
        return None
    cdef cnp.npy_intp dims[1]
    dims[0] = ncell
    prn_a = empty_array(1, dims, cnp.NPY_INT64, 0)
    sid_a = empty_array(1, dims, cnp.NPY_INT64, 0)
    row_a = empty_array(1, dims, cnp.NPY_INT64, 0)
    cdef int64_t* po = <int64_t*>cnp.PyArray_DATA(prn_a)
    cdef int64_t* so = <int64_t*>cnp.PyArray_DATA(sid_a)
    cdef int64_t* ro = <int64_t*>cnp.PyArray_DATA(row_a)
    i = 0
    for key in range(64 * 64):
        if first[key] >= 0:
            po[i] = key // 64 + 1
            so[i] = key % 64
            ro[i] = first[key]
            i += 1
    return prn_a, sid_a, row_a


def encode_msm_cells(int msm, const int32_t[::1] cell_sat, Py_ssize_t nsat, const double[::1] pr_m,
                     const double[::1] cp_cyc, const double[::1] wl_m, const double[::1] dop_hz,
                     const double[::1] cn0_dbhz, const double[::1] lock_s, const uint8_t[::1] lli,
                     double[::1] off_cyc, bint track):
    """See vngeonet.kernels.msm.encode_msm_cells (the specification)."""
    cdef double pr_sc, cp_sc, scale
    cdef int pr_bits, cp_bits, top, nlock
    cdef Py_ssize_t c, ncell = cell_sat.shape[0]
    cdef const double* lock_tab
    if msm == 4:
        pr_sc, pr_bits, cp_sc, cp_bits = 2.0 ** -24, 15, 2.0 ** -29, 22
        scale, top, lock_tab, nlock = 1.0, 63, LOCK402, 16
    elif msm == 7:
        pr_sc, pr_bits, cp_sc, cp_bits = 2.0 ** -29, 20, 2.0 ** -31, 24
        scale, top, lock_tab, nlock = 16.0, 1023, LOCK407, 705
    else:
        raise ValueError(f"encode_msm_cells supports MSM4 and MSM7, not MSM{msm}")
    if (pr_m.shape[0] != ncell or cp_cyc.shape[0] != ncell or wl_m.shape[0] != ncell
            or dop_hz.shape[0] != ncell or cn0_dbhz.shape[0] != ncell or lock_s.shape[0] != ncell
            or lli.shape[0] != ncell or off_cyc.shape[0] != ncell):
        raise ValueError("encode_msm_cells: arrays of different lengths")
    for c in range(ncell):
        if cell_sat[c] < 0 or cell_sat[c] >= nsat:
            raise ValueError("encode_msm_cells: satellite index out of range")
    cdef cnp.npy_intp dims[2]
    dims[0] = nsat
    dims[1] = 4
    sat_raw = empty_array(2, dims, cnp.NPY_INT32, 1)
    dims[0] = ncell
    dims[1] = 6
    cell_raw = empty_array(2, dims, cnp.NPY_INT32, 1)
    used = empty_array(1, dims, cnp.NPY_BOOL, 1)
    dims[0] = 3 * ncell + nsat + 1
    work = empty_array(1, dims, cnp.NPY_FLOAT64, 0)
    cdef double* w = <double*>cnp.PyArray_DATA(work)
    cdef _CellIn a
    a.ncell, a.nsat = ncell, nsat
    a.sat, a.pr_m, a.cp_cyc, a.wl_m = NULL, NULL, NULL, NULL
    a.dop_hz, a.cn0_dbhz, a.lock_s, a.lli, a.off = NULL, NULL, NULL, NULL, NULL
    if ncell:
        a.sat, a.pr_m, a.cp_cyc, a.wl_m = &cell_sat[0], &pr_m[0], &cp_cyc[0], &wl_m[0]
        a.dop_hz, a.cn0_dbhz, a.lock_s, a.lli, a.off = &dop_hz[0], &cn0_dbhz[0], &lock_s[0], &lli[0], &off_cyc[0]
    a.track = track
    with nogil:
        _encode_cells(&a, msm, pr_sc, pr_bits, cp_sc, cp_bits, scale, top, lock_tab, nlock,
                      <int32_t*>cnp.PyArray_DATA(sat_raw), <int32_t*>cnp.PyArray_DATA(cell_raw),
                      <uint8_t*>cnp.PyArray_DATA(used), w)
    return sat_raw, cell_raw, used


cdef struct _CellIn:
    Py_ssize_t ncell
    Py_ssize_t nsat
    const int32_t* sat
    const double* pr_m
    const double* cp_cyc
    const double* wl_m
    const double* dop_hz
    const double* cn0_dbhz
    const double* lock_s
    const uint8_t* lli
    double* off
    bint track


cdef void _encode_cells(_CellIn* a, int msm, double pr_sc, int pr_bits, double cp_sc, int cp_bits,
                        double scale, int top, const double* lock_tab, int nlock, int32_t* sr,
                        int32_t* cr, uint8_t* used, double* w) noexcept nogil:
    """Fill sat_raw (sr) and cell_raw (cr); w holds 3 * ncell + nsat + 1 doubles of scratch."""
    cdef Py_ssize_t c, s, ncell = a.ncell, nsat = a.nsat
    cdef double* pr_ms = w
    cdef double* cp = w + ncell
    cdef double* buf = w + 2 * ncell
    cdef double* rough = w + 3 * ncell  # per satellite, ms (0 where invalid)
    cdef double med, lim_ms, new, cn, x
    cdef int64_t rk
    cdef bint reset
    # DF397/DF398: median pseudorange (ms), else median phase-range, rounded to 1/1024 ms.
    for c in range(ncell):
        pr_ms[c] = a.pr_m[c] / RANGE_MS_M
        cp[c] = a.cp_cyc[c] * a.wl_m[c] / RANGE_MS_M
    for s in range(nsat):
        med = _sat_median(pr_ms, a.sat, ncell, <int>s, buf)
        if isnan(med):
            med = _sat_median(cp, a.sat, ncell, <int>s, buf)
        if isfinite(med) and med >= 0 and med < 255:
            rk = <int64_t>rint(med * 1024.0)
            sr[4 * s] = <int32_t>(rk // 1024)
            sr[4 * s + 2] = <int32_t>(rk % 1024)
            rough[s] = rk / 1024.0
        else:
            sr[4 * s] = 255
            rough[s] = 0.0
    # Fine pseudorange; whole-cycle phase shifts; fine phase-range.
    lim_ms = (((<int64_t>1) << (cp_bits - 1)) - 2) * cp_sc
    for c in range(ncell):
        x = rough[a.sat[c]]
        cr[6 * c] = <int32_t>_fine_c(pr_ms[c] - x, pr_sc, pr_bits)
        cp[c] = a.cp_cyc[c]
        reset = False
        if isfinite(cp[c]) and isfinite(a.wl_m[c]):
            used[c] = 1
            if fabs((cp[c] + a.off[c]) * a.wl_m[c] / RANGE_MS_M - x) > lim_ms:
                new = rint(x * RANGE_MS_M / a.wl_m[c] - cp[c])
                reset = (not a.track) or new != a.off[c]
                a.off[c] = new
            cp[c] += a.off[c]
        cr[6 * c + 1] = <int32_t>_fine_c(cp[c] * a.wl_m[c] / RANGE_MS_M - x, cp_sc, cp_bits)
        cr[6 * c + 2] = 0 if (reset or (a.lli[c] & 1)) else _lock_ind(a.lock_s[c], lock_tab, nlock)
        cr[6 * c + 3] = 1 if (a.lli[c] & 2) else 0
        cn = a.cn0_dbhz[c]
        if isfinite(cn):
            cn = rint(cn * scale)
            cr[6 * c + 4] = 1 if cn < 1 else (top if cn > top else <int32_t>cn)
    if msm == 7:
        _rate_fields_c(a, sr, cr, pr_ms, buf)


cdef void _rate_fields_c(_CellIn* a, int32_t* sr, int32_t* cr, double* rate, double* buf) noexcept nogil:
    """DF399 rounded median phase-range rate per satellite (m/s), DF404 fine rates (0.0001 m/s)."""
    cdef Py_ssize_t c, s
    cdef double med, fine
    cdef int32_t rough
    for c in range(a.ncell):
        rate[c] = -a.dop_hz[c] * a.wl_m[c]
    for s in range(a.nsat):
        med = rint(_sat_median(rate, a.sat, a.ncell, <int>s, buf))
        sr[4 * s + 3] = <int32_t>med if (isfinite(med) and fabs(med) <= 8191) else -8192
    for c in range(a.ncell):
        rough = sr[4 * a.sat[c] + 3]
        fine = rint((rate[c] - <double>rough) / 1e-4)
        if not isfinite(fine) or fabs(fine) > 16383 or rough == -8192:
            cr[6 * c + 5] = -16384
        else:
            cr[6 * c + 5] = <int32_t>fine
