"""Consent: per customer, channel and purpose, whether the shop may contact them there.

Two purposes are well known: ``marketing`` (newsletters, offers) is opt-in, so no record
means not granted; ``transactional`` (order and shipping notices, replies) needs no
opt-in but may be refused. Every decision (a grant or a withdrawal, at a time) is kept in
an append-only history; the current state is the latest decision by time, and at the
very same instant a withdrawal beats a grant (the safer reading), and a confirmed grant
beats a single one. Because the order of calls does not matter, imports that arrive out
of order converge on the same state.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from ecrm.domain import validation as check
from ecrm.errors import ValidationError

#: Channels with a well-known meaning. Any ``[a-z][a-z0-9_]*`` name is accepted; "ads" is
#: the use of the customer's data for advertising audiences and retargeting.
CONSENT_CHANNELS = ("email", "sms", "line", "phone", "post", "ads")

#: Marketing messages (newsletters, offers, win-back): they need the customer's opt-in.
MARKETING = "marketing"
#: Messages about the customer's own business (orders, shipping, support replies): no
#: opt-in needed, but a withdrawal is honoured.
TRANSACTIONAL = "transactional"
#: The purposes ecrm's own features use. Any ``[a-z][a-z0-9_]*`` name is accepted; every
#: purpose but :data:`TRANSACTIONAL` is opt-in.
CONSENT_PURPOSES = (MARKETING, TRANSACTIONAL)


class OptInLevel(enum.StrEnum):
    """How a grant was given: ``single`` (ticked a box) or ``confirmed`` (double opt-in:
    the customer also answered a confirmation message)."""

    SINGLE = "single"
    CONFIRMED = "confirmed"


#: The longest ``source`` (where a decision came from: "signup form", "import", ...).
MAX_SOURCE = 200

#: How far ahead of the CRM's clock a decision's time may be (another server's clock).
#: Further ahead, a mistyped date would outrank every real decision until then.
MAX_CLOCK_SKEW = timedelta(minutes=5)


@attrs.frozen
class Consent:
    """A customer's current decision on a channel for a purpose: ``granted`` since
    ``changed_at`` (the time of the decision, which an import may backdate), where it
    came from, and for a grant its opt-in ``level`` (None for a withdrawal)."""

    customer_id: str
    channel: str
    granted: bool
    changed_at: datetime
    source: str | None = None
    purpose: str = MARKETING
    level: OptInLevel | None = None


@attrs.frozen
class ConsentChange:
    """One recorded decision (append-only): made at ``changed_at``, written down at
    ``recorded_at``."""

    id: str
    customer_id: str
    channel: str
    granted: bool
    changed_at: datetime
    recorded_at: datetime
    source: str | None = None
    purpose: str = MARKETING
    level: OptInLevel | None = None


def channel(value: object) -> str:
    """A consent channel name, e.g. ``"email"``. :raises ValidationError: on ``channel``."""
    return check.identifier("channel", value)


def purpose(value: object) -> str:
    """A consent purpose, e.g. ``"marketing"``. :raises ValidationError: on ``purpose``."""
    return check.identifier("purpose", value)


def level(value: object, granted: bool) -> OptInLevel | None:
    """The opt-in level of a decision: a grant's ``value`` (default single), None for a
    withdrawal. :raises ValidationError: on ``level``."""
    if not granted:
        if value is not None:
            raise ValidationError("level", "only a grant has an opt-in level")
        return None
    if value is None:
        return OptInLevel.SINGLE
    return check.choice(OptInLevel, "level")(value)


def requires_opt_in(purpose: str) -> bool:
    """True when messages for ``purpose`` need a grant; only transactional ones do not."""
    return purpose != TRANSACTIONAL


def permits(consent: Consent | None, purpose: str,
            min_level: OptInLevel | None = None) -> bool:
    """True when the state ``consent`` (None: never decided) allows messages for
    ``purpose``: opt-in purposes need a grant (of at least ``min_level``); the others
    only need no withdrawal."""
    if consent is None:
        return not requires_opt_in(purpose)
    if not consent.granted:
        return False
    return min_level is None or _rank(consent.level) >= _rank(min_level)


def _rank(level: OptInLevel | None) -> int:
    return 1 if level == OptInLevel.CONFIRMED else 0


def source(value: object) -> str | None:
    """Where a decision came from: text of at most :data:`MAX_SOURCE` characters, or
    None. :raises ValidationError: on ``source``."""
    return check.text("source", value, MAX_SOURCE)


def decided_at(value: object, now: datetime) -> datetime:
    """When a decision was made: ``value`` (aware, normalised to UTC), or ``now`` when
    None. :raises ValidationError: on ``at``, naive or too far in the future."""
    if value is None:
        return now
    when = check.aware("at", value)
    assert when is not None
    if when > now + MAX_CLOCK_SKEW:
        raise ValidationError("at", f"{when.isoformat()} is in the future; a decision "
                                    f"may be at most {MAX_CLOCK_SKEW} ahead of now")
    return when


def precedence(decision: Consent | ConsentChange) -> tuple[datetime, bool, int]:
    """Sorts decisions so that the winning one is the greatest: the later one; at the
    same instant a withdrawal, then a confirmed grant."""
    return decision.changed_at, not decision.granted, _rank(decision.level)


def supersedes(decision: Consent, current: Consent | None) -> bool:
    """True when ``decision`` replaces ``current`` as the customer's state."""
    return current is None or precedence(decision) > precedence(current)


def repeats(decision: Consent, current: Consent) -> bool:
    """True when ``decision`` is the stored state again (same choice, same time): a
    retry, which writes nothing."""
    return precedence(decision) == precedence(current)


def recorded(decision: Consent, history: Iterable[ConsentChange]) -> bool:
    """True when the history already holds this decision (same channel, purpose, choice
    and time), so that re-running an import of old decisions records nothing twice."""
    return any(c.channel == decision.channel and c.purpose == decision.purpose
               and precedence(c) == precedence(decision) for c in history)


def absorbed(survivor: Iterable[Consent], duplicate: Iterable[Consent], survivor_id: str
             ) -> list[tuple[Consent, Consent | None]]:
    """After a merge: the survivor's new states, each with the state it replaces, where
    the duplicate's decision on a channel and purpose wins (see :func:`supersedes`)."""
    kept = {(c.channel, c.purpose): c for c in survivor}
    changes = []
    for taken in duplicate:
        moved = attrs.evolve(taken, customer_id=survivor_id)
        previous = kept.get((taken.channel, taken.purpose))
        if supersedes(moved, previous):
            changes.append((moved, previous))
    return changes
