"""Back-off, outage/recovery events and the reconnecting source, with an injected clock."""

from __future__ import annotations

import asyncio
import http.server
import json
import random
import sys
import threading

import pytest

from tests.streams.helpers import run
from vngeonet.errors import StreamError
from vngeonet.streams.base import Source
from vngeonet.streams.reconnect import (
    Backoff,
    CommandHook,
    OutageMonitor,
    ReconnectingSource,
    StreamEvent,
    WebhookHook,
)


class FakeClock:
    def __init__(self):
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s
        await asyncio.sleep(0)


def test_backoff_exponential_ceiling_and_jitter():
    b = Backoff(1.0, 2.0, 30.0, jitter=0.0)
    assert [b.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    b.reset()
    assert b.next_delay() == 1.0
    j = Backoff(1.0, 2.0, 30.0, jitter=0.5, rng=random.Random(7))
    delays = [j.next_delay() for _ in range(200)]
    nominal = [min(30.0, 2.0 ** min(k, 64)) for k in range(200)]
    assert all(0.5 * n <= d <= 1.5 * n for d, n in zip(delays, nominal))
    assert len({round(d, 6) for d in delays[10:]}) > 100  # jittered, not lock-step
    with pytest.raises(ValueError):
        Backoff(0.0)


class Flaky(Source):
    """Fails to connect ``fail_opens`` times, then hands out ``chunks``; ``None`` = end of stream
    after which the next open fails once more."""

    def __init__(self, plan, clock):
        super().__init__("flaky", clock=clock)
        self.plan = plan

    async def _open(self):
        if self.plan["fail_opens"] > 0:
            self.plan["fail_opens"] -= 1
            raise StreamError("refused")

    async def _read(self):
        item = self.plan["chunks"].pop(0)
        if item is None:
            self.plan["fail_opens"] = 1
            return b""
        return item

    async def _close(self):
        pass


def test_reconnecting_source_backs_off_and_recovers():
    clock = FakeClock()
    events: list[StreamEvent] = []

    async def hook(ev):
        events.append(ev)

    plan = {"fail_opens": 6, "chunks": [b"a", b"b", None, b"c"]}
    mon = OutageMonitor("st1", silence_s=10.0, hooks=[hook], clock=clock)
    src = ReconnectingSource(lambda: Flaky(plan, clock), backoff=Backoff(1, 2, 8, jitter=0.0),
                             monitor=mon, clock=clock, sleep=clock.sleep)

    async def main():
        got = [await src.read() for _ in range(3)]
        await src.aclose()
        return got

    assert run(main()) == [b"a", b"b", b"c"]
    # six refused opens, then end of stream, then one more refused open: ceiling 8 s
    assert clock.slept == [1, 2, 4, 8, 8, 8, 8, 8]
    assert src.attempts == 9
    assert [e.kind for e in events] == ["outage", "recovery"]
    assert events[0].silence_s == pytest.approx(15.0)  # 1 + 2 + 4 + 8 >= 10 s of silence
    assert events[1].silence_s == pytest.approx(31.0)  # first data after 1+2+4+8+8+8 s


def test_outage_after_silence_then_recovery():
    clock = FakeClock()
    mon = OutageMonitor("st2", silence_s=30.0, clock=clock)

    async def main():
        await mon.note_data()
        clock.t += 29.0
        assert await mon.check() is None
        clock.t += 2.0
        ev = await mon.check("silence")
        assert ev.kind == "outage" and ev.silence_s == pytest.approx(31.0)
        assert await mon.check() is None  # one event per outage
        clock.t += 100.0
        rec = await mon.note_data()
        assert rec.kind == "recovery" and rec.silence_s == pytest.approx(131.0)
        assert await mon.note_data() is None

    run(main())


def test_stall_detected_by_monitor_and_dropped():
    """A connection that stays open but silent raises an outage and is reopened."""

    class Silent(Source):
        opened = 0

        async def _open(self):
            Silent.opened += 1

        async def _read(self):
            if Silent.opened >= 2:
                return b"x"
            await asyncio.sleep(3600)

        async def _close(self):
            pass

    import time

    mon = OutageMonitor("st3", silence_s=0.05)
    src = ReconnectingSource(Silent, backoff=Backoff(0.01, 2, 0.01, jitter=0), monitor=mon,
                             check_every_s=0.02, stall_timeout_s=0.1, clock=time.monotonic)

    async def main():
        data = await asyncio.wait_for(src.read(), 5)
        await src.aclose()
        return data

    assert run(main()) == b"x"
    assert [e.kind for e in mon.events] == ["outage", "recovery"]


def test_command_hook_runs_with_event_env(tmp_path):
    out = tmp_path / "ev.txt"
    code = f"import os; open({str(out)!r}, 'w').write(os.environ['VNGEONET_EVENT'] + ' ' + os.environ['VNGEONET_STREAM'])"
    hook = CommandHook([sys.executable, "-c", code], timeout_s=20)
    run(hook(StreamEvent("outage", "ABCD", 0.0, 31.0)))
    assert out.read_text() == "outage ABCD"


def test_webhook_hook_posts_json():
    got = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.handle_request, daemon=True)
    th.start()
    hook = WebhookHook(f"http://127.0.0.1:{srv.server_address[1]}/hook", timeout_s=5)
    run(hook(StreamEvent("recovery", "ABCD", 5.0, 12.5)))
    th.join(5)
    srv.server_close()
    assert got == [{"event": "recovery", "stream": "ABCD", "at": 5.0, "silence_s": 12.5, "reason": ""}]
