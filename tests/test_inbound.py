"""Inbound traffic: the types channel plugins return, ``crm.inbound.receive``'s rules, and
the built-in e-mail channel, end to end on memory and SQLite."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ecrm
from ecrm import InboundEvent, InboundMessage, Sender, ValidationError
from ecrm.backends.sql import SQLBackend
from ecrm.channels.email import message_key, receive_email
from ecrm.domain.cases import MAX_BODY_CHARS
from ecrm.domain.inbound import (
    MAX_INBOUND_BYTES,
    MAX_REPLIES_TO,
    MAX_SUBJECT,
    header_map,
    inbound_items,
    inbound_payload,
)
from ecrm.domain.interactions import MAX_PAYLOAD_BYTES

NOW = datetime(2026, 5, 11, 3, 0, tzinfo=timezone.utc)
JST = timezone(timedelta(hours=9))
_tenants = itertools.count()


@pytest.fixture(params=["memory", "sqlite"])
def crm(request: pytest.FixtureRequest) -> Iterator[ecrm.CRM]:
    """A CRM on a fresh tenant, its clock at NOW, with the kiosk test channel."""
    clock = ecrm.ManualClock(NOW)
    plugins = [Kiosk()]
    if request.param == "memory":
        shop = ecrm.CRM.open("memory://", clock=clock, plugins=plugins)
    else:
        backend: SQLBackend = request.getfixturevalue("sqlite_backend")
        shop = ecrm.CRM(backend, tenant=f"inbound-{next(_tenants)}", clock=clock,
                        plugins=plugins)
    yield shop


class Kiosk:
    """A test channel whose payload is a mapping listing events and messages to return,
    as a real plugin would build them from its webhook's JSON."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, dict[str, str]]] = []

    @ecrm.hookimpl
    def ecrm_channels(self):
        return [ecrm.Channel("kiosk", "Store kiosk", can_receive=True),
                ecrm.Channel("flyer", "Flyers")]

    @ecrm.hookimpl
    def ecrm_receive(self, channel, payload, headers):
        if channel != "kiosk":
            return None
        self.seen.append((payload, headers))
        return [build(entry) for entry in payload["items"]]


def build(entry: dict[str, Any]) -> InboundMessage | InboundEvent:
    fields = dict(entry)
    fields["sender"] = Sender(**fields["sender"])
    fields.setdefault("occurred_at", NOW - timedelta(minutes=5))
    kind = InboundMessage if "body" in fields else InboundEvent
    return kind(**fields)


def customers(shop: ecrm.CRM) -> list[ecrm.Customer]:
    return shop.customers.list().items


def interactions(shop: ecrm.CRM) -> list[ecrm.Interaction]:
    return [event.item for customer in customers(shop)
            for event in shop.interactions.timeline(customer.id, sources=["interaction"]).events]


def raw_mail(*, sender: tuple[str, str] = ("山田 太郎", "taro@example.jp"),
             subject: str = "ご注文の件", body: str = "注文番号 A-1001 の商品がまだ届きません。",
             message_id: str | None = "m1@example.jp", charset: str = "utf-8",
             date: str | None = "Mon, 11 May 2026 10:00:00 +0900",
             extra: dict[str, str] | None = None) -> bytes:
    """A raw message as a mail server hands it over (CRLF line endings), with non-ASCII
    header text in RFC 2047 encoded words of ``charset`` and the body in ``charset``."""
    headers = [("From", formataddr(sender, charset)), ("To", "support@shop.example.jp"),
               ("Subject", Header(subject, charset).encode())]
    headers += [("Date", date)] if date is not None else []
    headers += [("Message-ID", f"<{message_id}>")] if message_id is not None else []
    headers += list((extra or {}).items())
    headers += [("MIME-Version", "1.0"), ("Content-Type", f"text/plain; charset={charset}"),
                ("Content-Transfer-Encoding", "8bit")]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("ascii") + b"\r\n" + body.replace("\n", "\r\n").encode(charset)


# -- the types plugins return -------------------------------------------------------------


def test_a_sender_needs_a_key_and_names_its_fields() -> None:
    assert Sender(email="Taro@Example.JP", name=" 太郎 ").email == "taro@example.jp"
    with pytest.raises(ValidationError) as error:
        Sender(name="only a name")
    assert error.value.field == "sender"
    for fields, field in [({"email": "not-an-address"}, "sender.email"),
                          ({"customer_id": 12}, "sender.customer_id"),
                          ({"external_id": "x" * 129}, "sender.external_id"),
                          ({"email": "a@example.jp", "name": "x" * 201}, "sender.name")]:
        with pytest.raises(ValidationError) as error:
            Sender(**fields)
        assert error.value.field == field


