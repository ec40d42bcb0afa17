"""The model state declared once: named fields per component, in tuple order.

A model state stays a plain tuple of small ints all the way down (it hashes and compares
fastest); this schema is what gives each position its name. From it are derived:

* the index constants of :mod:`.layout` (``C_STATE``, ``P_LOG``, ``M_PRODUCE``...), written by
  ``python -m kafka_eos.model.schema_texts --write`` between the markers in ``model/layout.py``;
* the readable trace variables of :mod:`.variables` (and so the ITF encoding, which encodes
  them): each field is shown under its name, the way its ``show`` says;
* spec/SPEC.md's state-layout section (the same command writes it; tests/model/test_schema.py
  checks both generated texts are current; :mod:`.schema_texts` makes them);
* the conformance abstraction's constructors (:meth:`Component.make`) and a debug view that
  names every field of a raw state (:func:`named`).

Adding a field to the state: add one :class:`Field` to its component here (in tuple order),
run ``python -m kafka_eos.model.schema_texts --write``, and build the value where the model makes
that component (``init_states``, the actions) and in the conformance abstraction.
"""

from __future__ import annotations

from typing import Any

from .fields import Component, Field, Schema, derived, field
from .message_schema import (
    COORDINATOR_REQUEST,
    COORDINATOR_RESPONSE,
    MARKER,
    MARKER_RESPONSE,
    PRODUCE,
    PRODUCE_RESPONSE,
    VERIFY,
    VERIFY_RESPONSE,
)

__all__ = [
    "ABORTED",
    "BATCH",
    "BUDGET",
    "CACHED_BATCH",
    "CLIENT",
    "COMPONENTS",
    "CONSUMER_PARTITION",
    "CONTROL_ENTRY",
    "COORDINATOR",
    "COORDINATOR_REQUEST",
    "COORDINATOR_RESPONSE",
    "DATA_ENTRY",
    "MARKER",
    "MARKER_RESPONSE",
    "METADATA",
    "PARTITION",
    "PENDING",
    "PRODUCE",
    "PRODUCER_ENTRY",
    "PRODUCE_RESPONSE",
    "REPLY",
    "SCHEMA",
    "STATE",
    "TXN_LOG_RECORD",
    "VARIANTS",
    "VERIFICATION_ENTRY",
    "VERIFY",
    "VERIFY_RESPONSE",
    "Component",
    "Field",
    "Schema",
    "named",
]

# ---------------------------------------------------------------------- the state
STATE = Component(
    "state",
    "a model state: seven components",
    (
        field(
            "producers",
            "one client per producer process",
            "S_CLIENTS",
            show="producers",
            item="client",
        ),
        field(
            "partitions",
            "one per partition: the data partitions, then __consumer_offsets if "
            "a CTP application runs",
            "S_PARTITIONS",
            show="partitions",
            item="partition",
        ),
        field(
            "coordinator",
            "the transaction coordinator",
            "S_COORDINATOR",
            show="coordinator",
            record="coordinator",
        ),
        field(
            "network",
            "a sorted tuple (a multiset) of in-flight messages; any one may be "
            "delivered next, which models delay and reordering across connections",
            "S_NETWORK",
            show="network",
            item="message",
        ),
        field(
            "consumer",
            "one per data partition (() without a consumer)",
            "S_CONSUMER",
            show="consumer",
            item="consumer partition",
        ),
        field(
            "outcomes",
            "ghost: one O_* code per transaction of the workload, set when the "
            "coordinator durably decides it",
            "S_OUTCOMES",
            show="outcomes",
        ),
        field("budget", "the remaining fault budget", "S_BUDGET", show="budget", record="budget"),
    ),
)

