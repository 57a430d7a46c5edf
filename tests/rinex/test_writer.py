"""RINEX writer and converter: real RTCM captures -> RINEX -> read back (own reader, georinex).

The decoded observables must come back to RINEX precision (0.0005 in the
written unit), every epoch at the right GPS time (GLONASS and BeiDou checked
against pyrtcm's reading of their raw time fields), with the header
metadata from the stream (1006 ARP, 1033, 1230 biases, leap seconds).
"""

from __future__ import annotations

import datetime as dt
import io
import warnings

import numpy as np
import pytest

from tests.archive.synth import WEEK_MS, frames, looped
from tests.conftest import data_path
from vngeonet.archive.convert import convert, read_epochs
from vngeonet.gnss.time import GPSTime
from vngeonet.rinex.obs import read_obs
from vngeonet.rinex.writer import ObsHeader, format_obs_header, long_name, obs_types_from

CAPTURE = "pygnssutils/tests/ntrip_encode_none.bin"
CREATED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module", params=[3, 4])
def converted(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"conv{request.param}")
    res = convert([data_path(CAPTURE)], out, version=request.param, created_utc=CREATED)
    return request.param, res


def _decoded():
    obs, builder, _ = read_epochs([data_path(CAPTURE)])
    return obs, builder


def test_observables_read_back_to_rinex_precision(converted):
    version, res = converted
    d = read_obs(res.obs_path)
    assert d.header.version == pytest.approx(3.05 if version == 3 else 4.00)
    obs, _ = _decoded()
    assert len(d.time_gps_s) == len(obs) == 33
    np.testing.assert_allclose(d.time_gps_s, [o.time.seconds for o in obs], atol=1e-7)
    n_checked = 0
    for k, o in enumerate(obs):
        rows = d.epoch_idx == k
        got = {(s, g): (p, c, dd, n) for s, g, p, c, dd, n in zip(
            d.sat[rows], d.sig[rows], d.pr_m[rows], d.cp_cyc[rows], d.dop_hz[rows], d.cn0_dbhz[rows])}
        for i, (s, g) in enumerate(zip(o.sat.tolist(), o.sig.tolist())):
            want = (o.pr_m[i], o.cp_cyc[i], o.dop_hz[i], o.cn0_dbhz[i])
            have = got.pop((s, g), (np.nan,) * 4)
            for w, h in zip(want, have):
                if np.isnan(w):
                    assert np.isnan(h)
                else:
                    assert abs(w - h) <= 0.0005 + 1e-6 * abs(w) * 1e-3, (s, g, w, h)
                    n_checked += 1
        assert all(np.isnan(v).all() for v in got.values())  # nothing invented
    assert n_checked > 15000


def _assert_same_observables(path, obs):
    d = read_obs(path)
    np.testing.assert_allclose(d.time_gps_s, [o.time.seconds for o in obs], atol=1e-7)
    n = 0
    for k, o in enumerate(obs):
        rows = d.epoch_idx == k
        got = {(s, g): (p, c, dd, q) for s, g, p, c, dd, q in zip(
            d.sat[rows], d.sig[rows], d.pr_m[rows], d.cp_cyc[rows], d.dop_hz[rows], d.cn0_dbhz[rows])}
        for i, key in enumerate(zip(o.sat.tolist(), o.sig.tolist())):
            have = got.get(key, (np.nan,) * 4)
            for w, h in zip((o.pr_m[i], o.cp_cyc[i], o.dop_hz[i], o.cn0_dbhz[i]), have):
                if np.isfinite(w) and abs(w) < 1e10:
                    assert abs(w - h) <= 0.0005 + 1e-9 * abs(w), (key, w, h)
                    n += 1
                else:
                    assert np.isnan(h)
    return n


