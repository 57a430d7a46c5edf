"""LAMBDA kernel twins (ext/lambda_.pyx, vngeonet/kernels/lambda_.py).

Correctness: the search returns the integer least-squares solution (checked
against brute-force enumeration on small problems) and the second best
candidate.  Equality: candidates (integers) must be identical between the
backends; distances and the factors agree to 1e-9 relative (same scalar
operation order in both, only libm/compiler contraction may differ).
"""

import itertools

import numpy as np
import pytest

from tests.conftest import impl_param
from vngeonet import kernels


def _problem(rng, n, scale=1.0, corr=0.9):
    """A float vector and a strongly correlated covariance like short-baseline DD ambiguities."""
    g = rng.normal(size=(n + 3, n))
    base = g.T @ g / (n + 3)
    d = np.sqrt(np.diag(base))
    c = base / np.outer(d, d)
    c = corr * c + (1 - corr) * np.eye(n) + corr * 0.5 * np.ones((n, n))
    s = scale * rng.uniform(0.05, 0.5, n)
    Q = c * np.outer(s, s) + 1e-4 * np.eye(n)
    a = rng.integers(-20, 20, n) + rng.multivariate_normal(np.zeros(n), Q)
    return a, Q


def _brute(a, Q, m, radius=3):
    Qi = np.linalg.inv(Q)
    base = np.floor(a + 0.5)
    best = []
    for off in itertools.product(range(-radius, radius + 1), repeat=len(a)):
        z = base + np.array(off)
        d = z - a
        best.append((float(d @ Qi @ d), tuple(z)))
    best.sort()
    return best[:m]


@pytest.mark.parametrize("impl", impl_param("lambda_"))
def test_ltdl_reconstructs(impl):
    lam = kernels.get("lambda_", impl)
    rng = np.random.default_rng(1)
    _, Q = _problem(rng, 6)
    L, D = lam.ltdl(Q)
    assert np.allclose(np.triu(L, 1), 0.0) and np.allclose(np.diag(L), 1.0)
    np.testing.assert_allclose(L.T @ np.diag(D) @ L, Q, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("impl", impl_param("lambda_"))
def test_reduction_is_unimodular_and_decorrelates(impl):
    lam = kernels.get("lambda_", impl)
    rng = np.random.default_rng(2)
    _, Q = _problem(rng, 8, corr=0.99)
    L, D = lam.ltdl(Q)
    L2, D2, Z = lam.reduction(L, D)
    assert np.array_equal(Z, np.round(Z))
    assert abs(abs(np.linalg.det(Z)) - 1.0) < 1e-9
    np.testing.assert_allclose(L2.T @ np.diag(D2) @ L2, Z.T @ Q @ Z, rtol=1e-9, atol=1e-12)
    # decorrelation: off-diagonal L entries are at most 1/2 after the Gauss steps
    assert np.abs(np.tril(L2, -1)).max() <= 0.5 + 1e-9


@pytest.mark.parametrize("impl", impl_param("lambda_"))
@pytest.mark.parametrize("seed", range(12))
def test_search_matches_brute_force(impl, seed):
    lam = kernels.get("lambda_", impl)
    rng = np.random.default_rng(100 + seed)
    n = 2 + seed % 3  # 2..4 ambiguities: brute force over 7^n points
    a, Q = _problem(rng, n, scale=1.0 + seed % 4)
    F, s = lam.lambda_(a, Q, 2)
    ref = _brute(a, Q, 2)
    assert tuple(F[:, 0]) == ref[0][1]
    np.testing.assert_allclose(s, [ref[0][0], ref[1][0]], rtol=1e-8)
    assert s[1] >= s[0]


@pytest.mark.parametrize("impl", impl_param("lambda_"))
def test_recovers_truth_for_precise_floats(impl):
    lam = kernels.get("lambda_", impl)
    rng = np.random.default_rng(7)
    n = 14
    truth = rng.integers(-1000, 1000, n).astype(float)
    _, Q = _problem(rng, n, scale=0.05)
    a = truth + rng.multivariate_normal(np.zeros(n), Q)
    F, s = lam.lambda_(a, Q, 2)
    assert np.array_equal(F[:, 0], truth)
    assert s[1] / s[0] > 3.0


@pytest.mark.parametrize("impl", impl_param("lambda_"))
def test_edge_cases(impl):
    lam = kernels.get("lambda_", impl)
    F, s = lam.lambda_(np.array([2.3]), np.array([[0.01]]), 2)
    assert F[:, 0].tolist() == [2.0] and F[:, 1].tolist() == [3.0]
    np.testing.assert_allclose(s, [0.09 / 0.01, 0.49 / 0.01])
    with pytest.raises(ValueError):
        lam.ltdl(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError):
        lam.lambda_(np.zeros(2), np.eye(3), 2)
    with pytest.raises(ValueError):
        lam.search(np.zeros(2), np.eye(2), np.ones(2), 0)


def test_backends_identical():
    if kernels.compiled("lambda_") is None:
        pytest.skip("kernel lambda_ not compiled")
    py, cy = kernels.get("lambda_", "python"), kernels.get("lambda_", "cython")
    rng = np.random.default_rng(42)
    for trial in range(40):
        n = 1 + trial % 16
        a, Q = _problem(rng, n, scale=0.2 + trial % 5)
        Fp, sp = py.lambda_(a, Q, 3 if n > 1 else 2)
        Fc, sc = cy.lambda_(a, Q, 3 if n > 1 else 2)
        assert np.array_equal(Fp, Fc)
        np.testing.assert_allclose(sp, sc, rtol=1e-9)
        Lp, Dp = py.ltdl(Q)
        Lc, _Dc = cy.ltdl(Q)
        np.testing.assert_allclose(Lp, Lc, rtol=1e-12, atol=1e-15)
        _L2p, _D2p, Zp = py.reduction(Lp, Dp)
        _L2c, _D2c, Zc = cy.reduction(Lp, Dp)
        assert np.array_equal(Zp, Zc)
