"""Property tests of the framer: random bytes, truncations, bit flips, absurd lengths.

Properties: the framer never raises; it never holds back a full frame's worth
of undecided bytes (memory bound); chunking never changes the result; and a
valid frame after any garbage is always found.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.rtcm.test_framer import make_payload
from vngeonet.rtcm.framer import MAX_FRAME, RTCMFramer, frame_payload, iter_frames

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

payload_len = st.integers(min_value=2, max_value=1023)
msg_types = st.sampled_from([1005, 1077, 1087, 1097, 1127, 1230, 4072, 1019])


@st.composite
def frames(draw):
    t = draw(msg_types)
    n = draw(payload_len)
    return frame_payload(make_payload(t, n, draw(st.integers(0, 2**32 - 1))))


@st.composite
def garbage(draw):
    """Random bytes, a truncated frame, a bit-flipped frame, or an absurd header."""
    kind = draw(st.sampled_from(["random", "truncated", "flipped", "absurd", "preambles"]))
    if kind == "random":
        return draw(st.binary(max_size=3000))
    if kind == "preambles":
        return b"\xd3" * draw(st.integers(1, 50)) + draw(st.binary(max_size=50))
    f = bytearray(draw(frames()))
    if kind == "truncated":
        return bytes(f[: draw(st.integers(0, len(f) - 1))])
    if kind == "flipped":
        for _ in range(draw(st.integers(1, 4))):
            bit = draw(st.integers(0, len(f) * 8 - 1))
            f[bit >> 3] ^= 0x80 >> (bit & 7)
        return bytes(f)
    return bytes((0xD3, draw(st.integers(0, 255)), draw(st.integers(0, 255)))) + draw(
        st.binary(max_size=200)
    )


def feed_in_chunks(data: bytes, cuts: list[int]):
    framer = RTCMFramer()
    out = []
    prev = 0
    for c in sorted({min(c, len(data)) for c in cuts}) + [len(data)]:
        out += framer.feed(data[prev:c])
        assert framer.pending < MAX_FRAME
        prev = c
    out += framer.flush()
    assert framer.pending == 0
    return framer, out


@SETTINGS
@given(st.binary(max_size=5000), st.lists(st.integers(0, 5000), max_size=20))
def test_random_bytes_never_raise_and_chunking_is_invisible(data, cuts):
    framer, got = feed_in_chunks(data, cuts)
    assert got == list(iter_frames(data))
    st_ = framer.stats
    assert st_.skipped_bytes + sum(len(f.raw) for f in got) == len(data)
    assert st_.bytes_in == len(data)


@SETTINGS
@given(
    st.lists(garbage(), min_size=1, max_size=4),
    frames(),
    st.lists(st.integers(0, 8000), max_size=10),
)
def test_valid_frame_after_garbage_is_found(junk, good, cuts):
    prefix = b"".join(junk)
    data = prefix + good + b"\x00" * 3
    _framer, got = feed_in_chunks(data, cuts)
    assert any(f.offset == len(prefix) and f.raw == good for f in got)


@SETTINGS
@given(st.lists(frames(), min_size=2, max_size=6), st.data())
def test_bit_flip_loses_only_the_hit_frame(fs, data):
    stream = bytearray(b"".join(fs))
    starts = np.cumsum([0] + [len(f) for f in fs])
    hit = data.draw(st.integers(0, len(fs) - 1))
    bit = data.draw(st.integers(int(starts[hit]) * 8, int(starts[hit + 1]) * 8 - 1))
    stream[bit >> 3] ^= 0x80 >> (bit & 7)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    framer, got = feed_in_chunks(bytes(stream), cuts)
    want = [(int(starts[i]), fs[i]) for i in range(len(fs)) if i != hit]
    assert [(f.offset, f.raw) for f in got] == want
    assert framer.stats.frames == len(fs) - 1


@SETTINGS
@given(st.integers(0, 1023), st.integers(0, 63), st.binary(max_size=1100))
def test_absurd_lengths_bounded(length, reserved, tail):
    header = bytes((0xD3, (reserved << 2) | (length >> 8), length & 0xFF))
    framer = RTCMFramer()
    for i in range(0, 3 * MAX_FRAME, 97):
        framer.feed(header + tail)
        assert framer.pending < MAX_FRAME
    framer.flush()
    assert framer.pending == 0
