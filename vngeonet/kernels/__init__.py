"""Backend selection for the hot kernels.

Each compiled kernel ``ext/<name>.pyx`` (built to ``vngeonet._ext.<name>``)
has a pure-Python/numpy twin ``vngeonet/kernels/<name>.py`` with the same
functions, signatures, dtypes and exceptions.  The twin is the specification;
the compiled module makes it fast.

Selection:

* ``VNGEONET_PUREPYTHON=1`` forces every twin;
* otherwise the compiled module is used when it imports, else the twin.

Public code gets a kernel module through :func:`get`::

    from vngeonet import kernels
    _bits = kernels.get("bits")

``BACKEND`` is ``"cython"`` when every kernel is compiled, ``"python"`` when
none is, and ``"mixed"`` otherwise; :func:`backends` gives the per-kernel
choice.  The choice is logged at DEBUG and printed by ``vngeonet --version``.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from types import ModuleType

log = logging.getLogger(__name__)

PUREPYTHON = os.environ.get("VNGEONET_PUREPYTHON", "") not in ("", "0")

_cache: dict[tuple[str, str], ModuleType] = {}


def names() -> list[str]:
    """Names of all kernels (one per twin module in this package)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def compiled(name: str) -> ModuleType | None:
    """The compiled module for kernel ``name``, or ``None`` when it is not built."""
    key = (name, "cython")
    if key not in _cache:
        try:
            _cache[key] = importlib.import_module(f"vngeonet._ext.{name}")
        except ImportError:
            return None
    return _cache[key]


def python(name: str) -> ModuleType:
    """The pure-Python twin of kernel ``name``."""
    key = (name, "python")
    if key not in _cache:
        _cache[key] = importlib.import_module(f"vngeonet.kernels.{name}")
    return _cache[key]


def get(name: str, impl: str | None = None) -> ModuleType:
    """The kernel module ``name``.

    Parameters
    ----------
    name : str
        Kernel name, e.g. ``"bits"``.
    impl : {"cython", "python", None}
        Force an implementation (tests do); ``None`` applies the selection
        rule above.

    Raises
    ------
    ImportError
        ``impl="cython"`` was asked for and the kernel is not compiled.
    """
    if impl == "python" or (impl is None and PUREPYTHON):
        return python(name)
    mod = compiled(name)
    if mod is None:
        if impl == "cython":
            raise ImportError(f"kernel {name!r} is not compiled (run: pip install -e .)")
        log.debug("kernel %s: compiled module unavailable, using the numpy twin", name)
        return python(name)
    return mod


def backends() -> dict[str, str]:
    """Per-kernel backend actually selected: ``{"bits": "cython", ...}``."""
    out = {}
    for n in names():
        out[n] = "python" if (PUREPYTHON or compiled(n) is None) else "cython"
    return out


def _overall() -> str:
    chosen = set(backends().values())
    if chosen == {"cython"}:
        return "cython"
    if chosen <= {"python"}:
        return "python"
    return "mixed"


BACKEND = _overall()
log.debug("kernel backend: %s (%s)", BACKEND, backends())
