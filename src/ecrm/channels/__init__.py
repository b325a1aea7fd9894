"""Channels ecrm ships with: plugins implementing ``ecrm_receive`` that every CRM
registers by itself (see :data:`ecrm.plugins.BUILT_IN_PLUGINS`). Installed channel
plugins (LINE, a chat widget) work the same way; see ``docs/channel-plugins.md``."""
