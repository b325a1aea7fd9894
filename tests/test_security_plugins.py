"""Security review: what plugins return is checked before ecrm uses it, and the built-in
channels keep what they send well-formed."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

import ecrm
from ecrm import CRM, ManualClock
from ecrm.domain.segment_fields import SegmentField, ValueType
from ecrm.messages import send_everything

WHEN = datetime(2026, 4, 1, 9, tzinfo=timezone.utc)


class NoSend:
    """A delivery channel plugin whose channel cannot send."""

    name = "email"

    @ecrm.hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[object]:
        return [self]


def test_a_delivery_channel_without_send_is_refused_before_any_claim() -> None:
    crm = CRM.open("memory://", clock=ManualClock(WHEN), plugins=[NoSend()])
    crm.messages.gate = send_everything
    message = crm.messages.send(key="k", channel="email", purpose="transactional",
                                recipient="a@example.com", body="hi")
    with pytest.raises(ecrm.ValidationError) as error:
        crm.messages.dispatch()
    assert error.value.field == "plugins" and "send(message)" in error.value.message
    assert crm.messages.get(message.id) == message  # still pending, not claimed


class Loyal:
    """A plugin segment field whose Python form returns ``value``."""

    def __init__(self, kind: ValueType, value: object, nullable: bool = True) -> None:
        self.field = SegmentField("shop.visits", kind, "visits", nullable=nullable,
                                  sql=lambda context: None, python=lambda context: value)

    @ecrm.hookimpl
    def ecrm_segment_fields(self, crm: CRM) -> list[SegmentField]:
        return [self.field]


@pytest.mark.parametrize(("kind", "value", "nullable"), [
    (ValueType.INTEGER, "3", True), (ValueType.INTEGER, True, True),
    (ValueType.INTEGER, 2.5, True), (ValueType.DECIMAL, 2.5, True),
    (ValueType.TEXT, 3, True), (ValueType.BOOLEAN, 1, True),
    (ValueType.DATE, WHEN, True), (ValueType.DATETIME, WHEN.replace(tzinfo=None), True),
    (ValueType.INTEGER, None, False)])
def test_a_plugin_fields_wrong_value_is_a_validation_error(
        kind: ValueType, value: object, nullable: bool) -> None:
    crm = CRM.open("memory://", plugins=[Loyal(kind, value, nullable)])
    crm.customers.create(email="a@example.com")
    with pytest.raises(ecrm.ValidationError) as error:
        crm.segments.count({"field": "shop.visits", "op": "!=", "value": _other(kind)})
    assert error.value.field == "fields" and "shop.visits" in error.value.message


@pytest.mark.parametrize(("kind", "value"), [
    (ValueType.INTEGER, 3), (ValueType.DECIMAL, Decimal("2.5")), (ValueType.DECIMAL, 2),
    (ValueType.TEXT, "x"), (ValueType.BOOLEAN, False), (ValueType.DATE, WHEN.date()),
    (ValueType.DATETIME, WHEN), (ValueType.INTEGER, None)])
def test_a_plugin_fields_right_value_is_used(kind: ValueType, value: object) -> None:
    crm = CRM.open("memory://", plugins=[Loyal(kind, value)])
    crm.customers.create(email="a@example.com")
    rule = ("shop.visits is null" if value is None else
            {"field": "shop.visits", "op": "!=", "value": _other(kind)})
    assert crm.segments.count(rule) == 1


def _other(kind: ValueType) -> object:
    """A value of ``kind`` no test above returns."""
    return {ValueType.INTEGER: 99, ValueType.DECIMAL: "99", ValueType.TEXT: "zz",
            ValueType.BOOLEAN: True, ValueType.DATE: "2001-01-01",
            ValueType.DATETIME: "2001-01-01T00:00:00+00:00"}[kind]


def test_a_subject_with_line_breaks_cannot_add_headers() -> None:
    """A subject rendered from a template may hold a customer's name with a line break;
    the e-mail keeps it on one line (no header injection, and the message can be sent)."""
    from ecrm.channels.smtp import build_email
    from ecrm.domain.outbox import new_message

    message = new_message(
        message_id="m-1", key="k", channel="email", purpose="transactional", customer_id=None,
        recipient="a@example.com", subject="Hi Taro\r\nBcc: evil@example.com\nX: y",
        body="hi", data={}, priority=5, due_at=WHEN, campaign_id=None, variant=None,
        step=None, now=WHEN)
    mail = build_email(message, "shop@example.com")
    assert mail["Bcc"] is None and mail["X"] is None
    assert mail["Subject"] == "Hi Taro Bcc: evil@example.com X: y"
    assert b"\nBcc:" not in bytes(mail)


class _Refusing:
    """An aiosmtpd handler refusing every recipient, quoting the address as servers do."""

    async def handle_RCPT(self, server: object, session: object, envelope: object,
                          address: str, options: list[str]) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


def test_an_smtp_refusal_keeps_no_address() -> None:
    import socket

    from aiosmtpd.controller import Controller

    from ecrm import SMTPChannel

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        crm = CRM.open("memory://", clock=ManualClock(WHEN),
                       plugins=[SMTPChannel("127.0.0.1", port, sender="shop@example.com")])
        crm.messages.gate = send_everything
        message = crm.messages.send(key="k", channel="email", purpose="transactional",
                                    recipient="qzcanary@example.com", body="hi")
        assert crm.messages.dispatch().dead_ids == (message.id,)
    finally:
        controller.stop()
    error = str(crm.messages.get(message.id).last_error)
    assert "550" in error and "<address>" in error and "qzcanary" not in error, error
