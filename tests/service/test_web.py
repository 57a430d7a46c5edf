import asyncio
import json

from vngeonet.service.web import StatusServer


async def _get(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_status_json_page_and_errors():
    async def main():
        srv = StatusServer(lambda: {"stations": [{"id": "HANO", "up": True}], "rovers": 2}, port=0)
        await srv.start()
        try:
            st = await _get(srv.port, b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            head, body = st.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200")
            assert json.loads(body) == {"stations": [{"id": "HANO", "up": True}], "rovers": 2}
            page = await _get(srv.port, b"GET / HTTP/1.1\r\n\r\n")
            assert b"text/html" in page.split(b"\r\n\r\n")[0] and b"<table" in page
            assert (await _get(srv.port, b"GET /nope HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
            assert (await _get(srv.port, b"POST /status HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 405")
            assert (await _get(srv.port, b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 9000 + b"\r\n\r\n")
                    ).startswith(b"HTTP/1.1 431")
        finally:
            await srv.aclose()

    _run(main())


def test_status_failure_is_500_not_crash():
    def broken():
        raise RuntimeError("boom")

    async def main():
        srv = StatusServer(broken, port=0)
        await srv.start()
        try:
            assert (await _get(srv.port, b"GET /status HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 500")
            assert (await _get(srv.port, b"GET /health HTTP/1.1\r\n\r\n")).endswith(b"ok\n")
        finally:
            await srv.aclose()

    _run(main())


def test_slow_client_times_out():
    async def main():
        srv = StatusServer(dict, port=0, read_timeout_s=0.3)
        await srv.start()
        try:
            reply = await _get(srv.port, b"GET /status HTTP/1.1\r\n")  # never finishes its head
            assert reply.startswith(b"HTTP/1.1 408")
        finally:
            await srv.aclose()

    _run(main())
