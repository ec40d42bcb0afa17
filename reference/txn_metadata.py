"""Per-transactional.id metadata and its log records (Kafka's TransactionMetadata and
TxnTransitMetadata, stored in ``__transaction_state``).

Every change is two-phase: :meth:`TransactionMetadata.prepare` checks the transition against
the state table of :mod:`kafka_eos.protocol.coordinator_states`, sets ``pending_state`` and
returns the target :class:`TxnTransit` to write to the transaction log; once the write is
replicated :meth:`TransactionMetadata.complete` applies it. While ``pending_state`` is set every
request for this transactional.id gets CONCURRENT_TRANSACTIONS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from kafka_eos.protocol.coordinator_states import TxnState, is_legal_transition
from kafka_eos.reference.messages import TopicPartition


class IllegalTransition(Exception):
    """The coordinator tried a transition the state table forbids: a bug in the coordinator."""


@dataclass(frozen=True, slots=True)
class TxnTransit:
    """The metadata a transition writes to the transaction log (TxnTransitMetadata)."""

    transactional_id: str
    producer_id: int
    previous_producer_id: int
    producer_epoch: int
    last_producer_epoch: int
    txn_timeout_ms: int
    state: TxnState
    partitions: frozenset[TopicPartition]
    txn_start_timestamp: int
    txn_last_update_timestamp: int
    client_transaction_version: int
    #: transaction version 2: the producer id a transaction decided at the exhausted epoch
    #: completes under (nextProducerId; -1: none)
    next_producer_id: int = -1

    def answered_identity(self) -> tuple[int, int]:
        """The producer id and epoch an EndTxn is answered with: the ones the transaction
        completes under (prepareComplete's; KAFKA-18660: a new producer id at epoch 0 once
        the decision rotated it)."""
        if self.next_producer_id >= 0:
            return self.next_producer_id, 0
        return self.producer_id, self.producer_epoch

    def to_json(self) -> str:
        return json.dumps(
            {
                "transactional_id": self.transactional_id,
                "producer_id": self.producer_id,
                "previous_producer_id": self.previous_producer_id,
                "producer_epoch": self.producer_epoch,
                "last_producer_epoch": self.last_producer_epoch,
                "txn_timeout_ms": self.txn_timeout_ms,
                "state": self.state.kafka_name,
                "partitions": sorted([tp.topic, tp.partition] for tp in self.partitions),
                "txn_start_timestamp": self.txn_start_timestamp,
                "txn_last_update_timestamp": self.txn_last_update_timestamp,
                "client_transaction_version": self.client_transaction_version,
                "next_producer_id": self.next_producer_id,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> TxnTransit:
        raw: dict[str, Any] = json.loads(text)
        by_name = {state.kafka_name: state for state in TxnState}
        raw["state"] = by_name[raw["state"]]
        raw["partitions"] = frozenset(TopicPartition(t, p) for t, p in raw["partitions"])
        return cls(**raw)


@dataclass(slots=True)
class TransactionMetadata:
    transactional_id: str
    producer_id: int
    previous_producer_id: int = -1
    producer_epoch: int = -1
    last_producer_epoch: int = -1
    txn_timeout_ms: int = 60_000
    state: TxnState = TxnState.EMPTY
    pending_state: TxnState | None = None
    partitions: set[TopicPartition] = field(default_factory=set)
    txn_start_timestamp: int = -1
    txn_last_update_timestamp: int = -1
    client_transaction_version: int = 1
    next_producer_id: int = -1

    def snapshot(self) -> TxnTransit:
        return TxnTransit(
            self.transactional_id,
            self.producer_id,
            self.previous_producer_id,
            self.producer_epoch,
            self.last_producer_epoch,
            self.txn_timeout_ms,
            self.state,
            frozenset(self.partitions),
            self.txn_start_timestamp,
            self.txn_last_update_timestamp,
            self.client_transaction_version,
            self.next_producer_id,
        )

    def answered_identity(self) -> tuple[int, int]:
        return self.snapshot().answered_identity()

    @property
    def pending_transition(self) -> bool:
        return self.pending_state is not None

    def prepare(self, target: TxnState, now_ms: int, **changes: Any) -> TxnTransit:
        """Start a transition to ``target`` with the given field changes."""
        if self.pending_state is not None:
            raise IllegalTransition(f"{self.transactional_id}: transition already pending")
        if not is_legal_transition(self.state, target):
            raise IllegalTransition(
                f"{self.transactional_id}: {self.state.kafka_name} -> {target.kafka_name}"
            )
        self.pending_state = target
        return replace(self.snapshot(), state=target, txn_last_update_timestamp=now_ms, **changes)

    def complete(self, transit: TxnTransit) -> None:
        """The transit is durable: apply it (completeTransitionTo)."""
        if self.pending_state is not transit.state:
            raise IllegalTransition(f"{self.transactional_id}: completing an unprepared transit")
        self.apply(transit)

    def abandon(self) -> None:
        """The log write failed: forget the pending transition (Kafka does so on an error)."""
        self.pending_state = None

    def apply(self, transit: TxnTransit) -> None:
        self.producer_id = transit.producer_id
        self.previous_producer_id = transit.previous_producer_id
        self.producer_epoch = transit.producer_epoch
        self.last_producer_epoch = transit.last_producer_epoch
        self.txn_timeout_ms = transit.txn_timeout_ms
        self.state = transit.state
        self.partitions = set(transit.partitions)
        self.txn_start_timestamp = transit.txn_start_timestamp
        self.txn_last_update_timestamp = transit.txn_last_update_timestamp
        self.client_transaction_version = transit.client_transaction_version
        self.next_producer_id = transit.next_producer_id
        self.pending_state = None

    @classmethod
    def from_transit(cls, transit: TxnTransit) -> TransactionMetadata:
        metadata = cls(transit.transactional_id, transit.producer_id)
        metadata.apply(transit)
        return metadata
