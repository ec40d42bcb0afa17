"""The consumer: a Fetch of everything from its position up to the last stable offset
(read_committed: aborted data skipped, using the aborted transactions of the response) or the
high watermark (read_uncommitted); control records are never returned.

Kafka: ``KafkaConsumer`` with ``isolation.level``, ``FetchResponse.abortedTransactions``,
``CompletedFetch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .layout import (
    E_TXN_FIRST,
    P_LOG,
    P_PRODUCERS,
    P_REPLICATION,
    S_CONSUMER,
    S_PARTITIONS,
    Tup,
    replace,
)
from .registry import Action, Step, Touches
from .views import fetch, high_watermark, last_stable_offset

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


def fetchable(m: KafkaEosModel, state: Tup) -> tuple[tuple[int], ...]:
    """A partition with something new below the LSO (read_committed) or the high watermark
    (a cheap bound first: the log end, or the first offset of an open transaction).
    Remembered per partitions and consumer (all it reads): it is asked on most states."""
    found: tuple[tuple[int], ...] = m.by_partitions_and_consumer(
        m.fetchables_found, state, _fetchable
    )
    return found


def _fetchable(m: KafkaEosModel, state: Tup) -> tuple[tuple[int], ...]:
    partitions = state[S_PARTITIONS]
    found = []
    for part, (position, _) in enumerate(state[S_CONSUMER]):
        partition = partitions[part]
        if partition[P_REPLICATION]:
            # below the high watermark only (a record above it may yet be truncated)
            limit = last_stable_offset(partition) if m.read_committed else high_watermark(partition)
            if limit > position:
                found.append((part,))
            continue
        limit = len(partition[P_LOG])
        if m.read_committed:
            for entry in partition[P_PRODUCERS]:
                if entry and 0 <= entry[E_TXN_FIRST] < limit:
                    limit = entry[E_TXN_FIRST]
        if limit > position:
            found.append((part,))
    return tuple(found)


def fetch_records(m: KafkaEosModel, state: Tup, args: tuple[int]) -> tuple[Step, Tup]:
    """The consumer's position moves to the limit; the records returned are delivered."""
    (part,) = args
    consumer = state[S_CONSUMER]
    position, delivered = consumer[part]
    limit, returned = fetch(state[S_PARTITIONS][part], position, m.read_committed)
    new_consumer = replace(consumer, part, (limit, delivered + returned))
    step = Step(("Fetch", (m.partition_names[part], position, limit, returned)))
    return step, replace(state, S_CONSUMER, new_consumer)


def _show_fetch(args: tuple[Any, ...]) -> str:
    partition, position, limit, returned = args
    return f"{partition},{position}..{limit}" + "".join(f",o{o}" for o in returned)


CONSUMER_ACTIONS = (
    Action(
        name="Fetch",
        touches=Touches(
            reads=("partition",),
            writes=("own",),
        ),
        role="consumer",
        kafka="KafkaConsumer.poll (Fetch, CompletedFetch)",
        params=("partition", "position", "limit", "offsets"),
        trigger="state",
        needs=("consumer",),
        guard=fetchable,
        effect=fetch_records,
        show=_show_fetch,
    ),
)
