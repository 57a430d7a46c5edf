"""CRC-24Q and frame scanner kernel: twin and compiled module agree exactly."""

import numpy as np
import pytest

from tests.conftest import impl_param
from vngeonet import kernels


def crc_bitwise(data: bytes) -> int:
    """Bit-at-a-time CRC-24Q (poly 0x1864CFB, init 0), independent of the table code."""
    crc = 0
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def frame(payload: bytes, reserved: int = 0) -> bytes:
    head = bytes((0xD3, (reserved << 2) | (len(payload) >> 8), len(payload) & 0xFF)) + payload
    return head + crc_bitwise(head).to_bytes(3, "big")


def stream(rng, n_frames: int) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Random frames separated by random garbage; returns bytes and (offset, length, type)."""
    out = bytearray()
    truth = []
    for _ in range(n_frames):
        out += rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8).tobytes()
        n = int(rng.integers(2, 300))
        payload = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        f = frame(payload)
        truth.append((len(out), len(f), (payload[0] << 4) | (payload[1] >> 4)))
        out += f
    return bytes(out), truth


@pytest.mark.parametrize("impl", impl_param("crc24q"))
def test_check_value_and_bitwise_reference(impl):
    k = kernels.get("crc24q", impl)
    # CRC-24Q is the catalogued CRC-24/LTE-A: check value of "123456789" is 0xCDE703.
    assert k.crc24q(b"123456789") == 0xCDE703
    assert k.crc24q(b"") == 0
    rng = np.random.default_rng(24)
    for n in (1, 2, 3, 17, 255, 1029, 5000):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert k.crc24q(data) == crc_bitwise(data)
        assert k.crc24q(bytearray(data)) == crc_bitwise(data)


@pytest.mark.parametrize("impl", impl_param("crc24q"))
def test_frame_residue_zero(impl):
    k = kernels.get("crc24q", impl)
    f = frame(bytes.fromhex("3ed00003b5964465b88637bbb352b774e1e579"))
    assert f[-3:].hex() == "4c9492"  # 1005 example frame
    assert k.crc24q(f) == 0


@pytest.mark.parametrize("impl", impl_param("crc24q"))
def test_scan_finds_frames_in_garbage(impl):
    k = kernels.get("crc24q", impl)
    rng = np.random.default_rng(20261123)
    data, truth = stream(rng, 60)
    offs, lens, types, _crc_fail, skipped, consumed = k.scan_frames(data, True)
    assert offs.dtype == np.int64 and lens.dtype == np.int32 and types.dtype == np.int32
    got = list(zip(offs.tolist(), lens.tolist(), types.tolist()))
    # Garbage may by chance contain a valid frame only with probability ~2^-24 per 0xD3.
    assert got == truth
    assert consumed == len(data)
    assert skipped == len(data) - sum(t[1] for t in truth)


def test_twin_and_compiled_identical():
    if kernels.compiled("crc24q") is None:
        pytest.skip("kernel crc24q not compiled")
    py, cy = kernels.get("crc24q", "python"), kernels.get("crc24q", "cython")
    rng = np.random.default_rng(7)
    for trial in range(30):
        data, _ = stream(rng, int(rng.integers(0, 12)))
        data = bytearray(data)
        for _ in range(int(rng.integers(0, 6))):  # corrupt a few bytes
            if data:
                data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        cut = int(rng.integers(0, len(data) + 1))
        for buf in (bytes(data), bytes(data[:cut])):
            for final in (False, True):
                a, b = py.scan_frames(buf, final), cy.scan_frames(buf, final)
                for x, y in zip(a[:3], b[:3]):
                    np.testing.assert_array_equal(x, y)
                assert a[3:] == b[3:]


@pytest.mark.parametrize("impl", impl_param("crc24q"))
def test_scan_edge_cases(impl):
    k = kernels.get("crc24q", impl)
    for buf in (b"", b"\xd3", b"\xd3\x00", b"\xd3\x00\x00", b"\xd3\x00\x00\x00\x00"):
        offs, _lens, _types, _crc_fail, skipped, consumed = k.scan_frames(buf, False)
        assert len(offs) == 0 and consumed == 0 and skipped == 0
        offs, lens, types, _crc_fail, skipped, consumed = k.scan_frames(buf, True)
        assert len(offs) == 0 and consumed == len(buf) and skipped == len(buf)
    # Empty and one-byte payloads are frames too (message number 0 / 8 bits << 4).
    data = frame(b"") + frame(b"\xab")
    offs, lens, types, *_ = k.scan_frames(data, True)
    assert lens.tolist() == [6, 7] and types.tolist() == [0, 0xAB0]


@pytest.mark.parametrize("impl", impl_param("crc24q"))
def test_scan_undecided_tail_is_bounded(impl):
    k = kernels.get("crc24q", impl)
    good = frame(bytes(range(2, 100)))
    # A false candidate announcing 1023 bytes, with a real frame inside it.
    data = good + b"\xd3\x03\xff" + good + b"\x00" * 20
    offs, _lens, _types, _crc_fail, _skipped, consumed = k.scan_frames(data, False)
    assert offs.tolist() == [0] and consumed == len(good)
    assert len(data) - consumed < 1029
    offs, _lens, _types, crc_fail, skipped, consumed = k.scan_frames(data, True)
    assert offs.tolist() == [0, len(good) + 3]
    assert skipped == 23 and crc_fail == 0


@pytest.mark.parametrize("impl", impl_param("crc24q"))
def test_crc_failure_counting(impl):
    k = kernels.get("crc24q", impl)
    bad = bytearray(frame(bytes(range(3, 60))))
    bad[10] ^= 0x01
    bad_reserved = bytearray(frame(bytes(range(3, 60)), reserved=5))
    bad_reserved[10] ^= 0x01
    good_reserved = frame(bytes(range(3, 60)), reserved=5)
    offs, _lens, _types, crc_fail, skipped, _consumed = k.scan_frames(
        bytes(bad) + bytes(bad_reserved) + good_reserved, True
    )
    # Only a plausible header (reserved bits zero) counts as a CRC failure; a valid CRC wins.
    assert crc_fail == 1
    assert offs.tolist() == [2 * len(bad)]
    assert skipped == 2 * len(bad)


@pytest.mark.parametrize("impl", impl_param("crc24q"))
def test_make_frames(impl):
    from vngeonet.model import Frame

    k = kernels.get("crc24q", impl)
    rng = np.random.default_rng(3)
    data, truth = stream(rng, 10)
    offs, lens, types, *_ = k.scan_frames(data, True)
    frames = k.make_frames(data, offs, lens, types, 1000, Frame)
    assert all(type(f) is Frame for f in frames)
    assert [(f.offset - 1000, len(f.raw), f.msg_type) for f in frames] == truth
    for f in frames:
        assert f.raw == data[f.offset - 1000 : f.offset - 1000 + len(f.raw)]
        assert f.payload == f.raw[3:-3] and isinstance(f.payload, bytes)
    assert k.make_frames(b"", offs[:0], lens[:0], types[:0], 0, Frame) == []
    with pytest.raises(ValueError):
        k.make_frames(data[:10], offs, lens, types, 0, Frame)
    with pytest.raises(ValueError):
        k.make_frames(data, offs, lens[:1], types, 0, Frame)
