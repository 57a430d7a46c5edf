"""Legacy RTK observation unpacking, messages 1001-1004 and 1009-1012 (RTCM 10403.3 §3.5.2).

Pure-Python twin of ``ext/legacy.pyx``: same functions, signatures, dtypes and
exceptions.  The Python layer (:mod:`vngeonet.rtcm.legacy`) holds the message
layouts and turns the arrays into message objects; these functions only move bits.
"""

from __future__ import annotations

import numpy as np

from vngeonet.kernels.msm import _check_len, _Reader


def _lock_table_legacy() -> np.ndarray:
    """DF013/DF019/DF043/DF049 minimum lock time (s) per 7-bit indicator (RTCM 10403.3 Table 3.4-2)."""
    t = np.empty(128)
    for i in range(128):
        for hi, a, b in (
            (24, 1, 0),
            (48, 2, 24),
            (72, 4, 120),
            (96, 8, 408),
            (120, 16, 1176),
            (127, 32, 3096),
        ):
            if i < hi:
                t[i] = a * i - b
                break
        else:
            t[i] = 937.0
    return t


LOCK_LEGACY_S = _lock_table_legacy()
# Column order of ``cols`` in unpack_legacy.
LEGACY_COLS = (
    "id",
    "code1",
    "chan",
    "pr1",
    "ph1",
    "lock1",
    "amb",
    "cnr1",
    "code2",
    "dpr2",
    "ph2",
    "lock2",
    "cnr2",
)


def unpack_legacy(buf, head_w, rec_w, rec_signed, cols, unit_m, wl1, wl2, sat_names, sig_names):
    """Unpack a 1001-1004 / 1009-1012 payload and reconstruct its observables.

    Parameters
    ----------
    buf : bytes-like
        Payload.
    head_w : ndarray of int32, (7,)
        Header field widths; field 4 is the satellite count (DF006/DF035).
    rec_w : ndarray of int32, (nf,)
        Widths of the per-satellite record fields.
    rec_signed : ndarray of uint8, (nf,)
        1 for two's complement fields.
    cols : ndarray of int32, (13,)
        Record column of each of :data:`LEGACY_COLS` (-1 when the message lacks it).
    unit_m : float
        Metres per ambiguity unit (DF014 299 792.458, DF044 599 584.916).
    wl1, wl2 : ndarray of float64, (32,)
        L1 / L2 wavelength by channel field value (DF040, 0..31); GPS uses entry 0.
    sat_names : ndarray of str, (64,)
        Satellite name by satellite id field (DF009/DF038).
    sig_names : ndarray of str, (8,)
        L1 signal name by code indicator (0..3), then L2 (4..7).

    Returns
    -------
    head : tuple of 7 int
    raw : ndarray of int64, (nsat, nf)
    obs : ndarray of float64, (5, nrow)     pr m, phase cycles, Doppler (NaN), CNR dB-Hz, lock s
    half : ndarray of bool, (nrow,)         all False (legacy messages carry no half-cycle flag)
    glo_k : ndarray of int8, (nrow,)        channel (DF040 - 7), 0 for GPS
    sat, sig : ndarray, (nrow,)
    tail, tail_nbits : int                  padding bits after the last record

    Rows are satellite by satellite, L1 then L2 for dual-frequency messages.
    Invalid markers: phase -2^19 and L2 range difference -2^13 -> NaN; CNR 0 -> NaN.
    Satellite ids >= 40 (SBAS) in a GLONASS message get NaN wavelengths.

    Raises
    ------
    ValueError
        Layout arrays of the wrong size, or a payload too short for its satellite count.
    """
    head_w, rec_w, cols = (np.asarray(a, dtype=np.int64) for a in (head_w, rec_w, cols))
    if (
        len(head_w) != 7
        or len(cols) != 13
        or len(rec_signed) != len(rec_w)
        or len(wl1) < 32
        or len(wl2) < 32
    ):
        raise ValueError("legacy layout arrays have the wrong size")
    if len(sat_names) < 64 or len(sig_names) < 8:
        raise ValueError("sat_names needs 64 and sig_names 8 entries")
    r, nbits = _Reader(buf), len(buf) * 8
    pos = int(head_w.sum())
    _check_len(nbits, pos, "legacy header")
    head, p = [], 0
    for w in head_w.tolist():
        head.append(r.u(p, w))
        p += w
    nsat, nf = head[4], len(rec_w)
    _check_len(nbits, pos + nsat * int(rec_w.sum()), f"legacy {nsat} satellites")
    raw = np.zeros((nsat, nf), dtype=np.int64)
    for i in range(nsat):
        for j in range(nf):
            w = int(rec_w[j])
            raw[i, j] = r.s(pos, w) if rec_signed[j] else r.u(pos, w)
            pos += w
    obs, glo_k, sat_i, sig_i = _legacy_obs(raw, cols, unit_m, wl1, wl2)
    tail_nbits = nbits - pos
    tail = r.u(pos, tail_nbits) if tail_nbits else 0
    half = np.zeros(len(glo_k), dtype=bool)
    return tuple(head), raw, obs, half, glo_k, sat_names[sat_i], sig_names[sig_i], tail, tail_nbits


def _legacy_obs(raw, cols, unit_m, wl1, wl2):
    c = [int(v) for v in cols]
    dual = c[8] >= 0
    rows = []
    for rec in raw.tolist():
        sid = rec[c[0]]
        ch = rec[c[2]] if c[2] >= 0 else 0
        w1, w2 = wl1[ch & 31], wl2[ch & 31]
        if c[2] >= 0 and sid >= 40:
            w1 = w2 = np.nan
        pr1 = rec[c[3]] * 0.02 + (rec[c[6]] * unit_m if c[6] >= 0 else 0.0)
        cp1 = np.nan if rec[c[4]] == -(1 << 19) else (pr1 + rec[c[4]] * 0.0005) / w1
        cn1 = np.nan if c[7] < 0 or rec[c[7]] == 0 else rec[c[7]] * 0.25
        k = ch - 7 if c[2] >= 0 else 0
        rows.append(
            (pr1, cp1, np.nan, cn1, LOCK_LEGACY_S[rec[c[5]] & 127], k, sid & 63, rec[c[1]] & 3)
        )
        if dual:
            pr2 = np.nan if rec[c[9]] == -(1 << 13) else pr1 + rec[c[9]] * 0.02
            cp2 = np.nan if rec[c[10]] == -(1 << 19) else (pr1 + rec[c[10]] * 0.0005) / w2
            cn2 = np.nan if c[12] < 0 or rec[c[12]] == 0 else rec[c[12]] * 0.25
            rows.append(
                (
                    pr2,
                    cp2,
                    np.nan,
                    cn2,
                    LOCK_LEGACY_S[rec[c[11]] & 127],
                    k,
                    sid & 63,
                    4 + (rec[c[8]] & 3),
                )
            )
    obs = np.array([r[:5] for r in rows], dtype=np.float64).reshape(-1, 5).T.copy()
    glo_k = np.array([r[5] for r in rows], dtype=np.int8)
    sat_i = np.array([r[6] for r in rows], dtype=np.intp)
    sig_i = np.array([r[7] for r in rows], dtype=np.intp)
    return obs, glo_k, sat_i, sig_i
