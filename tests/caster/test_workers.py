"""The caster's multi-process mode (``workers = N``) on loopback port 0.

Rovers of station mountpoints are handed to fan-out worker processes
(SCM_RIGHTS over a SEQPACKET socket pair); these tests check that they still
get the source's whole frames in order (NTRIP 1 and 2), that their sessions
are accounted for in the session log and ``/admin/status``, that a worker
crash drops and logs only its own rovers while the caster keeps serving, and
that shutdown drains, closes and logs everything.
"""

import asyncio
import dataclasses
import json
import os
import signal

from tests.caster.helpers import (
    PASSWORDS,
    SOURCE_PW,
    T,
    gga,
    make_config,
    make_store,
    open_rover,
    open_source,
    read_stream,
    real_frames,
    run,
    running_caster,
    wait_for,
)
from tests.conftest import data_path
from vngeonet.caster.config import parse_config

NONE_BIN = "pygnssutils/tests/ntrip_encode_none.bin"
ALICE = ("alice", PASSWORDS["alice"])


def _config(workers: int = 2, **limits):
    return dataclasses.replace(make_config(**limits), workers=workers)


async def _workers_hold(caster, n: int) -> None:
    await wait_for(lambda: sum(len(link.sessions) for link in caster._links) == n, T)


async def _live_source(caster, frame: bytes):
    _sr, sw, head = await open_source(caster.port, "TEST", SOURCE_PW)
    assert head == b"ICY 200 OK\r\n"
    sw.write(frame)
    await asyncio.wait_for(sw.drain(), T)
    await wait_for(lambda: caster.mounts["TEST"].live)
    return sw


def test_config_workers():
    assert parse_config({"caster": {"workers": 2}}).workers == 2
    assert parse_config({}).workers == 0


def test_worker_rovers_get_whole_frames_in_order_and_sessions_are_logged():
    frames = real_frames(data_path(NONE_BIN))
    first, rest = frames[0].raw, frames[1:]
    expected = b"".join(f.raw for f in rest)
    store = make_store()
    versions = (1, 2, 1, 2, 1)

    async def main():
        async with running_caster(_config(), store) as c:
            sw = await _live_source(c, first)
            rovers = []
            for i, v in enumerate(versions):
                rovers.append(await open_rover(c.port, "TEST", *ALICE, version=v))
                await _workers_hold(c, i + 1)
            assert rovers[0][2] == b"ICY 200 OK\r\n\r\n"
            assert rovers[1][2].startswith(b"HTTP/1.1 200 OK\r\n") and b"chunked" in rovers[1][2]
            await _workers_hold(c, len(versions))
            assert all(link.sessions for link in c._links)  # spread over both workers
            rovers[0][1].write(gga(21.0, 105.8))
            for i in range(0, len(rest), 7):  # several source reads
                sw.write(b"".join(f.raw for f in rest[i:i + 7]))
                await asyncio.wait_for(sw.drain(), T)
                await asyncio.sleep(0.002)
            got = await asyncio.gather(*(read_stream(r, len(expected), v == 2)
                                         for (r, _w, _h), v in zip(rovers, versions)))
            assert all(g == expected for g in got)
            await c.poll_workers()
            status = c.status()
            assert [s["bytes"] for s in status["sessions"]] == [len(expected)] * len(versions)
            assert {s["worker"] for s in status["sessions"]} == {0, 1}
            assert [w["alive"] for w in status["workers"]] == [True, True]
            rovers[2][1].close()  # a rover leaves: its session is logged with its bytes
            await wait_for(lambda: any(s.kind == "rover" for s in store.sessions()))
            left = next(s for s in store.sessions() if s.kind == "rover")
            assert (left.user, left.mount, left.bytes_sent, left.reason) == ("alice", "TEST", len(expected),
                                                                          "client closed")
        rover_logs = [s for s in store.sessions() if s.kind == "rover"]
        assert len(rover_logs) == len(versions)
        assert all(s.bytes_sent == len(expected) for s in rover_logs)
        assert sorted(s.reason for s in rover_logs).count("caster shutting down") == len(versions) - 1

    run(main(), 60)


def test_worker_rover_gga_reaches_hooks_and_session_log():
    store = make_store()
    seen = []

    async def main():
        async with running_caster(_config(workers=1), store) as c:
            c.hooks.register(seen.append)
            sw = await _live_source(c, real_frames(data_path(NONE_BIN))[0].raw)
            first_gga = gga(21.0, 105.8).decode().strip()
            _r, w, _h = await open_rover(c.port, "TEST", *ALICE, extra=f"Ntrip-GGA: {first_gga}\r\n")
            await _workers_hold(c, 1)
            w.write(gga(21.1, 105.9) + gga(21.2, 105.9))
            await wait_for(lambda: len(seen) == 3)
            assert [round(p.position.lat_deg, 3) for p in seen] == [21.0, 21.1, 21.2]
            assert seen[-1].gga_count == 3 and seen[-1].mount == "TEST"
            sw.close()  # the source goes down: the worker finishes its rover
            await wait_for(lambda: any(s.kind == "rover" for s in store.sessions()))
        rover = next(s for s in store.sessions() if s.kind == "rover")
        assert rover.gga_count == 3 and rover.reason == "source of TEST went down"

    run(main(), 60)


