"""``vngeonet baseline`` on the real GEONET 0759-3040 pair (3.3 km, 120 epochs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.cli.main import main

BASE = "-3978241.958,3382840.234,3649900.853"


def _files():
    d = "rtklib/rinex/"
    return [
        str(data_path(d + f))
        for f in ("07590920.05o", "30400920.05o", "07590920.05n", "30400920.05n")
    ]


def test_static_text_and_pos(tmp_path, capsys):
    out = tmp_path / "s.pos"
    assert (
        main(["baseline", *_files(), "--base-pos=" + BASE, "--mode", "static", "--out", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    assert "static solution (fixed;" in text
    length = float(next(x for x in text.splitlines() if x.strip().startswith("length")).split()[1])
    assert abs(length - 3335.390) < 0.005
    body = [x for x in out.read_text().splitlines() if not x.startswith("%")]
    assert len(body) == 120
    f = body[-1].split()
    assert f[0] == "2005/04/02" and f[5] == "1"  # Q = 1 fixed
    assert out.read_text().startswith("% program   : vngeonet baseline")


def test_static_json_final(capsys):
    assert main(["baseline", *_files(), "--base-pos=" + BASE, "--mode", "static", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    recs = [json.loads(x) for x in lines]
    assert len(recs) == 121
    for key in ("time", "ecef_m", "q", "nsat", "ratio", "baseline_m"):
        assert key in recs[0] and key in recs[-1]
    fin = recs[-1]
    assert fin["final"] is True and fin["q"] == "fix" and fin["moving"] is False
    assert abs(np.linalg.norm(fin["baseline_m"]) - 3335.390) < 0.005


@pytest.mark.parametrize("base", [BASE, "-3978242.4348,3382841.1715,3649902.7667"])
def test_kinematic_json_fix_rate(capsys, base):
    assert main(["baseline", *_files(), "--base-pos=" + base, "--json"]) == 0
    cap = capsys.readouterr()
    recs = [json.loads(x) for x in cap.out.splitlines()]
    assert len(recs) == 120 and not any(r.get("final") for r in recs)
    assert sum(r["q"] == "fix" for r in recs) >= 114
    assert "fix rate" in cap.err


def test_bad_base_pos(capsys):
    assert main(["baseline", *_files(), "--base-pos=1,2"]) == 1


def test_missing_antex_is_a_clear_error(capsys):
    assert main(["baseline", *_files(), "--base-pos=" + BASE, "--antex", "/nonexistent.atx"]) == 1
    assert "ANTEX" in capsys.readouterr().err
