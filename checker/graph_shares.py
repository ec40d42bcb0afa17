"""The state graph recorded by number, for temporal properties, where states are not kept.

graph.py's :class:`~.graph.StateGraph` keeps the states, numbered as the search stores them.
Workers checking temporal properties keep fingerprints only (parallel.py), so each one
records, for every state it expands, a :class:`GraphShare`: the state's number, its
fingerprint, its successors' fingerprints and labels, and the value of each temporal
predicate on it (a goal or a trigger, evaluated there and then: nothing is left to evaluate
later). The main process then joins the
shares into a :class:`NumberedGraph` (:func:`assembled`), resolving each successor's
fingerprint to its number. One process with a fingerprint store (bfs.py) records one share
``by_number``: the store numbers the states and tells each successor's number as the search
looks it up (:meth:`GraphShare.recording`), so its share is the graph as it stands.

A state's number is the one the one-process search gives it: the states of the depths before,
then its rank in its own depth, which the workers know from the discovery keys (parallel.py).
Edges are joined in that order and labels numbered in the order they first occur, so the
assembled graph is the one-process graph edge for edge, and the fair-cycle search (liveness.py)
finds the same lassos. A lasso's states are rebuilt by re-executing the model along their
fingerprints, as a counterexample of the fingerprint store is (store.py).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import replace
from itertools import accumulate
from typing import TYPE_CHECKING, Any, NamedTuple

from .graph import StateGraph
from .interface import BoundModel, model_error
from .store import FingerprintStore, rebuild_path
from .temporal import StatePredicate

if TYPE_CHECKING:
    from .liveness import Temporal

# A successor function, its labels of any type (a compiled caller checks the types it names).
Successors = Callable[[Any], Iterable[tuple[Any, Any]]]


def predicates_of(temporal: Temporal) -> list[tuple[str, StatePredicate]]:
    """Each property's goal, then its trigger if it has one: the order values are kept in."""
    predicates: list[tuple[str, StatePredicate]] = []
    for name, prop in temporal.properties:
        predicates.append((name, prop.goal))
        if prop.trigger is not None:
            predicates.append((name, prop.trigger))
    return predicates


class PackedShare(NamedTuple):
    """A worker's share, as it travels to the main process (arrays pickle as their bytes;
    a tuple, which compiled code unpickles as it does interpreted, unlike a frozen dataclass)."""

    numbers: array[int]  # the expanded states' numbers, ascending
    fingerprints: array[int]  # their fingerprints
    counts: array[int]  # how many out-edges each has
    targets: array[int]  # the out-edges' targets, state after state: fingerprints, or numbers
    labels: array[int]  # their labels, as indices into label_list
    label_list: list[Hashable]
    values: list[bytes]  # per predicate (predicates_of's order), one byte per expanded state
    by_number: bool  # targets are state numbers (one process), not fingerprints (workers)


