"""KIP-890's verification round trip between a partition leader and the transaction
coordinator: a transactional Produce with no transaction open at the leader is held there
while the leader asks the coordinator (VerifyPartition), the coordinator answers
(HandleVerifyPartition), and the leader appends on the answer, checked against its
VerificationGuard (AppendVerified; the check itself is :func:`.leaders.guard_missing`,
part of every append). Under transaction version 2 the same round trip is the leader-side
add of the partition to the transaction (the group coordinator's, for a TxnOffsetCommit):
the coordinator may first write the transaction's Ongoing state, and its answer then waits
for the write (``CompleteTxnLogAppend`` sends it).

Kafka: ``ReplicaManager.appendRecords`` (maybeStartTransactionVerificationForPartition and
its AppendCallback), ``UnifiedLog.maybeStartTransactionVerification``,
``AddPartitionsToTxnManager.addOrVerifyTransaction``,
``TransactionCoordinator.handleVerifyPartitionsInTransaction`` /
``handleAddPartitionsToTransaction``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.coordinator_checks import (
    VERIFY_ONLY_ORDER,
    coordinator_busy,
    first_refusal,
)
from kafka_eos.protocol.errors import verification_answer
from kafka_eos.protocol.replication import held_produce_refusal

from .codes import (
    ERROR_NAMES,
    INVALID_TXN_STATE,
    NONE,
    ONGOING,
    RESTARTED,
)
from .coordinator import add_refusal, add_transition, taken_over, with_owner, with_pending
from .layout import (
    K_METADATA,
    M_KIND,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    M_VERIFY,
    M_VERIFY_RESPONSE,
    P_VERIFICATION,
    S_COORDINATOR,
    S_NETWORK,
    S_PARTITIONS,
    T_EPOCH,
    T_PARTITIONS,
    T_PENDING,
    T_STATE,
    VE_EPOCH,
    VE_GUARD,
    VQ_ADD,
    VQ_EPOCH,
    VQ_GUARD,
    VQ_PARTITION,
    Tup,
    add_messages,
    replace,
    replace_many,
)
from .leaders import (
    APPEND_TOUCHES,
    PRODUCE_OUTCOMES,
    PRODUCE_PARAMS,
    append_produce,
    needs_coordinator,
    refuse_produce,
    show_produce,
)
from .registry import Action, Step, Touches
from .tables import REC_TXN

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


# ---------------------------------------------------------------------- VerifyPartition
def ask_coordinator(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """ReplicaManager.appendRecords for a Produce that needs the coordinator: the leader
    holds it, takes the producer's VerificationGuard (UnifiedLog
    .maybeStartTransactionVerification: the VerificationStateEntry's guard, a fresh one if
    there is none; ProducerStateManager.maybeCreateVerificationStateEntry keeps the highest
    epoch asked for) and sends the coordinator an AddPartitionsToTxn
    (AddPartitionsToTxnManager.addOrVerifyTransaction: verifyOnly unless the request's
    version supports the epoch bump, i.e. transaction version 2's add: Produce above version
    11, TxnOffsetCommit above version 4)."""
    _, proc, part, pid, epoch, seq, rec, _, connection = message
    partitions = state[S_PARTITIONS]
    partition = partitions[part]
    slot = m.epochs.slot(pid, epoch)  # a rotated producer id has an entry of its own
    current = partition[P_VERIFICATION][slot]
    if current:
        guard = current[VE_GUARD]
        verification = (guard, max(current[VE_EPOCH], epoch))
    else:
        guard = _fresh_guard(partition, part, rest)
        verification = (guard, epoch)
    partition = replace(
        partition, P_VERIFICATION, replace(partition[P_VERIFICATION], slot, verification)
    )
    adds = int(m.tv2)  # (a TxnOffsetCommit's too: the group coordinator's add)
    request = (M_VERIFY, proc, part, pid, epoch, seq, rec, connection, guard, adds, 0)
    names = (m.partition_names[part], m.process_names[proc])
    step = Step(("VerifyPartition", (*names, rec, epoch, seq, guard, connection)))
    next_state = replace_many(
        state,
        (S_PARTITIONS, replace(partitions, part, partition)),
        (S_NETWORK, add_messages(rest, request)),
    )
    return step, next_state


def _fresh_guard(partition: Tup, part: int, network: Tup) -> int:
    """A new VerificationGuard (``new VerificationGuard()``: equal only to itself): the
    smallest number that no entry of the leader and no verification message of the
    partition holds, so states that differ only in retired guards' numbers are one."""
    in_use = {entry[VE_GUARD] for entry in partition[P_VERIFICATION] if entry}
    for message in reversed(network):  # the verification messages sort last
        if message[M_KIND] < M_VERIFY:
            break
        if message[VQ_PARTITION] == part:
            in_use.add(message[VQ_GUARD])
    guard = 1
    while guard in in_use:
        guard += 1
    return guard


