"""Tests of vngeonet.gnss.coords (ECEF/LLH/ENU, azimuth/elevation)."""

import numpy as np
import pytest

from vngeonet.gnss import coords


def test_equator_and_pole():
    np.testing.assert_allclose(coords.ecef_to_llh([6378137.0, 0, 0]), [0, 0, 0], atol=1e-9)
    b = coords.WGS84.b_m
    llh = coords.ecef_to_llh([0.0, 0.0, b + 100.0])
    np.testing.assert_allclose(llh[[0, 2]], [np.pi / 2, 100.0], atol=1e-8)


def test_round_trip_random():
    rng = np.random.default_rng(7)
    n = 1000
    llh = np.column_stack(
        [rng.uniform(-np.pi / 2, np.pi / 2, n), rng.uniform(-np.pi, np.pi, n),
         rng.uniform(-500, 30e6, n)]
    )
    xyz = coords.llh_to_ecef(llh)
    back = coords.ecef_to_llh(xyz)
    np.testing.assert_allclose(back[:, 0], llh[:, 0], atol=1e-11)
    np.testing.assert_allclose(back[:, 2], llh[:, 2], atol=1e-6)
    # longitude is undefined exactly at the poles; elsewhere it must match
    ok = np.abs(llh[:, 0]) < np.pi / 2 - 1e-9
    np.testing.assert_allclose(back[ok, 1], llh[ok, 1], atol=1e-11)
    # scalar path equals array path
    np.testing.assert_allclose(coords.ecef_to_llh(xyz[3]), back[3])


def test_known_station():
    # NYA1 IGS (approximate), lat 78.9296 lon 11.8653 h ~84 m (CATALOG.md header values)
    llh = coords.ecef_to_llh([1202433.9, 252632.3, 6237772.5])
    assert np.degrees(llh[0]) == pytest.approx(78.9296, abs=1e-3)
    assert np.degrees(llh[1]) == pytest.approx(11.8653, abs=1e-3)


def test_grs80_differs_little():
    p = [4000000.0, 3000000.0, 3500000.0]
    d = coords.ecef_to_llh(p, coords.GRS80) - coords.ecef_to_llh(p)
    assert abs(d[2]) < 1e-3 and abs(d[0]) < 1e-9


def test_enu_and_az_el():
    ref = coords.llh_to_ecef([np.radians(21.0), np.radians(105.8), 20.0])
    r = coords.enu_rotation(np.radians(21.0), np.radians(105.8))
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
    enu = np.array([[100.0, 0, 0], [0, 100.0, 0], [0, 0, 100.0], [30, -40, 5]])
    pts = coords.enu_to_ecef(enu, ref)
    np.testing.assert_allclose(coords.ecef_to_enu(pts, ref), enu, atol=1e-8)
    az, el = coords.az_el(ref, pts)
    np.testing.assert_allclose(np.degrees(az[:2]), [90.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(np.degrees(el[2]), 90.0, atol=1e-6)
    # vectorised rotation has shape (n, 3, 3)
    assert coords.enu_rotation(np.zeros(4), np.zeros(4)).shape == (4, 3, 3)
