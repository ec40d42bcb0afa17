"""The explored state graph, recorded compactly for temporal properties.

The breadth-first search stores no edges (see bfs.py). When a model declares temporal
properties, :class:`StateGraph` wraps its successor function and records every transition in
compressed sparse row form: states are numbered in the order the search stores them, which is
also the order it expands them, so the k-th expansion appends the out-edges of state k. An
edge costs four bytes for its target and two (four beyond 65,535 distinct labels) for its
label, interned to a small int; no Python object is kept per edge.

Recording numbers every successor, which needs a look-up by the state: a hash of the whole
nested value, which Python does not cache for tuples. So that the search does not hash it a
second time to know whether it is new, the recorder hands the search :data:`KNOWN` in place of
every successor it had numbered before; the others are new.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .interface import BoundModel
    from .liveness import Temporal

Successors = Callable[[Any], Iterable[tuple[Any, Any]]]


class _Known:
    """The type of :data:`KNOWN`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KNOWN"


#: What a recorded successor function gives in place of a successor numbered before.
KNOWN = _Known()


class StateGraph:
    """States (numbered from 0) and their labelled out-edges (CSR arrays)."""

    __slots__ = ("by_number", "ids", "initial", "label_ids", "labels", "offsets", "targets")

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {}
        self.by_number: list[Any] = []  # the states by number
        self.offsets = array("I", [0])  # out-edges of state v: offsets[v]:offsets[v + 1]
        self.targets = array("I")
        self.labels = array("H")
        self.label_ids: dict[Hashable, int] = {}
        self.initial = 0  # the initial states are numbered 0 .. initial - 1

    def add_initial(self, states: Iterable[Any]) -> None:
        ids, by_number = self.ids, self.by_number
        for state in states:
            if ids.setdefault(state, len(ids)) == len(by_number):
                by_number.append(state)
        self.initial = len(ids)

    def recording(self, successors_of: Successors) -> Callable[[Any], list[tuple[Any, Any]]]:
        """``successors_of``, recording the out-edges of each state it is called on, and giving
        :data:`KNOWN` in place of each successor numbered before."""
        offsets, targets, label_ids = self.offsets, self.targets, self.label_ids
        number_of, by_number = self.ids.setdefault, self.by_number
        append_state = by_number.append

        def recorded(state: Any) -> list[tuple[Any, Any]]:
            # the states must be expanded in the order they were numbered (an identity test:
            # a look-up by the state would hash it again)
            if by_number[len(offsets) - 1] is not state:
                raise AssertionError("states must be expanded in the order they were stored")
            steps = []
            for label, target in successors_of(state):
                fresh = len(by_number)
                target_id = number_of(target, fresh)
                if target_id == fresh:
                    append_state(target)
                    steps.append((label, target))
                else:
                    steps.append((label, KNOWN))
                label_id = label_ids.get(label)
                if label_id is None:
                    label_id = label_ids[label] = len(label_ids)
                    if label_id == 0xFFFF:
                        self.labels = array("I", self.labels)
                targets.append(target_id)
                self.labels.append(label_id)
            offsets.append(len(targets))
            return steps

        return recorded

    @property
    def expanded(self) -> int:
        return len(self.offsets) - 1

    def states(self) -> list[Any]:
        """The states by number."""
        return self.by_number

    def label_list(self) -> list[Hashable]:
        return list(self.label_ids)

    def valuation(self, temporal: Temporal) -> tuple[Sequence[Any], Temporal]:
        """The states as the fair-cycle search reads them, and the properties to read."""
        return self.by_number, temporal

    def path_states(self, bound: BoundModel, path: list[int]) -> list[Any]:
        """The states numbered ``path``."""
        by_number = self.by_number
        return [by_number[v] for v in path]

    def nbytes(self) -> int:
        """The bytes of the edge arrays (the state numbering dict not included)."""
        return sum(a.itemsize * len(a) for a in (self.offsets, self.targets, self.labels))
