"""A Fetch of stable data goes before every other step (model/stable_fetches.py), and that
loses no verdict: on the named checks, the states reached with it are states of the full
model, the rest of the state (all but the consumer) reaches the same values both ways, and
for every state the full model reaches with a lagging consumer the reduced one reaches the
same rest with a consumer that returned the same records and then more, where every
invariant the lagging state breaks is broken too."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from kafka_eos.model import kafka
from kafka_eos.model import layout as L
from kafka_eos.model.configs import load_check_config

# ok and violated checks, read_committed and read_uncommitted, the client-view invariants'
# violations, a coordinator failover
CHECKS = ["zombie-fencing", "txn-timeout", "tv1", "coordinator-failover", "read-uncommitted",
          "elle-g1a", "elle-lost-write", "elle-poll-skip", "tv1-no-verification-guard",
          "no-producer-epoch-check", "txn-timeout-no-epoch-bump", "tv2-strict-marker-retry"]


def _rest(state: Any) -> Any:
    return (*state[: L.S_CONSUMER], *state[L.S_CONSUMER + 1 :])


def _extends(longer: Any, shorter: Any) -> bool:
    """Whether consumer ``longer`` returned every record ``shorter`` did, in the same order,
    and then only records beyond ``shorter``'s position."""
    for (position, delivered), (short_position, short_delivered) in zip(
        longer, shorter, strict=True
    ):
        if position < short_position or delivered[: len(short_delivered)] != short_delivered:
            return False
        if any(offset < short_position for offset in delivered[len(short_delivered):]):
            return False
    return True


def _broken(model: Any, state: Any) -> set[str]:
    return {name for name, holds in model.invariants().items() if not holds(state)}


@pytest.mark.parametrize("name", CHECKS)
def test_stable_fetches_first_lose_no_violation(
    name: str, monkeypatch: pytest.MonkeyPatch, reachable: Callable[[Any], set[Any]]
) -> None:
    reduced = reachable(load_check_config(name).model)
    monkeypatch.setattr(kafka, "stable_fetch", lambda m, state: None)
    full_model = load_check_config(name).model
    full = reachable(full_model)
    assert reduced <= full
    assert len(reduced) < len(full)  # the check has such Fetches: the comparison is not empty
    consumers: dict[Any, list[Any]] = defaultdict(list)
    for state in reduced:
        consumers[_rest(state)].append(state)
    assert set(consumers) == {_rest(state) for state in full}
    for state in full:
        broken = _broken(full_model, state)
        assert any(
            _extends(counterpart[L.S_CONSUMER], state[L.S_CONSUMER])
            and broken <= _broken(full_model, counterpart)
            for counterpart in consumers[_rest(state)]
        ), state
