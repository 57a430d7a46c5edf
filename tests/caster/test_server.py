"""End-to-end caster tests on loopback port 0 with real RTCM captures.

Clients: raw sockets (NTRIP 1 and 2), curl (v1 and v2), pygnssutils'
GNSSNTRIPClient, and the project's own NTRIPClientSource / NTRIPServerSink.
The bytes every rover receives must equal the source's whole frames, in order.
"""

import asyncio
import datetime as dt
import json
import queue
import shutil
import ssl
import subprocess

import pytest

from tests.caster.helpers import (
    PASSWORDS,
    SOURCE_PW,
    T,
    basic,
    gga,
    make_config,
    make_store,
    open_rover,
    open_source,
    read_head,
    read_stream,
    real_frames,
    run,
    running_caster,
    wait_for,
)
from tests.conftest import data_path
from vngeonet.rtcm.framer import RTCMFramer

NONE_BIN = "pygnssutils/tests/ntrip_encode_none.bin"
MIXED_LOG = "pygnssutils/tests/pygpsdata-rtcm3.log"


async def _push(writer, data: bytes, step: int = 997, chunked: bool = False):
    for i in range(0, len(data), step):
        part = data[i:i + step]
        writer.write(b"%x\r\n%b\r\n" % (len(part), part) if chunked else part)
        await asyncio.wait_for(writer.drain(), T)


def test_source_v1_to_raw_rovers_v1_and_v2():
    frames = real_frames(data_path(NONE_BIN))
    expected = b"".join(f.raw for f in frames)

    async def main():
        async with running_caster() as c:
            _sr, sw, head = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            assert head == b"ICY 200 OK\r\n"
            r1, _w1, h1 = await open_rover(c.port, "TEST", "alice", PASSWORDS["alice"], version=1)
            r2, _w2, h2 = await open_rover(c.port, "TEST", "alice", PASSWORDS["alice"], version=2)
            assert h1 == b"ICY 200 OK\r\n\r\n"
            assert h2.startswith(b"HTTP/1.1 200 OK\r\n") and b"Ntrip-Version: Ntrip/2.0\r\n" in h2
            assert b"Transfer-Encoding: chunked\r\n" in h2 and b"Content-Type: gnss/data\r\n" in h2
            await _push(sw, expected)
            got1 = await read_stream(r1, len(expected), chunked=False)
            got2 = await read_stream(r2, len(expected), chunked=True)
            assert got1 == expected and got2 == expected
            sw.close()
            # source gone: rovers are closed (v2 with the last chunk), mount leaves the table
            assert await asyncio.wait_for(r1.read(), T) == b""
            assert (await asyncio.wait_for(r2.read(), T)).endswith(b"0\r\n\r\n")
            await wait_for(lambda: not c.mounts["TEST"].live)

    run(main())


@pytest.mark.parametrize("chunked", [True, False])
def test_post_v2_mixed_stream_relays_only_whole_rtcm_frames(chunked):
    # pygpsdata-rtcm3.log interleaves NMEA and UBX with RTCM: rovers get the RTCM frames only.
    path = data_path(MIXED_LOG)
    data = path.read_bytes()
    expected = b"".join(f.raw for f in real_frames(path))

    async def main():
        async with running_caster() as c:
            _sr, sw, head = await open_source(c.port, "TEST", SOURCE_PW, version=2, chunked=chunked)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Ntrip-Version: Ntrip/2.0" in head
            r, _w, _ = await open_rover(c.port, "TEST", "alice", PASSWORDS["alice"], version=2)
            await _push(sw, data, step=1400, chunked=chunked)
            got = await read_stream(r, len(expected), chunked=True)
            assert got == expected
            if chunked:
                sw.write(b"0\r\n\r\n")
                await sw.drain()
                await wait_for(lambda: not c.mounts["TEST"].live)

    run(main())


