"""Frozen dataclasses passed between pipeline stages.

Every field carries its unit as a suffix (``_m``, ``_s``, ``_cyc``, ``_hz``,
``_dbhz``, ``_rad``...).  Satellites are RINEX 3 ids (``"G07"``), signals RINEX
observation codes without the type letter (``"1C"``, ``"2W"``).  Times are
:class:`~vngeonet.gnss.time.GPSTime`.

Stages add fields only at the end and with defaults, so that earlier
producers keep working.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from vngeonet.gnss.time import GPSTime


class FixQuality(enum.IntEnum):
    """Solution quality, best last (values follow the NMEA/RTKLIB convention order)."""

    NONE = 0
    SPP = 1
    DGNSS = 2
    FLOAT = 3
    FIX = 4


class ErrorPolicy(enum.Enum):
    """What a stream consumer does with a bad frame or record."""

    RAISE = "raise"
    LOG = "log"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class Frame:
    """One whole, checksum-verified RTCM 3 frame.

    Attributes
    ----------
    msg_type : int
        Message number (DF002), the first 12 bits of the payload; 0 for an
        empty payload.
    payload : bytes
        The message body (without preamble, length and CRC).
    raw : bytes
        The complete frame as received: preamble 0xD3, 6 reserved bits,
        10-bit length, payload, CRC-24Q.
    offset : int
        Byte offset of the frame's preamble in the stream (``-1`` if unknown).
    """

    msg_type: int
    payload: bytes
    raw: bytes
    offset: int = -1


@dataclass(frozen=True, slots=True, eq=False)
class ObsEpoch:
    """Observations of one receiver at one epoch, one row per (satellite, signal).

    Arrays all have shape (n,); a missing observable is NaN.

    Attributes
    ----------
    time : GPSTime
        Receiver time tag of the epoch.
    station : str
        4-character station id (or the RTCM reference station id as text).
    sat : ndarray of '<U3'
        Satellite ids, e.g. ``"G05"``.
    sig : ndarray of '<U2'
        Signal codes, e.g. ``"1C"``.
    pr_m : ndarray of float64
        Pseudorange, metres.
    cp_cyc : ndarray of float64
        Carrier phase, cycles.
    dop_hz : ndarray of float64
        Doppler, Hz (RINEX sign convention: positive for approaching satellites).
    cn0_dbhz : ndarray of float64
        Carrier-to-noise density, dB-Hz.
    lli : ndarray of uint8
        RINEX loss-of-lock indicator bits (1 = lost lock, 2 = half-cycle ambiguity).
    lock_s : ndarray of float64
        Continuous lock time, seconds (NaN where unknown, e.g. RINEX input).
    flag : int
        RINEX epoch flag (0 OK, 1 power failure, ...).
    """

    time: GPSTime
    station: str
    sat: np.ndarray
    sig: np.ndarray
    pr_m: np.ndarray
    cp_cyc: np.ndarray
    dop_hz: np.ndarray
    cn0_dbhz: np.ndarray
    lli: np.ndarray
    lock_s: np.ndarray
    flag: int = 0


@dataclass(frozen=True, slots=True)
class KeplerEphemeris:
    """Broadcast ephemeris in Keplerian form (GPS, Galileo, BeiDou, QZSS, NavIC), SI units.

    Angles are radians (converted from the broadcast semicircles).  ``toe`` and
    ``toc`` are full GPS times; ``week`` and the ``*_sow`` fields keep the values as
    broadcast, in the system's own week count and time scale.

    References: IS-GPS-200 Table 20-III; Galileo OS SIS ICD Table 60;
    BDS-SIS-ICD B1I §5.2.4; IS-QZSS-PNT; IRNSS SIS ICD.
    """

    sat: str
    toe: GPSTime
    toc: GPSTime
    week: int  # as broadcast, own system, roll-over resolved
    toe_sow: float  # s of week, own time scale
    toc_sow: float
    sqrt_a: float  # sqrt(m)
    e: float
    i0_rad: float
    omega0_rad: float
    omega_rad: float
    m0_rad: float
    delta_n_radps: float
    idot_radps: float
    omega_dot_radps: float
    cuc_rad: float
    cus_rad: float
    crc_m: float
    crs_m: float
    cic_rad: float
    cis_rad: float
    af0_s: float
    af1_sps: float
    af2_sps2: float
    tgd_s: float  # GPS/QZSS TGD, Galileo BGD E1-E5a, BeiDou TGD1, NavIC TGD; NaN if unknown
    tgd2_s: float = float("nan")  # Galileo BGD E1-E5b, BeiDou TGD2
    iode: int = 0  # IODE / IODnav (Galileo) / AODE (BeiDou)
    iodc: int = 0  # IODC / AODC (BeiDou)
    health: int = 0  # SV health as broadcast (0 = healthy)
    accuracy_m: float = float("nan")  # URA / SISA in metres (NaN = unknown)
    fit_interval_h: float = 4.0
    source: str = ""  # "LNAV", "CNAV", "INAV", "FNAV", "D1", "D2", "RTCM1019", ...
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class GlonassEphemeris:
    """GLONASS broadcast ephemeris (PZ-90 Cartesian state at ``toe``), SI units.

    References: GLONASS ICD 5.1 §4.4, Table 4.5.
    """

    sat: str
    toe: GPSTime  # the reference time t_b as a full GPS time
    freq_channel: int  # k, -7..+6
    pos_m: tuple[float, float, float]
    vel_mps: tuple[float, float, float]
    acc_mps2: tuple[float, float, float]  # lunisolar acceleration
    tau_n_s: float  # -tau_n is the clock correction: dt_sv = -tau_n + gamma_n (t - t_b)
    gamma_n: float
    health: int = 0
    age_days: int = 0  # E_n
    delta_tau_n_s: float = float("nan")  # L1/L2 group delay difference
    tb_s: float = 0.0  # t_b in seconds of the GLONASS day
    source: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Solution:
    """A position solution for one epoch.

    ``status`` is ``FixQuality.NONE`` with a ``reason`` when the epoch could not
    be solved; solvers never raise per epoch.
    """

    time: GPSTime
    status: FixQuality
    pos_ecef_m: np.ndarray  # (3,), NaN when status is NONE
    nsat: int = 0
    reason: str = ""
    clk_bias_m: dict = field(default_factory=dict, compare=False)  # per system letter
    vel_ecef_mps: np.ndarray | None = None
    cov_ecef_m2: np.ndarray | None = None  # (3, 3)
    pdop: float = float("nan")
    ratio: float = float("nan")
    extra: dict = field(default_factory=dict, compare=False)
