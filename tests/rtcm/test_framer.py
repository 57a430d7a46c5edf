"""RTCMFramer, iter_frames, frame_payload and the decode/encode dispatch."""

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.errors import FormatError, FramingError, UnsupportedMessage
from vngeonet.model import ErrorPolicy, Frame
from vngeonet.rtcm import decode as decode_mod
from vngeonet.rtcm.decode import RTCMDecoder, decode, decode_payload, decode_stream
from vngeonet.rtcm.encode import encode
from vngeonet.rtcm.framer import MAX_FRAME, RTCMFramer, frame_payload, iter_frames
from vngeonet.rtcm.raw import RawMessage

EX1005 = bytes.fromhex("3ed00003b5964465b88637bbb352b774e1e579")  # 1005 payload, station 0


def make_payload(msg_type: int, n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    body = bytearray(rng.integers(0, 256, max(n, 2), dtype=np.uint8).tobytes())
    body[0] = msg_type >> 4
    body[1] = ((msg_type & 0xF) << 4) | (body[1] & 0x0F)
    return bytes(body)


def feed_all(framer: RTCMFramer, data: bytes, sizes) -> list[Frame]:
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out += framer.feed(data[i : i + n])
        i += n
        k += 1
    return out + framer.flush()


def test_frame_payload_layout():
    raw = frame_payload(EX1005)
    assert raw[0] == 0xD3 and raw[1] == 0 and raw[2] == len(EX1005)
    assert raw.hex() == "d300133ed00003b5964465b88637bbb352b774e1e5794c9492"
    assert len(frame_payload(b"")) == 6
    big = frame_payload(bytes(1023))
    assert big[1] == 0x03 and big[2] == 0xFF and len(big) == MAX_FRAME
    with pytest.raises(FramingError):
        frame_payload(bytes(1024))


def test_single_frame_and_offsets():
    raw = frame_payload(EX1005)
    frames = list(iter_frames(b"xx" + raw + b"yy" + raw))
    assert [(f.msg_type, f.offset) for f in frames] == [(1005, 2), (1005, 4 + len(raw))]
    assert frames[0].raw == raw and frames[0].payload == EX1005


@pytest.mark.parametrize("sizes", [[1], [2, 3], [7], [1000], [1 << 20], [5, 1, 300, 2]])
def test_chunking_invariance(sizes):
    rng = np.random.default_rng(1)
    parts = []
    for i in range(40):
        parts.append(rng.integers(0, 256, int(rng.integers(0, 30)), dtype=np.uint8).tobytes())
        parts.append(frame_payload(make_payload(1077 + i % 3, int(rng.integers(2, 1023)), i)))
    data = b"".join(parts)
    whole = list(iter_frames(data))
    framer = RTCMFramer()
    got = feed_all(framer, data, sizes)
    assert got == whole
    assert len(got) == 40
    assert framer.stats.frames == 40 and framer.stats.bytes_in == len(data)
    assert framer.stats.skipped_bytes == len(data) - sum(len(f.raw) for f in got)
    assert sum(framer.stats.per_type.values()) == 40
    assert framer.pending == 0


def test_resync_inside_false_candidate():
    good = frame_payload(make_payload(1005, 19))
    # 0xD3 0x00 0x40: a false candidate 64 bytes long that swallows the real frame.
    data = b"\xd3\x00\x40" + good + bytes(80)
    for sizes in ([1], [len(data)]):
        framer = RTCMFramer()
        frames = feed_all(framer, data, sizes)
        assert [f.offset for f in frames] == [3]
        assert framer.stats.crc_failures == 1
        assert framer.stats.skipped_bytes == 3 + 80


def test_corrupted_frame_counted_and_next_kept():
    a = bytearray(frame_payload(make_payload(1077, 200, 3)))
    a[50] ^= 0x10
    b = frame_payload(make_payload(1087, 150, 4))
    framer = RTCMFramer()
    frames = framer.feed(bytes(a) + b) + framer.flush()
    assert [f.msg_type for f in frames] == [1087]
    assert framer.stats.crc_failures >= 1
    assert framer.stats.skipped_bytes == len(a)


def test_pending_bounded_and_flush():
    framer = RTCMFramer()
    assert framer.feed(b"\xd3\x03\xff" + bytes(2000)) == []
    assert framer.pending < MAX_FRAME
    framer = RTCMFramer()
    framer.feed(b"\xd3\x03\xff" + bytes(500))
    assert framer.pending == 503
    assert framer.flush() == []
    assert framer.pending == 0 and framer.stats.skipped_bytes == 503


def test_stats_as_dict():
    framer = RTCMFramer()
    framer.feed(frame_payload(EX1005) * 3)
    d = framer.stats.as_dict()
    assert d["frames"] == 3 and d["per_type"] == {"1005": 3}


def test_interleaved_nmea_ubx_loses_nothing():
    path = data_path("pygnssutils/tests/pygpsdata-rtcm3.log")
    data = path.read_bytes()
    framer = RTCMFramer()
    frames = feed_all(framer, data, [997])
    assert dict(framer.stats.per_type) == {
        t: 158 for t in (1005, 1077, 1087, 1097, 1127, 1230, 4072)
    }
    assert framer.stats.crc_failures == 0
    # Every byte is either in a frame or skipped NMEA/UBX.
    assert framer.stats.skipped_bytes + sum(len(f.raw) for f in frames) == len(data)
    assert b"$G" in data and b"\xb5\x62" in data  # the file really mixes NMEA and UBX


def test_unknown_type_is_raw_and_round_trips():
    for t in (1059, 1243, 1300, 4072, 4095, 999, 0):
        payload = make_payload(t, 40, t)
        raw = frame_payload(payload)
        (frame,) = iter_frames(raw)
        msg = decode(frame)
        if t in decode_mod.registry()[0]:
            continue
        assert isinstance(msg, RawMessage) and msg.msg_type == t and msg.payload == payload
        assert encode(msg) == raw
        assert msg.to_json() == {"type": t, "raw_hex": payload.hex()}


def test_decode_error_policy(monkeypatch):
    def broken(payload, ctx):
        raise IndexError("bit field 100+38 beyond 64 bits")

    decoders = dict(decode_mod.registry()[0])
    decoders[1005] = broken
    monkeypatch.setattr(decode_mod, "_REGISTRY", (decoders, decode_mod.registry()[1]))
    raw = frame_payload(EX1005)
    (frame,) = iter_frames(b"abc" + raw)
    with pytest.raises(FormatError) as exc:
        decode(frame)
    assert "1005" in str(exc.value) and exc.value.offset == 3
    msgs = list(decode_stream(raw + raw, policy=ErrorPolicy.IGNORE))
    assert [type(m) for m in msgs] == [RawMessage, RawMessage]
    assert "1005" in msgs[0].error and msgs[0].payload == EX1005
    assert encode(msgs[0]) == raw
    with pytest.raises(FormatError):
        list(decode_stream(raw, policy=ErrorPolicy.RAISE))
    dec = RTCMDecoder(policy=ErrorPolicy.LOG, source="test")
    out = dec.feed(raw[:10]) + dec.feed(raw[10:]) + dec.flush()
    assert len(out) == 1 and out[0].error
    assert dec.stats.decode_errors == 1 and dec.stats.errors_per_type == {1005: 1}
    assert dec.stats.as_dict()["messages"] == 1


def test_decode_stream_chunks_equal_whole():
    path = data_path("pyrtcm/tests/pygpsdata-NTRIP-USCL00CHL0.log")
    data = path.read_bytes()
    whole = [m.to_json() for m in decode_stream(data)]
    chunks = (data[i : i + 100] for i in range(0, len(data), 100))
    assert [m.to_json() for m in decode_stream(chunks)] == whole
    assert len(whole) == 35


def test_decode_payload_and_encode_unsupported():
    msg = decode_payload(make_payload(4072, 10))
    assert isinstance(msg, RawMessage) and msg.msg_type == 4072
    with pytest.raises(UnsupportedMessage):
        encode(object())


def test_registry_names_message_modules():
    decoders, encoders = decode_mod.registry()
    assert decode_mod.DECODERS is decoders and decode_mod.ENCODERS is encoders
    assert RawMessage in encoders
    for t in decoders:
        assert isinstance(t, int)
