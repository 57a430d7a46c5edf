"""RINEX observation-record kernel: twin and compiled module give identical bytes.

Inputs: the rows of real RTCM captures, and random rows built to hit the edge
cases (NaN and out-of-range values, negative zero, duplicate fields, satellites
out of order, systems not in the header, LLI values beyond 9, empty epochs,
epochs of more than 999 satellite lines).
"""

import numpy as np
import pytest

from tests.conftest import data_path, impl_param
from vngeonet import kernels
from vngeonet.gnss.time import GPSTime
from vngeonet.rinex.writer import epoch_heads, obs_layout, obs_types_from, stack_epochs

CAPTURES = ["pygnssutils/tests/ntrip_encode_none.bin", "pyrtcm/tests/pygpsdata-NTRIP-USCL00CHL0.log"]


def _call(k, heads, rows, lli, types):
    return k.format_obs_records(heads, rows.ep_row0, rows.sat.view(np.uint32).reshape(-1, 3),
                                rows.sig.view(np.uint32).reshape(-1, 2), rows.pr_m, rows.cp_cyc,
                                rows.dop_hz, rows.cn0_dbhz, lli, *obs_layout(types))


@pytest.mark.parametrize("capture", CAPTURES)
def test_real_captures_identical_bytes(capture):
    from vngeonet.archive.convert import read_epochs

    obs, _, _ = read_epochs([data_path(capture)])
    rows = stack_epochs(obs)
    keys = {(s[0], g) for s, g in zip(rows.sat.tolist(), rows.sig.tolist())}
    types = obs_types_from(keys)
    heads = epoch_heads(rows.times)
    lli = np.ascontiguousarray(rows.lli)
    py = _call(kernels.get("rinex_fmt", "python"), heads, rows, lli, types)
    assert py.count(b"\n>") == len(obs) - 1 and len(py) > 10000
    if kernels.compiled("rinex_fmt") is not None:
        assert _call(kernels.get("rinex_fmt", "cython"), heads, rows, lli, types) == py
    # without a system in the header, its satellites are left out
    less = {k: v for k, v in types.items() if k != "G"}
    py2 = _call(kernels.get("rinex_fmt", "python"), heads, rows, lli, less)
    assert b"\nG" not in py2
    if kernels.compiled("rinex_fmt") is not None:
        assert _call(kernels.get("rinex_fmt", "cython"), heads, rows, lli, less) == py2


def _random_epochs(rng, n_ep):
    from vngeonet.model import ObsEpoch

    sats = np.array([f"{s}{p:02d}" for s in "GRECJSIX" for p in range(1, 40)])
    sigs = np.array(["1C", "2W", "5Q", "7I", "1X", "2L"])
    out = []
    for k in range(n_ep):
        n = int(rng.integers(0, 60)) if k % 7 else 0
        sat = rng.choice(sats, n)
        sig = rng.choice(sigs, n)
        vals = []
        for _ in range(4):
            v = np.where(rng.random(n) < 0.5, rng.uniform(-1e9, 1e10, n), rng.uniform(-5, 5, n))
            special = rng.random(n) < 0.3
            v[special] = rng.choice([np.nan, 1e10, -1e9, -0.0, 0.0004, -0.0004, 9999999999.998,
                                     -999999999.998, 0.0005, 1.0005, 2.5e-4], int(special.sum()))
            vals.append(v)
        lli = rng.integers(0, 16, n).astype(np.uint8)
        out.append(ObsEpoch(GPSTime(2328, 100.0 + k + (0.25 if k % 5 == 3 else 0.0)), "TEST", sat, sig,
                            *vals, lli, np.full(n, np.nan)))
    return out


@pytest.mark.parametrize("impl", impl_param("rinex_fmt"))
def test_random_rows_equal_twin(impl):
    rng = np.random.default_rng(7)
    obs = _random_epochs(rng, 80)
    rows = stack_epochs(obs)
    types = obs_types_from({("G", "1C"), ("G", "2W"), ("R", "1C"), ("E", "5Q"), ("E", "1X"), ("C", "7I"),
                            ("C", "2L"), ("J", "1C"), ("S", "1C"), ("I", "5Q")})
    for flag in (0, 1):
        heads = epoch_heads(rows.times, flag)
        ref = _call(kernels.get("rinex_fmt", "python"), heads, rows, rows.lli, types)
        got = _call(kernels.get("rinex_fmt", impl), heads, rows, rows.lli, types)
        assert got == ref
    text = ref.decode("ascii")
    assert "X01" not in text and text.count(">") == 80
    for line in text.splitlines():
        assert line == line.rstrip() and (line[0] == ">" or line[:3][0] in "GRECJSI")


