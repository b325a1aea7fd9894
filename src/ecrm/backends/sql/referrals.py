"""SQL repository of referral codes and referrals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.sql import ColumnElement

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.domain.referrals import Referral

_codes = tables.referral_codes
_referrals = tables.referrals


class SQLReferralRepository(_TenantScoped):
    """Codes in ``ecrm_referral_codes``, referrals in ``ecrm_referrals``."""

    def add_code(self, code: str, customer_id: str, at: datetime) -> None:
        self._conn.execute(insert(_codes), {"tenant_id": self._tenant, "code": code,
                                            "customer_id": customer_id, "created_at": at})

    def code_owner(self, code: str) -> str | None:
        query = select(_codes.c.customer_id).where(self._mine(_codes), _codes.c.code == code)
        return self._conn.execute(query).scalar_one_or_none()

    def codes_of(self, customer_id: str) -> list[str]:
        query = (select(_codes.c.code)
                 .where(self._mine(_codes), _codes.c.customer_id == customer_id)
                 .order_by(_codes.c.created_at, _codes.c.code))
        return list(self._conn.execute(query).scalars())

    def add(self, referral: Referral) -> None:
        self._conn.execute(insert(_referrals), {"tenant_id": self._tenant,
                                                **_referral_params(referral)})

    def for_referee(self, customer_id: str, *, for_update: bool = False) -> Referral | None:
        found = self._where(_referrals.c.referee_id == customer_id, for_update=for_update)
        return found[0] if found else None

    def by_referrer(self, customer_id: str) -> list[Referral]:
        return self._where(_referrals.c.referrer_id == customer_id)

    def of_referee(self, customer_id: str) -> list[Referral]:
        return self._where(_referrals.c.referee_id == customer_id)

    def mark_rewarded(self, referral: Referral) -> None:
        self._conn.execute(update(_referrals).where(
            self._mine(_referrals), _referrals.c.id == referral.id).values(
            rewarded_at=referral.rewarded_at, order_id=referral.order_id))

    def _where(self, condition: ColumnElement[bool], *, for_update: bool = False
               ) -> list[Referral]:
        query = (select(_referrals).where(self._mine(_referrals), condition)
                 .order_by(_referrals.c.referred_at, _referrals.c.id))
        if for_update:
            query = query.with_for_update()
        return [_referral_from_row(row) for row in self._conn.execute(query).mappings()]


def _referral_params(referral: Referral) -> dict[str, Any]:
    return {"id": referral.id, "referee_id": referral.referee_id,
            "referrer_id": referral.referrer_id, "code": referral.code,
            "referred_at": referral.referred_at, "rewarded_at": referral.rewarded_at,
            "order_id": referral.order_id}


def _referral_from_row(row: Mapping[str, Any]) -> Referral:
    return Referral(id=row["id"], referee_id=row["referee_id"], referrer_id=row["referrer_id"],
                    code=row["code"], referred_at=row["referred_at"],
                    rewarded_at=row["rewarded_at"], order_id=row["order_id"])
