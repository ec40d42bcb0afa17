"""The model's static parameters: protocol knobs, fault budgets and the bounded workload.

Three frozen values describe one check. :class:`Knobs` are the protocol switches (defaults =
Kafka 4.x), declared once in protocol/knobs.py for the model and the reference alike;
:class:`Faults` bound how many times each fault may happen in one run (the network may always
delay and reorder: that needs no budget); :class:`Workload` says which producers
exist, what each one writes and whether a read_committed (or read_uncommitted) consumer reads.
The configuration files in spec/configs/ are these three values written as YAML.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from typing import Any, Final

from kafka_eos.protocol.epochs import MAX_PRODUCER_EPOCH
from kafka_eos.protocol.knobs import Knobs

__all__ = [
    "CTP",
    "IDEMPOTENT",
    "PLAIN",
    "PRODUCER_KINDS",
    "READ_COMMITTED",
    "READ_UNCOMMITTED",
    "TRANSACTIONAL",
    "Faults",
    "Knobs",
    "ModelParams",
    "ProducerSpec",
    "TransactionSpec",
    "Workload",
]

#: Producer kinds (ProducerSpec.kind).
IDEMPOTENT: Final = "idempotent"  # enable.idempotence=true, no transactional.id
PLAIN: Final = "plain"  # enable.idempotence=false: no producer id, no sequence numbers
TRANSACTIONAL: Final = "transactional"  # transactional.id set
#: consume-transform-produce application (transactional, sendOffsetsToTransaction)
CTP: Final = "ctp"
PRODUCER_KINDS: Final = (IDEMPOTENT, PLAIN, TRANSACTIONAL, CTP)

READ_COMMITTED: Final = "read_committed"
READ_UNCOMMITTED: Final = "read_uncommitted"


class _Parameters:
    """A frozen parameter class that pickles as its type called with its fields (a Kafka
    model travels to a Ray actor as its parameters). Compiled (mypyc), a frozen dataclass has
    no ``__setstate__`` of its own, and pickle's default assigns each slot, which it refuses."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        values = {each.name: getattr(self, each.name) for each in fields(self)}  # type: ignore[arg-type]
        return functools.partial(type(self), **values), ()


@dataclass(frozen=True, slots=True)
class Faults(_Parameters):
    """How many times each fault may happen in one run (delay and reordering are unbounded)."""

    #: Messages (any request or response) dropped by the network.
    losses: int = 0
    #: Produce requests re-sent by a client while the original may still be in flight.
    retries: int = 0
    #: Batches a transactional client gives up on (delivery.timeout.ms), whatever the leader did.
    batch_timeouts: int = 0
    #: Ongoing transactions the coordinator aborts on timeout (transaction.timeout.ms).
    txn_timeouts: int = 0
    #: Coordinator failovers (a new leader of __transaction_state with a higher epoch).
    failovers: int = 0
    #: Producer-state entries a leader expires (only with Knobs.producer_state_expiry).
    expiries: int = 0
    #: Produce requests a leader answers with a retriable error (NOT_ENOUGH_REPLICAS,
    #: NOT_LEADER_OR_FOLLOWER) without appending; the client retries the batch.
    retriable_errors: int = 0
    #: Data-partition leaders that fail and are replaced by an elected replica (replicas > 1).
    leader_failovers: int = 0
    #: Requests a client stops waiting for (request.timeout.ms): it closes the connection and
    #: re-sends on a new one while the first copy may still be delivered and processed; the
    #: answer to the first copy travels on the closed connection and is never read.
    request_timeouts: int = 0
    #: Consumer-group rebalances that move the CTP input partition to the next member (KIP-447).
    rebalances: int = 0


@dataclass(frozen=True, slots=True)
class TransactionSpec(_Parameters):
    """One transaction: one single-record batch to each listed partition, then commit or abort."""

    partitions: tuple[int, ...]
    commit: bool = True


@dataclass(frozen=True, slots=True)
class ProducerSpec(_Parameters):
    """One producer process (a client instance).

    Several transactional processes with the same ``transactional_id`` are incarnations of one
    application instance: the second one's InitProducerId fences the first (a zombie).
    """

    kind: str
    #: idempotent / plain: the partitions of the single-record batches, in send order.
    batches: tuple[int, ...] = ()
    #: transactional: the transactions, in order.
    transactions: tuple[TransactionSpec, ...] = ()
    transactional_id: str = ""


@dataclass(frozen=True, slots=True)
class Workload(_Parameters):
    """What runs: data partitions, producer processes, a consumer and the CTP input."""

    partitions: int = 1
    producers: tuple[ProducerSpec, ...] = ()
    #: Isolation level of the consumer reading every data partition, or None for no consumer.
    consumer: str | None = None
    #: Records in the consume-transform-produce application's input partition.
    ctp_input: int = 0
    #: The data partition a CTP application writes its output to.
    ctp_output: int = 0
    group: str = "group"
    #: Replicas of every data partition (1: the leader alone, no replication modelled).
    replicas: int = 1
    #: The largest producer epoch (Short.MAX_VALUE in Kafka); a small one makes the epoch of
    #: a transactional.id run out within a run (producer-id rotation, KAFKA-5283).
    max_producer_epoch: int = MAX_PRODUCER_EPOCH


@dataclass(frozen=True, slots=True)
class ModelParams(_Parameters):
    knobs: Knobs = field(default_factory=Knobs)
    faults: Faults = field(default_factory=Faults)
    workload: Workload = field(default_factory=Workload)
