"""The transaction coordinator's request handlers: each answers at once with an error, or sets
a pending transition to be written to ``__transaction_state`` (``CompleteTxnLogAppend`` in
:mod:`.transaction_log` makes it durable and answers).

Kafka: ``TransactionCoordinator.handleInitProducerId``, ``handleAddPartitionsToTransaction``
(AddOffsetsToTxn adds the group's ``__consumer_offsets`` partition the same way),
``handleEndTransaction``; ``TransactionMetadata.prepare*`` for the transitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.coordinator_checks import (
    ADD_PARTITIONS_ORDER,
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
    replace_many,
    request_key,
)
from .producer_ids import ProducerEpochs
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

#: What a handler decides: a transition to write, or else an immediate error and the epoch to
#: answer with.
Decision = tuple[Tup, int, int]
_WRITE = "WRITE"


def _handled(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup, decision: Decision, *shown: str
) -> tuple[Step, Tup]:
    """The successor of a request handled with ``decision``: the transition pending, or the
    answer in the network."""
    _, proc, api, epoch, _, txn, connection = message
    tid = m.tid_of[proc]
    transition, error, reply_epoch = decision
    coordinator = state[S_COORDINATOR]
    network = rest
    if transition:
        reply = transition[PT_REPLY]
        if reply:  # the answer will travel on the request's connection
            transition = replace(transition, PT_REPLY, (*reply, connection))
        metadata = replace(coordinator[K_METADATA][tid], T_PENDING, transition)
        coordinator = replace(
            coordinator, K_METADATA, replace(coordinator[K_METADATA], tid, metadata)
        )
    else:
        response = (M_COORDINATOR_RESPONSE, proc, api, error, reply_epoch, txn, connection)
        network = add_messages(rest, response)
    result = _WRITE if transition else ERROR_NAMES[error]
    args = (m.transactional_ids[tid], m.process_names[proc], epoch, *shown, result)
    step = Step((_HANDLER_NAMES[api], args))
    return step, replace_many(state, (S_COORDINATOR, coordinator), (S_NETWORK, network))


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
        return (EMPTY, 0, 0, -1, (proc, api, NONE, 0, txn), -1), NONE, current
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
            (EMPTY, bumped, 0, -1, (proc, api, NONE, bumped, txn), last_epoch),
            NONE,
            current,
        )
    if status == ONGOING:
        # fence the previous incarnation: bump the epoch and abort its transaction
        # (prepareFenceProducerEpoch); the client retries on CONCURRENT_TRANSACTIONS
        fenced = epochs.fence(current)
        reply = (proc, api, CONCURRENT, fenced, txn)
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
    """handleAddPartitionsToTransaction: refused in Kafka's order (``ADD_PARTITIONS_ORDER``:
    a transition pending or Prepare* first, since KAFKA-18660, then unknown id or another
    producer id, then another epoch), already added; else Ongoing with the partitions added
    (a new transaction records its owner, the ghost)."""
    _, proc, api, epoch, partitions, txn, _ = message
    status, current = metadata[T_STATE], metadata[T_EPOCH]
    error = first_refusal(
        ADD_PARTITIONS_ORDER,
        other_producer_id=status == NO_METADATA or not epochs.same_producer_id(epoch, current),
        other_epoch=epoch != current,
        busy=coordinator_busy(status, bool(metadata[T_PENDING])),
    )
    if error != NONE:
        return (), error, current
    ongoing = status == ONGOING
    if ongoing and not partitions & ~metadata[T_PARTITIONS]:
        return (), NONE, current  # already in the transaction: nothing to write
    transition = (
        ONGOING,
        current,
        (metadata[T_PARTITIONS] if ongoing else 0) | partitions,
        # the ghost owner: a late copy of an earlier transaction's request (its client timed
        # out and went on) may open the transaction its client's next one then joins
        max(metadata[T_OWNER], txn) if ongoing else txn,
        (proc, api, NONE, current, txn),
        metadata[T_LAST_EPOCH],
    )
    return transition, NONE, current


def handle_add_partitions(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup
) -> tuple[Step, Tup]:
    """TransactionCoordinator.handleAddPartitionsToTransaction."""
    metadata = _metadata(m, state, message)
    decision = add_partitions_decision(metadata, message, m.epochs)
    step, next_state = _handled(m, state, message, rest, decision)
    taken_over = decision[1] == NONE and message[CQ_TRANSACTION] > metadata[T_OWNER]
    if metadata[T_STATE] == ONGOING and not decision[0] and taken_over:
        # Ghost only (nothing is written): the open transaction was opened by a late copy of
        # an earlier transaction's request; the client's current transaction takes it over.
        next_state = _with_owner(m, next_state, message)
    return step, next_state


def _with_owner(m: KafkaEosModel, state: Tup, message: Tup) -> Tup:
    """``state`` with the requesting transaction as the owner (ghost) of the open one."""
    coordinator = state[S_COORDINATOR]
    tid = m.tid_of[message[CQ_PROCESS]]
    metadata = replace(coordinator[K_METADATA][tid], T_OWNER, message[CQ_TRANSACTION])
    coordinator = replace(coordinator, K_METADATA, replace(coordinator[K_METADATA], tid, metadata))
    return replace(state, S_COORDINATOR, coordinator)


# ---------------------------------------------------------------------- HandleEndTxn
def end_txn_decision(metadata: Tup, message: Tup, tv2: bool, epochs: ProducerEpochs) -> Decision:
    """handleEndTransaction: refused in Kafka's order (``end_txn_order``: under TV2 a
    transition pending or Prepare* before the epoch, since KAFKA-18464; under TV1 after it);
    then PrepareCommit / PrepareAbort from Ongoing (TV2: with the epoch bumped, and answered
    with it); a retry of a completed EndTxn is NONE (one being completed met the busy
    coordinator); TV2 recognises a retry by stored epoch = request epoch + 1 (KIP-890 part 2)."""
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
        answer = (proc, api, NONE, epochs.completed(bumped) if tv2 else bumped, txn)
    return (prepare, bumped, metadata[T_PARTITIONS], metadata[T_OWNER], answer, last_epoch)


def handle_end_txn(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """TransactionCoordinator.handleEndTransaction."""
    decision = end_txn_decision(_metadata(m, state, message), message, m.tv2, m.epochs)
    return _handled(
        m, state, message, rest, decision, "COMMIT" if message[CQ_ARGUMENT] else "ABORT"
    )


_HANDLER_NAMES = (
    "HandleInitProducerId",
    "HandleAddPartitionsToTxn",
    "HandleAddOffsetsToTxn",
    "HandleEndTxn",
)
_PARAMS = ("transactional_id", "process", "epoch", "result")
_OUTCOMES = ("WRITE", "NONE", "CONCURRENT_TRANSACTIONS", "PRODUCER_FENCED")


def _show(args: tuple[Any, ...]) -> str:
    return f"{args[0]},{args[1]},e{args[2]}," + ",".join(str(a) for a in args[3:])


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
        needs=("transactions",),
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
        needs=("ctp",),
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
        params=("transactional_id", "process", "epoch", "commit", "result"),
        trigger="message",
        needs=("transactions",),
        consumes=(request_key(API_END_TXN),),
        effect=handle_end_txn,
        outcome="result",
        outcomes=(*_OUTCOMES, "INVALID_TXN_STATE", "INVALID_PRODUCER_ID_MAPPING"),
        show=_show,
    ),
)
