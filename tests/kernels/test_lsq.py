"""Equality and correctness tests of the WLS kernel twins (ext/lsq.pyx, vngeonet/kernels/lsq.py).

Float tolerance: both backends run the same Gauss-Newton steps with the same
Cholesky algorithm in double precision but in different summation orders;
after convergence (|dx| < 1e-4 m) positions agree to 1e-6 m and residuals to
1e-6 m, far below any physical meaning.
"""

import numpy as np
import pytest

from tests.conftest import impl_param
from vngeonet import kernels

C = 299792458.0
OMEGA = 7.2921151467e-5
RX = np.array([-3978241.958, 3382840.234, 3649900.853])


def _sats(rng, n, rx):
    """n satellite positions 20,200 km up, above the receiver's horizon."""
    up = rx / np.linalg.norm(rx)
    out = []
    while len(out) < n:
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if d @ up > 0.3:
            out.append(rx + d * 2.2e7)
    return np.array(out)


def _ranges(s, r):
    return np.linalg.norm(s - r, axis=1) + OMEGA * (s[:, 0] * r[1] - s[:, 1] * r[0]) / C


def _problem(seed=1, n_ep=20, nsat=12, nsys=3, noise=0.5, outlier=None):
    rng = np.random.default_rng(seed)
    s_all, y_all, si_all, st = [], [], [], [0]
    truth = []
    for k in range(n_ep):
        r = RX + rng.normal(scale=5.0, size=3)
        s = _sats(rng, nsat, r)
        si = np.arange(nsat) % nsys
        clk = np.array([100.0, -250.0, 30.0, 5.0, 7.0, 9.0, 11.0, 13.0])[:nsys]
        y = _ranges(s, r) + clk[si] + rng.normal(scale=noise, size=nsat)
        if outlier is not None:
            y[outlier] += 80.0
        s_all.append(s); y_all.append(y); si_all.append(si); st.append(st[-1] + nsat)
        truth.append(r)
    s = np.vstack(s_all); y = np.concatenate(y_all); si = np.concatenate(si_all).astype(np.int32)
    n = len(y)
    thr = np.array([0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59])
    args = dict(sv_pos_m=s, y_m=y, w=np.full(n, 1 / noise**2), sys_idx=si,
                ep_start=np.array(st, np.int64), x0_m=np.zeros((n_ep, 3)), nsys=nsys,
                use=np.ones(n, np.uint8), chi2_thr=thr, max_iter=10, tol_m=1e-4, max_excl=2)
    return args, np.array(truth)


@pytest.mark.parametrize("impl", impl_param("lsq"))
def test_solves_from_earth_centre(impl):
    lsq = kernels.get("lsq", impl)
    args, truth = _problem()
    x, status, resid, used, cov = lsq.solve_epochs(**args)
    assert (status == lsq.ST_OK).all()
    assert np.abs(x[:, :3] - truth).max() < 5.0
    np.testing.assert_allclose(np.nanmean(x[:, 3:], axis=0), [100.0, -250.0, 30.0], atol=5.0)
    assert np.isfinite(resid).all() and used.all()
    assert (np.diagonal(cov, axis1=1, axis2=2) > 0).all()


@pytest.mark.parametrize("impl", impl_param("lsq"))
def test_raim_excludes_outlier(impl):
    lsq = kernels.get("lsq", impl)
    args, truth = _problem(seed=3, outlier=4)
    x, status, resid, used, cov = lsq.solve_epochs(**args)
    assert (status == lsq.ST_OK).all()
    assert not used.reshape(-1, 12)[:, 4].any()
    assert used.reshape(-1, 12)[:, [0, 1, 2, 3, 5]].all()
    assert np.abs(x[:, :3] - truth).max() < 5.0


@pytest.mark.parametrize("impl", impl_param("lsq"))
def test_failures_flagged(impl):
    lsq = kernels.get("lsq", impl)
    args, _ = _problem(n_ep=3, nsat=12)
    use = args["use"].reshape(3, 12)
    use[0, 5:] = 0          # 5 rows, 6 unknowns -> too few
    use[1, :] = 0           # nothing
    args["use"] = use.ravel()
    x, status, resid, used, cov = lsq.solve_epochs(**args)
    assert list(status) == [lsq.ST_FEW_SATS, lsq.ST_FEW_SATS, lsq.ST_OK]
    assert np.isnan(x[:2]).all() and np.isfinite(x[2]).all()
    # a system absent from an epoch gets no clock column and a NaN clock
    args, _ = _problem(n_ep=1, nsat=12, nsys=3)
    args["use"][args["sys_idx"] == 2] = 0
    x, status, *_ = lsq.solve_epochs(**args)
    assert status[0] == lsq.ST_OK and np.isnan(x[0, 5]) and np.isfinite(x[0, 4])


def test_empty_and_bad_args():
    for impl in ("python",) + (("cython",) if kernels.compiled("lsq") else ()):
        lsq = kernels.get("lsq", impl)
        args, _ = _problem(n_ep=1)
        empty = dict(args, sv_pos_m=np.zeros((0, 3)), y_m=np.zeros(0), w=np.zeros(0),
                     sys_idx=np.zeros(0, np.int32), ep_start=np.array([0, 0]),
                     x0_m=np.zeros((1, 3)), use=np.zeros(0, np.uint8))
        x, status, *_ = lsq.solve_epochs(**empty)
        assert status[0] == lsq.ST_FEW_SATS
        with pytest.raises(ValueError):
            lsq.solve_epochs(**dict(args, nsys=0))
        with pytest.raises(ValueError):
            lsq.solve_epochs(**dict(args, ep_start=np.array([0, 5])))


@pytest.mark.skipif(kernels.compiled("lsq") is None, reason="kernel lsq not compiled")
@pytest.mark.parametrize("seed,outlier,nsys", [(5, None, 1), (6, 7, 3), (7, None, 8)])
def test_twins_agree(seed, outlier, nsys):
    args, _ = _problem(seed=seed, n_ep=30, nsat=14, nsys=nsys, outlier=outlier)
    a = kernels.get("lsq", "python").solve_epochs(**args)
    b = kernels.get("lsq", "cython").solve_epochs(**args)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[3], b[3])
    for u, v in ((a[0], b[0]), (a[2], b[2]), (a[4], b[4])):
        np.testing.assert_allclose(u, v, atol=1e-6, rtol=1e-9, equal_nan=True)
