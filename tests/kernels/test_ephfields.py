"""The ephfields kernel: compiled and pure-Python twins against the bits kernel and each other."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from tests.conftest import impl_param
from vngeonet import kernels
from vngeonet.gnss.time import GPSTime
from vngeonet.model import KeplerEphemeris


def _random_layout(rng, n):
    widths = rng.integers(0, 65, n).astype(np.int32)
    kinds = rng.integers(0, 3, n).astype(np.uint8)
    gather = rng.integers(-1, n, int(rng.integers(0, 2 * n + 1))).tolist()
    scales = (2.0 ** rng.integers(-66, 5, len(gather)) * rng.choice([1.0, math.pi, 1e3, 0.1],
                                                                     len(gather))).tolist()
    picks = rng.integers(0, n, int(rng.integers(0, 2 * n + 1))).tolist() if n else []
    return widths, kinds, gather, scales, picks


def _same(a, b):
    """Exact equality of two unpack results, NaN == NaN, and of their types."""
    va, ia, ra = a
    vb, ib, rb = b
    assert va.dtype == vb.dtype == np.int64 and va.tolist() == vb.tolist()
    assert ia == ib and all(type(x) is int for x in ia + ib)
    assert type(ra) is type(rb) is tuple and len(ra) == len(rb)
    for x, y in zip(ra, rb):
        assert type(x) is type(y) is float
        assert (math.isnan(x) and math.isnan(y)) or x == y


@pytest.mark.parametrize("impl", impl_param("ephfields"))
def test_unpack_equals_bits_kernel_then_scale(impl):
    k = kernels.get("ephfields", impl)
    bits = kernels.get("bits", "python")
    rng = np.random.default_rng(20261123)
    for _ in range(300):
        n = int(rng.integers(0, 40))
        widths, kinds, gather, scales, picks = _random_layout(rng, n)
        total = int(widths.sum())
        pos = int(rng.integers(0, 24))
        buf = rng.integers(0, 256, (pos + total + 7) // 8 + int(rng.integers(0, 3)),
                           dtype=np.uint8).tobytes()
        plan = k.FieldPlan(widths, kinds, gather, scales, picks)
        assert (plan.n_fields, plan.n_reals, plan.n_ints, plan.nbits) == (
            n, len(gather), len(picks), total)
        vals, ints, reals = plan.unpack(buf, pos)
        want, _ = bits.unpack_fields(buf, pos, widths, kinds)
        assert vals.tolist() == want.tolist()
        assert ints == [int(want[i]) for i in picks]
        assert not vals.flags.writeable
        for g, s, x in zip(gather, scales, reals):
            if g < 0:
                assert math.isnan(x)
            else:
                assert x == float(want[g]) * s  # one IEEE multiply, as numpy does it
        # bytes-likes read the same as bytes
        _same(plan.unpack(bytearray(buf), pos), (vals, ints, reals))
        _same(plan.unpack(memoryview(buf), pos), (vals, ints, reals))


def test_backends_identical():
    if kernels.compiled("ephfields") is None:
        pytest.skip("kernel ephfields not compiled")
    py, cy = kernels.get("ephfields", "python"), kernels.get("ephfields", "cython")
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 40))
        layout = _random_layout(rng, n)
        total = int(layout[0].sum())
        buf = rng.integers(0, 256, (total + 7) // 8 + 1, dtype=np.uint8).tobytes()
        _same(py.FieldPlan(*layout).unpack(buf, 3), cy.FieldPlan(*layout).unpack(buf, 3))


@pytest.mark.parametrize("impl", impl_param("ephfields"))
def test_unpack_kinds_and_edges(impl):
    k = kernels.get("ephfields", impl)
    ones = b"\xff" * 9
    plan = k.FieldPlan([1, 1, 1, 0, 64], [0, 1, 2, 1, 0], [0, 1, 2, 3, 4], [1, 1, 1, 1, 1],
                       range(5))
    _, ints, reals = plan.unpack(ones, 0)
    assert ints == [1, -1, 0, 0, -1] and reals == (1.0, -1.0, 0.0, 0.0, -1.0)
    plan = k.FieldPlan([8, 5, 38], [1, 2, 1], [2, 1, 0], [2.0**-4, 1e3, 0.5], [0, 1, 2, 1])
    buf = bytes([0x80, 0b10011_000]) + b"\x00" * 4 + b"\x80"
    _, ints, reals = plan.unpack(buf, 0)
    assert ints == [-128, -3, 4, -3] and reals == (0.25, -3e3, -64.0)  # bit 48 = 2**2 of field 3


@pytest.mark.parametrize("impl", impl_param("ephfields"))
def test_unpack_bounds_and_bad_plans(impl):
    k = kernels.get("ephfields", impl)
    plan = k.FieldPlan([12, 12], [0, 0], [], [], [1, 0])
    assert plan.unpack(b"\x12\x34\x56", 0)[1] == [0x456, 0x123]
    for buf, pos in ((b"\x12\x34", 0), (b"\x12\x34\x56", 1), (b"\x12\x34\x56", -1), (b"", 0)):
        with pytest.raises(IndexError):
            plan.unpack(buf, pos)
    empty = k.FieldPlan([], [], [-1], [2.0], [])
    vals, ints, reals = empty.unpack(b"", 0)
    assert vals.shape == (0,) and ints == [] and math.isnan(reals[0])
    for args in (([65], [0], [], [], []), ([-1], [0], [], [], []), ([8], [3], [], [], []),
                 ([8], [0, 0], [], [], []), ([8], [0], [1], [1.0], []),
                 ([8], [0], [-2], [1.0], []), ([8], [0], [0], [], []), ([8], [0], [], [], [1]),
                 ([8], [0], [], [], [-1])):
        with pytest.raises(ValueError):
            k.FieldPlan(*args)


@pytest.mark.parametrize("impl", impl_param("ephfields"))
def test_slot_maker_equals_dataclass_init(impl):
    k = kernels.get("ephfields", impl)
    names = [f.name for f in dataclasses.fields(KeplerEphemeris)]
    values = ("G07", GPSTime(2312, 7200.0), GPSTime(2312, 7200.0), 2312, 7200.0, 7200.0,
              5153.6, 0.0123, 0.95, -2.1, 0.7, 1.3, 4.5e-9, -3.2e-10, -8.1e-9, 1.1e-6, 7.5e-6,
              230.0, -45.0, 1.2e-7, -8.9e-8, 1.5e-4, -2.3e-12, 0.0, -1.1e-8, math.nan, 77, 77,
              0, 2.0, 4.0, "LNAV", {"napa": True})
    maker = k.SlotMaker(KeplerEphemeris, names)
    assert maker.cls is KeplerEphemeris and maker.names == tuple(names)
    fast = maker.make(values)
    ref = KeplerEphemeris(*values)
    assert type(fast) is KeplerEphemeris and fast == ref and hash(fast) == hash(ref)
    assert [getattr(fast, n) for n in names][:25] == list(values)[:25]
    assert fast.extra is values[-1]  # the very objects given, no copies
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.sat = "G08"
    t = k.SlotMaker(GPSTime, ("week", "tow_s")).make((2312, 1.5))
    assert t == GPSTime(2312, 1.5) and t < GPSTime(2312, 2.0)


@pytest.mark.parametrize("impl", impl_param("ephfields"))
def test_slot_maker_errors(impl):
    k = kernels.get("ephfields", impl)
    maker = k.SlotMaker(GPSTime, ("week", "tow_s"))
    with pytest.raises(ValueError):
        maker.make((1,))
    with pytest.raises(TypeError):
        maker.make([1, 2.0])
    with pytest.raises(TypeError):
        k.SlotMaker(GPSTime, ("week", "seconds"))  # a property, not a slot
    with pytest.raises(TypeError):
        k.SlotMaker(GPSTime(1, 0.0), ("week",))

    class OwnNew:
        __slots__ = ("x",)

        def __new__(cls):
            return super().__new__(cls)

    with pytest.raises(TypeError):
        k.SlotMaker(OwnNew, ("x",))
