"""Properties the simulation checks on the reference: internal invariants of a node after every
step, and checks of the whole run's history against the final logs.

Property names follow the model's (``offsets_contiguous``, ``lso_le_hw``, ``no_duplicates``,
``no_lost_acks``, ``read_committed_no_aborted``, ...), with the Jepsen term in the message
where one fits (duplicate, lost write, aborted read, torn transaction). The history checks of
``kafka_eos.protocol.history_checks`` (when present) run too; these are the checks the
reference can make directly from its own state.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.history import Event, ProduceAck, Read
from kafka_eos.reference.log import LogBatch
from kafka_eos.reference.node import BrokerNode
from kafka_eos.reference.txn_metadata import TransactionMetadata

OPEN_STATES = frozenset({TxnState.ONGOING, TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT})


@dataclass(frozen=True, slots=True)
class Violation:
    """Same shape as contract D's Violation: the property, what happened, the events."""

    property: str
    message: str
    events: tuple[object, ...] = ()


@dataclass(slots=True)
class _Seen:
    count: int  # batches below the high watermark
    last: LogBatch | None  # the last of them
    high_watermark: int
    last_stable_offset: int


class NodeInvariants:
    """Checked after every step; incremental, so a long run stays fast."""

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}  # by partition name (str hashes are cached)

    def check(self, node: BrokerNode) -> list[Violation]:
        out: list[Violation] = []
        for tp, partition in node.partitions.items():
            log = partition.log
            batches = log.batches
            name = log.name
            seen = self._seen.get(name)
            # only the replicated prefix is immutable: a new leader may truncate what was
            # above the high watermark (Kafka's truncation on a leader change)
            old = seen.count if seen else 0
            last = seen.last if seen else None
            changed = old and len(batches) >= old and batches[old - 1] is not last
            if len(batches) < old or (changed and batches[old - 1] != last):
                out.append(
                    Violation("logs_only_grow", f"{tp}: a replicated batch changed or vanished")
                )
            for index in range(max(old, 1), len(batches)):
                if batches[index].base_offset != batches[index - 1].last_offset + 1:
                    out.append(
                        Violation("offsets_contiguous", f"{tp}: gap before {batches[index]}")
                    )
            if old == 0 and batches and batches[0].base_offset != 0:
                out.append(Violation("offsets_contiguous", f"{tp}: first offset is not 0"))
            hw, lso, leo = log.high_watermark, partition.last_stable_offset, log.log_end_offset
            if not lso <= hw <= leo:
                out.append(Violation("lso_le_hw", f"{tp}: LSO {lso}, HW {hw}, log end {leo}"))
            if seen and (hw < seen.high_watermark or lso < seen.last_stable_offset):
                out.append(
                    Violation(
                        "lso_monotonic",
                        f"{tp}: HW {seen.high_watermark}->{hw}, "
                        f"LSO {seen.last_stable_offset}->{lso}",
                    )
                )
            durable = log.count_below(hw)
            self._seen[name] = _Seen(durable, batches[durable - 1] if durable else None, hw, lso)
        out += open_transactions_known(node)
        return out


def open_transactions_known(node: BrokerNode) -> list[Violation]:
    """Every transaction open on a partition is one the coordinator is still completing
    (else the partition's LSO is stuck forever: a hanging transaction)."""
    by_pid: dict[int, TransactionMetadata] = {}
    for metadata in node.txn_coordinator.transactions.values():
        by_pid[metadata.producer_id] = metadata
        if metadata.previous_producer_id >= 0:
            by_pid.setdefault(metadata.previous_producer_id, metadata)
    out = []
    for tp, partition in node.partitions.items():
        if tp.topic == "__transaction_state":
            continue
        for pid, entry in partition.producers.entries.items():
            if entry.current_txn_first_offset is None:
                continue
            owner = by_pid.get(pid)
            known = (
                owner is not None
                and (owner.state in OPEN_STATES or owner.pending_state in OPEN_STATES)
                and tp in owner.partitions
            )
            if not known:
                out.append(
                    Violation(
                        "open_transactions_known",
                        f"{tp}: producer {pid} has a transaction open since offset "
                        f"{entry.current_txn_first_offset} that the coordinator does not know "
                        "(a hanging transaction: the LSO cannot advance)",
                    )
                )
    return out


# --- checks of a finished run -------------------------------------------------------------------


def _outcomes(batches: list[LogBatch]) -> dict[int, bool | None]:
    """Base offset of each transactional data batch -> True (committed), False (aborted) or
    None (still open): the first marker of its producer after it decides."""
    outcome: dict[int, bool | None] = {}
    open_batches: dict[int, list[int]] = defaultdict(list)
    for batch in batches:
        if batch.is_control:
            for base in open_batches.pop(batch.producer_id, []):
                outcome[base] = batch.is_commit
        elif batch.is_transactional:
            open_batches[batch.producer_id].append(batch.base_offset)
            outcome[batch.base_offset] = None
    return outcome


