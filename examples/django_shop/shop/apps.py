"""The shop app: ``migrate`` brings ecrm's tables up to date after the shop's own."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ShopConfig(AppConfig):
    """The example shop."""

    name = "shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Upgrade ecrm's schema whenever ``manage.py migrate`` runs."""
        post_migrate.connect(_upgrade_ecrm, sender=self)


def _upgrade_ecrm(sender: AppConfig, using: str, **kwargs: Any) -> None:
    from shop.crm import upgrade_ecrm_schema  # the app registry is ready by now

    upgrade_ecrm_schema(using)
