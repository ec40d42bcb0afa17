"""The transaction coordinator's markers: their answers, and their retries.

Kafka: ``TransactionMarkerRequestCompletionHandler`` (an error gives the transaction's markers
up: ``TransactionMarkerChannelManager.removeMarkersForTxnId``), the
``TransactionMarkerChannelManager`` retry of a marker whose request or answer was lost, and
its re-send of a marker whose request timed out while the first copy may still arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .codes import (
    COMPLETE_ABORT,
    COMPLETE_COMMIT,
    ERROR_NAMES,
    MARKER_NAMES,
    NONE,
    PREPARE,
    PREPARE_COMMIT,
)
from .layout import (
    F_REQUEST_TIMEOUTS,
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
    S_BUDGET,
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
    looked at (nor an answer to another transaction's marker: a copy that outlived its own
    transaction after TimeoutTxnMarker)."""
    _, part, tid, cepoch, epoch, commit, error = message
    # which marker it answers: answers of two coordinator epochs, or one that outlived its
    # transaction and one to its successor's marker, can be in flight together
    names = (m.transactional_ids[tid], m.partition_names[part], MARKER_NAMES[commit])
    step = Step(("HandleWriteTxnMarkersResponse", (*names, epoch, cepoch, ERROR_NAMES[error])))
    coordinator = state[S_COORDINATOR]
    metadata = coordinator[K_METADATA][tid]
    acks = metadata[T_ACKS]
    if (
        cepoch != coordinator[K_EPOCH]
        or (epoch, commit) != _marker_sent(metadata)
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
        metadata = replace(metadata, T_PENDING, completion(m, metadata))
    coordinator = replace(coordinator, K_METADATA, replace(coordinator[K_METADATA], tid, metadata))
    return step, replace_many(state, (S_COORDINATOR, coordinator), (S_NETWORK, rest))


def completion(m: KafkaEosModel, metadata: Tup) -> Tup:
    """The Complete* transition of a Prepare* transaction whose markers are all written
    (TransactionMarkerChannelManager.maybeWriteTxnCompletion, at once for one with no
    partition): TransactionMetadata.prepareComplete, under transaction version 2 with the
    nextProducerId, if any."""
    complete = COMPLETE_COMMIT if metadata[T_STATE] == PREPARE_COMMIT else COMPLETE_ABORT
    epoch = m.epochs.completed(metadata[T_EPOCH]) if m.tv2 else metadata[T_EPOCH]
    return (complete, epoch, 0, -1, (), metadata[T_LAST_EPOCH])


def _marker_sent(metadata: Tup) -> tuple[int, int]:
    """The epoch and result of the markers the coordinator sends for a transaction."""
    return metadata[T_EPOCH], int(metadata[T_STATE] == PREPARE_COMMIT)


def answer_awaited(state: Tup, answer: Tup) -> bool:
    """Whether the coordinator may still read a marker answer with effect. One of this
    coordinator epoch only while its transaction waits for that partition's answer to that
    marker (Prepare* with the marker's epoch and result, nothing pending, not acknowledged,
    markers not given up): once it does not, it never does again. After TimeoutTxnMarker
    both copies of a marker answer; the coordinator reads the first and drops the other
    (Kafka reads only the re-sent one's). A deposed epoch's answer is read as before (and
    ignored: :func:`handle_marker_response`)."""
    _, part, tid, cepoch, epoch, commit, _ = answer
    coordinator = state[S_COORDINATOR]
    if cepoch != coordinator[K_EPOCH]:
        return True
    metadata = coordinator[K_METADATA][tid]
    acks = metadata[T_ACKS]
    return bool(
        metadata[T_STATE] in PREPARE
        and (epoch, commit) == _marker_sent(metadata)
        and not metadata[T_PENDING]
        and metadata[T_PARTITIONS] >> part & 1
        and not acks >> part & 1
        and not acks >> FAILED_SHIFT
    )


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


def _in_flight(state: Tup, tid: int, *, answers: bool = True) -> int:
    """The partitions (a bitmask) with a marker of ``tid``'s transaction (as the coordinator
    would send it now: :func:`_marker`) or (``answers``) an answer to one of this
    coordinator epoch in flight."""
    coordinator = state[S_COORDINATOR]
    cepoch = coordinator[K_EPOCH]
    metadata = coordinator[K_METADATA][tid]
    epoch, commit = _marker_sent(metadata)
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
            answers
            and kind == M_MARKER_RESPONSE
            and message[MR_TID] == tid
            and message[MR_COORDINATOR_EPOCH] == cepoch
        ):
            parts |= 1 << message[MR_PARTITION]
    return parts


