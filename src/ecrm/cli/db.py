"""``ecrm db upgrade`` and ``ecrm db current``: ecrm's schema migrations (Alembic, the
``migrations`` extra) on the database named by ``--db``."""

from __future__ import annotations

import argparse
from typing import Any

from ecrm.cli.options import (
    CommandError,
    add_database_arguments,
    database_url,
    missing_driver,
)

NEEDS_ALEMBIC = 'ecrm db needs Alembic: pip install "ecrm[migrations]"'


def register(subparsers: Any) -> None:
    db = subparsers.add_parser(
        "db", help="create or upgrade ecrm's tables (migrations)",
        description="Manage ecrm's tables with its Alembic migrations.")
    actions = db.add_subparsers(title="actions", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade", help="bring the database to the newest schema",
        description="Apply ecrm's migrations: an empty or older database gets the newest "
                    "schema. Running it again does nothing.")
    upgrade.add_argument("--revision", default="heads",
                         help="the revision to upgrade to (default: the newest)")
    add_database_arguments(upgrade)
    upgrade.set_defaults(handler=run_upgrade)
    current = actions.add_parser(
        "current", help="print the database's schema revision",
        description="Print the ecrm revision the database is at ('none' before the first "
                    "upgrade).")
    add_database_arguments(current)
    current.set_defaults(handler=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    from ecrm.backends.sql import migrations

    engine = _engine(args)
    try:
        before = _current(engine)
        if before is None and _has_ecrm_tables(engine):
            raise CommandError(
                "the database has ecrm tables but no migration record: they were made by "
                "create_schema() (as `ecrm demo` and SQLite URLs do), which migrations "
                "cannot upgrade; keep using it as it is, or start from an empty database")
        migrations.upgrade(engine, args.revision)
        after = _current(engine)
    finally:
        engine.dispose()
    if before == after:
        print(f"already at {after}")
    else:
        print(f"upgraded {before or 'empty database'} -> {after}")
    return 0


def run_current(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        revision = _current(engine)
        unversioned = revision is None and _has_ecrm_tables(engine)
    finally:
        engine.dispose()
    if unversioned:
        print("none (ecrm tables made by create_schema(), without migrations)")
    else:
        print(revision or "none")
    return 0


def _engine(args: argparse.Namespace) -> Any:
    try:
        import alembic  # noqa: F401
    except ModuleNotFoundError:
        raise CommandError(NEEDS_ALEMBIC) from None
    url = database_url(args)
    if url == "memory://":
        raise CommandError("memory:// has no schema to migrate; pass --db with a database URL")
    from ecrm.backends.sql import make_engine

    try:
        return make_engine(url)
    except ModuleNotFoundError as error:
        raise CommandError(missing_driver(url, error.name)) from None


def _current(engine: Any) -> str | None:
    from ecrm.backends.sql import migrations

    return migrations.current(engine)


def _has_ecrm_tables(engine: Any) -> bool:
    from sqlalchemy import inspect

    return inspect(engine).has_table("ecrm_customers")
