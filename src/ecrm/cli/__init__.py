"""The ``ecrm`` command.

``main(argv)`` parses the arguments, runs one subcommand and returns the exit status:
0 when it worked, 1 when it could not do its work (a bad file, a bad rule, an unreachable
database, ...), 2 for a usage error (an unknown command or option). Every failure is
reported as exactly one line on stderr, ``ecrm: error: <what is wrong>``, never with a
traceback, a personal value or a database password.

Each subcommand is a module of this package with ``register(subparsers)``, which adds
its parser and sets ``handler`` (a function of the parsed arguments returning the exit
status). Adding a command is one entry in :data:`COMMANDS`.

``import ecrm`` never imports this package.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ecrm.cli.options import CommandError, UsageError, one_line, scrub

#: The subcommand modules of ``ecrm.cli``, in the order ``ecrm --help`` lists them.
COMMANDS: tuple[str, ...] = ("demo", "imports", "segment", "report", "db")

PROG = "ecrm"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors raise :class:`UsageError` instead of
    printing the usage and exiting, so that ``main`` reports them on one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> Parser:
    """The parser of ``ecrm`` with every subcommand of :data:`COMMANDS` registered."""
    parser = Parser(
        prog=PROG,
        description="ecrm: build a demo shop, import CSV files, count segments, report "
                    "with charts and migrate the database of the ecrm CRM library.",
        epilog="Every command takes --db URL and --tenant NAME. See docs/cli.md.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"ecrm.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ecrm`` with ``argv`` (default: ``sys.argv[1:]``) and return its exit
    status. Usable as ``sys.exit(main())``."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            names = ", ".join(sorted(_command_names(parser)))
            raise UsageError(f"choose a command: {names}")
        return int(handler(args) or 0)
    except SystemExit as exit_:  # --help and --version print, then exit 0
        return exit_.code if isinstance(exit_.code, int) else 0
    except UsageError as error:
        return _fail(f"{one_line(str(error))} (see {PROG} --help)", 2)
    except CommandError as error:
        return _fail(one_line(str(error)), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as error:  # noqa: BLE001 - one line, whatever went wrong
        if os.environ.get("ECRM_DEBUG"):
            raise
        return _fail(describe(error), 1)


def describe(error: BaseException) -> str:
    """One line for an unexpected error: ecrm's own errors keep their message (they hold
    no personal values); database errors show their first line with passwords masked;
    anything else only its type."""
    from ecrm.errors import BackendError, ECRMError, SchemaMissing

    if isinstance(error, SchemaMissing):
        return ("the database has no ecrm tables yet: run `ecrm db upgrade --db URL` "
                "(or `ecrm demo` for a demo shop)")
    if isinstance(error, BackendError):  # it keeps the first line of the driver's message
        return one_line(scrub(f"database error: {error}"))
    if isinstance(error, ECRMError):
        return one_line(scrub(str(error)))
    if _is_database_error(error):
        return one_line(scrub(f"database error: {_first_line(error)}"))
    if isinstance(error, OSError):  # a full disk, a read-only directory, ...
        where = f": {error.filename}" if error.filename else ""
        return one_line(f"{error.strerror or type(error).__name__}{where}")
    return f"unexpected {type(error).__name__}; set ECRM_DEBUG=1 to see the traceback"


def _is_database_error(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in ("sqlalchemy", "psycopg", "pymysql",
                                                    "sqlite3")


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None)  # a DBAPIError: the driver's own message
    text = str(orig if orig is not None else error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def _command_names(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ecrm")
    except PackageNotFoundError:
        return "(not installed)"


__all__ = ["COMMANDS", "build_parser", "main"]
