"""The requests and responses the reference core exchanges: one frozen dataclass per Kafka API.

Fields are named after Kafka's JSON message schemas (snake_case) and simplified where the core
does not need Kafka's nesting: a ProduceRequest and a FetchRequest carry ONE partition (the wire
adapter splits a multi-partition request into several and merges the responses). Every message
has a ``correlation_id``; a response echoes its request's. Error fields are
:class:`~kafka_eos.protocol.errors.ErrorCode` values.

Conventions shared by the core and every driver:

* a *source* / *destination* is a plain string address: a node id (``"broker-0"``) or a client
  id (``"producer-1"``); the core never interprets a client address, it only answers to it.
* ``payload`` is opaque: the core stores it as received and hands it back in fetches (the wire
  adapter keeps the RecordBatch bytes there); ``records`` are the record values as text, used
  for histories and by the in-process clients.
* isolation levels: 0 = read_uncommitted, 1 = read_committed (Kafka's IsolationLevel ids).
* the core answers every request at once or when its writes are replicated; it never waits on
  a client's behalf: a Fetch's ``max_wait_ms`` long poll and ``acks=0`` (no response) are the
  front end's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka_eos.protocol.errors import ErrorCode

READ_UNCOMMITTED = 0
READ_COMMITTED = 1

#: ListOffsets timestamps (ListOffsetsRequest.LATEST_TIMESTAMP / EARLIEST_TIMESTAMP).
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2

#: FindCoordinator key types.
GROUP_KEY = 0
TRANSACTION_KEY = 1

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1


# --- shared pieces ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class TopicPartition:
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """One partition's outcome in a multi-partition response."""

    topic: str
    partition: int
    error_code: ErrorCode


# --- Produce / Fetch / ListOffsets -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProduceRequest:
    correlation_id: int
    topic: str
    partition: int
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH
    base_sequence: int = -1
    record_count: int = 1
    transactional: bool = False
    transactional_id: str | None = None
    payload: Any = None
    records: tuple[str, ...] = ()
    acks: int = -1


@dataclass(frozen=True, slots=True)
class ProduceResponse:
    correlation_id: int
    topic: str
    partition: int
    error_code: ErrorCode
    base_offset: int = -1
    log_start_offset: int = 0
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedBatch:
    """A stored batch as a fetch returns it. Control batches have ``records == ()`` and say
    whether they are a COMMIT (``is_commit``) or an ABORT marker. The log stores these
    fields and more (:class:`~kafka_eos.reference.log.LogBatch`)."""

    base_offset: int
    last_offset: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    is_transactional: bool
    is_control: bool
    records: tuple[str, ...]
    payload: Any = None
    is_commit: bool = False  # control batches: COMMIT (True) or ABORT (False)
    coordinator_epoch: int = -1

    @property
    def record_count(self) -> int:
        return self.last_offset - self.base_offset + 1


@dataclass(frozen=True, slots=True)
class AbortedTransaction:
    producer_id: int
    first_offset: int


@dataclass(frozen=True, slots=True)
class FetchRequest:
    correlation_id: int
    topic: str
    partition: int
    fetch_offset: int
    isolation_level: int = READ_UNCOMMITTED
    max_records: int = 1_000_000
    max_wait_ms: int = 0


@dataclass(frozen=True, slots=True)
class FetchResponse:
    correlation_id: int
    topic: str
    partition: int
    error_code: ErrorCode
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = 0
    aborted_transactions: tuple[AbortedTransaction, ...] = ()
    batches: tuple[FetchedBatch, ...] = ()


@dataclass(frozen=True, slots=True)
class ListOffsetsRequest:
    correlation_id: int
    topic: str
    partition: int
    timestamp: int = LATEST_TIMESTAMP
    isolation_level: int = READ_UNCOMMITTED


@dataclass(frozen=True, slots=True)
class ListOffsetsResponse:
    correlation_id: int
    topic: str
    partition: int
    error_code: ErrorCode
    offset: int = -1
    timestamp: int = -1


# --- Metadata / topics / coordinators --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionMetadata:
    partition: int
    leader_id: str


@dataclass(frozen=True, slots=True)
class TopicMetadata:
    name: str
    error_code: ErrorCode
    partitions: tuple[PartitionMetadata, ...] = ()


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    correlation_id: int
    topics: tuple[str, ...] | None = None  # None: every topic
    allow_auto_topic_creation: bool = True


