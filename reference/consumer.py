"""A Kafka consumer with the Java client's API shape, sans-I/O (KafkaConsumer, Fetcher,
ConsumerCoordinator in one object).

    consumer = KafkaConsumer(client_id="c1", clock=clock, isolation_level="read_committed")
    consumer.assign([TopicPartition("out", 0)])     # or consumer.subscribe(["out"]) with a group
    records = consumer.poll()                        # what has arrived, in offset order
    consumer.position(TopicPartition("out", 0))
    ... driver: consumer.poll_outbound() / consumer.receive(source, response) / consumer.tick()

Isolation: read_uncommitted fetches up to the high watermark; read_committed up to the last
stable offset and drops the batches of aborted transactions using the fetch response's aborted
transactions (Kafka's CompletedFetch: a producer id is "aborted" from the first offset of its
aborted transaction until its ABORT marker). Control records are never returned.

Inspectable state: ``assignment``, ``positions`` (TopicPartition -> next offset the application
gets), ``fetch_positions`` (next offset to fetch), ``buffer`` (fetched, not yet returned),
``member_id``, ``generation_id``, ``events`` (Read history events not yet drained).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.history import Event, Read, Seek
from kafka_eos.reference.clock import Clock
from kafka_eos.reference.futures import Future, IllegalStateError
from kafka_eos.reference.messages import (
    EARLIEST_TIMESTAMP,
    GROUP_KEY,
    LATEST_TIMESTAMP,
    READ_COMMITTED,
    READ_UNCOMMITTED,
    CommittedOffset,
    FetchRequest,
    FetchResponse,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    JoinGroupProtocol,
    JoinGroupRequest,
    JoinGroupResponse,
    LeaveGroupRequest,
    ListOffsetsRequest,
    ListOffsetsResponse,
    MetadataRequest,
    MetadataResponse,
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetFetchRequest,
    OffsetFetchResponse,
    SyncGroupAssignment,
    SyncGroupRequest,
    SyncGroupResponse,
    TopicPartition,
)
from kafka_eos.reference.node import Outbound
from kafka_eos.reference.producer import ConsumerGroupMetadata

ISOLATION = {"read_uncommitted": READ_UNCOMMITTED, "read_committed": READ_COMMITTED}
REJOIN_ERRORS = frozenset(
    {ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID}
)


@dataclass(frozen=True, slots=True)
class ConsumerRecord:
    topic: str
    partition: int
    offset: int
    value: str
    producer_id: int = -1


@dataclass(slots=True)
class _InFlight:
    destination: str
    message: Any
    sent_at_ms: int
    future: Future | None = None


@dataclass(slots=True)
class _GroupState:
    coordinator: str | None = None
    joining: bool = False
    in_flight: bool = False  # a FindCoordinator / Join / Sync / Heartbeat is outstanding
    next_heartbeat_ms: int = 0
    next_attempt_ms: int = 0
    subscription: tuple[str, ...] = ()
    leader_members: tuple[Any, ...] = ()
    pending_offset_fetch: set[TopicPartition] = field(default_factory=set)


class KafkaConsumer:
    def __init__(
        self,
        *,
        client_id: str,
        clock: Clock,
        bootstrap: str = "broker-0",
        group_id: str | None = None,
        isolation_level: str = "read_uncommitted",
        auto_offset_reset: str = "earliest",
        max_poll_records: int = 500,
        request_timeout_ms: int = 30_000,
        retry_backoff_ms: int = 100,
        session_timeout_ms: int = 45_000,
        heartbeat_interval_ms: int = 3_000,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        if isolation_level not in ISOLATION:
            raise ValueError(f"isolation_level must be one of {sorted(ISOLATION)}")
        if auto_offset_reset not in ("earliest", "latest"):
            raise ValueError("auto_offset_reset must be 'earliest' or 'latest'")
        self.client_id = client_id
        self.clock = clock
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.isolation_level = isolation_level
        self.auto_offset_reset = auto_offset_reset
        self.max_poll_records = max_poll_records
        self.request_timeout_ms = request_timeout_ms
        self.retry_backoff_ms = retry_backoff_ms
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms

        self.assignment: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.fetch_positions: dict[TopicPartition, int] = {}
        self.needs_position: set[TopicPartition] = set()
        self.buffer: list[ConsumerRecord] = []
        self.member_id = ""
        self.generation_id = -1
        self.topic_partitions: dict[str, int] = {}
        #: each partition's leader as the last Metadata said (unknown: the bootstrap broker);
        #: a NOT_LEADER_OR_FOLLOWER forgets it and asks again (Metadata.requestUpdate)
        self.leaders: dict[TopicPartition, str] = {}
        self._stale_leaders: set[str] = set()
        self._leader_refresh: int | None = None  # correlation id of that Metadata request
        self.in_flight: dict[int, _InFlight] = {}
        self.events: list[Event] = []
        self._group = _GroupState()
        self._fetching: set[TopicPartition] = set()
        self._positioning: set[TopicPartition] = set()
        self._retry_at: dict[TopicPartition, int] = {}
        self._correlation = 0
        self._pending_commits: list[tuple[OffsetCommitRequest, Future]] = []
        self._queued_list_offsets: list[tuple[TopicPartition, int]] = []
        self._outbox: list[Outbound] = []  # requests decided while handling a response

    # == the Java API ==========================================================================

    def assign(self, partitions: list[TopicPartition]) -> None:
        if self._group.subscription:
            raise IllegalStateError("assign() after subscribe()")
        self._set_assignment(list(partitions))

    def subscribe(self, topics: list[str]) -> None:
        if self.group_id is None:
            raise IllegalStateError("subscribe() needs a group_id")
        if self.assignment and not self._group.subscription:
            raise IllegalStateError("subscribe() after assign()")
        self._group.subscription = tuple(sorted(topics))
        self._group.joining = True

    def unsubscribe(self) -> list[Outbound]:
        """Leave the group (returns the LeaveGroup to send) and drop the assignment."""
        out = []
        if self._group.coordinator and self.member_id and self.group_id:
            out.append(
                self._request(
                    self._group.coordinator,
                    LeaveGroupRequest(self._next_id(), self.group_id, self.member_id),
                )
            )
        self._group = _GroupState()
        self.member_id, self.generation_id = "", -1
        self._set_assignment([])
        return out

    def poll(self) -> list[ConsumerRecord]:
        """The records fetched so far (up to max_poll_records), advancing positions."""
        records, self.buffer = (
            self.buffer[: self.max_poll_records],
            self.buffer[self.max_poll_records :],
        )
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self.positions[tp] = record.offset + 1
            self.events.append(
                Read(self._reader, self.isolation_level, str(tp), record.offset, record.value)
            )
        buffered = {TopicPartition(r.topic, r.partition) for r in self.buffer}
        for tp, fetch_position in self.fetch_positions.items():
            if tp not in buffered:
                self.positions[tp] = fetch_position  # past control and aborted batches too
        return records

    @property
    def subscription(self) -> tuple[str, ...]:
        return self._group.subscription

    @property
    def _reader(self) -> str:
        """The reader a history names: a group member is a new reader in each generation
        (its partitions may have been consumed by others in between)."""
        if self._group.subscription:
            return f"{self.client_id}#generation-{self.generation_id}"
        return self.client_id

    def position(self, tp: TopicPartition) -> int | None:
        return self.positions.get(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self.assignment:
            raise IllegalStateError(f"{tp} is not assigned")
        self.positions[tp] = self.fetch_positions[tp] = offset
        self.needs_position.discard(tp)
        self.buffer = [r for r in self.buffer if (r.topic, r.partition) != (tp.topic, tp.partition)]
        self.events.append(Seek(self._reader, str(tp), offset))

    def commit_sync(self, offsets: dict[TopicPartition, int] | None = None) -> Future:
        """Commit ``offsets`` (default: the current positions) to the group (OffsetCommit)."""
        if self.group_id is None:
            raise IllegalStateError("commit needs a group_id")
        offsets = dict(self.positions) if offsets is None else offsets
        future = Future()
        request = OffsetCommitRequest(
            self._next_id(),
            self.group_id,
            tuple(CommittedOffset(tp.topic, tp.partition, o) for tp, o in sorted(offsets.items())),
            self.generation_id,
            self.member_id,
        )
        self._pending_commits.append((request, future))
        return future

    def group_metadata(self) -> ConsumerGroupMetadata:
        if self.group_id is None:
            raise IllegalStateError("no group_id")
        return ConsumerGroupMetadata(self.group_id, self.generation_id, self.member_id)

    def close(self) -> list[Outbound]:
        return self.unsubscribe() if self._group.subscription else []

    # == the sans-I/O interface ================================================================

    def poll_outbound(self) -> list[Outbound]:
        now = self.clock.now_ms()
        out, self._outbox = self._outbox, []
        if self._stale_leaders and self._leader_refresh is None:
            refresh = MetadataRequest(self._next_id(), tuple(sorted(self._stale_leaders)))
            self._leader_refresh = refresh.correlation_id
            out.append(self._request(self.bootstrap, refresh))
        if self.group_id is not None:
            out += self._group_requests(now)
        for tp in self.assignment:
            if self._retry_at.get(tp, 0) > now:
                continue
            if tp in self.needs_position and tp not in self._positioning:
                out += self._position_request(tp)
            elif tp in self.fetch_positions and tp not in self._fetching:
                self._fetching.add(tp)
                request = FetchRequest(
                    self._next_id(),
                    tp.topic,
                    tp.partition,
                    self.fetch_positions[tp],
                    ISOLATION[self.isolation_level],
                    self.max_poll_records,
                )
                out.append(self._request(self.leaders.get(tp, self.bootstrap), request))
        return out

    def _leader_moved(self, tp: TopicPartition) -> None:
        self.leaders.pop(tp, None)
        self._stale_leaders.add(tp.topic)

    def receive(self, source: str, response: Any) -> None:
        request = self.in_flight.pop(response.correlation_id, None)
        if request is None:
            return
        handler = _HANDLERS.get(type(response))
        if handler is not None:
            handler(self, request, response)

    def tick(self) -> None:
        now = self.clock.now_ms()
        for correlation_id, request in list(self.in_flight.items()):
            if now - request.sent_at_ms >= self.request_timeout_ms:
                del self.in_flight[correlation_id]
                self._forget(request)

    def disconnected(self, peer: str) -> None:
        """The connection to ``peer`` broke: every request in flight on it failed."""
        for correlation_id, request in sorted(self.in_flight.items()):
            if request.destination == peer:
                del self.in_flight[correlation_id]
                self._forget(request)

    def drain_events(self) -> list[Event]:
        out, self.events = self.events, []
        return out

    # == positions and fetches =================================================================

    def _set_assignment(self, partitions: list[TopicPartition]) -> None:
        self.assignment = sorted(set(partitions))
        keep = set(self.assignment)
        for table in (self.positions, self.fetch_positions):
            for tp in list(table):
                if tp not in keep:
                    del table[tp]
        self.buffer = [r for r in self.buffer if TopicPartition(r.topic, r.partition) in keep]
        self.needs_position = {tp for tp in self.assignment if tp not in self.fetch_positions}

    def _position_request(self, tp: TopicPartition) -> list[Outbound]:
        self._positioning.add(tp)
        if self.group_id is not None:
            request: Any = OffsetFetchRequest(
                self._next_id(),
                self.group_id,
                (tp,),
                require_stable=self.isolation_level == "read_committed",
            )
            destination = self._group.coordinator or self.bootstrap
        else:
            timestamp = (
                EARLIEST_TIMESTAMP if self.auto_offset_reset == "earliest" else LATEST_TIMESTAMP
            )
            request = ListOffsetsRequest(
                self._next_id(), tp.topic, tp.partition, timestamp, ISOLATION[self.isolation_level]
            )
            destination = self.leaders.get(tp, self.bootstrap)
        return [self._request(destination, request)]

    def _on_offset_fetch(self, request: _InFlight, response: OffsetFetchResponse) -> None:
        for fetched in response.offsets:
            tp = TopicPartition(fetched.topic, fetched.partition)
            self._positioning.discard(tp)
            if tp not in self.needs_position:
                continue
            if (
                fetched.error_code is not ErrorCode.NONE
                or response.error_code is not ErrorCode.NONE
            ):
                self._retry_at[tp] = self.clock.now_ms() + self.retry_backoff_ms  # e.g. UNSTABLE
            elif fetched.committed_offset >= 0:
                self._set_position(tp, fetched.committed_offset)
            else:
                timestamp = (
                    EARLIEST_TIMESTAMP if self.auto_offset_reset == "earliest" else LATEST_TIMESTAMP
                )
                self._positioning.add(tp)
                self._queued_list_offsets.append((tp, timestamp))

    def _on_list_offsets(self, request: _InFlight, response: ListOffsetsResponse) -> None:
        tp = TopicPartition(response.topic, response.partition)
        self._positioning.discard(tp)
        if response.error_code is ErrorCode.NOT_LEADER_OR_FOLLOWER:
            self._leader_moved(tp)
        if response.error_code is ErrorCode.NONE and tp in self.needs_position:
            self._set_position(tp, response.offset)
        else:
            self._retry_at[tp] = self.clock.now_ms() + self.retry_backoff_ms

    def _set_position(self, tp: TopicPartition, offset: int) -> None:
        """A position found for a partition without one (a new assignment, or an offset out
        of range): the history records it as a seek, the polls there start afresh."""
        self.needs_position.discard(tp)
        self.positions[tp] = self.fetch_positions[tp] = offset
        self.events.append(Seek(self._reader, str(tp), offset))

    def _on_fetch(self, request: _InFlight, response: FetchResponse) -> None:
        tp = TopicPartition(response.topic, response.partition)
        self._fetching.discard(tp)
        fetched_from = request.message.fetch_offset
        if tp not in self.assignment or self.fetch_positions.get(tp) != fetched_from:
            return  # reassigned or sought meanwhile: this data is stale
        if response.error_code is ErrorCode.OFFSET_OUT_OF_RANGE:
            self.needs_position.add(tp)
            self.fetch_positions.pop(tp, None)
            return
        if response.error_code is not ErrorCode.NONE:
            if response.error_code is ErrorCode.NOT_LEADER_OR_FOLLOWER:
                self._leader_moved(tp)
            self._retry_at[tp] = self.clock.now_ms() + self.retry_backoff_ms
            return
        position = fetched_from
        for record in self._records_of(response, fetched_from):
            self.buffer.append(record)
        for batch in response.batches:
            position = max(position, batch.last_offset + 1)
        self.fetch_positions[tp] = position
        if not response.batches:
            # Nothing new: wait as a broker's long poll (fetch.max.wait.ms) would have.
            self._retry_at[tp] = self.clock.now_ms() + self.fetch_max_wait_ms

    def _records_of(self, response: FetchResponse, start: int) -> list[ConsumerRecord]:
        """The application records of a fetch in offset order (CompletedFetch)."""
        read_committed = self.isolation_level == "read_committed"
        pending_aborts = sorted(response.aborted_transactions, key=lambda a: a.first_offset)
        aborted_pids: set[int] = set()
        records: list[ConsumerRecord] = []
        for batch in response.batches:
            if read_committed:
                while pending_aborts and pending_aborts[0].first_offset <= batch.last_offset:
                    aborted_pids.add(pending_aborts.pop(0).producer_id)
            if batch.is_control:
                if read_committed and not batch.is_commit:
                    aborted_pids.discard(batch.producer_id)
                continue
            if read_committed and batch.is_transactional and batch.producer_id in aborted_pids:
                continue
            for index, value in enumerate(batch.records):
                offset = batch.base_offset + index
                if offset >= start:
                    records.append(
                        ConsumerRecord(
                            response.topic, response.partition, offset, value, batch.producer_id
                        )
                    )
        return records

    # == group membership =====================================================================

    def _group_requests(self, now: int) -> list[Outbound]:
        group = self._group
        out: list[Outbound] = []
        assert self.group_id is not None
        if self._pending_commits and group.coordinator is not None:
            for request, future in self._pending_commits:
                out.append(self._request(group.coordinator, request, future))
            self._pending_commits.clear()
        for tp, timestamp in self._queued_list_offsets:
            out.append(
                self._request(
                    self.leaders.get(tp, self.bootstrap),
                    ListOffsetsRequest(
                        self._next_id(),
                        tp.topic,
                        tp.partition,
                        timestamp,
                        ISOLATION[self.isolation_level],
                    ),
                )
            )
        self._queued_list_offsets.clear()
        if group.in_flight or now < group.next_attempt_ms:
            return out
        if group.coordinator is None:
            message: Any = FindCoordinatorRequest(self._next_id(), self.group_id, GROUP_KEY)
            destination = self.bootstrap
        elif not group.subscription:
            return out
        elif group.joining:
            missing = [t for t in group.subscription if t not in self.topic_partitions]
            if missing:
                message = MetadataRequest(self._next_id(), tuple(missing))
                destination = self.bootstrap
            else:
                if self.assignment:
                    # Eager rebalance (onJoinPrepare): give every partition up before joining,
                    # so nothing is consumed or committed under the next generation with the
                    # previous assignment.
                    self._set_assignment([])
                message = JoinGroupRequest(
                    self._next_id(),
                    self.group_id,
                    self.member_id,
                    self.session_timeout_ms,
                    protocols=(JoinGroupProtocol("range", group.subscription),),
                )
                destination = group.coordinator
        elif now >= group.next_heartbeat_ms:
            message = HeartbeatRequest(
                self._next_id(), self.group_id, self.generation_id, self.member_id
            )
            destination = group.coordinator
        else:
            return out
        group.in_flight = True
        out.append(self._request(destination, message))
        return out

    def _group_done(self, *, retry: bool = False) -> None:
        self._group.in_flight = False
        if retry:
            self._group.next_attempt_ms = self.clock.now_ms() + self.retry_backoff_ms

    def _on_find_coordinator(self, request: _InFlight, response: FindCoordinatorResponse) -> None:
        if response.error_code is ErrorCode.NONE:
            self._group.coordinator = response.node_id
        self._group_done(retry=response.error_code is not ErrorCode.NONE)

    def _on_metadata(self, request: _InFlight, response: MetadataResponse) -> None:
        for topic in response.topics:
            if topic.error_code is ErrorCode.NONE:
                self.topic_partitions[topic.name] = len(topic.partitions)
                self._stale_leaders.discard(topic.name)
                for partition in topic.partitions:
                    tp = TopicPartition(topic.name, partition.partition)
                    self.leaders[tp] = partition.leader_id
        if response.correlation_id == self._leader_refresh:
            self._leader_refresh = None  # not the group's request
            return
        self._group_done(retry=True)

    def _on_join(self, request: _InFlight, response: JoinGroupResponse) -> None:
        error = response.error_code
        if error is ErrorCode.MEMBER_ID_REQUIRED:
            self.member_id = response.member_id
            self._group_done()
            return
        if error is not ErrorCode.NONE:
            if error is ErrorCode.UNKNOWN_MEMBER_ID:
                self.member_id = ""
            self._group_done(retry=True)
            return
        self.generation_id = response.generation_id
        assignments: tuple[SyncGroupAssignment, ...] = ()
        if response.leader == self.member_id:
            assignments = self._range_assign(response.members)
        assert self.group_id is not None and self._group.coordinator is not None
        sync = SyncGroupRequest(
            self._next_id(), self.group_id, self.generation_id, self.member_id, assignments
        )
        self.in_flight[sync.correlation_id] = _InFlight(
            self._group.coordinator, sync, self.clock.now_ms()
        )
        self._outbox.append(Outbound(self._group.coordinator, sync))

    def _range_assign(self, members: tuple[Any, ...]) -> tuple[SyncGroupAssignment, ...]:
        """The range assignor: each topic's partitions split in contiguous ranges."""
        member_ids = sorted(m.member_id for m in members)
        subscriptions = {m.member_id: tuple(m.metadata or ()) for m in members}
        owned: dict[str, list[tuple[str, int]]] = {m: [] for m in member_ids}
        topics = sorted({t for subs in subscriptions.values() for t in subs})
        for topic in topics:
            subscribers = [m for m in member_ids if topic in subscriptions[m]]
            count = self.topic_partitions.get(topic, 0)
            per, extra = divmod(count, len(subscribers)) if subscribers else (0, 0)
            start = 0
            for index, member in enumerate(subscribers):
                size = per + (1 if index < extra else 0)
                owned[member] += [(topic, p) for p in range(start, start + size)]
                start += size
        return tuple(SyncGroupAssignment(m, tuple(owned[m])) for m in member_ids)

    def _on_sync(self, request: _InFlight, response: SyncGroupResponse) -> None:
        if response.error_code is not ErrorCode.NONE:
            if response.error_code is ErrorCode.UNKNOWN_MEMBER_ID:
                self.member_id = ""
            self._group_done(retry=True)
            return
        partitions = [TopicPartition(t, p) for t, p in (response.assignment or ())]
        self._set_assignment(partitions)
        self._group.joining = False
        self._group.next_heartbeat_ms = self.clock.now_ms() + self.heartbeat_interval_ms
        self._group_done()

    def _on_heartbeat(self, request: _InFlight, response: HeartbeatResponse) -> None:
        error = response.error_code
        if error in REJOIN_ERRORS:
            if error is not ErrorCode.REBALANCE_IN_PROGRESS:
                self.member_id = "" if error is ErrorCode.UNKNOWN_MEMBER_ID else self.member_id
            self._group.joining = True
        self._group.next_heartbeat_ms = self.clock.now_ms() + self.heartbeat_interval_ms
        self._group_done()

    def _on_offset_commit(self, request: _InFlight, response: OffsetCommitResponse) -> None:
        errors = [r.error_code for r in response.results if r.error_code is not ErrorCode.NONE]
        if request.future is not None:
            if errors:
                request.future.fail(errors[0])
            else:
                request.future.succeed()
        if any(e in REJOIN_ERRORS for e in errors):
            self._group.joining = True

    # == plumbing ==============================================================================

    def _forget(self, request: _InFlight) -> None:
        message = request.message
        if isinstance(message, FetchRequest):
            self._fetching.discard(TopicPartition(message.topic, message.partition))
        elif isinstance(message, ListOffsetsRequest | OffsetFetchRequest):
            self._positioning.clear()
        elif isinstance(message, OffsetCommitRequest):
            if request.future is not None:
                request.future.fail(ErrorCode.REQUEST_TIMED_OUT)
        elif message.correlation_id == self._leader_refresh:
            self._leader_refresh = None
        else:
            self._group_done(retry=True)

    def _next_id(self) -> int:
        self._correlation += 1
        return self._correlation

    def _request(self, destination: str, message: Any, future: Future | None = None) -> Outbound:
        self.in_flight[message.correlation_id] = _InFlight(
            destination, message, self.clock.now_ms(), future
        )
        return Outbound(destination, message)


_HANDLERS: dict[type, Any] = {
    FetchResponse: KafkaConsumer._on_fetch,
    ListOffsetsResponse: KafkaConsumer._on_list_offsets,
    OffsetFetchResponse: KafkaConsumer._on_offset_fetch,
    FindCoordinatorResponse: KafkaConsumer._on_find_coordinator,
    MetadataResponse: KafkaConsumer._on_metadata,
    JoinGroupResponse: KafkaConsumer._on_join,
    SyncGroupResponse: KafkaConsumer._on_sync,
    HeartbeatResponse: KafkaConsumer._on_heartbeat,
    OffsetCommitResponse: KafkaConsumer._on_offset_commit,
}
