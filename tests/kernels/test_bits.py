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
