"""The reference refines the model along shortest paths: for states of a named check, drawn
evenly from its whole state space, the state's shortest path from the initial state followed
by each transition the model offers there, replayed on the reference.

The stateful refinement tests (test_refinement.py) walk at random and rarely reach a state
many steps deep where two things meet (a failover while a marker waits in the leader's
purgatory, found this way, was missed by thousands of their runs). Here depth costs nothing:
every state is as likely as another. A seeded sample runs by default; ``-m slow`` takes
larger ones.
"""

from __future__ import annotations

import random
from collections import deque

import pytest

from kafka_eos.model.configs import load_check_config
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.registry import Step
from kafka_eos.model.verdicts import load_verdicts

from .programs import run_program

State = tuple  # type: ignore[type-arg]


def _shortest_paths(model: KafkaEosModel) -> dict[State, tuple[State, Step] | None]:
    """Breadth-first: each state's predecessor on one shortest path, and the step from it."""
    initial = model.init_states()[0]
    parent: dict[State, tuple[State, Step] | None] = {initial: None}
    queue = deque([initial])
    while queue:
        state = queue.popleft()
        for label, target in model.actions(state):
            if target not in parent:
                parent[target] = (state, label)
                queue.append(target)
    return parent


def _path_to(parent: dict[State, tuple[State, Step] | None], state: State) -> list[Step]:
    path = []
    link = parent[state]
    while link is not None:
        state, label = link
        path.append(label)
        link = parent[state]
    return path[::-1]


def _disagreements(name: str, samples: int | None) -> list[str]:
    """The programs (shortest path + one transition) on which the reference does not refine
    the model or breaks one of its properties (the check is one the model finds correct)."""
    assert load_verdicts()[name].verdict == "ok"
    model = load_check_config(name).model
    parent = _shortest_paths(model)
    states = list(parent)  # (in breadth-first order: the same every run)
    if samples is not None:
        states = random.Random(0).sample(states, min(samples, len(states)))
    found = []
    for state in states:
        path = _path_to(parent, state)
        for label, _ in model.actions(state):
            result = run_program(model, [*path, label])
            if result.failed_at is not None or result.ran < len(path) + 1:
                found.append(f"{label} after {[str(step) for step in path]}: {result}")
    return found


#: The replicated checks the model finds correct (every leader change and purgatory path),
#: with the sample each takes by default.
SAMPLES = {"replicated": 80, "replicated-transactions": 80, "replicated-three-replicas": 40}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_the_reference_refines_the_model_along_shortest_paths(name: str) -> None:
    assert _disagreements(name, SAMPLES[name]) == []


#: ``-m slow``: every state of the smallest, larger samples of the others (replicated-
#: transactions' 11,650 states take about 20 minutes; session 19 swept them all once).
SLOW_SAMPLES = {
    "replicated": None,
    "replicated-transactions": 1500,
    "replicated-three-replicas": 500,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_SAMPLES))
def test_the_reference_refines_the_model_along_more_shortest_paths(name: str) -> None:
    assert _disagreements(name, SLOW_SAMPLES[name]) == []
