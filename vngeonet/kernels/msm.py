"""MSM cell unpacking and packing (RTCM 10403.3 §3.5.16).

Pure-Python twin of ``ext/msm.pyx``: same functions, signatures, dtypes and
exceptions.  The Python layer (:mod:`vngeonet.rtcm.msm`) validates inputs and
turns the arrays into message objects; these functions only move bits.

Layout of an MSM payload (all MSB first)::

    header  DF002 12, DF003 12, epoch 30, DF393 1, DF409 3, DF001 7, DF411 2,
            DF412 2, DF417 1, DF418 3, DF394 64, DF395 32, DF396 nsat*nsig
    sats    each field for all satellites in turn (Table 3.5-79..81):
            MSM1-3: DF398 10 | MSM4,6: DF397 8, DF398 10 |
            MSM5,7: DF397 8, ext 4, DF398 10, DF399 14
    cells   each field for all cells in turn (Table 3.5-82..88):
            MSM1 DF400 | MSM2 DF401 DF402 DF420 | MSM3 DF400 DF401 DF402 DF420 |
            MSM4 + DF403 | MSM5 + DF403 DF404 |
            MSM6 DF405 DF406 DF407 DF420 DF408 | MSM7 + DF404

Header tuple (``head``), 13 Python ints: msg_type, station_id, epoch (30
raw bits), multiple, iods, reserved, clock_steering, external_clock,
smoothing, smoothing_interval, sat_mask, sig_mask, cell_mask.

``sat_raw`` (nsat, 4) int32 columns: DF397 rough integer ms, extended
satellite info, DF398 rough modulo 1 ms, DF399 rough phase-range rate
(0 where the MSM level lacks the field).  ``cell_raw`` (ncell, 6) int32
columns: fine pseudorange (DF400/DF405), fine phase-range (DF401/DF406),
lock-time indicator (DF402/DF407), half-cycle (DF420), CNR (DF403/DF408),
fine phase-range rate (DF404).

Invalid-value markers become NaN in ``obs``: DF397 = 255, DF399 = -8192,
DF400 = -2^14, DF401 = -2^21, DF404 = -2^14, DF405 = -2^19, DF406 = -2^23;
a CNR of 0 ("not computed") is NaN too, as are lock-time indicators the
standard reserves (DF407 > 704).
"""

from __future__ import annotations

import numpy as np

C_MPS = 299792458.0
RANGE_MS_M = C_MPS * 1e-3  # metres per millisecond of light travel
GLO_UNKNOWN = -128  # glo_chan entry for "channel not known"

# Per MSM level: bits per satellite, bits per cell.
SAT_BITS = (0, 10, 10, 10, 18, 36, 18, 36)
CELL_BITS = (0, 15, 27, 42, 48, 63, 65, 80)
HEADER_BITS = 169


def _lock_table_df402() -> np.ndarray:
    """DF402 minimum lock time, seconds: 0 for indicator 0, else 2^(i+4) ms."""
    t = np.array([0.0] + [2.0 ** (i + 4) for i in range(1, 16)])
    return t * 1e-3


