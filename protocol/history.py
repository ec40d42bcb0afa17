"""The history format: what happened in one run, as JSON lines.

A history is written by the model checker (from a trace), by the reference's simulation and by
the wire broker's request log, and read by ``kafka-eos explain`` (ordering constraints, z3) and
``kafka-eos validate`` (the model's properties). One event per line, each a JSON object with a
``type`` field naming one of the event classes below; unknown fields are an error.

Partitions are named ``topic-N``. Record values are strings (a real client's bytes are decoded
as UTF-8, or written as hex with a ``hex:`` prefix when they are not text).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from kafka_eos.errors import InputError


@dataclass(frozen=True, slots=True)
class Append:
    """The leader appended a data batch at [base_offset, last_offset]."""

    type: ClassVar[str] = "append"
    partition: str
    base_offset: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: tuple[str, ...]
    transactional: bool

    @property
    def last_offset(self) -> int:
        return self.base_offset + len(self.records) - 1


@dataclass(frozen=True, slots=True)
class Marker:
    """The leader appended a COMMIT or ABORT control batch at ``offset``."""

    type: ClassVar[str] = "marker"
    partition: str
    offset: int
    producer_id: int
    producer_epoch: int
    commit: bool
    coordinator_epoch: int


@dataclass(frozen=True, slots=True)
class ProduceAck:
    """A producer received a Produce response for one batch (error "NONE" when acknowledged)."""

    type: ClassVar[str] = "ack"
    client: str
    partition: str
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: tuple[str, ...]
    error: str
    base_offset: int


@dataclass(frozen=True, slots=True)
class TxnEnd:
    """A transactional producer's EndTxn completed (error "NONE" when the coordinator accepted)."""

    type: ClassVar[str] = "txn_end"
    client: str
    transactional_id: str
    producer_id: int
    producer_epoch: int
    commit: bool
    error: str


@dataclass(frozen=True, slots=True)
class OffsetCommit:
    """A group's committed offset for an input partition became visible (or was written
    transactionally: ``producer_id`` is then the transaction's producer, else -1)."""

    type: ClassVar[str] = "offset_commit"
    group: str
    partition: str
    offset: int
    producer_id: int
    visible: bool


@dataclass(frozen=True, slots=True)
class Read:
    """A consumer's poll returned the record at ``offset``."""

    type: ClassVar[str] = "read"
    client: str
    isolation: str
    partition: str
    offset: int
    value: str


Event = Append | Marker | ProduceAck | TxnEnd | OffsetCommit | Read
EVENT_TYPES: dict[str, type[Any]] = {
    cls.type: cls for cls in (Append, Marker, ProduceAck, TxnEnd, OffsetCommit, Read)
}


def event_to_json(event: Event) -> str:
    """One JSON line for ``event``."""
    return json.dumps({"type": event.type, **asdict(event)}, separators=(",", ":"))


def event_from_json(line: str, *, where: str = "history") -> Event:
    """Parse one JSON line; raise InputError naming ``where`` when it is not a valid event."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(raw, dict) or raw.get("type") not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        raise InputError(f"{where}: 'type' must be one of {known}")
    cls = EVENT_TYPES[raw.pop("type")]
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names)
    missing = sorted(names - set(raw))
    if unknown or missing:
        problem = f"unknown field {unknown[0]!r}" if unknown else f"missing field {missing[0]!r}"
        raise InputError(f"{where}: {cls.type} event has {problem}")
    if "records" in raw:
        raw["records"] = tuple(raw["records"])
    return cls(**raw)  # type: ignore[no-any-return]


def write_history(path: Path | str, events: Iterable[Event]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for event in events:
            out.write(event_to_json(event) + "\n")


def read_history(path: Path | str) -> list[Event]:
    """All events of a history file; InputError (file and line) on the first bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read history {path}: {exc.strerror}") from None
    return list(_parse_lines(text.splitlines(), str(path)))


def _parse_lines(lines: list[str], name: str) -> Iterator[Event]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield event_from_json(line, where=f"{name}:{number}")
