"""``vngeonet convert``: the known traps, end to end through the command line."""

from __future__ import annotations

import numpy as np

from tests.archive.synth import frames, shift_epoch, stream
from tests.conftest import data_path
from vngeonet.cli.main import main
from vngeonet.rinex.obs import read_obs


def test_convert_real_capture_rinex3_and_4(tmp_path, capsys):
    src = data_path("pygnssutils/tests/ntrip_encode_none.bin")
    for v in (3, 4):
        out = tmp_path / f"v{v}"
        assert main(["convert", str(src), "-o", str(out), "--rinex", str(v)]) == 0
        text = capsys.readouterr().out
        assert "33 epochs" in text and "date from stream" in text
        obs = sorted(out.glob("*_MO.rnx"))
        nav = sorted(out.glob("*_MN.rnx"))
        assert len(obs) == 1 and len(nav) == 1
        d = read_obs(obs[0])
        assert d.header.version == (3.05 if v == 3 else 4.0) and len(d.time_gps_s) == 33
        assert d.header.leap_seconds == 18


def test_interval_decimation(tmp_path, capsys):
    src = data_path("pygnssutils/tests/ntrip_encode_none.bin")
    assert main(["convert", str(src), "-o", str(tmp_path), "--interval", "5"]) == 0
    d = read_obs(next(tmp_path.glob("*_MO.rnx")))
    assert all(t % 5 == 0 for t in d.time_gps_s) and len(d.time_gps_s) == 7
    assert d.header.interval_s == 5.0


def test_no_date_in_stream_needs_date_option(tmp_path, capsys):
    src = data_path("pygnssutils/tests/pygpsdata-rtcm3.log")  # u-blox base: MSM7 + 1005 + 1230, no date
    assert main(["convert", str(src), "-o", str(tmp_path / "a")]) == 1
    assert "--date" in capsys.readouterr().err
    assert not list((tmp_path / "a").glob("*_MO.rnx"))
    assert main(["convert", str(src), "-o", str(tmp_path / "b"), "--date", "2020-12-29"]) == 0
    d = read_obs(next((tmp_path / "b").glob("*_MO.rnx")))
    assert len(d.time_gps_s) == 158
    assert " C1C    0.000" not in (next((tmp_path / "b").glob("*_MO.rnx")).read_text()[:3000])  # 1230 mask empty


def test_beidou_gps_stamp_survives(tmp_path, capsys):
    pairs = frames()
    p = tmp_path / "bug.rtcm"
    p.write_bytes(stream(pairs, lambda m: shift_epoch(m, 14_000) if m.system == "C" else None))
    assert main(["convert", str(p), "-o", str(tmp_path / "o")]) == 0
    assert "re-timed" in capsys.readouterr().out
    d = read_obs(next((tmp_path / "o").glob("*_MO.rnx")))
    ref_p = tmp_path / "ok.rtcm"
    ref_p.write_bytes(stream(pairs))
    assert main(["convert", str(ref_p), "-o", str(tmp_path / "r")]) == 0
    r = read_obs(next((tmp_path / "r").glob("*_MO.rnx")))
    np.testing.assert_array_equal(d.time_gps_s, r.time_gps_s)
    np.testing.assert_array_equal(d.sat, r.sat)
    assert (np.char.startswith(d.sat.astype(str), "C")).sum() > 300


def test_ubx_rawx_converts(tmp_path, capsys):
    src = data_path("pygnssutils/tests/pygpsdata_testobsdata.log")  # u-blox RXM-RAWX only
    assert main(["convert", str(src), "-o", str(tmp_path)]) == 0
    d = read_obs(next(tmp_path.glob("*_MO.rnx")))
    assert len(d.time_gps_s) == 1800 and np.all(np.diff(d.time_gps_s) > 0)


def test_compressed_output_and_station_config(tmp_path, capsys):
    from pathlib import Path

    src = data_path("pygnssutils/tests/ntrip_encode_none.bin")
    example = Path(__file__).resolve().parents[2] / "stations" / "EXAMPLE.toml.disabled"
    cfg = tmp_path / "HNOI.toml"
    cfg.write_text(example.read_text())
    assert main(["convert", str(src), "-o", str(tmp_path / "o"), "--compress", "--config", str(cfg)]) == 0
    obs = next((tmp_path / "o").glob("*_MO.crx.gz"))
    assert obs.name.startswith("HNOI00VNM_S_2024231")
    d = read_obs(obs)
    assert d.header.marker_name == "HNOI" and d.header.receiver_type == "LEICA GR50"
    assert len(d.time_gps_s) == 33
    from vngeonet.rinex.nav import read_nav

    assert len(read_nav([next((tmp_path / "o").glob("*_MN.rnx.gz"))]).ephemerides) == 34
