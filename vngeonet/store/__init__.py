"""Persistent state behind a small interface: caster accounts and session log.

``open_store(path)`` returns the embedded SQLite implementation; another
backend (PostgreSQL) only has to implement :class:`vngeonet.store.base.UserStore`.
"""

from vngeonet.store.base import SessionRecord, User, UserStore
from vngeonet.store.sqlite import SQLiteStore


def open_store(path) -> UserStore:
    """Open (creating and migrating if needed) the account store at ``path``."""
    return SQLiteStore(path)


__all__ = ["SQLiteStore", "SessionRecord", "User", "UserStore", "open_store"]
