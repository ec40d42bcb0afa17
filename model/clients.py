"""Producer clients: the steps a client takes by itself (its answers are in
:mod:`.client_responses`).

Kafka: ``KafkaProducer`` / ``TransactionManager`` (initTransactions, beginTransaction,
sendOffsetsToTransaction, commitTransaction, abortTransaction, the TxnRequestHandler retry),
``Sender`` draining ``RecordAccumulator`` (send, retry, delivery timeout).

Most of these steps depend only on the client and two fault budgets (a ``"local"`` trigger:
their guards are cached per :class:`~.registry.ClientView`); the resend of a lost coordinator
request and the CTP application's offset fetch look at the rest of the state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.sequence import NO_SEQUENCE

from .codes import (
    ABORTABLE_ERROR,
    ABORTING,
    COMMITTING,
    IN_TRANSACTION,
    INITIALIZING,
    READY,
    REQUEST_TIMED_OUT,
    UNINITIALIZED,
)
from .layout import (
    API_ADD_OFFSETS,
    API_ADD_PARTITIONS,
    API_END_TXN,
    API_INIT_PRODUCER_ID,
    API_NAMES,
    B_ACKED,
    B_FAILED,
    B_INFLIGHT,
    B_UNSENT,
    C_ADDED,
    C_AWAITING,
    C_BATCHES,
    C_CURRENT,
    C_EPOCH,
    C_SEQUENCES,
    C_STATE,
    F_BATCH_TIMEOUTS,
    F_RETRIES,
    K_METADATA,
    M_COORDINATOR_REQUEST,
    M_COORDINATOR_RESPONSE,
    M_PRODUCE,
    P_LOG,
    S_BUDGET,
    S_CLIENTS,
    S_COORDINATOR,
    S_NETWORK,
    S_PARTITIONS,
    T_PENDING,
    Tup,
    add_messages,
    replace,
)
from .params import CTP, IDEMPOTENT
from .registry import Action, ClientView, Step
from .views import last_stable_offset

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

#: No argument: the action has one instance per client.
_ONE: tuple[tuple[()], ...] = ((),)


def client_step(
    state: Tup, proc: int, client: Tup, messages: tuple[Tup, ...] = (), spent: int = -1
) -> Tup:
    """``state`` with the client of ``proc`` replaced, ``messages`` sent and one unit of the
    fault budget ``spent`` (a budget index, or -1) used."""
    network = add_messages(state[S_NETWORK], *messages) if messages else state[S_NETWORK]
    budget = state[S_BUDGET]
    if spent >= 0:
        budget = replace(budget, spent, budget[spent] - 1)
    return (
        replace(state[S_CLIENTS], proc, client),
        *state[S_PARTITIONS:S_NETWORK],
        network,
        *state[S_NETWORK + 1 : S_BUDGET],
        budget,
    )


def _request(m: KafkaEosModel, proc: int, api: int, epoch: int, argument: int, txn: int) -> Tup:
    return (M_COORDINATOR_REQUEST, proc, api, epoch, argument, txn)


# ---------------------------------------------------------------------- InitProducerId
def may_init(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    """A transactional client UNINITIALIZED; a later incarnation only after the previous one
    started."""
    if m.transactional[view.proc] and view.client[C_STATE] == UNINITIALIZED:
        return _ONE if view.previous_started else ()
    return ()


def init_producer_id(m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]) -> tuple[Step, Tup]:
    """KafkaProducer.initTransactions: INITIALIZING, and InitProducerId goes out."""
    client = state[S_CLIENTS][proc]
    request = _request(m, proc, API_INIT_PRODUCER_ID, -1, -1, -1)
    new_client = (INITIALIZING, *client[1:C_AWAITING], request)
    return Step(("InitProducerId", (m.process_names[proc],))), client_step(
        state, proc, new_client, (request,)
    )


# ---------------------------------------------------------------------- BeginTransaction
def may_begin(m: KafkaEosModel, view: ClientView) -> tuple[tuple[int], ...]:
    """READY with a transaction left (CTP: the committed offset is known, input remains)."""
    client = view.client
    if not m.transactional[view.proc] or client[C_STATE] != READY:
        return ()
    current = client[C_CURRENT]
    return ((current,),) if 0 <= current < len(m.txn_records[view.proc]) else ()


def begin_transaction(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[int]
) -> tuple[Step, Tup]:
    """KafkaProducer.beginTransaction and the first send to each partition: IN_TRANSACTION,
    and AddPartitionsToTxn goes out with the transaction's partitions."""
    client = state[S_CLIENTS][proc]
    (current,) = args
    epoch = client[C_EPOCH]
    request = _request(
        m, proc, API_ADD_PARTITIONS, epoch, m.txn_mask[proc][current], m.txn_global[proc][current]
    )
    new_client = (
        IN_TRANSACTION,
        epoch,
        current,
        client[C_BATCHES],
        client[C_SEQUENCES],
        0,
        request,
    )
    step = Step(("BeginTransaction", (m.process_names[proc], current)))
    return step, client_step(state, proc, new_client, (request,))


