"""Producer clients: what a client does with an answer (a Produce response, a coordinator
response).

Kafka: ``Sender.completeBatch`` / ``TransactionManager.handleCompletedBatch``,
``handleFailedBatch``, ``canRetry``, ``bumpIdempotentEpochAndResetIdIfNeeded`` (KIP-360),
``TxnOffsetCommitHandler`` (KIP-588), and the coordinator handlers ``InitProducerIdHandler``,
``AddPartitionsToTxnHandler``, ``AddOffsetsToTxnHandler``, ``EndTxnHandler``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kafka_eos.protocol.errors import coordinator_error_is_fatal
from kafka_eos.protocol.sequence import NO_LAST_ACKED_SEQUENCE, out_of_order_is_gap

from .codes import (
    ABORTABLE_ERROR,
    COMMITTING,
    CONCURRENT,
    ERROR_NAMES,
    FATAL_ERROR,
    FATAL_PRODUCE,
    ILLEGAL_GENERATION,
    IN_TRANSACTION,
    INITIALIZING,
    NONE,
    OUT_OF_ORDER,
    READY,
    RETRIABLE_PRODUCE_ERRORS,
    TRANSACTION_ABORTABLE,
)
from .layout import (
    API_ADD_OFFSETS,
    API_ADD_PARTITIONS,
    API_INIT_PRODUCER_ID,
    API_NAMES,
    B_ACKED,
    B_FAILED,
    B_INFLIGHT,
    BT_EPOCH,
    BT_EXTRA,
    BT_SEQUENCE,
    BT_STATUS,
    C_ADDED,
    C_AWAITING,
    C_BATCHES,
    C_CURRENT,
    C_EPOCH,
    C_GENERATION,
    C_SEQUENCES,
    C_STATE,
    CQ_API,
    CQ_ARGUMENT,
    CQ_CONNECTION,
    CQ_TRANSACTION,
    CR_API,
    CR_CONNECTION,
    CR_TRANSACTION,
    M_COORDINATOR_REQUEST,
    M_COORDINATOR_RESPONSE,
    M_PRODUCE_RESPONSE,
    S_CLIENTS,
    S_NETWORK,
    Tup,
    add_messages,
    replace,
    replace_many,
)
from .params import CTP, IDEMPOTENT
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel



# ---------------------------------------------------------------------- ReceiveProduceResponse
def receive_produce_response(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup
) -> tuple[Step, Tup]:
    """Sender.completeBatch: the answer to the batch's current attempt acks it, fails it or
    re-enqueues it; an answer to a batch already resolved, or to an earlier attempt (its
    connection was closed by the retry, or the batch was re-enqueued since), is not read."""
    _, proc, _, _, _, rec, error, _, connection = message
    step = Step(
        ("ReceiveProduceResponse", (m.process_names[proc], rec, connection, ERROR_NAMES[error]))
    )
    client = state[S_CLIENTS][proc]
    status, _, _, b_connection = client[C_BATCHES][rec]
    if status != B_INFLIGHT or b_connection != connection:
        return step, replace(state, S_NETWORK, rest)
    client = _complete_batch(m, proc, client, message)
    clients = replace(state[S_CLIENTS], proc, client)
    return step, replace_many(state, (S_CLIENTS, clients), (S_NETWORK, rest))


def _complete_batch(m: KafkaEosModel, proc: int, client: Tup, message: Tup) -> Tup:
    """The client after the answer to its batch's current attempt: acknowledged, re-enqueued
    (a retriable error) or failed, by the kind of producer."""
    _, _, part, _, _, rec, error, offset, _ = message
    batches = client[C_BATCHES]
    _, b_epoch, b_seq, _ = batches[rec]
    if error == NONE:
        # an epoch bump may have rewritten the batch's epoch and sequence since it went out:
        # it is acknowledged as it stands now (TransactionManager.handleCompletedBatch)
        acked = replace(client, C_BATCHES, replace(batches, rec, (B_ACKED, b_epoch, b_seq, offset)))
        if m.kinds[proc] == IDEMPOTENT and b_epoch != client[C_EPOCH]:
            return _maybe_restart_sequences(m, proc, acked, part)
        return acked
    if error in RETRIABLE_PRODUCE_ERRORS:
        return retry_batch(m, proc, client, rec)
    if m.transactional[proc]:
        return _transactional_batch_failed(m, proc, client, message)
    if error == OUT_OF_ORDER:
        return _idempotent_out_of_order(m, proc, client, message)
    # a non-retriable error: the batch fails and its sequence may be a gap now
    failed = replace(batches, rec, (B_FAILED, b_epoch, b_seq, error))
    return _bump_idempotent_epoch(m, proc, replace(client, C_BATCHES, failed), part)


def _transactional_batch_failed(m: KafkaEosModel, proc: int, client: Tup, message: Tup) -> Tup:
    """KIP-588: INVALID_PRODUCER_EPOCH and the rest are abortable for a Produce; fencing is
    fatal, and so is INVALID_PRODUCER_ID_MAPPING (a verification after a rotation,
    KAFKA-18019). A TxnOffsetCommit's INVALID_PRODUCER_EPOCH or INVALID_TXN_STATE is fatal
    (TxnOffsetCommitHandler: only group-membership errors are abortable, as
    ILLEGAL_GENERATION is: a CommitFailedException, KIP-447). A fatal one fails the client's
    other incomplete batches too (:func:`fatal`)."""
    _, _, part, epoch, seq, rec, error, _, _ = message
    fatal_error = error in FATAL_PRODUCE or (
        part == m.offsets_partition and error != ILLEGAL_GENERATION
    )
    failed = replace(client[C_BATCHES], rec, (B_FAILED, epoch, seq, error))
    if fatal_error:
        return fatal(m, proc, replace(client, C_BATCHES, failed), error)
    if client[C_STATE] == FATAL_ERROR:
        # a TxnOffsetCommit answered after the client went fatal, with an abortable error:
        # its handler fails the request, and the transition to ABORTABLE_ERROR is refused
        return replace(client, C_BATCHES, failed)
    return (ABORTABLE_ERROR, *client[C_EPOCH:C_BATCHES], failed, *client[C_SEQUENCES:])


def fatal(m: KafkaEosModel, proc: int, client: Tup, error: int) -> Tup:
    """The client in FATAL_ERROR with ``error`` as its last error: Sender.runOnce then aborts
    every incomplete batch with it (maybeAbortBatches, RecordAccumulator.abortBatches), in
    flight or re-enqueued alike, and the answers still on their way are never read
    (ProducerBatch.done is set once). A TxnOffsetCommit in flight is no batch of the
    accumulator but a transactional request: it stays in flight, and the Sender, which keeps
    polling, hands its answer to TxnOffsetCommitHandler, which completes it. A client in
    FATAL_ERROR sends nothing more."""
    partitions = m.record_partition[proc]
    batches = tuple(
        (B_FAILED, batch[BT_EPOCH], batch[BT_SEQUENCE], error)
        if batch[BT_STATUS] == B_INFLIGHT and partitions[r] != m.offsets_partition else batch
        for r, batch in enumerate(client[C_BATCHES])
    )
    return (FATAL_ERROR, client[C_EPOCH], client[C_CURRENT], batches, *client[C_SEQUENCES:])


def _idempotent_out_of_order(m: KafkaEosModel, proc: int, client: Tup, message: Tup) -> Tup:
    """TransactionManager.canRetry: an idempotent producer retries the batch whatever the case
    (re-enqueued: in flight, no attempt outstanding); a real gap (the next expected batch,
    under the sequence it was sent with) also asks for an epoch bump."""
    _, _, part, epoch, _, rec, _, _, _ = message
    batches = client[C_BATCHES]
    _, b_epoch, b_seq, _ = batches[rec]
    requeued = replace(client, C_BATCHES, replace(batches, rec, (B_INFLIGHT, b_epoch, b_seq, -1)))
    gap = out_of_order_is_gap(
        base_sequence=b_seq,
        last_acked_sequence=_last_acked_sequence(m, proc, batches, part, b_epoch),
        reset=b_epoch != epoch,
    )
    return _bump_idempotent_epoch(m, proc, requeued, part) if gap else requeued


def retry_batch(m: KafkaEosModel, proc: int, client: Tup, rec: int) -> Tup:
    """Sender.completeBatch when Sender.canRetry holds (a RetriableException: the leader
    appended nothing): RecordAccumulator.reenqueue puts the batch back at the head of its
    partition with its epoch and sequence, in flight with no attempt outstanding, and Send
    drains it again before any later batch. NOT_LEADER_OR_FOLLOWER also asks for a metadata
    update (Metadata.requestUpdate), which here finds the partition's one leader again. A
    transactional client no longer IN_TRANSACTION fails the batch instead, a simplification
    (spec/SPEC.md §8): Kafka re-enqueues it, and RecordAccumulator.abortUndrainedBatches
    spares a batch that has a sequence."""
    batches = client[C_BATCHES]
    _, epoch, seq, _ = batches[rec]
    if m.transactional[proc] and client[C_STATE] != IN_TRANSACTION:
        retried = (B_FAILED, epoch, seq, last_error(m, proc, client))
    else:
        retried = (B_INFLIGHT, epoch, seq, -1)
    return replace(client, C_BATCHES, replace(batches, rec, retried))


def last_error(m: KafkaEosModel, proc: int, client: Tup) -> int:
    """TransactionManager.lastError, which aborted undrained batches fail with: the error of
    a failed batch of the current transaction (what made it abortable), else
    TRANSACTION_ABORTABLE (Kafka's TransactionAbortedException)."""
    batches = client[C_BATCHES]
    records = m.txn_records[proc][client[C_CURRENT]]
    errors = [batches[r][BT_EXTRA] for r in records if batches[r][BT_STATUS] == B_FAILED]
    return errors[-1] if errors else TRANSACTION_ABORTABLE


def _last_acked_sequence(m: KafkaEosModel, proc: int, batches: Tup, part: int, epoch: int) -> int:
    """TxnPartitionEntry.lastAckedSequence: the highest sequence acknowledged on the
    partition under ``epoch`` (a bump resets it)."""
    partitions = m.record_partition[proc]
    last = NO_LAST_ACKED_SEQUENCE
    for r, batch in enumerate(batches):
        if batch[BT_STATUS] == B_ACKED and batch[BT_EPOCH] == epoch and partitions[r] == part:
            last = max(last, batch[BT_SEQUENCE])
    return last


def _bump_idempotent_epoch(m: KafkaEosModel, proc: int, client: Tup, part: int) -> Tup:
    """KIP-360 for an idempotent producer (Sender.bumpIdempotentEpochAndResetIdIfNeeded on its
    next loop, which waits for nothing): epoch + 1, and on the partition that asked, every
    unacknowledged batch that has a sequence, still in flight under the old epoch or
    re-enqueued, takes the new epoch and a sequence from 0 in order
    (TxnPartitionMap.startSequencesAtBeginning). Other partitions restart at 0 once their
    old-epoch batches are resolved."""
    epoch = client[C_EPOCH] + 1
    batches = list(client[C_BATCHES])
    partitions = m.record_partition[proc]
    unacked = sorted(
        (batch[BT_SEQUENCE], r)
        for r, batch in enumerate(batches)
        if batch[BT_STATUS] == B_INFLIGHT and partitions[r] == part
    )
    for seq, (_, r) in enumerate(unacked):
        batches[r] = (B_INFLIGHT, epoch, seq, batches[r][BT_EXTRA])
    sequences = list(client[C_SEQUENCES])
    sequences[part] = len(unacked)
    for other in range(len(sequences)):
        if other != part and not any(
            b[BT_STATUS] == B_INFLIGHT and partitions[r] == other for r, b in enumerate(batches)
        ):
            sequences[other] = 0
    return (
        client[C_STATE],
        epoch,
        client[C_CURRENT],
        tuple(batches),
        tuple(sequences),
        *client[C_ADDED:],
    )


def _maybe_restart_sequences(m: KafkaEosModel, proc: int, client: Tup, part: int) -> Tup:
    """TransactionManager.maybeUpdateProducerIdAndEpoch: once a partition has no batch in
    flight under an older epoch, its sequences restart at 0 under the current one."""
    partitions = m.record_partition[proc]
    for r, batch in enumerate(client[C_BATCHES]):
        if batch[BT_STATUS] == B_INFLIGHT and partitions[r] == part:
            return client
    return replace(client, C_SEQUENCES, replace(client[C_SEQUENCES], part, 0))


# ---------------------------------------------------------------------- ReceiveCoordinatorResponse
def reads_answer(client: Tup, message: Tup) -> bool:
    """Whether a client reads a coordinator answer: it answers the outstanding request (its
    API, transaction and connection: an answer to a timed-out attempt travels on a closed
    connection) and the client is not in FATAL_ERROR (it reads nothing more)."""
    awaiting = client[C_AWAITING]
    return (
        bool(awaiting)
        and awaiting[CQ_API] == message[CR_API]
        and awaiting[CQ_TRANSACTION] == message[CR_TRANSACTION]
        and awaiting[CQ_CONNECTION] == message[CR_CONNECTION]
        and client[C_STATE] != FATAL_ERROR
    )


def receive_coordinator_response(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup
) -> tuple[Step, Tup]:
    """The TxnRequestHandler of the outstanding request: CONCURRENT_TRANSACTIONS re-enqueues
    it; a fatal error (protocol.errors.coordinator_error_is_fatal: any error but on an Add*,
    INVALID_PRODUCER_ID_MAPPING and PRODUCER_FENCED on one too) is FATAL_ERROR;
    InitProducerId makes the client READY with its epoch; an Add* adds the partitions (any
    other error is abortable); EndTxn completes the transaction. An answer to another
    request, or to a fatal client, is not read."""
    _, proc, api, error, _, _, _ = message
    step = Step(
        ("ReceiveCoordinatorResponse", (m.process_names[proc], API_NAMES[api], ERROR_NAMES[error]))
    )
    client = state[S_CLIENTS][proc]
    if not reads_answer(client, message):
        return step, replace(state, S_NETWORK, rest)
    client = _handle_answer(m, proc, client, message, m.newest_connection(state))
    # the request the handler enqueued (again, or an InitProducerId for a bump) goes out
    request = client[C_AWAITING]
    network = add_messages(rest, request) if request else rest
    clients = replace(state[S_CLIENTS], proc, client)
    return step, replace_many(state, (S_CLIENTS, clients), (S_NETWORK, network))


def _handle_answer(m: KafkaEosModel, proc: int, client: Tup, message: Tup, newest: int) -> Tup:
    """The client after its TxnRequestHandler read the answer; its outstanding request is the
    one it sends next (on the newest connection), or () when it waits for none."""
    _, _, api, error, epoch, _, _ = message
    awaiting = client[C_AWAITING]
    cstate = client[C_STATE]
    adds = api in (API_ADD_PARTITIONS, API_ADD_OFFSETS)
    if error == CONCURRENT and cstate == ABORTABLE_ERROR:
        # re-enqueued, then failed when dequeued: in ABORTABLE_ERROR the transaction manager
        # sends nothing but EndTxn(abort) (maybeTerminateRequestWithError)
        return replace(client, C_AWAITING, ())
    if error == CONCURRENT:
        # TransactionManager re-enqueues the request after a back-off
        return replace(client, C_AWAITING, (*awaiting[:CQ_CONNECTION], newest))
    if error != NONE and coordinator_error_is_fatal(error, adds=adds):
        return fatal(m, proc, replace(client, C_AWAITING, ()), error)
    if api == API_INIT_PRODUCER_ID:
        sequences = (0,) * m.partition_count
        return (READY, epoch, client[C_CURRENT], client[C_BATCHES], sequences, 0, (),
                client[C_GENERATION])
    if adds and error == NONE:
        added = client[C_ADDED] | awaiting[CQ_ARGUMENT]
        return (cstate, *client[C_EPOCH:C_ADDED], added, (), *client[C_AWAITING + 1 :])
    if adds:
        return (ABORTABLE_ERROR, *client[C_EPOCH:C_AWAITING], (), *client[C_AWAITING + 1 :])
    # EndTxn accepted
    return _transaction_done(m, proc, client, cstate == COMMITTING, epoch, newest)


def _transaction_done(
    m: KafkaEosModel, proc: int, client: Tup, committed: bool, epoch: int, connection: int
) -> Tup:
    """The client after its transaction completed: READY for the next one. TV2 adopts the
    bumped epoch EndTxn returned (sequences restart at 0); TV1 after an abort with failed
    batches asks InitProducerId for a bump (KIP-360); a CTP application stops after an abort
    (a new incarnation takes over from the committed offsets)."""
    current = client[C_CURRENT]
    next_txn = current + 1
    if m.kinds[proc] == CTP and not committed:
        next_txn = len(m.txn_records[proc])
    sequences = client[C_SEQUENCES]
    new_epoch = client[C_EPOCH]
    if m.tv2 and epoch >= 0 and epoch != new_epoch:
        new_epoch = epoch
        sequences = (0,) * m.partition_count
    batches = client[C_BATCHES]
    generation = client[C_GENERATION]
    # a TxnOffsetCommit refused with ILLEGAL_GENERATION asks for no bump: its handler fails
    # the transaction (abortableError) without TransactionManager's epoch-bump flag
    failed = any(
        batches[r][BT_STATUS] == B_FAILED and m.record_partition[proc][r] != m.offsets_partition
        for r in m.txn_records[proc][current]
    )
    if not m.tv2 and not committed and failed:
        request = (M_COORDINATOR_REQUEST, proc, API_INIT_PRODUCER_ID, new_epoch, 1, -1, connection)
        return (INITIALIZING, new_epoch, next_txn, batches, sequences, 0, request, generation)
    return (READY, new_epoch, next_txn, batches, sequences, 0, (), generation)


_PRODUCE_ERRORS = (
    "NONE",
    "NOT_ENOUGH_REPLICAS",
    "NOT_LEADER_OR_FOLLOWER",
    "CONCURRENT_TRANSACTIONS",
    "INVALID_PRODUCER_EPOCH",
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
    "INVALID_TXN_STATE",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    "ILLEGAL_GENERATION",
    "INVALID_PRODUCER_ID_MAPPING",
)
_COORDINATOR_ERRORS = (
    "NONE",
    "CONCURRENT_TRANSACTIONS",
    "PRODUCER_FENCED",
    "INVALID_PRODUCER_ID_MAPPING",
    "INVALID_TXN_STATE",
)
RESPONSE_ACTIONS = (
    Action(
        name="ReceiveProduceResponse",
        touches=Touches(
            reads=("own",),
            writes=("own", "inbox"),  # a client gone fatal reads none of its other answers
            takes=("inbox",),
        ),
        role="client",
        kafka="Sender.completeBatch, TransactionManager.handleCompletedBatch/handleFailedBatch",
        params=("process", "record", "connection", "error"),
        trigger="message",
        consumes=(M_PRODUCE_RESPONSE,),
        effect=receive_produce_response,
        outcome="error",
        outcomes=_PRODUCE_ERRORS,
        show=lambda args: f"{args[0]},r{args[1]},c{args[2]},{args[3]}",
    ),
    Action(
        name="ReceiveCoordinatorResponse",
        touches=Touches(
            reads=("own",),
            writes=("own", "inbox"),  # a client gone fatal reads none of its other answers
            adds=("inbox:coordinator",),
            takes=("inbox",),
        ),
        role="client",
        kafka="TransactionManager.TxnRequestHandler (InitProducerId, AddPartitionsToTxn, "
        "AddOffsetsToTxn, EndTxn handlers)",
        params=("process", "request", "error"),
        trigger="message",
        needs=("transactions",),
        consumes=(M_COORDINATOR_RESPONSE,),
        effect=receive_coordinator_response,
        outcome="error",
        outcomes=_COORDINATOR_ERRORS,
    ),
)
