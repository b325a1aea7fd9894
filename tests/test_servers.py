"""The server-test guard: skip with a reason locally, fail under ECRM_REQUIRE_SERVICES=1."""

from __future__ import annotations

import pytest

from tests.servers import server_engine

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"


@pytest.mark.parametrize(("url", "reason"), [(None, "is not set"),
                                             (UNREACHABLE, "cannot reach postgres")])
def test_missing_server_skips_with_reason(monkeypatch, url, reason) -> None:
    monkeypatch.delenv("ECRM_REQUIRE_SERVICES", raising=False)
    _set_url(monkeypatch, url)
    with pytest.raises(pytest.skip.Exception, match=reason):
        server_engine("postgres")


@pytest.mark.parametrize("url", [None, UNREACHABLE])
def test_missing_server_fails_when_services_are_required(monkeypatch, url) -> None:
    monkeypatch.setenv("ECRM_REQUIRE_SERVICES", "1")
    _set_url(monkeypatch, url)
    with pytest.raises(pytest.fail.Exception, match="ECRM_REQUIRE_SERVICES=1"):
        server_engine("postgres")


def _set_url(monkeypatch: pytest.MonkeyPatch, url: str | None) -> None:
    if url is None:
        monkeypatch.delenv("ECRM_TEST_POSTGRES_URL", raising=False)
    else:
        monkeypatch.setenv("ECRM_TEST_POSTGRES_URL", url)
