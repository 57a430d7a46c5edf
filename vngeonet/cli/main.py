"""Entry point of the ``vngeonet`` command: parses arguments and dispatches."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import vngeonet
from vngeonet.errors import VNGeonetError

log = logging.getLogger("vngeonet")


def version_text() -> str:
    """Version line plus the kernel backend in use."""
    from vngeonet import kernels

    per = ", ".join(f"{k}={v}" for k, v in kernels.backends().items()) or "no kernels"
    return f"vngeonet {vngeonet.__version__} (kernels: {kernels.BACKEND}; {per})"


def _command_modules() -> list[str]:
    import vngeonet.cli as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)
                  if m.name != "main" and not m.name.startswith("_"))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``only``: register just that command (its module has its name).

    Registering one command instead of all keeps start-up short: a command's module, and
    the help texts of the others, are not loaded for nothing.
    """
    parser = argparse.ArgumentParser(
        prog="vngeonet",
        description="GNSS reference-station network software: RTCM 3, NTRIP, RINEX, positioning.",
    )
    parser.add_argument("--version", action="store_true", help="print version and kernel backend")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"vngeonet.cli.{name}")
        register = getattr(mod, "register", None)
        if register is not None:
            register(sub)
    return parser


def _invoked_command(argv: list[str]) -> str | None:
    """The command word of ``argv`` when it names a command module, else None (full parser)."""
    for arg in argv:
        if arg.startswith("-"):
            if arg in ("-h", "--help", "--version"):
                return None
            continue
        return arg if arg in _command_modules() else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_invoked_command(argv))
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.version:
        print(version_text())
        return 0
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except VNGeonetError as err:
        print(f"vngeonet: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `vngeonet ... | head`: the reader went away; that is not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
