"""Real-client helpers for the wire tests: librdkafka (confluent-kafka), kafka-python and
aiokafka producers and consumers with bounded timeouts, and what they observed as history
events."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from kafka import KafkaProducer

from kafka_eos.protocol.history import Event, Read
from kafka_eos.pytest_plugin import read_event

TXN_TIMEOUT_S = 20


def rd_producer(bootstrap: str, client_id: str, **extra: Any) -> Producer:
    conf = {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "linger.ms": 5,
        "compression.type": "none",
        "enable.idempotence": True,
        "request.timeout.ms": 3000,
        "socket.timeout.ms": 3000,
        "message.timeout.ms": 30000,
        "retry.backoff.ms": 100,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        **extra,
    }
    return Producer(conf)


def kp_producer(bootstrap: str, client_id: str, **extra: Any) -> KafkaProducer:
    """A kafka-python idempotent producer with short timeouts (``extra``: more settings)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        client_id=client_id,
        enable_idempotence=True,
        request_timeout_ms=3000,
        retry_backoff_ms=100,
        linger_ms=5,
        **extra,
    )


def aio_producer(bootstrap: str, client_id: str, **extra: Any) -> AIOKafkaProducer:
    """An aiokafka idempotent producer with short timeouts (``extra``: more settings); made
    inside the event loop that runs it, then ``await producer.start()``."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        request_timeout_ms=3000,
        retry_backoff_ms=100,
        linger_ms=5,
        **extra,
    )


def rd_transactional(
    bootstrap: str, client_id: str, transactional_id: str, **extra: Any
) -> Producer:
    producer = rd_producer(
        bootstrap,
        client_id,
        **{"transactional.id": transactional_id, "transaction.timeout.ms": 30000, **extra},
    )
    producer.init_transactions(TXN_TIMEOUT_S)
    return producer


def produce_values(
    producer: Producer, topic: str, values: Iterable[str], *, partition: int | None = None
) -> list[tuple[int, int, str]]:
    """Produce and flush; (partition, offset, value) of every acknowledged record. Raises on
    a delivery error (the tests that expect one handle it themselves)."""
    delivered: list[tuple[int, int, str]] = []
    errors: list[Any] = []

    def on_delivery(error: Any, message: Any) -> None:
        if error is not None:
            errors.append(error)
        else:
            delivered.append((message.partition(), message.offset(), message.value().decode()))

    for value in values:
        kwargs: dict[str, Any] = {"value": value.encode(), "on_delivery": on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        producer.produce(topic, **kwargs)
        producer.poll(0)
    remaining = producer.flush(TXN_TIMEOUT_S)
    assert remaining == 0, f"{remaining} records still undelivered"
    assert not errors, f"delivery errors: {errors}"
    return delivered


def rd_consume(
    bootstrap: str,
    topic: str,
    *,
    isolation: str,
    client_id: str,
    partitions: int = 1,
    expect: int | None = None,
    idle_s: float = 1.0,
    timeout_s: float = 20.0,
) -> list[Read]:
    """Read a topic from the start with assign(); the Read events of what poll() returned.
    Stops after ``expect`` records plus ``idle_s`` of silence, or ``timeout_s``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "group.id": f"reader-{client_id}",
            "isolation.level": isolation,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    reads: list[Read] = []
    deadline = time.monotonic() + timeout_s
    last_data = time.monotonic()
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.1)
            if message is None:
                enough = expect is None or len(reads) >= expect
                if enough and time.monotonic() - last_data > idle_s:
                    break
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                continue
            last_data = time.monotonic()
            reads.append(read_event(message, client=client_id, isolation=isolation))
    finally:
        consumer.close()
    return reads


def run_transaction(
    producer: Producer, topic: str, values: list[str], *, attempts: int = 3
) -> None:
    """What an application does: produce ``values`` in one transaction and commit; retry the
    commit on a retriable error; abort and redo the transaction on an abortable one."""
    for _ in range(attempts):
        producer.begin_transaction()
        try:
            produce_values(producer, topic, values)
            _commit(producer)
            return
        except (KafkaException, AssertionError) as exc:
            error = exc.args[0] if isinstance(exc, KafkaException) else None
            if error is not None and error.fatal():
                raise
            producer.abort_transaction(TXN_TIMEOUT_S)
    raise AssertionError(f"transaction on {topic} did not commit in {attempts} attempts")


def _commit(producer: Producer) -> None:
    for _ in range(5):
        try:
            producer.commit_transaction(TXN_TIMEOUT_S)
            return
        except KafkaException as exc:
            if not exc.args[0].retriable():
                raise
    producer.commit_transaction(TXN_TIMEOUT_S)


def values_of(reads: list[Read]) -> list[str]:
    return [read.value for read in reads]


def validate(history: list[Event]) -> None:
    """The history satisfies the model's properties (contract D's check_history)."""
    from kafka_eos.protocol.history_checks import check_history

    violations = check_history(history)
    assert not violations, "\n".join(f"{v.property}: {v.message}" for v in violations)


def assert_exactly_once(reads: list[Read], expected: Iterable[str]) -> None:
    """Every expected value read once, nothing else (no duplicate, nothing lost or extra)."""
    got = values_of(reads)
    duplicates = sorted({v for v in got if got.count(v) > 1})
    assert not duplicates, f"duplicates: {duplicates[:10]}"
    missing = sorted(set(expected) - set(got))
    assert not missing, f"lost: {missing[:10]}"
    extra = sorted(set(got) - set(expected))
    assert not extra, f"unexpected (aborted or foreign) records: {extra[:10]}"
