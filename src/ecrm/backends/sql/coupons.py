"""SQL repository of coupons, their redemptions and issuances."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import IN_CHUNK, _insert_many, _TenantScoped
from ecrm.batching import chunks
from ecrm.domain.coupons import (
    PERCENT_PLACES,
    Coupon,
    CouponIssue,
    CouponRedemption,
    DiscountKind,
)
from ecrm.domain.money import from_minor, to_minor

_c = tables.coupons
_r = tables.coupon_redemptions
_i = tables.coupon_issues


class SQLCouponRepository(_TenantScoped):
    """Coupons in ``ecrm_coupons``, redemptions in ``ecrm_coupon_redemptions``, issuances
    in ``ecrm_coupon_issues``."""

    def add_many(self, coupons: Collection[Coupon]) -> None:
        for batch in chunks(list(coupons), IN_CHUNK):
            _insert_many(self._conn, _c, [_coupon_params(self._tenant, c) for c in batch])

    def get(self, code: str, *, for_update: bool = False) -> Coupon | None:
        query = select(_c).where(self._mine(_c), _c.c.code == code)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _coupon_from_row(row)

    def get_many(self, codes: Collection[str]) -> dict[str, Coupon]:
        found: dict[str, Coupon] = {}
        for batch in chunks(set(codes), IN_CHUNK):
            query = select(_c).where(self._mine(_c), _c.c.code.in_(batch))
            found.update({row["code"]: _coupon_from_row(row)
                          for row in self._conn.execute(query).mappings()})
        return found

    def update_usage(self, coupon: Coupon) -> None:
        statement = (update(_c).where(self._mine(_c), _c.c.code == coupon.code)
                     .values(uses=coupon.uses, discount_given_minor=to_minor(
                         "discount_given", coupon.discount_given, coupon.currency)))
        self._conn.execute(statement)

    def add_redemption(self, redemption: CouponRedemption) -> None:
        self._conn.execute(insert(_r), _redemption_params(self._tenant, redemption))

    def get_redemption(self, code: str, order_id: str) -> CouponRedemption | None:
        found = self._redemptions_where(_r.c.code == code, _r.c.order_id == order_id)
        return found[0] if found else None

    def mark_restored(self, redemption: CouponRedemption) -> None:
        statement = (update(_r).where(self._mine(_r), _r.c.id == redemption.id)
                     .values(restored_at=redemption.restored_at))
        self._conn.execute(statement)

    def redemptions(self, code: str) -> list[CouponRedemption]:
        return self._redemptions_where(_r.c.code == code)

    def customer_uses(self, code: str, customer_id: str) -> int:
        query = select(func.count()).select_from(_r).where(
            self._mine(_r), _r.c.customer_id == customer_id, _r.c.code == code,
            _r.c.restored_at.is_(None))
        return int(self._conn.execute(query).scalar_one())

    def add_issues(self, issues: Collection[CouponIssue]) -> None:
        for batch in chunks(list(issues), IN_CHUNK):
            _insert_many(self._conn, _i, [
                {"tenant_id": self._tenant, "id": i.id, "code": i.code,
                 "customer_id": i.customer_id, "issued_at": i.issued_at} for i in batch])

    def issues(self, code: str, customer_ids: Collection[str]) -> dict[str, CouponIssue]:
        found: dict[str, CouponIssue] = {}
        for batch in chunks(set(customer_ids), IN_CHUNK):
            query = (select(_i).where(self._mine(_i), _i.c.code == code,
                                      _i.c.customer_id.in_(batch))
                     .order_by(_i.c.issued_at.desc(), _i.c.id.desc()))
            for row in self._conn.execute(query).mappings():  # the oldest wins
                found[row["customer_id"]] = _issue_from_row(row)
        return found

    def issued_to(self, customer_id: str) -> list[Coupon]:
        query = (select(_c).join(_i, (_i.c.tenant_id == _c.c.tenant_id)
                                 & (_i.c.code == _c.c.code))
                 .where(self._mine(_i), self._mine(_c), _i.c.customer_id == customer_id)
                 .order_by(_i.c.issued_at, _i.c.id))
        return [_coupon_from_row(row) for row in self._conn.execute(query).mappings()]

    def issues_of(self, customer_id: str) -> list[CouponIssue]:
        query = (select(_i).where(self._mine(_i), _i.c.customer_id == customer_id)
                 .order_by(_i.c.issued_at, _i.c.id))
        return [_issue_from_row(row) for row in self._conn.execute(query).mappings()]

    def redemptions_of(self, customer_id: str) -> list[CouponRedemption]:
        return self._redemptions_where(_r.c.customer_id == customer_id)

    def _redemptions_where(self, *conditions: Any) -> list[CouponRedemption]:
        query = (select(_r).where(self._mine(_r), *conditions)
                 .order_by(_r.c.redeemed_at, _r.c.id))
        return [_redemption_from_row(row) for row in self._conn.execute(query).mappings()]


def _issue_from_row(row: Mapping[str, Any]) -> CouponIssue:
    return CouponIssue(row["id"], row["code"], row["customer_id"], row["issued_at"])


def _minor(value: Decimal | None, currency: str) -> int | None:
    return None if value is None else to_minor("amount", value, currency)


def _major(value: int | None, currency: str) -> Decimal | None:
    return None if value is None else from_minor(value, currency)


def _coupon_params(tenant: str, coupon: Coupon) -> dict[str, Any]:
    currency = coupon.currency
    percent = None if coupon.percent is None else int(coupon.percent.scaleb(PERCENT_PLACES))
    return {
        "tenant_id": tenant, "code": coupon.code, "kind": coupon.kind.value,
        "currency": currency, "amount_minor": _minor(coupon.amount, currency),
        "percent_bp": percent, "max_discount_minor": _minor(coupon.max_discount, currency),
        "min_order_minor": _minor(coupon.min_order, currency),
        "valid_from": coupon.valid_from, "valid_until": coupon.valid_until,
        "max_uses": coupon.max_uses, "per_customer_limit": coupon.per_customer_limit,
        "budget_minor": _minor(coupon.budget, currency), "members_only": coupon.members_only,
        "issued_only": coupon.issued_only, "tiers": sorted(coupon.tiers),
        "description": coupon.description, "uses": coupon.uses,
        "discount_given_minor": _minor(coupon.discount_given, currency),
        "created_at": coupon.created_at,
    }


def _coupon_from_row(row: Mapping[str, Any]) -> Coupon:
    currency = row["currency"]
    percent = row["percent_bp"]
    return Coupon(
        code=row["code"], kind=DiscountKind(row["kind"]), currency=currency,
        created_at=row["created_at"], amount=_major(row["amount_minor"], currency),
        percent=None if percent is None else Decimal(percent).scaleb(-PERCENT_PLACES),
        max_discount=_major(row["max_discount_minor"], currency),
        min_order=_major(row["min_order_minor"], currency),
        valid_from=row["valid_from"], valid_until=row["valid_until"],
        max_uses=row["max_uses"], per_customer_limit=row["per_customer_limit"],
        budget=_major(row["budget_minor"], currency),
        members_only=bool(row["members_only"]), tiers=frozenset(row["tiers"]),
        issued_only=bool(row["issued_only"]), description=row["description"],
        uses=row["uses"], discount_given=from_minor(row["discount_given_minor"], currency),
    )


def _redemption_params(tenant: str, redemption: CouponRedemption) -> dict[str, Any]:
    currency = redemption.currency
    return {
        "tenant_id": tenant, "id": redemption.id, "code": redemption.code,
        "order_id": redemption.order_id, "customer_id": redemption.customer_id,
        "currency": currency,
        "order_total_minor": to_minor("order_total", redemption.order_total, currency),
        "discount_minor": to_minor("discount", redemption.discount, currency),
        "redeemed_at": redemption.redeemed_at, "restored_at": redemption.restored_at,
    }


def _redemption_from_row(row: Mapping[str, Any]) -> CouponRedemption:
    currency = row["currency"]
    return CouponRedemption(
        id=row["id"], code=row["code"], order_id=row["order_id"],
        customer_id=row["customer_id"], currency=currency,
        order_total=from_minor(row["order_total_minor"], currency),
        discount=from_minor(row["discount_minor"], currency),
        redeemed_at=row["redeemed_at"], restored_at=row["restored_at"],
    )
