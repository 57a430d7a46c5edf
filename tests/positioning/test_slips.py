"""Cycle-slip detection (vngeonet/positioning/slips.py) on synthetic arcs and real data."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.positioning import slips

C = 299792458.0
LAM = np.array([C / 1575.42e6, C / 1227.60e6])


def _arcs(n_ep=40, ns=4, dt=30.0, seed=3):
    """Smooth ranges and ionosphere; phases, codes and Doppler consistent with them."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_ep) * dt
    rho = 2.2e7 + rng.uniform(-500, 500, ns)[None, :] * t[:, None] + 1e-2 * t[:, None] ** 2
    iono = 3.0 + 1e-4 * t[:, None] * rng.uniform(0.5, 1.5, ns)[None, :]
    k2 = (LAM[1] / LAM[0]) ** 2
    ion = np.stack([iono, k2 * iono], axis=2)
    rate = (
        2 * 1e-2 * t[:, None]
        + rng.uniform(-500, 500, ns)[None, :] * 0
        + np.gradient(rho, dt, axis=0)
    )
    amb = rng.integers(-1000, 1000, (ns, 2)).astype(float)
    cp = (rho[..., None] - ion) / LAM + amb + 0.002 / LAM * rng.standard_normal((n_ep, ns, 2))
    pr = rho[..., None] + ion + 0.3 * rng.standard_normal((n_ep, ns, 2))
    dop = -np.gradient(rho, dt, axis=0)[..., None] / LAM + 0.05 * rng.standard_normal((n_ep, ns, 2))
    del rate
    lli = np.zeros((n_ep, ns, 2), np.uint8)
    return t, cp, pr, dop, lli, np.tile(LAM, (ns, 1))


def test_clean_arcs_only_start():
    t, cp, pr, dop, lli, lam = _arcs()
    s, r = slips.detect_slips(t, cp, pr, dop, lli, lam)
    assert s[0].all() and not s[1:].any()
    assert np.all(r[0] == slips.NEW)


@pytest.mark.parametrize(
    "d1, d2, doppler, expect",
    [
        (1, 0, True, slips.GF),
        (0, 1, True, slips.GF),
        (6, 0, False, slips.GF | slips.MW),
        (
            8,
            6,
            True,
            slips.DOPPLER,
        ),  # GF change 5.7 cm (under 8 cm at 30 s), MW 2 cycles: only the Doppler sees it
        (9, 7, True, slips.DOPPLER),  # the classic nearly geometry-free pair (3 mm)
        (20, 20, True, slips.DOPPLER),
    ],
)
def test_each_slip_flags_only_that_satellite(d1, d2, doppler, expect):
    t, cp, pr, dop, lli, lam = _arcs()
    if not doppler:
        dop[:] = np.nan
    cp[20:, 2, 0] += d1
    cp[20:, 2, 1] += d2
    s, r = slips.detect_slips(t, cp, pr, dop, lli, lam)
    assert s[20, 2].any()
    assert (r[20, 2, 0] | r[20, 2, 1]) & expect == expect
    others = np.ones(s.shape, bool)
    others[0] = False
    others[20, 2] = False
    assert not s[others].any()


def test_doppler_is_per_band():
    t, cp, pr, dop, lli, lam = _arcs()
    cp[25:, 1, 1] += 50  # only L2 of satellite 1, with a code-consistent GF change
    _s, r = slips.detect_slips(t, cp, pr, dop, lli, lam)
    assert r[25, 1, 1] & slips.DOPPLER
    assert not (r[25, 1, 0] & slips.DOPPLER)


def test_lli_and_gap():
    t, cp, pr, dop, lli, lam = _arcs()
    lli[10, 0, 1] = 1
    lli[11, 3, 0] = 4  # RINEX 2 anti-spoofing bit: not a slip
    cp[12:22, 1, :] = np.nan  # 300 s outage: not a gap yet (max_gap 300 s) ...
    s, r = slips.detect_slips(t, cp, pr, dop, lli, lam, max_gap_s=200.0)
    assert r[10, 0, 1] == slips.LLI and not s[10, 0, 0]
    assert not s[11, 3].any()
    assert r[22, 1, 0] & slips.NEW and r[22, 1, 1] & slips.NEW


def test_backward_time_order():
    t, cp, pr, dop, lli, lam = _arcs()
    cp[20:, 2, 0] += 3
    s, _r = slips.detect_slips(t[::-1], cp[::-1], pr[::-1], dop[::-1], lli[::-1], lam)
    # reversed: the arc changes between original epochs 20 and 19
    assert s[len(t) - 20, 2].any()
    assert s.sum() == 8 + 2


def test_real_pair_no_false_geometry_free_or_mw_slips():
    import numpy as np

    from vngeonet.positioning.rtk import RTKOptions, prepare
    from vngeonet.rinex.obs import read_obs

    r = read_obs(data_path("rtklib/rinex/07590920.05o"))
    b = read_obs(data_path("rtklib/rinex/30400920.05o"))
    p = prepare(r, b, np.zeros(3), RTKOptions())
    for w in (p.r, p.b):
        _s, reason = slips.detect_slips(p.t, w["cp"], w["pr"], w["dop"], w["lli"], p.lam)
        assert not np.any(reason & (slips.GF | slips.MW))
