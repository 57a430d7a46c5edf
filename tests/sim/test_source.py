import asyncio

import numpy as np

from vngeonet.gnss.coords import llh_to_ecef
from vngeonet.gnss.time import GPSTime
from vngeonet.rtcm.context import DecodeContext
from vngeonet.rtcm.decode import decode
from vngeonet.rtcm.framer import RTCMFramer
from vngeonet.streams.sim import SimNetwork, SimSource

T0 = GPSTime(2390, 18017.0)


def _pos(lat, lon, h):
    return tuple(llh_to_ecef(np.radians([lat, lon, 0.0]) + [0, 0, h]))


def test_two_sim_stations_stream_decodable_epochs():
    async def main():
        net = SimNetwork(T0, speed=0.0)  # unpaced
        a = SimSource("HANO", _pos(21.0285, 105.8542, 20.0), 101, net)
        b = SimSource("HAIP", _pos(20.8449, 106.6881, 10.0), 102, net)
        got = {"HANO": b"", "HAIP": b""}
        async with a, b:
            for _ in range(3):
                got["HANO"] += await asyncio.wait_for(a.read(), 10)
                got["HAIP"] += await asyncio.wait_for(b.read(), 10)
        return got

    got = asyncio.run(main())
    for sid, rtcm_id in (("HANO", 101), ("HAIP", 102)):
        framer = RTCMFramer()
        frames = framer.feed(got[sid])
        assert framer.stats.crc_failures == 0 and frames
        ctx = DecodeContext(approx_time=T0)
        msgs = [decode(f, ctx) for f in frames]
        msm = [m for m in msgs if m.msg_type in (1077, 1087, 1097, 1127)]
        assert {m.msg_type for m in msm} == {1077, 1087, 1097, 1127}
        assert all(m.station_id == rtcm_id for m in msm)
        times = sorted({m.time.seconds for m in msm})
        assert times == [T0.seconds, T0.seconds + 1, T0.seconds + 2]
        arp = [m for m in msgs if m.msg_type == 1006]
        assert arp and np.allclose(arp[0].arp_ecef_m, _pos(*{"HANO": (21.0285, 105.8542, 20.0),
                                                            "HAIP": (20.8449, 106.6881, 10.0)}[sid]),
                                   atol=1e-4)
        assert {m.msg_type for m in msgs} >= {1019, 1020, 1046, 1042, 1033}
        glo = [m for m in msm if m.msg_type == 1087]
        assert np.isfinite(np.concatenate([m.cp_cyc for m in glo])).all()  # channels sent in DF419


def test_paced_network_follows_the_injected_clock():
    now = [0.0]
    slept = []

    async def fake_sleep(dt):
        slept.append(dt)
        now[0] += dt

    async def main():
        net = SimNetwork(T0, speed=10.0, clock=lambda: now[0], sleep=fake_sleep)
        src = SimSource("HANO", _pos(21.0, 105.8, 20.0), 1, net)
        async with src:
            for _ in range(5):
                await asyncio.wait_for(src.read(), 10)
        return net

    net = asyncio.run(main())
    # Ten simulated epochs per wall second: 0.1 s between epochs.
    assert np.allclose([s for s in slept if s > 0][:3], 0.1, atol=0.02)
    assert net.epochs >= 5


def test_a_whole_day_of_ephemerides_encodes():
    """Every hourly ephemeris set of a week-crossing day fits its RTCM fields."""
    from vngeonet.sim.physics import NetworkSimulator, SimStation
    from vngeonet.sim.receiver import SimReceiver

    sim = NetworkSimulator([SimStation("HANO", _pos(21.0, 105.8, 20.0))])
    rx = SimReceiver(1, sim.stations[0].pos_ecef_m)
    for h in range(-12, 13):
        rx.set_ephemerides(sim.ephemerides(GPSTime(2391, 0.0) + 3600.0 * h + 30.0))


def test_sim_uri_with_a_navigation_file_starts_in_that_day():
    from tests.conftest import data_path
    from vngeonet.streams.uri import open_source

    nav = data_path("nav-solutions-data/NAV/V3/ESBC00DNK_R_20201770000_01D_MN.rnx.gz")

    async def main():
        src = open_source(f"sim://ESBC?speed=0&nav={nav}", pos_ecef_m=_pos(55.4936, 8.4568, 60.0), rtcm_id=7)
        async with src:
            return await asyncio.wait_for(src.read(), 20), src.network.start

    data, start = asyncio.run(main())
    assert start.to_datetime().date().isoformat() == "2020-06-25"
    frames = RTCMFramer().feed(data)
    ctx = DecodeContext(approx_time=start)
    msgs = [decode(f, ctx) for f in frames]
    assert {1077, 1087, 1097, 1127} <= {m.msg_type for m in msgs}
