"""A replicated partition's leader: its high watermark and the answers waiting for it.

With ``replicas`` above 1 the leader answers an append written with acks=all (a Produce with
the ``acks`` knob at -1; a transaction marker, always) only once the high watermark passed it:
the answer waits in the produce purgatory (``DelayedProduce``) and is released when a follower
fetch or an ISR change moves the high watermark (``Partition.maybeIncrementLeaderHW``,
``checkEnoughReplicasReachOffset``). Single-replica partitions answer at once, as before.

The rules are protocol/replication.py's; this module applies them to the model's tuples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kafka_eos.protocol.replication import (
    ACKS_ALL,
    delayed_produce_result,
    high_watermark,
    produce_refusal,
)

from .codes import NONE
from .layout import (
    M_KIND,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    MK_PARTITION,
    P_LOG,
    P_REPLICATION,
    PRR_ERROR,
    PRR_OFFSET,
    RS_ENDS,
    RS_HW,
    RS_ISR,
    RS_LEADER,
    RS_PURGATORY,
    S_PARTITIONS,
    Tup,
    replace,
)

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


def isr_size(replication: Tup) -> int:
    return int(replication[RS_ISR]).bit_count()


def in_sync_followers(replication: Tup) -> tuple[int, ...]:
    """The followers in the ISR (the leader is in it too, but its log is P_LOG)."""
    isr, leader = replication[RS_ISR], replication[RS_LEADER]
    return tuple(r for r in range(isr.bit_length()) if isr >> r & 1 and r != leader)


def refuse_for_replicas(m: KafkaEosModel, partition: Tup) -> int:
    """NONE, or NOT_ENOUGH_REPLICAS when acks=all and the ISR is below min.insync.replicas
    (Partition.appendRecordsToLeader, before the append)."""
    refusal = produce_refusal(
        acks=m.knobs.acks,
        in_sync=isr_size(partition[P_REPLICATION]),
        min_insync_replicas=m.knobs.min_insync_replicas,
    )
    return NONE if refusal is None else int(refusal)


def marker_may_be_handled(m: KafkaEosModel, state: Tup, message: Tup) -> bool:
    """A marker is an acks=all append: while the ISR is below min.insync.replicas the leader
    refuses it with NOT_ENOUGH_REPLICAS and the coordinator retries it
    (TransactionMarkerRequestCompletionHandler), which is the marker waiting."""
    replication = state[S_PARTITIONS][message[MK_PARTITION]][P_REPLICATION]
    return not replication or isr_size(replication) >= m.knobs.min_insync_replicas


def advance(m: KafkaEosModel, partition: Tup) -> tuple[Tup, tuple[Tup, ...]]:
    """Partition.maybeIncrementLeaderHW, then the purgatory's answers the new high watermark
    (or a shrunk ISR) completes: (partition, messages to send)."""
    replication = partition[P_REPLICATION]
    ends = replication[RS_ENDS]
    hw = high_watermark(
        current=replication[RS_HW],
        leader_end=len(partition[P_LOG]),
        in_sync_ends=(ends[r] for r in in_sync_followers(replication)),
    )
    waiting: list[Tup] = []
    sent: list[Tup] = []
    for item in replication[RS_PURGATORY]:
        required, answer, request = item
        result = delayed_produce_result(
            high_watermark=hw,
            required_offset=required,
            in_sync=isr_size(replication),
            min_insync_replicas=m.knobs.min_insync_replicas,
        )
        if result is None:
            waiting.append(item)
        else:
            sent.append(complete(answer, request, int(result)))
    replication = replace(replication, RS_HW, hw)
    replication = replace(replication, RS_PURGATORY, tuple(waiting))
    return replace(partition, P_REPLICATION, replication), tuple(sent)


def complete(answer: Tup, request: Tup, error: int) -> Tup:
    """A waiting append's outcome: its answer with NONE; with an error, a Produce's answer
    carries it (the client retries: Sender.canRetry), a marker is sent again (the coordinator
    retries NOT_LEADER_OR_FOLLOWER and NOT_ENOUGH_REPLICAS*:
    TransactionMarkerRequestCompletionHandler), which is the same as its answer followed by
    the retry."""
    if error == NONE:
        return answer
    if answer[M_KIND] == M_PRODUCE_RESPONSE:
        return replace(replace(answer, PRR_ERROR, error), PRR_OFFSET, -1)
    return request


def answer_append(
    m: KafkaEosModel,
    partition: Tup,
    offset: int,
    answer: Tup,
    request: Tup,
    *,
    acks_all: bool = False,
) -> tuple[Tup, tuple[Tup, ...]]:
    """After a leader appended (or found a duplicate) at ``offset``: the high watermark moves
    if it can, and the answer goes out, or waits in the purgatory for the high watermark to
    pass ``offset`` (acks=all on a replicated partition). (partition, messages to send)."""
    if not partition[P_REPLICATION]:
        return partition, (answer,)
    partition, sent = advance(m, partition)
    replication = partition[P_REPLICATION]
    waits = acks_all or (request[M_KIND] == M_PRODUCE and m.knobs.acks == ACKS_ALL)
    if not waits:
        return partition, (*sent, answer)
    result = delayed_produce_result(
        high_watermark=replication[RS_HW],
        required_offset=offset + 1,
        in_sync=isr_size(replication),
        min_insync_replicas=m.knobs.min_insync_replicas,
    )
    if result is not None:
        return partition, (*sent, complete(answer, request, int(result)))
    purgatory = tuple(sorted((*replication[RS_PURGATORY], (offset + 1, answer, request))))
    return replace(partition, P_REPLICATION, replace(replication, RS_PURGATORY, purgatory)), sent
