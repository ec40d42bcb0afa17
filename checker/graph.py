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
every successor it had numbered before; the others are new. For the same reason the graph keeps
each state's parent, by number (four bytes a state), and :class:`GraphParents` lends the search
those links as the parent dict it keeps without a graph: a second dict of every state would
hash each new state again and hold about 50 bytes a state more.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .interface import BoundModel
    from .liveness import Temporal

Successors = Callable[[Any], Iterable[tuple[Any, Any]]]
#: The parent of an initial state (as in a fingerprint store's parent numbers).
NO_PARENT = 0xFFFFFFFF


class _Known:
    """The type of :data:`KNOWN`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KNOWN"


#: What a recorded successor function gives in place of a successor numbered before.
KNOWN = _Known()


class StateGraph:
    """States (numbered from 0) and their labelled out-edges (CSR arrays)."""

    __slots__ = ("by_number", "ids", "initial", "label_ids", "labels", "offsets", "parents",
                 "targets")

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {}
        self.by_number: list[Any] = []  # the states by number
        # each state's parent: the number of the state whose expansion first reached it
        self.parents = array("I")
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
                self.parents.append(NO_PARENT)
        self.initial = len(ids)

    def recording(self, successors_of: Successors) -> Callable[[Any], list[tuple[Any, Any]]]:
        """``successors_of``, recording the out-edges of each state it is called on, and giving
        :data:`KNOWN` in place of each successor numbered before."""
        offsets, targets, label_ids = self.offsets, self.targets, self.label_ids
        number_of, by_number = self.ids.setdefault, self.by_number
        # bound once, not looked up on each of the millions of transitions (about 1% of a
        # compiled check with temporal properties)
        append_state, append_parent = by_number.append, self.parents.append
        append_target, append_label = targets.append, self.labels.append

        def recorded(state: Any) -> list[tuple[Any, Any]]:
            nonlocal append_label
            # the states must be expanded in the order they were numbered (an identity test:
            # a look-up by the state would hash it again)
            number = len(offsets) - 1
            if by_number[number] is not state:
                raise AssertionError("states must be expanded in the order they were stored")
            steps = []
            for label, target in successors_of(state):
                fresh = len(by_number)
                target_id = number_of(target, fresh)
                if target_id == fresh:
                    append_state(target)
                    append_parent(number)
                    steps.append((label, target))
                else:
                    steps.append((label, KNOWN))
                label_id = label_ids.get(label)
                if label_id is None:
                    label_id = label_ids[label] = len(label_ids)
                    if label_id == 0xFFFF:
                        self.labels = array("I", self.labels)
                        append_label = self.labels.append
                append_target(target_id)
                append_label(label_id)
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
        """The bytes of the edge and parent arrays (the state numbering dict not included)."""
        return sum(a.itemsize * len(a)
                   for a in (self.offsets, self.targets, self.labels, self.parents))


class GraphParents:
    """A graph's states, each mapped to its parent state (``None`` for an initial state): the
    parent links of a search that records a :class:`StateGraph`, without a dict of its own.
    It reads and stores as the search's dict does (``len``, ``in``, ``[state]``,
    ``[initial] = None``); not a ``Mapping`` subclass, which compiled code could not be.

    Storing a state is numbering it: an initial state is added to the graph here, any other
    by the graph's recorder when it is first reached (so the search stores nothing for it).
    """

    __slots__ = ("graph",)

    def __init__(self, graph: StateGraph) -> None:
        self.graph = graph

    def __len__(self) -> int:
        return len(self.graph.by_number)

    def __contains__(self, state: object) -> bool:
        return state in self.graph.ids

    def __getitem__(self, state: Any) -> Any:
        graph = self.graph
        parent = graph.parents[graph.ids[state]]
        return None if parent == NO_PARENT else graph.by_number[parent]

    def __setitem__(self, state: Any, parent: None) -> None:
        """Store an initial state (the graph numbers it next); a state reached by a step is
        stored by the recorder, which knows its parent's number."""
        if parent is not None:
            raise AssertionError("a graph's recorder stores the states reached by a step")
        self.graph.add_initial([state])

    def numbered_items(self) -> Iterator[tuple[Any, int]]:
        """(state, parent's number or NO_PARENT), in the order of the states' numbers."""
        return zip(self.graph.by_number, self.graph.parents, strict=True)
