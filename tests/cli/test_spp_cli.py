"""Tests of the ``vngeonet spp`` command on real data (GEONET 0759, 2005-04-02, 120 epochs)."""

import json

import numpy as np

from tests.conftest import data_path
from vngeonet.cli.main import main



def _f5_ref():
    from vngeonet.gnss import coords

    text = data_path("rtklib/pos/geonet_F5.pos").read_bytes().decode("latin-1")
    f = next(line.split() for line in text.splitlines() if line[40:].split()[:1] == ["0759"])
    xyz = coords.llh_to_ecef([np.radians(float(f[0])), np.radians(float(f[1])), float(f[2])])
    return ",".join(f"{v:.4f}" for v in xyz)


def _files():
    return (str(data_path("rtklib/rinex/07590920.05o")), str(data_path("rtklib/rinex/07590920.05n")))


def test_summary_ref_and_pos(tmp_path, capsys):
    obs, nav = _files()
    out = tmp_path / "0759.pos"
    rc = main(["spp", obs, nav, "--ref=" + _f5_ref(), "--out", str(out), "--elev-mask", "10"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "solved: 120 single, 0 none" in text
    line = next(x for x in text.splitlines() if x.startswith("horizontal RMS"))
    h_rms = float(line.split()[2])
    v_rms = float(line.split("vertical RMS")[1].split()[0])
    assert h_rms < 1.3 and v_rms < 2.2
    lines = out.read_text().splitlines()
    body = [x for x in lines if not x.startswith("%")]
    assert len(body) == 120
    f = body[0].split()
    assert f[0] == "2005/04/02" and f[1] == "00:00:00.000" and f[5] == "5"
    assert abs(float(f[2]) - 35.1608) < 1e-3 and abs(float(f[3]) - 139.6138) < 1e-3


def test_json_lines(capsys):
    obs, nav = _files()
    assert main(["spp", obs, nav, "--json", "--sys", "G"]) == 0
    cap = capsys.readouterr()
    recs = [json.loads(x) for x in cap.out.splitlines()]
    assert len(recs) == 120
    r = recs[0]
    assert r["time"] == "2005-04-02T00:00:00.000" and r["q"] == "single"
    assert len(r["ecef_m"]) == 3 and r["nsat"] >= 5 and 1.0 < r["pdop"] < 10.0
    assert "solved:" in cap.err  # summary goes to stderr with --json


def test_bad_ref_is_an_error(capsys):
    obs, nav = _files()
    assert main(["spp", obs, nav, "--ref", "1,2"]) == 1
    assert "--ref" in capsys.readouterr().err


def test_pos_ecef_variant_and_sinex_ref(tmp_path, capsys):
    obs, nav = _files()
    out = tmp_path / "x.pos"
    snx = data_path("rtklib/pos/igs20P2131_wocov.snx")
    # 0759 is not in the IGS SINEX: a clear error, exit status 1
    assert main(["spp", obs, nav, "--ref", f"{snx}:0759"]) == 1
    assert "0759" in capsys.readouterr().err
    assert main(["spp", obs, nav, "--out", str(out), "--xyz"]) == 0
    body = [x.split() for x in out.read_text().splitlines() if not x.startswith("%")]
    assert len(body) == 120 and all(len(f) == 15 for f in body)
    xyz = np.array([[float(v) for v in f[2:5]] for f in body])
    assert np.all(np.abs(np.linalg.norm(xyz, axis=1) - 6.37e6) < 3e4)
