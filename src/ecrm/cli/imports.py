"""``ecrm import customers FILE`` and ``ecrm import orders FILE``: the CSV readers and
bulk importers of ``ecrm.importing``, with a progress line and a summary of what
happened to every row."""

from __future__ import annotations

import argparse
import codecs
import io
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, BinaryIO

from ecrm.cli.options import CommandError, add_database_arguments, at_least, open_crm
from ecrm.cli.progress import Progress

#: Rejected rows listed in the summary unless ``--show`` says otherwise.
SHOWN = 10


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import", help="import customers or orders from a CSV file",
        description="Import a CSV export in batches (one transaction each). Rows whose "
                    "customer or order is already stored are skipped, bad rows are "
                    "rejected with the field and the reason; the rest is imported. "
                    "Running the same file again imports nothing twice.")
    kinds = parser.add_subparsers(title="what", metavar="WHAT", required=True)
    for kind, text in (("customers", "one customer per row (docs/customers.md)"),
                       ("orders", "one order line per row (docs/orders.md)")):
        sub = kinds.add_parser(kind, help=text, description=f"Import {kind}: {text}.")
        sub.add_argument("file", metavar="FILE", type=Path, help="the CSV file")
        sub.add_argument("--encoding", default="utf-8-sig",
                         help="the file's encoding (default: UTF-8 with or without a "
                              "byte-order mark; cp932 for Shift_JIS from Excel)")
        sub.add_argument("--batch-size", type=at_least(1), default=1000, metavar="N",
                         help="rows per transaction (default: 1000)")
        sub.add_argument("--show", type=at_least(0), default=SHOWN, metavar="N",
                         help=f"rejected rows to list (default: {SHOWN})")
        sub.add_argument("--strict", action="store_true",
                         help="exit with status 1 when any row was rejected (the good rows "
                              "are imported all the same)")
        if kind == "orders":
            sub.add_argument("--default-timezone", type=_zone, metavar="ZONE",
                             help="the time zone of placed_at values written without an "
                                  "offset, e.g. Asia/Tokyo or +09:00 (default: such rows "
                                  "are rejected)")
        add_database_arguments(sub)
        sub.set_defaults(handler=run, kind=kind)


def run(args: argparse.Namespace) -> int:
    try:
        codecs.lookup(args.encoding)
    except LookupError:
        raise CommandError(f"unknown encoding {args.encoding!r}") from None
    with _open(args.file) as raw:
        crm = open_crm(args, must_exist=False)
        try:
            report = _import(crm, args, raw)
        finally:
            crm.close()
    print(summary(report, args.kind, str(args.file), shown=args.show))
    if args.strict and report.rejected:
        raise CommandError(f"{len(report.rejected)} of {report.total} {args.kind} rejected "
                           "(--strict)")
    return 0


def _import(crm: Any, args: argparse.Namespace, raw: BinaryIO) -> Any:
    """Read ``raw`` as the CSV file of ``args.kind`` and import it, showing progress."""
    import ecrm

    unit = "rows" if args.kind == "customers" else "orders"
    try:
        with Progress(args.file.name, unit=unit,
                      fraction=_share_read(raw, args.file)) as progress:
            text = io.TextIOWrapper(raw, encoding=args.encoding, newline="")
            if args.kind == "customers":
                rows = ecrm.read_customers_csv(text)
                return crm.customers.import_many(progress.track(rows),
                                                 batch_size=args.batch_size)
            rows = ecrm.read_orders_csv(text, default_timezone=args.default_timezone)
            return crm.orders.import_many(progress.track(rows), batch_size=args.batch_size)
    except UnicodeDecodeError:
        raise CommandError(
            f"{args.file} is not {args.encoding} text (try --encoding cp932 for Shift_JIS); "
            "batches read before the bad bytes were imported, and running the import "
            "again is safe") from None
    except ecrm.ValidationError as error:  # a line the csv module cannot read
        raise CommandError(f"{args.file}: {error}; batches before it were imported, and "
                           "running the import again is safe") from None


def summary(report: Any, kind: str, source: str, *, shown: int = SHOWN) -> str:
    """The import's summary: counts, then the first ``shown`` rejected rows with their
    number (from 1: the data row for customers, the order for orders), key, field and
    reason."""
    unit = "row" if kind == "customers" else "order"
    lines = [f"{source}: {report.total:,} {kind} read",
             f"  imported  {report.inserted:,}",
             f"  skipped   {report.skipped:,}  (already stored)",
             f"  rejected  {len(report.rejected):,}"]
    listed = report.rejected[:shown]
    if listed:
        more = len(report.rejected) - len(listed)
        lines.append(f"rejected {kind}" + (f" (first {len(listed)}):" if more else ":"))
        for row in listed:
            where = f"{unit} {row.index + 1}"
            key = f" {row.key}" if row.key else ""
            field = f" {row.field}:" if row.field else ""
            lines.append(f"  {where}{key}{field} {row.reason}")
        if more:
            lines.append(f"  ... and {more:,} more (--show N lists more)")
    return "\n".join(lines)


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by run's with block
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror or error}") from None


def _share_read(raw: BinaryIO, path: Path) -> Any:
    size = path.stat().st_size if path.is_file() else 0

    def share() -> float | None:
        try:
            return raw.tell() / size if size else None
        except (OSError, ValueError):
            return None

    return share


def _zone(text: str) -> tzinfo:
    """An IANA zone name (``Asia/Tokyo``), ``UTC`` or a fixed offset (``+09:00``)."""
    sign = {"+": 1, "-": -1}.get(text[:1])
    if sign is not None:
        hours, _, minutes = text[1:].partition(":")
        if hours.isdigit() and (minutes.isdigit() or not minutes):
            offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
            if offset < timedelta(hours=24):
                return timezone(sign * offset)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text!r} (e.g. Asia/Tokyo or +09:00)") from None
