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
    r = subprocess.run([sys.executable, "-m", "vngeonet", "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout.startswith("vngeonet ")
