"""Building the plugin manager. Nothing is loaded unless the caller asks for it."""

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


def make_plugin_manager(plugins: PluginSpec = ()) -> pluggy.PluginManager:
    """A plugin manager with ecrm's hook specifications and the requested plugins."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    if isinstance(plugins, str):
        if plugins != "entrypoints":
            raise ValidationError("plugins", f"{plugins!r}: pass 'entrypoints' or an iterable")
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        return manager
    for plugin in plugins:
        if isinstance(plugin, str):
            manager.register(_load_entry_point(plugin), name=plugin)
        else:
            manager.register(plugin)
    return manager


def _load_entry_point(name: str) -> Any:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise ValidationError("plugins", f"no installed plugin named {name!r} in entry-point "
                                         f"group {ENTRY_POINT_GROUP!r}")
    return found[0].load()


def notify(manager: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> None:
    """Call a notification hook; an implementation's error is logged, not raised, because
    the write it reports on is already committed."""
    caller = getattr(manager.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):
        try:
            impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except Exception:
            log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)


def has_listeners(manager: pluggy.PluginManager, hook_name: str) -> bool:
    """True when some plugin implements ``hook_name`` (lets bulk paths skip the work)."""
    return bool(getattr(manager.hook, hook_name).get_hookimpls())
