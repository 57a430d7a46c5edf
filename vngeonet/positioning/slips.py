"""Cycle-slip detection for one receiver's carrier phases.

Inputs are "wide" arrays of shape (n_epoch, n_sat, n_freq) (NaN = missing),
one column per frequency band in use.  A slip flag at ``[k, s, f]`` means a new
ambiguity starts at epoch ``k`` for satellite ``s`` on band ``f``; the solver
resets that ambiguity only.

Tests, each giving a reason bit:

* ``NEW`` (first observation, or after a gap longer than ``max_gap_s``);
* ``LLI``: RINEX loss-of-lock bit 0 (RINEX 3.05 §5.3; bit 1, half-cycle, is
  not a slip; bit 2 in RINEX 2 means anti-spoofing and is ignored);
* ``DOPPLER``: the phase change against the change predicted from the mean
  Doppler of the two epochs, after removing the change common to all
  satellites (receiver clock jumps); threshold ``2 + 0.1 dt`` cycles.  Per band;
* ``GF``: jump of the geometry-free phase ``lambda_1 phi_1 - lambda_2 phi_2``
  (m) against its previous value (steps up to 10 s) or its linear prediction
  (longer steps), threshold ``gf_thr_m + 0.001 dt`` m;
* ``MW``: Melbourne-Wuebbena wide-lane ambiguity (cycles) departing from its
  running arc mean by more than ``mw_thr_cyc`` or, after 10 epochs, five
  times the arc's own scatter if that is larger (noisy low-elevation code).

GF and MW cannot tell which band slipped, so they flag both bands of that
satellite (its other satellites and bands are untouched).  The Doppler and LLI
tests are per band.

References: Blewitt G. (1990), An automatic editing algorithm for GPS data,
GRL 17(3); Melbourne W.G. (1985); Wuebbena G. (1985).
"""

from __future__ import annotations

import numpy as np

C_MPS = 299792458.0
NEW, LLI, GF, MW, DOPPLER = 1, 2, 4, 8, 16
REASONS = {NEW: "new", LLI: "lli", GF: "gf", MW: "mw", DOPPLER: "doppler"}


def detect_slips(
    t_s,
    cp_cyc,
    pr_m,
    dop_hz,
    lli,
    lam_m,
    max_gap_s: float = 300.0,
    gf_thr_m: float = 0.05,
    mw_thr_cyc: float = 4.0,
):
    """Slip flags and reasons.

    Parameters
    ----------
    t_s : ndarray (n_ep,)
        Epoch times, s (monotonic; decreasing for a backward pass is allowed).
    cp_cyc, pr_m, dop_hz : ndarray (n_ep, n_sat, n_f)
        Phase (cycles), code (m), Doppler (Hz); NaN missing.
    lli : ndarray of uint8 (n_ep, n_sat, n_f)
    lam_m : ndarray (n_sat, n_f)
        Wavelengths (m), NaN for absent bands.

    Returns
    -------
    slip : ndarray of bool (n_ep, n_sat, n_f)
    reason : ndarray of uint8 (n_ep, n_sat, n_f)
        Bit set of ``NEW | LLI | GF | MW | DOPPLER``.
    """
    n_ep, ns, nf = cp_cyc.shape
    reason = np.zeros((n_ep, ns, nf), np.uint8)
    last_t = np.full((ns, nf), np.nan)
    prev = {"cp": np.full((ns, nf), np.nan), "dop": np.full((ns, nf), np.nan)}
    gf_hist = np.full((ns, 2), np.nan)  # last two GF values of the arc
    gf_t = np.full((ns, 2), np.nan)
    mw_sum, mw_sq, mw_n = np.zeros(ns), np.zeros(ns), np.zeros(ns)
    for k in range(n_ep):
        t = t_s[k]
        cp = cp_cyc[k]
        valid = np.isfinite(cp)
        dt = np.abs(t - last_t)
        new = valid & ~(dt <= max_gap_s)
        r = np.where(new, NEW, 0).astype(np.uint8)
        r |= np.where(valid & ((lli[k] & 1) != 0), LLI, 0).astype(np.uint8)
        r |= _doppler(t - last_t, cp, prev, dop_hz[k], lam_m, valid & ~new)
        if nf >= 2:
            r[:, :2] |= _dual(
                t,
                k,
                cp,
                pr_m[k],
                lam_m,
                valid,
                new,
                gf_hist,
                gf_t,
                mw_sum,
                mw_sq,
                mw_n,
                gf_thr_m,
                mw_thr_cyc,
            )
        reason[k] = r
        last_t[valid] = t
        prev["cp"][valid] = cp[valid]
        prev["dop"] = np.where(valid, dop_hz[k], np.nan)
    return reason != 0, reason


