"""The store interface the caster needs: accounts, access lists, session log.

Implementations must be safe to call from one event-loop thread plus worker
threads (the caster flushes the session log from a thread).
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass

__all__ = ["SessionRecord", "User", "UserStore"]


@dataclass(frozen=True, slots=True)
class User:
    """One caster account.

    Attributes
    ----------
    name : str
        Login name.
    pw_hash : str
        Salted slow hash (see :mod:`vngeonet.caster.auth`); never the password.
    max_connections : int or None
        Concurrent sessions allowed (``None``: no per-user limit).
    expires : datetime.date or None
        Last day the account may log in (``None``: never expires).
    is_admin : bool
        May read ``/admin/status``.
    groups : tuple of str
        Group names.
    mounts : tuple of str
        Mountpoints the user may read, directly or through a group
        (``"*"`` means every mountpoint).
    """

    name: str
    pw_hash: str
    max_connections: int | None = None
    expires: dt.date | None = None
    is_admin: bool = False
    groups: tuple = ()
    mounts: tuple = ()

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def may_read(self, mount: str) -> bool:
        return "*" in self.mounts or mount in self.mounts


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One finished client or source session (times are UTC ISO 8601 text)."""

    user: str
    mount: str
    ip: str
    start: str
    end: str
    bytes_sent: int
    gga_count: int
    kind: str = "rover"  # "rover" or "source"
    ntrip_version: int = 1
    reason: str = ""


class UserStore(abc.ABC):
    """Abstract account store; see :class:`vngeonet.store.sqlite.SQLiteStore`."""

    @abc.abstractmethod
    def get_user(self, name: str) -> User | None:
        """The account ``name`` with its groups and readable mountpoints, or ``None``."""

    @abc.abstractmethod
    def add_user(
        self,
        name: str,
        pw_hash: str,
        *,
        mounts: tuple = (),
        groups: tuple = (),
        max_connections: int | None = None,
        expires: dt.date | None = None,
        is_admin: bool = False,
    ) -> None:
        """Create an account; raises ``KeyError`` if it exists."""

    @abc.abstractmethod
    def delete_user(self, name: str) -> bool:
        """Delete an account; False when there was none."""

    @abc.abstractmethod
    def set_password(self, name: str, pw_hash: str) -> bool:
        """Replace the password hash; False when the user does not exist."""

    @abc.abstractmethod
    def list_users(self) -> list[User]:
        """Every account, sorted by name."""

    @abc.abstractmethod
    def grant(self, mount: str, *, user: str | None = None, group: str | None = None) -> None:
        """Allow a user or group to read ``mount`` (``"*"``: every mountpoint)."""

    @abc.abstractmethod
    def add_to_group(self, user: str, group: str) -> None:
        """Make ``user`` a member of ``group`` (created if needed)."""

    @abc.abstractmethod
    def log_sessions(self, records: list[SessionRecord]) -> None:
        """Append finished sessions to the session log (one transaction)."""

    @abc.abstractmethod
    def sessions(self, limit: int = 100) -> list[SessionRecord]:
        """The most recent logged sessions, newest first."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""
