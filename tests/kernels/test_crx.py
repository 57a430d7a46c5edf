"""crx kernel: Compact RINEX expansion, compiled and Python twin, against RNXCMP crx2rnx.

Outputs are bytes, compared for exact equality (with each other and with the
``hatanaka`` package, which runs RNXCMP ``crx2rnx``); errors must match too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import data_path, impl_param
from vngeonet import kernels
from vngeonet.errors import RINEXError

SMALL = Path(__file__).resolve().parents[1] / "data" / "rinex"


CRX_FILES = [
    "nav-solutions-data/CRNX/V1/delf0010.21d",  # CRX 1, RINEX 2.11
    "nav-solutions-data/CRNX/V1/AJAC3550.21D",
    "nav-solutions-data/CRNX/V3/VLNS0010.22D",  # CRX 3, RINEX 3.02
    "nav-solutions-data/CRNX/V3/KMS300DNK_R_20221591000_01H_30S_MO.crx",  # CRX 3, RINEX 4.00
    "orekit/rinex/aber0440.16d.Z",  # CRX 1 with event records
    "georinex/P43300USA_R_20190012056_17M_15S_MO.crx",
]


def _crx_bytes(rel: str) -> bytes:
    from vngeonet.rinex.compress import _UNPACK, detect

    raw = data_path(rel).read_bytes()
    while detect(raw) != "hatanaka":
        raw = _UNPACK[detect(raw)](raw)
    return raw


def _crx_run(impl: str, data: bytes):
    try:
        return kernels.get("crx", impl).crx_to_rnx(data)
    except RINEXError as err:
        return ("error", err.line, str(err))


@pytest.mark.parametrize("impl", impl_param("crx"))
@pytest.mark.parametrize("rel", CRX_FILES)
def test_crx_equals_rnxcmp(impl, rel):
    """Byte-identical to RNXCMP crx2rnx (the hatanaka package) on real files."""
    import hatanaka

    data = _crx_bytes(rel)
    assert kernels.get("crx", impl).crx_to_rnx(data) == hatanaka.crx2rnx(data)


@pytest.mark.parametrize("impl", impl_param("crx"))
def test_crx_own_roundtrip(impl):
    """rnx2crx of the small self-made files expands back to the same text."""
    import hatanaka

    for name in ("valid.rnx", "events.10o"):
        plain = (SMALL / name).read_bytes()
        crx = hatanaka.rnx2crx(plain)
        assert kernels.get("crx", impl).crx_to_rnx(crx) == hatanaka.crx2rnx(crx)


@pytest.mark.parametrize("rel", ["nav-solutions-data/CRNX/V1/AJAC3550.21D",
                                 "nav-solutions-data/CRNX/V3/VLNS0010.22D"])
def test_crx_fuzz_identical(rel):
    """Seeded corruption of CRX bytes: both implementations give the same text or the same error."""
    if kernels.compiled("crx") is None:
        pytest.skip("kernel crx not compiled")
    rng = np.random.default_rng(7)
    data = _crx_bytes(rel)
    start = data.index(b"END OF HEADER")
    alphabet = np.frombuffer(b" &-0123456789>\n\x1aG", dtype=np.uint8)
    n_err = 0
    for _ in range(300):
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            buf[int(rng.integers(start, len(buf)))] = int(rng.choice(alphabet))
        if rng.random() < 0.2:
            buf = buf[: int(rng.integers(start, len(buf)))]
        a, b = _crx_run("python", bytes(buf)), _crx_run("cython", bytes(buf))
        assert a == b
        n_err += isinstance(a, tuple)
    assert 0 < n_err < 300


@pytest.mark.parametrize("impl", impl_param("crx"))
@pytest.mark.parametrize("bad,line", [(b"", 1), (b"1.0   garbage", 1)])
def test_crx_not_crx(impl, bad, line):
    with pytest.raises(RINEXError, match="not a Compact RINEX") as info:
        kernels.get("crx", impl).crx_to_rnx(bad)
    assert info.value.line == line
