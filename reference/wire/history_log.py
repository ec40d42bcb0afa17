"""The wire broker's history: what happened, as :mod:`kafka_eos.protocol.history` JSON lines.

Where each event comes from:

- ``Append``, ``Marker``, ``OffsetCommit``: the core records them as it appends and makes
  offsets visible (``node.drain_events()``); a duplicate answered from the producer-state
  cache appends nothing and so records nothing;
- ``ProduceAck``, ``TxnEnd``: the adapter, as it sends those responses to clients;
- ``Read``: only a consumer knows which records its poll returned (it filters aborted data
  itself), so tests add Read events from what the client observed.

Each event is flushed as it is written, so a kill -9 keeps everything the broker had sent.
A restarted broker appends to the same file (the core does not re-record what it reloads).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from kafka_eos.protocol.history import Event, event_to_json


class HistoryLog:
    """Appends events to a JSON-lines file, or discards them when ``path`` is None."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._out: IO[str] | None = None
        if self.path is not None:
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (append-only)

    @property
    def enabled(self) -> bool:
        return self._out is not None

    def write(self, events: Iterable[Event]) -> None:
        if self._out is None:
            return
        for event in events:
            self._out.write(event_to_json(event) + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


class RequestLog:
    """Every request and response on the wire, in the order the broker handled them, as JSON
    lines (``--request-log``): for debugging a client, next to the history the checker reads.
    Byte fields (record batches, group metadata) are written as base64."""

    def __init__(self, path: Path | str | None) -> None:
        self._out: IO[str] | None = None
        if path is not None:
            self._out = open(path, "a", encoding="utf-8")  # noqa: SIM115 (append-only)

    @property
    def enabled(self) -> bool:
        return self._out is not None

    def write(self, **entry: Any) -> None:
        if self._out is None:
            return
        self._out.write(json.dumps(entry, default=_jsonable, separators=(",", ":")) + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    return str(value)
