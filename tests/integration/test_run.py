"""`vngeonet run` end to end on a temporary network of three simulated stations.

Checks what a newcomer sees: RTCM reaches a rover through the caster and
decodes; an hourly RINEX file appears and reads back; the SPP monitors find
the stations within a few metres; ``/status`` reports every station up.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np

from vngeonet.gnss.coords import llh_to_ecef

# 30 s epochs starting two minutes before an hour: the first hourly file closes after 4 epochs.
SIM_URI = "sim://{id}?interval=30&start=2026-01-01T00:58:00&speed=0"
STATIONS = {"HANO": (21.0285, 105.8542, 20.0), "HAIP": (20.8449, 106.6881, 10.0),
            "NAMD": (20.4200, 106.1683, 8.0)}


def write_stations(root: Path) -> Path:
    d = root / "stations"
    d.mkdir()
    for sid, (lat, lon, h) in STATIONS.items():
        x = llh_to_ecef(np.array([np.radians(lat), np.radians(lon), h]))
        (d / f"{sid}.toml").write_text(f"""
[station]
id = "{sid}"
long_name = "{sid}00VNM"
name = "{sid} test"
[position]
ecef_m = [{x[0]:.4f}, {x[1]:.4f}, {x[2]:.4f}]
epoch = 2025.0
[receiver]
type = "LEICA GR50"
[antenna]
type = "LEIAR20"
radome = "LEIM"
[stream]
uri = "{SIM_URI.format(id=sid)}"
[archive]
flush_interval_s = 1
[[archive.files]]
span = "1H"
interval_s = 30
""")
    return d


async def http_get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data.split(b"\r\n\r\n", 1)[1]


async def rover_bytes(port: int, seconds: float) -> bytes:
    """Our own NTRIP 2 client on NEAREST with a GGA near Ha Noi."""
    from vngeonet.streams.uri import open_source

    src = open_source(f"ntrip://rover:secret@127.0.0.1:{port}/NEAREST?v=2&gga=21.03,105.85,20&gga_interval=1")
    got = b""
    deadline = time.monotonic() + seconds
    async with src:
        while time.monotonic() < deadline:
            try:
                got += await asyncio.wait_for(src.read(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
    return got


def test_run_network_end_to_end(tmp_path):
    from vngeonet.rinex.obs import read_obs
    from vngeonet.rtcm.context import DecodeContext
    from vngeonet.rtcm.decode import decode
    from vngeonet.rtcm.framer import RTCMFramer
    from vngeonet.service.network import NetworkService, RunOptions

    opts = RunOptions(stations_dir=write_stations(tmp_path), data_dir=tmp_path / "var",
                      caster_listen=("127.0.0.1", 0), http_listen=("127.0.0.1", 0),
                      users=[("rover", "secret")], spp_interval_s=30.0)

    async def main():
        svc = NetworkService(opts)
        await svc.start()
        try:
            got = await rover_bytes(svc.caster.port, 6.0)
            status = json.loads(await http_get(svc.web.port, "/status"))
            page = await http_get(svc.web.port, "/")
        finally:
            await svc.aclose()
        return got, status, page

    got, status, page = asyncio.run(asyncio.wait_for(main(), 60))

    # RTCM reached the rover and decodes: the nearest station is HANO.
    framer = RTCMFramer()
    frames = framer.feed(got)
    assert frames and framer.stats.crc_failures == 0
    ctx = DecodeContext()
    msgs = [decode(f, ctx) for f in frames]
    assert {1077, 1097, 1127, 1006} <= {m.msg_type for m in msgs}
    arp = next(m for m in msgs if m.msg_type == 1006)
    hano = llh_to_ecef(np.array([np.radians(21.0285), np.radians(105.8542), 20.0]))
    assert np.allclose(arp.arp_ecef_m, hano, atol=1e-3)

    # Every station up, monitored within a few metres of its configured position.
    assert {s["id"] for s in status["stations"]} == set(STATIONS)
    for s in status["stations"]:
        assert s["up"], s
        assert s["epochs"] >= 5 and s["nsat"] >= 15
        assert s["spp_error_m"] is not None and s["spp_error_m"] < 5.0, s
    assert status["rovers"] >= 0
    assert b"<table" in page

    # The hour 00:00-01:00 closed: its RINEX file exists and reads back.
    files = sorted((tmp_path / "var" / "archive").rglob("HANO00VNM*_01H_30S_MO.*"))
    closed = [f for f in files if not f.name.endswith(".part")]
    assert closed, files
    obs = read_obs(closed[0])
    assert obs.header.marker_name.startswith("HANO")
    assert len(obs.time_gps_s) >= 2
    assert np.isfinite(obs.pr_m).sum() > 100


def test_run_command_prints_where_it_listens_and_stops_cleanly_on_ctrl_c(tmp_path):
    """`vngeonet run` as a user starts it: the printed addresses work; Ctrl-C (SIGINT) exits 0
    and leaves only complete, readable RINEX files (no .part)."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    from vngeonet.rinex.obs import read_obs

    stations = write_stations(tmp_path)
    data = tmp_path / "var"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vngeonet", "run", "--stations", str(stations), "--data", str(data),
         "--caster", "127.0.0.1:0", "--http", "127.0.0.1:0", "--user", "rover:secret"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "NTRIP caster on 127.0.0.1:" in text and "NEAREST" in text, text
        status_url = re.search(r"status page (http://\S+/)", text).group(1)
        assert "vngeonet ntrip get" in text
        time.sleep(4.0)
        with urllib.request.urlopen(status_url + "status", timeout=10) as r:
            status = json.loads(r.read())
        assert {s["id"] for s in status["stations"]} == set(STATIONS)
        assert all(s["up"] for s in status["stations"])
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, proc.stderr.read()
    files = list((data / "archive").rglob("*"))
    assert not [f for f in files if f.name.endswith(".part")]
    obs_files = [f for f in files if "_MO." in f.name]
    assert obs_files
    for f in obs_files:
        assert len(read_obs(f).time_gps_s) >= 1
