"""Compiled Cython kernels (built from ``ext/*.pyx``).

Never import from here directly: use :mod:`vngeonet.kernels`, which picks the
compiled module or its pure-Python twin.
"""
