"""GPS LNAV ephemerides from u-blox UBX-RXM-SFRBX subframes.

A u-blox receiver reports each GPS L1 C/A subframe as ten 32-bit words whose
bits 29..6 are the 24 data bits of the 30-bit navigation word (parity already
checked and removed).  Subframes 1-3 of one issue of data (IODC low byte =
IODE of subframes 2 and 3) make a :class:`~vngeonet.model.KeplerEphemeris`.

Galileo I/NAV pages (E1-B, or E5b-I) come as eight 32-bit words: words 0-3
hold the 120-bit even page part (even/odd bit, page type, data bits 1-112,
tail) and words 4-7 the odd part (even/odd bit, page type, data bits 113-128,
reserved/OSNMA, SAR, spare, CRC, SSP, tail); the CRC-24Q is checked.  Word types 1-5 of one IODnav make a KeplerEphemeris with source
"INAV".  :class:`UBXNavAssembler` takes SFRBX of any system and dispatches;
BeiDou and GLONASS SFRBX are counted in ``skipped``.

References
----------
IS-GPS-200N §20.3.2-20.3.3.4, Tables 20-I, 20-III (subframe 1-3 layout, scale
factors), Table 20-II (URA); u-blox F9 HPG 1.32 Interface Description §3.17.8
(UBX-RXM-SFRBX); Galileo OS SIS ICD 2.0 §4.3.5 (nominal I/NAV page), Table 60
(ephemeris), §5.1.2-5.1.5, Tables 61-64 (word types 1-5), §5.1.9.1 (health).
"""

from __future__ import annotations

import math
import struct

from vngeonet.gnss.time import GPSTime
from vngeonet.model import KeplerEphemeris
from vngeonet.rtcm.ephemeris import sisa_m
from vngeonet.streams.demux import crc24q

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


# Galileo I/NAV word types, (name, start bit in the 128-bit data word, width, signed, scale);
# Galileo OS SIS ICD 2.0 Tables 60-64 (angles in semicircles).
_GAL = {
    1: (("iodnav", 6, 10, False, 1.0), ("toe", 16, 14, False, 60.0), ("m0", 30, 32, True, 2.0**-31 * PI_GPS),
        ("e", 62, 32, False, 2.0**-33), ("sqrt_a", 94, 32, False, 2.0**-19)),
    2: (("iodnav", 6, 10, False, 1.0), ("omega0", 16, 32, True, 2.0**-31 * PI_GPS),
        ("i0", 48, 32, True, 2.0**-31 * PI_GPS), ("omega", 80, 32, True, 2.0**-31 * PI_GPS),
        ("idot", 112, 14, True, 2.0**-43 * PI_GPS)),
    3: (("iodnav", 6, 10, False, 1.0), ("omega_dot", 16, 24, True, 2.0**-43 * PI_GPS),
        ("dn", 40, 16, True, 2.0**-43 * PI_GPS), ("cuc", 56, 16, True, 2.0**-29), ("cus", 72, 16, True, 2.0**-29),
        ("crc", 88, 16, True, 2.0**-5), ("crs", 104, 16, True, 2.0**-5), ("sisa", 120, 8, False, 1.0)),
    4: (("iodnav", 6, 10, False, 1.0), ("svid", 16, 6, False, 1.0), ("cic", 22, 16, True, 2.0**-29),
        ("cis", 38, 16, True, 2.0**-29), ("toc", 54, 14, False, 60.0), ("af0", 68, 31, True, 2.0**-34),
        ("af1", 99, 21, True, 2.0**-46), ("af2", 120, 6, True, 2.0**-59)),
    5: (("bgd_e5a", 47, 10, True, 2.0**-32), ("bgd_e5b", 57, 10, True, 2.0**-32), ("e5b_hs", 67, 2, False, 1.0),
        ("e1b_hs", 69, 2, False, 1.0), ("e5b_dvs", 71, 1, False, 1.0), ("e1b_dvs", 72, 1, False, 1.0),
        ("wn", 73, 12, False, 1.0), ("tow", 85, 20, False, 1.0)),
}
GST_WEEK0_GPS = 1024  # GST week 0 begins at GPS week 1024 (same second scale)


def _fields128(bits: int, spec) -> dict:
    out = {}
    for name, start, width, signed, scale in spec:
        v = (bits >> (128 - start - width)) & ((1 << width) - 1)
        if signed and v >> (width - 1):
            v -= 1 << width
        out[name] = v * scale
    return out


