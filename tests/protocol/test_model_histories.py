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


@pytest.mark.parametrize("config", ["default", "tv1", "ctp", "zombie-fencing", "txn-timeout"])
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
