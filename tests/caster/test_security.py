"""Hostile and broken peers: the caster refuses cleanly and keeps serving."""

import asyncio
import errno
import socket

import pytest

from tests.caster.helpers import (
    PASSWORDS,
    SOURCE_PW,
    T,
    basic,
    make_config,
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

NONE_BIN = "pygnssutils/tests/ntrip_encode_none.bin"


async def _still_serving(port: int) -> None:
    r, w, head = await open_rover(port, "", version=2)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert (await asyncio.wait_for(r.read(), T)).endswith(b"ENDSOURCETABLE\r\n")
    w.close()


async def _raw(port: int, data: bytes) -> bytes:
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), T)
    w.write(data)
    await w.drain()
    try:
        return await asyncio.wait_for(r.read(), T)
    finally:
        w.close()


def test_wrong_passwords_and_no_access():
    async def main():
        async with running_caster() as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            for version in (1, 2):
                for user, pw, status in (("alice", "wrong", b"401"), ("nobody", "x", b"401"),
                                         (None, None, b"401"), ("bob", PASSWORDS["bob"], b"403"),
                                         ("old", PASSWORDS["old"], b"403")):
                    _r, w, head = await open_rover(c.port, "TEST", user, pw, version=version)
                    assert head.split(b" ")[1] == status, (version, user, head)
                    if status == b"401":
                        assert b'WWW-Authenticate: Basic realm="/TEST"' in head
                    assert head.startswith(b"HTTP/1.1 " if version == 2 else b"HTTP/1.0 ")
                    w.close()
            # per-user connection limit (solo: 1)
            _r1, _w1, h1 = await open_rover(c.port, "TEST", "solo", PASSWORDS["solo"], version=2)
            _r2, _w2, h2 = await open_rover(c.port, "TEST", "solo", PASSWORDS["solo"], version=2)
            assert h1.startswith(b"HTTP/1.1 200") and h2.startswith(b"HTTP/1.1 403")
            # sources: wrong password, wrong mount, mount already taken
            assert await _raw(c.port, b"SOURCE bad /TEST\r\n\r\n") == b"ERROR - Bad Password\r\n"
            assert await _raw(c.port, b"SOURCE x /NOPE\r\n\r\n") == b"ERROR - Mount Point Invalid\r\n"
            assert await _raw(c.port, f"SOURCE {SOURCE_PW} /TEST\r\n\r\n".encode()) == b"ERROR - Mount Point Taken\r\n"
            post = b"POST /TEST HTTP/1.1\r\nNtrip-Version: Ntrip/2.0\r\n" + basic("x", "bad").encode() + b"\r\n"
            assert (await _raw(c.port, post)).startswith(b"HTTP/1.1 401 Unauthorized\r\n")
            await _still_serving(c.port)
            sw.close()

    run(main())


@pytest.mark.parametrize("data, status", [
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"400"),  # TLS hello on the plain port
    (b"GET /TEST HTTP/1.1 extra\r\n\r\n", b"400"),
    (b"GET\r\n\r\n", b"400"),
    (b"FOO /TEST HTTP/1.1\r\n\r\n", b"405"),
    (b"GET /TEST HTTP/1.1\r\n: novalue\r\n\r\n", b"400"),
    (b"POST /TEST HTTP/1.1\r\nNtrip-Version: Ntrip/2.0\r\n" + basic("s", SOURCE_PW).encode()
     + b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\n", b"200"),  # accepted, then dropped on the bad chunk
])
def test_malformed_requests(data, status):
    async def main():
        async with running_caster() as c:
            out = await _raw(c.port, data)
            assert out.split(b" ")[1] == status
            assert not c.mounts["TEST"].live
            await _still_serving(c.port)

    run(main())


def test_oversized_header():
    async def main():
        async with running_caster(make_config(max_header_bytes=4096)) as c:
            head = b"GET /TEST HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 8000 + b"\r\n\r\n"
            out = await _raw(c.port, head)
            assert out.startswith(b"HTTP/1.0 431 ")
            assert c.counters["bad_requests"] == 1
            await _still_serving(c.port)

    run(main())


