"""File replay: paced by the data's GNSS time (injected clock), speed factor, loop."""

from __future__ import annotations

import pytest

from tests.conftest import data_path
from tests.streams.helpers import run
from tests.streams.test_reconnect import FakeClock
from vngeonet.streams.demux import Demuxer
from vngeonet.streams.file import FileSource
from vngeonet.streams.timetag import packet_epoch_sod


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_paced_replay_follows_gnss_time(speed):
    path = data_path("pygnssutils/tests/pygpsdata-rtcm3.log")  # u-blox base, 158 epochs at 1 Hz
    packets = Demuxer().feed(path.read_bytes())
    sods = sorted({round(s, 3) for s in map(packet_epoch_sod, packets) if s is not None})
    assert len(sods) == 158
    clock = FakeClock()

    async def main():
        src = FileSource(path, speed=speed, clock=clock, sleep=clock.sleep)
        chunks = []
        async with src:
            while data := await src.read():
                chunks.append((clock.t, data))
        return chunks

    chunks = run(main())
    assert b"".join(c for _, c in chunks) == b"".join(p.raw for p in packets)  # whole packets, in order
    span = sods[-1] - sods[0]
    assert sum(clock.slept) == pytest.approx(span / speed, abs=1e-6)
    # one release per epoch, 1/speed apart
    times = sorted({t for t, _ in chunks})
    assert len(times) == 158
    steps = {round(b - a, 6) for a, b in zip(times, times[1:])}
    assert steps == {round(1.0 / speed, 6)}


def test_unpaced_loop(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(bytes(range(256)) * 10)

    async def main():
        src = FileSource(p, loop=True, chunk_size=1000)
        got = bytearray()
        async with src:
            while len(got) < 3 * 2560:
                got += await src.read()
        return bytes(got), src.loops

    got, loops = run(main())
    assert got[:7680] == (bytes(range(256)) * 10) * 3 and loops >= 2


def test_paced_loop_restarts_pacing():
    path = data_path("pygnssutils/tests/pygpsdata-rtcm3.log")
    clock = FakeClock()

    async def main():
        src = FileSource(path, speed=100.0, loop=True, clock=clock, sleep=clock.sleep)
        n = 0
        async with src:
            while src.loops < 2:
                n += len(await src.read())
        return n

    run(main())
    # each pass sleeps ~157 s / 100; the jump back at the loop is not slept through
    assert sum(clock.slept) == pytest.approx(2 * 157 / 100, abs=0.05)
