"""Which answers a transactional producer cannot recover from, declared once in
protocol/errors.py for the model and the reference alike."""

from __future__ import annotations

import pytest

from kafka_eos.protocol.errors import (
    FATAL_TO_TRANSACTIONAL_PRODUCER,
    ErrorCode,
    coordinator_error_is_fatal,
    produce_answer_to_verification,
    verification_answer,
)


def test_a_rotated_away_producer_id_is_fatal_for_a_produce_as_kafka_4_has_it() -> None:
    # KAFKA-18019: TransactionManager.maybeTransitionToErrorState holds
    # InvalidPidMappingException fatal (before 4.0 it was abortable)
    assert ErrorCode.INVALID_PRODUCER_ID_MAPPING in FATAL_TO_TRANSACTIONAL_PRODUCER
    assert ErrorCode.INVALID_PRODUCER_EPOCH not in FATAL_TO_TRANSACTIONAL_PRODUCER  # KIP-588


@pytest.mark.parametrize(
    "error",
    [
        ErrorCode.INVALID_PRODUCER_ID_MAPPING,  # KAFKA-18019, not abortableErrorIfPossible
        ErrorCode.PRODUCER_FENCED,
        ErrorCode.INVALID_PRODUCER_EPOCH,  # an older coordinator's PRODUCER_FENCED
        ErrorCode.INVALID_TXN_STATE,
    ],
)
def test_an_add_refused_for_the_producer_id_epoch_or_state_is_fatal(error: ErrorCode) -> None:
    assert coordinator_error_is_fatal(error, adds=True)


def test_an_add_refused_otherwise_makes_the_transaction_abortable() -> None:
    assert not coordinator_error_is_fatal(ErrorCode.TRANSACTION_ABORTABLE, adds=True)


@pytest.mark.parametrize(
    "error",
    [ErrorCode.INVALID_PRODUCER_ID_MAPPING, ErrorCode.INVALID_TXN_STATE, ErrorCode.PRODUCER_FENCED],
)
def test_every_error_this_coordinator_answers_an_end_txn_or_init_with_is_fatal(
    error: ErrorCode,
) -> None:
    assert coordinator_error_is_fatal(error, adds=False)


def test_a_fenced_verification_reaches_the_producer_as_an_abortable_epoch_error() -> None:
    # AddPartitionsToTxnManager: "producers expect to handle INVALID_PRODUCER_EPOCH"
    assert verification_answer(ErrorCode.PRODUCER_FENCED) == ErrorCode.INVALID_PRODUCER_EPOCH
    assert verification_answer(ErrorCode.INVALID_TXN_STATE) == ErrorCode.INVALID_TXN_STATE


@pytest.mark.parametrize(
    "error", [ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE]
)
def test_a_coordinator_that_moved_makes_the_leader_answer_a_retriable_error(
    error: ErrorCode,
) -> None:
    # ReplicaManager.appendRecords: the producer re-sends on NOT_ENOUGH_REPLICAS, without a
    # metadata refresh (a failover that lost a transaction-version-2 add's write)
    for adds in (False, True):
        assert produce_answer_to_verification(error, adds=adds) == ErrorCode.NOT_ENOUGH_REPLICAS


def test_only_a_version_2_add_answers_concurrent_transactions_as_it_is() -> None:
    concurrent = ErrorCode.CONCURRENT_TRANSACTIONS
    assert produce_answer_to_verification(concurrent, adds=True) == concurrent
    assert produce_answer_to_verification(concurrent, adds=False) == ErrorCode.NOT_ENOUGH_REPLICAS
