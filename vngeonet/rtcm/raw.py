"""Messages kept as raw bytes: types without a decoder, and frames that failed to decode.

RTCM 10403.3 defines many more messages than this package decodes (SSR
1057–1068 and 1240–1270, CRS 1300–1302, proprietary 4001–4095, ...).  Those
are never dropped: :func:`vngeonet.rtcm.decode.decode` returns them as a
:class:`RawMessage` that keeps the payload intact, and
:func:`vngeonet.rtcm.encode.encode` writes it back bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawMessage:
    """An RTCM 3 message kept as its payload bytes.

    Attributes
    ----------
    msg_type : int
        Message number (DF002).
    payload : bytes
        The message body (without preamble, length and CRC).
    error : str
        Empty for a message type that simply has no decoder; otherwise why
        decoding this (known) type failed — stream helpers return the
        message raw instead of raising.

    Examples
    --------
    >>> RawMessage(4072, bytes.fromhex("fe80")).to_json()
    {'type': 4072, 'raw_hex': 'fe80'}
    """

    msg_type: int
    payload: bytes
    error: str = ""

    def to_json(self) -> dict:
        """``{"type": N, "raw_hex": "..."}`` (plus ``"error"`` when decoding failed)."""
        out = {"type": self.msg_type, "raw_hex": self.payload.hex()}
        if self.error:
            out["error"] = self.error
        return out

    def encode_payload(self) -> bytes:
        """The payload, unchanged (the encoder of a raw message)."""
        return self.payload
