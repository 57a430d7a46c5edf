"""RINEX navigation reader: every real file opens, values equal georinex's, formats and errors."""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings

import numpy as np
import pytest

from tests.conftest import DATA, data_path
from vngeonet.errors import RINEXError
from vngeonet.gnss.time import GPSTime, gps_to_utc
from vngeonet.model import GlonassEphemeris, KeplerEphemeris
from vngeonet.rinex.nav import parse_float, read_nav


def _catalog_nav_files() -> list[str]:
    cat = DATA / "catalog.jsonl"
    if not cat.exists():
        return []
    rows = [json.loads(line) for line in cat.read_text().splitlines() if line.strip()]
    return [r["file"] for r in rows if "NAV" in r.get("format", "")]


NAV_FILES = _catalog_nav_files()
IONO_ONLY = {
    "orekit/orbit-determination/february-2016/CGIM0440.16N"
}  # CODE Klobuchar file, no records


@pytest.mark.skipif(not NAV_FILES, reason="no data catalogue under VNGEONET_DATA")
@pytest.mark.parametrize("rel", NAV_FILES)
def test_every_nav_file_opens(rel):
    nav = read_nav(data_path(rel))
    assert nav.skipped == 0
    if rel in IONO_ONLY:
        assert not nav.ephemerides and "GPSA" in nav.iono
        return
    assert nav.ephemerides
    for e in nav.ephemerides:
        assert isinstance(e, (KeplerEphemeris, GlonassEphemeris))
        assert len(e.sat) == 3 and e.sat[0] in "GRECJIS"


# ---------------------------------------------------------------- small self-made records

RNX3 = """\
     3.05           N: GNSS NAV DATA    M: MIXED            RINEX VERSION / TYPE
GPSA   1.1176E-08  0.0000E+00 -5.9605E-08  0.0000E+00       IONOSPHERIC CORR
GPSB   9.0112E+04  0.0000E+00 -1.9661E+05  0.0000E+00       IONOSPHERIC CORR
GAL    2.8250E+01  7.8125E-03  1.0071E-02  0.0000E+00       IONOSPHERIC CORR
GPUT  9.3132257462E-10 2.664535259E-15 589824 2111          TIME SYSTEM CORR
    18                                                      LEAP SECONDS
                                                            END OF HEADER
G05 2020 06 25 12 00 00-1.536319032311D-05-1.136868377216D-12 0.000000000000D+00
     1.900000000000D+01-1.043750000000D+01 4.703767349823D-09-2.612069883839D+00
    -5.401670932770D-07 5.584045220166D-03 6.502494215965D-06 5.153645463943D+03
     3.888000000000D+05-6.332993507385D-08 2.134049437076D+00-5.215406417847D-08
     9.565648727426D-01 2.475625000000D+02 5.267022939779D-02-7.880328241012D-09
     1.150047903418D-10 1.000000000000D+00 2.111000000000D+03 0.000000000000D+00
     2.000000000000D+00 0.000000000000D+00-1.117587089539D-08 1.900000000000D+01
     3.816180000000D+05
R01 2020 06 24 23 15 00 6.355904042721e-05 0.000000000000e+00 3.420000000000e+05
     1.090894238281e+04 1.407806396484e+00-1.862645149231e-09 0.000000000000e+00
    -2.885726074219e+03 2.795855522156e+00-0.000000000000e+00 1.000000000000e+00
     2.288353955078e+04-3.169984817505e-01-2.793967723846e-09 0.000000000000e+00
                         .999999999999e+09 1.500000000000e+01
C19 2020 06 25 12 00 00 2.000000000000e-04 1.000000000000e-12 0.000000000000e+00
     1.000000000000e+00-5.843750000000e+00 3.871232680951e-09 8.650567350738e-01
    -2.142041921616e-07 1.015573448967e-03 5.141831934452e-06 5.282620728736e+03
     3.888000000000e+05 1.862645149231e-09-1.163148544709e+00-3.445893526077e-08
     9.722051715392e-01 2.620468750000e+02-1.135667398911e+00-6.910823577827e-09
     1.100045821324e-10 0.000000000000e+00 7.550000000000e+02 0.000000000000e+00
     2.000000000000e+00 0.000000000000e+00 1.230000000000e-08 5.000000000000e-09
"""


