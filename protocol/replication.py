"""The replication rules of a Kafka partition, written once for the model and the reference.

A partition has replicas on several brokers: a leader, which appends, and followers, which
fetch from it. These functions are Kafka's decisions about them, on plain integers and tuples:

- the high watermark (``Partition.maybeIncrementLeaderHW``),
- whether a follower is in sync (``Partition.isFollowerInSync``, ``maybeShrinkIsr``),
- where a follower truncates after a leader change, from the leader-epoch caches
  (KIP-101 / KIP-279: ``LeaderEpochFileCache.endOffsetFor``, OffsetsForLeaderEpoch),
- which replica a leader election picks (``PartitionLeaderElectionAlgorithms``),
- when an ``acks=all`` Produce is refused or answered (``Partition.appendRecordsToLeader``,
  ``Partition.checkEnoughReplicasReachOffset``, ``DelayedProduce``).

A leader-epoch cache is a tuple of ``(leader_epoch, start_offset)`` pairs in increasing order:
the first offset each leader epoch wrote (``LeaderEpochFileCache``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

from kafka_eos.protocol.errors import ErrorCode

#: acks=all (Kafka writes it -1): the leader answers once every in-sync replica has the batch.
ACKS_ALL = -1
#: acks=1: the leader answers once it appended the batch to its own log.
ACKS_LEADER = 1

EpochCache = tuple[tuple[int, int], ...]
#: A replica's name: its index in the model, a broker id in the reference.
ReplicaId = TypeVar("ReplicaId", bound=Hashable)


def high_watermark(*, current: int, leader_end: int, in_sync_ends: Iterable[int]) -> int:
    """The leader's high watermark after a follower fetched or the ISR changed: the lowest log
    end offset among the leader and the in-sync followers, never moving back
    (Partition.maybeIncrementLeaderHW). A follower whose log end the leader does not know yet
    (-1, e.g. right after an election) holds it where it is."""
    candidate = min((leader_end, *in_sync_ends))
    return max(current, candidate)


def follower_in_sync(*, follower_end: int, high_watermark: int, leader_epoch_start: int) -> bool:
    """Whether a follower caught up enough to join the ISR (Partition.isFollowerInSync): its log
    end reached the high watermark and the first offset of the leader's current epoch."""
    return follower_end >= high_watermark and follower_end >= leader_epoch_start


def follower_lagging(*, follower_end: int, leader_end: int) -> bool:
    """Whether a follower may be removed from the ISR (Partition.maybeShrinkIsr): it has not
    caught up to the leader's log end for replica.lag.time.max.ms (time is not modelled: any
    follower behind the leader may be the one that timed out)."""
    return follower_end < leader_end


def end_offset_for(cache: EpochCache, epoch: int, log_end: int) -> tuple[int, int]:
    """LeaderEpochFileCache.endOffsetFor: (epoch, the offset where it ended) for the epoch
    asked. The latest epoch ends at ``log_end``; an older one at the start of the next epoch
    in ``cache``, named by the largest epoch not above the one asked, or by the one asked when
    the cache holds none that old (its records are gone: the start of the first later epoch).
    (-1, -1), UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET, for an empty cache or an epoch above
    every one in it."""
    if not cache:
        return -1, -1
    if cache[-1][0] == epoch:
        return epoch, log_end
    later = [index for index, (entry_epoch, _) in enumerate(cache) if entry_epoch > epoch]
    if not later:
        return -1, -1
    higher = later[0]
    floor = cache[higher - 1][0] if higher > 0 else epoch
    return floor, cache[higher][1]


def truncation_offset(
    *,
    follower_cache: EpochCache,
    follower_end: int,
    follower_high_watermark: int,
    leader_cache: EpochCache,
    leader_end: int,
) -> int:
    """Where a follower truncates its log before fetching from a new leader (KIP-101, with
    KIP-279's loop; AbstractFetcherThread.maybeTruncate and getOffsetTruncationState): it asks
    the leader for the end offset of its latest epoch (OffsetsForLeaderEpoch); if the leader
    answers for an older epoch the follower does not have, it truncates to its own end of the
    largest epoch below that one and asks again, until both name the same epoch; then it
    truncates to the smaller of the two end offsets. A follower with no epoch at all, or whose
    epoch the leader cannot place (UNDEFINED_EPOCH_OFFSET), truncates to ITS OWN high
    watermark, the offset its fetcher started from (truncateToHighWatermark; ReplicaManager
    makeFollowers' initial fetch offset). A leader epoch the follower cannot place (None from
    UnifiedLog.endOffsetForEpoch) leaves it at the leader's end offset."""
    cache, end = follower_cache, follower_end
    while True:
        if not cache:
            return min(follower_high_watermark, end)
        leader_epoch, leader_offset = end_offset_for(leader_cache, cache[-1][0], leader_end)
        if leader_offset < 0:
            return min(follower_high_watermark, end)
        follower_epoch, follower_offset = end_offset_for(cache, leader_epoch, end)
        if follower_offset < 0:
            return min(leader_offset, end)
        if follower_epoch == leader_epoch:
            return min(leader_offset, follower_offset, end)
        # an intermediate truncation (LeaderEpochFileCache.truncateFromEnd), then ask again
        end = min(end, follower_offset)
        cache = tuple(entry for entry in cache if entry[1] < end)


