"""Sourcetable records (NTRIP 2.0 Annex: STR 19 fields, CAS 12, NET 9)."""

from tests.caster.helpers import make_config, real_frames
from tests.conftest import data_path
from vngeonet.caster.mounts import Mount
from vngeonet.caster.sourcetable import build_sourcetable, cas_record, net_record


def _mounts(config):
    return {m.name: Mount(m) for m in config.mounts}


def test_down_mounts_are_not_listed():
    cfg = make_config()
    table = build_sourcetable(cfg, _mounts(cfg)).decode()
    assert table.endswith("ENDSOURCETABLE\r\n") and "STR;" not in table
    assert table.startswith("CAS;127.0.0.1;2101;vngeonet-test;") and "\r\nNET;VNGEONET;test;B;N;" in table


def test_live_mount_describes_its_stream():
    cfg = make_config()
    mounts = _mounts(cfg)
    m = mounts["TEST"]
    m.attach_source("x", 0.0)
    for i, f in enumerate(real_frames(data_path("pygnssutils/tests/pygpsdata-rtcm3.log"))):
        m.publish([f], now_s=i // 7)
    lines = build_sourcetable(cfg, mounts, now_s=158.0).decode().split("\r\n")
    strs = [ln.split(";") for ln in lines if ln.startswith("STR;")]
    assert [s[1] for s in strs] == ["TEST", "NEAREST"]
    test = strs[0]
    assert len(test) == 19
    assert test[4] == "1005(1),1077(1),1087(1),1097(1),1127(1),1230(1),4072(1)"
    assert test[5:9] == ["2", "GPS+GLO+GAL+BDS", "VNGEONET", "VNM"]
    assert (test[9], test[10]) == ("32.07", "34.77") and test[15] == "B" and int(test[17]) > 0
    nearest = strs[1]
    assert nearest[11] == "1" and nearest[12] == "1"


def test_fields_are_sanitised():
    assert cas_record({"host": "a;b", "misc": "x\r\ny"}).count(";") == 11
    assert net_record({"identifier": "N;1"}).split(";")[1] == "N,1"
