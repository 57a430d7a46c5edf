"""RINEX observation records of many epochs in one call (numpy twin of ``ext/rinex_fmt.pyx``).

Three functions serve the batch converter: :func:`format_obs_records` (the
data records), :func:`lock_slips` (loss-of-lock indicators from lock times)
and :func:`join_arrays` (one array from the many small per-message arrays).

:func:`format_obs_records` turns the rows of many epochs (one row per
satellite and signal) into the data records of RINEX 3.05 / 4.00: an epoch
line per epoch, then one line per satellite with one 16-character field per
observation type: the value as Fortran F14.3, the loss-of-lock indicator
(phase fields only) and a blank signal-strength indicator.  Trailing blanks
are cut.

F14.3 text: the integer and the fractional part are rounded separately (the
fraction of a float64 is exact), ``fraction = rint((|v| - floor(|v|)) * 1000)``
with a carry into the integer part; this equals C ``printf("%14.3f")`` except,
rarely, at exact binary ties, by one unit of the last digit.  Values that are
NaN or outside ``-999999999.999 < v < 9999999999.999`` are left blank.

Layout tables (built once per header by :func:`vngeonet.rinex.writer.obs_layout`):

``sys_slot`` int16 (128,)
    System letter (code point) -> slot in the header's observation types, -1 if absent.
``sys_rank`` int16 (128,)
    Sort rank of each system letter (satellite lines are ordered by rank, then
    by the satellite id's characters).
``ncol`` int32 (nsys,)
    Number of observation types of each slot.
``col_table`` int16 (nsys, 4, 16384)
    Column of each (slot, kind C/L/D/S, signal ``ord(c0) * 128 + ord(c1)``), -1 if none.

References
----------
RINEX 3.05 §5.1, Table A3 (observation data record); RINEX 4.00 Table A4.
"""

from __future__ import annotations

import numpy as np

_DIGITS3 = np.array([list(f"{i:03d}".encode()) for i in range(1000)], dtype=np.uint8)  # (1000, 3)
_POW10 = 10 ** np.arange(1, 10, dtype=np.int64)
_LOW, _HIGH = -999999999.999, 9999999999.999


