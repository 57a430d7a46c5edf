"""RINEX observation header parsing and the RINEX 2 -> 3 signal table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vngeonet.errors import RINEXError
from vngeonet.gnss.time import GPSTime
from vngeonet.rinex.header import parse_obs_header, rinex2_code_to_rinex3, signal_code

SMALL = Path(__file__).resolve().parents[1] / "data" / "rinex"


def _lines(text: str) -> list[str]:
    return text.splitlines()


def L(text: str, label: str) -> str:
    return f"{text:<60}{label}"


def test_v3_header_fields():
    lines = (SMALL / "valid.rnx").read_text().split("END OF HEADER")[0].splitlines()
    h = parse_obs_header(lines + [L("", "END OF HEADER")], "valid.rnx")
    assert h.version == 3.04 and h.major == 3 and h.system == "M"
    assert (h.marker_name, h.marker_number, h.receiver_type, h.receiver_version) == (
        "TEST", "TEST00XXX", "RECEIVER", "1.0")
    assert h.antenna_type == "ANTENNA        NONE"
    np.testing.assert_array_equal(h.approx_pos_ecef_m, [1e6, 2e6, 3e6])
    np.testing.assert_array_equal(h.antenna_delta_hen_m, [0.1, 0.0, 0.0])
    assert h.obs_types == {"G": ["C1C", "L1C", "D1C", "S1C"], "R": ["C1C", "L1C"], "C": ["C2I", "L2I"]}
    assert h.interval_s == 30.0 and h.time_system == "GPS" and h.leap_seconds == 18
    assert h.time_of_first_obs == GPSTime(2312, 432000.0)
    assert h.glonass_slots == {"R02": 1} and h.phase_shifts == {"G": {"L1C": 0.0}}
    assert h.comments[0].startswith("Synthetic")


def test_v3_obs_types_continuation_and_glonass_slots():
    lines = [
        L("     3.05           OBSERVATION DATA    M (MIXED)", "RINEX VERSION / TYPE"),
        L("G   16 C1C L1C D1C S1C C2W L2W D2W S2W C2X L2X D2X S2X C5X", "SYS / # / OBS TYPES"),
        L("       L5X D5X S5X", "SYS / # / OBS TYPES"),
        L(" 10 R01  1 R02 -4 R03  5 R04  6 R05  1 R06 -4 R07  5 R08  6", "GLONASS SLOT / FRQ #"),
        L("    R09 -2 R10 -7", "GLONASS SLOT / FRQ #"),
        L("  2024     5     3     0     0    0.0000000     GLO", "TIME OF FIRST OBS"),
        L("", "END OF HEADER"),
    ]
    h = parse_obs_header(lines)
    assert len(h.obs_types["G"]) == 16 and h.obs_types["G"][-1] == "S5X"
    assert h.glonass_slots["R10"] == -7 and len(h.glonass_slots) == 10
    assert h.time_system == "GLO" and h.time_of_first_obs == GPSTime(2312, 432018.0)


def test_v2_types_continuation():
    lines = [
        L("     2.11           OBSERVATION DATA    M (MIXED)", "RINEX VERSION / TYPE"),
        L("    11    C1    C2    C5    L1    L2    L5    P1    P2    S1", "# / TYPES OF OBSERV"),
        L("          S2    S5", "# / TYPES OF OBSERV"),
        L("", "END OF HEADER"),
    ]
    h = parse_obs_header(lines)
    assert h.obs_types["G"] == ["C1", "C2", "C5", "L1", "L2", "L5", "P1", "P2", "S1", "S2", "S5"]
    assert h.signals["G"][:4] == ["C1C", "C2X", "C5X", "L1C"] and h.signals["R"][2] is None


@pytest.mark.parametrize("sys_,code,expected", [
    ("G", "C1", "C1C"), ("G", "P1", "C1W"), ("G", "L1", "L1C"), ("G", "D1", "D1C"), ("G", "S1", "S1C"),
    ("G", "C2", "C2X"), ("G", "P2", "C2W"), ("G", "L2", "L2W"), ("G", "S2", "S2W"), ("G", "L5", "L5X"),
    ("R", "C1", "C1C"), ("R", "P1", "C1P"), ("R", "L1", "L1C"), ("R", "P2", "C2P"), ("R", "L2", "L2P"),
    ("R", "C2", "C2C"), ("E", "C1", "C1X"), ("E", "L5", "L5X"), ("E", "C7", "C7X"), ("E", "S8", "S8X"),
    ("S", "C1", "C1C"), ("S", "L5", "L5I"), ("J", "C2", "C2X"), ("C", "C2", "C2I"), ("C", "C1", "C2I"),
    ("C", "L7", "L7I"), ("I", "C5", "C5A"), ("G", "C8", None), ("G", "X1", None), ("R", "C5", None),
])
def test_rinex2_mapping_table(sys_, code, expected):
    assert rinex2_code_to_rinex3(sys_, code) == expected


def test_bds_band1_renamed_before_303():
    assert signal_code("C", "C1I", 3.02) == "C2I" and signal_code("C", "L1Q", 3.02) == "L2Q"
    assert signal_code("C", "C1X", 3.04) == "C1X" and signal_code("G", "C1X", 3.02) == "C1X"


@pytest.mark.parametrize("lines,text", [
    ([L("     3.04           NAVIGATION DATA     M", "RINEX VERSION / TYPE")], "not an observation file"),
    ([L("     x.xx           OBSERVATION DATA    M", "RINEX VERSION / TYPE")], "bad RINEX version"),
    ([L("TEST", "MARKER NAME")], "first line is not RINEX VERSION / TYPE"),
    ([L("     3.04           OBSERVATION DATA    M", "RINEX VERSION / TYPE")], "no SYS / # / OBS TYPES"),
    ([L("     2.11           OBSERVATION DATA    M", "RINEX VERSION / TYPE"),
      L("     3    C1    L1", "# / TYPES OF OBSERV")], "announces 3 types, lists 2"),
    ([L("     3.04           OBSERVATION DATA    M", "RINEX VERSION / TYPE"),
      L("G    3 C1C L1C", "SYS / # / OBS TYPES")], "announces 3 types for G, lists 2"),
    ([L("     3.04           OBSERVATION DATA    M", "RINEX VERSION / TYPE"),
      L("G    2 C1C L1C", "SYS / # / OBS TYPES"),
      L("  2024    13     3     0     0    x.0000000     GPS", "TIME OF FIRST OBS")], "bad time in header"),
])
def test_header_errors(lines, text):
    with pytest.raises(RINEXError, match=text) as info:
        parse_obs_header(lines + [L("", "END OF HEADER")], "f.rnx")
    assert "f.rnx" in str(info.value) and info.value.line >= 1
