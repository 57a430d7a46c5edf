"""Protocol demultiplexer: RTCM 3, UBX and NMEA interleaved on one byte stream.

u-blox bases and many receivers send RTCM 3 corrections, UBX binary and NMEA
sentences on the same port.  :class:`Demuxer` is a sans-I/O state machine:
``feed(bytes)`` returns the whole, checksum-verified packets found so far, in
stream order; bytes that belong to no valid packet are counted and dropped
(resynchronisation on the next sync byte).

UBX ``RXM-RAWX`` packets become :class:`~vngeonet.model.ObsEpoch` through
:func:`rawx_to_obs_epoch`.

References
----------
RTCM 10403.3 §4 (frame: 0xD3, 6 reserved bits, 10-bit length, CRC-24Q);
u-blox F9 HPG 1.32 Interface Description §3.2 (UBX frame, 8-bit Fletcher),
§3.17.7 (UBX-RXM-RAWX); NMEA 0183 v4.11 §5 (sentence, XOR checksum).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from vngeonet.gnss.time import GPSTime
from vngeonet.model import ObsEpoch


def crc24q(data: bytes) -> int:
    """CRC-24Q of ``data`` (RTCM 10403.3 §4.2), through the ``crc24q`` kernel."""
    from vngeonet import kernels

    return kernels.get("crc24q").crc24q(data)


def _fletcher8(data: bytes) -> tuple[int, int]:
    a = b = 0
    for x in data:
        a = (a + x) & 0xFF
        b = (b + a) & 0xFF
    return a, b


_UBX_NAMES = {
    (0x01, 0x07): "NAV-PVT", (0x01, 0x3B): "NAV-SVIN", (0x02, 0x15): "RXM-RAWX",
    (0x02, 0x13): "RXM-SFRBX", (0x02, 0x10): "RXM-RAW", (0x02, 0x11): "RXM-SFRB",
    (0x01, 0x01): "NAV-POSECEF", (0x01, 0x02): "NAV-POSLLH", (0x05, 0x01): "ACK-ACK",
    (0x05, 0x00): "ACK-NAK", (0x0A, 0x04): "MON-VER",
}
_UBX_MAX_LEN = 8192
_NMEA_MAX_LEN = 120


@dataclass(frozen=True, slots=True)
class Packet:
    """One whole, checksum-verified packet.

    Attributes
    ----------
    proto : str
        ``"RTCM3"``, ``"UBX"`` or ``"NMEA"``.
    msg : int or str
        RTCM message number (DF002), UBX name (``"RXM-RAWX"`` or ``"0x02-0x15"``)
        or NMEA talker+sentence (``"GPGGA"``).
    raw : bytes
        The complete packet as received.
    offset : int
        Byte offset of the packet's first byte in the stream.
    """

    proto: str
    msg: object
    raw: bytes
    offset: int

    @property
    def payload(self) -> bytes:
        """Message body: RTCM payload, UBX payload, NMEA text between ``$`` and ``*``."""
        if self.proto == "RTCM3":
            return self.raw[3:-3]
        if self.proto == "UBX":
            return self.raw[6:-2]
        return self.raw[1:self.raw.rfind(b"*")]


def _crc(data: bytes) -> int:
    global _crc_fn
    if _crc_fn is None:
        from vngeonet import kernels

        _crc_fn = kernels.get("crc24q").crc24q
    return _crc_fn(data)


_crc_fn = None


class Demuxer:
    """Sans-I/O splitter of an interleaved RTCM 3 / UBX / NMEA byte stream.

    Parameters
    ----------
    protocols : iterable of str
        Which of ``"RTCM3"``, ``"UBX"``, ``"NMEA"`` to recognise (default all).

    Attributes
    ----------
    counts : dict[str, int]
        Packets per protocol.
    crc_failures : int
        Candidate packets whose checksum failed.
    skipped_bytes : int
        Bytes outside any valid packet.
    """

    def __init__(self, protocols=("RTCM3", "UBX", "NMEA")):
        self._want = set(protocols)
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self.counts = {p: 0 for p in ("RTCM3", "UBX", "NMEA")}
        self.crc_failures = 0
        self.skipped_bytes = 0

    def feed(self, data: bytes) -> list[Packet]:
        """Add bytes; return the packets completed by them."""
        self._buf += data
        out: list[Packet] = []
        buf = self._buf
        i = 0
        n = len(buf)
        while i < n:
            j = self._next_sync(buf, i)
            if j < 0:
                self.skipped_bytes += n - i
                i = n
                break
            self.skipped_bytes += j - i
            i = j
            kind, size = self._try(buf, i)
            if kind == "need":
                break
            if kind is None:
                self.skipped_bytes += 1
                i += 1
                continue
            raw = bytes(buf[i:i + size])
            out.append(Packet(kind, self._msg_of(kind, raw), raw, self._base + i))
            self.counts[kind] += 1
            i += size
        del buf[:i]
        self._base += i
        return out

    def _next_sync(self, buf: bytearray, i: int) -> int:
        best = -1
        for sync, proto in ((0xD3, "RTCM3"), (0xB5, "UBX"), (0x24, "NMEA")):
            if proto in self._want:
                k = buf.find(sync, i)
                if k >= 0 and (best < 0 or k < best):
                    best = k
        return best

    def _try(self, buf: bytearray, i: int):
        """(kind, size) of a packet at ``i``; ("need", 0) if more bytes needed; (None, 0) if none."""
        b0 = buf[i]
        n = len(buf) - i
        if b0 == 0xD3:
            if n < 3:
                return "need", 0
            if buf[i + 1] & 0xFC:
                return None, 0
            size = 6 + (((buf[i + 1] & 3) << 8) | buf[i + 2])
            if n < size:
                return "need", 0
            crc = (buf[i + size - 3] << 16) | (buf[i + size - 2] << 8) | buf[i + size - 1]
            if _crc(bytes(buf[i:i + size - 3])) != crc:
                self.crc_failures += 1
                return None, 0
            return "RTCM3", size
        if b0 == 0xB5:
            if n < 2:
                return "need", 0
            if buf[i + 1] != 0x62:
                return None, 0
            if n < 6:
                return "need", 0
            length = buf[i + 4] | (buf[i + 5] << 8)
            if length > _UBX_MAX_LEN:
                return None, 0
            if n < length + 8:
                return "need", 0
            if _fletcher8(buf[i + 2:i + 6 + length]) != (buf[i + 6 + length], buf[i + 7 + length]):
                self.crc_failures += 1
                return None, 0
            return "UBX", length + 8
        return self._try_nmea(buf, i, n)

    def _try_nmea(self, buf: bytearray, i: int, n: int):
        end = buf.find(b"\n", i, i + _NMEA_MAX_LEN)
        if end < 0:
            return ("need", 0) if n < _NMEA_MAX_LEN else (None, 0)
        line = bytes(buf[i:end + 1])
        star = line.rfind(b"*")
        if star < 6 or len(line) < star + 3:
            return None, 0
        body = line[1:star]
        x = 0
        for c in body:
            x ^= c
        try:
            ok = int(line[star + 1:star + 3], 16) == x
        except ValueError:
            ok = False
        if not ok or not body[:5].isalnum():
            if body[:5].isalnum():
                self.crc_failures += 1
            return None, 0
        return "NMEA", end + 1 - i

    @staticmethod
    def _msg_of(kind: str, raw: bytes):
        if kind == "RTCM3":
            return ((raw[3] << 4) | (raw[4] >> 4)) if len(raw) > 7 else 0
        if kind == "UBX":
            key = (raw[2], raw[3])
            return _UBX_NAMES.get(key, f"0x{key[0]:02X}-0x{key[1]:02X}")
        return raw[1:raw.find(b",")].decode("ascii", "replace")


# u-blox gnssId -> RINEX system letter; (gnssId, sigId) -> RINEX 3 signal code.
_UBX_SYS = {0: "G", 1: "S", 2: "E", 3: "C", 5: "J", 6: "R", 7: "I"}
_UBX_SIG = {
    (0, 0): "1C", (0, 3): "2L", (0, 4): "2S", (0, 6): "5I", (0, 7): "5Q",
    (1, 0): "1C",
    (2, 0): "1C", (2, 1): "1B", (2, 3): "5I", (2, 4): "5Q", (2, 5): "7I", (2, 6): "7Q",
    (3, 0): "2I", (3, 1): "2I", (3, 2): "7I", (3, 3): "7I", (3, 5): "1P", (3, 6): "1D",
    (3, 7): "5P", (3, 8): "5D",
    (5, 0): "1C", (5, 1): "1Z", (5, 4): "2S", (5, 5): "2L", (5, 8): "5I", (5, 9): "5Q",
    (6, 0): "1C", (6, 2): "2C",
    (7, 0): "5A",
}
_RAWX_HEAD = struct.Struct("<dHbBBB2x")
_RAWX_MEAS = struct.Struct("<ddfBBBBHBBBBBx")


def rawx_to_obs_epoch(payload: bytes, station: str = "") -> ObsEpoch:
    """Observations of one UBX-RXM-RAWX payload (u-blox F9 Interface Description §3.17.7).

    Pseudorange and carrier phase are taken only where ``trkStat`` marks them
    valid (bits 0 and 1); the half-cycle flag (bit 2 clear) sets RINEX LLI bit 1.
    Signals u-blox reports but RINEX 3 cannot name are dropped.

    Raises
    ------
    vngeonet.errors.FormatError
        When the payload is shorter than its ``numMeas`` says.
    """
    from vngeonet.errors import FormatError

    if len(payload) < 16:
        raise FormatError("UBX-RXM-RAWX payload shorter than 16 bytes")
    rcv_tow_s, week, _leap_s, nmeas, _rec_stat, _ver = _RAWX_HEAD.unpack_from(payload, 0)
    if len(payload) < 16 + 32 * nmeas:
        raise FormatError(f"UBX-RXM-RAWX: {nmeas} measurements need {16 + 32 * nmeas} bytes")
    rows = []
    for k in range(nmeas):
        (pr, cp, do, gnss, sv, sig, _freq, lock_ms, cno, _prs, _cps, _dos, trk) = \
            _RAWX_MEAS.unpack_from(payload, 16 + 32 * k)
        system = _UBX_SYS.get(gnss)
        code = _UBX_SIG.get((gnss, sig))
        if system is None or code is None:
            continue
        prn = sv - 100 if system == "S" else (sv - 192 if system == "J" and sv > 192 else sv)
        pr_ok, cp_ok, half_ok = trk & 1, trk & 2, trk & 4
        lli = 0 if (not cp_ok or half_ok) else 2
        rows.append((f"{system}{prn:02d}", code, pr if pr_ok else np.nan,
                     cp if cp_ok else np.nan, do, float(cno), lli, lock_ms * 1e-3))
    rows.sort(key=lambda r: (r[0], r[1]))
    cols = list(zip(*rows)) if rows else [()] * 8
    return ObsEpoch(
        time=GPSTime(int(week), float(rcv_tow_s)),
        station=station,
        sat=np.array(cols[0], dtype="<U3"),
        sig=np.array(cols[1], dtype="<U2"),
        pr_m=np.array(cols[2], dtype=np.float64),
        cp_cyc=np.array(cols[3], dtype=np.float64),
        dop_hz=np.array(cols[4], dtype=np.float64),
        cn0_dbhz=np.array(cols[5], dtype=np.float64),
        lli=np.array(cols[6], dtype=np.uint8),
        lock_s=np.array(cols[7], dtype=np.float64),
    )
