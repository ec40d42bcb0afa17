"""The brokers of ``kafka-eos serve --brokers N`` and who leads what among them.

Each wire broker is one listener with its own broker id (0..N-1, the reference's
``broker-0``..) and port. The cluster itself is the reference's
(:class:`~kafka_eos.reference.node.BrokerNode` with ``BrokerConfig(brokers=N)``): every client
partition has a replica on every broker, each with its own log, producer state and leader-epoch
cache; followers fetch, the ISR and the high watermark follow them, acks=all answers wait for
the high watermark, and when a broker crashes the controller elects new leaders (their
producer state rebuilt from their logs), and the coordinators (on one broker, with the
internal topics) fail over to a live one; partition i's replicas start at broker i mod N, so
the leaders are spread over the brokers. This module is the wire's view of it: broker ids as
Kafka's int32, and Metadata's leader, leader epoch, replicas, ISR and offline replicas.

Killing a broker is the reference's crash; a restarted broker comes back as a follower of
every partition (it truncates and catches up when it fetches); leadership does not move back
to it (Kafka moves it only by a preferred-leader election, ``auto.leader.rebalance.enable``).
The last live broker cannot be killed: no partition is ever without a leader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka_eos.errors import InputError
from kafka_eos.reference.messages import TopicPartition

BROKER_PREFIX = "broker-"


def broker_name(broker: int) -> str:
    """The reference's name of wire broker ``broker``."""
    return f"{BROKER_PREFIX}{broker}"


def wire_id(name: str) -> int:
    """The wire's int32 id of the reference's broker ``name``."""
    return int(name.removeprefix(BROKER_PREFIX))


@dataclass(frozen=True, slots=True)
class Leadership:
    """One partition's replicas (preferred leader first), its leader and leader epoch."""

    replicas: tuple[int, ...]
    leader: int
    leader_epoch: int = 0


class Cluster:
    """The wire's view of the reference node's cluster (see the module docstring)."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.broker_ids = tuple(wire_id(name) for name in node.broker_ids)

    def live_brokers(self) -> tuple[int, ...]:
        return tuple(wire_id(name) for name in self.node.live_brokers())

    def leader_of(self, tp: TopicPartition) -> int:
        return wire_id(self.node.leader_of(tp))

    def coordinator_of(self, key: str) -> int:
        return wire_id(self.node.coordinator_of(key))

    def leadership(self, tp: TopicPartition) -> Leadership:
        replica_set = self.node.replica_sets.get(tp)
        if replica_set is None:  # one replica: a single broker, or an internal topic
            leader = self.leader_of(tp)
            return Leadership((leader,), leader)
        return Leadership(
            tuple(wire_id(name) for name in replica_set.assignment),
            wire_id(replica_set.leader),
            replica_set.leader_epoch,
        )

    def in_sync_replicas(self, tp: TopicPartition) -> tuple[int, ...]:
        replica_set = self.node.replica_sets.get(tp)
        if replica_set is None:
            return (self.leader_of(tp),)
        return tuple(wire_id(b) for b in replica_set.assignment if b in replica_set.isr)

    def offline_replicas(self, tp: TopicPartition) -> tuple[int, ...]:
        replica_set = self.node.replica_sets.get(tp)
        if replica_set is None:
            return ()
        return tuple(wire_id(b) for b in replica_set.assignment if b in replica_set.offline)

    def kill(self, broker: int) -> list[Any]:
        """Crash ``broker`` in the reference; the messages its controller sends."""
        self._check_known(broker)
        if broker not in self.live_brokers():
            raise InputError(f"broker {broker} is already down")
        if len(self.live_brokers()) == 1:
            raise InputError(
                f"broker {broker} is the last one up: its partitions would have no leader"
            )
        return list(self.node.crash_broker(broker_name(broker)))

    def restart(self, broker: int) -> list[Any]:
        """Bring ``broker`` back in the reference: a follower of every partition."""
        self._check_known(broker)
        if broker in self.live_brokers():
            raise InputError(f"broker {broker} is already up")
        return list(self.node.restart_broker(broker_name(broker)))

    def _check_known(self, broker: int) -> None:
        if broker not in self.broker_ids:
            known = ", ".join(str(b) for b in self.broker_ids)
            raise InputError(f"no broker {broker}; the brokers are {known}")
