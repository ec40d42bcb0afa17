"""What a partition looks like from outside: high watermark, LSO, and each offset's fate.

These functions depend only on one partition tuple, and partitions repeat across millions of
model states, so the results are cached per partition value.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from .layout import (
    D_TRANSACTIONAL,
    E_TXN_FIRST,
    ENTRY_DATA,
    ENTRY_KIND,
    ENTRY_PID,
    P_ABORTED,
    P_LOG,
    P_PRODUCERS,
    P_REPLICATION,
    RS_HW,
    LogEntry,
    Partition,
)

#: The fate of one log offset as a read_committed consumer sees it.
VISIBLE: Final = 0
PENDING: Final = 1
ABORTED: Final = 2
CONTROL: Final = 3


def high_watermark(partition: Partition) -> int:
    """End of the log with a single replica (every append is immediately replicated); the
    leader's high watermark with more."""
    replication = partition[P_REPLICATION]
    return int(replication[RS_HW]) if replication else len(partition[P_LOG])


@lru_cache(maxsize=1 << 16)
def last_stable_offset(partition: Partition) -> int:
    """min(first offset of every open transaction, high watermark) (UnifiedLog's LSO). With
    replicas, a transaction whose marker is not below the high watermark yet still holds it
    (ProducerStateManager's unreplicatedTxns): the LSO is the first offset of the
    transactions open in the log below the high watermark."""
    if partition[P_REPLICATION]:
        return _replicated_lso(partition[P_LOG], high_watermark(partition))
    lso = len(partition[P_LOG])
    for entry in partition[P_PRODUCERS]:
        if entry and 0 <= entry[E_TXN_FIRST] < lso:
            lso = entry[E_TXN_FIRST]
    return lso


def _replicated_lso(log: tuple[LogEntry, ...], hw: int) -> int:
    first: dict[int, int] = {}
    for offset in range(hw):
        entry = log[offset]
        if entry[ENTRY_KIND] != ENTRY_DATA:
            first.pop(entry[ENTRY_PID], None)
        elif entry[D_TRANSACTIONAL] and entry[ENTRY_PID] not in first:
            first[entry[ENTRY_PID]] = offset
    return min((hw, *first.values()))


@lru_cache(maxsize=1 << 16)
def fates(partition: Partition) -> tuple[int, ...]:
    """One fate per offset: VISIBLE (a read_committed fetch returns it), PENDING (at or above
    the LSO), ABORTED (in the aborted-transaction index) or CONTROL (a marker)."""
    log = partition[P_LOG]
    aborted = partition[P_ABORTED]
    lso = last_stable_offset(partition)
    result = []
    for offset, entry in enumerate(log):
        if entry[ENTRY_KIND] != ENTRY_DATA:
            result.append(CONTROL)
        elif offset >= lso:
            result.append(PENDING)
        elif entry[D_TRANSACTIONAL] and any(
            pid == entry[ENTRY_PID] and first <= offset <= last for pid, first, last in aborted
        ):
            result.append(ABORTED)
        else:
            result.append(VISIBLE)
    return tuple(result)


@lru_cache(maxsize=1 << 16)
def fetch(partition: Partition, position: int, read_committed: bool) -> tuple[int, tuple[int, ...]]:
    """A Fetch from ``position``: (new position, offsets of the data records returned).

    read_committed reads up to the LSO and skips aborted data (the aborted transactions in the
    response); read_uncommitted reads up to the high watermark. Control records are never
    returned. (Cached: a Fetch is a quarter of the default check's transitions and a partition
    and position repeat across many states; one look-up hashes the partition once, where the
    LSO and the fates took a look-up each.)
    """
    if read_committed:
        limit = last_stable_offset(partition)
        kinds = fates(partition)
        returned = tuple(o for o in range(position, limit) if kinds[o] == VISIBLE)
    else:
        log = partition[P_LOG]
        limit = high_watermark(partition)
        returned = tuple(o for o in range(position, limit) if log[o][ENTRY_KIND] == ENTRY_DATA)
    return limit, returned
