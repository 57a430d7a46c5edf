# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Legacy RTK observation unpacking, messages 1001-1004 and 1009-1012 (RTCM 10403.3 §3.5.2);
compiled twin of vngeonet/kernels/legacy.py, which is the specification."""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, int8_t, int32_t, int64_t
from libc.math cimport NAN
from libc.string cimport memcpy

from bitread cimport field_value, read_bits
from ndout cimport empty_array, empty_like_dtype

cnp.import_array()

cdef double LOCK_LEGACY[128]


cdef void _init_legacy():
    cdef int i
    for i in range(128):
        if i < 24:
            LOCK_LEGACY[i] = i
        elif i < 48:
            LOCK_LEGACY[i] = 2 * i - 24
        elif i < 72:
            LOCK_LEGACY[i] = 4 * i - 120
        elif i < 96:
            LOCK_LEGACY[i] = 8 * i - 408
        elif i < 120:
            LOCK_LEGACY[i] = 16 * i - 1176
        elif i < 127:
            LOCK_LEGACY[i] = 32 * i - 3096
        else:
            LOCK_LEGACY[i] = 937.0


_init_legacy()
LOCK_LEGACY_S = np.array([LOCK_LEGACY[i] for i in range(128)])
LEGACY_COLS = ("id", "code1", "chan", "pr1", "ph1", "lock1", "amb", "cnr1", "code2", "dpr2", "ph2", "lock2", "cnr2")


def unpack_legacy(const uint8_t[::1] buf, const int32_t[::1] head_w, const int32_t[::1] rec_w,
                  const uint8_t[::1] rec_signed, const int32_t[::1] cols, double unit_m,
                  const double[::1] wl1, const double[::1] wl2, cnp.ndarray sat_names,
                  cnp.ndarray sig_names):
    """See vngeonet.kernels.legacy.unpack_legacy (the specification)."""
    cdef Py_ssize_t nbits = buf.shape[0] * 8, pos = 0, need
    cdef int i, j, nh = head_w.shape[0], nf = rec_w.shape[0], nsat, nrow, dual, recbits = 0
    cdef const uint8_t* b
    if nh != 7 or cols.shape[0] != 13 or rec_signed.shape[0] != nf or wl1.shape[0] < 32 or wl2.shape[0] < 32:
        raise ValueError("legacy layout arrays have the wrong size")
    if sat_names.shape[0] < 64 or sig_names.shape[0] < 8:
        raise ValueError("sat_names needs 64 and sig_names 8 entries")
    for i in range(nh):
        need = pos + head_w[i]
        pos = need
    if nbits < pos:
        raise ValueError(f"legacy payload too short: header needs {pos} bits, have {nbits}")
    b = &buf[0]
    head = tuple(_head_fields(b, head_w))
    nsat = head[4]
    for j in range(nf):
        recbits += rec_w[j]
    if pos + nsat * recbits > nbits:
        raise ValueError(f"legacy payload too short: {nsat} satellites need {pos + nsat * recbits} bits, have {nbits}")
    dual = cols[8] >= 0
    nrow = nsat * (2 if dual else 1)
    cdef cnp.npy_intp d1[1]
    cdef cnp.npy_intp d2[2]
    d2[0] = nsat; d2[1] = nf
    raw = empty_array(2, d2, cnp.NPY_INT64, 0)
    d2[0] = 5; d2[1] = nrow
    obs = empty_array(2, d2, cnp.NPY_FLOAT64, 0)
    d1[0] = nrow
    glo_k = empty_array(1, d1, cnp.NPY_INT8, 1)
    half = empty_array(1, d1, cnp.NPY_BOOL, 1)
    sat = empty_like_dtype(sat_names, 1, d1)
    sig = empty_like_dtype(sig_names, 1, d1)
    cdef int64_t* rv = <int64_t*>cnp.PyArray_DATA(raw)
    cdef double* ob = <double*>cnp.PyArray_DATA(obs)
    cdef int8_t* gk = <int8_t*>cnp.PyArray_DATA(glo_k)
    cdef char* sat_v = <char*>cnp.PyArray_DATA(sat)
    cdef char* sig_v = <char*>cnp.PyArray_DATA(sig)
    cdef const char* sat_t = <const char*>cnp.PyArray_DATA(sat_names)
    cdef const char* sig_t = <const char*>cnp.PyArray_DATA(sig_names)
    cdef Py_ssize_t sat_w = sat_names.itemsize, sig_w = sig_names.itemsize
    with nogil:
        for i in range(nsat):
            for j in range(nf):
                if rec_signed[j]:
                    rv[i * nf + j] = field_value(read_bits(b, pos, rec_w[j]), rec_w[j], 1)
                else:
                    rv[i * nf + j] = <int64_t>read_bits(b, pos, rec_w[j])
                pos += rec_w[j]
        _legacy_obs(rv, nsat, nf, cols, unit_m, wl1, wl2, dual, ob, gk, sat_v, sat_t, sat_w,
                    sig_v, sig_t, sig_w)
    cdef Py_ssize_t tail_nbits = nbits - pos
    if tail_nbits <= 57:
        tail = read_bits(b, pos, <int>tail_nbits)
    else:
        tail = int.from_bytes(bytes(buf), "big") & ((<object>1 << tail_nbits) - 1)
    return head, raw, obs, half, glo_k, sat, sig, tail, tail_nbits


cdef list _head_fields(const uint8_t* b, const int32_t[::1] head_w):
    cdef list out = []
    cdef Py_ssize_t pos = 0
    cdef int i
    for i in range(head_w.shape[0]):
        out.append(<int64_t>read_bits(b, pos, head_w[i]))
        pos += head_w[i]
    return out


cdef void _legacy_obs(const int64_t* rv, int nsat, int nf, const int32_t[::1] cols, double unit_m,
                      const double[::1] wl1, const double[::1] wl2, int dual, double* ob, int8_t* gk,
                      char* sat, const char* sat_t, Py_ssize_t sat_w, char* sig, const char* sig_t,
                      Py_ssize_t sig_w) noexcept nogil:
    """Rows: per satellite L1 then (dual) L2.  cols: id code1 chan pr1 ph1 lock1 amb cnr1 code2 dpr2 ph2 lock2 cnr2."""
    cdef int i, r, nrow = nsat * (2 if dual else 1), step = 2 if dual else 1, sid, ch
    cdef const int64_t* rec
    cdef double pr1, w1, w2, nan = NAN
    for i in range(nsat):
        rec = rv + i * nf
        r = i * step
        sid = <int>rec[cols[0]]
        ch = <int>rec[cols[2]] if cols[2] >= 0 else 0
        w1 = wl1[ch & 31]
        w2 = wl2[ch & 31]
        if cols[2] >= 0 and sid >= 40:
            w1 = nan
            w2 = nan
        pr1 = rec[cols[3]] * 0.02 + (rec[cols[6]] * unit_m if cols[6] >= 0 else 0.0)
        ob[r] = pr1
        ob[nrow + r] = nan if rec[cols[4]] == -(1 << 19) else (pr1 + rec[cols[4]] * 0.0005) / w1
        ob[2 * nrow + r] = nan
        ob[3 * nrow + r] = nan if cols[7] < 0 or rec[cols[7]] == 0 else rec[cols[7]] * 0.25
        ob[4 * nrow + r] = LOCK_LEGACY[rec[cols[5]] & 127]
        gk[r] = <int8_t>(ch - 7 if cols[2] >= 0 else 0)
        memcpy(sat + r * sat_w, sat_t + (sid & 63) * sat_w, sat_w)
        memcpy(sig + r * sig_w, sig_t + (rec[cols[1]] & 3) * sig_w, sig_w)
        if dual:
            r += 1
            ob[r] = nan if rec[cols[9]] == -(1 << 13) else pr1 + rec[cols[9]] * 0.02
            ob[nrow + r] = nan if rec[cols[10]] == -(1 << 19) else (pr1 + rec[cols[10]] * 0.0005) / w2
            ob[2 * nrow + r] = nan
            ob[3 * nrow + r] = nan if cols[12] < 0 or rec[cols[12]] == 0 else rec[cols[12]] * 0.25
            ob[4 * nrow + r] = LOCK_LEGACY[rec[cols[11]] & 127]
            gk[r] = gk[r - 1]
            memcpy(sat + r * sat_w, sat_t + (sid & 63) * sat_w, sat_w)
            memcpy(sig + r * sig_w, sig_t + (4 + (rec[cols[8]] & 3)) * sig_w, sig_w)
