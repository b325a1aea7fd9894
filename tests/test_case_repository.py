"""The case repository's contract, the same on every backend: memory, SQLite, PostgreSQL
and MySQL/MariaDB, driven through ``backend.unit_of_work(tenant).cases``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrm.backends.base import Backend, CaseRepository
from ecrm.backends.memory import MemoryBackend
from ecrm.domain.cases import (
    ACTIVE,
    Case,
    CaseMessage,
    CaseStatus,
    CaseType,
    MessageKind,
    Priority,
    SLABreach,
    SLAMetric,
    StatusChange,
    Survey,
    SurveyKind,
)
from ecrm.domain.customers import Customer
from ecrm.domain.ids import new_id
from ecrm.domain.timeline import Before
from ecrm.errors import DuplicateKey
from ecrm.testing.conformance.base import RepositoryTenant
from ecrm.testing.conformance.concurrency import run_together

T = TypeVar("T")

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 4, 1, 9, 30, 15, 123456, tzinfo=JST)
TICK = timedelta(microseconds=1)
LONG_BODY = ("お問い合わせありがとうございます。🎉 " * 3000)[:50_000]

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """A backend of each kind (the SQL ones shared by the session)."""
    if request.param == "memory":
        return MemoryBackend()
    return request.getfixturevalue(f"{request.param}_backend")


@attrs.define
class Shop(RepositoryTenant[CaseRepository]):
    """One fresh tenant of a backend."""

    repository = "cases"
    tenant: str = attrs.field(factory=lambda: f"cases-{uuid.uuid4().hex[:12]}")

    def customer(self) -> str:
        """A new customer's id."""
        customer = Customer(id=new_id(), created_at=T0, updated_at=T0, signed_up_at=T0)
        with self.unit() as uow:
            uow.customers.add(customer)
        return customer.id

    def add_cases(self, *cases: Case) -> None:
        """Store ``cases``."""
        with self.unit() as uow:
            for case in cases:
                uow.cases.add(case)

    def add_messages(self, *messages: CaseMessage) -> None:
        """Store ``messages``."""
        with self.unit() as uow:
            for message in messages:
                uow.cases.add_message(message)


@pytest.fixture
def shop(backend: Backend) -> Shop:
    """A fresh tenant."""
    return Shop(backend)


def a_case(customer_id: str, *, case_id: str | None = None, at: datetime = T0,
           status: CaseStatus = CaseStatus.NEW, channel: str = "email", **fields: Any) -> Case:
    """A case with the fewest fields set (``fields`` override or add)."""
    defaults: dict[str, Any] = {"type": CaseType.INQUIRY, "subject": "Where is my order?",
                                "priority": Priority.NORMAL, "updated_at": at}
    return Case(id=case_id or new_id(), customer_id=customer_id, status=status,
                channel=channel, opened_at=at, **{**defaults, **fields})


def a_message(case: Case, *, message_id: str | None = None, at: datetime = T0,
              kind: MessageKind = MessageKind.INBOUND, channel: str = "email",
              external_id: str | None = None, **fields: Any) -> CaseMessage:
    """A message of ``case``'s thread from its customer (``fields`` override or add)."""
    defaults: dict[str, Any] = {"body": "Hello", "recorded_at": at}
    return CaseMessage(id=message_id or new_id(), case_id=case.id,
                       customer_id=case.customer_id, kind=kind, channel=channel,
                       occurred_at=at, external_id=external_id, **{**defaults, **fields})


def full_case(customer_id: str) -> Case:
    """A case with every field set, in Japanese where it is text."""
    return a_case(
        customer_id, status=CaseStatus.RESOLVED, channel="line",
        subject="届いた商品が破損していました 📦", category="配送", root_cause="梱包不良",
        tags=("damaged", "shipping"), assignee="agent-佐藤", team="サポート第一",
        order_ids=("o-3", "o-1", "o-2"), priority=Priority.URGENT, type=CaseType.COMPLAINT,
        updated_at=T0 + timedelta(hours=5), first_response_at=T0 + timedelta(minutes=7),
        resolved_at=T0 + timedelta(hours=5), closed_at=None, reopen_count=2)


# -- cases -------------------------------------------------------------------------------

