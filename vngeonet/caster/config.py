"""Loader of ``caster.toml``: listening addresses, limits, mountpoints.

Example::

    [caster]
    listen = "127.0.0.1:2101"
    db = "var/caster.db"
    # workers = 2                     # fan-out processes for large rover counts (0: one process)
    # tls_listen = "0.0.0.0:2102"; tls_cert = "cert.pem"; tls_key = "key.pem"

    [caster.cas]                      # optional CAS record
    host = "caster.example.vn"
    port = 2101
    identifier = "VNGEONET"
    operator = "DOSM"
    country = "VNM"

    [[network]]                       # optional NET records
    identifier = "VNGEONET"
    operator = "DOSM"

    [[mount]]
    name = "HNOI"
    source_password = "..."            # or source_password_env = "HNOI_SOURCE_PW"
    identifier = "Ha Noi"
    country = "VNM"
    network = "VNGEONET"
    # lat_deg / lon_deg: fallback position until 1005/1006 arrives
    # auth = "B" (default) or "N" (open mountpoint)

    [[mount]]
    name = "HPHG"
    pull = "ntrip://user:pw@upstream:2101/HPHG0?v=2"   # any stream URI of vngeonet.streams

    [[mount]]
    name = "NEAREST"
    kind = "nearest"                  # streams the closest live station

Every error is a :class:`vngeonet.errors.ConfigError` naming the file and
the dotted key.  Relative ``db``/``tls_*`` paths are resolved against the
config file's directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from vngeonet.errors import ConfigError

__all__ = ["CasterConfig", "Limits", "MountConfig", "load_config", "parse_config", "parse_hostport"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Protection limits (see :mod:`vngeonet.caster.server` for where each applies)."""

    max_header_bytes: int = 8192
    header_timeout_s: float = 10.0  # whole request head must arrive within this (slowloris)
    max_connections: int = 20000
    max_connections_per_ip: int = 64
    max_failures: int = 10  # failed logins per IP inside failure_window_s ...
    failure_window_s: float = 60.0
    lockout_s: float = 30.0  # ... then locked out this long, doubling per lockout
    max_lockout_s: float = 3600.0
    client_queue_bytes: int = 65536  # per-client queue; overflow drops oldest whole frames
    write_buffer_bytes: int = 16384  # socket buffer mark above which frames go to the queue
    socket_sndbuf_bytes: int = 65536  # kernel send buffer per connection (0: OS default, can be MBs)
    source_idle_s: float = 30.0  # no bytes from a source this long: source dropped
    gga_timeout_s: float = 60.0  # NEAREST: first GGA must come within this
    client_read_idle_s: float = 0.0  # >0: drop rovers that send nothing this long (0: off)
    drain_timeout_s: float = 2.0  # graceful shutdown: wait this long for queues to drain
    nearest_hysteresis_m: float = 1000.0
    session_flush_s: float = 1.0


@dataclass(frozen=True, slots=True)
class MountConfig:
    """One ``[[mount]]`` table."""

    name: str
    source_password: str | None = None
    kind: str = "station"  # "station" or "nearest"
    identifier: str = ""
    format: str = "RTCM 3"
    country: str = ""
    network: str = ""
    lat_deg: float | None = None
    lon_deg: float | None = None
    nmea: bool = False
    auth: str = "B"  # "B" basic, "N" none
    fee: str = "N"
    misc: str = ""
    pull: str | None = None  # stream URI the caster reads itself (upstream NTRIP, serial, TCP...)


@dataclass(frozen=True, slots=True)
class CasterConfig:
    """The whole caster configuration."""

    listen: tuple = ("127.0.0.1", 2101)
    db: str = "var/caster.db"
    tls_listen: tuple | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    server_name: str = "vngeonet"
    cas: dict | None = None
    networks: tuple = ()
    mounts: tuple = ()
    limits: Limits = field(default_factory=Limits)
    path: str = ""
    workers: int = 0  # >0: fan-out worker processes (see vngeonet.caster.worker); 0: one process

    def mount(self, name: str) -> MountConfig | None:
        for m in self.mounts:
            if m.name == name:
                return m
        return None


def parse_hostport(text: str, *, path: str = "", key: str = "") -> tuple[str, int]:
    """``"host:port"`` -> ``(host, port)``; ``[v6]:port`` accepted.

    Examples
    --------
    >>> parse_hostport("127.0.0.1:2101")
    ('127.0.0.1', 2101)
    """
    host, sep, port = str(text).rpartition(":")
    if not sep:
        raise ConfigError(f"expected host:port, got {text!r}", path=path, key=key)
    host = host.strip("[]") or "0.0.0.0"
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"bad port in {text!r}", path=path, key=key) from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"port out of range in {text!r}", path=path, key=key)
    return host, number


