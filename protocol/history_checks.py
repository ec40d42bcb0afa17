"""Direct checks that a history (protocol/history.py) has exactly-once semantics.

``check_history(events)`` runs in time linear in the history (plus a log factor for the LSO)
and returns one :class:`Violation` per anomaly, each with a one-line message that starts with
Jepsen's term for it (duplicate, lost write, aborted read, torn transaction, inconsistent
offsets, ...) and names the events by their position ``#n`` (1-based: the line of a JSON-lines
history). The reference simulation, ``kafka-eos validate`` and ``kafka-eos explain`` call it.

How the history is read (Kafka's rules, protocol doc §1-§4):
- Appends and markers appear in the order the leader appended them, so per partition they form
  the log; a transaction on a partition (a *partition transaction*) is a producer's run of
  transactional appends up to its next marker there.
- A client transaction is ended by the producer's next successful ``TxnEnd`` with the same
  producer id and epoch (the epoch its batches carry).
- A record is *visible* to read_committed when its batch is not transactional or its partition
  transaction ended with a COMMIT marker.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kafka_eos.errors import InputError, shown

from .client_view import ANOMALIES, anomalies
from .history import (
    Append,
    Event,
    Marker,
    OffsetCommit,
    ProduceAck,
    Read,
    Seek,
    Truncate,
    TxnEnd,
    field_problem,
)
from .history_view import client_views
from .sequence import NO_SEQUENCE, in_sequence, last_sequence, next_sequence
from .topics import CONSUMER_OFFSETS_TOPIC

#: property name -> what a history breaks when it violates it. The names are the model's
#: (model/properties.py), so a verdict reads the same from the model, the reference and a wire run.
PROPERTIES: dict[str, str] = {
    "offsets_immutable": "offsets in a partition are contiguous and unique, and an offset "
    "holds one record: what is read there (Jepsen: inconsistent offsets)",
    "per_producer_order": "a producer's batches in a partition and epoch are in sequence",
    "no_fenced_writes": "no batch of an older (fenced) producer epoch is appended (zombie write)",
    "no_duplicates": "no producer record is appended twice or visible twice (Jepsen: duplicate)",
    "no_lost_acks": "an acknowledged batch is in the log at the acknowledged offset "
    "(Jepsen: lost write)",
    "read_committed_no_aborted": "read_committed never returns a record of an aborted or still "
    "open transaction (Jepsen: aborted read, dirty read)",
    "lso_bounds": "read_committed returns nothing at or above the last stable offset",
    "read_committed_in_order": "a read_committed consumer returns every visible record of a "
    "partition in offset order, skipping none (after a rewind it starts again)",
    "atomic_transactions": "a transaction's records are all committed or all aborted, as its "
    "EndTxn asked, by markers of its current coordinator (Jepsen: torn transaction)",
    "open_txns_known": "no transactional batch lands after its transaction was ended (a hanging "
    "transaction no coordinator knows about: the LSO stays below it)",
    # judged by what the clients were told, by Elle's names (protocol/client_view.py)
    **ANOMALIES,
}

READ_COMMITTED = "read_committed"


@dataclass(frozen=True, slots=True)
class Violation:
    """One anomaly: ``property`` (a key of PROPERTIES), a one-line ``message`` naming the
    events, the ``events`` themselves and their 1-based ``positions`` in the history."""

    property: str
    message: str
    events: tuple[Event, ...]
    positions: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"{self.property}: {self.message}"


# --- field types ----------------------------------------------------------------------------------


def validate_events(events: Iterable[Event], *, where: str = "history") -> list[Event]:
    """The events as a list; InputError naming the first event (1-based) whose fields have the
    wrong type (events built in code: read_history checks each line as it reads it)."""
    checked = list(events)
    for number, event in enumerate(checked, start=1):
        for name in event.__dataclass_fields__:
            value = getattr(event, name)
            wanted = field_problem(name, value)
            if wanted is not None:
                raise InputError(
                    f"{where}: event {number} ({event.type}): {name!r} must be {wanted}, "
                    f"not {shown(value)}"
                )
    return checked


# --- describing events in the history's own terms ------------------------------------------------


def _seq_range(first: int, count: int) -> str:
    if first == NO_SEQUENCE:
        return "no seq"
    if count <= 1:
        return f"seq {first}"
    return f"seq {first}..{last_sequence(first, count)}"


def _producer(pid: int, epoch: int) -> str:
    return f"pid {pid}" if epoch == 0 else f"pid {pid} epoch {epoch}"


def _at(partition: str, first: int, count: int = 1) -> str:
    return f"{partition}@{first}" if count <= 1 else f"{partition}@{first}..{first + count - 1}"


def describe(event: Event) -> str:
    """A short name for ``event``, e.g. ``append p0@3 (pid 1 seq 2)``."""
    if isinstance(event, Append):
        n = len(event.records)
        txn = " txn" if event.transactional else ""
        who = _producer(event.producer_id, event.producer_epoch)
        where = _at(event.partition, event.base_offset, n)
        return f"append {where} ({who} {_seq_range(event.base_sequence, n)}{txn})"
    if isinstance(event, Marker):
        kind = "COMMIT" if event.commit else "ABORT"
        who = _producer(event.producer_id, event.producer_epoch)
        return f"{kind} marker {_at(event.partition, event.offset)} ({who})"
    if isinstance(event, ProduceAck):
        n = len(event.records)
        who = _producer(event.producer_id, event.producer_epoch)
        what = "ack" if event.error == "NONE" else f"{event.error} response"
        where = _at(event.partition, event.base_offset, n)
        return f"{what} to {event.client} for {where} ({who} {_seq_range(event.base_sequence, n)})"
    if isinstance(event, TxnEnd):
        kind = "commit" if event.commit else "abort"
        who = _producer(event.producer_id, event.producer_epoch)
        result = "" if event.error == "NONE" else f" -> {event.error}"
        return f"{event.client} EndTxn({kind}) ({who}){result}"
    if isinstance(event, Read):
        where = _at(event.partition, event.offset)
        return f"{event.isolation} read by {event.client} of {where} {event.value!r}"
    if isinstance(event, OffsetCommit):
        txn = f" (txn pid {event.producer_id})" if event.producer_id >= 0 else ""
        state = "visible" if event.visible else "pending"
        return f"offset commit {event.group} {_at(event.partition, event.offset)}{txn} {state}"
    if isinstance(event, Truncate):
        return f"truncation of {event.partition} at offset {event.offset}"
    if isinstance(event, Seek):
        return f"seek by {event.client} of {_at(event.partition, event.offset)}"
    raise TypeError(f"not a history event: {event!r}")


def named(position: int, event: Event) -> str:
    """``#n describe(event)`` with n the 1-based position."""
    return f"#{position + 1} {describe(event)}"