def _write(tmp_path, text, name="x.rnx"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_parse_float_d_exponent_and_blank():
    assert parse_float(" 0.123D+01") == 1.23
    assert parse_float("-1.5d-03") == -1.5e-3
    assert math.isnan(parse_float("   "))


def test_rinex3_records_header_and_sentinel(tmp_path):
    nav = read_nav(_write(tmp_path, RNX3))
    assert nav.version == 3.05 and nav.leap_seconds == 18
    assert nav.iono["GPSA"] == (1.1176e-08, 0.0, -5.9605e-08, 0.0)
    assert nav.iono["GAL"][0] == 28.25
    assert nav.time_corr["GPUT"] == (9.3132257462e-10, 2.664535259e-15, 589824.0, 2111)
    g, r, c = nav.ephemerides
    assert g.sat == "G05" and g.iode == 19 and g.iodc == 19 and g.source == "LNAV"
    assert g.toc == GPSTime.from_datetime(dt.datetime(2020, 6, 25, 12))
    assert g.toe == GPSTime(2111, 388800.0) and g.week == 2111
    assert g.sqrt_a == 5153.645463943 and g.tgd_s == pytest.approx(-1.117587089539e-08)
    assert g.fit_interval_h == 4.0  # field absent (record ends after transmission time)
    # GLONASS: epoch is UTC -> GPS + 18 s; RINEX stores -tau_n; km -> m; 3.05 sentinel -> NaN
    assert r.toe == GPSTime.from_datetime(dt.datetime(2020, 6, 24, 23, 15, 18))
    assert r.tau_n_s == pytest.approx(-6.355904042721e-05)
    assert r.pos_m[0] == pytest.approx(10908942.38281)
    assert r.freq_channel == 1 and r.health == 0
    assert math.isnan(r.delta_tau_n_s)
    assert r.tb_s == pytest.approx((23 + 3 - 24) * 3600 + 15 * 60)  # Moscow time of day
    # BeiDou: toc/toe in BDT -> GPS + 14 s; week is the BDT week; TGD1/TGD2
    assert c.toc == GPSTime.from_datetime(dt.datetime(2020, 6, 25, 12, 0, 14))
    assert c.toe.tow_s == pytest.approx(388814.0) and c.week == 755
    assert (c.tgd_s, c.tgd2_s) == (1.23e-08, 5e-09) and c.source == "D1"


def test_rinex2_gps_and_glonass(tmp_path):
    gps = """\
     2.10           N: GPS NAV DATA                         RINEX VERSION / TYPE
    0.1676D-07  0.2235D-07 -0.1192D-06 -0.1192D-06          ION ALPHA
    0.1208D+06  0.1310D+06 -0.1310D+06 -0.1966D+06          ION BETA
                                                            END OF HEADER
 6 99  9  2 17 51 44.0 -.839701388031D-03 -.165982783074D-10  .000000000000D+00
     .910000000000D+02  .934062500000D+02  .116040547840D-08  .162092304801D+00
     .484101474285D-05  .626740418375D-02  .652112066746D-05  .515365489006D+04
     .409904000000D+06 -.242143869400D-07  .329237003460D+00 -.596046447754D-07
     .111541663136D+01  .326593750000D+03  .206958726335D+01 -.638312302555D-08
     .307155651409D-09  .000000000000D+00  .102500000000D+04  .000000000000D+00
     .000000000000D+00  .000000000000D+00  .000000000000D+00  .910000000000D+02
     .406800000000D+06  .000000000000D+00
"""
    nav = read_nav(_write(tmp_path, gps, "a.99n"))
    (e,) = nav.ephemerides
    assert e.sat == "G06" and e.toc.to_datetime() == dt.datetime(1999, 9, 2, 17, 51, 44)
    assert e.toe == GPSTime(1025, 409904.0)
    assert nav.iono["GPSB"][0] == 0.1208e6


def test_malformed_inputs_name_file_and_line(tmp_path):
    bad = RNX3.replace("5.584045220166D-03", "5.58404522XX66D-03")
    with pytest.raises(RINEXError, match=r"x\.rnx, line 10"):
        read_nav(_write(tmp_path, bad))
    with pytest.raises(RINEXError, match="not a RINEX"):
        read_nav(_write(tmp_path, "hello\n", "y.rnx"))
    obs = "     3.04           OBSERVATION DATA    M                   RINEX VERSION / TYPE\n"
    with pytest.raises(RINEXError, match="not a navigation file"):
        read_nav(_write(tmp_path, obs, "z.rnx"))
    with pytest.raises(RINEXError, match="END OF HEADER"):
        read_nav(_write(tmp_path, RNX3.split("    18  ")[0], "h.rnx"))
    with pytest.raises(RINEXError, match="line 8"):
        read_nav(_write(tmp_path, RNX3.replace("G05 2020 06 25 12", "G05 2020 13 25 12"), "e.rnx"))


def test_truncated_record_is_skipped_not_crashed(tmp_path):
    lines = RNX3.splitlines()
    cut = "\n".join(lines[:9]) + "\n"  # G05 header line + one orbit line only
    nav = read_nav(_write(tmp_path, cut))
    assert nav.ephemerides == [] and nav.skipped == 1


def test_rinex4_record_types():
    nav = read_nav(data_path("nav-solutions-data/NAV/V4/BRD400DLR_S_20230710000_01D_MN.rnx.gz"))
    src = {(e.sat[0], e.source) for e in nav.ephemerides}
    for want in [
        ("G", "LNAV"),
        ("G", "CNAV"),
        ("E", "INAV"),
        ("E", "FNAV"),
        ("C", "D1"),
        ("C", "D2"),
        ("C", "CNV1"),
        ("C", "CNV2"),
        ("R", "FDMA"),
        ("J", "CNV2"),
        ("I", "LNAV"),
        ("S", "SBAS"),
    ]:
        assert want in src
    assert {"GPSA", "GPSB", "GAL", "BDSA", "BDSB", "QZSA", "IRNA"} <= set(nav.iono)
    assert nav.iono["GAL"][:3] == (160.75, 0.37109375, 0.009063720703125)
    assert "GPUT" in nav.time_corr and nav.eop and nav.leap_seconds == 18
    cnav = next(e for e in nav.ephemerides if e.source == "CNAV" and e.sat == "G01")
    assert cnav.toe == cnav.toc and cnav.extra["a_dot_mps"] == pytest.approx(1.004886627197e-02)
    cnv1 = next(e for e in nav.ephemerides if e.source == "CNV1")
    assert cnv1.extra["sat_type"] in (1, 2, 3)


def test_rinex305_glonass_sentinel_is_nan():
    nav = read_nav(data_path("nav-solutions-data/NAV/V3/ESBC00DNK_R_20201770000_01D_MN.rnx.gz"))
    glo = [e for e in nav.ephemerides if e.sat[0] == "R"]
    assert glo and all(math.isnan(e.delta_tau_n_s) or abs(e.delta_tau_n_s) < 1e-5 for e in glo)
    assert sum(math.isnan(e.delta_tau_n_s) for e in glo) > 0


# ---------------------------------------------------------------- georinex as oracle

GEORINEX_FILES = [
    "georinex/demo_nav3.17n",
    "georinex/qzss_nav3.14n",
    "georinex/galileo3.15n",
    "georinex/brdc2800.15n",
    "georinex/p1462100.18g",
    "georinex/ceda2100.18e",
    "georinex/CEDA00USA_R_20182100000_01D_MN.rnx.gz",
    "georinex/ab422100.18n",
    "nav-solutions-data/NAV/V2/amel0010.21g",
    "gnsstk-data/arlm200a.15n",
    "nav-solutions-data/NAV/V3/BRDC00GOP_R_20210010000_01D_MN.rnx.gz",
]
# georinex 1.16 cannot read: RINEX 4 navigation (both V4 files) and BRDM00DLR_R_20130010000_01D_MN.rnx
# ("System J NAV data is not the same length as the number of fields").
_KEPLER_FIELDS = {
    "sqrtA": "sqrt_a",
    "Eccentricity": "e",
    "M0": "m0_rad",
    "Omega0": "omega0_rad",
    "omega": "omega_rad",
    "Io": "i0_rad",
    "Crs": "crs_m",
    "Crc": "crc_m",
    "Cuc": "cuc_rad",
    "Cus": "cus_rad",
    "Cic": "cic_rad",
    "Cis": "cis_rad",
    "DeltaN": "delta_n_radps",
    "OmegaDot": "omega_dot_radps",
    "IDOT": "idot_radps",
    "SVclockBias": "af0_s",
    "SVclockDrift": "af1_sps",
}


def _epoch_as_written(e) -> dt.datetime:
    if e.sat[0] == "R":
        return gps_to_utc(e.toe)
    if e.sat[0] == "S":
        return e.toe.to_datetime()
    if e.sat[0] == "C":
        return (e.toc - 14.0).to_datetime()
    return e.toc.to_datetime()


def _matches(e, ds_rec) -> bool:
    if isinstance(e, GlonassEphemeris):
        # georinex gives GLONASS/SBAS states in km or m depending on version and system
        km = 1e3 if math.hypot(ds_rec["X"], ds_rec["Y"], ds_rec["Z"]) < 1e6 else 1.0
        pairs = [
            (ds_rec["X"] * km, e.pos_m[0]),
            (ds_rec["dY"] * km, e.vel_mps[1]),
            (ds_rec["dZ2"] * km, e.acc_mps2[2]),
            (-ds_rec["SVclockBias"], e.tau_n_s),
            (ds_rec["FreqNum"], e.freq_channel),
        ]
    else:
        pairs = [(ds_rec[k], getattr(e, a)) for k, a in _KEPLER_FIELDS.items() if k in ds_rec]
        pairs.append((ds_rec["Toe"], e.toe_sow))
    return all(np.isclose(a, b, rtol=1e-12, atol=1e-20) for a, b in pairs if not math.isnan(a))


@pytest.mark.parametrize("rel", GEORINEX_FILES)
def test_values_equal_georinex(rel):
    georinex = pytest.importorskip("georinex")
    path = data_path(rel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = georinex.load(path)
    ours: dict = {}
    for e in read_nav(path).ephemerides:
        ours.setdefault((e.sat, _epoch_as_written(e)), []).append(e)
    n = 0
    for sv in ds.sv.values:
        sub = ds.sel(sv=sv)
        key0 = "X" if "X" in ds else "sqrtA"
        for t in sub.time.values[np.isfinite(sub[key0].values)]:
            rec = {k: float(sub[k].sel(time=t).values) for k in ds.data_vars}
            when = dt.datetime.fromisoformat(str(np.datetime_as_string(t, unit="us")))
            cands = ours.get((str(sv)[:3], when), [])
            assert any(_matches(e, rec) for e in cands), (sv, when)
            n += 1
    assert n > 0
