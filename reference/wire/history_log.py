"""The wire broker's history: what happened, as :mod:`kafka_eos.protocol.history` JSON lines.

Where each event comes from:

- ``Append``, ``Marker``, ``OffsetCommit``: the core records them as it appends and makes
  offsets visible (``node.drain_events()``); a duplicate answered from the producer-state
  cache appends nothing and so records nothing;
- ``ProduceAck``, ``TxnEnd``: the adapter, as it sends those responses to clients;
- ``Read``: only a consumer knows which records its poll returned (it filters aborted data
  itself), so tests add Read events from what the client observed.

Crash safety (kill -9):

- the adapter writes a response's events (ProduceAck, TxnEnd) before the response leaves, and
  every write is flushed at once: whatever a client was told is in the history;
- a crash can cut the last write short: a restarted broker cuts that torn last line (with a
  one-line warning) before it appends, and the reader skips it
  (:func:`~kafka_eos.protocol.history.iter_history`);
- a crash while an append is being fsynced leaves the batch in the log (the page cache
  outlives the process) but not in the history, which would then show an offset gap: a
  restarted broker first records the batches its logs hold beyond the last Append or Marker
  the history holds for their partition (:meth:`HistoryLog.record_unrecorded`). The core does
  not re-record what it reloads.

The file is flushed, not fsynced: after a power failure the history may lack its last events
(and a restarted broker records again the log's batches among them).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from kafka_eos.protocol.history import Append, Event, Marker, event_from_json, event_to_json
from kafka_eos.reference.node import batch_event

log = logging.getLogger("kafka_eos.wire")


class HistoryLog:
    """Appends events to a JSON-lines file, or discards them when ``path`` is None."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._out: IO[str] | None = None
        if self.path is not None:
            _cut_torn_tail(self.path)
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (append-only)

    @property
    def enabled(self) -> bool:
        return self._out is not None

    def write(self, events: Iterable[Event]) -> None:
        if self._out is None:
            return
        self._out.write("".join(event_to_json(event) + "\n" for event in events))
        self._out.flush()

    def record_unrecorded(self, node: Any) -> int:
        """At startup, before serving: record the batches of the client topics' logs that this
        history misses (offsets above the last Append or Marker it holds for their
        partition); how many. Those batches are durable, so they are in the log for good,
        though a crash kept their answers from being sent and their events from being written."""
        logged = [
            (tp, partition)
            for tp, partition in sorted(
                node.partitions.items(), key=lambda item: (item[0].topic, item[0].partition)
            )
            if tp.topic in node.topics and partition.log.batches
        ]
        if self.path is None or not logged:
            return 0  # nothing in the logs (no --data-dir): nothing to read the history for
        recorded = _last_logged_offsets(self.path)
        missed = [
            batch_event(tp, batch)
            for tp, partition in logged
            for batch in partition.log.batches
            if batch.base_offset > recorded.get(str(tp), -1)
        ]
        self.write(missed)
        return len(missed)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _last_logged_offsets(path: Path) -> dict[str, int]:
    """Per partition, the highest Append base offset or Marker offset the history holds. Only
    lines that mention "append" or "marker" are parsed (about half the lines of a history)."""
    recorded: dict[str, int] = {}
    with open(path, "rb") as lines:
        for number, data in enumerate(lines, start=1):
            if b'"append"' not in data and b'"marker"' not in data:
                continue
            event = event_from_json(data.decode("utf-8", "replace"), where=f"{path}:{number}")
            if isinstance(event, Append | Marker):
                offset = event.base_offset if isinstance(event, Append) else event.offset
                recorded[event.partition] = max(recorded.get(event.partition, -1), offset)
    return recorded


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline (a write a kill -9 cut short), so that the next
    event starts a line of its own: an event whose line never finished never happened."""
    try:
        handle = open(path, "r+b")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return
    with handle:
        end = handle.seek(0, 2)
        keep = end
        while keep > 0:
            start = max(keep - 65536, 0)
            handle.seek(start)
            chunk = handle.read(keep - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            keep = start
        if keep < end:
            handle.truncate(keep)
            log.warning("%s: cut a torn last line (%d bytes) a crash left", path, end - keep)


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
