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


# --- Compact RINEX (Hatanaka) expansion -----------------------------------------------------
#
# Compact RINEX 1.0 (RINEX 2) and 3.0 (RINEX 3/4), Y. Hatanaka, Bull. GSI 55 (2008):
# the header is the RINEX header behind two CRINEX lines; each epoch record is a
# text difference to the previous one ("&" = becomes blank, " " = unchanged; a record
# starting with "&" (CRX 1) or ">" (CRX 3) restarts from nothing); then one line
# with the receiver clock offset and one line per satellite holding, per type, a
# blank (no data), "k&v" (new arc of difference order k, value v) or the k-th
# order difference, in units of the last digit; then the LLI/SSI characters as a
# text difference.  Values are rebuilt with integer sums and printed as RINEX
# F14.3 (F12.9/F15.12 for the clock).

_CRX_CLOCK_DIGITS = {2: 9, 3: 12}
CRX_MAX_SATS = 300  # per epoch
CRX_MAX_TYPES = 200  # per satellite


def _crx_err(msg: str, n: int) -> RINEXError:
    return RINEXError(f"Compact RINEX: {msg}", line=n)


def _repair(old: bytes, diff: bytes) -> bytes:
    """Apply a CRX text difference ``diff`` to ``old``."""
    n = min(len(old), len(diff))
    out = bytearray(old)
    for k in range(n):
        c = diff[k]
        if c != 32:
            out[k] = 32 if c == 38 else c
    if len(diff) > n:
        out += diff[n:].replace(b"&", b" ")
    return bytes(out)


def _crx_int(text: bytes, n: int) -> int:
    digits = text[1:] if text[:1] == b"-" else text
    if not digits or not digits.isdigit() or len(digits) > 18:
        raise _crx_err("bad difference", n)
    return int(text)


def _fmt_data(v: int, n: int) -> bytes:
    """RINEX F14.3 text of ``v`` thousandths as crx2rnx prints it (no 0 before the point)."""
    a = -v if v < 0 else v
    ip = a // 1000
    s = ("-" if v < 0 else "") + (str(ip) if ip else "") + "." + f"{a % 1000:03d}"
    if len(s) > 14:
        raise _crx_err("value out of the RINEX F14.3 range", n)
    return s.rjust(14).encode()


def _fmt_clock(v: int, digits: int, n: int) -> bytes:
    a = -v if v < 0 else v
    scale = 10**digits
    ip = a // scale
    s = ("-" if v < 0 else "") + (str(ip) if ip else "")
    if len(s) > 2:
        raise _crx_err("clock offset out of range", n)
    return (s.rjust(2) + "." + f"{a % scale:0{digits}d}").encode()


def _rebuild(state: list, prev: list | None) -> int:
    """Advance one arc (``[arc_order, order, d0, d1, ...]``) with the previous epoch's arc."""
    arc, order = state[0], state[1]
    d = state[2:]
    if order < arc:
        order += 1
        for k in range(order):
            d[k + 1] = d[k] + prev[2 + k]
    else:
        for k in range(order):
            d[k + 1] = d[k] + prev[3 + k]
    state[1] = order
    state[2:] = d
    return d[order]


class _CRX:
    """Decoder state for one Compact RINEX file."""

    def __init__(self, crx_ver: int, rnx_ver: int):
        self.crx_ver, self.rnx_ver = crx_ver, rnx_ver
        self.ntype = 0
        self.ntype_sys: dict[int, int] = {}
        self.line = b""
        self.sats: list[bytes] = []
        self.arcs: list[list] = []
        self.flags: list[bytes] = []
        self.clk: list = [0, -1] + [0] * 6

    def types(self, line: bytes) -> None:
        label = line[60:80]
        if label.startswith(b"# / TYPES OF OBSERV") and line[5:6] != b" ":
            self.ntype = _atoi(line[0:6])
        elif label.startswith(b"SYS / # / OBS TYPES") and line[0:1] != b" " and line[0] < 128:
            self.ntype_sys[line[0]] = _atoi(line[3:6])


def _chop(b: bytes) -> bytes:
    s = b.rstrip(b" ")
    return s if s or not b else b" "


def _atoi(b: bytes) -> int:
    s = b.lstrip(b" ")
    k = 0
    while k < len(s) and 48 <= s[k] <= 57:
        k += 1
    return int(s[:k]) if k else 0


