"""The reference refines the model along shortest paths: for states of a named check, drawn
evenly from its whole state space, the state's shortest path from the initial state followed
by each transition the model offers there, replayed on the reference.

The stateful refinement tests (test_refinement.py) walk at random and rarely reach a state
many steps deep where two things meet (a failover while a marker waits in the leader's
purgatory, found this way, was missed by thousands of their runs). Here depth costs nothing:
every state is as likely as another. A seeded sample runs by default; ``-m slow`` takes
larger ones. Where the reference's client takes a step ahead of the model's path (a
TxnOffsetCommit), the program follows the reference past it (programs.py).
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


def _sweep(name: str, samples: int | None) -> tuple[list[str], list[str], int]:
    """The programs (shortest path + one transition) on which the reference does not refine
    the model or breaks one of its properties (the check is one the model finds correct),
    those that stop before their end (a step not enabled at the reference's state: see
    programs.py), and how many programs ran."""
    assert load_verdicts()[name].verdict == "ok"
    model = load_check_config(name).model
    parent = _shortest_paths(model)
    states = list(parent)  # (in breadth-first order: the same every run)
    if samples is not None:
        states = random.Random(0).sample(states, min(samples, len(states)))
    failed, stopped, programs = [], [], 0
    for state in states:
        path = _path_to(parent, state)
        for label, _ in model.actions(state):
            programs += 1
            result = run_program(model, [*path, label])
            if result.failed_at is not None:
                failed.append(f"{label} after {[str(step) for step in path]}: {result}")
            elif result.ran < len(path) + 1:
                stopped.append(f"{label} after {[str(step) for step in path]}: {result}")
    return failed, stopped, programs


#: The checks the model finds correct that the sweep covers, with the sample each takes by
#: default and the share of programs that may stop before their end. On the replicated
#: checks (every leader change and purgatory path) none may. On the consume-transform-produce
#: ones the reference's client sends a TxnOffsetCommit as soon as AddOffsetsToTxn is answered,
#: as Kafka's TransactionManager does (its TxnOffsetCommitHandler is enqueued by the
#: AddOffsetsToTxn handler), where the model may abort or time out before that send: a program
#: along such a path stops (about 5% of them on ctp-timeout and ctp-request-timeouts).
SAMPLES = {
    "replicated": (80, 0.0),
    "replicated-transactions": (80, 0.0),
    "replicated-three-replicas": (40, 0.0),
    "ctp": (30, 0.1),
    "ctp-rebalance": (15, 0.1),
    "ctp-timeout": (30, 0.1),
    "ctp-request-timeouts": (30, 0.1),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_the_reference_refines_the_model_along_shortest_paths(name: str) -> None:
    samples, may_stop = SAMPLES[name]
    _assert_refines(name, samples, may_stop)


#: ``-m slow``: every state of the smallest, larger samples of the others (replicated-
#: transactions' 11,650 states take about 20 minutes; session 19 swept them all once).
SLOW_SAMPLES = {
    "replicated": None,
    "replicated-transactions": 1500,
    "replicated-three-replicas": 500,
    "ctp": 300,
    "ctp-rebalance": 150,
    "ctp-timeout": 600,
    "ctp-request-timeouts": 300,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_SAMPLES))
def test_the_reference_refines_the_model_along_more_shortest_paths(name: str) -> None:
    _assert_refines(name, SLOW_SAMPLES[name], SAMPLES[name][1])


def _assert_refines(name: str, samples: int | None, may_stop: float) -> None:
    failed, stopped, programs = _sweep(name, samples)
    assert failed == []
    assert len(stopped) <= may_stop * programs, stopped[:3]
