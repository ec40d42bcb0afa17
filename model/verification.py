"""KIP-890's verification round trip between a partition leader and the transaction
coordinator: a transactional Produce with no transaction open at the leader is held there
while the leader asks the coordinator (VerifyPartition), the coordinator answers
(HandleVerifyPartition), and the leader appends on the answer, checked against its
VerificationGuard (AppendVerified; the check itself is :func:`.leaders.guard_missing`,
part of every append). Under transaction version 2 the same round trip is the leader-side
add of the partition to the transaction.

Kafka: ``ReplicaManager.appendRecords`` (maybeStartTransactionVerificationForPartition and
its AppendCallback), ``UnifiedLog.maybeStartTransactionVerification``,
``AddPartitionsToTxnManager.addOrVerifyTransaction``,
``TransactionCoordinator.handleVerifyPartitionsInTransaction`` /
``handleAddPartitionsToTransaction``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.coordinator_checks import (
    ADD_PARTITIONS_ORDER,
    VERIFY_ONLY_ORDER,
    coordinator_busy,
    first_refusal,
)

from .codes import (
    ERROR_NAMES,
    INVALID_EPOCH,
    INVALID_TXN_STATE,
    NONE,
    ONGOING,
    PRODUCER_FENCED,
)
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
    append_produce,
    needs_coordinator,
    show_produce,
)
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


# ---------------------------------------------------------------------- VerifyPartition
def ask_coordinator(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """ReplicaManager.appendRecords for a Produce that needs the coordinator: the leader
    holds it, takes the producer's VerificationGuard (UnifiedLog
    .maybeStartTransactionVerification: the VerificationStateEntry's guard, a fresh one if
    there is none; ProducerStateManager.maybeCreateVerificationStateEntry keeps the highest
    epoch asked for) and sends the coordinator an AddPartitionsToTxn
    (AddPartitionsToTxnManager.addOrVerifyTransaction: verifyOnly unless the client's
    transaction version supports the epoch bump, i.e. version 2's add)."""
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
    adds = int(m.tv2 and part != m.offsets_partition)
    request = (M_VERIFY, proc, part, pid, epoch, seq, rec, connection, guard, adds)
    names = (m.partition_names[part], m.process_names[proc])
    step = Step(("VerifyPartition", (*names, rec, epoch, seq, guard)))
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
def verify_partition_decision(
    m: KafkaEosModel, metadata: Tup, part: int, epoch: int, adds: int
) -> int:
    """The coordinator's answer to a leader's AddPartitionsToTxn, in its order
    (protocol/coordinator_checks.py): verifyOnly (handleVerifyPartitionsInTransaction) checks
    the producer id and the epoch, then asks whether the partition is in the ONGOING
    transaction; version 2's add (handleAddPartitionsToTransaction) is refused with
    CONCURRENT_TRANSACTIONS first while a transition of the transactional.id is being
    written or it is in Prepare* (KAFKA-18660), then checks the producer id and the epoch;
    partitions are added by the clients themselves (spec/SPEC.md §8), so the add finds them
    there. Another epoch is PRODUCER_FENCED, which AddPartitionsToTxnManager hands the
    producer as INVALID_PRODUCER_EPOCH."""
    error = first_refusal(
        ADD_PARTITIONS_ORDER if adds else VERIFY_ONLY_ORDER,
        # (another producer id: one the coordinator rotated away from)
        other_producer_id=not m.epochs.same_producer_id(metadata[T_EPOCH], epoch),
        other_epoch=metadata[T_EPOCH] != epoch,
        busy=coordinator_busy(metadata[T_STATE], bool(metadata[T_PENDING])),
    )
    if error == PRODUCER_FENCED:
        return INVALID_EPOCH
    if error != NONE:
        return error
    if metadata[T_STATE] != ONGOING or not metadata[T_PARTITIONS] >> part & 1:
        return INVALID_TXN_STATE
    return NONE


def handle_verify_partition(
    m: KafkaEosModel, state: Tup, message: Tup, rest: Tup
) -> tuple[Step, Tup]:
    """TransactionCoordinator.handleVerifyPartitionsInTransaction (verifyOnly) or
    handleAddPartitionsToTransaction (a transaction-version-2 leader's add): NONE goes back
    to the leader with the Produce it holds (``AppendVerified``); an error reaches the leader
    in this step, which answers the held Produce with it (the AppendCallback's error branch:
    spec/SPEC.md §8 says why that hides nothing)."""
    _, proc, part, pid, epoch, seq, rec, connection, guard, adds = message
    tid = m.pid_tid[pid]
    error = verify_partition_decision(m, state[S_COORDINATOR][K_METADATA][tid], part, epoch, adds)
    answer: Tup
    if error == NONE:
        answer = (M_VERIFY_RESPONSE, proc, part, pid, epoch, seq, rec, connection, guard, error)
    else:
        answer = (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, -1, connection)
    names = (m.transactional_ids[tid], m.partition_names[part], m.process_names[proc])
    step = Step(
        ("HandleVerifyPartition", (*names, epoch, "ADD" if adds else "VERIFY", ERROR_NAMES[error]))
    )
    return step, replace(state, S_NETWORK, add_messages(rest, answer))


# ---------------------------------------------------------------------- AppendVerified
def append_verified(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """The coordinator's NONE reaches the leader (the AppendCallback of
    ReplicaManager.appendRecords): the held Produce is appended with its VerificationGuard,
    which the append checks (a marker may have cleared it meanwhile). An error answer was
    handed to the producer in HandleVerifyPartition's step."""
    _, proc, part, pid, epoch, seq, rec, connection, guard, _ = message
    produce = (M_PRODUCE, proc, part, pid, epoch, seq, rec, 1, connection)
    return append_produce(m, state, produce, rest, "AppendVerified", guard=guard)


def _show_verify(args: tuple[Any, ...]) -> str:
    partition, process, rec, epoch, seq, guard = args
    return f"{partition},{process},r{rec},e{epoch},s{seq},g{guard}"


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
        params=("partition", "process", "record", "epoch", "sequence", "guard"),
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
        params=("partition", "process", "record", "epoch", "sequence", "result", "offset"),
        trigger="message",
        needs=("transactions", "verification"),
        consumes=(M_VERIFY_RESPONSE,),
        effect=append_verified,
        outcome="result",
        # INVALID_TXN_STATE: the guard is gone; ILLEGAL_GENERATION: a stale TxnOffsetCommit
        outcomes=(*PRODUCE_OUTCOMES, "INVALID_TXN_STATE", "ILLEGAL_GENERATION"),
        show=show_produce,
    ),
)
#: The coordinator's side: listed after its other request handlers.
COORDINATOR_VERIFICATION_ACTIONS = (
    Action(
        name="HandleVerifyPartition",
        touches=Touches(
            reads=("own",),
            # NONE to the leader; an error to the producer, unmuting its connection
            adds=("inbox:partitions", "inbox:clients"),
            takes=("inbox",),
        ),
        role="coordinator",
        kafka="TransactionCoordinator.handleVerifyPartitionsInTransaction (verifyOnly), "
        "handleAddPartitionsToTransaction (a transaction-version-2 leader's add)",
        params=("transactional_id", "partition", "process", "epoch", "request", "result"),
        trigger="message",
        needs=("transactions", "verification"),
        consumes=(M_VERIFY,),
        effect=handle_verify_partition,
        outcome="result",
        outcomes=(
            "NONE",
            "INVALID_TXN_STATE",
            "CONCURRENT_TRANSACTIONS",
            "INVALID_PRODUCER_EPOCH",
            "INVALID_PRODUCER_ID_MAPPING",
        ),
        show=lambda args: f"{args[0]},{args[1]},{args[2]},e{args[3]},{args[4]},{args[5]}",
    ),
)
