"""Packing detection and expansion: gzip, unix compress, zip, bzip2, Hatanaka."""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import data_path
from vngeonet.errors import RINEXError
from vngeonet.rinex import read_obs, read_obs_bytes
from vngeonet.rinex.compress import detect, read_bytes, unpack

SMALL = Path(__file__).resolve().parents[1] / "data" / "rinex"


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.rnx", data)
    return buf.getvalue()


def _compress(data: bytes) -> bytes:
    import ncompress

    return ncompress.compress(data)


def _crx(data: bytes) -> bytes:
    import hatanaka

    return hatanaka.rnx2crx(data)


PACKERS = {"gzip": gzip.compress, "bzip2": bz2.compress, "zip": _zip, "compress": _compress, "hatanaka": _crx}


@pytest.mark.parametrize("kind", list(PACKERS))
def test_roundtrip_each_packing(kind):
    plain = (SMALL / "valid.rnx").read_bytes()
    packed = PACKERS[kind](plain)
    assert detect(packed) == kind
    _, layers = unpack(packed)
    assert layers == [kind]
    np.testing.assert_array_equal(read_obs_bytes(packed).cp_cyc, read_obs_bytes(plain).cp_cyc)


def test_nested_layers_detected_from_content(tmp_path):
    plain = (SMALL / "events.10o").read_bytes()
    p = tmp_path / "misleading_name.txt"
    p.write_bytes(gzip.compress(_crx(plain)))
    text, layers = read_bytes(p)
    assert layers == ["gzip", "hatanaka"] and text.splitlines()[0] == plain.splitlines()[0]
    assert read_obs(p).n_epochs == 3


def test_plain_detected():
    assert detect((SMALL / "valid.rnx").read_bytes()) == "plain" and detect(b"") == "plain"


@pytest.mark.parametrize("bad", [b"\x1f\x8b\x08\x00garbage", b"\x1f\x9d\x90garbage",
                                 b"PK\x03\x04garbage", b"BZh9garbage"])
def test_corrupt_layers_raise(bad):
    with pytest.raises(RINEXError, match="cannot expand"):
        unpack(bad, source="bad.gz")


def test_truncated_gzip_raises():
    data = gzip.compress((SMALL / "valid.rnx").read_bytes())
    with pytest.raises(RINEXError, match="t.gz"):
        unpack(data[: len(data) // 2], source="t.gz")


def test_real_compress_around_hatanaka():
    text, layers = read_bytes(data_path("orekit/rinex/aber0440.16d.Z"))
    assert layers == ["compress", "hatanaka"] and b"END OF HEADER" in text