def test_a_case_comes_back_with_every_field(shop: Shop) -> None:
    customer = shop.customer()
    full = full_case(customer)
    bare = a_case(customer)
    shop.add_cases(full, bare)
    assert shop.read(lambda r: r.get(full.id)) == full
    assert shop.read(lambda r: r.get(full.id)).order_ids == ("o-3", "o-1", "o-2")
    assert shop.read(lambda r: r.get(bare.id)) == bare
    assert shop.read(lambda r: r.get("no-such-case")) is None
    with shop.unit() as uow:
        assert uow.cases.get(full.id, for_update=True) == full
        assert uow.cases.get("no-such-case", for_update=True) is None


def test_a_taken_case_id_is_refused(shop: Shop) -> None:
    case = a_case(shop.customer())
    shop.add_cases(case)
    with pytest.raises(DuplicateKey):
        shop.add_cases(attrs.evolve(case, subject="again"))
    assert shop.read(lambda r: r.get(case.id)) == case


def test_replace_stores_every_field_and_the_new_links(shop: Shop) -> None:
    customer = shop.customer()
    case = a_case(customer, order_ids=("o-1", "o-2"))
    shop.add_cases(case)
    changed = attrs.evolve(
        full_case(customer), id=case.id, order_ids=("o-9", "o-2"), opened_at=case.opened_at)
    shop.write(lambda r: r.replace(changed))
    assert shop.read(lambda r: r.get(case.id)) == changed
    assert shop.read(lambda r: r.for_order("o-1")) == []
    assert shop.read(lambda r: r.for_order("o-9")) == [changed]
    cleared = attrs.evolve(changed, order_ids=(), tags=(), category=None, assignee=None,
                           first_response_at=None, resolved_at=None, reopen_count=0)
    shop.write(lambda r: r.replace(cleared))
    assert shop.read(lambda r: r.get(case.id)) == cleared
    assert shop.read(lambda r: r.for_order("o-2")) == []


def test_a_customers_and_an_orders_cases_come_oldest_first(shop: Shop) -> None:
    customer, other = shop.customer(), shop.customer()
    cases = [a_case(customer, case_id=case_id, at=at, order_ids=("o-1",))
             for case_id, at in [("c-b", T0), ("c-a", T0), ("c-0", T0 + TICK),
                                 ("c-z", T0 - timedelta(days=1))]]
    stranger = a_case(other, order_ids=("o-2",))
    shop.add_cases(*cases, stranger)
    expected = sorted(cases, key=lambda c: (c.opened_at, c.id))
    assert shop.read(lambda r: r.for_customer(customer)) == expected
    assert shop.read(lambda r: r.for_order("o-1")) == expected
    assert shop.read(lambda r: r.for_order("o-2")) == [stranger]
    assert shop.read(lambda r: r.for_customer("nobody")) == []
    assert shop.read(lambda r: r.for_order("o-none")) == []


def test_active_cases_come_by_id_in_pages(shop: Shop) -> None:
    customer = shop.customer()
    statuses = list(CaseStatus)
    cases = [a_case(customer, case_id=f"c-{uuid.uuid4().hex[:6]}",
                    status=statuses[n % len(statuses)]) for n in range(13)]
    shop.add_cases(*cases)
    expected = sorted(c.id for c in cases if c.status in ACTIVE)
    pages = walk(lambda after: shop.read(lambda r: r.active(after=after, limit=2)))
    assert all(len(page) <= 2 for page in pages)
    assert [c.id for page in pages for c in page] == expected
    assert all(c.status in ACTIVE for page in pages for c in page)
    everything = shop.read(lambda r: r.active(after=None, limit=100))
    assert everything == sorted((c for c in cases if c.status in ACTIVE), key=lambda c: c.id)


def test_opened_between_is_half_open(shop: Shop) -> None:
    customer = shop.customer()
    cases = [a_case(customer, case_id=f"c-{uuid.uuid4().hex[:6]}",
                    at=T0 + timedelta(hours=n % 5), status=list(CaseStatus)[n % 5])
             for n in range(15)]
    shop.add_cases(*cases)
    since, until = T0 + timedelta(hours=1), T0 + timedelta(hours=4)

    def between(start: datetime, end: datetime) -> list[Case]:
        return sorted(shop.read(lambda r: r.opened_between(start, end)), key=lambda c: c.id)

    assert between(since, until) == sorted(
        (c for c in cases if since <= c.opened_at < until), key=lambda c: c.id)
    assert between(until, until + timedelta(hours=1)) == sorted(
        (c for c in cases if c.opened_at == until), key=lambda c: c.id)


