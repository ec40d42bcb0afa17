"""One worker's share of a search that keeps its states: the states themselves, no fingerprints.

The workers of parallel.py that keep fingerprints take a 64-bit fingerprint of every successor
(to store it, to look it up, to say which worker owns it) and a parent fingerprint per state.
A worker that keeps its states instead does what one process keeping its states does: one
look-up of the successor itself in a dict (``setdefault``: one hash, stored if new). Only the
parts that decide the owner are fingerprinted (by identity, see ownership.py), and no parent is
stored at all: a state's discovery key (discovery.py) already names it, as the ``slot``-th
successor of the state of rank ``(key - base) // STRIDE`` at the depth before, so a
counterexample is rebuilt from the depths' sorted keys by re-executing the model along the
slots (:func:`path_by_keys`).

Keys here are increasing across depths, not only within one: a depth's ``base`` is one past
the largest key of the depth before. So the key a state was stored with says whether it was
stored at this depth (``key >= base``): a state another worker reached with a smaller key at
this depth takes that key (and so its parent), as in the sequential search, and one stored
at an earlier depth is left alone.

Successors owned by another worker travel as their keys and parts; each part's bytes go once an
outbox, found by identity (a step leaves most parts the same objects, see :class:`PartsOutbox`).

With ``store="auto"`` a worker goes over to fingerprints as one process does (memory.py): at
the end of a depth, once it holds its share of the states past the threshold and more than its
share of the memory ``auto`` allows, it keeps the states of the depths done as 64-bit
fingerprints (store.py's table, about 25 bytes a state) and goes on looking successors up by
fingerprint; this depth's are still a dict (by fingerprint), for the keys. Paths, keys and
results do not change.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from typing import Any

from kafka_eos.errors import InputError

from . import bfs
from .collector import Collector
from .discovery import LAST, STRIDE, Event, Received, earlier, sort_by_key
from .fingerprint import by_parts, fingerprint
from .interface import (
    BoundModel,
    first_broken_invariant,
    reraise_explained,
    short_repr,
)
from .memory import auto_memory_budget, resident_bytes
from .ownership import Ownership
from .ranks import ranks
from .store import AUTO_FINGERPRINTS_AFTER, FingerprintStore, _identity, not_replayable
from .transfer import (
    NOT_A_TUPLE,
    REFUSED,
    VOUCHED,
    PartRuns,
    SentParts,
    decoded,
    first_broken_given,
    packed_runs,
    read_array,
    state_bytes,
    verdict,
)


class PartsOutbox:
    """Successors for one other worker: their keys, and their parts' numbers.

    A state made of parts (fingerprint.by_parts) travels as its parts' numbers; any other state
    is one part, itself. A part gets its number, and its bytes are written, the first time a
    state sent to that worker has it (``book``, kept for the whole search; see transfer.py):
    found by identity, as successors share most parts with each other as objects (an equal
    part that is another object is written again: only bytes are lost). Each state also
    carries what the sender's fast path for the invariants said of its step (transfer.py's
    ``verdict``): the receiver, which has no parent to compare it with, checks every
    invariant only on a new state the sender could not vouch for. Packed, an outbox is flat
    arrays and the new parts' bytes joined."""

    __slots__ = ("book", "chunks", "counts", "first", "keys", "places", "verdicts")

    def __init__(self, book: SentParts) -> None:
        self.keys: list[int] = []
        self.verdicts = bytearray()  # each state's
        self.counts: list[int] = []  # each state's parts, or NOT_A_TUPLE
        self.places: list[int] = []  # the states' parts' numbers, one state after another
        self.book = book  # id(part) -> its number; the parts held alive while it is kept
        self.first = book.first_new()
        self.chunks: list[bytes] = []  # the new parts' bytes, numbered from ``first`` on

    def add(self, key: int, state: Any, verdict: int) -> None:
        self.keys.append(key)
        self.verdicts.append(verdict)
        places = self.places
        if by_parts(state):
            self.counts.append(len(state))
            for part in state:
                places.append(self._number(part))
        else:
            self.counts.append(NOT_A_TUPLE)
            places.append(self._number(state))

    def _number(self, part: Any) -> int:
        book = self.book
        number = book.numbers.get(id(part))
        if number is None:
            number = book.numbers[id(part)] = self.first + len(self.chunks)
            book.held.append(part)
            self.chunks.append(state_bytes(part))
        return number

    def packed(self) -> bytes:
        if not self.keys:
            return b""
        chunks = self.chunks
        return b"".join((
            array("Q", [len(self.keys), len(self.places), len(chunks)]).tobytes(),
            array("Q", self.keys).tobytes(),
            *packed_runs(self.first, self.counts, self.verdicts, self.places, chunks),
        ))


