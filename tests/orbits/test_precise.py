"""PreciseStore: Lagrange orbit interpolation, clock interpolation, relativistic term, contract."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.gnss.constants import C_MPS
from vngeonet.gnss.time import GPSTime
from vngeonet.orbits.precise import PreciseStore, lagrange_weights
from vngeonet.rinex.clk import read_clk
from vngeonet.rinex.sp3 import read_sp3

WUM_SP3 = "pride-pppar/products/WUM0MGXRAP_20212100000_01D_01M_ORB.SP3.gz"
WUM_CLK = "pride-pppar/products/WUM0MGXRAP_20212100000_01D_30S_CLK.CLK.gz"


def test_lagrange_weights_reproduce_polynomials():
    rng = np.random.default_rng(7)
    nodes = np.sort(rng.uniform(0, 100, size=(5, 10)), axis=1)
    t = rng.uniform(10, 90, size=5)
    w = lagrange_weights(t, nodes)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)
    coef = rng.normal(size=6)
    f = np.polyval(coef, nodes)
    np.testing.assert_allclose((w * f).sum(axis=1), np.polyval(coef, t), rtol=1e-8)
    # at a node the weight vector is the unit vector
    np.testing.assert_allclose(
        lagrange_weights(nodes[:, 3].copy(), nodes), np.eye(10)[[3] * 5], atol=1e-12
    )


@pytest.fixture(scope="module")
def wum():
    return read_sp3(data_path(WUM_SP3)), read_clk(data_path(WUM_CLK))


def test_interpolation_of_15_min_decimated_product_matches_1_min_truth(wum):
    """Degree-9 Lagrange on 15-min nodes vs the 1-min WUM epochs in between: < 2 cm (GEO/IGSO/MEO)."""
    sp3, _ = wum
    dec = dataclasses.replace(
        sp3,
        time_gps_s=sp3.time_gps_s[::15],
        pos_m=sp3.pos_m[:, ::15],
        clk_s=sp3.clk_s[:, ::15],
        interval_s=900.0,
    )
    store = PreciseStore(dec)
    sats = np.array(["G05", "E11", "R07", "C01", "C09", "C20"])
    idx = np.arange(300, 1100, 7)  # away from the day edges
    S, I = np.meshgrid(sats, idx, indexing="ij")
    pos, ok = store.position(S.ravel(), sp3.time_gps_s[I.ravel()])
    rows = [sp3.sats.tolist().index(s) for s in sats]
    truth = sp3.pos_m[np.repeat(rows, len(idx)), I.ravel()]
    good = ok & np.isfinite(truth).all(axis=1)
    assert good.mean() > 0.95
    err = np.linalg.norm(pos[good] - truth[good], axis=1)
    assert err.max() < 0.02


def test_clock_interpolation_and_relativity(wum):
    sp3, clk = wum
    store = PreciseStore(sp3, clk)
    t0 = GPSTime.from_datetime(dt.datetime(2021, 7, 29, 6)).seconds
    c, _rate = store.clock(np.array(["G05", "G05"]), np.array([t0, t0 + 15.0]))
    j = int(np.searchsorted(clk.time_gps_s, t0))
    i = clk.sats.tolist().index("G05")
    assert c[0] == clk.clk_s[i, j]
    assert c[1] == pytest.approx(0.5 * (clk.clk_s[i, j] + clk.clk_s[i, j + 1]), abs=1e-16)
    st = store.sat_state(np.array(["G05"]), np.array([t0]))
    rel = -2.0 * np.dot(st.pos_m[0], st.vel_mps[0]) / C_MPS**2
    assert st.clk_s[0] == pytest.approx(c[0] + rel, abs=1e-15)
    assert abs(rel) < 5e-8 and np.linalg.norm(st.vel_mps[0]) > 1000.0


def test_sat_state_contract(wum):
    sp3, clk = wum
    store = PreciseStore(sp3, clk)
    t0 = GPSTime.from_datetime(dt.datetime(2021, 7, 29, 12)).seconds
    st = store.sat_state(
        np.array(["G05", "X99", "E11", "G05"]), np.array([t0, t0, t0, t0 + 3 * 86400.0])
    )
    assert st.ok.tolist() == [True, False, True, False]
    assert st.pos_m.shape == (4, 3) and np.isnan(st.pos_m[1]).all() and np.isnan(st.clk_s[3])
    assert np.isnan(st.tgd_s).all() and (st.var_m2[st.ok] > 0).all()
    # velocity consistent with the displacement over +-2 s (acceleration term cancels)
    a, b = store.sat_state("G05", t0 + 2.0), store.sat_state("G05", t0 - 2.0)
    np.testing.assert_allclose((a.pos_m[0] - b.pos_m[0]) / 4.0, st.vel_mps[0], atol=1e-3)


def test_sp3_clock_fallback_without_clock_file():
    store = PreciseStore(data_path("rtklib/sp3/igs15904.sp3"))
    t0 = GPSTime.from_datetime(dt.datetime(2010, 7, 1, 12, 7, 30)).seconds
    st = store.sat_state("G05", t0)
    assert st.ok[0] and np.isfinite(st.clk_s[0])
