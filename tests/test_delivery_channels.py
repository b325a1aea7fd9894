"""The built-in delivery channels against real local servers: SMTP (aiosmtpd) and an
HTTP endpoint (http.server)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

import ecrm
from ecrm import CRM, ManualClock, MessageStatus, SMTPChannel, WebhookChannel
from ecrm.channels.webhook import sign, verify_signature
from ecrm.messages import send_everything

WHEN = datetime(2026, 4, 1, 9, tzinfo=timezone.utc)
SECRET = "whsec-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping what it accepts; ``reply`` makes it refuse instead."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.reply: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply is not None:
            return self.reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self) -> email.message.EmailMessage:
        """The last accepted message, parsed."""
        return email.message_from_bytes(self.envelopes[-1].content,
                                        policy=email.policy.default)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def shop(*plugins: object, clock: ManualClock | None = None) -> CRM:
    """A CRM whose gate lets everything go: these tests are about the channels."""
    crm = CRM.open("memory://", clock=clock or ManualClock(WHEN), plugins=plugins)
    crm.messages.gate = send_everything
    return crm


def test_smtp_channel_sends_a_proper_mime_message(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    crm = shop(SMTPChannel("127.0.0.1", port, sender="Shop <shop@example.com>"))
    hanako = crm.customers.create(email="hanako@example.jp", name="花子")
    message = crm.messages.send(
        key="spring", channel="email", purpose="marketing", customer_id=hanako.id,
        subject="春のセール開催中", body="花子様\n\n本日より春のセールです。\n",
        data={"html": "<p>花子様</p><p>本日より春のセールです。</p>",
              "unsubscribe_url": "https://shop.example.jp/unsubscribe?c=1"})
    assert crm.messages.dispatch().sent_ids == (message.id,)
    received = inbox.parsed()
    assert inbox.envelopes[-1].rcpt_tos == ["hanako@example.jp"]
    assert received["Subject"] == "春のセール開催中"
    assert received["Message-ID"] == f"<{message.id}@example.com>"
    assert received["X-Ecrm-Message-Id"] == message.id
    assert received["List-Unsubscribe"] == "<https://shop.example.jp/unsubscribe?c=1>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == "花子様\n\n本日より春のセールです。\n"  # wire CRLF
    assert "本日より春のセールです。" in received.get_body(("html",)).get_content()
    stored = crm.messages.get(message.id)
    assert stored.provider_id == f"<{message.id}@example.com>"


def test_smtp_4xx_retries_and_5xx_goes_dead(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    crm = shop(SMTPChannel("127.0.0.1", port, sender="shop@example.com"))
    inbox.reply = "451 4.3.0 Mailbox busy, try later"
    busy = crm.messages.send(key="a", channel="email", purpose="transactional",
                             recipient="a@example.com", body="plain text")
    assert crm.messages.dispatch().retried_ids == (busy.id,)
    assert "451" in str(crm.messages.get(busy.id).last_error)
    inbox.reply = "550 5.1.1 No such user"
    crm.clock.advance(minutes=1)  # type: ignore[attr-defined]
    assert crm.messages.dispatch().dead_ids == (busy.id,)
    dead = crm.messages.get(busy.id)
    assert (dead.status, dead.attempts) == (MessageStatus.DEAD, 2)
    assert "550" in str(dead.last_error)
    assert inbox.envelopes == []


def test_smtp_connection_failure_is_temporary() -> None:
    crm = shop(SMTPChannel("127.0.0.1", free_port(), sender="shop@example.com", timeout=2))
    message = crm.messages.send(key="a", channel="email", purpose="transactional",
                                recipient="a@example.com", body="hi")
    assert crm.messages.dispatch().retried_ids == (message.id,)


def test_smtp_channel_refuses_bad_settings() -> None:
    with pytest.raises(ecrm.ValidationError) as error:
        SMTPChannel("mail", 465, sender="s@example.com", ssl=True, starttls=True)
    assert error.value.field == "starttls"
    with pytest.raises(ecrm.ValidationError) as error:
        SMTPChannel("mail", sender="s@example.com", name="E-Mail")
    assert error.value.field == "name"


# -- webhook -------------------------------------------------------------------------


class Endpoint:
    """A local HTTP endpoint recording each request and answering ``status``/``answer``."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status, self.answer = 200, b'{"id": "prov-1"}'
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.requests.append((dict(self.headers), body))
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(endpoint.answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ecrm"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_webhook_posts_signed_json(endpoint: Endpoint) -> None:
    clock = ManualClock(WHEN)
    crm = shop(WebhookChannel(endpoint.url, secret=SECRET, clock=clock), clock=clock)
    taro = crm.customers.create(name="太郎")
    message = crm.messages.send(key="line-1", channel="webhook", purpose="transactional",
                                customer_id=taro.id, recipient="line:U1234",
                                body="ご注文ありがとうございます", data={"order": "A-1"},
                                campaign_id="thanks", variant="b", step="day-1")
    assert crm.messages.dispatch().sent_ids == (message.id,)
    assert crm.messages.get(message.id).provider_id == "prov-1"
    headers, body = endpoint.requests[-1]
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == message.id
    signature = headers["X-Ecrm-Signature"]
    assert signature.startswith(f"t={int(WHEN.timestamp())},v1=")
    assert verify_signature(SECRET, signature, body, now=WHEN.timestamp() + 60)
    document = json.loads(body)
    assert {k: document[k] for k in ("id", "key", "channel", "purpose", "customer_id",
                                     "recipient", "subject", "body", "data", "campaign_id",
                                     "variant", "step")} == {
        "id": message.id, "key": "line-1", "channel": "webhook",
        "purpose": "transactional", "customer_id": taro.id, "recipient": "line:U1234",
        "subject": None, "body": "ご注文ありがとうございます", "data": {"order": "A-1"},
        "campaign_id": "thanks", "variant": "b", "step": "day-1"}


@pytest.mark.parametrize(("status", "outcome"), [
    (503, "retried"), (429, "retried"), (500, "retried"), (400, "dead"), (404, "dead")])
def test_webhook_status_decides_retry_or_dead(endpoint: Endpoint, status: int,
                                              outcome: str) -> None:
    crm = shop(WebhookChannel(endpoint.url, secret=SECRET))
    endpoint.status, endpoint.answer = status, b"nope"
    message = crm.messages.send(key="k", channel="webhook", purpose="transactional",
                                recipient="https://example.com", body="hi")
    report = crm.messages.dispatch()
    assert getattr(report, f"{outcome}_ids") == (message.id,)
    assert str(status) in str(crm.messages.get(message.id).last_error)


def test_webhook_without_an_id_in_the_answer_has_no_provider_id(endpoint: Endpoint) -> None:
    crm = shop(WebhookChannel(endpoint.url, secret=SECRET))
    endpoint.status, endpoint.answer = 204, b""
    message = crm.messages.send(key="k", channel="webhook", purpose="transactional",
                                recipient="x", body="hi")
    assert crm.messages.dispatch().sent == 1
    assert crm.messages.get(message.id).provider_id is None


def test_verify_signature_refuses_what_it_should() -> None:
    body, t = b'{"id":"1"}', 1_700_000_000
    header = sign(SECRET, body, t)
    assert verify_signature(SECRET, header, body, now=t)
    assert verify_signature(SECRET.encode(), f"{header},v1=00ff", body, now=t + 300)
    assert not verify_signature(SECRET, header, body + b" ", now=t)
    assert not verify_signature("other", header, body, now=t)
    assert not verify_signature(SECRET, header, body, now=t + 301)
    assert not verify_signature(SECRET, header, body, now=t - 301)
    assert not verify_signature(SECRET, None, body, now=t)
    assert not verify_signature(SECRET, "v1=abc", body, now=t)
    assert not verify_signature(SECRET, f"t=x,{header.split(',')[1]}", body, now=t)


def test_two_delivery_channels_of_one_name_are_refused_before_any_claim() -> None:
    from ecrm.testing.conformance.outbox import RecordingChannel

    crm = shop(RecordingChannel("email"), RecordingChannel("email"))
    message = crm.messages.send(key="k", channel="email", purpose="transactional",
                                recipient="a@example.com", body="hi")
    with pytest.raises(ecrm.ValidationError) as error:
        crm.messages.dispatch()
    assert error.value.field == "plugins"
    assert crm.messages.get(message.id) == message  # still pending, not claimed
