"""Discovery keys: the order in which the one-process search would store a depth's states.

Workers (parallel.py) each expand a share of a depth; to give the sequential search's results
every state carries its discovery key. The j-th successor of the state of rank r (its
position among all workers' states of its depth, by key) has key ``base + r * STRIDE + j + 1``,
where ``base`` is the depth's own (0 for the workers that number each depth afresh); slot 0 of
a state is its action-property event and slot ``LAST`` its deadlock event. Sorted by key, a
depth's states are in the order the sequential search stores them. A state's rank is worked
out by ranks.py from every worker's sorted keys.
"""

from __future__ import annotations

from typing import Any

# A key is rank * STRIDE + slot (plus the depth's base): slot 0 is the state's action-property
# event, 1..STRIDE-2 its successors in order, STRIDE-1 its deadlock event. Keys fit in 64 bits
# below 2**40 states a depth, so they travel as array("Q").
STRIDE = 1 << 24
LAST = STRIDE - 1

Event = tuple[int, str, str, bytes, Any]  # key, kind, name, state, (label, target)
# This depth's answer of a worker: new states, its first event, its smallest new key, and its
# new states' keys, sorted, as array("Q") bytes.
Received = tuple[int, Event | None, int | None, bytes]


def sort_by_key(entries: list[Any]) -> None:
    """Sorts a worker's (key, ...) entries by their key. No two entries of a depth share a
    key, so the tuples themselves are sorted: their first items decide, and Python's sort
    then compares the keys as machine integers, with no key function called per entry."""
    entries.sort()


def earlier(first: Event | None, event: Event) -> Event:
    """Of two events, the one the sequential search meets first."""
    return event if first is None or event[0] < first[0] else first
