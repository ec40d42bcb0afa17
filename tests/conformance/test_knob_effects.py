"""Every protocol knob does something, in the model and in the reference.

A knob that the model ignores, or that the reference ignores, makes the two sides mean
different things (or nothing) while the configuration files and the verdict table say
otherwise. For each knob a small named check is the witness: flipping the knob there changes
the model's verdict or state count, and the reference, replaying the witness's counterexample
with the knob flipped, refuses a step it takes with the knob as configured.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest

from kafka_eos.checker import check
from kafka_eos.checker.result import STUTTERING
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.liveness import KafkaEosLivenessModel
from kafka_eos.protocol.knobs import KNOBS, KnobValue
from kafka_eos.reference.conformance.replay import replay_labels

#: knob -> (named check, the knob's other value there). Each witness is small and violated, so
#: that its counterexample can be replayed on the reference both ways.
WITNESSES: dict[str, tuple[str, KnobValue]] = {
    "idempotence": ("idempotence-off", True),
    "batch_cache_size": ("small-batch-cache", 5),
    "max_in_flight": ("small-batch-cache", 1),
    "transaction_version": ("no-coordinator-epoch-check", 2),
    "partition_verification": ("tv1-no-verification", True),
    "verification_guard": ("tv1-no-verification-guard", True),
    "coordinator_epoch_check": ("no-coordinator-epoch-check", True),
    "producer_epoch_check": ("no-producer-epoch-check", True),
    "producer_state_expiry": ("producer-state-expiry", False),
    "marker_retry_accepted": ("tv2-strict-marker-retry", True),
    "timeout_epoch_bump": ("ctp-timeout-no-epoch-bump", True),
    "marker_transaction_version": ("tv2-marker-without-version", True),
    "acks": ("replicated-acks-1", -1),
    "min_insync_replicas": ("replicated-min-isr-2", 1),
    "unclean_leader_election": ("replicated-unclean", False),
    "group_generation_check": ("ctp-rebalance-no-generation-check", True),
    "producer_id_rotation": ("producer-epoch-wrap", True),
}
#: Knobs the reference does not obey yet, and why (strict xfails: obeying one shows as XPASS).
NOT_IN_REFERENCE: dict[str, str] = {}


def _flipped(model: KafkaEosModel, knob: str, value: KnobValue) -> KafkaEosModel:
    assert getattr(model.knobs, knob) != value, f"{knob} is already {value!r} in its witness"
    same = {"faults": model.faults, "workload": model.workload, "checked": model.checked}
    knobs = dataclasses.replace(model.knobs, **{knob: value})
    if isinstance(model, KafkaEosLivenessModel):  # a stall: its temporal properties too
        return KafkaEosLivenessModel(temporal=model.temporal, knobs=knobs, **same)
    return KafkaEosModel(knobs=knobs, **same)


@cache
def _witness(name: str) -> tuple[KafkaEosModel, list[str], str | None, int, int]:
    model = load_check_config(name).model
    result = check(model)
    assert result.verdict == "violated" and result.trace is not None, name
    labels = list(result.trace.labels)
    if labels[-1] == STUTTERING:  # a lasso's closing stuttering is no one's step
        labels.pop()
    return model, labels, result.violated, result.distinct_states, len(result.trace.labels)


def test_every_declared_knob_has_a_witness() -> None:
    assert sorted(WITNESSES) == sorted(KNOBS)


@pytest.mark.parametrize("knob", sorted(WITNESSES))
def test_the_knob_changes_the_model(knob: str) -> None:
    name, value = WITNESSES[knob]
    model, _, violated, states, steps = _witness(name)
    result = check(_flipped(model, knob, value))
    before = ("violated", violated, steps, states)
    trace_length = len(result.trace.labels) if result.trace is not None else None
    after = (result.verdict, result.violated, trace_length, result.distinct_states)
    assert after != before, f"{knob}={value!r} changes nothing in {name}"


@pytest.mark.parametrize(
    "knob",
    [
        pytest.param(knob, marks=pytest.mark.xfail(strict=True, reason=NOT_IN_REFERENCE[knob]))
        if knob in NOT_IN_REFERENCE
        else knob
        for knob in sorted(WITNESSES)
    ],
)
def test_the_knob_changes_the_reference(knob: str) -> None:
    name, value = WITNESSES[knob]
    model, labels, violated, _, _ = _witness(name)
    same = replay_labels(model, labels, violated=violated)
    assert same.agreed, f"{name}: step {same.disagreement_step} {same.label}: {same.reason}"
    other = _flipped(model, knob, value)
    flipped = replay_labels(model, labels, violated=violated, reference=other)
    assert not flipped.agreed, f"the reference ignores {knob}={value!r} on {name}'s counterexample"
