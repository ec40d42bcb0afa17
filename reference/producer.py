"""A Kafka producer with the Java client's API shape, sans-I/O (KafkaProducer, Sender,
RecordAccumulator and TransactionManager in one object).

    producer = KafkaProducer(client_id="p1", clock=clock, transactional_id="tx-1")
    producer.init_transactions()            # -> Future
    producer.begin_transaction()
    producer.send("out", "v", partition=0)  # -> Future of RecordMetadata
    producer.send_offsets_to_transaction({TopicPartition("in", 0): 5}, group_metadata)
    producer.commit_transaction()           # -> Future
    ...
    for outbound in producer.poll_outbound(): deliver it   # what to send now
    producer.receive(source, response)                       # a response arrived
    producer.tick()                                          # request timeouts

API calls only enqueue work and return a :class:`~kafka_eos.reference.futures.Future`; the
network moves when the driver calls ``poll_outbound`` / ``receive`` / ``tick``.

Inspectable state: ``txn_state`` (a :class:`~kafka_eos.protocol.client_states.ClientState`),
``producer_id``, ``producer_epoch``, ``partitions_in_txn``, ``books`` (TopicPartition ->
:class:`PartitionBook`: next sequence and the unacknowledged batches in sequence order),
``in_flight`` (correlation id -> request), ``events`` (history events not yet drained).

Rules kept from Kafka: at most ``max_in_flight`` (5) produce requests per partition; a retried
batch keeps its producer id, epoch and sequence (until an epoch bump rewrites them) and goes out
again only once it is the first of its partition in flight. An OUT_OF_ORDER_SEQUENCE_NUMBER is
a real gap only for the next expected batch (last acknowledged sequence + 1) under the sequence
it was sent with (TransactionManager.canRetry); any other batch is retried (an earlier one is
being retried). On a gap an idempotent producer retries the batch too and bumps its epoch on
the Sender's next run without waiting for its requests in flight (KIP-360): every
unacknowledged batch of the partition takes the new epoch and a sequence from 0 in order, the
ones still in flight included, which complete if acknowledged and are retried as rewritten
otherwise (startSequencesAtBeginning). A transactional producer fails the batch, enters
ABORTABLE_ERROR and bumps its epoch with InitProducerId after the abort. The transaction
manager sends one request at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka_eos.protocol.client_states import ClientState, is_legal_transition
from kafka_eos.protocol.epochs import MAX_PRODUCER_EPOCH
from kafka_eos.protocol.errors import (
    FATAL_TO_TRANSACTIONAL_PRODUCER,
    ErrorCode,
    coordinator_error_is_fatal,
)
from kafka_eos.protocol.history import Event, TxnEnd, produce_answer
from kafka_eos.protocol.sequence import (
    NO_LAST_ACKED_SEQUENCE,
    in_sequence,
    last_sequence,
    next_sequence,
    out_of_order_is_gap,
)
from kafka_eos.reference.clock import Clock
from kafka_eos.reference.futures import Future, IllegalStateError, completed
from kafka_eos.reference.messages import (
    GROUP_KEY,
    TRANSACTION_KEY,
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    CommittedOffset,
    EndTxnRequest,
    EndTxnResponse,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    MetadataRequest,
    MetadataResponse,
    ProduceRequest,
    ProduceResponse,
    TopicPartition,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from kafka_eos.reference.node import Outbound

S = ClientState

#: Errors after which a request is simply retried (Kafka's RetriableException family).
RETRIABLE = frozenset(
    {
        ErrorCode.CONCURRENT_TRANSACTIONS,
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        ErrorCode.NOT_COORDINATOR,
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
        ErrorCode.NOT_ENOUGH_REPLICAS,
        # retriable although the batch is in the leader's log (Kafka's
        # NotEnoughReplicasAfterAppendException is a RetriableException): the retry is a
        # duplicate the leader recognises, unless the producer's epoch moved meanwhile
        ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.LEADER_NOT_AVAILABLE,
        ErrorCode.REQUEST_TIMED_OUT,
    }
)
#: Produce errors that mean the producer's sequence state is unresolvable (KIP-360).
SEQUENCE_ERRORS = frozenset({ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, ErrorCode.UNKNOWN_PRODUCER_ID})


@dataclass(frozen=True, slots=True)
class RecordMetadata:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class ConsumerGroupMetadata:
    """What send_offsets_to_transaction needs from the consumer (KIP-447)."""

    group_id: str
    generation_id: int = -1
    member_id: str = ""
    group_instance_id: str | None = None


@dataclass(slots=True)
class ProducerBatch:
    tp: TopicPartition
    records: list[str]
    futures: list[Future]
    transactional: bool
    producer_id: int = -1
    producer_epoch: int = -1
    base_sequence: int = -1  # assigned when first sent
    attempts: int = 0
    correlation_id: int | None = None  # the current attempt, None when not in flight
    needs_send: bool = True
    next_attempt_ms: int = 0
    done: bool = False
    created_ms: int = 0


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One Produce attempt of a batch, as the request carried it: an epoch bump may rewrite
    the batch's epoch and sequence while the attempt is in flight, and its answer acknowledges
    what the leader appended, the attempt's."""

    batch: ProducerBatch
    producer_id: int
    producer_epoch: int
    base_sequence: int


@dataclass(slots=True)
class PartitionBook:
    """Per-partition sequence bookkeeping (TxnPartitionEntry)."""

    next_sequence: int = 0
    batches: list[ProducerBatch] = field(default_factory=list)  # unacknowledged, in order
    last_acked_sequence: int = NO_LAST_ACKED_SEQUENCE
    producer_epoch: int = -1  # the epoch next_sequence counts under (-1: not yet known)

    def in_flight(self) -> int:
        return sum(1 for b in self.batches if b.correlation_id is not None)


