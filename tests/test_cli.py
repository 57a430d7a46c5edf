import subprocess
import sys

import vngeonet
from vngeonet.cli.main import main, version_text


def test_version_names_backend(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert vngeonet.__version__ in out
    assert "kernels:" in out


def test_version_text_backend_word():
    from vngeonet import kernels

    assert kernels.BACKEND in version_text()


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "vngeonet", "--version"], capture_output=True, text=True, check=False)
    assert r.returncode == 0
    assert r.stdout.startswith("vngeonet ")


def test_help_lists_every_command(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("run", "caster", "users", "mounts", "ntrip", "record", "convert", "rtcm", "rinex",
                "spp", "baseline"):
        assert cmd in out


def test_only_the_invoked_command_is_loaded():
    code = ("import sys; from vngeonet.cli.main import main; rc = main(['rtcm', '--help']) "
            "if False else None; from vngeonet.cli import main as m; "
            "p = m.build_parser(m._invoked_command(['rtcm', 'scan', 'x'])); "
            "print(sorted(k for k in sys.modules if k.startswith('vngeonet.cli.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['vngeonet.cli.main', 'vngeonet.cli.rtcm']"


def test_unknown_command_is_an_argparse_error(capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        main(["frobnicate"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
