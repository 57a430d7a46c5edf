"""``vngeonet rtcm scan`` and ``vngeonet rtcm decode`` on real captures."""

import gzip
import io
import json
import math
import subprocess
import sys

import pytest

from tests.conftest import data_path
from vngeonet.cli.main import main

NTRIP = "pygnssutils/tests/ntrip_encode_none.bin"
USCL = "pyrtcm/tests/pygpsdata-NTRIP-USCL00CHL0.log"
MIXED = "pygnssutils/tests/pygpsdata-rtcm3.log"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_json_ntrip(capsys):
    path = data_path(NTRIP)
    code, out, _ = run(capsys, "rtcm", "scan", str(path), "--json")
    assert code == 0
    r = json.loads(out)
    counts = {t["type"]: t["count"] for t in r["types"]}
    assert counts == {
        1006: 7,
        1013: 1,
        1019: 33,
        1020: 33,
        1033: 7,
        1042: 33,
        1046: 33,
        1077: 33,
        1087: 33,
        1097: 33,
        1127: 32,
        1230: 7,
        4094: 7,
    }
    assert r["frames"] == 292 and r["crc_failures"] == 0 and r["decode_errors"] == 0
    (st,) = r["stations"]
    assert st["id"] == 25
    assert st["arp_ecef_m"] == pytest.approx([3811965.6701, -175800.0708, 5093615.5606], abs=1e-4)
    assert st["arp_llh"]["lat_deg"] == pytest.approx(53.345, abs=1e-3)
    assert st["arp_llh"]["lon_deg"] == pytest.approx(-2.640, abs=1e-3)
    assert st["antenna_height_m"] == pytest.approx(0.1)
    assert st["antenna"].startswith("LEIAR10") and "ALLOY" in st["receiver"]
    assert set(r["systems"]) == {"G", "R", "E", "C"}
    assert "1C" in r["systems"]["G"]["signals"]
    # The date comes from the stream itself (1013 / ephemerides): epochs resolve.
    assert r["time_span"]["start"].startswith("2024-08-18")
    assert r["approx_time"]["from"] == "stream"
    assert r["time_span"]["duration_s"] > 0
    rates = {t["type"]: t["rate_hz"] for t in r["types"]}
    assert rates[1077] == pytest.approx(33 / r["time_span"]["duration_s"], rel=1e-3)


def test_scan_table_mixed_stream(capsys):
    path = data_path(MIXED)
    code, out, _ = run(capsys, "rtcm", "scan", str(path))
    assert code == 0
    assert "1106 frames" in out and "0 CRC failures" in out
    for t in ("1005", "1077", "1087", "1097", "1127", "1230", "4072"):
        assert f"\n {t}     158" in out
    assert "stations:" in out and "ARP 4444030.8028 3085671.2349 3366658.2560" in out
    assert "time span: unknown" in out  # no date in this stream


def test_scan_date_option_resolves_epochs(capsys):
    path = data_path(MIXED)
    _code, out, _ = run(capsys, "rtcm", "scan", str(path), "--json", "--date", "2021-04-17")
    r = json.loads(out)
    assert r["time_span"]["start"] is not None
    assert 150 <= r["time_span"]["duration_s"] <= 160
    assert r["unresolved_obs_messages"] == 0
    assert r["approx_time"] == {"time": "2021-04-17T12:00:00.000", "from": "--date"}


def test_decode_jsonl_every_message(capsys):
    path = data_path(USCL)
    code, out, _ = run(capsys, "rtcm", "decode", str(path), "--jsonl")
    assert code == 0
    lines = [json.loads(s) for s in out.splitlines()]
    assert len(lines) == 35
    by_type = {d["type"]: d for d in lines}
    m = by_type[1077]
    assert m["system"] == "G" and "station" in m and m["obs"]
    o = m["obs"][0]
    assert set(o) >= {"sat", "sig", "pr_m", "cp_cyc", "dop_hz", "cn0_dbhz", "lock_s", "half_cycle"}
    assert o["sat"].startswith("G") and 2e7 < o["pr_m"] < 3e7
    assert by_type[1005]["arp_ecef_m"] == pytest.approx(
        [1762489.6191, -5027633.8438, -3496008.8438], abs=1e-4
    )
    assert all(not isinstance(v, float) or math.isfinite(v) for d in lines for v in d.values())


def test_decode_raw_types_and_stdin(capsys, monkeypatch):
    path = data_path("pyrtcm/tests/pygpsdata-NTRIP-1300-1302.log")
    data = path.read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run(capsys, "rtcm", "decode", "-", "--jsonl")
    assert code == 0
    lines = [json.loads(s) for s in out.splitlines()]
    assert len(lines) == 72
    raw = [d for d in lines if d["type"] in (1057, 1300, 1302)]
    assert raw and all("raw_hex" in d for d in raw if d["type"] == 1057)


def test_decode_text_and_gzip(capsys, tmp_path):
    path = data_path(NTRIP)
    gz = tmp_path / "stream.rtcm3.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    code, out, _ = run(capsys, "rtcm", "decode", str(gz))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 292
    assert any(line.startswith("1077") and "GPS MSM7" in line for line in lines)


def test_missing_file_is_a_clear_error(capsys, tmp_path):
    missing = tmp_path / "nope.rtcm3"
    code, _out, err = run(capsys, "rtcm", "scan", str(missing))
    assert code == 1
    assert str(missing) in err and "cannot read" in err


def test_bad_date_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["rtcm", "scan", "x", "--date", "17/04/2021"])
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_garbage_file_scans_cleanly(capsys, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    code, out, _ = run(capsys, "rtcm", "scan", str(junk), "--json")
    r = json.loads(out)
    assert code == 0 and r["frames"] == 0 and r["skipped_bytes"] == 2560


def test_console_entry_point():
    path = data_path("pyrtcm/tests/pygpsdata-RTCMMSM3.log")
    res = subprocess.run(
        [sys.executable, "-m", "vngeonet", "rtcm", "scan", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["frames"] == 3


def test_strict_flags_crc_failures(capsys):
    path = data_path("pyrtcm/tests/pygpsdata-MIXED-RTCM3BADCRC.log")
    code, _out, err = run(capsys, "rtcm", "scan", str(path), "--strict")
    assert code == 1 and "1 CRC failures" in err
    code, _out, err = run(capsys, "rtcm", "scan", str(data_path(MIXED)), "--strict")
    assert code == 0
