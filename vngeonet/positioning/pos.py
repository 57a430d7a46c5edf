"""Solution output: RTKLIB-compatible ``.pos`` text, JSON lines and accuracy statistics.

The ``.pos`` layout follows the solution file format that RTKLIB's tools
(rtkplot, pos2kml, rnx2rtkp users' scripts) read: ``%`` header lines, then one
line per solved epoch ``GPST(yyyy/mm/dd hh:mm:ss.sss) lat(deg) lon(deg)
height(m) Q ns sdn sde sdu sdne sdeu sdun age ratio`` with Q = 5 for single
point solutions, or the ECEF variant ``x y z Q ns sdx sdy sdz sdxy sdyz sdzx age
ratio``.  Off-diagonal columns hold ``sign(c) sqrt(|c|)`` of the covariance
``c``.  Unsolved epochs are omitted, as RTKLIB does.

References
----------
RTKLIB 2.4.2 manual, Appendix B.2 "Solution Status/Output Format" (format facts only).
"""

from __future__ import annotations

import json
import math

import numpy as np

from vngeonet.gnss import coords
from vngeonet.gnss.time import GPSTime
from vngeonet.model import FixQuality

# FixQuality -> RTKLIB Q flag (1 fix, 2 float, 3 sbas, 4 dgps, 5 single, 6 ppp)
RTKLIB_Q = {FixQuality.FIX: 1, FixQuality.FLOAT: 2, FixQuality.DGNSS: 4, FixQuality.SPP: 5}
JSON_Q = {FixQuality.NONE: "none", FixQuality.SPP: "single", FixQuality.DGNSS: "dgps",
          FixQuality.FLOAT: "float", FixQuality.FIX: "fix"}


def _sq(c: float) -> float:
    return math.copysign(math.sqrt(abs(c)), c) if np.isfinite(c) else 0.0


def _time_text(t_s: float) -> str:
    d = GPSTime.from_seconds(round(t_s * 1000.0) / 1000.0).to_datetime()
    return d.strftime("%Y/%m/%d %H:%M:%S.") + f"{d.microsecond // 1000:03d}"


def pos_lines(res, header: dict | None = None, xyz: bool = False):
    """Yield the text lines (with newline) of a ``.pos`` file for an :class:`SPPResult`.

    ``header`` maps labels to values for the ``%`` preamble (e.g. ``{"inp file": path}``).
    """
    yield "% program   : vngeonet spp\n"
    for k, v in (header or {}).items():
        yield f"% {k:<10}: {v}\n"
    if xyz:
        yield "% (x/y/z-ecef=WGS84,Q=1:fix,2:float,3:sbas,4:dgps,5:single,6:ppp,ns=# of satellites)\n"
        yield ("%  GPST                      x-ecef(m)      y-ecef(m)      z-ecef(m)   Q  ns   sdx(m)"
               "   sdy(m)   sdz(m)  sdxy(m)  sdyz(m)  sdzx(m) age(s)  ratio\n")
    else:
        yield "% (lat/lon/height=WGS84/ellipsoidal,Q=1:fix,2:float,3:sbas,4:dgps,5:single,6:ppp,ns=# of satellites)\n"
        yield ("%  GPST                  latitude(deg) longitude(deg)  height(m)   Q  ns   sdn(m)"
               "   sde(m)   sdu(m)  sdne(m)  sdeu(m)  sdun(m) age(s)  ratio\n")
    ok = np.flatnonzero(np.asarray(res.status) != FixQuality.NONE)
    if not len(ok):
        return
    pos = res.pos_ecef_m[ok]
    llh = coords.ecef_to_llh(pos)
    cov = res.cov_ecef_m2[ok]
    if not xyz:
        rot = coords.enu_rotation(llh[:, 0], llh[:, 1])
        cov = np.einsum("nij,njk,nlk->nil", rot, cov, rot)
    for j, k in enumerate(ok):
        q = RTKLIB_Q.get(FixQuality(int(res.status[k])), 5)
        c = cov[j]
        ratio = getattr(res, "ratio", None)
        rt = 0.0 if ratio is None else float(ratio[k])
        sd = (math.sqrt(max(c[0, 0], 0)), math.sqrt(max(c[1, 1], 0)), math.sqrt(max(c[2, 2], 0)))
        if xyz:
            body = f"{pos[j, 0]:14.4f} {pos[j, 1]:14.4f} {pos[j, 2]:14.4f}"
            sd, off = sd, (_sq(c[0, 1]), _sq(c[1, 2]), _sq(c[2, 0]))
        else:
            body = (f"{math.degrees(llh[j, 0]):14.9f} {math.degrees(llh[j, 1]):14.9f} "
                    f"{llh[j, 2]:10.4f}")
            # ENU order in cov; RTKLIB columns are n, e, u, ne, eu, un
            sd = (math.sqrt(max(c[1, 1], 0)), math.sqrt(max(c[0, 0], 0)), math.sqrt(max(c[2, 2], 0)))
            off = (_sq(c[1, 0]), _sq(c[0, 2]), _sq(c[2, 1]))
        yield (f"{_time_text(res.time_gps_s[k])} {body} {q:3d} {int(res.nsat[k]):3d} "
               f"{sd[0]:8.4f} {sd[1]:8.4f} {sd[2]:8.4f} {off[0]:8.4f} {off[1]:8.4f} {off[2]:8.4f} "
               f"{0.0:6.2f} {rt:6.1f}\n")


