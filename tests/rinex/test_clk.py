"""RINEX clock reader: every real clock file opens; values, versions 2.00/3.00/3.04, errors."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from tests.conftest import DATA, data_path
from vngeonet.errors import RINEXError
from vngeonet.gnss.time import GPSTime
from vngeonet.rinex.clk import read_clk


def _catalog() -> list[str]:
    cat = DATA / "catalog.jsonl"
    if not cat.exists():
        return []
    rows = [json.loads(line) for line in cat.read_text().splitlines() if line.strip()]
    return [r["file"] for r in rows if "CLOCK" in r.get("format", "")]


CLK_FILES = _catalog()


@pytest.mark.skipif(not CLK_FILES, reason="no data catalogue under VNGEONET_DATA")
@pytest.mark.parametrize("rel", CLK_FILES)
def test_every_clock_file_opens(rel):
    c = read_clk(data_path(rel))
    assert c.version in (2.0, 3.0, 3.04)
    assert c.clk_s.shape == (len(c.sats), len(c.time_gps_s))
    if len(c.sats):
        assert np.nanmax(np.abs(c.clk_s)) < 1.0


V2 = """\
     2.00           C                                       RINEX VERSION / TYPE
     2    AR    AS                                          # / TYPES OF DATA
                                                            END OF HEADER
AR ALGO 2019 01 08 00 00  0.000000  2    0.123456789012E-06  0.1E-11
AS G01  2019 01 08 00 00  0.000000  2   -0.141648778557E-03  0.305413520003E-11
AS G01  2019 01 08 00 00 30.000000  4   -0.141648778000E-03  0.305413520003E-11
    0.1E-13  0.2E-15
AS R05  2019 01 08 00 00 30.000000  1    0.5E-04
"""


def test_v2_records_and_continuation(tmp_path):
    p = tmp_path / "a.clk"
    p.write_text(V2)
    c = read_clk(p)
    assert c.sats.tolist() == ["G01", "R05"]
    t0 = GPSTime.from_datetime(dt.datetime(2019, 1, 8)).seconds
    assert c.time_gps_s.tolist() == [t0, t0 + 30.0]
    assert c.clk_s[0].tolist() == [-0.141648778557e-03, -0.141648778000e-03]
    assert np.isnan(c.clk_s[1, 0]) and c.clk_s[1, 1] == 0.5e-4
    assert c.receivers["ALGO"][1].tolist() == [0.123456789012e-06]


def test_v304_nine_character_names():
    c = read_clk(data_path("gnss_lib_py/clk/COD0MGXFIN_20211180000_01D_30S_CLK.CLK"))
    assert (
        c.version == 3.04 and len(c.sats) > 100 and any(k.startswith("ABMF") for k in c.receivers)
    )


def test_malformed(tmp_path):
    p = tmp_path / "b.clk"
    p.write_text(V2.replace("2019 01 08 00 00 30.000000  1", "2019 01 08 00 00 3X.000000  1"))
    with pytest.raises(RINEXError, match=r"b\.clk, line 8"):
        read_clk(p)
    p.write_text(
        "     3.04           OBSERVATION DATA    M                   RINEX VERSION / TYPE\n"
    )
    with pytest.raises(RINEXError, match="not a RINEX clock"):
        read_clk(p)
