"""Shared fixtures: real-data location and kernel implementations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vngeonet import kernels

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VNGEONET_DATA", REPO.parent / "shared" / "data")).resolve()


def data_path(rel: str) -> Path:
    """Path of a real recording under VNGEONET_DATA; skips the test when it is absent."""
    p = DATA / rel
    if not p.exists():
        pytest.skip(f"real data {rel} not found under VNGEONET_DATA={DATA}")
    return p


@pytest.fixture
def data():
    """The ``data_path`` helper as a fixture: ``data("rtklib/rinex/07590920.05o")``."""
    return data_path


def impl_param(name: str):
    """Parametrise a test over the python and cython implementations of kernel ``name``.

    Usage::

        @pytest.mark.parametrize("impl", impl_param("bits"))
        def test_x(impl): ...
    """
    params = [pytest.param("python", id="python")]
    mark = () if kernels.compiled(name) is not None else pytest.mark.skip(
        reason=f"kernel {name} not compiled"
    )
    params.append(pytest.param("cython", id="cython", marks=mark))
    return params
