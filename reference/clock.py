"""The injected clock: the core reads time only from here, never from the operating system."""

from __future__ import annotations

import time
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
    """Wall-clock milliseconds since the epoch, for the wire adapter.

    The core saves these times in a data directory (transaction start and update times, batch
    append times), so they must mean the same after a restart or a reboot, as Kafka's
    txnStartTimestamp and txnLastUpdateTimestamp do (Time.SYSTEM.milliseconds(), the wall
    clock): a boot-relative clock would leave a transaction abandoned before a reboot open for
    ever. Unlike the raw wall clock, it never goes back: when the system clock is stepped back
    it holds still until the system clock catches up, so a deadline is never moved away."""

    __slots__ = ("_last_ms",)

    def __init__(self) -> None:
        self._last_ms = 0

    def now_ms(self) -> int:
        self._last_ms = max(self._last_ms, time.time_ns() // 1_000_000)
        return self._last_ms
