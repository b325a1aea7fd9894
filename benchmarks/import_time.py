"""Import-time benchmark: ``import ecrm`` against importing its three dependencies.

Each statement runs in many fresh interpreters; the median wall time of each is printed,
with the median of a bare ``python -c pass`` for reference, and the ratio. ``import ecrm``
loads SQLAlchemy lazily, so the SQL backend's import is shown too, for information.

    python -m benchmarks.import_time --runs 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any

STATEMENTS = {
    "python -c pass": "pass",
    "import sqlalchemy, attrs, pluggy": "import sqlalchemy, attrs, pluggy",
    "import ecrm": "import ecrm",
    "import ecrm.backends.sql (info)": "import ecrm.backends.sql",
}


def wall_time(statement: str) -> float:
    """Seconds for a fresh interpreter to run ``statement`` and exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return time.perf_counter() - started


def measure(runs: int) -> dict[str, float]:
    """Median seconds of each statement, runs interleaved so drift hits all alike."""
    samples: dict[str, list[float]] = {label: [] for label in STATEMENTS}
    for _ in range(runs):
        for label, statement in STATEMENTS.items():
            samples[label].append(wall_time(statement))
    return {label: statistics.median(times) for label, times in samples.items()}


def compare(runs: int = 15) -> dict[str, Any]:
    """Measure, print the table and return the medians and the ratio."""
    medians = measure(runs)
    deps, ours = medians["import sqlalchemy, attrs, pluggy"], medians["import ecrm"]
    print(f"import time: median of {runs} fresh interpreters")
    for label, seconds in medians.items():
        print(f"  {label:<36} {seconds * 1000:8.1f} ms")
    print(f"  ratio ecrm / dependencies            {ours / deps:8.2f}x  (goal <= 1.2x)")
    return {"medians_s": medians, "ratio": ours / deps}


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    compare(parser.parse_args(argv).runs)


if __name__ == "__main__":
    main()
