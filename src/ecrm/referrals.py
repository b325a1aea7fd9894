"""Referrals (``crm.referrals``): each customer's code, who referred whom, and the reward
on the new customer's first order (see :meth:`ecrm.earning.ProgramEarning.reward_referral`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import referrals as rules
from ecrm.domain.ids import new_id
from ecrm.domain.referrals import Referral
from ecrm.errors import ConflictError, DuplicateKey, NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Attempts at drawing a code nobody has yet.
CODE_ATTEMPTS = 8


class ReferralService:
    """The ``crm.referrals`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def code_for(self, customer_id: str) -> str:
        """The customer's referral code, made on first request and the same ever after.

        :raises ValidationError: no such customer.
        """
        def work(uow: UnitOfWork) -> str:
            customer = self._customer(uow, customer_id, "customer_id")
            existing = uow.referrals.codes_of(customer)
            if existing:
                return existing[0]
            return self._new_code(uow, customer)

        return self._crm.transact(work, replay_on_duplicate=True)

    def refer(self, referee_id: str, *, code: str) -> Referral:
        """Record that ``referee_id``, a customer who has not ordered yet, came with
        ``code``. Calling it again with the same code returns the first referral.

        :raises ValidationError: unknown code, the customer's own code, a customer who has
            already ordered, or no such customer.
        :raises ConflictError: the customer was already referred with another code.
        """
        wanted = rules.normalise_code(code)

        def work(uow: UnitOfWork) -> Referral:
            referee = self._customer(uow, referee_id, "referee_id")
            owner = uow.referrals.code_owner(wanted)
            if owner is None:
                raise ValidationError("code", f"no referral code {wanted!r}")
            if owner == referee:
                raise ValidationError("code", "customers cannot use their own referral code")
            existing = uow.referrals.for_referee(referee)
            if existing is not None:
                return _replay(existing, wanted)
            if uow.orders.count_for_customer(referee):
                raise ValidationError("referee_id", "this customer has ordered already; "
                                                    "referrals are for new customers")
            referral = Referral(new_id(), referee, owner, wanted, self._crm.clock.now())
            uow.referrals.add(referral)
            return referral

        return self._crm.transact(work)

    def of(self, customer_id: str) -> Referral | None:
        """Who referred the customer, or None."""
        def work(uow: UnitOfWork) -> Referral | None:
            return uow.referrals.for_referee(resolve_customer(uow, customer_id).id)

        return self._crm.transact(work, read_only=True)

    def made_by(self, customer_id: str) -> list[Referral]:
        """The referrals the customer made, oldest first."""
        def work(uow: UnitOfWork) -> list[Referral]:
            return uow.referrals.by_referrer(resolve_customer(uow, customer_id).id)

        return self._crm.transact(work, read_only=True)

    def _customer(self, uow: UnitOfWork, customer_id: str, field: str) -> str:
        try:
            return resolve_customer(uow, customer_id, for_update=True).id
        except NotFound:
            raise ValidationError(field, f"no customer {customer_id!r}") from None

    def _new_code(self, uow: UnitOfWork, customer_id: str) -> str:
        now = self._crm.clock.now()
        for _ in range(CODE_ATTEMPTS):
            code = rules.new_code()
            if uow.referrals.code_owner(code) is None:
                uow.referrals.add_code(code, customer_id, now)
                return code
        raise DuplicateKey("referral_codes.code", "no free code after several draws")


def _replay(existing: Referral, code: str) -> Referral:
    if existing.code == code:
        return existing
    raise ConflictError(f"customer {existing.referee_id} was already referred with "
                        f"code {existing.code!r}")
