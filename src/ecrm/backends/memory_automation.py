"""The memory backend's journeys, their enrollments, and the trigger occasions in plain
Python (the SQL backends push the same questions down, see
:mod:`ecrm.backends.sql.automation`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ecrm.domain.automation import (
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyTriggerKind,
    Occasion,
    birthday_occasion,
    local_today,
)
from ecrm.domain.orders import Order, OrderStatus

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData

#: The interaction kinds that make a cart.
CART_KINDS = frozenset({"cart_add", "checkout_started"})
_Finder = Callable[[Journey, datetime, str], Iterator[Occasion]]
_NEVER = (datetime.min.replace(tzinfo=timezone.utc), "")


def _key(journey_id: str, occasion: str) -> str:
    return f"{journey_id}\x00{occasion}"


class MemoryJourneyRepository:
    """Journeys by id (unique name); enrollments by journey and occasion."""

    def __init__(self, data: _TenantData) -> None:
        self._journeys = data.journeys
        self._enrollments = data.journey_enrollments

    def add(self, journey: Journey) -> None:
        self._journeys.insert(journey.id, journey)

    def get(self, journey_id: str, *, for_update: bool = False) -> Journey | None:
        return self._journeys.rows.get(journey_id)

    def by_name(self, name: str) -> Journey | None:
        return self._journeys.lookup("name", name)

    def all(self) -> list[Journey]:
        return sorted(self._journeys.rows.values(), key=lambda j: (j.created_at, j.id))

    def replace(self, journey: Journey) -> None:
        self._journeys.update(journey.id, journey)

    def enroll(self, enrollments: Collection[Enrollment]) -> None:
        for enrollment in enrollments:
            self._enrollments.insert(_key(enrollment.journey_id, enrollment.occasion),
                                     enrollment)

    def update_enrollment(self, enrollment: Enrollment) -> None:
        self._enrollments.update(_key(enrollment.journey_id, enrollment.occasion),
                                 enrollment)

    def due(self, journey_id: str, now: datetime, limit: int) -> list[Enrollment]:
        found = [e for e in self._enrollments.rows.values()
                 if e.journey_id == journey_id and e.status == EnrollmentStatus.ACTIVE
                 and e.due_at is not None and e.due_at <= now]
        return sorted(found, key=lambda e: (e.due_at, e.occasion))[:limit]

    def enrollments(self, journey_id: str, *, status: EnrollmentStatus | None,
                    after: str | None, limit: int) -> list[Enrollment]:
        found = [e for e in self._enrollments.rows.values()
                 if e.journey_id == journey_id and status in (None, e.status)
                 and (after is None or e.occasion > after)]
        return sorted(found, key=lambda e: e.occasion)[:limit]

    def enrollments_of(self, customer_id: str) -> list[Enrollment]:
        found = [e for e in self._enrollments.rows.values() if e.customer_id == customer_id]
        return sorted(found, key=lambda e: (e.journey_id, e.occasion))

    def enrolled(self, journey_id: str, occasion: str) -> bool:
        """Whether the occasion is enrolled in the journey."""
        return _key(journey_id, occasion) in self._enrollments.rows


class MemoryAutomationQueries:
    """Each trigger's rule over the tenant's customers, orders and interactions."""

    def __init__(self, data: _TenantData) -> None:
        self._data = data
        self._journeys = MemoryJourneyRepository(data)

    def occasions(self, journey: Journey, now: datetime, *, zone: str, limit: int
                  ) -> list[Occasion]:
        finders: dict[JourneyTriggerKind, _Finder] = {
            JourneyTriggerKind.SIGNUP: self._signups,
            JourneyTriggerKind.BIRTHDAY: self._birthdays,
            JourneyTriggerKind.CART_ABANDONED: self._abandoned_carts,
            JourneyTriggerKind.ORDER_PLACED: self._orders_placed,
            JourneyTriggerKind.SECOND_PURCHASE: self._single_orders,
            JourneyTriggerKind.WIN_BACK: self._last_orders,
            JourneyTriggerKind.POINTS_EXPIRING: self._expiring_lots,
            JourneyTriggerKind.TIER_CHANGED: self._tier_changes,
            JourneyTriggerKind.CASE_RESOLVED: self._resolved_cases}
        found = [o for o in finders[journey.trigger.kind](journey, now, zone)
                 if not self._journeys.enrolled(journey.id, o.key)]
        return sorted(found, key=lambda o: o.key)[:limit]

    def last_orders(self, customer_ids: Collection[str]) -> dict[str, datetime]:
        wanted, latest = set(customer_ids), {}
        for order in self._data.orders.rows.values():
            cid = order.customer_id
            if cid in wanted and (cid not in latest or order.placed_at > latest[cid]):
                latest[cid] = order.placed_at
        return latest

    def _signups(self, journey: Journey, now: datetime, zone: str) -> Iterator[Occasion]:
        for customer in self._data.customers.rows.values():
            if journey.created_at <= customer.signed_up_at <= now:
                yield Occasion(customer.id, customer.id, customer.signed_up_at)

    def _birthdays(self, journey: Journey, now: datetime, zone: str) -> Iterator[Occasion]:
        for customer in self._data.customers.rows.values():
            if customer.birth_date is None:
                continue
            today = local_today(customer.attributes, now, zone)
            key = birthday_occasion(customer.id, customer.birth_date, today,
                                    journey.trigger.days_before)
            if key is not None:
                yield Occasion(key, customer.id, now)

    def _abandoned_carts(self, journey: Journey, now: datetime, zone: str
                         ) -> Iterator[Occasion]:
        latest: dict[str, tuple[datetime, str]] = {}
        for event in self._data.interactions.rows.values():
            mark = (event.occurred_at, event.id)
            if event.kind in CART_KINDS and mark > latest.get(event.customer_id, _NEVER):
                latest[event.customer_id] = mark
        ordered = self.last_orders(latest)
        for cid, (at, event_id) in latest.items():
            if journey.created_at <= at <= now - journey.trigger.after \
                    and not (cid in ordered and ordered[cid] >= at):
                yield Occasion(event_id, cid, at)

    def _orders_placed(self, journey: Journey, now: datetime, zone: str
                       ) -> Iterator[Occasion]:
        for order in self._kept_orders():
            if journey.created_at <= order.placed_at <= now - journey.trigger.after:
                yield Occasion(order.order_id, order.customer_id, order.placed_at)

    def _single_orders(self, journey: Journey, now: datetime, zone: str
                       ) -> Iterator[Occasion]:
        mine: dict[str, list[Order]] = {}
        for order in self._kept_orders():
            mine.setdefault(order.customer_id, []).append(order)
        for cid, orders in mine.items():
            if len(orders) == 1 and orders[0].placed_at <= now - journey.trigger.after:
                yield Occasion(cid, cid, orders[0].placed_at)

    def _last_orders(self, journey: Journey, now: datetime, zone: str) -> Iterator[Occasion]:
        last: dict[str, Order] = {}
        for order in self._kept_orders():
            held = last.get(order.customer_id)
            if held is None or (order.placed_at, order.order_id) > (held.placed_at,
                                                                    held.order_id):
                last[order.customer_id] = order
        for cid, order in last.items():
            if order.placed_at <= now - journey.trigger.after:
                yield Occasion(f"{cid}:{order.order_id}", cid, order.placed_at)

    def _expiring_lots(self, journey: Journey, now: datetime, zone: str
                       ) -> Iterator[Occasion]:
        for lot in self._data.point_lots.rows.values():
            if lot.remaining > 0 and lot.spendable(now) and lot.expires_at is not None \
                    and lot.expires_at <= now + journey.trigger.within:
                yield Occasion(lot.id, lot.customer_id, lot.expires_at)

    def _tier_changes(self, journey: Journey, now: datetime, zone: str
                      ) -> Iterator[Occasion]:
        wanted = journey.trigger.to
        for change in self._data.tier_changes.rows.values():
            if journey.created_at <= change.changed_at <= now \
                    and wanted in (None, change.to_tier):
                yield Occasion(change.id, change.customer_id, change.changed_at)

    def _resolved_cases(self, journey: Journey, now: datetime, zone: str
                        ) -> Iterator[Occasion]:
        for case in self._data.cases.rows.values():
            at = case.resolved_at
            if at is not None and journey.created_at <= at <= now - journey.trigger.after:
                yield Occasion(case.id, case.customer_id, at)

    def _kept_orders(self) -> Iterator[Order]:
        return (o for o in self._data.orders.rows.values()
                if o.status != OrderStatus.CANCELLED)
