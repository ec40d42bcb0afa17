"""The transaction coordinator and its log, ``__transaction_state``: a pending write becomes
durable, a transaction times out, the log's leadership fails over.

Kafka: ``TransactionStateManager.appendTransactionToLog`` (and its callback),
``TransactionMarkerChannelManager.addTxnMarkersToSend``,
``TransactionCoordinator.abortTimedOutTransactions``,
``TransactionStateManager.loadTransactionsForTxnTopicPartition``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kafka_eos.protocol.errors import ErrorCode, produce_answer_to_verification

from .codes import ONGOING, PREPARE, PREPARE_ABORT, PREPARE_COMMIT, TXN_STATE_NAMES
from .coordinator import prepare_end_transition
from .layout import (
    F_FAILOVERS,
    F_TXN_TIMEOUTS,
    K_EPOCH,
    K_LOG,
    K_METADATA,
    M_KIND,
    M_MARKER,
    M_PRODUCE_RESPONSE,
    M_VERIFY_RESPONSE,
    NO_METADATA_ENTRY,
    O_ABORT,
    O_COMMIT,
    O_UNDECIDED,
    PT_REPLY,
    S_BUDGET,
    S_CLIENTS,
    S_CONSUMER,
    S_COORDINATOR,
    S_NETWORK,
    S_OUTCOMES,
    S_PARTITIONS,
    T_EPOCH,
    T_OWNER,
    T_PARTITIONS,
    T_PENDING,
    T_STATE,
    Tup,
    add_messages,
    replace,
    replace_many,
)
from .markers import completion
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

NOT_COORDINATOR = int(ErrorCode.NOT_COORDINATOR)


def markers(
    m: KafkaEosModel, tid: int, cepoch: int, epoch: int, partitions: int, commit: bool
) -> list[Tup]:
    """WriteTxnMarkers to every partition of a transaction (one message per partition)."""
    return [
        (M_MARKER, part, tid, cepoch, epoch, int(commit))
        for part in range(m.partition_count)
        if partitions >> part & 1
    ]


# ---------------------------------------------------------------------- CompleteTxnLogAppend
def pending_writes(m: KafkaEosModel, state: Tup) -> list[tuple[int]]:
    """A transactional.id with a transition being written."""
    metadata = state[S_COORDINATOR][K_METADATA]
    return [(tid,) for tid, entry in enumerate(metadata) if entry[T_PENDING]]


def complete_txn_log_append(m: KafkaEosModel, state: Tup, args: tuple[int]) -> tuple[Step, Tup]:
    """The pending record is replicated in __transaction_state: the transition completes, the
    waiting client gets its answer, and a Prepare* state decides the outcome (the ghost) and
    sends WriteTxnMarkers to every partition of the transaction."""
    (tid,) = args
    coordinator = state[S_COORDINATOR]
    cepoch = coordinator[K_EPOCH]
    new_state, epoch, partitions, owner, reply, last_epoch = coordinator[K_METADATA][tid][T_PENDING]
    outcomes = state[S_OUTCOMES]
    messages: list[Tup] = []
    if reply:  # to the client that asked, or to the leader holding a Produce
        messages.append(reply)
    if new_state in PREPARE:
        commit = new_state == PREPARE_COMMIT
        if owner >= 0 and outcomes[owner] == O_UNDECIDED:
            outcomes = replace(outcomes, owner, O_COMMIT if commit else O_ABORT)
        messages += markers(m, tid, cepoch, epoch, partitions, commit)
    record = (new_state, epoch, partitions, owner, last_epoch)
    metadata = _loaded(m, record)
    coordinator = (
        cepoch,
        replace(coordinator[K_METADATA], tid, metadata),
        replace(coordinator[K_LOG], tid, record),
    )
    next_state = (
        state[S_CLIENTS],
        state[S_PARTITIONS],
        coordinator,
        add_messages(state[S_NETWORK], *messages),
        state[S_CONSUMER],
        outcomes,
        state[S_BUDGET],
    )
    step = Step(
        ("CompleteTxnLogAppend", (m.transactional_ids[tid], TXN_STATE_NAMES[new_state], epoch))
    )
    return step, next_state


def _loaded(m: KafkaEosModel, record: Tup) -> Tup:
    """The metadata of a durable ``record``: a Prepare* without partitions (transaction
    version 2's empty abort) has no marker to wait for and writes its Complete* at once
    (TransactionMarkerChannelManager.addTxnMarkersToSend, maybeWriteTxnCompletion), after its
    own write or a load alike."""
    status, epoch, partitions, owner, last_epoch = record
    # typed Tup: compiled (mypyc), the literal's own type (its sixth item an empty tuple)
    # would refuse the replaced metadata below, whose pending transition is not empty
    metadata: Tup = (status, epoch, partitions, owner, 0, (), last_epoch)
    if status in PREPARE and not partitions:
        metadata = replace(metadata, T_PENDING, completion(m, metadata))
    return metadata


def _to_leader(reply: Tup) -> bool:
    """Whether a pending transition's answer goes to a leader (a version-2 add)."""
    return bool(reply[M_KIND] == M_VERIFY_RESPONSE)


def _write_lost(reply: Tup) -> Tup:
    """The answer to the held Produce (or TxnOffsetCommit) of a leader's add whose write a
    failover lost: the deposed coordinator's append fails (NOT_COORDINATOR), which
    ReplicaManager.appendRecords turns into NOT_ENOUGH_REPLICAS, a retriable error (the
    group coordinator answers a TxnOffsetCommit NOT_COORDINATOR, retried the same way)."""
    _, proc, part, _, epoch, seq, rec, connection, *_ = reply
    error = produce_answer_to_verification(NOT_COORDINATOR, adds=True)
    return (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, -1, connection)


# ---------------------------------------------------------------------- TimeoutTransaction
def timed_out(m: KafkaEosModel, state: Tup) -> Iterator[tuple[int]]:
    """Budget left; an Ongoing transaction with nothing being written."""
    if not state[S_BUDGET][F_TXN_TIMEOUTS]:
        return
    for tid, metadata in enumerate(state[S_COORDINATOR][K_METADATA]):
        if not metadata[T_PENDING] and metadata[T_STATE] == ONGOING:
            yield (tid,)


def timeout_transaction(m: KafkaEosModel, state: Tup, args: tuple[int]) -> tuple[Step, Tup]:
    """transaction.timeout.ms (abortTimedOutTransactions): fence (prepareFenceProducerEpoch:
    epoch + 1, lastProducerEpoch cleared), then write PrepareAbort with the bumped epoch, so
    the producer is refused everywhere. ``timeout_epoch_bump`` off (before KAFKA-6119): the
    abort an EndTxn(abort) would write, at the transaction's own epoch under version 1."""
    (tid,) = args
    coordinator = state[S_COORDINATOR]
    metadata = coordinator[K_METADATA][tid]
    epoch = metadata[T_EPOCH]
    if m.knobs.timeout_epoch_bump:
        fenced = m.epochs.fence(epoch)
        transition = (PREPARE_ABORT, fenced, metadata[T_PARTITIONS], metadata[T_OWNER], (), -1)
    else:
        transition = prepare_end_transition(metadata, PREPARE_ABORT, m.tv2, m.epochs, reply=None)
    metadata = replace(metadata, T_PENDING, transition)
    coordinator = replace(coordinator, K_METADATA, replace(coordinator[K_METADATA], tid, metadata))
    budget = state[S_BUDGET]
    spent = replace(budget, F_TXN_TIMEOUTS, budget[F_TXN_TIMEOUTS] - 1)
    next_state = replace_many(state, (S_COORDINATOR, coordinator), (S_BUDGET, spent))
    return Step(("TimeoutTransaction", (m.transactional_ids[tid], epoch))), next_state


# ---------------------------------------------------------------------- CoordinatorFailover
def may_fail_over(m: KafkaEosModel, state: Tup) -> tuple[tuple[()], ...]:
    """Budget left (and a transactional.id to coordinate)."""
    return ((),) if m.transactional_ids and state[S_BUDGET][F_FAILOVERS] else ()


def coordinator_failover(m: KafkaEosModel, state: Tup, args: tuple[()]) -> tuple[Step, Tup]:
    """A new leader of __transaction_state (coordinator epoch + 1) loads the durable records:
    pending writes are lost, Prepare* transactions get their markers again with the new
    coordinator epoch; the deposed coordinator's messages in flight arrive later. A client
    whose request's write is lost gets no answer (it re-sends: Kafka answers NOT_COORDINATOR,
    which it retries); a leader's add whose write is lost is answered NOT_COORDINATOR, which
    the leader hands the producer as NOT_ENOUGH_REPLICAS (:func:`_write_lost`)."""
    coordinator = state[S_COORDINATOR]
    cepoch = coordinator[K_EPOCH] + 1
    metadata = []
    pending = (entry[T_PENDING] for entry in coordinator[K_METADATA] if entry[T_PENDING])
    replies = (transition[PT_REPLY] for transition in pending)
    messages = [_write_lost(reply) for reply in replies if reply and _to_leader(reply)]
    for tid, record in enumerate(coordinator[K_LOG]):
        if not record:
            metadata.append(NO_METADATA_ENTRY)
            continue
        status, epoch, partitions, _, _ = record
        metadata.append(_loaded(m, record))
        if status in PREPARE:
            messages += markers(m, tid, cepoch, epoch, partitions, status == PREPARE_COMMIT)
    budget = state[S_BUDGET]
    next_state = (
        state[S_CLIENTS],
        state[S_PARTITIONS],
        (cepoch, tuple(metadata), coordinator[K_LOG]),
        add_messages(state[S_NETWORK], *messages),
        state[S_CONSUMER],
        state[S_OUTCOMES],
        replace(budget, F_FAILOVERS, budget[F_FAILOVERS] - 1),
    )
    return Step(("CoordinatorFailover", (cepoch,))), next_state


TRANSACTION_LOG_ACTIONS = (
    Action(
        name="CompleteTxnLogAppend",
        touches=Touches(
            # the clients and connections: whether its answer can still be read (.unreadable);
            # a CONCURRENT_TRANSACTIONS answer is read at once (.concurrent_answers): the
            # client and the re-sent request
            reads=("own", "clients", "budget:retries", "budget:request_timeouts"),
            writes=("own", "outcomes", "clients"),
            adds=("inbox:clients", "inbox:partitions", "inbox:coordinator"),
        ),
        role="coordinator",
        kafka="TransactionStateManager.appendTransactionToLog (callback)",
        params=("transactional_id", "state", "epoch"),
        trigger="state",
        needs=("transactions",),
        guard=pending_writes,
        effect=complete_txn_log_append,
        outcome="state",
        outcomes=(
            "Empty",
            "Ongoing",
            "PrepareCommit",
            "PrepareAbort",
            "CompleteCommit",
            "CompleteAbort",
        ),
        show=lambda args: f"{args[0]},{args[1]},e{args[2]}",
    ),
    Action(
        name="TimeoutTransaction",
        touches=Touches(
            reads=("own", "budget:txn_timeouts"),
            writes=("own", "outcomes", "budget:txn_timeouts"),
            adds=("inbox:clients", "inbox:partitions"),
        ),
        role="coordinator",
        kafka="TransactionCoordinator.abortTimedOutTransactions",
        params=("transactional_id", "epoch"),
        trigger="state",
        needs=("transactions",),
        guard=timed_out,
        effect=timeout_transaction,
        budget="txn_timeouts",
        show=lambda args: f"{args[0]},e{args[1]}",
    ),
    Action(
        name="CoordinatorFailover",
        touches=Touches(
            reads=("own", "budget:failovers"),
            writes=("own", "outcomes", "budget:failovers", "inbox:all"),
        ),
        role="coordinator",
        kafka="TransactionStateManager.loadTransactionsForTxnTopicPartition",
        params=("coordinator_epoch",),
        trigger="state",
        needs=("transactions",),
        guard=may_fail_over,
        effect=coordinator_failover,
        budget="failovers",
        show=lambda args: f"ce{args[0]}",
    ),
)