def walk(page: Callable[[str | None], list[Case]]) -> list[list[Case]]:
    """Every page of an id-keyed listing, until an empty one."""
    pages: list[list[Case]] = []
    after: str | None = None
    while found := page(after):
        pages.append(found)
        after = found[-1].id
    return pages


def test_for_update_serialises_writers_to_one_case(shop: Shop) -> None:
    case = a_case(shop.customer(), order_ids=("o-1",))
    shop.add_cases(case)

    def bump(worker: int) -> None:
        with shop.unit() as uow:
            stored = uow.cases.get(case.id, for_update=True)
            assert stored is not None
            uow.cases.replace(attrs.evolve(
                stored, reopen_count=stored.reopen_count + 1,
                order_ids=(*stored.order_ids, f"w-{worker}")))

    results = run_together(bump)
    assert [r for r in results if r is not None] == []
    stored = shop.read(lambda r: r.get(case.id))
    assert stored is not None
    assert stored.reopen_count == len(results)
    assert sorted(stored.order_ids) == sorted(["o-1", *(f"w-{n}" for n in range(len(results)))])


# -- status history ----------------------------------------------------------------------

def test_history_comes_by_seq_and_a_repeated_seq_is_refused(shop: Shop) -> None:
    customer = shop.customer()
    case, quiet = a_case(customer), a_case(customer)
    shop.add_cases(case, quiet)
    steps = [StatusChange(case.id, 2, T0 + TICK, CaseStatus.NEW, CaseStatus.OPEN, "agent-1"),
             StatusChange(case.id, 1, T0, None, CaseStatus.NEW),
             StatusChange(case.id, 3, T0, CaseStatus.OPEN, CaseStatus.RESOLVED, "customer")]
    shop.write(lambda r: [r.add_status_change(step) for step in steps])
    in_order = sorted(steps, key=lambda s: s.seq)
    assert shop.read(lambda r: r.history(case.id)) == in_order
    assert shop.read(lambda r: r.history(quiet.id)) == []
    with pytest.raises(DuplicateKey):
        shop.write(lambda r: [
            r.add_status_change(StatusChange(quiet.id, 1, T0, None, CaseStatus.NEW)),
            r.add_status_change(attrs.evolve(steps[0], actor="someone else"))])
    assert shop.read(lambda r: r.history(quiet.id)) == []  # the failed unit left nothing
    assert shop.read(lambda r: r.histories([case.id, quiet.id, "nope"])) == {
        case.id: in_order}
    assert shop.read(lambda r: r.histories([])) == {}


# -- messages ----------------------------------------------------------------------------

def test_a_message_comes_back_with_every_field(shop: Shop) -> None:
    case = a_case(shop.customer())
    shop.add_cases(case)
    full = a_message(case, kind=MessageKind.REPLY, channel="line", body=LONG_BODY,
                     author="agent-佐藤", external_id="line-msg-1",
                     recorded_at=T0 + timedelta(seconds=3),
                     payload={"reply_token": "r-1", "items": [1, "二", None, True],
                              "nested": {"ok": False}})
    bare = a_message(case, at=T0 + TICK)
    shop.add_messages(full, bare)
    assert shop.read(lambda r: r.messages(case.id)) == [full, bare]
    assert len(shop.read(lambda r: r.messages(case.id))[0].body) == 50_000
    assert shop.read(lambda r: r.message_by_external_id("line", "line-msg-1")) == full
    assert shop.read(lambda r: r.message_by_external_id("email", "line-msg-1")) is None


def test_a_thread_comes_oldest_first(shop: Shop) -> None:
    customer = shop.customer()
    case, other = a_case(customer), a_case(customer)
    shop.add_cases(case, other)
    messages = [a_message(case, message_id=mid, at=at) for mid, at in [
        ("m-b", T0), ("m-A", T0), ("m-a", T0), ("m-0", T0 + TICK), ("m-z", T0 - TICK)]]
    shop.add_messages(*messages, a_message(other))
    assert shop.read(lambda r: r.messages(case.id)) == sorted(
        messages, key=lambda m: (m.occurred_at, m.id))
    assert shop.read(lambda r: r.messages("no-such-case")) == []


