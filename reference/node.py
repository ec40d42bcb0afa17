"""One broker process, sans-I/O: partition leader, transaction coordinator, group coordinator.

    node = BrokerNode(node_id="broker-0", config=BrokerConfig(), clock=clock, storage=None)
    outbounds = node.receive(source, message)   # one request, or a response to one it sent
    outbounds = node.tick()                     # time-driven work at clock.now_ms()
    outbounds = node.replicate()                # only with BrokerConfig(deferred_replication=True)

Every call returns the messages to send, as :class:`Outbound` (destination, message): the
response goes back to ``source``; requests the node itself originates (KIP-890 verification
AddPartitionsToTxn to the transaction coordinator, WriteTxnMarkers to partition leaders) are
addressed to a node id, which on a single node is this node's own id: the driver loops them
back through ``receive``. There are no sockets, threads or real time here.

Replication: a single node is its own only replica. By default an append is replicated at
once (the high watermark reaches the log end before ``receive`` returns); with
``deferred_replication`` the high watermark, produce acknowledgements and the completion of
coordinator transitions wait for the driver's ``replicate()``: this exposes the window in which
a coordinator transition is pending (CONCURRENT_TRANSACTIONS) and in which HW < log end.

The cluster (``BrokerConfig(brokers=N)``, N above 1): the node simulates a cluster of N
brokers, ``broker-0`` .. ``broker-{N-1}`` (:attr:`BrokerNode.broker_ids`; ``node_id`` must be
one of them). Every client topic's partition then has a replica on each broker, each with its
own log, producer state and leader-epoch cache (:class:`~kafka_eos.reference.replication
.ReplicaSet`); followers get records only by fetching them from the leader, acks=all answers
wait for the high watermark (Kafka's produce purgatory), a Produce is refused
NOT_ENOUGH_REPLICAS while the ISR is below min.insync.replicas, and a broker's crash makes the
controller elect new leaders. The internal topics (``__transaction_state``,
``__consumer_offsets``) keep one replica; the coordinators live on one broker
(:meth:`coordinator_of`) and move, with a coordinator failover, when it crashes. This is the
API a transport (the wire server) routes by:

    node = BrokerNode(config=BrokerConfig(brokers=3), storage=storage)
    node.broker_ids                     # ("broker-0", "broker-1", "broker-2")
    node.live_brokers()                 # the ones not crashed, in id order
    node.leader_of(tp)                  # broker id leading tp (where Produce/Fetch go)
    node.coordinator_of(key)            # broker id of the transaction / group coordinator
    node.receive(source, request, at="broker-1")  # a request that arrived at broker-1:
                                        # Produce/Fetch/ListOffsets for a partition broker-1
                                        # does not lead -> NOT_LEADER_OR_FOLLOWER
    node.crash_broker("broker-1")       # leadership moves off it (outbounds to send)
    node.restart_broker("broker-1")     # back as a follower: truncates, catches up
    node.replicate()                    # followers fetch until caught up (the wire calls
                                        # it when idle; done by receive/tick unless deferred)

Inspectable state (plain attributes): ``partitions`` (TopicPartition -> Partition, internal
ones included; a replicated one's is its leader's replica), ``replica_sets`` (TopicPartition ->
ReplicaSet, the replicated ones), ``topics`` (name -> partition count), ``txn_coordinator``,
``group_coordinator``, ``events`` (history events not yet drained), ``pending_verifications``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kafka_eos.errors import InputError
from kafka_eos.protocol.epochs import MAX_PRODUCER_EPOCH
from kafka_eos.protocol.errors import (
    LEADER_RETRIABLE_ERRORS,
    ErrorCode,
    produce_answer_to_verification,
    verification_answer,
)
from kafka_eos.protocol.history import Append, Event, Marker
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.protocol.replication import (
    ACKS_ALL,
    ACKS_LEADER,
    delayed_produce_result,
    held_produce_refusal,
    produce_refusal,
)
from kafka_eos.protocol.topics import (
    CONSUMER_OFFSETS_TOPIC,
    TRANSACTION_STATE_TOPIC,
    is_internal_topic,
    topic_name_problem,
)
from kafka_eos.reference.clock import Clock, VirtualClock
from kafka_eos.reference.group_coordinator import GroupCoordinator
from kafka_eos.reference.log import LogBatch
from kafka_eos.reference.messages import (
    EARLIEST_TIMESTAMP,
    READ_COMMITTED,
    AbortedTransaction,
    AddOffsetsToTxnRequest,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    CreateTopicResult,
    CreateTopicsRequest,
    CreateTopicsResponse,
    EndTxnRequest,
    FetchedBatch,
    FetchRequest,
    FetchResponse,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    HeartbeatRequest,
    InitProducerIdRequest,
    JoinGroupRequest,
    LeaveGroupRequest,
    ListOffsetsRequest,
    ListOffsetsResponse,
    MetadataRequest,
    MetadataResponse,
    OffsetCommitRequest,
    OffsetFetchRequest,
    PartitionMetadata,
    PartitionResult,
    ProduceRequest,
    ProduceResponse,
    SyncGroupRequest,
    TopicMetadata,
    TopicPartition,
    TxnMarkerResult,
    TxnOffsetCommitRequest,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from kafka_eos.reference.partition import Partition
from kafka_eos.reference.producer_state import AppendOrigin, ProducerChecks
from kafka_eos.reference.replication import Replica, ReplicaSet
from kafka_eos.reference.storage import MemoryStorage, Storage, refuse_malformed
from kafka_eos.reference.txn_coordinator import TransactionCoordinator
from kafka_eos.reference.txn_metadata import TxnTransit

BROKER_ID = "broker-0"
TXN_STATE_TOPIC = TRANSACTION_STATE_TOPIC
OFFSETS_TOPIC = CONSUMER_OFFSETS_TOPIC
TOPICS_STREAM = "__topics"
PRODUCER_IDS_STREAM = "__producer_ids"
COORDINATOR_EPOCHS_STREAM = "__coordinator_epochs"
TXN_STATE_PARTITION = TopicPartition(TXN_STATE_TOPIC, 0)
OFFSETS_PARTITION = TopicPartition(OFFSETS_TOPIC, 0)
#: The streams every node keeps besides its topics' partitions.
_BROKER_STREAMS = frozenset(
    {
        TOPICS_STREAM,
        PRODUCER_IDS_STREAM,
        COORDINATOR_EPOCHS_STREAM,
        str(TXN_STATE_PARTITION),
        str(OFFSETS_PARTITION),
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerConfig:
    """The protocol knobs (declared once, in protocol/knobs.py) and the broker's settings."""

    knobs: Knobs = field(default_factory=Knobs)
    #: producer.id.expiration.ms: how long an idle producer's state lives when
    #: knobs.producer_state_expiry is on
    producer_state_expiry_ms: int = 86_400_000
    transaction_max_timeout_ms: int = 900_000  # transaction.max.timeout.ms
    marker_retry_backoff_ms: int = 200  # resend unacknowledged markers after this long
    num_partitions: int = 1  # num.partitions, for auto-created topics
    auto_create_topics: bool = True  # auto.create.topics.enable
    deferred_replication: bool = False  # see the module docstring
    producer_id_block_size: int = 1000  # producer ids are allocated in durable blocks
    #: brokers of the simulated cluster; above 1, every client topic's partition has a replica
    #: on each (replication factor = brokers; see "The cluster" in the module docstring)
    brokers: int = 1
    #: the largest producer epoch (Short.MAX_VALUE); a smaller one stands for it in tests and
    #: model replays (workload max_producer_epoch): the producer id rotates before it
    max_producer_epoch: int = MAX_PRODUCER_EPOCH

    def __post_init__(self) -> None:
        if not 1 <= self.max_producer_epoch <= MAX_PRODUCER_EPOCH:
            raise ValueError(f"max_producer_epoch must be in 1..{MAX_PRODUCER_EPOCH}")
        if self.num_partitions < 1:
            raise ValueError("num_partitions must be at least 1")
        if self.brokers < 1:
            raise ValueError("brokers must be at least 1")
        if self.producer_state_expiry_ms < 1:
            raise ValueError("producer_state_expiry_ms must be at least 1")

    @property
    def producer_checks(self) -> ProducerChecks:
        return ProducerChecks(
            knobs=self.knobs, producer_state_expiry_ms=self.producer_state_expiry_ms
        )


