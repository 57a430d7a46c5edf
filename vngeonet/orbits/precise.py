"""Precise satellite orbits and clocks from SP3 and RINEX clock products.

:class:`PreciseStore` offers the same ``sat_state`` as the broadcast
:class:`~vngeonet.orbits.store.EphemerisStore`:

* positions by Lagrange interpolation of the SP3 epochs (10 nodes, degree 9,
  the window centred on the requested time), velocities by the central
  difference of that polynomial over +-0.5 s (error < 1e-5 m/s);
* clocks by linear interpolation of the RINEX clock file (30 s or 5 min
  samples; both neighbours required, gap at most ``max_clock_gap_s``), or of
  the SP3 clocks when no clock file is given;
* ``clk_s`` includes the relativistic correction ``-2 r.v / c^2`` that IGS
  clock products leave to the user, so it is comparable with broadcast clocks.

SP3 positions refer to the satellite centre of mass; broadcast orbits (except
GLONASS) to an antenna phase centre: compare with that in mind.

References
----------
IGS conventions: Kouba, "A guide to using IGS products" (2009) §2.2-2.3
(interpolation, relativistic clock correction); SP3-d (Hilla 2016);
RINEX Clock 3.04.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from vngeonet.gnss.constants import C_MPS
from vngeonet.orbits.store import SatState, sat_codes
from vngeonet.rinex.clk import ClockData, read_clk
from vngeonet.rinex.sp3 import SP3Data, read_sp3

N_LAGRANGE = 10
_CODE_MAX = 800
PRECISE_SIGMA_M = 0.05  # nominal orbit+clock error of final products (1 sigma)


def lagrange_weights(t: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Lagrange basis values at ``t`` for node times, vectorised.

    Parameters
    ----------
    t : ndarray, shape (n,)
    nodes : ndarray, shape (n, p)
        Distinct node times per query.

    Returns
    -------
    ndarray, shape (n, p)
        ``w[i, j] = prod_{k != j} (t_i - x_ik) / (x_ij - x_ik)``; the
        interpolated value is ``sum_j w[i, j] f_ij``.
    """
    p = nodes.shape[1]
    d = t[:, None] - nodes  # (n, p)
    diff = nodes[:, :, None] - nodes[:, None, :]  # (n, p, p) x_j - x_k
    eye = np.eye(p, dtype=bool)
    diff[:, eye] = 1.0
    num = np.repeat(d[:, None, :], p, axis=1)  # (n, p, p): t - x_k for row j
    num[:, eye] = 1.0
    return np.prod(num / diff, axis=2)


