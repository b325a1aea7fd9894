"""Plugin loading is opt-in, and every hook is specified and documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import ecrm
from ecrm import hookspecs
from ecrm.plugins import BUILT_IN_PLUGINS, make_plugin_manager

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"

PLUGIN_MODULE = '''
import ecrm

created = []

@ecrm.hookimpl
def ecrm_customer_created(crm, customer):
    created.append(customer.id)
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed distribution exposing module ``fake_ecrm_plugin`` as entry point
    ``fake`` in group ``ecrm``."""
    (tmp_path / "fake_ecrm_plugin.py").write_text(PLUGIN_MODULE)
    info = tmp_path / "fake_ecrm_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-ecrm-plugin\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[ecrm]\nfake = fake_ecrm_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "fake"


def hook_names() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("ecrm_")]


def test_installed_plugins_are_not_loaded_by_default(installed_plugin: str) -> None:
    crm = ecrm.CRM.open("memory://")
    assert crm.plugin_manager.get_plugin(installed_plugin) is None
    # Only ecrm's own built-in plugins are registered: nothing from an entry point.
    assert {name for name, _ in crm.plugin_manager.list_name_plugin()} == set(BUILT_IN_PLUGINS)
    assert crm.plugin_manager.list_plugin_distinfo() == []


def test_built_in_plugins_are_there_with_any_plugin_spec(installed_plugin: str) -> None:
    for spec in ((), [installed_plugin], "entrypoints"):
        manager = make_plugin_manager(spec)
        assert all(manager.has_plugin(name) for name in BUILT_IN_PLUGINS)


def test_entrypoints_loads_every_installed_plugin(installed_plugin: str) -> None:
    crm = ecrm.CRM.open("memory://", plugins="entrypoints")
    module = crm.plugin_manager.get_plugin(installed_plugin)
    customer = crm.customers.create(name="x")
    assert module.created == [customer.id]


def test_allow_list_loads_named_plugins_only(installed_plugin: str) -> None:
    manager = make_plugin_manager([installed_plugin])
    assert manager.get_plugin(installed_plugin) is not None
    with pytest.raises(ecrm.ValidationError, match="no installed plugin named 'other'"):
        make_plugin_manager(["other"])
    with pytest.raises(ecrm.ValidationError, match="plugins"):
        make_plugin_manager("everything")


class Misspelt:
    @ecrm.hookimpl
    def ecrm_order_recordd(self, crm, order):  # a typo must not pass silently
        pass


class WrapsNotification:
    @ecrm.hookimpl(wrapper=True)
    def ecrm_order_recorded(self, crm, order):
        return (yield)


def test_hook_typos_and_notification_wrappers_are_refused() -> None:
    with pytest.raises(ecrm.ValidationError, match="ecrm_order_recordd"):
        make_plugin_manager([Misspelt()])
    with pytest.raises(ecrm.ValidationError, match="takes no wrappers"):
        make_plugin_manager([WrapsNotification()])


def test_one_failing_notification_does_not_stop_the_others() -> None:
    seen = []

    class Good:
        @ecrm.hookimpl
        def ecrm_customer_created(self, crm, customer):
            seen.append(customer.id)

    class Bad:
        @ecrm.hookimpl(tryfirst=True)
        def ecrm_customer_created(self, crm, customer):
            raise RuntimeError("boom")

    crm = ecrm.CRM.open("memory://", plugins=[Good(), Bad()])
    customer = crm.customers.create(name="x")
    assert seen == [customer.id]


def test_every_hook_follows_the_conventions() -> None:
    assert len(hook_names()) >= 8
    for name in hook_names():
        function = getattr(hookspecs, name)
        parameters = list(inspect.signature(function).parameters)
        assert parameters[0] == "crm", name
        doc = inspect.getdoc(function) or ""
        assert doc.startswith("Fires"), f"{name}: say when it fires"
        for parameter in parameters[1:]:
            assert f":param {parameter}:" in doc, f"{name}: document {parameter}"


def test_every_hook_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(ecrm_\w+)`", text, re.M))
    assert set(hook_names()) - documented == set(), "hooks missing from docs/plugins.md"
    assert documented - set(hook_names()) == set(), "docs/plugins.md names unknown hooks"
