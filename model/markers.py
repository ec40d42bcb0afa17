"""The transaction coordinator's markers: their answers, and their retries.

Kafka: ``TransactionMarkerRequestCompletionHandler`` (an error gives the transaction's markers
up: ``TransactionMarkerChannelManager.removeMarkersForTxnId``) and the
``TransactionMarkerChannelManager`` retry of a marker whose request or answer was lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codes import COMPLETE_ABORT, COMPLETE_COMMIT, ERROR_NAMES, NONE, PREPARE, PREPARE_COMMIT
from .layout import (
    FAILED_SHIFT,
    K_EPOCH,
    K_METADATA,
    M_KIND,
    M_MARKER,
    M_MARKER_RESPONSE,
    MK_COMMIT,
    MK_COORDINATOR_EPOCH,
    MK_EPOCH,
    MK_PARTITION,
    MK_TID,
    MR_COORDINATOR_EPOCH,
    MR_PARTITION,
    MR_TID,
    S_COORDINATOR,
    S_NETWORK,
    T_ACKS,
    T_EPOCH,
    T_LAST_EPOCH,
    T_PARTITIONS,
    T_PENDING,
    T_STATE,
    Tup,
    add_messages,
    replace,
    replace_many,
)
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


# ------------------------------------------------------------ HandleWriteTxnMarkersResponse
def handle_marker_response(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup
) -> tuple[Step, Tup]:
    """TransactionMarkerRequestCompletionHandler: once every partition acknowledged, write
    Complete*; an error (a fenced epoch or coordinator) gives the transaction's markers up
    (removeMarkersForTxnId): it stays in Prepare* until a failover reloads it. An answer to a
    deposed coordinator, to a transaction no longer prepared, or after giving up, is not
    looked at."""
    _, part, tid, cepoch, error = message
    names = (m.transactional_ids[tid], m.partition_names[part])
    step = Step(("HandleWriteTxnMarkersResponse", (*names, ERROR_NAMES[error])))
    coordinator = state[S_COORDINATOR]
    metadata = coordinator[K_METADATA][tid]
    acks = metadata[T_ACKS]
    if (
        cepoch != coordinator[K_EPOCH]
        or metadata[T_STATE] not in PREPARE
        or metadata[T_PENDING]
        or not metadata[T_PARTITIONS] >> part & 1
        or acks >> part & 1
        or acks >> FAILED_SHIFT  # given up
    ):
        return step, replace(state, S_NETWORK, rest)
    acks |= 1 << part if error == NONE else 1 << (part + FAILED_SHIFT)
    metadata = replace(metadata, T_ACKS, acks)
    if acks & m.full_mask == metadata[T_PARTITIONS]:
        complete = COMPLETE_COMMIT if metadata[T_STATE] == PREPARE_COMMIT else COMPLETE_ABORT
        # prepareComplete: under transaction version 2 the nextProducerId, if any
        epoch = m.epochs.completed(metadata[T_EPOCH]) if m.tv2 else metadata[T_EPOCH]
        transition = (complete, epoch, 0, -1, (), metadata[T_LAST_EPOCH])
        metadata = replace(metadata, T_PENDING, transition)
    coordinator = replace(coordinator, K_METADATA, replace(coordinator[K_METADATA], tid, metadata))
    return step, replace_many(state, (S_COORDINATOR, coordinator), (S_NETWORK, rest))


# ---------------------------------------------------------------------- ResendTxnMarker
def lost_markers(m: KafkaEosModel, state: Tup) -> list[tuple[int, int]]:
    """A Prepare* transaction's partition not acknowledged, its markers not given up, with no
    marker or answer in flight (it was lost). (Only a loss or a failover can lose one: a
    cheap test first; then one pass over the network per transaction that waits for one.)"""
    if not m.something_was_lost(state):
        return []
    lost: list[tuple[int, int]] = []
    for tid, metadata in enumerate(state[S_COORDINATOR][K_METADATA]):
        acks = metadata[T_ACKS]
        if metadata[T_PENDING] or metadata[T_STATE] not in PREPARE or acks >> FAILED_SHIFT:
            continue
        waiting = metadata[T_PARTITIONS] & ~acks & ~_in_flight(state, tid)
        lost.extend((tid, part) for part in range(m.partition_count) if waiting >> part & 1)
    return lost


def _in_flight(state: Tup, tid: int) -> int:
    """The partitions (a bitmask) with a marker of ``tid``'s transaction (as the coordinator
    would send it now: :func:`_marker`) or an answer to one of this coordinator epoch in
    flight."""
    coordinator = state[S_COORDINATOR]
    cepoch = coordinator[K_EPOCH]
    metadata = coordinator[K_METADATA][tid]
    epoch, commit = metadata[T_EPOCH], int(metadata[T_STATE] == PREPARE_COMMIT)
    parts = 0
    for message in state[S_NETWORK]:
        kind = message[M_KIND]
        if kind == M_MARKER:
            if (
                message[MK_TID] == tid
                and message[MK_COORDINATOR_EPOCH] == cepoch
                and message[MK_EPOCH] == epoch
                and message[MK_COMMIT] == commit
            ):
                parts |= 1 << message[MK_PARTITION]
        elif (
            kind == M_MARKER_RESPONSE
            and message[MR_TID] == tid
            and message[MR_COORDINATOR_EPOCH] == cepoch
        ):
            parts |= 1 << message[MR_PARTITION]
    return parts


def _marker(state: Tup, tid: int, part: int) -> Tup:
    coordinator = state[S_COORDINATOR]
    metadata = coordinator[K_METADATA][tid]
    commit = int(metadata[T_STATE] == PREPARE_COMMIT)
    return (M_MARKER, part, tid, coordinator[K_EPOCH], metadata[T_EPOCH], commit)


def resend_txn_marker(m: KafkaEosModel, state: Tup, args: tuple[int, int]) -> tuple[Step, Tup]:
    """TransactionMarkerChannelManager: the marker is sent again."""
    tid, part = args
    network = add_messages(state[S_NETWORK], _marker(state, tid, part))
    step = Step(("ResendTxnMarker", (m.transactional_ids[tid], m.partition_names[part])))
    return step, replace(state, S_NETWORK, network)


MARKER_ACTIONS = (
    Action(
        name="HandleWriteTxnMarkersResponse",
        touches=Touches(
            reads=("own",),
            writes=("own", "outcomes"),
            adds=("inbox:clients", "inbox:partitions"),
            takes=("inbox",),
        ),
        role="coordinator",
        kafka="TransactionMarkerRequestCompletionHandler",
        params=("transactional_id", "partition", "error"),
        trigger="message",
        needs=("transactions",),
        consumes=(M_MARKER_RESPONSE,),
        effect=handle_marker_response,
        outcome="error",
        outcomes=("NONE", "INVALID_PRODUCER_EPOCH", "TRANSACTION_COORDINATOR_FENCED"),
    ),
    Action(
        name="ResendTxnMarker",
        touches=Touches(
            reads=("own", "inbox", "inbox:partitions", "budget:losses", "budget:failovers"),
            adds=("inbox:partitions",),
        ),
        role="coordinator",
        kafka="TransactionMarkerChannelManager (retry)",
        params=("transactional_id", "partition"),
        trigger="state",
        needs=("transactions", "unanswered"),
        guard=lost_markers,
        effect=resend_txn_marker,
    ),
)