def _marker(state: Tup, tid: int, part: int) -> Tup:
    coordinator = state[S_COORDINATOR]
    return (M_MARKER, part, tid, coordinator[K_EPOCH], *_marker_sent(coordinator[K_METADATA][tid]))


def resend_txn_marker(m: KafkaEosModel, state: Tup, args: tuple[int, int]) -> tuple[Step, Tup]:
    """TransactionMarkerChannelManager: the marker is sent again."""
    return _send_again(m, state, args, "ResendTxnMarker")


def _send_again(m: KafkaEosModel, state: Tup, args: tuple[int, int], name: str) -> tuple[Step, Tup]:
    tid, part = args
    network = add_messages(state[S_NETWORK], _marker(state, tid, part))
    step = Step((name, (m.transactional_ids[tid], m.partition_names[part])))
    return step, replace(state, S_NETWORK, network)


# ---------------------------------------------------------------------- TimeoutTxnMarker
def markers_on_their_way(m: KafkaEosModel, state: Tup) -> list[tuple[int, int]]:
    """A Prepare* transaction's partition not acknowledged, its markers not given up, whose
    marker is still on its way to the leader: request.timeout.ms may pass first. (A timeout
    once the leader has written it, its answer in flight, is the same run with the timeout
    first: the leader's write reads nothing the timeout changes, and the answer the
    coordinator then reads is either copy's, which are one message.)"""
    timed_out: list[tuple[int, int]] = []
    for tid, metadata in enumerate(state[S_COORDINATOR][K_METADATA]):
        acks = metadata[T_ACKS]
        if metadata[T_PENDING] or metadata[T_STATE] not in PREPARE or acks >> FAILED_SHIFT:
            continue
        on_their_way = metadata[T_PARTITIONS] & ~acks & _in_flight(state, tid, answers=False)
        timed_out.extend((tid, p) for p in range(m.partition_count) if on_their_way >> p & 1)
    return timed_out


def time_out_txn_marker(m: KafkaEosModel, state: Tup, args: tuple[int, int]) -> tuple[Step, Tup]:
    """NetworkClient.handleTimedOutRequests on the coordinator's marker channel: the request
    completes as disconnected and TransactionMarkerRequestCompletionHandler re-enqueues its
    markers (wasDisconnected, same coordinator epoch: addTxnMarkersToBrokerQueue), while the
    first copy may still be written; the answer that counts is the first one read (the two
    copies are one message). The budget is the clients' request_timeouts: its count also
    numbers their connections, and a number no connection took is as new as any."""
    step, next_state = _send_again(m, state, args, "TimeoutTxnMarker")
    budget = next_state[S_BUDGET]
    spent = replace(budget, F_REQUEST_TIMEOUTS, budget[F_REQUEST_TIMEOUTS] - 1)
    return step, replace(next_state, S_BUDGET, spent)


def _show_answer(args: tuple[Any, ...]) -> str:
    tid, partition, marker, epoch, cepoch, error = args
    return f"{tid},{partition},{marker},e{epoch},ce{cepoch},{error}"


MARKER_ACTIONS = (
    Action(
        name="HandleWriteTxnMarkersResponse",
        touches=Touches(
            reads=("own",),
            # the other copy's answer to a timed-out marker, no longer awaited, is dropped
            writes=("own", "outcomes", "inbox"),
            adds=("inbox:clients", "inbox:partitions"),
            takes=("inbox",),
        ),
        role="coordinator",
        kafka="TransactionMarkerRequestCompletionHandler",
        params=("transactional_id", "partition", "marker", "epoch", "coordinator_epoch", "error"),
        trigger="message",
        needs=("transactions",),
        consumes=(M_MARKER_RESPONSE,),
        effect=handle_marker_response,
        outcome="error",
        outcomes=("NONE", "INVALID_PRODUCER_EPOCH", "TRANSACTION_COORDINATOR_FENCED"),
        show=_show_answer,
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
    Action(
        name="TimeoutTxnMarker",
        # no footprint: the budget it spends numbers the clients' connections too (as
        # TimeoutCoordinatorRequest's does), so it depends on every client step
        role="coordinator",
        kafka="NetworkClient.handleTimedOutRequests, TransactionMarkerRequestCompletionHandler "
        "(wasDisconnected: addTxnMarkersToBrokerQueue)",
        params=("transactional_id", "partition"),
        trigger="state",
        needs=("transactions",),
        guard=markers_on_their_way,
        effect=time_out_txn_marker,
        budget="request_timeouts",
    ),
)
