"""Replicated data partitions (workload ``replicas`` above 1): followers fetch from the leader,
the leader shrinks its ISR, and a failed leader is replaced by an elected replica.

Kafka: ``ReplicaFetcherThread`` / ``Partition.updateFollowerFetchState`` and
``maybeExpandIsr`` (a follower fetch, with the truncation of KIP-101/279 first),
``Partition.maybeShrinkIsr``, the controller's ``PartitionLeaderElectionAlgorithms`` with
``Partition.makeLeader`` / ``makeFollower`` and ``UnifiedLog.loadProducerState``. The rules
themselves (high watermark, truncation offset, ISR membership, election) are
protocol/replication.py's, shared with the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.replication import (
    elect_leader,
    elected_high_watermark,
    fetched_epoch_cache,
    follower_high_watermark,
    follower_in_sync,
    follower_lagging,
    truncation_offset,
)

from .codes import DEPOSED, RESTARTED
from .layout import (
    F_LEADER_FAILOVERS,
    K_METADATA,
    M_KIND,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    M_VERIFY,
    M_VERIFY_RESPONSE,
    P_LOG,
    P_REPLICATION,
    PR_PARTITION,
    PT_REPLY,
    RS_CACHES,
    RS_ENDS,
    RS_HW,
    RS_HWS,
    RS_ISR,
    RS_LEADER,
    RS_LEADER_EPOCH,
    RS_LOGS,
    RS_PURGATORY,
    S_BUDGET,
    S_COORDINATOR,
    S_NETWORK,
    S_PARTITIONS,
    T_PENDING,
    VQ_DEPOSED,
    VQ_PARTITION,
    VR_DEPOSED,
    Tup,
    add_messages,
    replace,
    replace_many,
)
from .leaders import rebuild_producer_state
from .purgatory import advance, complete
from .registry import Action, Step
from .schema import REPLICATION

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

_NOT_LEADER: Final = int(ErrorCode.NOT_LEADER_OR_FOLLOWER)


def initial_replication(replicas: int) -> Tup:
    """A new partition: replica 0 leads in epoch 0 (its epoch cache starts there), every
    replica in the ISR, nothing written, every high watermark 0."""
    return REPLICATION.make(
        leader=0,
        leader_epoch=0,
        isr=(1 << replicas) - 1,
        high_watermark=0,
        follower_log_ends=(0,) * replicas,
        epoch_caches=(((0, 0),), *((),) * (replicas - 1)),
        follower_logs=((),) * replicas,
        waiting_answers=(),
        follower_high_watermarks=(-1, *(0,) * (replicas - 1)),
    )


def _with_partition(state: Tup, part: int, partition: Tup, sent: tuple[Tup, ...]) -> Tup:
    network = add_messages(state[S_NETWORK], *sent) if sent else state[S_NETWORK]
    partitions = replace(state[S_PARTITIONS], part, partition)
    return replace_many(state, (S_PARTITIONS, partitions), (S_NETWORK, network))


def _replicated(state: Tup) -> Iterator[tuple[int, Tup, Tup]]:
    for part, partition in enumerate(state[S_PARTITIONS]):
        replication = partition[P_REPLICATION]
        if replication:
            yield part, partition, replication


def _followers(replication: Tup) -> range:
    return range(len(replication[RS_LOGS]))


# ---------------------------------------------------------------------- FollowerFetch
def fetching_followers(m: KafkaEosModel, state: Tup) -> Iterator[tuple[int, int]]:
    """A follower whose fetch changes something: its log differs from the leader's, the
    leader does not know its log end (a fetch tells it), it is out of the ISR, or its high
    watermark is not the leader's (cut to its log end) yet."""
    for part, partition, replication in _replicated(state):
        leader, log = replication[RS_LEADER], partition[P_LOG]
        for replica in _followers(replication):
            if replica == leader:
                continue
            if (
                replication[RS_LOGS][replica] != log
                or replication[RS_ENDS][replica] != len(replication[RS_LOGS][replica])
                or not replication[RS_ISR] >> replica & 1
                or replication[RS_HWS][replica]
                != follower_high_watermark(
                    leader_high_watermark=replication[RS_HW], follower_end=len(log)
                )
            ):
                yield part, replica


