"""NTRIP client and server against loopback casters replaying real captures.

The captures in ../shared/data are real caster output: two NTRIP 2.0 bodies
in chunked transfer coding (one with a gzip member per chunk), a complete
NTRIP 2.0 response from a BKG caster, and an igs-ip.net sourcetable.  The
expected payload is computed in the test with an independent, simple de-chunker
(and zlib), and cross-checked: the chunked and the chunked+gzip capture carry
the same bytes.
"""

from __future__ import annotations

import asyncio
import base64
import zlib

import pytest

from tests.conftest import data_path
from tests.streams.helpers import TIMEOUT_S, chunk, loopback_server, read_all, read_head, run
from vngeonet.errors import NTRIPError
from vngeonet.streams.ntrip_client import (
    ChunkedDecoder,
    GzipDecoder,
    NTRIPClientSource,
    fetch_sourcetable,
    make_gga,
    parse_sourcetable,
)
from vngeonet.streams.ntrip_server import NTRIPServerSink
from vngeonet.streams.uri import open_source


def _dechunk_oracle(body: bytes) -> bytes:
    out, i = [], 0
    while True:
        j = body.index(b"\r\n", i)
        n = int(body[i:j], 16)
        if n == 0:
            return b"".join(out)
        out.append(body[j + 2:j + 2 + n])
        i = j + 4 + n


def _gunzip_members(data: bytes) -> bytes:
    out = []
    while data:
        z = zlib.decompressobj(31)
        out.append(z.decompress(data))
        data = z.unused_data
    return b"".join(out)


def _serve_body(head: bytes, body: bytes, piece: int = 1500, seen: list | None = None):
    async def handler(reader, writer):
        req = await read_head(reader)
        if seen is not None:
            seen.append(req)
        writer.write(head)
        for i in range(0, len(body), piece):
            writer.write(body[i:i + piece])
            await writer.drain()
            await asyncio.sleep(0)
    return handler


HEAD2 = (b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\nServer: test\r\n"
         b"Content-Type: gnss/data\r\nTransfer-Encoding: chunked\r\n")


@pytest.mark.parametrize("name,gzip", [("ntrip_encode_chunked.bin", False),
                                       ("ntrip_encode_chunkedgzip.bin", True)])
def test_ntrip2_chunked_real_capture(name, gzip):
    body = data_path(f"pygnssutils/tests/{name}").read_bytes()
    expected = _dechunk_oracle(body)
    if gzip:
        expected = _gunzip_members(expected)
    plain = _dechunk_oracle(data_path("pygnssutils/tests/ntrip_encode_chunked.bin").read_bytes())
    assert expected == plain  # both captures carry the same RTCM stream
    head = HEAD2 + (b"Content-Encoding: gzip\r\n" if gzip else b"") + b"\r\n"
    seen: list = []

    async def main():
        async with loopback_server(_serve_body(head, body, 777, seen)) as port:
            src = open_source(f"ntrip://user:secret@127.0.0.1:{port}/MOUNT?v=2")
            async with src:
                got = await read_all(src)
            return got, src

    got, src = run(main())
    assert got == expected
    assert got[:1] == b"\xd3" and len(got) == 62960
    req = seen[0].decode()
    assert req.startswith("GET /MOUNT HTTP/1.1\r\n")
    assert "Ntrip-Version: Ntrip/2.0" in req
    assert "Authorization: Basic " + base64.b64encode(b"user:secret").decode() in req
    assert src.head.ntrip_version == 2


def test_ntrip2_bkg_full_response():
    raw = data_path("orekit/gnss/ntrip/RTCM3EPH01.dat").read_bytes()
    cut = raw.index(b"\r\n\r\n") + 4
    expected = _dechunk_oracle(raw[cut:])

    async def main():
        async with loopback_server(_serve_body(raw[:cut], raw[cut:], 333)) as port:
            async with NTRIPClientSource("127.0.0.1", port, "RTCM3EPH01", version=2) as src:
                return await read_all(src), src.head

    got, head = run(main())
    assert got == expected and len(got) == 30018
    assert head.headers["server"].startswith("NTRIP BKG Caster")