def _curl(args, timeout=20):
    if shutil.which("curl") is None:
        pytest.skip("curl not installed (apt-get install curl)")
    return asyncio.create_subprocess_exec("curl", "-sS", "--max-time", str(timeout), *args,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("version", [1, 2])
def test_curl_rover(version):
    frames = real_frames(data_path(NONE_BIN))
    expected = b"".join(f.raw for f in frames)

    async def main():
        async with running_caster() as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            url = f"http://127.0.0.1:{c.port}/TEST"
            extra = ["-H", "Ntrip-Version: Ntrip/2.0"] if version == 2 else ["--http0.9", "-0"]
            proc = await _curl(["-u", f"alice:{PASSWORDS['alice']}", *extra, url])
            await wait_for(lambda: len(c.mounts["TEST"].clients) == 1)
            await _push(sw, expected)
            await wait_for(lambda: c.status()["sessions"][0]["bytes"] == len(expected))
            sw.close()
            out, err = await asyncio.wait_for(proc.communicate(), T)
            # NTRIP 1 is not HTTP: curl needs --http0.9 and then prints the ICY head too
            assert out == (b"ICY 200 OK\r\n\r\n" if version == 1 else b"") + expected, err
            # sourcetable through curl, NTRIP 2
            proc = await _curl(["-H", "Ntrip-Version: Ntrip/2.0", f"http://127.0.0.1:{c.port}/"])
            out, _ = await asyncio.wait_for(proc.communicate(), T)
            assert out.endswith(b"ENDSOURCETABLE\r\n")

    run(main())


def test_curl_wrong_password_gets_401():
    async def main():
        async with running_caster() as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            proc = await _curl(["-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:nope",
                                "-H", "Ntrip-Version: Ntrip/2.0", f"http://127.0.0.1:{c.port}/TEST"])
            out, _ = await asyncio.wait_for(proc.communicate(), T)
            assert out == b"401"
            sw.close()

    run(main())


def test_pygnssutils_client():
    pygnssutils = pytest.importorskip("pygnssutils")
    frames = real_frames(data_path(NONE_BIN))
    raws = [f.raw for f in frames]

    async def main():
        async with running_caster() as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=2, chunked=False)
            out = queue.Queue()
            client = pygnssutils.GNSSNTRIPClient()
            await asyncio.to_thread(
                client.run, server="127.0.0.1", port=c.port, https=0, mountpoint="TEST", version="2.0",
                datatype="RTCM", ntripuser="alice", ntrippassword=PASSWORDS["alice"], ggainterval=-1,
                output=out)
            try:
                await wait_for(lambda: len(c.mounts["TEST"].clients) == 1)
                # pygnssutils drops the first read after the header: send a first epoch, then the rest
                for i, raw in enumerate(raws):
                    sw.write(raw)
                    await sw.drain()
                    if i == 0:
                        await asyncio.sleep(0.3)
                    elif i % 20 == 0:
                        await asyncio.sleep(0.01)
                got = []
                async with asyncio.timeout(T):
                    while len(got) < len(raws) - 1:
                        try:
                            got.append(out.get_nowait()[0])
                        except queue.Empty:
                            await asyncio.sleep(0.02)
            finally:
                await asyncio.to_thread(client.stop)
            # whole frames, in order: a contiguous run of the source's frames
            k = raws.index(got[0])
            assert got == raws[k:k + len(got)] and k <= 1

    run(main(), timeout=40)


def test_own_client_and_server_drivers():
    from vngeonet.streams.ntrip_client import NTRIPClientSource, fetch_sourcetable
    from vngeonet.streams.ntrip_server import NTRIPServerSink

    frames = real_frames(data_path(NONE_BIN))
    expected = b"".join(f.raw for f in frames)

    async def main():
        async with running_caster() as c:
            for version in (1, 2):
                sink = NTRIPServerSink("127.0.0.1", c.port, "TEST", password=SOURCE_PW, version=version)
                await asyncio.wait_for(sink.open(), T)
                _, table = await fetch_sourcetable("127.0.0.1", c.port, version=version)
                assert table.find("TEST") is not None and table.find("TEST").nmea in (False, 0)
                rover = NTRIPClientSource("127.0.0.1", c.port, "TEST", user="alice",
                                          password=PASSWORDS["alice"], version=version)
                await asyncio.wait_for(rover.open(), T)
                for i in range(0, len(expected), 1500):
                    await asyncio.wait_for(sink.write(expected[i:i + 1500]), T)
                got = bytearray()
                async with asyncio.timeout(T):
                    while len(got) < len(expected):
                        got += await rover.read()
                assert bytes(got) == expected
                await asyncio.wait_for(rover.aclose(), T)
                await asyncio.wait_for(sink.aclose(), T)
                await wait_for(lambda: not c.mounts["TEST"].live)

    run(main())


