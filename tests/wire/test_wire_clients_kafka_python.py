"""kafka-python, unmodified, against ``kafka-eos serve``: the same guarantees as with
librdkafka, through a second, independent client implementation (it also exercises the
ApiVersions fallback: it asks for v4, gets UNSUPPORTED_VERSION in v0, and retries)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError, ProducerFencedError
from wire_clients import assert_exactly_once, kp_producer, validate, values_of

from kafka_eos.protocol.history import Read
from kafka_eos.pytest_plugin import read_event

pytestmark = [pytest.mark.clients, pytest.mark.timeout(90)]


@pytest.fixture
def serve(shared_serve: Any) -> Any:
    """This module's tests share one broker (each uses its own topics and ids)."""
    return shared_serve


def _consume(bootstrap: str, topic: str, *, isolation: str, client_id: str) -> list[Read]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        isolation_level=isolation,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1500,
        fetch_max_wait_ms=100,
    )
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    reads = [read_event(record, client=client_id, isolation=isolation) for record in consumer]
    consumer.close()
    return reads


def _send_all(producer: KafkaProducer, topic: str, values: list[str]) -> None:
    futures = [producer.send(topic, value.encode()) for value in values]
    producer.flush(timeout=20)
    for future in futures:
        future.get(timeout=1)


def test_idempotent_producer_with_lost_responses(serve: Any) -> None:
    serve.admin("close-after Produce 2")
    producer = kp_producer(serve.bootstrap, "kp-idem")
    values = [f"kp-{i}" for i in range(30)]
    _send_all(producer, "kp-idem", values)
    producer.close()
    reads = _consume(serve.bootstrap, "kp-idem", isolation="read_uncommitted", client_id="r")
    assert_exactly_once(reads, values)
    assert serve.admin("status") == "ok none"
    validate(serve.history() + reads)


def test_commit_abort_and_isolation_levels(serve: Any) -> None:
    producer = kp_producer(serve.bootstrap, "kp-tx", transactional_id="kp-tx")
    producer.init_transactions()
    producer.begin_transaction()
    _send_all(producer, "kp-txn", ["c1", "c2", "c3"])
    producer.commit_transaction()
    producer.begin_transaction()
    _send_all(producer, "kp-txn", ["a1", "a2"])
    producer.abort_transaction()
    producer.close()
    committed = _consume(serve.bootstrap, "kp-txn", isolation="read_committed", client_id="rc")
    assert_exactly_once(committed, ["c1", "c2", "c3"])
    dirty = _consume(serve.bootstrap, "kp-txn", isolation="read_uncommitted", client_id="ru")
    assert values_of(dirty) == ["c1", "c2", "c3", "a1", "a2"]
    validate(serve.history() + committed + dirty)


def test_consume_transform_produce_with_a_subscribed_group(serve: Any) -> None:
    feeder = kp_producer(serve.bootstrap, "kp-feeder")
    inputs = [f"in-{i}" for i in range(20)]
    _send_all(feeder, "kp-ctp-in", inputs)
    feeder.close()
    producer = kp_producer(serve.bootstrap, "kp-ctp", transactional_id="kp-ctp")
    producer.init_transactions()
    consumer = KafkaConsumer(
        "kp-ctp-in",
        bootstrap_servers=serve.bootstrap,
        client_id="kp-ctp-consumer",
        group_id="kp-ctp-group",
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=100,
    )
    consumed: list[str] = []
    deadline = time.monotonic() + 40
    try:
        while len(consumed) < len(inputs) and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=500, max_records=7)
            records = [r for batch in polled.values() for r in batch]
            if not records:
                continue
            producer.begin_transaction()
            _send_all(
                producer, "kp-ctp-out", [r.value.decode().replace("in", "out") for r in records]
            )
            offsets = {
                tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1) for tp, batch in polled.items()
            }
            producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
            producer.commit_transaction()
            consumed += [r.value.decode() for r in records]
    finally:
        consumer.close()
        producer.close()
    assert consumed == inputs
    outputs = _consume(serve.bootstrap, "kp-ctp-out", isolation="read_committed", client_id="o")
    assert_exactly_once(outputs, [v.replace("in", "out") for v in inputs])
    checker = KafkaConsumer(
        bootstrap_servers=serve.bootstrap, group_id="kp-ctp-group", enable_auto_commit=False
    )
    assert checker.committed(TopicPartition("kp-ctp-in", 0)) == 20
    checker.close()
    validate(serve.history() + outputs)


def test_a_zombie_producer_is_fenced(serve: Any) -> None:
    zombie = kp_producer(serve.bootstrap, "kp-zombie", transactional_id="kp-shared")
    zombie.init_transactions()
    zombie.begin_transaction()
    _send_all(zombie, "kp-fence", ["zombie"])
    successor = kp_producer(serve.bootstrap, "kp-successor", transactional_id="kp-shared")
    successor.init_transactions()
    successor.begin_transaction()
    _send_all(successor, "kp-fence", ["successor"])
    successor.commit_transaction()
    successor.close()
    with pytest.raises((ProducerFencedError, KafkaError)):
        zombie.commit_transaction()
    zombie.close(timeout=2)
    reads = _consume(serve.bootstrap, "kp-fence", isolation="read_committed", client_id="rc")
    assert values_of(reads) == ["successor"]
    validate(serve.history() + reads)