def follower_fetch(m: KafkaEosModel, state: Tup, args: tuple[int, int]) -> tuple[Step, Tup]:
    """ReplicaFetcherThread: the follower truncates and fetches the leader's entries from
    there (_fetched); the leader takes the fetch offset as the follower's log end
    (_after_fetch) and moves the high watermark, releasing the answers it completes."""
    part, replica = args
    partition = state[S_PARTITIONS][part]
    replication = partition[P_REPLICATION]
    cut, fetched, cache = _fetched(replication, partition[P_LOG], replica)
    replication = _after_fetch(replication, replica, cut, fetched, cache)
    partition, sent = advance(m, replace(partition, P_REPLICATION, replication))
    step = Step(("FollowerFetch", (m.partition_names[part], replica, cut, len(fetched))))
    return step, _with_partition(state, part, partition, sent)


def _fetched(replication: Tup, log: Tup, replica: int) -> tuple[int, Tup, Tup]:
    """The follower's side (ReplicaFetcherThread.truncate, then processPartitionData): it
    truncates where the leader-epoch rule says (KIP-101/279, falling back to its own high
    watermark) and appends the leader's entries beyond that fetch offset. Returns the fetch
    offset, the follower's new log and its new leader-epoch cache."""
    caches, leader = replication[RS_CACHES], replication[RS_LEADER]
    own = replication[RS_LOGS][replica]
    cut = truncation_offset(
        follower_cache=caches[replica],
        follower_end=len(own),
        follower_high_watermark=replication[RS_HWS][replica],
        leader_cache=caches[leader],
        leader_end=len(log),
    )
    cache = fetched_epoch_cache(caches[replica], caches[leader], cut, len(log))
    return cut, own[:cut] + log[cut:], cache


def _after_fetch(replication: Tup, replica: int, cut: int, fetched: Tup, cache: Tup) -> Tup:
    """The leader's side (Partition.updateFollowerFetchState, maybeExpandIsr): it learns the
    follower's log end from the fetch offset (what this fetch appends it learns on the next
    one) and takes it into the ISR once in sync; the follower keeps the high watermark the
    response carried (read before this fetch moved it: Partition.fetchRecords reads, then
    updates the follower's state), cut to its log end."""
    isr = replication[RS_ISR]
    epoch_start = replication[RS_CACHES][replication[RS_LEADER]][-1][1]
    if follower_in_sync(
        follower_end=cut, high_watermark=replication[RS_HW], leader_epoch_start=epoch_start
    ):
        isr |= 1 << replica
    follower_hw = follower_high_watermark(
        leader_high_watermark=replication[RS_HW], follower_end=len(fetched)
    )
    return REPLICATION.make(
        leader=replication[RS_LEADER],
        leader_epoch=replication[RS_LEADER_EPOCH],
        isr=isr,
        high_watermark=replication[RS_HW],
        follower_log_ends=replace(replication[RS_ENDS], replica, cut),
        epoch_caches=replace(replication[RS_CACHES], replica, cache),
        follower_logs=replace(replication[RS_LOGS], replica, fetched),
        waiting_answers=replication[RS_PURGATORY],
        follower_high_watermarks=replace(replication[RS_HWS], replica, follower_hw),
    )


# ---------------------------------------------------------------------- ShrinkIsr
def lagging_followers(m: KafkaEosModel, state: Tup) -> Iterator[tuple[int, int]]:
    """An in-sync follower behind the leader's log end (it may have timed out:
    replica.lag.time.max.ms is not modelled as time)."""
    for part, partition, replication in _replicated(state):
        leader, isr, ends = replication[RS_LEADER], replication[RS_ISR], replication[RS_ENDS]
        for replica in _followers(replication):
            lagging = follower_lagging(follower_end=ends[replica], leader_end=len(partition[P_LOG]))
            if replica != leader and isr >> replica & 1 and lagging:
                yield part, replica


