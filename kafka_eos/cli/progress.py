"""The progress line long commands show on a terminal (``check``, ``simulate``, ``validate``).

One line on stderr, drawn by rich and kept up to date by its own thread, shown only when stderr
is a terminal and only once a run has taken over a second: short runs and pipes stay quiet.
"""

from __future__ import annotations

import time
from typing import Any

#: A progress line appears only for runs longer than this.
PROGRESS_AFTER_SECONDS = 1.0


class StatusLine:
    """A one-line rich status on stderr; ``show(text)`` replaces its text."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.status: Any = None
        self.started = time.perf_counter()

    def __enter__(self) -> StatusLine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def show(self, text: str, *, seconds: float | None = None) -> None:
        """Show ``text`` once the run is past PROGRESS_AFTER_SECONDS (``seconds``: the run's
        own clock, when it keeps one)."""
        elapsed = self.seconds if seconds is None else seconds
        if not self.enabled or elapsed < PROGRESS_AFTER_SECONDS:
            return
        if self.status is None:
            from rich.console import Console

            self.status = Console(stderr=True).status(text)
            self.status.start()
        else:
            self.status.update(text)