def test_slowloris():
    async def main():
        async with running_caster(make_config(header_timeout_s=0.5)) as c:
            async def slow():
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", c.port), T)
                answer = asyncio.create_task(r.read())
                try:
                    for b in b"GET /TEST HTTP/1.1\r\nX-A: " + b"a" * 100:
                        if answer.done():
                            break
                        w.write(bytes([b]))
                        await w.drain()
                        await asyncio.sleep(0.05)
                except ConnectionError:
                    pass
                return await asyncio.wait_for(answer, T)

            tasks = [asyncio.create_task(slow()) for _ in range(50)]
            await asyncio.sleep(0.1)
            await _still_serving(c.port)  # not starved by 50 trickling clients
            outs = await asyncio.wait_for(asyncio.gather(*tasks), T)
            assert all(o.startswith(b"HTTP/1.0 408 ") for o in outs)
            assert c.counters["header_timeouts"] == 50

    run(main())


def test_10000_failed_logins_from_one_address():
    n, workers = 10_000, 50

    async def main():
        async with running_caster(make_config(max_failures=10, lockout_s=60.0, max_connections_per_ip=workers + 8)) as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            req = (b"GET /TEST HTTP/1.1\r\nNtrip-Version: Ntrip/2.0\r\n" + basic("alice", "guess").encode() + b"\r\n")
            codes: dict = {}

            async def attacker(k):
                for _ in range(k):
                    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", c.port), T)
                    w.write(req)
                    head = await read_head(r)
                    code = head.split(b" ")[1]
                    codes[code] = codes.get(code, 0) + 1
                    w.close()

            await asyncio.wait_for(asyncio.gather(*(attacker(n // workers) for _ in range(workers))), 60)
            assert sum(codes.values()) == n
            # at most one window's worth of real password checks, the rest refused up front
            assert codes.get(b"401", 0) <= 10 + workers and codes[b"429"] >= n - 10 - workers
            assert c.limiter.snapshot()["locked_ips"] == 1
            # even the right password is refused from that address while it is locked out
            _r, w, head = await open_rover(c.port, "TEST", "alice", PASSWORDS["alice"], version=2)
            assert head.startswith(b"HTTP/1.1 429 ") and b"Retry-After: " in head
            w.close()
            await _still_serving(c.port)  # the service stays up
            sw.close()

    run(main(), timeout=90)


def test_source_killed_mid_frame():
    frames = real_frames(data_path(NONE_BIN))
    whole = b"".join(f.raw for f in frames[:30])
    half = frames[30].raw[: len(frames[30].raw) // 2]

    async def main():
        async with running_caster() as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            r, _w, _ = await open_rover(c.port, "TEST", "alice", PASSWORDS["alice"], version=1)
            sw.write(whole + half)
            await sw.drain()
            await wait_for(lambda: c.mounts["TEST"].frames == 30)
            sw.transport.abort()  # RST, mid-frame
            got = await asyncio.wait_for(r.read(), T)  # read to EOF: the rover is closed with the source
            assert got == whole
            await wait_for(lambda: not c.mounts["TEST"].live)
            # the mountpoint can be taken again and starts clean
            _sr2, sw2, head = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            assert head == b"ICY 200 OK\r\n"
            r2, _w2, _ = await open_rover(c.port, "TEST", "alice", PASSWORDS["alice"], version=1)
            rest = b"".join(f.raw for f in frames[30:60])
            sw2.write(rest)
            await sw2.drain()
            assert await read_stream(r2, len(rest), chunked=False) == rest
            sw2.close()

    run(main())


def test_slow_client_memory_is_bounded_and_fast_client_unaffected():
    frames = real_frames(data_path(NONE_BIN))
    data = b"".join(f.raw for f in frames) * 40  # ~2.5 MB
    qmax, mark = 32768, 8192

    async def main():
        async with running_caster(make_config(client_queue_bytes=qmax, write_buffer_bytes=mark)) as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", c.port)), T)
            slow_r, slow_w = await asyncio.open_connection(sock=sock)
            slow_w.write(b"GET /TEST HTTP/1.0\r\n" + basic("alice", PASSWORDS["alice"]).encode() + b"\r\n")
            await read_head(slow_r)
            slow_r._transport.pause_reading()  # never read again
            fast_r, _fast_w, _ = await open_rover(c.port, "TEST", "alice", PASSWORDS["alice"], version=2)
            fast = asyncio.create_task(read_stream(fast_r, len(data), chunked=True, timeout=30))
            biggest = 0
            for i in range(0, len(data), 4096):
                sw.write(data[i:i + 4096])
                await sw.drain()
                for s in c._sessions.values():
                    biggest = max(biggest, s.queue.pending_bytes + s.queue.transport.get_write_buffer_size())
                await asyncio.sleep(0)
            assert await asyncio.wait_for(fast, 30) == data
            await wait_for(lambda: c.counters["slow_disconnects"] == 1)
            # memory per client never exceeded queue + socket mark + one read's blob
            assert biggest <= qmax + mark + 2 * 65536
            sw.close()
            slow_w.close()

    run(main(), timeout=60)


def test_connections_per_ip_and_total():
    async def main():
        async with running_caster(make_config(max_connections_per_ip=3)) as c:
            conns = [await asyncio.wait_for(asyncio.open_connection("127.0.0.1", c.port), T) for _ in range(3)]
            await wait_for(lambda: c._n_conn == 3)
            out = await _raw(c.port, b"GET / HTTP/1.1\r\n\r\n")
            assert out.startswith(b"HTTP/1.0 503 ") and c.counters["rejected_ip"] == 1
            for _, w in conns:
                w.close()
            await wait_for(lambda: c._n_conn == 0)
            await _still_serving(c.port)

    run(main())


def test_accept_errors_back_off():
    async def main():
        loop = asyncio.get_running_loop()
        real = loop.sock_accept
        failures = [errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM]

        async def flaky(sock):
            if failures:
                await asyncio.sleep(0)
                raise OSError(failures.pop(0), "simulated")
            return await real(sock)

        loop.sock_accept = flaky
        try:
            async with running_caster() as c:
                await _still_serving(c.port)
                assert c.counters["accept_errors"] == 4
        finally:
            del loop.sock_accept

    run(main())


def test_password_checks_are_shed_when_too_many_queue():
    async def main():
        async with running_caster() as c:
            sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            c._MAX_VERIFY_WAITING = 0  # as if 256 slow checks were already waiting
            r, w, head = await open_rover(c.port, "TEST", "alice", "another guess", version=2)
            assert head.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 5" in head
            w.close()
            sw.close()

    run(main())


def test_a_burst_sharing_one_password_waits_on_one_check():
    """Identical checks in flight are coalesced: they take no queue slot, all succeed, one hash computed."""
    import time

    from tests.caster.helpers import PASSWORDS

    async def main():
        async with running_caster() as c:
            _sr, sw, _ = await open_source(c.port, "TEST", SOURCE_PW, version=1)
            c._MAX_VERIFY_WAITING = 1  # only one check may queue: the burst must not need more
            calls = []
            from vngeonet.caster import server

            real = server.verify_password

            def counted(password, stored):  # a slow check (runs in a thread): the burst arrives meanwhile
                calls.append(password)
                time.sleep(0.3)
                return real(password, stored)

            server.verify_password = counted
            try:
                rovers = await asyncio.gather(*(open_rover(c.port, "TEST", "alice", PASSWORDS["alice"])
                                                for _ in range(20)))
            finally:
                server.verify_password = real
            assert [h for _r, _w, h in rovers] == [b"ICY 200 OK\r\n\r\n"] * 20
            assert len(calls) == 1
            for _r, w, _h in rovers:
                w.close()
            sw.close()

    run(main())