def test_worker_crash_drops_only_its_rovers_and_caster_keeps_serving():
    frames = real_frames(data_path(NONE_BIN))
    store = make_store()

    async def main():
        async with running_caster(_config(), store) as c:
            sw = await _live_source(c, frames[0].raw)
            rovers = []
            for i in range(4):  # one at a time: least-loaded placement puts 0 and 2 on worker 0
                rovers.append(await open_rover(c.port, "TEST", *ALICE))
                await _workers_hold(c, i + 1)
            victim = c._links[0]
            n_victim = len(victim.sessions)
            os.kill(victim.pid, signal.SIGKILL)
            await wait_for(lambda: c.counters["worker_exits"] == 1)
            # its rovers see their connection end; the others keep streaming
            ends = await asyncio.gather(*(asyncio.wait_for(r.read(65536), T) for r, _w, _h in rovers[::2]))
            assert all(e == b"" for e in ends)
            await wait_for(lambda: sum(1 for s in store.sessions() if "exited" in s.reason) == n_victim)
            assert all(f"pid {victim.pid}" in s.reason for s in store.sessions() if "exited" in s.reason)
            await wait_for(lambda: c._links[0] is not victim and c._links[0].alive)
            late, _lw, head = await open_rover(c.port, "TEST", *ALICE)
            assert head == b"ICY 200 OK\r\n\r\n"
            await _workers_hold(c, 3)
            sw.write(frames[1].raw)
            await asyncio.wait_for(sw.drain(), T)
            for r in (rovers[1][0], rovers[3][0], late):
                assert await read_stream(r, len(frames[1].raw), False) == frames[1].raw
            # the service as a whole is up: sourcetable and admin status answer
            ar, aw, _h = await open_rover(c.port, "admin/status", "root", PASSWORDS["root"], version=2)
            body = json.loads(await asyncio.wait_for(ar.read(), T))
            assert body["counters"]["worker_exits"] == 1 and len(body["workers"]) == 2
            aw.close()

    run(main(), 60)


def test_graceful_shutdown_with_workers():
    frames = real_frames(data_path(NONE_BIN))
    store = make_store()

    async def main():
        async with running_caster(_config(), store) as c:
            sw = await _live_source(c, frames[0].raw)
            rovers = [await open_rover(c.port, "TEST", *ALICE, version=v) for v in (1, 2)]
            _nr, nearest_w, _ = await open_rover(c.port, "NEAREST", *ALICE)
            await _workers_hold(c, 2)
            sw.write(frames[1].raw)
            await asyncio.wait_for(sw.drain(), T)
            pids = [link.pid for link in c._links]
        # after aclose: rovers got the frame, then a clean end (v2: last chunk), workers gone
        assert await read_stream(rovers[0][0], 10**6, False) == frames[1].raw
        tail = await asyncio.wait_for(rovers[1][0].read(), T)
        assert tail.endswith(b"0\r\n\r\n")
        for pid in pids:  # reaped: no such process any more
            assert not os.path.exists(f"/proc/{pid}")
        logs = [s for s in store.sessions() if s.kind == "rover"]
        assert len(logs) == 3 and all(s.reason for s in logs)
        assert sum(s.bytes_sent == len(frames[1].raw) for s in logs) == 2
        nearest_w.close()

    run(main(), 60)


def test_nearest_and_tls_stay_in_the_main_process():
    async def main():
        async with running_caster(_config(workers=1)) as c:
            await _live_source(c, real_frames(data_path(NONE_BIN))[0].raw)
            _r, w, head = await open_rover(c.port, "NEAREST", *ALICE, body=gga(21.0, 105.8))
            assert head == b"ICY 200 OK\r\n\r\n"
            await wait_for(lambda: len(c._sessions) == 1)
            assert not c._links[0].sessions and next(iter(c._sessions.values())).queue is not None
            w.close()

    run(main(), 60)



def test_workers_ignore_group_sigterm_and_sigint():
    """A signal to the whole process group (Ctrl-C, systemd) reaches the main process's handler only."""

    async def main():
        async with running_caster(_config(workers=1)) as c:
            link = c._links[0]
            for _ in range(100):  # until the worker answers: its signal handlers are installed by then
                await c.poll_workers(timeout_s=0.5)
                if link.info:
                    break
            assert link.info["pid"] == link.pid
            os.kill(link.pid, signal.SIGTERM)
            os.kill(link.pid, signal.SIGINT)
            await asyncio.sleep(0.5)
            assert link.alive and link.proc.poll() is None and c.counters["worker_exits"] == 0

    run(main(), 60)
