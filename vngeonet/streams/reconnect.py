"""Reconnection with jittered exponential back-off, and outage/recovery events.

:class:`Backoff` gives the delays; :class:`OutageMonitor` turns silence into an
``outage`` event and the first data after it into a ``recovery`` event, each
delivered to hooks (a log line, a command, a webhook); :class:`ReconnectingSource`
wraps any source factory so that a consumer just keeps calling ``read()``.

Public casters ban clients that reconnect in a tight loop, so the delay grows
``initial_s * factor**n`` up to ``ceiling_s``, each multiplied by a random
factor in ``[1 - jitter, 1 + jitter]`` (so that 65 stations that lost the same
link do not come back in lock-step), and is reset only after a connection
has delivered data for ``reset_after_s``.

Clock and sleep are injectable; tests drive them without waiting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import urllib.request
from dataclasses import dataclass, field

from vngeonet.errors import StreamClosed, StreamError
from vngeonet.streams.base import Source

log = logging.getLogger(__name__)


class Backoff:
    """Jittered exponential back-off with a ceiling.

    Parameters
    ----------
    initial_s : float
        First delay.
    factor : float
        Growth per failure.
    ceiling_s : float
        Largest delay before jitter.
    jitter : float
        Relative jitter, 0..1.
    rng : random.Random
        Random source (seed it in tests).

    Examples
    --------
    >>> b = Backoff(1.0, 2.0, 8.0, jitter=0.0)
    >>> [b.next_delay() for _ in range(5)]
    [1.0, 2.0, 4.0, 8.0, 8.0]
    """

    def __init__(self, initial_s: float = 1.0, factor: float = 2.0, ceiling_s: float = 120.0,
                 jitter: float = 0.25, rng: random.Random | None = None):
        if not (initial_s > 0 and factor >= 1 and ceiling_s >= initial_s and 0 <= jitter <= 1):
            raise ValueError("need initial_s > 0, factor >= 1, ceiling_s >= initial_s, 0 <= jitter <= 1")
        self.initial_s, self.factor, self.ceiling_s, self.jitter = initial_s, factor, ceiling_s, jitter
        self.rng = rng or random.Random()
        self.failures = 0

    def next_delay(self) -> float:
        """Delay before the next attempt (counts one more failure)."""
        base = min(self.ceiling_s, self.initial_s * self.factor ** min(self.failures, 64))
        self.failures += 1
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * self.rng.random() - 1.0)
        return base

    def reset(self) -> None:
        """Forget past failures (after a healthy connection)."""
        self.failures = 0


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """An outage or recovery of one stream.

    ``kind`` is ``"outage"`` or ``"recovery"``; ``silence_s`` the silence that
    triggered an outage, or the outage's length for a recovery.
    """

    kind: str
    stream: str
    at_s: float
    silence_s: float
    reason: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"event": self.kind, "stream": self.stream, "at": self.at_s,
                "silence_s": round(self.silence_s, 3), "reason": self.reason}


class LogHook:
    """Hook that writes one log line per event."""

    def __init__(self, logger: logging.Logger | None = None):
        self.log = logger or log

    async def __call__(self, ev: StreamEvent) -> None:
        level = logging.WARNING if ev.kind == "outage" else logging.INFO
        self.log.log(level, "stream %s %s after %.1f s%s", ev.stream, ev.kind, ev.silence_s,
                     f" ({ev.reason})" if ev.reason else "")


class CommandHook:
    """Hook that runs a command (no shell) with the event in its environment.

    Variables: ``VNGEONET_EVENT`` (outage|recovery), ``VNGEONET_STREAM``,
    ``VNGEONET_SILENCE_S``, ``VNGEONET_REASON``.  The command is killed after
    ``timeout_s``.
    """

    def __init__(self, argv: list[str], timeout_s: float = 30.0):
        self.argv, self.timeout_s = list(argv), timeout_s

    async def __call__(self, ev: StreamEvent) -> None:
        env = dict(os.environ, VNGEONET_EVENT=ev.kind, VNGEONET_STREAM=ev.stream,
                   VNGEONET_SILENCE_S=f"{ev.silence_s:.3f}", VNGEONET_REASON=ev.reason)
        proc = await asyncio.create_subprocess_exec(*self.argv, env=env)
        try:
            await asyncio.wait_for(proc.wait(), self.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.warning("event command %s killed after %s s", self.argv[0], self.timeout_s)


class WebhookHook:
    """Hook that POSTs the event as JSON to a URL (in a worker thread, with a timeout)."""

    def __init__(self, url: str, timeout_s: float = 10.0):
        self.url, self.timeout_s = url, timeout_s

    def _post(self, body: bytes) -> int:
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            return resp.status

    async def __call__(self, ev: StreamEvent) -> None:
        body = json.dumps(ev.to_json()).encode()
        await asyncio.to_thread(self._post, body)


class OutageMonitor:
    """Turns silence into ``outage`` events and returning data into ``recovery`` events.

    Call :meth:`note_data` when bytes arrive and :meth:`check` periodically (or
    on every read timeout); both return the event they raised, if any, after
    passing it to every hook.  A failing hook is logged, never raised.
    """

    def __init__(self, stream: str, silence_s: float = 30.0, hooks=(), clock=time.monotonic):
        self.stream, self.silence_s, self.hooks, self.clock = stream, silence_s, list(hooks), clock
        self.last_data: float = clock()
        self.in_outage = False
        self.outage_start: float | None = None
        self.events: list[StreamEvent] = []

    async def note_data(self) -> StreamEvent | None:
        now = self.clock()
        self.last_data = now
        if not self.in_outage:
            return None
        self.in_outage = False
        ev = StreamEvent("recovery", self.stream, now, now - (self.outage_start or now))
        await self._emit(ev)
        return ev

    async def check(self, reason: str = "") -> StreamEvent | None:
        now = self.clock()
        silence = now - self.last_data
        if self.in_outage or silence < self.silence_s:
            return None
        self.in_outage = True
        self.outage_start = self.last_data
        ev = StreamEvent("outage", self.stream, now, silence, reason)
        await self._emit(ev)
        return ev

    async def _emit(self, ev: StreamEvent) -> None:
        self.events.append(ev)
        for hook in self.hooks:
            try:
                await hook(ev)
            except Exception as err:  # noqa: BLE001 - a hook must not break ingest
                log.warning("event hook %r failed: %s", hook, err)


class ReconnectingSource(Source):
    """A source that reopens its inner source after failures, with back-off.

    Parameters
    ----------
    factory : callable
        ``factory() -> Source`` making a fresh, unopened inner source.
    backoff : Backoff
        Delay policy.
    monitor : OutageMonitor or None
        Receives data notes and silence checks.
    reset_after_s : float
        A connection that delivered data this long resets the back-off.
    check_every_s : float
        How often silence is checked while waiting for data.
    stall_timeout_s : float or None
        A connection silent this long is dropped and reopened.
    clock, sleep :
        Injectable clock and ``async sleep``.

    ``read()`` never returns ``b""`` (an inner end of stream is a failure to
    recover from); it raises :class:`~vngeonet.errors.StreamClosed` only after
    :meth:`aclose`.  ``attempts`` and ``delays`` record what happened.
    """

    def __init__(self, factory, *, backoff: Backoff | None = None, monitor: OutageMonitor | None = None,
                 reset_after_s: float = 30.0, check_every_s: float = 1.0,
                 stall_timeout_s: float | None = None,
                 clock=time.monotonic, sleep=asyncio.sleep, name: str = ""):
        super().__init__(name or "reconnecting", clock=clock)
        self.factory, self.backoff, self.monitor = factory, backoff or Backoff(), monitor
        self.reset_after_s, self.check_every_s = reset_after_s, check_every_s
        self._clock, self._sleep = clock, sleep
        self._inner: Source | None = None
        self._connected_at: float | None = None
        self.attempts = 0
        self.delays: list[float] = []
        self.last_error: str = ""
        self.stall_timeout_s = stall_timeout_s
        self._pending: asyncio.Future | None = None

    async def _open(self) -> None:
        return None

    async def _connect(self) -> None:
        while self._inner is None:
            self.attempts += 1
            src = self.factory()
            try:
                await src.open()
            except (StreamError, OSError) as err:
                await src.aclose()
                await self._fail(f"connect: {err}")
                continue
            self._inner, self._connected_at = src, self._clock()

    async def _fail(self, why: str) -> None:
        self.last_error = why
        log.info("%s: %s", self.name, why)
        if self.monitor is not None:
            await self.monitor.check(why)
        delay = self.backoff.next_delay()
        self.delays.append(delay)
        await self._sleep(delay)

    async def _read(self) -> bytes:
        while True:
            await self._connect()
            try:
                data = await self._read_inner()
            except StreamClosed:
                data = b""
            except (StreamError, OSError) as err:
                await self._drop(f"read: {err}")
                continue
            if not data:
                await self._drop("end of stream")
                continue
            if self._connected_at is not None and self._clock() - self._connected_at >= self.reset_after_s:
                self.backoff.reset()
            if self.monitor is not None:
                await self.monitor.note_data()
            return data

    async def _read_inner(self) -> bytes:
        """Inner read; checks silence every ``check_every_s`` and gives up after ``stall_timeout_s``."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._inner.read())
        task = self._pending
        start = self._clock()
        while not task.done():
            await asyncio.wait({task}, timeout=self.check_every_s)
            if task.done():
                break
            if self.monitor is not None:
                await self.monitor.check("silence")
            if self.stall_timeout_s is not None and self._clock() - start >= self.stall_timeout_s:
                task.cancel()
                self._pending = None
                raise StreamError(f"no data for {self.stall_timeout_s} s")
        self._pending = None
        return task.result()

    async def _drop(self, why: str) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.aclose()
        await self._fail(why)

    async def _close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        if self._inner is not None:
            await self._inner.aclose()
