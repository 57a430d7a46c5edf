"""Compact RINEX (Hatanaka) expansion: CRX 1.0 / 3.0 text -> RINEX observation text.

Pure-Python twin of ``ext/crx.pyx``; the two have the same function, signature
and exceptions.  This module is the specification.

Compact RINEX 1.0 (RINEX 2) and 3.0 (RINEX 3/4), Y. Hatanaka, Bull. GSI 55 (2008):
the header is the RINEX header behind two CRINEX lines; each epoch record is a
text difference to the previous one ("&" = becomes blank, " " = unchanged; a record
starting with "&" (CRX 1) or ">" (CRX 3) restarts from nothing); then one line
with the receiver clock offset and one line per satellite holding, per type, a
blank (no data), "k&v" (new arc of difference order k, value v) or the k-th
order difference, in units of the last digit; then the LLI/SSI characters as a
text difference.  Values are rebuilt with integer sums and printed as RINEX
F14.3 (F12.9/F15.12 for the clock).

References
----------
Y. Hatanaka, "A Compression Format and Tools for GNSS Observation Data",
Bulletin of the Geographical Survey Institute 55 (2008), 21-30.
"""

from __future__ import annotations

from vngeonet.errors import RINEXError

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
