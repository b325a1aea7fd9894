"""Customers, B2B accounts and merges: value classes and the rules that build them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs

from ecrm.domain import validation as check
from ecrm.domain.personal import personal
from ecrm.errors import ValidationError

#: The 47 prefectures in JIS X 0401 order.
JAPANESE_PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県",
    "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県",
    "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県",
    "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)

GENDERS = ("female", "male", "other", "unspecified")


@attrs.frozen
class Address:
    """A postal address. For ``country="JP"`` the prefecture must be one of the 47
    (written as on the post, e.g. ``"東京都"``)."""

    postal_code: str | None = personal(default=None)
    prefecture: str | None = None
    city: str | None = personal(default=None)
    street: str | None = personal(default=None)
    building: str | None = personal(default=None)
    country: str = "JP"


@attrs.frozen
class Customer:
    """A person who buys from the shop. ``id`` is ecrm's; ``external_id`` is the host's.
    The repr masks the personal fields (:mod:`ecrm.domain.personal`)."""

    id: str
    created_at: datetime
    updated_at: datetime
    signed_up_at: datetime
    email: str | None = personal(default=None)
    name: str | None = personal(default=None)
    kana_name: str | None = personal(default=None)
    phone: str | None = personal(default=None)
    external_id: str | None = None
    birth_date: date | None = personal(default=None)
    gender: str | None = personal(default=None)
    address: Address | None = personal(default=None)
    acquisition_channel: str | None = None
    account_id: str | None = None
    attributes: dict[str, Any] = personal(factory=dict)


@attrs.frozen
class Account:
    """A company (B2B) that customers can belong to."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None
    attributes: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class CustomerMerge:
    """The record of folding ``duplicate`` into ``survivor_id``; ``duplicate`` is the
    duplicate customer as it was just before the merge."""

    survivor_id: str
    duplicate_id: str
    merged_at: datetime
    duplicate: Customer


#: Fields a caller may set on create and change on update.
EDITABLE_FIELDS = (
    "email", "name", "kana_name", "phone", "external_id", "birth_date", "gender", "address",
    "acquisition_channel", "account_id", "attributes", "signed_up_at",
)


def new_customer(customer_id: str, now: datetime, fields: Mapping[str, Any]) -> Customer:
    """Validate ``fields`` (a subset of :data:`EDITABLE_FIELDS`) and build a Customer."""
    _reject_unknown(fields)
    clean = _clean_fields(fields)
    clean.setdefault("signed_up_at", now)
    if clean["signed_up_at"] is None:
        clean["signed_up_at"] = now
    return Customer(id=customer_id, created_at=now, updated_at=now, **clean)


def change_customer(customer: Customer, changes: Mapping[str, Any], now: datetime) -> Customer:
    """The customer with ``changes`` applied; validated like :func:`new_customer`."""
    _reject_unknown(changes)
    if "signed_up_at" in changes and changes["signed_up_at"] is None:
        raise ValidationError("signed_up_at", "cannot be cleared")
    return attrs.evolve(customer, updated_at=now, **_clean_fields(changes))


def merge_into(survivor: Customer, duplicate: Customer, now: datetime) -> Customer:
    """The survivor after absorbing ``duplicate``: the survivor's values win, its blanks are
    filled from the duplicate, attribute keys are united (survivor first), and the earlier
    sign-up date is kept."""
    filled = {
        name: getattr(duplicate, name)
        for name in EDITABLE_FIELDS
        if name not in ("attributes", "signed_up_at") and getattr(survivor, name) is None
    }
    return attrs.evolve(
        survivor,
        updated_at=now,
        signed_up_at=min(survivor.signed_up_at, duplicate.signed_up_at),
        attributes={**duplicate.attributes, **survivor.attributes},
        **filled,
    )


def new_account(account_id: str, now: datetime, name: object, external_id: object,
                attributes: object) -> Account:
    """Validate and build an Account."""
    return Account(
        id=account_id,
        name=check.required_text("name", name, 200),
        created_at=now,
        updated_at=now,
        external_id=check.text("external_id", external_id, 128),
        attributes=check.json_mapping("attributes", attributes),
    )


def change_account(account: Account, changes: Mapping[str, Any], now: datetime) -> Account:
    """The account with ``changes`` (``name``, ``external_id``, ``attributes``) applied."""
    unknown = set(changes) - {"name", "external_id", "attributes"}
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not a field of an account")
    fresh = new_account(
        account.id, now,
        changes.get("name", account.name),
        changes.get("external_id", account.external_id),
        changes.get("attributes", account.attributes),
    )
    return attrs.evolve(fresh, created_at=account.created_at)


def _reject_unknown(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not a field of a customer")


def _clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaners = {
        "email": lambda v: check.email("email", v),
        "name": lambda v: check.text("name", v, 200),
        "kana_name": lambda v: check.text("kana_name", v, 200),
        "phone": lambda v: check.phone("phone", v),
        "external_id": lambda v: check.text("external_id", v, 128),
        "birth_date": lambda v: check.a_date("birth_date", v),
        "gender": _gender,
        "address": _address,
        "acquisition_channel": lambda v: None if v is None else check.identifier(
            "acquisition_channel", v),
        "account_id": lambda v: check.text("account_id", v, 36),
        "attributes": lambda v: check.json_mapping("attributes", v),
        "signed_up_at": lambda v: check.aware("signed_up_at", v, required=False),
    }
    return {name: cleaners[name](value) for name, value in fields.items()}


def _gender(value: object) -> str | None:
    if value is None:
        return None
    if value not in GENDERS:
        raise ValidationError("gender", f"is not one of {', '.join(GENDERS)}")
    return str(value)


def _address(value: object) -> Address | None:
    if value is None:
        return None
    if isinstance(value, Address):
        value = attrs.asdict(value)
    if not isinstance(value, Mapping):
        raise ValidationError("address", f"expected an Address or mapping, got "
                                         f"{type(value).__name__}")
    unknown = set(value) - {f.name for f in attrs.fields(Address)}
    if unknown:
        raise ValidationError(f"address.{sorted(unknown)[0]}", "is not a field of an address")
    country = check.required_text("address.country", value.get("country", "JP"), 2).upper()
    if len(country) != 2 or not country.isalpha():
        raise ValidationError("address.country", "is not an ISO 3166 alpha-2 code")
    prefecture = check.text("address.prefecture", value.get("prefecture"), 32)
    if country == "JP" and prefecture is not None and prefecture not in JAPANESE_PREFECTURES:
        raise ValidationError("address.prefecture",
                              f"{prefecture!r} is not a Japanese prefecture (e.g. '東京都')")
    return Address(
        postal_code=check.text("address.postal_code", value.get("postal_code"), 16),
        prefecture=prefecture,
        city=check.text("address.city", value.get("city"), 100),
        street=check.text("address.street", value.get("street"), 200),
        building=check.text("address.building", value.get("building"), 200),
        country=country,
    )
