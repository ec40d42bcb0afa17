"""Both leader epoch checks off, on a broker before KIP-890 (transaction version 1, no
partition verification), with a coordinator failover and two incarnations of one
transactional.id: no named check combines these, and the model and the reference used to mean
different things by ``producer_epoch_check`` here (the model kept refusing a marker from an
older producer epoch, the reference did not). Kafka has one producer-epoch check,
ProducerAppendInfo.checkProducerEpoch, called for data batches and markers alike; turning it
off turns off both, on both sides.

The deposed coordinator's ABORT of the first incarnation's transaction (epoch 1, coordinator
epoch 0) arrives after the new coordinator finished that abort and the second incarnation
opened a transaction at epoch 2: with both checks off the leader appends it, and it aborts the
second incarnation's open transaction.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kafka_eos.cli.main import main
from kafka_eos.model.configs import build_check_config
from kafka_eos.reference.conformance.replay import replay_labels

_INCARNATION = {
    "kind": "transactional",
    "transactional_id": "app",
    "transactions": [{"partitions": [0]}],
}
CONFIGURATION = {
    "description": "both epoch checks off, transaction version 1, no verification, a failover",
    "knobs": {
        "transaction_version": 1,
        "partition_verification": False,
        "producer_epoch_check": False,
        "coordinator_epoch_check": False,
    },
    "workload": {
        "partitions": 1,
        "consumer": "read_committed",
        # two incarnations of one transactional.id, one transaction each
        "producers": [_INCARNATION, _INCARNATION],
    },
    "faults": {"failovers": 1},
}

#: The deposed coordinator's marker, appended over the second incarnation's transaction.
STALE_ABORT = "HandleWriteTxnMarkers(t-0,app,ABORT,e1,ce0,NONE)"

#: The probe of issue 10: a shortest model trace to that marker (before the fix the model
#: refused it with INVALID_PRODUCER_EPOCH, and the reference, appending it, disagreed here).
PROBE = [
    "InitProducerId(app#0)",
    "HandleInitProducerId(app,app#0,e-1,WRITE,c0)",
    "InitProducerId(app#1)",
    "CompleteTxnLogAppend(app,Empty,e0)",
    "ReceiveCoordinatorResponse(app#0,InitProducerId,NONE)",
    "BeginTransaction(app#0,txn0)",
    "HandleAddPartitionsToTxn(app,app#0,e0,WRITE,c0)",
    "CompleteTxnLogAppend(app,Ongoing,e0)",
    "HandleInitProducerId(app,app#1,e-1,WRITE,c0)",
    "CompleteTxnLogAppend(app,PrepareAbort,e1)",
    "CoordinatorFailover(ce1)",
    "HandleWriteTxnMarkers(t-0,app,ABORT,e1,ce1,NONE)",
    "Fetch(t-0,0..1)",  # read at once: the consumer passes the marker (model/stable_fetches.py)
    "HandleWriteTxnMarkersResponse(app,t-0,ABORT,e1,ce1,NONE)",
    "CompleteTxnLogAppend(app,CompleteAbort,e1)",
    "HandleInitProducerId(app,app#1,e-1,WRITE,c0)",
    "CompleteTxnLogAppend(app,Empty,e2)",
    "ReceiveCoordinatorResponse(app#1,InitProducerId,NONE)",
    "BeginTransaction(app#1,txn0)",
    "HandleAddPartitionsToTxn(app,app#1,e2,WRITE,c0)",
    "CompleteTxnLogAppend(app,Ongoing,e2)",
    "ReceiveCoordinatorResponse(app#1,AddPartitionsToTxn,NONE)",
    "Send(app#1,r0,t-0,e2,s0)",
    "HandleProduce(t-0,app#1,r0,e2,s0,o1,c0)",
    STALE_ABORT,
]


def test_the_probe_agrees_step_by_step() -> None:
    model = build_check_config(CONFIGURATION, name="probe", where="probe").model
    report = replay_labels(model, PROBE)
    assert report.agreed, f"step {report.disagreement_step} {report.label}: {report.reason}"


def test_the_counterexample_written_from_a_config_file_replays_on_the_reference(
    tmp_path: Path, capsys: object
) -> None:
    """kafka-eos check --config FILE.yaml --trace-out X, then kafka-eos replay X: the model's
    shortest counterexample (the stale marker tears the second incarnation's transaction)
    agrees step by step, and the reference shows the same violation."""
    config = tmp_path / "both-epoch-checks-off.yaml"
    config.write_text(
        yaml.safe_dump({**CONFIGURATION, "properties": ["read_committed_in_order"]}),
        encoding="utf-8",
    )
    trace = tmp_path / "probe.itf.json"
    assert main(["check", "--config", str(config), "--trace-out", str(trace), "--quiet"]) == 1
    config.unlink()  # the trace carries the configuration itself
    labels = [state["#meta"]["action"] for state in json.loads(trace.read_text())["states"][1:]]
    assert STALE_ABORT in labels
    capsys.readouterr()  # type: ignore[attr-defined]
    assert main(["replay", str(trace), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert report["agreed"] and report["violation_reproduced"], report
