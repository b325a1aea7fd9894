"""Privacy: what ecrm holds about a person, and erasing it (``crm.privacy``).

Shops in Japan answer to the APPI and those selling to Europe to the GDPR: a customer may
ask what the shop holds about them, and ask to be forgotten. This capability answers both
without breaking the books (see ``docs/privacy.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecrm import customer_export

if TYPE_CHECKING:
    from ecrm.crm import CRM


class PrivacyService:
    """The ``crm.privacy`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def export(self, customer_id: str) -> dict[str, Any]:
        """Everything ecrm holds about the customer as one JSON-ready document (plain
        dicts, lists, strings, numbers, booleans and None), read in one consistent unit
        of work; see ``docs/privacy.md`` for its sections. A merged-away id answers for
        the survivor. :raises NotFound: no such customer."""
        return customer_export.export(self._crm, customer_id)
