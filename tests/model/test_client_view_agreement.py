"""The model's client view and the history's agree: along model runs, the Elle anomalies the
model's invariants find in a state are those ``kafka-eos validate`` finds in the history of
the run up to that state (the rules are shared; this holds the two views to the same facts)."""

from __future__ import annotations

import random

import pytest

from kafka_eos.checker import check
from kafka_eos.model.client_view import client_view
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.history import history_from_states
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.protocol.client_view import ANOMALIES, anomalies
from kafka_eos.protocol.history_checks import check_history

ELLE_ROWS = [
    "elle-duplicate",
    "elle-nonmonotonic-send",
    "elle-g1a",
    "elle-lost-write",
    "elle-torn-transaction",
    "elle-poll-skip",
]
#: Configurations with readers, retries, zombies, timeouts and failovers to walk at random.
WALKED = [*ELLE_ROWS, "ctp", "zombie-fencing", "txn-timeout", "read-uncommitted", "tv1"]


def _agree(model: KafkaEosModel, states: list[object]) -> None:
    """For every prefix of the run ``states``: the same anomaly names."""
    for end in range(1, len(states) + 1):
        from_model = {a.name for a in anomalies(client_view(model, states[end - 1]))}
        history = history_from_states(states[:end], model=model)
        found = check_history(history, every_read_committed=True)
        from_history = {v.property for v in found if v.property in ANOMALIES}
        assert from_model == from_history, (end, sorted(from_model), [str(v) for v in found])


#: Counterexamples whose anomaly only the model's client view sees, and why (strict xfails).
ONLY_IN_THE_MODEL = {
    "elle-nonmonotonic-send": "the model orders a client's sends as its batches stand (a KIP-360 "
    "bump re-sequences the batches in flight in the application's order); a history's "
    "acknowledgements name each batch as its answered attempt carried it (e0/s1 for the second, "
    "e1/s0 for the retried first), so by epoch and sequence the sends are in order there",
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=ONLY_IN_THE_MODEL[name]))
        if name in ONLY_IN_THE_MODEL
        else name
        for name in ELLE_ROWS
    ],
)
def test_each_counterexample_shows_its_anomaly_in_both_views(name: str) -> None:
    config = load_check_config(name)
    result = check(config.model)
    assert result.trace is not None
    states = list(result.trace.states)
    _agree(config.model, states)
    (wanted,) = config.model.checked
    assert wanted in {a.name for a in anomalies(client_view(config.model, states[-1]))}


@pytest.mark.parametrize("name", WALKED)
def test_random_runs_agree(name: str) -> None:
    model = load_check_config(name).model
    rng = random.Random(name)
    for _ in range(6):
        state = model.init_states()[0]
        states = [state]
        for _ in range(70):
            successors = [target for _, target in model.actions(state)]
            if not successors:
                break
            state = rng.choice(successors)
            states.append(state)
        _agree(model, states)