class PartsInbox(PartRuns):
    """A packed :class:`PartsOutbox`, read: its keys, and each state built from parts decoded
    once (its references are the parts' numbers, ``book`` the parts from that sender)."""

    __slots__ = ("keys",)

    def __init__(self, blob: bytes, book: list[Any]) -> None:
        if not blob:
            self.keys = array("Q")
            super().__init__(blob, 0, 0, 0, 0, book)
            return
        count, places, chunks = array("Q", blob[:24])
        self.keys, at = read_array(blob, "Q", 24, count)
        super().__init__(blob, at, count, places, chunks, book)


class KeptOwner:
    """One worker's share of the search: the states it owns, kept and expanded.

    The same commands as parallel._Owner (begin, expand, receive, count_before, figures), and
    ``depth_keys`` for counterexamples instead of parent fingerprints."""

    def __init__(self, bound: BoundModel, me: int, workers: int, *, deadlock: bool,
                 auto: bool = False) -> None:
        self.bound, self.me, self.workers, self.deadlock = bound, me, workers, deadlock
        # every state this worker owns -> its key; once gone over to fingerprints, only this
        # depth's, by fingerprint, and the earlier ones' fingerprints in ``older``
        self.seen: dict[Any, int] = {}
        self.older: FingerprintStore | None = None
        # ``auto``: past this many states and this much memory, over to fingerprints
        self.switch_after = AUTO_FINGERPRINTS_AFTER // workers if auto else None
        self.memory_share = auto_memory_budget() // workers
        self.frontier: list[tuple[int, Any]] = []  # this depth's states, by key
        self.reached: list[tuple[int, Any]] = []  # the next depth's, reached here, by key
        self.breaking: list[Any] = []  # of those, the ones the invariants' fast path refused
        self.depth_keys: list[bytes] = []  # each depth's keys of the states owned here, sorted
        self.base = 0  # the smallest key the next depth's states can have
        self.counts: dict[Any, int] = {}
        self.transfer_seconds = 0.0
        # states sent to other workers at the last depth (fingerprints, once gone over)
        self.sent: set[Any] = set()
        # the parts sent to each other worker, and read from each, by number (transfer.py)
        self.sent_parts = [SentParts() for _ in range(workers)]
        self.read_parts: list[list[Any]] = [[] for _ in range(workers)]
        self.collector, self.depth = Collector(), 0
        self.successors_of: Callable[[Any], Any] = bfs._successors(bound)
        # a state decoded here made of the model's own objects (interface.py: intern)
        self.intern: Callable[[Any], Any] = bound.intern or _identity
        self.ownership = Ownership(workers)

    def begin(self, initial: list[tuple[int, bytes, int]], owning_parts: tuple[int, ...]) -> None:
        """Take this worker's initial states: (key, bytes, fingerprint), in key order (the
        fingerprint is the other workers'), and the parts that say which worker owns a state."""
        self.ownership = Ownership(self.workers, owning_parts)
        for key, data, _ in initial:
            state = self.intern(decoded(data))
            self.seen[state] = key
            self.frontier.append((key, state))
        self.depth_keys.append(array("Q", [key for key, _ in self.frontier]).tobytes())

    def expand(self, sorted_keys: list[bytes]) -> tuple[list[bytes], Event | None]:
        """Expand the frontier; the packed outboxes (empty for this worker) and the first
        event. ``sorted_keys`` holds every worker's frontier keys, to rank this worker's."""
        # Methods are called on their objects, not through bound-method aliases: compiled,
        # a call on a dict, set, list or compiled class is a direct C call, an alias's goes
        # through Python's calling convention.
        me, seen, counts = self.me, self.seen, self.counts
        outboxes = [PartsOutbox(book) for book in self.sent_parts]
        # States sent to another worker at this depth or the one before: stored there by now
        # or, at this depth, sent with a smaller key (the frontier is in key order).
        earlier_sent, sent = self.sent, set[Any]()
        self.sent = sent
        base = self.base = next_base(sorted_keys)
        reached: list[tuple[int, Any]] = []
        self.reached = reached
        breaking: list[Any] = []
        self.breaking = breaking
        holds = self._invariants_hold_after()
        fast_path = self.bound.invariants_hold_after
        ownership, older = self.ownership, self.older
        first: Event | None = None
        for rank, (_, state) in zip(ranks(sorted_keys, me), self.frontier, strict=True):
            at = base + rank * STRIDE
            try:
                steps = self.successors_of(state)
            except bfs._PropertyBroken as broken:
                name, _, label, target = broken.args
                first = earlier(first, (at, "action_property", name, state_bytes(state),
                                        (label, target)))
                continue
            except Exception as exc:
                reraise_explained(self.bound, state, exc)
            slot = 0
            for label, target in steps:
                slot += 1
                counts[label] = counts.get(label, 0) + 1
                # this worker owns ``state``: a successor that keeps its owning parts is ours
                owner = (me if ownership.keeps_owner(state, target)
                         else ownership.owner_of_state(target))
                known = target if older is None else fingerprint(target)
                if owner == me:
                    if older is not None and older.has(known):
                        continue
                    size = len(seen)
                    key = at + slot
                    seen.setdefault(known, key)  # one hash: looked up, and stored if new
                    if len(seen) != size:
                        reached.append((key, target))
                        if not holds(state, label, target):
                            breaking.append(target)
                else:
                    size = len(sent)
                    sent.add(known)  # one hash: looked up, and marked if new
                    if len(sent) != size and known not in earlier_sent:
                        outboxes[owner].add(at + slot, target,
                                            verdict(fast_path, state, label, target))
            if slot >= LAST:
                raise InputError(f"{self.bound.name}.actions() gave {slot} successors of one "
                                 f"state: workers take at most {LAST - 1}")
            if not slot and self.deadlock:
                first = earlier(first, (at + LAST, "deadlock", "deadlock", state_bytes(state),
                                        None))
        started = time.process_time()  # CPU: the machine may be shared
        blobs = [b"" if owner == me else box.packed() for owner, box in enumerate(outboxes)]
        self.transfer_seconds += time.process_time() - started
        return blobs, first

    def _invariants_hold_after(self) -> Callable[[Any, Any, Any], object]:
        """Whether a step's new state keeps every invariant: the model's fast path, which
        compares the step's states object by object, else every invariant."""
        bound = self.bound
        if bound.invariants_hold_after is not None:
            return bound.invariants_hold_after

        def hold(state: Any, label: Any, target: Any) -> bool:
            return first_broken_invariant(bound, target) is None
        return hold

    def receive(self, inboxes: list[bytes], *, check: bool) -> Received:
        """Take the other workers' successors; store this depth's new states and check them."""
        seen, intern, older = self.seen, self.intern, self.older
        started = time.process_time()
        arrived: list[tuple[int, Any]] = []  # reached by other workers only, so far
        doubted: list[tuple[Any, int]] = []  # of those, the ones not vouched for: verdicts
        # a key of this depth -> the smaller one another worker reached the same state with
        moved: dict[int, int] = {}
        senders = [other for other in range(self.workers) if other != self.me]
        for sender, blob in zip(senders, inboxes, strict=True):
            inbox = PartsInbox(blob, self.read_parts[sender])
            for index, key in enumerate(inbox.keys):
                built = inbox.state(index)
                state = intern(built)
                if state is not built:  # a part was new here: the interned ones stand for it
                    inbox.adopt(index, state)
                found = state if older is None else fingerprint(state)
                if older is not None and older.has(found):
                    continue
                size = len(seen)
                known = seen.setdefault(found, key)
                if len(seen) != size:
                    arrived.append((key, state))
                    if (said := inbox.verdicts[index]) != VOUCHED:
                        doubted.append((state, said))
                elif key < known:  # stored at this depth (earlier ones' keys are smaller)
                    seen[found] = moved[known] = key
            inbox.close()
        self.transfer_seconds += time.process_time() - started
        frontier = self.reached + arrived
        if moved:
            to = moved.get
            for key in moved:  # each key straight to the last it moved to
                moved[key] = _moved_to(moved, key)
            frontier = [(to(key, key), state) for key, state in frontier]
        sort_by_key(frontier)
        first = self._first_broken(doubted) if check else None
        self.frontier, self.reached, self.breaking = frontier, [], []
        self.depth += 1
        self.collector.depth_done(self.depth)
        keys = array("Q", [key for key, _ in frontier])
        self.depth_keys.append(keys.tobytes())
        self._depth_stored()
        return len(frontier), first, keys[0] if keys else None, keys.tobytes()

    def _depth_stored(self) -> None:
        """Once fingerprinted, the depth just stored joins the earlier ones' fingerprints;
        with ``auto``, go over to fingerprints if the time has come."""
        if self.older is not None:
            for fp in self.seen:
                self.older.add(fp, 0)
            self.seen = {}
        elif (self.switch_after is not None and len(self.seen) >= self.switch_after
              and resident_bytes() > self.memory_share):
            self.to_fingerprints()

    def to_fingerprints(self) -> None:
        """Keep the states stored so far as fingerprints from now on."""
        older = FingerprintStore(len(self.seen), parent_code="B")
        for state in self.seen:
            if not older.add(fingerprint(state), 0):
                raise InputError(f"two distinct states share a fingerprint: {short_repr(state)};"
                                 " use --store states")
        self.older, self.seen = older, {}

    def _first_broken(self, doubted: list[tuple[Any, int]]) -> Event | None:
        """The first new state to break an invariant, of those the fast path refused or could
        not say (it compares a step's states object by object, so only the process that took
        the step can ask it): those reached here that it refused, and ``doubted``, those only
        other workers reached that theirs did not vouch for, with what it said."""
        first: Event | None = None
        refused = [(state, REFUSED) for state in self.breaking]
        for state, said in refused + doubted:
            if (name := first_broken_given(self.bound, state, said)) is not None:
                first = earlier(first, (self.seen[self._found_as(state)], "invariant", name,
                                        state_bytes(state), None))
        return first

    def _found_as(self, state: Any) -> Any:
        """What ``seen`` holds ``state`` as: itself, or its fingerprint."""
        return state if self.older is None else fingerprint(state)

    def count_before(self, key: int, inclusive: bool) -> int:
        return sum(1 for k, _ in self.frontier if k < key or (inclusive and k == key))

    def figures(self) -> tuple[dict[Any, int], int, float, float]:
        """Coverage counts, the bytes of fingerprints held (0 keeping states), seconds spent
        sending and receiving, and CPU seconds."""
        held = 0 if self.older is None else self.older.nbytes()
        return self.counts, held, self.transfer_seconds, time.process_time()


