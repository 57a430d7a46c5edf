"""Helpers shared by the CLI subcommands (not a subcommand itself: the leading ``_`` keeps
:mod:`vngeonet.cli.main` from registering it)."""

from __future__ import annotations

import sys


def progress_bar():
    """A ``progress(done, total)`` callback drawing an epoch bar on stderr, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 40
        fill = int(width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total} epochs")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
