"""A deterministic synthetic shop, streamed to the CSV formats ecrm's readers accept.

Customers sign up uniformly over the window; each buys following the BG/NBD
("buy till you die") model: a first order soon after signing up, then repeat orders as a
Poisson process with rate ``lambda ~ Gamma(r, alpha)`` (per day), and after each repeat
order the customer drops out for good with probability ``p ~ Beta(a, b)``. Parameters are
chosen so that a scale of 1.0 gives about 200,000 customers, 1,000,000 orders and
2,000,000 order lines over three years.

Events are simulated in time order with a heap holding each live customer's next order,
so both files come out sorted by time and memory grows with customers, never with orders.

    python -m benchmarks.generator --scale 0.01 --seed 42
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks import shopdata as data

JST = timezone(timedelta(hours=9))
DAY = 86_400
DATA_DIR = Path(__file__).parent / ".data"
CUSTOMER_COLUMNS = ("external_id", "email", "name", "kana_name", "phone", "gender",
                    "birth_date", "postal_code", "prefecture", "city", "street", "building",
                    "country", "acquisition_channel", "attributes.newsletter", "signed_up_at")
ORDER_COLUMNS = ("order_id", "customer_external_id", "placed_at", "channel", "currency",
                 "sku", "category", "quantity", "unit_price")


@dataclass(frozen=True)
class ShopParams:
    """Everything that shapes the shop; scale 1.0 is the issue's target size."""

    scale: float = 1.0
    seed: int = 42
    customers_at_scale_1: int = 200_000
    skus: int = 2_000
    start: str = "2022-01-01"
    window_days: int = 1096
    buyer_share: float = 0.88  # the rest sign up and never order
    first_order_delay_days: float = 2.0  # mean of an exponential delay
    r: float = 0.9  # lambda ~ Gamma(shape r, rate alpha), orders per day
    alpha: float = 46.0
    a: float = 1.5  # p ~ Beta(a, b), dropout after each repeat order
    b: float = 10.0
    zipf_s: float = 1.1  # SKU popularity ~ 1 / rank ** s
    preferred_channel_share: float = 0.7

    @property
    def customers(self) -> int:
        """How many customers sign up."""
        return max(1, round(self.customers_at_scale_1 * self.scale))


@dataclass(frozen=True)
class Product:
    """One SKU of the catalogue."""

    sku: str
    category: str
    price: int


@dataclass
class Shopper:
    """A live customer's BG/NBD state."""

    external_id: str
    rate: float  # orders per day
    dropout: float
    channel: str
    orders: int = 0


@dataclass
class Totals:
    """What was written."""

    customers: int = 0
    buyers: int = 0
    orders: int = 0
    lines: int = 0


def build_catalogue(rng: random.Random, count: int) -> list[Product]:
    """``count`` SKUs spread over the categories by their share, prices log-normal."""
    weights = data.cumulative([c.share for c in data.CATEGORIES])
    products = []
    for number in range(1, count + 1):
        category = rng.choices(data.CATEGORIES, cum_weights=weights)[0]
        products.append(Product(f"{category.code}-{number:05d}", category.name,
                                data.lognormal_price(rng, category)))
    return products


