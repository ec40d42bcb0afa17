"""The visited set as 64-bit fingerprints: about 25-35 bytes per state, parent links included.

The plain store (bfs.py) is a dict state -> parent state: 350-450 bytes a Kafka state. This
one keeps, per state, its fingerprint twice and its parent once, in three flat arrays:

- ``table``: an open-addressing hash table of fingerprints (linear probing, 0 = empty, at most
  3/4 full, so 10.7-21 bytes a state);
- ``fingerprints``: state number -> fingerprint (8 bytes), states numbered in the order they
  are stored;
- ``parents``: state number -> the number of the state it was first reached from (4 bytes;
  ``NO_PARENT`` for an initial state).

The breadth-first search expands states in the order it stores them, so the parent of a new
state is the state being expanded: :meth:`FingerprintStore.expanding` wraps the successor
function to count expansions. A counterexample is rebuilt as TLC does: follow the parent
numbers to an initial state, then re-execute the model from an initial state with the first
fingerprint, at each step taking a successor whose fingerprint is the next one.

The store behaves like the plain dict where the search touches it (``state in store``,
``store[state] = parent``, ``len(store)``), so the search loop is the same for both.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from typing import Any

from kafka_eos.errors import InputError

from .fingerprint import fingerprint
from .graph import NO_PARENT, GraphParents
from .interface import BoundModel, ModelError, short_repr

STORES = ("auto", "states", "fingerprints")
# The "auto" store keeps states (fastest) up to this many, then fingerprints once the process
# holds its share of memory (memory.py): a million Kafka states are about 200-500 MB as a dict
# (their parts shared) and 30-36 MB as fingerprints.
AUTO_FINGERPRINTS_AFTER = 1_000_000
# A check with temporal properties switches later: its graph of the states is joined by then
# with every temporal predicate evaluated on each state (what a graph by number records), a
# cost a check of about a million states is spared (the former default with a coordinator
# failover has 1,036,518).
AUTO_FINGERPRINTS_WITH_GRAPH_AFTER = 2_000_000
_INITIAL_CAPACITY = 1 << 6
Successors = Callable[[Any], Iterable[tuple[str, Any]]]


class FingerprintStore:
    """Fingerprints of the stored states and each one's parent, in flat arrays."""

    __slots__ = ("_limit", "_mask", "_pending", "_slot", "expanded", "fingerprints", "parents",
                 "slot_numbers", "table")

    def __init__(self, capacity: int = _INITIAL_CAPACITY, *, parent_code: str = "I",
                 numbered: bool = False) -> None:
        size = _INITIAL_CAPACITY
        while size * 3 // 4 < capacity:
            size *= 2
        self.table = array("Q", [0]) * size
        # With ``numbered``, each slot's state number too (4 bytes a slot): a graph recorded
        # by number needs the number of every successor, new or found (graph_shares.py).
        self.slot_numbers = array("I", [0]) * size if numbered else None
        self._mask = size - 1
        self._limit = size * 3 // 4
        self.fingerprints = array("Q")
        # Parent numbers (uint32), or parent fingerprints ("Q") when states are spread over
        # several stores (parallel.py).
        self.parents = array(parent_code)
        self.expanded = -1  # the number of the state being expanded
        self._pending = 0  # the fingerprint and free slot of the last state looked up
        self._slot = 0

    def __len__(self) -> int:
        return len(self.fingerprints)

    @property
    def last_fingerprint(self) -> int:
        """The fingerprint of the state last looked up (``state in store``)."""
        return self._pending

    def last_number(self) -> int:
        """The number of the state last looked up, which was found (a numbered store)."""
        assert self.slot_numbers is not None
        return self.slot_numbers[self._slot]

    def __contains__(self, state: Any) -> bool:
        fp = self._pending = fingerprint(state)
        table, mask = self.table, self._mask
        slot = fp & mask
        while True:
            held = table[slot]
            if held == fp:
                self._slot = slot
                return True
            if not held:
                self._slot = slot
                return False
            slot = (slot + 1) & mask

    def __setitem__(self, state: Any, parent: Any) -> None:
        """Store ``state`` (just looked up and not found), reached from the state expanded."""
        self.table[self._slot] = self._pending
        if self.slot_numbers is not None:
            self.slot_numbers[self._slot] = len(self.fingerprints)
        self.fingerprints.append(self._pending)
        self.parents.append(NO_PARENT if parent is None else self.expanded)
        if len(self.fingerprints) > self._limit:
            self._grow()

    def setdefault(self, state: Any, parent: Any) -> None:
        """Store ``state`` reached from the state expanded, unless it is stored already (as
        dict.setdefault does for the plain store; the search reads ``len`` to tell)."""
        if state not in self:
            self[state] = parent

    def has(self, fp: int) -> bool:
        """Whether the fingerprint ``fp`` is stored."""
        table, mask = self.table, self._mask
        slot = fp & mask
        while (held := table[slot]) != fp:
            if not held:
                return False
            slot = (slot + 1) & mask
        return True

    def add(self, fp: int, parent_number: int) -> bool:
        """Store the fingerprint ``fp`` with its parent's number; False if already stored."""
        table, mask = self.table, self._mask
        slot = fp & mask
        while (held := table[slot]) != fp:
            if not held:
                table[slot] = fp
                if self.slot_numbers is not None:
                    self.slot_numbers[slot] = len(self.fingerprints)
                self.fingerprints.append(fp)
                self.parents.append(parent_number)
                if len(self.fingerprints) > self._limit:
                    self._grow()
                return True
            slot = (slot + 1) & mask
        return False

    def _grow(self) -> None:
        size = len(self.table) * 2
        table = array("Q", [0]) * size
        numbers = None if self.slot_numbers is None else array("I", [0]) * size
        mask = size - 1
        for number, fp in enumerate(self.fingerprints):
            slot = fp & mask
            while table[slot]:
                slot = (slot + 1) & mask
            table[slot] = fp
            if numbers is not None:
                numbers[slot] = number
        self.table, self._mask, self._limit = table, mask, size * 3 // 4
        self.slot_numbers = numbers

    def expanding(self, successors_of: Successors) -> Callable[[Any], Iterable[tuple[str, Any]]]:
        """``successors_of``, counting expansions so new states know their parent's number."""

        def counted(state: Any) -> Iterable[tuple[str, Any]]:
            self.expanded += 1
            return successors_of(state)

        return counted

    def nbytes(self) -> int:
        arrays = (self.table, self.fingerprints, self.parents, self.slot_numbers or array("I"))
        return sum(a.itemsize * len(a) for a in arrays)

    def path_fingerprints(self, state: Any) -> list[int]:
        """The fingerprints from an initial state to the stored ``state``."""
        number = self.fingerprints.index(fingerprint(state))
        path = [self.fingerprints[number]]
        while (number := self.parents[number]) != NO_PARENT:
            path.append(self.fingerprints[number])
        path.reverse()
        return path

    def path_to(self, bound: BoundModel, state: Any) -> list[Any]:
        """The stored states (representatives) from an initial state to ``state``."""
        return rebuild_path(bound, self.path_fingerprints(state))

    @classmethod
    def from_dict(cls, parent: dict[Any, Any] | GraphParents, expanded: int, *,
                  numbered: bool = False) -> FingerprintStore:
        """The plain store ``parent`` (state -> parent state, or a graph's parent links) as
        fingerprints, the states numbered in the order they were stored.

        ``expanded`` is the number of states the search has expanded so far.
        """
        store = cls(len(parent), numbered=numbered)
        for state, source in _numbered_links(parent):
            if not store.add(fingerprint(state), source):
                raise InputError(
                    f"two distinct states share a fingerprint: {short_repr(state)}; "
                    "use --store states"
                )
        store.expanded = expanded - 1
        return store


