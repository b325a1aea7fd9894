"""SQL repository of journeys and their enrollments, and the trigger occasions pushed
down to the database (anti-joins against the enrollments, so a run reads only what is
new)."""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    and_,
    exists,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import IN_CHUNK, _insert_many, _TenantScoped
from ecrm.batching import chunks
from ecrm.domain.automation import (
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyTrigger,
    JourneyTriggerKind,
    Occasion,
    Step,
    birthday_occasion,
    local_today,
)
from ecrm.domain.orders import OrderStatus

_j = tables.journeys
_e = tables.journey_enrollments
_c = tables.customers
_o = tables.orders
_i = tables.interactions
_p = tables.point_lots
_t = tables.tier_changes
_k = tables.cases
CART_KINDS = ("cart_add", "checkout_started")


class SQLJourneyRepository(_TenantScoped):
    """Journeys in ``ecrm_journeys``, their enrollments in ``ecrm_journey_enrollments``."""

    def add(self, journey: Journey) -> None:
        """Insert; the keys refuse a taken id or name."""
        self._conn.execute(insert(_j), _journey_params(self._tenant, journey))

    def get(self, journey_id: str, *, for_update: bool = False) -> Journey | None:
        """The journey, or None; ``for_update`` locks its row."""
        query = select(_j).where(self._mine(_j), _j.c.id == journey_id)
        if for_update:
            query = query.with_for_update()
        found = self._journeys(query)
        return found[0] if found else None

    def by_name(self, name: str) -> Journey | None:
        """The journey with exactly this name (compared again: MySQL pads spaces)."""
        found = self._journeys(select(_j).where(self._mine(_j), _j.c.name == name))
        return next((journey for journey in found if journey.name == name), None)

    def all(self) -> list[Journey]:
        """Every journey, oldest first."""
        found = self._journeys(select(_j).where(self._mine(_j)))
        return sorted(found, key=lambda j: (j.created_at, j.id))

    def replace(self, journey: Journey) -> None:
        """Overwrite every column of the stored journey."""
        params = _journey_params(self._tenant, journey)
        del params["tenant_id"], params["id"]
        self._conn.execute(update(_j).where(self._mine(_j), _j.c.id == journey.id)
                           .values(**params))

    def enroll(self, enrollments: Collection[Enrollment]) -> None:
        """Insert in one executemany; the primary key refuses an enrolled occasion."""
        if enrollments:
            _insert_many(self._conn, _e, [_enrollment_params(self._tenant, e)
                                          for e in enrollments])

    def update_enrollment(self, enrollment: Enrollment) -> None:
        """Overwrite the enrollment's step, due time, status and reason."""
        params = _enrollment_params(self._tenant, enrollment)
        for key in ("tenant_id", "journey_id", "occasion"):
            del params[key]
        self._conn.execute(update(_e).where(
            self._mine(_e), _e.c.journey_id == enrollment.journey_id,
            _e.c.occasion == enrollment.occasion).values(**params))

    def due(self, journey_id: str, now: datetime, limit: int) -> list[Enrollment]:
        """Active enrollments of the journey due by ``now``, earliest first."""
        query = (select(_e).where(self._mine(_e), _e.c.status == EnrollmentStatus.ACTIVE.value,
                                  _e.c.due_at <= now, _e.c.journey_id == journey_id)
                 .order_by(_e.c.due_at, _e.c.occasion).limit(limit))
        return self._enrollments(query)

    def enrollments(self, journey_id: str, *, status: EnrollmentStatus | None,
                    after: str | None, limit: int) -> list[Enrollment]:
        """A page of the journey's enrollments by occasion, along the primary key."""
        query = select(_e).where(self._mine(_e), _e.c.journey_id == journey_id)
        if status is not None:
            query = query.where(_e.c.status == status.value)
        if after is not None:
            query = query.where(_e.c.occasion > after)
        return self._enrollments(query.order_by(_e.c.occasion).limit(limit))

    def enrollments_of(self, customer_id: str) -> list[Enrollment]:
        """The customer's enrollments, by journey and occasion."""
        found = self._enrollments(select(_e).where(self._mine(_e),
                                                   _e.c.customer_id == customer_id))
        return sorted(found, key=lambda e: (e.journey_id, e.occasion))

    def _journeys(self, query: Select[Any]) -> list[Journey]:
        return [_journey_from_row(row) for row in self._conn.execute(query).mappings()]

    def _enrollments(self, query: Select[Any]) -> list[Enrollment]:
        return [_enrollment_from_row(row) for row in self._conn.execute(query).mappings()]


