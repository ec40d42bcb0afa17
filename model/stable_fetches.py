"""A Fetch of data no later step can change is taken before any other step.

The consumer's ``Fetch`` returns what its partition holds from the consumer's position up to
the last stable offset (read_committed) or the high watermark (read_uncommitted), and moves
the position there. When every record it would return is *stable* (see below), the Fetch
reads nothing any other step writes and writes nothing any other step reads (only the
properties read the consumer), and whatever the other processes do, the same Fetch stays
enabled and returns the same records: fetching now or after any other steps gives the same
consumer. So in a state where such a Fetch is enabled, the model offers that Fetch alone
(the first such partition's); the states where the consumer lags behind data it could already
have read stably are not explored (a priority, i.e. partial-order reduction with a
one-step ample set). Before, a quarter of the default check's transitions were Fetches, and
every "read it yet or not" multiplied the states of every other process.

Stable data (on a partition with one replica, whose log only grows): every transactional
data record in the range is followed in the log by a control record of its producer
(id slot), so its transaction is over here: the aborted-transaction index entry that covers it
(if any) is already written, a later ABORT of that producer covers only later offsets, and
the record's fate (returned or skipped) never changes. read_uncommitted returns every data
record whatever its fate. A replicated partition may truncate below its high watermark (an
unclean election), so its Fetches are never given priority.

Why no verdict is lost, although the properties read the consumer: each state reached with
a lagging consumer, ``(X, c)``, has a counterpart ``(X, c')`` reached with the same rest of
the state, where ``c'`` is ``c`` followed by the stable records it had not fetched yet (a
priority step never waits: it is taken in the state where it became enabled, and fetching in
one piece or in several returns the same offsets in the same order). Every property that
reads the consumer fails for ``c'`` if it fails for ``c`` (its violations are about records
already returned, positions already passed, or offsets polled so far, and ``c'`` keeps all of
those of ``c`` and only adds records at higher offsets): ``read_committed_no_aborted``,
``read_committed_in_order``, ``consumer_within_high_watermark`` and Elle's client-view
anomalies. Each ``(X, c')`` is a state of the full model too, so a violation found is real.
No action property reads the consumer, and a Fetch changes nothing else, so every other
step is explored from ``(X, c')`` as from ``(X, c)``. A state offering the priority Fetch is
never on a cycle (the position only grows), so no fair loop of the liveness check is lost.
``tests/model/test_stable_fetches.py`` checks that on named checks with and without
violations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import (
    D_TRANSACTIONAL,
    ENTRY_DATA,
    ENTRY_KIND,
    ENTRY_PID,
    P_LOG,
    P_REPLICATION,
    S_CONSUMER,
    S_PARTITIONS,
    Partition,
    Tup,
)
from .views import last_stable_offset

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

__all__ = ["stable_fetch"]


def stable_fetch(m: KafkaEosModel, state: Tup) -> tuple[int] | None:
    """The Fetch arguments ``(partition,)`` of the first partition whose Fetch would return
    only stable data (None when there is none)."""
    partitions = state[S_PARTITIONS]
    for part, (position, _) in enumerate(state[S_CONSUMER]):
        partition = partitions[part]
        # a cheap test first: nothing beyond the position to read
        if len(partition[P_LOG]) > position and _stable_beyond(m, partition, position):
            return (part,)
    return None


def _stable_beyond(m: KafkaEosModel, partition: Partition, position: int) -> bool:
    """Whether the partition has data a Fetch from ``position`` reads, all of it stable."""
    if partition[P_REPLICATION]:
        return False
    log = partition[P_LOG]
    if not m.read_committed:
        return True  # the whole log is below the high watermark, and it only grows
    limit = last_stable_offset(partition)
    if limit <= position:
        return False
    ended: set[int] = set()  # producers with a control record after the offset looked at
    for offset in range(len(log) - 1, position - 1, -1):
        entry = log[offset]
        if entry[ENTRY_KIND] != ENTRY_DATA:
            ended.add(entry[ENTRY_PID])
        elif offset < limit and entry[D_TRANSACTIONAL] and entry[ENTRY_PID] not in ended:
            return False
    return True