@pytest.mark.parametrize("after", [b"", b"\r\n", b"Server: x\r\n\r\n"])
def test_ntrip1_icy(after):
    payload = data_path("pygnssutils/tests/ntrip_encode_none.bin").read_bytes()
    seen: list = []

    async def main():
        async with loopback_server(_serve_body(b"ICY 200 OK\r\n" + after, payload, 1000, seen)) as port:
            async with open_source(f"ntrip://u:p@127.0.0.1:{port}/M1?v=1") as src:
                return await read_all(src)

    assert run(main()) == payload
    req = seen[0].decode()
    assert req.startswith("GET /M1 HTTP/1.0\r\n") and "Ntrip-Version" not in req


def test_ntrip1_icy_waits_for_gga():
    """A v1 VRS caster sends ``ICY 200 OK`` and then nothing until it has the rover's GGA."""
    gga = make_gga(21.0285, 105.8542, 25.0)

    async def handler(reader, writer):
        await read_head(reader)
        writer.write(b"ICY 200 OK\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), TIMEOUT_S)
        assert line.startswith(b"$GPGGA,")
        writer.write(b"\xd3\x00\x00\x47\xea\x4b" * 3)  # three empty RTCM frames
        await writer.drain()

    async def main():
        async with loopback_server(handler) as port:
            async with open_source(f"ntrip://u:p@127.0.0.1:{port}/VRS?v=1&gga=21.0285,105.8542,25") as s:
                return await read_all(s), s.gga_sent

    got, sent = run(main())
    assert got == b"\xd3\x00\x00\x47\xea\x4b" * 3 and sent == 1
    assert gga.startswith("$GPGGA,") and "2101.71000,N,10551.25200,E" in gga


def test_gga_upload_interval():
    lines = []

    async def handler(reader, writer):
        head = await read_head(reader)
        assert b"Ntrip-GGA: $GPGGA" in head
        writer.write(HEAD2.replace(b"Transfer-Encoding: chunked\r\n", b"") + b"\r\n")
        await writer.drain()
        for _ in range(3):
            lines.append(await asyncio.wait_for(reader.readline(), TIMEOUT_S))
        writer.write(b"done")
        await writer.drain()

    async def main():
        async with loopback_server(handler) as port:
            src = NTRIPClientSource("127.0.0.1", port, "NEAR", gga="$GPGGA,test*00", gga_interval_s=0.05)
            async with src:
                return await read_all(src)

    assert run(main()) == b"done"
    assert lines == [b"$GPGGA,test*00\r\n"] * 3


@pytest.mark.parametrize("answer,status", [
    (b"HTTP/1.1 401 Unauthorized\r\nNtrip-Version: Ntrip/2.0\r\n\r\n", 401),
    (b"SOURCETABLE 200 OK\r\nContent-Type: text/plain\r\n\r\nSTR;A;;\r\nENDSOURCETABLE\r\n", 404),
    (b"HTTP/1.1 200 OK\r\nContent-Type: gnss/sourcetable\r\n\r\nENDSOURCETABLE\r\n", 404),
    (b"garbage here\r\n\r\n", None),
])
def test_ntrip_refusals(answer, status):
    async def main():
        async with loopback_server(_serve_body(answer, b"")) as port:
            src = open_source(f"ntrip://u:bad@127.0.0.1:{port}/X?v=2")
            try:
                with pytest.raises(NTRIPError) as info:
                    await src.read()
            finally:
                await src.aclose()
            return info.value

    err = run(main())
    assert err.status == status


def test_sourcetable_real_file_and_download():
    text = data_path("orekit/gnss/ntrip/sourcetable-products.igs-ip.net.txt").read_text("latin-1")
    table = parse_sourcetable(text)
    n_str = sum(1 for line in text.splitlines() if line.startswith("STR;"))
    assert len(table.streams) == n_str > 10
    rec = table.streams[0]
    assert rec.mountpoint and rec.format
    body = text.encode("latin-1")

    async def main():
        head = b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\nContent-Type: gnss/sourcetable\r\n" \
               b"Transfer-Encoding: chunked\r\n\r\n"
        async with loopback_server(_serve_body(head, chunk(body, 500))) as port:
            return await fetch_sourcetable("127.0.0.1", port, timeout_s=TIMEOUT_S)

    got_text, got = run(main())
    assert got == table and got_text == text


def test_chunked_decoder_byte_by_byte():
    payload = bytes(range(256)) * 40
    enc = chunk(payload, 333)
    d = ChunkedDecoder()
    out = b"".join(d.feed(enc[i:i + 1]) for i in range(len(enc)))
    assert out == payload and d.done
    with pytest.raises(NTRIPError):
        ChunkedDecoder().feed(b"zz\r\n")


def test_gzip_decoder_split_members():
    data = [bytes([i]) * 500 for i in range(10)]
    enc = b"".join(zlib.compress(d, wbits=31) for d in data)
    g = GzipDecoder()
    out = b"".join(g.feed(enc[i:i + 7]) for i in range(0, len(enc), 7))
    assert out == b"".join(data)


class _FakeCaster:
    """Records what a base station pushes; accepts SOURCE (v1) and POST (v2)."""

    def __init__(self, password: str):
        self.password, self.heads, self.bodies = password, [], []

    async def __call__(self, reader, writer):
        head = await read_head(reader)
        self.heads.append(head)
        first = head.split(b"\r\n", 1)[0]
        if first.startswith(b"SOURCE "):
            if first.split()[1].decode() != self.password:
                writer.write(b"ERROR - Bad Password\r\n")
                return
            writer.write(b"ICY 200 OK\r\n")
            body = await asyncio.wait_for(reader.read(-1), TIMEOUT_S)
        else:
            cred = base64.b64encode(f":{self.password}".encode())
            if b"Authorization: Basic " + cred not in head:
                writer.write(b"HTTP/1.1 401 Unauthorized\r\n\r\n")
                return
            writer.write(b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\n\r\n")
            body = _dechunk_oracle(await asyncio.wait_for(reader.read(-1), TIMEOUT_S))
        self.bodies.append(body)


@pytest.mark.parametrize("version", [1, 2])
def test_ntrip_server_push_real_capture(version):
    payload = data_path("pygnssutils/tests/ntrip_encode_none.bin").read_bytes()
    caster = _FakeCaster("s3cret")

    async def main():
        async with loopback_server(caster) as port:
            async with NTRIPServerSink("127.0.0.1", port, "TEST", password="s3cret", version=version) as sink:
                for i in range(0, len(payload), 900):
                    await sink.write(payload[i:i + 900])
            for _ in range(100):
                if caster.bodies:
                    break
                await asyncio.sleep(0.02)

    run(main())
    assert caster.bodies == [payload]
    first = caster.heads[0].split(b"\r\n")[0]
    assert first == (b"SOURCE s3cret /TEST" if version == 1 else b"POST /TEST HTTP/1.1")


@pytest.mark.parametrize("version", [1, 2])
def test_ntrip_server_bad_password(version):
    async def main():
        async with loopback_server(_FakeCaster("right")) as port:
            sink = NTRIPServerSink("127.0.0.1", port, "TEST", password="wrong", version=version)
            with pytest.raises(NTRIPError) as info:
                await sink.open()
            await sink.aclose()
            return info.value

    err = run(main())
    assert err.status == (401 if version == 2 else None)


def test_truncated_chunked_capture_delivers_what_arrived():
    """ntrip_chunked.bin ends inside a chunk: everything up to the cut comes out, then end of stream."""
    body = data_path("pygnssutils/tests/ntrip_chunked.bin").read_bytes()
    expected, i = [], 0
    while True:  # independent de-chunker that keeps a partial last chunk
        j = body.find(b"\r\n", i)
        if j < 0:
            break
        n = int(body[i:j], 16)
        expected.append(body[j + 2:j + 2 + n])
        if j + 2 + n > len(body):
            break
        i = j + 4 + n
    expected = b"".join(expected)

    async def main():
        async with loopback_server(_serve_body(HEAD2 + b"\r\n", body, 1000)) as port:
            async with open_source(f"ntrip://127.0.0.1:{port}/M?v=2") as src:
                return await read_all(src)

    got = run(main())
    assert got == expected and len(got) > 22000


def test_oversized_head_and_silent_caster():
    async def huge(reader, writer):
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 40000 + b"\r\n\r\n")
        await writer.drain()

    async def silent(reader, writer):
        await read_head(reader)
        await asyncio.sleep(5)

    async def main():
        errors = []
        for handler, timeout in ((huge, 5.0), (silent, 0.3)):
            async with loopback_server(handler) as port:
                src = NTRIPClientSource("127.0.0.1", port, "M", timeout_s=timeout)
                try:
                    await src.read()
                except Exception as err:  # noqa: BLE001 - the type is what the test checks
                    errors.append(err)
                finally:
                    await src.aclose()
        return errors

    from vngeonet.errors import StreamError

    errs = run(main())
    assert len(errs) == 2 and isinstance(errs[0], NTRIPError) and isinstance(errs[1], StreamError)