class PreciseStore:
    """Satellite states from SP3 orbits and (optionally) RINEX clock files.

    Parameters
    ----------
    sp3_paths : path, iterable of paths, or SP3Data
        One or several SP3 files (e.g. the day before, the day, the day after,
        for interpolation near midnight).
    clk_paths : path, iterable of paths, or ClockData, optional
        RINEX clock files; without them SP3 clocks are interpolated.
    max_clock_gap_s : float
        Largest gap between the two clock samples used for an interpolation.
    """

    def __init__(self, sp3_paths, clk_paths=None, *, max_clock_gap_s: float = 900.0):
        self.sp3: SP3Data = sp3_paths if isinstance(sp3_paths, SP3Data) else read_sp3(sp3_paths)
        clk = clk_paths
        if clk is not None and not isinstance(clk, ClockData):
            clk = read_clk(clk)
        self.clk: ClockData | None = clk
        self.max_clock_gap_s = max_clock_gap_s
        self._row_sp3 = _code_rows(self.sp3.sats)
        if clk is not None:
            self._row_clk = _code_rows(clk.sats)
            self._clk_t, self._clk_v = clk.time_gps_s, clk.clk_s
        else:
            self._row_clk = self._row_sp3
            self._clk_t, self._clk_v = self.sp3.time_gps_s, self.sp3.clk_s
            self.max_clock_gap_s = max(max_clock_gap_s, 2.0 * (self.sp3.interval_s or 900.0))

    @property
    def satellites(self) -> list[str]:
        """Satellites present in the SP3 product."""
        return self.sp3.sats.tolist()

    def position(self, sat, t_gps_s) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated centre-of-mass positions (n, 3) and a validity flag (n,)."""
        sat, t = _flat(sat, t_gps_s)
        row = self._row_sp3[np.clip(sat_codes(sat), 0, _CODE_MAX - 1)]
        return self._interp(row, t)

    def _interp(self, row: np.ndarray, t: np.ndarray):
        tt = self.sp3.time_gps_s
        k = len(tt)
        p = min(N_LAGRANGE, k)
        i = np.searchsorted(tt, t)
        i0 = np.clip(i - p // 2, 0, k - p)
        cols = i0[:, None] + np.arange(p)
        nodes = tt[cols]
        w = lagrange_weights(t, nodes)
        r = np.maximum(row, 0)
        vals = self.sp3.pos_m[r[:, None], cols]  # (n, p, 3)
        pos = np.einsum("np,npk->nk", w, vals)
        ok = (row >= 0) & (t >= tt[0]) & (t <= tt[-1]) & np.isfinite(pos).all(axis=1)
        pos[~ok] = np.nan
        return pos, ok

    def clock(self, sat, t_gps_s) -> tuple[np.ndarray, np.ndarray]:
        """Linearly interpolated product clock (n,) (no relativistic term) and its rate (n,)."""
        sat, t = _flat(sat, t_gps_s)
        row = self._row_clk[np.clip(sat_codes(sat), 0, _CODE_MAX - 1)]
        return self._clock(row, t)

    def _clock(self, row, t):
        tt, v = self._clk_t, self._clk_v
        if len(tt) < 2:
            return np.full(len(t), np.nan), np.full(len(t), np.nan)
        j = np.clip(np.searchsorted(tt, t, side="right") - 1, 0, len(tt) - 2)
        r = np.maximum(row, 0)
        t0, t1 = tt[j], tt[j + 1]
        c0, c1 = v[r, j], v[r, j + 1]
        rate = (c1 - c0) / (t1 - t0)
        clk = c0 + rate * (t - t0)
        exact = t == t1
        clk[exact] = c1[exact]
        bad = (row < 0) | (t < tt[0]) | (t > tt[-1]) | (t1 - t0 > self.max_clock_gap_s)
        clk[bad] = np.nan
        rate[bad] = np.nan
        return clk, rate

    def sat_state(self, sat, t_tx_gps_s) -> SatState:
        """Same contract as :meth:`EphemerisStore.sat_state` (group delays NaN)."""
        sat, t = _flat(sat, t_tx_gps_s)
        row = self._row_sp3[np.clip(sat_codes(sat), 0, _CODE_MAX - 1)]
        pos, ok = self._interp(row, t)
        p1, _ = self._interp(row, t + 0.5)
        p0, _ = self._interp(row, t - 0.5)
        vel = p1 - p0
        crow = self._row_clk[np.clip(sat_codes(sat), 0, _CODE_MAX - 1)]
        clk, rate = self._clock(crow, t)
        rel = -2.0 * np.einsum("ij,ij->i", pos, vel) / C_MPS**2
        clk = clk + rel
        ok &= np.isfinite(clk) & np.isfinite(vel).all(axis=1)
        nan = np.full(len(t), np.nan)
        var = np.where(ok, PRECISE_SIGMA_M**2, np.nan)
        for a in (pos, vel):
            a[~ok] = np.nan
        clk[~ok] = np.nan
        rate[~ok] = np.nan
        return SatState(pos, vel, clk, rate, ok, nan, nan.copy(), var)


def _flat(sat, t):
    sat = np.asarray(sat)
    t = np.asarray(t, dtype=float)
    if sat.shape != t.shape:
        sat, t = np.broadcast_arrays(sat, t)
    return sat.ravel(), t.ravel()


def _code_rows(sats: np.ndarray) -> np.ndarray:
    """Lookup table satellite code -> row (-1 if absent)."""
    lut = np.full(_CODE_MAX, -1, dtype=np.intp)
    if len(sats):
        lut[sat_codes(np.asarray(sats))] = np.arange(len(sats))
    return lut


def load_products(sp3: Iterable[str | os.PathLike] | str, clk=None) -> PreciseStore:
    """Convenience constructor: ``PreciseStore(sp3, clk)``."""
    return PreciseStore(sp3, clk)
