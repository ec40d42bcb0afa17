"""The clients: the transaction manager's state machine, fencing, abortable errors, idempotent
retries over a lossy network, at most 5 in flight, KIP-360 epoch bumps, isolation levels."""

from __future__ import annotations

import itertools

import pytest

from kafka_eos.protocol.client_states import ClientState, is_legal_transition
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.history import Seek
from kafka_eos.protocol.history_checks import check_history
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.reference.clock import VirtualClock
from kafka_eos.reference.consumer import KafkaConsumer
from kafka_eos.reference.futures import IllegalStateError
from kafka_eos.reference.messages import (
    FindCoordinatorRequest,
    FindCoordinatorResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    PartitionResult,
    ProduceRequest,
    ProduceResponse,
    TopicPartition,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from kafka_eos.reference.network import Faults, SimNetwork
from kafka_eos.reference.node import BROKER_ID, BrokerConfig, BrokerNode
from kafka_eos.reference.producer import ConsumerGroupMetadata, KafkaProducer

S = ClientState


class World:
    def __init__(self, *, faults: Faults | None = None, seed: int = 0, **knobs: object) -> None:
        self.clock = VirtualClock()
        self.net = SimNetwork(clock=self.clock, seed=seed, faults=faults or Faults(max_delay_ms=5))
        config = BrokerConfig(num_partitions=2, knobs=Knobs(**knobs))
        self.broker = BrokerNode(config=config, clock=self.clock)
        self.net.register(BROKER_ID, self.broker)

    def producer(self, name: str, tid: str | None = None, **options: object) -> KafkaProducer:
        producer = KafkaProducer(
            client_id=name,
            clock=self.clock,
            transactional_id=tid,
            request_timeout_ms=200,
            **options,  # type: ignore[arg-type]
        )
        self.net.register(name, producer)
        return producer

    def consumer(self, name: str, isolation: str) -> KafkaConsumer:
        consumer = KafkaConsumer(
            client_id=name, clock=self.clock, isolation_level=isolation, fetch_max_wait_ms=10
        )
        self.net.register(name, consumer)
        return consumer

    def wait(self, future) -> None:  # type: ignore[no-untyped-def]
        assert self.net.run_until(lambda: future.done, max_steps=20_000), future

    def read_all(self, consumer: KafkaConsumer, partitions: list[TopicPartition]) -> list[str]:
        consumer.assign(partitions)
        values: list[str] = []
        for _ in range(60):
            self.net.run_until(lambda: False, max_steps=200)
            values += [r.value for r in consumer.poll()]
        return values


def test_transaction_manager_follows_the_state_table() -> None:
    world = World()
    producer = world.producer("p", "tx")
    seen = [producer.txn_state]
    with pytest.raises(IllegalStateError):
        producer.begin_transaction()
    init = producer.init_transactions()
    seen.append(producer.txn_state)
    world.wait(init)
    seen.append(producer.txn_state)
    with pytest.raises(IllegalStateError):
        producer.commit_transaction()
    for commit in (True, False):
        producer.begin_transaction()
        seen.append(producer.txn_state)
        producer.send("t", "v", partition=0)
        end = producer.commit_transaction() if commit else producer.abort_transaction()
        seen.append(producer.txn_state)
        world.wait(end)
        assert end.succeeded
        seen.append(producer.txn_state)
    assert seen == [
        S.UNINITIALIZED,
        S.INITIALIZING,
        S.READY,
        S.IN_TRANSACTION,
        S.COMMITTING_TRANSACTION,
        S.READY,
        S.IN_TRANSACTION,
        S.ABORTING_TRANSACTION,
        S.READY,
    ]
    assert all(is_legal_transition(a, b) for a, b in itertools.pairwise(seen))


def test_a_fenced_producer_becomes_fatal_and_its_records_stay_invisible() -> None:
    world = World()
    old = world.producer("old", "tx")
    world.wait(old.init_transactions())
    old.begin_transaction()
    world.wait(old.send("t", "zombie", partition=0))
    new = world.producer("new", "tx")
    world.wait(new.init_transactions())  # fences old and aborts its transaction
    commit = old.commit_transaction()
    world.wait(commit)
    assert commit.error in (ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_EPOCH)
    assert old.txn_state is S.FATAL_ERROR
    with pytest.raises(IllegalStateError):
        old.begin_transaction()
    reader = world.consumer("r", "read_committed")
    assert "zombie" not in world.read_all(reader, [TopicPartition("t", 0)])


def test_a_retriable_answer_in_flight_when_the_producer_failed_is_not_retried() -> None:
    """TransactionManager.maybeTerminateRequestWithError: a TxnOffsetCommit answered
    CONCURRENT_TRANSACTIONS is re-enqueued, and fails with the last error instead of going out
    again once the producer has a fatal error (here its Produce was refused
    INVALID_PRODUCER_ID_MAPPING while the commit was in flight). Driven by hand, sans-I/O: the
    broker's answers are written here."""
    clock = VirtualClock()
    producer = KafkaProducer(client_id="p", clock=clock, transactional_id="tx")

    def exchange() -> list[object]:
        """Answer what the producer sends, a coordinator lookup and InitProducerId at once;
        the rest is returned unanswered."""
        held = []
        for out in producer.poll_outbound():
            request = out.message
            if isinstance(request, FindCoordinatorRequest):
                producer.receive(out.destination, FindCoordinatorResponse(
                    request.correlation_id, ErrorCode.NONE, out.destination))
            elif isinstance(request, InitProducerIdRequest):
                producer.receive(out.destination, InitProducerIdResponse(
                    request.correlation_id, ErrorCode.NONE, producer_id=7, producer_epoch=0))
            else:
                held.append(out)
        return held

    init = producer.init_transactions()
    while not init.done:
        assert not exchange()
    producer.begin_transaction()
    producer.send("t", "v", partition=0)
    offsets = producer.send_offsets_to_transaction({TopicPartition("in", 0): 1},
                                                   ConsumerGroupMetadata("g"))
    held = exchange() + exchange()
    produce, commit = (next(o for o in held if isinstance(o.message, kind))
                       for kind in (ProduceRequest, TxnOffsetCommitRequest))
    producer.receive(produce.destination, ProduceResponse(
        produce.message.correlation_id, "t", 0, ErrorCode.INVALID_PRODUCER_ID_MAPPING))
    assert producer.txn_state is S.FATAL_ERROR and not offsets.done  # the commit in flight
    producer.receive(commit.destination, TxnOffsetCommitResponse(
        commit.message.correlation_id,
        (PartitionResult("in", 0, ErrorCode.CONCURRENT_TRANSACTIONS),)))
    clock.advance(10 * producer.retry_backoff_ms)
    producer.tick()
    assert not producer.poll_outbound()
    assert offsets.error is ErrorCode.INVALID_PRODUCER_ID_MAPPING


def test_an_abortable_error_is_recovered_by_aborting() -> None:
    world = World()
    producer = world.producer("p", "tx")
    world.wait(producer.init_transactions())
    producer.begin_transaction()
    producer.send("t", "a", partition=0)
    stale_member = ConsumerGroupMetadata("g", generation_id=3, member_id="gone")
    offsets = producer.send_offsets_to_transaction({TopicPartition("in", 0): 1}, stale_member)
    world.wait(offsets)
    assert offsets.error is ErrorCode.UNKNOWN_MEMBER_ID
    assert producer.txn_state is S.ABORTABLE_ERROR
    with pytest.raises(IllegalStateError):
        producer.commit_transaction()
    abort = producer.abort_transaction()
    world.wait(abort)
    assert abort.succeeded and producer.txn_state is S.READY


def test_idempotent_retries_over_a_lossy_network_write_each_record_once_in_order() -> None:
    world = World(faults=Faults(loss=0.15, min_delay_ms=1, max_delay_ms=30), seed=3)
    producer = world.producer("p", batch_max_records=2)
    futures = [producer.send("t", f"v{i}", partition=i % 2) for i in range(60)]
    world.wait(producer.flush())
    assert world.net.lost > 0
    assert all(f.succeeded for f in futures)
    for index in (0, 1):
        records = [
            r
            for b in world.broker.partitions[TopicPartition("t", index)].log.batches
            for r in b.records
        ]
        assert records == [f"v{i}" for i in range(index, 60, 2)]


def test_at_most_five_produce_requests_in_flight_per_partition() -> None:
    world = World(faults=Faults(min_delay_ms=20, max_delay_ms=40))
    producer = world.producer("p")
    most = 0

    def count(envelope) -> None:  # type: ignore[no-untyped-def]
        nonlocal most
        in_flight = sum(
            1 for r in producer.in_flight.values() if isinstance(r.message, ProduceRequest)
        )
        most = max(most, in_flight)

    world.net.on_deliver = count
    for i in range(30):
        producer.send("t", f"v{i}", partition=0)
    world.wait(producer.flush())
    assert most == 5


def test_unresolvable_sequence_error_bumps_an_idempotent_producers_epoch() -> None:
    # KIP-360 as Kafka's client does it: OUT_OF_ORDER on the next expected batch retries that
    # batch under a bumped epoch from sequence 0, without failing it.
    world = World()
    producer = world.producer("p")
    world.wait(producer.send("t", "first", partition=0))
    epoch = producer.producer_epoch
    retried = producer.send("t", "retried", partition=0)
    [outbound] = [o for o in producer.poll_outbound() if isinstance(o.message, ProduceRequest)]
    request = outbound.message
    producer.receive(
        BROKER_ID,
        ProduceResponse(request.correlation_id, "t", 0, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    )
    assert not retried.done
    after = producer.send("t", "after", partition=0)
    world.clock.advance(producer.retry_backoff_ms)
    requests = [
        o.message for o in producer.poll_outbound() if isinstance(o.message, ProduceRequest)
    ]
    shown = [(r.records, r.producer_epoch, r.base_sequence) for r in requests]
    assert shown[0] == (("retried",), epoch + 1, 0)
    assert shown[1:] == [(("after",), epoch + 1, 1)]
    world.net.send("p", [type(outbound)(BROKER_ID, r) for r in requests])
    world.wait(after)
    assert retried.succeeded and after.succeeded


def test_read_committed_skips_aborted_and_open_data_and_never_returns_markers() -> None:
    world = World()
    producer = world.producer("p", "tx")
    world.wait(producer.init_transactions())
    for value, commit in (("c1", True), ("a1", False), ("c2", True)):
        producer.begin_transaction()
        producer.send("t", value, partition=0)
        end = producer.commit_transaction() if commit else producer.abort_transaction()
        if not commit:
            world.wait(producer.flush())  # the aborted record reaches the log first
        world.wait(end)
    producer.begin_transaction()
    world.wait(producer.send("t", "open", partition=0))
    tp = [TopicPartition("t", 0)]
    committed = world.read_all(world.consumer("rc", "read_committed"), tp)
    uncommitted = world.read_all(world.consumer("ru", "read_uncommitted"), tp)
    assert committed == ["c1", "c2"]
    assert "open" in uncommitted and "c1" in uncommitted


def test_subscribed_consumers_split_the_partitions_and_rebalance_when_one_leaves() -> None:
    world = World()
    world.broker.create_topic("t", 2)
    consumers = []
    for name in ("c1", "c2"):
        consumer = KafkaConsumer(
            client_id=name, clock=world.clock, group_id="g", heartbeat_interval_ms=50
        )
        world.net.register(name, consumer)
        consumer.subscribe(["t"])
        consumers.append(consumer)
    c1, c2 = consumers

    def assigned() -> list[list[TopicPartition]]:
        return [c.assignment for c in consumers]

    assert world.net.run_until(lambda: all(len(a) == 1 for a in assigned()), max_steps=5_000)
    assert sorted(c1.assignment + c2.assignment) == [TopicPartition("t", 0), TopicPartition("t", 1)]
    assert c1.generation_id == c2.generation_id == c1.group_metadata().generation_id
    generation = c1.generation_id
    world.net.send("c2", c2.unsubscribe())
    world.net.unregister("c2")
    assert world.net.run_until(lambda: len(c1.assignment) == 2, max_steps=5_000)
    assert c1.generation_id > generation


def test_commit_sync_stores_the_positions_a_restarted_consumer_resumes_from() -> None:
    world = World()
    producer = world.producer("p")
    for i in range(5):
        producer.send("t", f"v{i}", partition=0)
    world.wait(producer.flush())
    tp = TopicPartition("t", 0)
    first = KafkaConsumer(client_id="c1", clock=world.clock, group_id="g", fetch_max_wait_ms=10)
    world.net.register("c1", first)
    first.assign([tp])
    assert world.net.run_until(lambda: first.position(tp) == 0, max_steps=2_000)
    assert world.net.run_until(lambda: bool(first.buffer), max_steps=2_000)
    first.max_poll_records = 3
    assert [r.value for r in first.poll()] == ["v0", "v1", "v2"]
    commit = first.commit_sync()
    world.wait(commit)
    assert commit.succeeded
    second = KafkaConsumer(client_id="c2", clock=world.clock, group_id="g")
    world.net.register("c2", second)
    second.assign([tp])
    assert world.net.run_until(lambda: second.position(tp) is not None, max_steps=2_000)
    assert second.position(tp) == 3


def test_a_consumer_that_seeks_back_records_the_seek_and_its_history_stays_clean() -> None:
    """A read_committed consumer reads a partition, seeks back to 0 and reads it again: the
    history says so (a seek event before the second round), so the second round is no
    nonmonotonic poll; without the seek it would be."""
    world = World()
    producer = world.producer("p")
    for value in ("a", "b"):
        producer.send("t", value, partition=0)
    world.wait(producer.flush())
    tp = TopicPartition("t", 0)
    consumer = world.consumer("rc", "read_committed")
    first = world.read_all(consumer, [tp])
    consumer.seek(tp, 0)
    again: list[str] = []
    for _ in range(60):
        world.net.run_until(lambda: False, max_steps=200)
        again += [r.value for r in consumer.poll()]
    assert first == again == ["a", "b"]
    history = [*world.broker.drain_events(), *producer.drain_events(), *consumer.drain_events()]
    seeks = [e for e in history if isinstance(e, Seek)]
    assert seeks == [Seek("rc", "t-0", 0), Seek("rc", "t-0", 0)]  # the assignment's, the seek's
    assert check_history(history) == []
    without = [e for e in history if not isinstance(e, Seek)]
    assert [v.property for v in check_history(without)] == ["nonmonotonic-poll"]
