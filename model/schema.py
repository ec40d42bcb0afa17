"""The model state declared once: named fields per component, in tuple order.

A model state stays a plain tuple of small ints all the way down (it hashes and compares
fastest); this schema is what gives each position its name. The state and the fault budget
are declared here, each other component in the module of its concept: :mod:`.client_schema`,
:mod:`.partition_schema`, :mod:`.coordinator_schema`, :mod:`.message_schema`; this module
gathers them into :data:`SCHEMA`. From it are derived:

* the index constants of :mod:`.layout` (``C_STATE``, ``P_LOG``, ``M_PRODUCE``...), written by
  ``python -m kafka_eos.model.schema_texts --write`` between the markers in ``model/layout.py``;
* the readable trace variables of :mod:`.variables` (and so the ITF encoding, which encodes
  them): each field is shown under its name, the way its ``show`` says;
* spec/SPEC.md's state-layout section (the same command writes it; tests/model/test_schema.py
  checks both generated texts are current; :mod:`.schema_texts` makes them);
* the conformance abstraction's constructors (:meth:`Component.make`) and a debug view that
  names every field of a raw state (:func:`named`).

Adding a field to the state: add one :class:`Field` to its component (in tuple order),
run ``python -m kafka_eos.model.schema_texts --write``, and build the value where the model makes
that component (``init_states``, the actions) and in the conformance abstraction.
"""

from __future__ import annotations

from typing import Any

from .client_schema import BATCH, CLIENT
from .coordinator_schema import COORDINATOR, METADATA, PENDING, TXN_LOG_RECORD
from .fields import Component, Field, Schema, field
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
from .partition_schema import (
    ABORTED,
    CACHED_BATCH,
    CONTROL_ENTRY,
    DATA_ENTRY,
    PARTITION,
    PRODUCER_ENTRY,
    REPLICATION,
    VERIFICATION_ENTRY,
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
    "REPLICATION",
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
