"""legacy kernel (1001-1004, 1009-1012): compiled and numpy twin give identical results (exactly)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import impl_param
from tests.kernels.test_msm import _same, build, real_frames
from vngeonet import kernels

REF = kernels.python("legacy")

LEGACY_TYPES = {1001, 1002, 1003, 1004, 1009, 1010, 1011, 1012}


def _legacy_args(payload: bytes):
    from vngeonet.rtcm.legacy import SPECS

    return SPECS[(payload[0] << 4) | (payload[1] >> 4)].kernel_args(payload)


def _random_legacy(rng, msg_type: int, nsat: int) -> bytes:
    from vngeonet.rtcm.legacy import GLO_HEAD, GPS_HEAD, RECORDS

    head = GPS_HEAD if msg_type <= 1004 else GLO_HEAD
    fields = [(msg_type, 12)] + [(int(rng.integers(0, 1 << w)), w) for w in head[1:4]] + [(nsat, 5)]
    fields += [(int(rng.integers(0, 1 << w)), w) for w in head[5:]]
    for _ in range(nsat):
        fields += [(int(rng.integers(0, 1 << f[1])), f[1]) for f in RECORDS[msg_type]]
    return build(fields)


@pytest.mark.parametrize("impl", impl_param("legacy"))
def test_legacy_real_and_random_identical(impl):
    k = kernels.get("legacy", impl)
    payloads = [f[2] for f in real_frames(LEGACY_TYPES)]
    assert len(payloads) > 350
    rng = np.random.default_rng(99)
    payloads += [
        _random_legacy(rng, int(t), int(rng.integers(0, 32)))
        for t in rng.choice(sorted(LEGACY_TYPES), 200)
    ]
    for p in payloads:
        a, b = REF.unpack_legacy(*_legacy_args(p)), k.unpack_legacy(*_legacy_args(p))
        _same(a, b)


@pytest.mark.parametrize("impl", impl_param("legacy"))
def test_legacy_truncated_and_bad_layout(impl):
    k = kernels.get("legacy", impl)
    p = _random_legacy(np.random.default_rng(5), 1004, 5)
    for n in (3, 8, len(p) - 2):
        with pytest.raises(ValueError):
            k.unpack_legacy(*_legacy_args(p[:n]))
    args = list(_legacy_args(p))
    args[4] = args[4][:5]
    with pytest.raises(ValueError):
        k.unpack_legacy(*args)
    np.testing.assert_array_equal(k.LOCK_LEGACY_S, REF.LOCK_LEGACY_S)
    assert tuple(k.LEGACY_COLS) == tuple(REF.LEGACY_COLS)
