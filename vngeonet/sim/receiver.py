"""A simulated CORS receiver's RTCM 3 output.

:class:`SimReceiver` turns the simulator's epochs of one station into the
frames a Leica GR50-class reference receiver sends on a CORS stream:

* every epoch: MSM7 for each system (GPS 1077, GLONASS 1087, Galileo 1097, BeiDou 1127),
  the multiple-message bit set on all but the epoch's last message;
* every ``station_every`` epochs: 1006 (ARP + antenna height) and 1033
  (antenna and receiver descriptors);
* ephemerides (1019 / 1020 / 1046 / 1042) of all satellites at start, then a few per
  epoch in rotation, and at once whenever a new ephemeris set begins.

It is pure: no clock, no I/O (the ``sim://`` stream driver paces it).
"""

from __future__ import annotations

from vngeonet.model import ObsEpoch
from vngeonet.rtcm.ephemeris import encode_ephemeris, from_ephemeris
from vngeonet.rtcm.framer import frame_payload
from vngeonet.rtcm.msm import encode_msm_obs
from vngeonet.rtcm.station import ReceiverAntennaDescriptor, StationARP, encode_1033, encode_arp

_MULTIPLE_BIT = 54  # DF393 bit offset in every MSM payload (after DF002, DF003 and the 30-bit epoch)


def _set_multiple(payload: bytes) -> bytes:
    b = bytearray(payload)
    b[_MULTIPLE_BIT >> 3] |= 0x80 >> (_MULTIPLE_BIT & 7)
    return bytes(b)


def ephemeris_frames(ephemerides: list) -> list[bytes]:
    """RTCM 3 frames (1019 / 1046 / 1042) of an ephemeris set, in order."""
    return [frame_payload(encode_ephemeris(from_ephemeris(e))) for e in ephemerides]


class SimReceiver:
    """RTCM 3 encoder of one simulated station.

    Parameters
    ----------
    station_id : int
        RTCM reference station id (DF003), 0..4095.
    arp_ecef_m : tuple of 3 float
        Antenna reference point, ECEF metres (1006).
    systems : str
        System letters to send MSM7 for, in order.
    antenna, receiver : str
        Descriptors for 1033.
    station_every : int
        Epochs between 1006/1033 repetitions.
    eph_per_epoch : int
        Ephemerides sent per epoch in rotation.
    glo_channels : dict, optional
        GLONASS frequency channel per satellite (needed to send GLONASS MSM7).
    """

    def __init__(self, station_id: int, arp_ecef_m, systems: str = "GREC",
                 antenna: str = "LEIAR20         LEIM", receiver: str = "LEICA GR50",
                 firmware: str = "4.50/7.403", station_every: int = 10, eph_per_epoch: int = 3,
                 glo_channels: dict | None = None):
        self.station_id = station_id
        self.systems = systems
        self.glo_channels = dict(glo_channels or {})
        self.station_every = station_every
        self.eph_per_epoch = eph_per_epoch
        self._cp_offsets: dict = {}
        self._n = 0
        self._eph_frames: list[bytes] = []
        self._eph_key = None
        self._eph_next = 0
        self._station_frames = (
            frame_payload(encode_arp(StationARP(
                msg_type=1006, station_id=station_id, arp_ecef_m=tuple(float(v) for v in arp_ecef_m),
                antenna_height_m=0.0, gps="G" in systems, glonass="R" in systems,
                galileo="E" in systems))),
            frame_payload(encode_1033(ReceiverAntennaDescriptor(
                station_id=station_id, antenna=antenna, antenna_setup_id=0, antenna_serial="",
                receiver=receiver, firmware=firmware, receiver_serial=""))),
        )

    def set_ephemerides(self, ephemerides: list, frames: list[bytes] | None = None) -> None:
        """Use this ephemeris set from now on (all of it is sent at once when it changes).

        ``frames``: the set already framed by :func:`ephemeris_frames` (one encoding
        shared by every station of a network); encoded here when not given.
        """
        key = tuple((e.sat, e.toe) for e in ephemerides)
        if key == self._eph_key:
            return
        self._eph_key = key
        self._eph_frames = list(frames) if frames is not None else ephemeris_frames(ephemerides)
        self._eph_next = -1  # send the whole set with the next epoch

    def encode(self, epoch: ObsEpoch) -> bytes:
        """The frames of one epoch (observations first, then station data and ephemerides)."""
        payloads = []
        for sysl in self.systems:
            payloads += encode_msm_obs(epoch, sysl, 7, self.station_id, cp_offset_cyc=self._cp_offsets,
                                       glo_channels=self.glo_channels if sysl == "R" else None)
        out = [frame_payload(_set_multiple(p)) for p in payloads[:-1]]
        if payloads:
            out.append(frame_payload(payloads[-1]))
        if self._n % self.station_every == 0:
            out.extend(self._station_frames)
        out.extend(self._next_ephemerides())
        self._n += 1
        return b"".join(out)

    def _next_ephemerides(self) -> list[bytes]:
        if not self._eph_frames:
            return []
        if self._eph_next < 0:
            self._eph_next = 0
            return list(self._eph_frames)
        n = len(self._eph_frames)
        picked = [self._eph_frames[(self._eph_next + i) % n] for i in range(min(self.eph_per_epoch, n))]
        self._eph_next = (self._eph_next + len(picked)) % n
        return picked
