"""Simulator self-consistency: broadcast products reproduce the truth, double
differences of phases are integers, and SPP finds the simulated stations."""

from __future__ import annotations

import numpy as np
import pytest

from vngeonet.gnss import constants as K
from vngeonet.gnss.coords import az_el, ecef_to_enu, ecef_to_llh, llh_to_ecef
from vngeonet.gnss.signals import wavelength_m
from vngeonet.gnss.time import GPSTime
from vngeonet.orbits.store import EphemerisStore
from vngeonet.positioning.models import tropo_delay
from vngeonet.positioning.spp import solve_epoch
from vngeonet.sim.physics import DEFAULT_SIGNALS, NetworkSimulator, SimOptions, SimStation

T0 = GPSTime(2390, 5 * 3600.0 + 17.0)


def _station(sid, lat, lon, h):
    return SimStation(sid, tuple(llh_to_ecef(np.radians([lat, lon, 0.0]) + [0, 0, h])))


def _two_close(opts):
    # Ha Noi and a point ~1.1 km to the north-east at the same height.
    return NetworkSimulator([_station("HANO", 21.0285, 105.8542, 20.0),
                             _station("HAN2", 21.0357, 105.8620, 20.0)], opts)


@pytest.mark.parametrize("dt_s", [0.0, 1700.0, 3500.0])
def test_broadcast_ephemerides_reproduce_the_simulated_orbits(dt_s):
    sim = NetworkSimulator([_station("HANO", 21.0, 105.8, 20.0)])
    store = EphemerisStore(sim.ephemerides(T0))
    t = T0.seconds + dt_s
    st = store.sat_state(sim.orbits.sats, np.full(len(sim.orbits.sats), t))
    pos, vel = sim.orbits.state(t)
    assert st.ok.all()
    # Quantisation-free ephemerides: the broadcast algorithm must give the truth to the mm.
    assert np.abs(np.linalg.norm(st.pos_m - pos, axis=1)).max() < 5e-3
    assert np.abs(st.vel_mps - vel).max() < 1e-5
    clk = sim.sat_clock_s(np.arange(len(sim.orbits.sats)), t)
    assert np.abs(st.clk_s - clk).max() < 1e-12


def _modelled_range(store, sats, rx, t_true):
    """Independent light-time + Sagnac range plus modelled troposphere (m), from broadcast ephemerides."""
    tau = np.full(len(sats), 0.075)
    for _ in range(4):
        st = store.sat_state(sats, t_true - tau)
        ang = K.OMEGA_E_RADPS * tau
        x = np.cos(ang) * st.pos_m[:, 0] + np.sin(ang) * st.pos_m[:, 1]
        y = -np.sin(ang) * st.pos_m[:, 0] + np.cos(ang) * st.pos_m[:, 1]
        sv = np.stack([x, y, st.pos_m[:, 2]], axis=1)
        rho = np.linalg.norm(sv - rx, axis=1)
        tau = rho / K.C_MPS
    _az, el = az_el(rx, sv)
    llh = ecef_to_llh(rx)
    doy = GPSTime.from_seconds(t_true).to_datetime().timetuple().tm_yday
    tropo, _var = tropo_delay(el, llh[0], llh[2], doy)
    return rho + tropo


