"""Stream URI syntax."""

from __future__ import annotations

import pytest

from vngeonet.errors import ConfigError
from vngeonet.streams.file import FileSource
from vngeonet.streams.ntrip_client import NTRIPClientSource
from vngeonet.streams.serial import SerialSource
from vngeonet.streams.tcp import TCPClientSource, TCPServerSource
from vngeonet.streams.udp import UDPSource
from vngeonet.streams.uri import open_sink, open_source, parse_uri


def test_parse_each_scheme():
    u = parse_uri("serial:///dev/ttyUSB0?baud=115200&parity=E&rtscts=1")
    assert (u.scheme, u.path, u.param("baud", kind=int), u.param("rtscts", kind=bool)) == \
        ("serial", "/dev/ttyUSB0", 115200, True)
    u = parse_uri("ntrip://us%3Aer:p%40ss@caster.example:2102/MOUNT?v=1&gga=21,105,10")
    assert (u.user, u.password, u.host, u.port, u.path, u.param("v", kind=int)) == \
        ("us:er", "p@ss", "caster.example", 2102, "MOUNT", 1)
    assert "p@ss" not in u.redacted() and "***" in u.redacted()
    assert parse_uri("ntrip://h/M").port == 2101
    assert parse_uri("file://rel/dir/x.rtcm?speed=2&loop=1").path == "rel/dir/x.rtcm"
    assert parse_uri("file:///abs/x.rtcm").path == "/abs/x.rtcm"
    assert parse_uri("some/file.bin").scheme == "file"
    assert parse_uri("tcpserver://:5000").host == "0.0.0.0"


@pytest.mark.parametrize("bad", ["foo://x:1", "tcp://host", "tcp://host:99999", "ntrip://h:1/M?v=3",
                                 "serial://"])
def test_bad_uris(bad):
    with pytest.raises(ConfigError):
        parse_uri(bad)


def test_bad_param_value():
    with pytest.raises(ConfigError):
        parse_uri("serial:///dev/x?baud=fast").param("baud", kind=int)


def test_open_source_types():
    assert isinstance(open_source("file://x?speed=1"), FileSource)
    assert isinstance(open_source("tcp://127.0.0.1:1"), TCPClientSource)
    assert isinstance(open_source("tcpserver://127.0.0.1:0"), TCPServerSource)
    assert isinstance(open_source("udp://127.0.0.1:0"), UDPSource)
    assert isinstance(open_source("serial:///dev/null?baud=9600"), SerialSource)
    src = open_source("ntrip://a:b@127.0.0.1:2101/M?v=1")
    assert isinstance(src, NTRIPClientSource) and src.version == 1
    sink = open_sink("ntrip://:pw@127.0.0.1:2101/TEST?v=2")
    assert (sink.password, sink.mount, sink.version, sink.chunked) == ("pw", "TEST", 2, True)
    with pytest.raises(ConfigError):
        open_sink("tcp://127.0.0.1:1")
