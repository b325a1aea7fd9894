"""B2B accounts (companies) that customers can belong to (``crm.accounts``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.domain import customers as rules
from ecrm.domain.customers import Account
from ecrm.domain.ids import new_id
from ecrm.errors import ConflictError, NotFound

if TYPE_CHECKING:
    from ecrm.crm import CRM


class AccountService:
    """The ``crm.accounts`` capability. Link a customer with
    ``crm.customers.update(customer_id, account_id=account.id)``; list an account's
    people with ``crm.customers.list(account_id=...)``."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def create(self, *, name: str, external_id: str | None = None,
               attributes: Mapping[str, Any] | None = None) -> Account:
        """Create an account; ``external_id`` (the host's key) is unique in the tenant."""
        account = rules.new_account(new_id(), self._crm.clock.now(), name, external_id,
                                    attributes)

        def work(uow: UnitOfWork) -> Account:
            self._check_unique(uow, account)
            uow.accounts.add(account)
            return account

        return self._crm.transact(work)

    def get(self, account_id: str) -> Account:
        """The account. :raises NotFound: no such account in this tenant."""
        account = self._crm.transact(lambda uow: uow.accounts.get(account_id), read_only=True)
        if account is None:
            raise NotFound("account", account_id)
        return account

    def find(self, *, external_id: str) -> Account | None:
        """The account with this external id, or None."""
        return self._crm.transact(lambda uow: uow.accounts.find_by_external_id(external_id),
                                  read_only=True)

    def update(self, account_id: str, **changes: Any) -> Account:
        """Change ``name``, ``external_id`` or ``attributes``; writes nothing when no
        value changes."""
        def work(uow: UnitOfWork) -> Account:
            current = uow.accounts.get(account_id)
            if current is None:
                raise NotFound("account", account_id)
            changed = rules.change_account(current, changes, self._crm.clock.now())
            if attrs.evolve(changed, updated_at=current.updated_at) == current:
                return current
            self._check_unique(uow, changed)
            uow.accounts.replace(changed)
            return changed

        return self._crm.transact(work)

    def _check_unique(self, uow: UnitOfWork, account: Account) -> None:
        if account.external_id is None:
            return
        owner = uow.accounts.find_by_external_id(account.external_id)
        if owner is not None and owner.id != account.id:
            raise ConflictError(f"external_id {account.external_id!r} already belongs to "
                                f"account {owner.id}")
