"""``vngeonet ntrip get|push`` end to end against loopback casters (in a thread)."""

from __future__ import annotations

import asyncio
import base64
import threading

import pytest

from tests.conftest import data_path
from vngeonet.cli.main import main


class ThreadedCaster:
    """A tiny caster in its own thread: serves ``body`` to GET, records SOURCE/POST uploads."""

    def __init__(self, get_head: bytes = b"", body: bytes = b""):
        self.get_head, self.body = get_head, body
        self.requests: list[bytes] = []
        self.uploads: list[bytes] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _handle(self, reader, writer):
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            self.requests.append(head)
            if head.startswith((b"SOURCE", b"POST")):
                writer.write(b"ICY 200 OK\r\n" if head.startswith(b"SOURCE")
                             else b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\n\r\n")
                await writer.drain()
                self.uploads.append(await asyncio.wait_for(reader.read(-1), 30))
            else:
                writer.write(self.get_head + self.body)
                await writer.drain()
        finally:
            writer.close()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _dechunk(body: bytes) -> bytes:
    out, i = [], 0
    while True:
        j = body.index(b"\r\n", i)
        n = int(body[i:j], 16)
        if n == 0:
            return b"".join(out)
        out.append(body[j + 2:j + 2 + n])
        i = j + 4 + n


def test_ntrip_get_to_file(tmp_path, capsys):
    body = data_path("pygnssutils/tests/ntrip_encode_chunked.bin").read_bytes()
    head = b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\nTransfer-Encoding: chunked\r\n\r\n"
    out = tmp_path / "out.rtcm"
    with ThreadedCaster(head, body) as c:
        rc = main(["ntrip", "get", f"ntrip://u:p@127.0.0.1:{c.port}/M?v=2", "-o", str(out)])
    assert rc == 0
    assert out.read_bytes() == _dechunk(body)
    assert b"Ntrip-Version: Ntrip/2.0" in c.requests[0]


def test_ntrip_get_sourcetable(capsys):
    text = data_path("orekit/gnss/ntrip/sourcetable-products.igs-ip.net.txt").read_bytes()
    head = b"SOURCETABLE 200 OK\r\nContent-Type: text/plain\r\n\r\n"
    with ThreadedCaster(head, text) as c:
        rc = main(["ntrip", "get", f"ntrip://127.0.0.1:{c.port}/?v=1", "--sourcetable"])
    assert rc == 0
    cap = capsys.readouterr()
    assert cap.out.count("STR;") == text.count(b"STR;") and "streams" in cap.err


@pytest.mark.parametrize("version", [1, 2])
def test_ntrip_push_file(version):
    path = data_path("pygnssutils/tests/pygpsdata-rtcm3.log")
    from vngeonet.streams.demux import Demuxer

    frames = b"".join(p.raw for p in Demuxer().feed(path.read_bytes()))
    with ThreadedCaster() as c:
        rc = main(["ntrip", "push", str(path), f"ntrip://:pw@127.0.0.1:{c.port}/TEST?v={version}",
                   "--speed", "0"])
        for _ in range(200):
            if c.uploads:
                break
            threading.Event().wait(0.02)
    assert rc == 0
    got = c.uploads[0] if version == 1 else _dechunk(c.uploads[0])
    assert got == path.read_bytes()  # unpaced: byte for byte
    first = c.requests[0].split(b"\r\n")[0]
    if version == 1:
        assert first == b"SOURCE pw /TEST"
    else:
        assert first == b"POST /TEST HTTP/1.1"
        assert b"Basic " + base64.b64encode(b":pw") in c.requests[0]
    assert frames  # the paced mode sends these (see tests/streams/test_file.py)


def test_ntrip_push_paced_fast():
    path = data_path("pygnssutils/tests/pygpsdata-rtcm3.log")
    from vngeonet.streams.demux import Demuxer

    frames = b"".join(p.raw for p in Demuxer().feed(path.read_bytes()))
    with ThreadedCaster() as c:
        rc = main(["ntrip", "push", str(path), f"ntrip://:pw@127.0.0.1:{c.port}/TEST?v=2", "--speed", "200"])
        for _ in range(200):
            if c.uploads:
                break
            threading.Event().wait(0.02)
    assert rc == 0 and _dechunk(c.uploads[0]) == frames


def test_ntrip_push_missing_file(capsys):
    rc = main(["ntrip", "push", "/nonexistent.rtcm", "ntrip://:pw@127.0.0.1:1/TEST"])
    assert rc == 1 and "no such file" in capsys.readouterr().err
