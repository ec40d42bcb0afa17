"""The coordinator refuses AddPartitionsToTxn and EndTxn in Kafka 4.x's order
(protocol/coordinator_checks.py), decided by the model's handlers on hand-made metadata where
the orders differ: a request that is both stale and meets a busy coordinator."""

from __future__ import annotations

import pytest

from kafka_eos.model.codes import (
    COMPLETE_ABORT,
    COMPLETE_COMMIT,
    CONCURRENT,
    INVALID_MAPPING,
    INVALID_TXN_STATE,
    NONE,
    ONGOING,
    PREPARE_ABORT,
    PREPARE_COMMIT,
    PRODUCER_FENCED,
)
from kafka_eos.model.coordinator import add_partitions_decision, end_txn_decision
from kafka_eos.model.layout import API_ADD_PARTITIONS, API_END_TXN, Tup
from kafka_eos.model.producer_ids import ProducerEpochs

EPOCHS = ProducerEpochs(
    max_epoch=9, rotation=True, tid_count=1, first_rotated_slot=1, generations=1
)
STORED = 4  # the coordinator's epoch
#: a transition being written (its shape does not matter to the checks)
PENDING = (ONGOING, STORED, 1, 0, (), -1)


def _metadata(state: int, *, pending: Tup = ()) -> Tup:
    # (state, epoch, partitions, owner, markers acknowledged, pending, lastProducerEpoch)
    return (state, STORED, 1, 0, 0, pending, -1)


def _add(epoch: int) -> Tup:
    return ("CoordinatorRequest", 0, API_ADD_PARTITIONS, epoch, 2, 1, 0)


def _end_txn(epoch: int, *, commit: bool) -> Tup:
    return ("CoordinatorRequest", 0, API_END_TXN, epoch, int(commit), 1, 0)


@pytest.mark.parametrize(
    "metadata",
    [_metadata(PREPARE_COMMIT), _metadata(ONGOING, pending=PENDING)],
    ids=["markers being written", "transition being written"],
)
def test_a_stale_add_partitions_waits_while_the_coordinator_is_busy(metadata: Tup) -> None:
    # handleAddPartitionsToTransaction looks for a pending transition first (KAFKA-18660):
    # a zombie's older epoch is told CONCURRENT_TRANSACTIONS, and fenced once it re-sends
    assert add_partitions_decision(metadata, _add(STORED - 1), EPOCHS)[1] == CONCURRENT
    idle = _metadata(COMPLETE_COMMIT)
    assert add_partitions_decision(idle, _add(STORED - 1), EPOCHS)[1] == PRODUCER_FENCED


def test_an_unknown_transactional_id_is_refused_before_anything_else() -> None:
    unknown = (-1, -1, 0, 0, 0, (), -1)
    assert add_partitions_decision(unknown, _add(0), EPOCHS)[1] == INVALID_MAPPING


def test_a_version_2_end_txn_waits_before_its_epoch_is_checked() -> None:
    # KAFKA-18464's case: the client committed (the coordinator holds PrepareCommit at the
    # bumped epoch it answered with) and sends an empty abort at that epoch; and a zombie's
    # older epoch: both wait instead of being refused while the markers are written
    preparing = _metadata(PREPARE_COMMIT)
    assert end_txn_decision(preparing, _end_txn(STORED, commit=False), True, EPOCHS)[1] == (
        CONCURRENT
    )
    assert end_txn_decision(preparing, _end_txn(STORED - 2, commit=True), True, EPOCHS)[1] == (
        CONCURRENT
    )


def test_a_version_1_end_txn_checks_its_epoch_first() -> None:
    # endTransactionWithTV1 keeps the older order: the stale epoch is fenced, busy or not
    preparing = _metadata(PREPARE_ABORT)
    assert end_txn_decision(preparing, _end_txn(STORED - 1, commit=False), False, EPOCHS)[1] == (
        PRODUCER_FENCED
    )
    # at the stored epoch, either result waits while the markers are written (Kafka's
    # pending CompleteAbort answers before its state match's INVALID_TXN_STATE)
    for commit in (False, True):
        decision = end_txn_decision(preparing, _end_txn(STORED, commit=commit), False, EPOCHS)
        assert decision[1] == CONCURRENT
    done = _metadata(COMPLETE_COMMIT)
    assert end_txn_decision(done, _end_txn(STORED, commit=False), False, EPOCHS)[1] == (
        INVALID_TXN_STATE
    )


def test_a_commit_the_coordinators_abort_overtook_is_fenced_not_fatal() -> None:
    # KAFKA-20785: a timeout's abort bumped the epoch and completed; the client's commit, sent
    # before it, carries the epoch before the stored one, which a version-2 retry carries too.
    # It is told PRODUCER_FENCED (a client recovers), no longer INVALID_TXN_STATE (fatal)
    aborted = _metadata(COMPLETE_ABORT)
    commit = end_txn_decision(aborted, _end_txn(STORED - 1, commit=True), True, EPOCHS)
    assert commit[1] == PRODUCER_FENCED
    # a retried abort is still its own retry, and version 1 never gets here (epoch first)
    assert end_txn_decision(aborted, _end_txn(STORED - 1, commit=False), True, EPOCHS)[1] == NONE
    assert end_txn_decision(aborted, _end_txn(STORED - 1, commit=True), False, EPOCHS)[1] == (
        PRODUCER_FENCED
    )
    # a commit at the stored epoch meets no abort it could have raced: a state error
    assert end_txn_decision(aborted, _end_txn(STORED, commit=True), True, EPOCHS)[1] == (
        INVALID_TXN_STATE
    )
