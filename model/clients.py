"""Producer clients: the transactional steps a client takes by itself (sending its batches is
in :mod:`.sender`, its answers in :mod:`.client_responses`, a coordinator request sent again
in :mod:`.request_retries`).

Kafka: ``KafkaProducer`` / ``TransactionManager`` (initTransactions, beginTransaction,
sendOffsetsToTransaction, commitTransaction, abortTransaction).

Most of these steps depend only on the client and two fault budgets (a ``"local"`` trigger:
their guards are cached per :class:`~.registry.ClientView`); the CTP application's offset
fetch looks at the rest of the state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .client_responses import last_error
from .codes import (
    ABORTABLE_ERROR,
    ABORTING,
    COMMITTING,
    IN_TRANSACTION,
    INITIALIZING,
    READY,
    UNINITIALIZED,
)
from .groups import group_generation, owns_input
from .layout import (
    API_ADD_OFFSETS,
    API_ADD_PARTITIONS,
    API_END_TXN,
    API_INIT_PRODUCER_ID,
    B_ACKED,
    B_FAILED,
    B_INFLIGHT,
    B_UNSENT,
    BT_EXTRA,
    BT_STATUS,
    C_ADDED,
    C_AWAITING,
    C_BATCHES,
    C_CURRENT,
    C_EPOCH,
    C_GENERATION,
    C_SEQUENCES,
    C_STATE,
    M_COORDINATOR_REQUEST,
    P_LOG,
    S_BUDGET,
    S_CLIENTS,
    S_NETWORK,
    S_PARTITIONS,
    Tup,
    add_messages,
    replace,
    replace_many,
)
from .params import CTP
from .registry import Action, ClientView, Step, Touches
from .views import last_stable_offset

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

#: No argument: the action has one instance per client.
ONE: Final[tuple[tuple[()], ...]] = ((),)


def client_step(
    state: Tup, proc: int, client: Tup, messages: tuple[Tup, ...] = (), spent: int = -1
) -> Tup:
    """``state`` with the client of ``proc`` replaced, ``messages`` sent and one unit of the
    fault budget ``spent`` (a budget index, or -1) used."""
    network = add_messages(state[S_NETWORK], *messages) if messages else state[S_NETWORK]
    budget = state[S_BUDGET]
    if spent >= 0:
        budget = replace(budget, spent, budget[spent] - 1)
    clients = replace(state[S_CLIENTS], proc, client)
    return replace_many(state, (S_CLIENTS, clients), (S_NETWORK, network), (S_BUDGET, budget))


def _request(
    m: KafkaEosModel, state: Tup, proc: int, api: int, epoch: int, argument: int, txn: int
) -> Tup:
    """A new coordinator request. Every coordinator request (a re-sent one too) travels on the
    newest connection any client opened (:meth:`~.kafka.KafkaEosModel.newest_connection`): never
    one its client closed, so only answers to its latest attempt are read."""
    return (M_COORDINATOR_REQUEST, proc, api, epoch, argument, txn, m.newest_connection(state))


# ---------------------------------------------------------------------- InitProducerId
def may_init(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    """A transactional client UNINITIALIZED; a later incarnation only after the previous one
    started."""
    if m.transactional[view.proc] and view.client[C_STATE] == UNINITIALIZED:
        return ONE if view.previous_started else ()
    return ()


def init_producer_id(m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]) -> tuple[Step, Tup]:
    """KafkaProducer.initTransactions: INITIALIZING, and InitProducerId goes out."""
    client = state[S_CLIENTS][proc]
    request = _request(m, state, proc, API_INIT_PRODUCER_ID, -1, -1, -1)
    new_client = (INITIALIZING, *client[C_EPOCH:C_AWAITING], request, *client[C_AWAITING + 1 :])
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
    and under transaction version 1 AddPartitionsToTxn goes out with the transaction's
    partitions. Under version 2 TransactionManager.maybeAddPartition only records each
    partition (the leader adds it, model/verification.py): nothing goes out."""
    client = state[S_CLIENTS][proc]
    (current,) = args
    epoch = client[C_EPOCH]
    request: Tup = ()
    if not m.tv2:
        request = _request(
            m,
            state,
            proc,
            API_ADD_PARTITIONS,
            epoch,
            m.txn_mask[proc][current],
            m.txn_global[proc][current],
        )
    new_client = (
        IN_TRANSACTION,
        epoch,
        current,
        client[C_BATCHES],
        client[C_SEQUENCES],
        0,
        request,
        client[C_GENERATION],
    )
    step = Step(("BeginTransaction", (m.process_names[proc], current)))
    return step, client_step(state, proc, new_client, (request,) if request else ())


