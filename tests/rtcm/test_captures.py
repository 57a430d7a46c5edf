"""Every real RTCM 3 capture of the shared data set, end to end.

For each file of ``catalog.jsonl`` that carries an RTCM 3 tally (formats
"RTCM3" and "RTCM3+UBX+NMEA"):

* frames per message type equal the catalogue's independent tally, and the
  CRC-failure count its count of failed plausible candidates;
* every frame decodes without an exception;
* ``encode(decode(frame)) == frame.raw`` bit for bit, for every frame;
* the compiled kernels and the pure-Python twins give identical messages
  (the other backend runs in a subprocess, since the choice is per process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.conftest import DATA, REPO
from vngeonet import kernels
from vngeonet.rtcm.context import DecodeContext
from vngeonet.rtcm.decode import decode
from vngeonet.rtcm.encode import encode
from vngeonet.rtcm.framer import RTCMFramer, iter_frames


def _captures() -> list[dict]:
    cat = DATA / "catalog.jsonl"
    if not cat.exists():
        return []
    rows = [json.loads(line) for line in cat.read_text().splitlines() if line.strip()]
    return [r for r in rows if "rtcm3" in r]


CAPTURES = _captures()
IDS = [c["file"] for c in CAPTURES]
needs_data = pytest.mark.skipif(
    not CAPTURES, reason=f"no RTCM captures catalogued under VNGEONET_DATA={DATA}"
)


def _read(entry: dict) -> bytes:
    path = DATA / entry["file"]
    if not path.exists():
        pytest.skip(f"real data {entry['file']} not found under VNGEONET_DATA={DATA}")
    return path.read_bytes()


def _context(data: bytes, name: str) -> DecodeContext:
    from vngeonet.cli.rtcm import approx_time_from

    return DecodeContext(approx_time=approx_time_from(data, name), source=name)


def test_catalogue_lists_captures():
    if not (DATA / "catalog.jsonl").exists():
        pytest.skip(f"catalog.jsonl not found under VNGEONET_DATA={DATA}")
    assert CAPTURES, "catalog.jsonl lists no RTCM 3 capture"


@needs_data
@pytest.mark.parametrize("entry", CAPTURES, ids=IDS)
def test_tally_matches_catalogue(entry):
    data = _read(entry)
    want = {int(k): v for k, v in entry["rtcm3"]["tally"].items()}
    framer = RTCMFramer()
    for i in range(0, len(data), 4093):
        framer.feed(data[i : i + 4093])
    framer.flush()
    assert dict(framer.stats.per_type) == want
    assert framer.stats.frames == entry["rtcm3"]["frames_crc_ok"]
    assert framer.stats.crc_failures == entry["rtcm3"]["crc_fail_candidates"]
    assert Counter(f.msg_type for f in iter_frames(data)) == want


@needs_data
@pytest.mark.parametrize("entry", CAPTURES, ids=IDS)
def test_every_frame_decodes_and_round_trips(entry):
    data = _read(entry)
    ctx = _context(data, entry["file"])
    for frame in iter_frames(data):
        msg = decode(frame, ctx)  # raises FormatError on any malformed frame
        assert msg.msg_type == frame.msg_type
        json.dumps(msg.to_json())
        assert encode(msg) == frame.raw, (
            f"{entry['file']} byte {frame.offset}: type {frame.msg_type}"
        )


@needs_data
@pytest.mark.parametrize("entry", CAPTURES, ids=IDS)
def test_scanner_backends_identical(entry):
    if kernels.compiled("crc24q") is None:
        pytest.skip("kernel crc24q not compiled")
    data = _read(entry)
    a = kernels.get("crc24q", "python").scan_frames(data, True)
    b = kernels.get("crc24q", "cython").scan_frames(data, True)
    assert [x.tolist() for x in a[:3]] == [x.tolist() for x in b[:3]] and a[3:] == b[3:]


DUMP = """
import json, sys
from pathlib import Path
from vngeonet.cli.rtcm import approx_time_from
from vngeonet.rtcm.context import DecodeContext
from vngeonet.rtcm.decode import decode
from vngeonet.rtcm.framer import iter_frames
for name in sys.argv[1:]:
    data = Path(name).read_bytes()
    ctx = DecodeContext(approx_time=approx_time_from(data, name), source=name)
    for f in iter_frames(data):
        print(json.dumps(decode(f, ctx).to_json(), sort_keys=True))
"""


def _dump(paths: list[str], pure: bool) -> list[str]:
    env = dict(os.environ)
    env.pop("VNGEONET_PUREPYTHON", None)
    if pure:
        env["VNGEONET_PUREPYTHON"] = "1"
    res = subprocess.run(
        [sys.executable, "-c", DUMP, *paths],
        cwd=REPO,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.splitlines()


@needs_data
def test_compiled_and_twin_decode_identically():
    if not any(kernels.compiled(n) is not None for n in kernels.names()):
        pytest.skip("no compiled kernels: nothing to compare with the twins")
    paths = [str(DATA / c["file"]) for c in CAPTURES if (DATA / c["file"]).exists()]
    compiled, twin = _dump(paths, pure=False), _dump(paths, pure=True)
    assert (
        len(compiled)
        == len(twin)
        == sum(c["rtcm3"]["frames_crc_ok"] for c in CAPTURES if (DATA / c["file"]).exists())
    )
    for i, (a, b) in enumerate(zip(compiled, twin)):
        if a != b:
            ja, jb = json.loads(a), json.loads(b)
            keys = sorted(k for k in ja.keys() | jb.keys() if ja.get(k) != jb.get(k))
            pytest.fail(
                f"message {i} (type {ja.get('type')}): compiled and twin differ in {keys}: "
                f"{a[:300]} != {b[:300]}"
            )
