"""UBX-RXM-SFRBX navigation data -> ephemerides, checked against the receiver's own RXM-RAWX pseudoranges."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.streams.demux import Demuxer, rawx_to_obs_epoch

C_MPS, WE_RADPS = 299792458.0, 7.2921151467e-5
COLDSTART = "nav-solutions-data/UBX/16dBatt_no_interference_coldstart.ubx.gz"


@pytest.fixture(scope="module")
def coldstart():
    """(ephemerides from UBXNavAssembler, RAWX epochs, last NAV-POSECEF position, assembler,
    the first 20 Galileo SFRBX payloads)."""
    from vngeonet.streams.ubx_nav import UBXNavAssembler

    raw = gzip.decompress(data_path(COLDSTART).read_bytes())
    asm = UBXNavAssembler()
    week, ephs, epochs, pos = None, [], [], None
    pages = []
    for p in Demuxer(("UBX",)).feed(raw):
        if p.msg == "RXM-RAWX":
            ep = rawx_to_obs_epoch(p.payload)
            if ep.time.week > 1024:
                week = ep.time.week
                epochs.append(ep)
        elif p.msg == "RXM-SFRBX":
            if p.payload[0] == 2 and len(pages) < 20:
                pages.append(bytes(p.payload))
            e = asm.add(p.payload, week)
            if e is not None:
                ephs.append(e)
        elif p.msg == "NAV-POSECEF":
            pos = np.array(struct.unpack_from("<iii", p.payload, 4)) * 0.01
    return ephs, epochs, pos, asm, pages


def _residuals(ephs, epochs, pos, system: str, sig: str, min_sats: int = 4, mask_deg: float = 15.0):
    """Per-epoch (receiver clock in m, residuals in m after it) of ``system``'s pseudoranges.

    Satellites above ``mask_deg`` only; a zenith troposphere of 2.4 m mapped by
    1/sin(elevation) is removed; no ionosphere model.  The receiver clock of an
    epoch is the median residual of the system.
    """
    from vngeonet.orbits.store import EphemerisStore

    store = EphemerisStore([e for e in ephs if e.sat[0] == system])
    up = pos / np.linalg.norm(pos)
    out = []
    for ep in epochs[-50:]:
        m = np.char.startswith(ep.sat.astype(str), system) & (ep.sig == sig) & np.isfinite(ep.pr_m)
        pr = ep.pr_m[m]
        st = store.sat_state(ep.sat[m], ep.time.seconds - pr / C_MPS)
        ok = st.ok
        tau, x = pr[ok] / C_MPS, st.pos_m[ok]
        rot = np.stack([x[:, 0] + WE_RADPS * tau * x[:, 1], x[:, 1] - WE_RADPS * tau * x[:, 0], x[:, 2]], axis=1)
        los = rot - pos
        rho = np.linalg.norm(los, axis=1)
        sin_el = los @ up / rho
        res = pr[ok] - rho + C_MPS * st.clk_s[ok] - 2.4 / sin_el
        res = res[sin_el > np.sin(np.radians(mask_deg))]
        if len(res) < min_sats:
            continue
        clock = float(np.median(res))
        out.append((ep.time.seconds, clock, res - clock))
    return out


def test_gps_lnav_through_the_dispatcher(coldstart):
    ephs, epochs, pos = coldstart[:3]
    gps = [e for e in ephs if e.sat[0] == "G"]
    assert len(gps) >= 8 and all(5153.0 < e.sqrt_a < 5154.5 and e.source == "LNAV" for e in gps)
    got = _residuals(ephs, epochs, pos, "G", "1C", 5)
    assert len(got) > 20
    res = np.concatenate([r for _, _, r in got])
    # one GPS pseudorange of this attenuated cold start is 23 m off at one epoch
    assert np.max(np.abs(res)) < 30.0 and np.sqrt(np.mean(res**2)) < 8.0


def test_galileo_inav_fields(coldstart):
    """Field-level sanity of I/NAV ephemerides (Galileo OS SIS ICD Tables 60-64)."""
    ephs = coldstart[0]
    gal = [e for e in ephs if e.sat[0] == "E"]
    assert len({e.sat for e in gal}) >= 8
    for e in gal:
        assert e.source == "INAV" and 1 <= int(e.sat[1:]) <= 36 and e.extra["svid"] == int(e.sat[1:])
        nominal = e.sat not in ("E14", "E18")  # the two eccentric-orbit satellites
        assert (5440.0 < e.sqrt_a < 5441.5) if nominal else (5280.0 < e.sqrt_a < 5300.0)
        assert (0.0 <= e.e < 0.01) if nominal else (0.15 < e.e < 0.18)
        assert (0.95 < e.i0_rad < 1.01) if nominal else (0.85 < e.i0_rad < 0.88)  # 56 deg; 50 deg
        assert e.toe_sow % 60 == 0 and e.toc_sow == e.toe_sow and 0 <= e.iode < 1024
        assert e.week == e.toe.week - 1024 and abs(e.toe - e.toc) < 1.0
        assert abs(e.af0_s) < 5e-3 and abs(e.af1_sps) < 1e-9 and abs(e.tgd_s) < 1e-7 and abs(e.tgd2_s) < 1e-7
        assert 0.0 < e.accuracy_m < 10.0 and e.health & ~0x1C3 == 0
        assert abs(e.toe.seconds - (e.toe.week * 604800.0 + e.extra["tx_sow"])) < 4 * 3600


def test_galileo_inav_ephemerides_fit_the_pseudoranges(coldstart):
    """I/NAV orbits + clocks explain the RAWX E1C pseudoranges from the NAV-POSECEF position to metres."""
    ephs, epochs, pos, asm = coldstart[:4]
    got = _residuals(ephs, epochs, pos, "E", "1C", 4)
    assert len(got) > 20
    res = np.concatenate([r for _, _, r in got])
    # no ionosphere model: elevation-dependent delays of a few metres remain
    assert np.max(np.abs(res)) < 10.0 and np.sqrt(np.mean(res**2)) < 5.0
    # the same receiver clock as GPS (GST = GPST to a few ns): a wrong week, TOW or af0 would show here
    gps = {t: clk for t, clk, _ in _residuals(ephs, epochs, pos, "G", "1C", 5)}
    diff = np.array([clk - gps[t] for t, clk, _ in got if t in gps])
    assert len(diff) > 20 and np.max(np.abs(diff)) < 15.0
    assert asm.galileo.skipped == 0


def _flip(page: bytes, bit: int) -> bytes:
    """``page`` with bit ``bit`` (0 = MSB of SFRBX data word 0) inverted."""
    bad = bytearray(page)
    word, pos = divmod(bit, 32)
    struct.pack_into("<I", bad, 8 + 4 * word, struct.unpack_from("<I", bad, 8 + 4 * word)[0] ^ (1 << (31 - pos)))
    return bytes(bad)


def test_inav_pages_alert_swapped_and_crc(coldstart):
    from vngeonet.streams.ubx_nav import GalileoINAVAssembler, inav_word

    pages = coldstart[4]
    assert len(pages) == 20
    for p in pages:
        sat, wtype, data = inav_word(p)
        assert sat == f"E{p[1]:02d}" and (wtype <= 10 or wtype in (16, 63)) and data >> 122 == wtype
    alert = _flip(_flip(pages[0], 1), 129)  # page type 1 in both halves
    swapped = pages[0][:8] + pages[0][24:40] + pages[0][8:24]
    asm = GalileoINAVAssembler()
    assert inav_word(alert) is None and asm.add(alert) is None and asm.add(swapped) is None
    assert asm.skipped == 2
    for bit in (3, 40, 100, 135, 170, 215):  # data bits of both halves, an OSNMA bit, a CRC bit
        assert inav_word(_flip(pages[0], bit)) is None
