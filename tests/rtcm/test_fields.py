"""Tests of vngeonet.rtcm.fields: the DF table, layouts, and the real-capture helpers.

The DF table is cross-checked field by field against pyrtcm's independent
table (width, kind and resolution wherever pyrtcm states one), and every
fixed layout against the payload length of every real frame.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from functools import lru_cache

import numpy as np
import pytest

from tests.conftest import DATA, data_path, impl_param
from vngeonet import kernels
from vngeonet.errors import FormatError
from vngeonet.rtcm import fields
from vngeonet.rtcm.fields import FIELDS, SPECS, field, layout, payload_bits

STATION_TYPES = (1005, 1006, 1007, 1008, 1013, 1029, 1033, 1230)
EPHEMERIS_TYPES = (1019, 1020, 1041, 1042, 1044, 1045, 1046)


# ------------------------------------------------------------ real captures


def _crc_table() -> tuple:
    table = []
    for i in range(256):
        crc = i << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def _crc24q(data: bytes) -> int:
    """CRC-24Q (RTCM 10403.3 §4.2), written out here so the tests do not rely on the framer."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC_TABLE[(crc >> 16) ^ b]
    return crc


def _scan(buf: bytes):
    """(raw frame, payload) of every CRC-valid RTCM 3 frame in ``buf``."""
    i, n = 0, len(buf)
    while i + 6 <= n:
        if buf[i] != 0xD3:
            i += 1
            continue
        length = ((buf[i + 1] & 0x03) << 8) | buf[i + 2]
        end = i + 6 + length
        if end > n or _crc24q(buf[i:end - 3]) != int.from_bytes(buf[end - 3:end], "big"):
            i += 1
            continue
        yield buf[i:end], buf[i + 3:end - 3]
        i = end


@lru_cache(maxsize=1)
def _catalog() -> tuple:
    path = DATA / "catalog.jsonl"
    if not path.exists():
        return ()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return tuple(r for r in rows if "rtcm3" in r)


@lru_cache(maxsize=None)
def _frames_of(rel: str) -> tuple:
    import gzip

    raw = data_path(rel).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    out = []
    for frame, payload in _scan(raw):
        if len(payload) >= 2:
            out.append((payload[0] << 4 | payload[1] >> 4, frame, payload))
    return tuple(out)


def capture_files(types) -> list[str]:
    """Catalogued RTCM 3 captures holding at least one frame of ``types``."""
    types = {str(t) for t in types}
    return [r["file"] for r in _catalog() if types & set(r["rtcm3"]["tally"])]


def real_frames(types):
    """Every (file, msg_type, raw frame, payload) of ``types`` in every real capture.

    Skips the calling test when the data directory is absent.
    """
    files = capture_files(types)
    if not files:
        pytest.skip(f"no RTCM captures with {sorted(types)} under VNGEONET_DATA={DATA}")
    for rel in files:
        for t, frame, payload in _frames_of(rel):
            if t in types:
                yield rel, t, frame, payload


# ------------------------------------------------------------------- tests


def test_counts_match_catalog():
    """Our scan finds exactly the catalogued number of frames of each of our types."""
    ours = STATION_TYPES + EPHEMERIS_TYPES
    files = capture_files(ours)
    if not files:
        pytest.skip("no RTCM captures")
    for row in _catalog():
        if row["file"] not in files:
            continue
        got = Counter(t for t, _, _ in _frames_of(row["file"]) if t in ours)
        want = {int(k): v for k, v in row["rtcm3"]["tally"].items() if int(k) in ours}
        assert dict(got) == want, row["file"]


def test_fixed_layout_lengths_match_real_payloads():
    seen = set()
    for _, t, _, payload in real_frames(set(SPECS)):
        assert len(payload) == (payload_bits(t) + 7) // 8, t
        seen.add(t)
    assert {1005, 1006, 1019, 1020, 1042, 1045, 1046} <= seen


def test_known_layout_sizes():
    # RTCM 10403.3: message lengths in bits (before byte padding).
    assert {t: payload_bits(t) for t in SPECS} == {
        1005: 152, 1006: 168, 1019: 488, 1020: 360, 1041: 482, 1042: 511, 1044: 485,
        1045: 496, 1046: 504,
    }


def test_table_matches_pyrtcm():
    """Width, kind and resolution of every DF against pyrtcm's independent table."""
    core = pytest.importorskip("pyrtcm.rtcmtypes_core")
    kind_of = {core.INT: fields.S, core.INTS: fields.SM, core.UINT: fields.U, core.BIT: fields.U}
    checked = 0
    for df, f in FIELDS.items():
        ref = core.RTCM_DATA_FIELDS.get(f"DF{df:03d}")
        if ref is None:  # DF422 is split into four 1-bit entries there
            assert df == 422
            continue
        rtype, width, scale = ref[0], ref[1], ref[2]
        assert width == f.width, df
        assert kind_of[rtype] == f.kind, df
        # pyrtcm states 0 or 1 for "no scaling" (and leaves a few GLONASS fields unscaled).
        if scale not in (0, 1):
            assert math.isclose(scale, f.scale, rel_tol=1e-12), df
            checked += 1
    assert checked > 120


def test_reserved_and_unknown_fields():
    r = field(-7)
    assert (r.df, r.width, r.kind) == (1, 7, fields.U)
    with pytest.raises(KeyError):
        field(9999)


def test_si_scales():
    lay = layout(1019)
    i = lay.index[97]  # i0, semicircles
    assert lay.si[i] == pytest.approx(math.pi * 2.0**-31, rel=1e-15)
    g = layout(1020)
    assert g.si[g.index[112]] == pytest.approx(1e3 * 2.0**-11, rel=1e-15)
    assert g.si[g.index[110]] == 900.0
    b = layout(1042)
    assert b.si[b.index[513]] == pytest.approx(1e-10, rel=1e-15)


@pytest.mark.parametrize("impl", impl_param("bits"))
@pytest.mark.parametrize("msg_type", sorted(SPECS))
def test_pack_unpack_random(impl, msg_type, monkeypatch):
    """Random in-range integers survive pack -> unpack for every layout, both kernels."""
    monkeypatch.setattr(fields, "_BITS", kernels.get("bits", impl))
    lay = layout(msg_type)
    rng = np.random.default_rng(1019 + msg_type)
    for _ in range(20):
        vals = []
        for w, k in zip(lay.widths.tolist(), lay.kinds.tolist()):
            half = 1 << (w - 1)
            if k == fields.U:
                vals.append(int(rng.integers(0, 1 << w)))
            elif k == fields.S:
                vals.append(int(rng.integers(-half, half)))
            else:  # sign-magnitude: -(2^(w-1) - 1) .. 2^(w-1) - 1
                vals.append(int(rng.integers(1 - half, half)))
        payload = lay.pack(msg_type, vals)
        assert len(payload) == (payload_bits(msg_type) + 7) // 8
        assert payload[0] << 4 | payload[1] >> 4 == msg_type
        assert lay.unpack(payload, msg_type).tolist() == vals


def test_unpack_short_raises_format_error():
    lay = layout(1019)
    with pytest.raises(FormatError, match="1019"):
        lay.unpack(b"\x3f\xb0" + bytes(10), 1019)


def test_pack_overflow():
    with pytest.raises(OverflowError):
        layout(1005).pack(1005, [4096] + [0] * 11)
