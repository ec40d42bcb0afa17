"""The transaction coordinator's request handlers: each answers at once with an error, or sets
a pending transition to be written to ``__transaction_state`` (``CompleteTxnLogAppend`` in
:mod:`.transaction_log` makes it durable and answers).

Kafka: ``TransactionCoordinator.handleInitProducerId``, ``handleAddPartitionsToTransaction``
(AddOffsetsToTxn adds the group's ``__consumer_offsets`` partition the same way),
``handleEndTransaction``; ``TransactionMetadata.prepare*`` for the transitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from kafka_eos.protocol.coordinator_checks import (
    ADD_PARTITIONS_ORDER,
    aborts_without_transaction,
    commit_overtaken_by_abort,
    coordinator_busy,
    end_txn_order,
    first_refusal,
)
from kafka_eos.protocol.epochs import BumpRequest, bump_request, end_txn_is_retry

from .codes import (
    COMPLETE_ABORT,
    COMPLETE_COMMIT,
    COMPLETED,
    CONCURRENT,
    EMPTY,
    ERROR_NAMES,
    INVALID_TXN_STATE,
    MARKER_NAMES,
    NONE,
    ONGOING,
    PREPARE_ABORT,
    PREPARE_COMMIT,
    PRODUCER_FENCED,
)
from .layout import (
    API_ADD_OFFSETS,
    API_ADD_PARTITIONS,
    API_END_TXN,
    API_INIT_PRODUCER_ID,
    CQ_ARGUMENT,
    CQ_PROCESS,
    CQ_TRANSACTION,
    K_METADATA,
    M_COORDINATOR_RESPONSE,
    NO_METADATA,
    PT_EPOCH,
    PT_OWNER,
    PT_REPLY,
    S_COORDINATOR,
    S_NETWORK,
    T_EPOCH,
    T_LAST_EPOCH,
    T_OWNER,
    T_PARTITIONS,
    T_PENDING,
    T_STATE,
    Tup,
    add_messages,
    replace,
    request_key,
)
from .producer_ids import ProducerEpochs
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

#: What a handler decides: a transition to write, or else an immediate error and the epoch to
#: answer with.
Decision = tuple[Tup, int, int]
_WRITE: Final = "WRITE"


def _handled(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup, decision: Decision, *shown: str
) -> tuple[Step, Tup]:
    """The successor of a request handled with ``decision``: the transition pending, or the
    answer in the network."""
    _, proc, api, epoch, _, txn, connection = message
    tid = m.tid_of[proc]
    transition, error, reply_epoch = decision
    result = _WRITE if transition else ERROR_NAMES[error]
    # the connection too: a request timeout leaves a copy on the old one and one on the new
    args = (m.transactional_ids[tid], m.process_names[proc], epoch, *shown, result, connection)
    step = Step((_HANDLER_NAMES[api], args))
    if transition:
        reply = transition[PT_REPLY]
        if reply:  # the answer will travel on the request's connection
            transition = replace(transition, PT_REPLY, (*reply, connection))
        return step, replace(with_pending(state, tid, transition), S_NETWORK, rest)
    response = (M_COORDINATOR_RESPONSE, proc, api, error, reply_epoch, txn, connection)
    return step, replace(state, S_NETWORK, add_messages(rest, response))


def with_pending(state: Tup, tid: int, transition: Tup) -> Tup:
    """``state`` with ``transition`` being written for ``tid`` (its pending transition)."""
    return _with_metadata(state, tid, T_PENDING, transition)


def _with_metadata(state: Tup, tid: int, position: int, value: object) -> Tup:
    coordinator = state[S_COORDINATOR]
    metadata = replace(coordinator[K_METADATA][tid], position, value)
    coordinator = replace(coordinator, K_METADATA, replace(coordinator[K_METADATA], tid, metadata))
    return replace(state, S_COORDINATOR, coordinator)


def _reply(proc: int, api: int, error: int, epoch: int, txn: int) -> Tup:
    """The answer a transition owes the client that asked, once it is durable: its
    CoordinatorResponse but for the connection, which the handler adds (:func:`_handled`)."""
    return (M_COORDINATOR_RESPONSE, proc, api, error, epoch, txn)


def _metadata(m: KafkaEosModel, state: Tup, message: Tup) -> Tup:
    """The coordinator's metadata of the requesting client's transactional.id."""
    metadata: Tup = state[S_COORDINATOR][K_METADATA][m.tid_of[message[CQ_PROCESS]]]
    return metadata


# ---------------------------------------------------------------------- HandleInitProducerId
def init_producer_id_decision(metadata: Tup, message: Tup, epochs: ProducerEpochs) -> Decision:
    """prepareInitProducerIdTransit: the state decides first; only a bump from a completed (or
    empty) state checks the expected epoch. In Ongoing the transaction is fenced whatever
    epoch the request names (same producer id). An exhausted epoch's bump gives a new
    producer id (``epochs.bump``)."""
    _, proc, api, epoch, _, txn, _ = message
    status, current = metadata[T_STATE], metadata[T_EPOCH]
    if metadata[T_PENDING]:
        return (), CONCURRENT, current
    if status == NO_METADATA:
        return (EMPTY, 0, 0, -1, _reply(proc, api, NONE, 0, txn), -1), NONE, current
    if status in COMPLETED:
        # a new incarnation (no epoch) always bumps; a KIP-360 bump request may be a retry
        # (answered with the current epoch, nothing written) or fenced
        outcome = (
            BumpRequest.BUMP if epoch < 0 else bump_request(epoch, current, metadata[T_LAST_EPOCH])
        )
        # (an older producer id is fenced too, unless the request retries the bump that
        # rotated it: isValidProducerId, then the same epoch check, in handleInitProducerId)
        if outcome is BumpRequest.FENCED:
            return (), PRODUCER_FENCED, current
        if outcome is not BumpRequest.BUMP:
            return (), NONE, current
        last_epoch = current if epoch >= 0 else -1  # lastProducerEpoch
        bumped = epochs.bump(current)
        return (
            (EMPTY, bumped, 0, -1, _reply(proc, api, NONE, bumped, txn), last_epoch),
            NONE,
            current,
        )
    if status == ONGOING:
        # fence the previous incarnation: bump the epoch and abort its transaction
        # (prepareFenceProducerEpoch); the client retries on CONCURRENT_TRANSACTIONS
        fenced = epochs.fence(current)
        reply = _reply(proc, api, CONCURRENT, fenced, txn)
        return (
            (PREPARE_ABORT, fenced, metadata[T_PARTITIONS], metadata[T_OWNER], reply, -1),
            NONE,
            current,
        )
    return (), CONCURRENT, current


def handle_init_producer_id(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup
) -> tuple[Step, Tup]:
    """TransactionCoordinator.handleInitProducerId."""
    decision = init_producer_id_decision(_metadata(m, state, message), message, m.epochs)
    return _handled(m, state, message, rest, decision)


# ---------------------------------------------------------------------- HandleAdd*ToTxn
def add_partitions_decision(metadata: Tup, message: Tup, epochs: ProducerEpochs) -> Decision:
    """handleAddPartitionsToTransaction: refused in Kafka's order (:func:`add_refusal`),
    already added; else Ongoing with the partitions added (:func:`add_transition`)."""
    _, proc, api, epoch, partitions, txn, _ = message
    current = metadata[T_EPOCH]
    error = add_refusal(metadata, epoch, epochs)
    if error != NONE:
        return (), error, current
    reply = _reply(proc, api, NONE, current, txn)
    return add_transition(metadata, partitions, txn, reply), NONE, current


def add_refusal(metadata: Tup, epoch: int, epochs: ProducerEpochs) -> int:
    """handleAddPartitionsToTransaction's refusals, a client's or (transaction version 2) a
    leader's add alike, in Kafka's order (``ADD_PARTITIONS_ORDER``: a transition pending or
    Prepare* first, since KAFKA-18660, then unknown id or another producer id, then another
    epoch); NONE if it passes them."""
    status = metadata[T_STATE]
    return first_refusal(
        ADD_PARTITIONS_ORDER,
        other_producer_id=status == NO_METADATA
        or not epochs.same_producer_id(epoch, metadata[T_EPOCH]),
        other_epoch=epoch != metadata[T_EPOCH],
        busy=coordinator_busy(status, bool(metadata[T_PENDING])),
    )


def add_transition(metadata: Tup, partitions: int, txn: int, reply: Tup) -> Tup:
    """TransactionMetadata.prepareAddPartitions: Ongoing with ``partitions`` added, a new
    transaction from Empty or Complete* (its owner, the ghost, is ``txn``); () when they are
    all in the Ongoing transaction already (nothing to write: Kafka answers at once).
    ``reply`` is the answer owed once the write is durable."""
    ongoing = metadata[T_STATE] == ONGOING
    if ongoing and not partitions & ~metadata[T_PARTITIONS]:
        return ()
    return (
        ONGOING,
        metadata[T_EPOCH],
        (metadata[T_PARTITIONS] if ongoing else 0) | partitions,
        # the ghost owner: a late copy of an earlier transaction's request (its client timed
        # out and went on) may open the transaction its client's next one then joins
        max(metadata[T_OWNER], txn) if ongoing else txn,
        reply,
        metadata[T_LAST_EPOCH],
    )


def taken_over(metadata: Tup, transition: Tup, error: int, txn: int) -> bool:
    """Ghost only: an add answered NONE without a write, for a later transaction than the
    owner of the open one (opened by a late copy of an earlier transaction's request): the
    later transaction takes it over (:func:`with_owner`)."""
    ongoing = metadata[T_STATE] == ONGOING
    return ongoing and not transition and error == NONE and txn > metadata[T_OWNER]


def handle_add_partitions(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup
) -> tuple[Step, Tup]:
    """TransactionCoordinator.handleAddPartitionsToTransaction."""
    metadata = _metadata(m, state, message)
    decision = add_partitions_decision(metadata, message, m.epochs)
    step, next_state = _handled(m, state, message, rest, decision)
    txn = message[CQ_TRANSACTION]
    if taken_over(metadata, decision[0], decision[1], txn):
        next_state = with_owner(next_state, m.tid_of[message[CQ_PROCESS]], txn)
    return step, next_state


def with_owner(state: Tup, tid: int, txn: int) -> Tup:
    """``state`` with ``txn`` as the owner (ghost) of ``tid``'s open transaction."""
    return _with_metadata(state, tid, T_OWNER, txn)


# ---------------------------------------------------------------------- HandleEndTxn
def end_txn_decision(metadata: Tup, message: Tup, tv2: bool, epochs: ProducerEpochs) -> Decision:
    """handleEndTransaction: refused in Kafka's order (``end_txn_order``: under TV2 a
    transition pending or Prepare* before the epoch, since KAFKA-18464; under TV1 after it);
    then PrepareCommit / PrepareAbort from Ongoing (TV2: with the epoch bumped, and answered
    with it); a retry of a completed EndTxn is NONE (one being completed met the busy
    coordinator); TV2 recognises a retry by stored epoch = request epoch + 1 (KIP-890 part 2),
    and aborts with no transaction open as from Ongoing, with nothing to mark (the empty
    abort, ``aborts_without_transaction``)."""
    _, proc, _, epoch, commit, txn, _ = message
    status, current = metadata[T_STATE], metadata[T_EPOCH]
    prepare = PREPARE_COMMIT if commit else PREPARE_ABORT
    complete = COMPLETE_COMMIT if commit else COMPLETE_ABORT
    # retryOnOverflow: the decision rotated the producer id since (KAFKA-18660)
    rotated = tv2 and status != NO_METADATA and epochs.retries_rotation(epoch, current)
    retry = tv2 and end_txn_is_retry(epoch, current, status, rotated=rotated)
    error = first_refusal(
        end_txn_order(tv2),
        other_producer_id=status == NO_METADATA
        or not (epochs.same_producer_id(epoch, current) or rotated),
        other_epoch=not retry and epoch != current,
        busy=coordinator_busy(status, bool(metadata[T_PENDING])),
    )
    if error != NONE:
        return (), error, current
    if status == ONGOING and not retry:
        transition = prepare_end_transition(
            metadata, prepare, tv2, epochs, reply=(proc, API_END_TXN, txn)
        )
        return transition, NONE, transition[PT_EPOCH]
    if (retry or not tv2) and status == complete:
        return (), NONE, current
    if aborts_without_transaction(tv2=tv2, commit=bool(commit), retry=retry, state=status):
        transition = prepare_end_transition(
            metadata, PREPARE_ABORT, tv2, epochs, reply=(proc, API_END_TXN, txn)
        )
        # the ghost: the abort decides the client's transaction, which no leader added
        return replace(transition, PT_OWNER, txn), NONE, transition[PT_EPOCH]
    if commit_overtaken_by_abort(retry=retry, commit=bool(commit), state=status):
        return (), PRODUCER_FENCED, current
    return (), INVALID_TXN_STATE, current


def prepare_end_transition(
    metadata: Tup,
    prepare: int,
    tv2: bool,
    epochs: ProducerEpochs,
    *,
    reply: tuple[int, int, int] | None,
) -> Tup:
    """prepareAbortOrCommit from Ongoing: PrepareCommit / PrepareAbort, under transaction
    version 2 with the epoch bumped and the old one remembered as lastProducerEpoch; the
    client is answered with the producer id and epoch the transaction completes with
    (KAFKA-18660: a new producer id at epoch 0 once the epoch was exhausted). ``reply`` is
    the waiting client's (process, api, transaction), None for the coordinator's own abort (a
    timeout without the KAFKA-6119 fence)."""
    current = metadata[T_EPOCH]
    bumped = epochs.end_txn_bump(current) if tv2 else current
    last_epoch = current if tv2 else metadata[T_LAST_EPOCH]
    answer: Tup = ()
    if reply is not None:
        proc, api, txn = reply
        answer = _reply(proc, api, NONE, epochs.completed(bumped) if tv2 else bumped, txn)
    return (prepare, bumped, metadata[T_PARTITIONS], metadata[T_OWNER], answer, last_epoch)


def handle_end_txn(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """TransactionCoordinator.handleEndTransaction."""
    decision = end_txn_decision(_metadata(m, state, message), message, m.tv2, m.epochs)
    return _handled(
        m, state, message, rest, decision, MARKER_NAMES[message[CQ_ARGUMENT]]
    )


_HANDLER_NAMES = (
    "HandleInitProducerId",
    "HandleAddPartitionsToTxn",
    "HandleAddOffsetsToTxn",
    "HandleEndTxn",
)
_PARAMS = ("transactional_id", "process", "epoch", "result", "connection")
_OUTCOMES = ("WRITE", "NONE", "CONCURRENT_TRANSACTIONS", "PRODUCER_FENCED")


def _show(args: tuple[Any, ...]) -> str:
    shown = "".join(f"{a}," for a in args[3:-1])
    return f"{args[0]},{args[1]},e{args[2]},{shown}c{args[-1]}"


COORDINATOR_ACTIONS = (
    Action(
        name="HandleInitProducerId",
        touches=Touches(
            # the clients and connections: whether its answer can still be read (.unreadable);
            # a CONCURRENT_TRANSACTIONS answer is read at once (.concurrent_answers): the
            # client and the re-sent request
            reads=("own", "clients", "budget:retries", "budget:request_timeouts"),
            writes=("own", "outcomes", "clients"),
            adds=("inbox:clients", "inbox:partitions", "inbox:coordinator"),
            takes=("inbox",),
        ),
        role="coordinator",
        kafka="TransactionCoordinator.handleInitProducerId",
        params=_PARAMS,
        trigger="message",
        needs=("transactions",),
        consumes=(request_key(API_INIT_PRODUCER_ID),),
        effect=handle_init_producer_id,
        outcome="result",
        outcomes=_OUTCOMES,
        show=_show,
    ),
    Action(
        name="HandleAddPartitionsToTxn",
        touches=Touches(
            # the clients and connections: whether its answer can still be read (.unreadable);
            # a CONCURRENT_TRANSACTIONS answer is read at once (.concurrent_answers): the
            # client and the re-sent request
            reads=("own", "clients", "budget:retries", "budget:request_timeouts"),
            writes=("own", "outcomes", "clients"),
            adds=("inbox:clients", "inbox:partitions", "inbox:coordinator"),
            takes=("inbox",),
        ),
        role="coordinator",
        kafka="TransactionCoordinator.handleAddPartitionsToTransaction",
        params=_PARAMS,
        trigger="message",
        needs=("transactions", "client_adds"),
        consumes=(request_key(API_ADD_PARTITIONS),),
        effect=handle_add_partitions,
        outcome="result",
        outcomes=(*_OUTCOMES, "INVALID_PRODUCER_ID_MAPPING"),
        show=_show,
    ),
    Action(
        name="HandleAddOffsetsToTxn",
        touches=Touches(
            # the clients and connections: whether its answer can still be read (.unreadable);
            # a CONCURRENT_TRANSACTIONS answer is read at once (.concurrent_answers): the
            # client and the re-sent request
            reads=("own", "clients", "budget:retries", "budget:request_timeouts"),
            writes=("own", "outcomes", "clients"),
            adds=("inbox:clients", "inbox:partitions", "inbox:coordinator"),
            takes=("inbox",),
        ),
        role="coordinator",
        kafka="TransactionCoordinator.handleAddPartitionsToTransaction (via AddOffsetsToTxn)",
        params=_PARAMS,
        trigger="message",
        needs=("ctp", "client_adds"),
        consumes=(request_key(API_ADD_OFFSETS),),
        effect=handle_add_partitions,
        outcome="result",
        outcomes=_OUTCOMES,
        show=_show,
    ),
    Action(
        name="HandleEndTxn",
        touches=Touches(
            # the clients and connections: whether its answer can still be read (.unreadable);
            # a CONCURRENT_TRANSACTIONS answer is read at once (.concurrent_answers): the
            # client and the re-sent request
            reads=("own", "clients", "budget:retries", "budget:request_timeouts"),
            writes=("own", "outcomes", "clients"),
            adds=("inbox:clients", "inbox:partitions", "inbox:coordinator"),
            takes=("inbox",),
        ),
        role="coordinator",
        kafka="TransactionCoordinator.handleEndTransaction",
        params=("transactional_id", "process", "epoch", "commit", "result", "connection"),
        trigger="message",
        needs=("transactions",),
        consumes=(request_key(API_END_TXN),),
        effect=handle_end_txn,
        outcome="result",
        outcomes=(*_OUTCOMES, "INVALID_TXN_STATE", "INVALID_PRODUCER_ID_MAPPING"),
        show=_show,
    ),
)