@pytest.mark.parametrize("capture,date,systems", [
    ("pyrtcm/tests/pygpsdata-NTRIP-USCL00CHL0.log", None, "CEGRS"),  # PolaRx5: legacy + MSM6/7 (J, I empty)
    ("rtklib/rcvraw/testglo.rtcm3", None, "GRS"),  # legacy 1004 (GPS + SBAS) / 1012, dated by 1020 N4/NT
    ("pygnssutils/tests/pygpsdata-rtcm3.log", "2020-12-29", "CEGR"),  # u-blox base with UBX/NMEA around
])
def test_other_real_captures_read_back(tmp_path, capture, date, systems):
    res = convert([data_path(capture)], tmp_path, date=date, created_utc=CREATED)
    obs, _, _ = read_epochs([data_path(capture)], date=date)
    obs = sorted(obs, key=lambda o: o.time.seconds)
    merged = []
    from vngeonet.rinex.writer import merge_same_time

    for o in obs:
        if merged and abs(merged[-1].time - o.time) < 5e-4:
            merged[-1] = merge_same_time(merged[-1], o)
        else:
            merged.append(o)
    assert _assert_same_observables(res.obs_path, merged) > 100
    assert "".join(sorted(read_obs(res.obs_path).header.obs_types)) == systems


def test_header_from_stream_metadata(converted):
    version, res = converted
    text = res.obs_path.read_text()
    head = text[:text.index("END OF HEADER")]
    assert "TRIMBLE ALLOY" in head and "LEIAR10" in head and "5803R40146" in head
    assert " C1C   19.080 C1P   19.080 C2C   19.080 C2P   19.080" in head  # 1230
    assert "    18                                                      LEAP SECONDS" in head
    assert "  3811965.6701  -175800.0708  5093615.5606" in head  # 1006 ARP
    assert "        0.1000        0.0000        0.0000" in head  # 1006 antenna height
    h = read_obs(res.obs_path).header
    assert h.leap_seconds == 18 and h.glonass_slots["R03"] == 5


def test_glonass_and_beidou_epochs_at_right_gps_time(converted):
    """GLONASS (DF416/DF034, UTC(SU)+3h) and BeiDou (DF427, BDT) epochs map to the GPS epochs written."""
    from pyrtcm import RTCMReader

    _, res = converted
    d = read_obs(res.obs_path)
    sod_written = {round(t % 86400.0, 3) for t in d.time_gps_s}
    data = data_path(CAPTURE).read_bytes()
    glo, bds = set(), set()
    for _raw, m in RTCMReader(io.BytesIO(data), quitonerror=0):
        if m is None:
            continue
        if m.identity == "1087":
            glo.add(round((m.DF034 / 1000.0 - 3 * 3600 + 18) % 86400.0, 3))
        elif m.identity == "1127":
            bds.add(round((m.DF427 / 1000.0 + 14) % 86400.0, 3))
    assert glo and bds and glo <= sod_written and bds <= sod_written
    for k, t in enumerate(d.time_gps_s):
        systems = {s[0] for s in d.sat[d.epoch_idx == k]}
        sod = round(t % 86400.0, 3)
        assert ("R" in systems) == (sod in glo) and ("C" in systems) == (sod in bds)


def test_georinex_reads_it(converted):
    import georinex as gr

    version, res = converted
    if version == 4:
        pytest.skip("georinex 1.16 reads RINEX <= 3.05 observation files")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = gr.load(res.obs_path)
    obs, _ = _decoded()
    o = obs[3]
    i = list(zip(o.sat.tolist(), o.sig.tolist())).index(("G10", "1C"))
    v = float(ds["C1C"].sel(sv="G10").isel(time=3))
    assert v == pytest.approx(o.pr_m[i], abs=5e-4)
    assert ds.sizes["time"] == 33