def _crx_event(st: _CRX, lines: list, i: int, dl: bytes, out: list) -> int:
    """Copy event records (flags 2-5); returns the index of the next (initialising) epoch line."""
    ev = 28 if st.rnx_ver == 2 else 31
    top_from, top_to = (b"&", b" ") if st.rnx_ver == 2 else (b">", b">")
    while True:
        dl = _chop(dl)
        out.append(dl)
        if len(dl) > 29:
            for _ in range(_atoi(dl[ev + 1 :])):
                i += 1
                if i >= len(lines):
                    raise _crx_err("file ends inside event records", i)
                rec = _chop(lines[i])
                out.append(rec)
                st.types(rec)
        i += 1
        while i < len(lines) and st.crx_ver == 3 and lines[i][:1] == b"&":
            i += 1
        if i >= len(lines):
            return i
        dl = lines[i]
        if dl[:1] != top_from or len(dl) < 29 or not 48 <= dl[ev] <= 57:
            raise _crx_err("the epoch after an event is not initialised", i + 1)
        if dl[ev] in (48, 49):
            return i
        dl = top_to + dl[1:]


def _crx_fields(st: _CRX, dl: bytes, nt: int, prev: list | None, n: int) -> tuple[list, bytes]:
    parts = dl.split(b" ", nt)
    dflag = parts[nt] if len(parts) > nt else b""
    arcs = []
    for j in range(nt):
        f = parts[j] if j < len(parts) else b""
        if not f:
            arcs.append([-1, -1, 0, 0, 0, 0, 0, 0])
            continue
        if f[1:2] == b"&":
            if not 48 <= f[0] <= 53:
                raise _crx_err("bad arc order", n)
            arcs.append([f[0] - 48, -1, _crx_int(f[2:], n), 0, 0, 0, 0, 0])
            continue
        if prev is None:
            raise _crx_err("new satellite without arc initialisation", n)
        if prev[j][0] < 0:
            raise _crx_err("data arc without initialisation", n)
        arcs.append([prev[j][0], prev[j][1], _crx_int(f, n), 0, 0, 0, 0, 0])
    return arcs, dflag


def _crx_clock(st: _CRX, cl: bytes, n: int) -> bytes | None:
    """Rebuild the clock offset from its line; returns its text or None (no clock)."""
    prev = st.clk
    if not cl:
        st.clk = [prev[0], -1] + prev[2:]
        return None
    cur = list(prev)
    if cl[1:2] == b"&":
        if not 48 <= cl[0] <= 53:
            raise _crx_err("bad clock arc order", n)
        cur[0], cur[1] = cl[0] - 48, -1
        cl = cl[2:]
    cur[2] = _crx_int(cl, n)
    v = _rebuild(cur, prev)
    st.clk = cur
    return _fmt_clock(v, _CRX_CLOCK_DIGITS[st.rnx_ver], n)


def _crx_sat_lines(st, sat, nt, arcs, prev_arcs, fl, n) -> list:
    """Output line(s) of one satellite; updates ``arcs`` and returns [lines..., flags]."""
    cells = []
    for j in range(nt):
        a = arcs[j]
        c1 = fl[2 * j : 2 * j + 1]
        c2 = fl[2 * j + 1 : 2 * j + 2]
        if a[0] >= 0:
            v = _rebuild(a, prev_arcs[j] if prev_arcs is not None else None)
            cells.append(_fmt_data(v, n) + c1 + c2)
        elif st.crx_ver == 1:
            cells.append(b" " * 16)
            fl = fl[: 2 * j] + b"  " + fl[2 * j + 2 :]
        else:
            cells.append(b" " * 14 + c1 + c2)
    if st.rnx_ver == 2:
        lines = [b"".join(cells[k : k + 5]).rstrip(b" ") for k in range(0, max(nt, 1), 5)]
    else:
        lines = [(sat + b"".join(cells)).rstrip(b" ")]
    return lines + [fl]


