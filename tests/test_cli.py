"""The ``ecrm`` command, driven through ``ecrm.cli.main`` on SQLite (and ``db upgrade`` on
PostgreSQL and MariaDB): what each command prints, and that every bad input ends with a
non-zero status and exactly one line on stderr."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

import ecrm
from ecrm.cli import main
from ecrm.cli.progress import Progress
from ecrm.cli.segment import table
from ecrm.report import collect, render_html, render_text
from ecrm.report.columns import width
from tests.test_migrations import KINDS, empty_database, head

NOW = "2026-11-23T12:00:00+09:00"
SVG = re.compile(r"<svg\b.*?</svg>", re.S)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small demo shop in an SQLite file, built once by ``ecrm demo``."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    assert main(["demo", "--db", url, "--customers", "60", "--seed", "3", "--now", NOW]) == 0
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(err: str, *, hidden: str | None = None) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ecrm: error: "), err
    assert "Traceback" not in err
    if hidden is not None:
        assert hidden not in err
    return lines[0]


# -- demo ---------------------------------------------------------------------------------


def test_demo_prints_what_it_built(demo_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    crm = ecrm.CRM.open(demo_url)
    assert sum(1 for _ in crm.customers.iterate()) == 60
    assert crm.recommendations.association_rules()


def test_demo_refuses_an_existing_file_unless_forced(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    argv = ["demo", "--db", url, "--customers", "20", "--now", NOW]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert out.splitlines()[1].split() == ["customers", "20"] and "built in" in out
    status, _, err = run(capsys, *argv)
    assert status == 1
    assert "already exists; pass --force" in assert_one_error_line(err)
    status, again, _ = run(capsys, *argv, "--force", "--seed", "0")
    assert status == 0
    assert _counts(again) == _counts(out)  # the same seed and time: the same shop


def test_demo_needs_an_empty_tenant(demo_url: str, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ecrm.cli.demo._make_room", lambda args: None)
    status, _, err = run(capsys, "demo", "--db", demo_url, "--customers", "20")
    assert status == 1
    assert "already has customers" in assert_one_error_line(err)


def test_demo_without_faker_names_the_extra(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: None if name == "faker" else object())
    status, _, err = run(capsys, "demo", "--db", "memory://")
    assert status == 1
    assert assert_one_error_line(err) == (
        'ecrm: error: ecrm demo needs Faker: pip install "ecrm[demo]"')


def _counts(out: str) -> list[str]:
    return [line for line in out.splitlines() if "built in" not in line]


def test_demo_ends_with_the_dashboard(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    status, out, _ = run(capsys, "demo", "--db", url, "--customers", "40", "--now", NOW)
    assert status == 0
    headings = ["== Shop ==", "== RFM segments ==", "== Monthly cohort retention ==",
                "== Top cross-sell rules ==", "== Support and SLA ==", "== Loyalty points =="]
    where = [out.index(heading) for heading in headings]
    assert where == sorted(where)
    assert "ecrm shop dashboard, as of 2026-11-23 12:00 (Asia/Tokyo)" in out
    assert "liability" in out


# -- report -------------------------------------------------------------------------------


def test_report_writes_what_the_library_renders(demo_url: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "report.html"
    status, out, err = run(capsys, "report", "--db", demo_url, "--out", str(out_file),
                           "--as-of", NOW, "--months", "6", "--point-value", "1")
    assert (status, err) == (0, "")
    assert out.startswith(f"wrote {out_file} (")
    crm = ecrm.CRM.open(demo_url)
    try:
        figures = collect(crm, as_of=datetime.fromisoformat(NOW), months=6, tz="Asia/Tokyo",
                          point_value=1)
    finally:
        crm.close()
    html = out_file.read_text(encoding="utf-8")
    assert html == render_html(figures)
    charts = [ElementTree.fromstring(svg) for svg in SVG.findall(html)]
    assert [chart.get("aria-label") for chart in charts] == [
        "Monthly cohort retention", "RFM grid: customers by recency and frequency score",
        "Revenue by channel and month", "Cases within SLA by month"]
    for chart in charts:
        marks = [node for node in chart.iter() if node.tag.endswith("rect")]
        assert len(marks) > 1, chart.get("aria-label")


def test_report_prints_the_dashboard_as_text(demo_url: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "report", "--db", demo_url, "--text", "--as-of", NOW)
    crm = ecrm.CRM.open(demo_url)
    try:
        expected = render_text(collect(crm, as_of=datetime.fromisoformat(NOW),
                                       tz="Asia/Tokyo"))
    finally:
        crm.close()
    assert (status, out) == (0, expected + "\n")


# -- segment ------------------------------------------------------------------------------


RULE = 'orders.count >= 2 and bought(category="緑茶")'


def test_segment_counts_what_the_api_counts(demo_url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    crm = ecrm.CRM.open(demo_url)
    expected = crm.segments.evaluate(RULE)
    assert 3 < len(expected) < 60
    status, out, err = run(capsys, "segment", RULE, "--db", demo_url, "--limit", "3")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{len(expected)} customers match"
    assert lines[1].split() == ["customer_id", "external_id", "name", "email"]
    assert [line.split()[0] for line in lines[2:5]] == expected[:3]
    assert lines[5] == f"... and {len(expected) - 3} more (--limit N or --all to list them)"
    assert run(capsys, "segment", RULE, "--db", demo_url, "--count")[1] == f"{len(expected)}\n"


def test_segment_writes_csv(demo_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    crm = ecrm.CRM.open(demo_url)
    expected = crm.segments.evaluate(RULE)
    status, out, _ = run(capsys, "segment", RULE, "--db", demo_url, "--format", "csv")
    assert status == 0
    rows = out.splitlines()
    assert rows[0] == "customer_id,external_id,name,email"
    assert [row.split(",")[0] for row in rows[1:]] == expected
    customer = crm.customers.get(expected[0])
    assert rows[1] == f"{customer.id},{customer.external_id},{customer.name},{customer.email}"


def test_segment_reads_ecrm_db_url(demo_url: str, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECRM_DB_URL", demo_url)
    status, out, _ = run(capsys, "segment", "orders.count >= 0", "--count")
    assert (status, out) == (0, "60\n")


def test_table_pads_wide_characters() -> None:
    assert width("山田 花子") == 9
    assert table(["name", "x"], [["山田", "1"], ["ab", "2"]]).splitlines() == [
        "name  x", "山田  1", "ab    2"]


# -- import -------------------------------------------------------------------------------


CUSTOMERS = (
    "external_id,email,name,prefecture,birth_date\n"
    "C-1,ichiro@example.jp,佐藤 一郎,大阪府,1980-02-29\n"
    "C-2,not-an-email,佐藤 二郎,,\n"
    "C-3,saburo@example.jp,佐藤 三郎,大阪,\n"
    "C-4,shiro@example.jp,佐藤 四郎,,1990-13-01\n"
    "C-1,ichiro@example.jp,佐藤 一郎,大阪府,\n"
)
ORDERS = (
    "order_id,customer_external_id,placed_at,channel,sku,category,quantity,unit_price\n"
    "A-1,C-1,2026-04-10 12:00:00,web,TEA-01,緑茶,2,1500\n"
    "A-1,C-1,2026-04-10 12:00:00,web,CUP-07,,1,2800\n"
    "A-2,C-404,2026-04-11T08:15:00+09:00,web,TEA-01,緑茶,1,1500\n"
    "A-3,C-1,2026-04-12T09:00:00+09:00,web,TEA-01,緑茶,1,10.5\n"
)


def test_import_summarises_rejected_rows(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS, encoding="utf-8")
    status, out, err = run(capsys, "import", "customers", str(path), "--db", url)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"{path}: 5 customers read",
        "  imported  1",
        "  skipped   1  (already stored)",
        "  rejected  3",
        "rejected customers:",
        "  row 2 C-2 email: is not a valid e-mail address",
        "  row 3 C-3 address.prefecture: '大阪' is not a Japanese prefecture (e.g. '東京都')",
        "  row 4 C-4 birth_date: is not an ISO 8601 date",
    ]
    status, out, err = run(capsys, "import", "customers", str(path), "--db", url, "--strict",
                           "--show", "1")
    assert status == 1
    assert "  imported  0" in out and "  ... and 2 more (--show N lists more)" in out
    assert assert_one_error_line(err) == "ecrm: error: 3 of 5 customers rejected (--strict)"


def test_import_orders_with_a_default_time_zone(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    crm = ecrm.CRM.open(url)
    crm.customers.create(external_id="C-1")
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, encoding="utf-8")
    status, out, _ = run(capsys, "import", "orders", str(path), "--db", url)
    assert status == 0
    assert "  rejected  3" in out and "order 1 A-1 placed_at:" in out
    status, out, _ = run(capsys, "import", "orders", str(path), "--db", url,
                         "--default-timezone", "Asia/Tokyo")
    assert status == 0
    assert out.splitlines()[1:4] == ["  imported  1", "  skipped   0  (already stored)",
                                    "  rejected  2"]
    assert "order 2 A-2 customer_external_id:" in out
    assert "order 3 A-3 lines[0].unit_price:" in out
    assert str(crm.orders.get("A-1").placed_at) == "2026-04-10 03:00:00+00:00"


def test_import_reads_other_encodings(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    path = tmp_path / "sjis.csv"
    path.write_bytes("external_id,name\nS-1,山田 花子\n".encode("cp932"))
    status, _, err = run(capsys, "import", "customers", str(path), "--db", url)
    assert status == 1
    assert "is not utf-8-sig text (try --encoding cp932" in assert_one_error_line(err)
    status, out, _ = run(capsys, "import", "customers", str(path), "--db", url,
                         "--encoding", "cp932")
    assert status == 0 and "  imported  1" in out
    assert ecrm.CRM.open(url).customers.find(external_id="S-1").name == "山田 花子"


def test_progress_draws_only_on_a_terminal() -> None:
    class Terminal:
        def __init__(self, tty: bool) -> None:
            self.tty, self.text = tty, ""

        def isatty(self) -> bool:
            return self.tty

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    ticks = iter(range(100))
    for tty in (True, False):
        stream = Terminal(tty)
        with Progress("orders.csv", stream=stream, clock=lambda: next(ticks),  # type: ignore[arg-type]
                      fraction=lambda: 0.5) as progress:
            assert list(progress.track("abc")) == ["a", "b", "c"]
        if tty:
            assert "\rorders.csv: 3 rows  50%  1 rows/s" in stream.text
            assert stream.text.endswith("\r")
        else:
            assert stream.text == ""


# -- db -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_db_upgrade_and_current(kind: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    with empty_database(kind, tmp_path) as engine:
        url = engine.url.render_as_string(hide_password=False)
        assert run(capsys, "db", "current", "--db", url)[:2] == (0, "none\n")
        status, out, _ = run(capsys, "db", "upgrade", "--db", url)
        assert (status, out) == (0, f"upgraded empty database -> {head()}\n")
        assert run(capsys, "db", "upgrade", "--db", url)[:2] == (0, f"already at {head()}\n")
        assert run(capsys, "db", "current", "--db", url)[:2] == (0, f"{head()}\n")
        assert run(capsys, "segment", "orders.count > 0", "--db", url, "--count")[1] == "0\n"


def test_db_upgrade_refuses_a_create_schema_database(demo_url: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "db", "upgrade", "--db", demo_url)
    assert status == 1
    assert "no migration record" in assert_one_error_line(err)
    assert run(capsys, "db", "current", "--db", demo_url)[1].startswith("none (ecrm tables")


def test_db_without_alembic_names_the_extra(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "alembic", None)
    status, _, err = run(capsys, "db", "upgrade", "--db", "sqlite:///unused.db")
    assert status == 1
    assert 'pip install "ecrm[migrations]"' in assert_one_error_line(err)


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "status", "says"), [
    ([], 2, "choose a command: db, demo, import, report, segment (see ecrm --help)"),
    (["bogus"], 2, "invalid choice: 'bogus'"),
    (["segment"], 2, "the following arguments are required: RULE"),
    (["segment", "x", "--frobnicate"], 2, "unrecognized arguments: --frobnicate"),
    (["demo", "--customers", "5"], 2, "needs a whole number of at least 10, got '5'"),
    (["segment", "x", "--as-of", "2026-01-01"], 2, "has no UTC offset"),
    (["import", "orders", "x.csv", "--default-timezone", "Mars/Olympus"], 2,
     "unknown time zone 'Mars/Olympus'"),
    (["segment", "orders.count >", "--db", "{demo}"], 1, "rule: "),
    (["segment", "orders.count > 1", "--db", "sqlite:///{tmp}/missing.db"], 1,
     "no database file"),
    (["segment", "x", "--db", "nonsense"], 1, "malformed database URL 'nonsense'"),
    (["segment", "x", "--db", "nosuchdb+driver://u:hunter2@h/db"], 1,
     "unknown kind of database 'nosuchdb+driver' in 'nosuchdb+driver://u:***@h/db'"),
    (["segment", "orders.count > 1", "--db", "postgresql+psycopg://u:hunter2@127.0.0.1:9/x"],
     1, "127.0.0.1"),
    (["segment", "orders.count > 1", "--db", "{demo}", "--tenant", "bad tenant!"], 1,
     "tenant"),
    (["import", "customers", "{tmp}/missing.csv", "--db", "memory://"], 1,
     "cannot read"),
    (["import", "customers", "{tmp}", "--db", "memory://"], 1, "cannot read"),
    (["import", "customers", "x.csv", "--encoding", "klingon"], 1,
     "unknown encoding 'klingon'"),
    (["db", "upgrade", "--db", "memory://"], 1, "memory:// has no schema to migrate"),
    (["report", "--months", "0"], 2, "needs a whole number of at least 1, got '0'"),
    (["report", "--point-value", "lots"], 2, "not an amount: 'lots'"),
    (["report", "--db", "{demo}", "--tz", "Mars/Base"], 1, "tz: 'Mars/Base'"),
    (["report", "--db", "{demo}", "--out", "{tmp}/no/such/dir/r.html"], 1,
     "No such file or directory"),
])
def test_bad_input_is_one_line_on_stderr(argv: list[str], status: int, says: str,
                                         demo_url: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    argv = [arg.format(demo=demo_url, tmp=tmp_path) for arg in argv]
    got, out, err = run(capsys, *argv)
    assert got == status
    assert out == ""
    assert says in assert_one_error_line(err, hidden="hunter2")


def test_unexpected_errors_are_one_line_too(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object) -> int:
        raise PermissionError(13, "Permission denied", "/srv/shop.db")

    monkeypatch.setattr("ecrm.cli.segment.run", broken)
    status, _, err = run(capsys, "segment", "x", "--db", "memory://")
    assert status == 1
    assert assert_one_error_line(err) == "ecrm: error: Permission denied: /srv/shop.db"
    monkeypatch.setattr("ecrm.cli.segment.run", lambda args: {}["boom"])
    status, _, err = run(capsys, "segment", "x")
    assert assert_one_error_line(err) == (
        "ecrm: error: unexpected KeyError; set ECRM_DEBUG=1 to see the traceback")


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "segment" in out and "--db URL" in out
    status, out, _ = run(capsys, "import", "orders", "--help")
    assert status == 0 and "--default-timezone" in out and "--tenant" in out
    assert run(capsys, "--version")[1].startswith("ecrm ")


def test_import_ecrm_does_not_import_the_cli() -> None:
    out = subprocess.run([sys.executable, "-c", "import ecrm, sys; print(sorted(sys.modules))"],
                         check=True, capture_output=True, text=True).stdout
    assert "ecrm.cli" not in out and "ecrm.demo" not in out and "faker" not in out


def test_the_console_script_runs(tmp_path: Path) -> None:
    script = shutil.which("ecrm", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the ecrm console script is not installed (pip install -e .)")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "demo" in done.stdout
    done = subprocess.run([script, "segment", "orders.count >= 1", "--db",
                           f"sqlite:///{tmp_path / 'none.db'}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("ecrm: error: no database file") and \
        done.stderr.count("\n") == 1
    done = subprocess.run([sys.executable, "-m", "ecrm", "bogus"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