def _numbered_links(parent: dict[Any, Any] | GraphParents) -> Iterable[tuple[Any, int]]:
    """Each stored state with its parent's number (NO_PARENT for an initial state)."""
    if isinstance(parent, GraphParents):
        yield from parent.numbered_items()
        return
    numbers: dict[Any, int] = {}
    for number, (state, source) in enumerate(parent.items()):
        numbers[state] = number
        yield state, NO_PARENT if source is None else numbers[source]


def store_kind(value: object) -> str:
    """``value`` checked as the ``store`` option."""
    if value not in STORES:
        raise InputError(f"store must be one of {', '.join(STORES)}, got {value!r}")
    return str(value)


def rebuild_path(bound: BoundModel, fingerprints: list[int]) -> list[Any]:
    """Re-execute the model along ``fingerprints``: the representatives of the path's states."""
    canon: Callable[[Any], Any] = bound.canonical or _identity
    current = next(
        (canon(s) for s in bound.init_states() if fingerprint(canon(s)) == fingerprints[0]), None
    )
    if current is None:
        raise not_replayable(bound, "no initial state has the first fingerprint of the path")
    path = [current]
    for wanted in fingerprints[1:]:
        current = next(
            (t for _, t in _represented(bound, current, canon) if fingerprint(t) == wanted), None
        )
        if current is None:
            raise not_replayable(
                bound, f"no successor of {short_repr(path[-1])} has the next fingerprint"
            )
        path.append(current)
    return path


def _represented(bound: BoundModel, state: Any, canon: Callable[[Any], Any]) -> list[Any]:
    return [(label, canon(target)) for label, target in bound.actions(state)]


def _identity(state: Any) -> Any:
    return state


def not_replayable(bound: BoundModel, what: str) -> ModelError:
    """The error for a path of stored fingerprints or discovery keys (kept_owner.py) along
    which the model, re-executed, does not go where it went the first time."""
    return ModelError(
        f"{bound.name} could not be re-executed along the stored path: {what}; init_states() "
        "and actions() must return the same steps in the same order each time (one process "
        "keeping its states, --store states without --workers, does not re-execute)"
    )