def _doppler(dt, cp, prev, dop, lam_m, cont):
    use = cont & np.isfinite(dop) & np.isfinite(prev["dop"])
    out = np.zeros(cp.shape, np.uint8)
    if use.sum() < 2:
        return out
    pred = -0.5 * (dop + prev["dop"]) * dt
    disc_m = ((cp - prev["cp"]) - pred) * lam_m
    common = np.median(disc_m[use])
    res_cyc = np.abs((disc_m - common) / lam_m)
    thr = 2.0 + 0.1 * np.abs(dt)
    out[use & (res_cyc > thr)] = DOPPLER
    return out


def _dual(t, k, cp, pr, lam, valid, new, gf_hist, gf_t, mw_sum, mw_sq, mw_n, gf_thr_m, mw_thr_cyc):
    cp, pr, lam, valid, new = cp[:, :2], pr[:, :2], lam[:, :2], valid[:, :2], new[:, :2]
    both = valid[:, 0] & valid[:, 1]
    out = np.zeros((cp.shape[0], 2), np.uint8)
    restart = both & (new[:, 0] | new[:, 1])
    gf = lam[:, 0] * cp[:, 0] - lam[:, 1] * cp[:, 1]
    h0, h1 = gf_hist[:, 0], gf_hist[:, 1]
    t0, t1 = gf_t[:, 0], gf_t[:, 1]
    # linear prediction only over long steps: at high rates the differenced noise would dominate
    long_step = np.abs(t - t1) > 10.0
    rate = np.where(np.isfinite(h0) & (t1 != t0) & long_step, (h1 - h0) / (t1 - t0), 0.0)
    pred = h1 + rate * (t - t1)
    dgf = np.abs(gf - pred)
    bad_gf = both & ~restart & np.isfinite(h1) & (dgf > gf_thr_m + 0.001 * np.abs(t - t1))
    f1, f2 = C_MPS / lam[:, 0], C_MPS / lam[:, 1]
    lw = C_MPS / (f1 - f2)
    mw = (cp[:, 0] - cp[:, 1]) - (f1 * pr[:, 0] + f2 * pr[:, 1]) / ((f1 + f2) * lw)
    has_mw = both & np.isfinite(mw)
    mean = np.where(mw_n > 0, mw_sum / np.maximum(mw_n, 1), np.nan)
    var = np.where(mw_n > 1, mw_sq / np.maximum(mw_n, 1) - mean**2, 0.0)
    thr = np.maximum(mw_thr_cyc, np.where(mw_n >= 10, 5.0 * np.sqrt(np.maximum(var, 0.0)), 0.0))
    bad_mw = has_mw & ~restart & (mw_n >= 2) & (np.abs(mw - mean) > thr)
    out[bad_gf] |= GF
    out[bad_mw] |= MW
    reset = restart | bad_gf | bad_mw | ~both
    gf_hist[reset] = np.nan
    gf_t[reset] = np.nan
    mw_sum[reset | ~has_mw] = 0.0
    mw_sq[reset | ~has_mw] = 0.0
    mw_n[reset | ~has_mw] = 0.0
    gf_hist[both, 0], gf_t[both, 0] = gf_hist[both, 1], gf_t[both, 1]
    gf_hist[both, 1], gf_t[both, 1] = gf[both], t
    mw_sum[has_mw] += mw[has_mw]
    mw_sq[has_mw] += mw[has_mw] ** 2
    mw_n[has_mw] += 1
    out[:, 0] = np.where(both, out[:, 0], 0)
    out[:, 1] = np.where(both, out[:, 1], 0)
    # GF/MW cannot tell the band: flag both
    both_flag = out[:, 0] | out[:, 1]
    out[:, 0] = both_flag
    out[:, 1] = both_flag
    return out