def _lock_table_df407() -> np.ndarray:
    """DF407 lock time, seconds: 1 ms steps to 63, step doubling every 32 values from 64, 705+ NaN."""
    t = np.full(1024, np.nan)
    v = 0
    for i in range(705):
        t[i] = v * 1e-3
        step = 1 if i < 64 else 1 << (i // 32 - 1)
        v += step
    return t


LOCK_DF402_S = _lock_table_df402()
LOCK_DF407_S = _lock_table_df407()


class _Reader:
    __slots__ = ("nbits", "word")

    def __init__(self, buf):
        self.word = int.from_bytes(bytes(buf), "big")
        self.nbits = len(buf) * 8

    def u(self, pos, n):
        return (self.word >> (self.nbits - pos - n)) & ((1 << n) - 1)

    def s(self, pos, n):
        v = self.u(pos, n)
        return v - (1 << n) if v >> (n - 1) else v


def _popcount(v: int) -> int:
    return v.bit_count()


def _table(a, n: int, kind: str, what: str) -> None:
    """A 1-D C-contiguous ndarray of at least n entries: float64 ("f"), int8 ("i") or str ("U")."""
    ok = {"f": np.float64, "i": np.int8}.get(kind)
    if (
        not isinstance(a, np.ndarray)
        or not a.flags.c_contiguous
        or len(a) < n
        or (a.dtype != ok if ok is not None else a.dtype.kind != "U")
    ):
        raise ValueError(
            f"{what} must be a contiguous array of at least {n} entries of the documented dtype"
        )


def _check_len(nbits: int, need: int, what: str):
    if need > nbits:
        raise ValueError(f"MSM payload too short: {what} needs {need} bits, have {nbits}")


def unpack_msm(buf, msm, f0_hz, df_hz, glo_chan, sat_names, sig_names):
    """Unpack one MSM payload and reconstruct its observables.

    Parameters
    ----------
    buf : bytes-like
        The message payload (DF002 first).
    msm : int
        MSM level 1..7.
    f0_hz, df_hz : ndarray of float64, shape (33,)
        Carrier of channel 0 and FDMA channel step per RTCM signal id (index
        1..32); f0 NaN for an undefined signal id, step 0 for CDMA.
    glo_chan : ndarray of int8, shape (65,)
        Frequency channel per satellite id (index 1..64), ``-128`` unknown.
        Updated in place from the extended satellite info of MSM5/MSM7 when
        ``df_hz`` has FDMA signals (GLONASS, DF419 0..13 -> k = DF419 - 7).
    sat_names : ndarray of str, shape (65,)
        Satellite name per satellite id (index 1..64), e.g. '<U3'.
    sig_names : ndarray of str, shape (33,)
        Signal name per RTCM signal id (index 1..32), e.g. '<U2'.

    Returns
    -------
    head : tuple of 13 int
    prn : ndarray of uint8, (nsat,)     satellite ids 1..64 from DF394
    sat_raw : ndarray of int32, (nsat, 4)
    cell_raw : ndarray of int32, (ncell, 6)
    obs : ndarray of float64, (5, ncell)
        Rows pseudorange m, carrier phase cycles, Doppler Hz, CNR dB-Hz, lock time s.
    half : ndarray of bool, (ncell,)
    sat, sig : ndarray, (ncell,), dtypes of sat_names / sig_names
        Names of each cell's satellite and signal, from the tables.
    tail : int
        Value of the bits after the last cell field (padding).
    tail_nbits : int
        Number of those bits.

    Raises
    ------
    ValueError
        ``msm`` outside 1..7 or the payload is too short for its masks.
    """
    if not 1 <= msm <= 7:
        raise ValueError(f"MSM level must be 1..7, got {msm}")
    _table(f0_hz, 33, "f", "f0_hz")
    _table(df_hz, 33, "f", "df_hz")
    _table(glo_chan, 65, "i", "glo_chan")
    _table(sat_names, 65, "U", "sat_names")
    _table(sig_names, 33, "U", "sig_names")
    nbits = len(buf) * 8
    _check_len(nbits, HEADER_BITS, "header")
    r = _Reader(buf)
    head, prn, sigs, cells, pos = _unpack_header(r, nbits)
    nsat, ncell = len(prn), len(cells)
    _check_len(nbits, pos + nsat * SAT_BITS[msm] + ncell * CELL_BITS[msm], "data")
    sat_raw, pos = _unpack_sats(r, pos, msm, nsat)
    cell_raw, pos = _unpack_cells(r, pos, msm, ncell)
    cell_prn = np.array([prn[c // len(sigs)] for c in cells], dtype=np.uint8)
    cell_sig = np.array([sigs[c % len(sigs)] for c in cells], dtype=np.uint8)
    cell_sat = np.array([c // len(sigs) for c in cells], dtype=np.intp)
    fdma = bool(np.any(np.asarray(df_hz) != 0.0))
    if fdma and msm in (5, 7):
        for i in range(nsat):
            if sat_raw[i, 1] <= 13:
                glo_chan[prn[i]] = sat_raw[i, 1] - 7
    obs, half = _observables(
        msm, sat_raw, cell_raw, cell_sat, cell_prn, cell_sig, f0_hz, df_hz, glo_chan
    )
    if ncell > 2048:
        raise ValueError("MSM with more than 2048 cells")
    sat, sig = sat_names[cell_prn], sig_names[cell_sig]
    tail_nbits = nbits - pos
    tail = r.u(pos, tail_nbits) if tail_nbits else 0
    return (
        head,
        np.array(prn, dtype=np.uint8),
        sat_raw,
        cell_raw,
        obs,
        half,
        sat,
        sig,
        tail,
        tail_nbits,
    )


def _unpack_header(r, nbits):
    vals = []
    pos = 0
    for n in (12, 12, 30, 1, 3, 7, 2, 2, 1, 3, 64, 32):
        vals.append(r.u(pos, n))
        pos += n
    sat_mask, sig_mask = vals[10], vals[11]
    prn = [i + 1 for i in range(64) if (sat_mask >> (63 - i)) & 1]
    sigs = [i + 1 for i in range(32) if (sig_mask >> (31 - i)) & 1]
    x = len(prn) * len(sigs)
    _check_len(nbits, pos + x, "cell mask")
    cell_mask = r.u(pos, x) if x else 0
    pos += x
    cells = [c for c in range(x) if (cell_mask >> (x - 1 - c)) & 1]
    return tuple(vals) + (cell_mask,), prn, sigs, cells, pos


def _unpack_sats(r, pos, msm, nsat):
    sat_raw = np.zeros((nsat, 4), dtype=np.int32)
    if msm >= 4:
        for i in range(nsat):
            sat_raw[i, 0] = r.u(pos, 8)
            pos += 8
    if msm in (5, 7):
        for i in range(nsat):
            sat_raw[i, 1] = r.u(pos, 4)
            pos += 4
    for i in range(nsat):
        sat_raw[i, 2] = r.u(pos, 10)
        pos += 10
    if msm in (5, 7):
        for i in range(nsat):
            sat_raw[i, 3] = r.s(pos, 14)
            pos += 14
    return sat_raw, pos


# Per MSM level: (column, width, signed) in transmission order.
CELL_FIELDS = {
    1: ((0, 15, True),),
    2: ((1, 22, True), (2, 4, False), (3, 1, False)),
    3: ((0, 15, True), (1, 22, True), (2, 4, False), (3, 1, False)),
    4: ((0, 15, True), (1, 22, True), (2, 4, False), (3, 1, False), (4, 6, False)),
    5: ((0, 15, True), (1, 22, True), (2, 4, False), (3, 1, False), (4, 6, False), (5, 15, True)),
    6: ((0, 20, True), (1, 24, True), (2, 10, False), (3, 1, False), (4, 10, False)),
    7: ((0, 20, True), (1, 24, True), (2, 10, False), (3, 1, False), (4, 10, False), (5, 15, True)),
}


def _unpack_cells(r, pos, msm, ncell):
    cell_raw = np.zeros((ncell, 6), dtype=np.int32)
    for col, n, signed in CELL_FIELDS[msm]:
        for c in range(ncell):
            cell_raw[c, col] = r.s(pos, n) if signed else r.u(pos, n)
            pos += n
    return cell_raw, pos


def _observables(msm, sat_raw, cell_raw, cell_sat, cell_prn, cell_sig, f0_hz, df_hz, glo_chan):
    ncell = len(cell_sat)
    obs = np.full((5, ncell), np.nan)
    half = np.zeros(ncell, dtype=bool)
    ext = msm >= 6
    for c in range(ncell):
        s = cell_sat[c]
        rough_ms, _, mod, rate = (int(v) for v in sat_raw[s])
        fpr, fcp, lock, hc, cnr, frate = (int(v) for v in cell_raw[c])
        sig = cell_sig[c]
        k = int(glo_chan[cell_prn[c]])
        if df_hz[sig] != 0.0 and k == GLO_UNKNOWN:
            wl = np.nan
        else:
            kk = k if df_hz[sig] != 0.0 else 0
            wl = C_MPS / (f0_hz[sig] + kk * df_hz[sig])
        valid = msm < 4 or rough_ms != 255
        rough = (rough_ms if msm >= 4 else 0) + mod / 1024.0
        if msm != 2 and valid and fpr != (-(1 << 19) if ext else -(1 << 14)):
            obs[0, c] = (rough + fpr * (2.0**-29 if ext else 2.0**-24)) * RANGE_MS_M
        if msm >= 2 and valid and fcp != (-(1 << 23) if ext else -(1 << 21)):
            obs[1, c] = (rough + fcp * (2.0**-31 if ext else 2.0**-29)) * RANGE_MS_M / wl
        if msm in (5, 7) and rate != -8192 and frate != -(1 << 14):
            obs[2, c] = -(rate + frate * 1e-4) / wl
        if msm >= 4 and cnr != 0:
            obs[3, c] = cnr * (0.0625 if ext else 1.0)
        if msm >= 2:
            obs[4, c] = LOCK_DF407_S[lock] if ext else LOCK_DF402_S[lock]
            half[c] = hc != 0
    return obs, half


def pack_msm(msm, head, sat_raw, cell_raw, tail, tail_nbits):
    """Pack an MSM payload from its header and raw integer fields.

    Parameters
    ----------
    msm : int
        MSM level 1..7.
    head : tuple of 13 int
        As returned by :func:`unpack_msm`.
    sat_raw : ndarray of int32, (nsat, 4)
    cell_raw : ndarray of int32, (ncell, 6)
    tail : int
        Value of the bits after the last field (padding, normally 0).
    tail_nbits : int
        Number of such bits; with ``-1`` the payload is zero-padded to a whole byte.

    Returns
    -------
    bytes
        The payload.

    Raises
    ------
    ValueError
        Counts disagree with the masks, or ``msm`` outside 1..7.
    OverflowError
        A value does not fit its field.
    """
    if not 1 <= msm <= 7:
        raise ValueError(f"MSM level must be 1..7, got {msm}")
    sat_mask, sig_mask, cell_mask = head[10], head[11], head[12]
    nsat, nsig = _popcount(sat_mask), _popcount(sig_mask)
    if sat_raw.shape[0] != nsat or cell_raw.shape[0] != _popcount(cell_mask):
        raise ValueError("MSM arrays do not match the satellite/cell masks")
    if cell_mask >> (nsat * nsig):
        raise ValueError("MSM cell mask longer than nsat*nsig")
    fields = list(zip(head[:12], (12, 12, 30, 1, 3, 7, 2, 2, 1, 3, 64, 32), [False] * 12))
    fields.append((cell_mask, nsat * nsig, False))
    sat_cols = [(0, 8, False)] if msm >= 4 else []
    if msm in (5, 7):
        sat_cols.append((1, 4, False))
    sat_cols.append((2, 10, False))
    if msm in (5, 7):
        sat_cols.append((3, 14, True))
    for col, n, signed in sat_cols:
        fields.extend((int(v), n, signed) for v in sat_raw[:, col])
    for col, n, signed in CELL_FIELDS[msm]:
        fields.extend((int(v), n, signed) for v in cell_raw[:, col])
    acc, total = 0, 0
    for v, n, signed in fields:
        if n == 0:
            continue
        lo, hi = (-(1 << (n - 1)), 1 << (n - 1)) if signed else (0, 1 << n)
        if not lo <= v < hi:
            raise OverflowError(f"MSM field value {v} does not fit {n} bits")
        acc = (acc << n) | (v & ((1 << n) - 1))
        total += n
    if tail_nbits < 0:
        tail, tail_nbits = 0, (-total) % 8
    acc = (acc << tail_nbits) | (tail & ((1 << tail_nbits) - 1))
    total += tail_nbits
    if total % 8:
        raise ValueError("MSM payload is not a whole number of bytes")
    return acc.to_bytes(total // 8, "big")


# ---------------------------------------------------------------- encoding from observations

# Per MSM level that can be encoded from observables: fine pseudorange scale (ms) and
# bits, fine phase-range scale (ms) and bits (DF400/DF401, DF405/DF406).
_ENC_FINE = {4: (2.0**-24, 15, 2.0**-29, 22), 7: (2.0**-29, 20, 2.0**-31, 24)}
_LOCK_VALID = {4: LOCK_DF402_S, 7: LOCK_DF407_S[np.isfinite(LOCK_DF407_S)]}


def select_msm_cells(sat_u32, sig_u32, system_code, prn_shift, sig_lut, pr_m, cp_cyc):
    """MSM cells of one system among observation rows, sorted by satellite id then signal id.

    Parameters
    ----------
    sat_u32 : ndarray of uint32, (n, 3)
        Code points of each row's RINEX satellite id ('<U3' viewed as uint32).
    sig_u32 : ndarray of uint32, (n, 2)
        Code points of each row's RINEX signal code ('<U2' viewed as uint32).
    system_code : int
        Code point of the system letter (e.g. ``ord("G")``).
    prn_shift : int
        Subtracted from the satellite number to give the MSM satellite id (19 for SBAS).
    sig_lut : ndarray of int8, (16384,)
        RTCM signal id (0: none; values outside 1..63 are ignored) at ``128 * c0 + c1``
        of a signal code; code points above 127 are looked up as 127.
    pr_m, cp_cyc : ndarray of float64, (n,)
        A row needs a finite pseudorange or phase.

    Returns
    -------
    (prn, sid, row) : three ndarrays of int64, (ncell,), or None
        MSM satellite id 1..64, RTCM signal id and row index of each cell; of rows
        repeating a (satellite, signal) the first.  None when a row of the system
        with a known signal has a satellite number that is not one or two decimal
        digits (the caller then parses the names itself).

    Raises
    ------
    ValueError
        Arrays of the wrong shape.
    """
    n = len(sat_u32)
    if sat_u32.shape != (n, 3) or sig_u32.shape != (n, 2) or len(pr_m) != n or len(cp_cyc) != n:
        raise ValueError("select_msm_cells: arrays of inconsistent shapes")
    if len(sig_lut) < 16384:
        raise ValueError("select_msm_cells: sig_lut needs 16384 entries")
    cand = np.flatnonzero(sat_u32[:, 0] == system_code)
    gc = np.minimum(sig_u32[cand], 127).astype(np.int64)
    sid = sig_lut[gc[:, 0] * 128 + gc[:, 1]].astype(np.int64)
    ok = (sid > 0) & (sid < 64)
    cand, sid = cand[ok], sid[ok]
    c1, c2 = sat_u32[cand, 1].astype(np.int64), sat_u32[cand, 2].astype(np.int64)
    if not ((c1 >= 48) & (c1 <= 57) & (((c2 >= 48) & (c2 <= 57)) | (c2 == 0))).all():
        return None
    prn = np.where(c2 == 0, c1 - 48, (c1 - 48) * 10 + (c2 - 48)) - prn_shift
    keep = (prn >= 1) & (prn <= 64) & (np.isfinite(pr_m[cand]) | np.isfinite(cp_cyc[cand]))
    key = prn[keep] * 64 + sid[keep]
    cand = cand[keep]
    order = np.argsort(key, kind="stable")
    key, cand = key[order], cand[order].astype(np.int64)
    if len(key) > 1:
        first = np.ones(len(key), dtype=bool)
        np.not_equal(key[1:], key[:-1], out=first[1:])
        key, cand = key[first], cand[first]
    return key >> 6, key & 63, cand


def encode_msm_cells(
    msm, cell_sat, nsat, pr_m, cp_cyc, wl_m, dop_hz, cn0_dbhz, lock_s, lli, off_cyc, track
):
    """Raw MSM4/MSM7 satellite and cell fields of one message from observables.

    Parameters
    ----------
    msm : int
        4 or 7.
    cell_sat : ndarray of int32, (ncell,)
        Satellite index 0..nsat-1 of each cell.
    nsat : int
        Number of satellites.
    pr_m, cp_cyc, wl_m, dop_hz, cn0_dbhz, lock_s : ndarray of float64, (ncell,)
        Pseudorange (m), carrier phase (cycles), carrier wavelength (m), Doppler
        (Hz), CNR (dB-Hz), lock time (s); NaN where absent.
    lli : ndarray of uint8, (ncell,)
        RINEX LLI: bit 0 loss of lock (lock indicator sent as 0), bit 1
        half-cycle ambiguity (DF420).
    off_cyc : ndarray of float64, (ncell,)
        Whole cycles added so far to each cell's phase (0 when new).  Updated
        in place: where the shifted phase-range no longer fits the fine-phase
        field it becomes ``round(rough_range / wl - cp)``.
    track : bool
        Offsets are remembered between epochs: a re-shift resets the lock
        indicator only when the offset changes.  False: every shift resets it.

    Returns
    -------
    sat_raw : ndarray of int32, (nsat, 4)
        DF397, 0 (extended info: the caller's), DF398, DF399 (MSM7; 0 for MSM4).
        The rough range is the median of the satellite's finite pseudoranges (ms),
        else of its phase-ranges, rounded to 1/1024 ms; DF397 = 255 when neither
        exists or it is outside [0, 255) ms.  DF399 is the rounded median of the
        finite phase-range rates ``-dop_hz * wl_m`` (m/s), -8192 when none or
        outside +-8191.
    cell_raw : ndarray of int32, (ncell, 6)
        Fine pseudorange, fine phase-range, lock indicator, DF420, CNR, DF404,
        with each field's invalid marker where a value is NaN or does not fit.
    shifted : ndarray of bool, (ncell,)
        Cells whose offset entry is in use (finite phase and wavelength).

    Raises
    ------
    ValueError
        ``msm`` not 4 or 7, array lengths differ, or a satellite index is out of range.
    """
    if msm not in _ENC_FINE:
        raise ValueError(f"encode_msm_cells supports MSM4 and MSM7, not MSM{msm}")
    ncell = len(cell_sat)
    cols = (pr_m, cp_cyc, wl_m, dop_hz, cn0_dbhz, lock_s, lli, off_cyc)
    if any(len(a) != ncell for a in cols):
        raise ValueError("encode_msm_cells: arrays of different lengths")
    sat = np.asarray(cell_sat, dtype=np.intp)
    if ncell and (sat.min() < 0 or sat.max() >= nsat):
        raise ValueError("encode_msm_cells: satellite index out of range")
    pr_sc, pr_bits, cp_sc, cp_bits = _ENC_FINE[msm]
    pr_ms = pr_m / RANGE_MS_M
    cp = np.array(cp_cyc, dtype=np.float64)
    rough = _group_median(pr_ms, sat, nsat)
    rough = np.where(np.isfinite(rough), rough, _group_median(cp * wl_m / RANGE_MS_M, sat, nsat))
    ok = np.isfinite(rough) & (rough >= 0) & (rough < 255)
    rk = np.where(ok, np.round(np.where(ok, rough, 0.0) * 1024.0), 0).astype(np.int64)
    sat_raw = np.zeros((nsat, 4), dtype=np.int32)
    sat_raw[:, 0] = np.where(ok, rk // 1024, 255)
    sat_raw[:, 2] = np.where(ok, rk % 1024, 0)
    rough_c = (rk / 1024.0)[sat]
    cell_raw = np.zeros((ncell, 6), dtype=np.int32)
    cell_raw[:, 0] = _fine_field(pr_ms - rough_c, pr_sc, pr_bits)
    shifted = np.isfinite(cp) & np.isfinite(wl_m)
    reset = _shift_cycles(cp, wl_m, rough_c, off_cyc, shifted, cp_sc, cp_bits, track)
    cell_raw[:, 1] = _fine_field(cp * wl_m / RANGE_MS_M - rough_c, cp_sc, cp_bits)
    cell_raw[:, 2] = np.where(
        reset | ((lli & 1) != 0), 0, _lock_indicator(lock_s, _LOCK_VALID[msm])
    )
    cell_raw[:, 3] = (lli & 2) != 0
    scale, top = (16.0, 1023) if msm == 7 else (1.0, 63)
    fin = np.isfinite(cn0_dbhz)
    cell_raw[:, 4] = np.where(
        fin, np.clip(np.round(np.where(fin, cn0_dbhz, 0.0) * scale), 1, top), 0
    )
    if msm == 7:
        _rate_fields(sat_raw, cell_raw, sat, -dop_hz * wl_m)
    return sat_raw, cell_raw, shifted


def _group_median(v, grp, n):
    """Median of the finite ``v`` of each group 0..n-1 (NaN where a group has none)."""
    fin = np.isfinite(v)
    g, x = grp[fin], v[fin]
    order = np.lexsort((x, g))
    x = x[order]
    cnt = np.bincount(g, minlength=n)
    lo = np.cumsum(cnt) - cnt + (cnt - 1) // 2
    hi = lo + (1 - cnt % 2)
    has = cnt > 0
    lo, hi = np.where(has, lo, 0), np.where(has, hi, 0)
    out = np.full(n, np.nan)
    if len(x):
        # np.median of two middle values is their mean, (a + b) / 2.
        out = np.where(has, np.where(cnt % 2 == 1, x[lo], (x[lo] + x[hi]) / 2.0), np.nan)
    return out


def _fine_field(delta, scale, bits):
    """Fine field value, or the invalid marker -2^(bits-1) when NaN/infinite or out of range."""
    lim = (1 << (bits - 1)) - 1
    with np.errstate(invalid="ignore", over="ignore"):
        v = np.round(delta / scale)
        bad = ~np.isfinite(v) | (np.abs(v) > lim)
    return np.where(bad, -(lim + 1), np.where(bad, 0, v)).astype(np.int64)


def _shift_cycles(cp, wl, rough_ms, off, use, cp_sc, cp_bits, track):
    """Add the integer offsets to ``cp`` in place, re-deriving those whose phase-range is too far."""
    lim_ms = ((1 << (cp_bits - 1)) - 2) * cp_sc
    with np.errstate(invalid="ignore"):
        far = use & (np.abs((cp + off) * wl / RANGE_MS_M - rough_ms) > lim_ms)
        new = np.round(rough_ms * RANGE_MS_M / wl - cp)
    reset = far & ((not track) | (new != off))
    off[far] = new[far]
    cp[use] += off[use]
    return reset


def _lock_indicator(lock_s, table):
    """Largest indicator whose minimum lock time does not exceed ``lock_s`` (NaN -> 0)."""
    x = np.where(np.isnan(lock_s), 0.0, lock_s) + 1e-9
    return np.clip(np.searchsorted(table, x, side="right") - 1, 0, len(table) - 1)


def _rate_fields(sat_raw, cell_raw, sat, rate_mps):
    """DF399 rough rate (rounded median per satellite, m/s) and DF404 fine rates (0.0001 m/s)."""
    med = np.round(_group_median(rate_mps, sat, sat_raw.shape[0]))
    ok = np.isfinite(med) & (np.abs(med) <= 8191)
    sat_raw[:, 3] = np.where(ok, np.where(ok, med, 0), -8192)
    rough_c = sat_raw[sat, 3].astype(float)
    with np.errstate(invalid="ignore"):
        fine = np.round((rate_mps - rough_c) / 1e-4)
        bad = ~np.isfinite(fine) | (np.abs(fine) > 16383) | (sat_raw[sat, 3] == -8192)
    cell_raw[:, 5] = np.where(bad, -16384, np.where(bad, 0, fine)).astype(np.int64)
