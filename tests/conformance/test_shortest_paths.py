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


#: The checks the model finds correct that the sweep covers: name -> the states it samples by
#: default (0: none) and under ``-m slow`` (None: every state), and the share of programs that
#: may stop before their end. None may on most checks. On the consume-transform-produce ones the
#: reference's client, as Kafka's TransactionManager, enqueues a TxnOffsetCommit when
#: AddOffsetsToTxn is answered and fails it unsent if an error came before it is dequeued
#: (nextRequest, maybeTerminateRequestWithError); the model may take that error first. But the
#: driver runs the client's Sender as soon as it delivers an answer (ConformanceWorld.settle),
#: so on the reference the TxnOffsetCommit has gone out before any later answer: a program along
#: such a path stops, about 5% of them on ctp-timeout and ctp-request-timeouts. On
#: fencing-losses the driver cannot lose one request that carries two model messages (1.3% of
#: 1,005 programs; 15 of 285 on fencing-both-partitions, every one of them a LoseMessage).
CHECKS: dict[str, tuple[int | None, int | None, float]] = {
    "tv2-no-verification": (20, None, 0.0),
    "idempotent": (20, None, 0.0),
    "tv1": (20, None, 0.0),
    "coordinator-failover": (30, None, 0.0),
    "tv2-no-coordinator-epoch-check": (20, None, 0.0),
    "txn-timeout-tv1-no-verification": (20, None, 0.0),
    "txn-timeout": (30, None, 0.0),
    "zombie-fencing": (30, None, 0.0),
    "producer-id-rotation": (15, 400, 0.0),
    "retriable-errors": (30, 600, 0.0),
    "tv2-producer-id-rotation": (10, 150, 0.0),
    "fencing-losses": (30, 400, 0.05),
    "replicated": (80, None, 0.0),
    "replicated-transactions": (80, 1500, 0.0),  # all 11,650: about 20 minutes (session 19)
    "replicated-three-replicas": (40, 500, 0.0),
    "ctp": (30, 300, 0.1),
    "ctp-rebalance": (15, 150, 0.1),
    "ctp-timeout": (30, 600, 0.1),
    "ctp-request-timeouts": (30, 300, 0.1),
    # the two largest: under -m slow only (their breadth-first pass alone is 0.4-0.5 million
    # states, interpreted)
    "default": (0, 200, 0.0),
    "fencing-both-partitions": (0, 100, 0.1),
}


@pytest.mark.parametrize("name", [name for name, (samples, _, _) in CHECKS.items() if samples])
def test_the_reference_refines_the_model_along_shortest_paths(name: str) -> None:
    samples, _, may_stop = CHECKS[name]
    _assert_refines(name, samples, may_stop)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHECKS))
def test_the_reference_refines_the_model_along_more_shortest_paths(name: str) -> None:
    _, samples, may_stop = CHECKS[name]
    _assert_refines(name, samples, may_stop)


def _assert_refines(name: str, samples: int | None, may_stop: float) -> None:
    failed, stopped, programs = _sweep(name, samples)
    assert failed == []
    assert len(stopped) <= may_stop * programs, stopped[:3]
