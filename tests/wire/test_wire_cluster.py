"""``kafka-eos serve --brokers 3``: three brokers, each partition's leader and each
coordinator on one of them. Every broker describes the whole cluster; only a partition's leader
takes its Produce and Fetch (others answer NOT_LEADER_OR_FOLLOWER), only the coordinator its
transactional requests (others answer NOT_COORDINATOR); a killed broker refuses connections and
its partitions move to the first live replica at the next leader epoch."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ServeProcess
from wire_raw import RawClient

from kafka_eos.errors import InputError
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.messages import TopicPartition
from kafka_eos.reference.node import BrokerConfig, BrokerNode
from kafka_eos.reference.wire import codec, records
from kafka_eos.reference.wire.cluster import Cluster, Leadership

pytestmark = pytest.mark.timeout(60)

BROKERS = (0, 1, 2)


# -- who leads what ----------------------------------------------------------------------------


def _cluster(*topics: str) -> Cluster:
    node = BrokerNode(config=BrokerConfig(brokers=len(BROKERS)))
    for topic in topics:
        node.create_topic(topic, 3)
    return Cluster(node)


def test_every_broker_holds_a_replica_and_the_leaders_are_spread() -> None:
    cluster = _cluster("t")
    placements = [cluster.leadership(TopicPartition("t", p)) for p in range(3)]
    assert sorted(leadership.leader for leadership in placements) == [0, 1, 2]
    for p, leadership in enumerate(placements):
        assert sorted(leadership.replicas) == [0, 1, 2]
        assert leadership == Leadership(leadership.replicas, leadership.replicas[0], 0)
        assert cluster.in_sync_replicas(TopicPartition("t", p)) == leadership.replicas


def test_a_dead_leader_is_replaced_by_the_first_live_replica_at_the_next_epoch() -> None:
    cluster = _cluster("t")
    tp = TopicPartition("t", 0)
    first, second, third = cluster.leadership(tp).replicas
    assert cluster.leader_of(tp) == first
    cluster.kill(first)
    assert (cluster.leader_of(tp), cluster.leadership(tp).leader_epoch) == (second, 1)
    assert cluster.in_sync_replicas(tp) == (second, third)
    assert cluster.offline_replicas(tp) == (first,)
    cluster.restart(first)  # back as a follower: leadership stays where it is
    assert (cluster.leader_of(tp), cluster.in_sync_replicas(tp)) == (second, (first, second, third))
    cluster.kill(third)  # a follower's death moves nothing
    assert (cluster.leader_of(tp), cluster.leadership(tp).leader_epoch) == (second, 1)
    cluster.kill(second)
    assert (cluster.leader_of(tp), cluster.leadership(tp).leader_epoch) == (first, 2)


def test_the_last_live_broker_cannot_be_killed_nor_an_unknown_one() -> None:
    cluster = _cluster()
    cluster.kill(0)
    cluster.kill(1)
    with pytest.raises(InputError, match="broker 2 is the last one up"):
        cluster.kill(2)
    with pytest.raises(InputError, match="broker 1 is already down"):
        cluster.kill(1)
    with pytest.raises(InputError, match="no broker 5; the brokers are 0, 1, 2"):
        cluster.kill(5)
    with pytest.raises(InputError, match="broker 2 is already up"):
        cluster.restart(2)


# -- on the wire -------------------------------------------------------------------------------


CLUSTER_ARGS = ("--brokers", "3", "--partitions", "3")


@pytest.fixture(scope="module")
def shared_three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """Three brokers for the tests that kill none (each uses its own topics and ids)."""
    broker = ServeProcess(tmp_path_factory.mktemp("three"), args=CLUSTER_ARGS).start()
    yield broker
    broker.stop()


@pytest.fixture
def three(tmp_path: Path) -> Iterator[ServeProcess]:
    broker = ServeProcess(tmp_path, args=CLUSTER_ARGS).start()
    yield broker
    broker.stop()


def _metadata(port: int, topic: str) -> dict[str, Any]:
    client = RawClient(port)
    try:
        return client.request(
            codec.METADATA, 12, {"topics": [{"name": topic}], "allow_auto_topic_creation": True}
        )
    finally:
        client.close()


def _leaders(metadata: dict[str, Any]) -> dict[int, tuple[int, int, list[int], list[int]]]:
    [topic] = metadata["topics"]
    return {
        p["partition_index"]: (
            p["leader_id"],
            p["leader_epoch"],
            p["replica_nodes"],
            p["isr_nodes"],
        )
        for p in topic["partitions"]
    }


def _produce_to(port: int, topic: str, value: bytes) -> dict[str, Any]:
    client = RawClient(port)
    try:
        return client.produce(topic, records.encode_batch([(None, value)]))
    finally:
        client.close()


def _fetch_from(port: int, topic: str) -> dict[str, Any]:
    client = RawClient(port)
    try:
        return client.fetch(topic)
    finally:
        client.close()


def test_every_broker_describes_the_whole_cluster(shared_three: ServeProcess) -> None:
    answers = [_metadata(port, "described") for port in shared_three.ports]
    for answer in answers:
        brokers = {b["node_id"]: b["port"] for b in answer["brokers"]}
        assert brokers == dict(enumerate(shared_three.ports))
        assert _leaders(answer) == _leaders(answers[0])
    leaders = _leaders(answers[0])
    assert sorted(leader for leader, _, _, _ in leaders.values()) == [0, 1, 2]
    for leader, epoch, replicas, isr in leaders.values():
        assert (replicas[0], epoch, sorted(replicas), isr) == (leader, 0, [0, 1, 2], replicas)


def test_only_the_leader_takes_a_produce_or_a_fetch(shared_three: ServeProcess) -> None:
    leader = _leaders(_metadata(shared_three.port, "led"))[0][0]
    others = [port for broker, port in enumerate(shared_three.ports) if broker != leader]
    for port in others:
        refused = _produce_to(port, "led", b"to-a-follower")
        assert refused["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
        assert _fetch_from(port, "led")["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
    accepted = _produce_to(shared_three.ports[leader], "led", b"to-the-leader")
    assert (accepted["error_code"], accepted["base_offset"]) == (ErrorCode.NONE, 0)
    fetched = _fetch_from(shared_three.ports[leader], "led")
    assert fetched["high_watermark"] == 1  # the refused batches were not appended


def _find_coordinator(port: int, key: str, key_type: int) -> dict[str, Any]:
    client = RawClient(port)
    try:
        return client.request(codec.FIND_COORDINATOR, 3, {"key": key, "key_type": key_type})
    finally:
        client.close()


def _init_producer_id(port: int, transactional_id: str | None) -> dict[str, Any]:
    client = RawClient(port)
    try:
        return client.request(
            codec.INIT_PRODUCER_ID,
            4,
            {
                "transactional_id": transactional_id,
                "transaction_timeout": 60000,
                "producer_id": -1,
                "producer_epoch": -1,
            },
        )
    finally:
        client.close()


def test_only_the_coordinator_takes_transactional_requests(shared_three: ServeProcess) -> None:
    found = [_find_coordinator(port, "txn-a", 1) for port in shared_three.ports]
    coordinator = found[0]["node_id"]
    assert {(f["node_id"], f["port"], f["error_code"]) for f in found} == {
        (coordinator, shared_three.ports[coordinator], ErrorCode.NONE)
    }
    for broker, port in enumerate(shared_three.ports):
        answer = _init_producer_id(port, "txn-a")
        expected = ErrorCode.NONE if broker == coordinator else ErrorCode.NOT_COORDINATOR
        assert answer["error_code"] == expected
        # an idempotent producer's id comes from any broker
        assert _init_producer_id(port, None)["error_code"] == ErrorCode.NONE


def test_a_killed_broker_refuses_connections_and_its_partitions_move(
    three: ServeProcess,
) -> None:
    before = _leaders(_metadata(three.port, "moved"))
    leader, _, replicas, _ = before[0]
    coordinator = _find_coordinator(three.port, "txn-b", 1)["node_id"]
    connected = RawClient(three.ports[leader])
    assert three.admin(f"kill-broker {leader}").startswith(f"ok broker {leader} down")
    connected.assert_closed()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", three.ports[leader]), timeout=5)
    survivor = next(port for broker, port in enumerate(three.ports) if broker != leader)
    after = _metadata(survivor, "moved")
    assert sorted(b["node_id"] for b in after["brokers"]) == sorted(set(BROKERS) - {leader})
    new_leader, epoch, same_replicas, isr = _leaders(after)[0]
    assert (new_leader, epoch, same_replicas) == (replicas[1], 1, replicas)
    assert isr == [r for r in replicas if r != leader]
    assert _produce_to(three.ports[new_leader], "moved", b"v")["error_code"] == ErrorCode.NONE
    moved_coordinator = _find_coordinator(survivor, "txn-b", 1)["node_id"]
    assert moved_coordinator != leader
    if coordinator != leader:
        assert moved_coordinator == coordinator
    assert three.admin(f"restart-broker {leader}") == f"ok broker {leader} up"
    back = _leaders(_metadata(three.ports[leader], "moved"))[0]
    assert back == (new_leader, 1, replicas, replicas)  # a follower again: no move back


def test_admin_refuses_to_kill_what_it_cannot(three: ServeProcess) -> None:
    from kafka_eos.pytest_plugin import admin_command

    assert admin_command(three.admin_port, "kill-broker 3").startswith("error no broker 3")
    assert admin_command(three.admin_port, "kill-broker one").startswith("error ID must be")
    assert admin_command(three.admin_port, "restart-broker 1") == "error broker 1 is already up"
    three.admin("kill-broker 0")
    three.admin("kill-broker 1")
    assert "last one up" in admin_command(three.admin_port, "kill-broker 2")
