"""RINEX observation body parser: text records -> row arrays.

Pure-Python twin of ``ext/rinex_obs.pyx``; the two have the same function,
signature, dtypes and exceptions.  This module is the specification.

Body layout (RINEX 2.11 §5 Table A3; RINEX 3.05 §5.2 Table A3; RINEX 4.00 same as 3.05):

* RINEX 2 epoch record: ``(1X,I2.2,4(1X,I2),F11.7,2X,I1,I3,12(A1,I2),F12.9)``, satellite
  list continued on following lines from column 33; then per satellite
  ``ceil(n_types / 5)`` lines of ``5(F14.3,I1,I1)``.
* RINEX 3/4 epoch record: ``('>',1X,I4,4(1X,I2.2),F11.7,2X,I1,I3,6X,F15.12)``; then one line
  per satellite: ``(A1,I2.2,m(F14.3,I1,I1))``.
* Epoch flags 0/1: observations; 2-5: events followed by ``n`` special records
  (time may be blank); 6: cycle-slip records laid out like observations (skipped).

Numbers are parsed from the bytes: optional spaces, optional ``-``, digits with
at most one ``.``, optional spaces.  The value is ``mantissa / 10**decimals``,
which is the correctly rounded double of the decimal text, i.e. exactly what
``float()`` gives.  Blank fields are NaN; blank LLI/SSI digits are 0.

Rows: one per (epoch, satellite, signal) with at least one non-blank field,
sorted by satellite code within the epoch (a stable sort: repeated satellites
keep file order), and within a satellite in local signal order (``trow``).
Satellite ids are checked in file order first; observation fields are then
read in satellite order, so a field error is reported for the first bad
satellite in that order.
"""

from __future__ import annotations

from math import isnan

import numpy as np

from vngeonet.errors import RINEXError

NAN = float("nan")
_ALLOWED = b" -.0123456789"
_DAYS_CUM = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
MAX_ROWS_PER_SAT = 256


def days_from_1980(y: int, m: int, d: int) -> int:
    """Days from 1980-01-06 (GPS epoch) to the civil date (proleptic Gregorian)."""
    yy = y - 1 if m <= 2 else y
    era = yy // 400
    yoe = yy - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 - 3657


def _num(s: bytes, n: int) -> float:
    """A fixed-width number field (see module doc); NaN when blank."""
    t = s.strip(b" ")
    if not t:
        return NAN
    if t.translate(None, _ALLOWED):
        raise RINEXError(f"bad number {t.decode('ascii', 'replace')!r}", line=n)
    try:
        return float(t)
    except ValueError:
        raise RINEXError(f"bad number {t.decode('ascii', 'replace')!r}", line=n) from None


def _int(s: bytes, n: int, what: str) -> int:
    """An integer field; -1 when blank."""
    t = s.strip(b" ")
    if not t:
        return -1
    if not t.isdigit():
        raise RINEXError(f"bad {what} {t.decode('ascii', 'replace')!r}", line=n)
    return int(t)


def _digit(c: int, n: int) -> int:
    if c == 32:
        return 0
    if 48 <= c <= 57:
        return c - 48
    raise RINEXError(f"bad LLI/SSI character {chr(c)!r}", line=n)


def _epoch_time(line: bytes, n: int, major: int) -> float:
    """Seconds since 1980-01-06 00:00 of an epoch record, in the file's time scale; NaN if blank."""
    if major == 2:
        cols = ((1, 3), (4, 6), (7, 9), (10, 12), (13, 15))
        sec_f = line[15:26]
    else:
        cols = ((2, 6), (7, 9), (10, 12), (13, 15), (16, 18))
        sec_f = line[18:29]
    parts = [_int(line[a:b], n, "epoch time") for a, b in cols]
    sec = _num(sec_f, n)
    if all(p < 0 for p in parts) and isnan(sec):
        return NAN
    y, mo, d, h, mi = parts
    if major == 2 and 0 <= y < 100:
        y += 2000 if y < 80 else 1900
    if min(parts) < 0 or isnan(sec) or not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 24 and mi <= 59) \
            or not 0.0 <= sec < 61.0 or y < 1980:
        raise RINEXError(f"bad epoch time {line[: 29 if major > 2 else 26].decode('ascii', 'replace')!r}", line=n)
    return float(days_from_1980(y, mo, d) * 86400 + h * 3600 + mi * 60) + sec


class _Out:
    """Growing output lists."""

    def __init__(self):
        self.ep_t, self.ep_flag, self.ep_clk = [], [], []
        self.r_ep, self.r_sat, self.r_sig = [], [], []
        self.pr, self.cp, self.dop, self.cn0, self.lli, self.ssi = [], [], [], [], [], []
        self.ev_flag, self.ev_t, self.ev_line, self.ev_start, self.ev_end = [], [], [], [], []


