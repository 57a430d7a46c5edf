"""Archive files: spans, layout, long names, new signals mid-file, recovery of a crashed .part."""

from __future__ import annotations

import dataclasses
import gzip

import numpy as np
import pytest

from tests.archive.synth import frames, looped
from vngeonet.archive.convert import read_epochs
from vngeonet.archive.files import ObsFile, cut_to_whole_epochs, recover
from vngeonet.rinex.obs import read_obs
from vngeonet.rinex.writer import ObsHeader


def _header_fn(types, first, interval):
    return ObsHeader(marker_name="TEST", obs_types=types, interval_s=interval, first_obs=first, leap_s=18)


@pytest.fixture(scope="module")
def epochs(tmp_path_factory):
    p = tmp_path_factory.mktemp("in") / "long.rtcm"
    p.write_bytes(looped(frames(), 4))  # 132 s across 21:15:00
    obs, _, _ = read_epochs([p])
    return obs


def test_spans_layout_and_every_epoch_kept(epochs, tmp_path):
    f = ObsFile(tmp_path, "TEST00XXX", _header_fn, span_s=900, interval_s=1.0, compress=True)
    for o in epochs:
        f.add(o)
    f.close()
    names = [p.relative_to(tmp_path).as_posix() for p in f.closed_files]
    assert names == ["2024/231/TEST00XXX_S_20242312100_15M_01S_MO.crx.gz",
                     "2024/231/TEST00XXX_S_20242312115_15M_01S_MO.crx.gz"]
    times = np.concatenate([read_obs(p).time_gps_s for p in f.closed_files])
    np.testing.assert_allclose(times, [o.time.seconds for o in epochs])
    assert not list(tmp_path.rglob("*.part"))


def test_decimation_to_30s(epochs, tmp_path):
    f = ObsFile(tmp_path, "TEST00XXX", _header_fn, span_s=86400, interval_s=30.0, compress=False)
    for o in epochs:
        f.add(o)
    out = f.close()
    d = read_obs(out)
    assert all(t % 30 == 0 for t in d.time_gps_s) and len(d.time_gps_s) == 5  # 21:14:30 .. 21:16:30
    assert d.header.interval_s == 30.0


def test_new_signal_mid_file_keeps_records(epochs, tmp_path):
    f = ObsFile(tmp_path, "TEST00XXX", _header_fn, span_s=3600, interval_s=1.0, compress=False)
    first = epochs[0]
    keep = np.array([s[0] == "G" for s in first.obs.sat.tolist()]) if hasattr(first, "obs") else \
        np.array([s[0] == "G" for s in first.sat.tolist()])
    gps_only = dataclasses.replace(first, **{k: getattr(first, k)[keep] for k in
                                             ("sat", "sig", "pr_m", "cp_cyc", "dop_hz", "cn0_dbhz", "lli", "lock_s")})
    f.add(gps_only)  # the file starts with GPS only; the other systems appear at the next epoch
    for o in epochs[1:10]:
        f.add(o)
    out = f.close()
    d = read_obs(out)
    assert set(d.header.obs_types) == {"G", "R", "E", "C"}
    assert {s[0] for s in d.sat[d.epoch_idx == 0]} == {"G"}
    rows0 = d.epoch_idx == 0
    np.testing.assert_allclose(np.sort(d.pr_m[rows0][np.isfinite(d.pr_m[rows0])]),
                               np.sort(gps_only.pr_m[np.isfinite(gps_only.pr_m)]), atol=5e-4)
    assert len(d.time_gps_s) == 10


def test_recover_cuts_partial_epoch(epochs, tmp_path):
    f = ObsFile(tmp_path, "TEST00XXX", _header_fn, span_s=3600, interval_s=1.0, compress=True)
    for o in epochs[:20]:
        f.add(o)
    f.flush()
    part = f.part
    f._fh.close()  # simulate a crash: the file object is gone, nothing finalised
    data = part.read_bytes()
    part.write_bytes(data[: len(data) - 500])  # the last epoch is cut in the middle
    assert cut_to_whole_epochs(part.read_bytes()).count(b"\n> ") == 19  # 20 written, the last one cut
    made = recover(tmp_path)
    assert len(made) == 1 and made[0].name.endswith("_01H_01S_MO.crx.gz") and not part.exists()
    d = read_obs(made[0])
    np.testing.assert_allclose(d.time_gps_s, [o.time.seconds for o in epochs[:19]])
    assert gzip.decompress(made[0].read_bytes()).startswith(b"3.0")  # CRINEX 3 inside the gzip