CLIENT = Component(
    "client",
    "one producer process (ProducerSpec)",
    (
        derived(
            "kind",
            "the process's kind (transactional, idempotent, ...), from the workload",
            "process_kind",
        ),
        field(
            "state",
            "protocol.client_states.ClientState (TransactionManager.State)",
            "C_STATE",
            show="client_state",
        ),
        derived("producer_id", "the process's producer id (fixed by the workload)", "process_pid"),
        field("epoch", "the producer epoch the client uses (-1 before InitProducerId)", "C_EPOCH"),
        field(
            "current",
            "transactional: index of the current (or next) transaction; ctp: the "
            "input offset being processed (-1 = not fetched yet)",
            "C_CURRENT",
        ),
        field(
            "batches",
            "one batch per record of the process's workload, in send order",
            "C_BATCHES",
            show="batches",
            item="batch",
        ),
        field(
            "next_sequence",
            "one next sequence number per partition (RecordAccumulator's sequence)",
            "C_SEQUENCES",
            show="partition_map",
        ),
        field(
            "added",
            "bitmask of partitions the coordinator acknowledged in this transaction",
            "C_ADDED",
            show="partition_mask",
        ),
        field(
            "awaiting",
            "the outstanding coordinator request (a network message) or ()",
            "C_AWAITING",
            show="message",
            record="message",
        ),
        field(
            "generation",
            "ctp: the consumer group generation it fetched its input offset in, which its "
            "TxnOffsetCommit carries (KIP-447); -1 before that, and for other processes",
            "C_GENERATION",
        ),
    ),
    kafka="KafkaProducer, TransactionManager, Sender, RecordAccumulator",
)

BATCH = Component(
    "batch",
    "one record's batch",
    (
        derived("record", "the record's value", "batch_record"),
        derived("partition", "the record's partition", "batch_partition"),
        field(
            "status", "B_UNSENT, B_INFLIGHT, B_ACKED or B_FAILED", "BT_STATUS", show="batch_status"
        ),
        field("epoch", "the epoch it was (last) sent with", "BT_EPOCH"),
        field("sequence", "its sequence number (-1: none)", "BT_SEQUENCE"),
        field(
            "extra",
            "the offset (acked), the error (failed), the connection of the latest "
            "attempt (in flight: only that attempt's answer counts; -1 while an idempotent batch "
            "is re-enqueued after an error, to go out again) or -1 (unsent)",
            "BT_EXTRA",
            show="batch_extra",
        ),
    ),
    kafka="ProducerBatch",
)

PARTITION = Component(
    "partition",
    "one partition and its leader",
    (
        field(
            "log",
            "tuple of log entries; the offset is the index",
            "P_LOG",
            show="log",
            item="log entry",
        ),
        field(
            "producer_state",
            "one ProducerStateEntry per producer id, or () when the leader has none",
            "P_PRODUCERS",
            show="producer_state",
            item="producer entry",
        ),
        field(
            "aborted_index",
            "the aborted-transaction index",
            "P_ABORTED",
            show="aborted_index",
            item="aborted",
        ),
        field(
            "replication",
            "() with one replica; with workload replicas > 1 the replicas, the ISR and the "
            "high watermark (log, producer state and aborted index are the leader's)",
            "P_REPLICATION",
            show="replication",
            record="replication",
        ),
        field(
            "verification",
            "one VerificationStateEntry per producer id: () or (guard, epoch), the number of "
            "the VerificationGuard of a KIP-890 verification in progress (a fresh guard takes "
            "the smallest number no entry or message of the partition holds: Kafka's guard is "
            "an object equal only to itself) and the highest epoch it was asked for",
            "P_VERIFICATION",
            show="verification",
            item="verification entry",
        ),
        derived(
            "high_watermark",
            "end of the log with one replica; the leader's high watermark with more",
            "high_watermark",
        ),
        derived(
            "last_stable_offset",
            "min(first offset of every open transaction, high watermark); with replicas, of "
            "every transaction open in the log below the high watermark",
            "last_stable_offset",
        ),
    ),
    kafka="UnifiedLog, ProducerStateManager, TransactionIndex",
)

