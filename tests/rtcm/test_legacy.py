"""vngeonet.rtcm.legacy: 1001-1004 / 1009-1012 against pyrtcm (oracle), round trip, self-made vectors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.kernels.test_msm import build, real_frames
from tests.rtcm.fuzz import damaged_payloads_roundtrip_or_raise
from vngeonet.errors import FormatError
from vngeonet.gnss import signals
from vngeonet.gnss.time import GPSTime, leap_seconds_gps
from vngeonet.rtcm import legacy as L
from vngeonet.rtcm.context import DecodeContext

GPS_TYPES = {1001, 1002, 1003, 1004}
GLO_TYPES = {1009, 1010, 1011, 1012}
APPROX = GPSTime(2000, 0.0)


def lock_s(i: int) -> float:
    """RTCM 10403.3 DF013 table (minimum lock time, s)."""
    for hi, a, b in (
        (24, 1, 0),
        (48, 2, 24),
        (72, 4, 120),
        (96, 8, 408),
        (120, 16, 1176),
        (127, 32, 3096),
    ):
        if i < hi:
            return float(a * i - b)
    return 937.0


@pytest.fixture(scope="module")
def corpus():
    from pyrtcm import RTCMReader

    return [
        (rel, t, payload, RTCMReader.parse(raw))
        for rel, t, payload, raw in real_frames(GPS_TYPES | GLO_TYPES)
    ]


def _expected(p, t):
    """Rows (sat, sig, pr, cp, cn0, lock) rebuilt from pyrtcm's scaled DF values."""
    glo = t in GLO_TYPES
    rows = []
    for i in range(1, (p.DF035 if glo else p.DF006) + 1):

        def g(n, i=i):
            return getattr(p, f"DF{n:03d}_{i:02d}", None)

        sid = g(38 if glo else 9)
        sat = f"S{sid - 20:02d}" if sid >= 40 else f"{'R' if glo else 'G'}{sid:02d}"
        k = g(40) - 7 if glo else None
        amb = g(44 if glo else 14) or 0
        pr1 = g(41 if glo else 11) + amb * (599584.916 if glo else 299792.458)
        sysl = "R" if glo else "G"
        wl1 = signals.wavelength_m(sysl, "1C", k) if (not glo or sid < 40) else math.nan
        ph = g(42 if glo else 12)
        cp1 = math.nan if ph == -524288 * 0.0005 else (pr1 + ph) / wl1
        c1 = g(45 if glo else 15)
        rows.append(
            (
                sat,
                ("1C", "1P")[g(39 if glo else 10)],
                pr1,
                cp1,
                math.nan if not c1 else c1,
                lock_s(g(43 if glo else 13)),
            )
        )
        if g(46 if glo else 16) is not None:
            code2 = g(46 if glo else 16)
            sig2 = ("2C", "2P", "2P", "2P")[code2] if glo else ("2X", "2P", "2D", "2W")[code2]
            d = g(47 if glo else 17)
            pr2 = math.nan if d == -8192 * 0.02 else pr1 + d
            ph2 = g(48 if glo else 18)
            wl2 = signals.wavelength_m(sysl, "2C", k) if (not glo or sid < 40) else math.nan
            cp2 = math.nan if ph2 == -524288 * 0.0005 else (pr1 + ph2) / wl2
            c2 = g(50 if glo else 20)
            rows.append(
                (sat, sig2, pr2, cp2, math.nan if not c2 else c2, lock_s(g(49 if glo else 19)))
            )
    return rows


def test_real_legacy_against_pyrtcm(corpus):
    n = 0
    ctx = DecodeContext(approx_time=APPROX)
    for rel, t, payload, p in corpus:
        m = L.decode_legacy(payload, ctx)
        assert (m.msg_type, m.station_id, m.multiple) == (p.DF002, p.DF003, bool(p.DF005))
        if t in GLO_TYPES:
            assert (m.glo_tod_ms, m.smoothing, m.smoothing_interval) == (p.DF034, p.DF036, p.DF037)
            leap = leap_seconds_gps(m.time)
            assert round(((m.time.tow_s - leap + 10800) % 86400) * 1000) == p.DF034
        else:
            assert (m.tow_ms, m.smoothing, m.smoothing_interval) == (p.DF004, p.DF007, p.DF008)
            assert round(m.time.tow_s * 1000) == p.DF004
        rows = _expected(p, t)
        assert m.sat.tolist() == [r[0] for r in rows] and m.sig.tolist() == [r[1] for r in rows]
        for i, r in enumerate(rows):
            for e, g, tol in (
                (r[2], m.pr_m[i], 1e-3),
                (r[3], m.cp_cyc[i], 1e-3),
                (r[4], m.cn0_dbhz[i], 1e-12),
                (r[5], m.lock_s[i], 0),
            ):
                assert (math.isnan(e) and math.isnan(g)) or abs(e - g) <= tol, (rel, t, i, e, g)
        assert np.isnan(m.dop_hz).all() and not m.half_cycle.any()
        assert L.encode_legacy(m) == payload
        n += 1
    assert n > 350