def test_an_external_id_is_unique_per_channel(shop: Shop) -> None:
    case = a_case(shop.customer())
    shop.add_cases(case)
    first = a_message(case, channel="email", external_id="<abc@example.com>")
    shop.add_messages(first)
    again = a_message(case, channel="email", external_id="<abc@example.com>")
    unrelated = a_message(case, channel="email", external_id="<other@example.com>")
    with pytest.raises(DuplicateKey):
        shop.add_messages(unrelated, again)
    assert shop.read(lambda r: r.messages(case.id)) == [first]
    elsewhere = a_message(case, channel="line", external_id="<abc@example.com>",
                          at=T0 + TICK)
    no_ids = [a_message(case, at=T0 + 2 * TICK), a_message(case, at=T0 + 2 * TICK)]
    shop.add_messages(elsewhere, *no_ids)
    assert shop.read(lambda r: r.message_by_external_id("line", "<abc@example.com>")
                     ) == elsewhere
    with pytest.raises(DuplicateKey):
        shop.add_messages(attrs.evolve(unrelated, id=first.id))


def test_replies_find_the_messages_they_name_on_any_channel(shop: Shop) -> None:
    case = a_case(shop.customer())
    shop.add_cases(case)
    mail = a_message(case, channel="email", external_id="x-1", at=T0 + TICK)
    line = a_message(case, channel="line", external_id="x-1", at=T0)
    other = a_message(case, channel="email", external_id="x-2")
    shop.add_messages(mail, line, other, a_message(case, channel="web"))
    found = shop.read(lambda r: r.messages_by_external_ids(["x-1", "x-3"]))
    assert sorted(found, key=lambda m: m.id) == sorted([mail, line], key=lambda m: m.id)
    assert shop.read(lambda r: r.messages_by_external_ids([])) == []
    many = [f"none-{n}" for n in range(1200)] + ["x-2"]
    assert shop.read(lambda r: r.messages_by_external_ids(many)) == [other]


# -- timelines ---------------------------------------------------------------------------

INSTANTS = [T0, T0.astimezone(timezone.utc), T0 + TICK, T0 - timedelta(days=3)]
row_ids = st.text(alphabet="abAB09-", min_size=1, max_size=6)
channels = ["email", "line", "web"]


@given(data=st.data())
def test_message_timeline_pages_equal_a_sorted_reference(backend: Backend,
                                                         data: st.DataObject) -> None:
    shop = Shop(backend)
    customer, other = shop.customer(), shop.customer()
    case, foreign = a_case(customer), a_case(other)
    shop.add_cases(case, foreign)
    ids = data.draw(st.lists(row_ids, unique=True, max_size=12), "ids")
    messages = [a_message(case if data.draw(st.integers(0, 4)) else foreign,
                          message_id=message_id, at=data.draw(st.sampled_from(INSTANTS)),
                          channel=data.draw(st.sampled_from(channels)),
                          kind=data.draw(st.sampled_from(list(MessageKind))))
                for message_id in ids]
    shop.add_messages(*messages)
    wanted_channels = data.draw(st.none() | st.sets(st.sampled_from(channels)), "channels")
    kinds = data.draw(st.none() | st.sets(st.sampled_from([k.value for k in MessageKind])),
                      "kinds")
    limit = data.draw(st.integers(1, 5), "limit")
    expected = sorted((m for m in messages if m.customer_id == customer
                       and (wanted_channels is None or m.channel in wanted_channels)
                       and (kinds is None or m.kind in kinds)),
                      key=lambda m: (m.occurred_at, m.id), reverse=True)
    pages = keyset_pages(lambda before: shop.read(lambda r: r.message_timeline(
        customer, before=before, limit=limit, channels=wanted_channels, kinds=kinds)),
        limit, lambda m: Before(m.occurred_at, m.id))
    assert [m for page in pages for m in page] == expected


@given(data=st.data())
def test_case_timeline_pages_equal_a_sorted_reference(backend: Backend,
                                                      data: st.DataObject) -> None:
    shop = Shop(backend)
    customer, other = shop.customer(), shop.customer()
    ids = data.draw(st.lists(row_ids, unique=True, max_size=10), "ids")
    cases = [a_case(customer if data.draw(st.integers(0, 4)) else other, case_id=case_id,
                    at=data.draw(st.sampled_from(INSTANTS)),
                    channel=data.draw(st.sampled_from(channels)),
                    order_ids=(f"o-{case_id}",))
             for case_id in ids]
    shop.add_cases(*cases)
    wanted = data.draw(st.none() | st.sets(st.sampled_from(channels)), "channels")
    limit = data.draw(st.integers(1, 4), "limit")
    expected = sorted((c for c in cases if c.customer_id == customer
                       and (wanted is None or c.channel in wanted)),
                      key=lambda c: (c.opened_at, c.id), reverse=True)
    pages = keyset_pages(lambda before: shop.read(lambda r: r.case_timeline(
        customer, before=before, limit=limit, channels=wanted)),
        limit, lambda c: Before(c.opened_at, c.id))
    assert [c for page in pages for c in page] == expected


