"""Satellite orbits and clocks: broadcast ephemerides and precise (SP3/CLK) products.

* :mod:`vngeonet.orbits.store` — :class:`EphemerisStore` (selection, vectorised states);
* :mod:`vngeonet.orbits.broadcast` — Keplerian and GLONASS orbit models;
* :mod:`vngeonet.orbits.precise` — :class:`PreciseStore` (SP3 + clock interpolation).
"""

from vngeonet.orbits.store import EphemerisStore, SatState

__all__ = ["EphemerisStore", "PreciseStore", "SatState"]


def __getattr__(name):
    if name == "PreciseStore":
        from vngeonet.orbits.precise import PreciseStore

        return PreciseStore
    raise AttributeError(name)
