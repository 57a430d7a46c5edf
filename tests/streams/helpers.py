"""Loopback helpers for the stream tests: bounded, 127.0.0.1, port 0, timeouts everywhere."""

from __future__ import annotations

import asyncio
import contextlib

TIMEOUT_S = 10.0


def run(coro, timeout_s: float = 30.0):
    """Run ``coro`` with an overall timeout."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


@contextlib.asynccontextmanager
async def loopback_server(handler):
    """Serve ``handler(reader, writer)`` on 127.0.0.1:0; yields the port."""

    async def wrapped(reader, writer):
        try:
            await asyncio.wait_for(handler(reader, writer), TIMEOUT_S)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), TIMEOUT_S)


async def read_head(reader) -> bytes:
    """A request head (up to the blank line)."""
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)


async def read_all(source, limit: int | None = None) -> bytes:
    """Read ``source`` until its end (or ``limit`` bytes), with a timeout per read."""
    out = bytearray()
    while limit is None or len(out) < limit:
        data = await asyncio.wait_for(source.read(), TIMEOUT_S)
        if not data:
            break
        out += data
    return bytes(out)


def chunk(data: bytes, size: int) -> bytes:
    """``data`` in HTTP chunked transfer coding with chunks of ``size`` bytes, plus the last chunk."""
    parts = [b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size)]
    return b"".join(parts) + b"0\r\n\r\n"
