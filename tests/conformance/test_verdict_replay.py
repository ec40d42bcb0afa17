"""Every counterexample of the verdict table, replayed on the reference.

With the same weakened knobs the reference follows the trace and shows the same violation;
with the weakness undone (the knob back at Kafka's default, or a read_committed consumer) the
reference refuses the bad step: the replay diverges, and the violation does not happen.
Rows the reference cannot follow are listed with the reason (each a finding of this suite).
"""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest

from kafka_eos.checker import check
from kafka_eos.checker.result import STUTTERING, CheckResult
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.params import READ_COMMITTED, READ_UNCOMMITTED, Knobs
from kafka_eos.model.verdicts import load_verdicts
from kafka_eos.reference.conformance.replay import replay_labels

VIOLATED = sorted(name for name, row in load_verdicts().items() if row.verdict == "violated")

#: Rows whose counterexample the reference does not reproduce, and why.
NOT_REPRODUCED: dict[str, str] = {}
#: Rows that fail at Kafka 4.x's own knobs: there is no corrected configuration to refuse
#: the bad step, the reference (like Kafka) takes it too.
AT_KAFKA_DEFAULTS = {
    "idempotent-retriable-reorder": "a leader with no state for a producer takes any sequence",
    "replicated-reorder": "a new leader with no state for the producer takes any sequence",
    "idempotent-timeout-duplicate": "KIP-360's bump re-sequences a batch already appended",
}


@cache
def _counterexample(name: str) -> tuple[KafkaEosModel, CheckResult]:
    config = load_check_config(name)
    result = check(config.model)
    assert result.verdict == "violated"
    return config.model, result


def _corrected(model: KafkaEosModel) -> KafkaEosModel:
    """The same workload and faults with every knob at Kafka's default that keeps the
    transaction version and a read_committed consumer; where transaction version 1 is the only
    knob off Kafka's defaults, it is the weakness, and version 2 corrects it."""
    version = model.knobs.transaction_version
    if model.knobs == dataclasses.replace(Knobs(), transaction_version=version):
        version = Knobs().transaction_version
    knobs = dataclasses.replace(Knobs(), transaction_version=version)
    workload = model.workload
    if workload.consumer == READ_UNCOMMITTED:
        workload = dataclasses.replace(workload, consumer=READ_COMMITTED)
    return KafkaEosModel(knobs=knobs, faults=model.faults, workload=workload)


def _steps(result: CheckResult) -> list[str]:
    """The trace's steps; a lasso's closing stuttering is no step of anyone."""
    assert result.trace is not None
    labels = list(result.trace.labels)
    return labels[:-1] if labels and labels[-1] == STUTTERING else labels


def test_the_table_has_counterexamples_to_replay() -> None:
    assert len(VIOLATED) >= 5


def _rows(skip: dict[str, str]) -> list[object]:
    """Every violated row; the listed ones as strict xfails (fixing one shows up as XPASS)."""
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=skip[name]))
        if name in skip
        else name
        for name in VIOLATED
    ]


@pytest.mark.parametrize("name", _rows(NOT_REPRODUCED))
def test_the_reference_reproduces_the_counterexample(name: str) -> None:
    model, result = _counterexample(name)
    report = replay_labels(model, _steps(result), violated=result.violated)
    assert report.agreed, f"step {report.disagreement_step} {report.label}: {report.differences}"
    if result.trace is not None and result.trace.loop is not None:
        return  # a lasso: the reference took every step to the loop, where the model stalls
    assert report.reproduced, f"the reference violated {report.reference_violates}"


def test_rows_at_kafka_defaults_are_at_kafka_defaults() -> None:
    """A row listed as failing at Kafka's own knobs really runs them (else it belongs to
    the corrected replay below)."""
    for name in AT_KAFKA_DEFAULTS:
        model, _ = _counterexample(name)
        assert _corrected(model).knobs == model.knobs, name


@pytest.mark.parametrize("name", [name for name in VIOLATED if name not in AT_KAFKA_DEFAULTS])
def test_the_correct_reference_refuses_the_bad_step(name: str) -> None:
    model, result = _counterexample(name)
    labels = _steps(result)
    report = replay_labels(model, labels, violated=result.violated, reference=_corrected(model))
    assert not report.agreed, "the correctly configured reference followed the bad trace"
    assert not report.reproduced
    assert report.disagreement_step is not None and report.disagreement_step <= len(labels)