def _crx_epoch(st: _CRX, lines: list, i: int, out: list) -> int:
    dl, n = lines[i], i + 1
    v2 = st.rnx_ver == 2
    ev, off, sl = (28, 3, 32) if v2 else (31, 6, 41)
    if st.crx_ver == 3 and dl[:1] == b"&":
        return i + 1
    if dl[:1] == (b"&" if v2 else b">"):
        dl = (b" " if v2 else b">") + dl[1:]
        if dl[ev : ev + 1] not in (b"0", b"1"):
            return _crx_event(st, lines, i, dl, out)
        st.line, st.sats = b"", []
    elif dl[:1] == b"\x1a":
        return len(lines)
    line = _repair(st.line, dl)
    if (line[:1] != (b" " if v2 else b">") or len(line) < 26 + off or line[off + 23] != 32
            or line[off + 24] != 32 or not 48 <= line[off + 25] <= 57):
        raise _crx_err("bad epoch record", n)
    line = _chop(line)
    nsat = _atoi(line[ev + 1 :])
    if nsat > CRX_MAX_SATS:
        raise _crx_err(f"more than {CRX_MAX_SATS} satellites", n)
    sats = [line[sl + 3 * k : sl + 3 * k + 3] for k in range(nsat)]
    if any(len(s) < 3 for s in sats):
        raise _crx_err("satellite list shorter than announced", n)
    if i + 1 + nsat >= len(lines):
        raise _crx_err("file ends inside the epoch", n)
    index: dict[bytes, int] = {}
    for k, s in enumerate(st.sats):
        index.setdefault(s, k)
    clock = _crx_clock(st, lines[i + 1], n + 1)
    new_arcs, new_flags, body = [], [], []
    for k, sat in enumerate(sats):
        nt = st.ntype if v2 else st.ntype_sys.get(sat[0], -1)
        if nt < 0:
            raise _crx_err("satellite system not declared", n)
        if nt > CRX_MAX_TYPES:
            raise _crx_err(f"more than {CRX_MAX_TYPES} observation types", n)
        i0 = index.get(sat, -1)
        prev_arcs = st.arcs[i0] if i0 >= 0 else None
        arcs, dflag = _crx_fields(st, lines[i + 2 + k], nt, prev_arcs, n + 2 + k)
        if i0 < 0:
            fl = dflag.ljust(2 * nt) if v2 else b""
        else:
            fl = st.flags[i0][: 2 * nt]
        fl = _repair(fl, dflag)[: 2 * nt].ljust(2 * nt)
        *rows, fl = _crx_sat_lines(st, sat, nt, arcs, prev_arcs, fl, n + 2 + k)
        body.extend(rows)
        new_arcs.append(arcs)
        new_flags.append(fl)
    _crx_epoch_lines(st, line, nsat, clock, out)
    out.extend(body)
    st.line, st.sats, st.arcs, st.flags = line, sats, new_arcs, new_flags
    return i + 2 + nsat


def _crx_epoch_lines(st: _CRX, line: bytes, nsat: int, clock: bytes | None, out: list) -> None:
    if st.rnx_ver == 2:
        out.append(line[:68].ljust(68) + clock if clock is not None else line[:68])
        for k in range(12, nsat, 12):
            p = 68 + 36 * (k // 12 - 1)
            out.append(b" " * 32 + line[p : p + 36])
    else:
        out.append(line[:41] + clock if clock is not None else line[:41].rstrip(b" "))


def crx_to_rnx(data: bytes) -> bytes:
    """Expand Compact RINEX 1.0 / 3.0 (Hatanaka) text to RINEX observation text.

    The output is byte-for-byte what RNXCMP ``crx2rnx`` writes for well-formed
    input (values as F14.3 without a leading zero below 1, blank fields as spaces,
    trailing blanks removed).

    Parameters
    ----------
    data : bytes
        The Compact RINEX file content.

    Returns
    -------
    bytes
        RINEX observation file text.

    Raises
    ------
    RINEXError
        Not Compact RINEX, or a malformed record (``line`` is the CRX line number);
        RNXCMP's ``-s`` salvage of corrupt epochs is not offered.
    """
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    lines = [x[:-1] if x.endswith(b"\r") else x for x in lines]
    if len(lines) < 3 or lines[0][:3] not in (b"1.0", b"3.0") or not lines[0][60:].startswith(b"CRINEX VERS"):
        raise _crx_err("not a Compact RINEX 1.0/3.0 file", 1)
    first = _chop(lines[2])
    if not first[60:].startswith(b"RINEX VERSION / TYPE") or first[5:6] not in (b"2", b"3", b"4"):
        raise _crx_err("no RINEX VERSION / TYPE record", 3)
    st = _CRX(1 if lines[0][:1] == b"1" else 3, 2 if first[5:6] == b"2" else 3)
    out = [first]
    i = 3
    while True:
        if i >= len(lines):
            raise _crx_err("no END OF HEADER", i)
        ln = _chop(lines[i])
        out.append(ln)
        st.types(ln)
        i += 1
        if ln[60:].startswith(b"END OF HEADER"):
            break
    while i < len(lines):
        i = _crx_epoch(st, lines, i, out)
    return b"\n".join(out) + b"\n"
