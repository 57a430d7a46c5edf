"""Data time of a packet, for pacing replays and measuring latency.

Only what pacing needs: the epoch time carried in the first bits of
observation messages, as GPS seconds of day (modulo 86400).  Full decoding is
``vngeonet.rtcm``'s job.

References
----------
RTCM 10403.3 §3.5.1 (1001-1004: DF004 GPS epoch time, ms), §3.5.2 (1009-1012:
DF034 GLONASS epoch time of day, ms), §3.5.16 Table 3.5-78 (MSM header:
DF004 / DF248 / DF427 / DF416+DF034 epoch time); u-blox F9 Interface
Description §3.17.7 (RXM-RAWX rcvTow).
"""

from __future__ import annotations

import datetime as _dt
import struct

from vngeonet.gnss.time import GPSTime, utc_to_gps
from vngeonet.streams.demux import Packet

SECONDS_PER_DAY = 86400.0
GLONASS_MINUS_GPS_S = 3 * 3600.0 - 18.0  # GLONASST = UTC + 3 h; GPST - UTC = 18 s (pacing only)
BDT_MINUS_GPS_S = -14.0

# first MSM number of each system block -> system letter
_MSM_BLOCKS = {1070: "G", 1080: "R", 1090: "E", 1100: "S", 1110: "J", 1120: "C", 1130: "I"}


def _bits(payload: bytes, pos: int, n: int) -> int:
    """Unsigned ``n``-bit field at bit ``pos`` (MSB first)."""
    chunk = payload[pos // 8:(pos + n - 1) // 8 + 1]
    shift = len(chunk) * 8 - (pos % 8) - n
    return (int.from_bytes(chunk, "big") >> shift) & ((1 << n) - 1)


def rtcm_epoch_sod(msg_type: int, payload: bytes) -> float | None:
    """GPS seconds of day of an RTCM observation message's epoch, else ``None``.

    MSM (1071-1137) and legacy observation messages (1001-1004, 1009-1012)
    carry their epoch right after DF002/DF003; other messages have none.
    """
    if len(payload) < 8:
        return None
    block = (msg_type // 10) * 10
    if 1071 <= msg_type <= 1137 and 1 <= msg_type % 10 <= 7 and block in _MSM_BLOCKS:
        system = _MSM_BLOCKS[block]
    elif 1001 <= msg_type <= 1004:
        system = "G"
    elif 1009 <= msg_type <= 1012:
        system = "R"
    else:
        return None
    if system == "R":
        tod_ms = _bits(payload, 24 + (3 if msg_type >= 1081 else 0), 27)
        return (tod_ms * 1e-3 - GLONASS_MINUS_GPS_S) % SECONDS_PER_DAY
    tow_ms = _bits(payload, 24, 30)
    if system == "C":
        return (tow_ms * 1e-3 - BDT_MINUS_GPS_S) % SECONDS_PER_DAY
    return (tow_ms * 1e-3) % SECONDS_PER_DAY


def packet_epoch_sod(pkt: Packet) -> float | None:
    """GPS seconds of day of a packet's data epoch (RTCM obs, UBX RXM-RAWX), else ``None``."""
    if pkt.proto == "RTCM3":
        return rtcm_epoch_sod(pkt.msg, pkt.payload)
    if pkt.proto == "UBX" and pkt.msg == "RXM-RAWX" and len(pkt.raw) >= 14:
        return struct.unpack_from("<d", pkt.raw, 6)[0] % SECONDS_PER_DAY
    return None


class DataClock:
    """Continuous data time (seconds) from a stream of seconds-of-day values.

    Unwraps midnight: a step back of more than half a day counts as a new
    day.  Small steps back (out-of-order systems) are kept as they are.
    """

    def __init__(self):
        self._last_sod: float | None = None
        self._days = 0

    def update(self, sod: float) -> float:
        """Continuous time of seconds-of-day ``sod``."""
        if self._last_sod is not None:
            d = sod - self._last_sod
            if d < -SECONDS_PER_DAY / 2:
                self._days += 1
            elif d > SECONDS_PER_DAY / 2:
                self._days -= 1
        self._last_sod = sod
        return self._days * SECONDS_PER_DAY + sod


def gps_now() -> GPSTime:
    """The current time read from the system clock, as GPS time (latency, real-time simulation)."""
    return utc_to_gps(_dt.datetime.now(_dt.UTC).replace(tzinfo=None))
