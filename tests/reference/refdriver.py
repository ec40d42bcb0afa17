"""Test drivers for the reference core: deliver one message at a time, synchronously."""

from __future__ import annotations

from typing import Any

from kafka_eos.reference.clock import VirtualClock
from kafka_eos.reference.messages import (
    EndTxnRequest,
    InitProducerIdRequest,
    ProduceRequest,
    TopicPartition,
)
from kafka_eos.reference.node import BrokerConfig, BrokerNode, Outbound
from kafka_eos.reference.storage import MemoryStorage, Storage

CLIENT = "client"


class Direct:
    """A node and a synchronous driver: ``call`` sends one request from a client and returns
    the responses addressed to clients, looping the node's messages to itself back into it
    (unless ``hold`` keeps them, so a test can deliver them later, one by one)."""

    def __init__(
        self,
        config: BrokerConfig | None = None,
        *,
        storage: Storage | None = None,
        clock: VirtualClock | None = None,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.storage = storage if storage is not None else MemoryStorage()
        self.config = config or BrokerConfig(num_partitions=2)
        self.node = BrokerNode(config=self.config, clock=self.clock, storage=self.storage)
        self.held: list[Outbound] = []
        self.hold = False
        self._cid = 1000

    def restart(self) -> None:
        """A new node process on the same storage (what a kill -9 and restart leaves)."""
        self.node = BrokerNode(config=self.config, clock=self.clock, storage=self.storage)
        self.held.clear()
        self.run(self.node.startup())

    def cid(self) -> int:
        self._cid += 1
        return self._cid

    def call(self, message: Any, source: str = CLIENT) -> list[Any]:
        return self.run(self.node.receive(source, message))

    def one(self, message: Any, source: str = CLIENT) -> Any:
        responses = self.call(message, source)
        assert len(responses) == 1, responses
        return responses[0]

    def run(self, outbounds: list[Outbound]) -> list[Any]:
        answers = []
        queue = list(outbounds)
        while queue:
            outbound = queue.pop(0)
            if outbound.destination not in self.node.broker_ids:
                answers.append(outbound.message)
            elif self.hold:
                self.held.append(outbound)
            else:
                queue += self.node.receive(self.node.node_id, outbound.message)
        return answers

    def release(self) -> list[Any]:
        """Deliver the held internal messages (and whatever follows from them)."""
        held, self.held = self.held, []
        hold, self.hold = self.hold, False
        try:
            answers = []
            for outbound in held:
                answers += self.run(self.node.receive(self.node.node_id, outbound.message))
            return answers
        finally:
            self.hold = hold

    def tick(self) -> list[Any]:
        return self.run(self.node.tick())

    def replicate(self) -> list[Any]:
        return self.run(self.node.replicate())

    # -- shorthands ------------------------------------------------------------------------

    def init(
        self, tid: str | None = None, *, pid: int = -1, epoch: int = -1, timeout: int = 60_000
    ):
        return self.one(InitProducerIdRequest(self.cid(), tid, timeout, pid, epoch))

    def produce(
        self,
        topic: str,
        partition: int,
        pid: int,
        epoch: int,
        seq: int,
        records: tuple[str, ...] = ("v",),
        *,
        tid: str | None = None,
        source: str = CLIENT,
    ):
        request = ProduceRequest(
            self.cid(),
            topic,
            partition,
            pid,
            epoch,
            seq,
            len(records),
            tid is not None,
            tid,
            None,
            records,
        )
        return self.one(request, source)

    def end(self, tid: str, pid: int, epoch: int, commit: bool):
        return self.one(EndTxnRequest(self.cid(), tid, pid, epoch, commit))

    def partition(self, topic: str, index: int = 0):
        return self.node.partitions[TopicPartition(topic, index)]
