"""RINEX observation reader: real files against georinex, twins, events, errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import DATA, data_path
from tests.rinex.oracle import compare, load_georinex
from vngeonet.errors import FormatError, RINEXError
from vngeonet.gnss.time import GPSTime
from vngeonet.model import ObsEpoch
from vngeonet.rinex import read_obs, read_obs_bytes

ORACLE_FILES = [
    "georinex/14601736.18o",  # RINEX 2.11, G/R/E, band 8
    "georinex/ac660270.18o.Z",  # RINEX 2.11 in unix compress
    "nav-solutions-data/OBS/V2/delf0010.21o",  # RINEX 2.11, 7 types (2 lines per satellite)
    "nav-solutions-data/OBS/V2/AJAC3550.21O",  # RINEX 2.11 with Doppler, >12 satellites
    "nav-solutions-data/CRNX/V3/VLNS0010.22D",  # Hatanaka 3 -> RINEX 3.02
    "rtklib/rinex/07590920.05o",  # RINEX 2.10 with event records (flag 4)
    "orekit/rinex/aber0440.16d.Z",  # .Z around Hatanaka 1, events
    "nav-solutions-data/OBS/V3/ALAC00ESP_R_20220090000_01D_30S_MO.rnx",  # RINEX 3.04 plain
    "georinex/ABMF00GLP_R_20181330000_01D_30S_MO.zip",  # RINEX 3.02 in zip
    "nav-solutions-data/CRNX/V3/KMS300DNK_R_20221591000_01H_30S_MO.crx",  # RINEX 4.00 (Hatanaka)
]

TWINS = [  # (plain, Hatanaka) copies of the same file
    ("nav-solutions-data/OBS/V2/delf0010.21o", "nav-solutions-data/CRNX/V1/delf0010.21d"),
    ("nav-solutions-data/OBS/V2/AJAC3550.21O", "nav-solutions-data/CRNX/V1/AJAC3550.21D"),
    ("nav-solutions-data/OBS/V2/zegv0010.21o", "nav-solutions-data/CRNX/V1/zegv0010.21d"),
    ("nav-solutions-data/OBS/V3/ACOR00ESP_R_20213550000_01D_30S_MO.rnx",
     "nav-solutions-data/CRNX/V3/ACOR00ESP_R_20213550000_01D_30S_MO.crx"),
    ("nav-solutions-data/OBS/V3/VLNS0010.22O", "nav-solutions-data/CRNX/V3/VLNS0010.22D"),
    ("nav-solutions-data/OBS/V3/flrs0010.12o", "nav-solutions-data/CRNX/V3/flrs0010.12d"),
]

ARRAYS = ("time_gps_s", "epoch_flag", "clock_offset_s", "epoch_idx", "sat", "sig", "pr_m",
          "cp_cyc", "dop_hz", "cn0_dbhz", "lli", "ssi")


def _catalog_obs(max_bytes: int) -> list[str]:
    cat = DATA / "catalog.jsonl"
    if not cat.exists():
        return []
    out = []
    for line in cat.read_text().splitlines():
        d = json.loads(line)
        if "OBS" in d.get("format", "") and d.get("size", 0) <= max_bytes:
            out.append(d["file"])
    return out


def assert_same(a, b):
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert np.array_equal(x, y), name


@pytest.mark.parametrize("rel", ORACLE_FILES)
def test_values_equal_georinex(rel):
    path = data_path(rel)
    obs = read_obs(path)
    assert compare(obs, load_georinex(path)) > 0


@pytest.mark.parametrize("plain,crx", TWINS, ids=[t[0].rsplit("/", 1)[1] for t in TWINS])
def test_hatanaka_and_plain_twins_identical(plain, crx):
    a, b = read_obs(data_path(plain)), read_obs(data_path(crx))
    assert a.header.marker_name == b.header.marker_name
    assert a.header.obs_types == b.header.obs_types
    assert_same(a, b)


ALL_FILES = os.environ.get("VNGEONET_RINEX_ALL", "") not in ("", "0")


@pytest.mark.parametrize("rel", _catalog_obs(10**10 if ALL_FILES else 400_000) or ["absent"])
def test_every_small_obs_file_opens(rel):
    """Every catalogued observation file up to 400 kB (all of them with VNGEONET_RINEX_ALL=1)."""
    obs = read_obs(data_path(rel), strict=False)
    assert obs.n_epochs > 0 and obs.sat.size > 0
    assert np.all(np.diff(obs.epoch_idx) >= 0)
    key = obs.epoch_idx.astype(np.int64) * 100000
    assert obs.sat.dtype == np.dtype("<U3") and obs.sig.dtype == np.dtype("<U2")
    assert np.all(np.isfinite(obs.time_gps_s)) and key.size == obs.pr_m.size
    has = ~(np.isnan(obs.pr_m) & np.isnan(obs.cp_cyc) & np.isnan(obs.dop_hz) & np.isnan(obs.cn0_dbhz))
    assert has.all()


def test_truncated_real_file_strict_and_lenient():
    path = data_path("nav-solutions-data/OBS/V2/rovn0010.21o")  # excerpt cut inside its last epoch
    with pytest.raises(RINEXError, match="line 512: file ends inside the epoch"):
        read_obs(path)
    obs = read_obs(path, strict=False)
    assert obs.n_epochs == 5 and "incomplete last epoch dropped" in obs.warnings[0]


def test_nya1_full_day_by_hand():
    """NYA1 2024-124 (RINEX 3.05, Hatanaka in gzip): shape and the first record checked by hand."""
    obs = read_obs(data_path("nav-solutions-data/CRNX/V3/NYA100NOR_S_20241240000_01D_30S_MO.crx.gz"))
    h = obs.header
    assert (h.marker_name, h.marker_number, h.receiver_type, h.antenna_type) == (
        "NYA1", "10317M003", "TRIMBLE NETR9", "ASH701073.1     SNOW")
    np.testing.assert_array_equal(h.approx_pos_ecef_m, [1202434.1303, 252632.2212, 6237772.4351])
    assert h.interval_s == 30.0 and h.time_system == "GPS" and h.glonass_slots["R10"] == -7
    assert obs.n_epochs == 2880 and obs.time(0) == GPSTime(2312, 432000.0)
    assert obs.time_gps_s[-1] - obs.time_gps_s[0] == 86370.0
    # "G27  22265735.555   117007388.31018       314.898          45.900" (first epoch)
    m = (obs.epoch_idx == 0) & (obs.sat == "G27") & (obs.sig == "1C")
    assert m.sum() == 1
    assert obs.pr_m[m][0] == 22265735.555 and obs.cp_cyc[m][0] == 117007388.310
    assert obs.dop_hz[m][0] == 314.898 and obs.cn0_dbhz[m][0] == 45.9
    assert obs.lli[m][0] == 1 and obs.ssi[m][0] == 8
    assert set(np.unique(obs.sat).astype("<U1")) == {"G", "R", "E", "C"}


def test_epochs_yield_obs_epoch():
    obs = read_obs(data_path("nav-solutions-data/OBS/V2/delf0010.21o"))
    eps = list(obs.epochs())
    assert len(eps) == obs.n_epochs and isinstance(eps[0], ObsEpoch)
    assert sum(e.sat.size for e in eps) == obs.sat.size
    assert eps[0].station == "DELF" and eps[3].time == obs.time(3)
    assert np.isnan(eps[0].lock_s).all()


def test_rinex2_events_recorded():
    obs = read_obs(data_path("rtklib/rinex/07590920.05o"))
    assert [e.flag for e in obs.events] == [4, 4, 4]
    assert any("COMMENT" in r for e in obs.events for r in e.records)


def test_v2_signal_mapping_on_real_file():
    obs = read_obs(data_path("nav-solutions-data/OBS/V2/delf0010.21o"))  # L1 L2 C1 P2 P1 S1 S2
    g = obs.sat.astype("<U1") == "G"
    assert set(np.unique(obs.sig[g])) == {"1C", "1W", "2W"}
    one_w = g & (obs.sig == "1W")
    assert np.isnan(obs.cp_cyc[one_w]).all() and not np.isnan(obs.pr_m[one_w]).all()


# --- small self-made files (tests/data/rinex/README.md) -------------------------------------

def _small(name):
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "data" / "rinex" / name


@pytest.mark.parametrize("name,line,text", [
    ("blank.rnx", 1, "empty file"),
    ("bad_time.rnx", 23, "bad epoch time"),
    ("wrong_count.rnx", 22, "epoch at line 19 announces 3 satellites, found 2"),
    ("truncated.rnx", 23, "file ends inside the epoch"),
    ("bad_value.10o", 13, "bad number '12345.6a8'"),
    ("wrong_count.10o", 14, "bad number"),
])
def test_broken_files_raise_with_line(name, line, text):
    path = _small(name)
    with pytest.raises(RINEXError) as info:
        read_obs(path)
    err = info.value
    assert isinstance(err, FormatError) and err.line == line and text in str(err)
    assert name in str(err) and f"line {line}" in str(err)


def test_events_and_type_change_v2():
    obs = read_obs(_small("events.10o"))
    assert [e.flag for e in obs.events] == [5, 4, 6]
    assert obs.events[0].time == obs.time(0) + 15.0
    assert obs.n_epochs == 3
    # after the flag-4 event the file lists 3 types: C1 L1 D1 (D1 added)
    last = obs.epoch_idx == 2
    assert np.all(~np.isnan(obs.dop_hz[last])) and np.all(np.isnan(obs.dop_hz[~last]))
    m = last & (obs.sat == "G05")
    assert obs.pr_m[m][0] == 21000000.125 and obs.dop_hz[m][0] == -1234.5


def test_time_systems_glo_and_bdt():
    src = _small("events.10o").read_bytes()
    gps = read_obs_bytes(src)
    glo = read_obs_bytes(src.replace(b"     GPS         TIME OF FIRST OBS", b"     GLO         TIME OF FIRST OBS"))
    assert glo.header.time_system == "GLO"
    np.testing.assert_array_equal(glo.time_gps_s - gps.time_gps_s, 15.0)  # 2010: GPST - UTC = 15 s
    v3 = _small("valid.rnx").read_bytes()
    a = read_obs_bytes(v3)
    b = read_obs_bytes(v3.replace(b"GPS         TIME OF FIRST", b"BDT         TIME OF FIRST"))
    assert b.header.time_system == "BDT"
    np.testing.assert_array_equal(b.time_gps_s - a.time_gps_s, 14.0)
    assert b.header.time_of_first_obs == a.header.time_of_first_obs + 14.0


def test_valid_small_v3_file():
    obs = read_obs(_small("valid.rnx"))
    assert obs.n_epochs == 2
    assert list(obs.sat) == ["C05", "G01", "R02", "C05", "G01", "R02"]
    assert list(obs.sig) == ["2I", "1C", "1C"] * 2
    assert np.isnan(obs.pr_m[0]) and obs.cp_cyc[0] == 99000000.0
    assert obs.lli[1] == 1 and obs.ssi[1] == 5 and obs.ssi[2] == 7
    assert np.isnan(obs.clock_offset_s).all()
    assert obs.header.leap_seconds == 18 and obs.header.phase_shifts == {"G": {"L1C": 0.0}}


def test_crlf_and_missing_final_newline():
    src = _small("events.10o").read_bytes()
    a = read_obs_bytes(src)
    b = read_obs_bytes(src.replace(b"\n", b"\r\n").rstrip(b"\r\n"))
    assert_same(a, b)


def _row(obs, ep, sat, sig):
    m = (obs.epoch_idx == ep) & (obs.sat == sat) & (obs.sig == sig)
    assert m.sum() == 1, (sat, sig)
    k = int(np.flatnonzero(m)[0])
    return obs.pr_m[k], obs.cp_cyc[k], obs.dop_hz[k], obs.cn0_dbhz[k], obs.lli[k], obs.ssi[k]


def test_by_hand_where_georinex_fails_21_types():
    """kerg1700.16o: georinex 1.16 raises IndexError; 21 types on 5 lines, values read off the file."""
    obs = read_obs(data_path("gnsstk-data/inputs/igs/kerg1700.16o"))
    nan = float("nan")
    np.testing.assert_array_equal(_row(obs, 0, "R10", "1C"), (20363720.063, 108550080.256, nan, 41.1, 0, 6))
    np.testing.assert_array_equal(_row(obs, 0, "R10", "1P"), (20363719.633, nan, nan, nan, 0, 0))
    np.testing.assert_array_equal(_row(obs, 0, "R10", "2P"), (20363728.133, 84427873.614, nan, 39.6, 0, 6))
    assert obs.time(0) == GPSTime(1901, 518400.0)  # 2016-06-18 00:00:00 GPS


def test_by_hand_where_georinex_fails_negative_phase_lli():
    """test_dfix_karr0880.ed.10o: georinex raises IndexError; negative phases with LLI 4."""
    obs = read_obs(data_path("gnsstk-data/test_dfix_karr0880.ed.10o"))
    np.testing.assert_array_equal(_row(obs, 0, "G28", "1C"),
                                  (21650103.367, -16140479.790, -2824.489, float("nan"), 4, 3))
    np.testing.assert_array_equal(_row(obs, 0, "G28", "2W"),
                                  (21650105.736, -12557991.971, -2200.900, float("nan"), 4, 2))
    assert _row(obs, 0, "G28", "1W")[0] == 21650103.304


def test_v3_events_type_change_and_slips():
    """RINEX 3: flag 2 with blank time, flag 4 redefining G types, flag 6 records skipped."""
    base = _small("valid.rnx").read_bytes()
    extra = (
        b">                              2  0\n"
        b">                              4  1\n"
        + b"G    2 C1C L1C".ljust(60) + b"SYS / # / OBS TYPES\n"
        + b"> 2024 05 03 00 01  0.0000000  6  1\n"
        b"G01  20000002.125   105000002.1231\n"
        b"> 2024 05 03 00 01 30.0000000  0  1\n"
        b"G01  20000003.125   105000003.123\n"
    )
    obs = read_obs_bytes(base + extra, source="v3events")
    assert [(e.flag, e.time is None) for e in obs.events] == [(2, True), (4, True), (6, False)]
    assert obs.n_epochs == 3 and obs.events[1].records[0].startswith("G    2 C1C L1C")
    last = obs.epoch_idx == 2
    assert list(obs.sat[last]) == ["G01"] and obs.pr_m[last][0] == 20000003.125
    assert obs.cp_cyc[last][0] == 105000003.123 and np.isnan(obs.dop_hz[last][0])


def test_comment_mentioning_end_of_header():
    src = _small("valid.rnx").read_bytes()
    text = src.replace(b"Synthetic values written for", b"END OF HEADER in a comment, ")
    assert text != src and len(text) == len(src)
    obs = read_obs_bytes(text)
    assert obs.n_epochs == 2 and obs.header.comments[0].startswith("END OF HEADER")
