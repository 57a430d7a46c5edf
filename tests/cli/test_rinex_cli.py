"""``vngeonet rinex info``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import data_path
from vngeonet.cli.main import main

SMALL = Path(__file__).resolve().parents[1] / "data" / "rinex"


def test_info_text(capsys):
    assert main(["rinex", "info", str(SMALL / "valid.rnx")]) == 0
    out = capsys.readouterr().out
    assert "marker        TEST TEST00XXX" in out and "epochs        2" in out
    assert "satellites    C:1  G:1  R:1" in out and "types G       C1C L1C D1C S1C" in out


def test_info_json(capsys):
    assert main(["rinex", "info", "--json", str(SMALL / "events.10o")]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["epochs"] == 3 and s["interval_s"] == 30.0 and s["satellites"] == {"G": 1, "R": 1}
    assert [e["flag"] for e in s["events"]] == [5, 4, 6] and s["gaps"] == []
    assert s["first"] == "2010-01-01T00:00:00.000" and s["span_s"] == 60.0


def test_info_gaps_on_real_file(capsys):
    path = data_path("nav-solutions-data/OBS/V2/delf0010.21o")
    assert main(["rinex", "info", "--json", str(path)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["marker_name"].startswith("DELF") and s["epochs"] == 105
    assert sum(g["missing_epochs"] for g in s["gaps"]) + s["epochs"] == int(s["span_s"] / s["interval_s"]) + 1


def test_info_broken_file_error(capsys):
    assert main(["rinex", "info", str(SMALL / "truncated.rnx")]) == 1
    err = capsys.readouterr().err
    assert "truncated.rnx, line 23" in err
    assert main(["rinex", "info", "--lenient", "--json", str(SMALL / "truncated.rnx")]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 1