# ---------------------------------------------------------------------- Send
def may_send(m: KafkaEosModel, view: ClientView) -> Iterator[tuple[int]]:
    """An idempotent client's re-enqueued batches that head their partitions, then the next
    unsent batch in send order if it may go (see :func:`_may_send_new`)."""
    proc, client = view.proc, view.client
    kind = m.kinds[proc]
    if m.transactional[proc]:
        if client[C_STATE] != IN_TRANSACTION:
            return
        records = m.txn_records[proc][client[C_CURRENT]]
    else:
        records = m.all_records[proc]
        if kind == IDEMPOTENT:
            yield from _re_enqueued_heads(m, proc, client)
    batches = client[C_BATCHES]
    for rec in records:
        if batches[rec][0] == B_UNSENT:
            if _may_send_new(m, proc, client, rec):
                yield (rec,)
            return


def _re_enqueued_heads(m: KafkaEosModel, proc: int, client: Tup) -> Iterator[tuple[int]]:
    """Sender.drain of re-enqueued batches (in flight without an attempt outstanding): on each
    partition the retried batch with the lowest sequence goes out again once no batch with a
    lower sequence is in flight (RecordAccumulator.shouldStopDrainBatchesForPartition)."""
    batches = client[C_BATCHES]
    partitions = m.record_partition[proc]
    first: dict[int, int] = {}  # partition -> its in-flight batch with the lowest sequence
    for rec, batch in enumerate(batches):
        if batch[0] == B_INFLIGHT:
            part = partitions[rec]
            lowest = first.get(part)
            if lowest is None or batch[2] < batches[lowest][2]:
                first[part] = rec
    for rec in first.values():
        if batches[rec][3] < 0:  # else its attempt is outstanding: the others wait behind it
            yield (rec,)


def _may_send_new(m: KafkaEosModel, proc: int, client: Tup, rec: int) -> bool:
    """A transactional batch's partition was added; an idempotent one does not queue behind a
    re-enqueued batch or one in flight under an older epoch (a new batch at sequence 0 could
    overtake it); fewer than max_in_flight batches are in flight to the partition."""
    part = m.record_partition[proc][rec]
    if m.transactional[proc] and not client[C_ADDED] >> part & 1:
        return False
    partitions = m.record_partition[proc]
    in_flight = 0
    for r, batch in enumerate(client[C_BATCHES]):
        if batch[0] == B_INFLIGHT and partitions[r] == part:
            in_flight += 1
            waits = batch[3] < 0 or batch[1] != client[C_EPOCH]
            if waits and m.kinds[proc] == IDEMPOTENT:
                return False
    return in_flight < m.knobs.max_in_flight


