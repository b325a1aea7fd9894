"""The how-to pages' and the README's Python blocks run as written, and print what their
comments say.

Each page's blocks form one script. A line ``print(...)  # expected`` must print a line
that starts with ``expected`` (the comment may show only the start of a long output).
Blocks fenced as ``python no-run`` are left out.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ["loyalty.md", "loyalty-program.md", "coupons.md", "interactions.md", "business-hours.md",
         "email-parsing.md", "cases.md", "inbound.md", "channel-plugins.md", "consent.md",
         "segments.md", "analytics.md", "analytics-journeys.md", "analytics-cohorts.md",
         "analytics-channels.md", "analytics-rfm.md",
         "analytics-clv.md", "recommendations.md",
         "recommendations-mining.md", "templates.md", "messages.md",
         "delivery-channels.md", "campaigns.md", "journeys.md", "privacy.md", "audit.md",
         "reports.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
EXPECTED = re.compile(r"^\s*print\(.*\)\s+# (.*)$")


def script(page: Path) -> str:
    """The page's runnable Python blocks, joined."""
    return "\n".join(BLOCK.findall(page.read_text(encoding="utf-8")))


def expected_output(source: str) -> list[str]:
    """What the ``print(...)  # ...`` lines say they print, in order."""
    return [match.group(1) for line in source.splitlines()
            if (match := EXPECTED.match(line))]


def assert_runs_and_prints_what_it_says(page: Path) -> None:
    """Run the page's script; every ``print(...)  # expected`` line must have printed."""
    source = script(page)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, page.name, "exec"), {"__name__": "docs"})  # noqa: S102
    printed = out.getvalue().splitlines()
    for expected in expected_output(source):
        assert any(line.startswith(expected) for line in printed), (
            f"{page.name}: expected a line starting {expected!r}, got {printed}")


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_and_prints_what_it_says(page: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # pages write files (app.db, report.html) where they run
    assert_runs_and_prints_what_it_says(DOCS / page)


def test_readme_example_runs_and_prints_what_it_says(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the example opens sqlite:///shop.db
    readme = ROOT / "README.md"
    assert expected_output(script(readme)), "the README's example shows what it prints"
    assert_runs_and_prints_what_it_says(readme)
    assert (tmp_path / "shop.db").is_file()