@dataclass(slots=True)
class TxnRequest:
    """One queued transaction-manager request (a TxnRequestHandler)."""

    kind: str  # find_coordinator | init | add_partitions | add_offsets | txn_offset_commit | end
    priority: int
    data: dict[str, Any] = field(default_factory=dict)
    future: Future | None = None
    next_attempt_ms: int = 0


_PRIORITY = {
    "find_coordinator": 0,
    "init": 1,
    "add_partitions": 2,
    "add_offsets": 2,
    "txn_offset_commit": 2,
    "end": 3,
}


@dataclass(slots=True)
class _InFlight:
    destination: str
    message: Any
    sent_at_ms: int
    batch: ProducerBatch | None = None
    txn: TxnRequest | None = None


class KafkaProducer:
    def __init__(
        self,
        *,
        client_id: str,
        clock: Clock,
        bootstrap: str = "broker-0",
        transactional_id: str | None = None,
        enable_idempotence: bool = True,
        max_in_flight: int = 5,
        batch_max_records: int = 1,
        transaction_timeout_ms: int = 60_000,
        request_timeout_ms: int = 30_000,
        retry_backoff_ms: int = 100,
        transaction_version: int = 2,
        delivery_timeout_ms: int = 120_000,
        acks: int = -1,
    ) -> None:
        if transactional_id is not None and not enable_idempotence:
            raise ValueError("a transactional producer is idempotent")
        self.client_id = client_id
        self.clock = clock
        self.bootstrap = bootstrap
        #: acks: -1 (all) or 1; every Produce carries it (the leader decides when to answer)
        self.acks = acks
        self.transactional_id = transactional_id
        self.idempotent = enable_idempotence
        self.max_in_flight = max_in_flight
        self.batch_max_records = batch_max_records
        self.transaction_timeout_ms = transaction_timeout_ms
        self.request_timeout_ms = request_timeout_ms
        self.retry_backoff_ms = retry_backoff_ms
        self.transaction_version = transaction_version
        self.delivery_timeout_ms = delivery_timeout_ms

        self.txn_state = S.UNINITIALIZED
        self.producer_id = -1
        self.producer_epoch = -1
        self.coordinator: str | None = None
        self.group_coordinators: dict[str, str] = {}
        self.partitions_in_txn: set[TopicPartition] = set()
        self.pending_partitions: set[TopicPartition] = set()
        self.txn_started = False  # something was added or sent in the current transaction
        self.epoch_bump_required = False
        #: partitions whose unacknowledged batches the next idempotent epoch bump re-sequences
        self.partitions_to_rewrite: set[TopicPartition] = set()
        #: idempotent: partitions where a batch expired once sent (it may or may not be in the
        #: log) and the sequence state is unknown until their other batches resolve
        self.unresolved_partitions: set[TopicPartition] = set()
        self.last_error: ErrorCode | None = None
        self.books: dict[TopicPartition, PartitionBook] = {}
        self.topic_partitions: dict[str, int] = {}
        #: each partition's leader as the last Metadata said (unknown: the bootstrap broker);
        #: a NOT_LEADER_OR_FOLLOWER forgets it and asks again (Metadata.requestUpdate)
        self.leaders: dict[TopicPartition, str] = {}
        self._stale_leaders: set[str] = set()
        self.in_flight: dict[int, _InFlight] = {}
        self.txn_queue: list[TxnRequest] = []
        self.txn_in_flight: int | None = None
        self.events: list[Event] = []
        self._produce_attempts: dict[int, _Attempt] = {}
        self._waiting_for_metadata: list[tuple[str, str, Future]] = []
        self._metadata_requested = False
        self._init_future: Future | None = None
        self._end_future: Future | None = None
        self._correlation = 0
        self._round_robin = 0

    # == the Java API ==========================================================================

    def init_transactions(self) -> Future:
        if self.transactional_id is None:
            raise IllegalStateError("init_transactions needs a transactional.id")
        if self.txn_state is not S.UNINITIALIZED:
            raise IllegalStateError(f"init_transactions in state {self.txn_state.name}")
        self._transition(S.INITIALIZING)
        self._init_future = Future()
        self._enqueue("init")
        return self._init_future

    def begin_transaction(self) -> None:
        self._require_transactional()
        if self.txn_state is not S.READY:
            raise IllegalStateError(f"begin_transaction in state {self.txn_state.name}")
        self._transition(S.IN_TRANSACTION)
        self.txn_started = False

    def send(
        self, topic: str, value: str, *, partition: int | None = None, key: str | None = None
    ) -> Future:
        if self.transactional_id is not None and self.txn_state is not S.IN_TRANSACTION:
            if self.txn_state is S.ABORTABLE_ERROR or self.txn_state is S.FATAL_ERROR:
                future = Future()
                future.fail(self.last_error or ErrorCode.INVALID_TXN_STATE)
                return future
            raise IllegalStateError(f"send outside a transaction ({self.txn_state.name})")
        future = Future()
        if partition is None:
            count = self.topic_partitions.get(topic)
            if count is None:
                self._waiting_for_metadata.append((topic, value, future))
                return future
            partition = self._choose_partition(key, count)
        self._append(TopicPartition(topic, partition), value, future)
        return future

    def send_offsets_to_transaction(
        self, offsets: dict[TopicPartition, int], group_metadata: ConsumerGroupMetadata | str
    ) -> Future:
        self._require_transactional()
        if self.txn_state is not S.IN_TRANSACTION:
            raise IllegalStateError(f"send_offsets_to_transaction in {self.txn_state.name}")
        if isinstance(group_metadata, str):
            group_metadata = ConsumerGroupMetadata(group_metadata)
        future = Future()
        if self.transaction_version >= 2:
            # TransactionManager.sendOffsetsToTransaction under transaction version 2: no
            # AddOffsetsToTxn, the group coordinator adds the offsets partition itself
            self.txn_started = True
            self._enqueue(
                "txn_offset_commit", future=future, offsets=dict(offsets), group=group_metadata
            )
        else:
            self._enqueue(
                "add_offsets", future=future, offsets=dict(offsets), group=group_metadata
            )
        return future

    def commit_transaction(self) -> Future:
        return self._end_transaction(commit=True)

    def abort_transaction(self) -> Future:
        return self._end_transaction(commit=False)

    def flush(self) -> Future:
        """A future done when every record sent so far is acknowledged or failed."""
        pending = [f for book in self.books.values() for b in book.batches for f in b.futures]
        pending += [f for _, _, f in self._waiting_for_metadata]
        return _all_of(pending)

    def close(self) -> None:
        """Stop: fail everything outstanding (the process is gone)."""
        self._fail_unsent(ErrorCode.UNKNOWN_SERVER_ERROR, including_in_flight=True)

    # == the sans-I/O interface ================================================================

    def poll_outbound(self) -> list[Outbound]:
        """Messages to send now (the Sender's run loop, one pass)."""
        now = self.clock.now_ms()
        out: list[Outbound] = []
        stale = self._stale_leaders
        if (self._waiting_for_metadata or stale) and not self._metadata_requested:
            topics = tuple(sorted({t for t, _, _ in self._waiting_for_metadata} | stale))
            out.append(self._request(self.bootstrap, MetadataRequest(self._next_id(), topics)))
            self._metadata_requested = True
        if self.transactional_id is not None:
            out += self._send_txn_request(now)
        elif self.idempotent and self.producer_id < 0:
            out += self._init_idempotent()
        self._maybe_bump_idempotent_epoch()
        if self._may_produce():
            for tp in sorted(self.books):
                out += self._drain(tp, self.books[tp], now)
        return out

    def receive(self, source: str, response: Any) -> None:
        correlation_id = response.correlation_id
        request = self.in_flight.pop(correlation_id, None)
        if isinstance(response, ProduceResponse):
            self._on_produce_response(response, request)
        elif request is None:
            return  # a late answer to a request given up on
        elif isinstance(response, MetadataResponse):
            self._on_metadata(response)
        elif isinstance(response, InitProducerIdResponse) and self.transactional_id is None:
            self._on_idempotent_init(response)
        elif request.txn is not None:
            self.txn_in_flight = None
            self._on_txn_response(request.txn, response)

    def tick(self) -> None:
        """Give up on requests older than request.timeout.ms and retry them."""
        now = self.clock.now_ms()
        self._give_up(lambda r: now - r.sent_at_ms >= self.request_timeout_ms, now)
        self._expire_batches(now)

    def disconnected(self, peer: str) -> None:
        """The connection to ``peer`` broke: every request in flight on it failed."""
        now = self.clock.now_ms()
        self._give_up(lambda r: r.destination == peer, now)

    def _give_up(self, which: Any, now: int) -> None:
        for correlation_id, request in sorted(self.in_flight.items()):
            if not which(request):
                continue
            del self.in_flight[correlation_id]
            if request.batch is not None:
                self._retry_batch(request.batch, now, ErrorCode.REQUEST_TIMED_OUT)
            elif request.txn is not None:
                self.txn_in_flight = None
                self._requeue(request.txn, now)
            else:
                self._metadata_requested = False

    def _expire_batches(self, now: int) -> None:
        """delivery.timeout.ms: a batch not in flight and older than this fails."""
        for book in self.books.values():
            for batch in list(book.batches):
                late = now - batch.created_ms >= self.delivery_timeout_ms
                if late and batch.correlation_id is None:
                    self._fail_batch(batch, ErrorCode.REQUEST_TIMED_OUT)
                    if self.transactional_id is not None:
                        if batch.base_sequence >= 0:
                            self.epoch_bump_required = True  # its sequence may be a gap now
                        self._abortable(ErrorCode.REQUEST_TIMED_OUT)
                    elif batch.base_sequence >= 0:
                        # TransactionManager.markSequenceUnresolved: it may or may not be in
                        # the log; resolved once the partition's other batches are
                        self.unresolved_partitions.add(batch.tp)

    def drain_events(self) -> list[Event]:
        out, self.events = self.events, []
        return out

    @property
    def has_pending_work(self) -> bool:
        return bool(self.in_flight or self.txn_queue or any(b.batches for b in self.books.values()))

    # == records and the accumulator ===========================================================

    def _choose_partition(self, key: str | None, count: int) -> int:
        if key is not None:
            return sum(key.encode()) % count
        self._round_robin += 1
        return self._round_robin % count

    def _append(self, tp: TopicPartition, value: str, future: Future) -> None:
        book = self.books.setdefault(tp, PartitionBook())
        last = book.batches[-1] if book.batches else None
        if (
            last is not None
            and last.base_sequence < 0
            and last.correlation_id is None
            and len(last.records) < self.batch_max_records
        ):
            last.records.append(value)
            last.futures.append(future)
        else:
            transactional = self.transactional_id is not None
            book.batches.append(
                ProducerBatch(tp, [value], [future], transactional, created_ms=self.clock.now_ms())
            )
        if self.transactional_id is not None:
            if self.transaction_version >= 2:
                self.txn_started = True  # TV2: the leader adds the partition implicitly
            elif self.transaction_version < 2 and tp not in self.partitions_in_txn:
                self.pending_partitions.add(tp)
                if not any(r.kind == "add_partitions" for r in self.txn_queue):
                    self._enqueue("add_partitions")

    def _may_produce(self) -> bool:
        if self.idempotent and self.producer_id < 0:
            return False
        if self.epoch_bump_required:
            return False
        if self.transactional_id is None:
            return True
        return self.txn_state in (S.IN_TRANSACTION, S.COMMITTING_TRANSACTION)

    def _drain(self, tp: TopicPartition, book: PartitionBook, now: int) -> list[Outbound]:
        needs_add = self.transactional_id is not None and self.transaction_version < 2
        if needs_add and tp not in self.partitions_in_txn:
            return []  # AddPartitionsToTxn first
        out = []
        in_flight = book.in_flight()
        earlier_in_flight = False
        for batch in book.batches:
            if in_flight >= self.max_in_flight:
                break
            if not batch.needs_send:
                earlier_in_flight = True
                continue
            if batch.next_attempt_ms > now:
                break  # never overtake a batch waiting to be retried: sequences go in order
            if self._waits_for_earlier(batch, earlier_in_flight):
                break  # a retried batch goes out again only once it is the first in flight
            if batch.base_sequence < 0 and not self._sequences_current(book, earlier_in_flight):
                break
            if batch.base_sequence < 0:
                batch.producer_id, batch.producer_epoch = self.producer_id, self.producer_epoch
                if self.idempotent:
                    batch.base_sequence = book.next_sequence
                    book.next_sequence = next_sequence(book.next_sequence, len(batch.records))
            batch.needs_send = False
            batch.attempts += 1
            in_flight += 1
            correlation_id = self._next_id()
            batch.correlation_id = correlation_id
            self._produce_attempts[correlation_id] = _Attempt(
                batch, batch.producer_id, batch.producer_epoch, batch.base_sequence
            )
            request = ProduceRequest(
                correlation_id,
                tp.topic,
                tp.partition,
                batch.producer_id,
                batch.producer_epoch,
                batch.base_sequence,
                len(batch.records),
                batch.transactional,
                self.transactional_id,
                None,
                tuple(batch.records),
                self.acks,
            )
            outbound = self._request(self.leaders.get(tp, self.bootstrap), request)
            self.in_flight[correlation_id].batch = batch
            out.append(outbound)
        return out

    def _waits_for_earlier(self, batch: ProducerBatch, earlier_in_flight: bool) -> bool:
        """A retried batch goes out again only once it is the first of its partition in flight
        (RecordAccumulator.shouldStopDrainBatchesForPartition), for idempotent and
        transactional producers alike."""
        retried = batch.base_sequence >= 0
        return self.idempotent and earlier_in_flight and retried

    def _sequences_current(self, book: PartitionBook, earlier_in_flight: bool) -> bool:
        """TransactionManager.maybeUpdateProducerIdAndEpoch for an idempotent producer: after
        an epoch bump another partition asked for, this partition's sequences restart at 0
        under the new epoch, but only once its batches in flight under the old one are
        resolved (a new batch at sequence 0 must not overtake them)."""
        if self.transactional_id is not None or not self.idempotent:
            return True
        if book.producer_epoch == self.producer_epoch:
            return True
        if earlier_in_flight:
            return False
        book.producer_epoch = self.producer_epoch
        book.next_sequence = 0
        book.last_acked_sequence = NO_LAST_ACKED_SEQUENCE
        return True

    # == produce responses =====================================================================

    def _on_produce_response(self, response: ProduceResponse, request: _InFlight | None) -> None:
        attempt = self._produce_attempts.pop(response.correlation_id, None)
        if attempt is None or attempt.batch.done:
            return
        batch = attempt.batch
        current = batch.correlation_id == response.correlation_id
        error = response.error_code
        if error is ErrorCode.NONE:
            # any attempt's ack is an ack
            self._complete_batch(batch, response.base_offset, attempt)
            return
        if not current:
            return  # an error for an attempt already superseded by a retry
        batch.correlation_id = None
        now = self.clock.now_ms()
        book = self.books[batch.tp]
        if error is ErrorCode.NOT_LEADER_OR_FOLLOWER:
            self.leaders.pop(batch.tp, None)  # leadership moved: refresh the metadata
            self._stale_leaders.add(batch.tp.topic)
        if error in RETRIABLE:
            self._retry_batch(batch, now)
        elif error is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER:
            # TransactionManager.canRetry: only the next expected batch, under the sequence it
            # was sent with, sees a real gap; any other gets the error because an earlier
            # batch is being retried, and is retried too
            sent_epoch = request.message.producer_epoch if request is not None else -1
            # After an expired batch (an unresolved sequence) Kafka also bumps when this batch
            # is the one right behind it; here the producer waits until the partition resolves
            # (_maybe_resolve_sequences): an expired batch's successor may be in the log with
            # its answer lost, and re-sequencing it would write it twice.
            gap = batch.tp not in self.unresolved_partitions and out_of_order_is_gap(
                base_sequence=batch.base_sequence,
                last_acked_sequence=book.last_acked_sequence,
                reset=sent_epoch != batch.producer_epoch,
            )
            if not gap:
                self._retry_batch(batch, now)
            elif self.transactional_id is None:
                # KIP-360: retry the same batch; the Sender bumps the epoch on its next run
                # and re-sequences the partition's unacknowledged batches, this one included
                self._retry_batch(batch, now)
                self._request_epoch_bump(batch.tp)
            else:
                self._fail_batch(batch, error)
                self.epoch_bump_required = True
                self._abortable(error)
        elif error in SEQUENCE_ERRORS:
            self._fail_batch(batch, error)
            if self.transactional_id is None:
                self._request_epoch_bump(batch.tp)
            else:
                self.epoch_bump_required = True
                self._abortable(error)
        elif error is ErrorCode.DUPLICATE_SEQUENCE_NUMBER:
            self._complete_batch(batch, -1, attempt)
        else:
            self._fail_batch(batch, error)
            if self.transactional_id is not None:
                if error in FATAL_TO_TRANSACTIONAL_PRODUCER:
                    self._fatal(error)
                else:
                    # TransactionManager.maybeTransitionToErrorState: any failed batch asks
                    # for an epoch bump after the abort (transaction version 1; the EndTxn
                    # bumps it under version 2), e.g. INVALID_TXN_STATE from a verification
                    self.epoch_bump_required = True
                    self._abortable(error)

    def _retry_batch(self, batch: ProducerBatch, now: int, cause: ErrorCode | None = None) -> None:
        batch.correlation_id = None
        if batch.done:
            return
        if batch.transactional and self.txn_state not in (
            S.IN_TRANSACTION,
            S.COMMITTING_TRANSACTION,
        ):
            # No retries once the transaction is doomed: the batch fails with what made it
            # fail now (a timeout), else with the transaction's abortable error.
            self._fail_batch(batch, cause or self.last_error or ErrorCode.TRANSACTION_ABORTABLE)
            return
        batch.needs_send = True
        batch.next_attempt_ms = now + self.retry_backoff_ms

    def _complete_batch(self, batch: ProducerBatch, base_offset: int, attempt: _Attempt) -> None:
        batch.done = True
        batch.correlation_id = None
        book = self.books.get(batch.tp)
        if book is not None and batch.base_sequence >= 0:
            last = last_sequence(batch.base_sequence, len(batch.records))
            book.last_acked_sequence = max(book.last_acked_sequence, last)
        self._remove_batch(batch)
        self._record_ack(batch, ErrorCode.NONE, base_offset, attempt)
        for index, future in enumerate(batch.futures):
            future.succeed(RecordMetadata(batch.tp.topic, batch.tp.partition, base_offset + index))

    def _fail_batch(self, batch: ProducerBatch, error: ErrorCode) -> None:
        batch.done = True
        batch.correlation_id = None
        self._remove_batch(batch)
        if batch.base_sequence >= 0 or batch.attempts:
            self._record_ack(batch, error, -1)
        for future in batch.futures:
            future.fail(error)

    def _remove_batch(self, batch: ProducerBatch) -> None:
        book = self.books.get(batch.tp)
        if book is not None and batch in book.batches:
            book.batches.remove(batch)

    def _record_ack(
        self,
        batch: ProducerBatch,
        error: ErrorCode,
        base_offset: int,
        attempt: _Attempt | None = None,
    ) -> None:
        """The client's answer for the batch (protocol.history.produce_answer: an
        acknowledgement names the batch as the acknowledged attempt carried it)."""
        self.events.append(
            produce_answer(
                self.client_id,
                str(batch.tp),
                tuple(batch.records),
                error.name,
                base_offset,
                batch=batch,
                attempt=attempt,
            )
        )

    def _fail_unsent(
        self, error: ErrorCode, *, including_in_flight: bool = False, sequenced: bool | None = None
    ) -> None:
        """Fail the batches not in flight (all with ``including_in_flight``). ``sequenced``
        False: only those never drained, as RecordAccumulator.abortUndrainedBatches does for a
        producer with a TransactionManager (a batch re-enqueued after a retriable error has a
        sequence and stays); True: only those re-enqueued ones."""
        for book in self.books.values():
            for batch in list(book.batches):
                if sequenced is not None and (batch.base_sequence >= 0) != sequenced:
                    continue
                if including_in_flight or batch.correlation_id is None:
                    self._fail_batch(batch, error)
        for _, _, future in self._waiting_for_metadata:
            future.fail(error)
        self._waiting_for_metadata.clear()

    # == idempotent producer ===================================================================

    def _init_idempotent(self) -> list[Outbound]:
        if any(isinstance(r.message, InitProducerIdRequest) for r in self.in_flight.values()):
            return []
        if not any(b.batches for b in self.books.values()):
            return []
        request = InitProducerIdRequest(self._next_id(), None, self.transaction_timeout_ms)
        return [self._request(self.bootstrap, request)]

    def _request_epoch_bump(self, tp: TopicPartition) -> None:
        """TransactionManager.requestIdempotentEpochBumpForPartition."""
        self.epoch_bump_required = True
        if self.transactional_id is None:
            self.partitions_to_rewrite.add(tp)

    def _maybe_bump_idempotent_epoch(self) -> None:
        """KIP-360 for an idempotent producer, on the Sender's next run and without waiting
        for the requests in flight (bumpIdempotentProducerEpoch): epoch + 1, and on each
        partition that asked, every unacknowledged batch already sequenced takes the new epoch
        and a sequence from 0 in order. A batch still in flight keeps waiting for its answer:
        an acknowledgement completes it, an error retries it as rewritten."""
        if self.transactional_id is not None:
            return
        self._maybe_resolve_sequences()
        if not self.epoch_bump_required:
            return
        # TransactionManager.bumpIdempotentProducerEpoch: at Short.MAX_VALUE the epoch cannot
        # grow, so the producer resets its id (resetIdempotentProducerId)
        if self.producer_epoch >= MAX_PRODUCER_EPOCH:
            self.producer_id = -1  # InitProducerId for a fresh producer id
        else:
            self.producer_epoch += 1
            for tp in sorted(self.partitions_to_rewrite):
                self._start_sequences_at_beginning(self.books[tp])
                self.unresolved_partitions.discard(tp)
        self.partitions_to_rewrite.clear()
        self.epoch_bump_required = False

    def _maybe_resolve_sequences(self) -> None:
        """TransactionManager.maybeResolveSequences: once a partition with an expired batch
        has no other batch sent and unresolved, it is resolved if what followed was
        acknowledged in sequence, else it needs an epoch bump."""
        for tp in sorted(self.unresolved_partitions):
            book = self.books[tp]
            if any(batch.base_sequence >= 0 for batch in book.batches):
                continue
            self.unresolved_partitions.discard(tp)
            if not in_sequence(book.last_acked_sequence, book.next_sequence):
                self._request_epoch_bump(tp)

    def _start_sequences_at_beginning(self, book: PartitionBook) -> None:
        """TxnPartitionMap.startSequencesAtBeginning."""
        sequence = 0
        for batch in book.batches:
            if batch.base_sequence < 0:
                continue  # not sent yet: it takes its sequence when drained
            batch.producer_id, batch.producer_epoch = self.producer_id, self.producer_epoch
            batch.base_sequence = sequence
            sequence = next_sequence(sequence, len(batch.records))
        book.next_sequence = sequence
        book.last_acked_sequence = NO_LAST_ACKED_SEQUENCE
        book.producer_epoch = self.producer_epoch

    def _reset_sequences(self) -> None:
        for book in self.books.values():
            book.next_sequence = 0
            book.last_acked_sequence = NO_LAST_ACKED_SEQUENCE
            book.producer_epoch = self.producer_epoch
            for batch in book.batches:
                batch.base_sequence = -1
                batch.needs_send = True

    def _on_idempotent_init(self, response: InitProducerIdResponse) -> None:
        if response.error_code is ErrorCode.NONE:
            self.producer_id, self.producer_epoch = response.producer_id, response.producer_epoch
            self._reset_sequences()

    # == the transaction manager ===============================================================

    def _require_transactional(self) -> None:
        if self.transactional_id is None:
            raise IllegalStateError("not a transactional producer")

    def _transition(self, target: ClientState) -> None:
        if not is_legal_transition(self.txn_state, target):
            raise IllegalStateError(f"{self.txn_state.name} -> {target.name}")
        self.txn_state = target

    def _abortable(self, error: ErrorCode) -> None:
        if self.txn_state is S.FATAL_ERROR or self.txn_state is S.ABORTING_TRANSACTION:
            return
        if is_legal_transition(self.txn_state, S.ABORTABLE_ERROR):
            self.last_error = error
            self._transition(S.ABORTABLE_ERROR)
            # Sender.runOnce: hasAbortableError -> accumulator.abortUndrainedBatches, which
            # spares the batches that have a sequence (the abort fails those: SPEC.md §8)
            self._fail_pending_txn_work(error, sparing_sequenced=True)

    def _fatal(self, error: ErrorCode) -> None:
        self.last_error = error
        self.txn_state = S.FATAL_ERROR
        # Sender.runOnce: hasFatalError -> maybeAbortBatches(lastError), which aborts every
        # incomplete batch (RecordAccumulator.abortBatches), the ones in flight too: their
        # answers find them done and are ignored
        self._fail_unsent(error, including_in_flight=True)
        self._fail_pending_txn_work(error)
        if self._init_future is not None:
            self._init_future.fail(error)

    def _fail_pending_txn_work(self, error: ErrorCode, *, sparing_sequenced: bool = False) -> None:
        self._fail_unsent(error, sequenced=False if sparing_sequenced else None)
        for request in self.txn_queue:
            if request.future is not None and request.kind != "init":
                request.future.fail(error)
        self.txn_queue = [r for r in self.txn_queue if r.kind in ("find_coordinator", "init")]
        if self._end_future is not None and self.txn_state is S.FATAL_ERROR:
            self._end_future.fail(error)
            self._end_future = None
        elif self._end_future is not None and self.txn_state is S.ABORTABLE_ERROR:
            self._end_future.fail(error)  # a commit that cannot succeed any more
            self._end_future = None

    def _end_transaction(self, *, commit: bool) -> Future:
        self._require_transactional()
        if self.txn_state is S.FATAL_ERROR:
            raise IllegalStateError(f"the producer is fenced or failed ({self.last_error})")
        if commit and self.txn_state is not S.IN_TRANSACTION:
            raise IllegalStateError(f"commit_transaction in {self.txn_state.name}")
        if not commit and self.txn_state not in (S.IN_TRANSACTION, S.ABORTABLE_ERROR):
            raise IllegalStateError(f"abort_transaction in {self.txn_state.name}")
        was_abortable = self.txn_state is S.ABORTABLE_ERROR
        self._transition(S.COMMITTING_TRANSACTION if commit else S.ABORTING_TRANSACTION)
        self._end_future = Future()
        if not commit:
            if was_abortable:
                # the re-enqueued batches the abortable error spared fail now, with what made
                # the transaction abortable, as the model's AbortTransaction fails them (Kafka
                # re-sends them and holds the EndTxn until they complete: SPEC.md §8)
                error = self.last_error or ErrorCode.TRANSACTION_ABORTABLE
                self._fail_unsent(error, sequenced=True)
            self._fail_unsent(ErrorCode.TRANSACTION_ABORTABLE)
            self.txn_queue = [r for r in self.txn_queue if r.kind in ("find_coordinator", "init")]
        self._enqueue("end", commit=commit)
        return self._end_future

    def _finish_transaction(self, *, coordinator_bumped_epoch: bool = False) -> None:
        future = self._end_future
        self._end_future = None
        self.partitions_in_txn.clear()
        self.pending_partitions.clear()
        self.txn_started = False
        if self.txn_state is S.ABORTING_TRANSACTION and self.epoch_bump_required:
            if self.transaction_version >= 2 or coordinator_bumped_epoch:
                # The abort's EndTxn already bumped the epoch (KIP-890 part 2): the client
                # asks for no bump of its own (TransactionManager.needToTriggerEpochBumpFromClient
                # is false with transaction version 2).
                self.epoch_bump_required = False
                self._transition(S.READY)
                if future is not None:
                    future.succeed()
                return
            # KIP-360: after aborting, bump the epoch so the sequence state is clean again.
            self._transition(S.INITIALIZING)
            self._init_future = future or Future()
            self._enqueue("init")
            return
        self._transition(S.READY)
        if future is not None:
            future.succeed()

    def _enqueue(self, kind: str, *, future: Future | None = None, **data: Any) -> None:
        self.txn_queue.append(TxnRequest(kind, _PRIORITY[kind], dict(data), future))

    def _requeue(self, request: TxnRequest, now: int) -> None:
        request.next_attempt_ms = now + self.retry_backoff_ms
        self.txn_queue.append(request)

    def _send_txn_request(self, now: int) -> list[Outbound]:
        if self.txn_in_flight is not None or not self.txn_queue:
            return []
        # The queue is a priority queue (FindCoordinator, InitProducerId, Add*, EndTxn): the
        # head waits out its backoff, nothing overtakes it (EndTxn must follow every Add*).
        request = min(self.txn_queue, key=lambda r: r.priority)
        if request.next_attempt_ms > now:
            return []
        if self.txn_state is S.FATAL_ERROR or (
            self.txn_state is S.ABORTABLE_ERROR
            and request.kind not in ("find_coordinator", "init", "end")
        ):
            # A doomed transaction sends nothing more but its EndTxn(abort); a failed producer
            # nothing at all, not even a request re-enqueued after a retriable answer that
            # was in flight when it failed (TransactionManager.maybeTerminateRequestWithError
            # fails whatever comes next with the last error).
            self.txn_queue.remove(request)
            if request.future is not None:
                request.future.fail(self.last_error or ErrorCode.TRANSACTION_ABORTABLE)
            return self._send_txn_request(now)
        if request.kind == "end" and self._batches_outstanding():
            return []  # EndTxn only once every batch of the transaction is answered
        if request.kind == "add_partitions" and not self.pending_partitions:
            self.txn_queue.remove(request)
            return []
        if request.kind == "end" and not self.txn_started:
            self.txn_queue.remove(request)  # nothing reached the coordinator: nothing to end
            self._finish_transaction()
            return []
        destination = self._coordinator_for(request)
        if destination is None:
            if not any(r.kind == "find_coordinator" for r in self.txn_queue):
                key = (
                    request.data["group"].group_id if request.kind == "txn_offset_commit" else None
                )
                self._enqueue("find_coordinator", key=key)
            return self._send_txn_request(now)  # FindCoordinator is now the head
        self.txn_queue.remove(request)
        message = self._build_txn_message(request)
        outbound = self._request(destination, message)
        self.in_flight[message.correlation_id].txn = request
        self.txn_in_flight = message.correlation_id
        return [outbound]

    def _batches_outstanding(self) -> bool:
        return any(book.batches for book in self.books.values())

    def _coordinator_for(self, request: TxnRequest) -> str | None:
        if request.kind == "find_coordinator":
            return self.bootstrap
        if request.kind == "txn_offset_commit":
            return self.group_coordinators.get(request.data["group"].group_id)
        return self.coordinator

    def _build_txn_message(self, request: TxnRequest) -> Any:
        cid = self._next_id()
        tid = self.transactional_id
        assert tid is not None
        kind = request.kind
        if kind == "find_coordinator":
            key = request.data.get("key")
            if key is None:
                return FindCoordinatorRequest(cid, tid, TRANSACTION_KEY)
            return FindCoordinatorRequest(cid, key, GROUP_KEY)
        if kind == "init":
            return InitProducerIdRequest(
                cid, tid, self.transaction_timeout_ms, self.producer_id, self.producer_epoch
            )
        if kind == "add_partitions":
            request.data["partitions"] = tuple(sorted(self.pending_partitions))
            return AddPartitionsToTxnRequest(
                cid, tid, self.producer_id, self.producer_epoch, request.data["partitions"]
            )
        if kind == "add_offsets":
            group = request.data["group"]
            return AddOffsetsToTxnRequest(
                cid, tid, self.producer_id, self.producer_epoch, group.group_id
            )
        if kind == "txn_offset_commit":
            group = request.data["group"]
            offsets = tuple(
                CommittedOffset(tp.topic, tp.partition, offset)
                for tp, offset in sorted(request.data["offsets"].items())
            )
            return TxnOffsetCommitRequest(
                cid,
                tid,
                group.group_id,
                self.producer_id,
                self.producer_epoch,
                offsets,
                group.generation_id,
                group.member_id,
                group.group_instance_id,
            )
        return EndTxnRequest(
            cid, tid, self.producer_id, self.producer_epoch, request.data["commit"]
        )

    def _on_txn_response(self, request: TxnRequest, response: Any) -> None:
        now = self.clock.now_ms()
        if isinstance(response, FindCoordinatorResponse):
            if response.error_code is not ErrorCode.NONE:
                self._requeue(request, now)
            elif request.data.get("key") is None:
                self.coordinator = response.node_id
            else:
                self.group_coordinators[request.data["key"]] = response.node_id
            return
        error = getattr(response, "error_code", ErrorCode.NONE)
        if isinstance(response, TxnOffsetCommitResponse):
            errors = [r.error_code for r in response.results if r.error_code is not ErrorCode.NONE]
            error = errors[0] if errors else ErrorCode.NONE
        if isinstance(response, AddPartitionsToTxnResponse) and error is ErrorCode.NONE:
            errors = [r.error_code for r in response.results if r.error_code is not ErrorCode.NONE]
            error = errors[0] if errors else ErrorCode.NONE
        if error in (ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE):
            if request.kind == "txn_offset_commit":
                self.group_coordinators.pop(request.data["group"].group_id, None)
            else:
                self.coordinator = None
            self._requeue(request, now)
            return
        if error in RETRIABLE:
            self._requeue(request, now)
            return
        if error is not ErrorCode.NONE:
            self._on_txn_error(request, error)
            return
        if isinstance(response, InitProducerIdResponse):
            self.producer_id, self.producer_epoch = response.producer_id, response.producer_epoch
            self.epoch_bump_required = False
            self._reset_sequences()
            self._transition(S.READY)
            future, self._init_future = self._init_future, None
            if future is not None:
                future.succeed()
        elif isinstance(response, AddPartitionsToTxnResponse):
            added = set(request.data.get("partitions", ()))
            self.txn_started = True
            self.partitions_in_txn |= added
            self.pending_partitions -= added
            if self.pending_partitions:
                self._enqueue("add_partitions")
        elif isinstance(response, AddOffsetsToTxnResponse):
            self.txn_started = True
            self._enqueue("txn_offset_commit", future=request.future, **request.data)
        elif isinstance(response, TxnOffsetCommitResponse):
            if request.future is not None:
                request.future.succeed()
        elif isinstance(response, EndTxnResponse):
            self._on_end_txn(request, response)

    def _on_end_txn(self, request: TxnRequest, response: EndTxnResponse) -> None:
        commit = request.data["commit"]
        self.events.append(
            TxnEnd(
                self.client_id,
                self.transactional_id or "",
                self.producer_id,
                self.producer_epoch,
                commit,
                "NONE",
            )
        )
        bumped = response.producer_epoch >= 0
        if bumped:
            # Transaction version 2: the coordinator bumped the epoch; sequences restart.
            self.producer_id, self.producer_epoch = response.producer_id, response.producer_epoch
            self._reset_sequences()
        self._finish_transaction(coordinator_bumped_epoch=bumped)

    def _on_txn_error(self, request: TxnRequest, error: ErrorCode) -> None:
        if request.kind == "end":
            self.events.append(
                TxnEnd(
                    self.client_id,
                    self.transactional_id or "",
                    self.producer_id,
                    self.producer_epoch,
                    request.data["commit"],
                    error.name,
                )
            )
        # a TxnOffsetCommit is refused as an Add is, except the group-membership errors: a
        # CommitFailedException, the transaction must abort (TxnOffsetCommitHandler)
        fatal = coordinator_error_is_fatal(
            error, adds=request.kind in ("add_partitions", "add_offsets", "txn_offset_commit")
        ) and not (
            request.kind == "txn_offset_commit"
            and error in (ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.ILLEGAL_GENERATION)
        )
        if request.future is not None:
            request.future.fail(error)
        if fatal:
            self._fatal(error)
        else:
            self._abortable(error)

    # == metadata ==============================================================================

    def _on_metadata(self, response: MetadataResponse) -> None:
        self._metadata_requested = False
        for answered in response.topics:
            if answered.error_code is ErrorCode.NONE and answered.partitions:
                self.topic_partitions[answered.name] = len(answered.partitions)
                self._stale_leaders.discard(answered.name)
                for described in answered.partitions:
                    tp = TopicPartition(answered.name, described.partition)
                    self.leaders[tp] = described.leader_id
        waiting, self._waiting_for_metadata = self._waiting_for_metadata, []
        for topic, value, future in waiting:
            count = self.topic_partitions.get(topic)
            if count is None:
                self._waiting_for_metadata.append((topic, value, future))
            else:
                partition = self._choose_partition(None, count)
                self._append(TopicPartition(topic, partition), value, future)

    # == plumbing ==============================================================================

    def _next_id(self) -> int:
        self._correlation += 1
        return self._correlation

    def _request(self, destination: str, message: Any) -> Outbound:
        self.in_flight[message.correlation_id] = _InFlight(
            destination, message, self.clock.now_ms()
        )
        return Outbound(destination, message)


def _all_of(futures: list[Future]) -> Future:
    if not futures:
        return completed()
    result = Future()
    remaining = [len(futures)]

    def one_done(_: Future) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            result.succeed()

    for future in futures:
        future.add_callback(one_done)
    return result