class GraphShare:
    """What one worker (or one process with fingerprints) records of the graph: the states it
    expands and their out-edges."""

    __slots__ = ("by_number", "counts", "fingerprints", "label_ids", "labels", "next_number",
                 "numbers", "predicates", "targets", "values")

    def __init__(self, temporal: Temporal, *, by_number: bool = False) -> None:
        self.predicates = predicates_of(temporal)
        # One process: targets as numbers, and the states' numbers (0, 1, ...) and
        # fingerprints are the store's, not recorded again (see recording).
        self.by_number = by_number
        self.numbers = array("I")
        self.fingerprints = array("Q")
        self.counts = array("I")
        self.targets = array("I" if by_number else "Q")
        self.labels = array("I")
        self.label_ids: dict[Hashable, int] = {}
        self.values = [bytearray() for _ in self.predicates]
        self.next_number = 0  # the number of the first state of the depth to come

    @classmethod
    def resumed(cls, temporal: Temporal, packed: PackedShare) -> GraphShare:
        """The share ``packed`` (from a checkpoint), recording on."""
        share = cls(temporal, by_number=packed.by_number)
        share.numbers, share.fingerprints, share.counts = (
            packed.numbers, packed.fingerprints, packed.counts)
        share.targets, share.labels = packed.targets, packed.labels
        share.label_ids = {label: i for i, label in enumerate(packed.label_list)}
        share.values = [bytearray(v) for v in packed.values]
        return share

    @classmethod
    def from_graph(cls, graph: StateGraph, temporal: Temporal,
                   store: FingerprintStore) -> GraphShare:
        """A graph of the states (numbered as ``store``, a numbered store made from the same
        dict, numbers them) as a share ``by_number``, the temporal predicates evaluated on
        each state expanded so far: the ``auto`` store's switch to fingerprints."""
        share = cls(temporal, by_number=True)
        offsets = graph.offsets
        share.counts = array("I", (offsets[v + 1] - offsets[v] for v in range(graph.expanded)))
        share.targets, share.labels = array("I", graph.targets), array("I", graph.labels)
        share.label_ids = dict(graph.label_ids)
        share.fingerprints = store.fingerprints
        for state in graph.states()[: graph.expanded]:
            share.evaluate(state)
        return share

    def start_depth(self, size: int) -> int:
        """A depth of ``size`` states (all workers') starts: the number of its first."""
        first = self.next_number
        self.next_number += size
        return first

    def edge(self, target: int, label: Hashable) -> None:
        """An out-edge of the state being expanded: its target's fingerprint (or number)."""
        self.targets.append(target)
        label_id = self.label_ids.get(label)
        if label_id is None:
            label_id = self.label_ids[label] = len(self.label_ids)
        self.labels.append(label_id)

    def expanded(self, number: int, fingerprint: int, state: Any, edges: int) -> None:
        """``state`` (numbered ``number``) was expanded; its ``edges`` out-edges came before."""
        if not self.by_number:
            self.numbers.append(number)
            self.fingerprints.append(fingerprint)
        self.counts.append(edges)
        self.evaluate(state)

    def evaluate(self, state: Any) -> None:
        """Each temporal predicate's value on the state expanded next."""
        # by index, one try around the loop: compiled, zip(..., strict=True) is the generic
        # builtin, and this runs 14 times a state on the default
        predicates, values = self.predicates, self.values
        index = 0
        try:
            for index in range(len(predicates)):
                values[index].append(1 if predicates[index][1](state) else 0)
        except Exception as exc:
            name = predicates[index][0]
            raise model_error(f"temporal property {name!r} raised", exc) from exc

    def recording(self, store: FingerprintStore, successors_of: Successors) -> Successors:
        """``successors_of`` (wrapped by ``store.expanding``), recording each expansion in
        one process with a numbered fingerprint store (a share ``by_number``): the state's
        number is the store's count of expansions. The search looks every successor up, and
        stores it if new, before it asks for the next, so the successor's number is then at
        hand: the number the store gave it, or the one it found (nothing is computed twice,
        and no fingerprint needs resolving at the end)."""
        fingerprints, edge = store.fingerprints, self.edge
        self.fingerprints = fingerprints  # the store's: state number -> fingerprint

        def recorded(state: Any) -> Iterator[tuple[Any, Any]]:
            steps = successors_of(state)  # counts the expansion: store.expanded is its number
            number, count = store.expanded, 0
            for label, target in steps:
                stored = len(fingerprints)
                yield label, target
                edge(stored if len(fingerprints) > stored else store.last_number(), label)
                count += 1
            self.expanded(number, fingerprints[number], state, count)

        return recorded

    def packed(self) -> PackedShare:
        return PackedShare(self.numbers, self.fingerprints, self.counts, self.targets,
                           self.labels, list(self.label_ids), [bytes(v) for v in self.values],
                           self.by_number)


class Recorded:
    """A temporal predicate as recorded with the graph: its value on each state by number
    (one byte a state, 1 where it holds). The fair-cycle search reads ``values`` whole
    rather than calling it state by state."""

    __slots__ = ("values",)

    def __init__(self, values: bytes) -> None:
        self.values = values

    def __call__(self, number: int) -> bool:
        return self.values[number] == 1


