"""How workers send states to each other: a state's bytes, and flat arrays read back.

A state travels as marshal's bytes where marshal can write it (ints, strs, tuples and the
like: the fast path), else as pickle's; the first byte tells which (a pickle starts with its
PROTO byte 0x80, which marshal format 2 never writes first). Outboxes (parallel.py,
kept_owner.py) pack their states' keys and parts as array() bytes, read back by
:func:`read_array` into :class:`PartRuns`, with the sender's :func:`verdict` on each state.

A part's bytes cross from one worker to another once, not once a depth: each sender numbers
the parts it sends to each other worker for the whole search (:class:`SentParts`), and the
receiver keeps the parts it read from each sender by those numbers (:class:`PartRuns`'
``book``), the model's own objects once a state holding them was interned. About half the
parts a depth's outbox holds were sent at an earlier depth (the default Kafka check, two
workers); their bytes are neither written again nor decoded and interned again. Past
``BOOK_LIMIT`` parts the sender starts its numbers afresh, and the receiver with it.
"""

from __future__ import annotations

import marshal
import pickle
from array import array
from itertools import accumulate, pairwise
from typing import Any

from .fingerprint import marshal_bytes
from .interface import BoundModel, StepCheck, fast_path_disagrees, first_broken_invariant

#: An outbox's count of parts for a state not sent by parts: one part, itself.
NOT_A_TUPLE = -1
#: Parts one worker numbers for another before it starts afresh: what each keeps is bounded.
BOOK_LIMIT = 1 << 20

#: What the sender's fast path for the invariants (the model's ``invariants_hold_after``) said
#: of the step to a state it sends: the model has none, every invariant holds, or it said no.
#: The receiver has no parent to compare the state with, so it checks every invariant only on
#: a new state the sender did not vouch for.
UNCHECKED, VOUCHED, REFUSED = 0, 1, 2


def verdict(fast_path: StepCheck | None, state: Any, label: Any, target: Any) -> int:
    """The sender's verdict on its step from ``state`` to ``target``, which it sends."""
    if fast_path is None:
        return UNCHECKED
    return VOUCHED if fast_path(state, label, target) else REFUSED


def first_broken_given(bound: BoundModel, state: Any, said: int) -> str | None:
    """The first invariant a new state breaks, given what the fast path ``said`` of the step
    to it: none if it vouched for it, else every invariant is called (and none broken where
    it said no is the model's error)."""
    if said == VOUCHED:
        return None
    name = first_broken_invariant(bound, state)
    if name is None and said == REFUSED:
        raise fast_path_disagrees(bound, "invariants_hold_after", state)
    return name


def state_bytes(state: Any) -> bytes:
    """Bytes the state can be rebuilt from: marshal's, else pickle's."""
    data = marshal_bytes(state)
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL) if data is None else data


def decoded(data: bytes) -> Any:
    """The state ``data`` (from :func:`state_bytes`) was made from."""
    return pickle.loads(data) if data[0] == 0x80 else marshal.loads(data)


class SentParts:
    """The numbers one worker gave the parts it sent another: by the part's id (its object
    held alive here, so that no other object takes the id) or by its fingerprint."""

    __slots__ = ("held", "limit", "numbers")

    def __init__(self, *, limit: int = BOOK_LIMIT) -> None:
        self.numbers: dict[int, int] = {}
        self.held: list[Any] = []
        self.limit = limit

    def first_new(self) -> int:
        """The number the next new part gets, at the start of an outbox: 0 once the book
        holds ``limit`` parts (the sender starts afresh, and the receiver clears its own on
        reading 0)."""
        if len(self.numbers) >= self.limit:
            self.numbers.clear()
            self.held.clear()
        return len(self.numbers)


