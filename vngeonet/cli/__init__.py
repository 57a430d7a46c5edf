"""Command-line interface: ``vngeonet <command> ...``.

Each module here (other than ``main``) defines ``register(subparsers)``, which
adds one top-level command and sets ``func`` on its parser(s); ``func(args)``
returns the exit status.  Modules import heavy dependencies inside their
functions so that ``vngeonet --help`` stays fast.
"""
