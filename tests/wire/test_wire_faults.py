"""The same client workloads with faults: lost responses, delayed requests, closed
connections, coordinator failover, producer-state expiry, and kill -9 with a data dir.
Whatever the fault, read_committed sees every committed record exactly once and nothing
aborted, no acknowledged record is lost, and the history validates."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from wire_clients import (
    TXN_TIMEOUT_S,
    assert_exactly_once,
    produce_values,
    rd_consume,
    rd_producer,
    rd_transactional,
    run_transaction,
    validate,
    values_of,
)

from kafka_eos.protocol.history import Append, Marker

pytestmark = [pytest.mark.clients, pytest.mark.timeout(120)]

FAULTS = [
    "drop-response EndTxn 1",
    "drop-response AddPartitionsToTxn 1",
    "drop-response Produce 1",
    "drop-response InitProducerId 1",
    "close-after Produce 1",
    "close-after EndTxn 1",
    "close-after AddPartitionsToTxn 1",
    "delay * 150 10",
    # past the clients' request.timeout.ms (3 s): they re-send on a new connection, and the
    # first copy is handled after the re-sent one
    "request-timeout Produce 4000",
    "request-timeout AddPartitionsToTxn 4000",
    "request-timeout EndTxn 4000",
    "refuse-produce NOT_ENOUGH_REPLICAS 2",
    "refuse-produce NOT_LEADER_OR_FOLLOWER 1",
]


@pytest.mark.parametrize("fault", FAULTS)
def test_transactions_survive(serve: Any, fault: str) -> None:
    serve.admin(fault)
    producer = rd_transactional(serve.bootstrap, "faulty", "tx-faults")
    committed: list[str] = []
    for number in range(3):
        values = [f"t{number}-{i}" for i in range(5)]
        run_transaction(producer, "faults", values)
        committed += values
    producer.begin_transaction()
    produce_values(producer, "faults", ["aborted-1", "aborted-2"])
    producer.abort_transaction(TXN_TIMEOUT_S)
    reads = rd_consume(
        serve.bootstrap, "faults", isolation="read_committed", client_id="rc", expect=len(committed)
    )
    assert_exactly_once(reads, committed)
    assert serve.admin("status") == "ok none", "the fault never fired"
    validate(serve.history() + reads)


def test_coordinator_failover_in_the_middle_of_a_transaction(serve: Any) -> None:
    producer = rd_transactional(serve.bootstrap, "failover", "tx-failover")
    run_transaction(producer, "failover", ["before"])
    producer.begin_transaction()
    produce_values(producer, "failover", ["during-1", "during-2"])
    serve.admin("fence-coordinator")
    producer.commit_transaction(TXN_TIMEOUT_S)
    run_transaction(producer, "failover", ["after"])
    reads = rd_consume(
        serve.bootstrap, "failover", isolation="read_committed", client_id="rc", expect=4
    )
    assert_exactly_once(reads, ["before", "during-1", "during-2", "after"])
    validate(serve.history() + reads)


def test_idempotent_producer_after_producer_state_expiry(serve: Any) -> None:
    producer = rd_producer(serve.bootstrap, "expiring")
    first = produce_values(producer, "expiry", [f"e{i}" for i in range(10)])
    assert serve.admin("expire-producers").startswith("ok expired")
    second = produce_values(producer, "expiry", [f"f{i}" for i in range(10)])
    assert len(first) + len(second) == 20
    reads = rd_consume(
        serve.bootstrap, "expiry", isolation="read_uncommitted", client_id="r", expect=20
    )
    assert_exactly_once(reads, [f"e{i}" for i in range(10)] + [f"f{i}" for i in range(10)])
    validate(serve.history() + reads)


def test_kill_9_loses_no_acknowledged_record_of_an_idempotent_producer(serve_factory: Any) -> None:
    broker = serve_factory(data_dir=True)
    producer = rd_producer(broker.bootstrap, "survivor")
    acked = produce_values(producer, "durable", [f"d{i}" for i in range(50)])
    for i in range(50, 100):
        producer.produce("durable", value=f"d{i}".encode())
    producer.poll(0)
    broker.restart()  # kill -9 with requests in flight, then start on the same port
    assert producer.flush(TXN_TIMEOUT_S) == 0
    acked_values = {v for _, _, v in acked}
    reads = rd_consume(
        broker.bootstrap, "durable", isolation="read_uncommitted", client_id="r", expect=100
    )
    got = values_of(reads)
    assert acked_values <= set(got), f"acknowledged but lost: {sorted(acked_values - set(got))}"
    assert_exactly_once(reads, [f"d{i}" for i in range(100)])
    validate(broker.history() + reads)


def test_kill_9_in_the_middle_of_a_transaction(serve_factory: Any) -> None:
    broker = serve_factory(data_dir=True)
    producer = rd_transactional(broker.bootstrap, "txn-survivor", "tx-kill")
    run_transaction(producer, "durable-txn", ["t0-a", "t0-b"])
    producer.begin_transaction()
    produce_values(producer, "durable-txn", ["t1-a", "t1-b"])  # acknowledged, not committed
    broker.restart()
    try:
        producer.commit_transaction(TXN_TIMEOUT_S)
        t1_committed = True
    except Exception as exc:  # an abortable error is a legitimate outcome of the crash
        error = exc.args[0]
        assert not error.fatal(), error
        producer.abort_transaction(TXN_TIMEOUT_S)
        t1_committed = False
    run_transaction(producer, "durable-txn", ["t2-a"])
    expected = ["t0-a", "t0-b", *(["t1-a", "t1-b"] if t1_committed else []), "t2-a"]
    reads = rd_consume(
        broker.bootstrap,
        "durable-txn",
        isolation="read_committed",
        client_id="rc",
        expect=len(expected),
    )
    assert_exactly_once(reads, expected)
    validate(broker.history() + reads)


def test_faults_armed_from_the_command_line(serve_factory: Any) -> None:
    broker = serve_factory(
        args=("--fault", "close-after Produce 1", "--fault", "delay EndTxn 300 1")
    )
    producer = rd_transactional(broker.bootstrap, "cli-faults", "tx-cli-faults")
    run_transaction(producer, "cli-faults", ["x1", "x2", "x3"])
    reads = rd_consume(
        broker.bootstrap, "cli-faults", isolation="read_committed", client_id="rc", expect=3
    )
    assert_exactly_once(reads, ["x1", "x2", "x3"])
    assert broker.admin("status") == "ok none"
    validate(broker.history() + reads)


def test_closing_every_connection_mid_transaction(serve: Any) -> None:
    producer = rd_transactional(serve.bootstrap, "cut", "tx-cut")
    producer.begin_transaction()
    produce_values(producer, "cut", ["cut-1", "cut-2"])
    assert serve.admin("close-connections").startswith("ok closed")
    produce_values(producer, "cut", ["cut-3"])
    producer.commit_transaction(TXN_TIMEOUT_S)
    reads = rd_consume(serve.bootstrap, "cut", isolation="read_committed", client_id="rc", expect=3)
    assert_exactly_once(reads, ["cut-1", "cut-2", "cut-3"])
    validate(serve.history() + reads)


def test_a_timed_out_transaction_is_aborted_by_the_coordinator(serve: Any) -> None:
    producer = rd_transactional(
        serve.bootstrap,
        "slow",
        "tx-slow",
        **{"transaction.timeout.ms": 5000, "message.timeout.ms": 5000},
    )
    producer.begin_transaction()
    produce_values(producer, "slow", ["late-1", "late-2"])
    serve.admin("advance-clock 6000")  # the broker's clock passes the transaction timeout
    with pytest.raises(KafkaException) as raised:
        producer.commit_transaction(TXN_TIMEOUT_S)
    error = raised.value.args[0]
    assert error.fatal() or error.txn_requires_abort(), error
    reads = rd_consume(
        serve.bootstrap, "slow", isolation="read_committed", client_id="rc", timeout_s=2.0
    )
    assert reads == []
    dirty = rd_consume(
        serve.bootstrap, "slow", isolation="read_uncommitted", client_id="ru", expect=2
    )
    assert values_of(dirty) == ["late-1", "late-2"]
    markers = [e for e in serve.history() if isinstance(e, Marker) and e.partition == "slow-0"]
    assert [m.commit for m in markers] == [False]
    validate(serve.history() + reads + dirty)


def test_crash_between_append_and_ack_then_the_retry_is_deduplicated(serve_factory: Any) -> None:
    broker = serve_factory(data_dir=True)
    producer = rd_producer(broker.bootstrap, "crash-produce")
    producer.list_topics(timeout=10)  # connected before the fault is armed
    broker.admin("crash-after Produce")  # armed in this process only, not after the restart
    values = [f"cp-{i}" for i in range(10)]
    for value in values:
        producer.produce("crash-produce", value=value.encode())
    producer.poll(0)
    assert broker.wait_for_crash() == 137  # appended and fsynced, never answered
    broker.start()  # same port, same data dir: producer state is rebuilt from the log
    assert producer.flush(TXN_TIMEOUT_S) == 0  # the client retries the same batch
    appends = [e for e in broker.history() if isinstance(e, Append)]
    assert sum(len(a.records) for a in appends) == 10, "the retry was appended again"
    reads = rd_consume(
        broker.bootstrap, "crash-produce", isolation="read_uncommitted", client_id="r", expect=10
    )
    assert_exactly_once(reads, values)
    validate(broker.history() + reads)


def test_crash_after_end_txn_before_the_answer(serve_factory: Any) -> None:
    broker = serve_factory(data_dir=True)
    producer = rd_transactional(broker.bootstrap, "crash-txn", "tx-crash")
    broker.admin("crash-after EndTxn")
    producer.begin_transaction()
    produce_values(producer, "crash-txn", ["ct-1", "ct-2"])
    import threading

    outcome: list[BaseException | None] = []

    def commit() -> None:
        try:
            producer.commit_transaction(TXN_TIMEOUT_S)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    committer = threading.Thread(target=commit)
    committer.start()
    assert broker.wait_for_crash() == 137
    broker.start()
    committer.join(TXN_TIMEOUT_S + 5)
    assert outcome == [None], outcome  # the retried EndTxn finds the decision made durably
    run_transaction(producer, "crash-txn", ["ct-3"])
    reads = rd_consume(
        broker.bootstrap, "crash-txn", isolation="read_committed", client_id="rc", expect=3
    )
    assert_exactly_once(reads, ["ct-1", "ct-2", "ct-3"])
    validate(broker.history() + reads)


def test_committed_offsets_and_transactions_survive_kill_9(serve_factory: Any) -> None:
    broker = serve_factory(data_dir=True)
    produce_values(rd_producer(broker.bootstrap, "feeder"), "kept", [f"k{i}" for i in range(5)])
    producer = rd_transactional(broker.bootstrap, "ctp-kill", "tx-ctp-kill")
    producer.begin_transaction()
    produce_values(producer, "kept-out", ["out-1"])
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "kept-group",
            "enable.auto.commit": False,
        }
    )
    producer.send_offsets_to_transaction(
        [TopicPartition("kept", 0, 3)], consumer.consumer_group_metadata(), TXN_TIMEOUT_S
    )
    producer.commit_transaction(TXN_TIMEOUT_S)
    consumer.commit(offsets=[TopicPartition("kept", 0, 4)], asynchronous=False)
    consumer.close()
    broker.restart()
    checker = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "kept-group",
            "enable.auto.commit": False,
        }
    )
    committed = checker.committed([TopicPartition("kept", 0)], timeout=10)
    checker.close()
    assert committed[0].offset == 4
    reads = rd_consume(
        broker.bootstrap, "kept-out", isolation="read_committed", client_id="rc", expect=1
    )
    assert values_of(reads) == ["out-1"]
    validate(broker.history() + reads)
