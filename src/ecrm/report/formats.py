"""How the report writes numbers, money, shares and durations, the same in the terminal
dashboard and in the HTML report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

#: Currencies written with a leading symbol; others get their code after the amount.
SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}
#: A function writing amounts of one currency (see :func:`money_in`).
Money = Callable[[Decimal | None], str]
#: Shown where a figure has no value (no cases, no answers, no point value).
MISSING = "-"


def count(value: int) -> str:
    """A whole number with thousands separators: ``12,345``."""
    return f"{value:,}"


def money(amount: Decimal | None, currency: str) -> str:
    """An amount rounded to whole units with separators and the currency: ``¥12,346``,
    ``1,235 CHF``; :data:`MISSING` for None."""
    if amount is None:
        return MISSING
    whole = f"{amount.quantize(Decimal(1), ROUND_HALF_EVEN):,}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{whole}" if symbol else f"{whole} {currency}"


def money_in(currency: str) -> Money:
    """:func:`money` for one currency."""
    return lambda amount: money(amount, currency)


def percent(share: float | None, places: int = 1) -> str:
    """A share (0.25) as a percentage (``25.0%``); :data:`MISSING` for None."""
    return MISSING if share is None else f"{share * 100:.{places}f}%"


def ratio(value: float) -> str:
    """A rule figure (confidence, lift) with two places; ``inf`` stays ``inf``."""
    return f"{value:.2f}"


def score(value: float | None) -> str:
    """An NPS-like score with one place and its sign; :data:`MISSING` for None."""
    return MISSING if value is None else f"{value:+.1f}"


def duration(value: timedelta | None) -> str:
    """A business-time duration as hours and minutes (``26h 05m``); :data:`MISSING` for
    None."""
    if value is None:
        return MISSING
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


def itemset(skus: tuple[str, ...]) -> str:
    """The SKUs of one side of a rule: ``TEA-01 + CUP-02``."""
    return " + ".join(skus)
