"""Tests of vngeonet.gnss.sinex (SOLUTION/ESTIMATE reader and propagation)."""

import gzip

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.errors import FormatError
from vngeonet.gnss import sinex
from vngeonet.gnss.time import GPSTime

SMALL = """%=SNX 2.02 TST 24:001:00000 TST 20:001:00000 24:001:00000 P 00006 2 S
+SOLUTION/EPOCHS
 ABCD  A    1 P 20:001:00000 21:365:00000 20:183:00000
 ABCD  A    2 P 22:001:00000 00:000:00000 23:001:00000
-SOLUTION/EPOCHS
+SITE/ECCENTRICITY
 ABCD  A    1 P 00:000:00000 00:000:00000 UNE   0.1000   0.0000   0.0000
-SITE/ECCENTRICITY
+SOLUTION/APRIORI
     1 STAX   ABCD  A    1 20:001:00000 m    2  9.99999999999999e+06 1.0e-03
-SOLUTION/APRIORI
+SOLUTION/ESTIMATE
*INDEX TYPE__ CODE PT SOLN _REF_EPOCH__ UNIT S __ESTIMATED VALUE____ _STD_DEV___
     1 STAX   ABCD  A    1 20:001:00000 m    2  4.00000000000000e+06 1.0e-03
     2 STAY   ABCD  A    1 20:001:00000 m    2  3.00000000000000e+06 1.0e-03
     3 STAZ   ABCD  A    1 20:001:00000 m    2  3.50000000000000e+06 2.0e-03
     4 VELX   ABCD  A    1 20:001:00000 m/y  2 -1.00000000000000e-02 1.0e-04
     5 VELY   ABCD  A    1 20:001:00000 m/y  2  2.00000000000000e-02 1.0e-04
     6 VELZ   ABCD  A    1 20:001:00000 m/y  2  0.00000000000000e+00 1.0e-04
     7 STAX   ABCD  A    2 23:001:00000 m    2  4.00000100000000e+06 1.0e-03
     8 STAY   ABCD  A    2 23:001:00000 m    2  3.00000000000000e+06 1.0e-03
     9 STAZ   ABCD  A    2 23:001:00000 m    2  3.50000000000000e+06 2.0e-03
-SOLUTION/ESTIMATE
%ENDSNX
"""


def test_epoch_parsing():
    assert sinex.parse_epoch("00:000:00000") is None
    assert sinex.parse_epoch("99:365:86399").to_datetime().year == 1999
    assert sinex.parse_epoch("24:185:43200") == GPSTime.from_seconds(
        sinex.parse_epoch("24:185:00000").seconds + 43200)


def test_small_file_velocity_and_discontinuity(tmp_path):
    p = tmp_path / "t.snx.gz"
    p.write_bytes(gzip.compress(SMALL.encode()))
    sols = sinex.read_sinex(p)["ABCD"]
    assert len(sols) == 2
    s1 = next(s for s in sols if s.soln == "1")
    assert s1.has_velocity and s1.ecc_une_m[0] == pytest.approx(0.1)
    assert s1.pos_ecef_m[0] == 4e6  # ESTIMATE, not APRIORI
    t = s1.ref_epoch + 2 * sinex.SECONDS_PER_YEAR
    np.testing.assert_allclose(s1.position_at(t), [4e6 - 0.02, 3e6 + 0.04, 3.5e6], atol=1e-9)
    # inside solution 1's window -> solution 1; after 2022 -> solution 2
    pos, used = sinex.station_position(p, "abcd", sinex.parse_epoch("21:100:00000"))
    assert used.soln == "1"
    pos, used = sinex.station_position(p, "ABCD", sinex.parse_epoch("24:100:00000"))
    assert used.soln == "2" and not used.has_velocity
    with pytest.raises(KeyError):
        sinex.station_position(p, "ZZZZ", t)


def test_bad_files(tmp_path):
    p = tmp_path / "bad.snx"
    p.write_text("hello\n")
    with pytest.raises(FormatError):
        sinex.read_sinex(p)
    p.write_text(SMALL.replace("4.00000000000000e+06", "4.0000000000000xe+06"))
    with pytest.raises(FormatError, match="line"):
        sinex.read_sinex(p)


def test_igs_weekly_file():
    path = data_path("rtklib/pos/igs20P2131_wocov.snx")
    sites = sinex.read_sinex(path)
    assert len(sites) >= 500
    nya1 = sites["NYA1"][0]
    np.testing.assert_allclose(nya1.pos_ecef_m, [1202433.613, 252632.407, 6237772.780], atol=2e-3)
    assert not nya1.has_velocity
