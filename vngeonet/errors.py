"""The one exception hierarchy of vngeonet.

::

    VNGeonetError(Exception)
    ├── ConfigError(VNGeonetError, ValueError)        # .path, .key
    ├── FormatError(VNGeonetError, ValueError)        # .source, .offset or .line
    │   ├── FramingError
    │   ├── ChecksumError
    │   ├── UnsupportedMessage                        # .msg_type
    │   └── RINEXError
    ├── StreamError(VNGeonetError, OSError)
    │   ├── StreamClosed
    │   └── NTRIPError                                # .status, .reason
    └── SolverError(VNGeonetError)
        ├── InsufficientSatellites                    # .n_sv
        └── NotConverged                              # .iterations, .residual_norm_m

Every class inherits a built-in category too, so ``except ValueError`` or
``except OSError`` keeps working for callers that do not know this module.
"""

from __future__ import annotations


class VNGeonetError(Exception):
    """Base of every error this package raises on purpose.

    Catch it at an application boundary (CLI, service loop) to report the
    failure and carry on with the next item.
    """


class ConfigError(VNGeonetError, ValueError):
    """A configuration file or value is wrong.

    Raised by the config loaders.  ``path`` is the file, ``key`` the offending
    key (dotted), both ``None`` when not known.  The caller should report it
    and refuse to start; it is never retried.
    """

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None):
        where = ""
        if path:
            where = f"{path}: "
        if key:
            where += f"[{key}] "
        super().__init__(f"{where}{message}")
        self.path = path
        self.key = key


class FormatError(VNGeonetError, ValueError):
    """Input bytes or text do not follow their format.

    ``source`` names the file or stream, ``offset`` the byte offset and
    ``line`` the 1-based line number where known.  Offline readers raise it;
    live streams count and log it instead (see :class:`ErrorPolicy`).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        offset: int | None = None,
        line: int | None = None,
    ):
        where = []
        if source:
            where.append(str(source))
        if line is not None:
            where.append(f"line {line}")
        if offset is not None:
            where.append(f"byte {offset}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(f"{prefix}{message}")
        self.source = source
        self.offset = offset
        self.line = line


class FramingError(FormatError):
    """A frame header or length is impossible (e.g. reserved bits set, length > 1023)."""


class ChecksumError(FormatError):
    """A frame's checksum (RTCM CRC-24Q, UBX Fletcher, NMEA XOR) does not match."""


class UnsupportedMessage(FormatError):
    """A message type has no decoder or encoder here.

    ``msg_type`` is the message number.  Decoders do not raise this for
    unknown types (they return the raw frame); encoders raise it when asked
    to write a message they cannot build.
    """

    def __init__(self, message: str, *, msg_type: int | None = None, **kw):
        super().__init__(message, **kw)
        self.msg_type = msg_type


class RINEXError(FormatError):
    """A RINEX (or SP3/clock) file is malformed; ``line`` says where."""


class StreamError(VNGeonetError, OSError):
    """A data stream (serial, TCP, NTRIP, file) failed.

    Stream drivers raise it for I/O failures; callers usually reconnect with
    back-off rather than give up.
    """


class StreamClosed(StreamError):
    """The stream was closed, by the peer or by :meth:`aclose`; reading it again is an error."""


class NTRIPError(StreamError):
    """An NTRIP peer answered with an error or with something that is not NTRIP.

    ``status`` is the HTTP status code (``None`` if there was none) and
    ``reason`` the reason phrase or a description of the protocol violation.
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


class SolverError(VNGeonetError):
    """A positioning solver could not produce a solution.

    Batch and live solvers catch it and emit a flagged solution with the
    reason instead; only direct callers of the low-level routines see it.
    """


class InsufficientSatellites(SolverError):
    """Fewer usable satellites than unknowns; ``n_sv`` is how many there were."""

    def __init__(self, message: str, *, n_sv: int):
        super().__init__(message)
        self.n_sv = n_sv


class NotConverged(SolverError):
    """An iteration did not converge; ``iterations`` and ``residual_norm_m`` tell how far it got."""

    def __init__(self, message: str, *, iterations: int, residual_norm_m: float):
        super().__init__(message)
        self.iterations = iterations
        self.residual_norm_m = residual_norm_m
