"""Where a weakened variant breaks a property, the correct protocol answers with Kafka's error
code instead: every protection shows up as its error in some reachable step."""

from __future__ import annotations

from collections import deque
from functools import cache

import pytest

from kafka_eos.model.configs import load_check_config
from kafka_eos.model.registry import Step, step


@cache
def _labels(name: str) -> frozenset[Step]:
    """Every transition label of the configuration's reachable state space."""
    model = load_check_config(name).model
    start = list(model.init_states())
    seen = set(start)
    queue = deque(start)
    labels: set[Step] = set()
    while queue:
        for label, target in model.actions(queue.popleft()):
            labels.add(label)
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return frozenset(labels)


def _some(name: str, action: str, outcome: str) -> bool:
    return any(label.name == action and label.outcome == outcome for label in _labels(name))


@pytest.mark.parametrize(
    ("name", "action", "outcome"),
    [
        # the leader's batch cache answers a retry with the original offset
        ("idempotent", "HandleProduce", "DUPLICATE"),
        # KIP-890 part 1: the late Produce after the abort is refused
        ("tv1", "AppendVerified", "INVALID_TXN_STATE"),
        # KIP-890 part 2: the late Produce carries the pre-abort epoch (the coordinator refuses it)
        ("tv2-no-verification", "AppendVerified", "INVALID_PRODUCER_EPOCH"),
        # the zombie's Produce after the fence: the coordinator refuses its verification and
        # the leader hands that on in the same step (model/verification.py)
        ("zombie-fencing", "HandleVerifyPartition", "INVALID_PRODUCER_EPOCH"),
        # the fenced incarnation learns it is fenced from the coordinator
        ("zombie-fencing", "ReceiveCoordinatorResponse", "PRODUCER_FENCED"),
        # InitProducerId while the old incarnation's transaction is open
        ("zombie-fencing", "HandleInitProducerId", "WRITE"),
        # and its retries answered CONCURRENT_TRANSACTIONS until the abort completes (the
        # client reads that answer in the handler's step: model/concurrent_answers.py)
        ("zombie-fencing", "HandleInitProducerId", "CONCURRENT_TRANSACTIONS"),
        # the deposed coordinator's marker
        ("coordinator-failover", "HandleWriteTxnMarkers", "TRANSACTION_COORDINATOR_FENCED"),
        # a sequence gap after a lost/reordered retry
        ("small-batch-cache", "HandleProduce", "OUT_OF_ORDER_SEQUENCE_NUMBER"),
    ],
)
def test_protection_answers_with_kafkas_error(name: str, action: str, outcome: str) -> None:
    assert _some(name, action, outcome), f"{name}: no {action} step with {outcome}"


def test_without_the_coordinator_epoch_check_no_marker_is_refused_as_fenced() -> None:
    fenced = "TRANSACTION_COORDINATOR_FENCED"
    assert _some("coordinator-failover", "HandleWriteTxnMarkers", fenced)
    assert not _some("no-coordinator-epoch-check", "HandleWriteTxnMarkers", fenced)


@pytest.mark.parametrize(
    ("version", "apis"),
    [
        (1, ("InitProducerId", "AddPartitionsToTxn", "EndTxn")),
        # (the leader adds the partition: the client sends no AddPartitionsToTxn)
        (2, ("InitProducerId", "EndTxn")),
    ],
)
def test_every_lost_coordinator_request_is_sent_again(version: int, apis: tuple[str, ...]) -> None:
    # A lost InitProducerId, AddPartitionsToTxn or EndTxn (or its answer) must not strand the
    # client: each is re-sent (TxnRequestHandler retry), and so is a lost marker.
    from kafka_eos.model.kafka import KafkaEosModel
    from kafka_eos.model.params import Faults, Knobs, ProducerSpec, TransactionSpec, Workload

    model = KafkaEosModel(
        knobs=Knobs(transaction_version=version),
        faults=Faults(losses=1),
        workload=Workload(
            partitions=1,
            producers=(
                ProducerSpec(
                    kind="transactional",
                    transactional_id="app",
                    transactions=(TransactionSpec(partitions=(0,)),),
                ),
            ),
        ),
    )
    start = list(model.init_states())
    seen, queue = set(start), deque(start)
    labels: set[Step] = set()
    while queue:
        for label, target in model.actions(queue.popleft()):
            labels.add(label)
            if target not in seen:
                seen.add(target)
                queue.append(target)
    for api in apis:
        assert step("ResendCoordinatorRequest", "app#0", api) in labels
    assert step("ResendTxnMarker", "app", "t-0") in labels
