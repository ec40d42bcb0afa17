"""The breadth-first queue of one depth, spilled to a temporary file past a bound.

The search keeps the states of the depth it expands and the new states of the next depth in
two lists; on a large model the next depth alone can hold millions of states. With a bound,
:class:`SpillingQueue` keeps at most ``limit`` states in memory: each time that many have
been appended, they are pickled as one chunk to an unnamed temporary file (deleted when the
queue is dropped). Iterating yields the states in the order they were appended, reading the
chunks back one at a time, so a queue being read and the one being written hold about two
chunks in memory. Each iterator reads with ``os.pread`` at its chunks' offsets, so a
checkpoint can walk the queue while the search is walking it too. A state read back is handed
to the model's ``intern`` when it has one (interface.py), so that its parts are the model's
own objects again.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from typing import Any


class SpillingQueue:
    """A list-like FIFO of states (append, iterate, len) that spills to disk past ``limit``."""

    __slots__ = ("_chunks", "_file", "_spilled", "intern", "limit", "tail")

    def __init__(self, limit: int, *, intern: Callable[[Any], Any] | None = None) -> None:
        self.limit, self.intern = limit, intern
        self.tail: list[Any] = []
        self._file: Any = None
        self._chunks: list[tuple[int, int, int]] = []  # (offset, bytes, states) of each chunk
        self._spilled = 0

    def append(self, state: Any) -> None:
        tail = self.tail
        tail.append(state)
        if len(tail) >= self.limit:
            self._spill()

    def extend(self, states: list[Any]) -> None:
        for state in states:
            self.append(state)

    def _spill(self) -> None:
        if self._file is None:
            # The file lives as long as the queue (closed, hence deleted, with it).
            self._file = tempfile.TemporaryFile(prefix="kafka-eos-queue-")  # noqa: SIM115
        data = pickle.dumps(self.tail, protocol=pickle.HIGHEST_PROTOCOL)
        offset = self._chunks[-1][0] + self._chunks[-1][1] if self._chunks else 0
        os.pwrite(self._file.fileno(), data, offset)
        self._chunks.append((offset, len(data), len(self.tail)))
        self._spilled += len(self.tail)
        self.tail = []

    @property
    def spilled(self) -> int:
        """How many states went through the file."""
        return self._spilled

    def __len__(self) -> int:
        return self._spilled + len(self.tail)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[Any]:
        chunks, tail = list(self._chunks), self.tail
        for offset, size, _ in chunks:
            states = pickle.loads(os.pread(self._file.fileno(), size, offset))
            yield from states if self.intern is None else map(self.intern, states)
        yield from tail

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def spilled(states: object) -> int:
    """How many of a queue's states went through a file (0 for a plain list)."""
    return states.spilled if isinstance(states, SpillingQueue) else 0
