"""`python -m benchmarks.run` is the one command that reruns every benchmark."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import benchmarks
import pytest
from benchmarks import run

# Modules with a command line that measure nothing themselves.
NOT_BENCHMARKS = {"generator": "writes the shop's data set", "run": "this runner"}


def benchmark_modules() -> set[str]:
    """Every benchmarks/ module with a command line of its own."""
    found = set()
    for module in pkgutil.iter_modules(benchmarks.__path__):
        source = Path(benchmarks.__path__[0], f"{module.name}.py")
        if "\ndef main(" in source.read_text(encoding="utf-8"):
            found.add(module.name)
    return found - NOT_BENCHMARKS.keys()


def test_run_covers_every_benchmark() -> None:
    args = run.command_line().parse_args([])
    assert benchmark_modules() - run.steps(args).keys() == set()


def test_unknown_benchmark_names_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--only", "outbox,nosuch"])
    assert exit_info.value.code == 2
    assert "unknown benchmark(s) nosuch" in capsys.readouterr().err


def test_a_tiny_run_of_the_own_store_benchmarks(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("ECRM_BENCH_POSTGRES_URL", "ECRM_BENCH_MYSQL_URL"):
        monkeypatch.delenv(name, raising=False)
    run.main(["--scale", "0.0005", "--only", "outbox,carts,segment_members,campaigns",
              "--postgres", "", "--mysql", ""])
    out = capsys.readouterr().out
    for name in ("outbox", "carts", "segment_members", "campaigns"):
        assert f"== {name}\n" in out
    assert "enqueue 100 messages" in out and "launch to 100 customers" in out

