"""Erasure (``crm.privacy.erase``): every personal value gone from every table, the books
unchanged, and retention purges."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import attrs
import pytest

from ecrm.backends.base import Backend
from ecrm.backends.memory import MemoryBackend, _Table
from ecrm.crm import CRM
from ecrm.domain.outbox import MessageStatus
from ecrm.errors import ConflictError, NotFound
from ecrm.testing.conformance.base import ContractBase, line, record
from ecrm.testing.conformance.campaigns import Postbox


def stored_text(backend: Backend, tenant: str) -> Iterator[str]:
    """Every value the backend stores for ``tenant``, as text: each column of each row of
    every ecrm table on SQL, each key, row and unique index entry on memory. Another
    backend's test class overrides the ``stored_text`` fixture."""
    if isinstance(backend, MemoryBackend):
        data = backend._tenants.get(tenant)
        for table in vars(data).values() if data is not None else ():
            if isinstance(table, _Table):
                yield from (f"{key!r} {_fields(row)!r}" for key, row in table.rows.items())
                yield repr(table.unique)
        return
    from sqlalchemy import select

    from ecrm.backends.sql import SQLBackend, metadata

    if not isinstance(backend, SQLBackend):
        raise NotImplementedError("override the stored_text fixture for this backend")
    with backend.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table).where(table.c.tenant_id == tenant)):
                yield from (_as_text(value) for value in row)


def _fields(row: Any) -> Any:
    """A stored row's values, nested ones included (reprs hide personal fields)."""
    return attrs.asdict(row, recurse=True) if attrs.has(type(row)) else row


def _as_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class Person:
    """A customer with unique canary strings in every personal field ecrm stores, and
    records of every kind that can hold personal text."""

    def __init__(self, shop: CRM, tag: str) -> None:
        self.canaries: list[str] = []
        token = f"{tag}{secrets.token_hex(4)}"
        digits = f"{secrets.randbelow(10**8):08d}"
        self.phone_digits = f"090{digits}"
        customer = shop.customers.create(
            email=f"{token}@mail.example", name=f"name-{token}", kana_name=f"kana-{token}",
            phone=f"090-{digits[:4]}-{digits[4:]}", external_id=f"ext-{token}",
            attributes={"note": f"attr-{token}"},
            address={"postal_code": f"{digits[:3]}-{digits[3:7]}", "prefecture": "東京都",
                     "city": f"city-{token}", "street": f"street-{token}",
                     "building": f"bldg-{token}"})
        duplicate = shop.customers.create(email=f"dup-{token}@mail.example",
                                          name=f"dupname-{token}", phone=f"080{digits}")
        self.customer = shop.customers.merge(customer.id, duplicate.id)
        self.duplicate_id = duplicate.id
        self.canaries += [f"{token}@mail.example", f"name-{token}", f"kana-{token}",
                          customer.phone or "", self.phone_digits, f"ext-{token}",
                          f"attr-{token}", f"{digits[:3]}-{digits[3:7]}", f"city-{token}",
                          f"street-{token}", f"bldg-{token}", f"dup-{token}@mail.example",
                          f"dupname-{token}", f"080{digits}"]
        self.token = token
        self._records(shop)

    def _records(self, shop: CRM) -> None:
        cid, token = self.customer.id, self.token
        order = record(shop, f"O-{token}", cid, lines=[line(price="3000")])
        shop.orders.refund(order.order_id, refund_id=f"R-{token}", amount=1000,
                           reason=f"refund-{token}")
        shop.loyalty.adjust(cid, 500, key=f"adj-{token}", reason=f"points-{token}")
        shop.interactions.record(cid, channel="web", kind="page_view",
                                 payload={"url": f"https://shop.example/?q=web-{token}"})
        case = shop.cases.open(cid, subject=f"subject-{token}", channel="email",
                               body=f"body-{token}", author=f"author-{token}",
                               external_id=f"<msgid-{token}@mail.example>",
                               payload={"from": f"payload-{token}"})
        shop.cases.change_status(case.id, "resolved")
        [survey] = shop.cases.surveys(case.id)
        shop.cases.answer_survey(survey.id, 4, comment=f"comment-{token}")
        shop.consent.grant(cid, "email", source=f"source-{token}")
        shop.suppressions.add("sms", self.customer.phone or "", source=f"sms-{token}")
        sent = shop.messages.send(key=f"sent-{token}", channel="email", purpose="transactional",
                                  customer_id=cid, subject=f"subj-{token}", body=f"mail-{token}",
                                  data={"x": f"data-{token}"})
        shop.messages.dispatch(limit=10)
        shop.messages.bounced(sent.id, reason=f"bounce-{token}")
        self.pending = shop.messages.send(
            key=f"later-{token}", channel="email", purpose="transactional", customer_id=cid,
            body=f"pending-{token}", due_at=shop.clock.now() + timedelta(days=1))
        self.canaries += [f"{name}-{token}" for name in (
            "refund", "points", "web", "subject", "body", "author", "msgid", "payload",
            "comment", "source", "sms", "subj", "mail", "data", "bounce", "pending")]