def next_base(sorted_keys: list[bytes]) -> int:
    """The smallest key the next depth can have: one past the largest of this depth's."""
    last = [array("Q", blob[-8:])[0] for blob in sorted_keys if blob]
    return max(last) + 1 if last else 0


def _moved_to(moved: dict[int, int], key: int) -> int:
    while key in moved:
        key = moved[key]
    return key


def path_by_keys(bound: BoundModel, initial: list[Any], levels: list[list[bytes]],
                 depth: int, key: int, end: Any) -> list[Any]:
    """The path to ``end``, rebuilt from every worker's sorted keys of each depth
    (``levels[j]``: array("Q") bytes, one per worker). ``key`` is a key of ``depth``: the
    state's own (at depth 0 its position in ``initial``), or the event of a state of the depth
    before (slot 0 or ``LAST``: the path then ends at that state).

    Going back, a key names its parent's rank and its own slot; going forward, the model is
    re-executed along the slots from the initial state."""
    merged = [sorted(k for blob in level for k in array("Q", blob)) for level in levels[:depth]]
    slots: list[int] = []
    while depth > 0:
        rank, slot = divmod(key - (merged[depth - 1][-1] + 1), STRIDE)
        if slot not in (0, LAST):
            slots.append(slot)
        depth -= 1
        key = merged[depth][rank]
    state = initial[key]
    path = [state]
    successors_of = bfs._successors(bound)
    for slot in reversed(slots):
        steps = list(successors_of(state))
        if slot > len(steps):
            raise not_replayable(bound, f"a state has {len(steps)} successors, the path "
                                         f"takes its {slot}th")
        state = steps[slot - 1][1]
        path.append(state)
    if state != end:
        raise not_replayable(bound, "the path ends at another state")
    return path