def test_double_differenced_phases_are_integers():
    opts = SimOptions(phase_sigma_m=0.0, code_sigma_m=0.0, multipath_phase_m=0.0,
                      multipath_code_m=0.0, doppler_sigma_hz=0.0, tropo_wet_scale_sigma=0.0,
                      iono_scale=0.0)
    sim = _two_close(opts)
    store = EphemerisStore(sim.ephemerides(T0))
    for k in range(3):
        t = T0 + 30.0 * k
        eps = sim.epoch(t)
        a, b = eps["HANO"], eps["HAN2"]
        clk = sim.rx_clock_s(t.seconds)
        sel = {}
        for i, ep in enumerate((a, b)):
            first = np.array([DEFAULT_SIGNALS[s[0]][0] for s in ep.sat])
            m = ep.sig == first
            sats = ep.sat[m]
            rho = _modelled_range(store, sats, sim.rx_ecef[i], t.seconds - clk[i])
            lam = np.array([wavelength_m(s[0], DEFAULT_SIGNALS[s[0]][0]) for s in sats])
            sel[i] = dict(zip(sats, ep.cp_cyc[m] - rho / lam))
        common = sorted(set(sel[0]) & set(sel[1]))
        assert len(common) >= 20
        sd = np.array([sel[0][s] - sel[1][s] for s in common])
        # Satellites of one system share a wavelength: difference against that system's first one.
        for sysl in "GEC":
            idx = [i for i, s in enumerate(common) if s[0] == sysl]
            dd = sd[idx[1:]] - sd[idx[0]]
            # Residual: ionosphere over 1 km and the troposphere's small time modulation.
            assert np.abs(dd - np.round(dd)).max() < 0.01, (sysl, dd)


def test_spp_on_simulated_data_finds_the_truth():
    sim = NetworkSimulator([_station("CAMA", 9.1769, 105.1524, 5.0), _station("HAGI", 22.8233, 104.9836, 120.0)])
    store = EphemerisStore(sim.ephemerides(T0))
    for k in range(5):
        eps = sim.epoch(T0 + 60.0 * k)
        for i, sid in enumerate(("CAMA", "HAGI")):
            sol = solve_epoch(eps[sid], store)
            assert sol.nsat >= 8
            enu = ecef_to_enu(sol.pos_ecef_m, sim.rx_ecef[i])
            # Dual-frequency iono-free SPP with 0.25 m code noise and multipath: a few metres at most.
            assert np.hypot(enu[0], enu[1]) < 3.0 and abs(enu[2]) < 6.0, (sid, enu)


def test_deterministic_for_a_seed():
    def run():
        sim = _two_close(SimOptions(seed=7))
        return sim.epoch(T0)["HANO"].pr_m

    np.testing.assert_array_equal(run(), run())


def test_glonass_truth_matches_its_broadcast_ephemerides():
    """GLONASS: the ICD propagation of a broadcast state reproduces the simulated trajectory."""
    from vngeonet.sim.constellation import GlonassTruth, nominal_orbits

    orbs = nominal_orbits("R")
    tb = GPSTime(2390, 5 * 3600.0 + 18.0)  # 08:00 Moscow time (UTC + 3 h, GPS - 18 s)
    truth = GlonassTruth(orbs, tb.seconds - 3600.0)
    ephs = [truth.ephemeris(k, tb.seconds, 1e-5 * k, 1e-12) for k in range(len(orbs))]
    assert ephs[0].tb_s == 8 * 3600.0
    store = EphemerisStore(ephs)
    sats = np.array(truth.sats)
    for dt in (0.0, 7.0, 600.0, -800.0):
        st = store.sat_state(sats, np.full(len(sats), tb.seconds + dt))
        pos, vel = truth.state(np.full(len(sats), tb.seconds + dt))
        assert st.ok.all()
        assert np.abs(st.pos_m - pos).max() < 1e-3
        assert np.abs(st.vel_mps - vel).max() < 1e-6
        assert np.abs(st.clk_s - (1e-5 * np.arange(len(sats)) + 1e-12 * dt)).max() < 1e-15
    r = np.linalg.norm(pos, axis=1)
    assert np.all(np.abs(r - 25510e3) < 30e3)


