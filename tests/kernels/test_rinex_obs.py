"""rinex_obs kernel: the compiled parser and its Python twin give identical output and errors.

All outputs are exact (integers, and floats that both sides compute as
mantissa / 10**decimals, the correctly rounded value of the text), so the
comparison is exact equality, NaN equal to NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import data_path, impl_param
from vngeonet import kernels
from vngeonet.errors import RINEXError
from vngeonet.rinex.compress import unpack
from vngeonet.rinex.obs import _read_header, build_tables

SMALL = Path(__file__).resolve().parents[1] / "data" / "rinex"


def _args(text: bytes):
    hdr, pos = _read_header(text, "t")
    tb = build_tables(hdr)
    return [text, pos, len(text), hdr.n_lines + 1, 2 if hdr.major == 2 else 3,
            tb.sys_lut, tb.ntypes, tb.trow, tb.tkind]


def _run(impl: str, args):
    try:
        return kernels.get("rinex_obs", impl).parse_body(*args)
    except RINEXError as err:
        return ("error", err.line, str(err))


def _is_err(res) -> bool:
    return isinstance(res[0], str)


def _same(a, b):
    if _is_err(a) or _is_err(b):
        assert a == b
        return
    assert len(a) == len(b) == 17
    for k, (x, y) in enumerate(zip(a, b)):
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), k


def _both(args):
    ref = _run("python", args)
    if kernels.compiled("rinex_obs") is not None:
        _same(ref, _run("cython", args))
    return ref


@pytest.mark.parametrize("impl", impl_param("rinex_obs"))
def test_valid_file_rows(impl):
    res = _run(impl, _args((SMALL / "valid.rnx").read_bytes()))
    ep_t, ep_flag, ep_clk, r_ep, r_sat, _, pr, cp, dop, cn0, lli, ssi = res[:12]
    t0 = 2312 * 604800.0 + 432000.0  # 2024-05-03 00:00:00, GPS week 2312 day 5
    assert ep_t.tolist() == [t0, t0 + 30.0]
    assert r_ep.tolist() == [0, 0, 0, 1, 1, 1]
    # file order G01 R02 C05; rows come sorted by satellite within the epoch
    assert [chr(c // 100) + f"{c % 100:02d}" for c in r_sat[:3]] == ["C05", "G01", "R02"]
    assert pr[1] == 20000000.125 and cp[1] == 105000000.123 and dop[1] == -1000.5 and cn0[1] == 45.0
    assert lli[1] == 1 and ssi[1] == 5 and np.isnan(pr[0]) and ep_flag.tolist() == [0, 0]
    assert np.isnan(ep_clk).all()


@pytest.mark.parametrize("name", ["valid.rnx", "events.10o"])
def test_small_files_identical(name):
    _both(_args((SMALL / name).read_bytes()))


@pytest.mark.parametrize("rel", [
    "nav-solutions-data/OBS/V2/delf0010.21o",
    "nav-solutions-data/CRNX/V3/KMS300DNK_R_20221591000_01H_30S_MO.crx",
    "rtklib/rinex/07590920.05o",
    "orekit/rinex/aber0440.16d.Z",
    "nav-solutions-data/OBS/V2/rovn0010.21o",
])
def test_real_files_identical(rel):
    text, _ = unpack(data_path(rel).read_bytes())
    _both(_args(text))


@pytest.mark.parametrize("name", ["valid.rnx", "events.10o"])
def test_fuzzed_bodies_identical(name):
    """Seeded random corruption of the body: same rows or the same error (line and text)."""
    rng = np.random.default_rng(20261123)
    text = (SMALL / name).read_bytes()
    args = _args(text)
    pos = args[1]
    alphabet = np.frombuffer(b" -.0123456789a>\n\rG", dtype=np.uint8)
    n_err = 0
    for _ in range(400):
        buf = bytearray(text)
        for _ in range(int(rng.integers(1, 4))):
            buf[int(rng.integers(pos, len(buf)))] = int(rng.choice(alphabet))
        if rng.random() < 0.2:
            buf = buf[: int(rng.integers(pos, len(buf)))]
        res = _both([bytes(buf), pos, len(buf)] + args[3:])
        n_err += _is_err(res)
    assert 0 < n_err < 400


@pytest.mark.parametrize("body", [b"", b"\n\n   \n", b"   "])
def test_empty_bodies(body):
    text = (SMALL / "valid.rnx").read_bytes()
    args = _args(text)
    res = _both([text[: args[1]] + body, args[1], args[1] + len(body)] + args[3:])
    assert all(len(x) == 0 for x in res)


@pytest.mark.parametrize("field,value", [
    ("  -.5", -0.5), ("1.", 1.0), ("-0.000", -0.0), ("00012.500", 12.5),
    ("123456789.123", 123456789.123), ("0.1", 0.1), ("99999999.999", 99999999.999),
])
def test_number_parsing_equals_float(field, value):
    text = (SMALL / "valid.rnx").read_bytes()
    new = text.replace(b"  20000000.125", field.rjust(14).encode(), 1)
    res = _both(_args(new))
    assert res[6][1] == value == float(field) and str(res[6][1]) == str(value)  # row 1 = G01


@pytest.mark.parametrize("field", ["1.2.3", "--1", "-", ".", "1 2", "1e5", "+1", "1-"])
def test_bad_numbers_rejected(field):
    text = (SMALL / "valid.rnx").read_bytes()
    new = text.replace(b"  20000000.125", field.rjust(14).encode(), 1)
    res = _both(_args(new))
    assert _is_err(res) and res[1] == 20 and "bad number" in res[2]
