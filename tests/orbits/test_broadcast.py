"""Broadcast orbit models: constants, velocity = derivative of position, continuity, GLONASS."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.gnss import constants as K
from vngeonet.gnss.time import GPSTime
from vngeonet.model import GlonassEphemeris, KeplerEphemeris
from vngeonet.orbits import broadcast as bc
from vngeonet.rinex.nav import read_nav

ESBC_NAV = "nav-solutions-data/NAV/V3/ESBC00DNK_R_20201770000_01D_MN.rnx.gz"


@pytest.fixture(scope="module")
def esbc():
    return read_nav(data_path(ESBC_NAV)).ephemerides


def _first(ephs, sat):
    return next(e for e in ephs if e.sat == sat and e.health == 0)


def test_relativity_constant_matches_is_gps_200():
    # IS-GPS-200 Table 20-IV: F = -4.442807633e-10 s/m^(1/2)
    assert K.relativity_f(K.GM_GPS_M3PS2) == pytest.approx(-4.442807633e-10, rel=1e-9)
    assert K.C_MPS == 299792458.0


def _gps_eph(**kw) -> KeplerEphemeris:
    """A GPS-like circular-ish ephemeris (values of IS-GPS-200 magnitude)."""
    t = GPSTime(2111, 345600.0)
    base = {
        "sat": "G01",
        "toe": t,
        "toc": t,
        "week": 2111,
        "toe_sow": t.tow_s,
        "toc_sow": t.tow_s,
        "sqrt_a": 5153.6,
        "e": 0.01,
        "i0_rad": 0.96,
        "omega0_rad": 1.0,
        "omega_rad": 0.5,
        "m0_rad": 0.3,
        "delta_n_radps": 4.5e-9,
        "idot_radps": 1e-10,
        "omega_dot_radps": -8e-9,
        "cuc_rad": 1e-6,
        "cus_rad": 5e-6,
        "crc_m": 250.0,
        "crs_m": 20.0,
        "cic_rad": 1e-7,
        "cis_rad": -1e-7,
        "af0_s": 1e-4,
        "af1_sps": 1e-11,
        "af2_sps2": 0.0,
        "tgd_s": -5e-9,
    }
    base.update(kw)
    return KeplerEphemeris(**base)


def test_kepler_radius_and_clock_relativity_term():
    eph = _gps_eph()
    pos, vel, clk, _drift = bc.eph_state(eph, eph.toe + 100.0)
    r = np.linalg.norm(pos)
    assert 26.3e6 < r < 26.9e6
    assert 2000 < np.linalg.norm(vel) < 4000  # ECEF speed of a GPS satellite (inertial 3.9 km/s)
    # the relativistic term equals -2 r.v / c^2 in inertial terms: bounded by F e sqrt(A)
    rel_max = abs(K.relativity_f(K.GM_GPS_M3PS2)) * eph.e * eph.sqrt_a
    assert abs(clk - (1e-4 + 1e-11 * 100.0)) <= rel_max * 1.0001


@pytest.mark.parametrize("sat", ["G05", "E11", "C05", "C06", "C19", "J01"])
def test_velocity_is_derivative_of_position(esbc, sat):
    """Analytic velocities (incl. BeiDou GEO rotation) match central differences to 1 mm/s."""
    eph = _first(esbc, sat)
    for dt in (-1800.0, 0.0, 2400.0):
        t = eph.toe + dt
        p1 = bc.eph_state(eph, t + 0.5)[0]
        p0 = bc.eph_state(eph, t - 0.5)[0]
        _pos, vel, _clk, drift = bc.eph_state(eph, t)
        np.testing.assert_allclose(vel, p1 - p0, atol=1e-3)
        c1, c0 = bc.eph_state(eph, t + 0.5)[2], bc.eph_state(eph, t - 0.5)[2]
        assert drift == pytest.approx(c1 - c0, abs=1e-14)


def test_bds_geo_stays_put_and_uses_rotation(esbc):
    eph = _first(esbc, "C05")
    assert eph.extra["geo"]
    pos, vel, _, _ = bc.eph_state(eph, eph.toe + 600.0)
    assert 42.0e6 < np.linalg.norm(pos) < 42.3e6
    assert np.linalg.norm(vel) < 300.0  # geostationary in ECEF (inclination ~1-2 deg: tens of m/s)
    # the same elements treated as a MEO/IGSO orbit land far away (km), so the branch matters
    plain = KeplerEphemeris(**{f: getattr(eph, f) for f in eph.__slots__ if f != "extra"},
                            extra={"geo": False})
    assert np.linalg.norm(bc.eph_state(plain, eph.toe + 600.0)[0] - pos) > 1e3
    # Without the flag (ephemerides decoded from RTCM 1042 carry none) the PRN decides.
    unflagged = KeplerEphemeris(**{f: getattr(eph, f) for f in eph.__slots__ if f != "extra"}, extra={})
    np.testing.assert_array_equal(bc.eph_state(unflagged, eph.toe + 600.0)[0], pos)


@pytest.mark.parametrize(
    "sat,limit_m", [("G05", 2.0), ("E11", 1.0), ("C05", 2.0), ("C19", 1.0), ("R03", 3.0)]
)
def test_consecutive_ephemerides_agree_halfway(esbc, sat, limit_m):
    """Two consecutive ephemerides evaluated midway between their toes agree (orbit continuity)."""
    ephs = sorted(
        (
            e
            for e in esbc
            if e.sat == sat and e.health == 0 and e.source in ("LNAV", "INAV", "D1", "D2", "FDMA")
        ),
        key=lambda e: e.toe.seconds,
    )
    diffs = []
    for a, b in itertools.pairwise(ephs):
        dt = b.toe - a.toe
        if not 0 < dt <= (1800.0 if sat[0] == "R" else 4000.0):
            continue
        tm = a.toe + dt / 2
        diffs.append(np.linalg.norm(bc.eph_state(a, tm)[0] - bc.eph_state(b, tm)[0]))
    assert len(diffs) >= 1
    assert np.median(diffs) < limit_m


def test_glonass_nodes_match_direct_integration(esbc):
    glo = [e for e in esbc if isinstance(e, GlonassEphemeris) and e.sat[0] == "R"][:5]
    tab = bc.glonass_table(glo)
    pos_n, vel_n = bc.glonass_nodes(tab)
    for dt in (-1700.0, -13.0, 0.0, 777.7, 1799.0):
        p, v = bc.glonass_interp(pos_n, vel_n, np.arange(len(glo)), np.full(len(glo), dt))
        for i, g in enumerate(glo):
            pd, vd, _, _ = bc.eph_state(g, g.toe + dt)
            np.testing.assert_allclose(p[i], pd, atol=2e-3)
            np.testing.assert_allclose(v[i], vd, atol=1e-5)


def test_glonass_integration_conserves_orbit_radius(esbc):
    g = next(e for e in esbc if e.sat[0] == "R")
    r0 = np.linalg.norm(g.pos_m)
    p, _, _, _ = bc.eph_state(g, g.toe + 900.0)
    assert abs(np.linalg.norm(p) - r0) < 50e3  # near-circular GLONASS orbit (e < 0.002)
    assert 25.3e6 < np.linalg.norm(p) < 25.7e6


def test_glonass_clock_convention(esbc):
    g = next(e for e in esbc if e.sat[0] == "R")
    _, _, clk, drift = bc.eph_state(g, g.toe + 600.0)
    assert clk == pytest.approx(-g.tau_n_s + g.gamma_n * 600.0, abs=1e-15)
    assert drift == g.gamma_n


def test_sbas_quadratic_model():
    t = GPSTime(2111, 1000.0)
    s = GlonassEphemeris(
        sat="S23",
        toe=t,
        freq_channel=0,
        pos_m=(4.2e7, 1e6, 0.0),
        vel_mps=(1.0, 2.0, 0.5),
        acc_mps2=(0.01, 0.0, 0.0),
        tau_n_s=-1e-8,
        gamma_n=1e-12,
        source="SBAS",
    )
    pos, vel, clk, _ = bc.eph_state(s, t + 10.0)
    np.testing.assert_allclose(pos, (4.2e7 + 10.0 + 0.5, 1e6 + 20.0, 5.0))
    np.testing.assert_allclose(vel, (1.1, 2.0, 0.5))
    assert clk == pytest.approx(1e-8 + 1e-11)


def test_kepler_table_roundtrip_and_vectorised_equals_scalar(esbc):
    keps = [e for e in esbc if isinstance(e, KeplerEphemeris)][:40]
    tab = bc.kepler_table(keps)
    t = np.array([e.toe.seconds + 123.0 for e in keps])
    pos, _vel, clk, _drift = bc.kepler_state(tab, t)
    for i in (0, 7, 39):
        p, _v, c, _d = bc.eph_state(keps[i], t[i])
        np.testing.assert_array_equal(pos[i], p)
        assert clk[i] == c
    assert tab[0, bc.SQRTA] == keps[0].sqrt_a
    assert np.isfinite(tab).all()


def test_glonass_tb_resolves_to_toe(esbc):
    """t_b (Moscow time of day) plus an approximate time gives back the full GPS toe."""
    from vngeonet.gnss.time import glonass_tod_to_gps

    for g in [e for e in esbc if e.sat[0] == "R"][::50]:
        for off in (-11 * 3600.0, 0.0, 5000.0, 11 * 3600.0):
            assert glonass_tod_to_gps(g.tb_s, g.toe + off) == g.toe


@pytest.mark.parametrize(
    "sys,legacy,modern,limit_m",
    [
        ("G", "LNAV", "CNAV", 1.0),
        ("J", "LNAV", "CNAV", 0.3),
        ("C", "D1", "CNV1", 0.3),
        ("C", "D1", "CNV2", 0.3),
    ],
)
def test_rinex4_cnav_orbits_agree_with_legacy(sys, legacy, modern, limit_m):
    """CNAV/CNV1/CNV2 (A_dot, delta_n0_dot, toe = toc) vs LNAV/D1 orbits of the same satellites.

    GPS CNAV records of 2023 carry health 1 (signals pre-operational); health is
    ignored here because only the orbit model is under test.
    """
    import dataclasses
    import datetime as dt

    from vngeonet.orbits import EphemerisStore

    nav = read_nav(data_path("nav-solutions-data/NAV/V4/BRD400DLR_S_20230710000_01D_MN.rnx.gz"))
    ephs = [dataclasses.replace(e, health=0) for e in nav.ephemerides if e.sat[0] == sys]
    a = EphemerisStore(ephs, prefer={sys: (legacy,)})
    b = EphemerisStore(ephs, prefer={sys: (modern,)})
    sats = sorted(set(a.satellites) & set(b.satellites))[:8]
    assert sats
    t = GPSTime.from_datetime(dt.datetime(2023, 3, 12)).seconds + np.arange(0, 86400, 1800.0)
    S, T = np.meshgrid(np.array(sats), t, indexing="ij")
    sa, sb = a.sat_state(S.ravel(), T.ravel()), b.sat_state(S.ravel(), T.ravel())
    ok = sa.ok & sb.ok
    assert ok.sum() > 50
    d = np.linalg.norm(sa.pos_m[ok] - sb.pos_m[ok], axis=1)
    assert np.sqrt(np.mean(d**2)) < limit_m


def test_navic_orbits_continuous_and_geosynchronous():
    nav = read_nav(data_path("nav-solutions-data/NAV/V4/BRD400DLR_S_20230710000_01D_MN.rnx.gz"))
    irn = sorted(
        (e for e in nav.ephemerides if e.sat == "I02" and e.health == 0),
        key=lambda e: e.toe.seconds,
    )
    diffs = []
    for a, b in itertools.pairwise(irn):
        dt = b.toe - a.toe
        if 0 < dt <= 7200.0:
            tm = a.toe + dt / 2
            pa, pb = bc.eph_state(a, tm)[0], bc.eph_state(b, tm)[0]
            assert 41.5e6 < np.linalg.norm(pa) < 42.8e6
            diffs.append(np.linalg.norm(pa - pb))
    assert diffs and np.median(diffs) < 3.0