def test_real_glonass_channels_to_ctx(corpus):
    ctx = DecodeContext()
    for rel, t, payload, p in corpus:
        if t in GLO_TYPES:
            L.decode_legacy(payload, ctx)
            for i in range(1, p.DF035 + 1):
                sid, k = getattr(p, f"DF038_{i:02d}"), getattr(p, f"DF040_{i:02d}") - 7
                if sid < 40:
                    assert ctx.glo_channels[f"R{sid:02d}"] == k
    assert ctx.glo_channels


def test_real_json(corpus):
    for rel, t, payload, p in corpus[:50]:
        m = L.decode_legacy(payload, DecodeContext(approx_time=APPROX))
        j = json.loads(json.dumps(m.to_json(), allow_nan=False))
        assert (
            j["type"] == t
            and j["system"] == ("R" if t in GLO_TYPES else "G")
            and len(j["obs"]) == len(m.sat)
        )
        assert m.to_obs_epoch("TEST").time == m.time


def test_vector_1004():
    """1004, one satellite, invalid L2 range difference, self-made to Table 3.5-6."""
    head = [(1004, 12), (77, 12), (86400000, 30), (0, 1), (1, 5), (1, 1), (2, 3)]
    sat = [
        (12, 6),
        (1, 1),
        (1000000, 24),
        (-2000, 20),
        (60, 7),
        (70, 8),
        (180, 8),
        (3, 2),
        (-8192, 14),
        (-524288, 20),
        (127, 7),
        (0, 8),
    ]
    payload = build(head + sat)
    m = L.decode_legacy(payload, DecodeContext(approx_time=GPSTime(2300, 80000.0)))
    assert m.time == GPSTime(2300, 86400.0) and m.smoothing == 1 and m.smoothing_interval == 2
    assert m.sat.tolist() == ["G12", "G12"] and m.sig.tolist() == ["1P", "2W"]
    pr1 = 1000000 * 0.02 + 70 * 299792.458
    assert m.pr_m[0] == pytest.approx(pr1) and np.isnan(m.pr_m[1])
    assert m.cp_cyc[0] == pytest.approx((pr1 - 1.0) / signals.wavelength_m("G", "1C"))
    assert np.isnan(m.cp_cyc[1]) and m.cn0_dbhz[0] == 45.0 and np.isnan(m.cn0_dbhz[1])
    assert m.lock_s.tolist() == [4 * 60 - 120.0, 937.0]
    assert L.encode_legacy(m) == payload


def test_vector_1010_glonass_and_sbas():
    head = [(1010, 12), (1, 12), (3600000, 27), (1, 1), (2, 5), (0, 1), (0, 3)]
    sats = [
        (5, 6),
        (0, 1),
        (3, 5),
        (1000000, 25),
        (500, 20),
        (10, 7),
        (35, 7),
        (160, 8),
        (45, 6),
        (0, 1),
        (7, 5),
        (2000000, 25),
        (0, 20),
        (0, 7),
        (70, 7),
        (0, 8),
    ]
    payload = build(head + sats)
    ctx = DecodeContext(approx_time=GPSTime(2300, 0.0))
    m = L.decode_legacy(payload, ctx)
    assert m.sat.tolist() == ["R05", "S25"] and ctx.glo_channels == {"R05": -4}
    pr1 = 1000000 * 0.02 + 35 * 599584.916
    assert m.cp_cyc[0] == pytest.approx((pr1 + 0.25) / signals.wavelength_m("R", "1C", -4))
    assert np.isnan(m.cp_cyc[1]) and m.multiple
    # GLONASS 01:00 Moscow time -> 22:00 UTC the previous day, nearest to the approximate time
    assert m.time == GPSTime(2300, 0.0) + (-7200.0 + leap_seconds_gps(GPSTime(2300, 0.0)))
    assert L.encode_legacy(m) == payload


def test_format_errors():
    with pytest.raises(FormatError, match="1004"):
        L.decode_legacy(build([(1004, 12), (0, 12), (0, 30), (0, 1), (3, 5), (0, 4)]))
    with pytest.raises(FormatError):
        L.decode_legacy(build([(1077, 12), (0, 12)]))
    with pytest.raises(FormatError):
        L.decode_legacy(b"\x3e")


def test_fuzz_bit_flips_and_truncation(corpus):
    """Damaged payloads either decode (and then re-encode to the same bytes) or raise FormatError."""
    n_ok, n_err = damaged_payloads_roundtrip_or_raise(
        [c[2] for c in corpus], L.decode_legacy, L.encode_legacy,
        lambda: DecodeContext(approx_time=APPROX), seed=4243)
    assert n_ok > 100 and n_err > 100