class SQLAutomationQueries(_TenantScoped):
    """Each trigger's rule as one query over customers, orders and interactions."""

    def occasions(self, journey: Journey, now: datetime, *, zone: str, limit: int
                  ) -> list[Occasion]:
        """Occasions of the journey's trigger not enrolled yet, by key."""
        kind = journey.trigger.kind
        if kind == JourneyTriggerKind.BIRTHDAY:
            return self._birthdays(journey, now, zone)[:limit]
        query = {JourneyTriggerKind.SIGNUP: self._signups,
                 JourneyTriggerKind.CART_ABANDONED: self._abandoned_carts,
                 JourneyTriggerKind.ORDER_PLACED: self._orders_placed,
                 JourneyTriggerKind.SECOND_PURCHASE: self._single_orders,
                 JourneyTriggerKind.WIN_BACK: self._last_orders,
                 JourneyTriggerKind.POINTS_EXPIRING: self._expiring_lots,
                 JourneyTriggerKind.TIER_CHANGED: self._tier_changes,
                 JourneyTriggerKind.CASE_RESOLVED: self._resolved_cases}[kind](journey, now)
        rows = self._conn.execute(query.order_by("key").limit(limit))
        return [Occasion(key, customer_id, at) for key, customer_id, at in rows]

    def last_orders(self, customer_ids: Collection[str]) -> dict[str, datetime]:
        """When each customer who ordered placed their latest order."""
        found: dict[str, datetime] = {}
        query = (select(_o.c.customer_id, func.max(_o.c.placed_at)).where(self._mine(_o))
                 .group_by(_o.c.customer_id))
        for batch in chunks(sorted(set(customer_ids)), IN_CHUNK):
            found.update(self._conn.execute(query.where(_o.c.customer_id.in_(batch))).all())
        return found

    def _new(self, journey: Journey, key: ColumnElement[Any]) -> ColumnElement[bool]:
        """True when the occasion ``key`` is not enrolled in the journey yet."""
        return ~exists().where(self._mine(_e), _e.c.journey_id == journey.id,
                               _e.c.occasion == key)

    def _signups(self, journey: Journey, now: datetime) -> Select[Any]:
        return select(_c.c.id.label("key"), _c.c.id, _c.c.signed_up_at).where(
            self._mine(_c), _c.c.signed_up_at >= journey.created_at,
            _c.c.signed_up_at <= now, self._new(journey, _c.c.id))

    def _orders_placed(self, journey: Journey, now: datetime) -> Select[Any]:
        return select(_o.c.order_id.label("key"), _o.c.customer_id, _o.c.placed_at).where(
            self._mine(_o), _o.c.status != OrderStatus.CANCELLED.value,
            _o.c.placed_at >= journey.created_at,
            _o.c.placed_at <= now - journey.trigger.after, self._new(journey, _o.c.order_id))

    def _abandoned_carts(self, journey: Journey, now: datetime) -> Select[Any]:
        later = _i.alias("later")
        newer_cart = exists().where(
            later.c.tenant_id == self._tenant, later.c.customer_id == _i.c.customer_id,
            later.c.kind.in_(CART_KINDS),
            or_(later.c.occurred_at > _i.c.occurred_at,
                and_(later.c.occurred_at == _i.c.occurred_at, later.c.id > _i.c.id)))
        ordered_since = exists().where(self._mine(_o), _o.c.customer_id == _i.c.customer_id,
                                       _o.c.placed_at >= _i.c.occurred_at)
        return select(_i.c.id.label("key"), _i.c.customer_id, _i.c.occurred_at).where(
            self._mine(_i), _i.c.kind.in_(CART_KINDS),
            _i.c.occurred_at >= journey.created_at,
            _i.c.occurred_at <= now - journey.trigger.after,
            ~newer_cart, ~ordered_since, self._new(journey, _i.c.id))

    def _single_orders(self, journey: Journey, now: datetime) -> Select[Any]:
        return (select(_o.c.customer_id.label("key"), _o.c.customer_id,
                       func.min(_o.c.placed_at))
                .where(self._mine(_o), _o.c.status != OrderStatus.CANCELLED.value,
                       self._new(journey, _o.c.customer_id))
                .group_by(_o.c.customer_id)
                .having(and_(func.count() == 1,
                             func.max(_o.c.placed_at) <= now - journey.trigger.after)))

    def _last_orders(self, journey: Journey, now: datetime) -> Select[Any]:
        later = _o.alias("later")
        newer_order = exists().where(
            later.c.tenant_id == self._tenant, later.c.customer_id == _o.c.customer_id,
            later.c.status != OrderStatus.CANCELLED.value,
            or_(later.c.placed_at > _o.c.placed_at,
                and_(later.c.placed_at == _o.c.placed_at, later.c.order_id > _o.c.order_id)))
        key = _o.c.customer_id.concat(literal(":")).concat(_o.c.order_id)
        return select(key.label("key"), _o.c.customer_id, _o.c.placed_at).where(
            self._mine(_o), _o.c.status != OrderStatus.CANCELLED.value,
            _o.c.placed_at <= now - journey.trigger.after, ~newer_order,
            self._new(journey, key))

    def _expiring_lots(self, journey: Journey, now: datetime) -> Select[Any]:
        return select(_p.c.id.label("key"), _p.c.customer_id, _p.c.expires_at).where(
            self._mine(_p), _p.c.remaining > 0, _p.c.available_at <= now,
            _p.c.expires_at > now, _p.c.expires_at <= now + journey.trigger.within,
            self._new(journey, _p.c.id))

    def _tier_changes(self, journey: Journey, now: datetime) -> Select[Any]:
        query = select(_t.c.id.label("key"), _t.c.customer_id, _t.c.changed_at).where(
            self._mine(_t), _t.c.changed_at >= journey.created_at, _t.c.changed_at <= now,
            self._new(journey, _t.c.id))
        if journey.trigger.to is not None:
            query = query.where(_t.c.to_tier == journey.trigger.to)
        return query

    def _resolved_cases(self, journey: Journey, now: datetime) -> Select[Any]:
        return select(_k.c.id.label("key"), _k.c.customer_id, _k.c.resolved_at).where(
            self._mine(_k), _k.c.resolved_at >= journey.created_at,
            _k.c.resolved_at <= now - journey.trigger.after, self._new(journey, _k.c.id))

    def _birthdays(self, journey: Journey, now: datetime, zone: str) -> list[Occasion]:
        """Birthdays are few a day: the database narrows to the candidate dates, each
        customer's own time zone decides."""
        days = sorted(_birthdays_near(now.date(), journey.trigger.days_before))
        match = or_(*(and_(extract("month", _c.c.birth_date) == month,
                           extract("day", _c.c.birth_date) == day) for month, day in days))
        query = select(_c.c.id, _c.c.birth_date, _c.c.attributes).where(
            self._mine(_c), _c.c.birth_date.is_not(None), match)
        found = []
        for customer_id, birth, attributes in self._conn.execute(query):
            key = birthday_occasion(customer_id, birth, local_today(attributes, now, zone),
                                    journey.trigger.days_before)
            if key is not None:
                found.append(Occasion(key, customer_id, now))
        taken = self._enrolled(journey.id, [o.key for o in found])
        return sorted((o for o in found if o.key not in taken), key=lambda o: o.key)

    def _enrolled(self, journey_id: str, keys: list[str]) -> set[str]:
        taken: set[str] = set()
        query = select(_e.c.occasion).where(self._mine(_e), _e.c.journey_id == journey_id)
        for batch in chunks(sorted(keys), IN_CHUNK):
            taken.update(self._conn.execute(query.where(_e.c.occasion.in_(batch))).scalars())
        return taken


