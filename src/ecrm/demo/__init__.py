"""A demo shop for ``ecrm demo``: a Japanese tea shop with two years of history.

``build_demo_shop(crm, customers=1000, seed=0)`` fills an empty shop with customers
(names, kana and addresses from Faker's ``ja_JP`` locale), B2B accounts, orders on six
channels with seasonal peaks and cross-selling, refunds and cancellations, interactions
(browsing, carts, newsletters, LINE, reviews), support cases with SLA breaches and CSAT
answers, a points programme with tiers, coupons, consent and e-mail campaigns, all
through ecrm's public API. Faker is the ``demo`` extra: ``pip install "ecrm[demo]"``.

``LOYALTY_PROGRAM`` and ``SUPPORT_POLICY`` are the programme and the support targets the
demo ran under, for a CRM opened on the demo's database later.
"""

from ecrm.demo.shop import LOYALTY_PROGRAM, SUPPORT_POLICY, build_demo_shop
from ecrm.demo.summary import DemoSummary

__all__ = ["LOYALTY_PROGRAM", "SUPPORT_POLICY", "DemoSummary", "build_demo_shop"]
