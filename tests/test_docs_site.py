"""The documentation site builds with Sphinx, warnings as errors, and holds what matters.

The build runs here so that CI, which runs the test suite, fails on any warning: a broken
link between pages, a page missing from the table of contents, a docstring that is not
valid reStructuredText.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import ecrm
from ecrm import hookspecs
from ecrm.testing import BackendConformanceSuite

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(page for page in (path.relative_to(DOCS) for path in DOCS.rglob("*.md"))
               if page.parts[0] != "_build")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from a clean output directory."""
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(out)],
        capture_output=True, text=True)
    assert build.returncode == 0, f"sphinx-build failed:\n{build.stderr}{build.stdout}"
    return out


def documented(site: Path) -> set[str]:
    """The Python objects the site documents, read from its inventory (objects.inv)."""
    # Four header lines, then zlib-compressed lines "name domain:role priority uri text".
    body = zlib.decompress((site / "objects.inv").read_bytes().split(b"\n", 4)[4])
    rows = (line.split(" ", 2) for line in body.decode().splitlines())
    return {name for name, role, _ in rows if role.startswith("py:")}


def test_every_page_is_built(site: Path) -> None:
    assert len(PAGES) > 40
    missing = [str(page) for page in PAGES if not (site / page.with_suffix(".html")).is_file()]
    assert missing == []


def test_no_link_is_left_pointing_at_markdown(site: Path) -> None:
    """MyST turns links between pages into links to their HTML; one it left as ``x.md``
    would be dead on the site."""
    for page in PAGES:
        html = (site / page.with_suffix(".html")).read_text(encoding="utf-8")
        assert re.findall(r'href="[^"#:]+\.md[#"]', html) == [], page


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    names = documented(site)
    assert sorted(f"ecrm.{name}" for name in ecrm.__all__ if f"ecrm.{name}" not in names) == []
    assert {"ecrm.CRM.open", "ecrm.CRM.transact", "ecrm.ValidationError",
            "ecrm.domain.inbound_email.parse_email", "ecrm.channels.email.EmailChannel"} <= names


def test_every_service_and_its_methods_are_in_the_api_reference(site: Path) -> None:
    names = documented(site)
    with ecrm.CRM.open("memory://") as crm:
        services = {type(service) for service in vars(crm).values()
                    if type(service).__name__.endswith(("Service", "Analytics"))}
    assert len(services) >= 20
    for service in services:
        path = f"{service.__module__}.{service.__qualname__}"
        methods = [name for name, _ in inspect.getmembers(service, inspect.isfunction)
                   if not name.startswith("_")]
        assert [m for m in methods if f"{path}.{m}" not in names] == [], path
    assert "ecrm.customers.CustomerService.merge" in names


def test_every_hook_and_the_backend_contracts_are_in_the_api_reference(site: Path) -> None:
    names = documented(site)
    hooks = {f"ecrm.hookspecs.{name}" for name in vars(hookspecs) if name.startswith("ecrm_")}
    assert "ecrm.hookspecs.ecrm_customer_erased" in hooks
    assert hooks - names == set()
    contracts = {f"{contract.__module__}.{contract.__qualname__}"
                 for contract in BackendConformanceSuite.__bases__}
    assert contracts - names == set(), "contracts missing from docs/api/testing.md"
    assert {"ecrm.backends.base.Backend", "ecrm.backends.base.UnitOfWork",
            "ecrm.backends.MemoryBackend", "ecrm.backends.sql.SQLBackend",
            "ecrm.backends.sql.make_engine", "ecrm.backends.sql.migrations.upgrade",
            "ecrm.testing.BackendConformanceSuite",
            "ecrm.testing.make_state_machine_test"} <= names
