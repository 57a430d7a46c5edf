"""Decoding state that outlives one message.

A :class:`DecodeContext` travels with a stream: decoders read it to turn
times of week / day into full times, and update it with what messages teach
(GLONASS frequency channels from 1020, MSM5/MSM7 and 1230-era messages, the
current week from ephemerides or 1013).  It is the only mutable object of
the RTCM package; one context per stream, never shared between streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vngeonet.gnss.time import GPSTime


@dataclass
class DecodeContext:
    """Per-stream decoding state.

    Attributes
    ----------
    approx_time : GPSTime or None
        A time within half a week of the data (for MSM epochs), e.g. from the
        command line, a 1013 message or an ephemeris week.  ``None``: full
        times are left unresolved (``None``) in decoded messages.
    glo_channels : dict[str, int]
        GLONASS frequency channel number k (-7..+6) per satellite ("R05").
    source : str
        Name of the stream or file, for error messages.
    """

    approx_time: GPSTime | None = None
    glo_channels: dict[str, int] = field(default_factory=dict)
    source: str = ""
