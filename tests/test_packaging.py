"""``import ecrm`` stays light, and the layers keep their import rules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ["ecrm.backends.sql", "sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.mysql",
         "alembic", "hypothesis", "pytest", "numpy", "scipy"]


def imported_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True).stdout
    return set(out.split())


def test_import_ecrm_loads_nothing_heavy() -> None:
    loaded = imported_after("import ecrm")
    assert [m for m in HEAVY if m in loaded] == []


def test_import_ecrm_analytics_loads_no_numpy_or_scipy() -> None:
    """The predictive models (ecrm.analytics.clv) are the only analytics that need them."""
    loaded = imported_after("import ecrm.analytics\nimport ecrm.analytics.lifetime")
    assert [m for m in ("numpy", "scipy", "ecrm.analytics.clv") if m in loaded] == []


def test_the_models_without_numpy_name_the_extra_to_install() -> None:
    """With numpy unimportable, importing the models (or calling predict_clv) says what
    to install."""
    script = """
import sys
sys.modules["numpy"] = None  # as if not installed
import ecrm
from datetime import datetime, timezone
crm = ecrm.CRM.open("memory://")
for attempt in (lambda: __import__("ecrm.analytics.clv"),
                lambda: crm.analytics.predict_clv(
                    calibration_end=datetime(2026, 1, 1, tzinfo=timezone.utc))):
    try:
        attempt()
    except ImportError as error:
        print(error)
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    assert len(out) == 2
    for message in out:
        assert 'pip install "ecrm[predict]"' in message and "numpy" in message


def test_a_memory_crm_never_touches_sql_code() -> None:
    loaded = imported_after("import ecrm\necrm.CRM.open('memory://').customers.create(name='x')")
    assert "ecrm.backends.sql" not in loaded


def test_public_names_are_documented() -> None:
    import ecrm

    for name in ecrm.__all__:
        assert getattr(ecrm, name).__doc__, f"ecrm.{name} has no docstring"


def test_layer_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (pip install .[test])")
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

