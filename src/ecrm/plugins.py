"""Building the plugin manager. Installed plugins are loaded only when the caller asks
for them; ecrm's own built-in plugins (:data:`BUILT_IN_PLUGINS`) are always there."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

import pluggy

from ecrm import hookspecs
from ecrm.errors import ValidationError

ENTRY_POINT_GROUP = "ecrm"
log = logging.getLogger("ecrm.plugins")

#: What ``plugins=`` accepts: ``"entrypoints"`` to load every installed plugin, or an
#: iterable of plugin objects/modules and entry-point names (an allow-list).
PluginSpec = str | Iterable[Any]

#: The plugins every plugin manager holds, by the name they are registered under: parts
#: of ecrm written as plugins (the e-mail channel), not installed plugins.
BUILT_IN_PLUGINS = ("ecrm.channels.email",)


def make_plugin_manager(plugins: PluginSpec = ()) -> pluggy.PluginManager:
    """A plugin manager with ecrm's hook specifications, its built-in plugins and the
    requested plugins (registered after the built-ins, so they are called first)."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    _register_built_ins(manager)
    try:
        _register(manager, plugins)
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise ValidationError("plugins", str(error)) from None
    _refuse_wrapped_notifications(manager)
    return manager


def _register_built_ins(manager: pluggy.PluginManager) -> None:
    from ecrm.channels.email import EmailChannel

    manager.register(EmailChannel(), name="ecrm.channels.email")


def _register(manager: pluggy.PluginManager, plugins: PluginSpec) -> None:
    if isinstance(plugins, str):
        if plugins != "entrypoints":
            raise ValidationError("plugins", f"{plugins!r}: pass 'entrypoints' or an iterable")
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        return
    for plugin in plugins:
        if isinstance(plugin, str):
            manager.register(_load_entry_point(plugin), name=plugin)
        else:
            manager.register(plugin)


def _refuse_wrapped_notifications(manager: pluggy.PluginManager) -> None:
    """Notification hooks call each implementation on its own (see :func:`notify`), so a
    wrapper would silently never run: say so at registration instead."""
    for name in NOTIFICATIONS:
        for impl in getattr(manager.hook, name).get_hookimpls():
            if impl.wrapper or impl.hookwrapper:
                raise ValidationError("plugins", f"{impl.plugin_name}: {name} is a "
                                                 "notification hook and takes no wrappers")


def _load_entry_point(name: str) -> Any:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise ValidationError("plugins", f"no installed plugin named {name!r} in entry-point "
                                         f"group {ENTRY_POINT_GROUP!r}")
    return found[0].load()


#: The notification hooks, fired after commit through :func:`notify`.
NOTIFICATIONS = (
    "ecrm_customer_created", "ecrm_customer_updated", "ecrm_customers_merged",
    "ecrm_order_recorded", "ecrm_order_refunded", "ecrm_order_cancelled",
    "ecrm_points_changed", "ecrm_tier_changed", "ecrm_coupon_redeemed",
    "ecrm_coupon_use_restored", "ecrm_referral_rewarded", "ecrm_interaction_recorded",
    "ecrm_case_opened", "ecrm_case_message_added", "ecrm_case_status_changed",
    "ecrm_sla_breached", "ecrm_survey_requested", "ecrm_survey_answered",
    "ecrm_consent_changed", "ecrm_segment_membership_changed",
    "ecrm_message_sent", "ecrm_message_dead",
)


def notify(manager: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> None:
    """Call every implementation of a notification hook, each on its own, in pluggy's
    order. An implementation's error is logged, not raised, because the write it reports
    on is already committed, and it does not stop the other implementations."""
    caller = getattr(manager.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):
        try:
            impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except Exception:
            log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)


def has_listeners(manager: pluggy.PluginManager, hook_name: str) -> bool:
    """True when some plugin implements ``hook_name`` (lets bulk paths skip the work)."""
    return bool(getattr(manager.hook, hook_name).get_hookimpls())
