"""Consent purposes and opt-in levels, signed consent tokens and the suppression list on
every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecrm.backends.base import Backend
from ecrm.crm import CRM
from ecrm.domain.consent import OptInLevel
from ecrm.domain.suppression import SuppressionReason
from ecrm.errors import NotFound, ValidationError
from ecrm.testing.conformance.base import START, ContractBase

SECRET = "a shop secret of more than sixteen bytes"


def signing(crm: CRM, secret: str = SECRET, tenant: str | None = None) -> CRM:
    """The same shop (or ``tenant``) with a secret that signs consent tokens."""
    return CRM(crm.backend, tenant=tenant or crm.tenant, clock=crm.clock, secret=secret)


class ConsentPurposeContract(ContractBase):
    """What purposes, levels, tokens and suppressions do on every backend."""

    def test_each_purpose_has_its_own_state(self, crm: CRM) -> None:
        alice = crm.customers.create(email="alice@example.com")
        assert crm.consent.permits(alice.id, "email", purpose="transactional")
        assert not crm.consent.permits(alice.id, "email")
        crm.consent.grant(alice.id, "email", source="signup form")
        crm.consent.withdraw(alice.id, "email", purpose="transactional")
        assert crm.consent.permits(alice.id, "email")
        assert not crm.consent.permits(alice.id, "email", purpose="transactional")
        assert crm.consent.is_granted(alice.id, "email", purpose="marketing")
        assert [(c.channel, c.purpose, c.granted) for c in
                crm.consent.for_customer(alice.id)] == [
            ("email", "marketing", True), ("email", "transactional", False)]
        assert [c.purpose for c in crm.consent.history(alice.id, purpose="transactional")
                ] == ["transactional"]
        with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
            assert uow.consents.granted_ids("email", None) == {alice.id}
            assert uow.consents.granted_ids("email", None, "transactional") == set()

    def test_a_confirmed_grant_outranks_a_single_one(self, crm: CRM) -> None:
        alice = crm.customers.create(name="alice")
        single = crm.consent.grant(alice.id, "email", at=START)
        assert single.level == OptInLevel.SINGLE
        assert not crm.consent.permits(alice.id, "email", min_level="confirmed")
        confirmed = crm.consent.grant(alice.id, "email", level="confirmed", at=START)
        assert confirmed.level == OptInLevel.CONFIRMED
        assert crm.consent.grant(alice.id, "email", at=START) == confirmed
        assert crm.consent.permits(alice.id, "email", min_level=OptInLevel.CONFIRMED)
        assert [c.level for c in crm.consent.history(alice.id)] == ["single", "confirmed"]
        withdrawn = crm.consent.withdraw(alice.id, "email")
        assert withdrawn.level is None
        assert not crm.consent.permits(alice.id, "email")

    def test_a_merge_keeps_the_winner_per_channel_and_purpose(self, crm: CRM) -> None:
        keep, dup = crm.customers.create(name="keep"), crm.customers.create(name="dup")
        crm.consent.grant(keep.id, "email", at=START - timedelta(days=2))
        crm.consent.withdraw(dup.id, "email", purpose="transactional", at=START)
        crm.consent.grant(dup.id, "email", level="confirmed", at=START - timedelta(days=1))
        crm.customers.merge(keep.id, dup.id)
        assert [(c.purpose, c.granted, c.level) for c in crm.consent.for_customer(keep.id)
                ] == [("marketing", True, "confirmed"), ("transactional", False, None)]

    @pytest.mark.parametrize(("field", "arguments"), [
        ("purpose", {"purpose": "Marketing"}), ("purpose", {"purpose": ""}),
        ("level", {"level": "double"}), ("level", {"level": 2}),
    ])
    def test_bad_purpose_or_level_is_named_and_writes_nothing(
            self, crm: CRM, field: str, arguments: dict[str, object]) -> None:
        alice = crm.customers.create(name="alice")
        with pytest.raises(ValidationError) as error:
            crm.consent.grant(alice.id, "email", **arguments)  # type: ignore[arg-type]
        assert error.value.field == field
        assert crm.consent.history(alice.id) == []

    def test_an_unsubscribe_token_withdraws_only_when_used(self, crm: CRM) -> None:
        shop = signing(crm)
        alice = shop.customers.create(email="alice@example.com")
        shop.consent.grant(alice.id, "email", at=START)
        token = shop.consent.unsubscribe_token(alice.id, "email")
        claims = shop.consent.read_token(token)
        assert (claims.customer_id, claims.channel, claims.purpose, claims.action) == (
            alice.id, "email", "marketing", "unsubscribe")
        assert shop.consent.is_granted(alice.id, "email")  # reading changes nothing
        crm.clock.advance(days=400)  # type: ignore[attr-defined]
        state = shop.consent.unsubscribe(token)
        assert (state.granted, state.source, state.changed_at) == (
            False, "unsubscribe link", crm.clock.now())
        assert shop.consent.unsubscribe(token).granted is False  # safe to repeat

    def test_a_confirmation_token_records_a_confirmed_grant(self, crm: CRM) -> None:
        shop = signing(crm)
        alice = shop.customers.create(email="alice@example.com")
        shop.consent.grant(alice.id, "email", source="signup form")
        token = shop.consent.confirmation_token(alice.id, "email")
        with pytest.raises(ValidationError, match="not a unsubscribe token"):
            shop.consent.unsubscribe(token)
        crm.clock.advance(hours=1)  # type: ignore[attr-defined]
        state = shop.consent.confirm(token)
        assert (state.granted, state.level, state.source) == (
            True, OptInLevel.CONFIRMED, "confirmation link")
        crm.clock.advance(days=8)  # type: ignore[attr-defined]
        with pytest.raises(ValidationError, match="expired"):
            shop.consent.confirm(token)  # issued 8 days ago, valid for 7

    def test_forged_altered_and_foreign_tokens_are_refused(self, crm: CRM) -> None:
        shop = signing(crm)
        alice = shop.customers.create(email="alice@example.com")
        shop.consent.grant(alice.id, "email")
        token = shop.consent.unsubscribe_token(alice.id, "email")
        payload, signature = token.split(".")
        other_shop = signing(crm, tenant=f"{crm.tenant}-other")
        bad = [token + "x", payload + "." + signature[::-1], "not a token", "", "a.b.c",
               signing(crm, secret="another secret, also long enough").consent
               .unsubscribe_token(alice.id, "email")]
        for text in bad:
            with pytest.raises(ValidationError) as error:
                shop.consent.unsubscribe(text)
            assert error.value.field == "token"
        with pytest.raises(ValidationError, match="another shop"):
            other_shop.consent.unsubscribe(token)
        assert shop.consent.is_granted(alice.id, "email")

    def test_tokens_need_a_secret(self, crm: CRM) -> None:
        alice = crm.customers.create(name="alice")
        with pytest.raises(ValidationError) as error:
            crm.consent.unsubscribe_token(alice.id, "email")
        assert error.value.field == "secret"
        with pytest.raises(ValidationError) as error:
            signing(crm, secret="short").consent.unsubscribe_token(alice.id, "email")
        assert error.value.field == "secret"
        with pytest.raises(NotFound):
            signing(crm).consent.unsubscribe_token("nobody", "email")

    def test_a_token_of_a_merged_customer_decides_for_the_survivor(self, crm: CRM) -> None:
        shop = signing(crm)
        keep, dup = shop.customers.create(name="keep"), shop.customers.create(name="dup")
        token = shop.consent.unsubscribe_token(dup.id, "line")
        shop.consent.grant(keep.id, "line", at=START - timedelta(days=1))
        shop.customers.merge(keep.id, dup.id)
        assert shop.consent.unsubscribe(token).customer_id == keep.id
        assert not shop.consent.is_granted(keep.id, "line")

    def test_suppressed_addresses_are_listed_by_channel(self, crm: CRM,
                                                        backend: Backend) -> None:
        first = crm.suppressions.add("email", " Alice@Example.COM ", reason="bounce",
                                     source="smtp 550")
        assert (first.address, first.reason, first.created_at) == (
            "alice@example.com", SuppressionReason.BOUNCE, crm.clock.now())
        assert crm.suppressions.add("email", "alice@example.com", reason="complaint") == first
        crm.suppressions.add("sms", "090-1234-5678")
        assert crm.suppressions.is_suppressed("sms", "09012345678")
        assert crm.suppressions.is_suppressed("email", "ALICE@example.com")
        assert not crm.suppressions.is_suppressed("line", "alice@example.com")
        assert [(s.channel, s.address) for s in crm.suppressions.list()] == [
            ("email", "alice@example.com"), ("sms", "09012345678")]
        with backend.unit_of_work(crm.tenant, read_only=True) as uow:
            assert uow.suppressions.suppressed(
                "email", ["alice@example.com", "bob@example.com"]) == {"alice@example.com"}
        assert crm.suppressions.remove("email", "alice@example.com")
        assert not crm.suppressions.remove("email", "alice@example.com")
        assert crm.suppressions.get("email", "alice@example.com") is None
        assert [s.channel for s in crm.suppressions.list("sms")] == ["sms"]
        neighbour = CRM(backend, tenant=f"{crm.tenant}-n", clock=crm.clock)
        assert neighbour.suppressions.list() == []

    @pytest.mark.parametrize(("field", "channel", "address", "reason"), [
        ("address", "email", "  ", "bounce"), ("address", "sms", "call me", "bounce"),
        ("address", "line", "U 123", "bounce"), ("reason", "email", "a@b.jp", "spam"),
        ("channel", "E-mail", "a@b.jp", "bounce"),
    ])
    def test_a_bad_suppression_is_named_and_writes_nothing(
            self, crm: CRM, field: str, channel: str, address: str, reason: str) -> None:
        with pytest.raises(ValidationError) as error:
            crm.suppressions.add(channel, address, reason=reason)
        assert error.value.field == field
        assert crm.suppressions.list() == []
