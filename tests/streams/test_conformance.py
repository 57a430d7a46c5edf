"""One conformance test for every stream driver.

Each case makes a source that will deliver exactly ``payload`` (a real RTCM
capture) and, where the transport has an end, then end.  The shared test
checks: the bytes arrive complete and in order, ``stats`` counts them, the end
of stream is ``b""`` once, reads after the end or after ``aclose`` raise
``StreamClosed``, and ``aclose`` is idempotent.
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from tests.conftest import data_path
from tests.streams.helpers import TIMEOUT_S, chunk, loopback_server, read_head, run
from vngeonet.errors import StreamClosed
from vngeonet.streams.uri import open_source

CAPTURE = "pygnssutils/tests/pygpsdata-rtcm3.log"


def _payload() -> bytes:
    return data_path(CAPTURE).read_bytes()[:120_000]


async def _feed_slowly(write, payload: bytes, size: int = 4096):
    for i in range(0, len(payload), size):
        write(payload[i:i + size])
        await asyncio.sleep(0)


async def case_file(payload, tmp_path):
    p = tmp_path / "cap.bin"
    p.write_bytes(payload)
    yield open_source(f"file://{p}"), True


async def case_tcp(payload, tmp_path):
    async def handler(reader, writer):
        await _feed_slowly(writer.write, payload)
        await writer.drain()

    async with loopback_server(handler) as port:
        yield open_source(f"tcp://127.0.0.1:{port}"), True


async def case_tcpserver(payload, tmp_path):
    from vngeonet.streams.tcp import TCPServerSource

    src = TCPServerSource("127.0.0.1", 0, end_on_disconnect=True)
    await src.open()

    async def push():
        _, w = await asyncio.open_connection("127.0.0.1", src.port)
        await _feed_slowly(w.write, payload)
        await w.drain()
        w.close()

    task = asyncio.ensure_future(push())
    yield src, True
    await asyncio.wait_for(task, TIMEOUT_S)


async def case_udp(payload, tmp_path):
    src = open_source("udp://127.0.0.1:0")
    await src.open()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    async def push():
        for i in range(0, len(payload), 1024):
            sock.sendto(payload[i:i + 1024], ("127.0.0.1", src.port))
            await asyncio.sleep(0.0005)

    task = asyncio.ensure_future(push())
    yield src, False
    await asyncio.wait_for(task, TIMEOUT_S)
    sock.close()


async def case_serial(payload, tmp_path):
    master, slave = os.openpty()
    import tty

    tty.setraw(slave)
    src = open_source(f"serial://{os.ttyname(slave)}?baud=115200&parity=N&rtscts=0")
    await src.open()

    async def push():
        for i in range(0, len(payload), 1024):
            await asyncio.get_running_loop().run_in_executor(None, os.write, master, payload[i:i + 1024])
        await asyncio.sleep(0.2)
        os.close(master)

    task = asyncio.ensure_future(push())
    yield src, True
    await asyncio.wait_for(task, TIMEOUT_S)
    os.close(slave)


async def case_ntrip2(payload, tmp_path):
    async def handler(reader, writer):
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\nContent-Type: gnss/data\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        await _feed_slowly(writer.write, chunk(payload, 1000))
        await writer.drain()

    async with loopback_server(handler) as port:
        yield open_source(f"ntrip://u:p@127.0.0.1:{port}/MNT?v=2"), True


async def case_ntrip1(payload, tmp_path):
    async def handler(reader, writer):
        await read_head(reader)
        writer.write(b"ICY 200 OK\r\n")
        await _feed_slowly(writer.write, payload)
        await writer.drain()

    async with loopback_server(handler) as port:
        yield open_source(f"ntrip://u:p@127.0.0.1:{port}/MNT?v=1"), True


CASES = {f.__name__[5:]: f for f in (case_file, case_tcp, case_tcpserver, case_udp, case_serial,
                                     case_ntrip2, case_ntrip1)}


@pytest.mark.parametrize("driver", list(CASES))
def test_source_conformance(driver, tmp_path):
    payload = _payload()

    async def main():
        gen = CASES[driver](payload, tmp_path)
        src, has_end = await gen.__anext__()
        got = bytearray()
        async with src:
            while len(got) < len(payload):
                data = await asyncio.wait_for(src.read(), TIMEOUT_S)
                assert isinstance(data, bytes)
                if not data:
                    break
                got += data
            assert bytes(got) == payload
            assert src.stats.bytes_in == len(payload)
            assert src.stats.connects == 1
            if has_end:
                assert await asyncio.wait_for(src.read(), TIMEOUT_S) == b""
                with pytest.raises(StreamClosed):
                    await src.read()
        with pytest.raises(StreamClosed):
            await src.read()
        await src.aclose()  # idempotent
        assert src.closed
        try:
            await gen.__anext__()
        except StopAsyncIteration:
            pass

    run(main(), 60)