# ---------------------------------------------------------------------- HandleVerifyPartition
def coordinator_answer(m: KafkaEosModel, metadata: Tup, message: Tup) -> tuple[Tup, int]:
    """The coordinator's answer to a leader's AddPartitionsToTxn ``message``: the transition
    to write (a version-2 add, :func:`leader_add`), or () and the error to answer with
    (NONE: the leader appends)."""
    part, epoch, adds = message[VQ_PARTITION], message[VQ_EPOCH], message[VQ_ADD]
    if adds:
        return leader_add(m, metadata, message)
    return (), verify_partition_decision(m, metadata, part, epoch)


def verify_partition_decision(m: KafkaEosModel, metadata: Tup, part: int, epoch: int) -> int:
    """The coordinator's answer to a leader's verifyOnly AddPartitionsToTxn
    (handleVerifyPartitionsInTransaction), in its order (protocol/coordinator_checks.py): the
    producer id and the epoch, then whether the partition is in the ONGOING transaction (a
    version-2 add is :func:`leader_add`'s). Another epoch is PRODUCER_FENCED, which
    AddPartitionsToTxnManager hands the producer as INVALID_PRODUCER_EPOCH."""
    error = first_refusal(
        VERIFY_ONLY_ORDER,
        # (another producer id: one the coordinator rotated away from)
        other_producer_id=not m.epochs.same_producer_id(metadata[T_EPOCH], epoch),
        other_epoch=metadata[T_EPOCH] != epoch,
        busy=coordinator_busy(metadata[T_STATE], bool(metadata[T_PENDING])),
    )
    if error == NONE and (metadata[T_STATE] != ONGOING or not metadata[T_PARTITIONS] >> part & 1):
        return INVALID_TXN_STATE
    return verification_answer(error)


def leader_add(m: KafkaEosModel, metadata: Tup, message: Tup) -> tuple[Tup, int]:
    """Transaction version 2's add (handleAddPartitionsToTransaction from
    AddPartitionsToTxnManager, the leader's or the group coordinator's): the refusals of a
    client's add, in its order (a transition pending or Prepare* first, KAFKA-18660, then
    the producer id and the epoch); then, as TransactionMetadata.prepareAddPartitions, the
    transition to Ongoing with the partition added, from Empty or Complete* the start of a
    new transaction, whose owner (the ghost) is the held Produce's; () and NONE if the
    partition is in the Ongoing transaction already. The held Produce waits for the write:
    the transition's reply is the VerifyPartitionResponse to the leader."""
    _, proc, part, pid, epoch, seq, rec, connection, guard, _, deposed = message
    error = add_refusal(metadata, epoch, m.epochs)
    if error != NONE:
        return (), verification_answer(error)
    reply: Tup = ()  # (a leader whose broker restarted since it asked awaits no answer)
    if deposed != RESTARTED:
        held = (proc, part, pid, epoch, seq, rec, connection, guard)
        reply = (M_VERIFY_RESPONSE, *held, NONE, deposed)
    return add_transition(metadata, 1 << part, _txn_of(m, proc, rec), reply), NONE


def _txn_of(m: KafkaEosModel, proc: int, rec: int) -> int:
    """The transaction (global index) a producer's record belongs to."""
    return int(m.records[m.record_global[proc][rec]][REC_TXN])


def handle_verify_partition(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup
) -> tuple[Step, Tup]:
    """TransactionCoordinator.handleVerifyPartitionsInTransaction (verifyOnly) or
    handleAddPartitionsToTransaction (a transaction-version-2 leader's add): a transition to
    write is pending with the leader's answer (``CompleteTxnLogAppend`` sends it); else NONE
    goes back to the leader with the Produce it holds (``AppendVerified``); an error reaches
    the leader in this step, which answers the held Produce with it (the AppendCallback's
    error branch: spec/SPEC.md §8 says why that hides nothing). A leader whose broker
    restarted since it asked (RESTARTED) awaits no answer: none is sent."""
    _, proc, part, pid, epoch, seq, rec, connection, guard, adds, deposed = message
    tid = m.pid_tid[pid]
    metadata = state[S_COORDINATOR][K_METADATA][tid]
    transition, error = coordinator_answer(m, metadata, message)
    names = (m.transactional_ids[tid], m.partition_names[part], m.process_names[proc])
    result = "WRITE" if transition else ERROR_NAMES[error]
    request = "ADD" if adds else "VERIFY"
    step = Step(("HandleVerifyPartition", (*names, epoch, request, result, guard, connection)))
    if transition:
        return step, replace(with_pending(state, tid, transition), S_NETWORK, rest)
    answer: Tup
    if error == NONE:
        answer = (
            M_VERIFY_RESPONSE, proc, part, pid, epoch, seq, rec, connection, guard, error, deposed
        )
    else:
        answer = (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, -1, connection)
    network = rest if deposed == RESTARTED else add_messages(rest, answer)
    next_state = replace(state, S_NETWORK, network)
    if adds and taken_over(metadata, transition, error, _txn_of(m, proc, rec)):
        next_state = with_owner(next_state, tid, _txn_of(m, proc, rec))
    return step, next_state


