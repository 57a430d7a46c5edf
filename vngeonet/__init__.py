"""vngeonet: open GNSS reference-station (CORS) network software.

RTCM 3 codec, NTRIP caster and client, RINEX archive and quality control,
positioning (SPP, RTK, network RTK) and a coordinate service, for a national
network of continuously operating reference stations.
"""

__version__ = "0.1.0"