def f14_3(v: np.ndarray) -> np.ndarray:
    """Fortran F14.3 text of finite values (-1e9 < v < 1e10) as a (n, 14) uint8 array.

    See the module notes for the rounding rule.
    """
    v = np.asarray(v, dtype=np.float64)
    a = np.abs(v)
    ip = np.floor(a)
    fr = np.rint((a - ip) * 1000.0)
    carry = fr >= 1000.0
    ip = (ip + carry).astype(np.int64)
    fr = (fr - 1000.0 * carry).astype(np.int64)
    out = np.empty((len(v), 14), dtype=np.uint8)
    out[:, 0] = 48 + ip // 1_000_000_000
    out[:, 1:4] = _DIGITS3[(ip // 1_000_000) % 1000]
    out[:, 4:7] = _DIGITS3[(ip // 1000) % 1000]
    out[:, 7:10] = _DIGITS3[ip % 1000]
    out[:, 10] = 46  # "."
    out[:, 11:14] = _DIGITS3[fr]
    lead = 9 - np.searchsorted(_POW10, ip, side="right")
    out[:, :10][np.arange(10)[None, :] < lead[:, None]] = 32
    rows = np.nonzero(np.signbit(v))[0]
    out[rows, lead[rows] - 1] = 45  # "-"
    return out


def _count_text(n: int) -> bytes:
    return b"%3d\n" % n


def format_obs_records(heads, ep_row0, sat, sig, pr_m, cp_cyc, dop_hz, cn0_dbhz, lli,
                       sys_slot, sys_rank, ncol, col_table) -> bytes:
    """Data records of many epochs (RINEX 3.05 Table A3) as ASCII bytes.

    Parameters
    ----------
    heads : list of bytes, (n_epoch,)
        Each epoch line up to and including its flag, e.g. ``b"> 2024 08 18 21 14 25.0000000  0"``;
        the number of satellite lines and a newline are appended.
    ep_row0 : int64 (n_epoch + 1,)
        Rows of epoch ``k`` are ``ep_row0[k]:ep_row0[k + 1]``.
    sat : uint32 (n, 3)
        Satellite ids as code points (a ``'<U3'`` array viewed as uint32).
    sig : uint32 (n, 2)
        Signal codes as code points (``'<U2'`` viewed as uint32).
    pr_m, cp_cyc, dop_hz, cn0_dbhz : float64 (n,)
        Observables of the C, L, D, S fields (NaN = blank).
    lli : uint8 (n,)
        Loss-of-lock indicator written after the phase (1-9; 0 or >9 = blank).
    sys_slot, sys_rank, ncol, col_table
        Layout tables (module notes).

    Returns
    -------
    bytes
        The records.  Within an epoch, satellite lines are ordered by
        (rank, satellite id); a row of a system not in the layout, or with a
        code point >= 128 in its satellite id, is left out.  When two rows
        fill the same field, the later finite one wins.
    """
    ep_row0 = np.asarray(ep_row0, dtype=np.int64)
    n_ep = len(ep_row0) - 1
    n = int(ep_row0[-1])
    sat = np.asarray(sat, dtype=np.uint32)[:n].astype(np.int64)
    sig = np.asarray(sig, dtype=np.uint32)[:n].astype(np.int64)
    ep = np.repeat(np.arange(n_ep, dtype=np.int64), np.diff(ep_row0))
    s0 = np.minimum(sat[:, 0], 127)
    slot = np.where(sat.max(axis=1, initial=0) < 128, np.asarray(sys_slot)[s0], -1) if n else np.zeros(0, int)
    keep = np.nonzero(slot >= 0)[0]
    line_key = (ep[keep] << 32) | (np.asarray(sys_rank, dtype=np.int64)[s0[keep]] << 21) | \
        (sat[keep, 0] << 14) | (sat[keep, 1] << 7) | sat[keep, 2]
    order = np.argsort(line_key, kind="stable")
    rows = keep[order]
    lk = line_key[order]
    new_line = np.ones(len(lk), dtype=bool)
    new_line[1:] = lk[1:] != lk[:-1]
    line = np.cumsum(new_line) - 1
    first = rows[new_line]
    nlines = len(first)
    width = int(max(np.max(ncol, initial=0), 1))
    cells = np.full((nlines, width, 16), 32, dtype=np.uint8)
    g = np.where(sig.max(axis=1, initial=0) < 128, sig[:, 0] * 128 + sig[:, 1], -1) if n else np.zeros(0, int)
    col_table = np.asarray(col_table)
    for kind, vals in enumerate((pr_m, cp_cyc, dop_hz, cn0_dbhz)):
        v = np.asarray(vals, dtype=np.float64)[rows]
        gr = g[rows]
        col = np.where(gr >= 0, col_table[slot[rows], kind, np.maximum(gr, 0)], -1) if len(rows) else gr
        with np.errstate(invalid="ignore"):
            ok = (col >= 0) & (v > _LOW) & (v < _HIGH)
        idx = np.nonzero(ok)[0]
        # the later row wins on a shared field: keep the last of each (line, column)
        fkey = line[idx] * width + col[idx]
        rev = np.unique(fkey[::-1], return_index=True)[1]
        idx = idx[len(idx) - 1 - rev]
        cells[line[idx], col[idx], :14] = f14_3(v[idx])
        if kind == 1:
            f = np.asarray(lli, dtype=np.int64)[rows[idx]]
            cells[line[idx], col[idx], 14] = np.where((f > 0) & (f < 10), 48 + f, 32)
    return _assemble(heads, n_ep, ep[first], sat[first], cells)


def _assemble(heads, n_ep: int, line_ep, line_sat, cells) -> bytes:
    """Epoch lines + satellite lines, each cut after its last non-blank field."""
    nlines = len(cells)
    filled = cells[:, :, 13] != 32
    nf = filled.shape[1]
    lastf = (nf - 1) - np.argmax(filled[:, ::-1], axis=1)
    has_lli = cells[np.arange(nlines), lastf, 14] != 32
    length = np.where(filled.any(axis=1), 3 + 16 * lastf + 14 + has_lli, 3).tolist()
    width = 3 + cells.shape[1] * 16
    buf = np.empty((nlines, width), dtype=np.uint8)
    buf[:, :3] = line_sat
    buf[:, 3:] = cells.reshape(nlines, width - 3)
    text = buf.tobytes()
    per_epoch = np.bincount(line_ep, minlength=n_ep).tolist()
    out = []
    j = 0
    for k in range(n_ep):
        n = per_epoch[k]
        out.append(heads[k])
        out.append(_count_text(n))
        for i in range(j, j + n):
            out.append(text[i * width:i * width + length[i]])
            out.append(b"\n")
        j += n
    return b"".join(out)


def lock_slips(ep_row0, t_ep, sat, sig, lock_s) -> np.ndarray:
    """Loss-of-lock flags from lock times: (n,) uint8, 1 where a slip may have happened.

    Each row is compared with the previous row of the same (satellite, signal)
    in row order (epochs in time order): a slip when its lock time ``lock`` is
    shorter than the time ``dt`` since that row (minus 1 us), or decreased
    (by more than 1 us) while ``lock < dt + previous lock``.  NaN lock times
    never flag.  RINEX 3.05 §5.3 (LLI bit 0).

    Parameters
    ----------
    ep_row0 : int64 (n_epoch + 1,)
        Row offsets of the epochs.
    t_ep : float64 (n_epoch,)
        Epoch times, s (any origin).
    sat, sig : uint32 (n, 3), (n, 2)
        Satellite and signal code points.
    lock_s : float64 (n,)
        Lock times, s.
    """
    ep_row0 = np.asarray(ep_row0, dtype=np.int64)
    n = int(ep_row0[-1])
    sat = np.asarray(sat, dtype=np.uint32)[:n].astype(np.int64)
    sig = np.asarray(sig, dtype=np.uint32)[:n].astype(np.int64)
    t = np.repeat(np.asarray(t_ep, dtype=np.float64)[:len(ep_row0) - 1], np.diff(ep_row0))
    key = (((sat[:, 0] << 14) | (sat[:, 1] << 7) | sat[:, 2]) << 14) | (((sig[:, 0] << 7) | sig[:, 1]) & 0x3FFF)
    lock = np.asarray(lock_s, dtype=np.float64)[:n]
    order = np.argsort(key, kind="stable")
    k, tt, lk = key[order], t[order], lock[order]
    same = np.zeros(n, dtype=bool)
    same[1:] = k[1:] == k[:-1]
    dt = tt - np.roll(tt, 1)
    prev_lock = np.roll(lk, 1)
    with np.errstate(invalid="ignore"):
        slip = (lk < dt - 1e-6) | ((lk < prev_lock - 1e-6) & (lk < dt + prev_lock))
    slip &= same & np.isfinite(lk)
    out = np.zeros(n, dtype=np.uint8)
    out[order] = slip
    return out


def join_arrays(arrays: list, dtype, n: int) -> np.ndarray:
    """Concatenation of 1-D contiguous arrays that all have ``dtype``, ``n`` elements in all.

    Empty arrays are skipped whatever their shape or dtype.

    Raises
    ------
    ValueError
        An array is not a 1-D contiguous ndarray of ``dtype``, or the total is not ``n``.
    """
    dt = np.dtype(dtype)
    for a in arrays:
        ok = isinstance(a, np.ndarray) and (a.size == 0 or (a.ndim == 1 and a.flags.c_contiguous and a.dtype == dt))
        if not ok:
            raise ValueError("join_arrays: every array must be a 1-D, contiguous ndarray of the dtype asked for")
    if sum(len(a) for a in arrays) != n:
        raise ValueError("join_arrays: the arrays do not hold n elements")
    full = [a for a in arrays if a.size]
    return np.concatenate(full) if full else np.zeros(0, dt)
