"""Checking temporal properties under fairness on the explored graph; lassos.

Every property is checked as a leads-to. ``<>P`` is violated by a fair behaviour that starts in
a state where P is false and never reaches P; ``[]<>P`` by one that from some state on never
reaches P (``TRUE ~> P``); ``P ~> Q`` by one that reaches a state where P holds and Q does not,
then never reaches Q. So a violation is a path from an initial state to a *trigger* state (an
initial state, any state, a P-state) followed by an infinite fair behaviour that *stays* in
the states where the goal is false. Such a behaviour ends up cycling through the states of
some strongly connected set K of the stay-subgraph reachable from a trigger, and one that
cycles through all of K is fair iff, for every constraint on an action A:

- weak: A is taken on an edge inside K, or A is disabled in some state of K;
- strong: A is taken on an edge inside K, or A is enabled in no state of K.

The search (Emerson and Lei's, for Streett conditions) takes the strongly connected
components of the stay-subgraph; a component failing a weak constraint has no fair cycle at
all (A stays enabled and untaken in every part of it) and is dropped; one failing a strong
constraint may still hold a fair cycle that avoids the states where A is enabled, so those
states are removed and the rest is decomposed again. Every state can stutter, so every
component, even one state without a self-loop, is a cycle: a state where no fair action is
enabled (a deadlock included) is a fair place to stay for ever, as in TLC.

The trigger is evaluated on every state, the goal only where the search asks (the trigger
states and the stay-subgraph they reach) until a violation needs it everywhere for the lasso;
where the graph was recorded by number, both were recorded with it and are read whole (the
trigger's states found by a scan of its bytes), not called state by state;
a component of one state is judged by its out-edges alone (no fairness-constrained edge
leaves it), without the tallies a larger one needs.

The counterexample is a lasso: a shortest path from an initial state to the nearest state of
a fair component (through a trigger state), then a cycle from there through the component
that takes each action and visits each state the fairness constraints ask for, back to where
it started; a cycle that needs nothing is stuttering.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from kafka_eos.errors import InputError

from .graph import StateGraph
from .graph_shares import NumberedGraph, Recorded
from .interface import BoundModel, action_name, model_error, short_repr
from .replay import replay
from .result import STUTTERING, Trace
from .scc import Components
from .temporal import Fairness, TemporalProperty

Graph = StateGraph | NumberedGraph


@dataclass(frozen=True, slots=True)
class Temporal:
    """What a model asks to be checked: its temporal properties and fairness."""

    properties: tuple[tuple[str, TemporalProperty], ...]
    fairness: tuple[Fairness, ...]


def declared(bound: BoundModel) -> Temporal | None:
    """The model's temporal properties and fairness, or None when it declares none."""
    model, name = bound.model, bound.name
    properties = _called(model, name, "temporal_properties", {})
    if not isinstance(properties, Mapping):
        raise InputError(f"{name}.temporal_properties() must return a mapping name -> "
                         f"property, got {short_repr(properties)}")
    for key, prop in properties.items():
        if not isinstance(prop, TemporalProperty):
            raise InputError(f"{name}.temporal_properties(): {key!r} is not a temporal property "
                             f"(got {short_repr(prop)}); make it with eventually(), "
                             "always_eventually() or leads_to() from kafka_eos.checker.temporal")
    if not properties:
        return None
    fairness = _called(model, name, "fairness", ())
    if isinstance(fairness, str | Mapping) or not isinstance(fairness, Iterable):
        raise InputError(f"{name}.fairness() must return a list of weakly_fair()/"
                         f"strongly_fair() constraints, got {short_repr(fairness)}")
    fairness = tuple(fairness)
    for constraint in fairness:
        if not isinstance(constraint, Fairness):
            raise InputError(f"{name}.fairness(): {short_repr(constraint)} is not a fairness "
                             "constraint; make it with weakly_fair() or strongly_fair()")
        if bound.action_names is not None and constraint.action not in bound.action_names:
            raise InputError(f"{name}.fairness(): {constraint.describe()} names no action of "
                             f"the model; its actions: {', '.join(bound.action_names)}")
    return Temporal(tuple((str(k), v) for k, v in properties.items()), fairness)


