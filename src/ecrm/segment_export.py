"""Segment exports: members as CSV, and as hashed audience keys for advertising
platforms. Both stream the stored membership page by page, keep only the customers who
consented on the given channel, and never hold the whole segment in memory."""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator
from typing import IO, TYPE_CHECKING, Any

from ecrm.backends.base import UnitOfWork
from ecrm.domain import consent as consent_rules
from ecrm.domain.audience import AudienceMember, audience_member
from ecrm.domain.customers import Customer
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Members read per unit of work.
PAGE = 1000
#: The columns :func:`write_csv` writes unless told otherwise.
DEFAULT_COLUMNS = ("customer_id", "external_id", "email", "name", "phone")
#: Every column an export may name.
COLUMNS = {
    "customer_id": lambda c: c.id,
    "external_id": lambda c: c.external_id,
    "email": lambda c: c.email,
    "name": lambda c: c.name,
    "kana_name": lambda c: c.kana_name,
    "phone": lambda c: c.phone,
    "gender": lambda c: c.gender,
    "birth_date": lambda c: c.birth_date and c.birth_date.isoformat(),
    "postal_code": lambda c: c.address and c.address.postal_code,
    "prefecture": lambda c: c.address and c.address.prefecture,
    "city": lambda c: c.address and c.address.city,
    "country": lambda c: c.address and c.address.country,
    "signed_up_at": lambda c: c.signed_up_at.isoformat(),
}
#: A cell starting with one of these runs as a formula in a spreadsheet.
_FORMULA_STARTS = ("=", "@", "\t", "\r")


def consent_channel(consent: str | None) -> str | None:
    """The checked consent channel (None: no consent filter)."""
    return None if consent is None else consent_rules.channel(consent)


def consenting_members(crm: CRM, segment_id: str, channel: str | None
                       ) -> Iterator[Customer]:
    """The segment's stored members who consented on ``channel`` (all when None), by id,
    read one page per unit of work."""
    after: str | None = None
    while True:
        last, customers = crm.transact(
            lambda uow, after=after: _page(uow, segment_id, after, channel), read_only=True)
        yield from customers
        if last is None:
            return
        after = last


def _page(uow: UnitOfWork, segment_id: str, after: str | None, channel: str | None
          ) -> tuple[str | None, list[Customer]]:
    customers = uow.segments.member_customers(segment_id, after=after, limit=PAGE)
    last = customers[-1].id if len(customers) == PAGE else None
    if channel is not None:
        allowed = uow.consents.granted_ids(channel, [c.id for c in customers])
        customers = [c for c in customers if c.id in allowed]
    return last, customers


def write_csv(crm: CRM, segment_id: str, file: IO[str], *, consent: str | None,
              columns: Collection[str]) -> int:
    """Write the consenting members to ``file``; returns the number of rows."""
    names, channel = list(checked_columns(columns)), consent_channel(consent)
    writer = csv.writer(file)
    writer.writerow(names)
    written = 0
    for customer in consenting_members(crm, segment_id, channel):
        writer.writerow([_safe_cell(COLUMNS[name](customer)) for name in names])
        written += 1
    return written


def checked_columns(columns: Collection[str]) -> Collection[str]:
    """``columns`` when each is known; else ValidationError naming the first unknown."""
    if isinstance(columns, str) or not columns:
        raise ValidationError("columns", "expected a non-empty list of column names")
    for name in columns:
        if name not in COLUMNS:
            raise ValidationError("columns", f"unknown column {name!r}; known: "
                                             f"{', '.join(COLUMNS)}")
    return columns


def _safe_cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_STARTS) or (text[:1] in "+-" and not _phone_like(text)):
        return "'" + text
    return text


def _phone_like(text: str) -> bool:
    return len(text) > 1 and all(ch.isdigit() or ch in " +-()" for ch in text)


def audience_of(crm: CRM, segment_id: str, *, consent: str | None, phone_plus: bool,
                country: str) -> Iterator[AudienceMember]:
    """Hashed matching keys of the consenting members, streamed (the channel is checked
    at once, the members are read as the iterator is consumed)."""
    members = consenting_members(crm, segment_id, consent_channel(consent))
    return (audience_member(c.id, c.email, c.phone,
                            c.address.country if c.address else country,
                            phone_plus=phone_plus) for c in members)
