"""Tests of vngeonet.rtcm.station against pyrtcm (the oracle) on every real frame."""

from __future__ import annotations

import json
import math

import pytest

from tests.rtcm.test_fields import STATION_TYPES, real_frames
from vngeonet.errors import FormatError
from vngeonet.gnss.time import GPSTime
from vngeonet.rtcm import station
from vngeonet.rtcm.context import DecodeContext
from vngeonet.rtcm.station import (
    DECODERS,
    ENCODERS,
    AntennaDescriptor,
    GlonassCodePhaseBias,
    MessageAnnouncement,
    ReceiverAntennaDescriptor,
    StationARP,
    SystemParameters,
    TextMessage,
)

pyrtcm = pytest.importorskip("pyrtcm")


def _oracle(frame: bytes):
    return pyrtcm.RTCMReader.parse(frame)


def _chars(ref, df: int, n: int) -> str:
    return "".join(getattr(ref, f"DF{df:03d}_{i + 1:02d}") for i in range(n))


def _check_against_pyrtcm(m, ref):
    """Every data field of ``m`` equals pyrtcm's decode of the same frame."""
    assert m.msg_type == ref.DF002
    assert m.station_id == ref.DF003
    t = m.msg_type
    if t in (1005, 1006):
        assert m.arp_ecef_m == pytest.approx((ref.DF025, ref.DF026, ref.DF027), abs=1e-9)
        assert (m.itrf_year, m.gps, m.glonass, m.galileo) == (
            ref.DF021, ref.DF022, ref.DF023, ref.DF024)
        assert (m.reference_station, m.single_oscillator, m.quarter_cycle, m.reserved) == (
            ref.DF141, ref.DF142, ref.DF364, ref.DF001_1)
        if t == 1006:
            assert m.antenna_height_m == pytest.approx(ref.DF028, abs=1e-9)
        else:
            assert m.antenna_height_m is None
    elif t in (1007, 1008, 1033):
        assert m.antenna == _chars(ref, 30, ref.DF029)
        setup = m.setup_id if t != 1033 else m.antenna_setup_id
        assert setup == ref.DF031
        if t in (1008, 1033):
            assert m.antenna_serial == _chars(ref, 33, ref.DF032)
        if t == 1033:
            assert m.receiver == _chars(ref, 228, ref.DF227)
            assert m.firmware == _chars(ref, 230, ref.DF229)
            assert m.receiver_serial == _chars(ref, 232, ref.DF231)
    elif t == 1013:
        assert (m.mjd, m.sod_s, m.leap_s, len(m.announcements)) == (
            ref.DF051, ref.DF052, ref.DF054, ref.DF053)
        for i, a in enumerate(m.announcements, 1):
            assert a.msg_id == getattr(ref, f"DF055_{i:02d}")
            assert a.sync == bool(getattr(ref, f"DF056_{i:02d}"))
            assert a.interval_s == pytest.approx(getattr(ref, f"DF057_{i:02d}"), abs=1e-9)
    elif t == 1029:
        assert (m.mjd, m.sod_s, m.n_chars) == (ref.DF051, ref.DF052, ref.DF138)
        # pyrtcm maps each UTF-8 code unit to one character (latin-1); DF140 is UTF-8.
        assert m.text == ref.DF140.encode("latin-1").decode("utf-8", "surrogateescape")
    elif t == 1230:
        assert m.aligned == bool(ref.DF421)
        assert m.reserved == ref.DF001_3
        for i, b in enumerate(m.biases_m):
            if getattr(ref, f"DF422_{i + 1}"):
                assert b == pytest.approx(getattr(ref, f"DF{423 + i}"), abs=1e-9)
            else:
                assert math.isnan(b)


def test_every_real_frame_matches_pyrtcm_and_reencodes_bit_exact():
    seen = set()
    for rel, t, frame, payload in real_frames(set(STATION_TYPES)):
        m = DECODERS[t](payload, DecodeContext(source=rel))
        _check_against_pyrtcm(m, _oracle(frame))
        assert ENCODERS[type(m)](m) == payload, (rel, t)
        d = m.to_json()
        json.dumps(d, allow_nan=False)
        assert d["type"] == t and d["station"] == m.station_id
        seen.add(t)
    assert seen == set(STATION_TYPES)


