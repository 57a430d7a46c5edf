"""Encode message dataclasses back into RTCM 3 frames.

:func:`encode` looks the message's class up in the merged ``ENCODERS`` table
of the message modules (see :mod:`vngeonet.rtcm.decode`), builds the payload
and frames it (preamble, length, CRC-24Q).  For every decoded message,
``encode(decode(frame)) == frame.raw`` bit for bit; a
:class:`~vngeonet.rtcm.raw.RawMessage` re-encodes to its unchanged payload.

References
----------
RTCM 10403.3 §3.5 (message contents), §4 (framing).
"""

from __future__ import annotations

from vngeonet.errors import UnsupportedMessage
from vngeonet.rtcm.decode import registry
from vngeonet.rtcm.framer import frame_payload


def _encoder(msg):
    encoders = registry()[1]
    enc = encoders.get(type(msg))
    if enc is None:
        for cls in type(msg).__mro__[1:]:
            enc = encoders.get(cls)
            if enc is not None:
                break
    if enc is None:
        raise UnsupportedMessage(
            f"no RTCM encoder for {type(msg).__name__}", msg_type=getattr(msg, "msg_type", None)
        )
    return enc


def encode_payload(msg) -> bytes:
    """The message body (no framing) of a message dataclass.

    Raises
    ------
    UnsupportedMessage
        No encoder is registered for the message's class.
    """
    return bytes(_encoder(msg)(msg))


def encode(msg) -> bytes:
    """A whole RTCM 3 frame (0xD3, length, payload, CRC-24Q) for a message dataclass.

    Parameters
    ----------
    msg : object
        A message from :func:`vngeonet.rtcm.decode.decode` or built by the
        caller (any class with a registered encoder), or a ``RawMessage``.

    Returns
    -------
    bytes
        The frame.

    Raises
    ------
    UnsupportedMessage
        No encoder is registered for the message's class.
    FramingError
        The payload exceeds 1023 bytes.

    Examples
    --------
    >>> from vngeonet.rtcm.raw import RawMessage
    >>> encode(RawMessage(1005, bytes.fromhex("3ed00003b5964465b88637bbb352b774e1e579"))).hex()
    'd300133ed00003b5964465b88637bbb352b774e1e5794c9492'
    """
    return frame_payload(_encoder(msg)(msg))


def encode_many(msgs) -> bytes:
    """Concatenated frames of several messages (e.g. one epoch's MSMs)."""
    return b"".join(encode(m) for m in msgs)