def _called(model: object, name: str, attribute: str, default: Any) -> Any:
    method = getattr(model, attribute, None)
    if method is None:
        return default
    if not callable(method):
        raise InputError(f"{name}.{attribute} must be a method, got {short_repr(method)}")
    try:
        return method()
    except Exception as exc:
        raise model_error(f"{name}.{attribute}() raised", exc) from exc


@dataclass(frozen=True, slots=True)
class Lasso:
    """A violating behaviour: ``path[0]`` initial, ``steps[i]`` the label id into
    ``path[i + 1]``; the last step returns to ``path[loop]`` (label id -1: stuttering)."""

    property_name: str
    path: list[int]
    steps: list[int]
    loop: int


@dataclass(frozen=True, slots=True)
class Outcome:
    lasso: Lasso | None
    seconds: float


class LivenessChecker:
    """Fair-cycle search on one recorded graph, for each temporal property in turn."""

    def __init__(self, graph: Graph, temporal: Temporal) -> None:
        self.graph = graph
        self.temporal = temporal
        self.initial = graph.initial
        self.size = graph.expanded
        self.offsets, self.targets, self.labels = graph.offsets, graph.targets, graph.labels
        self.member = array("i", bytes(4 * self.size))
        self.components = Components(self.size, self.offsets, self.targets)
        self.stamp = 0
        self.kinds: list[str] = []
        self.by_label = self._constraints(graph.label_list(), temporal.fairness)

    def _constraints(
        self, labels: list[Hashable], fairness: Sequence[Fairness]
    ) -> list[tuple[int, ...]]:
        """For each label id, the indices of the constraints it belongs to."""
        by_label: list[list[int]] = [[] for _ in labels]
        names = [action_name(label) for label in labels]
        for constraint in fairness:
            matching = [i for i, n in enumerate(names) if n == constraint.action]
            groups = [[i] for i in matching] if constraint.per_label else [matching]
            for group in groups:
                for label_id in group:
                    by_label[label_id].append(len(self.kinds))
                self.kinds.append(constraint.kind)
        return [tuple(cs) for cs in by_label]

    def check(self, states: Sequence[Any]) -> Outcome:
        start = time.perf_counter()
        for name, prop in self.temporal.properties:
            lasso = self._violation(name, prop, states)
            if lasso is not None:
                return Outcome(lasso, time.perf_counter() - start)
        return Outcome(None, time.perf_counter() - start)

    # -- one property ----------------------------------------------------------------------

    def _violation(self, name: str, prop: TemporalProperty, states: Sequence[Any]) -> Lasso | None:
        # The goal is evaluated only where the search needs it (trigger states and the
        # region it reaches): most states are never asked. A lasso needs it everywhere.
        stay = _Lazily(states, prop.goal, name)
        trigger = None
        if prop.kind == "eventually":
            sources = [v for v in range(self.initial) if stay.stays(v)]
        elif prop.kind == "always_eventually":
            sources = [v for v in range(self.size) if stay.stays(v)]
        else:
            assert prop.trigger is not None
            trigger, triggered = _holding(states, prop.trigger, name)
            sources = [v for v in triggered if stay.stays(v)]
        region = self._closure(sources, stay)
        if not region:
            return None
        fair = self._fair_components(region)
        if not fair:
            return None
        component_of = {v: number for number, c in enumerate(fair) for v in c}
        stays = stay.everywhere()
        if prop.kind == "eventually":
            switch = bytearray(self.size)
            switch[: self.initial] = stays[: self.initial]
        elif trigger is None:
            switch = stays
        else:
            switch = bytearray(a & b for a, b in zip(trigger, stays, strict=True))
        prefix_path, prefix_steps = self._shortest_prefix(
            switch, stays, component_of, from_trigger_only=prop.kind == "eventually"
        )
        entry = prefix_path[-1]
        cycle_path, cycle_steps = self._fair_cycle(fair[component_of[entry]], entry)
        return Lasso(name, prefix_path + cycle_path, prefix_steps + cycle_steps,
                     len(prefix_path) - 1)

    def _new_stamp(self, nodes: Iterable[int]) -> int:
        self.stamp += 1
        member, stamp = self.member, self.stamp
        for v in nodes:
            member[v] = stamp
        return stamp

    def _closure(self, sources: list[int], stay: _Lazily) -> list[int]:
        """The states reachable from ``sources`` through states where ``stay`` holds."""
        offsets, targets = self.offsets, self.targets
        seen = bytearray(self.size)
        for v in sources:
            seen[v] = 1
        queue = list(sources)
        for v in queue:
            for edge in range(offsets[v], offsets[v + 1]):
                t = targets[edge]
                if not seen[t] and stay.stays(t):
                    seen[t] = 1
                    queue.append(t)
        return queue

    def _fair_components(self, region: list[int]) -> list[list[int]]:
        """The maximal strongly connected sets of ``region`` holding a fair cycle."""
        stamp = self._new_stamp(region)
        pending = self.components.of(region, self.member, stamp)
        fair: list[list[int]] = []
        while pending:
            component = pending.pop()
            if len(component) == 1:
                # most components are one state: it stutters for ever, a fair run only where
                # no constrained action can leave it (what _tally finds, without its sets)
                if not self._constrained_exit(component[0]):
                    fair.append(component)
                continue
            stamp = self._new_stamp(component)
            enabled_count, taken = self._tally(component, stamp)
            if any(
                self.kinds[c] == "weak" and count == len(component) and c not in taken
                for c, count in enabled_count.items()
            ):
                continue  # a weakly fair action enabled throughout, never taken: no fair cycle
            starved = {c for c in enabled_count if self.kinds[c] == "strong" and c not in taken}
            if not starved:
                fair.append(component)
                continue
            rest = [v for v in component if not starved & self._enabled_at(v)]
            if rest:
                stamp = self._new_stamp(rest)
                pending.extend(self.components.of(rest, self.member, stamp))
        return fair

    def _tally(self, component: list[int], stamp: int) -> tuple[dict[int, int], set[int]]:
        """Per constraint: in how many states of the component it is enabled; which are taken
        on an edge inside it."""
        offsets, targets, labels, by_label = self.offsets, self.targets, self.labels, self.by_label
        member = self.member
        enabled_count: dict[int, int] = {}
        taken: set[int] = set()
        for v in component:
            enabled: set[int] = set()
            for edge in range(offsets[v], offsets[v + 1]):
                constraints = by_label[labels[edge]]
                t = targets[edge]
                if not constraints or t == v:
                    continue
                enabled.update(constraints)
                if member[t] == stamp:
                    taken.update(constraints)
            for c in enabled:
                enabled_count[c] = enabled_count.get(c, 0) + 1
        return enabled_count, taken

    def _constrained_exit(self, v: int) -> bool:
        """Whether an edge out of ``v`` to another state belongs to a fairness constraint."""
        by_label, labels, targets = self.by_label, self.labels, self.targets
        for edge in range(self.offsets[v], self.offsets[v + 1]):
            if targets[edge] != v and by_label[labels[edge]]:
                return True
        return False

    def _enabled_at(self, v: int) -> set[int]:
        by_label, labels, targets = self.by_label, self.labels, self.targets
        enabled: set[int] = set()
        for edge in range(self.offsets[v], self.offsets[v + 1]):
            if targets[edge] != v:
                enabled.update(by_label[labels[edge]])
        return enabled

    # -- the lasso -------------------------------------------------------------------------

    def _shortest_prefix(
        self,
        switch: bytearray,
        stay: bytearray,
        goal: Mapping[int, int],
        *,
        from_trigger_only: bool,
    ) -> tuple[list[int], list[int]]:
        """A shortest path initial -> trigger state -> (staying) -> a state in ``goal``.

        Breadth-first over (state, phase): in phase 0 any edge may be followed, and entering
        a trigger state may also enter phase 1, where only states that stay may be entered.
        """
        offsets, targets, labels = self.offsets, self.targets, self.labels
        previous = array("i", [-2]) * (2 * self.size)
        step = array("i", [-1]) * (2 * self.size)
        queue: list[int] = []

        def reach(node: int, before: int, label: int) -> bool:
            if previous[node] != -2:
                return False
            previous[node], step[node] = before, label
            queue.append(node)
            return node & 1 == 1 and (node >> 1) in goal

        found = -1
        for v in range(self.initial):
            if not from_trigger_only:
                reach(2 * v, -1, -1)
            if switch[v] and reach(2 * v + 1, -1, -1):
                found = 2 * v + 1
                break
        position = 0
        while found < 0:
            node = queue[position]
            position += 1
            v, phase = node >> 1, node & 1
            for edge in range(offsets[v], offsets[v + 1]):
                t, label = targets[edge], labels[edge]
                if phase == 0:
                    reach(2 * t, node, label)
                    if switch[t] and reach(2 * t + 1, node, label):
                        found = 2 * t + 1
                        break
                elif stay[t] and reach(2 * t + 1, node, label):
                    found = 2 * t + 1
                    break
        path, steps = [], []
        node = found
        while node >= 0:
            path.append(node >> 1)
            steps.append(step[node])
            node = previous[node]
        path.reverse()
        steps.reverse()
        return path, steps[1:]

    def _fair_cycle(self, component: list[int], entry: int) -> tuple[list[int], list[int]]:
        """A cycle from ``entry`` through ``component`` back to it, meeting every constraint
        (the states after ``entry`` and the label ids); stuttering when nothing is asked."""
        stamp = self._new_stamp(component)
        enabled_count, taken = self._tally(component, stamp)
        at_entry = self._enabled_at(entry)
        # Each wish is (constraint, True) "take it" or (constraint, False) "visit a state
        # where it is disabled".
        wishes: set[tuple[int, bool]] = set()
        for c in enabled_count:
            if c in taken:
                wishes.add((c, True))
            elif self.kinds[c] == "weak" and c in at_entry:
                wishes.add((c, False))
        path: list[int] = []
        steps: list[int] = []
        here = entry
        while wishes:
            segment, labels_ = self._walk_to_wish(here, wishes, stamp)
            if not segment:
                raise AssertionError("a wish of a fair component cannot be fulfilled")
            for v, label in zip(segment, labels_, strict=True):
                enabled = self._enabled_at(v)
                wishes = {
                    (c, take) for c, take in wishes
                    if not (take and c in self.by_label[label])
                    and not (not take and c not in enabled)
                }
            path += segment
            steps += labels_
            here = path[-1]
        if path and here != entry:
            segment, labels_ = self._walk(here, lambda v: v == entry, stamp)
            path += segment
            steps += labels_
        if not path:
            return [entry], [-1]
        return path, steps

    def _walk_to_wish(
        self, start: int, wishes: set[tuple[int, bool]], stamp: int
    ) -> tuple[list[int], list[int]]:
        """A shortest walk inside the component from ``start`` that fulfils one wish."""
        takes = {c for c, take in wishes if take}
        avoids = {c for c, take in wishes if not take}
        offsets, targets, labels, member = self.offsets, self.targets, self.labels, self.member

        def taking_edge(v: int) -> int:
            for edge in range(offsets[v], offsets[v + 1]):
                t = targets[edge]
                if t != v and member[t] == stamp and takes & set(self.by_label[labels[edge]]):
                    return edge
            return -1

        def fulfils(v: int) -> bool:
            return bool(avoids - self._enabled_at(v)) or taking_edge(v) >= 0

        segment, labels_ = self._walk(start, fulfils, stamp)
        last = segment[-1] if segment else start
        if avoids - self._enabled_at(last):
            return segment, labels_
        edge = taking_edge(last)
        return [*segment, targets[edge]], [*labels_, labels[edge]]

    def _walk(self, start: int, arrived: Any, stamp: int) -> tuple[list[int], list[int]]:
        """A shortest walk inside the component from ``start`` to a state where ``arrived``
        holds (empty if it holds at ``start``): the states after ``start`` and the labels."""
        if arrived(start):
            return [], []
        offsets, targets, labels, member = self.offsets, self.targets, self.labels, self.member
        previous: dict[int, tuple[int, int]] = {start: (-1, -1)}
        queue = [start]
        for v in queue:
            for edge in range(offsets[v], offsets[v + 1]):
                t = targets[edge]
                if member[t] != stamp or t in previous:
                    continue
                previous[t] = (v, labels[edge])
                if arrived(t):
                    path, steps = [], []
                    while t != start:
                        path.append(t)
                        t, label = previous[t]
                        steps.append(label)
                    return path[::-1], steps[::-1]
                queue.append(t)
        raise AssertionError("a strongly connected component is connected")