def test_satellite_lines_sorted_and_later_row_wins():
    """Lines by system order then id; on a shared field the later finite value wins; NaN blanks nothing."""
    from vngeonet.model import ObsEpoch

    sat = np.array(["R02", "G10", "G05", "G10", "G10", "E01"])
    sig = np.array(["1C", "1C", "1C", "1C", "1C", "1C"])
    pr = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 6.0])
    cp = np.array([np.nan, 10.0, np.nan, np.nan, 11.0, np.nan])
    lli = np.array([0, 3, 0, 0, 5, 0], dtype=np.uint8)
    o = ObsEpoch(GPSTime(2328, 0.0), "T", sat, sig, pr, cp, np.full(6, np.nan), np.full(6, np.nan), lli,
                 np.full(6, np.nan))
    rows = stack_epochs([o])
    types = {"G": ["C1C", "L1C"], "R": ["C1C", "L1C"], "E": ["C1C", "L1C"]}
    for impl in ("python", "cython"):
        if impl == "cython" and kernels.compiled("rinex_fmt") is None:
            continue
        text = _call(kernels.get("rinex_fmt", impl), epoch_heads(rows.times), rows, rows.lli, types).decode()
        lines = text.splitlines()
        assert lines[0] == "> 2024 08 18 00 00  0.0000000  0  4"
        assert [line[:3] for line in lines[1:]] == ["G05", "G10", "R02", "E01"]
        assert lines[2] == "G10" + f"{4.0:14.3f}  " + f"{11.0:14.3f}5"


def test_more_than_999_lines_in_an_epoch():
    from vngeonet.model import ObsEpoch

    sat = np.array([f"G{chr(48 + i // 64)}{chr(48 + i % 64)}" for i in range(1200)])
    n = len(sat)
    o = ObsEpoch(GPSTime(2328, 1.5), "T", sat, np.full(n, "1C"), np.arange(n, dtype=float), np.full(n, np.nan),
                 np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, np.uint8), np.full(n, np.nan))
    rows = stack_epochs([o, o])
    types = {"G": ["C1C"]}
    ref = _call(kernels.get("rinex_fmt", "python"), epoch_heads(rows.times), rows, rows.lli, types)
    assert ref.splitlines()[0].endswith(b"00  1.5000000  01200")
    if kernels.compiled("rinex_fmt") is not None:
        assert _call(kernels.get("rinex_fmt", "cython"), epoch_heads(rows.times), rows, rows.lli, types) == ref


@pytest.mark.parametrize("impl", impl_param("rinex_fmt"))
def test_empty_input(impl):
    k = kernels.get("rinex_fmt", impl)
    types = {"G": ["C1C"]}
    z = np.zeros((0, 3), np.uint32)
    f = np.zeros(0)
    assert k.format_obs_records([], np.zeros(1, np.int64), z, np.zeros((0, 2), np.uint32), f, f, f, f,
                                np.zeros(0, np.uint8), *obs_layout(types)) == b""
    assert k.format_obs_records([b"> x"], np.zeros(2, np.int64), z, np.zeros((0, 2), np.uint32), f, f, f, f,
                                np.zeros(0, np.uint8), *obs_layout(types)) == b"> x  0\n"


def test_compiled_rejects_short_arrays():
    if kernels.compiled("rinex_fmt") is None:
        pytest.skip("kernel rinex_fmt not compiled")
    k = kernels.get("rinex_fmt", "cython")
    f = np.zeros(1)
    with pytest.raises(ValueError):
        k.format_obs_records([b">"], np.array([0, 2], np.int64), np.zeros((2, 3), np.uint32),
                             np.zeros((2, 2), np.uint32), f, f, f, f, np.zeros(2, np.uint8),
                             *obs_layout({"G": ["C1C"]}))


def test_f14_3_matches_printf_but_at_ties():
    from vngeonet.kernels.rinex_fmt import f14_3

    rng = np.random.default_rng(20240818)
    v = np.concatenate([rng.uniform(-1e9, 9.9e9, 20000), rng.uniform(-10, 10, 20000),
                        [0.0, -0.0, 0.0004, -0.0004, 0.001, -0.001, 9999999999.998, -999999999.998, 1.5]])
    ours = [row.tobytes().decode() for row in f14_3(v)]
    diff = [(a, f"{x:14.3f}") for a, x in zip(ours, v) if a != f"{x:14.3f}"]
    assert len(diff) <= 2 and all(abs(float(a) - float(b)) <= 0.0011 for a, b in diff)


