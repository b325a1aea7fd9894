"""The demo's customers and B2B accounts: Japanese names with their kana, e-mail
addresses on reserved example domains, phone numbers, addresses whose prefecture, city
and postal code agree, birthdays, tastes and favourite channels."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ecrm.demo import catalogue, places

#: Reserved for examples (RFC 2606, JPRS): nobody receives mail there.
DOMAINS = (("example.jp", 4), ("example.ne.jp", 3), ("example.com", 2), ("example.or.jp", 1))
#: Town names found in many Japanese cities, and the parts of apartment names.
TOWNS = ("本町", "栄町", "中央", "緑町", "旭町", "若葉", "桜台", "東町", "西町", "南町", "大手町",
         "幸町", "錦町", "松が丘", "青葉台", "富士見", "緑が丘", "日の出町", "末広町", "元町")
BUILDINGS = (("メゾン", "ハイツ", "コーポ", "パーク", "グラン", "レジデンス"),
             ("桜", "青葉", "ひかり", "サンライズ", "エスポワール", "フォレスト", "リバーサイド"))


@dataclass
class Person:
    """One demo customer as planned: the row for ``crm.customers.import_many`` and what
    drives their behaviour."""

    external_id: str
    row: dict[str, Any]
    signed_up_at: datetime
    channel: str  # where they mostly buy
    taste: dict[str, float]  # category -> weight
    favourite: str  # the tea they come back for
    consents: tuple[str, ...] = ()  # marketing consent channels, granted at sign-up
    account: str | None = None  # external id of their B2B account
    orders: list[Any] = field(default_factory=list)


@dataclass
class Company:
    external_id: str
    name: str
    attributes: dict[str, Any]


def pick(rng: random.Random, weighted: Any) -> Any:
    """One value of ``(value, weight)`` pairs."""
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def people(fake: Any, rng: random.Random, count: int, *, start: datetime, now: datetime
           ) -> tuple[list[Person], list[Company]]:
    """``count`` customers who signed up between ``start`` and ``now`` (more of them
    lately: the shop grows), some of them buyers for a few B2B accounts."""
    companies = [_company(fake, rng, n) for n in range(max(1, round(count / 250)))]
    buyers = min(count, 2 * len(companies))
    emails: set[str] = set()
    result = []
    for n in range(count):
        company = companies[n % len(companies)] if n < buyers else None
        result.append(_person(fake, rng, n, start, now, emails, company))
    result.sort(key=lambda person: person.signed_up_at)
    return result, companies


def _company(fake: Any, rng: random.Random, n: int) -> Company:
    return Company(f"B2B-{n + 1:03d}", fake.company(),
                   {"payment_terms": rng.choice(["net30", "net60"]),
                    "industry": rng.choice(["製造業", "不動産", "医療", "士業", "小売"])})


def _person(fake: Any, rng: random.Random, n: int, start: datetime, now: datetime,
            emails: set[str], company: Company | None) -> Person:
    gender = pick(rng, (("female", 0.6), ("male", 0.36), ("unspecified", 0.04)))
    last, last_kana, last_roman = fake.last_name_pair()
    first, first_kana, first_roman = (fake.first_name_male_pair() if gender == "male"
                                      else fake.first_name_female_pair())
    signed_up = _signup(rng, start, now)
    channel = pick(rng, [(name, share) for name, share, _ in catalogue.ORDER_CHANNELS])
    if company is not None:
        channel = "web"
    row: dict[str, Any] = {
        "external_id": f"U{n + 10001:06d}",
        "name": f"{last} {first}",
        "kana_name": f"{last_kana} {first_kana}",
        "email": _email(rng, first_roman, last_roman, emails, company),
        "gender": gender,
        "signed_up_at": signed_up,
        "acquisition_channel": pick(rng, catalogue.ACQUISITION[channel]),
        "address": _address(rng),
    }
    if rng.random() < 0.8:
        row["phone"] = _phone(rng)
    if rng.random() < 0.85:
        row["birth_date"] = _birthday(rng, now.date())
    if rng.random() < 0.3:
        row["attributes"] = {"newsletter_topics": rng.sample(["新茶", "和菓子", "茶器", "セール"],
                                                             rng.randint(1, 3))}
    taste = {category: weight * rng.uniform(0.3, 1.7)
             for category, weight in catalogue.CATEGORY_WEIGHTS.items()}
    skus, weights = catalogue.MAIN_ITEMS[catalogue.TEA]
    consents = tuple(name for name, chance in (("email", 0.62), ("line", 0.32), ("ads", 0.2))
                     if rng.random() < chance and (name != "line" or channel == "line"
                                                   or rng.random() < 0.5))
    person = Person(row["external_id"], row, signed_up, channel, taste,
                    rng.choices(skus, weights)[0], consents)
    if company is not None:
        person.account = company.external_id
        row["attributes"] = {"role": rng.choice(["総務部", "秘書室", "購買部"])}
    return person


def _signup(rng: random.Random, start: datetime, now: datetime) -> datetime:
    """A sign-up time, denser towards ``now`` (density rising 1:3 over the window)."""
    share = (-1 + (1 + 8 * rng.random()) ** 0.5) / 2  # inverse of the CDF of 1 + 2x
    moment = start + (now - start) * share
    return moment.replace(second=rng.randrange(60), microsecond=0)


def _email(rng: random.Random, first: str, last: str, taken: set[str],
           company: Company | None) -> str:
    first, last = first.lower(), last.lower()
    if company is not None:
        local, domain = f"{last}.{first}", f"b2b{company.external_id[-3:]}.example.co.jp"
    else:
        local = rng.choice([f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}",
                            f"{last}_{first}"])
        if rng.random() < 0.4:
            local += str(rng.randint(1, 99))
        domain = pick(rng, DOMAINS)
    address, n = f"{local}@{domain}", 1
    while address in taken:
        n += 1
        address = f"{local}{n}@{domain}"
    taken.add(address)
    return address


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.85:
        return f"0{rng.choice('789')}0-{rng.randint(1000, 9999)}-{rng.randint(0, 9999):04d}"
    return f"0{rng.randint(3, 99)}-{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}"


def _address(rng: random.Random) -> dict[str, str]:
    prefecture = rng.choices(places.NAMES, places.WEIGHTS)[0]
    city, postal = rng.choice(places.CITIES[prefecture])
    address = {
        "postal_code": f"{postal}-{rng.randint(0, 9999):04d}",
        "prefecture": prefecture,
        "city": city,
        "street": f"{rng.choice(TOWNS)}{rng.randint(1, 5)}-{rng.randint(1, 30)}-"
                  f"{rng.randint(1, 20)}",
    }
    if rng.random() < 0.45:
        address["building"] = (f"{rng.choice(BUILDINGS[0])}{rng.choice(BUILDINGS[1])} "
                               f"{rng.randint(1, 12)}0{rng.randint(1, 9)}")
    return address


def _birthday(rng: random.Random, today: date) -> date:
    age = min(max(rng.gauss(47, 13), 19), 88)
    return today - timedelta(days=int(age * 365.25) + rng.randrange(365))
