"""GPS LNAV ephemerides from u-blox UBX-RXM-SFRBX subframes.

A u-blox receiver reports each GPS L1 C/A subframe as ten 32-bit words whose
bits 29..6 are the 24 data bits of the 30-bit navigation word (parity already
checked and removed).  Subframes 1-3 of one issue of data (IODC low byte =
IODE of subframes 2 and 3) make a :class:`~vngeonet.model.KeplerEphemeris`.

Other systems' SFRBX (Galileo I/NAV, BeiDou D1/D2, GLONASS strings) are
counted and skipped.

References
----------
IS-GPS-200N §20.3.2-20.3.3.4, Tables 20-I, 20-III (subframe 1-3 layout, scale
factors), Table 20-II (URA); u-blox F9 HPG 1.32 Interface Description §3.17.8
(UBX-RXM-SFRBX).
"""

from __future__ import annotations

import math
import struct

from vngeonet.gnss.time import GPSTime
from vngeonet.model import KeplerEphemeris

PI_GPS = 3.1415926535898  # IS-GPS-200 §20.3.3.4.3.3: the pi of the orbit equations
URA_M = (2.4, 3.4, 4.85, 6.85, 9.65, 13.65, 24.0, 48.0, 96.0, 192.0, 384.0, 768.0, 1536.0, 3072.0,
         6144.0, math.nan)

# (name, start bit in the 240-bit subframe without parity, width, signed, scale)
_SF1 = (("wn", 48, 10, False, 1.0), ("l2_codes", 58, 2, False, 1.0), ("ura", 60, 4, False, 1.0),
        ("health", 64, 6, False, 1.0), ("iodc_msb", 70, 2, False, 1.0), ("l2p_flag", 72, 1, False, 1.0),
        ("tgd", 160, 8, True, 2.0**-31), ("iodc_lsb", 168, 8, False, 1.0), ("toc", 176, 16, False, 16.0),
        ("af2", 192, 8, True, 2.0**-55), ("af1", 200, 16, True, 2.0**-43), ("af0", 216, 22, True, 2.0**-31))
_SF2 = (("iode", 48, 8, False, 1.0), ("crs", 56, 16, True, 2.0**-5), ("dn", 72, 16, True, 2.0**-43 * PI_GPS),
        ("m0", 88, 32, True, 2.0**-31 * PI_GPS), ("cuc", 120, 16, True, 2.0**-29), ("e", 136, 32, False, 2.0**-33),
        ("cus", 168, 16, True, 2.0**-29), ("sqrt_a", 184, 32, False, 2.0**-19), ("toe", 216, 16, False, 16.0),
        ("fit", 232, 1, False, 1.0))
_SF3 = (("cic", 48, 16, True, 2.0**-29), ("omega0", 64, 32, True, 2.0**-31 * PI_GPS),
        ("cis", 96, 16, True, 2.0**-29), ("i0", 112, 32, True, 2.0**-31 * PI_GPS), ("crc", 144, 16, True, 2.0**-5),
        ("omega", 160, 32, True, 2.0**-31 * PI_GPS), ("omega_dot", 192, 24, True, 2.0**-43 * PI_GPS),
        ("iode", 216, 8, False, 1.0), ("idot", 224, 14, True, 2.0**-43 * PI_GPS))


def _fields(bits: int, spec) -> dict:
    out = {}
    for name, start, width, signed, scale in spec:
        v = (bits >> (240 - start - width)) & ((1 << width) - 1)
        if signed and v >> (width - 1):
            v -= 1 << width
        out[name] = v * scale
    return out


def sfrbx_subframe(payload: bytes) -> tuple[str, int, int, int] | None:
    """(satellite, subframe id, TOW of the next subframe in s, 240 data bits) of a GPS L1 C/A SFRBX, else None."""
    if len(payload) < 8 + 40 or payload[0] != 0 or payload[4] != 10:
        return None
    words = struct.unpack_from("<10I", payload, 8)
    bits = 0
    for w in words:
        bits = (bits << 24) | ((w >> 6) & 0xFFFFFF)
    tow_s = ((bits >> (240 - 24 - 17)) & 0x1FFFF) * 6
    sfid = (bits >> (240 - 43 - 3)) & 7
    return f"G{payload[1]:02d}", sfid, tow_s, bits


class GPSLNAVAssembler:
    """Collects GPS subframes 1-3 per satellite and emits ephemerides.

    ``add(payload, week)`` takes an SFRBX payload and the current full GPS
    week (from RXM-RAWX), and returns a new ephemeris when subframes 1-3 of one
    issue of data are complete (each issue once).
    """

    def __init__(self):
        self._sub: dict = {}
        self._done: set = set()
        self.skipped = 0

    def add(self, payload: bytes, week: int | None) -> KeplerEphemeris | None:
        got = sfrbx_subframe(payload)
        if got is None:
            self.skipped += 1
            return None
        sat, sfid, tow_s, bits = got
        if sfid not in (1, 2, 3):
            return None
        spec = {1: _SF1, 2: _SF2, 3: _SF3}[sfid]
        parts = self._sub.setdefault(sat, {})
        parts[sfid] = (_fields(bits, spec), tow_s)
        if len(parts) < 3 or week is None:
            return None
        (f1, tow1), (f2, _), (f3, _) = parts[1], parts[2], parts[3]
        iodc = (int(f1["iodc_msb"]) << 8) | int(f1["iodc_lsb"])
        if not (int(f2["iode"]) == int(f3["iode"]) == (iodc & 0xFF)):
            return None
        key = (sat, iodc, f2["toe"])
        if key in self._done:
            return None
        self._done.add(key)
        return _ephemeris(sat, f1, f2, f3, iodc, tow1, week)


def _ephemeris(sat, f1, f2, f3, iodc, tow_s, week) -> KeplerEphemeris:
    wn = week - ((week - int(f1["wn"])) % 1024)  # full week from the 10-bit WN (IS-GPS-200 §20.3.3.3.1.1)
    tx = GPSTime(wn, float(tow_s))

    def near(sow: float) -> GPSTime:
        t = GPSTime(wn, sow)
        d = t - tx
        return t - 604800.0 if d > 302400.0 else (t + 604800.0 if d < -302400.0 else t)

    toe, toc = near(f2["toe"]), near(f1["toc"])
    ura = int(f1["ura"])
    return KeplerEphemeris(
        sat=sat, toe=toe, toc=toc, week=toe.week, toe_sow=f2["toe"], toc_sow=f1["toc"], sqrt_a=f2["sqrt_a"],
        e=f2["e"], i0_rad=f3["i0"], omega0_rad=f3["omega0"], omega_rad=f3["omega"], m0_rad=f2["m0"],
        delta_n_radps=f2["dn"], idot_radps=f3["idot"], omega_dot_radps=f3["omega_dot"], cuc_rad=f2["cuc"],
        cus_rad=f2["cus"], crc_m=f3["crc"], crs_m=f2["crs"], cic_rad=f3["cic"], cis_rad=f3["cis"],
        af0_s=f1["af0"], af1_sps=f1["af1"], af2_sps2=f1["af2"], tgd_s=f1["tgd"], iode=int(f2["iode"]),
        iodc=iodc, health=int(f1["health"]), accuracy_m=URA_M[ura],
        fit_interval_h=4.0 if not f2["fit"] else 6.0, source="LNAV",
        extra={"tx_sow": float((tow_s - 6) % 604800), "l2_codes": f1["l2_codes"], "l2p_flag": f1["l2p_flag"]})