def test_glonass_single_differences_are_integers_per_channel():
    """GLONASS (FDMA): between-station single differences, with the known receiver clocks
    removed, are whole cycles of each satellite's own wavelength."""
    opts = SimOptions(systems="R", phase_sigma_m=0.0, code_sigma_m=0.0, multipath_phase_m=0.0,
                      multipath_code_m=0.0, doppler_sigma_hz=0.0, tropo_wet_scale_sigma=0.0,
                      iono_scale=0.0)
    sim = _two_close(opts)
    t = T0 + 60.0
    eps = sim.epoch(t)
    store = EphemerisStore(sim.ephemerides(t))
    clk = sim.rx_clock_s(t.seconds)
    sel = {}
    for i, sid in enumerate(("HANO", "HAN2")):
        ep = eps[sid]
        m = ep.sig == "1C"
        sats = ep.sat[m]
        rng_m = _modelled_range(store, sats, sim.rx_ecef[i], t.seconds - clk[i]) + K.C_MPS * clk[i]
        lam = np.array([wavelength_m("R", "1C", sim.glo_channels[s]) for s in sats])
        sel[i] = dict(zip(sats, ep.cp_cyc[m] - rng_m / lam))
    common = sorted(set(sel[0]) & set(sel[1]))
    assert len(common) >= 5
    sd = np.array([sel[0][s] - sel[1][s] for s in common])
    assert np.abs(sd - np.round(sd)).max() < 0.01, sd


def test_spp_with_glonass_in_the_simulated_sky():
    sim = NetworkSimulator([_station("HUEE", 16.4637, 107.5909, 15.0)], SimOptions(systems="GREC"))
    store = EphemerisStore(sim.ephemerides(T0))
    ep = sim.epoch(T0)["HUEE"]
    assert {"G", "R", "E", "C"} <= {s[0] for s in ep.sat}
    sol = solve_epoch(ep, store, glo_channels=sim.glo_channels)
    enu = ecef_to_enu(sol.pos_ecef_m, sim.rx_ecef[0])
    assert sol.nsat >= 20
    assert np.hypot(enu[0], enu[1]) < 3.0 and abs(enu[2]) < 6.0, enu


def test_real_broadcast_sky_from_a_navigation_file():
    """With a navigation file the stations see that day's real constellation, and SPP with
    the same ephemerides finds them."""
    import datetime as dt

    from tests.conftest import data_path
    from vngeonet.rinex.nav import read_nav

    nav = read_nav([data_path("nav-solutions-data/NAV/V3/ESBC00DNK_R_20201770000_01D_MN.rnx.gz")])
    sim = NetworkSimulator([_station("ESBC", 55.4936, 8.4568, 60.0)], SimOptions(systems="GREC"), nav=nav)
    t = GPSTime.from_datetime(dt.datetime(2020, 6, 25, 12, 0, 0))
    ep = sim.epoch(t)["ESBC"]
    assert {"G", "R", "E", "C"} <= {s[0] for s in ep.sat}
    assert len(set(ep.sat)) >= 30
    store = EphemerisStore(sim.ephemerides(t))
    sol = solve_epoch(ep, store, glo_channels=sim.glo_channels)
    enu = ecef_to_enu(sol.pos_ecef_m, sim.rx_ecef[0])
    assert np.hypot(enu[0], enu[1]) < 5.0 and abs(enu[2]) < 8.0, enu


def test_outages_and_cycle_slips():
    """An outage empties a station's epochs for its duration and relocks with new ambiguities;
    slips restart the lock time of the slipped signals only."""
    sim = _two_close(SimOptions(outage_prob=1.0, outage_s=60.0, seed=3))
    first = sim.epoch(T0)
    assert all(len(e.sat) == 0 for e in first.values())
    sim.opts.outage_prob = 0.0
    assert all(len(e.sat) == 0 for e in sim.epoch(T0 + 30.0).values())
    back = sim.epoch(T0 + 60.0)["HANO"]
    assert len(back.sat) > 20 and np.all(back.lock_s == 0.0)

    sim = _two_close(SimOptions(slip_prob=0.05, seed=4))
    sim.epoch(T0)
    later = sim.epoch(T0 + 10.0)["HANO"]
    relocked = later.lock_s == 0.0
    assert 0 < relocked.sum() < len(relocked)
    assert np.all(later.lock_s[~relocked] == 10.0)
