"""The state schema of a partition: its log entries, its producer state, its aborted-transaction
index, its replication (see :mod:`.schema`)."""

from __future__ import annotations

from .fields import Component, derived, field

__all__ = [
    "ABORTED",
    "CACHED_BATCH",
    "CONTROL_ENTRY",
    "DATA_ENTRY",
    "PARTITION",
    "PRODUCER_ENTRY",
    "REPLICATION",
    "VERIFICATION_ENTRY",
]

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