@dataclass(frozen=True, slots=True)
class Outbound:
    destination: str
    message: Any


@dataclass(slots=True)
class PendingVerification:
    """A request held while the coordinator verifies (or, TV2, adds) its partition: ``then``
    continues it with the coordinator's answer and the verification guard."""

    then: Callable[[ErrorCode, int], list[Outbound]]
    guard: int
    #: the connection it travels on: the broker holding the request, and the coordinator's
    connection: frozenset[str] = frozenset()
    #: the replica holding the request, and what the request gets if its broker restarts
    #: (its client's connection closes)
    holder: Partition | None = None
    on_restart: Callable[[], list[Outbound]] | None = None


@dataclass(slots=True)
class _Waiter:
    """An append waiting for the high watermark to pass ``offset`` (Kafka's DelayedProduce in
    the produce purgatory): ``callback`` answers it; ``on_error`` answers it with an error
    when the ISR shrank below min.insync.replicas meanwhile or leadership moved (None: the
    append cannot fail that way, e.g. on an unreplicated internal partition)."""

    tp: TopicPartition
    offset: int
    callback: Callable[[], list[Outbound]]
    on_error: Callable[[ErrorCode], list[Outbound]] | None = None
    request: Any = None  # the request it answers, for inspection (ProduceRequest, markers)


