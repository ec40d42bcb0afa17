"""The properties of Kafka's exactly-once protocol, as predicates over model states.

Invariants are checked on every reachable state, action properties on every transition. Each
property's name is used everywhere (the checker's verdict, spec/SPEC.md, the verdict table, the
history checks of contract D); its description names the Jepsen anomaly it rules out where one
fits (duplicate, lost write, aborted read, torn transaction).

The predicates are :mod:`.state_invariants`, :mod:`.client_view` (what the clients were told)
and :mod:`.transition_properties`; :mod:`.property_steps` selects which of them a step must
check again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kafka_eos.protocol.client_view import ANOMALIES

from . import transition_properties as steps
from .client_view import (
    CLIENT_VIEW_PROPERTIES,
    anomaly_finder,
    client_view_invariants,
    decisions_asked,
)
from .property_steps import (
    READS,
    Anomalies,
    Predicate,
    StepCheck,
    action_properties_hold,
    invariants_hold_after,
)
from .state_invariants import state_invariants

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

__all__ = [
    "ACTION_PROPERTIES",
    "ALL_PROPERTIES",
    "DESCRIPTIONS",
    "INVARIANTS",
    "READS",
    "Anomalies",
    "Predicate",
    "StepCheck",
    "action_properties",
    "action_properties_hold",
    "describe",
    "invariants",
    "invariants_hold_after",
]

#: One-line descriptions (the long form is in spec/SPEC.md).
DESCRIPTIONS: dict[str, str] = {
    "no_fenced_writes": "no partition accepts a batch from a producer epoch older than one it "
    "already stored for that producer id (a zombie write)",
    "no_duplicates": "no record is appended twice to a partition (Jepsen: duplicate)",
    "no_lost_acks": "every acknowledged record is in the log at the acknowledged offset "
    "(Jepsen: lost write)",
    "per_producer_order": "each producer's records appear in a partition in the order it sent "
    "them (Jepsen: nonmonotonic send)",
    "open_txns_known": "every transaction open on a partition is ongoing or being completed at "
    "the coordinator, with that partition in its set (otherwise: a hanging transaction, the LSO "
    "is stuck)",
    "atomic_transactions": "what read_committed readers can see of every partition (including "
    "__consumer_offsets) agrees with the coordinator's decision: committed transactions' "
    "records only, never an aborted or undecided one (Jepsen: torn transaction)",
    "read_committed_no_aborted": "the consumer never returns a record of an aborted or "
    "still-open transaction (Jepsen: aborted read)",
    "read_committed_in_order": "the consumer returns exactly the committed records below its "
    "position, in offset order, without gaps",
    "exactly_once_ctp": "consume-transform-produce: each input record's output is visible at "
    "most once, and every input below the committed group offset has its output visible or "
    "committed (Jepsen: duplicate / lost write)",
    "offsets_immutable": "logs only grow at the end, one batch at a time: offsets are "
    "contiguous and an offset never changes its batch; with replicas, below the high watermark "
    "(what consumers may read), which never moves back on one leader",
    "consumer_within_high_watermark": "the consumer's position never passes a partition's "
    "high watermark (or, after a clean election, the new leader's log end when elected): it "
    "never read a record that a leader change can truncate",
    "replica_logs_match": "a follower that fetched from the current leader holds a prefix of "
    "the leader's log (KIP-101/279 truncation): what the leader counts as replicated is there",
    "lso_bounds": "LSO <= high watermark, and the LSO never decreases on one leader",
    "coordinator_transitions_legal": "every transaction-coordinator state change is legal in "
    "Kafka's TransactionState table",
    "client_transitions_legal": "every client TransactionManager state change is legal in "
    "Kafka's table",
    "decisions_asked": "every commit or abort decision at the coordinator was asked for by "
    "the client for that same transaction (or is a fencing or timeout abort), and a client "
    "told its EndTxn succeeded was told the decision",
    # judged by what the clients were told, by Elle's names (model/client_view.py)
    **ANOMALIES,
}

INVARIANTS = (
    "no_fenced_writes",
    "no_duplicates",
    "no_lost_acks",
    "per_producer_order",
    "open_txns_known",
    "atomic_transactions",
    "read_committed_no_aborted",
    "read_committed_in_order",
    "exactly_once_ctp",
    "consumer_within_high_watermark",
    "replica_logs_match",
    *CLIENT_VIEW_PROPERTIES,
)
ACTION_PROPERTIES = (
    "offsets_immutable",
    "lso_bounds",
    "coordinator_transitions_legal",
    "client_transitions_legal",
    "decisions_asked",
)
ALL_PROPERTIES = INVARIANTS + ACTION_PROPERTIES


def invariants(model: KafkaEosModel, anomalies: Anomalies | None = None) -> dict[str, Predicate]:
    """The checked invariants by name; the client-view ones ask ``anomalies`` (made here if
    not given; pass the one given to :func:`invariants_hold_after`, so both share its memo)."""
    found = anomalies if anomalies is not None else anomaly_finder(model)
    table = {**state_invariants(model), **client_view_invariants(found)}
    return {name: table[name] for name in INVARIANTS if name in model.checked}


def action_properties(model: KafkaEosModel) -> dict[str, Predicate]:
    table: dict[str, Predicate] = {
        "offsets_immutable": steps.offsets_immutable,
        "lso_bounds": steps.lso_bounds,
        "coordinator_transitions_legal": steps.coordinator_transitions_legal,
        "client_transitions_legal": steps.client_transitions_legal,
        "decisions_asked": decisions_asked(model),
    }
    return {name: table[name] for name in ACTION_PROPERTIES if name in model.checked}


def describe(name: str) -> str:
    """The one-line description of property ``name``."""
    return DESCRIPTIONS[name]
