"""A step's label names one transition: no state has two successors with one label.

registry.Step promises it ("equal steps are the same transition everywhere"), and users rely
on it: per-label weak fairness is fairness to each message only if a label names one message
(model/liveness.py), a regression program picks its step by label alone
(tests/conformance/programs.py), coverage counts transitions by label, and a trace's labels
must say which of two copies of a request (sent again on a new connection after a request
timeout, or by two coordinator epochs) was delivered.
"""

from __future__ import annotations

from typing import Any

import pytest

from kafka_eos.model.configs import list_check_configs, load_check_config
from kafka_eos.model.kafka import KafkaEosModel

#: States explored per named check: every label that named two transitions before the labels
#: carried the connection and the coordinator epoch did so within the first 3,000 states of
#: some check (ctp-request-timeouts, default, idempotent-timeout-duplicate, elle-g1a, ...).
_STATES = 3_000


def _first_shared_label(model: KafkaEosModel, limit: int) -> tuple[Any, Any, Any] | None:
    """A state and a label two of its successors share, with one of the two, if any."""
    seen = set(model.init_states())
    queue = list(seen)
    for state in queue:
        target_of: dict[Any, Any] = {}
        for label, target in model.actions(state):
            if target_of.setdefault(label, target) != target:
                return state, label, target
            if target not in seen and len(seen) < limit:
                seen.add(target)
                queue.append(target)
    return None


@pytest.mark.parametrize("name", list_check_configs())
def test_each_label_names_one_transition(name: str) -> None:
    model = load_check_config(name).model
    shared = _first_shared_label(model, _STATES)
    assert shared is None, f"{name}: two transitions labelled {shared[1]}"
