"""Loopback helpers for caster tests: a running caster, raw NTRIP clients and sources.

Everything binds 127.0.0.1 port 0 and every await has a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
from pathlib import Path

from vngeonet.caster.auth import hash_password
from vngeonet.caster.config import CasterConfig, Limits, MountConfig
from vngeonet.caster.request import ChunkedDecoder
from vngeonet.caster.server import NTRIPCaster
from vngeonet.rtcm.framer import iter_frames
from vngeonet.store import open_store

T = 10.0  # default timeout of one await, seconds
SOURCE_PW = "src-TEST-pw"
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw", "old": "old-pw", "solo": "solo-pw"}


def run(coro, timeout: float = 30.0):
    """Run a coroutine in a fresh event loop with an overall timeout."""
    async def main():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(main())


def real_frames(path: Path) -> list:
    return list(iter_frames(path.read_bytes()))


def make_config(**limits) -> CasterConfig:
    mounts = (
        MountConfig("TEST", SOURCE_PW, identifier="Test base", country="VNM", network="VNGEONET"),
        MountConfig("OPEN", "open-src", auth="N"),
        MountConfig("NORTH", "north-src", lat_deg=21.0, lon_deg=105.8),
        MountConfig("SOUTH", "south-src", lat_deg=10.8, lon_deg=106.7),
        MountConfig("NEAREST", None, kind="nearest", nmea=True),
    )
    lim = dataclasses.replace(Limits(), session_flush_s=0.1, drain_timeout_s=1.0, **limits)
    return CasterConfig(listen=("127.0.0.1", 0), db=":memory:", mounts=mounts, limits=lim,
                        cas={"host": "127.0.0.1", "port": 2101, "identifier": "vngeonet-test", "country": "VNM"},
                        networks=({"identifier": "VNGEONET", "operator": "test"},))


def make_store(path=":memory:"):
    store = open_store(path)
    cheap = {"log2_n": 4}  # tests only: the CLI uses the default (2**14) cost
    store.add_user("alice", hash_password(PASSWORDS["alice"], **cheap), mounts=("TEST", "OPEN", "NEAREST"))
    store.add_user("bob", hash_password(PASSWORDS["bob"], **cheap), mounts=("OPEN",))
    store.add_user("root", hash_password(PASSWORDS["root"], **cheap), is_admin=True, mounts=("*",))
    import datetime as dt

    store.add_user("old", hash_password(PASSWORDS["old"], **cheap), mounts=("TEST",),
                   expires=dt.date(2000, 1, 1))
    store.add_user("solo", hash_password(PASSWORDS["solo"], **cheap), mounts=("TEST",), max_connections=1)
    return store


@contextlib.asynccontextmanager
async def running_caster(config: CasterConfig | None = None, store=None, **kw):
    caster = NTRIPCaster(config or make_config(), store if store is not None else make_store(), **kw)
    await asyncio.wait_for(caster.start(), T)
    try:
        yield caster
    finally:
        await asyncio.wait_for(caster.aclose(), T)


def basic(user: str, password: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() + "\r\n"


async def read_head(reader, timeout: float = T) -> bytes:
    """Read a response head (through the blank line)."""
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)


async def open_rover(port: int, mount: str, user: str | None = None, password: str | None = None,
                     version: int = 1, extra: str = "", body: bytes = b""):
    """Connect a raw-socket rover; returns (reader, writer, response head)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), T)
    lines = f"GET /{mount} HTTP/1.{1 if version == 2 else 0}\r\nUser-Agent: NTRIP test/1.0\r\n"
    if version == 2:
        lines += "Host: 127.0.0.1\r\nNtrip-Version: Ntrip/2.0\r\n"
    if user is not None:
        lines += basic(user, password)
    writer.write((lines + extra + "\r\n").encode() + body)
    head = await read_head(reader)
    return reader, writer, head


async def read_stream(reader, n_bytes: int, chunked: bool, timeout: float = T) -> bytes:
    """Read a rover stream until ``n_bytes`` payload bytes (de-chunked) or EOF."""
    out = bytearray()
    dec = ChunkedDecoder() if chunked else None
    async with asyncio.timeout(timeout):
        while len(out) < n_bytes:
            data = await reader.read(65536)
            if not data:
                break
            out += dec.feed(data) if dec else data
    return bytes(out)


async def open_source(port: int, mount: str, password: str, version: int = 1, chunked: bool = True):
    """Connect a base station (SOURCE or POST); returns (reader, writer, response head)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), T)
    if version == 1:
        writer.write(f"SOURCE {password} /{mount}\r\nSource-Agent: NTRIP test/1.0\r\nSTR: \r\n\r\n".encode())
    else:
        te = "Transfer-Encoding: chunked\r\n" if chunked else ""
        writer.write((f"POST /{mount} HTTP/1.1\r\nHost: 127.0.0.1\r\nNtrip-Version: Ntrip/2.0\r\n"
                      f"User-Agent: NTRIP test/1.0\r\n{basic('base', password)}{te}\r\n").encode())
    line = await asyncio.wait_for(reader.readuntil(b"\r\n"), T)
    if line.startswith(b"HTTP/1.1 200"):
        line += await read_head(reader)
    return reader, writer, line


async def wait_for(predicate, timeout: float = T, step: float = 0.01) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(step)


def gga(lat_deg: float, lon_deg: float) -> bytes:
    """A valid $GPGGA sentence at (lat, lon)."""
    def dm(v, width):
        a = abs(v)
        d = int(a)
        return f"{d:0{width}d}{(a - d) * 60:07.4f}"

    body = (f"GPGGA,120000.00,{dm(lat_deg, 2)},{'N' if lat_deg >= 0 else 'S'},"
            f"{dm(lon_deg, 3)},{'E' if lon_deg >= 0 else 'W'},1,12,0.8,10.0,M,-20.0,M,,")
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    return f"${body}*{cs:02X}\r\n".encode()
