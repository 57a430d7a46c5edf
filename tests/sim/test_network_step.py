"""SimNetwork.step gives every station exactly the bytes of its own receiver fed epoch by epoch,
across the hourly change of the broadcast ephemeris set (which the network frames once for all)."""

from __future__ import annotations

import numpy as np

from vngeonet.gnss.coords import llh_to_ecef
from vngeonet.gnss.time import GPSTime
from vngeonet.rtcm.context import DecodeContext
from vngeonet.rtcm.decode import decode
from vngeonet.rtcm.framer import RTCMFramer
from vngeonet.sim.physics import NetworkSimulator, SimOptions, SimStation
from vngeonet.sim.receiver import SimReceiver
from vngeonet.streams.sim import SimNetwork

T0 = GPSTime(2390, 6 * 3600.0 - 3.0)  # 3 s before the GPS/Galileo set changes, 17 s before BeiDou's
STATIONS = {"HANO": (21.0285, 105.8542, 20.0, 101), "CAMA": (9.1769, 105.1524, 5.0, 102)}


def _pos(lat, lon, h):
    return tuple(llh_to_ecef(np.radians([lat, lon, 0.0]) + [0, 0, h]))


def test_step_matches_per_station_receivers_across_the_hour():
    net = SimNetwork(T0, speed=0.0, systems="GEC")
    for sid, (lat, lon, h, rid) in STATIONS.items():
        net.add_station(sid, _pos(lat, lon, h), rid)
    ids = sorted(STATIONS)
    sim = NetworkSimulator([SimStation(s, _pos(*STATIONS[s][:3])) for s in ids], SimOptions())
    rxs = {s: SimReceiver(STATIONS[s][3], _pos(*STATIONS[s][:3]), systems="GEC") for s in ids}
    n = 20
    got = {s: [] for s in ids}
    want = {s: [] for s in ids}
    for k in range(n):
        for s, data in net.step().items():
            got[s].append(data)
        t = T0 + float(k)
        ephs = sim.ephemerides(t)
        for s, ep in sim.epoch(t).items():
            rxs[s].set_ephemerides(ephs)  # the plain path: every epoch, encoded per receiver
            want[s].append(rxs[s].encode(ep))
    for s in ids:
        assert got[s] == want[s]
    # A new set is sent whole at its change: GPS + Galileo at epoch 3 (06:00:00 GPS time),
    # BeiDou at epoch 17 (06:00:00 BDT = 06:00:14 GPS time).
    msg_of = {"G": 1019, "E": 1046, "C": 1042}
    for k, types, toe_s in ((3, {1019, 1046}, 0), (17, {1042}, 14)):
        t = T0 + float(k)
        ctx = DecodeContext(approx_time=t)
        sent = [
            m
            for m in (decode(f, ctx) for f in RTCMFramer().feed(got["HANO"][k]))
            if m.msg_type in types
        ]
        expected = [e for e in sim.ephemerides(t) if msg_of.get(e.sat[0]) in types]
        assert expected and len(sent) == len(expected)
        assert {round(m.eph.toe.seconds) % 3600 for m in sent} == {toe_s}
