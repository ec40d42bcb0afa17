"""The explored state graph, recorded compactly for temporal properties.

The breadth-first search stores no edges (see bfs.py). When a model declares temporal
properties, :class:`StateGraph` wraps its successor function and records every transition in
compressed sparse row form: states are numbered in the order the search stores them, which is
also the order it expands them, so the k-th expansion appends the out-edges of state k. An
edge costs four bytes for its target and two (four beyond 65,535 distinct labels) for its
label, interned to a small int; no Python object is kept per edge.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable
from typing import Any

Successors = Callable[[Any], Iterable[tuple[Any, Any]]]


class StateGraph:
    """States (numbered from 0) and their labelled out-edges (CSR arrays)."""

    __slots__ = ("ids", "initial", "label_ids", "labels", "offsets", "targets")

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {}
        self.offsets = array("I", [0])  # out-edges of state v: offsets[v]:offsets[v + 1]
        self.targets = array("I")
        self.labels = array("H")
        self.label_ids: dict[Hashable, int] = {}
        self.initial = 0  # the initial states are numbered 0 .. initial - 1

    def add_initial(self, states: Iterable[Any]) -> None:
        ids = self.ids
        for state in states:
            ids.setdefault(state, len(ids))
        self.initial = len(ids)

    def recording(self, successors_of: Successors) -> Callable[[Any], list[tuple[Any, Any]]]:
        """``successors_of``, recording the out-edges of each state it is called on."""
        ids, offsets, targets = self.ids, self.offsets, self.targets
        label_ids = self.label_ids

        def recorded(state: Any) -> list[tuple[Any, Any]]:
            steps = list(successors_of(state))
            if ids[state] != len(offsets) - 1:
                raise AssertionError("states must be expanded in the order they were stored")
            for label, target in steps:
                target_id = ids.get(target)
                if target_id is None:
                    target_id = ids[target] = len(ids)
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
        """The states by number (dicts keep insertion order)."""
        return list(self.ids)

    def label_list(self) -> list[Hashable]:
        return list(self.label_ids)

    def nbytes(self) -> int:
        """The bytes of the edge arrays (the state numbering dict not included)."""
        return sum(a.itemsize * len(a) for a in (self.offsets, self.targets, self.labels))