class ErasureContract(ContractBase):
    """Erasure and retention every backend must show."""

    @pytest.fixture
    def mailing_shop(self, crm: CRM, recorder: Any) -> CRM:
        """The test's CRM with an e-mail channel that accepts everything."""
        return CRM(crm.backend, tenant=crm.tenant, clock=crm.clock,
                   plugins=[recorder, Postbox()])

    @pytest.fixture
    def erasure_dump(self, backend: Backend):
        return lambda tenant: list(stored_text(backend, tenant))

    def test_erasure_leaves_no_personal_value_in_any_table(self, mailing_shop: CRM, erasure_dump
                                                           ) -> None:
        shop = mailing_shop
        person, bystander = Person(shop, "p"), Person(shop, "b")
        cid = person.customer.id
        before = _books(shop, cid)
        dumped = "\n".join(erasure_dump(shop.tenant))
        missing = [c for c in person.canaries + bystander.canaries if c not in dumped]
        assert not missing, missing

        shop.privacy.erase(person.duplicate_id)  # a merged-away id stands for the survivor

        dumped = "\n".join(erasure_dump(shop.tenant))
        left = [c for c in person.canaries if c in dumped]
        assert not left, left
        lost = [c for c in bystander.canaries if c not in dumped]
        assert not lost, lost
        assert _books(shop, cid) == before

    def test_the_erased_profile_keeps_only_what_is_not_personal(self, mailing_shop: CRM) -> None:
        shop = mailing_shop
        person = Person(shop, "k")
        shop.privacy.erase(person.customer.id)
        erased = shop.customers.get(person.customer.id)
        assert (erased.email, erased.name, erased.phone, erased.address, erased.attributes,
                erased.external_id) == (None, None, None, None, {}, None)
        assert (erased.signed_up_at, erased.created_at) == (person.customer.signed_up_at,
                                                            person.customer.created_at)
        assert shop.consent.for_customer(person.customer.id) == []
        assert shop.messages.get(person.pending.id).status == MessageStatus.CANCELLED
        [case] = shop.cases.for_customer(person.customer.id)
        assert (case.subject, case.status) == ("[erased]", "resolved")

    def test_the_redaction_record_counts_what_was_blanked(self, mailing_shop: CRM,
                                                          recorder) -> None:
        shop = mailing_shop
        person = Person(shop, "r")
        redaction = shop.privacy.erase(person.customer.id)
        assert redaction.customer_id == person.customer.id
        assert redaction.erased_at == shop.clock.now()
        # interactions: the page view, the message sent, its bounce and the survey answer;
        # suppressions: the bounced e-mail address and the phone number
        assert dict(redaction.removed) == {
            "case_messages": 1, "case_status_changes": 2, "case_surveys": 1, "cases": 1,
            "consent_changes": 1, "consents": 1, "customer_merges": 1, "customers": 1,
            "interactions": 4, "journey_enrollments": 0, "outbox": 2,
            "point_transactions": 1, "refunds": 1, "suppressions": 2}, redaction.removed
        assert shop.privacy.redactions(person.customer.id) == [redaction]
        assert shop.privacy.is_erased(person.customer.id)
        assert not shop.privacy.is_erased(person.duplicate_id)
        erased = [e for name, e in recorder.events if name == "customer_erased"]
        assert erased == [{"redaction": redaction}]
        [entry] = shop.audit.entries(action="customer.erased").items
        assert (entry.subject_id, entry.customer_id, dict(entry.details)) == (
            person.customer.id, person.customer.id, {"redaction_id": redaction.id})

    def test_an_erased_customer_cannot_be_filled_in_again(self, mailing_shop: CRM) -> None:
        shop = mailing_shop
        person = Person(shop, "f")
        shop.privacy.erase(person.customer.id)
        with pytest.raises(ConflictError):
            shop.customers.update(person.customer.id, email="back@mail.example")
        assert shop.customers.get(person.customer.id).email is None

    def test_erasing_an_unknown_customer_writes_nothing(self, mailing_shop: CRM, recorder) -> None:
        shop = mailing_shop
        with pytest.raises(NotFound):
            shop.privacy.erase("no-such-customer")
        assert "customer_erased" not in recorder.names()
        assert shop.privacy.redactions("no-such-customer") == []

    def test_retention_purges_old_interactions_and_finished_messages(self, mailing_shop: CRM
                                                                     ) -> None:
        shop = mailing_shop
        person = Person(shop, "t")
        cid = person.customer.id
        shop.clock.advance(days=400)
        fresh = shop.interactions.record(cid, channel="web", kind="page_view")
        report = shop.privacy.purge(interactions_older_than=timedelta(days=365),
                                    messages_older_than=timedelta(days=365))
        assert (report.interactions, report.messages) == (4, 1), report
        assert [m.id for m in shop.messages.for_customer(cid)] == [person.pending.id]
        page = shop.interactions.timeline(cid, sources=["interaction"])
        assert [event.id for event in page.events] == [fresh.id]
        assert shop.privacy.purge(messages_older_than=timedelta(days=365)).messages == 0
        with pytest.raises(Exception, match="positive"):
            shop.privacy.purge(messages_older_than=timedelta(0))


def _books(shop: CRM, customer_id: str) -> tuple[Any, ...]:
    """What erasure must not change: the balance, order totals and the ledger's sums."""
    return (shop.loyalty.balance(customer_id), shop.orders.summary(customer_id),
            shop.loyalty.totals(), [o.total for o in shop.orders.for_customer(customer_id)])
