"""Shared damage test for RTCM decoders: bit flips and truncation."""

from __future__ import annotations

import json

import numpy as np

from vngeonet.errors import FormatError


def damaged_payloads_roundtrip_or_raise(payloads, decode, encode, ctx_factory, seed, n=1500):
    """Flip bits in / truncate random real payloads; each either decodes, re-encodes to the same
    bytes and serialises to strict JSON, or raises FormatError.  Returns (n_ok, n_err)."""
    rng = np.random.default_rng(seed)
    n_ok = n_err = 0
    for _ in range(n):
        b = bytearray(payloads[rng.integers(len(payloads))])
        for _ in range(int(rng.integers(1, 5))):
            i = int(rng.integers(16, len(b) * 8))
            b[i // 8] ^= 1 << (7 - i % 8)
        if rng.random() < 0.3:
            b = b[: int(rng.integers(2, len(b) + 1))]
        try:
            m = decode(bytes(b), ctx_factory())
        except FormatError:
            n_err += 1
            continue
        assert encode(m) == bytes(b)
        json.dumps(m.to_json(), allow_nan=False)
        n_ok += 1
    return n_ok, n_err
