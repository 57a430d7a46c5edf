"""georinex as a test oracle: compare an ObsData with ``georinex.load`` value by value."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

from vngeonet.rinex.header import KIND_OF_TYPE

COLUMNS = ("pr_m", "cp_cyc", "dop_hz", "cn0_dbhz")


def load_georinex(path):
    """georinex.load with LLI/SSI, warnings silenced."""
    import georinex

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return georinex.load(str(path), useindicators=True)


def _file_time_ns(obs) -> np.ndarray:
    """Our epoch times back in the file's time scale, as datetime64[ns]."""
    from vngeonet.rinex.obs import to_gps_seconds

    offset = to_gps_seconds(obs.time_gps_s, obs.header.time_system) - obs.time_gps_s
    t = obs.time_gps_s - offset
    ns = np.round(t * 1e6).astype(np.int64) * 1000
    return np.datetime64("1980-01-06T00:00:00", "ns") + ns.astype("timedelta64[ns]")


def compare(obs, ds) -> int:
    """Assert every value of ``obs`` equals georinex's; returns the number of values compared."""
    hdr = obs.header
    t_ours = _file_time_ns(obs)
    t_theirs = ds.time.values.astype("datetime64[ns]")
    # georinex loses sub-millisecond parts of some epoch seconds (07590920.05o line 399
    # reads "30.0020000" and georinex gives 30.001 s; the file text is what we return).
    dt_ns = np.abs((t_ours - t_theirs).astype(np.int64))
    assert dt_ns.max(initial=0) <= 1_000_000, f"epoch times differ by up to {dt_ns.max()} ns"
    svs = [str(s) for s in ds.sv.values]
    assert set(np.unique(obs.sat)) <= set(svs), set(np.unique(obs.sat)) - set(svs)
    sv_index = {s: i for i, s in enumerate(svs)}
    row_sv = np.array([sv_index[s] for s in obs.sat], dtype=np.int64)
    n = 0
    for sys_, codes in hdr.obs_types.items():
        mapped = [(c, hdr.signals[sys_][j]) for j, c in enumerate(codes) if hdr.signals[sys_][j]]
        dup = Counter(x[1:] + x[0].replace("P", "C") for _, x in mapped)
        cols = [k for k, s in enumerate(svs) if s[0] == sys_]
        if not cols:
            continue
        for code, sig3 in mapped:
            if dup[sig3[1:] + sig3[0]] > 1 or code not in ds:
                continue
            kind = KIND_OF_TYPE[sig3[0]]
            grid = np.full((len(t_theirs), len(svs)), np.nan)
            lli = np.zeros((len(t_theirs), len(svs)))
            m = (np.char.startswith(obs.sat, sys_)) & (obs.sig == sig3[1:])
            vals = getattr(obs, COLUMNS[kind])[m]
            ok = ~np.isnan(vals)
            grid[obs.epoch_idx[m][ok], row_sv[m][ok]] = vals[ok]
            lli[obs.epoch_idx[m][ok], row_sv[m][ok]] = obs.lli[m][ok]
            theirs = ds[code].values
            np.testing.assert_array_equal(grid[:, cols], theirs[:, cols], err_msg=f"{sys_} {code}")
            if kind == 1 and f"{code}lli" in ds:
                tl = np.nan_to_num(ds[f"{code}lli"].values)
                sel = ~np.isnan(theirs[:, cols])
                np.testing.assert_array_equal(lli[:, cols][sel], tl[:, cols][sel], err_msg=f"{code} LLI")
            n += int(np.count_nonzero(~np.isnan(theirs[:, cols])))
    return n