# ---------------------------------------------------------------------- AppendVerified
def append_verified(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """The coordinator's NONE reaches the leader (the AppendCallback of
    ReplicaManager.appendRecords): the held Produce is appended with its VerificationGuard,
    which the append checks (a marker may have cleared it meanwhile); a leader that lost its
    leadership since it asked refuses it (protocol.replication.held_produce_refusal). An error
    answer was handed to the producer in HandleVerifyPartition's step."""
    _, proc, part, pid, epoch, seq, rec, connection, guard, _, deposed = message
    produce = (M_PRODUCE, proc, part, pid, epoch, seq, rec, 1, connection)
    refusal = held_produce_refusal(still_leads=not deposed)
    if refusal is not None:
        return refuse_produce(m, state, produce, rest, "AppendVerified", int(refusal))
    return append_produce(m, state, produce, rest, "AppendVerified", guard=guard)


def _show_verify(args: tuple[Any, ...]) -> str:
    partition, process, rec, epoch, seq, guard, connection = args
    return f"{partition},{process},r{rec},e{epoch},s{seq},g{guard},c{connection}"


def _show_verify_answer(args: tuple[Any, ...]) -> str:
    tid, partition, process, epoch, request, result, guard, connection = args
    return f"{tid},{partition},{process},e{epoch},{request},{result},g{guard},c{connection}"


#: The leader's side of the round trip: listed after HandleProduce (model/actions.py).
LEADER_VERIFICATION_ACTIONS = (
    Action(
        name="VerifyPartition",
        touches=Touches(
            # a fresh guard's number avoids those of the verification messages in flight
            reads=("own", "inbox", "inbox:coordinator"),
            writes=("own",),
            adds=("inbox:coordinator",),
            takes=("inbox",),
        ),
        role="leader",
        kafka="ReplicaManager.appendRecords (maybeStartTransactionVerificationForPartition), "
        "UnifiedLog.maybeStartTransactionVerification, "
        "AddPartitionsToTxnManager.addOrVerifyTransaction",
        params=("partition", "process", "record", "epoch", "sequence", "guard", "connection"),
        trigger="message",
        needs=("transactions", "verification"),
        consumes=(M_PRODUCE,),
        guard=needs_coordinator,
        effect=ask_coordinator,
        show=_show_verify,
    ),
    Action(
        name="AppendVerified",
        touches=APPEND_TOUCHES,
        role="leader",
        kafka="ReplicaManager.appendRecords' AppendCallback, "
        "UnifiedLog.analyzeAndValidateProducerState (VerificationGuard)",
        params=PRODUCE_PARAMS,
        trigger="message",
        needs=("transactions", "verification"),
        consumes=(M_VERIFY_RESPONSE,),
        effect=append_verified,
        outcome="result",
        # INVALID_TXN_STATE: the guard is gone; ILLEGAL_GENERATION: a stale TxnOffsetCommit;
        # NOT_LEADER_OR_FOLLOWER: the leader lost its leadership during the round trip
        outcomes=(
            *PRODUCE_OUTCOMES, "INVALID_TXN_STATE", "ILLEGAL_GENERATION", "NOT_LEADER_OR_FOLLOWER"
        ),
        show=show_produce,
    ),
)
#: The coordinator's side: listed after its other request handlers.
COORDINATOR_VERIFICATION_ACTIONS = (
    Action(
        name="HandleVerifyPartition",
        touches=Touches(
            reads=("own",),
            # a version-2 add's transition to write (its answer waits for it)
            writes=("own",),
            # NONE to the leader; an error to the producer, unmuting its connection
            adds=("inbox:partitions", "inbox:clients"),
            takes=("inbox",),
        ),
        role="coordinator",
        kafka="TransactionCoordinator.handleVerifyPartitionsInTransaction (verifyOnly), "
        "handleAddPartitionsToTransaction (a transaction-version-2 leader's add), "
        "TransactionMetadata.prepareAddPartitions",
        params=(
            "transactional_id",
            "partition",
            "process",
            "epoch",
            "request",
            "result",
            "guard",
            "connection",
        ),
        trigger="message",
        needs=("transactions", "verification"),
        consumes=(M_VERIFY,),
        effect=handle_verify_partition,
        outcome="result",
        outcomes=(
            "WRITE",
            "NONE",
            "INVALID_TXN_STATE",
            "CONCURRENT_TRANSACTIONS",
            "INVALID_PRODUCER_EPOCH",
            "INVALID_PRODUCER_ID_MAPPING",
        ),
        show=_show_verify_answer,
    ),
)