REPLICATION = Component(
    "replication",
    "a replicated data partition's replicas (replica r is broker r's; the leader's log, "
    "producer state and aborted index are the partition's own fields)",
    (
        field("leader", "the replica leading", "RS_LEADER"),
        field("leader_epoch", "one more at each election", "RS_LEADER_EPOCH"),
        field("isr", "bitmask of the in-sync replicas", "RS_ISR", show="replica_mask"),
        field("high_watermark", "the leader's high watermark", "RS_HW"),
        field(
            "follower_log_ends",
            "per replica the log end the leader knows (the last fetch offset; -1: none since "
            "the election; the leader's own slot is unused)",
            "RS_ENDS",
            show="list",
        ),
        field(
            "epoch_caches",
            "per replica its leader-epoch cache: (epoch, start offset) pairs",
            "RS_CACHES",
            show="epoch_caches",
        ),
        field(
            "follower_logs",
            "per replica its log (the leader's slot is (): its log is the partition's)",
            "RS_LOGS",
            show="replica_logs",
        ),
        field(
            "waiting_answers",
            "the purgatory: (required offset, answer, request) of each acks=all append waiting "
            "for the high watermark, sorted",
            "RS_PURGATORY",
            show="purgatory",
        ),
        field(
            "follower_high_watermarks",
            "per replica the high watermark it keeps: the leader's as its last fetch answered, "
            "cut to its log end (the leader's slot is -1: its own is high_watermark)",
            "RS_HWS",
            show="list",
        ),
    ),
    kafka="Partition (ISR, high watermark), LeaderEpochFileCache, DelayedProduce",
)

_ENTRY_OFFSET = derived("offset", "its offset (its index in the log)", "entry_offset")
_ENTRY_TYPE = field("type", "ENTRY_DATA or ENTRY_CONTROL", "ENTRY_KIND", show="entry_type")

DATA_ENTRY = Component(
    "data entry",
    "a data batch in a log (one record)",
    (
        _ENTRY_OFFSET,
        _ENTRY_TYPE,
        field("producer_id", "the batch's producer id (-1: no idempotence)", "ENTRY_PID"),
        field("producer_epoch", "the batch's producer epoch", "ENTRY_EPOCH"),
        field("base_sequence", "its first sequence number (-1: none)", "D_SEQUENCE"),
        field("record", "the global record index (Workload order)", "D_RECORD", show="record"),
        field("transactional", "1 for a transactional batch", "D_TRANSACTIONAL", show="bool"),
        derived(
            "group_offset",
            "__consumer_offsets: the input offset the record commits",
            "group_offset",
        ),
    ),
    kafka="RecordBatch",
    code="ENTRY_DATA",
    code_value=0,
)

CONTROL_ENTRY = Component(
    "control entry",
    "a control batch (a transaction marker) in a log",
    (
        _ENTRY_OFFSET,
        _ENTRY_TYPE,
        field("producer_id", "the transaction's producer id", "ENTRY_PID"),
        field("producer_epoch", "the marker's producer epoch", "ENTRY_EPOCH"),
        field("commit", "1: COMMIT, 0: ABORT", "X_COMMIT", show="bool"),
        field(
            "coordinator_epoch", "the epoch of the coordinator that wrote it", "X_COORDINATOR_EPOCH"
        ),
    ),
    kafka="EndTransactionMarker",
    code="ENTRY_CONTROL",
    code_value=1,
)

PRODUCER_ENTRY = Component(
    "producer entry",
    "a leader's ProducerStateEntry",
    (
        field("epoch", "the producer epoch the leader last stored (checkProducerEpoch)", "E_EPOCH"),
        field(
            "coordinator_epoch",
            "the highest coordinator epoch of a marker it appended (checkCoordinatorEpoch)",
            "E_COORDINATOR_EPOCH",
        ),
        field(
            "batches",
            "the last batch_cache_size batches",
            "E_BATCHES",
            show="cached_batches",
            item="cached batch",
        ),
        field(
            "current_txn_first_offset",
            "first offset of the open transaction (-1: none)",
            "E_TXN_FIRST",
        ),
    ),
    kafka="ProducerStateEntry",
)

VERIFICATION_ENTRY = Component(
    "verification entry",
    "a leader's VerificationStateEntry for one producer (KIP-890)",
    (
        field(
            "guard",
            "the number of its VerificationGuard (a fresh guard takes the smallest number no "
            "entry or verification message of the partition holds)",
            "VE_GUARD",
        ),
        field("epoch", "the highest producer epoch it was asked for", "VE_EPOCH"),
    ),
    kafka="VerificationStateEntry, VerificationGuard",
)

