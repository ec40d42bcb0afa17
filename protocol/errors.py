"""Kafka error codes with their wire numbers (org.apache.kafka.common.protocol.Errors)."""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    NONE = 0
    UNKNOWN_SERVER_ERROR = -1
    OFFSET_OUT_OF_RANGE = 1
    CORRUPT_MESSAGE = 2
    UNKNOWN_TOPIC_OR_PARTITION = 3
    INVALID_FETCH_SIZE = 4
    LEADER_NOT_AVAILABLE = 5
    NOT_LEADER_OR_FOLLOWER = 6
    REQUEST_TIMED_OUT = 7
    MESSAGE_TOO_LARGE = 10
    NETWORK_EXCEPTION = 13
    COORDINATOR_LOAD_IN_PROGRESS = 14
    COORDINATOR_NOT_AVAILABLE = 15
    NOT_COORDINATOR = 16
    INVALID_TOPIC_EXCEPTION = 17
    NOT_ENOUGH_REPLICAS = 19
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
    ILLEGAL_GENERATION = 22
    INCONSISTENT_GROUP_PROTOCOL = 23
    UNKNOWN_MEMBER_ID = 25
    INVALID_SESSION_TIMEOUT = 26
    REBALANCE_IN_PROGRESS = 27
    UNSUPPORTED_VERSION = 35
    TOPIC_ALREADY_EXISTS = 36
    INVALID_PARTITIONS = 37
    INVALID_REQUEST = 42
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45
    DUPLICATE_SEQUENCE_NUMBER = 46
    INVALID_PRODUCER_EPOCH = 47
    INVALID_TXN_STATE = 48
    INVALID_PRODUCER_ID_MAPPING = 49
    INVALID_TRANSACTION_TIMEOUT = 50
    CONCURRENT_TRANSACTIONS = 51
    TRANSACTION_COORDINATOR_FENCED = 52
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
    UNKNOWN_PRODUCER_ID = 59
    UNSUPPORTED_COMPRESSION_TYPE = 76
    MEMBER_ID_REQUIRED = 79
    UNSTABLE_OFFSET_COMMIT = 88
    PRODUCER_FENCED = 90
    INVALID_RECORD = 87
    TRANSACTION_ABORTABLE = 120


#: Errors after which the client transaction manager goes to FATAL_ERROR when they fail a
#: batch (TransactionManager.maybeTransitionToErrorState) or answer an AddPartitionsToTxn,
#: AddOffsetsToTxn or EndTxn. INVALID_PRODUCER_ID_MAPPING is fatal since KAFKA-18019
#: (Kafka 4.0): recovering from it with a KIP-360 epoch bump, as 2.5 to 3.9 did, could repeat
#: work a newer incarnation did after the transactional.id expired.
FATAL_TO_TRANSACTIONAL_PRODUCER = frozenset(
    {
        ErrorCode.PRODUCER_FENCED,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode.INVALID_PRODUCER_ID_MAPPING,
    }
)

#: A transaction coordinator's answers to AddPartitionsToTxn / AddOffsetsToTxn that are fatal
#: (AddPartitionsToTxnHandler, AddOffsetsToTxnHandler): the above, INVALID_PRODUCER_EPOCH (an
#: older coordinator's PRODUCER_FENCED), INVALID_TXN_STATE, and INVALID_TRANSACTION_TIMEOUT
#: (no handler expects it: "unexpected error").
FATAL_ADD_ANSWERS = FATAL_TO_TRANSACTIONAL_PRODUCER | {
    ErrorCode.INVALID_PRODUCER_EPOCH,
    ErrorCode.INVALID_TXN_STATE,
    ErrorCode.INVALID_TRANSACTION_TIMEOUT,
}


def coordinator_error_is_fatal(error: int, *, adds: bool) -> bool:
    """Whether a transactional producer goes to FATAL_ERROR on a transaction coordinator's
    error answer (one it does not re-send: CONCURRENT_TRANSACTIONS, NOT_COORDINATOR and the
    other retriable errors are the caller's). To an Add (``adds``) only FATAL_ADD_ANSWERS are
    fatal; the rest make the transaction abortable. To InitProducerId or EndTxn every error
    the coordinator answers here is fatal (InitProducerIdHandler, EndTxnHandler:
    PRODUCER_FENCED, INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE; Kafka's abortable
    TRANSACTION_ABORTABLE, UNKNOWN_PRODUCER_ID and authorization failures are answers no
    coordinator here gives)."""
    return not adds or error in FATAL_ADD_ANSWERS


#: Retriable errors a leader answers a Produce with before appending anything, which a fault
#: injects: NOT_ENOUGH_REPLICAS (Partition.appendRecordsToLeader: the ISR is below
#: min.insync.replicas with acks=all), NOT_LEADER_OR_FOLLOWER (ReplicaManager: leadership
#: moved; the producer also refreshes its metadata).
LEADER_RETRIABLE_ERRORS = frozenset(
    {ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_LEADER_OR_FOLLOWER}
)
#: Produce errors a producer retries with the same batch (Kafka's RetriableException family
#: as Sender.canRetry reads them; nothing was appended): the leader's own, and
#: CONCURRENT_TRANSACTIONS, which a transaction-version-2 leader passes on from the
#: coordinator's refused add (ReplicaManager.appendRecords; under version 1 it is translated
#: to NOT_ENOUGH_REPLICAS).
#: NOT_ENOUGH_REPLICAS_AFTER_APPEND (Partition.checkEnoughReplicasReachOffset, replicated
#: partitions) is retried too, although the batch IS in the leader's log: the ISR shrank below
#: min.insync.replicas while its acks=all answer waited.
RETRIABLE_PRODUCE_ERRORS = LEADER_RETRIABLE_ERRORS | {
    ErrorCode.CONCURRENT_TRANSACTIONS,
    ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
}


def verification_answer(error: int) -> int:
    """What AddPartitionsToTxnManager hands the partition leader (or the group coordinator)
    for the coordinator's refusal of its verification or add: PRODUCER_FENCED as
    INVALID_PRODUCER_EPOCH ("producers expect to handle INVALID_PRODUCER_EPOCH in this
    scenario", KIP-588: abortable, not fatal), the rest as it is."""
    fenced = error == ErrorCode.PRODUCER_FENCED
    return int(ErrorCode.INVALID_PRODUCER_EPOCH) if fenced else int(error)


#: The coordinator's retriable answers to a leader's verification that the leader turns into
#: NOT_ENOUGH_REPLICAS for the Produce (a retriable error every client re-sends on, and no
#: metadata refresh): ReplicaManager.appendRecords' post-verification callback.
_RETRIED_AS_NOT_ENOUGH_REPLICAS = frozenset(
    {
        ErrorCode.NETWORK_EXCEPTION,
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        ErrorCode.NOT_COORDINATOR,
    }
)


def produce_answer_to_verification(error: int, *, adds: bool) -> int:
    """The error a partition leader answers a held Produce with when its verification (or,
    ``adds``, transaction version 2's add) was refused with ``error`` (already passed through
    :func:`verification_answer`): ReplicaManager.appendRecords' post-verification callback
    turns the coordinator's retriable errors into NOT_ENOUGH_REPLICAS, CONCURRENT_TRANSACTIONS
    too except for version 2's add ("the error is very common during the transaction commit
    phase"); the rest is answered as it is."""
    retried = error in _RETRIED_AS_NOT_ENOUGH_REPLICAS
    if retried or (error == ErrorCode.CONCURRENT_TRANSACTIONS and not adds):
        return int(ErrorCode.NOT_ENOUGH_REPLICAS)
    return int(error)
