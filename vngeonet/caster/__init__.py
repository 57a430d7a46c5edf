"""The NTRIP caster: NTRIP 1.0/2.0 server, sourcetable, accounts, nearest-base.

``NTRIPCaster`` (server.py) is the asyncio server; ``request.py``,
``sourcetable.py``, ``auth.py``, ``mounts.py``, ``nearest.py`` and
``config.py`` are pure (no sockets, no clock) and tested on their own.
"""

from vngeonet.caster.config import CasterConfig, MountConfig, load_config
from vngeonet.caster.server import NTRIPCaster

__all__ = ["CasterConfig", "MountConfig", "NTRIPCaster", "load_config"]
