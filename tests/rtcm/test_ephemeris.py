"""Tests of vngeonet.rtcm.ephemeris against pyrtcm (the oracle) on every real frame."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from tests.conftest import impl_param
from tests.rtcm.test_fields import EPHEMERIS_TYPES, real_frames
from vngeonet.errors import FormatError
from vngeonet.gnss.time import GPSTime, bdt_to_gps, gps_to_utc, gst_to_gps
from vngeonet.model import GlonassEphemeris, KeplerEphemeris
from vngeonet.rtcm import ephemeris
from vngeonet.rtcm.context import DecodeContext
from vngeonet.rtcm.ephemeris import DECODERS, ENCODERS, EphemerisMessage, from_ephemeris, sisa_m
from vngeonet.rtcm.fields import SPECS, field

pyrtcm = pytest.importorskip("pyrtcm")
PI = math.pi

# Physical element <- (DF, factor applied to pyrtcm's scaled value), per message type.
_COMMON = ("sqrt_a", "e", "i0_rad", "omega0_rad", "omega_rad", "m0_rad", "delta_n_radps",
           "idot_radps", "omega_dot_radps", "cuc_rad", "cus_rad", "crc_m", "crs_m", "cic_rad",
           "cis_rad", "af0_s", "af1_sps", "af2_sps2", "tgd_s", "toe_sow", "toc_sow")
_FACT = (1, 1, PI, PI, PI, PI, PI, PI, PI, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
_DFS = {
    1019: (92, 90, 97, 95, 99, 88, 87, 79, 100, 89, 91, 98, 86, 94, 96, 84, 83, 82, 101, 93, 81),
    1044: (441, 439, 446, 444, 448, 437, 436, 450, 449, 438, 440, 447, 435, 443, 445, 433, 432,
           431, 455, 442, 430),
    1042: (504, 502, 509, 507, 511, 500, 499, 491, 512, 501, 503, 510, 498, 506, 508, 496, 495,
           494, 513, 505, 493),
    1045: (303, 301, 308, 306, 310, 299, 298, 292, 311, 300, 302, 309, 297, 305, 307, 296, 295,
           294, 312, 304, 293),
    1041: (539, 538, 543, 540, 541, 536, 524, 535, 542, 529, 530, 533, 534, 531, 532, 518, 519,
           520, 523, 537, 522),
}
_DFS[1046] = _DFS[1045]
_INTS = {  # (prn, iode, iodc, health) DFs; health composed below for Galileo / NavIC
    1019: (9, 71, 85, 102), 1044: (429, 434, 456, 454), 1042: (488, 492, 497, 515),
    1045: (252, 290, None, None), 1046: (252, 290, None, None), 1041: (516, 525, None, None),
}
_SYS = {1019: "G", 1044: "J", 1042: "C", 1045: "E", 1046: "E", 1041: "I", 1020: "R"}


def _pv(ref, df):
    return getattr(ref, f"DF{df:03d}")


def _check_fields(m: EphemerisMessage, ref):
    """Every transmitted data field equals pyrtcm's value (scaled the way pyrtcm scales it)."""
    from pyrtcm.rtcmtypes_core import RTCM_DATA_FIELDS

    for i, df in enumerate(SPECS[m.msg_type]):
        ours = int(m.fields[i])
        if df < 0:
            assert ours == getattr(ref, f"DF001_{-df}")
            continue
        scale = RTCM_DATA_FIELDS[f"DF{df:03d}"][2]
        theirs = _pv(ref, df)
        if scale in (0, 1):
            assert ours == theirs, df
        else:
            assert math.isclose(ours * field(df).scale, theirs, rel_tol=1e-13, abs_tol=1e-300), df


def _check_physics(m: EphemerisMessage, ref):
    """The SI ephemeris agrees with values derived from pyrtcm's decode."""
    e = m.eph
    t = m.msg_type
    assert m.sat == f"{_SYS[t]}{(_pv(ref, 38) if t == 1020 else _pv(ref, _INTS[t][0])):02d}"
    if t == 1020:
        return _check_glonass(e, ref)
    for name, f, df in zip(_COMMON, _FACT, _DFS[t]):
        want = _pv(ref, df) * f * (1e-9 if t == 1042 and df == 513 else 1)
        assert math.isclose(getattr(e, name), want, rel_tol=1e-13, abs_tol=1e-30), (t, name)
    if t == 1042:
        assert math.isclose(e.tgd2_s, _pv(ref, 514) * 1e-9, rel_tol=1e-13, abs_tol=1e-30)
    elif t == 1046:
        assert math.isclose(e.tgd2_s, _pv(ref, 313), rel_tol=1e-13, abs_tol=1e-30)
    else:
        assert math.isnan(e.tgd2_s)
    _, iode, iodc, health = _INTS[t]
    assert (e.iode, e.iodc) == (_pv(ref, iode), 0 if iodc is None else _pv(ref, iodc))
    if t == 1045:
        assert e.health == (_pv(ref, 314) << 4) | (_pv(ref, 315) << 3)
        assert e.accuracy_m == pytest.approx(sisa_m(_pv(ref, 291)), nan_ok=True)
        assert e.source == "FNAV"
    elif t == 1046:
        assert e.health == (_pv(ref, 316) << 7 | _pv(ref, 317) << 6 | _pv(ref, 287) << 1
                            | _pv(ref, 288))
        assert e.accuracy_m == pytest.approx(sisa_m(_pv(ref, 286)), nan_ok=True)
        assert e.source == "INAV"
    elif t == 1041:
        assert e.health == (_pv(ref, 527) << 1) | _pv(ref, 528)
        assert e.accuracy_m == pytest.approx(ephemeris.URA_M[_pv(ref, 521)], nan_ok=True)
    else:
        assert e.health == _pv(ref, health)
        ura = _pv(ref, {1019: 77, 1044: 453, 1042: 490}[t])
        assert e.accuracy_m == pytest.approx(ephemeris.URA_M[ura], nan_ok=True)


