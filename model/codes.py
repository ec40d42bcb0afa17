"""Kafka's codes as the plain ints the model's states hold (protocol/ declares them as enums;
a state holds ints so it hashes fast), and their names for labels."""

from __future__ import annotations

from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import COMPLETED_STATES, PREPARE_STATES, TxnState
from kafka_eos.protocol.errors import FATAL_TO_TRANSACTIONAL_PRODUCER, ErrorCode
from kafka_eos.protocol.errors import RETRIABLE_PRODUCE_ERRORS as RETRIABLE_PRODUCE_ERRORS_

# TransactionManager.State
UNINITIALIZED = int(ClientState.UNINITIALIZED)
INITIALIZING = int(ClientState.INITIALIZING)
READY = int(ClientState.READY)
IN_TRANSACTION = int(ClientState.IN_TRANSACTION)
COMMITTING = int(ClientState.COMMITTING_TRANSACTION)
ABORTING = int(ClientState.ABORTING_TRANSACTION)
ABORTABLE_ERROR = int(ClientState.ABORTABLE_ERROR)
FATAL_ERROR = int(ClientState.FATAL_ERROR)

# TransactionState
EMPTY = int(TxnState.EMPTY)
ONGOING = int(TxnState.ONGOING)
PREPARE_COMMIT = int(TxnState.PREPARE_COMMIT)
PREPARE_ABORT = int(TxnState.PREPARE_ABORT)
COMPLETE_COMMIT = int(TxnState.COMPLETE_COMMIT)
COMPLETE_ABORT = int(TxnState.COMPLETE_ABORT)
PREPARE = frozenset(int(s) for s in PREPARE_STATES)
COMPLETED = frozenset(int(s) for s in COMPLETED_STATES)
TXN_STATE_NAMES = {int(state): state.kafka_name for state in TxnState}

# Errors
NONE = int(ErrorCode.NONE)
OUT_OF_ORDER = int(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
INVALID_EPOCH = int(ErrorCode.INVALID_PRODUCER_EPOCH)
INVALID_TXN_STATE = int(ErrorCode.INVALID_TXN_STATE)
INVALID_MAPPING = int(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
CONCURRENT = int(ErrorCode.CONCURRENT_TRANSACTIONS)
REQUEST_TIMED_OUT = int(ErrorCode.REQUEST_TIMED_OUT)
COORDINATOR_FENCED = int(ErrorCode.TRANSACTION_COORDINATOR_FENCED)
PRODUCER_FENCED = int(ErrorCode.PRODUCER_FENCED)
TRANSACTION_ABORTABLE = int(ErrorCode.TRANSACTION_ABORTABLE)
NOT_ENOUGH_REPLICAS = int(ErrorCode.NOT_ENOUGH_REPLICAS)
NOT_LEADER_OR_FOLLOWER = int(ErrorCode.NOT_LEADER_OR_FOLLOWER)
#: Produce errors a client retries with the same batch (nothing was appended)
RETRIABLE_PRODUCE_ERRORS = frozenset(int(e) for e in RETRIABLE_PRODUCE_ERRORS_)
ILLEGAL_GENERATION = int(ErrorCode.ILLEGAL_GENERATION)
#: Produce errors after which a transactional producer can only be closed
#: (TransactionManager.maybeTransitionToErrorState: INVALID_PRODUCER_ID_MAPPING from a
#: verification after a rotation included, KAFKA-18019; any other is abortable)
FATAL_PRODUCE = frozenset(int(e) for e in FATAL_TO_TRANSACTIONAL_PRODUCER)
ERROR_NAMES = {int(code): code.name for code in ErrorCode}


def error_name(code: int) -> str:
    return ERROR_NAMES[code]