class _Lazily:
    """Whether a state stays (the goal does not hold), evaluated once per state on demand."""

    __slots__ = ("known", "name", "predicate", "states")

    def __init__(self, states: Sequence[Any], goal: Any, name: str) -> None:
        self.states, self.predicate, self.name = states, goal, name
        # 0: not evaluated, 1: stays, 2: goal holds (a recorded goal: known everywhere)
        self.known = (bytearray(goal.values.translate(_STAYS)) if isinstance(goal, Recorded)
                      else bytearray(len(states)))

    def stays(self, v: int) -> bool:
        """Whether state ``v`` stays (a method, not ``__call__``: compiled, a method call is
        direct, where a call of the object goes through Python's generic call)."""
        known = self.known[v]
        if not known:
            try:
                known = 2 if self.predicate(self.states[v]) else 1
            except Exception as exc:
                raise model_error(f"temporal property {self.name!r} raised", exc) from exc
            self.known[v] = known
        return known == 1

    def everywhere(self) -> bytearray:
        """One byte per state: 1 where it stays."""
        return bytearray(self.stays(v) for v in range(len(self.known)))


#: A recorded goal's byte (0: false, 1: holds) -> _Lazily's (1: stays, 2: goal holds).
_STAYS = bytes([1, 2]) + bytes(254)