def send(m: KafkaEosModel, state: Tup, proc: int, args: tuple[int]) -> tuple[Step, Tup]:
    """KafkaProducer.send + Sender: a new batch goes out with the client's epoch and its
    partition's next sequence (TxnOffsetCommit: none), a re-enqueued one with its epoch and
    sequence as they stand (a bump may have rewritten them); on the connection that carries
    the current attempts of the partition's in-flight batches, which the batch records."""
    client = state[S_CLIENTS][proc]
    (rec,) = args
    part = m.record_partition[proc][rec]
    batches = client[C_BATCHES]
    sequences = client[C_SEQUENCES]
    connection = _current_connection(m, state, proc, part, batches)
    if batches[rec][0] == B_UNSENT:
        epoch = client[C_EPOCH]
        if m.pid_of[proc] < 0 or part == m.offsets_partition:
            seq = NO_SEQUENCE  # no idempotence, or a TxnOffsetCommit: no sequence numbers
        else:
            seq = sequences[part]
            sequences = replace(sequences, part, seq + 1)
        transactional = int(m.transactional[proc])
    else:  # re-enqueued (idempotent)
        _, epoch, seq, _ = batches[rec]
        transactional = 0
    request = (M_PRODUCE, proc, part, m.pid_of[proc], epoch, seq, rec, transactional, connection)
    new_client = (
        *client[:C_BATCHES],
        replace(batches, rec, (B_INFLIGHT, epoch, seq, connection)),
        sequences,
        *client[C_ADDED:],
    )
    api = "TxnOffsetCommit" if part == m.offsets_partition else "Produce"
    step = Step(("Send", (m.process_names[proc], rec, m.partition_names[part], epoch, seq, api)))
    return step, client_step(state, proc, new_client, (request,))


def _show_send(args: tuple[Any, ...]) -> str:
    process, rec, partition, epoch, seq, api = args
    if api == "TxnOffsetCommit":
        return f"{process},r{rec},TxnOffsetCommit,e{epoch}"
    return f"{process},r{rec},{partition},e{epoch},s{seq}"


def _current_connection(m: KafkaEosModel, state: Tup, proc: int, part: int, batches: Tup) -> int:
    """The connection the producer uses for the partition: the one carrying the current
    attempts of its in-flight batches (so a new batch queues behind them, as on one TCP
    connection), or the newest one if none is in flight."""
    connection = -1
    for message in state[S_NETWORK]:
        if message[0] != M_PRODUCE:
            break  # the network is sorted: produce requests come first
        if message[1] == proc and message[2] == part and message[8] > connection:
            batch = batches[message[6]]
            if batch[0] == B_INFLIGHT and batch[3] == message[8]:
                connection = message[8]
    if connection < 0:
        connection = m.faults.retries - state[S_BUDGET][F_RETRIES]
    return connection


# ---------------------------------------------------------------------- RetryProduce
def may_retry(m: KafkaEosModel, view: ClientView) -> Iterator[tuple[int, tuple[int, ...]]]:
    """Budget left; a partition with batches in flight. A transactional client retries only
    IN_TRANSACTION: in ABORTABLE_ERROR the Sender aborts re-enqueued batches instead
    (RecordAccumulator.abortUndrainedBatches)."""
    proc, client = view.proc, view.client
    if not view.retries or (m.transactional[proc] and client[C_STATE] != IN_TRANSACTION):
        return
    by_partition: dict[int, list[int]] = {}
    for rec, batch in enumerate(client[C_BATCHES]):
        if batch[0] == B_INFLIGHT:
            by_partition.setdefault(m.record_partition[proc][rec], []).append(rec)
    for part, records in by_partition.items():
        yield part, tuple(records)