CACHED_BATCH = Component(
    "cached batch",
    "a batch in a ProducerStateEntry's cache",
    (
        field("first_seq", "the batch's first sequence number", "CB_FIRST_SEQ"),
        field("last_seq", "the batch's last sequence number", "CB_LAST_SEQ"),
        field("last_offset", "the offset it was appended at", "CB_LAST_OFFSET"),
    ),
    kafka="BatchMetadata",
)

ABORTED = Component(
    "aborted",
    "an aborted-transaction index entry",
    (
        field("pid", "the aborted transaction's producer id", "AB_PID"),
        field("first_offset", "the transaction's first offset (currentTxnFirstOffset)", "AB_FIRST"),
        field("last_offset", "the ABORT marker's offset", "AB_LAST"),
    ),
    kafka="AbortedTxn",
)

COORDINATOR = Component(
    "coordinator",
    "the transaction coordinator",
    (
        field("coordinator_epoch", "the coordinator epoch (bumped by each failover)", "K_EPOCH"),
        field(
            "transactions",
            "one metadata per transactional.id",
            "K_METADATA",
            show="metadata",
            item="metadata",
        ),
        field(
            "transaction_state_log",
            "the last durable record per transactional.id (() or a "
            "record), which a new coordinator reloads",
            "K_LOG",
            show="txn_log",
            item="txn log record",
        ),
    ),
    kafka="TransactionCoordinator, TransactionStateManager",
)

_OWNER = (
    "ghost: the global index of the transaction the coordinator's open transaction belongs to "
    "(-1: none)"
)

METADATA = Component(
    "metadata",
    "a transactional.id's TransactionMetadata (state -1 before the first InitProducerId)",
    (
        field("state", "TxnState", "T_STATE", show="txn_state"),
        derived("producer_id", "the transactional.id's producer id (its index)", "tid"),
        field("epoch", "the producer epoch", "T_EPOCH"),
        field(
            "partitions",
            "bitmask of the transaction's partitions",
            "T_PARTITIONS",
            show="partition_mask",
        ),
        field("transaction", _OWNER, "T_OWNER", show="transaction"),
        field(
            "markers_acknowledged",
            "the low bits acknowledge a partition's marker, the bits "
            "from FAILED_SHIFT record one given up on",
            "T_ACKS",
            show="acked_mask",
        ),
        field(
            "pending",
            "() or the transition being written to __transaction_state (traces show its "
            "fields as pending_NAME: pending_state...)",
            "T_PENDING",
            show="pending",
            record="pending",
        ),
        field("last_producer_epoch", "lastProducerEpoch (KIP-360)", "T_LAST_EPOCH"),
    ),
    kafka="TransactionMetadata",
)

PENDING = Component(
    "pending",
    "a transition being written to __transaction_state",
    (
        field("state", "TxnState", "PT_STATE", show="txn_state"),
        field("epoch", "the producer epoch it writes", "PT_EPOCH", show="hidden"),
        field(
            "partitions",
            "the transaction's partitions it writes (bitmask)",
            "PT_PARTITIONS",
            show="hidden",
        ),
        field("owner", _OWNER, "PT_OWNER", show="hidden"),
        field(
            "reply",
            "() or the answer the waiting client gets once it is durable",
            "PT_REPLY",
            show="hidden",
            record="reply",
        ),
        field(
            "last_producer_epoch",
            "the lastProducerEpoch it writes (KIP-360)",
            "PT_LAST_EPOCH",
            show="hidden",
        ),
    ),
    kafka="TxnTransitMetadata",
)

REPLY = Component(
    "reply",
    "a coordinator response waiting for its transition (a response message without its kind)",
    (
        field("process", "the producer process to answer", "RP_PROCESS"),
        field("api", "the request's API (API_*)", "RP_API"),
        field("error", "the error code of the answer", "RP_ERROR"),
        field("epoch", "the epoch the answer carries", "RP_EPOCH"),
        field("transaction", "ghost: the transaction the request belongs to", "RP_TRANSACTION"),
        field("connection", "the connection of the request answered", "RP_CONNECTION"),
    ),
)