def test_recorder_mixed_ubx_stream(tmp_path):
    """A u-blox stream (RXM-RAWX + SFRBX) recorded through the demultiplexer, paced file source."""
    import asyncio
    import gzip

    from tests.conftest import data_path
    from vngeonet.archive.recorder import StationRecorder
    from vngeonet.config import parse_station
    from vngeonet.streams.file import FileSource

    raw = gzip.decompress(data_path("nav-solutions-data/UBX/16dBatt_no_interference_coldstart.ubx.gz").read_bytes())
    src_path = tmp_path / "ubx.bin"
    src_path.write_bytes(raw)
    cfg = parse_station({
        "station": {"id": "UBLX", "long_name": "UBLX00XXX"},
        "position": {"ecef_m": [4027893.0, 307045.0, 4919475.0], "epoch": 2025.3},
        "receiver": {"type": "U-BLOX ZED-F9P"}, "antenna": {"type": "ANN-MB"},
        "stream": {"format": "mixed"},
        "archive": {"root": str(tmp_path / "arch"), "files": [{"span": "1H", "interval_s": 1, "compress": False}]},
    })
    rec = StationRecorder(cfg, FileSource(src_path))
    status = asyncio.run(asyncio.wait_for(rec.run(), 60))
    obs_files = sorted((tmp_path / "arch").rglob("*_MO.rnx"))
    nav_files = sorted((tmp_path / "arch").rglob("*_MN.rnx"))
    assert status.epochs == 562 and len(obs_files) == 1 and len(nav_files) == 1
    assert len(read_obs(obs_files[0]).time_gps_s) == 562
    from vngeonet.rinex.nav import read_nav

    ephs = read_nav(nav_files).ephemerides
    # RXM-SFRBX: 9 GPS LNAV and 19 Galileo I/NAV ephemerides in this capture.
    assert sum(e.sat[0] == "G" for e in ephs) == 9 and sum(e.sat[0] == "E" for e in ephs) == 19
    assert len(ephs) == 28


def test_network_archive_facade(tmp_path):
    """``Archive(root, {id: config}).write(id, epoch, builder)`` as ``vngeonet run`` uses it."""
    from tests.conftest import data_path
    from vngeonet.archive import Archive
    from vngeonet.config import parse_station
    from vngeonet.epochs import EpochBuilder
    from vngeonet.rtcm.decode import decode_frames
    from vngeonet.rtcm.framer import iter_frames

    cfg = parse_station({
        "station": {"id": "HANO", "long_name": "HANO00VNM"},
        "position": {"ecef_m": [3811965.6701, -175800.0708, 5093615.5606], "epoch": 2025.0},
        "receiver": {"type": "TRIMBLE ALLOY"}, "antenna": {"type": "LEIAR10"},
        "archive": {"files": [{"span": "1H", "interval_s": 1}]},
    })
    arch = Archive(tmp_path, {"HANO": cfg})
    b = EpochBuilder("HANO", config=cfg)
    n = 0
    for m in decode_frames(iter_frames(data_path("pygnssutils/tests/ntrip_encode_none.bin").read_bytes()), b.ctx):
        for ep in b.add(m):
            arch.write("HANO", ep, b)
            n += 1
    arch.close()
    obs = sorted(tmp_path.rglob("HANO00VNM_S_*_01H_01S_MO.crx.gz"))
    nav = sorted(tmp_path.rglob("HANO00VNM_S_*_01D_MN.rnx.gz"))
    assert len(obs) == 1 and len(nav) == 1
    d = read_obs(obs[0])
    assert len(d.time_gps_s) == n == 33 and d.header.receiver_type == "TRIMBLE ALLOY"