def test_1005_worked_example():
    """RTCM 10403.3 §3.5.3 example message 1005 (station 2003)."""
    frame = bytes.fromhex("D300133ED7D30202980EDEEF34B4BD62AC0941986F33360B98")
    m = DECODERS[1005](frame[3:-3], None)
    assert m.station_id == 2003
    assert m.arp_ecef_m == pytest.approx((1114104.5999, -4850729.7108, 3975521.4643), abs=1e-6)
    assert m.to_json()["arp_ecef_m"] == pytest.approx([1114104.5999, -4850729.7108, 3975521.4643])
    assert ENCODERS[StationARP](m) == frame[3:-3]


def test_1013_sets_approx_time_once():
    frames = [(f, p) for _, _, f, p in real_frames({1013})]
    ctx = DecodeContext()
    m = DECODERS[1013](frames[0][1], ctx)
    assert ctx.approx_time == m.time
    # MJD 44244 is the GPS epoch; the message time adds DF054 leap seconds to UTC.
    assert m.time.seconds == pytest.approx((m.mjd - 44244) * 86400 + m.sod_s + m.leap_s)
    keep = GPSTime(2000, 0.0)
    ctx2 = DecodeContext(approx_time=keep)
    DECODERS[1013](frames[0][1], ctx2)
    assert ctx2.approx_time == keep


HAND_BUILT = [
    StationARP(1005, 4095, (-1626343.5678, 5730606.0123, 2271881.4321), None, 0, True, True, True,
               False, True, 1),
    StationARP(1006, 611, (-1626343.5678, 5730606.0123, 2271881.4321), 1.2345),
    AntennaDescriptor(1007, 12, "LEIAR25.R4      LEIT", 3),
    AntennaDescriptor(1008, 12, "LEIAR25.R4      LEIT", 0, "726354"),
    ReceiverAntennaDescriptor(611, "LEIAR25.R4      LEIT", 1, "726354", "LEICA GR50", "4.31/7.403",
                              "1870123"),
    SystemParameters(7, 60540, 76456, 18, (MessageAnnouncement(1077, True, 1.0),
                                          MessageAnnouncement(1033, False, 10.5))),
    SystemParameters(7, 60540, 0, 18),
    TextMessage(3, 60540, 100, "Trạm CORS Hà Nội — VNGEONET", 27),
    GlonassCodePhaseBias(25, True, (19.08, float("nan"), -71.94, 0.0)),
    GlonassCodePhaseBias(25, False, (float("nan"),) * 4),
]


@pytest.mark.parametrize("msg", HAND_BUILT, ids=lambda m: f"{type(m).__name__}-{m.msg_type}")
def test_hand_built_roundtrip(msg):
    payload = ENCODERS[type(msg)](msg)
    back = DECODERS[msg.msg_type](payload, DecodeContext())
    if isinstance(msg, GlonassCodePhaseBias):
        assert back.mask == msg.mask and back.aligned == msg.aligned
        for a, b in zip(back.biases_m, msg.biases_m):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-9)
    elif isinstance(msg, StationARP):
        assert back.arp_ecef_m == pytest.approx(msg.arp_ecef_m, abs=1e-9)
        assert back.antenna_height_m == pytest.approx(msg.antenna_height_m)
        assert (back.gps, back.glonass, back.galileo, back.single_oscillator) == (
            msg.gps, msg.glonass, msg.galileo, msg.single_oscillator)
    else:
        assert back == msg
    # pyrtcm reads our encoding the same way.
    from vngeonet.rtcm.framer import frame_payload

    _check_against_pyrtcm(back, _oracle(frame_payload(payload)))


def test_1029_text_roundtrip_with_invalid_utf8():
    """Bytes that are not UTF-8 survive decode -> encode (surrogate escapes)."""
    m0 = TextMessage(3, 60540, 5, "ok\udcff", 3)
    payload = ENCODERS[TextMessage](m0)
    assert payload.endswith(b"ok\xff")
    m = DECODERS[1029](payload, None)
    assert m == m0
    assert ENCODERS[TextMessage](m) == payload
    json.dumps(m.to_json())


@pytest.mark.parametrize("msg_type", STATION_TYPES)
def test_short_payload_raises_format_error_naming_type(msg_type):
    full = max((p for _, _, _, p in real_frames({msg_type})), key=len)
    for cut in (0, 2, 3, len(full) - 1):
        with pytest.raises(FormatError, match=str(msg_type)) as info:
            DECODERS[msg_type](full[:cut], DecodeContext(source="test.rtcm"))
        assert "test.rtcm" in str(info.value)


def test_modules_export_contract():
    assert set(station.DECODERS) == set(STATION_TYPES)
    for cls in station.ENCODERS:
        assert cls.__dataclass_params__.frozen
        assert hasattr(cls, "__slots__")
