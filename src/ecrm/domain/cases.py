"""Support cases: complaints, inquiries and returns from any channel, their message
thread, their life cycle (which status may follow which), SLA breaches and satisfaction
surveys."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from ecrm.domain import validation as check
from ecrm.domain.personal import personal
from ecrm.errors import ConflictError, ValidationError

#: The longest message body, in characters (a long e-mail fits; a document does not).
MAX_BODY_CHARS = 50_000
#: Most tags on one case.
MAX_TAGS = 20


class CaseType(enum.StrEnum):
    """What the customer came about."""

    COMPLAINT = "complaint"
    INQUIRY = "inquiry"
    RETURN = "return"
    OTHER = "other"


class Priority(enum.StrEnum):
    """How urgent a case is; SLA targets usually depend on it."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class CaseStatus(enum.StrEnum):
    """Where a case stands. ``pending`` waits on the customer (the SLA clock stops);
    ``resolved`` may still reopen; ``closed`` is final."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


#: The statuses a case may move to from each status. A closed case only comes back when
#: the customer writes and the shop's policy says to reopen (see ``SupportPolicy``).
TRANSITIONS: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset({CaseStatus.OPEN, CaseStatus.PENDING, CaseStatus.RESOLVED}),
    CaseStatus.OPEN: frozenset({CaseStatus.PENDING, CaseStatus.RESOLVED}),
    CaseStatus.PENDING: frozenset({CaseStatus.OPEN, CaseStatus.RESOLVED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.OPEN, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}

#: Statuses whose cases still need work (and whose SLA clocks can run).
ACTIVE = frozenset({CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING})


class MessageKind(enum.StrEnum):
    """Who wrote a message: the customer (``inbound``), an agent to the customer
    (``reply``, which counts as a response), or an agent for colleagues (``note``)."""

    INBOUND = "inbound"
    REPLY = "reply"
    NOTE = "note"


class SLAMetric(enum.StrEnum):
    """The two clocks of a case."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class SurveyKind(enum.StrEnum):
    """CSAT asks for 1 to 5 (satisfied: 4 or 5); NPS for 0 to 10 (promoter: 9 or 10,
    detractor: 0 to 6)."""

    CSAT = "csat"
    NPS = "nps"


#: The scores each survey accepts.
SCORE_RANGE: Mapping[SurveyKind, range] = {SurveyKind.CSAT: range(1, 6),
                                           SurveyKind.NPS: range(0, 11)}


@attrs.frozen
class Case:
    """A support case. ``channel`` is where it came in; ``order_ids`` the orders it is
    about; ``reopen_count`` how often it went from resolved (or closed) back to open."""

    id: str
    customer_id: str
    type: CaseType
    subject: str
    priority: Priority
    status: CaseStatus
    channel: str
    opened_at: datetime
    updated_at: datetime
    category: str | None = None
    root_cause: str | None = None
    tags: tuple[str, ...] = ()
    assignee: str | None = None
    team: str | None = None
    order_ids: tuple[str, ...] = ()
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0


@attrs.frozen
class StatusChange:
    """One step of a case's life: ``seq`` counts from 1 (the opening, whose ``old`` is
    None). ``actor`` names the agent or ``"customer"`` when known."""

    case_id: str
    seq: int
    at: datetime
    old: CaseStatus | None
    new: CaseStatus
    actor: str | None = None


@attrs.frozen
class CaseMessage:
    """A message of a case's thread, on any channel. ``external_id`` is the channel's own
    id (an e-mail Message-ID, a LINE message id): it is unique per channel, so a webhook
    delivered twice adds the message once, and replies can find their case by it."""

    id: str
    case_id: str
    customer_id: str
    kind: MessageKind
    channel: str
    body: str = personal()
    occurred_at: datetime
    recorded_at: datetime
    author: str | None = None
    external_id: str | None = None
    payload: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class SLABreach:
    """A target a case missed, recorded once per case and metric."""

    case_id: str
    metric: SLAMetric
    due_at: datetime
    detected_at: datetime