def inav_word(payload: bytes) -> tuple[str, int, int] | None:
    """(satellite, word type, 128-bit data word) of a nominal Galileo I/NAV SFRBX page, else None.

    The even part must come first (even/odd bit 0) and the odd part second
    (bit 1); alert pages (page type 1) and pages failing their CRC give None.
    """
    if len(payload) < 8 + 32 or payload[0] != 2 or payload[4] != 8:
        return None
    words = struct.unpack_from("<8I", payload, 8)
    even = (words[0] << 96) | (words[1] << 64) | (words[2] << 32) | words[3]
    odd = (words[4] << 96) | (words[5] << 64) | (words[6] << 32) | words[7]
    if even >> 127 != 0 or odd >> 127 != 1 or (even >> 126) & 1 or (odd >> 126) & 1:
        return None
    # CRC-24Q over even bits 1-114 and odd bits 1-82 (ICD §4.3.5, Table 39); u-blox keeps CRC and tails
    crc_bits = (((even >> 14) & ((1 << 114) - 1)) << 82) | ((odd >> 46) & ((1 << 82) - 1))
    if crc24q(crc_bits.to_bytes(25, "big")) != (odd >> 22) & 0xFFFFFF:
        return None
    data = (((even >> 14) & ((1 << 112) - 1)) << 16) | ((odd >> 110) & 0xFFFF)
    return f"E{payload[1]:02d}", data >> 122, data


class GalileoINAVAssembler:
    """Collects Galileo I/NAV word types 1-5 per satellite and emits ephemerides.

    Word types 1-4 of one IODnav plus the latest word type 5 (BGDs, health,
    GST week and TOW) make a KeplerEphemeris (source "INAV"); each
    (satellite, IODnav, toe) once.  ``week`` is accepted for symmetry with
    the GPS assembler; the GST week comes from word type 5.
    """

    def __init__(self):
        self._words: dict = {}
        self._done: set = set()
        self.skipped = 0

    def add(self, payload: bytes, week: int | None = None) -> KeplerEphemeris | None:
        got = inav_word(payload)
        if got is None:
            self.skipped += 1
            return None
        sat, wtype, data = got
        if wtype not in _GAL:
            return None
        parts = self._words.setdefault(sat, {})
        parts[wtype] = _fields128(data, _GAL[wtype])
        if len(parts) < 5:
            return None
        iod = {int(parts[k]["iodnav"]) for k in (1, 2, 3, 4)}
        if len(iod) != 1:
            return None
        key = (sat, iod.pop(), parts[1]["toe"])
        if key in self._done:
            return None
        self._done.add(key)
        return _gal_ephemeris(sat, parts)


def _gal_ephemeris(sat: str, w: dict) -> KeplerEphemeris:
    w1, w2, w3, w4, w5 = (w[k] for k in (1, 2, 3, 4, 5))
    gst_week = int(w5["wn"])
    tx = GPSTime(gst_week + GST_WEEK0_GPS, float(w5["tow"]))

    def near(sow: float) -> GPSTime:
        t = GPSTime(tx.week, sow)
        d = t - tx
        return t - 604800.0 if d > 302400.0 else (t + 604800.0 if d < -302400.0 else t)

    toe, toc = near(w1["toe"]), near(w4["toc"])
    # RINEX 3 health word: bit 0 E1-B DVS, bits 1-2 E1-B HS, bit 6 E5b DVS, bits 7-8 E5b HS
    health = (int(w5["e1b_dvs"]) | int(w5["e1b_hs"]) << 1 | int(w5["e5b_dvs"]) << 6 | int(w5["e5b_hs"]) << 7)
    sisa = int(w3["sisa"])
    return KeplerEphemeris(
        sat=sat, toe=toe, toc=toc, week=toe.week - GST_WEEK0_GPS, toe_sow=w1["toe"], toc_sow=w4["toc"],
        sqrt_a=w1["sqrt_a"], e=w1["e"], i0_rad=w2["i0"], omega0_rad=w2["omega0"], omega_rad=w2["omega"],
        m0_rad=w1["m0"], delta_n_radps=w3["dn"], idot_radps=w2["idot"], omega_dot_radps=w3["omega_dot"],
        cuc_rad=w3["cuc"], cus_rad=w3["cus"], crc_m=w3["crc"], crs_m=w3["crs"], cic_rad=w4["cic"],
        cis_rad=w4["cis"], af0_s=w4["af0"], af1_sps=w4["af1"], af2_sps2=w4["af2"], tgd_s=w5["bgd_e5a"],
        tgd2_s=w5["bgd_e5b"], iode=int(w1["iodnav"]), iodc=0, health=health, accuracy_m=sisa_m(sisa),
        fit_interval_h=4.0, source="INAV",
        extra={"tx_sow": float(w5["tow"]), "svid": int(w4["svid"]), **({"napa": True} if sisa == 255 else {})})


class UBXNavAssembler:
    """Ephemerides from UBX-RXM-SFRBX of any system (GPS LNAV, Galileo I/NAV).

    ``add(payload, week)`` dispatches on the SFRBX gnssId; other systems'
    subframes are counted in ``skipped``.
    """

    def __init__(self):
        self.gps = GPSLNAVAssembler()
        self.galileo = GalileoINAVAssembler()
        self.other = 0

    @property
    def skipped(self) -> int:
        return self.gps.skipped + self.galileo.skipped + self.other

    def add(self, payload: bytes, week: int | None) -> KeplerEphemeris | None:
        gnss = payload[0] if payload else -1
        if gnss == 0:
            return self.gps.add(payload, week)
        if gnss == 2:
            return self.galileo.add(payload, week)
        self.other += 1
        return None
