"""The CRM facade: one object per shop (tenant), capabilities hanging off it."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ecrm import plugins as plugin_support
from ecrm.backends.base import Backend, UnitOfWork
from ecrm.clock import Clock, SystemClock
from ecrm.domain import audit as audit_rules
from ecrm.domain import validation
from ecrm.domain.money import check_currency
from ecrm.errors import DuplicateKey, TransientError, ValidationError

if TYPE_CHECKING:
    from datetime import datetime

    import pluggy

    from ecrm.campaigns import CampaignProgress
    from ecrm.domain.contact_policy import ContactPolicy
    from ecrm.domain.program import LoyaltyProgram
    from ecrm.domain.sla import SupportPolicy
    from ecrm.journeys import JourneyRunReport

T = TypeVar("T")

#: How often a unit of work is tried when the database reports a deadlock or a race.
MAX_ATTEMPTS = 4


@attrs.frozen
class DueRun:
    """What :meth:`CRM.run_due` did: the campaigns launched or finished, and the
    journeys' report."""

    campaigns: list[CampaignProgress]
    journeys: JourneyRunReport


class CRM:
    """A CRM bound to one tenant (shop) of a backend.

    Build it with :meth:`open` from a URL, or pass a backend you configured yourself::

        crm = ecrm.CRM.open("sqlite:///shop.db")
        crm = ecrm.CRM(ecrm.backends.SQLBackend(engine), tenant="shop-1")

    :param tenant: the shop whose data this CRM sees; other tenants' rows are invisible.
    :param clock: where "now" comes from (default: the system clock, UTC).
    :param plugins: plugin objects and entry-point names to load, or ``"entrypoints"``
        for every installed plugin. Nothing is loaded by default.
    :param currency: the shop's main currency, used when an order names none.
    :param loyalty: the points programme orders, sign-ups and reviews earn under (None:
        the ledger works, but nothing earns points by itself).
    :param support: the support desk's rules: business hours, SLA targets, the reopen
        window and surveys (default: ``SupportPolicy()``, no SLA targets).
    :param contact: the contact policy every outgoing message is held to right before it
        goes out: consent, the suppression list, quiet hours and frequency caps (default:
        ``ContactPolicy()``: at most three marketing messages per customer in any seven
        days, none from 21:00 to 08:00 local time). It becomes ``crm.messages.gate``.
    :param secret: the shop's secret (at least 16 random bytes, str or bytes) that signs
        the unsubscribe and confirmation tokens of ``crm.consent``; keep it out of the
        code and the same on every server. Without it those tokens are unavailable.
    """

    def __init__(self, backend: Backend, *, tenant: str = "default", clock: Clock | None = None,
                 plugins: plugin_support.PluginSpec = (), currency: str = "JPY",
                 loyalty: LoyaltyProgram | None = None,
                 support: SupportPolicy | None = None,
                 contact: ContactPolicy | None = None,
                 secret: str | bytes | None = None) -> None:
        from ecrm.accounts import AccountService
        from ecrm.analytics import Analytics
        from ecrm.audit import AuditService
        from ecrm.campaigns import CampaignService
        from ecrm.cases import CaseService
        from ecrm.consent import ConsentService
        from ecrm.contact_gate import ContactGate
        from ecrm.coupons import CouponService
        from ecrm.customers import CustomerService
        from ecrm.domain.contact_policy import ContactPolicy
        from ecrm.domain.sla import SupportPolicy
        from ecrm.inbound import InboundService
        from ecrm.interactions import InteractionService
        from ecrm.journeys import JourneyService
        from ecrm.loyalty import LoyaltyService
        from ecrm.messages import MessageService
        from ecrm.orders import OrderService
        from ecrm.privacy import PrivacyService
        from ecrm.recommendations import RecommendationService
        from ecrm.referrals import ReferralService
        from ecrm.segments import SegmentService
        from ecrm.suppression import SuppressionService
        from ecrm.tiers import TierService

        self.backend = backend
        self.tenant = validation.tenant(tenant)
        # This CRM's actor, per thread and per asyncio task (see acting_as).
        self._actor: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            f"ecrm_actor_{id(self):x}", default=None)
        self.clock: Clock = clock or SystemClock()
        self.currency = check_currency("currency", currency)
        if support is not None and not isinstance(support, SupportPolicy):
            raise ValidationError("support", "expected an ecrm.SupportPolicy")
        self.support: SupportPolicy = support or SupportPolicy()
        self.secret = secret
        self.plugin_manager: pluggy.PluginManager = plugin_support.make_plugin_manager(plugins)
        self.customers = CustomerService(self)
        self.accounts = AccountService(self)
        self.orders = OrderService(self)
        self.interactions = InteractionService(self)
        self.cases = CaseService(self)
        self.loyalty = LoyaltyService(self, loyalty)
        self.tiers = TierService(self)
        self.coupons = CouponService(self)
        self.referrals = ReferralService(self)
        self.consent = ConsentService(self)
        self.suppressions = SuppressionService(self)
        self.inbound = InboundService(self)
        self.segments = SegmentService(self)
        self.analytics = Analytics(self)
        self.recommendations = RecommendationService(self)
        self.messages = MessageService(self)
        if contact is not None and not isinstance(contact, ContactPolicy):
            raise ValidationError("contact", "expected an ecrm.ContactPolicy")
        self.messages.gate = ContactGate(contact or ContactPolicy())
        self.campaigns = CampaignService(self)
        self.journeys = JourneyService(self)
        self.privacy = PrivacyService(self)
        self.audit = AuditService(self)

    @classmethod
    def open(cls, url: str, *, tenant: str = "default", clock: Clock | None = None,
             plugins: plugin_support.PluginSpec = (), currency: str = "JPY",
             loyalty: LoyaltyProgram | None = None, support: SupportPolicy | None = None,
             contact: ContactPolicy | None = None, secret: str | bytes | None = None,
             create_schema: bool | None = None) -> CRM:
        """Open a CRM on ``"memory://"``, ``"sqlite:///shop.db"``,
        ``"postgresql+psycopg://..."`` or ``"mysql+pymysql://..."``.

        The schema is created on first use for memory and SQLite; for server databases run
        the migrations, or pass ``create_schema=True`` for a quick start.
        """
        backend = _backend_for(url)
        if create_schema is None:
            create_schema = url == "memory://" or url.startswith("sqlite")
        if create_schema:
            backend.create_schema()
        return cls(backend, tenant=tenant, clock=clock, plugins=plugins, currency=currency,
                   loyalty=loyalty, support=support, contact=contact, secret=secret)

    @property
    def actor(self) -> str | None:
        """Who is acting now, as the host said with :meth:`acting_as`; None when it said
        nothing (audit entries are then stored with no actor: the system, or a host
        that names none)."""
        return self._actor.get()

    def acting_as(self, actor: str) -> AbstractContextManager[CRM]:
        """Name who acts for the changes made inside the ``with`` block; the audit trail
        (``crm.audit``) records it with each change::

            with crm.acting_as("staff:42"):
                crm.customers.update(customer_id, phone="+81 3 1234 5678")

        The actor is held per thread and per asyncio task (a context variable of this
        CRM), so concurrent requests never see each other's; blocks nest, and leaving
        one restores the actor before it. Use an id (staff number, API client), not a
        person's name: entries are never rewritten.

        :raises ValidationError: naming ``actor``, when it is blank or longer than
            128 characters.
        """
        return self._acting(audit_rules.actor(actor))

    @contextmanager
    def _acting(self, actor: str) -> Iterator[CRM]:
        token = self._actor.set(actor)
        try:
            yield self
        finally:
            self._actor.reset(token)

    def run_due(self, now: datetime | None = None) -> DueRun:
        """The scheduler's one call: ``crm.campaigns.run_due`` then
        ``crm.journeys.run_due``, at the same ``now`` (default: the clock's)."""
        moment = validation.aware("now", now) if now is not None else self.clock.now()
        campaigns = self.campaigns.run_due(moment)
        return DueRun(campaigns=campaigns, journeys=self.journeys.run_due(moment))

    def close(self) -> None:
        """Release the backend's connections."""
        self.backend.close()

    def __enter__(self) -> CRM:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CRM tenant={self.tenant!r} backend={type(self.backend).__name__}>"

    def transact(self, work: Callable[[UnitOfWork], T], *, read_only: bool = False,
                 replay_on_duplicate: bool = False) -> T:
        """Run ``work`` in one unit of work and return its result.

        Deadlocks are retried when the backend owns its transactions. With
        ``replay_on_duplicate`` a lost race on a unique key is retried too, so that an
        idempotent write finds the winner's row and answers as a replay.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.backend.unit_of_work(self.tenant, read_only=read_only) as uow:
                    return work(uow)
            except TransientError:
                if attempt == MAX_ATTEMPTS or not self.backend.can_retry:
                    raise
            except DuplicateKey:
                if attempt == MAX_ATTEMPTS or not replay_on_duplicate:
                    raise
        raise AssertionError("unreachable")

    def notify_after_commit(self, uow: UnitOfWork, hook_name: str, **kwargs: Any) -> None:
        """Fire notification hook ``hook_name`` once ``uow`` has committed."""
        if plugin_support.has_listeners(self.plugin_manager, hook_name):
            uow.on_commit(lambda: plugin_support.notify(
                self.plugin_manager, hook_name, crm=self, **kwargs))

    def validate(self, hook_name: str, **kwargs: Any) -> None:
        """Run validation hook ``hook_name``; a plugin vetoes by raising ValidationError."""
        getattr(self.plugin_manager.hook, hook_name)(crm=self, **kwargs)


def _backend_for(url: str) -> Backend:
    if url == "memory://":
        from ecrm.backends.memory import MemoryBackend

        return MemoryBackend()
    from ecrm.backends.sql import SQLBackend

    return SQLBackend.from_url(url)