def load_config(path) -> CasterConfig:
    """Read and check ``caster.toml``.

    Raises
    ------
    ConfigError
        With the file and key for any missing, unknown or ill-typed value.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(p)) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"TOML syntax: {err}", path=str(p)) from None
    return parse_config(data, path=str(p), base=p.parent)


_CASTER_KEYS = {"listen", "db", "tls_listen", "tls_cert", "tls_key", "server_name", "cas", "limits", "workers"}
_MOUNT_KEYS = set(MountConfig.__dataclass_fields__) | {"source_password_env"}


def parse_config(data: dict, *, path: str = "<config>", base: Path | None = None) -> CasterConfig:
    """Build a :class:`CasterConfig` from a parsed TOML mapping."""
    base = base or Path(".")
    unknown = set(data) - {"caster", "mount", "network"}
    if unknown:
        first = min(unknown)
        raise ConfigError(f"unknown table {first!r}", path=path, key=first)
    cas = data.get("caster", {})
    _expect(cas, dict, path, "caster")
    for k in cas:
        if k not in _CASTER_KEYS:
            raise ConfigError("unknown key", path=path, key=f"caster.{k}")
    listen = parse_hostport(_get(cas, "listen", str, "127.0.0.1:2101", path, "caster"), path=path, key="caster.listen")
    tls_listen = cas.get("tls_listen")
    tls = None
    if tls_listen is not None:
        tls = parse_hostport(_get(cas, "tls_listen", str, "", path, "caster"), path=path, key="caster.tls_listen")
        for k in ("tls_cert", "tls_key"):
            if k not in cas:
                raise ConfigError("required with tls_listen", path=path, key=f"caster.{k}")
    mounts = _mounts(data.get("mount", []), path)
    networks = data.get("network", [])
    _expect(networks, list, path, "network")
    workers = _get(cas, "workers", int, 0, path, "caster")
    if isinstance(workers, bool) or not 0 <= workers <= 64:
        raise ConfigError("workers must be an integer 0..64", path=path, key="caster.workers")
    return CasterConfig(
        listen=listen,
        db=_resolve(base, _get(cas, "db", str, "var/caster.db", path, "caster")),
        tls_listen=tls,
        tls_cert=_resolve(base, cas["tls_cert"]) if tls else None,
        tls_key=_resolve(base, cas["tls_key"]) if tls else None,
        server_name=_get(cas, "server_name", str, "vngeonet", path, "caster"),
        cas=_get(cas, "cas", dict, None, path, "caster"),
        networks=tuple(networks),
        mounts=mounts,
        limits=_limits(cas.get("limits", {}), path),
        path=path,
        workers=workers,
    )


def _mounts(tables, path: str) -> tuple:
    _expect(tables, list, path, "mount")
    seen: set[str] = set()
    out = []
    for i, t in enumerate(tables):
        where = f"mount[{i}]"
        _expect(t, dict, path, where)
        for k in t:
            if k not in _MOUNT_KEYS:
                raise ConfigError("unknown key", path=path, key=f"{where}.{k}")
        name = _get(t, "name", str, None, path, where)
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"missing or invalid mountpoint name {name!r}", path=path, key=f"{where}.name")
        if name in seen:
            raise ConfigError(f"duplicate mountpoint {name!r}", path=path, key=f"{where}.name")
        seen.add(name)
        kind = _get(t, "kind", str, "station", path, where)
        if kind not in ("station", "nearest"):
            raise ConfigError("kind must be 'station' or 'nearest'", path=path, key=f"{where}.kind")
        password = _source_password(t, path, where)
        pull = _get(t, "pull", str, None, path, where)
        if kind == "station" and not password and not pull:
            raise ConfigError("a station mountpoint needs source_password (or source_password_env) or pull",
                              path=path, key=f"{where}.source_password")
        auth = _get(t, "auth", str, "B", path, where)
        if auth not in ("B", "N", "D"):
            raise ConfigError("auth must be 'B', 'D' or 'N'", path=path, key=f"{where}.auth")
        kw = {k: t[k] for k in ("identifier", "format", "country", "network", "fee", "misc") if k in t}
        for k, v in kw.items():
            _expect(v, str, path, f"{where}.{k}")
        out.append(MountConfig(
            name=name, source_password=password, kind=kind, auth=auth, pull=pull,
            lat_deg=_num(t, "lat_deg", path, where), lon_deg=_num(t, "lon_deg", path, where),
            nmea=bool(_get(t, "nmea", bool, kind == "nearest", path, where)), **kw))
    return tuple(out)


def _source_password(t: dict, path: str, where: str) -> str | None:
    if "source_password_env" in t:
        var = t["source_password_env"]
        value = os.environ.get(str(var))
        if not value:
            raise ConfigError(f"environment variable {var} is not set", path=path, key=f"{where}.source_password_env")
        return value
    return _get(t, "source_password", str, None, path, where)


def _limits(t: dict, path: str) -> Limits:
    _expect(t, dict, path, "caster.limits")
    fields = Limits.__dataclass_fields__
    kw = {}
    for k, v in t.items():
        if k not in fields:
            raise ConfigError("unknown key", path=path, key=f"caster.limits.{k}")
        want = type(getattr(Limits(), k))
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (want is int and not isinstance(v, int)):
            raise ConfigError(f"expected {want.__name__}", path=path, key=f"caster.limits.{k}")
        if v < 0:
            raise ConfigError("must be >= 0", path=path, key=f"caster.limits.{k}")
        kw[k] = want(v)
    return Limits(**kw)


def _num(t: dict, k: str, path: str, where: str) -> float | None:
    v = t.get(k)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError("expected a number", path=path, key=f"{where}.{k}")
    return float(v)


def _get(t: dict, k: str, typ, default, path: str, where: str):
    v = t.get(k, default)
    if v is not None and not isinstance(v, typ):
        raise ConfigError(f"expected {typ.__name__}", path=path, key=f"{where}.{k}")
    return v


def _expect(v, typ, path: str, key: str) -> None:
    if not isinstance(v, typ):
        raise ConfigError(f"expected {typ.__name__}", path=path, key=key)


def _resolve(base: Path, value: str) -> str:
    p = Path(value)
    return str(p if p.is_absolute() else base / p)
