"""Privacy: what ecrm holds about a person, and erasing it (``crm.privacy``).

Shops in Japan answer to the APPI and those selling to Europe to the GDPR: a customer may
ask what the shop holds about them, and ask to be forgotten. This capability answers both
without breaking the books (see ``docs/privacy.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecrm.crm import CRM


class PrivacyService:
    """The ``crm.privacy`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm
