"""caster.toml loading and its errors (file + key)."""

import pytest

from vngeonet.caster.config import load_config, parse_hostport
from vngeonet.errors import ConfigError

GOOD = """
[caster]
listen = "127.0.0.1:2101"
db = "var/caster.db"
[caster.limits]
max_connections_per_ip = 8
[[mount]]
name = "TEST"
source_password = "s3cret"
country = "VNM"
lat_deg = 21.0
lon_deg = 105.8
[[mount]]
name = "ENV"
source_password_env = "VNG_TEST_SRC_PW"
[[mount]]
name = "NEAREST"
kind = "nearest"
"""


def test_good(tmp_path, monkeypatch):
    monkeypatch.setenv("VNG_TEST_SRC_PW", "from-env")
    p = tmp_path / "caster.toml"
    p.write_text(GOOD)
    c = load_config(p)
    assert c.listen == ("127.0.0.1", 2101) and c.db == str(tmp_path / "var/caster.db")
    assert c.limits.max_connections_per_ip == 8
    assert c.mount("TEST").source_password == "s3cret" and c.mount("ENV").source_password == "from-env"
    assert c.mount("NEAREST").nmea and c.mount("NEAREST").source_password is None


@pytest.mark.parametrize("text, key", [
    ('[caster]\nlisten = "nohost"\n', "caster.listen"),
    ('[caster]\nbogus = 1\n', "caster.bogus"),
    ('[[mount]]\nname = "A"\n', "mount[0].source_password"),
    ('[[mount]]\nname = "A"\nsource_password = "x"\n[[mount]]\nname = "A"\nsource_password = "y"\n', "mount[1].name"),
    ('[[mount]]\nname = "A B"\nsource_password = "x"\n', "mount[0].name"),
    ('[[mount]]\nname = "A"\nsource_password = "x"\nlat_deg = "north"\n', "mount[0].lat_deg"),
    ('[[mount]]\nname = "A"\nsource_password_env = "VNG_NOT_SET_ANYWHERE"\n', "mount[0].source_password_env"),
    ('[caster.limits]\nlockout_s = -1\n', "caster.limits.lockout_s"),
    ('[caster]\ntls_listen = "127.0.0.1:0"\n', "caster.tls_cert"),
])
def test_errors_name_file_and_key(tmp_path, text, key):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert ei.value.key == key and ei.value.path == str(p) and str(p) in str(ei.value)


def test_syntax_and_missing(tmp_path):
    with pytest.raises(ConfigError):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[caster\n")
    with pytest.raises(ConfigError):
        load_config(tmp_path / "bad.toml")


def test_hostport():
    assert parse_hostport("[::1]:2101") == ("::1", 2101)
    with pytest.raises(ConfigError):
        parse_hostport("h:99999")