@dataclass(slots=True)
class _Counters:
    correlation_id: int = 0
    guard: int = 0
    next_producer_id: int = 0
    producer_id_block_end: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class BrokerNode:
    def __init__(
        self,
        *,
        node_id: str = BROKER_ID,
        config: BrokerConfig | None = None,
        clock: Clock | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.node_id = node_id
        self.config = config or BrokerConfig()
        brokers = self.config.brokers
        self.broker_ids = (
            (node_id,) if brokers == 1 else tuple(f"broker-{i}" for i in range(brokers))
        )
        if node_id not in self.broker_ids:
            raise ValueError(f"node_id {node_id!r} is none of the cluster's {self.broker_ids}")
        self.replica_sets: dict[TopicPartition, ReplicaSet] = {}
        #: appends to replicated partitions not yet below the high watermark, not yet in the
        #: history (see _record_append)
        self._uncommitted: dict[TopicPartition, list[LogBatch]] = {}
        self.offline_brokers: set[str] = set()
        #: the broker the transaction and group coordinators live on
        self.coordinator_host = node_id
        self.clock: Clock = clock or VirtualClock()
        self.storage: Storage = storage if storage is not None else MemoryStorage()
        self.topics: dict[str, int] = {}
        self.partitions: dict[TopicPartition, Partition] = {}
        self.events: list[Event] = []
        self.pending_verifications: dict[int, PendingVerification] = {}
        #: Fault: retriable errors the next Produce requests are answered with, in order.
        self.produce_refusals: list[ErrorCode] = []
        self._waiters: list[_Waiter] = []
        self._counters = _Counters()
        self.txn_coordinator = TransactionCoordinator(self)
        self.group_coordinator = GroupCoordinator(self)
        self._startup_outbounds = self._load()

    # -- startup: rebuild everything from storage ------------------------------------------------

    def _load(self) -> list[Outbound]:
        storage = self.storage
        with refuse_malformed(storage, COORDINATOR_EPOCHS_STREAM):
            epochs = storage.stream(COORDINATOR_EPOCHS_STREAM).records()
            starts = len([_int_field(record, "epoch") for record in epochs])
        # Requests this node sends to itself may still be in flight from its previous
        # incarnation: number this incarnation's requests in a range of their own, so that a
        # late answer to the old process is never taken for one to the new.
        self._counters.correlation_id = starts << 32
        with refuse_malformed(storage, PRODUCER_IDS_STREAM):
            for record in storage.stream(PRODUCER_IDS_STREAM).records():
                self._counters.next_producer_id = _int_field(record, "block_end")
                self._counters.producer_id_block_end = self._counters.next_producer_id
        with refuse_malformed(storage, TOPICS_STREAM):
            topics = [_stored_topic(record) for record in storage.stream(TOPICS_STREAM).records()]
        self._check_partition_streams(topics)
        for name, count in topics:
            self._open_topic(name, count, load=True)
        for tp in (TXN_STATE_PARTITION, OFFSETS_PARTITION):
            self._open_partition(tp, load=True)
        with refuse_malformed(storage, str(OFFSETS_PARTITION)):
            for batch in self.partitions[OFFSETS_PARTITION].log.batches:
                self.group_coordinator.replay(batch)
        with refuse_malformed(storage, str(TXN_STATE_PARTITION)):
            out = self._become_coordinator()
        self._check_producer_ids()
        return out

    def _check_partition_streams(self, topics: list[tuple[str, int]]) -> None:
        """Every partition of a stored topic has its stream, and every stream holding records
        belongs to a stored topic: a data dir that lost a partition log or topic records is
        refused, never started with less data. (create_topic opens the partitions before it
        writes the topic record, so a crash in between leaves only empty streams behind.)"""
        storage = self.storage
        existing = set(storage.stream_names())
        expected = {
            stream
            for name, count in topics
            for i in range(count)
            for stream in self._replica_streams(TopicPartition(name, i))
        }
        missing = sorted(expected - existing)
        if missing:
            raise InputError(
                f"{storage.location(missing[0])}: missing, but "
                f"{storage.location(TOPICS_STREAM)} names its topic: refusing to start"
            )
        orphans = sorted(existing - expected - _BROKER_STREAMS)
        holding = [name for name in orphans if storage.stream(name).records()]
        if holding:
            raise InputError(
                f"{storage.location(TOPICS_STREAM)}: names no topic of stream {holding[0]}, "
                "which holds records: the topic log lost records: refusing to start"
            )

    def _check_producer_ids(self) -> None:
        """Producer ids are handed out from blocks the producer-id log records: every id in
        use must lie below the last block's end, or an emptied or cut producer-id log would
        hand an id out a second time (to another transactional.id)."""
        in_use = {pid for p in self.partitions.values() for pid in p.producers.entries}
        for metadata in self.txn_coordinator.transactions.values():
            in_use |= {
                metadata.producer_id,
                metadata.previous_producer_id,
                metadata.next_producer_id,
            }
        highest = max(in_use, default=-1)
        end = self._counters.producer_id_block_end
        if highest >= end:
            raise InputError(
                f"{self.storage.location(PRODUCER_IDS_STREAM)}: allocates producer ids below "
                f"{end}, but producer id {highest} is in use: the producer-id log lost "
                "records: refusing to start"
            )

    def _become_coordinator(self) -> list[Outbound]:
        """Take the transaction log's leadership at a new coordinator epoch and load it."""
        epochs = self.storage.stream(COORDINATOR_EPOCHS_STREAM)
        previous = [record["epoch"] for record in epochs.records()]
        epoch = previous[-1] + 1 if previous else 0
        epochs.append({"epoch": epoch})
        transits = [
            TxnTransit.from_json(record)
            for batch in self.partitions[TXN_STATE_PARTITION].log.batches
            for record in batch.records
        ]
        return self.txn_coordinator.load(epoch, transits)

    def startup(self) -> list[Outbound]:
        """Messages due right after start (markers of transactions loaded in Prepare*)."""
        out, self._startup_outbounds = self._startup_outbounds, []
        return out

    def fail_over_coordinator(self) -> list[Outbound]:
        """Fault: the transaction coordinator moves (a new leader epoch of __transaction_state).
        In-memory metadata is dropped and reloaded from the log; answers owed by the old epoch
        are NOT_COORDINATOR; markers of Prepare* transactions are re-sent with the new epoch.

        The new leader is a follower that had fetched only up to the high watermark: a
        transition still being written is lost with its unreplicated record (the old leader
        truncates it when it becomes a follower), and its writer learns NOT_COORDINATOR."""
        partition = self.partitions[TXN_STATE_PARTITION]
        partition.truncate_to(partition.high_watermark)
        lost = [w for w in self._waiters if w.tp == TXN_STATE_PARTITION]
        self._waiters = [w for w in self._waiters if w.tp != TXN_STATE_PARTITION]
        out = self._become_coordinator()
        for waiter in lost:
            out += waiter.callback()  # the coordinator epoch moved on: answered NOT_COORDINATOR
        return out

    # -- topics and partitions -------------------------------------------------------------------

    def _replica_streams(self, tp: TopicPartition) -> list[str]:
        """The storage streams of ``tp``'s replicas: the first broker's is ``t-0`` (as on a
        single node), the others' ``t-0@broker-1``..."""
        if len(self.broker_ids) == 1 or is_internal_topic(tp.topic):
            return [str(tp)]
        return [str(tp) if i == 0 else f"{tp}@{b}" for i, b in enumerate(self.broker_ids)]

    def _open_partition(self, tp: TopicPartition, *, load: bool) -> Partition:
        replicas = []
        for broker, stream in zip(self.broker_ids, self._replica_streams(tp), strict=False):
            partition = Partition(tp, self.storage.stream(stream), self.config.producer_checks)
            if load:
                with refuse_malformed(self.storage, stream):
                    partition.load()
            replicas.append(Replica(broker, partition))
        if len(replicas) == 1:
            self.partitions[tp] = replicas[0].partition
            return replicas[0].partition
        # leaders spread over the brokers: partition i's replicas start at broker i mod N
        # (AdminUtils.assignReplicasToBrokers, without its random start)
        start = tp.partition % len(replicas)
        replicas = replicas[start:] + replicas[:start]
        # Leaders, ISRs and high watermarks are not stored (Kafka's controller and
        # replication-offset-checkpoint keep them): after a restart of the whole cluster the
        # replica with the latest leader epoch in its log, then the longest log, leads, with
        # everything it stored below its high watermark (as a single node's restart); the
        # others truncate by leader epoch when they fetch.
        latest = max(replicas, key=_latest_epoch_and_end)
        replica_set = ReplicaSet(tp, replicas, leader=latest.broker)
        self.replica_sets[tp] = replica_set
        self.partitions[tp] = replica_set.leader_partition
        return replica_set.leader_partition

    def _open_topic(self, name: str, count: int, *, load: bool) -> None:
        self.topics[name] = count
        for index in range(count):
            self._open_partition(TopicPartition(name, index), load=load)

    def create_topic(self, name: str, num_partitions: int | None = None) -> ErrorCode:
        if name in self.topics:
            return ErrorCode.TOPIC_ALREADY_EXISTS
        if topic_name_problem(name) or name.startswith("__") or num_partitions == 0:
            return ErrorCode.INVALID_TOPIC_EXCEPTION
        count = num_partitions if num_partitions and num_partitions > 0 else None
        count = count or self.config.num_partitions
        self._open_topic(name, count, load=False)  # partitions first: see _check_partition_streams
        self.storage.stream(TOPICS_STREAM).append({"name": name, "partitions": count})
        return ErrorCode.NONE

    def partition(self, tp: TopicPartition) -> Partition:
        return self.partitions[tp]

    def _client_partition(self, tp: TopicPartition, *, create: bool) -> Partition | None:
        if tp.topic not in self.topics and not tp.topic.startswith("__"):
            if not (create and self.config.auto_create_topics):
                return None
            self.create_topic(tp.topic)
        return self.partitions.get(tp)

    # -- services the coordinators use ----------------------------------------------------------

    def next_correlation_id(self) -> int:
        self._counters.correlation_id += 1
        return self._counters.correlation_id

    def allocate_producer_id(self) -> int:
        counters = self._counters
        if counters.next_producer_id >= counters.producer_id_block_end:
            end = counters.next_producer_id + self.config.producer_id_block_size
            self.storage.stream(PRODUCER_IDS_STREAM).append({"block_end": end})
            counters.producer_id_block_end = end
        pid = counters.next_producer_id
        counters.next_producer_id += 1
        return pid

    def leader_of(self, tp: TopicPartition) -> str:
        """The broker leading ``tp`` (a single node: itself)."""
        replica_set = self.replica_sets.get(tp)
        return replica_set.leader if replica_set is not None else self.coordinator_host

    def coordinator_of(self, key: str) -> str:
        """The broker the transaction and group coordinators of ``key`` live on."""
        return self.coordinator_host

    def live_brokers(self) -> tuple[str, ...]:
        return tuple(b for b in self.broker_ids if b not in self.offline_brokers)

    def offsets_partition_for(self, group_id: str) -> TopicPartition:
        return OFFSETS_PARTITION

    def record_event(self, event: Event) -> None:
        self.events.append(event)

    def drain_events(self) -> list[Event]:
        out, self.events = self.events, []
        return out

    def when_replicated(
        self,
        tp: TopicPartition,
        offset: int,
        callback: Callable[[], list[Outbound]],
        *,
        on_error: Callable[[ErrorCode], list[Outbound]] | None = None,
        request: Any = None,
    ) -> list[Outbound]:
        """Run ``callback`` once ``offset`` of ``tp`` is below the high watermark (on a
        replicated partition: ``on_error`` instead when it cannot be, see :class:`_Waiter`)."""
        self._waiters.append(_Waiter(tp, offset, callback, on_error, request))
        return []

    def waiting(self, tp: TopicPartition) -> list[tuple[int, Any]]:
        """The appends of ``tp`` waiting for its high watermark: (offset, request)."""
        return [(w.offset, w.request) for w in self._waiters if w.tp == tp]

    def append_txn_log(
        self, transit: TxnTransit, on_replicated: Callable[[], list[Outbound]]
    ) -> list[Outbound]:
        partition = self.partitions[TXN_STATE_PARTITION]
        result = partition.append_data(
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            records=(transit.to_json(),),
            record_count=1,
            transactional=False,
            origin=AppendOrigin.COORDINATOR,
            now_ms=self.clock.now_ms(),
        )
        return self.when_replicated(TXN_STATE_PARTITION, result.last_offset, on_replicated)

    # -- replication -----------------------------------------------------------------------------

    def replicate(self, tp: TopicPartition | None = None) -> list[Outbound]:
        """Followers caught up (on ``tp``, or everywhere): advance high watermarks and complete
        what waited for them (produce acks, coordinator transitions, offset commits). On a
        replicated partition every live follower fetches until it has the leader's log."""
        out: list[Outbound] = []
        while True:
            for partition_tp, partition in self.partitions.items():
                if tp is not None and partition_tp != tp:
                    continue
                replica_set = self.replica_sets.get(partition_tp)
                if replica_set is None:
                    partition.replicate()
                    continue
                for _ in range(3):  # truncate, fetch, then tell the leader the new log end
                    for broker in replica_set.followers():
                        if replica_set.needs_fetch(broker):
                            replica_set.follower_fetch(broker)
                replica_set.advance_high_watermark()  # moves alone in its ISR, too
            ready = self._release_waiters()
            if not ready:
                return out
            out += ready
            if self.config.deferred_replication:
                return out  # what those callbacks appended waits for the next replicate()

    def _waiter_result(self, waiter: _Waiter) -> ErrorCode | None:
        """None while ``waiter`` waits; NONE when it is replicated; an error otherwise
        (Partition.checkEnoughReplicasReachOffset)."""
        replica_set = self.replica_sets.get(waiter.tp)
        if replica_set is None:
            replicated = waiter.offset < self.partitions[waiter.tp].high_watermark
            return ErrorCode.NONE if replicated else None
        return delayed_produce_result(
            high_watermark=replica_set.high_watermark,
            required_offset=waiter.offset + 1,
            in_sync=len(replica_set.isr),
            min_insync_replicas=self.config.knobs.min_insync_replicas,
        )

    def _release_waiters(self, *, replicated_only: bool = False) -> list[Outbound]:
        """Answer the appends whose wait is over, in the order they started waiting
        (``replicated_only``: on replicated partitions; the others wait for replicate())."""
        self._record_committed()
        results = [
            (waiter, None if replicated_only and waiter.tp not in self.replica_sets else result)
            for waiter in self._waiters
            for result in [self._waiter_result(waiter)]
        ]
        self._waiters = [waiter for waiter, result in results if result is None]
        out: list[Outbound] = []
        for waiter, result in results:
            if result is not None:
                out += self._answer_waiter(waiter, result)
        return out

    def _answer_waiter(self, waiter: _Waiter, error: ErrorCode) -> list[Outbound]:
        if error is ErrorCode.NONE or waiter.on_error is None:
            return waiter.callback()
        return waiter.on_error(error)

    # -- the cluster: follower fetch, ISR, elections ---------------------------------------------

    def follower_fetch(self, tp: TopicPartition, broker: str) -> list[Outbound]:
        """One fetch by ``broker``'s replica of ``tp`` from its leader (ReplicaFetcherThread),
        and the answers the high watermark it moved releases."""
        self.replica_sets[tp].follower_fetch(broker)
        return self._release_waiters()

    def shrink_isr(self, tp: TopicPartition, broker: str) -> list[Outbound]:
        """``broker``'s replica of ``tp`` leaves the ISR (Partition.maybeShrinkIsr: it fell
        behind for replica.lag.time.max.ms), and the answers that releases."""
        self.replica_sets[tp].shrink_isr(broker)
        return self._release_waiters()

    def elect_leader(self, tp: TopicPartition, new: str, *, clean: bool) -> list[Outbound]:
        """The controller makes ``new`` the leader of ``tp`` (a replica the old leader's
        failure or a crash left electable: :meth:`ReplicaSet.elect`). The appends waiting on
        the deposed leader are answered NOT_LEADER_OR_FOLLOWER (their producers refresh
        their metadata and retry; the coordinator re-sends its markers)."""
        replica_set = self.replica_sets[tp]
        replica_set.make_leader(new, clean=clean)
        self.partitions[tp] = replica_set.leader_partition
        deposed = [w for w in self._waiters if w.tp == tp]
        self._waiters = [w for w in self._waiters if w.tp != tp]
        out: list[Outbound] = []
        for waiter in deposed:
            out += self._answer_waiter(waiter, ErrorCode.NOT_LEADER_OR_FOLLOWER)
        replica_set.advance_high_watermark()  # alone in the ISR, it moves at once
        return out + self._release_waiters()

    def lose_held_requests(self, tp: TopicPartition, broker: str) -> list[Outbound]:
        """``broker``, which has just lost the leadership of ``tp``, crashed as it lost it
        (LeaderFailover's restarted outcome; :meth:`crash_broker`): what its replica held in
        memory is gone.
        Each request it held for its verification fails, its client's connection closed (a
        Produce is answered NOT_LEADER_OR_FOLLOWER, which a client handles as it does a
        disconnect: a retriable error); the verification's answer, when it comes, finds
        nothing waiting for it."""
        replica = self.replica_sets[tp].replicas[broker].partition
        held = [
            correlation_id
            for correlation_id, pending in self.pending_verifications.items()
            if pending.holder is replica
        ]
        out: list[Outbound] = []
        for correlation_id in held:
            pending = self.pending_verifications.pop(correlation_id)
            if pending.on_restart is not None:
                out += pending.on_restart()
        return out

    def fail_over_leader(self, tp: TopicPartition) -> list[Outbound]:
        """Fault: the leader of ``tp`` fails and the controller elects another replica (clean
        from the ISR; unclean with the knob); the old leader is back at once as a follower
        with its log as it was. Nothing happens when no replica is electable."""
        replica_set = self.replica_sets[tp]
        chosen = replica_set.elect(
            unclean=self.config.knobs.unclean_leader_election, excluding=replica_set.leader
        )
        if chosen is None:
            return []
        return self.elect_leader(tp, chosen[0], clean=chosen[1])

    def crash_broker(self, broker: str) -> list[Outbound]:
        """``broker`` stops: the controller elects new leaders for the partitions it led
        (none electable: the partition is offline until it comes back), removes it from the
        other ISRs, and moves the coordinators off it (a coordinator failover)."""
        if broker not in self.broker_ids:
            raise ValueError(f"no broker {broker!r} in {self.broker_ids}")
        self.offline_brokers.add(broker)
        out: list[Outbound] = []
        for tp, replica_set in self.replica_sets.items():
            replica_set.offline.add(broker)
            if replica_set.leader != broker:
                replica_set.isr.discard(broker)
                replica_set.advance_high_watermark()
                continue
            chosen = replica_set.elect(unclean=self.config.knobs.unclean_leader_election)
            if chosen is not None:
                out += self.elect_leader(tp, chosen[0], clean=chosen[1])
            out += self.lose_held_requests(tp, broker)  # what it held in memory is gone
        out += self._release_waiters()
        live = self.live_brokers()
        if self.coordinator_host == broker and live:
            self.coordinator_host = live[0]
            out += self.fail_over_coordinator()
        return out

    def restart_broker(self, broker: str) -> list[Outbound]:
        """``broker`` is back with its logs: its replicas rebuild their producer state, follow
        (truncating when they fetch) and rejoin the ISR when caught up; a partition it led
        with nobody electable meanwhile gets it back as leader in a new epoch."""
        self.offline_brokers.discard(broker)
        out: list[Outbound] = []
        for tp, replica_set in self.replica_sets.items():
            replica_set.offline.discard(broker)
            replica_set.replicas[broker].partition.rebuild_producer_state()
            if replica_set.leader == broker:
                out += self.elect_leader(tp, broker, clean=True)
        return self._settle(out)

    def _settle(self, out: list[Outbound]) -> list[Outbound]:
        if not self.config.deferred_replication:
            return out + self.replicate()
        # a leader alone in its ISR moves its high watermark as it appends
        # (Partition.appendRecordsToLeader calls maybeIncrementLeaderHW)
        for replica_set in self.replica_sets.values():
            replica_set.advance_high_watermark()
        return out + self._release_waiters(replicated_only=True)

    # -- the entry points ------------------------------------------------------------------------

    def receive(self, source: str, message: Any, *, at: str | None = None) -> list[Outbound]:
        """Handle one message from ``source`` and return what to send. ``at``: the broker
        it arrived at (None: wherever it belongs, e.g. a Produce at its partition's leader);
        a broker answers a Produce, Fetch or ListOffsets for a partition it does not lead
        NOT_LEADER_OR_FOLLOWER (ReplicaManager.getPartitionOrError), and a crashed broker
        nothing."""
        handler = self._handlers.get(type(message))
        if handler is None:
            raise TypeError(f"{self.node_id} cannot handle {type(message).__name__}")
        if at is not None and at in self.offline_brokers:
            return []
        if at is not None and self._led_elsewhere(message, at):
            return [Outbound(source, _not_leader_answer(message))]
        return self._settle(handler(self, source, message))

    def _led_elsewhere(self, message: Any, at: str) -> bool:
        if not isinstance(message, ProduceRequest | FetchRequest | ListOffsetsRequest):
            return False
        replica_set = self.replica_sets.get(TopicPartition(message.topic, message.partition))
        return replica_set is not None and replica_set.leader != at

    def tick(self) -> list[Outbound]:
        """Time-driven work at clock.now_ms(): producer-state expiry, transaction timeouts,
        marker retries, group session and rebalance timeouts."""
        now = self.clock.now_ms()
        for partition in self.partitions.values():
            partition.producers.expire(now)
        out = self.startup()
        out += self.txn_coordinator.tick()
        out += self.group_coordinator.tick()
        return self._settle(out)

    def refuse_next_produce(self, error: ErrorCode) -> None:
        """Fault: answer the next Produce to a data partition with the retriable ``error``
        (NOT_ENOUGH_REPLICAS or NOT_LEADER_OR_FOLLOWER) without appending it."""
        if error not in LEADER_RETRIABLE_ERRORS:
            raise ValueError(f"{error.name} is not a retriable Produce error")
        self.produce_refusals.append(error)

    def expire_producer(self, tp: TopicPartition, producer_id: int) -> bool:
        """Fault: the leader of ``tp`` forgets ``producer_id`` now, as producer-state expiry
        would (not while its transaction is open)."""
        return self.partitions[tp].producers.expire_now(producer_id)

    # -- Produce ---------------------------------------------------------------------------------

    def _on_produce(self, source: str, request: ProduceRequest) -> list[Outbound]:
        tp = TopicPartition(request.topic, request.partition)
        if is_internal_topic(tp.topic):  # ReplicaManager.appendToLocalLog
            message = f"Cannot append to internal topic {tp.topic}"
            return self._produce_answer(
                source, request, ErrorCode.INVALID_TOPIC_EXCEPTION, message=message
            )
        if topic_name_problem(tp.topic):
            return self._produce_answer(source, request, ErrorCode.INVALID_TOPIC_EXCEPTION)
        partition = self._client_partition(tp, create=True)
        if partition is None:
            return self._produce_answer(source, request, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        if self.produce_refusals:
            # fault: the ISR fell below min.insync.replicas (Partition.appendRecordsToLeader)
            # or leadership moved (ReplicaManager): a retriable error, nothing appended
            return self._produce_answer(source, request, self.produce_refusals.pop(0))
        if self._needs_coordinator(request, partition):
            return self._start_verification(source, request, partition)
        return self._append_produce(source, request, partition, guard=None)

    def _needs_coordinator(self, request: ProduceRequest, partition: Partition) -> bool:
        """KIP-890: before a producer's first transactional batch on a partition, the leader
        asks the coordinator (part 1: verify; part 2, transaction version 2: add)."""
        if not request.transactional or request.transactional_id is None:
            return False
        knobs = self.config.knobs
        if not (knobs.partition_verification or knobs.transaction_version >= 2):
            return False
        return not partition.producers.has_ongoing_txn(request.producer_id, request.producer_epoch)

    def _start_verification(
        self, source: str, request: ProduceRequest, partition: Partition
    ) -> list[Outbound]:
        assert request.transactional_id is not None

        adds = self.config.knobs.transaction_version >= 2
        leader_epoch = partition.leader_epoch

        def verified(error: ErrorCode, guard: int) -> list[Outbound]:
            if error is not ErrorCode.NONE:
                answer = produce_answer_to_verification(error, adds=adds)
                return self._produce_answer(source, request, ErrorCode(answer))
            # ReplicaManager's postVerificationCallback: appendRecords on a broker that lost
            # its leadership meanwhile is refused (Partition.appendRecordsToLeader)
            refusal = held_produce_refusal(still_leads=self._leads(partition, leader_epoch))
            if refusal is not None:
                return self._produce_answer(source, request, refusal)
            return self._append_produce(source, request, partition, guard=guard)

        def failed() -> list[Outbound]:
            # the connection closed: a client handles NOT_LEADER_OR_FOLLOWER as a disconnect
            return self._produce_answer(source, request, ErrorCode.NOT_LEADER_OR_FOLLOWER)

        return self.verify_transaction(
            request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            partition,
            verified,
            add=adds,
            on_restart=failed,
        )

    def _leads(self, partition: Partition, leader_epoch: int) -> bool:
        """Whether ``partition`` (a replica's) still leads in ``leader_epoch``, the epoch a
        verification began in. Kafka asks only whether the broker leads: one made leader
        again by a second failover during the round trip would append; this reference, like
        the model, refuses it (spec/SPEC.md §8)."""
        return self.partitions.get(partition.tp) is partition and (
            partition.leader_epoch == leader_epoch
        )

    def verify_transaction(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partition: Partition,
        then: Callable[[ErrorCode, int], list[Outbound]],
        *,
        add: bool,
        on_restart: Callable[[], list[Outbound]] | None = None,
    ) -> list[Outbound]:
        """Ask the transaction coordinator whether ``partition`` is in the producer's ongoing
        transaction (``add``: add it, transaction version 2) and continue with
        ``then(error, verification_guard)`` when it answers. The guard is stored in the
        partition's producer state now; an append checks it is still the same, so a marker that
        closed the transaction meanwhile invalidates the verification (KIP-890 part 1)."""
        # one guard per verification in progress, reused by its retries
        guard = partition.producers.start_verification(
            producer_id, producer_epoch, adds=add, new_guard=self._counters.guard + 1
        )
        self._counters.guard = max(self._counters.guard, guard)
        correlation_id = self.next_correlation_id()
        coordinator = self.coordinator_of(transactional_id)
        connection = frozenset({self.leader_of(partition.tp), coordinator})
        self.pending_verifications[correlation_id] = PendingVerification(
            then, guard, connection, partition, on_restart
        )
        ask = AddPartitionsToTxnRequest(
            correlation_id,
            transactional_id,
            producer_id,
            producer_epoch,
            (partition.tp,),
            verify_only=not add,
        )
        return [Outbound(coordinator, ask)]

    def disconnected(self, peer: str, *, at: str | None = None) -> list[Outbound]:
        """The connection between this broker (``at``; a single node: itself) and ``peer``
        broke: each verification in flight on it fails with NETWORK_EXCEPTION
        (AddPartitionsToTxnManager's handler on a disconnected or timed-out request), which
        the held request's leader answers as a retriable error; the request is not re-sent."""
        connection = frozenset({at or self.node_id, peer})
        lost = [cid for cid, p in self.pending_verifications.items() if p.connection == connection]
        out: list[Outbound] = []
        for correlation_id in lost:
            pending = self.pending_verifications.pop(correlation_id)
            out += pending.then(ErrorCode.NETWORK_EXCEPTION, pending.guard)
        return self._settle(out) if out else []

    def _on_verification_response(
        self, source: str, response: AddPartitionsToTxnResponse
    ) -> list[Outbound]:
        pending = self.pending_verifications.pop(response.correlation_id, None)
        if pending is None:
            return []  # an answer to a previous incarnation of this node, or a duplicate
        error = response.error_code
        if error is ErrorCode.NONE:
            errors = [r.error_code for r in response.results if r.error_code is not ErrorCode.NONE]
            error = errors[0] if errors else ErrorCode.NONE
        # (Produce and TxnOffsetCommit alike: Kafka's AddPartitionsToTxnManager)
        return pending.then(ErrorCode(verification_answer(error)), pending.guard)

    def _append_produce(
        self, source: str, request: ProduceRequest, partition: Partition, *, guard: int | None
    ) -> list[Outbound]:
        replica_set = self.replica_sets.get(partition.tp)
        knobs = self.config.knobs
        if replica_set is not None:
            # Partition.appendRecordsToLeader: acks=all needs min.insync.replicas in the ISR
            refusal = produce_refusal(
                acks=request.acks,
                in_sync=len(replica_set.isr),
                min_insync_replicas=knobs.min_insync_replicas,
            )
            if refusal is not None:
                return self._produce_answer(source, request, refusal)
        result = partition.append_data(
            producer_id=request.producer_id,
            producer_epoch=request.producer_epoch,
            base_sequence=request.base_sequence,
            records=request.records,
            record_count=request.record_count,
            transactional=request.transactional,
            origin=AppendOrigin.CLIENT,
            now_ms=self.clock.now_ms(),
            payload=request.payload,
            verification_guard=guard,
            verification_required=self.config.knobs.partition_verification
            and request.transactional
            and request.transactional_id is not None,
        )
        answered = result.error is not ErrorCode.NONE or result.batch is None
        if answered and (replica_set is None or not result.duplicate):
            return self._produce_answer(
                source, request, result.error, result.base_offset, result.message or None
            )
        if result.batch is not None:
            self._record_append(partition.tp, result.batch)

        def answer() -> list[Outbound]:
            return self._produce_answer(source, request, ErrorCode.NONE, result.base_offset)

        if replica_set is not None and request.acks == ACKS_LEADER:
            return answer()  # acks=1: answered once the leader has it
        # acks=all (a duplicate too: DelayedProduce waits for its original's offsets)
        return self.when_replicated(
            partition.tp,
            result.last_offset,
            answer,
            on_error=lambda error: self._produce_answer(source, request, error),
            request=request,
        )

    def _produce_answer(
        self,
        source: str,
        request: ProduceRequest,
        error: ErrorCode,
        base_offset: int = -1,
        message: str | None = None,
    ) -> list[Outbound]:
        response = ProduceResponse(
            request.correlation_id,
            request.topic,
            request.partition,
            error,
            base_offset if error is ErrorCode.NONE else -1,
            0,
            message,
        )
        return [Outbound(source, response)]

    def _record_append(self, tp: TopicPartition, batch: LogBatch) -> None:
        """The history event of an append to a client topic. On a replicated partition it is
        recorded once the high watermark passed the batch (:meth:`_record_committed`): what a
        leader change truncates never enters the history (which could say it with a Truncate
        event, as a model trace's history does)."""
        if tp.topic.startswith("__"):
            return
        if tp in self.replica_sets:
            self._uncommitted.setdefault(tp, []).append(batch)
        else:
            self.record_event(batch_event(tp, batch))

    def _record_committed(self) -> None:
        """Record the replicated partitions' batches now below the high watermark, in offset
        order; drop those a truncation removed (the leader's log holds another batch there)."""
        for tp, pending in self._uncommitted.items():
            if not pending:
                continue
            log = self.partitions[tp].log
            hw, kept, ready = log.high_watermark, [], []
            for batch in pending:
                present = log.batch_at(batch.base_offset) is batch
                if present and batch.last_offset < hw:
                    ready.append(batch)
                elif present:
                    kept.append(batch)
            self._uncommitted[tp] = kept
            for batch in sorted(ready, key=lambda b: b.base_offset):
                self.record_event(batch_event(tp, batch))

    # -- WriteTxnMarkers (as partition leader) ---------------------------------------------------

    def _on_write_txn_markers(self, source: str, request: WriteTxnMarkersRequest) -> list[Outbound]:
        results = []
        last: tuple[TopicPartition, int] | None = None
        appended: dict[TopicPartition, int] = {}
        for marker in request.markers:
            partition_results = []
            for tp in marker.partitions:
                error, offset = self.write_marker(
                    tp,
                    marker.producer_id,
                    marker.producer_epoch,
                    marker.transaction_result,
                    marker.coordinator_epoch,
                )
                if offset >= 0:
                    last = (tp, offset)
                    appended[tp] = offset
                partition_results.append(PartitionResult(tp.topic, tp.partition, error))
            results.append(TxnMarkerResult(marker.producer_id, tuple(partition_results)))
        response = WriteTxnMarkersResponse(request.correlation_id, tuple(results))
        if last is None:
            return [Outbound(source, response)]
        if not self.replica_sets:
            return self.when_replicated(last[0], last[1], lambda: [Outbound(source, response)])
        return self._answer_markers_when_replicated(source, response, appended)

    def _answer_markers_when_replicated(
        self,
        source: str,
        response: WriteTxnMarkersResponse,
        appended: dict[TopicPartition, int],
    ) -> list[Outbound]:
        """Markers are written with acks=all (KafkaApis.handleWriteTxnMarkersRequest): the
        answer goes once every partition's high watermark passed its marker, each partition's
        result the error its wait ended with (the coordinator retries those)."""
        errors: dict[TopicPartition, ErrorCode] = {}

        def done(tp: TopicPartition, error: ErrorCode) -> list[Outbound]:
            appended.pop(tp, None)
            if error is not ErrorCode.NONE:
                errors[tp] = error
            if appended:
                return []
            return [Outbound(source, _with_marker_errors(response, errors))]

        for tp, offset in list(appended.items()):
            self.when_replicated(
                tp,
                offset,
                lambda tp=tp: done(tp, ErrorCode.NONE),  # type: ignore[misc]
                on_error=lambda error, tp=tp: done(tp, error),  # type: ignore[misc]
                request=response,
            )
        return []

    def write_marker(
        self,
        tp: TopicPartition,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        coordinator_epoch: int,
    ) -> tuple[ErrorCode, int]:
        """Append one marker as leader of ``tp``; returns (error, offset or -1)."""
        partition = self.partitions.get(tp)
        if partition is None:
            return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1
        replica_set = self.replica_sets.get(tp)
        if replica_set is not None:
            refusal = produce_refusal(  # markers are acks=all appends
                acks=ACKS_ALL,
                in_sync=len(replica_set.isr),
                min_insync_replicas=self.config.knobs.min_insync_replicas,
            )
            if refusal is not None:
                return refusal, -1
        result = partition.append_marker(
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            commit=commit,
            coordinator_epoch=coordinator_epoch,
            now_ms=self.clock.now_ms(),
        )
        if result.error is not ErrorCode.NONE or result.batch is None:
            return result.error, -1
        batch = result.batch
        if tp == OFFSETS_PARTITION:

            def apply() -> list[Outbound]:
                self.group_coordinator.replay(batch)
                return []

            self.when_replicated(tp, batch.base_offset, apply)
        else:
            self._record_append(tp, batch)
        return ErrorCode.NONE, batch.base_offset

    # -- Fetch / ListOffsets / Metadata / CreateTopics / FindCoordinator -------------------------

    def _on_fetch(self, source: str, request: FetchRequest) -> list[Outbound]:
        tp = TopicPartition(request.topic, request.partition)
        partition = self._client_partition(tp, create=False)

        def answer(error: ErrorCode, **fields: Any) -> list[Outbound]:
            return [
                Outbound(
                    source,
                    FetchResponse(
                        request.correlation_id, request.topic, request.partition, error, **fields
                    ),
                )
            ]

        if partition is None:
            return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
        if not partition.log.log_start_offset <= request.fetch_offset <= partition.log_end_offset:
            return answer(
                ErrorCode.OFFSET_OUT_OF_RANGE,
                high_watermark=partition.high_watermark,
                last_stable_offset=partition.last_stable_offset,
            )
        read = partition.read(request.fetch_offset, request.isolation_level, request.max_records)
        return answer(
            ErrorCode.NONE,
            high_watermark=read.high_watermark,
            last_stable_offset=read.last_stable_offset,
            log_start_offset=read.log_start_offset,
            aborted_transactions=tuple(
                AbortedTransaction(a.producer_id, a.first_offset) for a in read.aborted
            ),
            batches=tuple(_fetched(batch) for batch in read.batches),
        )

    def _on_list_offsets(self, source: str, request: ListOffsetsRequest) -> list[Outbound]:
        tp = TopicPartition(request.topic, request.partition)
        partition = self._client_partition(tp, create=False)
        if partition is None:
            error, offset = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1
        elif request.timestamp == EARLIEST_TIMESTAMP:
            error, offset = ErrorCode.NONE, partition.log.log_start_offset
        elif request.isolation_level == READ_COMMITTED:
            error, offset = ErrorCode.NONE, partition.last_stable_offset
        else:
            error, offset = ErrorCode.NONE, partition.high_watermark
        response = ListOffsetsResponse(
            request.correlation_id, request.topic, request.partition, error, offset
        )
        return [Outbound(source, response)]

    def _on_metadata(self, source: str, request: MetadataRequest) -> list[Outbound]:
        names = sorted(self.topics) if request.topics is None else list(request.topics)
        topics = []
        for name in names:
            auto_create = request.allow_auto_topic_creation and self.config.auto_create_topics
            if name not in self.topics and auto_create:
                self.create_topic(name)
            count = self.topics.get(name)
            if count is None:
                # KafkaApis.getTopicMetadata: an illegal name is INVALID_TOPIC_EXCEPTION
                error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                if topic_name_problem(name):
                    error = ErrorCode.INVALID_TOPIC_EXCEPTION
                topics.append(TopicMetadata(name, error))
                continue
            partitions = tuple(
                PartitionMetadata(index, self.leader_of(TopicPartition(name, index)))
                for index in range(count)
            )
            topics.append(TopicMetadata(name, ErrorCode.NONE, partitions))
        response = MetadataResponse(
            request.correlation_id, self.live_brokers(), self.coordinator_host, tuple(topics)
        )
        return [Outbound(source, response)]

    def _on_create_topics(self, source: str, request: CreateTopicsRequest) -> list[Outbound]:
        results = []
        for topic in request.topics:
            error = self.create_topic(topic.name, topic.num_partitions)
            results.append(CreateTopicResult(topic.name, error, self.topics.get(topic.name, -1)))
        return [Outbound(source, CreateTopicsResponse(request.correlation_id, tuple(results)))]

    def _on_find_coordinator(self, source: str, request: FindCoordinatorRequest) -> list[Outbound]:
        response = FindCoordinatorResponse(
            request.correlation_id, ErrorCode.NONE, self.coordinator_of(request.key)
        )
        return [Outbound(source, response)]

    # -- coordinator requests --------------------------------------------------------------------

    def _reply_to(self, source: str) -> Callable[[object], list[Outbound]]:
        return lambda response: [Outbound(source, response)]

    _handlers: ClassVar[dict[type, Callable[[BrokerNode, str, Any], list[Outbound]]]] = {}


def _latest_epoch_and_end(replica: Replica) -> tuple[int, int]:
    log = replica.partition.log
    return (log.batches[-1].leader_epoch if log.batches else -1), log.log_end_offset


def _not_leader_answer(request: ProduceRequest | FetchRequest | ListOffsetsRequest) -> Any:
    error = ErrorCode.NOT_LEADER_OR_FOLLOWER
    if isinstance(request, ProduceRequest):
        return ProduceResponse(
            request.correlation_id, request.topic, request.partition, error, -1, 0, None
        )
    if isinstance(request, FetchRequest):
        return FetchResponse(request.correlation_id, request.topic, request.partition, error)
    return ListOffsetsResponse(request.correlation_id, request.topic, request.partition, error, -1)


def _with_marker_errors(
    response: WriteTxnMarkersResponse, errors: dict[TopicPartition, ErrorCode]
) -> WriteTxnMarkersResponse:
    if not errors:
        return response
    markers = tuple(
        TxnMarkerResult(
            marker.producer_id,
            tuple(
                PartitionResult(
                    r.topic,
                    r.partition,
                    errors.get(TopicPartition(r.topic, r.partition), r.error_code),
                )
                for r in marker.results
            ),
        )
        for marker in response.markers
    )
    return WriteTxnMarkersResponse(response.correlation_id, markers)


def batch_event(tp: TopicPartition, batch: LogBatch) -> Append | Marker:
    """The history event of a batch in a client topic's log: what the core records as it
    appends, and what a restarted wire broker records for the batches its history missed."""
    if batch.is_control:
        return Marker(
            str(tp),
            batch.base_offset,
            batch.producer_id,
            batch.producer_epoch,
            batch.is_commit,
            batch.coordinator_epoch,
        )
    return Append(
        str(tp),
        batch.base_offset,
        batch.producer_id,
        batch.producer_epoch,
        batch.base_sequence,
        batch.records,
        batch.is_transactional,
    )


def _stored_topic(record: dict[str, Any]) -> tuple[str, int]:
    """A record of the topic log, checked before its name becomes file names: a name that
    breaks Kafka's rule (``../../x``) would open files outside the data directory."""
    name, count = record.get("name"), _int_field(record, "partitions")
    if not isinstance(name, str) or count < 1:
        raise ValueError(f"topic record {record!r}"[:120])
    problem = topic_name_problem(name)
    if problem is not None or is_internal_topic(name):
        raise ValueError(f"topic {name!r}: {problem or 'an internal topic'}")
    return name, count


def _int_field(record: dict[str, Any], key: str) -> int:
    value = record[key]
    if type(value) is not int:
        raise TypeError(f"{key} is {value!r}, not an integer")
    return value


def _fetched(batch: LogBatch) -> FetchedBatch:
    return FetchedBatch(
        base_offset=batch.base_offset,
        last_offset=batch.last_offset,
        producer_id=batch.producer_id,
        producer_epoch=batch.producer_epoch,
        base_sequence=batch.base_sequence,
        is_transactional=batch.is_transactional,
        is_control=batch.is_control,
        payload=batch.payload,
        records=batch.records,
        is_commit=batch.is_commit,
        coordinator_epoch=batch.coordinator_epoch,
    )


def _coordinator(method: str) -> Callable[[BrokerNode, str, Any], list[Outbound]]:
    def handle(node: BrokerNode, source: str, request: Any) -> list[Outbound]:
        target = node.txn_coordinator
        return getattr(target, method)(request, node._reply_to(source))  # type: ignore[no-any-return]

    return handle


def _group(
    method: str, *, with_source: bool = False
) -> Callable[[BrokerNode, str, Any], list[Outbound]]:
    def handle(node: BrokerNode, source: str, request: Any) -> list[Outbound]:
        target = getattr(node.group_coordinator, method)
        if with_source:
            return target(source, request, node._reply_to(source))  # type: ignore[no-any-return]
        return target(request, node._reply_to(source))  # type: ignore[no-any-return]

    return handle


BrokerNode._handlers = {
    ProduceRequest: BrokerNode._on_produce,
    FetchRequest: BrokerNode._on_fetch,
    ListOffsetsRequest: BrokerNode._on_list_offsets,
    MetadataRequest: BrokerNode._on_metadata,
    CreateTopicsRequest: BrokerNode._on_create_topics,
    FindCoordinatorRequest: BrokerNode._on_find_coordinator,
    WriteTxnMarkersRequest: BrokerNode._on_write_txn_markers,
    AddPartitionsToTxnResponse: BrokerNode._on_verification_response,
    WriteTxnMarkersResponse: lambda node, source, response: (
        node.txn_coordinator.handle_markers_response(response)
    ),
    InitProducerIdRequest: _coordinator("handle_init_producer_id"),
    AddPartitionsToTxnRequest: _coordinator("handle_add_partitions"),
    AddOffsetsToTxnRequest: _coordinator("handle_add_offsets"),
    EndTxnRequest: _coordinator("handle_end_txn"),
    OffsetCommitRequest: _group("handle_offset_commit"),
    TxnOffsetCommitRequest: _group("handle_txn_offset_commit"),
    OffsetFetchRequest: _group("handle_offset_fetch"),
    JoinGroupRequest: _group("handle_join_group", with_source=True),
    SyncGroupRequest: _group("handle_sync_group", with_source=True),
    HeartbeatRequest: _group("handle_heartbeat"),
    LeaveGroupRequest: _group("handle_leave_group"),
}