def _check_glonass(e: GlonassEphemeris, ref):
    assert e.freq_channel == _pv(ref, 40) - 7
    assert e.pos_m == pytest.approx([_pv(ref, d) * 1e3 for d in (112, 115, 118)], rel=1e-14)
    assert e.vel_mps == pytest.approx([_pv(ref, d) * 1e3 for d in (111, 114, 117)], rel=1e-14)
    assert e.acc_mps2 == pytest.approx([_pv(ref, d) * 1e3 for d in (113, 116, 119)], rel=1e-14,
                                       abs=1e-30)
    # pyrtcm leaves these sign-magnitude fields unscaled: apply the DF resolutions.
    assert e.tau_n_s == _pv(ref, 124) * 2.0**-30
    assert e.gamma_n == _pv(ref, 121) * 2.0**-40
    assert e.delta_tau_n_s == _pv(ref, 125) * 2.0**-30
    assert e.tb_s == _pv(ref, 110) * 900.0
    assert (e.health, e.age_days) == (_pv(ref, 108), _pv(ref, 126))


def test_every_real_frame_matches_pyrtcm_and_reencodes_bit_exact():
    seen = {}
    for rel, t, frame, payload in real_frames(set(EPHEMERIS_TYPES)):
        m = DECODERS[t](payload, DecodeContext(source=rel))
        ref = pyrtcm.RTCMReader.parse(frame)
        _check_fields(m, ref)
        _check_physics(m, ref)
        assert ENCODERS[type(m)](m) == payload, (rel, t)
        seen[t] = seen.get(t, 0) + 1
    assert set(seen) == set(EPHEMERIS_TYPES) - {1041}  # no NavIC ephemeris in the captures
    assert seen[1019] >= 3530 and seen[1046] >= 2775


def test_quantiser_reproduces_every_real_frame():
    """from_ephemeris(eph) rebuilds each real payload bit for bit (given the non-SI flags)."""
    for _, t, _, payload in real_frames(set(EPHEMERIS_TYPES)):
        m = DECODERS[t](payload, DecodeContext(approx_time=GPSTime(2275, 0.0)))
        extra = {f"DF{d:03d}": int(v) for d, v in zip(SPECS[t], m.fields) if d > 0}
        eph = dataclasses.replace(m.eph, extra=extra)
        assert ENCODERS[EphemerisMessage](from_ephemeris(eph, t)) == payload


def test_json_is_serialisable():
    for _, t, _, payload in real_frames(set(EPHEMERIS_TYPES)):
        d = DECODERS[t](payload, DecodeContext()).to_json()
        text = json.dumps(d, allow_nan=False)
        assert d["type"] == t and d["sat"][0] == _SYS[t]
        assert "toe_sow" in d or "tb_s" in d
        assert text


def test_week_resolution_in_a_stream():
    """Galileo sets the approximate time; GPS 10-bit weeks resolve from it.

    The cssrlib capture is from 2023-08-17, GPS week 2275.
    """
    ctx = DecodeContext()
    gps_before, gps_after = [], []
    for rel, t, _, payload in real_frames({1019, 1046}):
        if not rel.startswith("cssrlib-data"):
            continue
        m = DECODERS[t](payload, ctx)
        if t == 1046:
            assert m.time_resolved and m.eph.week == 1251 and m.eph.toe.week == 2275
        elif ctx.approx_time is None or not gps_after and not m.time_resolved:
            gps_before.append(m)
        else:
            gps_after.append(m)
    assert gps_after and all(m.time_resolved and m.eph.toe.week == 2275 for m in gps_after)
    assert all(not m.time_resolved and m.eph.week == 2275 % 1024 for m in gps_before)


def test_gps_unresolved_without_context():
    _, _, _, payload = next(iter(real_frames({1019})))
    m = DECODERS[1019](payload, None)
    assert not m.time_resolved and m.eph.week < 1024
    assert m.to_json()["toe"] is None


