"""The state schema of a producer client: the client and its batches (see :mod:`.schema`)."""

from __future__ import annotations

from .fields import Component, derived, field

__all__ = [
    "BATCH",
    "CLIENT",
]

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
