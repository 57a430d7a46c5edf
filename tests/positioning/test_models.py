"""Tests of vngeonet.positioning.models (ionosphere, troposphere, DOPs)."""

import numpy as np
import pytest

from vngeonet.positioning import models

ALPHA = (1.118e-08, 1.49e-08, -5.96e-08, -5.96e-08)  # 0759 2005-04-02 broadcast values
BETA = (88060.0, 16380.0, -196600.0, -131100.0)


def test_klobuchar_night_floor_and_day_peak():
    lat, lon = np.radians(35.0), np.radians(139.0)
    # local time at the pierce point ~ 03:00 -> night: 5 ns times the obliquity factor
    tow_night = (3.0 - 139.0 / 15.0) % 24 * 3600.0
    d = models.klobuchar_gps(ALPHA, BETA, lat, lon, 0.0, np.pi / 2, tow_night)
    f = 1.0 + 16.0 * (0.53 - 0.5) ** 3
    assert d == pytest.approx(models.C_MPS * 5e-9 * f, rel=1e-9)
    # 14:00 local is the peak, larger than the floor, and it grows towards the horizon
    tow_peak = (14.0 - 139.0 / 15.0) % 24 * 3600.0
    z = models.klobuchar_gps(ALPHA, BETA, lat, lon, 0.0, np.pi / 2, tow_peak)
    low = models.klobuchar_gps(ALPHA, BETA, lat, lon, 0.0, np.radians(10.0), tow_peak)
    assert 2.0 < z < 20.0 and low > 2.5 * z


def test_klobuchar_bds_bounds_and_frequency_scaling():
    d = models.klobuchar_bds(ALPHA, BETA, np.radians(21.0), np.radians(105.8), 1.0, np.radians(40.0),
                             np.arange(0, 86400, 3600.0))
    assert (d >= models.C_MPS * 5e-9).all() and d.max() < 50.0
    sysarr = np.array(["G", "G", "C", "E"])
    f = np.array([1575.42e6, 1227.60e6, 1561.098e6, 1575.42e6])
    iono = {"GPSA": ALPHA, "GPSB": BETA}
    out, var = models.iono_broadcast(sysarr, f, iono, 0.6, 2.4, 1.0, 0.7, 200000.0)
    assert out[1] / out[0] == pytest.approx((1575.42 / 1227.60) ** 2)
    assert out[3] == pytest.approx(out[0]) and out[2] > 0  # BDS falls back to the GPS family
    np.testing.assert_allclose(var, (0.5 * out) ** 2)
    none, var0 = models.iono_broadcast(sysarr, f, {"GAL": (1.0, 0.0, 0.0)}, 0.6, 2.4, 1.0, 0.7, 0.0)
    assert (none == 0).all() and (var0 == 25.0).all()
    assert models.has_klobuchar(iono) and not models.has_klobuchar({"GAL": (1.0,)})


def test_troposphere():
    zhd, zwd = models.saastamoinen_zenith(np.radians(45.0), 0.0)
    assert zhd == pytest.approx(2.31, abs=0.01) and 0.05 < zwd < 0.3
    zhd_high, _ = models.saastamoinen_zenith(np.radians(45.0), 2000.0)
    assert zhd_high < 0.8 * zhd
    mh, mw = models.niell(np.pi / 2, np.radians(45.0), 100.0, 180.0)
    assert mh == pytest.approx(1.0, abs=1e-9) and mw == pytest.approx(1.0, abs=1e-9)
    mh5, mw5 = models.niell(np.radians(5.0), np.radians(45.0), 0.0, 28.0)
    assert 9.5 < mh5 < 10.8 and 10.0 < mw5 < 11.5
    # southern hemisphere is half a year out of phase
    a = models.niell(np.radians(10.0), np.radians(50.0), 0.0, 28.0)[0]
    b = models.niell(np.radians(10.0), np.radians(-50.0), 0.0, 28.0 + 365.25 / 2)[0]
    assert a == pytest.approx(b, rel=1e-12)
    d, var = models.tropo_delay(np.radians([90.0, 30.0, -1.0]), np.radians(21.0), 10.0, 100.0)
    assert d[1] == pytest.approx(2.0 * d[0], rel=0.02) and d[2] == 0.0 and (var > 0).all()


def test_dops_match_direct_inverse():
    rng = np.random.default_rng(2)
    e = rng.normal(size=(13, 3))
    e[:, 2] = np.abs(e[:, 2])
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    ep_start = np.array([0, 6, 6, 9, 13])
    out = models.dops(e, ep_start)
    h = np.column_stack([-e[:6], np.ones(6)])
    q = np.linalg.inv(h.T @ h)
    np.testing.assert_allclose(out[0], [np.sqrt(np.trace(q)), np.sqrt(np.trace(q[:3, :3])),
                                        np.sqrt(q[0, 0] + q[1, 1]), np.sqrt(q[2, 2])], rtol=1e-10)
    assert np.isnan(out[1]).all() and np.isnan(out[2]).all() and np.isfinite(out[3]).all()
    use = np.ones(13, bool)
    use[9] = False  # leaves 3 rows in the last epoch
    assert np.isnan(models.dops(e, ep_start, use)[3]).all()