def keyset_pages(page: Callable[[Before | None], list[T]], limit: int,
                 bound: Callable[[T], Before]) -> list[list[T]]:
    """Every page of a newest-first timeline, each starting below the last row of the one
    before, until a short page."""
    pages = [page(None)]
    while len(pages[-1]) == limit:
        pages.append(page(bound(pages[-1][-1])))
    assert all(len(p) <= limit for p in pages)
    return pages


def test_timeline_bounds_at_one_instant(shop: Shop) -> None:
    """``Before(at, "")`` leaves out every row at ``at``; one tick later keeps them all;
    ``Before(at, id)`` keeps the rows at ``at`` with smaller ids."""
    customer = shop.customer()
    cases = [a_case(customer, case_id=case_id, at=T0) for case_id in ("c-1", "c-2", "c-3")]
    older = a_case(customer, case_id="c-9", at=T0 - TICK)
    shop.add_cases(*cases, older)
    shop.add_messages(*(a_message(c, message_id=f"m{c.id}", at=c.opened_at)
                        for c in (*cases, older)))

    def case_ids(before: Before) -> list[str]:
        found = shop.read(lambda r: r.case_timeline(customer, before=before, limit=10,
                                                    channels=None))
        return [c.id for c in found]

    def message_ids(before: Before) -> list[str]:
        found = shop.read(lambda r: r.message_timeline(customer, before=before, limit=10,
                                                       channels=None, kinds=None))
        return [m.id for m in found]

    assert case_ids(Before(T0, "")) == ["c-9"]
    assert case_ids(Before(T0 + TICK, "")) == ["c-3", "c-2", "c-1", "c-9"]
    assert case_ids(Before(T0, "c-3")) == ["c-2", "c-1", "c-9"]
    assert message_ids(Before(T0, "")) == ["mc-9"]
    assert message_ids(Before(T0, "mc-2")) == ["mc-1", "mc-9"]
    assert message_ids(Before(T0.astimezone(timezone.utc) + TICK, "")) == [
        "mc-3", "mc-2", "mc-1", "mc-9"]


# -- breaches and surveys ----------------------------------------------------------------

def test_one_breach_per_case_and_metric(shop: Shop) -> None:
    customer = shop.customer()
    case, other, quiet = a_case(customer), a_case(customer), a_case(customer)
    shop.add_cases(case, other, quiet)
    breaches = [SLABreach(case.id, SLAMetric.RESOLUTION, T0, T0 + TICK),
                SLABreach(case.id, SLAMetric.FIRST_RESPONSE, T0, T0 + timedelta(hours=1)),
                SLABreach(other.id, SLAMetric.FIRST_RESPONSE, T0 - TICK, T0)]
    shop.write(lambda r: [r.add_breach(b) for b in breaches])
    with pytest.raises(DuplicateKey):
        shop.write(lambda r: r.add_breach(attrs.evolve(breaches[1], detected_at=T0)))
    found = shop.read(lambda r: r.breaches([case.id, other.id, quiet.id]))
    assert sorted(found, key=breach_key) == sorted(breaches, key=breach_key)
    assert shop.read(lambda r: r.breaches([quiet.id])) == []
    assert shop.read(lambda r: r.breaches([])) == []


def breach_key(breach: SLABreach) -> tuple[str, str]:
    """Breaches in a stable order."""
    return breach.case_id, breach.metric.value


def test_surveys_are_asked_answered_and_listed_oldest_first(shop: Shop) -> None:
    customer = shop.customer()
    case, other = a_case(customer), a_case(customer)
    shop.add_cases(case, other)
    surveys = [Survey("s-b", case.id, customer, SurveyKind.CSAT, T0),
               Survey("s-a", other.id, customer, SurveyKind.NPS, T0),
               Survey("s-0", case.id, customer, SurveyKind.NPS, T0 - TICK)]
    shop.write(lambda r: [r.add_survey(s) for s in surveys])
    assert shop.read(lambda r: r.get_survey("s-b")) == surveys[0]
    assert shop.read(lambda r: r.get_survey("s-none")) is None
    answered = attrs.evolve(surveys[0], answered_at=T0 + timedelta(days=1), score=4,
                            comment="丁寧な対応でした 👍" * 100)
    with shop.unit() as uow:
        assert uow.cases.get_survey("s-b", for_update=True) == surveys[0]
        uow.cases.answer_survey(answered)
    assert shop.read(lambda r: r.get_survey("s-b")) == answered
    assert shop.read(lambda r: r.surveys([case.id, other.id])) == [
        surveys[2], surveys[1], answered]
    assert shop.read(lambda r: r.surveys([other.id])) == [surveys[1]]
    assert shop.read(lambda r: r.surveys([])) == []


