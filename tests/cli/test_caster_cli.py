"""``vngeonet users``, ``vngeonet mounts`` and ``vngeonet caster`` as written in issue 5."""

import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, data_path
from vngeonet.caster.auth import verify_password
from vngeonet.cli.main import main
from vngeonet.store import open_store


def _cli(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    rc = main(argv)
    return rc, capsys.readouterr()


def test_users_add_list_passwd_del(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "var" / "caster.db")
    rc, out = _cli(monkeypatch, capsys, ["users", "add", "ann", "--db", db, "--mount", "TEST", "--mount", "HNOI",
                                         "--max-connections", "2", "--expires", "2030-12-31"], "pw one\n")
    assert rc == 0 and "ann" in out.out
    rc, out = _cli(monkeypatch, capsys, ["users", "add", "ann", "--db", db], "x\n")
    assert rc == 1 and "exists" in out.err
    rc, out = _cli(monkeypatch, capsys, ["users", "list", "--db", db, "--json"])
    (row,) = json.loads(out.out)
    assert row == {"name": "ann", "mounts": ["HNOI", "TEST"], "groups": [], "max_connections": 2,
                   "expires": "2030-12-31", "admin": False}
    store = open_store(db)
    assert verify_password("pw one", store.get_user("ann").pw_hash)
    with open(db, "rb") as fh:
        assert b"pw one" not in fh.read()
    rc, _ = _cli(monkeypatch, capsys, ["users", "passwd", "ann", "--db", db], "pw two\n")
    assert rc == 0 and verify_password("pw two", store.get_user("ann").pw_hash)
    rc, out = _cli(monkeypatch, capsys, ["users", "list", "--db", db])
    assert out.out.startswith("ann ")
    rc, _ = _cli(monkeypatch, capsys, ["users", "grant", "survey", "--is-group", "--mount", "DNNG", "--db", db])
    assert rc == 0
    rc, _ = _cli(monkeypatch, capsys, ["users", "grant", "ann", "--group", "survey", "--mount", "HUES", "--db", db])
    assert rc == 0 and store.get_user("ann").mounts == ("DNNG", "HNOI", "HUES", "TEST")
    rc, _ = _cli(monkeypatch, capsys, ["users", "grant", "nobody", "--mount", "X", "--db", db])
    assert rc == 1
    rc, _ = _cli(monkeypatch, capsys, ["users", "del", "ann", "--db", db])
    assert rc == 0 and store.get_user("ann") is None
    rc, out = _cli(monkeypatch, capsys, ["users", "del", "ann", "--db", db])
    assert rc == 1


def test_users_add_needs_a_password(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        _cli(monkeypatch, capsys, ["users", "add", "ann", "--db", str(tmp_path / "c.db")], "")


CONFIG = """
[caster]
listen = "127.0.0.1:0"
db = "var/caster.db"

[[mount]]
name = "TEST"
source_password = "src-pw"
country = "VNM"

[[mount]]
name = "NEAREST"
kind = "nearest"
"""


def test_mounts_list(tmp_path, monkeypatch, capsys):
    (tmp_path / "caster.toml").write_text(CONFIG)
    rc, out = _cli(monkeypatch, capsys, ["mounts", "list", "--config", str(tmp_path / "caster.toml"), "--json"])
    rows = json.loads(out.out)
    assert rc == 0 and [r["name"] for r in rows] == ["TEST", "NEAREST"] and rows[0]["source_password"] == "set"
    assert "src-pw" not in out.out
    rc, out = _cli(monkeypatch, capsys, ["mounts", "list", "--config", str(tmp_path / "caster.toml")])
    assert out.out.startswith("TEST ")


def _wait_listed(port: int, mount: str, timeout_s: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nNtrip-Version: Ntrip/2.0\r\n\r\n")
            body = b""
            while chunk := s.recv(65536):
                body += chunk
        if f"STR;{mount};".encode() in body:
            return
        time.sleep(0.1)
    raise AssertionError(f"{mount} never appeared in the sourcetable")


def test_caster_command_end_to_end(tmp_path):
    """``vngeonet caster --config``; ``users add`` from stdin; ``ntrip push`` and ``ntrip get`` against it."""
    path = data_path("pygnssutils/tests/ntrip_encode_none.bin")
    (tmp_path / "caster.toml").write_text(CONFIG)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    vng = [sys.executable, "-m", "vngeonet"]
    subprocess.run(vng + ["users", "add", "rover1", "--db", str(tmp_path / "var/caster.db"), "--mount", "TEST"],
                   input=b"rover-pw\n", check=True, env=env, timeout=60)
    caster = subprocess.Popen(vng + ["caster", "--config", str(tmp_path / "caster.toml")], env=env,
                              stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        line = caster.stderr.readline().decode()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1))
        push = subprocess.Popen(vng + ["ntrip", "push", str(path), f"ntrip://:src-pw@127.0.0.1:{port}/TEST?v=2",
                                       "--speed", "10", "--loop", "--duration", "40"], env=env,
                                stderr=subprocess.PIPE)
        try:
            _wait_listed(port, "TEST")
            get = subprocess.run(vng + ["ntrip", "get", f"ntrip://rover1:rover-pw@127.0.0.1:{port}/TEST?v=1",
                                        "--max-bytes", "20000", "--duration", "20", "-o", str(tmp_path / "out.rtcm")],
                                 env=env, timeout=60, capture_output=True)
            assert get.returncode == 0, get.stderr
        finally:
            push.send_signal(signal.SIGINT)
            push.wait(30)
        from vngeonet.rtcm.framer import RTCMFramer

        framer = RTCMFramer()
        got = framer.feed((tmp_path / "out.rtcm").read_bytes())
        ours = {f.raw for f in RTCMFramer().feed(path.read_bytes())}
        assert len(got) > 10 and all(f.raw in ours for f in got) and framer.stats.skipped_bytes == 0
    finally:
        caster.send_signal(signal.SIGTERM)
        assert caster.wait(30) == 0
    time.sleep(0.1)
    kinds = {s.kind for s in open_store(tmp_path / "var/caster.db").sessions()}
    assert kinds == {"rover", "source"}
