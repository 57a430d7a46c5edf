import numpy as np
import pytest

from tests.conftest import impl_param
from vngeonet import kernels


@pytest.mark.parametrize("impl", impl_param("bits"))
def test_roundtrip_random_fields(impl):
    k = kernels.get("bits", impl)
    rng = np.random.default_rng(20261123)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        widths = rng.integers(1, 39, n).astype(np.int32)
        kinds = rng.integers(0, 3, n).astype(np.uint8)
        vals = np.empty(n, dtype=np.int64)
        for i, (w, kd) in enumerate(zip(widths, kinds)):
            if kd == 0:
                vals[i] = rng.integers(0, 1 << int(w))
            elif kd == 1:
                vals[i] = rng.integers(-(1 << int(w - 1)), 1 << int(w - 1)) if w > 1 else -1
            else:
                vals[i] = rng.integers(-(1 << int(w - 1)) + 1, 1 << int(w - 1)) if w > 1 else 0
        buf = k.pack_fields(vals, widths, kinds)
        assert len(buf) == (int(widths.sum()) + 7) // 8
        got, end = k.unpack_fields(buf, 0, widths, kinds)
        assert end == int(widths.sum())
        np.testing.assert_array_equal(got, vals)


@pytest.mark.parametrize("impl", impl_param("bits"))
def test_getbit_scalar(impl):
    k = kernels.get("bits", impl)
    buf = bytes([0xD3, 0x00, 0x13, 0x3E, 0xD7])
    assert k.getbitu(buf, 0, 8) == 0xD3
    assert k.getbitu(buf, 14, 10) == 0x13
    assert k.getbitu(buf, 24, 12) == 1005
    assert k.getbits(buf, 0, 4) == -3
    with pytest.raises(IndexError):
        k.getbitu(buf, 36, 8)


@pytest.mark.parametrize("impl", impl_param("bits"))
def test_overflow_and_bounds(impl):
    k = kernels.get("bits", impl)
    with pytest.raises(OverflowError):
        k.pack_fields(np.array([8]), np.array([3], np.int32), np.array([0], np.uint8))
    with pytest.raises(OverflowError):
        k.pack_fields(np.array([4]), np.array([3], np.int32), np.array([1], np.uint8))
    with pytest.raises(IndexError):
        k.unpack_fields(b"\x00", 0, np.array([9], np.int32), np.array([0], np.uint8))
    got, end = k.unpack_fields(b"", 0, np.array([], np.int32), np.array([], np.uint8))
    assert got.shape == (0,) and end == 0


def _random_fields(rng, n):
    widths = rng.integers(0, 65, n).astype(np.int32)
    kinds = rng.integers(0, 3, n).astype(np.uint8)
    return widths, kinds


@pytest.mark.parametrize("impl", impl_param("bits"))
def test_64_bit_and_sign_magnitude_edges(impl):
    k = kernels.get("bits", impl)
    widths = np.array([64, 64, 64, 1, 1, 2, 38, 38], np.int32)
    kinds = np.array([0, 1, 2, 1, 2, 2, 1, 1], np.uint8)
    vals = np.array(
        [-1, -(1 << 63), -((1 << 63) - 1), -1, 0, -1, -(1 << 37), (1 << 37) - 1], np.int64
    )
    buf = k.pack_fields(vals, widths, kinds)
    got, end = k.unpack_fields(buf, 0, widths, kinds)
    np.testing.assert_array_equal(got, vals)
    assert end == int(widths.sum())
    # The first field is 64 one bits: an unsigned 64-bit field wraps to int64 -1.
    assert buf[:8] == b"\xff" * 8
    assert k.getbitu(buf, 0, 64) == (1 << 64) - 1
    assert k.getbits(buf, 0, 64) == -1
    with pytest.raises(OverflowError):
        k.pack_fields(np.array([-(1 << 63)]), np.array([64], np.int32), np.array([2], np.uint8))
    with pytest.raises(OverflowError):
        k.pack_fields(np.array([-1]), np.array([1], np.int32), np.array([2], np.uint8))
    # Sign-magnitude: "negative zero" reads as 0.
    got, _ = k.unpack_fields(b"\x80", 0, np.array([8], np.int32), np.array([2], np.uint8))
    assert got.tolist() == [0]


