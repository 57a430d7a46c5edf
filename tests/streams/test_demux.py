"""Demultiplexing RTCM 3 + UBX + NMEA on one stream, checked against pyrtcm/pyubx2 and the catalogue."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.streams.demux import Demuxer, crc24q, rawx_to_obs_epoch


def test_crc24q_known_value():
    # an empty RTCM frame: D3 00 00 + CRC 47 EA 4B
    assert crc24q(b"\xd3\x00\x00") == 0x47EA4B


def test_mixed_ublox_base_stream_fed_in_odd_pieces():
    raw = data_path("pygnssutils/tests/pygpsdata-rtcm3.log").read_bytes()
    d = Demuxer()
    pkts = []
    for i in range(0, len(raw), 997):
        pkts += d.feed(raw[i:i + 997])
    rtcm = Counter(p.msg for p in pkts if p.proto == "RTCM3")
    assert rtcm == {1005: 158, 1077: 158, 1087: 158, 1097: 158, 1127: 158, 1230: 158, 4072: 158}
    assert d.crc_failures == 0
    # every byte is accounted for: packets + skipped
    assert sum(len(p.raw) for p in pkts) + d.skipped_bytes == len(raw)
    import io

    from pyubx2 import UBXReader

    oracle = Counter()
    for _raw, parsed in UBXReader(io.BytesIO(raw), protfilter=7, quitonerror=0):
        if parsed is not None:
            oracle[type(parsed).__name__] += 1
    ours = Counter(p.proto for p in pkts)
    assert ours["NMEA"] == oracle["NMEAMessage"] and ours["UBX"] == oracle["UBXMessage"]
    assert ours["RTCM3"] == oracle["RTCMMessage"] == 1106


def test_bad_crc_is_counted_and_skipped():
    raw = data_path("pyrtcm/tests/pygpsdata-MIXED-RTCM3BADCRC.log").read_bytes()
    d = Demuxer()
    pkts = d.feed(raw)
    assert sorted(p.msg for p in pkts if p.proto == "RTCM3") == [1077, 1087, 1097, 1127, 1230, 4072]
    assert d.crc_failures >= 1


def test_rawx_to_obs_epoch_matches_pyubx2():
    raw = data_path("pygnssutils/tests/pygpsdata_testobsdata.log").read_bytes()[:200_000]
    pkts = [p for p in Demuxer().feed(raw) if p.msg == "RXM-RAWX"]
    assert len(pkts) > 50
    from pyubx2 import UBXReader

    for p in pkts[:20]:
        ep = rawx_to_obs_epoch(p.payload, "TEST")
        msg = UBXReader.parse(p.raw)
        assert ep.time.week == msg.week and ep.time.tow_s == pytest.approx(msg.rcvTow, abs=1e-9)
        by_key = {}
        for k in range(1, msg.numMeas + 1):
            sys_id = getattr(msg, f"gnssId_{k:02d}")
            by_key[(sys_id, getattr(msg, f"svId_{k:02d}"), getattr(msg, f"sigId_{k:02d}"))] = (
                getattr(msg, f"prMes_{k:02d}"), getattr(msg, f"cpMes_{k:02d}"), getattr(msg, f"cno_{k:02d}"))
        assert len(ep.sat) > 0 and len(ep.sat) <= msg.numMeas
        pr_all = sorted(v[0] for v in by_key.values())
        for pr in ep.pr_m[np.isfinite(ep.pr_m)]:
            assert min(abs(pr - x) for x in pr_all) < 1e-6


def test_sfrbx_gps_ephemerides_fit_the_pseudoranges():
    """GPS LNAV from SFRBX: orbits + clocks explain RAWX pseudoranges from the NAV-POSECEF position."""
    import gzip
    import struct

    from vngeonet.orbits.store import EphemerisStore
    from vngeonet.streams.ubx_nav import GPSLNAVAssembler

    raw = gzip.decompress(data_path("nav-solutions-data/UBX/16dBatt_no_interference_coldstart.ubx.gz").read_bytes())
    asm = GPSLNAVAssembler()
    week, ephs, epochs, pos = None, [], [], None
    for p in Demuxer(("UBX",)).feed(raw):
        if p.msg == "RXM-RAWX":
            ep = rawx_to_obs_epoch(p.payload)
            if ep.time.week > 1024:
                week = ep.time.week
                epochs.append(ep)
        elif p.msg == "RXM-SFRBX":
            e = asm.add(p.payload, week)
            if e is not None:
                ephs.append(e)
        elif p.msg == "NAV-POSECEF":
            pos = np.array(struct.unpack_from("<iii", p.payload, 4)) * 0.01
    assert len(ephs) >= 8 and all(e.sat[0] == "G" and 5153.0 < e.sqrt_a < 5154.5 for e in ephs)
    store = EphemerisStore(ephs)
    c, we = 299792458.0, 7.2921151467e-5
    checked = 0
    for ep in epochs[-50:]:
        m = (np.char.startswith(ep.sat.astype(str), "G")) & (ep.sig == "1C") & np.isfinite(ep.pr_m)
        sats, pr = ep.sat[m], ep.pr_m[m]
        st = store.sat_state(sats, ep.time.seconds - pr / c)
        ok = st.ok
        if ok.sum() < 5:
            continue
        tau = pr[ok] / c
        x = st.pos_m[ok]
        rot = np.stack([x[:, 0] + we * tau * x[:, 1], x[:, 1] - we * tau * x[:, 0], x[:, 2]], axis=1)
        rho = np.linalg.norm(rot - pos, axis=1)
        res = pr[ok] - rho + c * st.clk_s[ok]
        assert np.ptp(res - np.median(res)) < 60.0  # common receiver clock; km if an orbit were wrong
        checked += 1
    assert checked > 20
