"""Partition leaders: a Produce (or the group coordinator's TxnOffsetCommit append to
__consumer_offsets), a transaction marker, and the expiry of idle producer state.

Kafka: ``UnifiedLog.append`` / ``UnifiedLog.analyzeAndValidateProducerState``,
``ProducerAppendInfo.appendDataBatch`` / ``appendEndTxnMarker``,
``ProducerStateManager.removeExpiredProducers``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.epochs import (
    MarkerRefusal,
    marker_clears_verification,
    marker_refusal,
)
from kafka_eos.protocol.sequence import NO_SEQUENCE, find_duplicate, in_sequence

from .codes import (
    ERROR_NAMES,
    ILLEGAL_GENERATION,
    INVALID_EPOCH,
    INVALID_TXN_STATE,
    MARKER_NAMES,
    NONE,
    OUT_OF_ORDER,
)
from .groups import group_generation
from .layout import (
    C_GENERATION,
    CB_LAST_SEQ,
    E_BATCHES,
    E_COORDINATOR_EPOCH,
    E_EPOCH,
    E_TXN_FIRST,
    ENTRY_CONTROL,
    ENTRY_DATA,
    ENTRY_KIND,
    ENTRY_PID,
    F_EXPIRIES,
    M_MARKER,
    M_MARKER_RESPONSE,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    P_ABORTED,
    P_LOG,
    P_PRODUCERS,
    P_REPLICATION,
    P_VERIFICATION,
    S_BUDGET,
    S_CLIENTS,
    S_NETWORK,
    S_PARTITIONS,
    VE_EPOCH,
    VE_GUARD,
    Tup,
    add_messages,
    replace,
    replace_many,
)
from .purgatory import answer_append, marker_may_be_handled, refuse_for_replicas
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

#: The error a leader answers a refused marker with.
_MARKER_ERRORS = {refusal: int(refusal.error) for refusal in MarkerRefusal}


# ---------------------------------------------------------------------- HandleProduce
def needs_coordinator(m: KafkaEosModel, state: Tup, message: Tup) -> bool:
    """KIP-890: a transactional append outside a transaction open here AT THIS EPOCH
    (UnifiedLog.hasOngoingTransaction(producerId, producerEpoch)) needs the coordinator
    first (ReplicaManager.appendRecords, maybeStartTransactionVerificationForPartition): part
    1 verifies (partition_verification; TxnOffsetCommit appends to __consumer_offsets too),
    part 2 (transaction version 2) has the leader, or the group coordinator for a
    TxnOffsetCommit (AddPartitionsToTxnManager
    .txnOffsetCommitRequestVersionToTransactionSupportedOperation: addPartition above
    version 4), add the partition, whatever partition_verification says."""
    _, _, part, pid, epoch, _, _, txn, _ = message
    if not txn:
        return False
    entry = state[S_PARTITIONS][part][P_PRODUCERS][m.epochs.slot(pid, epoch)]
    if entry and entry[E_TXN_FIRST] >= 0 and entry[E_EPOCH] == epoch:
        return False
    return bool(m.knobs.partition_verification or m.tv2)


def appends_at_once(m: KafkaEosModel, state: Tup, message: Tup) -> bool:
    """Guard of HandleProduce: the leader does not need the coordinator's word first."""
    return not needs_coordinator(m, state, message)