def shrink_isr(m: KafkaEosModel, state: Tup, args: tuple[int, int]) -> tuple[Step, Tup]:
    """Partition.maybeShrinkIsr: the follower leaves the ISR; the high watermark may move
    (and answers waiting for that follower are released, NOT_ENOUGH_REPLICAS_AFTER_APPEND if
    the ISR is now below min.insync.replicas)."""
    part, replica = args
    partition = state[S_PARTITIONS][part]
    replication = partition[P_REPLICATION]
    replication = replace(replication, RS_ISR, replication[RS_ISR] & ~(1 << replica))
    partition, sent = advance(m, replace(partition, P_REPLICATION, replication))
    step = Step(("ShrinkIsr", (m.partition_names[part], replica)))
    return step, _with_partition(state, part, partition, sent)


# ---------------------------------------------------------------------- LeaderFailover
def electable(m: KafkaEosModel, state: Tup) -> Iterator[tuple[int, int, bool, bool]]:
    """The leader fails and the controller can elect another replica: the first live one in
    the ISR, or with unclean_leader_election the first live one at all. The old leader's
    broker stays up, or, while it holds a Produce for its verification, may have restarted
    (the one difference a restart makes: _deposed)."""
    if not state[S_BUDGET][F_LEADER_FAILOVERS]:
        return
    for part, _, replication in _replicated(state):
        leader = replication[RS_LEADER]
        assignment = tuple(_followers(replication))
        isr = replication[RS_ISR]
        chosen = elect_leader(
            assignment=assignment,
            in_sync=(r for r in assignment if isr >> r & 1),
            live=(r for r in assignment if r != leader),
            unclean=m.knobs.unclean_leader_election,
        )
        if chosen is not None:
            yield part, *chosen, False
            if _holds_verifications(state, part):
                yield part, *chosen, True


def leader_failover(
    m: KafkaEosModel, state: Tup, args: tuple[int, int, bool, bool]
) -> tuple[Step, Tup]:
    """The leader loses its leadership (the controller fenced its broker, or moved the
    leadership) and stays up as a follower; the controller elects ``new`` with the next leader
    epoch (_elected). The new leader rebuilds its producer state and aborted index from its log
    (UnifiedLog.loadProducerState) and has no verification in progress
    (VerificationStateEntry is in memory); what the old leader had not appended is refused
    (_refused_by_old_leader), but for the Produce requests it holds for their verification,
    whose round trip goes on (_deposed; ``restarted``: the broker restarted)."""
    part, new, clean, restarted = args
    partition = state[S_PARTITIONS][part]
    replication = partition[P_REPLICATION]
    old, log = replication[RS_LEADER], replication[RS_LOGS][new]
    elected = _elected(replication, partition[P_LOG], new, clean)
    network, refused = _refused_by_old_leader(state[S_NETWORK], part, replication)
    network, coordinator, failed = _deposed(network, state[S_COORDINATOR], part, restarted)
    producers, aborted = rebuild_producer_state(m, log)
    promoted, released = advance(m, (log, producers, aborted, elected, ((),) * m.pid_count))
    budget = state[S_BUDGET]
    next_state = replace_many(
        state,
        (S_PARTITIONS, replace(state[S_PARTITIONS], part, promoted)),
        (S_NETWORK, add_messages(network, *refused, *failed, *released)),
        (S_COORDINATOR, coordinator),
        (S_BUDGET, replace(budget, F_LEADER_FAILOVERS, budget[F_LEADER_FAILOVERS] - 1)),
    )
    election = "clean" if clean else "unclean"
    epoch = elected[RS_LEADER_EPOCH]
    broker = "restarted" if restarted else "up"
    step = Step(("LeaderFailover", (m.partition_names[part], old, new, epoch, election, broker)))
    return step, next_state


