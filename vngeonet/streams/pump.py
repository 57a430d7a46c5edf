"""Copy loops between sources and sinks (used by ``vngeonet ntrip get|push`` and the recorder)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from vngeonet.streams.base import Source
from vngeonet.streams.uri import open_sink, open_source, parse_uri

log = logging.getLogger(__name__)


async def drain(source: Source, write, *, max_bytes: int | None = None,
                duration_s: float | None = None) -> int:
    """Read ``source`` into ``write(bytes)`` until it ends, ``max_bytes`` or ``duration_s``.

    Returns the number of bytes written.  ``source`` is closed at the end.
    """
    loop = asyncio.get_running_loop()
    stop_at = None if duration_s is None else loop.time() + duration_s
    total = 0
    try:
        while True:
            timeout = None if stop_at is None else stop_at - loop.time()
            if timeout is not None and timeout <= 0:
                break
            try:
                data = await asyncio.wait_for(source.read(), timeout)
            except TimeoutError:
                break
            if not data:
                break
            if max_bytes is not None:
                data = data[:max_bytes - total]
            write(data)
            total += len(data)
            if max_bytes is not None and total >= max_bytes:
                break
    finally:
        await source.aclose()
    return total


def push_source_for(src: str, *, speed: float, loop: bool) -> Source:
    """The source for ``ntrip push``: a file path (paced replay) or any stream URI."""
    if "://" not in src or src.startswith("file://"):
        from vngeonet.streams.file import FileSource

        path = parse_uri(src).path
        if not Path(path).exists():
            from vngeonet.errors import StreamError

            raise StreamError(f"{path}: no such file")
        return FileSource(path, speed=speed, loop=loop)
    return open_source(src)


async def push_to_caster(src: str, target: str, *, speed: float = 1.0, loop: bool = False,
                         max_bytes: int | None = None, duration_s: float | None = None) -> int:
    """Send a recording or stream ``src`` to the caster mountpoint ``target`` (``ntrip://``).

    Returns the number of payload bytes sent.
    """
    from vngeonet.streams.ntrip_server import push

    source = push_source_for(src, speed=speed, loop=loop)
    sink = open_sink(target)
    try:
        coro = push(source, sink, max_bytes=max_bytes)
        if duration_s is None:
            return await coro
        try:
            return await asyncio.wait_for(coro, duration_s)
        except TimeoutError:
            return sink.bytes_out
    finally:
        await source.aclose()
        await sink.aclose()
