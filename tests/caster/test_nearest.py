"""GGA parsing, nearest-station choice with hysteresis, position hooks."""

from tests.caster.helpers import gga
from vngeonet.caster.nearest import GGAReader, PositionHooks, choose_station, distance_m, parse_gga


def test_parse_generated_gga():
    p = parse_gga(gga(-33.5, -70.25).decode())
    assert abs(p.lat_deg + 33.5) < 1e-6 and abs(p.lon_deg + 70.25) < 1e-6 and p.quality == 1


def test_pynmeagps_agrees():
    pynmeagps = __import__("pytest").importorskip("pynmeagps")
    line = gga(21.0285, 105.8542)
    msg = pynmeagps.NMEAReader.parse(line)
    p = parse_gga(line.decode())
    assert abs(msg.lat - p.lat_deg) < 1e-6 and abs(msg.lon - p.lon_deg) < 1e-6


def test_rejects_bad_checksum_no_fix_and_other_sentences():
    line = gga(21.0, 105.0).decode()
    assert parse_gga(line.replace("*", "*0")) is None or parse_gga(line[:-4] + "*00") is None
    assert parse_gga(line[:-4] + "*00") is None
    assert parse_gga("$GPRMC,1,2,3*00") is None
    assert parse_gga("$GPGGA,120000,,,,,0,00,,,M,,M,,*66") is None
    assert parse_gga("$GPGGA,120000,9900.0,N,10500.0,E,1,8,1,0,M,0,M,,") is None


def test_reader_splits_lines_and_bounds_junk():
    r = GGAReader(max_line=100)
    data = gga(21.0, 105.0) + b"$GPRMC,x\r\n" + b"x" * 500 + b"\r\n" + gga(21.1, 105.0)
    got = []
    for i in range(0, len(data), 7):
        got += r.feed(data[i:i + 7])
    assert len(got) == 2 and r.count == 2 and r.junk >= 1 and abs(r.last.lat_deg - 21.1) < 1e-9


def test_distance():
    assert abs(distance_m(0, 0, 0, 1) - 111195.1) < 1.0


def test_choose_with_hysteresis():
    st = {"HNOI": (21.03, 105.85), "HPHG": (20.86, 106.68)}
    assert choose_station(21.0, 105.9, st) == "HNOI"
    mid_lon = 106.27  # roughly equidistant
    first = choose_station(20.95, mid_lon, st)
    assert choose_station(20.95, mid_lon, st, current=first, hysteresis_m=5000) == first
    assert choose_station(20.87, 106.6, st, current="HNOI") == "HPHG"
    assert choose_station(20.87, 106.6, {"HNOI": st["HNOI"]}, current="GONE") == "HNOI"
    assert choose_station(20.0, 106.0, {}) is None


def test_hooks_isolate_failures():
    hooks = PositionHooks()
    seen = []
    hooks.register(lambda p: 1 / 0)
    off = hooks.register(seen.append)
    hooks.emit("p1")
    off()
    hooks.emit("p2")
    assert seen == ["p1"] and hooks.errors == 2
