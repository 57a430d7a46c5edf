"""SQLite account store: migrations, WAL, users/groups/access lists, session log."""

import datetime as dt
import sqlite3
import threading

import pytest

from vngeonet.store import SessionRecord, open_store
from vngeonet.store.sqlite import MIGRATIONS


def test_fresh_db_is_migrated_and_in_wal(tmp_path):
    s = open_store(tmp_path / "sub" / "caster.db")
    assert s.schema_version == len(MIGRATIONS)
    assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()


def test_migration_from_version_1_keeps_data(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "PRAGMA user_version=1;")
    db.execute("INSERT INTO sessions(user, mount, ip, start, end, bytes, gga_count) VALUES ('u','M','1.2.3.4','a','b',5,1)")
    db.commit()
    db.close()
    s = open_store(path)
    assert s.schema_version == 2
    (rec,) = s.sessions()
    assert (rec.user, rec.bytes_sent, rec.kind, rec.ntrip_version) == ("u", 5, "rover", 1)


def test_users_groups_access():
    s = open_store(":memory:")
    s.add_user("ann", "h1", mounts=("HNOI",), groups=("survey",), max_connections=2,
               expires=dt.date(2030, 1, 1))
    s.grant("HPHG", group="survey")
    s.add_user("op", "h2", is_admin=True, mounts=("*",))
    ann = s.get_user("ann")
    assert ann.mounts == ("HNOI", "HPHG") and ann.groups == ("survey",) and ann.max_connections == 2
    assert ann.may_read("HPHG") and not ann.may_read("DNNG")
    assert not ann.expired(dt.date(2030, 1, 1)) and ann.expired(dt.date(2030, 1, 2))
    assert s.get_user("op").may_read("ANY") and s.get_user("op").is_admin
    with pytest.raises(KeyError):
        s.add_user("ann", "h3")
    with pytest.raises(ValueError):
        s.add_user("a:b", "h")
    assert s.set_password("ann", "new") and s.get_user("ann").pw_hash == "new"
    assert not s.set_password("nobody", "x")
    assert [u.name for u in s.list_users()] == ["ann", "op"]
    assert s.delete_user("ann") and not s.delete_user("ann") and s.get_user("ann") is None
    # access rows went with the user
    assert s._db.execute("SELECT COUNT(*) FROM mount_access WHERE user='ann'").fetchone()[0] == 0
    s.add_to_group("op", "survey")
    assert "HPHG" in s.get_user("op").mounts


def test_session_log_from_threads(tmp_path):
    s = open_store(tmp_path / "c.db")
    recs = [SessionRecord("u", "M", "127.0.0.1", "s", "e", i, i % 3) for i in range(100)]
    threads = [threading.Thread(target=s.log_sessions, args=(recs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    got = s.sessions(limit=1000)
    assert sorted(r.bytes_sent for r in got) == list(range(100))
    s.log_sessions([])
    s.close()
    # a second connection (another process) sees the committed log
    assert len(open_store(tmp_path / "c.db").sessions(limit=1000)) == 100
