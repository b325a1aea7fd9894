"""The example channel plugin in examples/ecrm-line, installed with pip into a directory
and loaded by its entry point, as a shop would: signed webhooks are stored, tampered
ones are refused and write nothing."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ecrm

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ecrm-line"
SECRET = "0123456789abcdef0123456789abcdef"
USER = "U4af4980629aaaaaaaaaaaaaaaaaaaaaa"
T0 = 1_778_468_400_000  # 2026-05-11 03:00:00 UTC, in milliseconds


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/ecrm-line installed by pip (no network, no build isolation) into a
    directory of its own, which holds its dist-info with the entry point."""
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip("hatchling is not installed (pip install .[test])")
    target = tmp_path_factory.mktemp("line-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--no-build-isolation", "--disable-pip-version-check",
                    "--target", str(target), str(EXAMPLE)], check=True, capture_output=True)
    return target


@pytest.fixture
def ecrm_line(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The installed example on sys.path, its channel secret in the environment."""
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ECRM_LINE_CHANNEL_SECRET", SECRET)
    yield importlib.import_module("ecrm_line")
    sys.modules.pop("ecrm_line", None)


@pytest.fixture
def crm(ecrm_line: ModuleType) -> ecrm.CRM:
    """A CRM that loaded the plugin by its entry-point name, its clock 90 s after T0."""
    clock = ecrm.ManualClock(datetime(2026, 5, 11, 3, 1, 30, tzinfo=timezone.utc))
    return ecrm.CRM.open("memory://", plugins=["line"], clock=clock)


def webhook(*events: dict[str, Any]) -> bytes:
    return json.dumps({"destination": "Uffffffffffffffffffffffffffffffff",
                       "events": list(events)}).encode()


def follow(kind: str = "follow", user: str = USER, at: int = T0, event_id: str = "01F-1"
           ) -> dict[str, Any]:
    return {"type": kind, "timestamp": at, "webhookEventId": event_id, "mode": "active",
            "source": {"type": "user", "userId": user}, "replyToken": "r1",
            "deliveryContext": {"isRedelivery": False}}


def text(message_id: str, body: str, user: str = USER, at: int = T0, **extra: Any
         ) -> dict[str, Any]:
    return {"type": "message", "timestamp": at, "webhookEventId": f"evt-{message_id}",
            "source": {"type": "user", "userId": user}, "replyToken": "r2", "mode": "active",
            "message": {"type": "text", "id": message_id, "text": body, **extra}}


def signed(ecrm_line: ModuleType, body: bytes) -> dict[str, str]:
    return {"X-Line-Signature": ecrm_line.signature(body, SECRET)}


def test_the_entry_point_loads_the_plugin_and_its_channel(crm: ecrm.CRM,
                                                          ecrm_line: ModuleType) -> None:
    assert crm.plugin_manager.get_plugin("line") is ecrm_line.plugin
    assert crm.interactions.channels["line"] == ecrm.Channel("line", "LINE", can_send=True,
                                                             can_receive=True)
    assert "line" not in ecrm.CRM.open("memory://").interactions.channels  # opt-in only


def test_a_signed_webhook_records_follows(crm: ecrm.CRM, ecrm_line: ModuleType) -> None:
    hanako = crm.customers.create(name="花子", external_id=f"line:{USER}")
    body = webhook(follow(), follow("unfollow", at=T0 + 60_000, event_id="01F-2"),
                   {"type": "postback", "timestamp": T0, "source": {"type": "user",
                                                                    "userId": USER}},
                   follow(user="Cgroup", event_id="01F-3") | {"source": {"type": "group",
                                                                          "groupId": "C1"}})
    result = crm.inbound.receive("line", body, headers=signed(ecrm_line, body))
    assert [(i.customer_id, i.channel, i.kind, i.external_id, i.occurred_at)
            for i in result.interactions] == [
        (hanako.id, "line", "line_follow", "01F-1", datetime(2026, 5, 11, 3, tzinfo=timezone.utc)),
        (hanako.id, "line", "line_unfollow", "01F-2",
         datetime(2026, 5, 11, 3, 1, tzinfo=timezone.utc))]
    assert result.interactions[0].payload == {"line_user_id": USER}
    again = crm.inbound.receive("line", body, headers=signed(ecrm_line, body))
    assert again.interactions == result.interactions  # a redelivery writes nothing new
    assert len(crm.interactions.timeline(hanako.id).events) == 2


def test_an_empty_webhook_is_fine(crm: ecrm.CRM, ecrm_line: ModuleType) -> None:
    body = webhook()  # what LINE sends when you press "Verify" in the console
    assert crm.inbound.receive("line", body, headers=signed(ecrm_line, body)) == (
        ecrm.InboundResult())


@pytest.mark.parametrize("tamper", ["body", "signature", "missing", "other secret"])
def test_a_tampered_webhook_writes_nothing(crm: ecrm.CRM, ecrm_line: ModuleType,
                                           tamper: str) -> None:
    hanako = crm.customers.create(name="花子", external_id=f"line:{USER}")
    body = webhook(follow())
    headers = signed(ecrm_line, body)
    if tamper == "body":
        body = body.replace(b"follow", b"unfollow")
    elif tamper == "signature":
        headers = {"X-Line-Signature": headers["X-Line-Signature"][:-4] + "AAA="}
    elif tamper == "missing":
        headers = {}
    else:
        headers = {"X-Line-Signature": ecrm_line.signature(body, "another secret")}
    with pytest.raises(ecrm.ValidationError) as error:
        crm.inbound.receive("line", body, headers=headers)
    assert error.value.field == "headers.x-line-signature"
    assert crm.interactions.timeline(hanako.id).events == []


@pytest.mark.parametrize(("body", "field"), [
    (b"not json", "payload"),
    (b'{"events": {}}', "payload.events"),
    (webhook(follow() | {"timestamp": "yesterday"}), "payload.events[0].timestamp"),
    (webhook(follow(), follow() | {"webhookEventId": None}), "payload.events[1].webhookEventId"),
    (webhook(text("m1", "")), "payload.events[0].message.text"),
])
def test_a_signed_but_malformed_webhook_names_the_field(crm: ecrm.CRM, ecrm_line: ModuleType,
                                                        body: bytes, field: str) -> None:
    crm.customers.create(name="花子", external_id=f"line:{USER}")
    with pytest.raises(ecrm.ValidationError) as error:
        crm.inbound.receive("line", body, headers=signed(ecrm_line, body))
    assert error.value.field == field


def test_a_parsed_body_cannot_be_verified(crm: ecrm.CRM) -> None:
    with pytest.raises(ecrm.ValidationError, match="raw request body") as error:
        crm.inbound.receive("line", {"events": []}, headers={"X-Line-Signature": "x"})
    assert error.value.field == "payload"


def test_a_user_the_default_mapping_does_not_know_is_refused(crm: ecrm.CRM,
                                                             ecrm_line: ModuleType) -> None:
    body = webhook(follow())
    with pytest.raises(ecrm.ValidationError, match=f"line:{USER}") as error:
        crm.inbound.receive("line", body, headers=signed(ecrm_line, body))
    assert error.value.field == "sender"
    assert crm.customers.list().items == []


def test_a_host_mapping_files_users_and_leaves_others_out(ecrm_line: ModuleType) -> None:
    shop = ecrm.CRM.open("memory://")
    taro = shop.customers.create(name="太郎")
    links = {USER: taro.id}
    shop.plugin_manager.register(ecrm_line.LinePlugin(
        channel_secret="own secret",
        customer_for=lambda user: ecrm.Sender(customer_id=links[user]) if user in links
        else None))
    body = webhook(follow(), follow(user="Ustranger", event_id="01F-9"))
    result = shop.inbound.receive("line", body,
                                  headers={"x-line-signature": ecrm_line.signature(
                                      body, "own secret")})
    assert [(i.customer_id, i.external_id) for i in result.interactions] == [(taro.id, "01F-1")]


def test_without_a_secret_the_plugin_says_how_to_configure_it(
        crm: ecrm.CRM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECRM_LINE_CHANNEL_SECRET")
    with pytest.raises(ecrm.ECRMError, match="ECRM_LINE_CHANNEL_SECRET"):
        crm.inbound.receive("line", webhook(), headers={"X-Line-Signature": "x"})


def test_a_chat_is_one_case_until_it_is_resolved(crm: ecrm.CRM, ecrm_line: ModuleType) -> None:
    hanako = crm.customers.create(name="花子", external_id=f"line:{USER}")

    def post(*events: dict[str, Any]) -> ecrm.InboundResult:
        body = webhook(*events)
        return crm.inbound.receive("line", body, headers=signed(ecrm_line, body))

    first = post(text("5001", "茶葉の賞味期限を教えてください"), text("5002", "缶入りのものです",
                                                            at=T0 + 1000))
    [case] = first.cases_opened
    assert case.subject == "茶葉の賞味期限を教えてください" and case.channel == "line"
    assert [m.case_id for m in first.messages] == [case.id, case.id]
    later = post(text("5003", "急ぎではありません", at=T0 + 60_000))
    assert (later.cases_opened, later.messages[0].case_id) == ((), case.id)
    assert post(text("5003", "急ぎではありません", at=T0 + 60_000)).messages == later.messages

    crm.cases.change_status(case.id, "resolved")
    fresh = post(text("5004", "別の質問です", at=T0 + 120_000))
    assert len(fresh.cases_opened) == 1 and fresh.cases_opened[0].id != case.id
    quoting = post(text("5005", "先ほどの件、ありがとうございました", at=T0 + 180_000,
                        quotedMessageId="5001"))
    assert quoting.messages[0].case_id == case.id  # the quoted message's case reopens
    assert crm.cases.get(case.id).status.value == "open"
    assert len(crm.cases.for_customer(hanako.id)) == 2