def write_pos(path, res, header: dict | None = None, xyz: bool = False) -> int:
    """Write an RTKLIB-readable ``.pos`` file; returns the number of solution lines."""
    n = 0
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        for line in pos_lines(res, header, xyz):
            fh.write(line)
            n += not line.startswith("%")
    return n


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def json_records(res):
    """Yield one JSON-serialisable dict per epoch (NaN written as null).

    Keys: ``time`` (ISO 8601 GPS time), ``q``, ``ecef_m``, ``llh_deg``, ``nsat``,
    ``pdop``, ``hdop``, ``vdop``, ``clk_bias_m`` (per system), ``vel_ecef_mps``,
    ``reason`` (empty when solved).
    """
    ok = np.asarray(res.status) != FixQuality.NONE
    llh = np.full((len(res), 3), np.nan)
    if ok.any():
        llh[ok] = coords.ecef_to_llh(res.pos_ecef_m[ok])
        llh[ok, :2] = np.degrees(llh[ok, :2])
    for k in range(len(res)):
        yield {
            "time": GPSTime.from_seconds(float(res.time_gps_s[k])).isoformat(),
            "q": JSON_Q[FixQuality(int(res.status[k]))],
            "ecef_m": [_num(v) for v in res.pos_ecef_m[k]],
            "llh_deg": [_num(v) for v in llh[k]],
            "nsat": int(res.nsat[k]),
            "pdop": _num(res.dop[k, 1]),
            "hdop": _num(res.dop[k, 2]),
            "vdop": _num(res.dop[k, 3]),
            "clk_bias_m": {s: _num(v[k]) for s, v in res.clk_bias_m.items() if np.isfinite(v[k])},
            "vel_ecef_mps": [_num(v) for v in res.vel_ecef_mps[k]],
            "reason": str(res.reason[k]),
        }


def json_lines(res):
    """Yield compact JSON text lines (with newline), one per epoch."""
    for rec in json_records(res):
        yield json.dumps(rec, separators=(",", ":")) + "\n"


def enu_stats(pos_ecef_m, ref_ecef_m) -> dict:
    """Error statistics of positions against a reference, in the reference's ENU frame.

    Parameters
    ----------
    pos_ecef_m : ndarray (n, 3)
        Solved positions (rows with NaN are ignored).
    ref_ecef_m : array_like (3,)

    Returns
    -------
    dict
        ``n``; ``mean_enu_m``, ``rms_enu_m``, ``p95_enu_m`` (per component,
        95th percentile of the absolute error); ``h_rms_m``, ``v_rms_m``,
        ``h_p95_m``, ``v_p95_m``, ``rms_3d_m`` (horizontal = sqrt(e^2 + n^2)).
    """
    p = np.asarray(pos_ecef_m, dtype=np.float64)
    p = p[np.all(np.isfinite(p), axis=1)]
    out = {"n": int(len(p))}
    if not len(p):
        return out
    enu = coords.ecef_to_enu(p, ref_ecef_m)
    h = np.hypot(enu[:, 0], enu[:, 1])
    out.update(
        mean_enu_m=enu.mean(axis=0).tolist(),
        rms_enu_m=np.sqrt((enu ** 2).mean(axis=0)).tolist(),
        p95_enu_m=np.percentile(np.abs(enu), 95, axis=0).tolist(),
        h_rms_m=float(np.sqrt((h ** 2).mean())),
        v_rms_m=float(np.sqrt((enu[:, 2] ** 2).mean())),
        h_p95_m=float(np.percentile(h, 95)),
        v_p95_m=float(np.percentile(np.abs(enu[:, 2]), 95)),
        rms_3d_m=float(np.sqrt((enu ** 2).sum(axis=1).mean())),
    )
    return out