class PartRuns:
    """An outbox's states, read back as runs of part numbers: state i is ``counts[i]`` numbers
    in ``refs``, one state after another, or one (``NOT_A_TUPLE``) for a state not sent by
    parts, the part itself. ``book`` holds the parts read from this sender so far, by number
    (the receiver's, kept from one depth to the next): this outbox's new ones, from ``first``
    on, have their bytes at ``blob[spans[n - first][0]:spans[n - first][1]]``, decoded the
    first time a state built has it; :meth:`adopt` then lets an equal object stand for it.
    ``verdicts[i]`` is what the sender's fast path said of state i (:func:`verdict`).

    The runs are the tail of a packed outbox (:func:`packed_runs`), read from ``at`` on:
    ``count`` states, ``places`` part numbers and ``chunks`` new parts. Once the states
    needed are built, :meth:`close` keeps the bytes of the new parts none of them had."""

    __slots__ = ("blob", "counts", "first", "firsts", "parts", "refs", "spans", "verdicts")

    def __init__(self, blob: bytes, at: int, count: int, places: int, chunks: int,
                 book: list[Any]) -> None:
        self.blob, self.parts = blob, book
        self.first = 0
        if count:
            firsts, at = read_array(blob, "Q", at, 1)
            self.first = firsts[0]
            if self.first == 0:
                book.clear()  # the sender started its numbers afresh
            if len(book) != self.first:
                raise AssertionError(f"an outbox's parts start at {self.first}, the receiver "
                                     f"holds {len(book)} from that sender")
        self.counts, at = read_array(blob, "q", at, count)
        self.verdicts, at = blob[at:at + count], at + count
        self.refs, at = read_array(blob, "I", at, places)
        lengths, at = read_array(blob, "I", at, chunks)
        self.spans = list(pairwise(accumulate(lengths, initial=at)))
        # where each state's references start in ``refs``
        self.firsts = list(accumulate((1 if n == NOT_A_TUPLE else n for n in self.counts),
                                      initial=0))
        book += [_UNREAD] * chunks

    def state(self, index: int) -> Any:
        """The state at ``index``, built from its parts."""
        first, count = self.firsts[index], self.counts[index]
        if count == NOT_A_TUPLE:
            return self._part(self.refs[first])
        return tuple([self._part(ref) for ref in self.refs[first:first + count]])

    def adopt(self, index: int, state: Any) -> None:
        """Let the parts of ``state``, equal to those of the state at ``index`` (the model's
        interned objects, say), stand for them in the states built from now on: those are
        then made of them already, and interning one costs a look-up of kept hashes per
        part, not a walk of each nested part as a decoded one takes."""
        first, count = self.firsts[index], self.counts[index]
        parts, refs = self.parts, self.refs
        if count == NOT_A_TUPLE:
            parts[refs[first]] = state
            return
        for at in range(count):
            parts[refs[first + at]] = state[at]

    def close(self) -> None:
        """Keep the bytes of this outbox's new parts that no state built had, for a later
        depth's states to decode (the blob itself goes)."""
        parts, blob, first = self.parts, self.blob, self.first
        for at, (start, end) in enumerate(self.spans):
            if parts[first + at] is _UNREAD:
                parts[first + at] = _Unread(blob[start:end])

    def _part(self, number: int) -> Any:
        part = self.parts[number]
        if part is _UNREAD:
            start, end = self.spans[number - self.first]
            part = self.parts[number] = decoded(self.blob[start:end])
        elif type(part) is _Unread:
            part = self.parts[number] = decoded(part.data)
        return part


_UNREAD = object()


class _Unread:
    """The bytes of a part an earlier outbox sent, not decoded yet."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def packed_runs(first: int, counts: list[int], verdicts: bytearray, places: list[int],
                chunks: list[bytes]) -> list[bytes]:
    """The tail of a packed outbox that :class:`PartRuns` reads: the number of its first new
    part, each state's count of parts, its verdict, the states' part numbers one after
    another, and the new parts' bytes."""
    return [array("Q", [first]).tobytes(), array("q", counts).tobytes(), bytes(verdicts),
            array("I", places).tobytes(), array("I", [len(chunk) for chunk in chunks]).tobytes(),
            *chunks]


def read_array(blob: bytes, code: str, at: int, count: int) -> tuple[array[int], int]:
    """``count`` items of type ``code`` from ``blob`` at ``at``, and where they end."""
    items = array(code)
    end = at + items.itemsize * count
    items.frombytes(blob[at:end])
    return items, end