def test_beidou_time_scale():
    for _, _, _, payload in real_frames({1042}):
        ctx = DecodeContext()
        m = DECODERS[1042](payload, ctx)
        # BDT = GPST - 14 s, week 0 = GPS week 1356.
        want_s = (m.eph.week + 1356) * 604800.0 + m.eph.toe_sow + 14.0
        assert m.eph.toe.seconds == pytest.approx(want_s)
        assert ctx.approx_time == m.eph.toe
        assert m.eph.toe == bdt_to_gps(m.eph.week, m.eph.toe_sow)
        break
    for _, _, _, payload in real_frames({1046}):
        m = DECODERS[1046](payload, None)
        assert m.eph.toe == gst_to_gps(m.eph.week, m.eph.toe_sow)
        break


def test_glonass_context_and_full_time():
    n = 0
    for rel, _, _, payload in real_frames({1020}):
        ctx = DecodeContext()
        m = DECODERS[1020](payload, ctx)
        assert ctx.glo_channels == {m.sat: m.eph.freq_channel}
        if not m.time_resolved:
            continue
        # Resolved from NT/N4: resolving from a nearby approximate time gives the same t_b.
        ctx2 = DecodeContext(approx_time=m.eph.toe + 3 * 3600.0)
        m2 = DECODERS[1020](payload, ctx2)
        assert m2.eph.toe == m.eph.toe
        # t_b is the time of the GLONASS (UTC + 3 h) day.
        t_glo = gps_to_utc(m.eph.toe).timestamp() + 3 * 3600
        assert t_glo % 86400 == pytest.approx(m.eph.tb_s, abs=1e-3)
        n += 1
    assert n > 0


def test_glonass_resolution_from_approx_time_near_midnight():
    _, _, _, payload = next(iter(real_frames({1020})))
    m0 = DECODERS[1020](payload, None)
    # A time 2 h after t_b in the next GLONASS day must pick the previous day's t_b.
    ctx = DecodeContext(approx_time=GPSTime(2275, 0.0))
    m = DECODERS[1020](payload, ctx)
    assert m.time_resolved
    assert abs(m.eph.toe - ctx.approx_time) <= 43200.0
    assert m.eph.tb_s == m0.eph.tb_s


def test_1013_then_ephemerides_in_a_real_stream():
    """In a caster stream a 1013 gives the date; GPS/GLONASS ephemerides then resolve near it."""
    from tests.rtcm.test_fields import _frames_of, capture_files
    from vngeonet.rtcm import station

    files = [f for f in capture_files({1013}) if "ntrip_encode_none" in f]
    if not files:
        pytest.skip("pygnssutils ntrip_encode_none.bin not present")
    ctx = DecodeContext()
    checked = 0
    for t, _, payload in _frames_of(files[0]):
        if t == 1013:
            station.DECODERS[1013](payload, ctx)
        elif t in (1019, 1020) and ctx.approx_time is not None:
            m = DECODERS[t](payload, ctx)
            assert m.time_resolved
            assert abs(m.eph.toe - ctx.approx_time) < 4 * 86400.0
            checked += 1
    assert checked > 10


HAND = [
    KeplerEphemeris("G07", GPSTime(2312, 7200.0), GPSTime(2312, 7200.0), 2312, 7200.0, 7200.0,
                    5153.6, 0.0123, 0.95, -2.1, 0.7, 1.3, 4.5e-9, -3.2e-10, -8.1e-9, 1.1e-6,
                    7.5e-6, 230.0, -45.0, 1.2e-7, -8.9e-8, 1.5e-4, -2.3e-12, 0.0, -1.1e-8,
                    iode=77, iodc=77, health=0, accuracy_m=2.0, fit_interval_h=4.0),
    KeplerEphemeris("E11", GPSTime(2312, 7200.0), GPSTime(2312, 7200.0), 1288, 7200.0, 7200.0,
                    5440.6, 0.0003, 0.97, 1.1, -0.4, 2.0, 3.1e-9, 1.2e-10, -5.6e-9, -2.2e-6,
                    6.1e-6, 180.0, -12.5, -3.7e-8, 5.5e-8, -3.1e-4, 1.8e-12, 0.0, 2.1e-9,
                    2.3e-9, iode=100, iodc=0, health=0, accuracy_m=3.12),
    KeplerEphemeris("C23", GPSTime(2312, 7214.0), GPSTime(2312, 7214.0), 956, 7200.0, 7200.0,
                    5282.6, 0.0005, 0.96, -0.3, 1.2, -2.9, 3.9e-9, 2.1e-10, -6.7e-9, 1.9e-6,
                    8.8e-6, 160.0, 30.0, 2.2e-8, -1.5e-8, 4.4e-4, 1.3e-11, 0.0, 2.4e-9, -1.1e-9,
                    iode=1, iodc=1, health=0, accuracy_m=2.0, fit_interval_h=2.0),
    KeplerEphemeris("J02", GPSTime(2312, 7200.0), GPSTime(2312, 7200.0), 2312, 7200.0, 7200.0,
                    6493.0, 0.075, 0.72, 2.4, -1.6, 0.4, 2.9e-9, 4.1e-10, -2.7e-9, -3.0e-6,
                    1.1e-5, -100.0, 420.0, 1.2e-6, -7.0e-7, -3.4e-4, 3.3e-12, 0.0, -5.6e-9,
                    iode=193, iodc=961, health=0, accuracy_m=2.8, fit_interval_h=2.0),
    KeplerEphemeris("I05", GPSTime(2312, 7200.0), GPSTime(2312, 7200.0), 1288, 7200.0, 7200.0,
                    6493.4, 0.0019, 0.51, 1.7, 3.0, -0.2, 2.3e-9, -1.0e-10, -3.3e-9, 4.0e-6,
                    -2.7e-6, -400.0, 222.0, 2.2e-7, -1.5e-7, 6.7e-4, -1.1e-11, 0.0, -4.2e-9,
                    iode=12, iodc=0, health=1, accuracy_m=2.0),
    GlonassEphemeris("R09", GPSTime(2312, 7218.0), -2, (-11707273.9, 419574.2, -22629396.5),
                     (-1624.25, -2651.34, 795.70), (-4e3 * 2.0**-30, 0.0, 2e3 * 2.0**-30),
                     -3.08e-5, 1.8e-12,
                     health=0, age_days=1, delta_tau_n_s=5.6e-9, tb_s=18000.0),  # 05:00 Moscow
]


