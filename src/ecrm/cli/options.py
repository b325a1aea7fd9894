"""What every ``ecrm`` subcommand shares: ``--db`` and ``--tenant``, opening the CRM,
and the two errors that end a command."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: The environment variable naming the database when ``--db`` is not given.
ENV_URL = "ECRM_DB_URL"
#: The database of ``ecrm demo``, and of the other commands without ``--db`` or
#: ``ECRM_DB_URL``: an SQLite file in the current directory.
DEFAULT_URL = "sqlite:///ecrm-demo.db"

#: Passwords of the URLs seen in this process, masked in every error message.
_SECRETS: set[str] = set()


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


class CommandError(Exception):
    """The command could not do its work (exit status 1). The message is one line for
    the user; it names the problem, never a personal value or a password."""


def add_database_arguments(parser: argparse.ArgumentParser, *, default: str | None = None
                           ) -> None:
    """Add ``--db URL`` and ``--tenant NAME`` to a subcommand's parser. ``default`` is
    the subcommand's own default URL; without one it is ``$ECRM_DB_URL``, else
    :data:`DEFAULT_URL`."""
    where = (f"default: {default}" if default is not None
             else f"default: ${ENV_URL}, else {DEFAULT_URL}")
    group = parser.add_argument_group("database")
    group.add_argument("--db", metavar="URL", default=None,
                       help="SQLAlchemy URL (sqlite:///shop.db, postgresql+psycopg://..., "
                            f"mysql+pymysql://...) or memory:// ({where})")
    group.add_argument("--tenant", metavar="NAME", default="default",
                       help="the shop (tenant) to work on (default: default)")
    parser.set_defaults(default_url=default)


def database_url(args: argparse.Namespace) -> str:
    """The URL the command works on: ``--db``, else the subcommand's default, else
    ``$ECRM_DB_URL``, else :data:`DEFAULT_URL`. A URL that cannot be parsed raises
    :class:`CommandError` (with any password masked)."""
    url = args.db or args.default_url or os.environ.get(ENV_URL) or DEFAULT_URL
    if url == "memory://":
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise CommandError(f"malformed database URL {mask_url(url)!r}; expected e.g. "
                           "sqlite:///shop.db or postgresql+psycopg://user@host/db") from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise CommandError(f"unknown kind of database {parsed.drivername!r} in "
                           f"{mask_url(url)!r}") from None
    if parsed.password:
        _SECRETS.add(str(parsed.password))
    return url


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def open_crm(args: argparse.Namespace, *, must_exist: bool = True, **options: Any) -> CRM:
    """Open the CRM named by ``--db`` and ``--tenant``.

    With ``must_exist`` an SQLite file that is not there is an error, not a new empty
    database (a mistyped path would otherwise answer "0 customers"). ``options`` go to
    ``ecrm.CRM.open``. Missing drivers name the extra to install.
    """
    import ecrm

    url = database_url(args)
    path = sqlite_path(url)
    if must_exist and path is not None and not path.exists():
        raise CommandError(f"no database file {str(path)!r}: run `ecrm demo` to build one, "
                           "or pass --db URL")
    try:
        return ecrm.CRM.open(url, tenant=args.tenant, **options)
    except ModuleNotFoundError as error:
        raise CommandError(missing_driver(url, error.name)) from None
    except ecrm.ValidationError as error:  # a bad tenant name
        raise CommandError(str(error)) from None


def missing_driver(url: str, module: str | None) -> str:
    extra = {"psycopg": "postgresql", "psycopg2": "postgresql", "pymysql": "mysql"}.get(
        (module or "").split(".")[0])
    hint = f': pip install "ecrm[{extra}]"' if extra else ""
    return f"no database driver for {mask_url(url).split('://')[0]}:// ({module} is " \
           f"not installed){hint}"


def scrub(text: str) -> str:
    """``text`` with every password seen in a URL masked."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def one_line(text: str) -> str:
    """``text`` folded onto one line."""
    return " ".join(text.split())


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(
                f"needs a whole number of at least {minimum}, got {text!r}")
        return int(text)

    return parse


def aware_time(text: str) -> datetime:
    """An argparse type: an ISO 8601 time with its UTC offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset (write e.g. 2026-06-01T00:00:00+09:00)")
    return moment
