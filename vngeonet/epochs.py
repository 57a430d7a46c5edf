"""Epoch builder: decoded RTCM messages of one station -> whole observation epochs.

Pure (no I/O, no clock): arrival times are passed in by the caller.

What it does, per station:

* joins the observation messages (MSM 1071-1137, legacy 1001-1004/1009-1012)
  of one epoch: an epoch is closed by the multiple-message bit (DF393 / DF005
  = 0 on its last message), by a message of another epoch, or by a timeout when
  the last message never comes (:meth:`EpochBuilder.poll`);
* attaches station metadata from 1005/1006 (ARP), 1007/1008/1033 (antenna,
  receiver), 1230 (GLONASS code-phase biases), 1013 (leap seconds) and the
  station's configuration file (which takes precedence);
* keeps the broadcast ephemerides (1019/1020/1041/1042/1044/1045/1046) current,
  as a list an ``EphemerisStore`` accepts;
* resolves full GPS times without the computer's clock: from a date given by
  the caller, else from 1013 (UTC date), the Galileo week in 1046/1045, the
  BeiDou week in 1042 or a GLONASS 1020 dated by its N4/NT day numbers,
  whichever comes first.  Observation messages that arrive
  before any of these are held back (bounded) and resolved as soon as the date is
  known, never dropped.  Later epochs follow the previous one, so the GPS week
  rollover needs no special case;
* detects receivers that stamp BeiDou MSM epochs with GPS time instead of BDT
  (BeiDou epochs exactly 14 s after the other systems' epoch) and re-times those
  messages into the right epoch instead of throwing them away.

References
----------
RTCM 10403.3 §3.5.16 (DF393 multiple message bit), §3.5.1 (DF005), §3.5.3-3.5.6
(1005-1008, 1013, 1033), §3.5.14 (1230); BDS-SIS-ICD B1I 3.0 §4.1 (BDT = GPST - 14 s).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from vngeonet.gnss.time import GPSTime
from vngeonet.model import GlonassEphemeris, KeplerEphemeris, ObsEpoch
from vngeonet.rtcm.context import DecodeContext

log = logging.getLogger(__name__)

BDS_GPS_STAMP_S = 14.0  # BDT = GPST - 14 s
_TOL_S = 5e-4


@dataclass(frozen=True, slots=True)
class StationMeta:
    """What is known about a station, from its configuration and its stream.

    Every field is ``None`` / ``""`` until known.  ``glo_biases_m`` holds the
    1230 code-phase biases for C1C, C1P, C2C, C2P (NaN where not sent).
    """

    station: str = ""
    station_id: int | None = None
    arp_ecef_m: tuple | None = None
    antenna_height_m: float | None = None
    antenna: str = ""
    antenna_serial: str = ""
    receiver: str = ""
    firmware: str = ""
    receiver_serial: str = ""
    glo_biases_m: tuple | None = None
    glo_aligned: bool | None = None
    glo_channels: tuple = ()  # sorted (sat, k) pairs
    leap_s: int | None = None
    config: object = None  # vngeonet.config.StationConfig


@dataclass(frozen=True, slots=True, eq=False)
class Epoch:
    """One whole observation epoch of a station.

    Attributes
    ----------
    time : GPSTime
        Epoch time (GPS time scale for every system).
    obs : ObsEpoch
        All observations of the epoch, one row per (satellite, signal).
    systems : tuple of str
        Systems present, e.g. ``("C", "E", "G", "R")``.
    complete : bool
        Closed by the multiple-message bit (``False``: by a later epoch or the timeout).
    meta : StationMeta
        Station metadata as known when the epoch closed.
    messages : tuple of int
        Message types that made the epoch.
    """

    time: GPSTime
    obs: ObsEpoch
    systems: tuple
    complete: bool
    meta: StationMeta
    messages: tuple = ()


@dataclass
class BuilderStats:
    """Counters of an :class:`EpochBuilder`."""

    epochs: int = 0
    complete: int = 0
    by_time_change: int = 0
    by_timeout: int = 0
    late_messages: int = 0
    bds_retimed: int = 0
    held_unresolved: int = 0
    dropped_unresolved: int = 0
    ephemerides: int = 0


def is_observation(msg) -> bool:
    """True for MSM and legacy observation messages."""
    return hasattr(msg, "half_cycle") and hasattr(msg, "system")


def _epoch_raw(msg) -> int:
    if hasattr(msg, "epoch_raw"):
        return msg.epoch_raw
    return msg.head[2] if msg.system == "G" else (7 << 27) | msg.head[2]


class _Group:
    __slots__ = ("first_arrival", "msgs", "systems", "time")

    def __init__(self, time: GPSTime, arrival):
        self.time, self.msgs, self.systems, self.first_arrival = time, [], set(), arrival


class EpochBuilder:
    """Assemble epochs of one station from decoded messages.

    Parameters
    ----------
    station : str
        4-character station id written into the epochs.
    config : StationConfig, optional
        Station file; its values take precedence over the stream's.
    ctx : DecodeContext, optional
        The stream's decoding context (shared with the decoder, which updates
        ``approx_time`` and the GLONASS channels).
    approx_time : GPSTime, optional
        A time within half a week of the data (e.g. from ``--date``).
    timeout_s : float
        Arrival-time timeout after which an open epoch is closed (:meth:`poll`).
    use_multiple_bit : bool
        Close an epoch on DF393/DF005 = 0.  Switched off automatically when the
        stream proves it wrong (a message arrives for an epoch already closed).
    max_held : int
        Observation messages held back while the date is unknown; older ones
        are dropped (counted) beyond this.
    """

    def __init__(self, station: str = "", *, config=None, ctx: DecodeContext | None = None,
                 approx_time: GPSTime | None = None, timeout_s: float = 2.0,
                 use_multiple_bit: bool = True, max_held: int = 20000):
        self.station = station or (config.id if config is not None else "")
        self.config = config
        self.ctx = ctx if ctx is not None else DecodeContext(source=self.station)
        if approx_time is not None:
            self.ctx.approx_time = approx_time
        self.timeout_s = timeout_s
        self.use_multiple_bit = use_multiple_bit
        self.max_held = max_held
        self.stats = BuilderStats()
        self.bds_gps_stamped = False
        self._meta: dict = {"station": self.station, "config": config}
        self._meta_cache: StationMeta | None = None
        self._eph: dict = {}
        self._eph_held: list = []
        self._held: list = []
        self._group: _Group | None = None
        self._last_closed: GPSTime | None = None

    # ------------------------------------------------------------------ metadata
    @property
    def meta(self) -> StationMeta:
        """Current station metadata."""
        if self._meta_cache is None:
            m = dict(self._meta)
            m["glo_channels"] = tuple(sorted(self.ctx.glo_channels.items()))
            self._meta_cache = StationMeta(**m)
        return self._meta_cache

    def _set_meta(self, **kw) -> None:
        for k, v in kw.items():
            if v is not None and v != "" and self._meta.get(k) != v:
                self._meta[k] = v
                self._meta_cache = None

    def _note_station_message(self, msg) -> bool:
        t = getattr(msg, "msg_type", None)
        if t in (1005, 1006):
            self._set_meta(station_id=msg.station_id, arp_ecef_m=tuple(msg.arp_ecef_m),
                           antenna_height_m=msg.antenna_height_m)
        elif t in (1007, 1008):
            self._set_meta(antenna=msg.antenna.strip(), antenna_serial=(msg.antenna_serial or "").strip())
        elif t == 1033:
            self._set_meta(antenna=msg.antenna.strip(), antenna_serial=msg.antenna_serial.strip(),
                           receiver=msg.receiver.strip(), firmware=msg.firmware.strip(),
                           receiver_serial=msg.receiver_serial.strip())
        elif t == 1230:
            self._set_meta(glo_biases_m=tuple(msg.biases_m), glo_aligned=bool(msg.aligned))
        elif t == 1013:
            if msg.leap_s:
                self._set_meta(leap_s=int(msg.leap_s))
            if self.ctx.approx_time is None:
                self.ctx.approx_time = msg.time
        else:
            return False
        return True

    # ------------------------------------------------------------------ ephemerides
    def _note_ephemeris(self, msg) -> None:
        if not msg.time_resolved:
            if len(self._eph_held) < 1000:
                self._eph_held.append(msg)
            return
        self.add_ephemeris(msg.eph)
        if self.ctx.approx_time is None:  # e.g. GLONASS 1020 dated by its N4/NT day numbers
            self.ctx.approx_time = msg.eph.toe

    def add_ephemeris(self, eph: KeplerEphemeris | GlonassEphemeris) -> bool:
        """Keep an ephemeris decoded elsewhere (e.g. UBX SFRBX); False if already known."""
        key = (eph.sat, round(eph.toe.seconds), getattr(eph, "iode", 0))
        if key in self._eph:
            return False
        self._eph[key] = eph
        self.stats.ephemerides += 1
        return True

    def _resolve_held_ephemerides(self) -> None:
        from vngeonet.rtcm.ephemeris import decode_ephemeris, encode_ephemeris

        held, self._eph_held = self._eph_held, []
        for m in held:
            self._note_ephemeris(decode_ephemeris(encode_ephemeris(m), self.ctx))

    def ephemerides(self) -> list[KeplerEphemeris | GlonassEphemeris]:
        """Every distinct ephemeris received (time-resolved), in arrival order."""
        return list(self._eph.values())

    def current_ephemerides(self) -> list[KeplerEphemeris | GlonassEphemeris]:
        """The latest ephemeris per satellite."""
        latest: dict = {}
        for e in self._eph.values():
            if e.sat not in latest or e.toe.seconds >= latest[e.sat].toe.seconds:
                latest[e.sat] = e
        return list(latest.values())

    # ------------------------------------------------------------------ messages
    def add(self, msg, arrival_s: float | None = None) -> list[Epoch]:
        """Take one decoded message; return the epochs it completed (often none)."""
        out: list[Epoch] = []
        if is_observation(msg):
            if msg.time is None:
                self._hold(msg, arrival_s)
            else:
                self._add_obs(msg, arrival_s, out)
        elif hasattr(msg, "eph") and hasattr(msg, "time_resolved"):
            self._note_ephemeris(msg)
        else:
            self._note_station_message(msg)
        if (self._held or self._eph_held) and self.ctx.approx_time is not None:
            self._release_held(out)
        if arrival_s is not None:
            out += self.poll(arrival_s)
        return out

    def _hold(self, msg, arrival_s) -> None:
        if self.ctx.approx_time is not None:
            from vngeonet.rtcm.msm import resolve_epoch

            msg = dataclasses.replace(msg, time=resolve_epoch(msg.system, _epoch_raw(msg), self.ctx.approx_time))
            self._add_obs(msg, arrival_s, [])
            return
        self._held.append((msg, arrival_s))
        self.stats.held_unresolved += 1
        if len(self._held) > self.max_held:
            self._held.pop(0)
            self.stats.dropped_unresolved += 1

    def _release_held(self, out: list) -> None:
        """Resolve held messages now that a date is known, in arrival order."""
        from vngeonet.rtcm.msm import resolve_epoch

        if self._eph_held:
            self._resolve_held_ephemerides()
        held, self._held = self._held, []
        approx = self.ctx.approx_time
        for msg, arrival in held:
            t = resolve_epoch(msg.system, _epoch_raw(msg), approx)
            approx = t
            self._add_obs(dataclasses.replace(msg, time=t), arrival, out)

    def _add_obs(self, msg, arrival_s, out: list) -> None:
        t = msg.time
        if msg.system == "C" and self.bds_gps_stamped:
            t = t - BDS_GPS_STAMP_S
            self.stats.bds_retimed += 1
        g = self._group
        if g is not None and abs(t - g.time) > _TOL_S:
            t = self._check_bds_stamp(msg, t, g)
        if g is not None and abs(t - g.time) > _TOL_S:
            out.append(self._close(by="time"))
            g = None
        if g is None:
            if self._last_closed is not None and abs(t - self._last_closed) <= _TOL_S:
                self.stats.late_messages += 1
                if self.use_multiple_bit:
                    log.warning("%s: message %s arrived after its epoch closed; ignoring the "
                                "multiple-message bit from now on", self.station, msg.msg_type)
                    self.use_multiple_bit = False
            g = self._group = _Group(t, arrival_s)
        g.msgs.append(msg if t == msg.time else dataclasses.replace(msg, time=t))
        g.systems.add(msg.system)
        if self.use_multiple_bit and not msg.multiple:
            out.append(self._close(by="bit"))

    def _check_bds_stamp(self, msg, t: GPSTime, g: _Group) -> GPSTime:
        """Re-time BeiDou messages stamped with GPS time (detected once, then applied)."""
        if self.bds_gps_stamped:
            return t
        if msg.system == "C" and "C" not in g.systems and abs((t - BDS_GPS_STAMP_S) - g.time) <= _TOL_S:
            shifted = t - BDS_GPS_STAMP_S
        elif msg.system != "C" and g.systems == {"C"} and abs((g.time - BDS_GPS_STAMP_S) - t) <= _TOL_S:
            g.time = t
            g.msgs = [dataclasses.replace(m, time=t) for m in g.msgs]
            shifted = t
        else:
            return t
        self.bds_gps_stamped = True
        self.stats.bds_retimed += 1
        log.warning("%s: receiver stamps BeiDou MSM epochs with GPS time (+14 s); re-timing them",
                    self.station)
        return shifted

    def poll(self, now_s: float) -> list[Epoch]:
        """Close the open epoch if its first message arrived more than ``timeout_s`` ago."""
        g = self._group
        if g is not None and g.first_arrival is not None and now_s - g.first_arrival > self.timeout_s:
            return [self._close(by="timeout")]
        return []

    def flush(self) -> list[Epoch]:
        """Close whatever is open (end of stream); held messages without a date are dropped, counted."""
        out: list[Epoch] = []
        if self._held:
            self.stats.dropped_unresolved += len(self._held)
            log.warning("%s: %d observation messages never got a date (no 1013/1042/1046 and no "
                        "--date)", self.station, len(self._held))
            self._held = []
        if self._group is not None:
            out.append(self._close(by="time"))
        return out

    def _close(self, by: str) -> Epoch:
        g, self._group = self._group, None
        self._last_closed = g.time
        self.stats.epochs += 1
        if by == "bit":
            self.stats.complete += 1
        elif by == "timeout":
            self.stats.by_timeout += 1
        else:
            self.stats.by_time_change += 1
        return self._epoch(g, by == "bit")

    def _epoch(self, g: _Group, complete: bool) -> Epoch:
        return Epoch(g.time, merge_obs(g.msgs, g.time, self.station), tuple(sorted(g.systems)),
                     complete, self.meta, tuple(m.msg_type for m in g.msgs))


@dataclass(frozen=True, slots=True, eq=False)
class EpochMessages:
    """The observation messages of one epoch, not merged (see :class:`MessageGrouper`).

    ``msgs`` are in :func:`merge_obs` order (by MSM level, stable);
    ``distinct`` is True when no system comes twice (no row can repeat).
    """

    time: GPSTime
    msgs: tuple
    distinct: bool = True


class MessageGrouper(EpochBuilder):
    """An :class:`EpochBuilder` that hands out each epoch's messages unmerged.

    :meth:`add`, :meth:`poll` and :meth:`flush` return :class:`EpochMessages`
    instead of :class:`Epoch`; a batch converter stacks the rows of all of them
    at once with :func:`stack_messages` (same rows as :func:`merge_obs`).
    """

    def _epoch(self, g: _Group, complete: bool) -> EpochMessages:
        msgs = g.msgs
        if len(msgs) > 1:
            levels = [getattr(m, "msm", 0) for m in msgs]
            if levels != sorted(levels):
                msgs = sorted(msgs, key=lambda m: getattr(m, "msm", 0))
        return EpochMessages(g.time, tuple(msgs), len(g.systems) == len(msgs))


def epoch_parts(item) -> tuple:
    """The row sources of an :class:`EpochMessages` (its messages) or of an ObsEpoch (itself)."""
    return item.msgs if type(item) is EpochMessages else (item,)


def needs_dedupe(item) -> bool:
    """True when two row sources of one epoch may share a (satellite, signal): the same system twice."""
    return type(item) is EpochMessages and not item.distinct


def stack_messages(parts: list):
    """Stack the rows of observation messages / ObsEpochs, one pseudo-epoch per part.

    Rows as :func:`merge_obs` makes them (MSM1-MSM3 ranges and phases NaN,
    LLI bit 1 from the half-cycle flag).  Returns
    :class:`~vngeonet.rinex.writer.ObsRows` without times (not deduplicated).
    """
    from vngeonet.rinex.writer import ObsRows, _cat

    counts = np.fromiter((len(p.sat) for p in parts), dtype=np.int64, count=len(parts))
    ep_row0 = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ep_row0[1:])
    n = int(ep_row0[-1])
    if all(hasattr(p, "half_cycle") for p in parts):
        lli = _lli_of(_cat([p.half_cycle for p in parts], bool, n))
    else:
        lli = _cat([_lli_of(p.half_cycle) if hasattr(p, "half_cycle") else p.lli for p in parts], np.uint8, n)
    if any(getattr(p, "msm", 4) < 4 for p in parts):
        pr = [_column(p, "pr_m") for p in parts]
        cp = [_column(p, "cp_cyc") for p in parts]
    else:
        pr, cp = [p.pr_m for p in parts], [p.cp_cyc for p in parts]
    f8 = np.float64
    return ObsRows([], ep_row0, _cat([p.sat for p in parts], "<U3", n), _cat([p.sig for p in parts], "<U2", n),
                   _cat(pr, f8, n), _cat(cp, f8, n), _cat([p.dop_hz for p in parts], f8, n),
                   _cat([p.cn0_dbhz for p in parts], f8, n), lli, _cat([p.lock_s for p in parts], f8, n))


def merge_obs(msgs: list, time: GPSTime, station: str) -> ObsEpoch:
    """One ObsEpoch from the observation messages of one epoch.

    Rows keep message order (each message is ordered by satellite, then
    signal, so a satellite's rows are contiguous).  MSM1-MSM3 carry ranges
    and phases modulo one light-millisecond only: those become NaN (their
    Doppler and CNR are kept).  When two messages of the
    same system carry the same (satellite, signal) (e.g. MSM4 and MSM7 sent
    together), the rows are sorted by satellite and signal and the higher MSM
    level wins.
    """
    if len(msgs) == 1:
        return _obs_of(msgs[0], time, station)
    levels = [getattr(m, "msm", 0) for m in msgs]
    order = msgs if levels == sorted(levels) else sorted(msgs, key=lambda m: getattr(m, "msm", 0))
    sat = np.concatenate([m.sat for m in order]).astype("<U3", copy=False)
    sig = np.concatenate([m.sig for m in order]).astype("<U2", copy=False)
    cols = [np.concatenate([_column(m, name) for m in order]).astype(np.float64, copy=False)
            for name in ("pr_m", "cp_cyc", "dop_hz", "cn0_dbhz", "lock_s")]
    half = np.concatenate([m.half_cycle for m in order])
    if len({m.system for m in msgs}) != len(msgs):
        idx = _dedupe(sat, sig)
        sat, sig, half, cols = sat[idx], sig[idx], half[idx], [c[idx] for c in cols]
    return ObsEpoch(time, station, sat, sig, cols[0], cols[1], cols[2], cols[3],
                    _lli_of(half), cols[4])


def _obs_of(m, time: GPSTime, station: str) -> ObsEpoch:
    """The ObsEpoch of a single observation message (no copies of its arrays)."""
    return ObsEpoch(time, station, np.asarray(m.sat, dtype="<U3"), np.asarray(m.sig, dtype="<U2"),
                    np.asarray(_column(m, "pr_m"), np.float64), np.asarray(_column(m, "cp_cyc"), np.float64),
                    np.asarray(m.dop_hz, np.float64), np.asarray(m.cn0_dbhz, np.float64),
                    _lli_of(m.half_cycle), np.asarray(m.lock_s, np.float64))


_TWO, _ZERO = np.uint8(2), np.uint8(0)


def _lli_of(half) -> np.ndarray:
    """RINEX LLI bit 1 (half-cycle ambiguity) from DF420 flags, uint8."""
    return np.where(half, _TWO, _ZERO)


def _column(m, name: str) -> np.ndarray:
    """A message's column; MSM1-MSM3 ranges and phases are only known modulo 1 ms: left out (NaN)."""
    a = getattr(m, name)
    if (name == "pr_m" or name == "cp_cyc") and getattr(m, "msm", 4) < 4:
        return np.full(len(a), np.nan)
    return a


def _dedupe(sat: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Row indices sorted by (satellite, signal), keeping the last row of each duplicate key."""
    s = sat.view(np.uint32).reshape(-1, 3).astype(np.int64)
    g = sig.view(np.uint32).reshape(-1, 2).astype(np.int64)
    key = (s[:, 0] << 35) | (s[:, 1] << 28) | (s[:, 2] << 21) | (g[:, 0] << 14) | (g[:, 1] << 7)
    idx = np.argsort(key, kind="stable")
    k = key[idx]
    last = np.ones(len(k), dtype=bool)
    last[:-1] = k[1:] != k[:-1]
    return idx[last]