class Shop:
    """Draws customers, orders and lines; every draw comes from one seeded generator."""

    def __init__(self, params: ShopParams) -> None:
        self.params = params
        self.rng = random.Random(params.seed)
        self.start = datetime.fromisoformat(params.start).replace(tzinfo=JST)
        self.catalogue = build_catalogue(self.rng, params.skus)
        ranks = list(range(params.skus))
        self.rng.shuffle(ranks)  # popularity does not follow SKU numbers
        self.by_popularity = [self.catalogue[i] for i in ranks]
        self.popularity = data.cumulative([1 / k ** params.zipf_s
                                           for k in range(1, params.skus + 1)])
        self.prefecture_weights = data.cumulative([p[2] for p in data.PREFECTURES])
        self.channel_weights = data.cumulative([w for _, w in data.CHANNELS])
        self.hour_weights = data.cumulative(data.HOURLY_PROFILE)

    # -- time --------------------------------------------------------------------------

    def timestamp(self, seconds: int) -> str:
        """ISO 8601 in JST for ``seconds`` after the start of the window."""
        return (self.start + timedelta(seconds=seconds)).isoformat()

    def order_time(self, after: int, wait_days: float) -> int:
        """The second of an order ``wait_days`` after ``after``, at a typical hour."""
        day = int((after / DAY) + wait_days)
        hour = self.rng.choices(range(24), cum_weights=self.hour_weights)[0]
        moment = day * DAY + hour * 3600 + self.rng.randrange(3600)
        return moment if moment > after else after + self.rng.randrange(60, 3600)

    # -- customers ---------------------------------------------------------------------

    def customer_row(self, number: int, signed_up: int) -> list[str]:
        """A customer CSV row in :data:`CUSTOMER_COLUMNS` order."""
        rng = self.rng
        gender = rng.choices([g for g, _ in data.GENDERS], [w for _, w in data.GENDERS])[0]
        given_list = data.GIVEN_NAMES.get(gender) or data.GIVEN_NAMES[rng.choice(("female",
                                                                                 "male"))]
        family, given = rng.choice(data.FAMILY_NAMES), rng.choice(given_list)
        domain = rng.choices([d for d, _ in data.EMAIL_DOMAINS],
                             [w for _, w in data.EMAIL_DOMAINS])[0]
        prefecture, city, _ = rng.choices(data.PREFECTURES,
                                          cum_weights=self.prefecture_weights)[0]
        return [
            f"C{number:07d}", f"{given[2]}.{family[2]}.{number}@{domain}",
            f"{family[0]} {given[0]}", f"{family[1]} {given[1]}", self.phone(),
            gender, self.birth_date(signed_up),
            f"{rng.randrange(1000):03d}-{rng.randrange(10000):04d}", prefecture, city,
            f"{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}",
            self.building(), "JP", self.channel(), rng.choice(("yes", "yes", "no")),
            self.timestamp(signed_up),
        ]

    def phone(self) -> str:
        """A mobile number for 70% of customers, else blank."""
        if self.rng.random() >= 0.7:
            return ""
        prefix = self.rng.choice(("090", "080", "070"))
        return f"{prefix}-{self.rng.randrange(10000):04d}-{self.rng.randrange(10000):04d}"

    def birth_date(self, signed_up: int) -> str:
        """A birth date for 80% of customers (ages 18-80, most 30-50), else blank."""
        if self.rng.random() >= 0.8:
            return ""
        age = min(80.0, max(18.0, self.rng.gauss(41, 12)))
        born = self.start + timedelta(seconds=signed_up) - timedelta(days=age * 365.25)
        return born.date().isoformat()

    def building(self) -> str:
        """A flat in 40% of addresses, else blank (a house)."""
        if self.rng.random() >= 0.4:
            return ""
        name, floor = self.rng.choice(data.BUILDINGS), self.rng.randint(1, 12)
        return f"{name}{floor}0{self.rng.randint(1, 9)}"

    def channel(self) -> str:
        """A channel drawn by the shop-wide channel mix."""
        return self.rng.choices(data.CHANNELS, cum_weights=self.channel_weights)[0][0]

    def shopper(self, external_id: str) -> Shopper:
        """The BG/NBD draws of a customer who buys."""
        p = self.params
        return Shopper(external_id, self.rng.gammavariate(p.r, 1 / p.alpha),
                       self.rng.betavariate(p.a, p.b), self.channel())

    # -- orders ------------------------------------------------------------------------

    def order_rows(self, order_id: str, shopper: Shopper, placed: int) -> list[list[Any]]:
        """The CSV rows (one per line) of one order."""
        rng = self.rng
        channel = (shopper.channel if rng.random() < self.params.preferred_channel_share
                   else self.channel())
        placed_at = self.timestamp(placed)
        return [
            [order_id, shopper.external_id, placed_at, channel, "JPY", product.sku,
             product.category, self.quantity(), product.price]
            for product in self.basket()
        ]

    def basket(self) -> list[Product]:
        """Distinct products of one order, 2 on average, popular ones far more often."""
        size = self.rng.choices((1, 2, 3, 4, 5, 6, 7, 8),
                                (45, 30, 13, 7, 3, 1, 0.6, 0.4))[0]
        chosen: dict[str, Product] = {}
        while len(chosen) < size:
            product = self.rng.choices(self.by_popularity, cum_weights=self.popularity)[0]
            chosen.setdefault(product.sku, product)
        return list(chosen.values())

    def quantity(self) -> int:
        """Units of a line: mostly one."""
        return self.rng.choices((1, 2, 3, 4, 5), (80, 14, 4, 1.5, 0.5))[0]


