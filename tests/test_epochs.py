"""Epoch builder on a real capture and on bit-exact edited variants of it (tests/archive/synth.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.archive.synth import WEEK_MS, frames, looped, shift_epoch, stream, with_multiple
from vngeonet.epochs import EpochBuilder
from vngeonet.gnss.time import GPSTime
from vngeonet.rtcm.decode import decode_frames
from vngeonet.rtcm.framer import iter_frames


def build(data: bytes, **kw):
    b = EpochBuilder("TEST", **kw)
    out = []
    for m in decode_frames(iter_frames(data), b.ctx):
        out += b.add(m)
    out += b.flush()
    return out, b


@pytest.fixture(scope="module")
def pairs():
    return frames()


def test_real_capture_epochs_and_metadata(pairs):
    eps, b = build(stream(pairs))
    assert len(eps) == 33 and all(e.complete for e in eps)  # closed by the multiple-message bit
    steps = {round(b2.time - a.time, 6) for a, b2 in zip(eps, eps[1:])}
    assert steps == {1.0}
    assert eps[0].time.isoformat() == "2024-08-18T21:14:25.000"
    assert eps[1].systems == ("C", "E", "G", "R")
    m = b.meta
    assert m.station_id == 25 and m.receiver == "TRIMBLE ALLOY" and m.antenna.startswith("LEIAR10")
    assert m.leap_s == 18 and m.arp_ecef_m[0] == pytest.approx(3811965.6701)
    assert m.glo_biases_m == pytest.approx((19.08,) * 4)
    assert dict(m.glo_channels)["R03"] == 5
    assert len(b.ephemerides()) == 34 and b.stats.ephemerides == 34
    # rows: unique (sat, sig), each satellite's rows contiguous, arrays of one length
    o = eps[5].obs
    keys = [s + g for s, g in zip(o.sat.tolist(), o.sig.tolist())]
    assert len(keys) == len(set(keys))
    sats = o.sat.tolist()
    assert all(sats.index(s) + sats.count(s) - 1 == len(sats) - 1 - sats[::-1].index(s) for s in set(sats))
    assert len(o.pr_m) == len(o.lli) == len(o.lock_s)


def test_date_from_galileo_or_beidou_week_without_1013(pairs):
    ref, _ = build(stream(pairs))
    for drop in ((1013, 1042), (1013, 1046)):  # only 1046 (Galileo week) / only 1042 (BeiDou week) left
        eps, b = build(stream(pairs, skip_types=drop))
        assert [e.time for e in eps[-30:]] == [e.time for e in ref[-30:]]
        assert b.stats.held_unresolved > 0 and b.stats.dropped_unresolved == 0


def test_no_date_anywhere_is_never_guessed(pairs):
    data = stream(pairs, skip_types=(1013, 1042, 1045, 1046, 1019, 1020))
    eps, b = build(data)
    assert eps == [] and b.stats.dropped_unresolved > 0
    eps, b = build(data, approx_time=GPSTime.from_datetime(__import__("datetime").datetime(2024, 8, 18, 12)))
    assert len(eps) == 33 and eps[0].time.isoformat() == "2024-08-18T21:14:25.000"


def test_beidou_stamped_with_gps_time_is_retimed_not_dropped(pairs):
    ref, _ = build(stream(pairs))
    bug = stream(pairs, lambda m: shift_epoch(m, 14_000) if m.system == "C" else None)
    eps, b = build(bug)
    assert b.bds_gps_stamped
    assert [e.time for e in eps] == [e.time for e in ref]
    for e, r in zip(eps, ref):
        assert e.obs.sat.tolist() == r.obs.sat.tolist()
        np.testing.assert_array_equal(e.obs.pr_m, r.obs.pr_m)


def test_beidou_last_in_epoch_also_detected(pairs):
    """The capture sends BeiDou first in each epoch; here it comes last (closing bit on it)."""
    ref, _ = build(stream(pairs))
    order, held = [], None
    for f, m in pairs:
        if f.msg_type == 1127:
            held = (f, with_multiple(m, False))
        elif f.msg_type in (1077, 1087, 1097):
            order.append((f, with_multiple(m, True)))
            if f.msg_type == 1077 and held is not None:
                order.append(held)
                held = None
        else:
            order.append((f, m))
    data = stream(order, lambda m: shift_epoch(m, 14_000) if m.system == "C" else m)
    eps, b = build(data)
    assert b.bds_gps_stamped
    assert [e.time for e in eps] == [e.time for e in ref]
    assert all(e.complete for e in eps[1:])  # the first epoch of the capture has no BeiDou message
    assert [e.systems for e in eps[1:]] == [r.systems for r in ref[1:]]


def test_timeout_closes_epoch_when_last_message_never_comes(pairs):
    data = stream(pairs, lambda m: with_multiple(m, True))  # the closing bit never comes
    b = EpochBuilder("TEST")
    got = []
    t = 0.0
    for m in decode_frames(iter_frames(data), b.ctx):
        got += b.add(m, arrival_s=t)
        t += 0.01
    before = len(got)
    got += b.poll(t + 10.0)
    assert len(got) == before + 1 and not got[-1].complete
    assert b.stats.by_timeout == 1 and b.stats.by_time_change == before


def test_wrong_multiple_bit_detected(pairs):
    ref, _ = build(stream(pairs))
    eps, b = build(stream(pairs, lambda m: with_multiple(m, False)))  # every message claims to be last
    assert not b.use_multiple_bit and b.stats.late_messages >= 1
    from vngeonet.rinex.writer import merge_same_time

    merged = []
    for e in eps:
        if merged and e.time == merged[-1].time:
            merged[-1] = merge_same_time(merged[-1], e.obs)
        else:
            merged.append(e.obs)
    assert [o.time for o in merged] == [e.time for e in ref]
    assert [len(o.sat) for o in merged] == [len(e.obs.sat) for e in ref]


def test_gps_week_rollover_no_gap_no_jump(pairs):
    # place the 33-s capture so that it straddles the end of a GPS week, 5 copies back to back
    first = next(m for f, m in pairs if f.msg_type == 1077)
    start = (WEEK_MS - 60_000) - first.head[2]
    data = looped(pairs, 4, start_ms=start)
    eps, b = build(data, approx_time=GPSTime(2328, 604000.0))
    times = [e.time.seconds for e in eps]
    assert all(abs((t2 - t1) - 1.0) < 1e-6 for t1, t2 in zip(times, times[1:]))
    weeks = {e.time.week for e in eps}
    assert len(weeks) == 2 and max(weeks) == min(weeks) + 1
    assert all(len(e.systems) >= 3 for e in eps[1:])
    assert not any(math.isnan(e.time.tow_s) for e in eps)


def test_msm1_to_3_ranges_left_out():
    """MSM3 ranges/phases are modulo 1 ms (RTCM 10403.3 §3.5.16): never written as full observables."""
    from tests.conftest import data_path

    data = data_path("go-gnss-rtcm/data/1073_frame.bin").read_bytes()
    eps, _ = build(data, approx_time=GPSTime(2000, 0.0))
    assert len(eps) == 1
    o = eps[0].obs
    assert len(o.sat) > 0 and np.isnan(o.pr_m).all() and np.isnan(o.cp_cyc).all()


@pytest.mark.parametrize("capture,date", [
    ("pyrtcm/tests/pygpsdata-NTRIP-USCL00CHL0.log", None),  # legacy + MSM of the same systems: deduplicated
    ("pygnssutils/tests/ntrip_encode_none.bin", None),
    ("pygnssutils/tests/pygpsdata-rtcm3.log", "2020-12-29"),
])
@pytest.mark.parametrize("interval_s", [None, 5.0])
def test_stacked_messages_equal_merged_epochs(capture, date, interval_s):
    """MessageGrouper + stack_messages give the rows of EpochBuilder + merge_obs + merge_same_time."""
    from tests.conftest import data_path
    from vngeonet.archive.convert import _read, merge_epochs
    from vngeonet.epochs import MessageGrouper
    from vngeonet.rinex.writer import lli_rows

    path = [data_path(capture)]
    merged = merge_epochs(_read(path, EpochBuilder, date=date)[0], interval_s)
    stacked = merge_epochs(_read(path, MessageGrouper, date=date)[0], interval_s)
    assert [t.seconds for t in stacked.times] == [t.seconds for t in merged.times] and merged.times

    def per_epoch(rows):
        lli = lli_rows(rows)
        out = []
        for k in range(len(rows.times)):
            r = range(int(rows.ep_row0[k]), int(rows.ep_row0[k + 1]))
            out.append({(rows.sat[i], rows.sig[i]): (rows.pr_m[i], rows.cp_cyc[i], rows.dop_hz[i], rows.cn0_dbhz[i],
                                                      rows.lock_s[i], int(lli[i])) for i in r})
        return out

    a, b = per_epoch(merged), per_epoch(stacked)
    for ea, eb in zip(a, b):
        assert ea.keys() == eb.keys()
        for k in ea:
            np.testing.assert_array_equal(ea[k], eb[k])