# -- tenants and merges ------------------------------------------------------------------

def test_another_tenant_sees_nothing_and_may_reuse_every_key(shop: Shop) -> None:
    customer = shop.customer()
    case = attrs.evolve(full_case(customer), status=CaseStatus.OPEN)
    fill(shop, case)
    stranger = Shop(shop.backend)
    assert stranger.read(lambda r: (
        r.get(case.id), r.for_customer(customer), r.for_order("o-1"),
        r.active(after=None, limit=10),
        r.opened_between(T0 - timedelta(days=1), T0 + timedelta(days=1)),
        r.history(case.id), r.histories([case.id]), r.messages(case.id),
        r.message_by_external_id("email", f"mail-{case.id}"),
        r.messages_by_external_ids([f"mail-{case.id}"]),
        r.message_timeline(customer, before=None, limit=10, channels=None, kinds=None),
        r.case_timeline(customer, before=None, limit=10, channels=None),
        r.breaches([case.id]), r.get_survey(f"s{case.id[1:]}"), r.surveys([case.id]),
    )) == (None, [], [], [], [], [], {}, [], None, [], [], [], [], None, [])
    stranger_customer = stranger.customer()
    fill(stranger, attrs.evolve(case, customer_id=stranger_customer))
    assert stranger.read(lambda r: r.get(case.id)) == attrs.evolve(
        case, customer_id=stranger_customer)
    assert shop.read(lambda r: r.get(case.id)) == case


def fill(shop: Shop, case: Case) -> None:
    """Store ``case`` with a status change, a message, a breach and a survey."""
    with shop.unit() as uow:
        uow.cases.add(attrs.evolve(case, status=CaseStatus.OPEN))
        uow.cases.add_status_change(StatusChange(case.id, 1, T0, None, CaseStatus.NEW))
        uow.cases.add_message(a_message(case, message_id=f"m{case.id[1:]}",
                                        external_id=f"mail-{case.id}"))
        uow.cases.add_breach(SLABreach(case.id, SLAMetric.RESOLUTION, T0, T0))
        uow.cases.add_survey(Survey(f"s{case.id[1:]}", case.id, case.customer_id,
                                    SurveyKind.CSAT, T0))
        uow.cases.replace(case)


def test_a_merge_moves_cases_messages_and_surveys(shop: Shop) -> None:
    survivor, duplicate, bystander = shop.customer(), shop.customer(), shop.customer()
    kept, moved, untouched = a_case(survivor), a_case(duplicate), a_case(bystander)
    for case in (kept, moved, untouched):
        fill(shop, case)
    with shop.unit() as uow:
        uow.reassign_customer(duplicate, survivor)
    now_survivors = attrs.evolve(moved, customer_id=survivor)
    assert shop.read(lambda r: r.for_customer(survivor)) == sorted(
        [kept, now_survivors], key=lambda c: (c.opened_at, c.id))
    assert shop.read(lambda r: r.for_customer(duplicate)) == []
    assert shop.read(lambda r: r.get(moved.id)) == now_survivors
    assert {m.case_id for m in shop.read(lambda r: r.message_timeline(
        survivor, before=None, limit=10, channels=None, kinds=None))} == {kept.id, moved.id}
    assert shop.read(lambda r: r.message_timeline(
        duplicate, before=None, limit=10, channels=None, kinds=None)) == []
    assert {c.id for c in shop.read(lambda r: r.case_timeline(
        survivor, before=None, limit=10, channels=None))} == {kept.id, moved.id}
    assert [m.customer_id for m in shop.read(lambda r: r.messages(moved.id))] == [survivor]
    assert [s.customer_id for s in shop.read(lambda r: r.surveys([moved.id]))] == [survivor]
    assert shop.read(lambda r: r.for_customer(bystander)) == [untouched]