def _birthdays_near(utc_today: date, days_before: int) -> Iterator[tuple[int, int]]:
    """The (month, day) of birthdays that may be due somewhere on earth today: local
    dates lie within a day of UTC's."""
    for shift in (-1, 0, 1):
        target = utc_today + timedelta(days=shift + days_before)
        yield target.month, target.day
        if (target.month, target.day) == (2, 28) and not calendar.isleap(target.year):
            yield 2, 29


def _journey_params(tenant: str, journey: Journey) -> dict[str, Any]:
    definition = {"trigger": journey.trigger.to_json(),
                  "steps": [step.to_json() for step in journey.steps],
                  "exit_on": sorted(journey.exit_on)}
    return {"tenant_id": tenant, "id": journey.id, "name": journey.name,
            "kind": journey.trigger.kind.value, "definition": definition,
            "enabled": journey.enabled, "created_at": journey.created_at,
            "updated_at": journey.updated_at}


def _journey_from_row(row: RowMapping) -> Journey:
    definition = row["definition"]
    return Journey(
        id=row["id"], name=row["name"], trigger=JourneyTrigger.from_json(definition["trigger"]),
        steps=tuple(Step.from_json(s) for s in definition["steps"]),
        exit_on=frozenset(definition["exit_on"]), enabled=bool(row["enabled"]),
        created_at=row["created_at"], updated_at=row["updated_at"])


def _enrollment_params(tenant: str, enrollment: Enrollment) -> dict[str, Any]:
    return {"tenant_id": tenant, "journey_id": enrollment.journey_id,
            "occasion": enrollment.occasion, "customer_id": enrollment.customer_id,
            "step": enrollment.step, "due_at": enrollment.due_at,
            "status": enrollment.status.value, "reason": enrollment.reason,
            "enrolled_at": enrollment.enrolled_at, "updated_at": enrollment.updated_at}


def _enrollment_from_row(row: RowMapping) -> Enrollment:
    return Enrollment(
        journey_id=row["journey_id"], occasion=row["occasion"],
        customer_id=row["customer_id"], step=row["step"], due_at=row["due_at"],
        status=EnrollmentStatus(row["status"]), enrolled_at=row["enrolled_at"],
        updated_at=row["updated_at"], reason=row["reason"])