@attrs.frozen
class Survey:
    """A satisfaction survey sent when a case was resolved, and its answer."""

    id: str
    case_id: str
    customer_id: str
    kind: SurveyKind
    requested_at: datetime
    answered_at: datetime | None = None
    score: int | None = None
    comment: str | None = None


# -- rules -------------------------------------------------------------------------------

def check_transition(case: Case, new: CaseStatus) -> None:
    """Raise ConflictError unless ``case`` may move to ``new``."""
    allowed = TRANSITIONS[case.status]
    if new not in allowed:
        targets = ", ".join(sorted(s.value for s in allowed)) or "nothing (it is final)"
        raise ConflictError(f"case {case.id!r} is {case.status.value}; it can move to "
                            f"{targets}, not {new.value}")


def moved(case: Case, new: CaseStatus, at: datetime) -> Case:
    """``case`` after moving to ``new`` at ``at``: resolution and closing times kept,
    reopening counted and clearing them."""
    changes: dict[str, Any] = {"status": new, "updated_at": at}
    if new is CaseStatus.RESOLVED:
        changes["resolved_at"] = at
    elif new is CaseStatus.CLOSED:
        changes["closed_at"] = at
    elif case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        changes.update(resolved_at=None, closed_at=None, reopen_count=case.reopen_count + 1)
    return attrs.evolve(case, **changes)


def score(kind: SurveyKind, value: object) -> int:
    """A survey score in the kind's range; ValidationError naming ``score`` if not."""
    allowed = SCORE_RANGE[kind]
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ValidationError("score", f"a {kind.value} score is a whole number from "
                                       f"{allowed.start} to {allowed.stop - 1}, got {value!r}")
    return value


def body(value: object) -> str:
    """A message body: text, not blank, at most ``MAX_BODY_CHARS``."""
    text = check.text("body", value, MAX_BODY_CHARS, required=True)
    assert text is not None
    if not text.strip():
        raise ValidationError("body", "must not be blank")
    return text


def tags(value: object) -> tuple[str, ...]:
    """Sorted, distinct tags, each an identifier (``[a-z][a-z0-9_]*``)."""
    if value is None:
        return ()
    found = sorted({check.identifier("tags", tag) for tag in check.names("tags", value)})
    if len(found) > MAX_TAGS:
        raise ValidationError("tags", f"at most {MAX_TAGS} tags, got {len(found)}")
    return tuple(found)


def label(field: str, value: object) -> str | None:
    """An optional short label (category, root cause, team, assignee)."""
    return check.text(field, value, 64)


def order_ids(value: Iterable[object] | None) -> tuple[str, ...]:
    """Distinct order ids, in the order given."""
    if value is None:
        return ()
    seen: dict[str, None] = {}
    for item in check.names("order_ids", value):
        seen[check.required_text("order_ids", item, 64)] = None
    return tuple(seen)


#: Fields ``crm.cases.update`` may change, with their checks.
EDITABLE: Mapping[str, Any] = {
    "subject": lambda value: subject(value),
    "type": check.choice(CaseType, "type"),
    "priority": check.choice(Priority, "priority"),
    "category": lambda value: label("category", value),
    "root_cause": lambda value: label("root_cause", value),
    "tags": tags,
    "assignee": lambda value: label("assignee", value),
    "team": lambda value: label("team", value),
}


def subject(value: object) -> str:
    """A case's subject line: text, not blank, at most 200 characters."""
    text = check.text("subject", value, 200, required=True)
    assert text is not None
    if not text.strip():
        raise ValidationError("subject", "must not be blank")
    return text


def changed_case(case: Case, changes: Mapping[str, object], at: datetime) -> Case:
    """``case`` with ``changes`` (field name to new value; None clears an optional
    field) applied and checked.

    :raises ValidationError: an unknown field or a bad value, naming the field.
    """
    values: dict[str, Any] = {}
    for field, value in changes.items():
        convert = EDITABLE.get(field)
        if convert is None:
            raise ValidationError(field, "is not a field a case update can change "
                                         f"(one of {', '.join(EDITABLE)})")
        values[field] = convert(value)
    changed = attrs.evolve(case, **values)
    return changed if changed == case else attrs.evolve(changed, updated_at=at)
