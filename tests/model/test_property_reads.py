"""The properties read only the state components properties.READS lists for them, so the fast
paths the checker calls (invariants_hold_after, action_properties_hold), which skip a property
when a step leaves its components untouched, give the verdicts of calling every property.

The states are the first ones breadth-first of named checks that hold and of checks that
break invariants and action properties, so both answers of each fast path are exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, SupportsIndex

import pytest

from kafka_eos.model import properties
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.kafka import KafkaEosModel

CHECKS = ("default", "ctp", "txn-timeout", "coordinator-failover", "no-producer-epoch-check",
          "ctp-no-producer-epoch-check", "read-uncommitted", "tv1-no-verification",
          "idempotence-off")
STATES_PER_CHECK = 800
#: the checks whose first states already break an invariant
BROKEN_EARLY = {"no-producer-epoch-check", "read-uncommitted", "tv1-no-verification",
                "idempotence-off"}


class Recording(tuple[Any, ...]):
    """A state that records which of its components are read."""

    read: set[int]

    def __getitem__(self, index: Any) -> Any:
        positions = range(len(self))
        self.read.update(positions[index] if isinstance(index, slice) else
                         [positions[index if isinstance(index, SupportsIndex) else 0]])
        return super().__getitem__(index)

    def __iter__(self) -> Iterator[Any]:
        self.read.update(range(len(self)))
        return super().__iter__()


def recording(state: tuple[Any, ...]) -> Recording:
    watched = Recording(state)
    watched.read = set()
    return watched


def transitions(model: KafkaEosModel) -> list[tuple[Any, Any, Any]]:
    """Every transition out of the first STATES_PER_CHECK states, breadth-first."""
    seen = set(model.init_states())
    queue = list(seen)
    steps = []
    expanded = 0
    while expanded < min(STATES_PER_CHECK, len(queue)):
        state = queue[expanded]
        expanded += 1
        for label, target in model.actions(state):
            steps.append((state, label, target))
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return steps


@pytest.fixture(scope="module", params=CHECKS)
def explored(request: pytest.FixtureRequest) -> tuple[str, KafkaEosModel, list[Any]]:
    model = load_check_config(request.param).model
    return request.param, model, transitions(model)


def test_every_property_says_what_it_reads() -> None:
    assert set(properties.READS) == set(properties.ALL_PROPERTIES)


def test_each_property_reads_only_its_components(
    explored: tuple[str, KafkaEosModel, list[Any]],
) -> None:
    _, model, steps = explored
    for state, label, target in steps:
        for name, holds in model.invariants().items():
            watched = recording(target)
            holds(watched)
            assert watched.read <= set(properties.READS[name]), name
        for name, allows in model.action_properties().items():
            before, after = recording(state), recording(target)
            allows(before, label, after)
            assert before.read | after.read <= set(properties.READS[name]), name
            assert allows(state, label, state), f"{name} refuses a step that changes nothing"


def test_the_fast_paths_agree_with_every_property(
    explored: tuple[str, KafkaEosModel, list[Any]],
) -> None:
    name, model, steps = explored
    invariants = model.invariants().values()
    action_properties = model.action_properties().values()
    answers = set()
    for state, label, target in steps:
        if all(holds(state) for holds in invariants):
            expected = all(holds(target) for holds in invariants)
            assert model.invariants_hold_after(state, label, target) == expected
            answers.add(("invariants", expected))
        # a step and its reverse (a log that shrinks, a state change undone: mostly refused)
        for before, after in ((state, target), (target, state)):
            expected = all(allows(before, label, after) for allows in action_properties)
            assert model.action_properties_hold(before, label, after) == expected
            answers.add(("action properties", expected))
    assert ("invariants", True) in answers
    assert (("action properties", False) in answers) == bool(action_properties)
    assert (("invariants", False) in answers) == (name in BROKEN_EARLY)