TXN_LOG_RECORD = Component(
    "txn log record",
    "the last durable __transaction_state record of a transactional.id",
    (
        field("state", "TxnState", "R_STATE", show="txn_state"),
        field("epoch", "the producer epoch", "R_EPOCH"),
        field(
            "partitions",
            "the transaction's partitions (bitmask)",
            "R_PARTITIONS",
            show="partition_mask",
        ),
        field("owner", _OWNER, "R_OWNER", show="hidden"),
        field("last_producer_epoch", "lastProducerEpoch (KIP-360)", "R_LAST_EPOCH", show="hidden"),
    ),
    kafka="TransactionLogValue",
)

CONSUMER_PARTITION = Component(
    "consumer partition",
    "the consumer on one data partition",
    (
        field("position", "the fetch position", "CP_POSITION"),
        field("delivered", "the offsets returned so far", "CP_DELIVERED", show="list"),
    ),
    kafka="KafkaConsumer",
)

BUDGET = Component(
    "budget",
    "the remaining fault budget (each starts at the Faults value of the same name)",
    (
        field("losses", "message losses (LoseMessage) left", "F_LOSSES"),
        field("retries", "produce retries (RetryProduce) left", "F_RETRIES"),
        field(
            "batch_timeouts",
            "batch expiries (ExpireBatch, delivery.timeout.ms) left",
            "F_BATCH_TIMEOUTS",
        ),
        field("txn_timeouts", "transaction timeouts (TimeoutTransaction) left", "F_TXN_TIMEOUTS"),
        field("failovers", "coordinator failovers (CoordinatorFailover) left", "F_FAILOVERS"),
        field("expiries", "producer-state expiries (ExpireProducerState) left", "F_EXPIRIES"),
        field(
            "retriable_errors",
            "retriable Produce errors (NotEnoughReplicas, NotLeaderOrFollower) left",
            "F_RETRIABLE_ERRORS",
        ),
        field(
            "leader_failovers",
            "data-partition leader failovers (LeaderFailover) left",
            "F_LEADER_FAILOVERS",
        ),
        field(
            "request_timeouts",
            "request timeouts (TimeoutCoordinatorRequest, TimeoutProduce) left",
            "F_REQUEST_TIMEOUTS",
        ),
        field(
            "rebalances",
            "consumer-group rebalances (Rebalance) left; the group's generation is the number "
            "spent",
            "F_REBALANCES",
        ),
    ),
)

#: the components of the state, by name
COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        STATE,
        CLIENT,
        BATCH,
        PARTITION,
        REPLICATION,
        PRODUCER_ENTRY,
        VERIFICATION_ENTRY,
        CACHED_BATCH,
        ABORTED,
        COORDINATOR,
        METADATA,
        PENDING,
        REPLY,
        TXN_LOG_RECORD,
        CONSUMER_PARTITION,
        BUDGET,
    )
}
#: the components told apart by a code in their first field
VARIANTS: dict[str, tuple[Component, ...]] = {
    "log entry": (DATA_ENTRY, CONTROL_ENTRY),
    "message": (
        PRODUCE,
        PRODUCE_RESPONSE,
        COORDINATOR_REQUEST,
        COORDINATOR_RESPONSE,
        MARKER,
        MARKER_RESPONSE,
        VERIFY,
        VERIFY_RESPONSE,
    ),
}


SCHEMA = Schema(COMPONENTS, VARIANTS)


def named(value: Any, item: str = "state", schema: Schema = SCHEMA) -> Any:
    """A debug view of a raw state (or any part, ``item`` naming its component): every
    component a dict of its stored fields by name, () shown as None."""
    if not isinstance(value, tuple):
        return value
    if not value:
        return None
    component = schema.of(item, value)
    result = component.named(value)  # refuses a value of the wrong length
    for declared in component.stored:
        part = result[declared.name]
        if declared.item:
            result[declared.name] = [named(p, declared.item, schema) for p in part]
        elif declared.record:
            result[declared.name] = named(part, declared.record, schema)
    return result
