"""The injected clock: the core reads time only from here, never from the operating system."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class VirtualClock:
    """A clock that moves only when told to: simulations and tests are deterministic."""

    __slots__ = ("_now_ms",)

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock never goes back")
        self._now_ms += ms

    def set(self, now_ms: int) -> None:
        self.advance(now_ms - self._now_ms)


class SystemClock:
    """Wall-clock milliseconds, for the wire adapter."""

    __slots__ = ()

    def now_ms(self) -> int:
        import time

        return time.monotonic_ns() // 1_000_000