def test_sourcetable_v1_v2_and_down_mount():
    frames = real_frames(data_path(MIXED_LOG))

    async def main():
        async with running_caster() as c:
            r, w, head = await open_rover(c.port, "", version=1)
            assert head.startswith(b"SOURCETABLE 200 OK\r\n")
            body = await asyncio.wait_for(r.read(), T)
            assert b"STR;TEST" not in body and body.endswith(b"ENDSOURCETABLE\r\n")
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            await _push(sw, b"".join(f.raw for f in frames[:70]))
            await wait_for(lambda: c.mounts["TEST"].frames == 70)
            r, w, head = await open_rover(c.port, "", version=2)
            assert b"Content-Type: gnss/sourcetable" in head
            body = (await asyncio.wait_for(r.read(), T)).decode()
            test = next(ln for ln in body.split("\r\n") if ln.startswith("STR;TEST;"))
            assert ";1005" in test and "GPS+GLO+GAL+BDS" in test and ";32.07;34.77;" in test
            # unknown / down mountpoint: v1 gets the sourcetable, v2 a 404
            r, w, head = await open_rover(c.port, "NORTH", "alice", PASSWORDS["alice"], version=1)
            assert head.startswith(b"SOURCETABLE 200 OK")
            r, _w, head = await open_rover(c.port, "NOPE", "alice", PASSWORDS["alice"], version=2)
            assert head.startswith(b"HTTP/1.1 404 ")
            sw.close()

    run(main())


def test_open_mount_needs_no_login_and_session_log():
    frames = real_frames(data_path(NONE_BIN))[:40]
    expected = b"".join(f.raw for f in frames)

    async def main():
        store = make_store()
        async with running_caster(store=store) as c:
            _sr, sw, _ = await open_source(c.port, "OPEN", "open-src", version=1)
            r, w, head = await open_rover(c.port, "OPEN", version=1)
            assert head == b"ICY 200 OK\r\n\r\n"
            w.write(gga(21.0, 105.8) + gga(21.0, 105.9))
            await w.drain()
            await _push(sw, expected)
            assert await read_stream(r, len(expected), chunked=False) == expected
            await wait_for(lambda: c.status()["sessions"] and c.status()["sessions"][0]["gga_count"] == 2)
            w.close()
            await wait_for(lambda: len(store.sessions()) >= 1)
            sw.close()
            await wait_for(lambda: len(store.sessions()) >= 2)
        rover = next(s for s in store.sessions() if s.kind == "rover")
        assert (rover.mount, rover.ip, rover.bytes_sent, rover.gga_count) == ("OPEN", "127.0.0.1", len(expected), 2)
        assert dt.datetime.fromisoformat(rover.end) >= dt.datetime.fromisoformat(rover.start)
        source = next(s for s in store.sessions() if s.kind == "source")
        assert source.mount == "OPEN" and source.bytes_sent == len(expected)

    run(main())


def test_nearest_switches_station_and_hooks_get_positions():
    north = real_frames(data_path(NONE_BIN))[:60]
    south = real_frames(data_path(MIXED_LOG))[:60]

    async def main():
        async with running_caster() as c:
            seen = []
            c.hooks.register(seen.append)
            # station positions come from config here (lat/lon); the streams carry other ARPs,
            # so strip 1005/1006 to keep the configured positions
            n_frames = [f for f in north if f.msg_type not in (1005, 1006)]
            s_frames = [f for f in south if f.msg_type not in (1005, 1006)]
            _nr, nw, _ = await open_source(c.port, "NORTH", "north-src", version=1)
            sr_, sw_, _ = await open_source(c.port, "SOUTH", "south-src", version=2, chunked=False)
            await wait_for(lambda: c.mounts["NORTH"].live and c.mounts["SOUTH"].live)
            r, w, head = await open_rover(c.port, "NEAREST", "alice", PASSWORDS["alice"], version=2,
                                          extra="Ntrip-GGA: " + gga(21.1, 105.7).decode())
            assert head.startswith(b"HTTP/1.1 200 OK")
            await wait_for(lambda: len(c.mounts["NORTH"].clients) == 1)
            a = b"".join(f.raw for f in n_frames[:20])
            await _push(nw, a)
            assert await read_stream(r, len(a), chunked=True) == a
            w.write(gga(10.9, 106.6))  # rover drove south
            await w.drain()
            await wait_for(lambda: len(c.mounts["SOUTH"].clients) == 1 and not c.mounts["NORTH"].clients)
            b = b"".join(f.raw for f in s_frames[:20])
            await _push(nw, b"".join(f.raw for f in n_frames[20:]))  # no longer for this rover
            await _push(sw_, b)
            assert await read_stream(r, len(b), chunked=True) == b
            # SOUTH goes down: the rover falls back to NORTH without reconnecting
            sw_.close()
            await wait_for(lambda: len(c.mounts["NORTH"].clients) == 1)
            assert [round(p.position.lat_deg, 1) for p in seen] == [21.1, 10.9]
            assert seen[-1].user == "alice" and seen[-1].mount == "NEAREST" and seen[-1].gga_count == 2
            nw.close()

    run(main())


def test_nearest_without_gga_times_out():
    async def main():
        async with running_caster(make_config(gga_timeout_s=0.3)) as c:
            _nr, nw, _ = await open_source(c.port, "NORTH", "north-src", version=1)
            r, _w, head = await open_rover(c.port, "NEAREST", "alice", PASSWORDS["alice"], version=1)
            assert head == b"ICY 200 OK\r\n\r\n"
            assert await asyncio.wait_for(r.read(), T) == b""
            nw.close()

    run(main())


