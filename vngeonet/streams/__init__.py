"""Stream drivers: the only I/O of ingest.

Every driver implements :class:`~vngeonet.streams.base.Source` (``async read()``,
``aclose()``, ``stats``).  :func:`~vngeonet.streams.uri.open_source` builds one
from a stream URI::

    serial:///dev/ttyUSB0?baud=115200&parity=N&rtscts=0
    tcp://host:port                 tcpserver://host:port
    udp://host:port                 file://path?speed=1&loop=1
    ntrip://user:pass@host:port/MOUNT?v=2&gga=21.03,105.85,20&gga_interval=10

References: NTRIP 2.0 (RTCM 10410.1); NTRIP 1.0 (RTCM 10410.0); RFC 9112 §7.1
(chunked transfer coding); RFC 1952 (gzip).
"""

from vngeonet.streams.base import Source
from vngeonet.streams.stats import StreamStats
from vngeonet.streams.uri import StreamURI, open_source, parse_uri

__all__ = ["Source", "StreamStats", "StreamURI", "open_source", "parse_uri"]
