"""A partition replicated on several brokers of the simulated cluster, sans-I/O.

Each replica is a :class:`~kafka_eos.reference.partition.Partition` of its own, on its own
broker: its own log, producer state and aborted index, and its own leader-epoch cache. The
leader appends; a follower gets records only by fetching them from the leader
(:meth:`ReplicaSet.follower_fetch`); nothing is shared between replicas but what a fetch copies.

Kafka's classes, and what of them lives here:

- ``Partition`` on the leader: the ISR, the followers' log end offsets as their fetches tell
  them (``updateFollowerFetchState``), ``maybeExpandIsr``, ``maybeShrinkIsr``,
  ``maybeIncrementLeaderHW``; ``makeLeader`` (a new leader epoch starting at the new leader's
  log end, followers' log ends unknown until they fetch) and ``makeFollower``;
- ``ReplicaFetcherThread`` / ``AbstractFetcherThread`` on a follower: before fetching from a new
  leader it truncates where the leader-epoch caches say (KIP-101 / KIP-279,
  ``OffsetsForLeaderEpoch``, ``UnifiedLog.truncateTo``, which rebuilds the producer state), then
  appends the leader's batches as they are (``UnifiedLog.appendAsFollower``);
- the controller's ``PartitionLeaderElectionAlgorithms``: clean from the ISR, unclean from any
  live replica when ``unclean.leader.election.enable`` allows.

The decisions themselves (high watermark, ISR membership, truncation offset, election, the
epoch cache a fetch leaves) are protocol/replication.py's, which the model applies too.

Inspectable state: ``assignment`` (broker ids, in assignment order), ``replicas`` (broker id ->
:class:`Replica`), ``leader``, ``leader_epoch``, ``isr`` (broker ids), ``follower_ends`` (broker
id -> the log end the leader last learned from its fetch; -1 unknown), ``offline`` (brokers
down), ``high_watermark`` (the leader's).
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_eos.protocol.replication import (
    EpochCache,
    elect_leader,
    elected_high_watermark,
    fetched_epoch_cache,
    follower_high_watermark,
    follower_in_sync,
    follower_lagging,
    high_watermark,
    truncation_offset,
)
from kafka_eos.reference.messages import TopicPartition
from kafka_eos.reference.partition import Partition


@dataclass(slots=True)
class Replica:
    """One broker's copy of the partition."""

    broker: str
    partition: Partition
    #: LeaderEpochFileCache: (leader epoch, first offset it wrote), in increasing order
    epoch_cache: EpochCache = ()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one follower fetch did: where the follower truncated, its log end after it."""

    truncated_to: int
    log_end: int


class ReplicaSet:
    """The replicas of one partition, in assignment order; the first (or ``leader``) leads in
    epoch 0 (its epoch cache starts there); the replicas whose log reaches the leader's log
    end start in the ISR (all of a new topic's; after a restart from stored logs, the ones
    that had caught up)."""

    def __init__(
        self, tp: TopicPartition, replicas: list[Replica], *, leader: str | None = None
    ) -> None:
        if not replicas:
            raise ValueError("a partition needs at least one replica")
        self.tp = tp
        self.assignment = tuple(replica.broker for replica in replicas)
        self.replicas = {replica.broker: replica for replica in replicas}
        self.leader = self.assignment[0] if leader is None else leader
        for replica in replicas:  # LeaderEpochFileCache, from the stored batches' epochs
            replica.epoch_cache = stored_epoch_cache(replica.partition)
        stored = self.replicas[self.leader].epoch_cache
        ends = {
            broker: replica.partition.log_end_offset for broker, replica in self.replicas.items()
        }
        # in sync: the replicas holding the leader's log (its epochs, up to its log end)
        self.isr = {
            broker
            for broker, end in ends.items()
            if end >= ends[self.leader] and self.replicas[broker].epoch_cache == stored
        }
        self.follower_ends = ends
        # a new topic's leader starts epoch 0; a restarted one the epoch after its stored ones
        self.leader_epoch = stored[-1][0] + 1 if stored else 0
        self._start_epoch(self.replicas[self.leader])
        self.offline: set[str] = set()

    # -- reading ---------------------------------------------------------------------------

    @property
    def leader_partition(self) -> Partition:
        return self.replicas[self.leader].partition

    @property
    def high_watermark(self) -> int:
        return self.leader_partition.high_watermark

    @property
    def available(self) -> bool:
        """Whether the partition has a live leader (Kafka: leader -1 while offline)."""
        return self.leader not in self.offline

    def followers(self) -> tuple[str, ...]:
        return tuple(broker for broker in self.assignment if broker != self.leader)

    def in_sync_followers(self) -> tuple[str, ...]:
        return tuple(broker for broker in self.followers() if broker in self.isr)

    def needs_fetch(self, broker: str) -> bool:
        """A fetch by this live follower changes something: its log differs from the
        leader's, the leader does not know its log end yet, it is out of the ISR, or its high
        watermark is not the leader's (cut to its log end) yet."""
        if broker == self.leader or broker in self.offline or not self.available:
            return False
        own, leader_log = self.replicas[broker].partition.log, self.leader_partition.log
        learned = follower_high_watermark(
            leader_high_watermark=leader_log.high_watermark, follower_end=leader_log.log_end_offset
        )
        return (
            own.batches != leader_log.batches
            or self.follower_ends[broker] != own.log_end_offset
            or broker not in self.isr
            or own.high_watermark != learned
        )

    def lagging_followers(self) -> tuple[str, ...]:
        """In-sync followers behind the leader's log end: the ones maybeShrinkIsr may remove
        (replica.lag.time.max.ms is not time here: any of them may be the one timed out)."""
        leader_end = self.leader_partition.log_end_offset
        return tuple(
            broker
            for broker in self.in_sync_followers()
            if follower_lagging(follower_end=self.follower_ends[broker], leader_end=leader_end)
        )

    # -- follower fetch, ISR ---------------------------------------------------------------

    def follower_fetch(self, broker: str) -> FetchResult:
        """One fetch of ``broker`` from the leader: the follower truncates where the
        leader-epoch rule says (falling back to its own high watermark), the leader records
        that fetch offset as the follower's log end (it learns what this fetch appends on the
        next one), takes the follower into the ISR once it caught up (maybeExpandIsr) and moves
        the high watermark; the follower appends the leader's batches from its fetch offset and
        keeps the high watermark the response carried, cut to its log end."""
        if broker == self.leader or broker not in self.replicas:
            raise ValueError(f"{broker} is not a follower of {self.tp}")
        leader, follower = self.replicas[self.leader], self.replicas[broker]
        leader_log, own = leader.partition.log, follower.partition
        # Partition.fetchRecords reads (and so answers with the high watermark) before
        # updateFollowerFetchState moves it
        answered_high_watermark = self.high_watermark
        cut = truncation_offset(
            follower_cache=follower.epoch_cache,
            follower_end=own.log_end_offset,
            follower_high_watermark=own.high_watermark,
            leader_cache=leader.epoch_cache,
            leader_end=leader_log.log_end_offset,
        )
        follower.epoch_cache = fetched_epoch_cache(
            follower.epoch_cache, leader.epoch_cache, cut, leader_log.log_end_offset
        )
        own.truncate_as_follower(cut)
        for batch in leader_log.batches[leader_log.count_below(cut) :]:
            own.append_as_follower(batch)
        self.follower_ends[broker] = cut
        epoch_start = leader.epoch_cache[-1][1]
        if follower_in_sync(
            follower_end=cut, high_watermark=self.high_watermark, leader_epoch_start=epoch_start
        ):
            self.isr.add(broker)
        self.advance_high_watermark()
        own.log.high_watermark = follower_high_watermark(
            leader_high_watermark=answered_high_watermark, follower_end=own.log_end_offset
        )
        return FetchResult(cut, own.log_end_offset)

    def shrink_isr(self, broker: str) -> None:
        """Partition.maybeShrinkIsr: the follower leaves the ISR; the high watermark may move."""
        if broker == self.leader:
            raise ValueError(f"the leader {broker} of {self.tp} cannot leave its ISR")
        self.isr.discard(broker)
        self.advance_high_watermark()

    def advance_high_watermark(self) -> None:
        """Partition.maybeIncrementLeaderHW: the lowest log end of the leader and the in-sync
        followers, never moving back."""
        log = self.leader_partition.log
        log.high_watermark = high_watermark(
            current=log.high_watermark,
            leader_end=log.log_end_offset,
            in_sync_ends=(self.follower_ends[broker] for broker in self.in_sync_followers()),
        )

    # -- election --------------------------------------------------------------------------

    def elect(self, *, unclean: bool, excluding: str | None = None) -> tuple[str, bool] | None:
        """The controller's choice for a new leader among the live replicas (not
        ``excluding``): (broker, clean), or None when the partition stays offline."""
        live = [b for b in self.assignment if b not in self.offline and b != excluding]
        return elect_leader(
            assignment=self.assignment, in_sync=self.isr, live=live, unclean=unclean
        )

    def make_leader(self, new: str, *, clean: bool) -> None:
        """The controller elected ``new`` with the next leader epoch (Partition.makeLeader):
        its epoch starts at its log end; a clean election keeps the rest of the ISR but the
        old leader, an unclean one leaves the new leader alone in it; the new leader does not
        know its followers' log ends until they fetch and starts from the high watermark it
        kept as a follower. It rebuilds its producer state and aborted index from its log
        (UnifiedLog.loadProducerState). The old leader becomes a follower
        (Partition.makeFollower) keeping its log and high watermark; it truncates when it next
        fetches."""
        if new not in self.replicas:
            raise ValueError(f"{new} holds no replica of {self.tp}")
        old = self.leader
        replica = self.replicas[new]
        end = replica.partition.log_end_offset
        hw = elected_high_watermark(
            own_high_watermark=replica.partition.high_watermark, new_leader_end=end
        )
        self.leader_epoch += 1
        self._start_epoch(replica)
        self.isr = (self.isr - {old}) | {new} if clean else {new}
        self.follower_ends = dict.fromkeys(self.assignment, -1)
        self.leader = new
        replica.partition.log.high_watermark = hw
        replica.partition.rebuild_producer_state()

    def _start_epoch(self, replica: Replica) -> None:
        """The leader's epoch starts at its log end: its cache and the epoch its appends
        carry."""
        end = replica.partition.log_end_offset
        replica.epoch_cache = (*replica.epoch_cache, (self.leader_epoch, end))
        replica.partition.leader_epoch = self.leader_epoch


def stored_epoch_cache(partition: Partition) -> EpochCache:
    """The leader-epoch cache of a stored log: each epoch's first offset."""
    cache: list[tuple[int, int]] = []
    for batch in partition.log.batches:
        if not cache or batch.leader_epoch > cache[-1][0]:
            cache.append((batch.leader_epoch, batch.base_offset))
    return tuple(cache)


__all__ = ["FetchResult", "Replica", "ReplicaSet", "stored_epoch_cache"]