def retry_produce(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[int, tuple[int, ...]]
) -> tuple[Step, Tup]:
    """Sender retry after a request timeout or disconnect: a new connection, and every
    in-flight batch of the partition goes out again on it, in order, with the same epoch and
    sequence; the old requests may still be delivered, but their answers travel on the closed
    connection and are not read."""
    client = state[S_CLIENTS][proc]
    part, records = args
    connection = m.faults.retries - state[S_BUDGET][F_RETRIES] + 1
    transactional = int(m.transactional[proc])
    batches = list(client[C_BATCHES])
    requests = []
    for rec in records:
        _, epoch, seq, _ = batches[rec]
        pid = m.pid_of[proc]
        requests.append((M_PRODUCE, proc, part, pid, epoch, seq, rec, transactional, connection))
        batches[rec] = (*batches[rec][:3], connection)
    new_client = replace(client, C_BATCHES, tuple(batches))
    step = Step(("RetryProduce", (m.process_names[proc], m.partition_names[part], records)))
    return step, client_step(state, proc, new_client, tuple(requests), F_RETRIES)


def _show_retry(args: tuple[Any, ...]) -> str:
    process, partition, records = args
    return f"{process},{partition}," + ",".join(f"r{r}" for r in records)


# ---------------------------------------------------------------------- ExpireBatch
def may_expire(m: KafkaEosModel, view: ClientView) -> Iterator[tuple[int]]:
    """Budget left; a transactional client IN_TRANSACTION or ABORTABLE_ERROR with a batch of
    its transaction in flight."""
    proc, client = view.proc, view.client
    if not view.batch_timeouts or not m.transactional[proc]:
        return
    if client[C_STATE] not in (IN_TRANSACTION, ABORTABLE_ERROR):
        return
    batches = client[C_BATCHES]
    for rec in m.txn_records[proc][client[C_CURRENT]]:
        if batches[rec][0] == B_INFLIGHT:
            yield (rec,)


def expire_batch(m: KafkaEosModel, state: Tup, proc: int, args: tuple[int]) -> tuple[Step, Tup]:
    """delivery.timeout.ms (RecordAccumulator.expiredBatches): the batch fails although its
    request may still be delivered, and the transaction must abort."""
    client = state[S_CLIENTS][proc]
    (rec,) = args
    _, epoch, seq, _ = client[C_BATCHES][rec]
    failed = replace(client[C_BATCHES], rec, (B_FAILED, epoch, seq, REQUEST_TIMED_OUT))
    new_client = (ABORTABLE_ERROR, *client[C_EPOCH:C_BATCHES], failed, *client[C_SEQUENCES:])
    step = Step(("ExpireBatch", (m.process_names[proc], rec)))
    return step, client_step(state, proc, new_client, (), F_BATCH_TIMEOUTS)


# ---------------------------------------------------------------------- AddOffsetsToTxn
def may_add_offsets(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    """A CTP client IN_TRANSACTION, its output sent, nothing outstanding, the offsets
    partition not added yet."""
    proc, client = view.proc, view.client
    if client[C_STATE] != IN_TRANSACTION or client[C_AWAITING]:
        return ()
    current = client[C_CURRENT]
    offset_rec = m.txn_offset_record[proc][current]
    if offset_rec < 0 or client[C_ADDED] >> m.offsets_partition & 1:
        return ()
    batches = client[C_BATCHES]
    records = m.txn_records[proc][current]
    sent = all(batches[r][0] != B_UNSENT for r in records if r != offset_rec)
    return _ONE if sent else ()


def add_offsets_to_txn(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]
) -> tuple[Step, Tup]:
    """KafkaProducer.sendOffsetsToTransaction: AddOffsetsToTxn (adds __consumer_offsets)."""
    client = state[S_CLIENTS][proc]
    current = client[C_CURRENT]
    request = _request(
        m,
        proc,
        API_ADD_OFFSETS,
        client[C_EPOCH],
        1 << m.offsets_partition,
        m.txn_global[proc][current],
    )
    new_client = replace(client, C_AWAITING, request)
    return Step(("AddOffsetsToTxn", (m.process_names[proc],))), client_step(
        state, proc, new_client, (request,)
    )


