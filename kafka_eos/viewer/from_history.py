"""A history (JSON lines from ``kafka-eos serve --history``, a test or a simulation) as a
diagram: one step per event, numbered as ``kafka-eos validate`` numbers them (#1 is step 1).

A history records what the broker and the clients saw, not the messages in between, so the
arrows are the ones it implies: a producer's batch into the partition at its append, the
acknowledgement from that append to the client that received it, the coordinator's marker
into the partition, an EndTxn's answer to its client, and each read from the append that
holds the record to the consumer that returned it. The high watermark is not recorded; the
last stable offset is the first offset of the earliest transaction still open on the
partition (markers close them), else the log end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kafka_eos.protocol.history import (
    Append,
    Event,
    Marker,
    OffsetCommit,
    ProduceAck,
    Read,
    Seek,
    Truncate,
    TxnEnd,
)
from kafka_eos.protocol.history_checks import (
    PROPERTIES,
    HistoryIndex,
    PartitionTxn,
    Violation,
    check_history,
    describe,
    named,
)

from .diagram import (
    Arrow,
    Diagram,
    Highlight,
    Lane,
    LogEntry,
    Step,
    ordered_lanes,
)
from .spec_index import SpecIndex, spec_index, spec_links
from .timeline import TimelineBuilder

#: The model action that produces each kind of event (its SPEC.md row is the step's link).
EVENT_ACTIONS = {
    "append": "HandleProduce",
    "marker": "HandleWriteTxnMarkers",
    "ack": "ReceiveProduceResponse",
    "txn_end": "HandleEndTxn",
    "offset_commit": "HandleAddOffsetsToTxn",
    "read": "Fetch",
    "truncate": "LeaderFailover",
}
COORDINATOR = "coordinator"


def diagram_from_history(
    events: Sequence[Event],
    *,
    title: str,
    violations: Sequence[Violation] | None = None,
    spec: SpecIndex | None = None,
) -> Diagram:
    spec = spec or spec_index()
    found = check_history(events) if violations is None else violations
    builder = _Builder(events)
    steps = [Step(0, "start", "start", None, ())]
    for position, event in enumerate(events, start=1):
        steps.append(builder.step(position, event))
    return Diagram(
        title=title,
        source="history",
        lanes=ordered_lanes(list(builder.lanes.values())),
        steps=tuple(steps),
        arrows=tuple(builder.arrows),
        highlights=tuple(_highlight(violation, events) for violation in found),
        partitions=builder.logs.timelines(),
        actions=spec_links(EVENT_ACTIONS.values(), spec),
    )


def _highlight(violation: Violation, events: Sequence[Event]) -> Highlight:
    """At the last event the violation names: by then the property is broken."""
    positions = violation.positions or (len(events),)
    details = tuple(named(p - 1, events[p - 1]) for p in positions if 0 < p <= len(events))
    explanation = violation.message
    if violation.property in PROPERTIES:
        explanation += f" (the property: {PROPERTIES[violation.property]})"
    return Highlight(max(positions), "violation", f"{violation.property} violated", explanation,
                     details)  # fmt: skip


@dataclass(slots=True)
class _Builder:
    events: Sequence[Event]
    lanes: dict[str, Lane] = field(default_factory=dict)
    arrows: list[Arrow] = field(default_factory=list)
    logs: TimelineBuilder = field(default_factory=TimelineBuilder)
    #: (partition, offset) -> the step of the append holding it, for acks and reads
    record_step: dict[tuple[str, int], int] = field(default_factory=dict)
    client_of: dict[tuple[int, int], str] = field(default_factory=dict)
    log_end: dict[str, int] = field(default_factory=dict)
    index: HistoryIndex = field(init=False)
    opening: dict[int, list[PartitionTxn]] = field(default_factory=dict)
    closing: dict[int, list[PartitionTxn]] = field(default_factory=dict)
    #: (partition, position of its first append) -> first offset, of transactions open now
    open_txns: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = HistoryIndex.build(self.events)
        for event in self.events:  # who each producer id and epoch is, from what clients saw
            if isinstance(event, ProduceAck | TxnEnd):
                self.client_of.setdefault((event.producer_id, event.producer_epoch), event.client)

    def step(self, position: int, event: Event) -> Step:
        lane = self._act(position, event)
        self._marks(position)
        return Step(position, f"#{position} {describe(event)}", EVENT_ACTIONS[event.type], lane,
                    (describe(event),))  # fmt: skip

    def _act(self, position: int, event: Event) -> str:
        """Record the event's lanes, arrows and log entry; the lane that took the step."""
        if isinstance(event, Append):
            partition = self._lane("partition", event.partition)
            producer = self._producer(event.producer_id, event.producer_epoch)
            self._arrow(producer, partition, position, position, describe(event), "Produce")
            for offset in range(event.base_offset, event.last_offset + 1):
                self.record_step[(event.partition, offset)] = position
            self.logs.append(event.partition, position, _batch_entry(event))
            self.log_end[event.partition] = event.last_offset + 1
            return partition
        if isinstance(event, Marker):
            partition = self._lane("partition", event.partition)
            coordinator = self._lane("coordinator", COORDINATOR)
            kind = "COMMIT" if event.commit else "ABORT"
            self._arrow(coordinator, partition, position, position, describe(event), kind)
            producer = f"pid {event.producer_id} e{event.producer_epoch}"
            entry = LogEntry(event.offset, "control", kind, producer, True)
            self.logs.append(event.partition, position, entry)
            self.log_end[event.partition] = event.offset + 1
            return partition
        if isinstance(event, ProduceAck):
            kind = "ack" if event.error == "NONE" else event.error
            receiver = self._lane("producer", event.client)
            return self._delivery(event.partition, event.base_offset, receiver, position, kind)
        if isinstance(event, Read):
            receiver = self._lane("consumer", event.client)
            return self._delivery(event.partition, event.offset, receiver, position, "read")
        if isinstance(event, TxnEnd):
            client = self._lane("producer", event.client)
            coordinator = self._lane("coordinator", COORDINATOR)
            self._arrow(coordinator, client, position, position, describe(event),
                        f"EndTxn {event.error}")  # fmt: skip
            return client
        if isinstance(event, Truncate):
            self.logs.truncate(event.partition, position, event.offset)
            self.log_end[event.partition] = event.offset
            return self._lane("partition", event.partition)
        if isinstance(event, Seek):
            return self._lane("consumer", event.client)  # a position set: no message
        assert isinstance(event, OffsetCommit)
        return self._lane("coordinator", COORDINATOR)

    def _delivery(
        self, partition: str, offset: int, receiver: str, position: int, kind: str
    ) -> str:
        """An arrow from the append holding ``offset`` to the client that received it."""
        sent = self.record_step.get((partition, offset), position)
        text = describe(self.events[position - 1])
        self._arrow(self._lane("partition", partition), receiver, sent, position, text, kind)
        return receiver

    def _lane(self, role: str, name: str) -> str:
        lane_id = COORDINATOR if role == "coordinator" else f"{role}:{name}"
        if lane_id not in self.lanes:
            self.lanes[lane_id] = Lane(lane_id, name, role)  # type: ignore[arg-type]
        return lane_id

    def _producer(self, producer_id: int, epoch: int) -> str:
        client = self.client_of.get((producer_id, epoch))
        return self._lane("producer", client or f"pid {producer_id} e{epoch}")

    def _arrow(
        self, source: str, target: str, sent: int, delivered: int, text: str, kind: str
    ) -> None:
        self.arrows.append(
            Arrow(len(self.arrows), text, source, target, sent, delivered, kind=kind)
        )

    def _marks(self, position: int) -> None:
        """Each partition's LSO after this step (a history has no high watermark)."""
        self._track_open_transactions(position - 1)
        for name, log_end in self.log_end.items():
            firsts = [first for (part, _), first in self.open_txns.items() if part == name]
            self.logs.marks(name, position, None, min(firsts, default=log_end))

    def _track_open_transactions(self, event_position: int) -> None:
        """The index's partition transactions open and close at their first append and their
        marker (``event_position`` is 0-based, as the index counts)."""
        if not self.opening:
            for txn in self.index.txns:
                self.opening.setdefault(txn.appends[0], []).append(txn)
                if txn.marker is not None:
                    self.closing.setdefault(txn.marker, []).append(txn)
        for txn in self.opening.get(event_position, ()):
            self.open_txns[(txn.partition, txn.appends[0])] = self.index.first_offset(txn)
        for txn in self.closing.get(event_position, ()):
            self.open_txns.pop((txn.partition, txn.appends[0]), None)


def _batch_entry(event: Append) -> LogEntry:
    records = event.records
    text = records[0] if len(records) == 1 else f"{records[0]} … {records[-1]} ({len(records)})"
    producer = f"pid {event.producer_id} e{event.producer_epoch} seq {event.base_sequence}"
    return LogEntry(event.base_offset, "data", text, producer, event.transactional)
