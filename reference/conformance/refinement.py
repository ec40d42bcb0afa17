"""Does one reference step refine the model? And do the model's properties hold on it?

A reference step goes from abstract state ``a`` to abstract state ``b``. It refines the model
when ``b == a`` (a stutter: the reference did nothing the model can see), or ``b`` is reachable
from ``a`` in at most ``max_depth`` model steps (one reference step may do several model steps
at once: the coordinator completes its transaction-log write with the request that caused it,
one WriteTxnMarkers carries every partition's marker). The search uses the model's own
``actions``, so the model and the tests cannot drift apart.

The search is best-first from ``a`` and prunes on what only grows or shrinks in the model: the
fault budget never grows, logs only grow at the end, a decided outcome never changes. When the
step does not refine the model, :class:`StepResult` names the closest model state it found and
the variables in which it differs from ``b``.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka_eos.model import layout as L
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.registry import Step


@dataclass(slots=True)
class StepResult:
    refines: bool
    path: list[Step] = field(default_factory=list)  # model labels from a to b
    closest: tuple | None = None  # type: ignore[type-arg]
    broken: list[str] = field(default_factory=list)  # properties violated by b or the path

    def __bool__(self) -> bool:
        return self.refines


def find_path(
    model: KafkaEosModel,
    start: tuple,  # type: ignore[type-arg]
    goal: tuple,  # type: ignore[type-arg]
    *,
    max_depth: int = 6,
    max_expansions: int = 5_000,
    hint: tuple | None = None,  # type: ignore[type-arg]
) -> tuple[list[tuple[Step, tuple]] | None, tuple]:  # type: ignore[type-arg]
    """A shortest-looking path of model steps from ``start`` to ``goal`` (None if not found
    within the bounds), and the closest state seen."""
    if start == goal:
        return [], start
    counter = 0
    frontier: list[tuple[int, int, int, tuple, list[tuple[Step, tuple]]]] = []  # type: ignore[type-arg]
    seen = {start}
    best = (distance(start, goal), start)
    if hint is not None:
        best = min(best, (distance(hint, goal), hint), key=lambda x: x[0])
    heapq.heappush(frontier, (distance(start, goal), 0, counter, start, []))
    expansions = 0
    while frontier and expansions < max_expansions:
        _, depth, _, state, path = heapq.heappop(frontier)
        expansions += 1
        if depth >= max_depth:
            continue
        for label, successor in model.actions(state):
            if successor in seen or not _may_lead_to(successor, goal):
                continue
            seen.add(successor)
            step = [*path, (label, successor)]
            if successor == goal:
                return step, goal
            d = distance(successor, goal)
            if d < best[0]:
                best = (d, successor)
            counter += 1
            heapq.heappush(frontier, (d + depth + 1, depth + 1, counter, successor, step))
    return None, best[1]


def _may_lead_to(state: tuple, goal: tuple) -> bool:  # type: ignore[type-arg]
    """False when no model path from ``state`` can reach ``goal`` (monotone components)."""
    if any(have < want for have, want in zip(state[L.S_BUDGET], goal[L.S_BUDGET], strict=True)):
        return False
    for have, want in zip(state[L.S_OUTCOMES], goal[L.S_OUTCOMES], strict=True):
        if have != L.O_UNDECIDED and have != want:
            return False
    for have, want in zip(state[L.S_PARTITIONS], goal[L.S_PARTITIONS], strict=True):
        log, wanted = have[L.P_LOG], want[L.P_LOG]
        if len(log) > len(wanted) or wanted[: len(log)] != log:
            return False
    return True


def distance(state: tuple, goal: tuple) -> int:  # type: ignore[type-arg]
    """How far ``state`` looks from ``goal``: differing parts, counted coarsely."""
    d = 0
    for index in (L.S_CLIENTS, L.S_PARTITIONS):
        for have, want in zip(state[index], goal[index], strict=True):
            if have != want:
                d += sum(1 for x, y in zip(have, want, strict=True) if x != y)
    coordinator, wanted = state[L.S_COORDINATOR], goal[L.S_COORDINATOR]
    if coordinator != wanted:
        d += 1 + sum(
            1
            for x, y in zip(coordinator[L.K_METADATA], wanted[L.K_METADATA], strict=True)
            if x != y
        )
    network = Counter(state[L.S_NETWORK])
    target = Counter(goal[L.S_NETWORK])
    d += sum(((network - target) + (target - network)).values())
    for index in (L.S_CONSUMER, L.S_OUTCOMES, L.S_BUDGET):
        if state[index] != goal[index]:
            d += 1
    return d


def check_step(
    model: KafkaEosModel,
    before: tuple,  # type: ignore[type-arg]
    after: tuple,  # type: ignore[type-arg]
    *,
    expected: tuple | None = None,  # type: ignore[type-arg]
    max_depth: int = 6,
    max_expansions: int = 5_000,
) -> StepResult:
    """Refinement and properties of one reference step ``before -> after`` (abstract states).
    ``expected`` is the model successor of the action the driver performed (tried first)."""
    path: list[tuple[Step, tuple]] | None  # type: ignore[type-arg]
    closest: tuple = after  # type: ignore[type-arg]
    if after == before:
        path = []
    elif expected is not None and after == expected:
        path = _labelled(model, before, expected)  # the successor of the step performed
    else:
        path, closest = find_path(
            model, before, after, max_depth=max_depth, max_expansions=max_expansions, hint=expected
        )
    if path is None:
        return StepResult(False, closest=closest, broken=broken_invariants(model, after))
    broken = broken_invariants(model, after)
    previous = before
    for label, state in path:
        broken += broken_action_properties(model, previous, label, state)
        previous = state
    return StepResult(True, [label for label, _ in path], after, sorted(set(broken)))


def _labelled(model: KafkaEosModel, before: tuple, after: tuple) -> list[tuple[Step, tuple]] | None:  # type: ignore[type-arg]
    for label, successor in model.actions(before):
        if successor == after:
            return [(label, successor)]
    return None


def broken_invariants(model: KafkaEosModel, state: tuple) -> list[str]:  # type: ignore[type-arg]
    return [name for name, holds in model.invariants().items() if not holds(state)]


def broken_action_properties(
    model: KafkaEosModel, before: tuple[Any, ...], label: Step, after: tuple[Any, ...]
) -> list[str]:
    properties: dict[str, Callable[..., Any]] = dict(model.action_properties())
    return [name for name, holds in properties.items() if not holds(before, label, after)]


def differing_variables(
    model: KafkaEosModel, have: tuple[Any, ...], want: tuple[Any, ...]
) -> dict[str, tuple[Any, Any]]:
    """Readable variables (model.variables) that differ: name -> (have, want), narrowed to the
    differing entries of each variable's mapping."""
    mine, theirs = model.variables(have), model.variables(want)
    out: dict[str, tuple[Any, Any]] = {}
    for name in mine:
        a, b = mine[name], theirs.get(name)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                if a.get(key) != b.get(key):
                    out[f"{name}.{key}"] = (a.get(key), b.get(key))
        else:
            out[name] = (a, b)
    return out
