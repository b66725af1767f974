"""The ``simbox`` command: a thin layer over the library.

Each subcommand lives in ``simbox/commands/<name>.py`` and defines ``NAME``,
``HELP`` (one line), ``DESCRIPTION`` (with an ``Example:`` block),
``add_arguments(parser)`` and ``run(args) -> int``.  Subcommands are discovered,
so adding a module adds a command.  Exit status: 0 success, 1 user error (one
line on stderr), 2 usage error, 3 internal error.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import logging
import pkgutil
import signal
import sys

from simbox import __version__
import simbox.commands as pkg
from simbox.errors import SimboxError

EXAMPLES = """\
Examples:
  simbox demo
  simbox features cdrs.csv.gz --cells cells.csv --out features.parquet
  simbox features --list
"""


def command_modules():
    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"simbox.commands.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simbox",
        description="Find SIM boxes and card farms in a mobile carrier's CDRs and signaling.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"simbox {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of an error (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def terminate(signum, frame):
    """SIGTERM handler: stop the way Ctrl-C does (temporaries removed, exit status 143)."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    """SIGTERM (kill, systemd, a container stop) is handled like SIGINT, so a command
    cleans up its temporary files on the way out (see simbox.outputs)."""
    try:
        signal.signal(signal.SIGTERM, terminate)
    except ValueError:       # not the main thread (the CLI called from a thread): leave it
        pass


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="simbox: %(levelname)s: %(message)s",
    )
    logging.captureWarnings(True)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    install_signal_handlers()
    try:
        return int(args._run(args) or 0)
    except SimboxError as exc:
        if args.traceback:
            raise
        print(f"simbox {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        if exc.args == ("SIGTERM",):
            print(f"simbox {args.command}: terminated", file=sys.stderr)
            return 143
        print(f"simbox {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if args.traceback:
            raise
        print(f"simbox {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # an internal bug: still one line, traceback on request
        if args.traceback:
            raise
        print(f"simbox {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(rerun with --traceback and report it)", file=sys.stderr)
        return 3


def entry() -> int:
    """The ``simbox`` console script and ``python -m simbox``: :func:`main`, then the
    process ends; the objects the command made are spared the garbage collector's full
    pass at interpreter exit (~20 ms after ``simbox features``)."""
    code = main()
    gc.freeze()
    return code
