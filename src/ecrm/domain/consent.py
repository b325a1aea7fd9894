"""Marketing consent: per customer and channel, whether the shop may market to them there.

The model is opt-in: no record means not granted. Every decision (a grant or a
withdrawal, at a time) is kept in an append-only history; the current state is the
latest decision by time, and at the very same instant a withdrawal beats a grant (the
safer reading). Because the order of calls does not matter, imports that arrive out of
order converge on the same state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from ecrm.domain import validation as check
from ecrm.errors import ValidationError

#: Channels with a well-known meaning. Any ``[a-z][a-z0-9_]*`` name is accepted; "ads" is
#: the use of the customer's data for advertising audiences and retargeting.
CONSENT_CHANNELS = ("email", "sms", "line", "phone", "post", "ads")

#: The longest ``source`` (where a decision came from: "signup form", "import", ...).
MAX_SOURCE = 200

#: How far ahead of the CRM's clock a decision's time may be (another server's clock).
#: Further ahead, a mistyped date would outrank every real decision until then.
MAX_CLOCK_SKEW = timedelta(minutes=5)


@attrs.frozen
class Consent:
    """A customer's current decision on a channel: ``granted`` since ``changed_at``
    (the time of the decision, which an import may backdate), and where it came from."""

    customer_id: str
    channel: str
    granted: bool
    changed_at: datetime
    source: str | None = None


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


def channel(value: object) -> str:
    """A consent channel name, e.g. ``"email"``. :raises ValidationError: on ``channel``."""
    return check.identifier("channel", value)


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


def precedence(decision: Consent | ConsentChange) -> tuple[datetime, bool]:
    """Sorts decisions so that the winning one is the greatest: the later one, and at
    the same instant a withdrawal."""
    return decision.changed_at, not decision.granted


def supersedes(decision: Consent, current: Consent | None) -> bool:
    """True when ``decision`` replaces ``current`` as the customer's state."""
    return current is None or precedence(decision) > precedence(current)


def repeats(decision: Consent, current: Consent) -> bool:
    """True when ``decision`` is the stored state again (same choice, same time): a
    retry, which writes nothing."""
    return precedence(decision) == precedence(current)


def recorded(decision: Consent, history: Iterable[ConsentChange]) -> bool:
    """True when the history already holds this decision (same channel, choice and
    time), so that re-running an import of old decisions records nothing twice."""
    return any(c.channel == decision.channel and precedence(c) == precedence(decision)
               for c in history)


def absorbed(survivor: Iterable[Consent], duplicate: Iterable[Consent], survivor_id: str
             ) -> list[tuple[Consent, Consent | None]]:
    """After a merge: the survivor's new states, each with the state it replaces, where
    the duplicate's decision on a channel wins (see :func:`supersedes`)."""
    kept = {c.channel: c for c in survivor}
    changes = []
    for taken in duplicate:
        moved = attrs.evolve(taken, customer_id=survivor_id)
        previous = kept.get(taken.channel)
        if supersedes(moved, previous):
            changes.append((moved, previous))
    return changes
