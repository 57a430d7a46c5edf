"""Password hashing, verification cache and per-IP login back-off."""

from vngeonet.caster.auth import (
    LoginLimiter,
    VerifyCache,
    check_secret,
    hash_password,
    verify_password,
)


def test_hash_is_salted_and_verifies():
    a, b = hash_password("pw", log2_n=4), hash_password("pw", log2_n=4)
    assert a != b and "pw" not in a
    assert verify_password("pw", a) and verify_password("pw", b)
    assert not verify_password("pW", a)


def test_malformed_hash_never_matches():
    for bad in ("", "plain", "scrypt$x$8$1$aa$bb", "md5$1$1$1$a$b", "scrypt$40$8$1$AAAA$AAAA"):
        assert not verify_password("pw", bad)


def test_check_secret():
    assert check_secret("abc", "abc")
    assert not check_secret("abd", "abc") and not check_secret(None, "abc") and not check_secret("", "")


def test_verify_cache_expires_and_follows_hash():
    now = [0.0]
    c = VerifyCache(ttl_s=10, clock=lambda: now[0])
    c.add("u", "h1", "pw")
    assert c.hit("u", "h1", "pw") and not c.hit("u", "h1", "other") and not c.hit("u", "h2", "pw")
    now[0] = 11
    assert not c.hit("u", "h1", "pw")


def test_limiter_locks_out_and_backs_off():
    now = [0.0]
    lim = LoginLimiter(max_failures=3, window_s=60, lockout_s=10, max_lockout_s=25, clock=lambda: now[0])
    for _ in range(3):
        assert lim.locked("1.2.3.4") == 0
        lim.fail("1.2.3.4")
    assert lim.locked("1.2.3.4") == 10 and lim.locked("5.6.7.8") == 0
    now[0] = 10.5
    assert lim.locked("1.2.3.4") == 0
    for _ in range(3):
        lim.fail("1.2.3.4")
    assert lim.locked("1.2.3.4") == 20  # doubled
    now[0] = 40
    for _ in range(3):
        lim.fail("1.2.3.4")
    assert lim.locked("1.2.3.4") == 25  # capped
    lim.succeed("1.2.3.4")
    assert lim.locked("1.2.3.4") == 0


def test_limiter_memory_is_bounded():
    lim = LoginLimiter(max_tracked=100)
    for i in range(1000):
        lim.fail(f"10.0.{i // 256}.{i % 256}")
    assert len(lim._ips) == 100
