"""Small hand-made histories for the history tests: one clean run, and builders."""

from __future__ import annotations

from kafka_eos.protocol.history import Append, Event, Marker, ProduceAck, Read, TxnEnd


def append(
    partition: str,
    offset: int,
    pid: int,
    seq: int,
    *records: str,
    epoch: int = 0,
    txn: bool = True,
) -> Append:
    return Append(partition, offset, pid, epoch, seq, tuple(records), txn)


def marker(partition: str, offset: int, pid: int, *, commit: bool, epoch: int = 0) -> Marker:
    return Marker(partition, offset, pid, epoch, commit, 0)


def ack(batch: Append, *, client: str = "producer", offset: int | None = None) -> ProduceAck:
    base = batch.base_offset if offset is None else offset
    return ProduceAck(
        client,
        batch.partition,
        batch.producer_id,
        batch.producer_epoch,
        batch.base_sequence,
        batch.records,
        "NONE",
        base,
    )


def end(pid: int, *, commit: bool, epoch: int = 0, client: str = "producer") -> TxnEnd:
    return TxnEnd(client, "tx", pid, epoch, commit, "NONE")


def read(
    partition: str, offset: int, value: str, *, committed: bool = True, client: str = "c"
) -> Read:
    isolation = "read_committed" if committed else "read_uncommitted"
    return Read(client, isolation, partition, offset, value)


def clean_history() -> list[Event]:
    """A transactional producer (pid 1) commits one transaction over two partitions and aborts
    one; an idempotent producer (pid 2) appends twice; a read_committed consumer reads what
    is visible, a read_uncommitted one reads the aborted record."""
    a1 = append("t-0", 0, 1, 0, "a", "b")
    a2 = append("t-1", 0, 1, 0, "c")
    a3 = append("t-0", 3, 1, 2, "d")
    x1 = append("t-0", 5, 2, 0, "x", txn=False)
    x2 = append("t-0", 6, 2, 1, "y", txn=False)
    return [
        a1,
        ack(a1),
        a2,
        ack(a2),
        end(1, commit=True),
        marker("t-0", 2, 1, commit=True),
        marker("t-1", 1, 1, commit=True),
        read("t-0", 0, "a"),
        read("t-0", 1, "b"),
        read("t-1", 0, "c"),
        a3,
        ack(a3),
        end(1, commit=False),
        marker("t-0", 4, 1, commit=False),
        x1,
        ack(x1),
        x2,
        ack(x2),
        read("t-0", 3, "d", committed=False, client="u"),
        read("t-0", 5, "x"),
        read("t-0", 6, "y"),
    ]


# --- the clean run with one thing wrong: each checker of histories is tested on the same ones ---


def with_aborted_read() -> list[Event]:
    """A read_committed consumer reads the aborted "d" (t-0@3, under the ABORT marker t-0@4)."""
    return [*clean_history(), read("t-0", 3, "d")]


def with_duplicate_append() -> list[Event]:
    """The retry of x2 (pid 2 seq 1) appended a second time, at t-0@7."""
    return [*clean_history(), append("t-0", 7, 2, 1, "y", txn=False)]


def with_torn_transaction() -> list[Event]:
    """pid 1's committed transaction has an ABORT marker on t-1 (its COMMIT on t-0 stays);
    the read of "c" on t-1 is dropped, so the history is not also an aborted read."""
    history = clean_history()
    history[6] = marker("t-1", 1, 1, commit=False)
    del history[9]
    return history


def with_dirty_read() -> list[Event]:
    """A read_committed read of t-0@0 before the COMMIT marker t-0@2 was written."""
    history = clean_history()
    history.insert(5, read("t-0", 0, "a"))
    return history


def with_read_above_open_transaction() -> list[Event]:
    """pid 3 opens a transaction at t-0@7 and never ends it; read_committed then reads the
    non-transactional "z" after it (t-0@8), above the last stable offset."""
    return [
        *clean_history(),
        append("t-0", 7, 3, 0, "open"),
        append("t-0", 8, 2, 2, "z", txn=False),
        read("t-0", 8, "z"),
    ]


def with_ack_at_another_offset() -> list[Event]:
    """x1, appended at t-0@5, acknowledged at t-0@9."""
    history = clean_history()
    history[15] = ack(history[14], offset=9)
    return history


def with_lost_ack() -> list[Event]:
    """An acknowledgement of a batch (pid 2 on t-1) that no append shows."""
    return [*clean_history(), ack(append("t-1", 2, 2, 0, "z", txn=False))]