@pytest.mark.parametrize("eph", HAND, ids=lambda e: e.sat)
def test_hand_built_roundtrip(eph):
    """SI ephemeris -> message -> payload -> decode: equal to quantisation; pyrtcm agrees."""
    from vngeonet.rtcm.framer import frame_payload

    ctx = DecodeContext(approx_time=GPSTime(2312, 0.0))
    m = from_ephemeris(eph, ctx=ctx)
    payload = ENCODERS[EphemerisMessage](m)
    back = DECODERS[m.msg_type](payload, DecodeContext(approx_time=GPSTime(2312, 0.0)))
    assert back.sat == eph.sat and back.time_resolved
    for f in dataclasses.fields(eph):
        a, b = getattr(eph, f.name), getattr(back.eph, f.name)
        if f.name in ("extra", "source") or (isinstance(a, float) and math.isnan(a)):
            continue
        if isinstance(a, (float, tuple)):
            assert b == pytest.approx(a, rel=1e-4, abs=1e-9), f.name
        else:
            assert b == a, f.name
    ref = pyrtcm.RTCMReader.parse(frame_payload(payload))
    _check_fields(back, ref)
    _check_physics(back, ref)


@pytest.mark.parametrize("msg_type", EPHEMERIS_TYPES)
def test_short_payload_raises_format_error_naming_type(msg_type):
    payload = ENCODERS[EphemerisMessage](from_ephemeris(
        next(e for e in HAND if e.sat[0] == _SYS[msg_type]), msg_type))
    for cut in (0, 1, 5, len(payload) - 1):
        with pytest.raises(FormatError, match=str(msg_type)):
            DECODERS[msg_type](payload[:cut], DecodeContext(source="x.rtcm"))


def test_sisa_and_ura_tables():
    assert [sisa_m(i) for i in (0, 49, 50, 74, 75, 99, 100, 125)] == pytest.approx(
        [0.0, 0.49, 0.5, 0.98, 1.0, 1.96, 2.0, 6.0])
    assert math.isnan(sisa_m(126)) and math.isnan(sisa_m(255))
    assert ephemeris.URA_M[0] == 2.0 and ephemeris.URA_M[6] == 16.0
    assert math.isnan(ephemeris.URA_M[15])


def test_fast_constructor_equals_dataclass_init():
    e = HAND[0]
    vals = [getattr(e, f.name) for f in dataclasses.fields(e)][:-1]
    fast = ephemeris._MAKE_KEPLER((*vals, {}))
    assert fast == KeplerEphemeris(*vals)
    assert fast.extra == {} and fast.extra is not ephemeris._MAKE_KEPLER((*vals, {})).extra
    for m in (DECODERS[1019](ENCODERS[EphemerisMessage](from_ephemeris(e)), None),
              from_ephemeris(e)):  # decoded ephemerides never share their extra dict
        assert m.eph.extra == {} and m.eph.extra is not from_ephemeris(e).eph.extra


def test_message_fields_are_read_only():
    m = from_ephemeris(HAND[0])
    with pytest.raises(ValueError):
        m.fields[0] = 1
    assert m.field(9) == 7
    assert isinstance(m.fields, np.ndarray) and m.fields.dtype == np.int64


@pytest.mark.parametrize("impl", impl_param("bits"))
def test_backends_give_identical_field_vectors(impl, monkeypatch):
    """Compiled and twin bits kernels decode every real ephemeris frame to the same integers."""
    from vngeonet import kernels
    from vngeonet.rtcm import fields

    ref = {}
    for i, (_, t, _, payload) in enumerate(real_frames(set(EPHEMERIS_TYPES))):
        if i % 7 == 0:  # a seventh of the frames keeps the twin run short
            ref[(t, payload)] = DECODERS[t](payload, None).fields.tolist()
    monkeypatch.setattr(fields, "_BITS", kernels.get("bits", impl))
    for (t, payload), want in ref.items():
        assert DECODERS[t](payload, None).fields.tolist() == want
        # the ephfields kernel reads what the bits kernel reads
        assert fields.layout(t).unpack(payload, t).tolist() == want