def _sat_code(line: bytes, a: int, n: int, sys_lut, major: int) -> tuple[int, int]:
    """(system index, satellite code ord(letter)*100+prn) of the 3-char id at ``a``."""
    c = line[a] if a < len(line) else 32
    if c == 32 and major == 2:
        c = 71  # blank system = GPS (RINEX 2.11 §5.1)
    s = int(sys_lut[c]) - 1 if c < 128 else -1
    p = line[a + 1 : a + 3]
    if s < 0 or len(p) < 2 or not (p[0] == 32 or 48 <= p[0] <= 57) or not 48 <= p[1] <= 57:
        raise RINEXError(f"bad or undeclared satellite {line[a:a + 3].decode('ascii', 'replace')!r}", line=n)
    prn = (p[0] - 48 if p[0] != 32 else 0) * 10 + p[1] - 48
    return s, c * 100 + prn


def _sat_fields(line_fields, n_list, s, code, ep, out, ntypes, trow, tkind):
    """Parse the fields of one satellite; ``line_fields`` yields (line, first col, n fields, line no)."""
    nt = int(ntypes[s])
    vals = {}
    j = 0
    for line, col, count, n in line_fields:
        L = len(line)
        for _ in range(count):
            if j >= nt:
                break
            a = col
            col += 16
            if a < L:
                v = _num(line[a : a + 14], n)
                lli = _digit(line[a + 14], n) if a + 14 < L else 0
                ssi = _digit(line[a + 15], n) if a + 15 < L else 0
                r = int(trow[s, j])
                if r >= 0 and not isnan(v):
                    vals.setdefault(r, [NAN, NAN, NAN, NAN, 0, 0])
                    k = int(tkind[s, j])
                    vals[r][k] = v
                    if k == 1:
                        vals[r][4], vals[r][5] = lli, ssi
            j += 1
    for r in sorted(vals):
        x = vals[r]
        out.r_ep.append(ep)
        out.r_sat.append(code)
        out.r_sig.append(s * MAX_ROWS_PER_SAT + r)
        out.pr.append(x[0])
        out.cp.append(x[1])
        out.dop.append(x[2])
        out.cn0.append(x[3])
        out.lli.append(x[4])
        out.ssi.append(x[5])


def _split_lines(buf, pos: int, end: int) -> tuple[list[bytes], list[int]]:
    data = bytes(buf[pos:end])
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    offs = [pos]
    for x in raw:
        offs.append(offs[-1] + len(x) + 1)
    offs[-1] = min(offs[-1], end)
    return [x[:-1] if x.endswith(b"\r") else x for x in raw], offs


def _event(out, flag, t, n, start, stop):
    out.ev_flag.append(flag)
    out.ev_t.append(t)
    out.ev_line.append(n)
    out.ev_start.append(start)
    out.ev_end.append(stop)


def _epoch_head(line: bytes, n: int, major: int) -> tuple[int, int]:
    """(flag, count) of an epoch record."""
    fa, ca = (28, 29) if major == 2 else (31, 32)
    flag = _int(line[fa : fa + 1], n, "epoch flag")
    count = _int(line[ca : ca + 3], n, "satellite count")
    if count < 0:
        raise RINEXError("epoch record without satellite/record count", line=n)
    if flag > 6:
        raise RINEXError(f"bad epoch flag {flag}", line=n)
    return max(flag, 0), count


def _v3_epoch(lines, offs, i, n, line0, out, sys_lut, ntypes, trow, tkind) -> int:
    line = lines[i]
    if line[0] != 62:
        raise RINEXError("expected an epoch record starting with '>'", line=n)
    flag, count = _epoch_head(line, n, 3)
    t = _epoch_time(line, n, 3)
    if i + count >= len(lines):
        raise RINEXError(f"file ends inside the epoch (announces {count} records)", line=n)
    if 2 <= flag <= 5 or flag == 6:
        _event(out, flag, t, n, offs[i + 1], offs[i + 1 + count])
        return i + 1 + count
    if isnan(t):
        raise RINEXError("epoch record without time", line=n)
    ep = len(out.ep_t)
    out.ep_t.append(t)
    out.ep_flag.append(flag)
    out.ep_clk.append(_num(line[41:56], n))
    sats = []
    for k in range(count):
        sl, sn = lines[i + 1 + k], n + 1 + k
        if sl[:1] == b">":
            raise RINEXError(f"epoch at line {n} announces {count} satellites, found {k}", line=sn)
        s, code = _sat_code(sl, 0, sn, sys_lut, 3)
        sats.append((code, s, sl, sn))
    for code, s, sl, sn in sorted(sats, key=lambda x: x[0]):
        _sat_fields([(sl, 3, int(ntypes[s]), sn)], 1, s, code, ep, out, ntypes, trow, tkind)
    return i + 1 + count