def history_violations(
    events: list[Event], node: BrokerNode, *, in_order_clients: frozenset[str] = frozenset()
) -> list[Violation]:
    """``in_order_clients``: consumers that never seek back (their reads must be strictly
    increasing per partition)."""
    out: list[Violation] = []
    logs = {str(tp): p.log for tp, p in node.partitions.items() if not tp.topic.startswith("__")}
    outcomes = {name: _outcomes(log.batches) for name, log in logs.items()}
    # no_lost_acks: an acknowledged batch is in the log at the acknowledged offset.
    for event in events:
        if isinstance(event, ProduceAck) and event.error == "NONE":
            batch = logs[event.partition].batch_at(event.base_offset)
            if (
                batch is None
                or batch.base_offset != event.base_offset
                or tuple(batch.records) != tuple(event.records)
            ):
                out.append(
                    Violation(
                        "no_lost_acks",
                        f"lost write: {event.records} acknowledged at {event.partition}"
                        f"@{event.base_offset} but the log holds {batch}",
                        (event,),
                    )
                )
    # no_duplicates: one append per (producer, epoch, sequence); a value appears at most once
    # among the records a read_committed consumer may see.
    for name, log in logs.items():
        identities: dict[tuple[int, int, int], int] = {}
        values: dict[str, int] = {}
        for batch in log.batches:
            if batch.is_control:
                continue
            if batch.base_sequence >= 0:
                key = (batch.producer_id, batch.producer_epoch, batch.base_sequence)
                if key in identities:
                    out.append(
                        Violation(
                            "no_duplicates",
                            f"duplicate: {name} has producer {key[0]} epoch {key[1]} sequence "
                            f"{key[2]} at {identities[key]} and {batch.base_offset}",
                        )
                    )
                identities[key] = batch.base_offset
            if batch.is_transactional and outcomes[name].get(batch.base_offset) is not True:
                continue
            for index, value in enumerate(batch.records):
                if value in values:
                    out.append(
                        Violation(
                            "no_duplicates",
                            f"duplicate: {value!r} visible twice in {name} "
                            f"(offsets {values[value]} and {batch.base_offset + index})",
                        )
                    )
                values[value] = batch.base_offset + index
    # read_committed_no_aborted / in order: what a read_committed consumer returned.
    last_read: dict[tuple[str, str], int] = {}
    for event in events:
        if not isinstance(event, Read):
            continue
        reader = (event.client, event.partition)
        ordered = event.client in in_order_clients
        if ordered and reader in last_read and event.offset <= last_read[reader]:
            out.append(
                Violation(
                    "reads_in_offset_order",
                    f"{event.client} read {event.partition}@{event.offset} "
                    f"after @{last_read[reader]}",
                    (event,),
                )
            )
        last_read[reader] = event.offset
        batch = logs[event.partition].batch_at(event.offset)
        if batch is None or batch.is_control:
            out.append(Violation("reads_exist", f"{event} reads no data record", (event,)))
            continue
        value = batch.records[event.offset - batch.base_offset]
        if value != event.value:
            out.append(Violation("reads_exist", f"{event} but the log holds {value!r}", (event,)))
        if event.isolation == "read_committed" and batch.is_transactional:
            outcome = outcomes[event.partition].get(batch.base_offset)
            if outcome is not True:
                what = "aborted" if outcome is False else "still open"
                out.append(
                    Violation(
                        "read_committed_no_aborted",
                        f"aborted read: {event.client} read {event.value!r} of a {what} "
                        f"transaction at {event.partition}@{event.offset}",
                        (event,),
                    )
                )
    return out


def committed_values(node: BrokerNode, topic: str) -> list[str]:
    """Every value a read_committed consumer can see in ``topic``, in partition order."""
    values: list[str] = []
    for tp, partition in node.partitions.items():
        if tp.topic != topic:
            continue
        outcomes = _outcomes(partition.log.batches)
        for batch in partition.log.batches:
            if batch.is_control:
                continue
            if batch.is_transactional and outcomes.get(batch.base_offset) is not True:
                continue
            values.extend(batch.records)
    return values


def exactly_once_copy(
    node: BrokerNode, group_id: str, source_topic: str, sink_topic: str
) -> list[Violation]:
    """Consume-transform-produce: after the run settles, the committed input offsets and the
    committed outputs agree: every input below the committed offset has exactly one committed
    output ``f:<value>``, and no input at or above it has one."""
    outputs = committed_values(node, sink_topic)
    out = []
    counts: dict[str, int] = defaultdict(int)
    for value in outputs:
        counts[value] += 1
    for tp, partition in node.partitions.items():
        if tp.topic != source_topic:
            continue
        committed = node.group_coordinator.committed.get((group_id, tp), 0)
        for batch in partition.log.batches:
            if batch.is_control:
                continue
            for index, value in enumerate(batch.records):
                offset = batch.base_offset + index
                expected = 1 if offset < committed else 0
                if counts.get(f"f:{value}", 0) != expected:
                    out.append(
                        Violation(
                            "exactly_once_copy",
                            f"input {tp}@{offset} {value!r} (committed offset {committed}) has "
                            f"{counts.get(f'f:{value}', 0)} committed outputs, expected {expected}",
                        )
                    )
    return out


def settled_violations(node: BrokerNode) -> list[Violation]:
    """Once every transaction has ended: nothing is left open, so LSO == HW everywhere."""
    out = []
    for tp, partition in node.partitions.items():
        if tp.topic.startswith("__transaction_state"):
            continue
        if partition.last_stable_offset != partition.high_watermark:
            out.append(
                Violation(
                    "transactions_complete",
                    f"{tp}: LSO {partition.last_stable_offset} < HW {partition.high_watermark} "
                    "after every transaction ended (a hanging transaction)",
                )
            )
    return out
