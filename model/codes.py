"""Kafka's codes as the plain ints the model's states hold (protocol/ declares them as enums;
a state holds ints so it hashes fast), and their names for labels.

Every code is ``Final``, as the model's other constants are: compiled (mypyc), a final name is a
C static, where any other module-level name is looked up in its module's dict at each use, and
the actions and properties test these codes on every step."""

from __future__ import annotations

from typing import Final

from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import COMPLETED_STATES, PREPARE_STATES, TxnState
from kafka_eos.protocol.errors import FATAL_TO_TRANSACTIONAL_PRODUCER, ErrorCode
from kafka_eos.protocol.errors import RETRIABLE_PRODUCE_ERRORS as RETRIABLE_PRODUCE_ERRORS_

# TransactionManager.State
UNINITIALIZED: Final = int(ClientState.UNINITIALIZED)
INITIALIZING: Final = int(ClientState.INITIALIZING)
READY: Final = int(ClientState.READY)
IN_TRANSACTION: Final = int(ClientState.IN_TRANSACTION)
COMMITTING: Final = int(ClientState.COMMITTING_TRANSACTION)
ABORTING: Final = int(ClientState.ABORTING_TRANSACTION)
ABORTABLE_ERROR: Final = int(ClientState.ABORTABLE_ERROR)
FATAL_ERROR: Final = int(ClientState.FATAL_ERROR)

# TransactionState
EMPTY: Final = int(TxnState.EMPTY)
ONGOING: Final = int(TxnState.ONGOING)
PREPARE_COMMIT: Final = int(TxnState.PREPARE_COMMIT)
PREPARE_ABORT: Final = int(TxnState.PREPARE_ABORT)
COMPLETE_COMMIT: Final = int(TxnState.COMPLETE_COMMIT)
COMPLETE_ABORT: Final = int(TxnState.COMPLETE_ABORT)
PREPARE: Final = frozenset(int(s) for s in PREPARE_STATES)
COMPLETED: Final = frozenset(int(s) for s in COMPLETED_STATES)
TXN_STATE_NAMES: Final = {int(state): state.kafka_name for state in TxnState}
#: A marker's (an EndTxn's) name by its commit flag: ABORT (0) or COMMIT (1)
MARKER_NAMES: Final = ("ABORT", "COMMIT")

# A verification message's ``deposed`` (model/verification.py, model/replication.py)
#: its leader lost its leadership since it asked and still holds the Produce
DEPOSED: Final = 1
#: its leader's broker restarted since it asked: the Produce failed then, nobody awaits it
RESTARTED: Final = 2
#: how a trace shows it (nothing while the leader leads)
DEPOSED_NAMES: Final = ("", "deposed", "restarted")

# Errors
NONE: Final = int(ErrorCode.NONE)
OUT_OF_ORDER: Final = int(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
INVALID_EPOCH: Final = int(ErrorCode.INVALID_PRODUCER_EPOCH)
INVALID_TXN_STATE: Final = int(ErrorCode.INVALID_TXN_STATE)
INVALID_MAPPING: Final = int(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
CONCURRENT: Final = int(ErrorCode.CONCURRENT_TRANSACTIONS)
REQUEST_TIMED_OUT: Final = int(ErrorCode.REQUEST_TIMED_OUT)
COORDINATOR_FENCED: Final = int(ErrorCode.TRANSACTION_COORDINATOR_FENCED)
PRODUCER_FENCED: Final = int(ErrorCode.PRODUCER_FENCED)
TRANSACTION_ABORTABLE: Final = int(ErrorCode.TRANSACTION_ABORTABLE)
NOT_ENOUGH_REPLICAS: Final = int(ErrorCode.NOT_ENOUGH_REPLICAS)
NOT_LEADER_OR_FOLLOWER: Final = int(ErrorCode.NOT_LEADER_OR_FOLLOWER)
#: Produce errors a client retries with the same batch (nothing was appended)
RETRIABLE_PRODUCE_ERRORS: Final = frozenset(int(e) for e in RETRIABLE_PRODUCE_ERRORS_)
ILLEGAL_GENERATION: Final = int(ErrorCode.ILLEGAL_GENERATION)
#: Produce errors after which a transactional producer can only be closed
#: (TransactionManager.maybeTransitionToErrorState: INVALID_PRODUCER_ID_MAPPING from a
#: verification after a rotation included, KAFKA-18019; any other is abortable)
FATAL_PRODUCE: Final = frozenset(int(e) for e in FATAL_TO_TRANSACTIONAL_PRODUCER)
ERROR_NAMES: Final = {int(code): code.name for code in ErrorCode}


def error_name(code: int) -> str:
    return ERROR_NAMES[code]
