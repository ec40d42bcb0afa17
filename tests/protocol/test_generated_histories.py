"""Precision: histories of a correct Kafka (generated here, at random) have no violation and
consistent ordering constraints. The hand-made tests show each anomaly is caught; these show
that nothing is flagged that Kafka allows: interleaved transactions, aborts, LSO blocking,
read_uncommitted reads of open and aborted data, sequences across the wrap."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kafka_eos.protocol.history import Append, Event, Marker, ProduceAck, Read, TxnEnd
from kafka_eos.protocol.history_checks import check_history
from kafka_eos.protocol.ordering import check_ordering
from kafka_eos.protocol.sequence import MAX_SEQUENCE, last_sequence, next_sequence

PARTITIONS = ("t-0", "t-1")
TXN_PIDS = (1, 2)
IDEMPOTENT_PID = 10
Step = tuple[Any, ...]


@dataclass
class Kafka:
    """A tiny correct broker + clients that writes the history of what it does."""

    start_sequence: int
    history: list[Event] = field(default_factory=list)
    log: dict[str, list[Append | Marker]] = field(
        default_factory=lambda: {p: [] for p in PARTITIONS}
    )
    next_seq: dict[tuple[str, int], int] = field(default_factory=dict)
    open_txn: dict[int, dict[str, int]] = field(default_factory=dict)  # pid -> partition -> first
    outcome: dict[tuple[str, int], bool | None] = field(
        default_factory=dict
    )  # (p, offset) -> commit
    position: dict[tuple[str, str], int] = field(default_factory=dict)
    values: int = 0

    def end_offset(self, partition: str) -> int:
        entries = self.log[partition]
        if not entries:
            return 0
        last = entries[-1]
        return last.last_offset + 1 if isinstance(last, Append) else last.offset + 1

    def append(self, partition: str, pid: int, count: int, *, txn: bool) -> None:
        seq = self.next_seq.get((partition, pid), self.start_sequence)
        records = tuple(f"v{self.values + i}" for i in range(count))
        self.values += count
        batch = Append(partition, self.end_offset(partition), pid, 0, seq, records, txn)
        self.log[partition].append(batch)
        self.next_seq[(partition, pid)] = next_sequence(last_sequence(seq, count), 1)
        self.history.append(batch)
        self.history.append(
            ProduceAck("client", partition, pid, 0, seq, records, "NONE", batch.base_offset)
        )
        if txn:
            self.open_txn.setdefault(pid, {}).setdefault(partition, batch.base_offset)
            for i in range(count):
                self.outcome[(partition, batch.base_offset + i)] = None

    def end_txn(self, pid: int, commit: bool) -> None:
        partitions = self.open_txn.pop(pid, {})
        if not partitions:
            return
        self.history.append(TxnEnd("client", "tx", pid, 0, commit, "NONE"))
        for partition in partitions:
            for (p, offset), state in list(self.outcome.items()):
                batch = self._batch_at(p, offset)
                if p == partition and state is None and batch.producer_id == pid:
                    self.outcome[(p, offset)] = commit
            marker = Marker(partition, self.end_offset(partition), pid, 0, commit, 0)
            self.log[partition].append(marker)
            self.history.append(marker)

    def _batch_at(self, partition: str, offset: int) -> Append:
        for entry in self.log[partition]:
            if isinstance(entry, Append) and entry.base_offset <= offset <= entry.last_offset:
                return entry
        raise AssertionError(offset)

    def lso(self, partition: str) -> int:
        firsts = [f[partition] for f in self.open_txn.values() if partition in f]
        return min(firsts, default=self.end_offset(partition))

    def read(self, partition: str, *, committed: bool) -> None:
        client = "rc" if committed else "ru"
        limit = self.lso(partition) if committed else self.end_offset(partition)
        offset = self.position.get((client, partition), 0)
        while offset < limit:
            offset += 1
            try:
                batch = self._batch_at(partition, offset - 1)
            except AssertionError:
                continue  # a marker
            if committed and self.outcome.get((partition, offset - 1), True) is False:
                continue  # aborted: skipped by read_committed
            value = batch.records[offset - 1 - batch.base_offset]
            isolation = "read_committed" if committed else "read_uncommitted"
            self.history.append(Read(client, isolation, partition, offset - 1, value))
            break
        self.position[(client, partition)] = offset


actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("txn_append"),
            st.sampled_from(TXN_PIDS),
            st.sampled_from(PARTITIONS),
            st.integers(1, 3),
        ),
        st.tuples(st.just("end"), st.sampled_from(TXN_PIDS), st.booleans()),
        st.tuples(st.just("idempotent"), st.sampled_from(PARTITIONS), st.integers(1, 3)),
        st.tuples(st.just("read"), st.sampled_from(PARTITIONS), st.booleans()),
    ),
    max_size=40,
)


def run(steps: list[Step], start_sequence: int) -> list[Event]:
    kafka = Kafka(start_sequence)
    for step in steps:
        if step[0] == "txn_append":
            kafka.append(step[2], step[1], step[3], txn=True)
        elif step[0] == "end":
            kafka.end_txn(step[1], step[2])
        elif step[0] == "idempotent":
            kafka.append(step[1], IDEMPOTENT_PID, step[2], txn=False)
        else:
            kafka.read(step[1], committed=step[2])
    return kafka.history


@given(actions, st.sampled_from([0, MAX_SEQUENCE - 4, MAX_SEQUENCE]))
def test_histories_of_a_correct_kafka_pass(steps: list[Step], start: int) -> None:
    history = run(steps, start)
    assert check_history(history) == []
    result = check_ordering(history)
    assert result.consistent, result.lines()


@given(actions)
def test_a_commit_marker_turned_into_an_abort_is_caught(steps: list[Step]) -> None:
    history = run(steps, 0)
    commits = [i for i, e in enumerate(history) if isinstance(e, Marker) and e.commit]
    if not commits:
        return
    i = commits[0]
    marker = history[i]
    assert isinstance(marker, Marker)
    history[i] = Marker(marker.partition, marker.offset, marker.producer_id, 0, False, 0)
    # the client's EndTxn(commit) was answered NONE: the abort tears or loses the transaction
    assert "atomic_transactions" in {v.property for v in check_history(history)}
    result = check_ordering(history)
    assert not result.consistent
    assert any(c.kind == "transaction_outcome" for c in result.core) or any(
        c.kind == "read_committed_visibility" for c in result.core
    )
