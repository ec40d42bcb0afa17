"""The brokers of ``kafka-eos serve --brokers N`` and who leads what among them.

Each wire broker is one listener with its own broker id (0..N-1) and port. Every partition,
``__transaction_state`` and ``__consumer_offsets`` included, has a replica on every broker
(replication factor N), placed as Kafka's ``AdminUtils.assignReplicasToBrokersRackUnaware``
places them, with the start index and replica shift Kafka draws at random taken from the
topic name instead (same name, same placement: same seed, same result). The first replica is
the preferred leader.

The brokers share one core node (:class:`~kafka_eos.reference.node.BrokerNode`): its log of a
partition stands for the log of every live replica, all of them in sync. So the in-sync
replicas are the live replicas, the high watermark is the log end (acks=all), and a new
leader's producer state is the one it built as a follower, from the same batches. What moves
with leadership is who answers: a broker that does not lead a partition answers its Produce,
Fetch and ListOffsets with NOT_LEADER_OR_FOLLOWER, and one that does not lead a coordinator's
partition answers its coordinator requests with NOT_COORDINATOR (``KafkaApis``,
``ReplicaManager.getPartitionOrError``, ``TransactionStateManager``, ``GroupCoordinator``),
and clients find the new leader through Metadata and FindCoordinator.

Killing a broker takes it out of every ISR and elects, for each partition it led, the first
live replica in assignment order (``PartitionLeaderElectionAlgorithms.offlinePartitionLeader
Election``), with a new leader epoch. A broker that restarts catches up at once (it shares the
log) and rejoins every ISR as a follower: leadership does not move back to it (Kafka moves it
only by a preferred-leader election, ``auto.leader.rebalance.enable``, every 300 s). The last
live broker cannot be killed: no partition is ever without a leader.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from kafka_eos.errors import InputError
from kafka_eos.reference.messages import TopicPartition


def assigned_replicas(tp: TopicPartition, brokers: tuple[int, ...]) -> tuple[int, ...]:
    """The replicas of ``tp`` on ``brokers``, preferred leader first: every broker once.

    AdminUtils.assignReplicasToBrokersRackUnaware: the first replica of partition p is broker
    (p + startIndex) mod n; the others follow it at (first + 1 + (shift + j) mod (n - 1)),
    the shift growing by one every n partitions."""
    count = len(brokers)
    if count == 1:
        return brokers
    seed = zlib.crc32(tp.topic.encode("utf-8"))
    start_index, shift = seed % count, (seed // count) % count + tp.partition // count
    first = (tp.partition + start_index) % count
    followers = [(first + 1 + (shift + j) % (count - 1)) % count for j in range(count - 1)]
    return tuple(brokers[index] for index in (first, *followers))


@dataclass
class Leadership:
    """One partition's replicas, its leader and the leader's epoch."""

    replicas: tuple[int, ...]
    leader: int
    leader_epoch: int = 0


class Cluster:
    """The live brokers and each partition's leader (see the module docstring)."""

    def __init__(self, broker_ids: tuple[int, ...]) -> None:
        if not broker_ids:
            raise ValueError("a cluster needs at least one broker")
        self.broker_ids = broker_ids
        self.alive: set[int] = set(broker_ids)
        self._partitions: dict[TopicPartition, Leadership] = {}

    def live_brokers(self) -> tuple[int, ...]:
        return tuple(b for b in self.broker_ids if b in self.alive)

    def leadership(self, tp: TopicPartition) -> Leadership:
        """``tp``'s replicas and leader; the first time it is asked, its first live replica
        leads (at epoch 0: no client saw an earlier leader)."""
        state = self._partitions.get(tp)
        if state is None:
            replicas = assigned_replicas(tp, self.broker_ids)
            leader = next(r for r in replicas if r in self.alive)
            state = self._partitions[tp] = Leadership(replicas, leader)
        return state

    def leader_of(self, tp: TopicPartition) -> int:
        return self.leadership(tp).leader

    def in_sync_replicas(self, tp: TopicPartition) -> tuple[int, ...]:
        return tuple(r for r in self.leadership(tp).replicas if r in self.alive)

    def offline_replicas(self, tp: TopicPartition) -> tuple[int, ...]:
        return tuple(r for r in self.leadership(tp).replicas if r not in self.alive)

    def kill(self, broker: int) -> list[TopicPartition]:
        """Take ``broker`` down; the partitions whose leadership moved (each to its first
        live replica, at the next leader epoch)."""
        self._check_known(broker)
        if broker not in self.alive:
            raise InputError(f"broker {broker} is already down")
        if len(self.alive) == 1:
            raise InputError(
                f"broker {broker} is the last one up: its partitions would have no leader"
            )
        self.alive.discard(broker)
        moved = []
        for tp, state in self._partitions.items():
            if state.leader == broker:
                state.leader = next(r for r in state.replicas if r in self.alive)
                state.leader_epoch += 1
                moved.append(tp)
        return moved

    def restart(self, broker: int) -> None:
        """Bring ``broker`` back: a caught-up follower of every partition."""
        self._check_known(broker)
        if broker in self.alive:
            raise InputError(f"broker {broker} is already up")
        self.alive.add(broker)

    def _check_known(self, broker: int) -> None:
        if broker not in self.broker_ids:
            known = ", ".join(str(b) for b in self.broker_ids)
            raise InputError(f"no broker {broker}; the brokers are {known}")