@pytest.mark.parametrize(("change", "field"), [
    ({"sender": "taro@example.jp"}, "sender"),
    ({"body": "  \n "}, "body"),
    ({"body": "x" * (MAX_BODY_CHARS + 1)}, "body"),
    ({"occurred_at": datetime(2026, 5, 11, 12, 0)}, "occurred_at"),
    ({"external_id": None}, "external_id"),
    ({"subject": "s" * (MAX_SUBJECT + 1)}, "subject"),
    ({"replies_to": "m0@example.jp"}, "replies_to"),
    ({"replies_to": [f"m{i}" for i in range(MAX_REPLIES_TO + 1)]}, "replies_to"),
    ({"payload": {"blob": "x" * MAX_PAYLOAD_BYTES}}, "payload"),
    ({"payload": {"when": NOW}}, "payload.when"),
    ({"order_ids": "A-1"}, "order_ids"),
])
def test_a_bad_message_field_is_named(change: dict[str, Any], field: str) -> None:
    fields = {"sender": Sender(email="taro@example.jp"), "body": "hello", "occurred_at": NOW,
              "external_id": "m1", **change}
    with pytest.raises(ValidationError) as error:
        InboundMessage(**fields)
    assert error.value.field == field


def test_a_message_is_normalised_and_titled() -> None:
    message = InboundMessage(Sender(email="taro@example.jp"), "\n  届きません \n二行目",
                             NOW.astimezone(JST), " m1 ", replies_to=["m0", "m0", "m-1"],
                             order_ids=["A-1", "A-1"])
    assert message.occurred_at == NOW and message.occurred_at.tzinfo == timezone.utc
    assert (message.external_id, message.replies_to, message.order_ids) == (
        "m1", ("m0", "m-1"), ("A-1",))
    assert message.title == "届きません"
    assert InboundMessage(Sender(email="a@example.jp"), "x" * 300, NOW, "m").title == "x" * 200
    assert InboundMessage(Sender(email="a@example.jp"), "body", NOW, "m",
                          subject="件名").title == "件名"


def test_an_event_checks_its_fields() -> None:
    event = InboundEvent(Sender(external_id="line:U1"), "line_follow", NOW)
    assert (event.external_id, event.payload, event.sku) == (None, {}, None)
    for change, field in [({"kind": "Follow!"}, "kind"), ({"occurred_at": None}, "occurred_at"),
                          ({"sku": "s" * 65}, "sku"), ({"payload": [1]}, "payload")]:
        fields = {"sender": Sender(customer_id="c1"), "kind": "visit", "occurred_at": NOW,
                  **change}
        with pytest.raises(ValidationError) as error:
            InboundEvent(**fields)
        assert error.value.field == field


