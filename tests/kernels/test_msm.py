"""msm kernel: compiled and numpy twin give identical results (integer and float arrays exactly)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import DATA, impl_param
from vngeonet import kernels
from vngeonet.rtcm.msm import SYSTEM_BASE, TABLES

REF = kernels.python("msm")
MSM_TYPES = {b + lv for b in SYSTEM_BASE for lv in range(1, 8)}


def scan_frames(data: bytes):
    """(msg_type, payload, raw) of every CRC-valid RTCM 3 frame: an independent test-side scanner.

    Kept separate from vngeonet.rtcm.framer so that these tests check the
    MSM code alone; CRC-24Q comes from the oracle package (pyrtcm).
    """
    from pyrtcm.rtcmhelpers import calc_crc24q

    i, n = 0, len(data)
    while i + 6 <= n:
        if data[i] != 0xD3 or data[i + 1] & 0xFC:
            i += 1
            continue
        length = ((data[i + 1] & 3) << 8) | data[i + 2]
        raw = data[i : i + 6 + length]
        if len(raw) == 6 + length and length >= 2 and calc_crc24q(raw) == 0:
            payload = raw[3:-3]
            yield (payload[0] << 4) | (payload[1] >> 4), payload, raw
            i += 6 + length
        else:
            i += 1


def real_files() -> list[str]:
    """Catalogued RTCM 3 captures (relative paths); skips when the data is absent."""
    cat = DATA / "catalog.jsonl"
    if not cat.exists():
        pytest.skip(f"real data catalog not found under VNGEONET_DATA={DATA}")
    recs = [json.loads(line) for line in cat.read_text().splitlines()]
    return [r["file"] for r in recs if "rtcm3" in r and "RTCM3" in r.get("format", "")]


def real_frames(types) -> list[tuple[str, int, bytes, bytes]]:
    """(file, msg_type, payload, raw) of every frame of the given types in every real capture."""
    out = []
    for rel in real_files():
        for t, payload, raw in scan_frames((DATA / rel).read_bytes()):
            if t in types:
                out.append((rel, t, payload, raw))
    return out


def _corpus() -> list[bytes]:
    return [f[2] for f in real_frames(MSM_TYPES)]


def _args(payload: bytes, chan=None):
    t = (payload[0] << 4) | (payload[1] >> 4)
    tb = TABLES[SYSTEM_BASE[t - t % 10]]
    glo = np.full(65, -128, np.int8) if chan is None else chan
    return (payload, t % 10, tb.f0_hz, tb.df_hz, glo, tb.sat_names, tb.sig_names)


def _same(a, b):
    assert len(a) == len(b)
    assert a[0] == b[0]
    for x, y in zip(a[1:], b[1:]):
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape
            if x.dtype.kind == "f":
                np.testing.assert_array_equal(x, y)  # NaN-aware, exact
            else:
                assert np.array_equal(x, y)
        else:
            assert x == y


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_real_corpus_identical_and_roundtrip(impl):
    k = kernels.get("msm", impl)
    payloads = _corpus()
    assert len(payloads) > 1000
    for p in payloads:
        chan_a, chan_b = np.full(65, -128, np.int8), np.full(65, -128, np.int8)
        a = REF.unpack_msm(*_args(p, chan_a))
        b = k.unpack_msm(*_args(p, chan_b))
        _same(a, b)
        assert np.array_equal(chan_a, chan_b)
        tail_n = a[9]
        assert a[8] == int.from_bytes(p, "big") & ((1 << tail_n) - 1)
        assert k.pack_msm(a[0][0] % 10, a[0], a[2], a[3], a[8], tail_n) == p


def _random_msm(rng, level: int, nsat: int, nsig: int, fill: float) -> bytes:
    """A syntactically valid MSM payload with random field contents."""
    sat_mask = 0
    for i in rng.choice(64, nsat, replace=False):
        sat_mask |= 1 << int(i)
    sig_mask = 0
    for i in rng.choice(32, nsig, replace=False):
        sig_mask |= 1 << int(i)
    x = nsat * nsig
    cells = [int(v) for v in (rng.random(x) < fill)]
    ncell = sum(cells)
    msg_type = 1070 + level
    bits = f"{msg_type:012b}" + "".join(str(int(v)) for v in rng.integers(0, 2, 12 + 30 + 19))
    bits += f"{sat_mask:064b}{sig_mask:032b}" + "".join(map(str, cells))
    from vngeonet.kernels.msm import CELL_BITS, SAT_BITS

    bits += "".join(
        str(int(v)) for v in rng.integers(0, 2, nsat * SAT_BITS[level] + ncell * CELL_BITS[level])
    )
    bits += "0" * ((-len(bits)) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_random_payloads(impl):
    k = kernels.get("msm", impl)
    rng = np.random.default_rng(20240503)
    for _ in range(300):
        level = int(rng.integers(1, 8))
        nsat, nsig = int(rng.integers(0, 20)), int(rng.integers(0, 9))
        p = _random_msm(rng, level, nsat, nsig, float(rng.random()))
        a, b = REF.unpack_msm(*_args(p)), k.unpack_msm(*_args(p))
        _same(a, b)
        assert k.pack_msm(level, a[0], a[2], a[3], 0, a[9]) == p


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_big_cell_mask(impl):
    """nsat*nsig > 64 (beyond the standard's limit) still unpacks identically."""
    k = kernels.get("msm", impl)
    rng = np.random.default_rng(7)
    p = _random_msm(rng, 7, 12, 8, 0.5)
    a, b = REF.unpack_msm(*_args(p)), k.unpack_msm(*_args(p))
    _same(a, b)
    assert a[0][12].bit_length() <= 96


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_empty_masks(impl):
    k = kernels.get("msm", impl)
    p = _random_msm(np.random.default_rng(1), 4, 0, 0, 0.0)
    out = k.unpack_msm(*_args(p))
    assert out[1].shape == (0,) and out[3].shape == (0, 6) and out[4].shape == (5, 0)
    assert out[9] == len(p) * 8 - 169


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_truncated_raises_value_error(impl):
    k = kernels.get("msm", impl)
    p = _random_msm(np.random.default_rng(2), 7, 10, 4, 1.0)
    for n in (0, 5, 21, 25, len(p) - 1):
        with pytest.raises(ValueError):
            k.unpack_msm(*_args(p[:n] if n >= 2 else p[:2] + b"", None))


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_bad_arguments(impl):
    k = kernels.get("msm", impl)
    p = _random_msm(np.random.default_rng(3), 7, 2, 2, 1.0)
    args = list(_args(p))
    args[1] = 8
    with pytest.raises(ValueError):
        k.unpack_msm(*args)
    a = REF.unpack_msm(*_args(p))
    with pytest.raises(ValueError):
        k.pack_msm(0, a[0], a[2], a[3], 0, -1)
    with pytest.raises(ValueError):
        k.pack_msm(7, a[0], a[2][:1], a[3], 0, -1)
    bad = a[3].copy()
    bad[0, 0] = 1 << 20  # DF405 is 20 bits signed
    with pytest.raises(OverflowError):
        k.pack_msm(7, a[0], a[2], bad, 0, -1)
    bad = a[2].copy()
    bad[0, 0] = 256  # DF397 is 8 bits
    with pytest.raises(OverflowError):
        k.pack_msm(7, a[0], bad, a[3], 0, -1)


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_lock_tables_identical(impl):
    k = kernels.get("msm", impl)
    np.testing.assert_array_equal(k.LOCK_DF402_S, REF.LOCK_DF402_S)
    np.testing.assert_array_equal(k.LOCK_DF407_S, REF.LOCK_DF407_S)


def build(fields) -> bytes:
    """Bytes from (value, width) pairs, MSB first, two's complement for negatives, zero-padded."""
    acc, n = 0, 0
    for v, w in fields:
        assert -(1 << w) < v < (1 << w), (v, w)
        acc = (acc << w) | (v & ((1 << w) - 1))
        n += w
    pad = (-n) % 8
    return (acc << pad).to_bytes((n + pad) // 8, "big")


def msm_header(msg_type, sats, sigs, cell_mask_bits, epoch=0, station=1, multiple=0, iods=0):
    """MSM header fields (RTCM 10403.3 Table 3.5-78) for satellite ids and signal ids."""
    sat_mask = sum(1 << (64 - s) for s in sats)
    sig_mask = sum(1 << (32 - s) for s in sigs)
    return [
        (msg_type, 12),
        (station, 12),
        (epoch, 30),
        (multiple, 1),
        (iods, 3),
        (0, 7),
        (0, 2),
        (0, 2),
        (0, 1),
        (0, 3),
        (sat_mask, 64),
        (sig_mask, 32),
    ] + [(b, 1) for b in cell_mask_bits]


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_glonass_channels_learnt(impl):
    """MSM7 GLONASS: DF419 0..13 sets the channel table entry (k = DF419 - 7); 14/15 leave it."""
    k = kernels.get("msm", impl)
    fields = msm_header(1087, [1, 2], [2], [1, 1])
    fields += [(70, 8), (71, 8), (9, 4), (15, 4), (100, 10), (200, 10), (-5, 14), (5, 14)]
    fields += [
        (1000, 20),
        (-1000, 20),
        (2000, 24),
        (-2000, 24),
        (500, 10),
        (500, 10),
        (0, 1),
        (1, 1),
        (640, 10),
        (650, 10),
        (10, 15),
        (-10, 15),
    ]
    chan = np.full(65, -128, np.int8)
    out = k.unpack_msm(*_args(build(fields), chan))
    assert chan[1] == 2 and chan[2] == -128
    assert np.isfinite(out[4][1, 0]) and np.isnan(out[4][1, 1])  # phase needs the channel
    assert list(out[6]) == ["R01", "R02"] and list(out[7]) == ["1C", "1C"]


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_table_arguments_checked(impl):
    k = kernels.get("msm", impl)
    p = _random_msm(np.random.default_rng(8), 7, 2, 2, 1.0)
    good = list(_args(p))
    for i, bad in (
        (2, good[2].astype(np.float32)),
        (3, good[3][:10]),
        (4, good[4].astype(np.int16)),
        (5, good[5][:5]),
        (6, good[6][::2]),
    ):
        args = list(good)
        args[i] = bad
        with pytest.raises(ValueError):
            k.unpack_msm(*args)
    _same(k.unpack_msm(bytearray(p), *good[1:]), REF.unpack_msm(memoryview(p), *good[1:]))


# ---------------------------------------------------------------- encoding from observables


def _cells_input(rng, nsat, ncell, wild=False):
    """Random encode_msm_cells arguments: plausible ranges, with NaN/inf and odd values mixed in."""
    sat = np.sort(np.r_[np.arange(nsat), rng.integers(0, nsat, ncell - nsat)]).astype(np.int32)
    rho = rng.uniform(1.9e7, 4.0e7, nsat)[sat]
    if wild:
        rho = rng.uniform(-1e5, 9e7, ncell)
    wl = rng.choice([0.1903, 0.2442, 0.2548, 0.1921], ncell)
    pr = rho + rng.normal(0, 5, ncell)
    cp = rho / wl + rng.integers(-(10**7), 10**7, ncell) * (rng.random(ncell) < 0.3)
    dop = rng.normal(0, 3000, ncell) * (100 if wild else 1)
    cn0 = rng.uniform(-5, 80, ncell)
    lock = rng.choice([0.0, 0.5, 1.0, 30.0, 300.0, 1e5, np.inf, np.nan], ncell) * rng.random(ncell)
    for a in (pr, cp, dop, cn0, lock, wl):
        a[rng.random(ncell) < 0.1] = np.nan
    pr[rng.random(ncell) < 0.02] = np.inf
    lli = (rng.integers(0, 4, ncell) * (rng.random(ncell) < 0.3)).astype(np.uint8)
    off = np.where(rng.random(ncell) < 0.5, rng.integers(-(10**6), 10**6, ncell), 0).astype(
        np.float64
    )
    return [sat, nsat, pr, cp, wl, dop, cn0, lock, lli, off]


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_encode_cells_identical_to_twin(impl):
    k = kernels.get("msm", impl)
    rng = np.random.default_rng(11)
    for it in range(150):
        nsat = int(rng.integers(1, 20))
        args = _cells_input(rng, nsat, int(rng.integers(nsat, 65)), wild=it % 5 == 0)
        for msm in (4, 7):
            for track in (False, True):
                a1 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
                a2 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
                got = k.encode_msm_cells(msm, *a1, track)
                want = REF.encode_msm_cells(msm, *a2, track)
                for g, w in zip(got, want):
                    assert g.dtype == w.dtype and g.shape == w.shape
                    np.testing.assert_array_equal(g, w)
                np.testing.assert_array_equal(a1[-1], a2[-1])  # offsets updated alike


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_encode_cells_fields(impl):
    """Rough range = per-satellite np.median of the finite ranges; fields invert to the input."""
    k = kernels.get("msm", impl)
    rng = np.random.default_rng(12)
    args = _cells_input(rng, 10, 30)
    sat, nsat, pr, cp, wl, dop = args[:6]
    pr[sat == 3] = np.nan  # satellite 3: rough range from the phase-ranges
    pr[sat == 4], cp[sat == 4] = np.nan, np.nan  # satellite 4: no range at all
    sat_raw, cell_raw, used = k.encode_msm_cells(7, *args, True)
    rms = 299792458.0 * 1e-3
    for s in range(nsat):
        m = sat == s
        cand = pr[m] / rms
        cand = cand[np.isfinite(cand)]
        if not len(cand):
            cand = (cp[m] * wl[m] / rms)[np.isfinite(cp[m] * wl[m])]
        if not len(cand):
            assert sat_raw[s, 0] == 255
            continue
        rk = round(float(np.median(cand)) * 1024)
        assert (sat_raw[s, 0], sat_raw[s, 2]) == (rk // 1024, rk % 1024)
        rate = (-dop[m] * wl[m])[np.isfinite(dop[m] * wl[m])]
        want = int(np.round(np.median(rate))) if len(rate) else -8192
        assert sat_raw[s, 3] == (want if abs(want) <= 8191 else -8192)
    rough = (sat_raw[:, 0] * 1024 + sat_raw[:, 2])[sat] / 1024.0
    ok = (cell_raw[:, 0] != -(1 << 19)) & (sat_raw[sat, 0] != 255)
    np.testing.assert_allclose((rough + cell_raw[:, 0] * 2.0**-29)[ok] * rms, pr[ok], atol=1e-3)
    assert np.array_equal(used, np.isfinite(cp) & np.isfinite(wl))
    assert np.all(np.abs(args[-1] - np.round(args[-1])) == 0)  # whole cycles only
    assert np.array_equal(cell_raw[:, 3], (args[8] & 2) != 0)


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_encode_cells_bad_arguments(impl):
    k = kernels.get("msm", impl)
    args = _cells_input(np.random.default_rng(13), 4, 10)
    with pytest.raises(ValueError):
        k.encode_msm_cells(5, *args, True)
    bad = list(args)
    bad[0] = bad[0].copy()
    bad[0][-1] = 4  # index == nsat
    with pytest.raises(ValueError):
        k.encode_msm_cells(7, *bad, True)
    bad = list(args)
    bad[3] = bad[3][:5]
    with pytest.raises(ValueError):
        k.encode_msm_cells(7, *bad, True)
    empty = [np.zeros(0, np.int32), 0] + [np.zeros(0)] * 6 + [np.zeros(0, np.uint8), np.zeros(0)]
    sat_raw, cell_raw, used = k.encode_msm_cells(7, *empty, False)
    assert sat_raw.shape == (0, 4) and cell_raw.shape == (0, 6) and used.shape == (0,)


def _select_input(rng, n):
    """Observation rows of mixed systems, odd names and signals, and missing values."""
    sats = [f"{s}{p:02d}" for s in "GRECSJ" for p in range(1, 70)] + [
        "G5",
        "E7",
        "GX1",
        "C1A",
        "Gé1",
        "",
    ]
    sigs = ["1C", "2W", "5Q", "7Q", "2I", "6I", "1X", "5X", "9Z", "1", "", "Cé", "1\u0101"]
    sat = np.array(rng.choice(sats, n), dtype="<U3")
    sig = np.array(rng.choice(sigs, n), dtype="<U2")
    pr, cp = rng.uniform(2e7, 3e7, n), rng.uniform(1e8, 2e8, n)
    pr[rng.random(n) < 0.2] = np.nan
    cp[rng.random(n) < 0.2] = np.inf
    return sat, sig, pr, cp


def _select_args(system, sat, sig, pr, cp):
    from vngeonet.rtcm.msm import _SIG_LUT

    return (
        np.ascontiguousarray(sat).view(np.uint32).reshape(-1, 3),
        np.ascontiguousarray(sig).view(np.uint32).reshape(-1, 2),
        ord(system),
        19 if system == "S" else 0,
        _SIG_LUT[system],
        pr,
        cp,
    )


def _select_reference(system, sat, sig, pr, cp):
    """Plain loop: first row of each (MSM id, signal id), sorted; None on an unparsable number."""
    ids = TABLES[system].sig_ids
    cells = {}
    for r, (s, g) in enumerate(zip(sat.tolist(), sig.tolist())):
        if s[:1] != system or g not in ids:
            continue
        if not (s[1:].isascii() and s[1:].isdigit()):
            return None
        p = int(s[1:]) - (19 if system == "S" else 0)
        if 1 <= p <= 64 and (np.isfinite(pr[r]) or np.isfinite(cp[r])):
            cells.setdefault((p, ids[g]), r)
    return sorted((p, s, r) for (p, s), r in cells.items())


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_select_cells(impl):
    k = kernels.get("msm", impl)
    rng = np.random.default_rng(14)
    for it in range(200):
        sat, sig, pr, cp = _select_input(rng, int(rng.integers(0, 300)))
        if it % 2:  # mostly well-formed rows
            good = np.char.str_len(sat) == 3
            sat, sig, pr, cp = sat[good], sig[good], pr[good], cp[good]
        for system in "GRECSJ":
            got = k.select_msm_cells(*_select_args(system, sat, sig, pr, cp))
            want = _select_reference(system, sat, sig, pr, cp)
            if want is None:
                assert got is None
                continue
            assert got is not None and all(a.dtype == np.int64 for a in got)
            assert list(zip(*(a.tolist() for a in got))) == want
            ref = REF.select_msm_cells(*_select_args(system, sat, sig, pr, cp))
            for a, b in zip(got, ref):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("impl", impl_param("msm"))
def test_select_cells_bad_arguments(impl):
    k = kernels.get("msm", impl)
    sat, sig, pr, cp = _select_input(np.random.default_rng(15), 20)
    args = list(_select_args("G", sat, sig, pr, cp))
    for i, bad in ((1, args[1][:5]), (5, args[5][:3]), (6, args[6][:3]), (4, args[4][:100])):
        a = list(args)
        a[i] = bad
        with pytest.raises(ValueError):
            k.select_msm_cells(*a)
