"""SP3 reader: every real SP3 file opens; values, units, markers, versions, errors; georinex oracle."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tests.conftest import DATA, data_path
from vngeonet.errors import RINEXError
from vngeonet.gnss.time import GPSTime
from vngeonet.rinex.sp3 import read_sp3


def _catalog(kind: str) -> list[str]:
    cat = DATA / "catalog.jsonl"
    if not cat.exists():
        return []
    rows = [json.loads(line) for line in cat.read_text().splitlines() if line.strip()]
    return [r["file"] for r in rows if r.get("format", "").startswith(kind)]


SP3_FILES = _catalog("SP3")


@pytest.mark.skipif(not SP3_FILES, reason="no data catalogue under VNGEONET_DATA")
@pytest.mark.parametrize("rel", SP3_FILES)
def test_every_sp3_file_opens(rel):
    s = read_sp3(data_path(rel))
    assert len(s.sats) and len(s.time_gps_s)
    assert np.all(np.diff(s.time_gps_s) > 0)
    r = np.linalg.norm(s.pos_m, axis=2)
    assert (
        np.nanmin(r) > 2.0e7 and np.nanmax(r) < 4.7e7
    )  # GNSS orbit radii (MEO..QZSS apogee 45.4e6)


SMALL = """\
#dP2020  6 25  0  0  0.00000000       2 ORBIT IGS14 FIT  XYZ
## 2111 345600.00000000   900.00000000 59025 0.0000000000000
+    3   G01G02R03  0  0  0  0  0  0  0  0  0  0  0  0  0  0
++         2  2  2  0  0  0  0  0  0  0  0  0  0  0  0  0  0
%c M  cc GPS ccc cccc cccc cccc cccc ccccc ccccc ccccc ccccc
%c cc cc ccc ccc cccc cccc cccc cccc ccccc ccccc ccccc ccccc
%f  1.2500000  1.025000000  0.00000000000  0.000000000000000
/* self-made example
*  2020  6 25  0  0  0.00000000
PG01 -13135.443254  13798.699566  18084.193885    614.187685
PG02  13392.858833  11514.701912 -19166.658708 999999.999999
PR03      0.000000      0.000000      0.000000     12.000000
*  2020  6 25  0 15  0.00000000
PG01 -13000.000000  13800.000000  18100.000000    614.200000
VG01  10000.000000  -5000.000000   2500.000000      1.000000
EOF
"""


def test_small_file_units_markers_and_velocity(tmp_path):
    p = tmp_path / "a.sp3"
    p.write_text(SMALL)
    s = read_sp3(p)
    assert s.version == "d" and s.time_system == "GPS" and s.coord_system == "IGS14"
    assert s.sats.tolist() == ["G01", "G02", "R03"] and s.interval_s == 900.0
    assert s.time_gps_s.tolist() == [
        GPSTime(2111, 345600.0).seconds,
        GPSTime(2111, 346500.0).seconds,
    ]
    np.testing.assert_allclose(s.pos_m[0, 0], (-13135443.254, 13798699.566, 18084193.885))
    assert s.clk_s[0, 0] == pytest.approx(614.187685e-6)
    assert np.isnan(s.clk_s[1, 0]) and np.isnan(s.pos_m[2, 0]).all() and s.clk_s[2, 0] == 12e-6
    assert np.isnan(s.pos_m[1, 1]).all()  # absent record
    np.testing.assert_allclose(s.vel_mps[0, 1], (1000.0, -500.0, 250.0))  # dm/s -> m/s


def test_time_system_conversion(tmp_path):
    p = tmp_path / "u.sp3"
    p.write_text(SMALL.replace("%c M  cc GPS", "%c M  cc UTC"))
    assert read_sp3(p).time_gps_s[0] == GPSTime(2111, 345600.0).seconds + 18.0


def test_sp3a_without_system_letters():
    s = read_sp3(data_path("nav-solutions-data/SP3/A/sio06492.sp3"))
    assert s.version == "" and all(x.startswith("G") for x in s.sats)
    assert np.isnan(s.clk_s).all()  # 999999.999999 everywhere in this file


def test_merge_two_days():
    a = read_sp3(data_path("rtklib/sp3/igs15904.sp3"))
    both = read_sp3([data_path("rtklib/sp3/igs15904.sp3"), data_path("rtklib/sp3/igs15905.sp3")])
    assert len(both.time_gps_s) == 2 * len(a.time_gps_s)
    rows = [both.sats.tolist().index(s) for s in a.sats.tolist()]
    np.testing.assert_array_equal(both.pos_m[rows, : len(a.time_gps_s)], a.pos_m)


def test_malformed(tmp_path):
    p = tmp_path / "b.sp3"
    p.write_text(SMALL.replace("PG01 -13135.443254", "PG01 -13135.44X254"))
    with pytest.raises(RINEXError, match=r"b\.sp3, line 10"):
        read_sp3(p)
    p.write_text("hello\n")
    with pytest.raises(RINEXError, match="not an SP3"):
        read_sp3(p)


def test_values_equal_georinex():
    georinex = pytest.importorskip("georinex")
    path = data_path("georinex/igs19362.sp3c")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = georinex.load_sp3(path, None)
    s = read_sp3(path)
    for sv in ("G01", "G17", "G32"):
        i = s.sats.tolist().index(sv)
        np.testing.assert_allclose(
            s.pos_m[i], ds["position"].sel(sv=sv).values * 1e3, rtol=0, atol=1e-6
        )
        np.testing.assert_allclose(
            s.clk_s[i], ds["clock"].sel(sv=sv).values * 1e-6, rtol=0, atol=1e-15
        )
