"""One stream URI syntax for every driver.

::

    serial:///dev/ttyUSB0?baud=115200&parity=N&rtscts=0
    tcp://host:port                      (connect to a receiver / relay)
    tcpserver://host:port                (listen; receivers push to us)
    udp://host:port                      (bind and receive datagrams)
    ntrip://user:pass@host:port/MOUNT?v=2&gga=21.03,105.85,20&gga_interval=10
    file://path?speed=1&loop=1           (relative: file://data/x.rtcm; absolute: file:///data/x.rtcm)
    sim://ID?speed=1&start=2026-01-01T00:00:00   (simulated station; see vngeonet/streams/sim.py)

A bare path (no ``scheme://``) means ``file://``.  User names and passwords
may be percent-encoded.  :meth:`StreamURI.redacted` gives the text for logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from vngeonet.errors import ConfigError

SCHEMES = ("serial", "tcp", "tcpserver", "udp", "ntrip", "file", "sim")
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}


@dataclass(frozen=True, slots=True)
class StreamURI:
    """A parsed stream URI.

    Attributes
    ----------
    scheme : str
        One of :data:`SCHEMES`.
    host : str
        Host name or address (``""`` for serial and file).
    port : int
        Port (0 when absent; NTRIP defaults to 2101).
    path : str
        Device (serial), file path (file) or mountpoint without ``/`` (ntrip).
    user, password : str
        Credentials (ntrip), percent-decoded.
    params : dict[str, str]
        Query parameters.
    """

    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""
    user: str = ""
    password: str = ""
    params: dict = field(default_factory=dict)

    def param(self, key: str, default=None, kind=str):
        """Query parameter ``key`` converted by ``kind`` (``bool`` understands 1/0/yes/no)."""
        if key not in self.params:
            return default
        raw = self.params[key]
        try:
            if kind is bool:
                low = raw.strip().lower()
                if low in _TRUE:
                    return True
                if low in _FALSE:
                    return False
                raise ValueError(raw)
            return kind(raw)
        except ValueError as err:
            raise ConfigError(f"stream URI parameter {key}={raw!r} is not a valid {kind.__name__}",
                              key=key) from err

    def redacted(self) -> str:
        """The URI with the password replaced by ``***``."""
        cred = ""
        if self.user or self.password:
            cred = f"{self.user}:***@" if self.password else f"{self.user}@"
        q = "&".join(f"{k}={v}" for k, v in self.params.items())
        q = f"?{q}" if q else ""
        if self.scheme in ("serial", "file", "sim"):
            return f"{self.scheme}://{self.path}{q}"
        tail = f"/{self.path}" if self.path else ""
        return f"{self.scheme}://{cred}{self.host}:{self.port}{tail}{q}"


def parse_uri(text: str) -> StreamURI:
    """Parse a stream URI.

    Raises
    ------
    ConfigError
        Unknown scheme, missing host or port, bad port.
    """
    if "://" not in text:
        return StreamURI("file", path=text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown stream scheme {scheme!r} in {text!r}; use one of {', '.join(SCHEMES)}",
                          key="uri")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if scheme in ("serial", "file", "sim"):
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ConfigError(f"stream URI {text!r} has no path", key="uri")
        return StreamURI(scheme, path=path, params=params)
    try:
        port = parts.port
    except ValueError as err:
        raise ConfigError(f"bad port in stream URI {_redact(text)!r}", key="uri") from err
    if port is None:
        port = 2101 if scheme == "ntrip" else None
    host = parts.hostname or ""
    if port is None or (not host and scheme not in ("tcpserver", "udp")):
        raise ConfigError(f"stream URI {_redact(text)!r} needs host:port", key="uri")
    path = unquote(parts.path.lstrip("/"))
    if scheme == "ntrip" and "v" in params and params["v"] not in ("1", "2"):
        raise ConfigError(f"NTRIP version v={params['v']!r} must be 1 or 2", key="uri")
    return StreamURI(scheme, host or "0.0.0.0", port, path, unquote(parts.username or ""),
                     unquote(parts.password or ""), params)


def _redact(text: str) -> str:
    head, sep, tail = text.partition("://")
    if "@" in tail:
        cred, _, rest = tail.rpartition("@")
        user = cred.split(":", 1)[0]
        return f"{head}{sep}{user}:***@{rest}"
    return text


def open_source(uri: str | StreamURI, **kw):
    """A :class:`~vngeonet.streams.base.Source` for ``uri`` (not yet opened).

    Keyword arguments are passed to the driver (e.g. ``clock``, ``sleep``).
    """
    u = parse_uri(uri) if isinstance(uri, str) else uri
    name = kw.pop("name", u.redacted())
    if u.scheme == "file":
        from vngeonet.streams.file import FileSource

        return FileSource(u.path, speed=u.param("speed", 0.0, float), loop=u.param("loop", False, bool),
                          name=name, **kw)
    if u.scheme == "sim":
        return _open_sim(u, name, **kw)
    if u.scheme == "tcp":
        from vngeonet.streams.tcp import TCPClientSource

        return TCPClientSource(u.host, u.port, read_timeout_s=u.param("timeout", None, float),
                               name=name, **kw)
    if u.scheme == "tcpserver":
        from vngeonet.streams.tcp import TCPServerSource

        return TCPServerSource(u.host, u.port, name=name, **kw)
    if u.scheme == "udp":
        from vngeonet.streams.udp import UDPSource

        return UDPSource(u.host, u.port, name=name, **kw)
    if u.scheme == "serial":
        from vngeonet.streams.serial import SerialSource

        return SerialSource(u.path, baud=u.param("baud", 115200, int), parity=u.param("parity", "N"),
                            bytesize=u.param("bytesize", 8, int), stopbits=u.param("stopbits", 1, float),
                            rtscts=u.param("rtscts", False, bool), xonxoff=u.param("xonxoff", False, bool),
                            name=name, **kw)
    from vngeonet.streams.ntrip_client import NTRIPClientSource

    return NTRIPClientSource(u.host, u.port, u.path, user=u.user, password=u.password,
                             version=u.param("v", 2, int), gga=u.param("gga"),
                             gga_interval_s=u.param("gga_interval", 10.0, float),
                             read_timeout_s=u.param("timeout", None, float), name=name, **kw)


def _open_sim(u: StreamURI, name: str, *, pos_ecef_m=None, rtcm_id: int = 0, **_kw):
    """``sim://ID``: needs the station's true position (``pos_ecef_m``, from its station file)."""
    from vngeonet.streams.sim import SimSource, network_for, parse_start

    sid = u.path.strip("/").upper()
    if pos_ecef_m is None:
        raise ConfigError(f"sim://{sid} needs the station position (position.ecef_m)", key="stream.uri")
    net = network_for(parse_start(u.param("start")), u.param("speed", 1.0, float),
                      u.param("interval", 1.0, float), u.param("seed", 20261123, int),
                      u.param("systems", "GREC"), u.param("nav"))
    return SimSource(sid, pos_ecef_m, u.param("id", rtcm_id, int), net, name=name)


def open_sink(uri: str | StreamURI, **kw):
    """An :class:`~vngeonet.streams.ntrip_server.NTRIPServerSink` for an ``ntrip://`` URI.

    ``ntrip://user:password@host:port/MOUNT?v=2&chunked=1``; NTRIP 1 uses only the password.
    """
    u = parse_uri(uri) if isinstance(uri, str) else uri
    if u.scheme != "ntrip":
        raise ConfigError(f"push target must be an ntrip:// URI, not {u.scheme}://", key="uri")
    if not u.path:
        raise ConfigError("push target needs a mountpoint: ntrip://:PASSWORD@host:port/MOUNT", key="uri")
    from vngeonet.streams.ntrip_server import NTRIPServerSink

    return NTRIPServerSink(u.host, u.port, u.path, password=u.password, user=u.user,
                           version=u.param("v", 2, int), chunked=u.param("chunked", True, bool), **kw)