def _holding(
    states: Sequence[Any], predicate: Any, name: str
) -> tuple[bytes | bytearray, list[int]]:
    """One byte per state, 1 where ``predicate`` holds (recorded, or evaluated on each), and
    the states where it holds."""
    if isinstance(predicate, Recorded):
        return predicate.values, _ones(predicate.values)
    # a loop setting the ones, not bytearray() of a generator: compiled, each item of a
    # generator is a resumed call, and this runs over every state for each trigger
    flags = bytearray(len(states))
    ones: list[int] = []
    at = 0
    try:
        for state in states:
            if predicate(state):
                flags[at] = 1
                ones.append(at)
            at += 1
    except Exception as exc:
        raise model_error(f"temporal property {name!r} raised", exc) from exc
    return flags, ones


def _ones(flags: bytes | bytearray) -> list[int]:
    """The positions of the ones in ``flags`` (each byte 0 or 1): the zeros, most of them for
    a trigger, are skipped by the C scan of ``find`` rather than looked at one by one."""
    found: list[int] = []
    position = flags.find(1)
    while position >= 0:
        found.append(position)
        position = flags.find(1, position + 1)
    return found


def checked(graph: Graph, temporal: Temporal) -> Outcome:
    """Every temporal property on a recorded graph (kept states, or numbers and values)."""
    states, valued = graph.valuation(temporal)
    return LivenessChecker(graph, valued).check(states)


def lasso_trace(bound: BoundModel, graph: Graph, lasso: Lasso) -> Trace:
    """The lasso as a trace whose last state repeats ``states[loop]``.

    Without symmetry the states and labels are the graph's own (rebuilt by re-execution
    where workers recorded the graph). Under symmetry the stored states are representatives,
    so the path is replayed into concrete states; the last one is then the loop state up to
    symmetry.
    """
    label_list = graph.label_list()
    closing_stutters = lasso.steps[-1] == -1
    walked = graph.path_states(bound, lasso.path[:-1] if closing_stutters else lasso.path)
    if bound.canonical is not None:
        trace = replay(bound, walked)
        concrete, labels = trace.states, trace.labels
    else:
        concrete = walked
        # the model's own label objects, as the search and replay keep them
        labels = cast(list[str], [label_list[i] for i in lasso.steps[: len(walked) - 1]])
    if closing_stutters:
        concrete, labels = [*concrete, concrete[-1]], [*labels, STUTTERING]
    return Trace(states=concrete, labels=labels, loop=lasso.loop)
