"""The Kafka model's footprints (model/footprints.py) hold on every step of the named checks.

Partial-order reduction is only as sound as the footprints it is given: a step that changes
something its action does not declare, two steps declared independent that do not commute,
or a step enabling another that is not among that one's declared enablers, can make a
reduced search skip a violation. Each is checked here on every reachable state of the named
checks small enough to walk in a test.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest

from kafka_eos.checker import check
from kafka_eos.checker.reduction import EVERYTHING, Footprint
from kafka_eos.model import kafka, layout
from kafka_eos.model.codes import UNINITIALIZED
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.footprints import inbox_of

# ctp (119,253 states here, about a minute) runs under -m slow; ctp-rebalance takes the same
# steps but the second member's abort, and the rebalance too, in a third of the states
SMALL_CHECKS = ["coordinator-failover", pytest.param("ctp", marks=pytest.mark.slow),
                "ctp-rebalance",
                pytest.param("ctp-no-producer-epoch-check", marks=pytest.mark.slow),
                "idempotence-off",
                "idempotent", "no-coordinator-epoch-check", "no-producer-epoch-check",
                "producer-state-expiry", "read-uncommitted", "ctp-request-timeouts",
                "tv1-request-timeouts", "retriable-errors", "small-batch-cache", "tv1",
                "tv1-hanging-transaction", "tv1-no-verification", "tv2-no-verification",
                "tv2-strict-marker-retry", "txn-timeout", "zombie-fencing"]


def parts(state: Any) -> dict[Any, Any]:
    """Every location of ``state`` and its value (an inbox: a multiset of messages)."""
    found: dict[Any, Any] = {("coordinator",): state[layout.S_COORDINATOR],
                             ("outcomes",): state[layout.S_OUTCOMES]}
    for c, client in enumerate(state[layout.S_CLIENTS]):
        found["client", c] = client
        found["started", c] = client[layout.C_STATE] != UNINITIALIZED
        found["inbox", "client", c] = Counter()
    for p, partition in enumerate(state[layout.S_PARTITIONS]):
        found["partition", p] = partition
        found["inbox", "partition", p] = Counter()
    for p, position in enumerate(state[layout.S_CONSUMER]):
        found["consumer", p] = position
    for name, left in zip(layout.BUDGET_NAMES, state[layout.S_BUDGET], strict=True):
        found["budget", name] = left
    found["inbox", "coordinator"] = Counter()
    for message in state[layout.S_NETWORK]:
        found[inbox_of(message)][message] += 1
    return found


def assert_changes_declared(before: Any, after: Any, label: Any, footprint: Footprint) -> None:
    if footprint.everything:
        return  # an action without a declaration may change anything
    old, new = parts(before), parts(after)
    for location, value in old.items():
        if location[0] != "inbox":
            if new[location] != value:
                assert location in footprint.writes, (label, location)
            continue
        removed, added = value - new[location], new[location] - value
        if removed:
            assert location in footprint.writes or (
                location in footprint.takes and sum(removed.values()) == 1), (label, location)
        if added:
            assert location in footprint.writes | footprint.adds, (label, location)


@pytest.mark.parametrize("name", SMALL_CHECKS)
def test_every_step_keeps_to_its_footprint(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the footprints describe every step of the actions; the priority of a stable Fetch
    # (model/stable_fetches.py) only chooses which of them a state offers
    monkeypatch.setattr(kafka, "stable_fetch", lambda m, state: None)
    model = load_check_config(name).model
    order = model.partial_order()
    classes, class_of = order.classes, order.class_of
    assert order.enablers is not None
    successors: dict[Any, list[Any]] = {}
    frontier = list(model.init_states())
    for state in frontier:
        successors[state] = list(model.actions(state))
    while frontier:
        following = []
        for state in frontier:
            steps = successors[state]
            for _label, target in steps:
                if target not in successors:
                    successors[target] = list(model.actions(target))
                    following.append(target)
            assert_steps_keep_footprints(state, steps, successors, classes, class_of,
                                         order.enablers)
        frontier = following


def assert_steps_keep_footprints(state: Any, steps: list[Any], successors: dict[Any, Any],
                                 classes: Any, class_of: Any, enablers: Any) -> None:
    labels = {label for label, _ in steps}
    for label, target in steps:
        key = class_of(label)
        assert_changes_declared(state, target, label, classes[key])
        # a step of another class that this step enabled names this class as an enabler
        for later, _ in successors[target]:
            if later not in labels:
                assert key in set(enablers(state, class_of(later))), (label, later)
    # two enabled steps declared independent neither disable nor fail to commute (labels
    # may repeat: two copies of a request on different connections have one label)
    for i, (first, after_first) in enumerate(steps):
        for second, after_second in steps[i + 1:]:
            if classes[class_of(first)].depends_on(classes[class_of(second)]):
                continue
            then_second = {t for label, t in successors[after_first] if label == second}
            then_first = {t for label, t in successors[after_second] if label == first}
            assert then_second & then_first, (first, second)


def test_an_action_without_a_declaration_touches_everything() -> None:
    """An action added without ``touches`` is one step class that depends on every other:
    no state where it could be deferred is reduced, and the verdict stays."""
    model = load_check_config("txn-timeout").model
    model.active = tuple(dataclasses.replace(a, touches=None) if a.name == "Send" else a
                         for a in model.active)
    order = model.partial_order()
    assert order.classes["Send", None] is EVERYTHING
    assert all(key[0] != "Send" or key[1] is None for key in order.classes)
    reduced, plain = check(model, reduce="por"), check(model)
    assert reduced.verdict == plain.verdict == "ok"
    assert reduced.distinct_states == plain.distinct_states
