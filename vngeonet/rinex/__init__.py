"""RINEX files: observation reader (``obs``), header (``header``), packing (``compress``).

Navigation, SP3 and clock readers (``nav``, ``sp3``, ``clk``) live beside them.
"""

from vngeonet.rinex.header import RINEXObsHeader, parse_obs_header
from vngeonet.rinex.obs import ObsData, ObsEvent, read_obs, read_obs_bytes

__all__ = ["ObsData", "ObsEvent", "RINEXObsHeader", "parse_obs_header", "read_obs", "read_obs_bytes"]