@dataclass(frozen=True, slots=True)
class MetadataResponse:
    correlation_id: int
    brokers: tuple[str, ...]
    controller_id: str
    topics: tuple[TopicMetadata, ...]


@dataclass(frozen=True, slots=True)
class CreatableTopic:
    name: str
    num_partitions: int = -1  # -1: the broker's default


@dataclass(frozen=True, slots=True)
class CreateTopicsRequest:
    correlation_id: int
    topics: tuple[CreatableTopic, ...]


@dataclass(frozen=True, slots=True)
class CreateTopicResult:
    name: str
    error_code: ErrorCode
    num_partitions: int = -1


@dataclass(frozen=True, slots=True)
class CreateTopicsResponse:
    correlation_id: int
    topics: tuple[CreateTopicResult, ...]


@dataclass(frozen=True, slots=True)
class FindCoordinatorRequest:
    correlation_id: int
    key: str
    key_type: int = GROUP_KEY


@dataclass(frozen=True, slots=True)
class FindCoordinatorResponse:
    correlation_id: int
    error_code: ErrorCode
    node_id: str = ""


# --- Transactions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InitProducerIdRequest:
    correlation_id: int
    transactional_id: str | None = None
    transaction_timeout_ms: int = 60_000
    producer_id: int = NO_PRODUCER_ID  # KIP-360: the current identity, to bump its epoch
    producer_epoch: int = NO_PRODUCER_EPOCH


@dataclass(frozen=True, slots=True)
class InitProducerIdResponse:
    correlation_id: int
    error_code: ErrorCode
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnRequest:
    """Sent by a producer (TV1) to add partitions to its transaction, or by a partition leader:
    ``verify_only`` (KIP-890 part 1) asks whether they are already in the ongoing transaction;
    without it (transaction version 2) the leader adds them on the producer's behalf."""

    correlation_id: int
    transactional_id: str
    producer_id: int
    producer_epoch: int
    partitions: tuple[TopicPartition, ...]
    verify_only: bool = False


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxnResponse:
    correlation_id: int
    error_code: ErrorCode  # top-level error (e.g. CONCURRENT_TRANSACTIONS) or NONE
    results: tuple[PartitionResult, ...] = ()


@dataclass(frozen=True, slots=True)
class AddOffsetsToTxnRequest:
    correlation_id: int
    transactional_id: str
    producer_id: int
    producer_epoch: int
    group_id: str


@dataclass(frozen=True, slots=True)
class AddOffsetsToTxnResponse:
    correlation_id: int
    error_code: ErrorCode


@dataclass(frozen=True, slots=True)
class CommittedOffset:
    topic: str
    partition: int
    committed_offset: int
    committed_metadata: str = ""


@dataclass(frozen=True, slots=True)
class TxnOffsetCommitRequest:
    correlation_id: int
    transactional_id: str
    group_id: str
    producer_id: int
    producer_epoch: int
    offsets: tuple[CommittedOffset, ...]
    generation_id: int = -1
    member_id: str = ""
    group_instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class TxnOffsetCommitResponse:
    correlation_id: int
    results: tuple[PartitionResult, ...]


@dataclass(frozen=True, slots=True)
class EndTxnRequest:
    correlation_id: int
    transactional_id: str
    producer_id: int
    producer_epoch: int
    committed: bool


@dataclass(frozen=True, slots=True)
class EndTxnResponse:
    """``producer_id`` / ``producer_epoch``: the identity to use next (EndTxn v5, transaction
    version 2 bumps the epoch on every EndTxn); -1 when the broker does not say."""

    correlation_id: int
    error_code: ErrorCode
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH


@dataclass(frozen=True, slots=True)
class TxnMarker:
    """One transaction's marker for a set of partitions (WritableTxnMarker)."""

    producer_id: int
    producer_epoch: int
    transaction_result: bool  # True: COMMIT, False: ABORT
    partitions: tuple[TopicPartition, ...]
    coordinator_epoch: int


@dataclass(frozen=True, slots=True)
class WriteTxnMarkersRequest:
    correlation_id: int
    markers: tuple[TxnMarker, ...]


@dataclass(frozen=True, slots=True)
class TxnMarkerResult:
    producer_id: int
    results: tuple[PartitionResult, ...]