def test_navigation_file_round_trip(converted):
    from vngeonet.rinex.nav import read_nav

    version, res = converted
    _, builder = _decoded()
    mine = {(e.sat, round(e.toe.seconds)): e for e in builder.ephemerides()}
    nav = read_nav([res.nav_path])
    back = {(e.sat, round(e.toe.seconds)): e for e in nav.ephemerides}
    assert back.keys() == mine.keys() and len(back) == 34
    assert nav.leap_seconds == 18
    for k, e in mine.items():
        b = back[k]
        if hasattr(e, "sqrt_a"):
            for f in ("sqrt_a", "e", "m0_rad", "omega_rad", "af0_s", "af1_sps", "i0_rad"):
                assert getattr(b, f) == pytest.approx(getattr(e, f), rel=1e-11, abs=1e-20), (k, f)
        else:
            np.testing.assert_allclose(b.pos_m, e.pos_m, rtol=1e-11)
            assert b.freq_channel == e.freq_channel


def test_week_rollover_converts_without_gap_or_jump(tmp_path):
    pairs = frames()
    first = next(m for f, m in pairs if f.msg_type == 1077)
    start = (WEEK_MS - 50_000) - first.head[2]
    p = tmp_path / "rollover.rtcm"
    p.write_bytes(looped(pairs, 3, start_ms=start))
    res = convert([p], tmp_path / "out", date="2024-08-24")  # Saturday: end of GPS week 2328
    d = read_obs(res.obs_path)
    steps = np.diff(d.time_gps_s)
    assert np.allclose(steps, 1.0) and len(d.time_gps_s) == 99
    weeks = {GPSTime.from_seconds(t).week for t in d.time_gps_s}
    assert weeks == {2328, 2329}


def test_obs_types_and_names():
    t = obs_types_from({("G", "2W"), ("G", "1C"), ("E", "5Q"), ("E", "1C"), ("C", "2I")})
    assert list(t) == ["G", "E", "C"]
    assert t["G"] == ["C1C", "L1C", "D1C", "S1C", "C2W", "L2W", "D2W", "S2W"]
    assert long_name("HNOI00VNM", GPSTime.from_datetime(dt.datetime(2024, 5, 3, 13)), 3600, interval_s=1) == \
        "HNOI00VNM_S_20241241300_01H_01S_MO.rnx"
    assert long_name("HNOI00VNM", GPSTime.from_datetime(dt.datetime(2024, 5, 3)), 86400, kind="MN") == \
        "HNOI00VNM_S_20241240000_01D_MN.rnx"
    h = format_obs_header(ObsHeader(marker_name="ABCD", obs_types=t, created_utc=CREATED))
    lines = h.splitlines()
    assert all(len(line) <= 80 for line in lines) and lines[-1].endswith("END OF HEADER")
    assert all(line[60:].strip() for line in lines)


def test_vectorised_f14_3_matches_printf():
    from vngeonet.rinex.writer import _f14_3

    rng = np.random.default_rng(20240818)
    v = np.concatenate([rng.uniform(-1e9, 9.9e9, 20000), rng.uniform(-10, 10, 20000),
                        [0.0, -0.0, 0.0004, -0.0004, 0.001, -0.001, 9999999999.999, -999999999.999, 1.5, -2.25]])
    ours = [row.tobytes().decode() for row in _f14_3(v)]
    ref = ["%14.3f" % x for x in v]
    diff = [(a, b) for a, b in zip(ours, ref) if a != b]
    # only exact binary ties may round differently, by one unit of the last digit
    assert len(diff) <= 2
    for a, b in diff:
        assert abs(float(a) - float(b)) <= 0.0011


def test_single_epoch_and_batch_formatters_agree():
    from vngeonet.rinex.writer import format_epoch, format_epochs, lli_batch

    obs, _, _ = read_epochs([data_path(CAPTURE)])
    types = obs_types_from({(s[0], g) for o in obs for s, g in zip(o.sat.tolist(), o.sig.tolist())})
    llis = lli_batch(obs)
    assert "".join(format_epoch(o, types, f) for o, f in zip(obs, llis)) == format_epochs(obs, types, llis)
