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
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol

from kafka_eos.errors import InputError, shown


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


class BatchHeader(Protocol):
    """The producer fields of a record batch's header (RecordBatch): the writer, its epoch and
    the batch's first sequence."""

    @property
    def producer_id(self) -> int: ...
    @property
    def producer_epoch(self) -> int: ...
    @property
    def base_sequence(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SentHeader:
    """A batch's header as one Produce attempt carried it."""

    producer_id: int
    producer_epoch: int
    base_sequence: int


def produce_answer(
    client: str,
    partition: str,
    records: tuple[str, ...],
    error: str,
    base_offset: int,
    *,
    batch: BatchHeader,
    attempt: BatchHeader | None,
) -> ProduceAck:
    """A producer's answer for one batch. An acknowledgement names the batch as the answered
    ``attempt`` carried it: KIP-360's epoch bump rewrites the epoch and sequence of a batch in
    flight (TxnPartitionMap.startSequencesAtBeginning), and the leader appended the attempt's.
    A failure (or an answer whose attempt is not known) names the ``batch`` as it stands."""
    named = attempt if error == "NONE" and attempt is not None else batch
    return ProduceAck(
        client,
        partition,
        named.producer_id,
        named.producer_epoch,
        named.base_sequence,
        records,
        error,
        base_offset,
    )


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


@dataclass(frozen=True, slots=True)
class Truncate:
    """A leader change cut the partition's log at ``offset``: the new leader never had the
    entries from there on (Partition.makeLeader on a replica with a shorter log; its followers
    truncate to it), and the appends that follow reuse those offsets."""

    type: ClassVar[str] = "truncate"
    partition: str
    offset: int


@dataclass(frozen=True, slots=True)
class Seek:
    """A consumer set its position on a partition to ``offset`` (KafkaConsumer.seek, or a new
    assignment starting from the committed or reset offset): its next poll there may go back
    to an offset it returned before (Elle's nonmonotonic-poll is a poll that goes back without
    one)."""

    type: ClassVar[str] = "seek"
    client: str
    partition: str
    offset: int


Event = Append | Marker | ProduceAck | TxnEnd | OffsetCommit | Read | Truncate | Seek
EVENT_TYPES: dict[str, type[Any]] = {
    cls.type: cls
    for cls in (Append, Marker, ProduceAck, TxnEnd, OffsetCommit, Read, Truncate, Seek)
}


def event_to_json(event: Event) -> str:
    """One JSON line for ``event``."""
    return json.dumps({"type": event.type, **asdict(event)}, separators=(",", ":"))


def event_from_json(line: str, *, where: str = "history") -> Event:
    """Parse one JSON line; raise InputError naming ``where`` when it is not a valid event
    (not JSON, an unknown type, a missing or unknown field, a field of the wrong type).

    Strings are interned: names repeat on every line, and a record's value is in its append,
    its ack and every read of it, so a long history holds each once."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, nesting 10,000 deep
        raise InputError(f"{where}: not a history event ({shown(str(exc))})") from None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        raise InputError(f"{where}: 'type' must be one of {known}")
    cls = EVENT_TYPES[kind]
    del raw["type"]
    names = _FIELD_NAMES[cls]
    unknown = sorted(set(raw) - names)
    missing = sorted(names - set(raw))
    if unknown or missing:
        problem = (
            f"unknown field {shown(unknown[0])}" if unknown else f"missing field {missing[0]!r}"
        )
        raise InputError(f"{where}: {kind} event has {problem}")
    for name, value in raw.items():
        wrong = field_problem(name, value)
        if wrong is not None:
            raise InputError(f"{where}: {kind} event: {name!r} must be {wrong}, not {shown(value)}")
        if isinstance(value, str):
            raw[name] = sys.intern(value)
    if "records" in raw:
        raw["records"] = tuple(sys.intern(value) for value in raw["records"])
    return cls(**raw)  # type: ignore[no-any-return]


# --- field types: Kafka's wire types, so a history cannot hold what Kafka cannot send ----------

_INT64 = (-(2**63), 2**63 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_INT16 = (-(2**15), 2**15 - 1)
#: integer field -> (lowest, highest): offsets and producer ids are int64, producer epochs int16,
#: sequences and coordinator epochs int32 (Kafka's RecordBatch and WriteTxnMarkers fields).
_INTEGERS: dict[str, tuple[int, int]] = {
    "base_offset": _INT64,
    "offset": _INT64,
    "producer_id": _INT64,
    "producer_epoch": _INT16,
    "base_sequence": _INT32,
    "coordinator_epoch": _INT32,
}
_BOOLEANS = frozenset({"transactional", "commit", "visible"})
_FIELD_NAMES: dict[type[Any], frozenset[str]] = {
    cls: frozenset(f.name for f in fields(cls)) for cls in EVENT_TYPES.values()
}


def field_problem(name: str, value: object) -> str | None:
    """What field ``name`` must be when ``value`` is not that (None when it is)."""
    if name in _INTEGERS:
        low, high = _INTEGERS[name]
        ok = type(value) is int and low <= value <= high
        return None if ok else f"an integer from {low} to {high}"
    if name in _BOOLEANS:
        return None if isinstance(value, bool) else "true or false"
    if name == "records":
        if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
            return None
        return "a non-empty list of strings"
    return None if isinstance(value, str) else "a string"


def write_history(path: Path | str, events: Iterable[Event]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for event in events:
            out.write(event_to_json(event) + "\n")


def read_history(path: Path | str) -> list[Event]:
    """All events of a history file; InputError (file and line) on the first bad line."""
    return list(iter_history(path))


def _torn(last_line: bytes) -> bool:
    """Is this last line (without its newline) the start of an event line a crash cut short?"""
    if not last_line.startswith(b"{"):
        return False
    try:
        json.loads(last_line)
    except ValueError:  # JSONDecodeError, or UnicodeDecodeError for a character cut in two
        return True
    return False


def iter_history(
    path: Path | str, *, on_line: Callable[[int], None] | None = None
) -> Iterator[Event]:
    """The events of a history file one at a time, reading it line by line (a history of any
    size needs memory for its events only, never for its text); InputError naming the file and
    line of the first bad one. ``on_line(bytes_read)`` is called every 4,096 lines. A last
    line without its newline that starts an event but is not JSON is skipped: a crash cut
    that write short, and an event whose line never finished never happened."""
    name = str(path)
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed below, after the last line
    except OSError as exc:
        raise InputError(f"cannot read history {name}: {exc.strerror}") from None
    with source:
        number = 0
        try:
            for number, data in enumerate(source, start=1):
                if on_line is not None and number % 4096 == 0:
                    on_line(source.tell())
                if not data.endswith(b"\n") and _torn(data):
                    return
                line = data.decode("utf-8")
                if line.strip():
                    yield event_from_json(line, where=f"{name}:{number}")
        except UnicodeDecodeError:
            raise InputError(f"{name}:{number}: not UTF-8 text") from None
        except OSError as exc:  # a directory, a file that went away mid-read
            raise InputError(f"cannot read history {name}: {exc.strerror}") from None
