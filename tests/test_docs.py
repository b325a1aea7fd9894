"""The how-to pages' Python blocks run as written, and print what their comments say.

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

DOCS = Path(__file__).resolve().parent.parent / "docs"
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


def script(page: str) -> str:
    """The page's runnable Python blocks, joined."""
    return "\n".join(BLOCK.findall((DOCS / page).read_text(encoding="utf-8")))


def expected_output(source: str) -> list[str]:
    """What the ``print(...)  # ...`` lines say they print, in order."""
    return [match.group(1) for line in source.splitlines()
            if (match := EXPECTED.match(line))]


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_and_prints_what_it_says(page: str) -> None:
    source = script(page)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, page, "exec"), {"__name__": "docs"})  # noqa: S102
    printed = out.getvalue().splitlines()
    for expected in expected_output(source):
        assert any(line.startswith(expected) for line in printed), (
            f"{page}: expected a line starting {expected!r}, got {printed}")
