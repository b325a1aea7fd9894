"""``ecrm segment "RULE"``: count the customers a segment rule selects and list them."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from typing import Any

from ecrm.cli.options import add_database_arguments, at_least, aware_time, open_crm

COLUMNS = ("customer_id", "external_id", "name", "email")
#: Members listed in a table unless ``--limit`` or ``--all`` say otherwise.
TABLE_LIMIT = 20
#: Above this many members, listing reads every customer page by page instead of one
#: lookup per member.
LOOKUP_LIMIT = 200


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "segment", help="count and list the customers a segment rule selects",
        description="Count the customers RULE selects and list them (customer id, "
                    "external id, name, e-mail). RULE is a text rule as in docs/segments.md, "
                    "e.g. 'orders.count >= 2 and prefecture == \"東京都\"'.")
    parser.add_argument("rule", metavar="RULE", help="the segment rule, quoted")
    parser.add_argument("--format", choices=("table", "csv"), default="table",
                        help="table: the count, then the members; csv: a header and one "
                             "line per member, no count (default: table)")
    listing = parser.add_mutually_exclusive_group()
    listing.add_argument("--limit", type=at_least(0), metavar="N",
                         help=f"list at most N members (default: {TABLE_LIMIT} for a table, "
                              "all for csv; 0 lists none)")
    listing.add_argument("--all", action="store_true", help="list every member")
    listing.add_argument("--count", action="store_true",
                         help="print only the number of members")
    parser.add_argument("--as-of", type=aware_time, metavar="TIME",
                        help="evaluate at this ISO 8601 time with an offset "
                             "(default: now)")
    add_database_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    crm = open_crm(args)
    try:
        ids = crm.segments.evaluate(args.rule, as_of=args.as_of)
        if args.count:
            print(len(ids))
            return 0
        limit = _limit(args)
        shown = ids if limit is None else ids[:limit]
        rows = _rows(crm, shown)
    finally:
        crm.close()
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return 0
    noun = "customer matches" if len(ids) == 1 else "customers match"
    print(f"{len(ids):,} {noun}")
    if rows:
        print(table(COLUMNS, rows))
    if len(rows) < len(ids):
        print(f"... and {len(ids) - len(rows):,} more (--limit N or --all to list them)")
    return 0


def _limit(args: argparse.Namespace) -> int | None:
    if args.all:
        return None
    if args.limit is not None:
        return args.limit
    return TABLE_LIMIT if args.format == "table" else None


def _rows(crm: Any, ids: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """The listed columns of the customers ``ids``, in that order."""
    if len(ids) <= LOOKUP_LIMIT:
        customers = {cid: crm.customers.get(cid) for cid in ids}
    else:
        wanted = set(ids)
        customers = {c.id: c for c in crm.customers.iterate() if c.id in wanted}
    return [_row(customers[cid]) for cid in ids if cid in customers]


def _row(customer: Any) -> tuple[str, str, str, str]:
    return (customer.id, customer.external_id or "", customer.name or "",
            customer.email or "")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to the widest cell, counting East Asian wide characters as two
    (:func:`ecrm.report.columns.width`); unlike the dashboard's tables, no cell is cut."""
    # Imported here, as ecrm.cli.report does: loading ecrm.report slows every ecrm command.
    from ecrm.report.columns import width

    widths = [max(width(str(cell)) for cell in column)
              for column in zip(header, *rows, strict=True)]
    lines = []
    for cells in (header, *rows):
        padded = [str(cell) + " " * (size - width(str(cell)))
                  for cell, size in zip(cells, widths, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)
