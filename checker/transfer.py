"""How workers send states to each other: a state's bytes, and flat arrays read back.

A state travels as marshal's bytes where marshal can write it (ints, strs, tuples and the
like: the fast path), else as pickle's; the first byte tells which (a pickle starts with its
PROTO byte 0x80, which marshal format 2 never writes first). Outboxes (parallel.py,
kept_owner.py) pack their states' keys and parts as array() bytes, read back by
:func:`read_array` into :class:`PartRuns`, with the sender's :func:`verdict` on each state.
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


class PartRuns:
    """An outbox's states, read back as runs of part numbers: state i is ``counts[i]`` numbers
    in ``refs``, one state after another, or one (``NOT_A_TUPLE``) for a state not sent by
    parts, the part itself. Part n's bytes are ``blob[spans[n][0]:spans[n][1]]``, decoded the
    first time a state built has it; :meth:`adopt` then lets an equal object stand for it.
    ``verdicts[i]`` is what the sender's fast path said of state i (:func:`verdict`).

    The runs are the tail of a packed outbox (:func:`packed_runs`), read from ``at`` on:
    ``count`` states, ``places`` part numbers and ``chunks`` parts."""

    __slots__ = ("blob", "counts", "firsts", "parts", "refs", "spans", "verdicts")

    def __init__(self, blob: bytes, at: int, count: int, places: int, chunks: int) -> None:
        self.blob = blob
        self.counts, at = read_array(blob, "q", at, count)
        self.verdicts, at = blob[at:at + count], at + count
        self.refs, at = read_array(blob, "I", at, places)
        lengths, at = read_array(blob, "I", at, chunks)
        self.spans = list(pairwise(accumulate(lengths, initial=at)))
        # where each state's references start in ``refs``
        self.firsts = list(accumulate((1 if n == NOT_A_TUPLE else n for n in self.counts),
                                      initial=0))
        self.parts: list[Any] = [_UNREAD] * chunks  # by number, once read

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

    def _part(self, number: int) -> Any:
        part = self.parts[number]
        if part is _UNREAD:
            start, end = self.spans[number]
            part = self.parts[number] = decoded(self.blob[start:end])
        return part


_UNREAD = object()


def packed_runs(counts: list[int], verdicts: bytearray, places: list[int],
                chunks: list[bytes]) -> list[bytes]:
    """The tail of a packed outbox that :class:`PartRuns` reads: each state's count of parts,
    its verdict, the states' part numbers one after another, and the parts' bytes."""
    return [array("q", counts).tobytes(), bytes(verdicts), array("I", places).tobytes(),
            array("I", [len(chunk) for chunk in chunks]).tobytes(), *chunks]


def read_array(blob: bytes, code: str, at: int, count: int) -> tuple[array[int], int]:
    """``count`` items of type ``code`` from ``blob`` at ``at``, and where they end."""
    items = array(code)
    end = at + items.itemsize * count
    items.frombytes(blob[at:end])
    return items, end