# ---------------------------------------------------------------------- AddOffsetsToTxn
def may_add_offsets(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    """A CTP client IN_TRANSACTION, its output sent, nothing outstanding, the offsets
    partition not added yet; under transaction version 1 only: under version 2
    sendOffsetsToTransaction goes straight to TxnOffsetCommit (its Send), whose group
    coordinator adds the offsets partition."""
    proc, client = view.proc, view.client
    if m.tv2 or client[C_STATE] != IN_TRANSACTION or client[C_AWAITING]:
        return ()
    current = client[C_CURRENT]
    offset_rec = m.txn_offset_record[proc][current]
    if offset_rec < 0 or client[C_ADDED] >> m.offsets_partition & 1:
        return ()
    batches = client[C_BATCHES]
    records = m.txn_records[proc][current]
    sent = all(batches[r][BT_STATUS] != B_UNSENT for r in records if r != offset_rec)
    return ONE if sent else ()


def add_offsets_to_txn(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]
) -> tuple[Step, Tup]:
    """KafkaProducer.sendOffsetsToTransaction: AddOffsetsToTxn (adds __consumer_offsets)."""
    client = state[S_CLIENTS][proc]
    current = client[C_CURRENT]
    request = _request(
        m,
        state,
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
        return ONE if all(batches[r][BT_STATUS] == B_ACKED for r in records) else ()
    if client[C_STATE] == ABORTABLE_ERROR and not commit:
        # (partitions were added: a batch can only fail after its partition was); a batch
        # re-enqueued after a retriable error has no attempt outstanding: the abort fails it
        in_flight = (batches[r] for r in records if batches[r][BT_STATUS] == B_INFLIGHT)
        return () if any(batch[BT_EXTRA] >= 0 for batch in in_flight) else ONE
    return ()


_ENDING: Final = (IN_TRANSACTION, ABORTABLE_ERROR)


def may_commit(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    return _ends(m, view, commit=True)


def may_abort(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    return _ends(m, view, commit=False)


def _awaits_answer(batch: Tup) -> bool:
    return bool(batch[BT_STATUS] == B_INFLIGHT and batch[BT_EXTRA] >= 0)


def _end_transaction(m: KafkaEosModel, state: Tup, proc: int, commit: bool) -> tuple[Step, Tup]:
    client = state[S_CLIENTS][proc]
    txn = m.txn_global[proc][client[C_CURRENT]]
    request = _request(m, state, proc, API_END_TXN, client[C_EPOCH], int(commit), txn)
    if not commit:
        client = _abort_undrained(m, proc, client)
    new_client = (
        COMMITTING if commit else ABORTING,
        *client[C_EPOCH:C_AWAITING],
        request,
        *client[C_AWAITING + 1 :],
    )
    name = "CommitTransaction" if commit else "AbortTransaction"
    return Step((name, (m.process_names[proc],))), client_step(state, proc, new_client, (request,))


def _abort_undrained(m: KafkaEosModel, proc: int, client: Tup) -> Tup:
    """Before EndTxn(abort) a batch re-enqueued after a retriable error fails with the error
    that made the transaction abortable. A simplification (spec/SPEC.md §8): Kafka's
    RecordAccumulator.abortUndrainedBatches fails only batches without a sequence; the Sender
    re-sends a re-enqueued one and TransactionManager.nextRequest holds the EndTxn until it
    completes."""
    batches = client[C_BATCHES]
    error = last_error(m, proc, client)
    for r in m.txn_records[proc][client[C_CURRENT]]:
        status, epoch, seq, connection = batches[r]
        if status == B_INFLIGHT and connection < 0:
            batches = replace(batches, r, (B_FAILED, epoch, seq, error))
    return replace(client, C_BATCHES, batches)


def commit_transaction(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]
) -> tuple[Step, Tup]:
    """KafkaProducer.commitTransaction (after its batches): EndTxn(commit) goes out."""
    return _end_transaction(m, state, proc, commit=True)


def abort_transaction(m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]) -> tuple[Step, Tup]:
    """KafkaProducer.abortTransaction: EndTxn(abort) goes out (the coordinator has the
    transaction: a batch can fail only after its partition was added)."""
    return _end_transaction(m, state, proc, commit=False)


# ---------------------------------------------------------------------- FetchCommittedOffset
def starting(m: KafkaEosModel, view: ClientView) -> bool:
    """A CTP application READY without a position (it has not fetched its offset yet)."""
    client = view.client
    return m.kinds[view.proc] == CTP and client[C_STATE] == READY and client[C_CURRENT] < 0


def may_fetch_offset(m: KafkaEosModel, state: Tup, proc: int) -> tuple[tuple[int], ...]:
    """No transactional offset is pending in __consumer_offsets (else OffsetFetch answers
    UNSTABLE_OFFSET_COMMIT), and the input partition is assigned to this member (KIP-447)."""
    partition = state[S_PARTITIONS][m.offsets_partition]
    if last_stable_offset(partition) != len(partition[P_LOG]) or not owns_input(m, state, proc):
        return ()
    return ((m.committed_group_offset(partition),),)


def fetch_committed_offset(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[int]
) -> tuple[Step, Tup]:
    """OffsetFetch(requireStable) at start-up: resume from the committed offset, in the
    group generation the member joined (its TxnOffsetCommit carries it, KIP-447)."""
    (committed,) = args
    client = replace(state[S_CLIENTS][proc], C_CURRENT, committed)
    client = replace(client, C_GENERATION, group_generation(m, state))
    return Step(("FetchCommittedOffset", (m.process_names[proc], committed))), client_step(
        state, proc, client
    )


#: The TransactionManager's steps (the Sender's are in .sender), in SPEC.md's order:
#: InitProducerId and BeginTransaction come before the Sender's, the rest after.
CLIENT_ACTIONS = (
    Action(
        name="InitProducerId",
        touches=Touches(
            reads=("own", "previous", "budget:retries", "budget:batch_timeouts"),
            writes=("own", "started"),
            adds=("inbox:coordinator",),
        ),
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
        touches=Touches(
            reads=("own", "previous", "budget:retries", "budget:batch_timeouts"),
            writes=("own",),
            adds=("inbox:coordinator",),
        ),
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
        name="AddOffsetsToTxn",
        touches=Touches(
            reads=("own", "previous", "budget:retries", "budget:batch_timeouts"),
            writes=("own",),
            adds=("inbox:coordinator",),
        ),
        role="client",
        kafka="KafkaProducer.sendOffsetsToTransaction",
        params=("process",),
        trigger="local",
        needs=("ctp", "client_adds"),
        guard=may_add_offsets,
        effect=add_offsets_to_txn,
    ),
    Action(
        name="CommitTransaction",
        touches=Touches(
            reads=("own", "previous", "budget:retries", "budget:batch_timeouts"),
            writes=("own",),
            adds=("inbox:coordinator",),
        ),
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
        touches=Touches(
            reads=("own", "previous", "budget:retries", "budget:batch_timeouts"),
            writes=("own",),
            adds=("inbox:coordinator",),
        ),
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
        touches=Touches(
            reads=(
                "own",
                "previous",
                "budget:retries",
                "budget:batch_timeouts",
                "budget:rebalances",
                "offsets",
            ),
            writes=("own",),
        ),
        role="client",
        kafka="KafkaConsumer.committed (OffsetFetch, requireStable)",
        params=("process", "offset"),
        trigger="client",
        needs=("ctp",),
        precondition=starting,
        guard=may_fetch_offset,
        effect=fetch_committed_offset,
    ),
)
