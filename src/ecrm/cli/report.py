"""``ecrm report``: write the shop's figures as one self-contained HTML file with charts
(``ecrm.report``), or print them as the terminal dashboard."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ecrm.cli.options import add_database_arguments, at_least, aware_time, open_crm

#: The time zone whose calendar months the figures follow unless ``--tz`` says otherwise.
DEFAULT_TZ = "Asia/Tokyo"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="write an HTML report with charts (or print the dashboard)",
        description="Collect the shop's figures (headline, RFM segments and grid, cohort "
                    "retention, revenue by channel, cross-sell rules, support SLA and "
                    "CSAT, loyalty liability, campaigns) and write them as one HTML file "
                    "that opens in any browser, charts included, or print them as text.")
    parser.add_argument("--out", type=Path, default=Path("ecrm-report.html"), metavar="FILE",
                        help="the HTML file to write (default: ecrm-report.html)")
    parser.add_argument("--text", action="store_true",
                        help="print the terminal dashboard instead of writing HTML")
    add_figure_arguments(parser)
    add_database_arguments(parser)
    parser.set_defaults(handler=run)


def add_figure_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that shape the figures: ``--months``, ``--tz``, ``--as-of`` and
    ``--point-value``."""
    parser.add_argument("--months", type=at_least(1), default=12, metavar="N",
                        help="calendar months of the monthly charts (default: 12)")
    parser.add_argument("--tz", default=DEFAULT_TZ, metavar="ZONE",
                        help=f"the time zone of the months (default: {DEFAULT_TZ})")
    parser.add_argument("--as-of", type=aware_time, metavar="TIME",
                        help="the figures as of this ISO 8601 time with an offset "
                             "(default: now)")
    parser.add_argument("--point-value", type=point_value, default=None, metavar="AMOUNT",
                        help="what one loyalty point is worth in the shop's currency, to "
                             "value the points liability (default: not valued)")


def point_value(text: str) -> Decimal:
    """An argparse type: a non-negative decimal amount."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"needs an amount of at least 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from ecrm.report import collect, render_html, render_text

    crm = open_crm(args)
    try:
        figures = collect(crm, as_of=args.as_of, months=args.months, tz=args.tz,
                          point_value=args.point_value)
    finally:
        crm.close()
    if args.text:
        print(render_text(figures))
        return 0
    args.out.write_text(render_html(figures), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): open it in a browser")
    return 0