def events(shop: Shop) -> Iterator[tuple[str, int, Any]]:
    """``("customer", second, number)`` and ``("order", second, Shopper)`` in time order."""
    params, rng = shop.params, shop.rng
    end = params.window_days * DAY
    signups = sorted(rng.randrange(end) for _ in range(params.customers))
    pending: list[tuple[int, int, Shopper]] = []
    for number, signed_up in enumerate(signups, start=1):
        while pending and pending[0][0] < signed_up:
            yield from _next_order(shop, pending, end)
        yield "customer", signed_up, number
        if rng.random() < params.buyer_share:
            wait = rng.expovariate(1 / params.first_order_delay_days)
            first = shop.order_time(signed_up, wait)
            if first < end:
                heapq.heappush(pending, (first, number, shop.shopper(f"C{number:07d}")))
    while pending:
        yield from _next_order(shop, pending, end)


def _next_order(shop: Shop, pending: list[tuple[int, int, Shopper]], end: int
                ) -> Iterator[tuple[str, int, Shopper]]:
    """Pop the earliest order, then schedule that customer's next one unless they drop out."""
    placed, number, shopper = heapq.heappop(pending)
    shopper.orders += 1
    yield "order", placed, shopper
    if shopper.orders > 1 and shop.rng.random() < shopper.dropout:
        return
    following = shop.order_time(placed, shop.rng.expovariate(shopper.rate))
    if following < end:
        heapq.heappush(pending, (following, number, shopper))


def generate(params: ShopParams, out_dir: Path) -> dict[str, Any]:
    """Write ``customers.csv``, ``orders.csv`` and ``manifest.json`` to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shop, totals = Shop(params), Totals()
    with open(out_dir / "customers.csv", "w", newline="", encoding="utf-8") as cf, \
            open(out_dir / "orders.csv", "w", newline="", encoding="utf-8") as of:
        customers, orders = csv.writer(cf), csv.writer(of)
        customers.writerow(CUSTOMER_COLUMNS)
        orders.writerow(ORDER_COLUMNS)
        for kind, second, subject in events(shop):
            if kind == "customer":
                customers.writerow(shop.customer_row(subject, second))
                totals.customers += 1
                continue
            totals.orders += 1
            totals.buyers += subject.orders == 1
            rows = shop.order_rows(f"O{totals.orders:09d}", subject, second)
            orders.writerows(rows)
            totals.lines += len(rows)
    manifest = {"params": asdict(params), "totals": asdict(totals)}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def dataset_dir(params: ShopParams) -> Path:
    """Where the data set for ``params`` lives under ``benchmarks/.data``."""
    return DATA_DIR / f"shop-scale{params.scale:g}-seed{params.seed}"


def ensure_dataset(params: ShopParams) -> Path:
    """Generate the data set unless a complete one with the same parameters exists."""
    out_dir = dataset_dir(params)
    manifest = out_dir / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text())["params"] == asdict(params):
        return out_dir
    generate(params, out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    """Command line: generate a data set and print its totals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    params = ShopParams(scale=args.scale, seed=args.seed)
    out_dir = args.out or dataset_dir(params)
    manifest = generate(params, out_dir)
    print(json.dumps({"dir": str(out_dir), **manifest["totals"]}))


if __name__ == "__main__":
    main()