def test_dispatch_through_rtcm_decode():
    """The package-level decode/encode route our types to these modules, bit-exact."""
    from tests.rtcm.test_fields import _frames_of, capture_files
    from vngeonet.model import Frame
    from vngeonet.rtcm import decode as rtcm_decode
    from vngeonet.rtcm import encode as rtcm_encode
    from vngeonet.rtcm import station

    files = [f for f in capture_files({1029}) if "USCL00CHL0" in f]
    if not files:
        pytest.skip("pyrtcm USCL00CHL0 capture not present")
    ctx = DecodeContext()
    mine = set(EPHEMERIS_TYPES) | set(station.DECODERS)
    seen = set()
    for t, raw, payload in _frames_of(files[0]):
        msg = rtcm_decode.decode(Frame(t, payload, raw, -1), ctx)
        if t in mine:
            assert isinstance(msg, tuple(station.ENCODERS) + (EphemerisMessage,))
            seen.add(t)
        assert rtcm_encode.encode(msg) == raw
    assert {1005, 1006, 1007, 1008, 1013, 1019, 1020, 1029, 1033, 1042, 1045, 1046, 1230} <= seen
    assert ctx.approx_time is not None and ctx.glo_channels


def test_physics_agree_with_rtklib_rinex_of_the_same_broadcast():
    """1019/1046 of idd2023229c.rtc vs OBE42023229c.nav (RTKLIB's RTCM->RINEX of the same day).

    Every ephemeris present in both (same satellite, toe, IODE, I/NAV or LNAV)
    agrees to the RINEX print precision (12 significant digits).
    """
    from tests.conftest import data_path

    nav = pytest.importorskip("vngeonet.rinex.nav")
    rinex = nav.read_nav([data_path("cssrlib-data/doy2023-229/OBE42023229c.nav")])
    index = {(e.sat, e.toe, e.iode, e.source): e for e in rinex.ephemerides}
    names = ("sqrt_a", "e", "i0_rad", "omega0_rad", "omega_rad", "m0_rad", "delta_n_radps",
             "idot_radps", "omega_dot_radps", "cuc_rad", "cus_rad", "crc_m", "crs_m", "cic_rad",
             "cis_rad", "af0_s", "af1_sps", "af2_sps2", "tgd_s", "tgd2_s", "accuracy_m")
    ctx = DecodeContext()
    matched = 0
    for rel, t, _, payload in real_frames({1019, 1046}):
        if not rel.startswith("cssrlib-data/doy2023-229"):
            continue
        m = DECODERS[t](payload, ctx)
        ref = index.get((m.eph.sat, m.eph.toe, m.eph.iode, m.eph.source))
        if ref is None or not m.time_resolved:
            continue
        for name in names:
            a, b = getattr(m.eph, name), getattr(ref, name)
            assert (math.isnan(a) and math.isnan(b)) or math.isclose(
                a, b, rel_tol=1e-11, abs_tol=1e-25), (m.sat, name)
        assert (m.eph.toc, m.eph.health, m.eph.iodc) == (ref.toc, ref.health, ref.iodc)
        matched += 1
    assert matched > 1000


def test_unsupported_inputs():
    from vngeonet.errors import UnsupportedMessage

    with pytest.raises(UnsupportedMessage):
        ephemeris.decode_ephemeris(b"\x3e\xd0" + bytes(20))  # a 1005 payload
    with pytest.raises(UnsupportedMessage):
        from_ephemeris(dataclasses.replace(HAND[0], sat="S20"))
    with pytest.raises(OverflowError):
        from_ephemeris(dataclasses.replace(HAND[2], iode=40))  # BeiDou AODE has 5 bits


def test_galileo_napa_and_beidou_fit_follow_the_rinex_reader():
    napa = dataclasses.replace(HAND[1], accuracy_m=float("nan"))
    m = from_ephemeris(napa)
    assert m.field(286) == 255 and math.isnan(m.eph.accuracy_m) and m.eph.extra == {"napa": True}
    assert from_ephemeris(HAND[1]).eph.extra == {}
    assert from_ephemeris(HAND[2]).eph.fit_interval_h == 2.0


@pytest.mark.parametrize("rel", [
    "georinex/BRDM00DLR_R_20130010000_01D_MN.rnx",
    "nav-solutions-data/NAV/V3/CBW100NLD_R_20210010000_01D_MN.rnx",
    "georinex/BRDC00IGS_R_20201360000_01D_MN.rnx",
])
def test_rinex_ephemerides_encode_and_decode_back(rel):
    """RINEX -> RTCM path: every G/R/E/C/J ephemeris of a real RINEX nav file survives
    from_ephemeris -> payload -> decode within the field resolutions."""
    from tests.conftest import data_path

    nav = pytest.importorskip("vngeonet.rinex.nav")
    ephs = [e for e in nav.read_nav([data_path(rel)]).ephemerides if e.sat[0] in "GRECJI"]
    assert ephs
    for e in ephs:
        m = from_ephemeris(e, ctx=DecodeContext(approx_time=e.toe))
        back = DECODERS[m.msg_type](ENCODERS[EphemerisMessage](m),
                                    DecodeContext(approx_time=e.toe)).eph
        assert back.sat == e.sat and back.toe == e.toe
        for f in dataclasses.fields(e):
            a, b = getattr(e, f.name), getattr(back, f.name)
            if f.name in ("extra", "source", "accuracy_m", "fit_interval_h") or (
                    isinstance(a, float) and math.isnan(a)):
                continue  # accuracy/fit are re-expressed on the broadcast index scales
            if isinstance(a, (float, tuple)):
                assert b == pytest.approx(a, rel=1e-3, abs=1e-8), (e.sat, f.name)
            else:
                assert b == a, (e.sat, f.name)


