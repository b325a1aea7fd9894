"""Settings of the example shop: one app, ``shop``, and ecrm in the same database.

``SHOP_DATABASE_URL`` picks the database (a SQLAlchemy-style URL, e.g.
``postgresql://shop@localhost/shop``); without it the shop uses ``shop.db`` (SQLite)
next to ``manage.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

BASE_DIR = Path(__file__).resolve().parent.parent


def django_database(url: str) -> dict[str, Any]:
    """A ``DATABASES`` entry for a SQLite or PostgreSQL URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Django's SQLite connection turns DATETIME columns into datetimes itself;
        # SQLAlchemy (so ecrm) expects the text SQLite stores. Django's own fields
        # convert either way, so the shop turns the driver's conversion off.
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parsed.database,
                "OPTIONS": {"detect_types": 0}}
    if parsed.get_backend_name() == "postgresql":
        return {"ENGINE": "django.db.backends.postgresql", "NAME": parsed.database,
                "USER": parsed.username or "", "PASSWORD": parsed.password or "",
                "HOST": parsed.host or "", "PORT": str(parsed.port or "")}
    raise ValueError(f"the example shop runs on SQLite or PostgreSQL, not {url!r}")


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-shop-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
INSTALLED_APPS = ["shop"]
ROOT_URLCONF = "shop_site.urls"
DATABASES = {"default": django_database(
    os.environ.get("SHOP_DATABASE_URL", f"sqlite:///{BASE_DIR / 'shop.db'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "Asia/Tokyo"

#: The shop's tenant in ecrm, and the plugins its CRM loads (objects or entry-point names).
ECRM_TENANT = "django-shop"
ECRM_PLUGINS: list[Any] = []