def _v2_epoch(lines, offs, i, n, line0, out, sys_lut, ntypes, trow, tkind) -> int:
    line = lines[i]
    flag, count = _epoch_head(line, n, 2)
    t = _epoch_time(line, n, 2)
    if 2 <= flag <= 5:
        if i + count >= len(lines):
            raise RINEXError(f"file ends inside the event (announces {count} records)", line=n)
        _event(out, flag, t, n, offs[i + 1], offs[i + 1 + count])
        return i + 1 + count
    if isnan(t):
        raise RINEXError("epoch record without time", line=n)
    n_list = (count + 11) // 12
    sats = []
    for k in range(count):
        li = i + k // 12
        if li >= len(lines):
            raise RINEXError(f"file ends inside the satellite list (announces {count})", line=n)
        sats.append((_sat_code(lines[li], 32 + 3 * (k % 12), line0 + li, sys_lut, 2), 0))
    j = i + max(n_list, 1)
    blocks = []
    for (s, code), _ in sats:
        per = (int(ntypes[s]) + 4) // 5
        if j + per > len(lines):
            raise RINEXError(f"file ends inside the epoch (announces {count} satellites)", line=n)
        blocks.append((s, code, j, per))
        j += per
    if flag == 6:
        _event(out, flag, t, n, offs[i + max(n_list, 1)], offs[j])
        return j
    ep = len(out.ep_t)
    out.ep_t.append(t)
    out.ep_flag.append(flag)
    out.ep_clk.append(_num(line[68:80], n))
    for s, code, a, per in sorted(blocks, key=lambda x: x[1]):
        fields = [(lines[a + q], 0, 5, line0 + a + q) for q in range(per)]
        _sat_fields(fields, per, s, code, ep, out, ntypes, trow, tkind)
    return j


def parse_body(buf, pos, end, line0, major, sys_lut, ntypes, trow, tkind):
    """Parse the observation records in ``buf[pos:end]``.

    Parameters
    ----------
    buf : bytes
        The whole file text.
    pos, end : int
        Byte range of the body (``pos`` at the start of a line).
    line0 : int
        1-based line number of the line starting at ``pos``.
    major : int
        2 for RINEX 2, 3 for RINEX 3 and 4.
    sys_lut : ndarray of uint8, shape (128,)
        ASCII code of a system letter -> system index + 1 (0: undeclared).
    ntypes : ndarray of int16, shape (n_sys,)
        Number of observation types per system.
    trow : ndarray of int16, shape (n_sys, max_types)
        Local signal row (0..255) of each type, -1 to ignore the type.
    tkind : ndarray of int8, shape (n_sys, max_types)
        Column of each type: 0 pseudorange, 1 phase, 2 Doppler, 3 SNR.

    Returns
    -------
    tuple of ndarrays
        ``ep_time_s`` f8 (seconds since 1980-01-06 in the file's time scale),
        ``ep_flag`` u1, ``ep_clk_s`` f8 (NaN when blank); per row ``row_epoch`` i4,
        ``row_sat`` i2 (``ord(letter) * 100 + prn``), ``row_sig`` i2
        (``system * 256 + local row``), ``pr`` f8, ``cp`` f8, ``dop`` f8, ``cn0`` f8,
        ``lli`` u1, ``ssi`` u1 (of the phase field); per event (flags 2-6)
        ``ev_flag`` u1, ``ev_time_s`` f8 (NaN when blank), ``ev_line`` i4,
        ``ev_start`` i8, ``ev_end`` i8 (byte range of its records).

    Raises
    ------
    RINEXError
        Malformed record; ``line`` is set (``source`` is left to the caller).
    """
    lines, offs = _split_lines(buf, pos, end)
    out = _Out()
    step = _v2_epoch if major == 2 else _v3_epoch
    i = 0
    while i < len(lines):
        if not lines[i].strip(b" "):
            i += 1
            continue
        i = step(lines, offs, i, line0 + i, line0, out, sys_lut, ntypes, trow, tkind)
    f8, u1 = np.float64, np.uint8
    return (
        np.array(out.ep_t, f8), np.array(out.ep_flag, u1), np.array(out.ep_clk, f8),
        np.array(out.r_ep, np.int32), np.array(out.r_sat, np.int16), np.array(out.r_sig, np.int16),
        np.array(out.pr, f8), np.array(out.cp, f8), np.array(out.dop, f8), np.array(out.cn0, f8),
        np.array(out.lli, u1), np.array(out.ssi, u1),
        np.array(out.ev_flag, u1), np.array(out.ev_t, f8), np.array(out.ev_line, np.int32),
        np.array(out.ev_start, np.int64), np.array(out.ev_end, np.int64),
    )
