"""A CONCURRENT_TRANSACTIONS answer is read in the step that makes it
(model/concurrent_answers.py), and that hides nothing: on the named checks, every state the
model reached with the answer in flight, seen without the network, is reached with the answer
read at once, and the other way round."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kafka_eos.model import kafka
from kafka_eos.model import layout as L
from kafka_eos.model.configs import load_check_config

CHECKS = ["zombie-fencing", "txn-timeout", "ctp", "ctp-request-timeouts", "tv1-request-timeouts",
          "coordinator-failover", "tv1"]


def _without_network(states: set[Any]) -> tuple[set[Any], int]:
    """The states reached, seen without the network, and how many there are in full."""
    return {(*s[: L.S_NETWORK], *s[L.S_NETWORK + 1 :]) for s in states}, len(states)


@pytest.mark.parametrize("name", CHECKS)
def test_reading_at_once_reaches_the_same_states(
    name: str, monkeypatch: pytest.MonkeyPatch, reachable: Callable[[Any], set[Any]]
) -> None:
    read_at_once, fewer = _without_network(reachable(load_check_config(name).model))
    monkeypatch.setattr(kafka, "with_concurrent_answers_read", lambda m, state: state)
    in_flight, more = _without_network(reachable(load_check_config(name).model))
    assert read_at_once == in_flight
    assert fewer < more  # the check has such answers: the comparison is not empty
