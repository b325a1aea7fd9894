"""Static, Japanese-flavoured reference data for the synthetic shop: prefectures weighted
by population, names, e-mail domains, channels, product categories and price points."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

#: The 47 prefectures, each with its capital and its 2020 census population (thousands),
#: used as the weight of where customers live.
PREFECTURES: tuple[tuple[str, str, int], ...] = (
    ("北海道", "札幌市", 5225), ("青森県", "青森市", 1238), ("岩手県", "盛岡市", 1211),
    ("宮城県", "仙台市", 2302), ("秋田県", "秋田市", 960), ("山形県", "山形市", 1068),
    ("福島県", "福島市", 1833), ("茨城県", "水戸市", 2867), ("栃木県", "宇都宮市", 1933),
    ("群馬県", "前橋市", 1939), ("埼玉県", "さいたま市", 7345), ("千葉県", "千葉市", 6284),
    ("東京都", "世田谷区", 14048), ("神奈川県", "横浜市", 9237), ("新潟県", "新潟市", 2201),
    ("富山県", "富山市", 1035), ("石川県", "金沢市", 1133), ("福井県", "福井市", 767),
    ("山梨県", "甲府市", 810), ("長野県", "長野市", 2048), ("岐阜県", "岐阜市", 1979),
    ("静岡県", "静岡市", 3633), ("愛知県", "名古屋市", 7542), ("三重県", "津市", 1770),
    ("滋賀県", "大津市", 1414), ("京都府", "京都市", 2578), ("大阪府", "大阪市", 8838),
    ("兵庫県", "神戸市", 5465), ("奈良県", "奈良市", 1324), ("和歌山県", "和歌山市", 923),
    ("鳥取県", "鳥取市", 553), ("島根県", "松江市", 671), ("岡山県", "岡山市", 1888),
    ("広島県", "広島市", 2800), ("山口県", "山口市", 1342), ("徳島県", "徳島市", 720),
    ("香川県", "高松市", 950), ("愛媛県", "松山市", 1335), ("高知県", "高知市", 692),
    ("福岡県", "福岡市", 5135), ("佐賀県", "佐賀市", 811), ("長崎県", "長崎市", 1312),
    ("熊本県", "熊本市", 1738), ("大分県", "大分市", 1124), ("宮崎県", "宮崎市", 1070),
    ("鹿児島県", "鹿児島市", 1588), ("沖縄県", "那覇市", 1467),
)

#: (kanji, katakana, romaji) family names, the most common in Japan.
FAMILY_NAMES = (
    ("佐藤", "サトウ", "sato"), ("鈴木", "スズキ", "suzuki"), ("高橋", "タカハシ", "takahashi"),
    ("田中", "タナカ", "tanaka"), ("伊藤", "イトウ", "ito"), ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"), ("中村", "ナカムラ", "nakamura"),
    ("小林", "コバヤシ", "kobayashi"), ("加藤", "カトウ", "kato"), ("吉田", "ヨシダ", "yoshida"),
    ("山田", "ヤマダ", "yamada"), ("佐々木", "ササキ", "sasaki"),
    ("山口", "ヤマグチ", "yamaguchi"), ("松本", "マツモト", "matsumoto"),
    ("井上", "イノウエ", "inoue"), ("木村", "キムラ", "kimura"), ("林", "ハヤシ", "hayashi"),
    ("斎藤", "サイトウ", "saito"), ("清水", "シミズ", "shimizu"),
)
GIVEN_NAMES = {
    "female": (("陽菜", "ヒナ", "hina"), ("結衣", "ユイ", "yui"), ("美咲", "ミサキ", "misaki"),
               ("さくら", "サクラ", "sakura"), ("葵", "アオイ", "aoi"), ("愛", "アイ", "ai"),
               ("優子", "ユウコ", "yuko"), ("恵子", "ケイコ", "keiko"), ("由美", "ユミ", "yumi"),
               ("真由美", "マユミ", "mayumi")),
    "male": (("蓮", "レン", "ren"), ("大翔", "ヒロト", "hiroto"), ("翔太", "ショウタ", "shota"),
             ("拓也", "タクヤ", "takuya"), ("健太", "ケンタ", "kenta"),
             ("大輔", "ダイスケ", "daisuke"), ("誠", "マコト", "makoto"),
             ("浩", "ヒロシ", "hiroshi"), ("隆", "タカシ", "takashi"), ("直樹", "ナオキ", "naoki")),
}
GENDERS = (("female", 55), ("male", 40), ("other", 1), ("unspecified", 4))
EMAIL_DOMAINS = (("gmail.com", 35), ("yahoo.co.jp", 25), ("icloud.com", 12),
                 ("docomo.ne.jp", 8), ("outlook.jp", 6), ("ezweb.ne.jp", 5),
                 ("softbank.ne.jp", 4), ("nifty.com", 5))
BUILDINGS = ("メゾン", "コーポ", "ハイツ", "レジデンス", "パークハウス")

#: Sales channels and the share of orders each takes.
CHANNELS = (("web", 42), ("app", 30), ("marketplace", 18), ("store", 7), ("phone", 3))

#: Orders by hour of day (JST): a lunchtime bump and an evening peak.
HOURLY_PROFILE = (2.0, 1.0, 0.6, 0.4, 0.4, 0.6, 1.2, 2.0, 2.8, 3.4, 4.0, 4.4,
                  5.6, 5.0, 4.4, 4.4, 4.6, 5.0, 5.4, 6.0, 7.0, 7.4, 6.4, 4.2)


@dataclass(frozen=True)
class Category:
    """A product category: its share of the catalogue and its log-normal price spread."""

    name: str
    code: str
    share: float
    median_price: int
    sigma: float


CATEGORIES = (
    Category("apparel", "APP", 0.20, 3980, 0.6), Category("shoes", "SHO", 0.06, 7980, 0.5),
    Category("bags", "BAG", 0.05, 8980, 0.7), Category("cosmetics", "COS", 0.10, 2480, 0.5),
    Category("skincare", "SKN", 0.08, 3280, 0.5), Category("food", "FOD", 0.12, 1280, 0.6),
    Category("beverages", "BEV", 0.06, 980, 0.5), Category("kitchen", "KIT", 0.07, 2980, 0.7),
    Category("home", "HOM", 0.08, 4980, 0.8), Category("electronics", "ELE", 0.06, 12800, 0.9),
    Category("books", "BOK", 0.06, 1540, 0.4), Category("toys", "TOY", 0.06, 3480, 0.6),
)


def price_point(raw: float) -> int:
    """Round a raw price to a typical Japanese retail price point (980, 2,480, 12,800)."""
    if raw < 1000:
        return max(100, round(raw / 10) * 10 - 20 if raw >= 300 else round(raw / 10) * 10)
    if raw < 10000:
        return max(980, round(raw / 500) * 500 - 20)
    return round(raw / 1000) * 1000 - 200


def lognormal_price(rng: random.Random, category: Category) -> int:
    """A price for a new product of ``category``."""
    return price_point(rng.lognormvariate(math.log(category.median_price), category.sigma))


def cumulative(weights: list[float] | tuple[float, ...]) -> list[float]:
    """Cumulative weights for ``random.choices(..., cum_weights=...)``."""
    total, result = 0.0, []
    for weight in weights:
        total += weight
        result.append(total)
    return result
