"""aiokafka, unmodified, against ``kafka-eos serve``: a third, asyncio client implementation.
It sends version 0 of every transaction API (InitProducerId, AddPartitionsToTxn,
AddOffsetsToTxn, EndTxn, TxnOffsetCommit), older than librdkafka's and kafka-python's, so a
fenced producer must be told INVALID_PRODUCER_EPOCH, the only fencing error those versions
know.

aiokafka's ``send_offsets_to_transaction(offsets, group_id)`` takes a group id, not the
consumer's group metadata: its TxnOffsetCommit v0 carries no generation or member id, so the
group coordinator's KIP-447 fencing of a stale group member is not exercised through it (the
librdkafka and kafka-python tests exercise it)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import ProducerFenced
from wire_clients import aio_producer, assert_exactly_once, validate, values_of

from kafka_eos.protocol.history import Read
from kafka_eos.pytest_plugin import read_event

pytestmark = [pytest.mark.clients, pytest.mark.timeout(90)]


@pytest.fixture
def serve(shared_serve: Any) -> Any:
    """This module's tests share one broker (each uses its own topics and ids)."""
    return shared_serve


def _consumer(bootstrap: str, client_id: str, **extra: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        **extra,
    )


async def _consume(bootstrap: str, topic: str, *, isolation: str, client_id: str) -> list[Read]:
    """Partition 0 of ``topic`` from the start, until 1.5 s pass without a record."""
    consumer = _consumer(bootstrap, client_id, isolation_level=isolation)
    await consumer.start()
    reads: list[Read] = []
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning()
        while batches := await consumer.getmany(timeout_ms=1500):
            reads += [
                read_event(r, client=client_id, isolation=isolation)
                for b in batches.values()
                for r in b
            ]
    finally:
        await consumer.stop()
    return reads


async def _send_all(producer: Any, topic: str, values: list[str]) -> None:
    """Send and wait for every acknowledgement (raises on a delivery error)."""
    delivered = [await producer.send(topic, value.encode()) for value in values]
    await asyncio.gather(*delivered)


async def _produce(bootstrap: str, client_id: str, topic: str, values: list[str]) -> None:
    """``values`` through a new idempotent producer, closed once every one is acknowledged."""
    producer = aio_producer(bootstrap, client_id)
    await producer.start()
    try:
        await _send_all(producer, topic, values)
    finally:
        await producer.stop()


def test_idempotent_producer_with_lost_responses(serve: Any) -> None:
    serve.admin("close-after Produce 2")
    values = [f"aio-{i}" for i in range(30)]

    async def scenario() -> list[Read]:
        await _produce(serve.bootstrap, "aio-idem", "aio-idem", values)
        return await _consume(
            serve.bootstrap, "aio-idem", isolation="read_uncommitted", client_id="r"
        )

    reads = asyncio.run(scenario())
    assert_exactly_once(reads, values)
    assert serve.admin("status") == "ok none"  # both connection closes happened
    validate(serve.history() + reads)


def test_commit_abort_and_isolation_levels(serve: Any) -> None:
    async def scenario() -> tuple[list[Read], list[Read]]:
        producer = aio_producer(serve.bootstrap, "aio-tx", transactional_id="aio-tx")
        await producer.start()
        try:
            async with producer.transaction():
                await _send_all(producer, "aio-txn", ["c1", "c2", "c3"])
            await producer.begin_transaction()
            await _send_all(producer, "aio-txn", ["a1", "a2"])
            await producer.abort_transaction()
        finally:
            await producer.stop()
        committed = await _consume(
            serve.bootstrap, "aio-txn", isolation="read_committed", client_id="rc"
        )
        dirty = await _consume(
            serve.bootstrap, "aio-txn", isolation="read_uncommitted", client_id="ru"
        )
        return committed, dirty

    committed, dirty = asyncio.run(scenario())
    assert_exactly_once(committed, ["c1", "c2", "c3"])
    assert values_of(dirty) == ["c1", "c2", "c3", "a1", "a2"]
    validate(serve.history() + committed + dirty)


def test_consume_transform_produce_with_a_subscribed_group(serve: Any) -> None:
    inputs = [f"in-{i}" for i in range(20)]

    async def transform() -> list[str]:
        """Each poll's records, transformed, and their offsets in one transaction."""
        producer = aio_producer(serve.bootstrap, "aio-ctp", transactional_id="aio-ctp")
        consumer = _consumer(
            serve.bootstrap,
            "aio-ctp-consumer",
            group_id="aio-ctp-group",
            isolation_level="read_committed",
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        )
        await producer.start()
        await consumer.start()
        consumer.subscribe(["aio-ctp-in"])
        consumed: list[str] = []
        deadline = time.monotonic() + 40
        try:
            while len(consumed) < len(inputs) and time.monotonic() < deadline:
                polled = await consumer.getmany(timeout_ms=500, max_records=7)
                records = [r for batch in polled.values() for r in batch]
                if not records:
                    continue
                async with producer.transaction():
                    outputs = [r.value.decode().replace("in", "out") for r in records]
                    await _send_all(producer, "aio-ctp-out", outputs)
                    offsets = {tp: batch[-1].offset + 1 for tp, batch in polled.items()}
                    await producer.send_offsets_to_transaction(offsets, "aio-ctp-group")
                consumed += [r.value.decode() for r in records]
        finally:
            await consumer.stop()
            await producer.stop()
        return consumed

    async def scenario() -> tuple[list[str], list[Read], int | None]:
        await _produce(serve.bootstrap, "aio-feeder", "aio-ctp-in", inputs)
        consumed = await transform()
        outputs = await _consume(
            serve.bootstrap, "aio-ctp-out", isolation="read_committed", client_id="o"
        )
        checker = _consumer(serve.bootstrap, "aio-ctp-checker", group_id="aio-ctp-group")
        await checker.start()
        try:
            committed = await checker.committed(TopicPartition("aio-ctp-in", 0))
        finally:
            await checker.stop()
        return consumed, outputs, committed

    consumed, outputs, committed = asyncio.run(scenario())
    assert consumed == inputs
    assert_exactly_once(outputs, [v.replace("in", "out") for v in inputs])
    assert committed == len(inputs)
    validate(serve.history() + outputs)


def test_a_zombie_producer_is_fenced(serve: Any) -> None:
    async def scenario() -> list[Read]:
        zombie = aio_producer(serve.bootstrap, "aio-zombie", transactional_id="aio-shared")
        await zombie.start()
        try:
            await zombie.begin_transaction()
            await _send_all(zombie, "aio-fence", ["zombie"])
            successor = aio_producer(
                serve.bootstrap, "aio-successor", transactional_id="aio-shared"
            )
            await successor.start()
            try:
                async with successor.transaction():
                    await _send_all(successor, "aio-fence", ["successor"])
            finally:
                await successor.stop()
            # EndTxn v0 answered INVALID_PRODUCER_EPOCH: aiokafka knows no PRODUCER_FENCED
            with pytest.raises(ProducerFenced):
                await zombie.commit_transaction()
        finally:
            await zombie.stop()
        return await _consume(
            serve.bootstrap, "aio-fence", isolation="read_committed", client_id="rc"
        )

    reads = asyncio.run(scenario())
    assert values_of(reads) == ["successor"]
    validate(serve.history() + reads)
