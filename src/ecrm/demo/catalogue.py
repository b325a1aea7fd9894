"""What the demo tea shop sells, and which products go together.

A Japanese tea shop (お茶の専門店): green tea, sweets, teaware and gifts. The pairs in
:data:`AFFINITIES` are bought together on purpose, so that mining association rules on
the demo's orders finds them (matcha with a whisk, a gift set with gift wrapping, ...).
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Product(NamedTuple):
    sku: str
    name: str
    category: str
    price: Decimal
    weight: float  # how often it is the main item of an order, within its category


TEA, SWEETS, TEAWARE, GIFT = "緑茶", "和菓子", "茶器", "ギフト"

PRODUCTS: tuple[Product, ...] = (
    Product("TEA-SENCHA-100", "煎茶「八十八夜」100g", TEA, Decimal(1296), 5.0),
    Product("TEA-FUKAMUSHI-100", "深蒸し煎茶 100g", TEA, Decimal(1080), 3.0),
    Product("TEA-GYOKURO-50", "玉露 50g", TEA, Decimal(2160), 1.5),
    Product("TEA-MATCHA-30", "抹茶「初昔」30g", TEA, Decimal(1944), 2.5),
    Product("TEA-HOJICHA-200", "ほうじ茶 200g", TEA, Decimal(864), 3.0),
    Product("TEA-GENMAI-200", "玄米茶 200g", TEA, Decimal(756), 2.0),
    Product("TEA-MIZUDASHI-50P", "水出し煎茶ティーバッグ 50包", TEA, Decimal(1080), 2.0),
    Product("WAG-YOKAN", "本練り羊羹", SWEETS, Decimal(1620), 2.0),
    Product("WAG-MONAKA-6", "最中 6個入", SWEETS, Decimal(1296), 1.5),
    Product("WAG-DORAYAKI-5", "どら焼き 5個入", SWEETS, Decimal(1188), 2.0),
    Product("WAG-SENBEI", "手焼き煎餅 詰め合わせ", SWEETS, Decimal(1080), 1.5),
    Product("WAG-WARABI", "わらび餅", SWEETS, Decimal(972), 1.0),
    Product("WARE-KYUSU", "常滑焼 急須", TEAWARE, Decimal(5500), 2.0),
    Product("WARE-YUNOMI-2", "有田焼 湯呑み ペア", TEAWARE, Decimal(3300), 2.0),
    Product("WARE-CHAWAN", "抹茶碗", TEAWARE, Decimal(4400), 1.0),
    Product("WARE-CHASEN", "茶筅 百本立", TEAWARE, Decimal(2750), 1.0),
    Product("WARE-CHATAKU-5", "木製茶托 5枚組", TEAWARE, Decimal(2200), 0.7),
    Product("GIFT-TEA-YOKAN", "煎茶と羊羹の詰め合わせ", GIFT, Decimal(3240), 2.0),
    Product("GIFT-PREMIUM", "玉露・煎茶 プレミアムギフト", GIFT, Decimal(5400), 1.5),
    Product("GIFT-WRAP", "ギフト包装・のし", GIFT, Decimal(330), 0.0),
)
BY_SKU = {product.sku: product for product in PRODUCTS}
CATEGORIES = (TEA, SWEETS, TEAWARE, GIFT)
#: How often each category is the main item of an order, before a customer's own taste.
CATEGORY_WEIGHTS = {TEA: 0.58, SWEETS: 0.16, TEAWARE: 0.12, GIFT: 0.14}
#: Main-item SKUs of each category with their weights.
MAIN_ITEMS = {category: ([p.sku for p in PRODUCTS if p.category == category and p.weight],
                         [p.weight for p in PRODUCTS if p.category == category and p.weight])
              for category in CATEGORIES}

#: (main item, also bought, probability): the cross-selling the demo builds in.
AFFINITIES: tuple[tuple[str, str, float], ...] = (
    ("TEA-MATCHA-30", "WARE-CHASEN", 0.45),
    ("TEA-MATCHA-30", "WARE-CHAWAN", 0.25),
    ("WARE-CHAWAN", "TEA-MATCHA-30", 0.6),
    ("WARE-CHASEN", "TEA-MATCHA-30", 0.55),
    ("WARE-KYUSU", "TEA-SENCHA-100", 0.55),
    ("WARE-KYUSU", "WARE-YUNOMI-2", 0.35),
    ("WARE-YUNOMI-2", "WARE-CHATAKU-5", 0.3),
    ("TEA-SENCHA-100", "WAG-YOKAN", 0.25),
    ("TEA-GYOKURO-50", "WAG-MONAKA-6", 0.3),
    ("TEA-HOJICHA-200", "WAG-DORAYAKI-5", 0.3),
    ("TEA-GENMAI-200", "WAG-SENBEI", 0.3),
    ("TEA-MIZUDASHI-50P", "WAG-WARABI", 0.2),
    ("GIFT-TEA-YOKAN", "GIFT-WRAP", 0.7),
    ("GIFT-PREMIUM", "GIFT-WRAP", 0.75),
    ("WAG-YOKAN", "TEA-SENCHA-100", 0.35),
)
PARTNERS: dict[str, list[tuple[str, float]]] = {}
for _main, _partner, _chance in AFFINITIES:
    PARTNERS.setdefault(_main, []).append((_partner, _chance))

#: Order channels: (channel, share of customers who mostly buy there, order-id prefix).
ORDER_CHANNELS: tuple[tuple[str, float, str], ...] = (
    ("web", 0.38, "EC"),
    ("app", 0.16, "EC"),
    ("line", 0.10, "EC"),
    ("rakuten", 0.20, "RK"),
    ("amazon", 0.09, "AZ"),
    ("store", 0.07, "ST"),
)
#: The acquisition channels (``Customer.acquisition_channel``) behind each order channel.
ACQUISITION = {
    "web": (("search", 0.5), ("instagram", 0.3), ("referral", 0.2)),
    "app": (("app_store", 0.6), ("instagram", 0.4)),
    "line": (("line", 1.0),),
    "rakuten": (("rakuten", 1.0),),
    "amazon": (("amazon", 1.0),),
    "store": (("store", 1.0),),
}

#: Seasonal demand by month (1-12): 新茶 in May, お中元 in July, お歳暮 in December.
SEASON = {1: 0.85, 2: 0.8, 3: 0.9, 4: 1.0, 5: 1.3, 6: 1.1, 7: 1.35, 8: 0.9, 9: 0.9,
          10: 1.0, 11: 1.1, 12: 1.5}
#: Months in which gifts sell: お中元 (summer) and お歳暮 (year end).
GIFT_MONTHS = {6: 1.5, 7: 2.5, 11: 1.5, 12: 3.0}
