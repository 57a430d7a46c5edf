"""Drop-oldest queue policy of the push-fed drivers (UDP, TCP server): newest data kept, drops counted."""

from __future__ import annotations

import asyncio
import socket

from tests.streams.helpers import TIMEOUT_S, run
from vngeonet.streams.tcp import TCPServerSource
from vngeonet.streams.udp import UDPSource


def test_udp_keeps_newest_datagrams_and_counts_drops():
    async def main():
        async with UDPSource(max_datagrams=2) as src:
            await src.open()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for k in range(5):
                    s.sendto(bytes([65 + k]), ("127.0.0.1", src.port))
                s.sendto(b"", ("127.0.0.1", src.port))  # empty datagram: ignored, not end of stream
            for _ in range(200):
                if src.dropped_chunks >= 3:
                    break
                await asyncio.sleep(0.01)
            got = [await asyncio.wait_for(src.read(), TIMEOUT_S) for _ in range(2)]
            assert src.dropped_chunks == 3
            assert got == [b"D", b"E"]
            assert src._queue.empty()

    run(main())


def test_tcp_server_keeps_newest_chunks_and_counts_drops():
    src = TCPServerSource(max_chunks=3)
    for k in range(7):
        src._put(bytes([48 + k]))
    assert src.dropped_chunks == 4
    assert [src._queue.get_nowait() for _ in range(3)] == [b"4", b"5", b"6"]
