"""SQLite implementation of the account store and session log.

Schema (version kept in ``PRAGMA user_version``; migrations in
:data:`MIGRATIONS`, applied in order at open)::

    users(name PK, pw_hash, max_connections, expires, is_admin, created)
    groups(name PK)
    user_groups(user -> users, grp -> groups)
    mount_access(mount, user NULL, grp NULL)        # "*" mount = all
    sessions(id PK, kind, user, mount, ip, start, end, bytes, gga_count,
             ntrip_version, reason)

The database runs in WAL mode (readers never block the caster's writes) with
``synchronous=NORMAL`` and foreign keys on.  One connection, guarded by a
lock, serves the event loop and the session-log flush thread.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

from vngeonet.store.base import SessionRecord, User, UserStore

__all__ = ["MIGRATIONS", "SQLiteStore"]

MIGRATIONS: list[str] = [
    # 1: accounts, groups, access lists, session log
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        pw_hash TEXT NOT NULL,
        max_connections INTEGER,
        expires TEXT,
        is_admin INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
    );
    CREATE TABLE groups (name TEXT PRIMARY KEY);
    CREATE TABLE user_groups (
        user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        grp TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
        PRIMARY KEY (user, grp)
    );
    CREATE TABLE mount_access (
        mount TEXT NOT NULL,
        user TEXT REFERENCES users(name) ON DELETE CASCADE,
        grp TEXT REFERENCES groups(name) ON DELETE CASCADE,
        CHECK ((user IS NULL) <> (grp IS NULL))
    );
    CREATE UNIQUE INDEX mount_access_u ON mount_access(mount, IFNULL(user, ''), IFNULL(grp, ''));
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        user TEXT NOT NULL,
        mount TEXT NOT NULL,
        ip TEXT NOT NULL,
        start TEXT NOT NULL,
        end TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        gga_count INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user, start);
    """,
    # 2: session kind, protocol version and end reason
    """
    ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'rover';
    ALTER TABLE sessions ADD COLUMN ntrip_version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE sessions ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    """,
]


class SQLiteStore(UserStore):
    """Account store in one SQLite file (created and migrated on open).

    Parameters
    ----------
    path : str or Path
        Database file; its parent directory is created.  ``":memory:"`` works
        for tests.
    """

    def __init__(self, path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    def get_user(self, name: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, pw_hash, max_connections, expires, is_admin FROM users WHERE name=?", (name,)
            ).fetchone()
            if row is None:
                return None
            groups = tuple(r[0] for r in self._db.execute(
                "SELECT grp FROM user_groups WHERE user=? ORDER BY grp", (name,)))
            mounts = tuple(r[0] for r in self._db.execute(
                "SELECT DISTINCT mount FROM mount_access WHERE user=? OR grp IN "
                "(SELECT grp FROM user_groups WHERE user=?) ORDER BY mount", (name, name)))
        return _user(row, groups, mounts)

    def add_user(self, name, pw_hash, *, mounts=(), groups=(), max_connections=None, expires=None, is_admin=False):
        if not name or ":" in name:
            raise ValueError(f"invalid user name {name!r}")
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.execute(
                    "INSERT INTO users(name, pw_hash, max_connections, expires, is_admin, created) VALUES (?,?,?,?,?,?)",
                    (name, pw_hash, max_connections, expires.isoformat() if expires else None, int(is_admin), now),
                )
                for g in groups:
                    self._db.execute("INSERT OR IGNORE INTO groups(name) VALUES (?)", (g,))
                    self._db.execute("INSERT INTO user_groups(user, grp) VALUES (?,?)", (name, g))
                for m in mounts:
                    self._db.execute("INSERT INTO mount_access(mount, user) VALUES (?,?)", (m, name))
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError as err:
                self._db.execute("ROLLBACK")
                raise KeyError(f"user {name!r} already exists") from err

    def delete_user(self, name: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM users WHERE name=?", (name,))
        return cur.rowcount > 0

    def set_password(self, name: str, pw_hash: str) -> bool:
        with self._lock:
            cur = self._db.execute("UPDATE users SET pw_hash=? WHERE name=?", (pw_hash, name))
        return cur.rowcount > 0

    def list_users(self) -> list[User]:
        with self._lock:
            names = [r[0] for r in self._db.execute("SELECT name FROM users ORDER BY name")]
        return [u for u in (self.get_user(n) for n in names) if u is not None]

    def grant(self, mount: str, *, user: str | None = None, group: str | None = None) -> None:
        if (user is None) == (group is None):
            raise ValueError("grant needs exactly one of user or group")
        with self._lock:
            if group is not None:
                self._db.execute("INSERT OR IGNORE INTO groups(name) VALUES (?)", (group,))
            self._db.execute("INSERT OR IGNORE INTO mount_access(mount, user, grp) VALUES (?,?,?)", (mount, user, group))

    def add_to_group(self, user: str, group: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO groups(name) VALUES (?)", (group,))
            self._db.execute("INSERT OR IGNORE INTO user_groups(user, grp) VALUES (?,?)", (user, group))

    def log_sessions(self, records: list[SessionRecord]) -> None:
        if not records:
            return
        rows = [(r.kind, r.user, r.mount, r.ip, r.start, r.end, r.bytes_sent, r.gga_count, r.ntrip_version, r.reason)
                for r in records]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO sessions(kind, user, mount, ip, start, end, bytes, gga_count, ntrip_version, reason) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            self._db.execute("COMMIT")

    def sessions(self, limit: int = 100) -> list[SessionRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT user, mount, ip, start, end, bytes, gga_count, kind, ntrip_version, reason "
                "FROM sessions ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [SessionRecord(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _user(row, groups: tuple, mounts: tuple) -> User:
    name, pw_hash, max_conn, expires, is_admin = row
    return User(
        name=name,
        pw_hash=pw_hash,
        max_connections=max_conn,
        expires=dt.date.fromisoformat(expires) if expires else None,
        is_admin=bool(is_admin),
        groups=groups,
        mounts=mounts,
    )
