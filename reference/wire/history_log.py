"""The wire broker's history: what happened, as :mod:`kafka_eos.protocol.history` JSON lines.

Where each event comes from:

- ``Append`` / ``Marker``: the partition logs of the core, read after every step (the log is
  the truth of what was appended: a duplicate answered from the producer-state cache appends
  nothing and so logs nothing, while a retry appended twice after producer-state expiry shows
  up twice, as it should);
- ``ProduceAck`` / ``TxnEnd`` / ``OffsetCommit``: the responses the broker sends to clients;
- ``Read``: only a consumer knows which records its poll returned (it filters aborted data
  itself), so tests add Read events from what the client observed.

The writer resumes after a restart: the events already in the file tell it which log offsets
were written, so a restarted broker does not log the same append twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from kafka_eos.protocol.history import Append as AppendEvent
from kafka_eos.protocol.history import Event, event_to_json, read_history
from kafka_eos.protocol.history import Marker as MarkerEvent


class HistoryLog:
    """Appends events to a JSON-lines file (flushed per event: a kill -9 keeps what was sent)."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._out: IO[str] | None = None
        #: partition name -> next log offset not yet written as an Append/Marker event
        self.logged_end: dict[str, int] = {}
        if self.path is None:
            return
        if self.path.exists():
            for event in read_history(self.path):
                if isinstance(event, AppendEvent):
                    self._advance(event.partition, event.last_offset + 1)
                elif isinstance(event, MarkerEvent):
                    self._advance(event.partition, event.offset + 1)
        self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (append-only log)

    def _advance(self, partition: str, end: int) -> None:
        self.logged_end[partition] = max(self.logged_end.get(partition, 0), end)

    @property
    def enabled(self) -> bool:
        return self._out is not None

    def write(self, events: Iterable[Event]) -> None:
        if self._out is None:
            return
        for event in events:
            if isinstance(event, AppendEvent):
                self._advance(event.partition, event.last_offset + 1)
            elif isinstance(event, MarkerEvent):
                self._advance(event.partition, event.offset + 1)
            self._out.write(event_to_json(event) + "\n")
        self._out.flush()

    def sync(self) -> None:
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