# ------------------------------------------------- fast path vs a plain reference

# (prn, week, iode, iodc, accuracy) DFs and the 22 real DFs in KeplerEphemeris order
# (toe_sow, toc_sow, sqrt_a, e, i0, OMEGA0, omega, M0, dn, IDOT, OMEGADOT, Cuc, Cus, Crc, Crs,
# Cic, Cis, af0, af1, af2, tgd, tgd2); None = absent.
_REF_INTS = {1019: (9, 76, 71, 85, 77), 1044: (429, 452, 434, 456, 453),
             1041: (516, 517, 525, None, 521), 1042: (488, 489, 492, 497, 490),
             1045: (252, 289, 290, None, 291), 1046: (252, 289, 290, None, 286)}
_REF_REALS = {t: tuple(_DFS[t][19:21]) + tuple(_DFS[t][:19]) + (
    {1042: 514, 1046: 313}.get(t),) for t in _REF_INTS}
_REF_HEALTH = {1019: ((102, 0),), 1044: ((454, 0),), 1042: ((515, 0),),
               1041: ((527, 1), (528, 0)), 1045: ((314, 4), (315, 3)),
               1046: ((316, 7), (317, 6), (287, 1), (288, 0))}


def _reference_kepler(t: int, payload: bytes, ctx) -> EphemerisMessage:
    """The obvious decode: bits kernel, numpy scales, dataclass constructors, gnss.time."""
    from vngeonet.gnss.time import resolve_rollover
    from vngeonet.rtcm.fields import layout

    lay = layout(t)
    vals = lay.unpack(payload, t)
    v = {d: int(vals[i]) for d, i in lay.index.items()}
    prn, week, iode, iodc, acc = (v[d] if d else 0 for d in _REF_INTS[t])
    r = [float(vals[lay.index[d]]) * float(lay.si[lay.index[d]]) if d else math.nan
         for d in _REF_REALS[t]]
    system = _SYS[t]
    origin, shift = {"E": (1024, 0.0), "C": (1356, 14.0), "I": (1024, 0.0)}.get(system, (0, 0.0))
    approx = getattr(ctx, "approx_time", None)
    resolved = system in "EC" or approx is not None
    if system not in "EC" and approx is not None:
        week = resolve_rollover(week, 10, approx, origin)
    toe = GPSTime(week + origin, r[0] + shift)
    dt = r[1] - r[0]
    toc = GPSTime(week + origin + (-1 if dt > 302400 else 1 if dt < -302400 else 0), r[1] + shift)
    if resolved and approx is None and ctx is not None:
        ctx.approx_time = toe
    health = sum(v[d] << s for d, s in _REF_HEALTH[t])
    fit = {1042: 2.0, 1044: 4.0 if v.get(457) else 2.0}.get(t, 4.0)
    if t == 1019 and v[137]:
        fit = ephemeris._gps_fit_interval_h(iodc)
    source = {1045: "FNAV", 1046: "INAV", 1042: "D2" if prn <= 5 or prn >= 59 else "D1"}.get(
        t, "LNAV")
    eph = KeplerEphemeris(f"{system}{prn:02d}", toe, toc, week, *r, iode=iode, iodc=iodc,
                          health=health, accuracy_m=sisa_m(acc) if system == "E" else
                          ephemeris.URA_M[acc], fit_interval_h=fit, source=source,
                          extra={"napa": True} if system == "E" and acc == 255 else {})
    vals.flags.writeable = False
    return EphemerisMessage(t, eph.sat, eph, vals, resolved)


