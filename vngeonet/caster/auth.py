"""Password hashing, verification cache and failed-login rate limiting.

Passwords are stored as ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``
(RFC 7914 scrypt through :func:`hashlib.scrypt`, 16-byte random salt), so the
cost can be raised later without breaking stored hashes.  Comparisons use
:func:`hmac.compare_digest`.  There are no default accounts and no built-in
credentials: every secret comes from the user store, the config file or the
environment.

A rover reconnecting every few seconds would cost one scrypt (~50 ms of CPU
at the default cost) per connection; :class:`VerifyCache` remembers a
successful verification for a while, keyed by a keyed BLAKE2 digest of the
password (the key is random per process and the plain password is never
kept).

:class:`LoginLimiter` implements the per-IP back-off: after ``max_failures``
failed logins inside ``window_s`` an address is refused for ``lockout_s``,
doubling on every further lockout up to ``max_lockout_s``.  Refusals are
decided before any hashing, so a flood of bad logins costs almost nothing.

References
----------
RFC 7914 (scrypt); RFC 7617 (HTTP Basic authentication).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["LoginLimiter", "VerifyCache", "check_secret", "hash_password", "verify_password"]

DEFAULT_LOG2_N = 14
DEFAULT_R = 8
DEFAULT_P = 1
_DKLEN = 32


def hash_password(password: str, *, log2_n: int = DEFAULT_LOG2_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """Return the salted scrypt hash string of ``password``.

    Examples
    --------
    >>> h = hash_password("secret", log2_n=4)
    >>> h.startswith("scrypt$4$8$1$"), verify_password("secret", h), verify_password("x", h)
    (True, True, False)
    """
    if not password:
        raise ValueError("empty password")
    salt = os.urandom(16)
    digest = _scrypt(password, salt, log2_n, r, p)
    b64 = base64.b64encode
    return f"scrypt${log2_n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the hash string ``stored``.

    A malformed ``stored`` value never matches (and never raises).
    """
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def check_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a plain shared secret (source passwords)."""
    if given is None or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if not 1 <= log2_n <= 20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    n = 1 << log2_n
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p + (1 << 20), dklen=_DKLEN
    )


class VerifyCache:
    """Remember successful password verifications for ``ttl_s`` seconds.

    Keys are ``(user, stored_hash, keyed digest of the password)``: changing
    a user's password (a new stored hash) invalidates the entry at once.
    Bounded to ``max_entries`` (least recently used evicted).
    """

    def __init__(self, ttl_s: float = 600.0, max_entries: int = 100_000, clock=time.monotonic):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._key = os.urandom(32)
        self._entries: OrderedDict[tuple, float] = OrderedDict()

    def _k(self, user: str, stored: str, password: str) -> tuple:
        tag = hashlib.blake2b(password.encode("utf-8"), key=self._key, digest_size=16).digest()
        return (user, stored, tag)

    def hit(self, user: str, stored: str, password: str) -> bool:
        """True when this exact password was verified for ``user`` recently."""
        k = self._k(user, stored, password)
        t = self._entries.get(k)
        if t is None:
            return False
        if self._clock() - t > self.ttl_s:
            del self._entries[k]
            return False
        self._entries.move_to_end(k)
        return True

    def add(self, user: str, stored: str, password: str) -> None:
        self._entries[self._k(user, stored, password)] = self._clock()
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


@dataclass(slots=True)
class _IPState:
    failures: list
    locked_until: float = 0.0
    lockouts: int = 0


class LoginLimiter:
    """Per-IP failed-login counter with exponential lockout.

    Parameters
    ----------
    max_failures : int
        Failures allowed inside ``window_s`` before a lockout.
    window_s : float
        Sliding window for counting failures.
    lockout_s : float
        First lockout duration; doubles per repeated lockout.
    max_lockout_s : float
        Ceiling of the lockout duration.
    max_tracked : int
        Most addresses tracked (oldest forgotten first), so a spoofed flood
        cannot exhaust memory.
    """

    def __init__(
        self,
        max_failures: int = 10,
        window_s: float = 60.0,
        lockout_s: float = 30.0,
        max_lockout_s: float = 3600.0,
        max_tracked: int = 100_000,
        clock=time.monotonic,
    ):
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_lockout_s = max_lockout_s
        self.max_tracked = max_tracked
        self._clock = clock
        self._ips: OrderedDict[str, _IPState] = OrderedDict()
        self.refused = 0
        self.failures = 0

    def locked(self, ip: str) -> float:
        """Seconds ``ip`` must still wait (0 when it may try to log in)."""
        st = self._ips.get(ip)
        if st is None:
            return 0.0
        left = st.locked_until - self._clock()
        if left > 0:
            self.refused += 1
            return left
        return 0.0

    def fail(self, ip: str) -> None:
        """Record one failed login from ``ip``."""
        self.failures += 1
        now = self._clock()
        st = self._ips.get(ip)
        if st is None:
            st = self._ips[ip] = _IPState([])
            while len(self._ips) > self.max_tracked:
                self._ips.popitem(last=False)
        self._ips.move_to_end(ip)
        st.failures = [t for t in st.failures if now - t < self.window_s]
        st.failures.append(now)
        if len(st.failures) >= self.max_failures:
            st.lockouts += 1
            duration = min(self.lockout_s * (2 ** (st.lockouts - 1)), self.max_lockout_s)
            st.locked_until = now + duration
            st.failures.clear()

    def succeed(self, ip: str) -> None:
        """A good login clears the failure count (lockout history decays with it)."""
        self._ips.pop(ip, None)

    def snapshot(self) -> dict:
        now = self._clock()
        return {
            "failed_logins": self.failures,
            "refused_locked": self.refused,
            "locked_ips": sum(1 for s in self._ips.values() if s.locked_until > now),
        }
