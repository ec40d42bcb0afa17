"""The state schema of the transaction coordinator: its metadata per transactional.id, the
pending transition and its reply, the records of __transaction_state (see :mod:`.schema`)."""

from __future__ import annotations

from .fields import Component, derived, field

__all__ = [
    "COORDINATOR",
    "METADATA",
    "PENDING",
    "TXN_LOG_RECORD",
]

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
            "() or the answer waiting for it to be durable: a CoordinatorResponse to the "
            "client that asked, or (a transaction-version-2 leader's add) the "
            "VerifyPartitionResponse to the leader holding the Produce",
            "PT_REPLY",
            show="hidden",
            record="message",
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