def _elected(replication: Tup, leader_log: Tup, new: int, clean: bool) -> Tup:
    """The replicas after the election (Partition.makeLeader / makeFollower): a clean one
    keeps the rest of the ISR, an unclean one leaves the new leader alone in it. The new
    leader starts its epoch at its log end, starts from the high watermark it kept as a
    follower, and does not know its followers' log ends yet (it moves the high watermark only
    as they fetch, or at once alone in the ISR). The old leader comes back as a follower with
    its log and high watermark as they were; it truncates when it fetches."""
    old, logs = replication[RS_LEADER], replication[RS_LOGS]
    epoch = replication[RS_LEADER_EPOCH] + 1
    new_end = len(logs[new])
    caches = replication[RS_CACHES]
    return REPLICATION.make(
        leader=new,
        leader_epoch=epoch,
        isr=replication[RS_ISR] & ~(1 << old) if clean else 1 << new,
        high_watermark=elected_high_watermark(
            own_high_watermark=replication[RS_HWS][new], new_leader_end=new_end
        ),
        follower_log_ends=(-1,) * len(logs),
        epoch_caches=replace(caches, new, (*caches[new], (epoch, new_end))),
        follower_logs=replace(replace(logs, old, leader_log), new, ()),
        waiting_answers=(),
        follower_high_watermarks=replace(
            replace(replication[RS_HWS], old, replication[RS_HW]), new, -1
        ),
    )


def _refused_by_old_leader(network: Tup, part: int, replication: Tup) -> tuple[Tup, list[Tup]]:
    """The network without the requests the old leader had not appended, and the answers it
    gets instead: NOT_LEADER_OR_FOLLOWER for its purgatory's answers and the Produce requests
    already sent to it (the producer refreshes its metadata and retries); its waiting markers
    go out again to the new leader (the coordinator's retry: purgatory.complete)."""
    refused = [
        complete(answer, request, _NOT_LEADER) for _, answer, request in replication[RS_PURGATORY]
    ]
    kept = []
    for message in network:
        if message[M_KIND] == M_PRODUCE and message[PR_PARTITION] == part:
            _, proc, _, _, p_epoch, seq, rec, _, connection = message
            response = (M_PRODUCE_RESPONSE, proc, part, p_epoch, seq, rec, _NOT_LEADER, -1)
            refused.append((*response, connection))
        else:
            kept.append(message)
    return tuple(kept), refused


def _deposed(
    network: Tup, coordinator: Tup, part: int, restarted: bool
) -> tuple[Tup, Tup, list[Tup]]:
    """The old leader's verifications of the Produce requests it holds go on: its requests to
    the coordinator, the answers in flight and those waiting on the coordinator's write of a
    version-2 add become what :func:`deposed_message` makes of them. Such a Produce no longer
    holds its connection: the producer's next requests go to the new leader. ``restarted``:
    the held Produce requests failed, their connection closed (answered
    NOT_LEADER_OR_FOLLOWER, which a client handles as it does a disconnect: a retriable error,
    the batch re-sent: Sender.handleProduceResponse); the failed answers are returned too."""
    kept: list[Tup] = []
    changed: list[Tup] = []
    failed: list[Tup] = []
    for message in network:
        after = deposed_message(message, part, restarted)
        unchanged = after is message  # (named: an `is` test would narrow message for mypy)
        if unchanged:
            kept.append(message)
            continue
        if restarted:
            failed.append(_failed_produce(message))
        if after is not None:
            changed.append(after)
    metadata = []
    for entry in coordinator[K_METADATA]:
        pending = entry[T_PENDING]
        reply = deposed_message(pending[PT_REPLY], part, restarted) if pending else None
        if pending and reply is not pending[PT_REPLY]:
            if restarted:
                failed.append(_failed_produce(pending[PT_REPLY]))
            entry = replace(entry, T_PENDING, replace(pending, PT_REPLY, reply or ()))
        metadata.append(entry)
    if len(kept) < len(network):
        network = add_messages(tuple(kept), *changed)
    return network, replace(coordinator, K_METADATA, tuple(metadata)), failed


