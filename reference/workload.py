"""The applications of the randomized simulation: each owns real clients and uses them only
through their Java-shaped API, the way a user's program would.

* :class:`IdempotentWriter`: an idempotent (non-transactional) producer writing unique values;
* :class:`TransactionalWriter`: begin, send 1-4 records to random partitions, commit (or abort);
* :class:`CopyApp`: consume-transform-produce: read_committed input, outputs and the consumed
  offsets in one transaction (``send_offsets_to_transaction``), commit; after an abort it
  rewinds to where the transaction started;
* :class:`Reader`: a consumer (read_committed or read_uncommitted) that keeps polling.

A crashed transactional app restarts with the same transactional.id (a new client incarnation);
the simulation may keep the old incarnation running as a zombie, which Kafka must fence.
Every value written is unique (``app:incarnation:txn:index``), so duplicates are visible.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from kafka_eos.protocol.client_states import ClientState
from kafka_eos.reference.consumer import KafkaConsumer
from kafka_eos.reference.futures import Future
from kafka_eos.reference.messages import TopicPartition
from kafka_eos.reference.producer import KafkaProducer

S = ClientState
#: Registers a client with the network (name, client) and returns it.
Attach = Callable[[str, Any], None]
Detach = Callable[[str], None]


class IdempotentWriter:
    def __init__(self, name: str, topic: str, partitions: int, make_producer: Any) -> None:
        self.name = name
        self.topic = topic
        self.partitions = partitions
        self.producer: KafkaProducer = make_producer(name, None)
        self.outstanding: list[Future] = []
        self.sent = 0

    def clients(self) -> list[tuple[str, Any]]:
        return [(self.name, self.producer)]

    def step(self, rng: random.Random) -> None:
        self.outstanding = [f for f in self.outstanding if not f.done]
        if len(self.outstanding) >= 8:
            return
        value = f"{self.name}:{self.sent}"
        self.sent += 1
        partition = rng.randrange(self.partitions)
        self.outstanding.append(self.producer.send(self.topic, value, partition=partition))


class TransactionalWriter:
    def __init__(
        self,
        name: str,
        transactional_id: str,
        topic: str,
        partitions: int,
        make_producer: Any,
        *,
        abort_ratio: float = 0.2,
    ) -> None:
        self.name = name
        self.transactional_id = transactional_id
        self.topic = topic
        self.partitions = partitions
        self.make_producer = make_producer
        self.abort_ratio = abort_ratio
        self.incarnation = 0
        self.client_id = f"{name}.{self.incarnation}"
        self.producer: KafkaProducer = make_producer(self.client_id, transactional_id)
        self.txn = 0
        self.to_send = 0
        self.commit = True
        self.index = 0

    def clients(self) -> list[tuple[str, Any]]:
        return [(self.client_id, self.producer)]

    def restart(self) -> TransactionalWriter:
        """A new incarnation with the same transactional.id (the old object is left to the
        caller: dropped, or kept running as a zombie)."""
        successor = TransactionalWriter.__new__(TransactionalWriter)
        successor.__dict__.update(self.__dict__)
        successor.incarnation = self.incarnation + 1
        successor.client_id = f"{self.name}.{successor.incarnation}"
        successor.producer = self.make_producer(successor.client_id, self.transactional_id)
        successor.txn = 0
        successor.to_send = 0
        return successor

    @property
    def fenced(self) -> bool:
        return self.producer.txn_state is S.FATAL_ERROR

    def step(self, rng: random.Random) -> None:
        producer = self.producer
        state = producer.txn_state
        if state is S.UNINITIALIZED:
            producer.init_transactions()
        elif state is S.READY:
            producer.begin_transaction()
            self.txn += 1
            self.index = 0
            self.to_send = rng.randint(1, 4)
            self.commit = rng.random() >= self.abort_ratio
        elif state is S.IN_TRANSACTION:
            if self.to_send > 0:
                value = f"{self.client_id}:{self.txn}:{self.index}"
                self.index += 1
                self.to_send -= 1
                producer.send(self.topic, value, partition=rng.randrange(self.partitions))
            elif self.commit:
                producer.commit_transaction()
            else:
                producer.abort_transaction()
        elif state is S.ABORTABLE_ERROR:
            producer.abort_transaction()


class CopyApp:
    """Consume-transform-produce with exactly-once: output ``f:<input value>``."""

    def __init__(
        self,
        name: str,
        transactional_id: str,
        group_id: str,
        source: list[TopicPartition],
        sink_topic: str,
        sink_partitions: int,
        make_producer: Any,
        make_consumer: Any,
        *,
        abort_ratio: float = 0.1,
        subscribe: bool = False,
    ) -> None:
        self.name = name
        self.subscribe = subscribe
        self.transactional_id = transactional_id
        self.group_id = group_id
        self.source = source
        self.sink_topic = sink_topic
        self.sink_partitions = sink_partitions
        self.make_producer = make_producer
        self.make_consumer = make_consumer
        self.abort_ratio = abort_ratio
        self.incarnation = -1
        self._start()

    def _start(self) -> None:
        self.incarnation += 1
        self.client_id = f"{self.name}.{self.incarnation}"
        self.producer: KafkaProducer = self.make_producer(self.client_id, self.transactional_id)
        self.consumer: KafkaConsumer = self.make_consumer(
            f"{self.client_id}.in", self.group_id, "read_committed"
        )
        self.rewind: dict[TopicPartition, int] = {}
        self.ending = False

    def clients(self) -> list[tuple[str, Any]]:
        return [(self.client_id, self.producer), (f"{self.client_id}.in", self.consumer)]

    def restart(self) -> CopyApp:
        successor = CopyApp.__new__(CopyApp)
        successor.__dict__.update(self.__dict__)
        successor._start()
        return successor

    @property
    def fenced(self) -> bool:
        return self.producer.txn_state is S.FATAL_ERROR

    def step(self, rng: random.Random) -> None:
        producer, consumer = self.producer, self.consumer
        state = producer.txn_state
        if state is S.UNINITIALIZED:
            producer.init_transactions()
        elif state is S.READY:
            if not consumer.assignment:
                # Only now, after init_transactions fenced any previous incarnation and its
                # open transaction is complete, are the committed offsets the ones to start
                # from (fetching them earlier can read offsets a zombie is about to move).
                if not self.subscribe:
                    consumer.assign(self.source)
                elif not consumer.subscription:
                    consumer.subscribe(sorted({tp.topic for tp in self.source}))
                return
            owned = list(consumer.assignment)
            if not all(consumer.position(tp) is not None for tp in owned):
                return
            before = {tp: consumer.position(tp) for tp in owned}
            records = consumer.poll()
            if not records:
                return
            self.rewind = {tp: offset for tp, offset in before.items() if offset is not None}
            producer.begin_transaction()
            for record in records:
                partition = record.partition % self.sink_partitions
                producer.send(self.sink_topic, f"f:{record.value}", partition=partition)
            offsets = {tp: consumer.position(tp) for tp in owned}
            producer.send_offsets_to_transaction(
                {tp: o for tp, o in offsets.items() if o is not None}, consumer.group_metadata()
            )
            if rng.random() < self.abort_ratio:
                self._abort()
            else:
                producer.commit_transaction()
        elif state is S.ABORTABLE_ERROR:
            self._abort()

    def _abort(self) -> None:
        self.producer.abort_transaction()
        for tp, offset in self.rewind.items():
            if tp in self.consumer.assignment:  # (a rebalance may have moved it elsewhere)
                self.consumer.seek(tp, offset)  # reprocess what the aborted transaction consumed


class Reader:
    def __init__(self, name: str, consumer: KafkaConsumer, partitions: list[TopicPartition]):
        self.name = name
        self.consumer = consumer
        consumer.assign(partitions)
        self.read = 0

    def clients(self) -> list[tuple[str, Any]]:
        return [(self.name, self.consumer)]

    def step(self, rng: random.Random) -> None:
        self.read += len(self.consumer.poll())
