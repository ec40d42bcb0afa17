"""A minimal, single-threaded future: what a sans-I/O client returns from an operation that
needs round trips (``send``, ``commit_transaction``, ...). The driver runs the network until
``done``; ``error`` is None on success, else the Kafka error code that failed it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafka_eos.protocol.errors import ErrorCode


class KafkaError(Exception):
    """An operation failed with a Kafka error code (or a client-side state error)."""

    def __init__(self, error: ErrorCode | None, message: str = "") -> None:
        self.error = error
        name = error.name if error is not None else "ILLEGAL_STATE"
        super().__init__(f"{name}: {message}" if message else name)


class IllegalStateError(KafkaError):
    """The call is not allowed in the client's current state (Kafka's IllegalStateException)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class Future:
    __slots__ = ("_callbacks", "done", "error", "value")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.error: ErrorCode | None = None
        self._callbacks: list[Callable[[Future], None]] = []

    @property
    def succeeded(self) -> bool:
        return self.done and self.error is None

    def succeed(self, value: Any = None) -> None:
        if not self.done:
            self.done, self.value = True, value
            self._fire()

    def fail(self, error: ErrorCode) -> None:
        if not self.done:
            self.done, self.error = True, error
            self._fire()

    def add_callback(self, callback: Callable[[Future], None]) -> None:
        if self.done:
            callback(self)
        else:
            self._callbacks.append(callback)

    def result(self) -> Any:
        """The value; raises KafkaError when it failed, IllegalStateError when not done yet."""
        if not self.done:
            raise IllegalStateError("the operation has not completed")
        if self.error is not None:
            raise KafkaError(self.error)
        return self.value

    def _fire(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def __repr__(self) -> str:
        if not self.done:
            return "Future(pending)"
        return f"Future(error={self.error.name})" if self.error else f"Future({self.value!r})"


def completed(value: Any = None) -> Future:
    future = Future()
    future.succeed(value)
    return future