def _identical(a, b):
    """Equal field by field, floats bit for bit (NaN included), types included."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b)
        for f in dataclasses.fields(a):
            _identical(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, np.ndarray):
        assert type(b) is np.ndarray and a.dtype == b.dtype and a.tolist() == b.tolist()
        assert a.flags.writeable == b.flags.writeable
    elif isinstance(a, float):
        assert type(b) is float and (a == b or (math.isnan(a) and math.isnan(b))), (a, b)
    elif isinstance(a, tuple):
        assert type(b) is tuple and len(a) == len(b)
        for x, y in zip(a, b):
            _identical(x, y)
    else:
        assert type(a) is type(b) and a == b, (a, b)


def _contexts():
    """Fresh-context factories: none, empty (set by the message), and approximate times
    across GPS roll-overs (10-bit weeks) and within half a week of a week boundary."""
    yield lambda: None
    yield DecodeContext
    for week, tow in ((1000, 300000.0), (2275, 1.0), (2300, 604799.5), (3500, 0.0)):
        yield lambda w=week, s=tow: DecodeContext(approx_time=GPSTime(w, s))


def test_fast_decode_equals_reference_on_every_real_frame():
    """The single-call kernel path gives exactly what the plain decode gives, ctx updates included."""
    frames = [(t, p) for _, t, _, p in real_frames(set(_REF_INTS))]
    for make_ctx in _contexts():
        for i, (t, payload) in enumerate(frames):
            if i % 3 and make_ctx() is not None:  # a third of the frames per approximate time
                continue
            c1, c2 = make_ctx(), make_ctx()
            _identical(DECODERS[t](payload, c1), _reference_kepler(t, payload, c2))
            assert c1 == c2


def test_fast_decode_equals_reference_in_a_stream():
    """One context through every real frame: the first Galileo/BeiDou message sets the time."""
    c1, c2 = DecodeContext(), DecodeContext()
    for _, t, _, payload in real_frames(set(_REF_INTS)):
        _identical(DECODERS[t](payload, c1), _reference_kepler(t, payload, c2))
        assert c1 == c2


@pytest.mark.parametrize("toe_sow", [0.0, 8.0, 604784.0, 604792.0, 604800.0 - 8.0])
def test_beidou_times_across_the_week_boundary(toe_sow):
    """BDT + 14 s can pass the end of the week: toe/toc normalise as GPSTime does."""
    eph = dataclasses.replace(HAND[2], toe_sow=toe_sow, toc_sow=(toe_sow + 604800.0 - 8.0)
                              % 604800.0)
    payload = ENCODERS[EphemerisMessage](from_ephemeris(eph))
    for make_ctx in _contexts():
        c1, c2 = make_ctx(), make_ctx()
        m = DECODERS[1042](payload, c1)
        _identical(m, _reference_kepler(1042, payload, c2))
        assert 0.0 <= m.eph.toe.tow_s < 604800.0 and 0.0 <= m.eph.toc.tow_s < 604800.0
        assert m.eph.toe == bdt_to_gps(m.eph.week, toe_sow)


def test_galileo_toe_beyond_a_week_normalises():
    """A (corrupt) Galileo toe past 604800 s decodes to a normalised GPSTime, as GPSTime() does."""
    payload = ENCODERS[EphemerisMessage](from_ephemeris(HAND[1]))
    lay = ephemeris.layout(1046)
    vals = lay.unpack(payload, 1046).copy()
    vals[lay.index[304]] = (1 << 14) - 1  # 982980 s
    bad = lay.pack(1046, vals)
    m = DECODERS[1046](bad, None)
    _identical(m, _reference_kepler(1046, bad, None))
    assert m.eph.toe == GPSTime(1288 + 1024 + 1, 16383 * 60.0 - 604800.0)


@pytest.mark.parametrize("impl", impl_param("ephfields"))
def test_ephfields_backends_decode_every_real_frame_alike(impl, monkeypatch):
    """Compiled and twin ephfields kernels give identical messages (a fifth of the frames)."""
    from vngeonet import kernels

    k = kernels.get("ephfields", impl)
    names = [f.name for f in dataclasses.fields(KeplerEphemeris)]
    monkeypatch.setattr(ephemeris, "_EPHF", k)
    monkeypatch.setattr(ephemeris, "_MAKE_KEPLER", k.SlotMaker(KeplerEphemeris, names).make)
    monkeypatch.setattr(ephemeris, "_MAKE_TIME", k.SlotMaker(GPSTime, ("week", "tow_s")).make)
    monkeypatch.setattr(ephemeris, "_MAKE_MESSAGE", k.SlotMaker(
        EphemerisMessage, [f.name for f in dataclasses.fields(EphemerisMessage)]).make)
    compiled = {t: ephemeris._Compiled(t) for t in _REF_INTS}
    for i, (_, t, _, payload) in enumerate(real_frames(set(_REF_INTS))):
        if i % 5 == 0:
            c1, c2 = (DecodeContext(approx_time=GPSTime(2275, 1.0)) for _ in range(2))
            _identical(ephemeris._decode_kepler(payload, c1, compiled[t]),
                       _reference_kepler(t, payload, c2))


def _reference_glonass_toe(tb_s: float, approx: GPSTime | None, nt: int, n4: int, avail: int):
    """t_b as a full GPS time by datetime arithmetic (vngeonet.gnss.time), the plain way."""
    import datetime as dt

    from vngeonet.gnss.time import glonass_to_gps

    tb = dt.timedelta(seconds=tb_s)
    if approx is not None:
        t_glo = gps_to_utc(approx) + dt.timedelta(hours=3)
        day0 = t_glo.replace(hour=0, minute=0, second=0, microsecond=0)
        cands = [day0 + dt.timedelta(days=d) + tb for d in (-1, 0, 1)]
        return glonass_to_gps(min(cands, key=lambda t: abs((t - t_glo).total_seconds()))), True
    if avail and nt > 0 and n4 > 0:
        day0 = dt.datetime(1996 + 4 * (n4 - 1), 1, 1) + dt.timedelta(days=nt - 1)
        return glonass_to_gps(day0 + tb), True
    return GPSTime(0, tb_s), False


def _glonass_approx_times():
    """Approximate times: random, around GLONASS midnight and around leap-second steps."""
    from vngeonet.gnss.time import utc_to_gps

    rng = np.random.default_rng(1020)
    for _ in range(300):
        yield GPSTime(int(rng.integers(1100, 2600)), float(rng.integers(0, 604800 * 8)) / 8)
    import datetime as dt

    for day in (dt.datetime(2015, 7, 1), dt.datetime(2017, 1, 1), dt.datetime(2024, 5, 3)):
        for h in (-27, -21, -15, -3, 0, 3, 9, 21):
            for s in (-1.0, -0.4, 0.0, 0.0000005, 0.6):
                yield utc_to_gps(day + dt.timedelta(hours=h, seconds=s))


def test_glonass_toe_equals_datetime_arithmetic():
    """The integer-microsecond t_b resolution equals the datetime one, midnights and leap
    seconds included, for every t_b of a day (DF110 0..95, plus out-of-range 96..127)."""
    tbs = [i * 900.0 for i in range(128)]
    for approx in _glonass_approx_times():
        ctx = DecodeContext(approx_time=approx)
        for tb in tbs[::7] + [0.0, 85500.0, 86400.0]:
            _identical(ephemeris._glonass_toe(tb, None, ctx),
                       _reference_glonass_toe(tb, approx, 0, 0, 0))
    v = [0] * 36
    for n4 in (1, 7, 8, 31):
        for nt in (1, 59, 60, 366, 1461, 2047):
            v[ephemeris._G_NT], v[ephemeris._G_N4], v[ephemeris._G_AVAIL] = nt, n4, 1
            for tb in tbs[::11]:
                _identical(ephemeris._glonass_toe(tb, v, None),
                           _reference_glonass_toe(tb, None, nt, n4, 1))
    v[ephemeris._G_AVAIL] = 0
    _identical(ephemeris._glonass_toe(900.0, v, None), (GPSTime(0, 900.0), False))


def test_glonass_decode_equals_reference_on_every_real_frame():
    """1020: the kernel path equals unpack + scale + GlonassEphemeris(...) for every real frame."""
    from vngeonet.rtcm.fields import layout

    lay = layout(1020)
    pos = ephemeris._G_STATE.tolist()
    for make_ctx in _contexts():
        for _, _, _, payload in real_frames({1020}):
            c1, c2 = make_ctx(), make_ctx()
            m = DECODERS[1020](payload, c1)
            vals = lay.unpack(payload, 1020)
            v = vals.tolist()
            s = [float(vals[i]) * float(lay.si[i]) for i in pos]
            toe, resolved = _reference_glonass_toe(
                s[12], getattr(c2, "approx_time", None), v[ephemeris._G_NT],
                v[ephemeris._G_N4], v[ephemeris._G_AVAIL])
            eph = GlonassEphemeris(
                f"R{v[0]:02d}", toe, v[1] - 7, tuple(s[0:3]), tuple(s[3:6]), tuple(s[6:9]),
                tau_n_s=s[10], gamma_n=s[9], health=v[6], age_days=v[24],
                delta_tau_n_s=s[11], tb_s=s[12], source="RTCM1020",
                extra={"accuracy_m": ephemeris.FT_M[v[26]]})
            if c2 is not None:
                c2.glo_channels[eph.sat] = eph.freq_channel
            vals.flags.writeable = False
            _identical(m, EphemerisMessage(1020, eph.sat, eph, vals, resolved))
            assert c1 == c2


def test_glonass_time_of_an_approximate_time_equals_datetime_route():
    """GLONASST of ctx.approx_time in integer microseconds equals gps_to_utc(t) + 3 h:
    random times, millisecond and binary fractions, half-microsecond ties, the first
    seconds of a week and +-30 s around every leap second."""
    import datetime as dt

    from vngeonet.gnss.time import GPS_EPOCH, LEAP_SECONDS, utc_to_gps

    def want(t):
        return (gps_to_utc(t) + dt.timedelta(hours=3) - GPS_EPOCH) // dt.timedelta(microseconds=1)

    rng = np.random.default_rng(3)
    times = []
    for _ in range(2000):
        w = int(rng.integers(0, 3000))
        times += [GPSTime(w, float(rng.random() * 604800)),
                  GPSTime(w, float(rng.integers(0, 604800 * 1000)) / 1000),
                  GPSTime(w, float(rng.integers(0, 604800 * 2_000_000)) / 2_000_000),
                  GPSTime(w, float(rng.integers(0, 40 * 2**20)) / 2**20)]
    for start, _ in LEAP_SECONDS:
        base = utc_to_gps(start)
        times += [base + (k / 4 + f) for k in range(-120, 120) for f in (0.0, 5e-7, 0.3)]
    for t in times:
        assert ephemeris._glonass_now_us(t) == want(t), t
