"""Station-network simulator: nominal constellations, signal physics, ``sim://`` source."""