# --- the history's log structure, shared with ordering.py ----------------------------------------


@dataclass(slots=True)
class PartitionTxn:
    """One producer's transactional appends on one partition up to its next marker there."""

    partition: str
    producer_id: int
    appends: list[int] = field(default_factory=list)  # positions in the history
    marker: int | None = None  # position of the marker, None while still open


@dataclass(slots=True)
class RecordSlot:
    """The data record at one offset: which append holds it and at which index."""

    append: int  # position of the append
    index: int


@dataclass(slots=True)
class HistoryIndex:
    """Everything the checks look up, built in one pass over the events."""

    events: Sequence[Event]
    log: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    txns: list[PartitionTxn] = field(default_factory=list)
    txn_of_append: dict[int, PartitionTxn] = field(default_factory=dict)
    records: dict[str, dict[int, RecordSlot]] = field(default_factory=lambda: defaultdict(dict))
    markers_at: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    #: append position -> position of the TxnEnd that ended its client transaction
    client_txn_end: dict[int, int] = field(default_factory=dict)
    #: partition -> offsets holding records, sorted (built on first use)
    sorted_offsets: dict[str, list[int]] = field(default_factory=dict)
    #: position of an append or marker a truncation cut from the log -> the truncation's
    cut_by: dict[int, int] = field(default_factory=dict)
    #: partition -> offset -> the records a truncation cut there, in history order
    cut_records: dict[str, dict[int, list[RecordSlot]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )

    @classmethod
    def build(cls, events: Sequence[Event]) -> HistoryIndex:
        index = cls(events)
        open_txns: dict[tuple[str, int], PartitionTxn] = {}
        for position, event in enumerate(events):
            if isinstance(event, Append):
                index.log[event.partition].append(position)
                slots = index.records[event.partition]
                for i in range(len(event.records)):
                    slots.setdefault(event.base_offset + i, RecordSlot(position, i))
                if event.transactional:
                    key = (event.partition, event.producer_id)
                    if key not in open_txns:
                        open_txns[key] = PartitionTxn(event.partition, event.producer_id)
                        index.txns.append(open_txns[key])
                    open_txns[key].appends.append(position)
                    index.txn_of_append[position] = open_txns[key]
            elif isinstance(event, Marker):
                index.log[event.partition].append(position)
                index.markers_at[event.partition].setdefault(event.offset, position)
                txn = open_txns.pop((event.partition, event.producer_id), None)
                if txn is not None:
                    txn.marker = position
            elif isinstance(event, Truncate):
                index._truncate(event, position, open_txns)
        index._link_client_transactions()
        return index

    def _truncate(
        self, cut: Truncate, position: int, open_txns: dict[tuple[str, int], PartitionTxn]
    ) -> None:
        """The entries at and above the cut leave the log, and their offsets are free for the
        appends that follow; an append leaves its partition transaction (gone when it has no
        append left), a marker leaves its transaction open again (the coordinator re-sends
        it to the new leader)."""
        partition = cut.partition
        kept: list[int] = []
        for held in self.log[partition]:
            entry = self.events[held]
            if _entry_span(entry)[0] < cut.offset:
                kept.append(held)
                continue
            self.cut_by[held] = position
            if isinstance(entry, Append):
                txn = self.txn_of_append.pop(held, None)
                if txn is not None:
                    txn.appends.remove(held)
                continue
            for txn in self.txns:
                if txn.marker == held:
                    txn.marker = None
                    open_txns.setdefault((txn.partition, txn.producer_id), txn)
        self.log[partition] = kept
        slots = self.records[partition]
        for offset in [offset for offset in slots if offset >= cut.offset]:
            self.cut_records[partition][offset].append(slots.pop(offset))
        markers = self.markers_at[partition]
        for offset in [offset for offset in markers if offset >= cut.offset]:
            del markers[offset]
        self.sorted_offsets.pop(partition, None)
        emptied = [txn for txn in self.txns if not txn.appends]
        for txn in emptied:
            self.txns.remove(txn)
            if open_txns.get((txn.partition, txn.producer_id)) is txn:
                del open_txns[(txn.partition, txn.producer_id)]

    def cut_record_read(self, read: Read, position: int) -> int | None:
        """The append whose record ``read`` returned when a truncation later cut it (the
        consumer read what a leader change then removed), or None."""
        for slot in self.cut_records.get(read.partition, {}).get(read.offset, ()):
            append = self.events[slot.append]
            assert isinstance(append, Append)
            cut = self.cut_by[slot.append]
            if slot.append < position < cut and append.records[slot.index] == read.value:
                return slot.append
        return None

    def _link_client_transactions(self) -> None:
        """Each transactional append -> the next successful TxnEnd of its pid and epoch."""
        next_end: dict[tuple[int, int], int] = {}
        for position in range(len(self.events) - 1, -1, -1):
            event = self.events[position]
            if isinstance(event, TxnEnd) and event.error == "NONE":
                next_end[(event.producer_id, event.producer_epoch)] = position
            elif isinstance(event, Append) and event.transactional:
                end = next_end.get((event.producer_id, event.producer_epoch))
                if end is not None:
                    self.client_txn_end[position] = end

    def forward_reads(self, *, every_read_committed: bool = False) -> Iterable[tuple[int, int]]:
        """Consecutive reads (earlier, later) of one read_committed consumer and partition
        where the later is at a higher offset. A read at a lower or equal offset is a rewind
        (a seek, or the reset to the committed position after an abort): the history does not
        record seeks, so a rewind starts the consumer's reads afresh and is not an error."""
        last: dict[tuple[str, str], int] = {}
        for position, read in enumerate(self.events):
            if not isinstance(read, Read):
                continue
            if read.isolation != READ_COMMITTED and not every_read_committed:
                continue
            key = (read.client, read.partition)
            previous = last.get(key)
            last[key] = position
            if previous is not None:
                earlier = self.events[previous]
                assert isinstance(earlier, Read)
                if earlier.offset < read.offset:
                    yield previous, position

    def appends_between(self, partition: str, low: int, high: int) -> list[int]:
        """Positions of the appends holding a record at an offset strictly between."""
        slots = self.records.get(partition, {})
        if partition not in self.sorted_offsets:
            self.sorted_offsets[partition] = sorted(slots)
        offsets = self.sorted_offsets[partition]
        start, stop = bisect.bisect_right(offsets, low), bisect.bisect_left(offsets, high)
        # only offsets that hold records are visited: a gap in the offsets costs nothing
        return list(dict.fromkeys(slots[offset].append for offset in offsets[start:stop]))

    def visible_at(self, append_position: int, when: int) -> bool:
        """Whether read_committed may return the append's records at history position
        ``when``: appended before it and, if transactional, committed before it."""
        if append_position > when:
            return False
        txn = self.txn_of_append.get(append_position)
        if txn is None:
            return True
        if txn.marker is None or txn.marker > when:
            return False
        marker = self.events[txn.marker]
        assert isinstance(marker, Marker)
        return marker.commit

    def visible(self, append_position: int) -> bool | None:
        """Whether read_committed may see the append's records: True, False (aborted) or
        None (its transaction is still open at the end of the history)."""
        txn = self.txn_of_append.get(append_position)
        if txn is None:
            return True
        if txn.marker is None:
            return None
        marker = self.events[txn.marker]
        assert isinstance(marker, Marker)
        return marker.commit

    def first_offset(self, txn: PartitionTxn) -> int:
        append = self.events[txn.appends[0]]
        assert isinstance(append, Append)
        return append.base_offset


# --- the checks -----------------------------------------------------------------------------------


def check_history(
    events: Iterable[Event], *, every_read_committed: bool = False
) -> list[Violation]:
    """Every EOS anomaly in ``events``, in the order the checks find them.

    Reads are held to read_committed's rules only when their isolation is read_committed
    (a read_uncommitted consumer may return open and aborted data: Kafka allows it). With
    ``every_read_committed=True`` every read is, as the model's consumer properties do
    whatever the consumer's isolation: use it to compare a run with the model's verdict.
    """
    history = list(events)
    index = HistoryIndex.build(history)
    violations: list[Violation] = []
    violations.extend(_offsets_contiguous(index))
    violations.extend(_producer_order(index))
    violations.extend(_fenced_by_markers(index))
    violations.extend(_duplicates(index))
    violations.extend(_lost_acks(index))
    violations.extend(_reads(index, every_read_committed=every_read_committed))
    violations.extend(_skipped_reads(index, every_read_committed=every_read_committed))
    violations.extend(_atomic_transactions(index))
    violations.extend(_fenced_coordinator_markers(index))
    violations.extend(_hanging_transactions(index))
    violations.extend(_client_view_anomalies(index, every_read_committed=every_read_committed))
    return violations


def _client_view_anomalies(
    index: HistoryIndex, *, every_read_committed: bool
) -> Iterable[Violation]:
    """The anomalies of what the clients were told, each under Elle's name."""
    found = [
        anomaly
        for view, polled in client_views(index, every_read_committed=every_read_committed)
        for anomaly in anomalies(view, polled_transactions=polled)
    ]
    order = list(ANOMALIES)
    for anomaly in sorted(found, key=lambda anomaly: order.index(anomaly.name)):
        positions = sorted(set(anomaly.refs))
        yield _violation(anomaly.name, anomaly.detail, index, *positions)


def _batch(event: Append | ProduceAck) -> tuple[str, int, int, int]:
    """A batch's identity: partition, producer id, epoch and base sequence."""
    return event.partition, event.producer_id, event.producer_epoch, event.base_sequence


def _violation(prop: str, message: str, index: HistoryIndex, *positions: int) -> Violation:
    return Violation(
        prop, message, tuple(index.events[p] for p in positions), tuple(p + 1 for p in positions)
    )


def _entry_span(event: Event) -> tuple[int, int]:
    if isinstance(event, Append):
        return event.base_offset, event.last_offset
    assert isinstance(event, Marker)
    return event.offset, event.offset


def _offsets_contiguous(index: HistoryIndex) -> Iterable[Violation]:
    for partition, positions in index.log.items():
        if partition.startswith(f"{CONSUMER_OFFSETS_TOPIC}-"):
            # its data batches are OffsetCommit events, which carry no log offset: the
            # markers there leave room for them
            continue
        for previous, current in itertools.pairwise(positions):
            _, prev_end = _entry_span(index.events[previous])
            start, _ = _entry_span(index.events[current])
            if start == prev_end + 1:
                continue
            a, b = named(previous, index.events[previous]), named(current, index.events[current])
            if start <= prev_end:
                message = f"inconsistent offsets: {b} reuses offsets of {a}"
            else:
                message = f"offset gap: {b} does not follow {a} (expected offset {prev_end + 1})"
            yield _violation("offsets_immutable", message, index, previous, current)


def _fenced_by_markers(index: HistoryIndex) -> Iterable[Violation]:
    """A data batch below the epoch of its producer's last marker on that partition: the
    marker (a fencing or timeout abort with a bumped epoch, or a TV2 marker) raised the
    leader's epoch for the producer id, so the leader's epoch check must refuse the batch."""
    last_marker: dict[tuple[str, int], int] = {}
    for positions in index.log.values():
        for position in positions:
            event = index.events[position]
            if isinstance(event, Marker):
                last_marker[(event.partition, event.producer_id)] = position
                continue
            assert isinstance(event, Append)
            fence = last_marker.get((event.partition, event.producer_id))
            if fence is None:
                continue
            marker = index.events[fence]
            assert isinstance(marker, Marker)
            if event.producer_epoch < marker.producer_epoch:
                a, b = named(fence, marker), named(position, event)
                message = f"zombie write: {b} has an older epoch than {a}"
                yield _violation("no_fenced_writes", message, index, fence, position)


def _producer_order(index: HistoryIndex) -> Iterable[Violation]:
    last_batch: dict[tuple[str, int], int] = {}
    seen: set[tuple[str, int, int, int]] = set()
    for positions in index.log.values():
        for position in positions:
            event = index.events[position]
            if not isinstance(event, Append) or event.base_sequence == NO_SEQUENCE:
                continue
            key = (event.partition, event.producer_id)
            identity = (*key, event.producer_epoch, event.base_sequence)
            previous = last_batch.get(key)
            last_batch[key] = position
            if identity in seen or previous is None:  # a repeat is a duplicate, checked there
                seen.add(identity)
                continue
            seen.add(identity)
            before = index.events[previous]
            assert isinstance(before, Append)
            a, b = named(previous, before), named(position, event)
            if event.producer_epoch < before.producer_epoch:
                message = f"zombie write: {b} has an older epoch than {a}"
                yield _violation("no_fenced_writes", message, index, previous, position)
            elif event.producer_epoch > before.producer_epoch:
                if event.base_sequence != 0:
                    message = (
                        f"out-of-order sequence: {b} starts a new epoch at seq "
                        f"{event.base_sequence}, not 0"
                    )
                    yield _violation("per_producer_order", message, index, position)
            else:
                prev_last = last_sequence(before.base_sequence, len(before.records))
                if not in_sequence(prev_last, event.base_sequence):
                    expected = next_sequence(prev_last, 1)
                    message = f"out-of-order sequence: {b} follows {a} (expected seq {expected})"
                    yield _violation("per_producer_order", message, index, previous, position)


def _duplicates(index: HistoryIndex) -> Iterable[Violation]:
    for positions in index.log.values():
        # One partition at a time: what is remembered is one partition's, and it is a value's
        # first append position only (its index there is found again when it is reported).
        first_append: dict[tuple[str, int, int, int], int] = {}
        first_visible: dict[tuple[int, str], int] = {}
        for position in positions:
            event = index.events[position]
            if not isinstance(event, Append):
                continue
            identity = _batch(event)
            same_batch = None
            if event.base_sequence != NO_SEQUENCE:
                same_batch = first_append.setdefault(identity, position)
                if same_batch != position:
                    original = named(same_batch, index.events[same_batch])
                    message = (
                        f"duplicate: {named(position, event)} appends again the batch of {original}"
                    )
                    yield _violation("no_duplicates", message, index, same_batch, position)
            if not index.visible(position):
                continue
            for i, value in enumerate(event.records):
                first = first_visible.setdefault((event.producer_id, value), position)
                if first in (position, same_batch):
                    continue
                earlier = index.events[first]
                assert isinstance(earlier, Append)
                message = (
                    f"duplicate: {value!r} of pid {event.producer_id} is visible twice in "
                    f"{event.partition}, at {earlier.base_offset + earlier.records.index(value)} "
                    f"({named(first, earlier)}) "
                    f"and {event.base_offset + i} ({named(position, event)})"
                )
                yield _violation("no_duplicates", message, index, first, position)
    yield from _duplicate_reads(index)


def _duplicate_reads(index: HistoryIndex) -> Iterable[Violation]:
    """The same value read by read_committed at two offsets, when the log does not say whose
    records they are (a consumer-only history); with the log, the visible-twice check above
    already names the appends."""
    first_read: dict[tuple[str, str], int] = {}
    for position, event in enumerate(index.events):
        if not isinstance(event, Read) or event.isolation != READ_COMMITTED:
            continue
        first = first_read.setdefault((event.partition, event.value), position)
        other = index.events[first]
        assert isinstance(other, Read)
        if other.offset == event.offset:
            continue
        if event.partition in index.log:
            continue
        message = (
            f"duplicate: {event.value!r} read at two offsets: {named(first, other)} and "
            f"{named(position, event)}"
        )
        yield _violation("no_duplicates", message, index, first, position)


def _lost_acks(index: HistoryIndex) -> Iterable[Violation]:
    by_identity: dict[tuple[str, int, int, int], int] = {}
    for positions in index.log.values():
        for position in positions:
            event = index.events[position]
            if isinstance(event, Append):
                by_identity.setdefault(_batch(event), position)
    cut: dict[tuple[str, int, int, int], int] = {}
    for position in index.cut_by:
        event = index.events[position]
        if isinstance(event, Append):
            cut.setdefault(_batch(event), position)
    for position, ack in enumerate(index.events):
        if not isinstance(ack, ProduceAck) or ack.error != "NONE":
            continue
        name = named(position, ack)
        identity = _batch(ack)
        slot = index.records.get(ack.partition, {}).get(ack.base_offset)
        holder = index.events[slot.append] if slot is not None else None
        if (
            isinstance(holder, Append)
            and slot is not None
            and slot.index == 0
            and (holder.producer_id, holder.producer_epoch, holder.base_sequence) == identity[1:]
        ):
            if holder.records != ack.records:
                holds = named(slot.append, holder)
                message = f"inconsistent offsets: {name} but {holds} holds other records"
                yield _violation("no_lost_acks", message, index, slot.append, position)
            elif slot.append > position:
                message = f"lost write: {name} came before {named(slot.append, holder)}"
                yield _violation("no_lost_acks", message, index, position, slot.append)
            continue
        elsewhere = by_identity.get(identity)
        if elsewhere is not None:
            actual = named(elsewhere, index.events[elsewhere])
            message = f"inconsistent offsets: {name} but the batch is {actual}"
            yield _violation("no_lost_acks", message, index, elsewhere, position)
        elif identity in cut:
            append = cut[identity]
            truncation = index.cut_by[append]
            message = (
                f"lost write: {name} but {named(truncation, index.events[truncation])} cut "
                f"{named(append, index.events[append])} from the log"
            )
            yield _violation("no_lost_acks", message, index, append, truncation, position)
        else:
            message = f"lost write: {name} but the batch is not in the log"
            yield _violation("no_lost_acks", message, index, position)


def _reads(index: HistoryIndex, *, every_read_committed: bool) -> Iterable[Violation]:
    lso = _LastStableOffsets(index)
    for position, read in enumerate(index.events):
        if not isinstance(read, Read) or not index.log:
            continue  # a consumer-only history says nothing about the log
        name = named(position, read)
        was_cut = index.cut_record_read(read, position)
        if was_cut is not None:
            truncation = index.cut_by[was_cut]
            message = (
                f"inconsistent offsets: {name} returned the record of "
                f"{named(was_cut, index.events[was_cut])}, which "
                f"{named(truncation, index.events[truncation])} later cut"
            )
            yield _violation("offsets_immutable", message, index, was_cut, position, truncation)
            continue
        slot = index.records.get(read.partition, {}).get(read.offset)
        if slot is None:
            # a history that records the log records every append: a partition without
            # any is one nothing was written to, and a read from it returned invented data
            marker = index.markers_at.get(read.partition, {}).get(read.offset)
            if marker is not None:
                control = named(marker, index.events[marker])
                message = f"inconsistent offsets: {name} returned the control record {control}"
                yield _violation("offsets_immutable", message, index, marker, position)
            else:
                message = f"inconsistent offsets: {name} but no record was appended there"
                yield _violation("offsets_immutable", message, index, position)
            continue
        append = index.events[slot.append]
        assert isinstance(append, Append)
        if append.records[slot.index] != read.value or slot.append > position:
            problem = "holds another value" if slot.append < position else "came later"
            message = f"inconsistent offsets: {name} but {named(slot.append, append)} {problem}"
            yield _violation("offsets_immutable", message, index, slot.append, position)
            continue
        if read.isolation != READ_COMMITTED and not every_read_committed:
            continue
        txn = index.txn_of_append.get(slot.append)
        if txn is not None and txn.marker is not None and txn.marker < position:
            abort = index.events[txn.marker]
            assert isinstance(abort, Marker)
            if not abort.commit:
                message = (
                    f"aborted read: {name} of {named(slot.append, append)}, aborted by "
                    f"{named(txn.marker, abort)}"
                )
                yield _violation(
                    "read_committed_no_aborted", message, index, slot.append, txn.marker, position
                )
                continue
        blocking = lso.open_below(read.partition, read.offset, position)
        if blocking is not None:
            yield _above_lso(index, name, position, blocking, txn)


def _skipped_reads(index: HistoryIndex, *, every_read_committed: bool) -> Iterable[Violation]:
    for previous, position in index.forward_reads(every_read_committed=every_read_committed):
        earlier, later = index.events[previous], index.events[position]
        assert isinstance(earlier, Read) and isinstance(later, Read)
        for append in index.appends_between(later.partition, earlier.offset, later.offset):
            if index.visible_at(append, position):
                message = (
                    f"skipped records: {named(position, later)} follows "
                    f"{named(previous, earlier)} but {named(append, index.events[append])} was "
                    "visible in between"
                )
                yield _violation(
                    "read_committed_in_order", message, index, previous, append, position
                )
                break


def _above_lso(
    index: HistoryIndex, name: str, position: int, blocking: PartitionTxn, own: PartitionTxn | None
) -> Violation:
    first = blocking.appends[0]
    later = (
        f"its marker {named(blocking.marker, index.events[blocking.marker])} came later"
        if blocking.marker is not None
        else "it was never ended"
    )
    if blocking is own:
        message = (
            f"dirty read: {name} of pid {blocking.producer_id}'s transaction from "
            f"{named(first, index.events[first])} before it committed ({later})"
        )
    else:
        message = (
            f"read above the LSO: {name} while pid {blocking.producer_id}'s transaction from "
            f"{named(first, index.events[first])} was open ({later})"
        )
    positions = [first, position] + ([blocking.marker] if blocking.marker is not None else [])
    prop = "read_committed_no_aborted" if blocking is own else "lso_bounds"
    return _violation(prop, message, index, *positions)


class _LastStableOffsets:
    """Per partition, transactions by first offset with a running maximum of the history
    position of their markers: a read at (offset, position) is above the LSO when some
    transaction starting at or below the offset was not yet ended at that position."""

    NEVER = float("inf")

    def __init__(self, index: HistoryIndex) -> None:
        by_partition: dict[str, list[PartitionTxn]] = defaultdict(list)
        for txn in index.txns:
            if txn.appends:
                by_partition[txn.partition].append(txn)
        self.firsts: dict[str, list[int]] = {}
        self.latest: dict[str, list[PartitionTxn]] = {}
        for partition, txns in by_partition.items():
            txns.sort(key=index.first_offset)
            self.firsts[partition] = [index.first_offset(t) for t in txns]
            running: list[PartitionTxn] = []
            for txn in txns:
                if not running or self._end(txn) > self._end(running[-1]):
                    running.append(txn)
                else:
                    running.append(running[-1])
            self.latest[partition] = running

    def _end(self, txn: PartitionTxn) -> float:
        return self.NEVER if txn.marker is None else txn.marker

    def open_below(self, partition: str, offset: int, position: int) -> PartitionTxn | None:
        firsts = self.firsts.get(partition)
        if not firsts:
            return None
        count = bisect.bisect_right(firsts, offset)
        if count == 0:
            return None
        txn = self.latest[partition][count - 1]
        return txn if self._end(txn) > position else None


def _atomic_transactions(index: HistoryIndex) -> Iterable[Violation]:
    """A client transaction's partition transactions all end the same way, the way the
    client's EndTxn asked; for an unended one (fenced, timed out) they must still agree."""
    groups: dict[tuple[int, int, int | None], list[int]] = defaultdict(list)
    for position in index.txn_of_append:
        event = index.events[position]
        assert isinstance(event, Append)
        end = index.client_txn_end.get(position)
        groups[(event.producer_id, event.producer_epoch, end)].append(position)
    for (_, _, end), appends in groups.items():
        markers: dict[bool, int] = {}
        for append in sorted(appends):
            marker = index.txn_of_append[append].marker
            if marker is not None:
                marker_event = index.events[marker]
                assert isinstance(marker_event, Marker)
                markers.setdefault(marker_event.commit, marker)
        if True in markers and False in markers:
            c, a = markers[True], markers[False]
            ended = f" ended by {named(end, index.events[end])}" if end is not None else ""
            message = (
                f"torn transaction: {named(c, index.events[c])} and {named(a, index.events[a])} "
                f"end the same transaction{ended}"
            )
            positions = [c, a] + ([end] if end is not None else [])
            yield _violation("atomic_transactions", message, index, *positions)
            continue
        if end is None or not markers:
            continue
        txn_end = index.events[end]
        assert isinstance(txn_end, TxnEnd)
        outcome, marker = next(iter(markers.items()))
        if outcome != txn_end.commit:
            term = "lost write" if txn_end.commit else "aborted transaction committed"
            message = (
                f"{term}: {named(end, txn_end)} but {named(marker, index.events[marker])} ended it"
            )
            yield _violation("atomic_transactions", message, index, end, marker)


def _fenced_coordinator_markers(index: HistoryIndex) -> Iterable[Violation]:
    """A marker whose coordinator epoch is below one the partition already took for the same
    producer comes from a deposed coordinator: Kafka's leader refuses it
    (ProducerStateManager.ProducerAppendInfo.appendEndTxnMarker throws
    TransactionCoordinatorFencedException). Appended anyway, it ends whatever transaction is
    open there, one the current coordinator has not decided."""
    ended_by = {txn.marker: txn for txn in index.txns if txn.marker is not None}
    latest: dict[tuple[str, int], int] = {}
    for positions in index.log.values():
        for position in positions:
            marker = index.events[position]
            if not isinstance(marker, Marker):
                continue
            key = (marker.partition, marker.producer_id)
            previous = latest.setdefault(key, position)
            newer = index.events[previous]
            assert isinstance(newer, Marker)
            if marker.coordinator_epoch >= newer.coordinator_epoch:
                latest[key] = position
                continue
            txn = ended_by.get(position)
            if txn is None:
                continue  # a late marker that ends nothing changes no record's fate
            first = txn.appends[0]
            message = (
                f"torn transaction: {named(position, marker)} of coordinator epoch "
                f"{marker.coordinator_epoch}, deposed before {named(previous, newer)} (coordinator "
                f"epoch {newer.coordinator_epoch}), ends the transaction of "
                f"{named(first, index.events[first])} that its coordinator never decided"
            )
            yield _violation("atomic_transactions", message, index, previous, first, position)


def _hanging_transactions(index: HistoryIndex) -> Iterable[Violation]:
    """A transactional batch appended after its client was told it failed and after a marker
    of its producer ended the transaction it was sent in: it opens a transaction no
    coordinator knows about (KAFKA-14402, closed by KIP-890's partition verification)."""
    failed: dict[tuple[str, int, int, int], int] = {}
    last_marker: dict[tuple[str, int], int] = {}
    for position, event in enumerate(index.events):
        if isinstance(event, ProduceAck) and event.error != "NONE":
            failed.setdefault(_batch(event), position)
        elif isinstance(event, Marker):
            last_marker[(event.partition, event.producer_id)] = position
        elif isinstance(event, Append) and event.transactional:
            answer = failed.get(_batch(event))
            ended = last_marker.get((event.partition, event.producer_id))
            if answer is None or ended is None or ended < answer:
                continue
            told, marker = named(answer, index.events[answer]), named(ended, index.events[ended])
            message = (
                f"hanging transaction: {named(position, event)} lands after {told} and after "
                f"{marker} ended its transaction: no coordinator knows the transaction it opens"
            )
            yield _violation("open_txns_known", message, index, answer, ended, position)