class NumberedGraph:
    """The graph by state numbers (CSR arrays, as StateGraph's), with each state's
    fingerprint and each temporal predicate's value on it instead of the states."""

    __slots__ = ("fingerprints", "initial", "label_values", "labels", "offsets", "targets",
                 "values")

    def __init__(self, *, offsets: array[int], targets: array[int], labels: array[int],
                 label_values: list[Hashable], initial: int, fingerprints: array[int],
                 values: list[bytes]) -> None:
        self.offsets, self.targets, self.labels = offsets, targets, labels
        self.label_values, self.initial = label_values, initial
        self.fingerprints, self.values = fingerprints, values

    @property
    def expanded(self) -> int:
        return len(self.offsets) - 1

    def label_list(self) -> list[Hashable]:
        return self.label_values

    def nbytes(self) -> int:
        arrays = (self.offsets, self.targets, self.labels, self.fingerprints)
        return sum(a.itemsize * len(a) for a in arrays) + sum(len(v) for v in self.values)

    def valuation(self, temporal: Temporal) -> tuple[Sequence[Any], Temporal]:
        """The states as the fair-cycle search reads them (their numbers) and ``temporal``
        with each predicate looked up in the values the workers recorded."""
        looked_up = iter(self.values)
        properties = []
        for name, prop in temporal.properties:
            goal = Recorded(next(looked_up))
            trigger = None if prop.trigger is None else Recorded(next(looked_up))
            properties.append((name, replace(prop, goal=goal, trigger=trigger)))
        return range(self.expanded), replace(temporal, properties=tuple(properties))

    def path_states(self, bound: BoundModel, path: list[int]) -> list[Any]:
        """The states numbered ``path`` (a path of the graph), rebuilt by re-execution."""
        return rebuild_path(bound, [self.fingerprints[v] for v in path])


def assembled(shares: list[PackedShare], initial: int) -> NumberedGraph:
    """The workers' shares joined into the one-process graph (``initial`` initial states)."""
    if len(shares) == 1 and shares[0].by_number:
        return _in_one_process(shares[0], initial)
    size = sum(len(share.numbers) for share in shares)
    position = array("I", bytes(4 * size))  # a state's number -> its place in the shares joined
    fingerprints = array("Q", bytes(8 * size))
    start = 0
    for share in shares:
        for place, (number, fp) in enumerate(zip(share.numbers, share.fingerprints,
                                                 strict=True), start):
            position[number] = place
            fingerprints[number] = fp
        start += len(share.numbers)
    number_of = {fp: number for number, fp in enumerate(fingerprints)}
    label_ids: dict[Hashable, int] = {}
    joined_targets, joined_labels, counts = array("I"), array("I"), array("I")
    for share in shares:
        local = [label_ids.setdefault(label, len(label_ids)) for label in share.label_list]
        joined_targets.extend(map(number_of.__getitem__, share.targets))
        joined_labels.extend(map(local.__getitem__, share.labels))
        counts.extend(share.counts)
    del number_of
    starts = array("Q", accumulate(counts, initial=0))
    offsets, targets, labels = array("I", [0]), array("I"), array("I")
    for number in range(size):
        place = position[number]
        first, end = starts[place], starts[place + 1]
        targets.extend(joined_targets[first:end])
        labels.extend(joined_labels[first:end])
        offsets.append(len(targets))
    labels, label_values = _numbered_as_met(labels, list(label_ids))
    values = []
    for index in range(len(shares[0].values) if shares else 0):
        joined = b"".join(share.values[index] for share in shares)
        values.append(bytes(map(joined.__getitem__, position)))
    return NumberedGraph(offsets=offsets, targets=targets, labels=labels,
                         label_values=label_values, initial=initial,
                         fingerprints=fingerprints, values=values)


def _in_one_process(share: PackedShare, initial: int) -> NumberedGraph:
    """A share recorded in one process: its states are numbered 0, 1, ... in order (the
    store's fingerprints by number) and its targets are numbers already, so its arrays are
    the graph's."""
    if len(share.counts) != len(share.fingerprints):
        raise AssertionError("one process expands every state it stores, in number order")
    labels, label_values = _numbered_as_met(share.labels, share.label_list)
    return NumberedGraph(offsets=array("I", accumulate(share.counts, initial=0)),
                         targets=share.targets, labels=labels, label_values=label_values,
                         initial=initial, fingerprints=share.fingerprints,
                         values=share.values)


def _numbered_as_met(labels: array[int], label_values: list[Hashable]
                     ) -> tuple[array[int], list[Hashable]]:
    """Label ids renumbered in the order the edges meet them, as StateGraph numbers them
    (two bytes an edge while there are at most 65,535 labels)."""
    order = list(dict.fromkeys(labels))
    renumbered = [0] * len(label_values)
    for new, old in enumerate(order):
        renumbered[old] = new
    code = "H" if len(order) < 0xFFFF else "I"
    return array(code, map(renumbered.__getitem__, labels)), [label_values[i] for i in order]
