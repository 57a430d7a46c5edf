"""Integer ambiguity resolution: LAMBDA with an adaptive ratio test and partial fixing.

The float double-difference ambiguities ``a`` (cycles) and their covariance
``Q`` are decorrelated once (``Z^T Q Z = L^T D L``, kernel ``lambda_``).  The
full set is searched first; it is accepted when the ratio of the second-best
to the best squared distance reaches :func:`ratio_threshold` for its size.
When it fails, partial ambiguity resolution (PAR) drops the worst-determined
decorrelated ambiguity (the first component, the largest conditional
variance) one at a time and searches the trailing subset, whose marginal
factorisation is the trailing block of ``L`` and ``D``, down to
``min_fixed`` ambiguities.  A subset is only tried when its bootstrapped
success rate is at least ``min_success``, the full set when its rate is at
least ``full_min_success`` (a hopeless float solution would make the
search explode; a search that still runs away counts as a failure).

References
----------
Teunissen P.J.G. (1995), The least-squares ambiguity decorrelation adjustment,
J. Geodesy 70:65-82.  Teunissen P.J.G. (1998), Success probability of integer
GPS ambiguity rounding and bootstrapping, J. Geodesy 72:606-612.  Verhagen S. &
Teunissen P.J.G. (2013), The ratio test for future GNSS ambiguity resolution,
GPS Solutions 17:535-548 (fixed-failure-rate thresholds, approximated here).
Teunissen P.J.G., Joosten P., Tiberius C. (1999), Geometry-free ambiguity
success rates in case of partial fixing, ION NTM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vngeonet import kernels


@dataclass(frozen=True, slots=True, eq=False)
class AmbiguityFix:
    """Outcome of :func:`resolve`.

    Attributes
    ----------
    ok : bool
        A (full or partial) integer solution passed the ratio test.
    ratio : float
        Second-best over best squared distance of the accepted (or last tried) set.
    threshold : float
        Ratio threshold applied to that set.
    n_amb, n_fixed : int
        Number of float ambiguities and of fixed (decorrelated) combinations.
    success_rate : float
        Bootstrapped success rate of the fixed subset (of the full set if none).
    Zs : ndarray of float64, shape (n_amb, n_fixed)
        Integer combinations fixed: ``z = Zs.T @ a``.
    z : ndarray of float64, shape (n_fixed,)
        Their integer values.
    """

    ok: bool
    ratio: float
    threshold: float
    n_amb: int
    n_fixed: int
    success_rate: float
    Zs: np.ndarray
    z: np.ndarray


def ratio_threshold(n: int) -> float:
    """Ratio-test threshold for ``n`` ambiguities.

    An approximation of fixed-failure-rate (0.1 %) thresholds: 3.0 up to 4
    ambiguities, then ``3.0 (4/n)^0.35``, never below 1.5 (about 30
    ambiguities).  Many ambiguities make a wrong candidate that is nearly as
    close as the best much less likely, so a constant 3 rejects good fixes.
    """
    if n <= 4:
        return 3.0
    return max(1.5, 3.0 * (4.0 / n) ** 0.35)


def bootstrap_success(D) -> float:
    """Bootstrapped success rate ``prod(2 Phi(1 / (2 sqrt(d_i))) - 1)`` of conditional variances ``D``."""
    d = np.asarray(D, dtype=np.float64)
    return (
        float(np.prod([math.erf(1.0 / (2.0 * math.sqrt(2.0 * v))) for v in d])) if d.size else 1.0
    )


def resolve(
    a,
    Q,
    par: bool = True,
    min_fixed: int = 4,
    min_success: float = 0.99,
    ratio_fn=ratio_threshold,
    impl: str | None = None,
    full_min_success: float = 0.0,
) -> AmbiguityFix:
    """Fix float ambiguities ``a`` (n,) with covariance ``Q`` (n, n), cycles.

    Parameters
    ----------
    a : ndarray of float64, shape (n,)
    Q : ndarray of float64, shape (n, n)
    par : bool
        Try subsets when the full set fails.
    min_fixed : int
        Smallest subset PAR may fix.
    min_success : float
        PAR tries a subset only while its bootstrapped success rate is at least this.
    full_min_success : float
        The full set is searched only when its bootstrapped success rate is at
        least this (a hopeless float solution would make the search explode).
    ratio_fn : callable(int) -> float
        Threshold per set size.

    Returns
    -------
    AmbiguityFix
        ``ok`` False (and ``n_fixed`` 0) when nothing passes or ``Q`` is not
        positive definite.
    """
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[0]
    empty = np.zeros((n, 0))
    if n < 1:
        return AmbiguityFix(False, 0.0, ratio_fn(0), 0, 0, 0.0, empty, np.zeros(0))
    lam = kernels.get("lambda_", impl)
    try:
        L, D = lam.ltdl(Q)
    except ValueError:
        return AmbiguityFix(False, 0.0, ratio_fn(n), n, 0, 0.0, empty, np.zeros(0))
    L, D, Z = lam.reduction(L, D)
    zs = Z.T @ a
    ratio, thr = 0.0, ratio_fn(n)
    last = n - min(n, min_fixed) if par else 0
    for k in range(last + 1):
        p = n - k
        ps = bootstrap_success(D[k:])
        if ps < (min_success if k > 0 else full_min_success):
            continue
        try:
            zn, s = lam.search(zs[k:], L[k:, k:], D[k:], 2)
        except RuntimeError:  # search too long (hopeless float solution): no fix from this set
            continue
        ratio = float(s[1] / s[0]) if s[0] > 0 else 1e9
        thr = ratio_fn(p)
        if ratio >= thr:
            return AmbiguityFix(True, ratio, thr, n, p, ps, Z[:, k:].copy(), zn[:, 0].copy())
    return AmbiguityFix(False, ratio, thr, n, 0, bootstrap_success(D), empty, np.zeros(0))


def condition(x, P, idx_T, fix: AmbiguityFix, var_cyc2: float = 0.0):
    """Float state conditioned on the fixed integer combinations.

    Parameters
    ----------
    x : ndarray (m,)
        Float state.
    P : ndarray (m, m)
        Its covariance.
    idx_T : ndarray (n_amb, m)
        Maps the state to the float ambiguities ``a = idx_T @ x``.
    fix : AmbiguityFix
        With ``ok`` True.
    var_cyc2 : float
        Variance left on the fixed combinations (0: exact constraint).

    Returns
    -------
    x_fix : ndarray (m,)
    P_fix : ndarray (m, m)
    """
    A = fix.Zs.T @ idx_T  # (p, m)
    PA = P @ A.T
    S = A @ PA + var_cyc2 * np.eye(A.shape[0])
    K = np.linalg.solve(S, PA.T).T
    x_fix = x - K @ (A @ x - fix.z)
    P_fix = P - K @ PA.T
    return x_fix, 0.5 * (P_fix + P_fix.T)