# ---------------------------------------------------------------------- Commit / Abort
def _ends(m: KafkaEosModel, view: ClientView, commit: bool) -> tuple[tuple[()], ...]:
    """IN_TRANSACTION, every batch acknowledged, nothing outstanding, and the workload ends
    the transaction this way; or (abort) ABORTABLE_ERROR with nothing in flight."""
    proc, client = view.proc, view.client
    if not m.transactional[proc] or client[C_AWAITING]:
        return ()
    batches = client[C_BATCHES]
    records = m.txn_records[proc][client[C_CURRENT]] if client[C_STATE] in _ENDING else ()
    if client[C_STATE] == IN_TRANSACTION:
        if m.txn_commit[proc][client[C_CURRENT]] != commit:
            return ()
        return _ONE if all(batches[r][0] == B_ACKED for r in records) else ()
    if client[C_STATE] == ABORTABLE_ERROR and not commit:
        # (partitions were added: a batch can only fail after its partition was)
        return _ONE if all(batches[r][0] != B_INFLIGHT for r in records) else ()
    return ()


_ENDING = (IN_TRANSACTION, ABORTABLE_ERROR)


def may_commit(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    return _ends(m, view, commit=True)


def may_abort(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    return _ends(m, view, commit=False)


def _end_transaction(m: KafkaEosModel, state: Tup, proc: int, commit: bool) -> tuple[Step, Tup]:
    client = state[S_CLIENTS][proc]
    txn = m.txn_global[proc][client[C_CURRENT]]
    request = _request(m, proc, API_END_TXN, client[C_EPOCH], int(commit), txn)
    new_client = (COMMITTING if commit else ABORTING, *client[1:C_AWAITING], request)
    name = "CommitTransaction" if commit else "AbortTransaction"
    return Step((name, (m.process_names[proc],))), client_step(state, proc, new_client, (request,))


def commit_transaction(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]
) -> tuple[Step, Tup]:
    """KafkaProducer.commitTransaction (after its batches): EndTxn(commit) goes out."""
    return _end_transaction(m, state, proc, commit=True)


def abort_transaction(m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]) -> tuple[Step, Tup]:
    """KafkaProducer.abortTransaction: EndTxn(abort) goes out (the coordinator has the
    transaction: a batch can fail only after its partition was added)."""
    return _end_transaction(m, state, proc, commit=False)


# ---------------------------------------------------------------------- ResendCoordinatorRequest
def awaits_answer(m: KafkaEosModel, view: ClientView) -> bool:
    """A coordinator request is outstanding."""
    return bool(view.client[C_AWAITING])


def lost_request(m: KafkaEosModel, state: Tup, proc: int) -> tuple[tuple[()], ...]:
    """The outstanding coordinator request and any answer to it are gone (lost), and the
    coordinator is not writing its answer. (Only a loss, or a failover that dropped a pending
    write's answer, can leave a request unanswered: a cheap test first.)"""
    if not m.something_was_lost(state):
        return ()
    request = state[S_CLIENTS][proc][C_AWAITING]
    network = state[S_NETWORK]
    if request in network:
        return ()
    for message in network:
        if message[0] == M_COORDINATOR_RESPONSE and message[1] == proc:
            return ()
    pending = state[S_COORDINATOR][K_METADATA][m.tid_of[proc]][T_PENDING]
    if pending and pending[4] and pending[4][0] == proc:
        return ()
    return _ONE


def resend_coordinator_request(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]
) -> tuple[Step, Tup]:
    """TxnRequestHandler: the client times out and sends the request again. In
    ABORTABLE_ERROR the re-enqueued request is failed when dequeued instead: a doomed
    transaction sends nothing but EndTxn(abort) (maybeTerminateRequestWithError)."""
    client = state[S_CLIENTS][proc]
    request = client[C_AWAITING]
    step = Step(("ResendCoordinatorRequest", (m.process_names[proc], API_NAMES[request[2]])))
    if client[C_STATE] == ABORTABLE_ERROR:
        return step, client_step(state, proc, (*client[:C_AWAITING], ()))
    return step, client_step(state, proc, client, (request,))


# ---------------------------------------------------------------------- FetchCommittedOffset
def starting(m: KafkaEosModel, view: ClientView) -> bool:
    """A CTP application READY without a position (it has not fetched its offset yet)."""
    client = view.client
    return m.kinds[view.proc] == CTP and client[C_STATE] == READY and client[C_CURRENT] < 0


