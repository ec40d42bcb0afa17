"""How workers send states to each other: a state's bytes, and flat arrays read back.

A state travels as marshal's bytes where marshal can write it (ints, strs, tuples and the
like: the fast path), else as pickle's; the first byte tells which (a pickle starts with its
PROTO byte 0x80, which marshal format 2 never writes first). Outboxes (parallel.py,
kept_owner.py) pack their states' keys and parts as array() bytes, read back by
:func:`read_array`.
"""

from __future__ import annotations

import marshal
import pickle
from array import array
from itertools import accumulate
from typing import Any

from .fingerprint import marshal_bytes

#: An outbox's count of parts for a state not sent by parts: one part, itself.
NOT_A_TUPLE = -1


def state_bytes(state: Any) -> bytes:
    """Bytes the state can be rebuilt from: marshal's, else pickle's."""
    data = marshal_bytes(state)
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL) if data is None else data


def decoded(data: bytes) -> Any:
    """The state ``data`` (from :func:`state_bytes`) was made from."""
    return pickle.loads(data) if data[0] == 0x80 else marshal.loads(data)


class PartRuns:
    """An outbox's states, read back as runs of part references: state i is ``counts[i]``
    references in ``refs``, one state after another, or one (``NOT_A_TUPLE``) for a state not
    sent by parts, the part itself. A subclass says how a reference is read (``_part``)."""

    __slots__ = ("counts", "firsts", "refs")

    def __init__(self, counts: array[int], refs: array[int]) -> None:
        self.counts, self.refs = counts, refs
        # where each state's references start in ``refs``
        self.firsts = list(accumulate((1 if n == NOT_A_TUPLE else n for n in counts),
                                      initial=0))

    def state(self, index: int) -> Any:
        """The state at ``index``, built from its parts."""
        first, count = self.firsts[index], self.counts[index]
        if count == NOT_A_TUPLE:
            return self._part(self.refs[first])
        return tuple([self._part(ref) for ref in self.refs[first:first + count]])

    def _part(self, ref: int) -> Any:
        raise NotImplementedError


def read_array(blob: bytes, code: str, at: int, count: int) -> tuple[array[int], int]:
    """``count`` items of type ``code`` from ``blob`` at ``at``, and where they end."""
    items = array(code)
    end = at + items.itemsize * count
    items.frombytes(blob[at:end])
    return items, end
