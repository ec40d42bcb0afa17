"""The disagreements between the reference and the model the refinement tests found, each as
the minimal program (model labels, shrunk) whose last step the reference does differently.

Strict xfails: each documents a disagreement that exists today (explained in
kafka_eos.reference.conformance.known); when the reference or the model changes so that the two
agree, the test XPASSes and fails the suite, so the entry in ``known.KNOWN`` can go.
"""

from __future__ import annotations

import pytest

from kafka_eos.model.params import Knobs
from kafka_eos.reference.conformance.known import KNOWN

from .programs import run_program
from .workloads import TRANSACTIONS, model

_EXPLAINED = {d.name: d.explanation for d in KNOWN}
_CONFIGS = {
    "txn2": model(TRANSACTIONS),
    "txn1": model(TRANSACTIONS, knobs=Knobs(transaction_version=1)),
}

PROGRAMS: dict[str, tuple[str, list[str]]] = {
    "tv2_abort_bumps_with_init_producer_id": (
        "txn2",
        [
            "InitProducerId(tx#0)",
            "HandleInitProducerId(tx,tx#0,e-1,WRITE)",
            "ReceiveCoordinatorResponse(tx#0,InitProducerId,NONE)",
            "CoordinatorFailover(ce1)",
            "BeginTransaction(tx#0,txn0)",
            "HandleAddPartitionsToTxn(tx,tx#0,e0,WRITE)",
            "TimeoutTransaction(tx,e0)",
            "ReceiveCoordinatorResponse(tx#0,AddPartitionsToTxn,NONE)",
            "Send(tx#0,r0,t-0,e0,s0)",
            "ExpireBatch(tx#0,r0)",
            "AbortTransaction(tx#0)",
            "HandleWriteTxnMarkers(t-0,tx,ABORT,e1,ce1,NONE)",
            "HandleWriteTxnMarkersResponse(tx,t-1,NONE)",
            "LoseMessage(EndTxn,tx#0,e0)",
            "ResendCoordinatorRequest(tx#0,EndTxn)",
            "HandleEndTxn(tx,tx#0,e0,ABORT,NONE)",
            "ReceiveCoordinatorResponse(tx#0,EndTxn,NONE)",
        ],
    ),
    "superseded_attempt_error_ignored": (
        "txn2",
        [
            "InitProducerId(tx#0)",
            "InitProducerId(tx#1)",
            "HandleInitProducerId(tx,tx#0,e-1,WRITE)",
            "HandleInitProducerId(tx,tx#1,e-1,WRITE)",
            "ReceiveCoordinatorResponse(tx#1,InitProducerId,NONE)",
            "BeginTransaction(tx#1,txn0)",
            "HandleAddPartitionsToTxn(tx,tx#1,e1,WRITE)",
            "TimeoutTransaction(tx,e1)",
            "ReceiveCoordinatorResponse(tx#1,AddPartitionsToTxn,NONE)",
            "Send(tx#1,r0,t-0,e1,s0)",
            "RetryProduce(tx#1,t-0,r0)",
            "HandleProduce(t-0,tx#1,r0,e1,s0,INVALID_PRODUCER_EPOCH)",
            "ReceiveProduceResponse(tx#1,r0,INVALID_PRODUCER_EPOCH)",
        ],
    ),
    "tv2_marker_with_stored_epoch": (
        "txn2",
        [
            "InitProducerId(tx#0)",
            "CoordinatorFailover(ce1)",
            "InitProducerId(tx#1)",
            "HandleInitProducerId(tx,tx#1,e-1,WRITE)",
            "ReceiveCoordinatorResponse(tx#1,InitProducerId,NONE)",
            "BeginTransaction(tx#1,txn0)",
            "HandleAddPartitionsToTxn(tx,tx#1,e0,WRITE)",
            "TimeoutTransaction(tx,e0)",
            "HandleWriteTxnMarkers(t-0,tx,ABORT,e1,ce1,NONE)",
            "LoseMessage(WriteTxnMarkersResponse,t-0,tx,NONE,ce1)",
            "ResendTxnMarker(tx,t-0)",
            "HandleWriteTxnMarkers(t-0,tx,ABORT,e1,ce1,NONE)",
        ],
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=_EXPLAINED[name]))
        for name in PROGRAMS
    ],
)
def test_the_reference_refines_the_model_on(name: str) -> None:
    config, labels = PROGRAMS[name]
    result = run_program(_CONFIGS[config], labels)
    assert result.ran == len(labels), "the program no longer applies: shrink a new one"
    assert result.failed_at is None, f"step {result.failed_at + 1}: {labels[result.failed_at]}"


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_the_program_applies_up_to_its_last_step(name: str) -> None:
    """Guards the xfails above: they fail for the documented reason, at the last step, not
    because the program stopped applying."""
    config, labels = PROGRAMS[name]
    assert run_program(_CONFIGS[config], labels[:-1]).failed_at is None
    assert run_program(_CONFIGS[config], labels).failed_at == len(labels) - 1