def fetched_epoch_cache(
    cache: EpochCache, leader_cache: EpochCache, cut: int, end: int
) -> EpochCache:
    """A follower's epoch cache after it truncated to ``cut`` (LeaderEpochFileCache
    .truncateFromEnd) and appended the leader's offsets ``cut``..``end``: each fetched batch
    assigns its leader epoch, and LeaderEpochFileCache.assign keeps an epoch's first offset."""
    kept = [(epoch, start) for epoch, start in cache if start < cut]
    for index, (epoch, start) in enumerate(leader_cache):
        following = leader_cache[index + 1][1] if index + 1 < len(leader_cache) else end
        first = max(start, cut)
        if first < min(following, end) and (not kept or epoch > kept[-1][0]):
            kept.append((epoch, first))
    return tuple(kept)


def follower_high_watermark(*, leader_high_watermark: int, follower_end: int) -> int:
    """The high watermark a follower keeps after a fetch: the leader's, as the fetch response
    carries it (read before this fetch moved it), cut to the follower's log end
    (ReplicaFetcherThread.processPartitionData -> UnifiedLog.updateHighWatermark, which may
    also lower it: a new leader may know less than the old one did)."""
    return min(leader_high_watermark, follower_end)


def elected_high_watermark(*, own_high_watermark: int, new_leader_end: int) -> int:
    """The high watermark a newly elected leader starts from: the one it kept as a follower
    (Partition.makeLeader does not take its predecessor's; it moves only in
    maybeIncrementLeaderHW, once the followers' log ends are known again), never past its
    log end."""
    return min(own_high_watermark, new_leader_end)


def elect_leader(
    *,
    assignment: Sequence[ReplicaId],
    in_sync: Iterable[ReplicaId],
    live: Iterable[ReplicaId],
    unclean: bool,
) -> tuple[ReplicaId, bool] | None:
    """PartitionLeaderElectionAlgorithms.offlinePartitionLeaderElection: the first live
    replica in assignment order that is in the ISR; if none and unclean election is allowed
    (unclean.leader.election.enable), the first live replica at all. (replica, clean), or None
    when the partition stays offline."""
    in_sync_set, live_set = set(in_sync), set(live)
    for replica in assignment:
        if replica in live_set and replica in in_sync_set:
            return replica, True
    if unclean:
        for replica in assignment:
            if replica in live_set:
                return replica, False
    return None


def produce_refusal(*, acks: int, in_sync: int, min_insync_replicas: int) -> ErrorCode | None:
    """Partition.appendRecordsToLeader: with acks=all a leader whose ISR is smaller than
    min.insync.replicas refuses the batch before appending it (NOT_ENOUGH_REPLICAS)."""
    if acks == ACKS_ALL and in_sync < min_insync_replicas:
        return ErrorCode.NOT_ENOUGH_REPLICAS
    return None


def held_produce_refusal(*, still_leads: bool) -> ErrorCode | None:
    """ReplicaManager.handleProduceAppend's postVerificationCallback for a Produce the leader
    held across KIP-890's verification round trip, once the coordinator answered NONE: it calls
    appendRecords, whose Partition.appendRecordsToLeader refuses NOT_LEADER_OR_FOLLOWER on a
    broker that lost its leadership meanwhile. A failover does not stop the round trip (the
    coordinator may still add the partition), and an error answer reaches the producer before
    this check (the callback's error branch)."""
    return None if still_leads else ErrorCode.NOT_LEADER_OR_FOLLOWER


def delayed_produce_result(
    *, high_watermark: int, required_offset: int, in_sync: int, min_insync_replicas: int
) -> ErrorCode | None:
    """Partition.checkEnoughReplicasReachOffset for an acks=all append waiting in the produce
    purgatory (DelayedProduce): None while the high watermark has not passed
    ``required_offset`` (the batch's last offset + 1); then NONE, or
    NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below min.insync.replicas meanwhile."""
    if high_watermark < required_offset:
        return None
    if in_sync < min_insync_replicas:
        return ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
    return ErrorCode.NONE


__all__ = [
    "ACKS_ALL",
    "ACKS_LEADER",
    "EpochCache",
    "delayed_produce_result",
    "elect_leader",
    "elected_high_watermark",
    "end_offset_for",
    "fetched_epoch_cache",
    "follower_high_watermark",
    "follower_in_sync",
    "follower_lagging",
    "held_produce_refusal",
    "high_watermark",
    "produce_refusal",
    "truncation_offset",
]
