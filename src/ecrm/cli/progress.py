"""A progress line on stderr for long commands, without dependencies.

On a terminal the line is redrawn in place (at most ten times a second) and erased when
the work is done. When stderr is not a terminal (a pipe, a log file, CI) nothing is
written, so the only stderr output of a failed command stays its one error line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


class Progress:
    """Counts items done and shows ``label: 1,234 rows  45%  2,100 rows/s``.

    :param label: what is being done, e.g. the file name.
    :param unit: what is counted, plural (``"rows"``); None shows the label and the time
        taken instead of counts.
    :param fraction: called on each redraw for the share done (0..1), or None when the
        total is unknown.
    :param stream: where to draw (default: stderr); nothing is drawn unless it is a TTY.
    """

    def __init__(self, label: str, *, unit: str | None = "rows",
                 fraction: Callable[[], float | None] | None = None,
                 stream: TextIO | None = None, interval: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.unit, self.fraction = label, unit, fraction
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_tty(self.stream)
        self.done = 0
        self._interval, self._clock = interval, clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._width = 0

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items done, redrawing when it is time."""
        self.done += count
        if self.enabled:
            now = self._clock()
            if self._drawn_at is None or now - self._drawn_at >= self._interval:
                self._draw(now)

    def note(self, label: str) -> None:
        """Show a new label (a new stage of the work) at once."""
        self.label = label
        if self.enabled:
            self._draw(self._clock())

    def track(self, items: Iterable[T]) -> Iterator[T]:
        """Yield ``items``, counting each as it is consumed."""
        for item in items:
            self.advance()
            yield item

    def close(self) -> None:
        """Erase the line (on a terminal)."""
        if self.enabled and self._drawn_at is not None:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def rate(self, now: float | None = None) -> float:
        """Items per second so far."""
        elapsed = (self._clock() if now is None else now) - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, now: float | None = None) -> str:
        """The text of the progress line (without a unit: the label and the time)."""
        if self.unit is None:
            elapsed = (self._clock() if now is None else now) - self._started
            return f"{self.label}  {elapsed:.0f} s"
        parts = [f"{self.label}: {self.done:,} {self.unit}"]
        share = self.fraction() if self.fraction is not None else None
        if share is not None:
            parts.append(f"{min(max(share, 0.0), 1.0):.0%}")
        parts.append(f"{self.rate(now):,.0f} {self.unit}/s")
        return "  ".join(parts)

    def _draw(self, now: float) -> None:
        text = self.line(now)
        padding = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * padding)
        self.stream.flush()
        self._width, self._drawn_at = len(text), now

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