def deposed_message(message: Tup, part: int, restarted: bool) -> Tup | None:
    """``message`` once ``part``'s leader lost its leadership, if it is a verification message
    of a Produce that leader holds (``message`` itself otherwise): marked DEPOSED (a NONE
    answer is refused NOT_LEADER_OR_FOLLOWER: verification.append_verified); if its broker
    restarted, a request is marked RESTARTED (it still reaches the coordinator, which answers
    nobody) and an answer is lost (None)."""
    if not held_for(message, part):
        return message
    if not restarted:
        return replace(message, _deposed_position(message), DEPOSED)
    if message[M_KIND] == M_VERIFY:
        return replace(message, VQ_DEPOSED, RESTARTED)
    return None


def _holds_verifications(state: Tup, part: int) -> bool:
    """Whether the leader of ``part`` holds a Produce for its verification: a verification
    message of it in flight (they sort last in the network) or owed after a write."""
    for message in reversed(state[S_NETWORK]):
        if message[M_KIND] < M_VERIFY:
            break
        if held_for(message, part):
            return True
    pending = (entry[T_PENDING] for entry in state[S_COORDINATOR][K_METADATA])
    return any(held_for(transition[PT_REPLY], part) for transition in pending if transition)


def held_for(message: Tup, part: int) -> bool:
    """Whether ``message`` is a verification message of a Produce ``part``'s leader holds."""
    if not message or message[M_KIND] not in (M_VERIFY, M_VERIFY_RESPONSE):
        return False
    return bool(message[VQ_PARTITION] == part and not message[_deposed_position(message)])


def _deposed_position(message: Tup) -> int:
    """Where a verification message (request or answer) keeps ``deposed``."""
    return VQ_DEPOSED if message[M_KIND] == M_VERIFY else VR_DEPOSED


def _failed_produce(message: Tup) -> Tup:
    """The answer to the Produce a verification message ``message`` carries when its leader's
    broker restarts."""
    _, proc, part, _, epoch, seq, rec, connection, *_ = message
    return (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, _NOT_LEADER, -1, connection)


def _show_failover(args: tuple[Any, ...]) -> str:
    partition, old, new, epoch, election, broker = args
    restarted = ",restarted" if broker == "restarted" else ""
    return f"{partition},r{old}->r{new},le{epoch},{election}{restarted}"


REPLICATION_ACTIONS = (
    Action(
        name="FollowerFetch",
        role="leader",
        kafka="ReplicaFetcherThread, Partition.updateFollowerFetchState / maybeExpandIsr",
        params=("partition", "replica", "truncated_to", "log_end"),
        trigger="state",
        needs=("replicas",),
        guard=fetching_followers,
        effect=follower_fetch,
        show=lambda args: f"{args[0]},r{args[1]},truncate@{args[2]},end{args[3]}",
    ),
    Action(
        name="ShrinkIsr",
        role="leader",
        kafka="Partition.maybeShrinkIsr",
        params=("partition", "replica"),
        trigger="state",
        needs=("replicas",),
        guard=lagging_followers,
        effect=shrink_isr,
        show=lambda args: f"{args[0]},r{args[1]}",
    ),
    Action(
        name="LeaderFailover",
        role="leader",
        kafka="PartitionLeaderElectionAlgorithms, Partition.makeLeader, "
        "UnifiedLog.loadProducerState",
        params=("partition", "old_leader", "new_leader", "leader_epoch", "election", "old_broker"),
        trigger="state",
        needs=("replicas",),
        guard=electable,
        effect=leader_failover,
        outcome="election",
        outcomes=("clean", "unclean"),
        budget="leader_failovers",
        show=_show_failover,
    ),
)