def may_fetch_offset(m: KafkaEosModel, state: Tup, proc: int) -> tuple[tuple[int], ...]:
    """No transactional offset is pending in __consumer_offsets (else OffsetFetch answers
    UNSTABLE_OFFSET_COMMIT)."""
    partition = state[S_PARTITIONS][m.offsets_partition]
    if last_stable_offset(partition) != len(partition[P_LOG]):
        return ()
    return ((m.committed_group_offset(partition),),)


def fetch_committed_offset(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[int]
) -> tuple[Step, Tup]:
    """OffsetFetch(requireStable) at start-up: resume from the committed offset."""
    (committed,) = args
    client = replace(state[S_CLIENTS][proc], C_CURRENT, committed)
    return Step(("FetchCommittedOffset", (m.process_names[proc], committed))), client_step(
        state, proc, client
    )


CLIENT_ACTIONS = (
    Action(
        name="InitProducerId",
        role="client",
        kafka="KafkaProducer.initTransactions",
        params=("process",),
        trigger="local",
        needs=("transactions",),
        guard=may_init,
        effect=init_producer_id,
    ),
    Action(
        name="BeginTransaction",
        role="client",
        kafka="KafkaProducer.beginTransaction",
        params=("process", "transaction"),
        trigger="local",
        needs=("transactions",),
        guard=may_begin,
        effect=begin_transaction,
        show=lambda args: f"{args[0]},txn{args[1]}",
    ),
    Action(
        name="Send",
        role="client",
        kafka="KafkaProducer.send, Sender draining RecordAccumulator",
        params=("process", "record", "partition", "epoch", "sequence", "request"),
        trigger="local",
        guard=may_send,
        effect=send,
        show=_show_send,
    ),
    Action(
        name="RetryProduce",
        role="client",
        kafka="Sender (retry after a request timeout or disconnect)",
        params=("process", "partition", "records"),
        trigger="local",
        guard=may_retry,
        effect=retry_produce,
        budget="retries",
        show=_show_retry,
    ),
    Action(
        name="ExpireBatch",
        role="client",
        kafka="RecordAccumulator.expiredBatches (delivery.timeout.ms)",
        params=("process", "record"),
        trigger="local",
        guard=may_expire,
        effect=expire_batch,
        budget="batch_timeouts",
        show=lambda args: f"{args[0]},r{args[1]}",
    ),
    Action(
        name="AddOffsetsToTxn",
        role="client",
        kafka="KafkaProducer.sendOffsetsToTransaction",
        params=("process",),
        trigger="local",
        needs=("ctp",),
        guard=may_add_offsets,
        effect=add_offsets_to_txn,
    ),
    Action(
        name="CommitTransaction",
        role="client",
        kafka="KafkaProducer.commitTransaction",
        params=("process",),
        trigger="local",
        needs=("transactions",),
        guard=may_commit,
        effect=commit_transaction,
    ),
    Action(
        name="AbortTransaction",
        role="client",
        kafka="KafkaProducer.abortTransaction",
        params=("process",),
        trigger="local",
        needs=("transactions",),
        guard=may_abort,
        effect=abort_transaction,
    ),
    Action(
        name="FetchCommittedOffset",
        role="client",
        kafka="KafkaConsumer.committed (OffsetFetch, requireStable)",
        params=("process", "offset"),
        trigger="client",
        needs=("ctp",),
        precondition=starting,
        guard=may_fetch_offset,
        effect=fetch_committed_offset,
    ),
    Action(
        name="ResendCoordinatorRequest",
        role="client",
        kafka="TransactionManager.TxnRequestHandler (retry after a timeout)",
        params=("process", "request"),
        trigger="client",
        needs=("transactions", "unanswered"),
        precondition=awaits_answer,
        guard=lost_request,
        effect=resend_coordinator_request,
    ),
)
