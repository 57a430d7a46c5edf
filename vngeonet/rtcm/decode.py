"""Decode RTCM 3 frames into typed messages.

:func:`decode` dispatches on the message number through one table merged
from the message modules (``msm``, ``legacy``, ``station``, ``ephemeris``;
each exports ``DECODERS: dict[int, Callable[[bytes, DecodeContext], object]]``
and ``ENCODERS: dict[type, Callable[[object], bytes]]``).  A type without a
decoder comes back as :class:`~vngeonet.rtcm.raw.RawMessage` — never an
exception, never dropped.

Error handling follows the house policy: :func:`decode` raises
:class:`~vngeonet.errors.FormatError` for a malformed payload of a known
type; the stream helpers (:class:`RTCMDecoder`, :func:`decode_stream`) count
and log it and hand out a ``RawMessage`` carrying the error instead, so one
bad message never stops a stream (``ErrorPolicy.RAISE`` restores raising).

References
----------
RTCM 10403.3 §3.5 (message types), §4 (framing).
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from vngeonet.errors import FormatError
from vngeonet.model import ErrorPolicy, Frame
from vngeonet.rtcm.context import DecodeContext
from vngeonet.rtcm.framer import FramerStats, RTCMFramer, frame_msg_type, iter_frames
from vngeonet.rtcm.raw import RawMessage

log = logging.getLogger(__name__)

MESSAGE_MODULES = ("msm", "legacy", "station", "ephemeris")

# What a decoder may raise on a malformed payload besides FormatError (a ValueError):
# bit reads past the end (IndexError), impossible field values (OverflowError,
# KeyError from id tables).  Anything else is a programming error and propagates.
_DATA_ERRORS = (ValueError, IndexError, OverflowError, KeyError)

_REGISTRY: tuple[dict, dict] | None = None
_MISSING: list[str] = []


def _load() -> tuple[dict, dict]:
    """Merge DECODERS/ENCODERS of the message modules (done once, on first use).

    A message module that does not exist (yet) leaves its types raw; a module
    that exists but fails to import is a programming error and propagates.
    """
    global _REGISTRY
    decoders: dict = {}
    encoders: dict = {RawMessage: RawMessage.encode_payload}
    for name in MESSAGE_MODULES:
        full = f"vngeonet.rtcm.{name}"
        try:
            mod = importlib.import_module(full)
        except ModuleNotFoundError as err:
            if err.name != full:
                raise
            _MISSING.append(name)
            log.debug("%s not available: its message types stay raw", full)
            continue
        decoders.update(getattr(mod, "DECODERS", {}))
        encoders.update(getattr(mod, "ENCODERS", {}))
    _REGISTRY = (decoders, encoders)
    return _REGISTRY


def registry() -> tuple[dict, dict]:
    """The merged ``(DECODERS, ENCODERS)`` tables."""
    return _REGISTRY or _load()


def __getattr__(name: str):
    # DECODERS / ENCODERS are built lazily so that message modules may import this one.
    if name == "DECODERS":
        return registry()[0]
    if name == "ENCODERS":
        return registry()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _error(msg_type: int, err: Exception, ctx: DecodeContext | None, offset: int) -> FormatError:
    text = str(err)
    if str(msg_type) not in text:
        text = f"message {msg_type}: {text}"
    return FormatError(
        text,
        source=(ctx.source if ctx is not None else None) or None,
        offset=offset if offset >= 0 else None,
    )


def decode(frame: Frame, ctx: DecodeContext | None = None):
    """Decode one frame.

    Parameters
    ----------
    frame : Frame
        A whole, CRC-checked frame (from :class:`RTCMFramer` or :func:`iter_frames`).
    ctx : DecodeContext, optional
        The stream's decoding state (approximate time, GLONASS channels); one
        per stream.  ``None`` uses a fresh context (epochs stay unresolved).

    Returns
    -------
    object
        The message dataclass of the type's decoder, or
        :class:`~vngeonet.rtcm.raw.RawMessage` for a type without one.

    Raises
    ------
    FormatError
        The payload of a known type is malformed; the text names the message
        type, ``offset`` is the frame's stream offset.
    """
    dec = (_REGISTRY or _load())[0].get(frame.msg_type)
    if dec is None:
        return RawMessage(frame.msg_type, frame.payload)
    if ctx is None:
        ctx = DecodeContext()
    try:
        return dec(frame.payload, ctx)
    except _DATA_ERRORS as err:
        raise _error(frame.msg_type, err, ctx, frame.offset) from err


def decode_payload(payload: bytes, ctx: DecodeContext | None = None):
    """Decode a bare payload (no framing); see :func:`decode`."""
    payload = bytes(payload)
    return decode(Frame(frame_msg_type(payload), payload, b"", -1), ctx)


@dataclass(slots=True)
class DecodeStats:
    """Counters of a decoding stream: the framer's plus decode failures.

    Attributes
    ----------
    framing : FramerStats
        Frames, CRC failures, skipped bytes, frames per type.
    messages : int
        Messages handed out (decoded or raw).
    decode_errors : int
        Frames of a known type whose payload failed to decode.
    errors_per_type : Counter[int, int]
        Decode failures per message number.
    """

    framing: FramerStats = field(default_factory=FramerStats)
    messages: int = 0
    decode_errors: int = 0
    errors_per_type: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        """JSON-serialisable counters."""
        out = self.framing.as_dict()
        out["messages"] = self.messages
        out["decode_errors"] = self.decode_errors
        out["errors_per_type"] = {str(k): v for k, v in sorted(self.errors_per_type.items())}
        return out


def decode_frames(
    frames: Iterable[Frame],
    ctx: DecodeContext | None = None,
    policy: ErrorPolicy = ErrorPolicy.LOG,
    stats: DecodeStats | None = None,
) -> Iterator:
    """Decode frames one by one under an error policy.

    A frame that fails to decode is, under ``LOG`` (logged) or ``IGNORE``
    (silent), counted in ``stats`` and yielded as a ``RawMessage`` whose
    ``error`` says why; under ``RAISE`` the :class:`FormatError` propagates.
    """
    if ctx is None:
        ctx = DecodeContext()
    if stats is None:
        stats = DecodeStats()
    decoders = (_REGISTRY or _load())[0]
    for frame in frames:
        dec = decoders.get(frame.msg_type)
        stats.messages += 1
        if dec is None:
            yield RawMessage(frame.msg_type, frame.payload)
            continue
        try:
            yield dec(frame.payload, ctx)
        except _DATA_ERRORS as err:
            yield _failed(frame, _error(frame.msg_type, err, ctx, frame.offset), policy, stats, err)


def _failed(
    frame: Frame, exc: FormatError, policy: ErrorPolicy, stats: DecodeStats, cause
) -> RawMessage:
    if policy is ErrorPolicy.RAISE:
        raise exc from cause
    stats.decode_errors += 1
    stats.errors_per_type[frame.msg_type] += 1
    if policy is ErrorPolicy.LOG:
        log.warning("undecodable frame kept raw: %s", exc)
    return RawMessage(frame.msg_type, frame.payload, str(exc))


def decode_stream(
    data,
    ctx: DecodeContext | None = None,
    policy: ErrorPolicy = ErrorPolicy.LOG,
    stats: DecodeStats | None = None,
) -> Iterator:
    """Frame and decode a whole buffer or an iterable of byte chunks.

    Parameters
    ----------
    data : bytes-like or iterable of bytes-like
        A complete stream (e.g. a file's contents) or its chunks in order.
    ctx : DecodeContext, optional
        Decoding state for this stream (a fresh one when ``None``).
    policy : ErrorPolicy
        What to do with a frame that fails to decode (see :func:`decode_frames`).
    stats : DecodeStats, optional
        Filled with the counters as the iterator advances.

    Yields
    ------
    object
        Decoded messages and ``RawMessage`` objects, in stream order.
    """
    if stats is None:
        stats = DecodeStats()
    if isinstance(data, (bytes, bytearray, memoryview)):
        frames: Iterable[Frame] = iter_frames(data, stats.framing)
    else:
        frames = _chunk_frames(data, stats)
    yield from decode_frames(frames, ctx, policy, stats)


def _chunk_frames(chunks: Iterable, stats: DecodeStats) -> Iterator[Frame]:
    framer = RTCMFramer()
    framer.stats = stats.framing
    for chunk in chunks:
        yield from framer.feed(chunk)
    yield from framer.flush()


class RTCMDecoder:
    """Sans-I/O framer + decoder for one stream: bytes in, messages out.

    Parameters
    ----------
    ctx : DecodeContext, optional
        The stream's decoding state (a fresh one when ``None``).
    policy : ErrorPolicy
        Treatment of frames that fail to decode (default: count, log, keep raw).
    source : str
        Stream name for logs and errors (also stored in ``ctx.source`` if empty).

    Attributes
    ----------
    stats : DecodeStats
        Framing and decoding counters.
    """

    def __init__(
        self,
        ctx: DecodeContext | None = None,
        policy: ErrorPolicy = ErrorPolicy.LOG,
        source: str = "",
    ):
        self.ctx = ctx if ctx is not None else DecodeContext(source=source)
        if source and not self.ctx.source:
            self.ctx.source = source
        self.policy = policy
        self.stats = DecodeStats()
        self._framer = RTCMFramer(source or self.ctx.source)
        self._framer.stats = self.stats.framing

    def feed(self, data) -> list:
        """Add stream bytes; return the messages completed by them."""
        return list(decode_frames(self._framer.feed(data), self.ctx, self.policy, self.stats))

    def flush(self) -> list:
        """End of stream: messages from the held-back bytes, if any."""
        return list(decode_frames(self._framer.flush(), self.ctx, self.policy, self.stats))
