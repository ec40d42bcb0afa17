"""The fair-cycle search against a brute-force oracle on random small graphs (Hypothesis).

The oracle knows nothing of strongly connected components or refinement. A fair behaviour that
violates a property ends up visiting some set S of states infinitely often; taking every edge
inside S infinitely often is possible and only helps fairness, so such a behaviour exists iff
some non-empty S, strongly connected by its inner edges (or a single state, which stutters),
reachable the way the property asks and free of goal states, satisfies every constraint: a
weakly fair action is taken inside S or disabled somewhere in S, a strongly fair one is taken
inside S or enabled nowhere in S. The oracle tries every subset of states. (The Hypothesis
profile sets how many graphs: 100 by default, 60 under CI, 2000 with
HYPOTHESIS_PROFILE=thorough.)
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from lassos import lasso_problems

from kafka_eos.checker import check
from kafka_eos.checker.interface import action_name
from kafka_eos.checker.temporal import (
    Fairness,
    TemporalProperty,
    always_eventually,
    eventually,
    leads_to,
    strongly_fair,
    weakly_fair,
)

LABELS = ("A(0)", "A(1)", "B")


class RandomGraph:
    def __init__(self, size: int, edges: set[tuple[int, str, int]], prop: TemporalProperty,
                 fairness: list[Fairness]) -> None:
        self.size, self.edges, self.prop, self.fair = size, edges, prop, fairness

    def init_states(self) -> list[int]:
        return [0]

    def actions(self, state: int) -> Iterator[tuple[str, int]]:
        for source, label, target in sorted(self.edges):
            if source == state:
                yield label, target

    def invariants(self) -> dict[str, Any]:
        return {}

    def temporal_properties(self) -> dict[str, TemporalProperty]:
        return {"P": self.prop}

    def fairness(self) -> list[Fairness]:
        return self.fair


def _reach(sources: set[int], edges: set[tuple[int, str, int]], allowed: set[int]) -> set[int]:
    seen = {s for s in sources if s in allowed}
    frontier = list(seen)
    while frontier:
        v = frontier.pop()
        for s, _, t in edges:
            if s == v and t in allowed and t not in seen:
                seen.add(t)
                frontier.append(t)
    return seen


def _constraints(model: RandomGraph) -> list[tuple[str, set[str]]]:
    out = []
    for f in model.fair:
        labels = {lbl for lbl in LABELS if action_name(lbl) == f.action}
        out += [(f.kind, {lbl}) for lbl in labels] if f.per_label else [(f.kind, labels)]
    return out


def _fair_set(model: RandomGraph, states: set[int]) -> bool:
    inner = {(s, lbl, t) for s, lbl, t in model.edges if s in states and t in states and s != t}
    if len(states) > 1 and any(_reach({v}, inner, states) != states for v in states):
        return False
    for kind, labels in _constraints(model):
        taken = any(lbl in labels for _, lbl, _ in inner)
        enabled = [any(s == v and t != v and lbl in labels for s, lbl, t in model.edges)
                   for v in states]
        if not taken and (all(enabled) if kind == "weak" else any(enabled)):
            return False
    return True


def oracle_violated(model: RandomGraph) -> bool:
    every = set(range(model.size))
    reachable = _reach({0}, model.edges, every)
    goal = {v for v in reachable if model.prop.goal(v)}
    free = reachable - goal
    if model.prop.kind == "eventually":
        region = _reach({0}, model.edges, free)
    elif model.prop.kind == "always_eventually":
        region = free
    else:
        assert model.prop.trigger is not None
        region = _reach({v for v in free if model.prop.trigger(v)}, model.edges, free)
    return any(
        _fair_set(model, set(subset))
        for size in range(1, len(region) + 1)
        for subset in combinations(sorted(region), size)
    )


@st.composite
def random_graphs(draw: Any) -> RandomGraph:
    size = draw(st.integers(1, 6))
    nodes = st.integers(0, size - 1)
    edges = draw(st.sets(st.tuples(nodes, st.sampled_from(LABELS), nodes), max_size=14))
    goal = draw(st.frozensets(nodes))
    trigger = draw(st.frozensets(nodes))
    kind = draw(st.sampled_from(["eventually", "always_eventually", "leads_to"]))
    prop = {
        "eventually": eventually(goal.__contains__),
        "always_eventually": always_eventually(goal.__contains__),
        "leads_to": leads_to(trigger.__contains__, goal.__contains__),
    }[kind]
    fairness = []
    for name in ("A", "B"):
        choice = draw(st.sampled_from(["none", "weak", "strong"]))
        if choice != "none":
            make = weakly_fair if choice == "weak" else strongly_fair
            fairness.append(make(name, per_label=draw(st.booleans())))
    return RandomGraph(size, edges, prop, fairness)


@given(random_graphs())
def test_the_checker_agrees_with_the_brute_force_oracle(model: RandomGraph) -> None:
    result = check(model)
    assert (result.verdict == "violated") == oracle_violated(model)
    if result.verdict == "violated":
        assert lasso_problems(model, result.trace, model.prop) == []