@pytest.mark.parametrize("impl", impl_param("bits"))
def test_bytes_like_inputs_and_offsets(impl):
    k = kernels.get("bits", impl)
    buf = bytes.fromhex("d300133ed00003b5964465b88637bbb352b774e1e579")
    for b in (buf, bytearray(buf), memoryview(buf), np.frombuffer(buf, np.uint8)):
        assert k.getbitu(b, 24, 12) == 1005
        got, end = k.unpack_fields(
            b, 24, np.array([12, 12, 6], np.int32), np.array([0, 0, 0], np.uint8)
        )
        assert got.tolist() == [1005, 0, 0] and end == 54
    with pytest.raises(IndexError):
        k.getbitu(buf, -1, 4)
    with pytest.raises(ValueError):
        k.getbitu(buf, 0, 65)
    with pytest.raises(ValueError):
        k.unpack_fields(buf, 0, np.array([65], np.int32), np.array([0], np.uint8))
    with pytest.raises(ValueError):
        k.unpack_fields(buf, 0, np.array([8, 8], np.int32), np.array([0], np.uint8))
    with pytest.raises(ValueError):
        k.pack_fields(np.array([1, 2]), np.array([8], np.int32), np.array([0], np.uint8))


def test_twin_and_compiled_identical():
    if kernels.compiled("bits") is None:
        pytest.skip("kernel bits not compiled")
    py, cy = kernels.get("bits", "python"), kernels.get("bits", "cython")
    rng = np.random.default_rng(99)
    for _ in range(300):
        buf = rng.integers(0, 256, int(rng.integers(0, 80)), dtype=np.uint8).tobytes()
        widths, kinds = _random_fields(rng, int(rng.integers(0, 12)))
        pos = int(rng.integers(0, 9))
        try:
            want = py.unpack_fields(buf, pos, widths, kinds)
        except IndexError:
            with pytest.raises(IndexError):
                cy.unpack_fields(buf, pos, widths, kinds)
            continue
        got = cy.unpack_fields(buf, pos, widths, kinds)
        np.testing.assert_array_equal(got[0], want[0])
        assert got[1] == want[1]
        assert cy.pack_fields(want[0], widths, kinds) == py.pack_fields(want[0], widths, kinds)
        n = int(rng.integers(0, 65))
        if pos + n <= len(buf) * 8:
            assert cy.getbitu(buf, pos, n) == py.getbitu(buf, pos, n)
            assert cy.getbits(buf, pos, n) == py.getbits(buf, pos, n)


@pytest.mark.parametrize("impl", impl_param("bits"))
def test_array_like_field_specs(impl):
    k = kernels.get("bits", impl)
    buf = bytes(range(1, 20))
    widths = np.array([7, 13, 1, 30, 11], np.int32)
    kinds = np.array([0, 1, 2, 1, 0], np.uint8)
    want, end = k.unpack_fields(buf, 5, widths, kinds)
    for w, kd in (
        (widths.astype(">i4"), kinds),
        (list(widths), list(kinds)),
        (widths.astype(np.int64), kinds.astype(np.int16)),
        (widths[::-1][::-1].copy(), kinds),
    ):
        got, e = k.unpack_fields(buf, 5, w, kd)
        assert got.dtype == np.int64 and got.tolist() == want.tolist() and e == end
        assert k.pack_fields(list(want), w, kd) == k.pack_fields(want, widths, kinds)
    strided = np.repeat(widths, 2)[::2]
    assert k.unpack_fields(buf, 5, strided, kinds)[0].tolist() == want.tolist()