def _slips(impl, rows):
    t_ep = np.array([t.seconds for t in rows.times])
    return kernels.get("rinex_fmt", impl).lock_slips(rows.ep_row0, t_ep, rows.sat.view(np.uint32).reshape(-1, 3),
                                                     rows.sig.view(np.uint32).reshape(-1, 2), rows.lock_s)


@pytest.mark.parametrize("impl", impl_param("rinex_fmt"))
def test_lock_slips_equal_lock_tracker(impl):
    """Kernel flags = LockTracker epoch by epoch, on a real capture and on random lock times (NaN);
    the twin and the compiled kernel also agree with infinite lock times."""
    from vngeonet.archive.convert import read_epochs
    from vngeonet.model import ObsEpoch
    from vngeonet.rinex.writer import LockTracker

    obs, _, _ = read_epochs([data_path(CAPTURES[0])])
    rng = np.random.default_rng(3)
    fake = []
    for k in range(300):
        n = int(rng.integers(0, 30))
        lock = rng.choice([0.0, 1.0, 5.0, 30.0, 100.0, np.nan], n) + rng.uniform(0, 3, n)
        sat = rng.choice(["G01", "G02", "E05", "R07", "C30"], n)
        fake.append(ObsEpoch(GPSTime(2328, 10.0 + k * rng.choice([0.5, 1.0, 7.0])), "T", sat,
                             rng.choice(["1C", "2W", "5Q"], n), *(np.zeros(n),) * 4, np.zeros(n, np.uint8), lock))
    fake.sort(key=lambda o: o.time.seconds)
    for epochs in (obs, fake):
        tracker = LockTracker()
        want = np.concatenate([tracker.lli(o) & 1 for o in epochs])
        got = _slips(impl, stack_epochs(epochs))
        assert got.dtype == np.uint8 and (epochs is obs or got.sum() > 50)
        np.testing.assert_array_equal(got, want)
    rows = stack_epochs(fake)
    lock = rows.lock_s.copy()
    lock[::7], lock[3::11] = np.inf, -np.inf
    rows = type(rows)(*[lock if f == "lock_s" else getattr(rows, f) for f in rows.__slots__])
    np.testing.assert_array_equal(_slips(impl, rows), _slips("python", rows))


def test_lli_rows_epochs_out_of_time_order():
    from vngeonet.archive.convert import read_epochs
    from vngeonet.rinex.writer import lli_rows

    obs, _, _ = read_epochs([data_path(CAPTURES[0])])
    rows = stack_epochs(obs)
    want = lli_rows(rows)
    perm = np.random.default_rng(5).permutation(len(obs))
    shuffled = lli_rows(stack_epochs([obs[k] for k in perm]))
    np.testing.assert_array_equal(shuffled, np.concatenate(
        [want[rows.ep_row0[k]:rows.ep_row0[k + 1]] for k in perm]))


@pytest.mark.parametrize("impl", impl_param("rinex_fmt"))
def test_join_arrays(impl):
    k = kernels.get("rinex_fmt", impl)
    rng = np.random.default_rng(11)
    parts = [rng.normal(size=int(rng.integers(0, 9))) for _ in range(300)] + [np.zeros(0, np.int32)]
    n = sum(len(p) for p in parts)
    np.testing.assert_array_equal(k.join_arrays(parts, np.float64, n), np.concatenate(parts[:-1]))
    sats = [np.array(["G01", "E11", "C30"][:i % 4], dtype="<U3") for i in range(50)]
    got = k.join_arrays(sats, "<U3", sum(len(s) for s in sats))
    assert got.dtype == np.dtype("<U3") and got.tolist() == np.concatenate(sats).tolist()
    assert k.join_arrays([], np.uint8, 0).shape == (0,)
    for bad, n_bad in (([np.zeros(3, np.float32)], 3), ([np.zeros((2, 2))], 4), ([np.zeros(6)[::2]], 3),
                       ([[1.0]], 1), ([np.zeros(3)], 2), ([np.zeros(3)], 4), ([np.array(["G01"])], 1)):
        with pytest.raises(ValueError):
            k.join_arrays(bad, np.float64, n_bad)
