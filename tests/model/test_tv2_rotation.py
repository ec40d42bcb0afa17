"""Transaction version 2's producer-id rotation at EndTxn (KIP-890's nextProducerId), decided
by the coordinator's handlers on hand-made metadata: with ``max_producer_epoch`` M an epoch
value v stands for the producer id of generation v // (M + 1) at epoch v % (M + 1)."""

from __future__ import annotations

from functools import cache

import pytest

from kafka_eos.checker import check
from kafka_eos.model import coordinator
from kafka_eos.model.codes import (
    COMPLETE_COMMIT,
    CONCURRENT,
    INVALID_MAPPING,
    NONE,
    ONGOING,
    PREPARE_COMMIT,
    PRODUCER_FENCED,
)
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.coordinator import add_partitions_decision, end_txn_decision
from kafka_eos.model.layout import (
    API_ADD_PARTITIONS,
    API_END_TXN,
    CR_EPOCH,
    PT_EPOCH,
    PT_REPLY,
    Tup,
)
from kafka_eos.model.producer_ids import ProducerEpochs
from kafka_eos.protocol.coordinator_checks import CoordinatorCheck

M = 3  # epochs 0..3; 2 and above exhausted


def _epochs(*, rotation: bool = True) -> ProducerEpochs:
    return ProducerEpochs(
        max_epoch=M, rotation=rotation, tid_count=1, first_rotated_slot=1, generations=2
    )


def _metadata(state: int, epoch: int, *, last_epoch: int = -1) -> Tup:
    # (state, epoch, partitions, owner, markers acknowledged, pending, lastProducerEpoch)
    return (state, epoch, 1, 0, 0, (), last_epoch)


def _end_txn(epoch: int, *, commit: bool = True) -> Tup:
    return ("CoordinatorRequest", 0, API_END_TXN, epoch, int(commit), 0, 0)


def _add(epoch: int) -> Tup:
    return ("CoordinatorRequest", 0, API_ADD_PARTITIONS, epoch, 1, 1, 0)


def test_an_exhausted_decision_keeps_the_old_id_and_answers_with_the_new_one() -> None:
    epochs = _epochs()
    ongoing = _metadata(ONGOING, M - 1)
    transition, error, _ = end_txn_decision(ongoing, _end_txn(M - 1), True, epochs)
    assert error == NONE
    # PrepareCommit (and its markers) at the old producer id's epoch M; the client gets
    # generation 1's epoch 0 (KAFKA-18660), which the transaction completes with
    assert (transition[0], transition[PT_EPOCH]) == (PREPARE_COMMIT, M)
    assert transition[PT_REPLY][CR_EPOCH] == M + 1 == epochs.completed(M)
    assert epochs.split(epochs.completed(M)) == (1, 0)


def test_a_decision_below_the_exhausted_epoch_keeps_the_producer_id() -> None:
    epochs = _epochs()
    transition, _, _ = end_txn_decision(_metadata(ONGOING, M - 2), _end_txn(M - 2), True, epochs)
    assert transition[PT_EPOCH] == transition[PT_REPLY][CR_EPOCH] == M - 1
    assert epochs.completed(M - 1) == M - 1


def test_a_retry_under_the_old_id_after_the_rotation_is_answered_with_the_new_one() -> None:
    epochs = _epochs()
    rotated = M + 1  # generation 1, epoch 0
    completed = _metadata(COMPLETE_COMMIT, rotated, last_epoch=M - 1)
    assert end_txn_decision(completed, _end_txn(M - 1), True, epochs) == ((), NONE, rotated)
    # not the exhausted epoch: the old id is unknown; not Complete*: the epoch is fenced
    assert end_txn_decision(completed, _end_txn(M - 2), True, epochs)[1] == INVALID_MAPPING
    ongoing = _metadata(ONGOING, rotated)
    assert end_txn_decision(ongoing, _end_txn(M - 1), True, epochs)[1] == PRODUCER_FENCED


def test_the_new_id_waits_while_the_old_ids_markers_are_written() -> None:
    epochs = _epochs()
    preparing = _metadata(PREPARE_COMMIT, M)
    assert add_partitions_decision(preparing, _add(M + 1), epochs)[1] == CONCURRENT
    # the busy coordinator answers so whichever producer id a request names (KAFKA-18660's
    # order); once it is idle, an older producer id is refused
    older = _metadata(PREPARE_COMMIT, M + 1 + M)
    assert add_partitions_decision(older, _add(M - 1), epochs)[1] == CONCURRENT
    idle = _metadata(COMPLETE_COMMIT, M + 1 + M)
    assert add_partitions_decision(idle, _add(M - 1), epochs)[1] == INVALID_MAPPING


def test_without_rotation_the_decision_wraps_around_under_the_same_id() -> None:
    epochs = _epochs(rotation=False)
    transition, _, _ = end_txn_decision(_metadata(ONGOING, M), _end_txn(M), True, epochs)
    assert transition[PT_EPOCH] == transition[PT_REPLY][CR_EPOCH] == 0
    assert epochs.completed(M) == M


@cache
def _coverage(
    without: str | None = None, add_order: tuple[CoordinatorCheck, ...] | None = None
) -> dict[str, dict[str, int]]:
    """tv2-producer-id-rotation's outcome coverage, optionally with one rule of the rotation
    switched off (its ProducerEpochs method answering False), or AddPartitionsToTxn's checks
    in another order."""
    config = load_check_config("tv2-producer-id-rotation")
    with pytest.MonkeyPatch.context() as patch:
        if without is not None:
            patch.setattr(ProducerEpochs, without, lambda *_: False)
        if add_order is not None:
            patch.setattr(coordinator, "ADD_PARTITIONS_ORDER", add_order)
        result = check(config.model)
    assert result.verdict == "ok"
    return result.outcome_coverage


@pytest.mark.slow
def test_the_named_check_reaches_the_retry_under_the_old_id() -> None:
    # without retryOnOverflow the EndTxn re-sent after a lost answer is refused
    # (INVALID_PRODUCER_ID_MAPPING, fatal) where it was answered NONE
    with_retry = _coverage()["HandleEndTxn"]
    without = _coverage("retries_rotation")["HandleEndTxn"]
    assert without["NONE"] < with_retry["NONE"]


@pytest.mark.slow
def test_the_named_check_reaches_the_new_id_waiting_for_the_old_markers() -> None:
    # in the order before KAFKA-18660 (producer id, epoch, then pending) the leader's add of
    # the new id's first Produce is refused (fatal)
    with_wait = _coverage()["HandleVerifyPartition"]
    before = (CoordinatorCheck.PRODUCER_ID, CoordinatorCheck.PRODUCER_EPOCH, CoordinatorCheck.BUSY)
    refused = _coverage(add_order=before)["HandleVerifyPartition"]
    assert refused["CONCURRENT_TRANSACTIONS"] < with_wait["CONCURRENT_TRANSACTIONS"]
    assert refused["INVALID_PRODUCER_ID_MAPPING"] > with_wait["INVALID_PRODUCER_ID_MAPPING"]
