"""Sans-I/O request parser and chunked decoder (NTRIP 1.0, NTRIP 2.0 §3/§4, RFC 7230 §4.1)."""

import random

import pytest

from vngeonet.caster.request import ChunkedDecoder, RequestError, RequestParser, chunk

V1 = b"GET /TEST HTTP/1.0\r\nUser-Agent: NTRIP x/1\r\nAuthorization: Basic YWxpY2U6cHc=\r\n\r\n"
V2 = (b"GET /TEST HTTP/1.1\r\nHost: h\r\nNtrip-Version: Ntrip/2.0\r\nUser-Agent: NTRIP x/1\r\n"
      b"Ntrip-GGA: $GPGGA,1*00\r\nAuthorization: Basic YWxpY2U6cHc=\r\n\r\n")


def test_v1_get_with_basic_auth():
    r = RequestParser().feed(V1)
    assert (r.method, r.mount, r.http_version, r.ntrip_version) == ("GET", "TEST", "HTTP/1.0", 1)
    assert (r.user, r.password) == ("alice", "pw")


def test_v2_get_headers():
    r = RequestParser().feed(V2 + b"extra")
    assert r.ntrip_version == 2 and r.headers["ntrip-gga"] == "$GPGGA,1*00" and r.body == b"extra"


def test_byte_at_a_time():
    p = RequestParser()
    results = [p.feed(bytes([b])) for b in V2]
    assert all(x is None for x in results[:-1]) and results[-1].mount == "TEST"


def test_source_v1_and_bare_lf():
    r = RequestParser().feed(b"SOURCE secret /BASE\nSource-Agent: NTRIP x\nSTR: \n\n\xd3\x00")
    assert (r.method, r.mount, r.source_password, r.body) == ("SOURCE", "BASE", "secret", b"\xd3\x00")
    assert r.is_upload


def test_post_chunked_and_absolute_target():
    r = RequestParser().feed(b"POST http://h:2101/BASE HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert r.mount == "BASE" and r.chunked and r.is_upload


def test_sourcetable_and_query():
    r = RequestParser().feed(b"GET /?x=1 HTTP/1.1\r\n\r\n")
    assert r.mount == "" and r.query == "x=1"


@pytest.mark.parametrize("head, status", [
    (b"garbage line\r\n\r\n", 400),
    (b"GARBAGE\r\n\r\n", 405),
    (b"GET /TEST\r\n\r\n", 400),
    (b"GET /TEST HTTP/9.9\r\n\r\n", 400),
    (b"DELETE /TEST HTTP/1.1\r\n\r\n", 405),
    (b"GET /TEST HTTP/1.1\r\nNoColonHere\r\n\r\n", 400),
    (b"GET /TEST HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    (b"GET /TE\x01ST HTTP/1.1\r\n\r\n", 400),
    (b"SOURCE onlypassword\r\n\r\n", 400),
    (b"GET TEST HTTP/1.1\r\n\r\n", 400),
])
def test_malformed(head, status):
    with pytest.raises(RequestError) as ei:
        RequestParser().feed(head)
    assert ei.value.status == status


def test_oversized_head_is_refused_before_the_end():
    p = RequestParser(max_header_bytes=1024)
    p.feed(b"GET /TEST HTTP/1.1\r\n")
    with pytest.raises(RequestError) as ei:
        for _ in range(100):
            p.feed(b"X-Pad: " + b"a" * 50 + b"\r\n")
    assert ei.value.status == 431


def test_too_many_headers():
    head = b"GET / HTTP/1.1\r\n" + b"".join(b"X%d: 1\r\n" % i for i in range(100)) + b"\r\n"
    with pytest.raises(RequestError) as ei:
        RequestParser(max_headers=64).feed(head)
    assert ei.value.status == 431


def test_long_request_line():
    with pytest.raises(RequestError) as ei:
        RequestParser(max_line_bytes=100).feed(b"GET /" + b"A" * 200)
    assert ei.value.status == 414


def test_bad_basic_auth_is_no_credentials():
    r = RequestParser().feed(b"GET /T HTTP/1.0\r\nAuthorization: Basic !!!\r\n\r\n")
    assert r.user is None and r.password is None


def test_chunked_roundtrip_random_splits():
    rng = random.Random(7)
    parts = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(50)]
    wire = b"".join(chunk(p) for p in parts) + b"0\r\n\r\n"
    dec = ChunkedDecoder()
    out = bytearray()
    i = 0
    while i < len(wire):
        n = rng.randrange(1, 40)
        out += dec.feed(wire[i:i + n])
        i += n
    assert bytes(out) == b"".join(parts) and dec.done


@pytest.mark.parametrize("wire", [b"zz\r\nab\r\n", b"2\r\nabXX", b"9" * 100])
def test_chunked_malformed(wire):
    with pytest.raises(RequestError):
        ChunkedDecoder().feed(wire)
