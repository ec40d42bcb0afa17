"""librdkafka (confluent-kafka), unmodified, against ``kafka-eos serve``: idempotence,
transactions, isolation levels, consume-transform-produce with a subscribed group, zombie
fencing. Each test asserts what the clients observed and validates the broker's history."""

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
    validate,
    values_of,
)

from kafka_eos.protocol.history import Append, ProduceAck

pytestmark = [pytest.mark.clients, pytest.mark.timeout(90)]


@pytest.fixture
def serve(shared_serve: Any) -> Any:
    """This module's tests share one broker (each uses its own topics and ids)."""
    return shared_serve


def test_idempotent_producer_retries_after_lost_responses(serve: Any) -> None:
    serve.admin("drop-response Produce 2")
    producer = rd_producer(serve.bootstrap, "idem", **{"linger.ms": 0})
    values = [f"idem-{i}" for i in range(20)]
    acked = produce_values(producer, "idem", values)
    assert sorted(v for _, _, v in acked) == sorted(values)
    reads = rd_consume(
        serve.bootstrap, "idem", isolation="read_uncommitted", client_id="r1", expect=20
    )
    assert_exactly_once(reads, values)
    history = serve.history()
    appends = [e for e in history if isinstance(e, Append) and e.partition == "idem-0"]
    acks = [e for e in history if isinstance(e, ProduceAck) and e.partition == "idem-0"]
    # Two responses were lost: their retries were answered from the duplicate cache, and
    # only the answers the client received are acks in the history.
    assert len(acks) == len(appends)
    validate(history + reads)


def test_commit_is_visible_abort_is_not_to_read_committed(serve: Any) -> None:
    producer = rd_transactional(serve.bootstrap, "tx", "tx-commit-abort")
    committed = [f"c{i}" for i in range(10)]
    aborted = [f"a{i}" for i in range(5)]
    producer.begin_transaction()
    produce_values(producer, "txn", committed)
    producer.commit_transaction(TXN_TIMEOUT_S)
    producer.begin_transaction()
    produce_values(producer, "txn", aborted)
    producer.abort_transaction(TXN_TIMEOUT_S)
    producer.begin_transaction()
    produce_values(producer, "txn", ["last"])
    producer.commit_transaction(TXN_TIMEOUT_S)

    read_committed = rd_consume(
        serve.bootstrap, "txn", isolation="read_committed", client_id="rc", expect=11
    )
    assert_exactly_once(read_committed, [*committed, "last"])
    read_uncommitted = rd_consume(
        serve.bootstrap, "txn", isolation="read_uncommitted", client_id="ru", expect=16
    )
    assert values_of(read_uncommitted) == [*committed, *aborted, "last"]
    validate(serve.history() + read_committed + read_uncommitted)


def test_read_committed_waits_for_the_open_transaction(serve: Any) -> None:
    producer = rd_transactional(serve.bootstrap, "tx", "tx-open")
    producer.begin_transaction()
    produce_values(producer, "open", ["pending-1", "pending-2"])
    during = rd_consume(
        serve.bootstrap, "open", isolation="read_committed", client_id="rc1", timeout_s=2.0
    )
    assert during == []  # the LSO stays at the open transaction's first offset
    dirty = rd_consume(
        serve.bootstrap, "open", isolation="read_uncommitted", client_id="ru1", expect=2
    )
    assert values_of(dirty) == ["pending-1", "pending-2"]
    producer.commit_transaction(TXN_TIMEOUT_S)
    after = rd_consume(
        serve.bootstrap, "open", isolation="read_committed", client_id="rc2", expect=2
    )
    assert values_of(after) == ["pending-1", "pending-2"]
    validate(serve.history() + during + dirty + after)


def test_consume_transform_produce_with_a_subscribed_group(serve: Any) -> None:
    inputs = [f"in-{i}" for i in range(30)]
    produce_values(rd_producer(serve.bootstrap, "feeder"), "ctp-in", inputs)
    producer = rd_transactional(serve.bootstrap, "ctp", "tx-ctp")
    consumer = Consumer(
        {
            "bootstrap.servers": serve.bootstrap,
            "client.id": "ctp-consumer",
            "group.id": "ctp-group",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.subscribe(["ctp-in"])
    consumed = []
    import time

    deadline = time.monotonic() + 40
    try:
        while len(consumed) < len(inputs) and time.monotonic() < deadline:
            batch = [m for m in consumer.consume(10, timeout=0.5) if not m.error()]
            if not batch:
                continue
            producer.begin_transaction()
            produce_values(
                producer, "ctp-out", [m.value().decode().replace("in", "out") for m in batch]
            )
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()),
                consumer.consumer_group_metadata(),
                TXN_TIMEOUT_S,
            )
            producer.commit_transaction(TXN_TIMEOUT_S)
            consumed.extend(m.value().decode() for m in batch)
    finally:
        consumer.close()
    assert consumed == inputs

    outputs = rd_consume(
        serve.bootstrap, "ctp-out", isolation="read_committed", client_id="out-reader", expect=30
    )
    assert_exactly_once(outputs, [v.replace("in", "out") for v in inputs])
    checker = Consumer(
        {"bootstrap.servers": serve.bootstrap, "group.id": "ctp-group", "enable.auto.commit": False}
    )
    committed = checker.committed([TopicPartition("ctp-in", 0)], timeout=10)
    checker.close()
    assert committed[0].offset == 30
    validate(serve.history() + outputs)


def test_a_zombie_producer_is_fenced_and_its_writes_never_visible(serve: Any) -> None:
    zombie = rd_transactional(serve.bootstrap, "zombie", "tx-shared")
    zombie.begin_transaction()
    produce_values(zombie, "fence", ["zombie-1"])

    successor = rd_transactional(serve.bootstrap, "successor", "tx-shared")
    successor.begin_transaction()
    produce_values(successor, "fence", ["successor-1"])
    successor.commit_transaction(TXN_TIMEOUT_S)

    with pytest.raises(KafkaException) as raised:
        zombie.produce("fence", value=b"zombie-2")
        zombie.flush(5)
        zombie.commit_transaction(TXN_TIMEOUT_S)
    error = raised.value.args[0]
    assert error.fatal() or error.txn_requires_abort(), error

    reads = rd_consume(
        serve.bootstrap, "fence", isolation="read_committed", client_id="rc", expect=1
    )
    assert values_of(reads) == ["successor-1"]
    validate(serve.history() + reads)
