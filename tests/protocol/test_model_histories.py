"""The model's traces, as histories, agree with check_history and the ordering constraints.

Random walks of the named Kafka checks (contract C) are turned into histories by the model's
``history_from_states``. Where the model's properties hold, the history checks must find
nothing (no false alarm); where the model finds a history-visible anomaly (a duplicate), the
history checks must find it too.
"""

from __future__ import annotations

import random

import pytest

from kafka_eos.model.configs import load_check_config
from kafka_eos.model.history import history_from_states
from kafka_eos.protocol.history import Event
from kafka_eos.protocol.history_checks import check_history
from kafka_eos.protocol.ordering import check_ordering


def walk(config: str, seed: int, *, steps: int = 30) -> tuple[list[Event], list[str]]:
    """A random walk's history, and the model invariants broken at its last state."""
    model = load_check_config(config).model
    invariants = model.invariants()
    rng = random.Random(seed)
    state = rng.choice(list(model.init_states()))
    states, labels = [state], []
    broken: list[str] = []
    for _ in range(steps):
        actions = list(model.actions(state))
        if not actions:
            break
        label, state = rng.choice(actions)
        states.append(state)
        labels.append(label)
        broken = [name for name, holds in invariants.items() if not holds(state)]
        if broken:
            break
    return history_from_states(states, model=model, labels=labels), broken


@pytest.mark.parametrize(
    "config",
    [
        "default",
        "tv1",
        "ctp",
        "zombie-fencing",
        "txn-timeout",
        "coordinator-failover",
        "tv2-no-verification",
        "idempotent",
    ],
)
def test_walks_of_a_correct_configuration_raise_no_false_alarm(config: str) -> None:
    for seed in range(12):
        history, broken = walk(config, seed)
        assert broken == []
        assert check_history(history) == [], seed
        result = check_ordering(history)
        assert result.consistent, (seed, result.lines())


@pytest.mark.parametrize("config", ["idempotence-off", "producer-state-expiry"])
def test_duplicates_the_model_finds_are_found_in_the_history(config: str) -> None:
    found = 0
    for seed in range(20):
        history, broken = walk(config, seed)
        if "no_duplicates" in broken:
            found += 1
            assert "no_duplicates" in {v.property for v in check_history(history)}, seed
    assert found > 0


def shortest_paths(config: str) -> list[tuple[list[object], list[str]]]:
    """For every state a correct configuration reaches, a shortest path to it (breadth-first
    over raw states): the states and the labels on the way."""
    model = load_check_config(config).model
    parents: dict[object, tuple[object, str] | None] = {s: None for s in model.init_states()}
    frontier = list(parents)
    while frontier:
        following = []
        for state in frontier:
            for label, successor in model.actions(state):
                if successor not in parents:
                    parents[successor] = (state, label)
                    following.append(successor)
        frontier = following
    paths = []
    for state in parents:
        states, labels = [state], []
        step = parents[state]
        while step is not None:
            states.append(step[0])
            labels.append(step[1])
            step = parents[step[0]]
        paths.append((states[::-1], labels[::-1]))
    return paths


@pytest.mark.parametrize(
    "config", ["coordinator-failover", "tv1", "tv2-no-verification", "txn-timeout", "idempotent"]
)
def test_no_reachable_state_of_a_correct_configuration_raises_a_false_alarm(config: str) -> None:
    # Every state, not a sample: the coordinator-epoch and hanging-transaction checks must not
    # mistake a failover's re-sent markers or a timed-out batch for a violation.
    model = load_check_config(config).model
    for states, labels in shortest_paths(config):
        history = history_from_states(states, model=model, labels=labels)
        assert check_history(history) == [], labels