def handle_produce(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """UnifiedLog.append for a Produce that needs no verification: the checks in Kafka's
    order, then the append; the answer goes back on the request's connection."""
    return append_produce(m, state, message, rest, "HandleProduce", guard=0)


def append_produce(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup, name: str, *, guard: int
) -> tuple[Step, Tup]:
    """The append of a Produce (``guard``: the VerificationGuard a verified one carries, 0
    for one that was not verified): Partition.appendRecordsToLeader, then
    UnifiedLog.analyzeAndValidateProducerState's checks in Kafka's order."""
    _, _, part, pid, epoch, seq, _, txn, _ = message
    partition = state[S_PARTITIONS][part]
    if pid >= 0:
        pid = m.epochs.slot(pid, epoch)  # a rotated producer id has an entry of its own
    entry = partition[P_PRODUCERS][pid] if pid >= 0 else ()
    error = _leader_refusal(m, state, message, partition)
    if pid >= 0 and error == NONE:
        # a duplicate of a cached batch: the original offset, nothing appended
        # (ProducerStateEntry.findDuplicateBatch)
        if entry and part != m.offsets_partition and entry[E_EPOCH] == epoch:
            found = find_duplicate(entry[E_BATCHES], seq, seq)
            if found is not None:
                return _answer_duplicate(m, state, message, rest, name, found)
        if txn and guard_missing(m, partition, pid, epoch, guard):
            error = INVALID_TXN_STATE
        else:
            verified = bool(guard)
            error = _validate(m, entry, epoch, seq, txn, verified, part == m.offsets_partition)
    if error != NONE:
        return refuse_produce(m, state, message, rest, name, error)
    return _append(m, state, message, rest, name, pid, entry)


def refuse_produce(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup, name: str, error: int
) -> tuple[Step, Tup]:
    """The Produce ``message`` answered with ``error`` on its connection, nothing appended."""
    _, proc, part, _, epoch, seq, rec, _, connection = message
    answer = (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, -1, connection)
    step = produce_step(m, message, name, ERROR_NAMES[error], -1)
    return step, replace(state, S_NETWORK, add_messages(rest, answer))


def _leader_refusal(m: KafkaEosModel, state: Tup, message: Tup, partition: Tup) -> int:
    """What the leader refuses the Produce with before looking at the producer's state
    (NONE: nothing): acks=all without min.insync.replicas in the ISR
    (Partition.appendRecordsToLeader), a TxnOffsetCommit of a member of an older group
    generation (KIP-447)."""
    _, proc, part, *_ = message
    error = refuse_for_replicas(m, partition) if partition[P_REPLICATION] else NONE
    if part == m.offsets_partition and error == NONE and _stale_member(m, state, proc):
        return ILLEGAL_GENERATION
    return error


def _answer_duplicate(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup, name: str, found: int
) -> tuple[Step, Tup]:
    """A retry of a batch the leader already appended at ``found``: answered with its
    offset, nothing appended."""
    _, proc, part, _, epoch, seq, rec, _, connection = message
    original = (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, NONE, found, connection)
    partitions = state[S_PARTITIONS]
    partition, sent = answer_append(m, partitions[part], found, original, message)
    step = produce_step(m, message, name, "DUPLICATE", found)
    return step, replace_many(
        state,
        (S_PARTITIONS, replace(partitions, part, partition)),
        (S_NETWORK, add_messages(rest, *sent)),
    )


def _append(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup, name: str, pid: int, entry: Tup
) -> tuple[Step, Tup]:
    """The batch appended at the log end, the producer's entry updated
    (UnifiedLog's updateProducers), and answered once replicated as acks asks."""
    _, proc, part, _, epoch, seq, rec, txn, connection = message
    partitions = state[S_PARTITIONS]
    partition = partitions[part]
    log = partition[P_LOG]
    offset = len(log)
    log = (*log, (ENTRY_DATA, pid, epoch, seq, m.record_global[proc][rec], txn))
    partition = replace(partition, P_LOG, log)
    if pid >= 0:
        from_coordinator = part == m.offsets_partition
        entry = _after_data(m, entry, epoch, seq, offset, txn, from_coordinator)
        partition = replace(partition, P_PRODUCERS, replace(partition[P_PRODUCERS], pid, entry))
        if txn:  # the transaction is open here now (UnifiedLog's updateProducers)
            partition = _clear_verification(partition, pid)
    response = (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, NONE, offset, connection)
    partition, answers = answer_append(m, partition, offset, response, message)
    step = produce_step(m, message, name, ERROR_NAMES[NONE], offset)
    return step, replace_many(
        state,
        (S_PARTITIONS, replace(partitions, part, partition)),
        (S_NETWORK, add_messages(rest, *answers)),
    )


def produce_step(m: KafkaEosModel, message: Tup, name: str, result: str, offset: int) -> Step:
    """The label of a Produce's handling; with its connection, since a request timeout
    leaves a copy of the Produce on the old connection and one on the new (sender.py)."""
    _, proc, part, _, epoch, seq, rec, _, connection = message
    names = (m.partition_names[part], m.process_names[proc])
    return Step((name, (*names, rec, epoch, seq, result, offset, connection)))


def show_produce(args: tuple[Any, ...]) -> str:
    partition, process, rec, epoch, seq, result, offset, connection = args
    shown = f"o{offset}" if result == "NONE" else result
    return f"{partition},{process},r{rec},e{epoch},s{seq},{shown},c{connection}"


# ---------------------------------------------------------------------- the VerificationGuard
# (the verification round trip itself: .verification)
def guard_missing(m: KafkaEosModel, partition: Tup, pid: int, epoch: int, guard: int) -> bool:
    """UnifiedLog.analyzeAndValidateProducerState: a transactional batch with no transaction
    open here at its epoch needs the VerificationGuard its verification started with to be
    the producer's still (batchMissingRequiredVerification; VerificationGuard.verify is
    identity). Checked when transaction.partition.verification.enable is on and the knob
    verification_guard is; a batch that was not verified carries none (0)."""
    if not (m.knobs.partition_verification and m.knobs.verification_guard):
        return False
    entry = partition[P_PRODUCERS][pid]
    if entry and entry[E_TXN_FIRST] >= 0 and entry[E_EPOCH] == epoch:
        return False
    current = partition[P_VERIFICATION][pid]
    return not current or current[VE_GUARD] != guard


def _clear_verification(partition: Tup, pid: int) -> Tup:
    """ProducerStateManager.clearVerificationStateEntry."""
    verification = partition[P_VERIFICATION]
    if not verification[pid]:
        return partition
    return replace(partition, P_VERIFICATION, replace(verification, pid, ()))


def _stale_member(m: KafkaEosModel, state: Tup, proc: int) -> bool:
    """KIP-447: the group coordinator refuses a TxnOffsetCommit from a generation that is not
    the group's (OffsetMetadataManager.commitTransactionalOffset validates the member in the
    write, after the verification). The request carries the generation its member fetched its
    offset in, which the client holds unchanged from then on."""
    if not (m.knobs.group_generation_check and m.faults.rebalances):
        return False
    return bool(state[S_CLIENTS][proc][C_GENERATION] != group_generation(m, state))


def _validate(
    m: KafkaEosModel, entry: Tup, epoch: int, seq: int, txn: int, asks: bool, from_coordinator: bool
) -> int:
    """Checks 3-5 of a Produce (ProducerAppendInfo.checkProducerEpoch, checkSequence, the
    open-transaction check): NONE or Kafka's error."""
    # 3. producer epoch: an older epoch is a fenced (zombie) producer
    if m.knobs.producer_epoch_check and entry and epoch < entry[E_EPOCH]:
        return INVALID_EPOCH
    # 4. sequence number (a coordinator-origin append has none)
    if not from_coordinator:
        if not entry:
            # TV2 (the coordinator was asked): a producer the leader has no state for starts at 0
            if asks and m.tv2 and seq != 0:
                return OUT_OF_ORDER
        elif epoch != entry[E_EPOCH]:
            if seq != 0:
                return OUT_OF_ORDER
        else:
            batches = entry[E_BATCHES]
            if not in_sequence(batches[-1][CB_LAST_SEQ] if batches else NO_SEQUENCE, seq):
                return OUT_OF_ORDER
    # 5. a non-transactional write while a transaction is open
    if entry and entry[E_TXN_FIRST] >= 0 and not txn:
        return INVALID_TXN_STATE
    return NONE


def _after_data(
    m: KafkaEosModel,
    entry: Tup,
    epoch: int,
    seq: int,
    offset: int,
    txn: int,
    from_coordinator: bool,
) -> Tup:
    """ProducerStateEntry after appending one data batch (ProducerStateEntry.addBatch: a new
    epoch clears the batch cache; the cache keeps the last batch_cache_size batches)."""
    batches = entry[E_BATCHES] if entry and entry[E_EPOCH] == epoch else ()
    if not from_coordinator:
        batches = (*batches, (seq, seq, offset))[-m.knobs.batch_cache_size :]
    coordinator_epoch = entry[E_COORDINATOR_EPOCH] if entry else -1
    first = entry[E_TXN_FIRST] if entry else -1
    if first < 0 and txn:
        first = offset
    return (epoch, coordinator_epoch, batches, first)


# ---------------------------------------------------------------------- HandleWriteTxnMarkers
def handle_marker(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """ProducerAppendInfo.appendEndTxnMarker: the epoch checks (_marker_error), then the
    control batch (_write_marker); the answer goes back to the coordinator."""
    _, part, tid, cepoch, epoch, commit = message
    partitions = state[S_PARTITIONS]
    # a transactional.id's first producer id is its index; a rotated one has its own slot
    pid = m.epochs.slot(tid, epoch)
    error = _marker_error(m, partitions[part][P_PRODUCERS][pid], epoch, cepoch)
    response = (M_MARKER_RESPONSE, part, tid, cepoch, epoch, commit, error)
    answers: tuple[Tup, ...] = (response,)
    if error == NONE:
        partition, answers = _write_marker(m, partitions[part], part, pid, message, response)
        partitions = replace(partitions, part, partition)
    marker = MARKER_NAMES[commit]
    names = (m.partition_names[part], m.transactional_ids[tid])
    step = Step(("HandleWriteTxnMarkers", (*names, marker, epoch, cepoch, ERROR_NAMES[error])))
    next_state = replace_many(
        state, (S_PARTITIONS, partitions), (S_NETWORK, add_messages(rest, *answers))
    )
    return step, next_state


def _marker_error(m: KafkaEosModel, entry: Tup, epoch: int, cepoch: int) -> int:
    """ProducerAppendInfo.checkProducerEpoch (stricter under transaction version 2), then
    checkCoordinatorEpoch, against the producer's entry; a producer with none takes the
    marker."""
    if not entry:
        return NONE
    refusal = marker_refusal(
        marker_epoch=epoch,
        stored_epoch=entry[E_EPOCH],
        marker_coordinator_epoch=cepoch,
        stored_coordinator_epoch=entry[E_COORDINATOR_EPOCH],
        transaction_open=entry[E_TXN_FIRST] >= 0,
        knobs=m.knobs,
    )
    return _MARKER_ERRORS[refusal]


def _write_marker(
    m: KafkaEosModel, partition: Tup, part: int, pid: int, message: Tup, response: Tup
) -> tuple[Tup, tuple[Tup, ...]]:
    """The control batch appended (UnifiedLog.appendAsLeader): the producer's entry ends its
    transaction, an ABORT over an open one goes into the aborted-transaction index
    (TransactionIndex), a verification the marker ends is cleared, and the answer waits for
    the replicas (the coordinator writes markers with acks=all:
    KafkaApis.handleWriteTxnMarkersRequest). Returns the partition and the messages sent."""
    _, _, _, cepoch, epoch, commit = message
    log, producers, aborted = partition[P_LOG], partition[P_PRODUCERS], partition[P_ABORTED]
    offset = len(log)
    log = (*log, (ENTRY_CONTROL, pid, epoch, commit, cepoch))
    entry, aborted = _after_marker(producers[pid], pid, epoch, cepoch, commit, offset, aborted)
    partition = (log, replace(producers, pid, entry), aborted, *partition[P_REPLICATION:])
    verification = partition[P_VERIFICATION][pid]
    # under transaction version 2 every verification is an add, the group coordinator's of a
    # TxnOffsetCommit too (AddPartitionsToTxnManager's ADD_PARTITION: supportsEpochBump)
    if verification and marker_clears_verification(
        epoch, verification[VE_EPOCH], verification_adds=m.tv2
    ):
        partition = _clear_verification(partition, pid)
    return answer_append(m, partition, offset, response, message, acks_all=True)


def _after_marker(
    entry: Tup, pid: int, epoch: int, cepoch: int, commit: int, offset: int, aborted: Tup
) -> tuple[Tup, Tup]:
    """ProducerStateEntry and the aborted-transaction index after a marker at ``offset``
    (ProducerAppendInfo.appendEndTxnMarker, TransactionIndex.append): an ABORT over an open
    transaction is indexed, the entry takes the marker's epochs and its transaction ends."""
    first = entry[E_TXN_FIRST] if entry else -1
    if first >= 0 and not commit:
        aborted = (*aborted, (pid, first, offset))
    batches = entry[E_BATCHES] if entry and entry[E_EPOCH] == epoch else ()
    return (epoch, cepoch, batches, -1), aborted


def rebuild_producer_state(m: KafkaEosModel, log: Tup) -> tuple[Tup, Tup]:
    """A new leader's producer state and aborted-transaction index, rebuilt by replaying its
    log through the append rules (UnifiedLog.loadProducerState, ProducerStateManager: the
    same ProducerAppendInfo updates as the appends themselves)."""
    producers: list[Tup] = [()] * m.pid_count
    aborted: Tup = ()
    for offset, entry in enumerate(log):
        pid = entry[ENTRY_PID]
        if pid < 0:
            continue
        if entry[ENTRY_KIND] == ENTRY_DATA:
            _, _, epoch, seq, _, txn = entry
            producers[pid] = _after_data(m, producers[pid], epoch, seq, offset, txn, False)
        else:
            _, _, epoch, commit, cepoch = entry
            producers[pid], aborted = _after_marker(
                producers[pid], pid, epoch, cepoch, commit, offset, aborted
            )
    return tuple(producers), aborted


def _show_marker(args: tuple[Any, ...]) -> str:
    partition, tid, marker, epoch, cepoch, error = args
    return f"{partition},{tid},{marker},e{epoch},ce{cepoch},{error}"


# ---------------------------------------------------------------------- ExpireProducerState
def expirable_producers(m: KafkaEosModel, state: Tup) -> Iterator[tuple[int, int]]:
    """Guard: producer_state_expiry on, budget left, and an entry with no open transaction."""
    if not m.knobs.producer_state_expiry or not state[S_BUDGET][F_EXPIRIES]:
        return
    for part, partition in enumerate(state[S_PARTITIONS]):
        producers = partition[P_PRODUCERS]
        for pid, entry in enumerate(producers):
            if entry and entry[E_TXN_FIRST] < 0:
                yield part, pid


def expire_producer_state(m: KafkaEosModel, state: Tup, args: tuple[int, int]) -> tuple[Step, Tup]:
    """ProducerStateManager.removeExpiredProducers: the idle entry is dropped; afterwards the
    leader accepts any sequence from that producer."""
    part, pid = args
    partitions = state[S_PARTITIONS]
    partition = partitions[part]
    producers = replace(partition[P_PRODUCERS], pid, ())
    budget = state[S_BUDGET]
    expired = replace(partitions, part, replace(partition, P_PRODUCERS, producers))
    spent = replace(budget, F_EXPIRIES, budget[F_EXPIRIES] - 1)
    next_state = replace_many(state, (S_PARTITIONS, expired), (S_BUDGET, spent))
    return Step(("ExpireProducerState", (m.partition_names[part], pid))), next_state


#: What an append reads and changes (HandleProduce, AppendVerified): the clients and
#: connections too, for whether its answer can still be read (.unreadable).
APPEND_TOUCHES = Touches(
    reads=("own", "clients", "budget:rebalances", "budget:retries", "budget:request_timeouts"),
    writes=("own",),
    adds=("inbox:clients",),
    takes=("inbox",),
)
#: A Produce's handling (HandleProduce, AppendVerified): produce_step's arguments.
PRODUCE_PARAMS = (
    "partition", "process", "record", "epoch", "sequence", "result", "offset", "connection",
)
PRODUCE_OUTCOMES = (
    "NONE",
    "DUPLICATE",
    "INVALID_PRODUCER_EPOCH",
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
    "NOT_ENOUGH_REPLICAS",
)
LEADER_ACTIONS = (
    Action(
        name="HandleProduce",
        touches=APPEND_TOUCHES,
        role="leader",
        kafka="UnifiedLog.append, ProducerAppendInfo.appendDataBatch",
        params=PRODUCE_PARAMS,
        trigger="message",
        consumes=(M_PRODUCE,),
        guard=appends_at_once,
        effect=handle_produce,
        outcome="result",
        outcomes=(*PRODUCE_OUTCOMES, "INVALID_TXN_STATE", "ILLEGAL_GENERATION"),
        show=show_produce,
    ),
    Action(
        name="HandleWriteTxnMarkers",
        touches=Touches(
            reads=("own", "coordinator"),
            writes=("own",),
            adds=("inbox:coordinator",),
            takes=("inbox",),
        ),
        role="leader",
        kafka="ProducerAppendInfo.appendEndTxnMarker",
        params=("partition", "transactional_id", "marker", "epoch", "coordinator_epoch", "error"),
        trigger="message",
        needs=("transactions",),
        consumes=(M_MARKER,),
        guard=marker_may_be_handled,
        effect=handle_marker,
        outcome="error",
        outcomes=("NONE", "INVALID_PRODUCER_EPOCH", "TRANSACTION_COORDINATOR_FENCED"),
        show=_show_marker,
    ),
    Action(
        name="ExpireProducerState",
        touches=Touches(
            reads=("own", "budget:expiries"),
            writes=("own", "budget:expiries"),
        ),
        role="leader",
        kafka="ProducerStateManager.removeExpiredProducers",
        params=("partition", "producer_id"),
        trigger="state",
        guard=expirable_producers,
        effect=expire_producer_state,
        budget="expiries",
        show=lambda args: f"{args[0]},pid{args[1]}",
    ),
)
