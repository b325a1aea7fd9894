"""``ecrm demo``: build the demo tea shop (``ecrm.demo``) in a database and print what
it holds."""

from __future__ import annotations

import argparse
import importlib.util
from decimal import Decimal
from typing import Any

from ecrm.cli.options import (
    CommandError,
    add_database_arguments,
    at_least,
    aware_time,
    database_url,
    open_crm,
    sqlite_path,
)
from ecrm.cli.progress import Progress
from ecrm.cli.report import DEFAULT_TZ

NEEDS_FAKER = 'ecrm demo needs Faker: pip install "ecrm[demo]"'
#: Where the demo goes without --db (ECRM_DB_URL is not read: the demo never writes
#: into a database you named for something else).
DEMO_URL = "sqlite:///ecrm-demo.db"
#: What the dashboard values one of the demo's loyalty points at: one yen, as Japanese
#: shops' points usually are.
DEMO_POINT_VALUE = Decimal(1)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="build a demo shop with two years of history",
        description="Build a demo Japanese tea shop (customers, orders, interactions, "
                    "support cases, points, coupons, campaigns) and print what it holds. "
                    f"It goes into {DEMO_URL} unless --db says otherwise; an existing "
                    "demo file is replaced only with --force.")
    parser.add_argument("--customers", type=at_least(10), default=1000, metavar="N",
                        help="how many customers (default: 1000; at least 10)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="the random seed: the same seed builds the same shop "
                             "(default: 0)")
    parser.add_argument("--now", type=aware_time, metavar="TIME",
                        help="end the history at this ISO 8601 time with an offset "
                             "instead of now (for a shop that is the same on every run)")
    parser.add_argument("--force", action="store_true",
                        help="replace the SQLite file if it exists")
    add_database_arguments(parser, default=DEMO_URL)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("faker") is None:
        raise CommandError(NEEDS_FAKER)
    from ecrm.demo import build_demo_shop
    from ecrm.report import collect, render_text

    _make_room(args)
    crm = open_crm(args, must_exist=False)
    try:
        if crm.customers.list(limit=1).items:
            raise CommandError(f"tenant {crm.tenant!r} of that database already has "
                               "customers; the demo needs an empty shop (use another "
                               "--tenant or database)")
        with Progress("demo", unit=None) as progress:
            summary = build_demo_shop(crm, customers=args.customers, seed=args.seed,
                                      now=args.now, progress=_stage(progress))
        print("\n".join(summary.lines()))
        print()
        print(render_text(collect(crm, as_of=summary.end, tz=DEFAULT_TZ,
                                  point_value=DEMO_POINT_VALUE)))
    finally:
        crm.close()
    return 0


def _make_room(args: argparse.Namespace) -> None:
    """Refuse to overwrite an existing SQLite file, or remove it with --force."""
    path = sqlite_path(database_url(args))
    if path is None or not path.exists():
        return
    if not args.force:
        raise CommandError(f"{path} already exists; pass --force to replace it")
    for leftover in (path, *(path.with_name(path.name + end)
                             for end in ("-wal", "-shm", "-journal"))):
        try:
            leftover.unlink(missing_ok=True)
        except OSError as error:
            raise CommandError(f"cannot remove {leftover}: {error.strerror}") from None


def _stage(progress: Progress) -> Any:
    def show(stage: str) -> None:
        progress.note(f"demo: {stage}")

    return show
