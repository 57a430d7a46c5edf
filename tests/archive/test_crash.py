"""Crash safety: ``vngeonet record`` killed with SIGKILL at random moments.

A 1 Hz recording of ~6.6 minutes (the real capture, re-timed bit-exactly) is
replayed 100x faster into ``vngeonet record`` (15-minute 1 s files and a daily
30 s file, flush interval 10 s of data).  The process prints every epoch it has
handed to the archive; it is killed at a random moment (3 trials, seeded).
After the kill, the start-up recovery runs, then:

* every file in the archive is valid RINEX (strict reader) and no ``.part`` is left;
* every epoch the process reported, older than the flush interval before its last
  report, is in the archive; nothing else is there but possibly the one epoch it
  was about to report.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.archive.synth import frames, looped
from vngeonet.archive.files import recover
from vngeonet.rinex.obs import read_obs

FLUSH_S = 10.0
REPO = Path(__file__).resolve().parents[2]

STATION = """
[station]
id = "CRSH"
long_name = "CRSH00VNM"
[position]
ecef_m = [3811965.6701, -175800.0708, 5093615.5606]
epoch = 2024.6
[receiver]
type = "TRIMBLE ALLOY"
[antenna]
type = "LEIAR10"
[stream]
uri = "file://{path}?speed=100"
[archive]
root = "{root}"
flush_interval_s = {flush}
[[archive.files]]
span = "15M"
interval_s = 1
[[archive.files]]
span = "1D"
interval_s = 30
"""


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    p = tmp_path_factory.mktemp("rec") / "long.rtcm"
    p.write_bytes(looped(frames(), 12))  # 396 epochs, 21:14:25 .. 21:21:00 GPST
    return p


def _run_and_kill(cfg: Path, delay_s: float, env: dict) -> list[float]:
    proc = subprocess.Popen([sys.executable, "-m", "vngeonet", "record", str(cfg), "--no-reconnect",
                             "--log-epochs", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=REPO, env=env, text=True)
    reported: list[float] = []
    started = threading.Event()

    def reader():
        for line in proc.stdout:
            if line.startswith("EPOCH "):
                reported.append(float(line.split()[2]))
                started.set()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        assert started.wait(60), "recorder produced no epoch"
        time.sleep(delay_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    th.join(10)
    return reported


@pytest.mark.parametrize("trial", range(3))
def test_kill_at_random_moments(recording, tmp_path, trial):
    rng = random.Random(20240818 + trial)
    root = tmp_path / "archive"
    cfg = tmp_path / "CRSH.toml"
    cfg.write_text(STATION.format(path=recording, root=root, flush=FLUSH_S))
    env = dict(os.environ)
    reported = _run_and_kill(cfg, rng.uniform(0.2, 3.0), env)
    assert reported, "nothing recorded before the kill"
    recover(root)
    assert not list(root.rglob("*.part")) and not list(root.rglob("*.tmp"))
    files = sorted(root.rglob("*_MO.crx.gz"))
    assert files
    per_rate: dict = {}
    for f in files:
        d = read_obs(f)  # strict: a damaged file raises
        rate = "30S" if "_30S_" in f.name else "01S"
        per_rate.setdefault(rate, []).append(d.time_gps_s)
    got = np.concatenate(per_rate["01S"])
    assert np.all(np.diff(got) > 0)
    must = [t for t in reported if t <= reported[-1] - FLUSH_S]
    assert set(np.round(must, 3)) <= set(np.round(got, 3)), "flushed epochs lost"
    # an epoch may be on disk but not yet reported when the kill lands: at most the next one
    extra = set(np.round(got, 3)) - set(np.round(reported, 3))
    assert len(extra) <= 1 and all(t > reported[-1] for t in extra), "epochs that were never recorded"
    if "30S" in per_rate:
        got30 = set(np.round(np.concatenate(per_rate["30S"]), 3))
        assert {round(t, 3) for t in must if t % 30 == 0} <= got30


def test_sigterm_closes_files_under_final_names(recording, tmp_path):
    root = tmp_path / "archive"
    cfg = tmp_path / "CRSH.toml"
    cfg.write_text(STATION.format(path=recording, root=root, flush=FLUSH_S))
    proc = subprocess.Popen([sys.executable, "-m", "vngeonet", "record", str(cfg), "--no-reconnect",
                             "--log-epochs", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=REPO, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("EPOCH "):
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert not list(root.rglob("*.part"))
    files = sorted(root.rglob("*_MO.crx.gz"))
    assert files and all(len(read_obs(f).time_gps_s) > 0 for f in files)
