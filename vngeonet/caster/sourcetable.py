"""Sourcetable generation (CAS, NET and STR records).

STR records combine the mountpoint's config with what its stream has
actually carried since the source connected: message types with their mean
intervals (format-details), carrier, navigation systems, the antenna
position from 1005/1006, and the measured bit rate.  Mountpoints whose
source is down are left out; a ``nearest`` mountpoint is listed while at
least one station with a known position is live.

References
----------
RTCM 10410.1 (NTRIP 2.0) §3.5 and Annex (sourcetable record layouts:
STR 19 fields, CAS 12 fields, NET 9 fields).
"""

from __future__ import annotations

__all__ = ["build_sourcetable", "cas_record", "format_details", "net_record", "str_record"]


def _clean(value) -> str:
    # ';' separates fields and CR/LF separate records: neither may appear inside one.
    return str(value).replace(";", ",").replace("\r", " ").replace("\n", " ")


def format_details(mount) -> str:
    """``"1005(10),1077(1)"``: message types with mean interval in seconds.

    The interval is omitted (``"1230"``) until a type has been seen twice.
    """
    parts = []
    for t, st in sorted(mount.types.items()):
        iv = st.interval_s
        parts.append(f"{t}({max(1, round(iv))})" if iv is not None else str(t))
    return ",".join(parts)


def str_record(mount, *, generator: str = "vngeonet", now_s: float | None = None,
               nearest_position: tuple | None = None) -> str:
    """One STR record for a :class:`~vngeonet.caster.mounts.Mount`."""
    c = mount.config
    if c.kind == "nearest":
        pos = nearest_position or (0.0, 0.0)
        details, carrier, systems, solution, bitrate = "", 2, "", 1, 0
    else:
        pos = mount.position_deg() or (0.0, 0.0)
        details = format_details(mount)
        carrier = mount.carrier()
        systems = "+".join(mount.systems())
        solution = 0
        elapsed = (now_s - mount.source_since) if now_s is not None else 0.0
        bitrate = int(mount.bytes_in * 8 / elapsed) if elapsed > 1.0 and mount.bytes_in else 0
    fields = [
        "STR", c.name, c.identifier or c.name, c.format, details, str(carrier), systems,
        c.network, c.country, f"{pos[0]:.2f}", f"{pos[1]:.2f}", "1" if c.nmea else "0", str(solution),
        generator, "none", c.auth, c.fee, str(bitrate), c.misc,
    ]
    return ";".join(_clean(f) for f in fields)


def cas_record(cas: dict) -> str:
    """CAS record from the ``[caster.cas]`` table."""
    fields = [
        "CAS", cas.get("host", ""), cas.get("port", 2101), cas.get("identifier", ""), cas.get("operator", ""),
        1 if cas.get("nmea", False) else 0, cas.get("country", ""), f"{float(cas.get('lat_deg', 0.0)):.2f}",
        f"{float(cas.get('lon_deg', 0.0)):.2f}", cas.get("fallback_host", "0.0.0.0"), cas.get("fallback_port", 0),
        cas.get("misc", ""),
    ]
    return ";".join(_clean(f) for f in fields)


def net_record(net: dict) -> str:
    """NET record from one ``[[network]]`` table."""
    fields = [
        "NET", net.get("identifier", ""), net.get("operator", ""), net.get("auth", "B"), net.get("fee", "N"),
        net.get("web_net", ""), net.get("web_str", ""), net.get("web_reg", ""), net.get("misc", ""),
    ]
    return ";".join(_clean(f) for f in fields)


def build_sourcetable(config, mounts: dict, *, now_s: float | None = None) -> bytes:
    """The whole sourcetable body, ending with ``ENDSOURCETABLE\\r\\n``.

    Parameters
    ----------
    config : CasterConfig
    mounts : dict[str, Mount]
        All mountpoints; only live ones (and ``nearest`` ones with a live,
        positioned station) are listed.
    """
    lines = []
    if config.cas:
        lines.append(cas_record(config.cas))
    lines.extend(net_record(n) for n in config.networks)
    positioned = [m.position_deg() for m in mounts.values()
                  if m.live and m.config.kind == "station" and m.position_deg() is not None]
    for m in mounts.values():
        if m.config.kind == "nearest":
            if positioned:
                centre = (sum(p[0] for p in positioned) / len(positioned),
                          sum(p[1] for p in positioned) / len(positioned))
                lines.append(str_record(m, generator=config.server_name, nearest_position=centre))
        elif m.live:
            lines.append(str_record(m, generator=config.server_name, now_s=now_s))
    body = "".join(line + "\r\n" for line in lines) + "ENDSOURCETABLE\r\n"
    return body.encode("utf-8")