@dataclass(frozen=True, slots=True)
class WriteTxnMarkersResponse:
    correlation_id: int
    markers: tuple[TxnMarkerResult, ...]


# --- Group offsets ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OffsetCommitRequest:
    correlation_id: int
    group_id: str
    offsets: tuple[CommittedOffset, ...]
    generation_id: int = -1
    member_id: str = ""


@dataclass(frozen=True, slots=True)
class OffsetCommitResponse:
    correlation_id: int
    results: tuple[PartitionResult, ...]


@dataclass(frozen=True, slots=True)
class OffsetFetchRequest:
    correlation_id: int
    group_id: str
    partitions: tuple[TopicPartition, ...] | None = None  # None: every committed partition
    require_stable: bool = False


@dataclass(frozen=True, slots=True)
class FetchedOffset:
    topic: str
    partition: int
    committed_offset: int  # -1: nothing committed
    error_code: ErrorCode = ErrorCode.NONE
    metadata: str = ""


@dataclass(frozen=True, slots=True)
class OffsetFetchResponse:
    correlation_id: int
    error_code: ErrorCode
    offsets: tuple[FetchedOffset, ...] = ()


# --- Group membership ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinGroupProtocol:
    name: str
    metadata: Any = None


@dataclass(frozen=True, slots=True)
class JoinGroupMember:
    member_id: str
    metadata: Any = None
    group_instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class JoinGroupRequest:
    correlation_id: int
    group_id: str
    member_id: str = ""
    session_timeout_ms: int = 45_000
    rebalance_timeout_ms: int = 300_000
    protocol_type: str = "consumer"
    protocols: tuple[JoinGroupProtocol, ...] = (JoinGroupProtocol("range"),)
    group_instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class JoinGroupResponse:
    correlation_id: int
    error_code: ErrorCode
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    member_id: str = ""
    members: tuple[JoinGroupMember, ...] = ()  # filled for the leader only


@dataclass(frozen=True, slots=True)
class SyncGroupAssignment:
    member_id: str
    assignment: Any


@dataclass(frozen=True, slots=True)
class SyncGroupRequest:
    correlation_id: int
    group_id: str
    generation_id: int
    member_id: str
    assignments: tuple[SyncGroupAssignment, ...] = ()  # from the leader only
    protocol_type: str | None = None
    protocol_name: str | None = None


@dataclass(frozen=True, slots=True)
class SyncGroupResponse:
    correlation_id: int
    error_code: ErrorCode
    assignment: Any = None
    protocol_type: str | None = None
    protocol_name: str | None = None


@dataclass(frozen=True, slots=True)
class HeartbeatRequest:
    correlation_id: int
    group_id: str
    generation_id: int
    member_id: str


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    correlation_id: int
    error_code: ErrorCode


@dataclass(frozen=True, slots=True)
class LeaveGroupRequest:
    correlation_id: int
    group_id: str
    member_id: str


@dataclass(frozen=True, slots=True)
class LeaveGroupResponse:
    correlation_id: int
    error_code: ErrorCode


REQUEST_TYPES: tuple[type, ...] = (
    ProduceRequest,
    FetchRequest,
    ListOffsetsRequest,
    MetadataRequest,
    CreateTopicsRequest,
    FindCoordinatorRequest,
    InitProducerIdRequest,
    AddPartitionsToTxnRequest,
    AddOffsetsToTxnRequest,
    TxnOffsetCommitRequest,
    EndTxnRequest,
    WriteTxnMarkersRequest,
    OffsetCommitRequest,
    OffsetFetchRequest,
    JoinGroupRequest,
    SyncGroupRequest,
    HeartbeatRequest,
    LeaveGroupRequest,
)

RESPONSE_TYPES: tuple[type, ...] = (
    ProduceResponse,
    FetchResponse,
    ListOffsetsResponse,
    MetadataResponse,
    CreateTopicsResponse,
    FindCoordinatorResponse,
    InitProducerIdResponse,
    AddPartitionsToTxnResponse,
    AddOffsetsToTxnResponse,
    TxnOffsetCommitResponse,
    EndTxnResponse,
    WriteTxnMarkersResponse,
    OffsetCommitResponse,
    OffsetFetchResponse,
    JoinGroupResponse,
    SyncGroupResponse,
    HeartbeatResponse,
    LeaveGroupResponse,
)


def is_response(message: object) -> bool:
    return isinstance(message, RESPONSE_TYPES)
