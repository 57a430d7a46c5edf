"""Positioning: propagation models, single point positioning and solution output.

* :mod:`~vngeonet.positioning.models` - Klobuchar (GPS, BeiDou), Saastamoinen + Niell, DOPs;
* :mod:`~vngeonet.positioning.spp` - vectorised multi-GNSS SPP with RAIM and Doppler velocity
  (least squares in the ``lsq`` kernel);
* :mod:`~vngeonet.positioning.pos` - RTKLIB-readable ``.pos`` files, JSON lines, error statistics.
"""
