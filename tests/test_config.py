"""Station file loader: the example loads; each kind of mistake names file, key and reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vngeonet.config import load_station, load_stations
from vngeonet.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "stations" / "EXAMPLE.toml.disabled"


def _write(tmp_path, text: str, name: str = "HNOI.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_example_loads(tmp_path):
    cfg = load_station(_write(tmp_path, EXAMPLE.read_text()))
    assert (cfg.id, cfg.long_name, cfg.receiver_type, cfg.antenna_type) == ("HNOI", "HNOI00VNM", "LEICA GR50", "LEIAR20")
    assert cfg.antenna_with_radome == "LEIAR20         LEIM"
    assert [(a.span, a.interval_s) for a in cfg.archive] == [("1D", 30.0), ("1H", 1.0)]
    assert cfg.pos_epoch_yr == 2024.0 and cfg.flush_interval_s == 10.0


@pytest.mark.parametrize("old,new,key,reason", [
    ('id = "HNOI"', 'id = "hnoi"', "station.id", "4 characters"),
    ('long_name = "HNOI00VNM"', 'long_name = "HANO00VNM"', "station.long_name", "start with"),
    ('long_name = "HNOI00VNM"', 'long_name = "HNOI0VNM"', "station.long_name", "9 characters"),
    ('type = "LEICA GR50"', 'typo = "LEICA GR50"', "receiver.type", "missing"),
    ("ecef_m = [-1626343.560, 5730606.240, 2271881.100]", "ecef_m = [1.0, 2.0, 3.0]", "position.ecef_m", "Earth"),
    ("ecef_m = [-1626343.560, 5730606.240, 2271881.100]", "ecef_m = [1.0, 2.0]", "position.ecef_m", "3 numbers"),
    ("epoch = 2024.0 ", 'epoch = "yesterday" ', "position.epoch", "decimal year"),
    ('span = "1D"', 'span = "2D"', "archive.files[0].span", "one of"),
    ("interval_s = 30", "interval_s = -1", "archive.files[0].interval_s", "seconds"),
    ("interval_s = 30", 'interval_s = "30"', "archive.files[0].interval_s", "float"),
    ('uri = "ntrip', 'uri = "nope', "stream.uri", "scheme"),
    ("eccentricity_hen_m = [0.0, 0.0, 0.0]", "eccentricity_hen_m = [0.0, 0.0, 500.0]",
     "antenna.eccentricity_hen_m", "100 m"),
])
def test_bad_files_name_file_key_reason(tmp_path, old, new, key, reason):
    text = EXAMPLE.read_text()
    assert old in text, old
    p = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_station(p)
    err = info.value
    assert err.path == str(p) and err.key == key
    assert reason in str(err) and str(p) in str(err)


def test_not_toml_and_missing(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_station(_write(tmp_path, "[station\nid="))
    with pytest.raises(ConfigError, match="cannot read"):
        load_station(tmp_path / "NONE.toml")


def test_file_name_must_match_and_ids_unique(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("HNOI.toml")):
        load_station(_write(tmp_path, EXAMPLE.read_text(), "ABCD.toml"))
    d = tmp_path / "st"
    d.mkdir()
    _write(d, EXAMPLE.read_text(), "HNOI.toml")
    _write(d, EXAMPLE.read_text(), "HNOI00VNM.toml")
    with pytest.raises(ConfigError, match="also in"):
        load_stations(d)


def test_event_hooks(tmp_path):
    text = EXAMPLE.read_text().replace("# on_event_command", "on_event_command").replace(
        "# event_webhook", "event_webhook")
    cfg = load_station(_write(tmp_path, text))
    assert cfg.on_event_command == ("/usr/local/bin/notify", "--station", "HNOI")
    assert cfg.event_webhook.startswith("https://") and cfg.outage_after_s == 30.0
    with pytest.raises(ConfigError) as info:
        load_station(_write(tmp_path, text.replace('event_webhook = "https', 'event_webhook = "ftp')))
    assert info.value.key == "stream.event_webhook"