def test_payloads_are_bytes_or_json_mappings_within_the_limit() -> None:
    assert inbound_payload("こんにちは") == "こんにちは".encode()
    assert inbound_payload(bytearray(b"raw")) == b"raw"
    assert inbound_payload({"events": []}) == {"events": []}
    assert len(inbound_payload(b"x" * MAX_INBOUND_BYTES)) == MAX_INBOUND_BYTES
    for bad, message in [(b"x" * (MAX_INBOUND_BYTES + 1), "more than the limit"),
                         ("あ" * (MAX_INBOUND_BYTES // 3 + 1), "more than the limit"),
                         ({"blob": "x" * MAX_INBOUND_BYTES}, "more than the limit"),
                         (b" \r\n", "empty"), (42, "expected bytes, str or a mapping"),
                         ({"at": NOW}, "must be JSON"), ("\ud800", "lone surrogate")]:
        with pytest.raises(ValidationError, match=message) as error:
            inbound_payload(bad)
        assert error.value.field == "payload"


def test_headers_get_lower_cased_names() -> None:
    assert header_map(None) == {}
    assert header_map({"X-Line-Signature": " abc ", "Content-Type": "application/json"}) == {
        "x-line-signature": "abc", "content-type": "application/json"}
    assert header_map([("Via", "a"), ("via", "b")]) == {"via": "a, b"}
    for bad in ({"X-Count": 3}, [("only-a-name",)], "X-A: b"):
        with pytest.raises(ValidationError) as error:
            header_map(bad)
        assert error.value.field == "headers"


def test_a_plugin_answer_must_be_a_list_of_items() -> None:
    event = InboundEvent(Sender(customer_id="c1"), "visit", NOW)
    assert inbound_items([event]) == (event,)
    for bad in (event, [event, {"kind": "visit"}], "events"):
        with pytest.raises(ValidationError) as error:
            inbound_items(bad)
        assert error.value.field == "items"


# -- receive: channel, payload and plugin rules ---------------------------------------------


def test_the_channel_must_be_known_and_receive(crm: ecrm.CRM) -> None:
    for channel, message in [("fax", "unknown channel 'fax'"),
                             ("phone", "does not receive"), ("flyer", "does not receive"),
                             ("Kiosk!", "must match")]:
        with pytest.raises(ValidationError, match=message) as error:
            crm.inbound.receive(channel, b"payload")
        assert error.value.field == "channel"


def test_a_channel_no_plugin_reads_is_refused() -> None:
    class Chat:
        @ecrm.hookimpl
        def ecrm_channels(self):
            return [ecrm.Channel("webchat", can_receive=True)]

    shop = ecrm.CRM.open("memory://", plugins=[Chat()])
    with pytest.raises(ValidationError, match="no plugin reads channel 'webchat'") as error:
        shop.inbound.receive("webchat", b"{}")
    assert error.value.field == "channel"


def kiosk_of(shop: ecrm.CRM) -> Kiosk:
    return next(p for p in shop.plugin_manager.get_plugins() if isinstance(p, Kiosk))


def test_a_payload_too_large_never_reaches_the_plugin(crm: ecrm.CRM) -> None:
    with pytest.raises(ValidationError, match="more than the limit") as error:
        crm.inbound.receive("kiosk", b"{" + b" " * MAX_INBOUND_BYTES + b"}")
    assert error.value.field == "payload"
    assert kiosk_of(crm).seen == []


def test_the_plugin_gets_the_payload_and_lower_cased_headers(crm: ecrm.CRM) -> None:
    result = crm.inbound.receive("kiosk", {"items": []}, headers={"X-Kiosk-Id": "K1"})
    assert result == ecrm.InboundResult()
    assert kiosk_of(crm).seen == [({"items": []}, {"x-kiosk-id": "K1"})]


def test_a_plugin_that_returns_something_else_is_refused() -> None:
    class Broken:
        @ecrm.hookimpl
        def ecrm_receive(self, channel):
            return {"kind": "visit"} if channel == "email" else None

    shop = ecrm.CRM.open("memory://", plugins=[Broken()])
    with pytest.raises(ValidationError, match="must return a list") as error:
        shop.inbound.receive("email", b"x")
    assert error.value.field == "items"


def test_a_host_plugin_reads_its_own_email_format_before_the_built_in_one() -> None:
    class ProviderJSON:
        @ecrm.hookimpl
        def ecrm_receive(self, crm, channel, payload):
            if channel != "email" or not isinstance(payload, dict):
                return None  # raw mail: let the built-in channel read it
            return [InboundMessage(Sender(email=payload["from"]), payload["text"],
                                   crm.clock.now(), payload["id"])]

    shop = ecrm.CRM.open("memory://", plugins=[ProviderJSON()])
    by_json = shop.inbound.receive("email", {"from": "a@example.jp", "text": "hi", "id": "p1"})
    raw = shop.inbound.receive("email", raw_mail())
    assert [m.external_id for m in by_json.messages + raw.messages] == ["p1", "m1@example.jp"]


# -- receive: events ------------------------------------------------------------------------


def event(sender: dict[str, Any], external_id: str | None = "e1", kind: str = "visit",
          **fields: Any) -> dict[str, Any]:
    return {"sender": sender, "kind": kind, "external_id": external_id, **fields}


def test_events_become_interactions_on_the_channel(crm: ecrm.CRM) -> None:
    hanako = crm.customers.create(email="hanako@example.jp", external_id="K-7")
    payload = {"items": [
        event({"customer_id": hanako.id}, "e1", payload={"store": "shibuya"}),
        event({"external_id": "K-7"}, "e2", kind="product_view", sku="TEA-01"),
        event({"email": "HANAKO@example.jp"}, None, reference="poster-12")]}
    result = crm.inbound.receive("kiosk", payload)
    assert [(i.customer_id, i.channel, i.kind, i.external_id) for i in result.interactions] == [
        (hanako.id, "kiosk", "visit", "e1"), (hanako.id, "kiosk", "product_view", "e2"),
        (hanako.id, "kiosk", "visit", None)]
    assert result.interactions[0].payload == {"store": "shibuya"}
    assert result.interactions[1].sku == "TEA-01"
    assert (result.cases_opened, result.messages) == ((), ())


def test_an_unknown_sender_with_an_email_becomes_a_customer_once(crm: ecrm.CRM) -> None:
    sender = {"email": "new@example.jp", "name": "新規 さん", "external_id": "K-9"}
    payload = {"items": [event(sender, "e1"), event(sender, "e2")]}
    result = crm.inbound.receive("kiosk", payload)
    [customer] = customers(crm)
    assert (customer.email, customer.name, customer.external_id,
            customer.acquisition_channel) == ("new@example.jp", "新規 さん", "K-9", "kiosk")
    assert {i.customer_id for i in result.interactions} == {customer.id}


def test_a_redelivered_payload_writes_nothing_new(crm: ecrm.CRM) -> None:
    payload = {"items": [event({"email": "new@example.jp"}, "e1"),
                         event({"email": "new@example.jp"}, "e2", kind="cart_add")]}
    first = crm.inbound.receive("kiosk", payload)
    again = crm.inbound.receive("kiosk", payload)
    assert again == first
    assert len(customers(crm)) == 1 and len(interactions(crm)) == 2


@pytest.mark.parametrize(("sender", "field"), [
    ({"external_id": "K-404"}, "sender"),
    ({"customer_id": "no-such-customer"}, "sender.customer_id"),
])
def test_an_unknown_sender_fails_the_whole_payload(crm: ecrm.CRM, sender: dict[str, Any],
                                                   field: str) -> None:
    payload = {"items": [event({"email": "first@example.jp"}, "e1"), event(sender, "e2")]}
    with pytest.raises(ValidationError) as error:
        crm.inbound.receive("kiosk", payload)
    assert error.value.field == field
    assert customers(crm) == []  # not even the first sender was made a customer


def test_a_bad_item_fails_the_whole_payload(crm: ecrm.CRM) -> None:
    crm.customers.create(email="known@example.jp")
    payload = {"items": [event({"email": "known@example.jp"}, "e1"),
                         event({"email": "known@example.jp"}, "e2", kind="Not A Kind")]}
    with pytest.raises(ValidationError) as error:
        crm.inbound.receive("kiosk", payload)
    assert error.value.field == "kind"
    assert interactions(crm) == []


# -- the e-mail channel, read without a CRM ---------------------------------------------------


def test_an_email_becomes_one_message() -> None:
    raw = raw_mail(extra={"In-Reply-To": "<m0@shop.example.jp>",
                          "References": "<first@example.jp> <m0@shop.example.jp>"})
    [message] = receive_email(raw, now=NOW)
    assert message.sender == Sender(email="taro@example.jp", name="山田 太郎")
    assert message.subject == "ご注文の件"
    assert message.body == "注文番号 A-1001 の商品がまだ届きません。"
    assert message.external_id == "m1@example.jp"
    assert message.replies_to == ("m0@shop.example.jp", "first@example.jp")
    assert message.occurred_at == datetime(2026, 5, 11, 1, 0, tzinfo=timezone.utc)
    assert message.payload == {"to": ["support@shop.example.jp"]}


def test_a_japanese_iso_2022_jp_mail_reads_right() -> None:
    raw = raw_mail(body="お世話になっております。\n返品をお願いします。", charset="iso-2022-jp",
                   subject="返品について", sender=("高橋 花子", "hanako@example.jp"))
    assert b"\x1b$B" in raw and b"=?iso-2022-jp?b?" in raw  # really ISO-2022-JP on the wire
    [message] = receive_email(raw, now=NOW)
    assert message.body == "お世話になっております。\n返品をお願いします。"
    assert message.title == "返品について"
    assert message.sender.name == "高橋 花子"


def test_only_the_reply_is_kept_of_a_quoting_mail() -> None:
    body = ("届きました、ありがとうございます。\n\n"
            "2026年5月10日(日) 9:00 Shop <support@shop.example.jp>:\n> 発送しました。\n")
    [message] = receive_email(raw_mail(body=body), now=NOW)
    assert message.body == "届きました、ありがとうございます。"


def test_email_times_and_ids_have_fallbacks() -> None:
    [undated] = receive_email(raw_mail(date=None, message_id=None), now=NOW)
    assert undated.occurred_at == NOW
    assert undated.external_id.startswith("sha256:") and len(undated.external_id) == 71
    [again] = receive_email(raw_mail(date=None, message_id=None), now=NOW)
    assert again.external_id == undated.external_id  # the same bytes, the same id
    [future] = receive_email(raw_mail(date="Mon, 11 May 2026 23:00:00 +0900"), now=NOW)
    assert future.occurred_at == NOW  # a sender's clock running ahead counts as now


def test_a_long_message_id_is_hashed_the_same_way_everywhere() -> None:
    long_id = "x" * 200 + "@example.jp"
    [first] = receive_email(raw_mail(message_id=long_id), now=NOW)
    [reply] = receive_email(raw_mail(message_id="r@example.jp",
                                     extra={"In-Reply-To": f"<{long_id}>"}), now=NOW)
    assert first.external_id == message_key(long_id) == reply.replies_to[0]
    assert message_key("short@example.jp") == "short@example.jp"


def test_automatic_mail_gives_nothing() -> None:
    assert receive_email(raw_mail(extra={"Auto-Submitted": "auto-replied"}), now=NOW) == []
    assert len(receive_email(raw_mail(extra={"Auto-Submitted": "no"}), now=NOW)) == 1


def test_attachments_are_listed_within_the_payload_limit() -> None:
    mail = EmailMessage()
    mail["From"] = "taro@example.jp"
    mail["Message-ID"] = "<att@example.jp>"
    mail.set_content("")
    for i in range(80):
        mail.add_attachment(b"\xff" * 10, maintype="image", subtype="jpeg",
                            filename=f"写真-{i:02}-{'x' * 20}.jpg")
    [message] = receive_email(mail.as_bytes(), now=NOW)
    listed = message.payload["attachments"]
    assert listed[0] == {"filename": f"写真-00-{'x' * 20}.jpg", "content_type": "image/jpeg",
                         "size": 10}
    assert len(listed) + message.payload["attachments_omitted"] == 80
    assert message.body.startswith("(no text; attached: 写真-00-")


def test_a_very_long_body_is_cut_and_marked() -> None:
    [message] = receive_email(raw_mail(body="長" * (MAX_BODY_CHARS + 10)), now=NOW)
    assert len(message.body) == MAX_BODY_CHARS and message.payload["truncated"] is True


@pytest.mark.parametrize(("raw", "field"), [
    ({"from": "a@example.jp"}, "payload"),
    (b"not an e-mail at all", "from"),
    (raw_mail(sender=("Taro", "taro@localhost")), "sender.email"),
])
def test_what_is_not_an_email_is_named(raw: Any, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        receive_email(raw, now=NOW)
    assert error.value.field == field


# -- receive: messages and cases, end to end ----------------------------------------------------


def case_count(shop: ecrm.CRM) -> int:
    return sum(len(shop.cases.for_customer(c.id)) for c in customers(shop))


def message_count(shop: ecrm.CRM) -> int:
    return sum(len(shop.cases.messages(case.id)) for c in customers(shop)
               for case in shop.cases.for_customer(c.id))


def test_a_japanese_inquiry_opens_a_case_for_a_new_customer(crm: ecrm.CRM) -> None:
    raw = raw_mail(body="お世話になっております。\n注文した商品が届きません。",
                   charset="iso-2022-jp", subject="商品が届きません")
    result = crm.inbound.receive("email", raw)
    [case], [message] = result.cases_opened, result.messages
    taro = crm.customers.get(case.customer_id)
    assert (taro.email, taro.name, taro.acquisition_channel) == (
        "taro@example.jp", "山田 太郎", "email")
    assert (case.subject, case.channel, case.status.value, case.opened_at) == (
        "商品が届きません", "email", "new", datetime(2026, 5, 11, 1, 0, tzinfo=timezone.utc))
    assert (message.case_id, message.kind.value, message.channel, message.external_id) == (
        case.id, "inbound", "email", "m1@example.jp")
    assert message.body == "お世話になっております。\n注文した商品が届きません。"
    assert (message.author, message.payload) == ("山田 太郎", {"to": ["support@shop.example.jp"]})
    assert crm.cases.messages(case.id) == [message]


def test_a_reply_threads_into_the_case_by_in_reply_to(crm: ecrm.CRM) -> None:
    case = crm.inbound.receive("email", raw_mail()).cases_opened[0]
    crm.cases.add_message(case.id, kind="reply", body="発送済みです。", author="support",
                          external_id="answer-1@shop.example.jp",
                          occurred_at=NOW - timedelta(minutes=30))
    reply = raw_mail(subject="Re: ご注文の件", message_id="m2@example.jp",
                     body="届きました。\n\n> 発送済みです。",
                     date="Mon, 11 May 2026 11:45:00 +0900",
                     extra={"In-Reply-To": "<answer-1@shop.example.jp>"})
    result = crm.inbound.receive("email", reply)
    assert result.cases_opened == ()
    assert [m.case_id for m in result.messages] == [case.id]
    assert [m.body for m in crm.cases.messages(case.id)] == [
        "注文番号 A-1001 の商品がまだ届きません。", "発送済みです。", "届きました。"]


def test_a_redelivered_email_writes_nothing(crm: ecrm.CRM) -> None:
    first = crm.inbound.receive("email", raw_mail())
    reply = raw_mail(message_id="m2@example.jp", body="追伸です。",
                     extra={"References": "<m1@example.jp>"})
    crm.inbound.receive("email", reply)
    before = (len(customers(crm)), case_count(crm), message_count(crm))
    again = crm.inbound.receive("email", raw_mail())
    assert (again.cases_opened, again.messages) == ((), first.messages)
    assert crm.inbound.receive("email", reply).messages[0].case_id == first.cases_opened[0].id
    assert (len(customers(crm)), case_count(crm), message_count(crm)) == before == (1, 1, 2)


def test_a_stranger_cannot_thread_into_another_customers_case(crm: ecrm.CRM) -> None:
    case = crm.inbound.receive("email", raw_mail()).cases_opened[0]
    stranger = raw_mail(sender=("Mallory", "mallory@example.com"), message_id="x@example.com",
                        extra={"In-Reply-To": "<m1@example.jp>"})
    other = crm.inbound.receive("email", stranger).cases_opened
    assert len(other) == 1 and other[0].id != case.id
    assert other[0].customer_id != case.customer_id


def test_a_message_id_of_another_customers_message_is_a_conflict(crm: ecrm.CRM) -> None:
    crm.inbound.receive("email", raw_mail())
    before = (len(customers(crm)), case_count(crm), message_count(crm))
    forged = raw_mail(sender=("Mallory", "mallory@example.com"), body="別の本文")
    with pytest.raises(ecrm.ConflictError, match="another customer's case"):
        crm.inbound.receive("email", forged)
    assert (case_count(crm), message_count(crm)) == before[1:]


def message(sender: dict[str, Any], external_id: str, body: str = "hello", **fields: Any
            ) -> dict[str, Any]:
    return {"sender": sender, "body": body, "external_id": external_id, **fields}


def test_a_message_goes_to_the_case_it_names_and_links_its_orders(crm: ecrm.CRM) -> None:
    hanako = crm.customers.create(email="hanako@example.jp")
    crm.orders.record(order_id="A-1", customer_id=hanako.id, placed_at=NOW, channel="web",
                      lines=[ecrm.OrderLine("TEA-01", 1, Decimal("1500"))])
    case = crm.cases.open(hanako.id, subject="返品", channel="web")
    result = crm.inbound.receive("kiosk", {"items": [
        message({"customer_id": hanako.id}, "k1", case_id=case.id, order_ids=["A-1"]),
        message({"customer_id": hanako.id}, "k2", body="二件目\n本文", order_ids=["A-1"])]})
    assert [m.case_id for m in result.messages][0] == case.id
    assert crm.cases.get(case.id).order_ids == ("A-1",)
    [opened] = result.cases_opened
    assert (opened.subject, opened.order_ids, opened.channel) == ("二件目", ("A-1",), "kiosk")


@pytest.mark.parametrize(("change", "field"), [
    ({"case_id": "no-such-case"}, "case_id"),
    ({"case_id": "other"}, "case_id"),
    ({"order_ids": ["A-404"]}, "order_ids"),
    ({"order_ids": ["B-1"]}, "order_ids"),
])
def test_a_bad_case_or_order_reference_writes_nothing(crm: ecrm.CRM, change: dict[str, Any],
                                                      field: str) -> None:
    hanako = crm.customers.create(email="hanako@example.jp")
    jiro = crm.customers.create(email="jiro@example.jp")
    crm.orders.record(order_id="B-1", customer_id=jiro.id, placed_at=NOW, channel="web",
                      lines=[ecrm.OrderLine("TEA-01", 1, Decimal("1500"))])
    jiros_case = crm.cases.open(jiro.id, subject="x", channel="web")
    if change.get("case_id") == "other":
        change = {"case_id": jiros_case.id}
    payload = {"items": [message({"email": "new@example.jp"}, "k1"),
                         event({"customer_id": hanako.id}, "e1"),
                         message({"customer_id": hanako.id}, "k2", **change)]}
    with pytest.raises(ValidationError) as error:
        crm.inbound.receive("kiosk", payload)
    assert error.value.field == field
    assert (len(customers(crm)), case_count(crm), interactions(crm)) == (2, 1, [])


def closed_case(crm: ecrm.CRM) -> ecrm.Case:
    case = crm.inbound.receive("email", raw_mail()).cases_opened[0]
    crm.cases.change_status(case.id, "resolved", at=NOW - timedelta(minutes=50))
    return crm.cases.change_status(case.id, "closed", at=NOW - timedelta(minutes=40))


def test_a_reply_to_a_closed_case_opens_a_follow_up(crm: ecrm.CRM) -> None:
    closed = closed_case(crm)
    reply = raw_mail(subject="Re: ご注文の件", message_id="m2@example.jp", body="また壊れました",
                     date=None, extra={"In-Reply-To": "<m1@example.jp>"})
    result = crm.inbound.receive("email", reply)
    [follow_up] = result.cases_opened
    assert follow_up.id != closed.id and follow_up.customer_id == closed.customer_id
    assert crm.cases.get(closed.id).status.value == "closed"
    assert crm.inbound.receive("email", reply).messages == result.messages  # redelivered


def test_a_reply_to_a_closed_case_reopens_it_when_the_policy_says_so() -> None:
    crm = ecrm.CRM.open("memory://", clock=ecrm.ManualClock(NOW),
                         support=ecrm.SupportPolicy(closed_case_messages="reopen"))
    closed = closed_case(crm)
    reply = raw_mail(message_id="m2@example.jp", body="また壊れました", date=None,
                     extra={"In-Reply-To": "<m1@example.jp>"})
    result = crm.inbound.receive("email", reply)
    assert result.cases_opened == () and result.messages[0].case_id == closed.id
    assert crm.cases.get(closed.id).status.value == "open"


def test_a_conflict_half_way_keeps_what_came_before_and_redelivery_is_safe(
        crm: ecrm.CRM) -> None:
    closed = closed_case(crm)
    customer = {"customer_id": closed.customer_id}
    payload = {"items": [event(customer, "e1"),
                         message(customer, "k1", case_id=closed.id),
                         event(customer, "e2")]}
    for _ in range(2):
        with pytest.raises(ecrm.ConflictError, match="closed"):
            crm.inbound.receive("kiosk", payload)
        assert [i.external_id for i in interactions(crm)] == ["e1"]
    assert message_count(crm) == 1


def test_automatic_mail_writes_nothing(crm: ecrm.CRM) -> None:
    result = crm.inbound.receive("email", raw_mail(extra={"Auto-Submitted": "auto-replied"}))
    assert result == ecrm.InboundResult() and customers(crm) == []


mail_like = st.builds(
    lambda sender, head, body: b"From: " + sender + b"\r\n" + head + b"\r\n\r\n" + body,
    st.sampled_from([b"taro@example.jp", b"=?utf-8?b?5aSq6YOO?= <taro@example.jp>", b"x@y",
                     b"<>", b"\x1b$B;3ED\x1b(B <a@example.jp>"]),
    st.binary(max_size=200), st.binary(max_size=400))


@given(data=st.binary(max_size=600) | mail_like)
def test_any_bytes_store_one_message_or_write_nothing(data: bytes) -> None:
    shop = ecrm.CRM.open("memory://", clock=ecrm.ManualClock(NOW))
    try:
        result = shop.inbound.receive("email", data)
    except ValidationError:
        assert customers(shop) == []
        return
    assert len(result.messages) <= 1 and len(result.cases_opened) == len(result.messages)
    assert len(customers(shop)) == len(result.messages)
    assert shop.inbound.receive("email", data).messages == result.messages
