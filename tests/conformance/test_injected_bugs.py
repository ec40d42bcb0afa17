"""A bug injected into the reference's leader is caught: by the refinement state machine and by
replaying a counterexample. Each test patches the bug in and asserts the failure.

The machines here run more examples than the profile (generation only, no shrinking: each
stops at the first failure, well under a second): the point is that the bug is found, every
time, not how small its program is.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from kafka_eos.checker import check
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.params import Faults, Knobs
from kafka_eos.reference import producer_state
from kafka_eos.reference.conformance.replay import replay_labels
from kafka_eos.reference.node import BrokerConfig

from .machine import refinement_machine
from .workloads import IDEMPOTENT_WRITES, model


def _without_duplicate_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leader forgets the batches it cached: a retried batch is appended again."""
    monkeypatch.setattr(producer_state, "find_duplicate", lambda *args, **kwargs: None)


def _without_epoch_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leader no longer compares a batch's producer epoch with the stored one."""
    original = BrokerConfig.producer_checks.fget  # type: ignore[attr-defined]

    def checks(config: BrokerConfig) -> producer_state.ProducerChecks:
        checks = original(config)
        return dataclasses.replace(
            checks, knobs=dataclasses.replace(checks.knobs, producer_epoch_check=False)
        )

    monkeypatch.setattr(BrokerConfig, "producer_checks", property(checks))


def test_the_refinement_machine_catches_a_leader_without_duplicate_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_duplicate_check(monkeypatch)
    small = model(IDEMPOTENT_WRITES, faults=Faults(retries=1))
    machine = refinement_machine(small)
    with pytest.raises(AssertionError, match=r"not a model step|breaks"):
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=200, stateful_step_count=12, database=None, phases=[Phase.generate]
            ),
        )


def _zombie_trace() -> tuple[KafkaEosModel, KafkaEosModel, list[str]]:
    """A zombie's write after the fence, possible without the leader's epoch check (TV1,
    no partition verification, so that only the epoch check stands in the way)."""
    from .workloads import TRANSACTIONS

    base = Knobs(transaction_version=1, partition_verification=False)
    weak = KafkaEosModel(
        knobs=dataclasses.replace(base, producer_epoch_check=False),
        workload=TRANSACTIONS,
        checked=("no_fenced_writes",),
    )
    result = check(weak, max_states=300_000)
    assert result.violated == "no_fenced_writes"
    correct = KafkaEosModel(knobs=base, workload=TRANSACTIONS)
    return weak, correct, result.trace.labels


def test_a_leader_without_epoch_check_lets_the_zombie_write_that_the_correct_one_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    weak, correct, labels = _zombie_trace()
    refused = replay_labels(weak, labels, violated="no_fenced_writes", reference=correct)
    assert not refused.agreed
    assert refused.disagreement_step == len(labels)  # the zombie's write itself
    assert not refused.reproduced
    _without_epoch_check(monkeypatch)
    buggy = replay_labels(weak, labels, violated="no_fenced_writes", reference=correct)
    assert buggy.agreed and buggy.reproduced


def test_the_refinement_machine_catches_a_leader_without_epoch_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_epoch_check(monkeypatch)
    from .workloads import TRANSACTIONS

    # TV1 without partition verification: only the epoch check stops a zombie's write
    zombie = KafkaEosModel(
        knobs=Knobs(transaction_version=1, partition_verification=False),
        workload=TRANSACTIONS,
    )
    # refinement only: this configuration may also hang a transaction (open_txns_known), in
    # the model as in the reference; the bug shows as a step the model cannot take
    machine = refinement_machine(zombie, properties=False)
    with pytest.raises(AssertionError, match=r"not a model step"):
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=300, stateful_step_count=40, database=None, phases=[Phase.generate]
            ),
        )
