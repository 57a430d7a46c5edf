"""Ambiguity resolution wrapper (vngeonet/positioning/ambiguity.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tests.conftest import impl_param
from vngeonet.positioning import ambiguity


def _cov(rng, n, sigma):
    g = rng.normal(size=(n + 2, n))
    c = g.T @ g / (n + 2)
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d) * np.outer(sigma, sigma) + 1e-6 * np.eye(n)


def test_ratio_threshold_adapts():
    thr = [ambiguity.ratio_threshold(n) for n in range(1, 60)]
    assert thr[0] == thr[3] == 3.0
    assert all(a >= b for a, b in itertools.pairwise(thr))
    assert thr[-1] == 1.5


def test_bootstrap_success_one_dimension():
    sigma = 0.2
    phi = 0.5 * (1 + math.erf(1 / (2 * sigma) / math.sqrt(2)))
    assert ambiguity.bootstrap_success([sigma**2]) == pytest.approx(2 * phi - 1, rel=1e-12)
    assert ambiguity.bootstrap_success([]) == 1.0


@pytest.mark.parametrize("impl", impl_param("lambda_"))
def test_full_fix(impl):
    rng = np.random.default_rng(5)
    truth = rng.integers(-50, 50, 10).astype(float)
    Q = _cov(rng, 10, np.full(10, 0.05))
    a = truth + rng.multivariate_normal(np.zeros(10), Q)
    fix = ambiguity.resolve(a, Q, impl=impl)
    assert fix.ok and fix.n_fixed == 10 and fix.success_rate > 0.999
    fixed = np.linalg.solve(fix.Zs.T, fix.z)
    assert np.allclose(fixed, truth)


@pytest.mark.parametrize("impl", impl_param("lambda_"))
def test_partial_fix_drops_the_poorly_determined(impl):
    rng = np.random.default_rng(9)
    n = 8
    truth = rng.integers(-50, 50, n).astype(float)
    sig = np.full(n, 0.03)
    sig[[2, 5]] = 3.0  # two ambiguities barely determined
    Q = np.diag(sig**2)
    a = truth + sig * rng.standard_normal(n)
    a[2] = truth[2] + 0.5  # exactly between two integers
    full = ambiguity.resolve(a, Q, par=False, impl=impl)
    assert not full.ok
    fix = ambiguity.resolve(a, Q, par=True, impl=impl)
    assert fix.ok and fix.n_fixed == n - 2
    # the fixed combinations leave the two bad ones free and give the truth on the others
    assert np.allclose(np.abs(fix.Zs[[2, 5]]).sum(), 0.0)
    x, P = ambiguity.condition(a, Q, np.eye(n), fix)
    good = np.setdiff1d(np.arange(n), [2, 5])
    assert np.allclose(x[good], truth[good]) and np.allclose(np.diag(P)[good], 0.0, atol=1e-12)
    assert np.allclose(x[[2, 5]], a[[2, 5]])


def test_not_positive_definite_is_not_fixed():
    fix = ambiguity.resolve(np.array([0.1, 0.2]), np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert not fix.ok and fix.n_fixed == 0
    fix = ambiguity.resolve(np.zeros(0), np.zeros((0, 0)))
    assert not fix.ok


def test_hopeless_float_solution_is_not_searched():
    """50 ambiguities known to half a cycle: no fix, no exploding search, no exception."""
    rng = np.random.default_rng(11)
    Q = _cov(rng, 50, np.full(50, 0.5))
    a = rng.normal(size=50) * 10
    fix = ambiguity.resolve(a, Q, full_min_success=0.5, min_success=0.9999)
    assert not fix.ok and fix.n_fixed == 0 and fix.success_rate < 1e-3