def test_admin_status():
    async def main():
        async with running_caster() as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            for user, code in (("alice", b"403"), ("root", b"200")):
                r, w = await asyncio.open_connection("127.0.0.1", c.port)
                w.write(f"GET /admin/status HTTP/1.1\r\nNtrip-Version: Ntrip/2.0\r\n{basic(user, PASSWORDS[user])}\r\n"
                        .encode())
                head = await read_head(r)
                assert head.split(b" ")[1] == code
                if code == b"200":
                    status = json.loads(await asyncio.wait_for(r.read(), T))
                    assert status["mounts"]["TEST"]["live"] and status["mounts"]["TEST"]["source_ip"] == "127.0.0.1"
                    assert "failed_logins" in status["counters"]
            r, w, head = await open_rover(c.port, "admin/status", version=2)
            assert head.startswith(b"HTTP/1.1 401")
            sw.close()

    run(main())


def test_tls_port(tmp_path):
    cryptography = pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    client_ctx = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
    assert cryptography

    async def main():
        async with running_caster(ssl_context=server_ctx) as c:
            assert c.tls_port and c.tls_port != c.port
            r, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", c.tls_port, ssl=client_ctx, server_hostname="localhost"), T)
            w.write(b"GET / HTTP/1.1\r\nNtrip-Version: Ntrip/2.0\r\n\r\n")
            head = await read_head(r)
            assert head.startswith(b"HTTP/1.1 200 OK") and b"gnss/sourcetable" in head
            w.close()

    run(main())


def test_graceful_shutdown_order():
    frames = real_frames(data_path(NONE_BIN))
    data = b"".join(f.raw for f in frames[:50])

    async def main():
        c_cm = running_caster()
        c = await c_cm.__aenter__()
        sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
        r, _w, _ = await open_rover(c.port, "TEST", "alice", PASSWORDS["alice"], version=2)
        await _push(sw, data)
        await wait_for(lambda: c.mounts["TEST"].frames == 50)
        await c_cm.__aexit__(None, None, None)
        # the rover got everything, then the terminating chunk; the source was closed
        rest = await asyncio.wait_for(r.read(), T)
        from vngeonet.caster.request import ChunkedDecoder

        dec = ChunkedDecoder()
        assert dec.feed(rest) == data and dec.done
        assert (await asyncio.wait_for(sr.read(), T)).strip() == b""  # "\r\n" ends the ICY head
        with pytest.raises(OSError):
            await asyncio.wait_for(asyncio.open_connection("127.0.0.1", c.port), T)

    run(main())


def test_framer_is_the_projects():
    from vngeonet.caster.server import NTRIPCaster

    c = NTRIPCaster(make_config(), make_store())
    assert isinstance(c._framer_factory(), RTCMFramer)


def test_pulled_source_from_an_upstream_caster():
    import dataclasses

    from vngeonet.caster.config import MountConfig

    frames = real_frames(data_path(NONE_BIN))
    first = b"".join(f.raw for f in frames[:40])

    async def main():
        async with running_caster() as upstream:
            _sr, sw, _ = await open_source(upstream.port, "TEST", SOURCE_PW, version=1)
            uri = f"ntrip://alice:{PASSWORDS['alice']}@127.0.0.1:{upstream.port}/TEST?v=2"
            base = make_config(source_idle_s=2.0)
            cfg = dataclasses.replace(base, mounts=base.mounts + (MountConfig("PULLED", None, auth="N", pull=uri),))
            async with running_caster(cfg) as c:
                await wait_for(lambda: len(upstream.mounts["TEST"].clients) == 1)
                await _push(sw, frames[0].raw)  # the pulled mount goes live with its first whole frame
                await wait_for(lambda: c.mounts["PULLED"].live)
                r, _w, head = await open_rover(c.port, "PULLED", version=2)
                assert head.startswith(b"HTTP/1.1 200")
                skip = c.mounts["PULLED"].bytes_in
                await _push(sw, first[len(frames[0].raw):])
                assert await read_stream(r, len(first) - skip, chunked=True) == first[skip:]
                sw.close()  # upstream source gone: the pulled mount leaves the table
                await wait_for(lambda: not c.mounts["PULLED"].live)
                # and a SOURCE push cannot take a pulled mountpoint without a password
                out = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", c.port), T)
                out[1].write(b"SOURCE x /PULLED\r\n\r\n")
                assert await asyncio.wait_for(out[0].read(), T) == b"ERROR - Bad Password\r\n"

    run(main())
