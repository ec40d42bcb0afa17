"""What the parts of the conformance driver share: the reference set up like one model
configuration (:func:`broker_config`, :func:`producer_settings`), the names it is set up with,
the driver's two refusals (:class:`Unsupported`, :class:`NotEnabled`), and what it keeps as it
goes (:class:`Envelope`, :class:`Ghosts`).

The model's knobs are the reference's: both read the one declaration in protocol/knobs.py.
The broker takes them whole (``BrokerConfig.knobs``); the knobs a client obeys (its ``roles``
include ``client``: ``idempotence``, ``max_in_flight``) also become the producers' settings
(enable.idempotence, max.in.flight.requests.per.connection). Producer-state expiry happens here
only when the driver injects it (the clock never moves on its own), and only with its knob on.

The producers speak the configuration's transaction version, as the model's clients do:
under version 1 they add partitions with AddPartitionsToTxn (and the offsets partition with
AddOffsetsToTxn) before sending; under version 2 they send neither (Kafka 4's
TransactionManager): the partition leaders and the group coordinator add the partitions, and
an abort with nothing added is the coordinator's empty abort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.layout import BUDGET_NAMES
from kafka_eos.model.params import CTP, IDEMPOTENT, TRANSACTIONAL
from kafka_eos.reference.messages import TopicPartition
from kafka_eos.reference.node import BrokerConfig

NODE = "broker-0"
TOPIC = "t"
#: The consume-transform-produce application's input (the model leaves it abstract: only the
#: committed input offsets matter); the group commits offsets for its one partition.
INPUT_TOPIC = "input"
INPUT = TopicPartition(INPUT_TOPIC, 0)
#: ``next_attempt_ms`` of a batch the driver holds back (the clock never gets there).
HOLD_MS = 10**15


class Unsupported(Exception):
    """The reference has no way to do what this model action does (reported, not a failure
    of refinement: the reference may do less than the model allows)."""


class NotEnabled(Exception):
    """The reference cannot take this step now: it is not in a state where the action exists
    (during a replay: the reference refuses the step the model took)."""


def broker_config(model: KafkaEosModel) -> BrokerConfig:
    """The model's replica ``r`` of a data partition is the cluster's broker ``broker-r``."""
    return BrokerConfig(
        knobs=model.knobs,
        brokers=model.workload.replicas,
        max_producer_epoch=model.workload.max_producer_epoch,
    )


def producer_settings(model: KafkaEosModel, proc: int) -> dict[str, Any]:
    kind = model.kinds[proc]
    transactional = kind in (TRANSACTIONAL, CTP)
    knobs = model.knobs
    return {
        "client_id": model.process_names[proc],
        "transactional_id": model.transactional_ids[model.tid_of[proc]] if transactional else None,
        "enable_idempotence": transactional or (kind == IDEMPOTENT and knobs.idempotence),
        "max_in_flight": knobs.max_in_flight,
        "acks": knobs.acks,
        "retry_backoff_ms": 0,
        # as the model's clients: under version 2 the leaders add the partitions
        "transaction_version": knobs.transaction_version,
    }


@dataclass(slots=True)
class Envelope:
    """One message in flight, with the model messages it stands for (none: internal)."""

    number: int
    source: str
    destination: str
    message: Any
    abstract: tuple[tuple, ...]  # type: ignore[type-arg]
    internal: bool
    #: an answer the driver holds until the transaction-log write it belongs to completes
    held: bool = False


@dataclass(slots=True)
class Ghosts:
    """What the model tracks that the reference has no field for."""

    owner: list[int]  # per transactional.id: the transaction its open entry belongs to
    log_owner: list[int]  # per transactional.id: owner at its last transaction-log record
    log_records: list[int]  # per transactional.id: records seen in __transaction_state
    outcomes: list[int]  # per transaction: O_*
    current: list[int]  # per process: index of the current / next transaction
    fenced_markers: list[int]  # per transactional.id: partitions whose marker came back fenced
    acked_markers: list[int]  # per transactional.id: partitions acknowledged (last seen)
    # fault budget used, in the budget's order (F_* positions)
    used: list[int] = field(default_factory=lambda: [0] * len(BUDGET_NAMES))
    delivered: list[list[int]] = field(default_factory=list)  # per data partition
    # per process: the consumer group generation a CTP member fetched its offset in (KIP-447)
    generation: list[int] = field(default_factory=list)


__all__ = [
    "HOLD_MS",
    "INPUT",
    "INPUT_TOPIC",
    "NODE",
    "TOPIC",
    "Envelope",
    "Ghosts",
    "NotEnabled",
    "Unsupported",
    "broker_config",
    "producer_settings",
]
