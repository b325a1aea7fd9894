"""Channels ecrm ships with: plugins implementing ``ecrm_receive`` that every CRM
registers by itself (see :data:`ecrm.plugins.BUILT_IN_PLUGINS`). Installed channel
plugins (LINE, a chat widget) work the same way; see ``docs/channel-plugins.md``.

Delivery channels for the outbox (``crm.messages``) are plugins you register yourself:
:class:`SMTPChannel` and :class:`WebhookChannel` (see ``docs/delivery-channels.md``)."""

from ecrm.channels.smtp import SMTPChannel
from ecrm.channels.webhook import WebhookChannel

__all__ = ["SMTPChannel", "WebhookChannel"]
