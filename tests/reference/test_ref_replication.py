"""The simulated cluster: replicas on several brokers, follower fetch, acks, ISR, elections,
truncation and the new leader's producer state (BrokerConfig(brokers=N))."""

from __future__ import annotations

from typing import Any

from refdriver import CLIENT, Direct

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.reference.messages import (
    AddPartitionsToTxnRequest,
    FetchRequest,
    ProduceRequest,
    ProduceResponse,
    TopicPartition,
)
from kafka_eos.reference.node import BrokerConfig
from kafka_eos.reference.storage import MemoryStorage

TP = TopicPartition("t", 0)


def cluster(brokers: int = 3, *, deferred: bool = True, **knobs: Any) -> tuple[Direct, int]:
    config = BrokerConfig(
        brokers=brokers, num_partitions=1, deferred_replication=deferred, knobs=Knobs(**knobs)
    )
    direct = Direct(config)
    direct.node.create_topic("t", 1)
    return direct, direct.init().producer_id


def produce(
    d: Direct, pid: int, seq: int, *, acks: int = -1, at: str | None = None, value: str = ""
) -> list[Any]:
    records = (value or f"v{seq}",)
    request = ProduceRequest(d.cid(), "t", 0, pid, 0, seq, 1, False, None, None, records, acks)
    return d.run(d.node.receive(CLIENT, request, at=at))


def records(d: Direct, broker: str) -> list[tuple[str, ...]]:
    partition = d.node.replica_sets[TP].replicas[broker].partition
    return [batch.records for batch in partition.log.batches]


def test_the_cluster_reports_its_brokers_and_the_leader_of_each_partition() -> None:
    d, _ = cluster()
    assert d.node.broker_ids == ("broker-0", "broker-1", "broker-2")
    assert d.node.live_brokers() == d.node.broker_ids
    assert d.node.leader_of(TP) == "broker-0"
    assert d.node.coordinator_of("app") == "broker-0"


def test_acks_all_is_answered_once_the_followers_fetched_it() -> None:
    d, pid = cluster()
    assert produce(d, pid, 0) == []  # waits in the purgatory
    assert records(d, "broker-1") == []
    answers = d.replicate()
    assert [(a.error_code, a.base_offset) for a in answers] == [(ErrorCode.NONE, 0)]
    for broker in d.node.broker_ids:
        assert records(d, broker) == [("v0",)]
    assert d.node.partitions[TP].high_watermark == 1


def test_acks_1_is_answered_by_the_leader_alone() -> None:
    d, pid = cluster()
    [answer] = produce(d, pid, 0, acks=1)
    assert answer.error_code is ErrorCode.NONE
    assert records(d, "broker-1") == []
    assert d.node.partitions[TP].high_watermark == 0


def test_a_produce_at_a_broker_that_does_not_lead_is_not_leader_or_follower() -> None:
    d, pid = cluster()
    [answer] = produce(d, pid, 0, at="broker-1")
    assert answer.error_code is ErrorCode.NOT_LEADER_OR_FOLLOWER
    fetch = FetchRequest(d.cid(), "t", 0, 0)
    [fetched] = d.run(d.node.receive(CLIENT, fetch, at="broker-2"))
    assert fetched.error_code is ErrorCode.NOT_LEADER_OR_FOLLOWER
    assert d.node.partitions[TP].log_end_offset == 0


def test_a_crashed_leader_moves_leadership_and_keeps_what_acks_all_acknowledged() -> None:
    d, pid = cluster()
    produce(d, pid, 0)
    [acked] = d.replicate()
    d.run(d.node.crash_broker("broker-0"))
    assert d.node.leader_of(TP) == "broker-1"
    assert d.node.live_brokers() == ("broker-1", "broker-2")
    assert d.node.coordinator_of("app") == "broker-1"
    assert records(d, "broker-1") == [("v0",)]
    # the new leader rebuilt the producer state from its log: the retry is a duplicate
    [retry] = produce(d, pid, 0, at="broker-1")  # its offset is below the high watermark
    assert (retry.error_code, retry.base_offset) == (ErrorCode.NONE, acked.base_offset)
    assert [answer.error_code for answer in produce(d, pid, 1, at="broker-0")] == []  # down


def test_acks_1_loses_an_acknowledged_write_when_the_leader_fails() -> None:
    d, pid = cluster(brokers=2)
    produce(d, pid, 0, acks=1)
    d.run(d.node.follower_fetch(TP, "broker-1"))  # the follower has v0, in leader epoch 0
    [acked] = produce(d, pid, 1, acks=1)
    assert acked.error_code is ErrorCode.NONE
    d.run(d.node.fail_over_leader(TP))
    assert d.node.leader_of(TP) == "broker-1"
    assert records(d, "broker-1") == [("v0",)]  # the acknowledged v1 is gone
    [next_one] = produce(d, pid, 1, acks=1, at="broker-1", value="v2")
    assert (next_one.error_code, next_one.base_offset) == (ErrorCode.NONE, 1)
    d.replicate()
    # the old leader truncated its v1 where epoch 0 ended on the new leader (KIP-101)
    assert records(d, "broker-0") == records(d, "broker-1") == [("v0",), ("v2",)]
    assert d.node.replica_sets[TP].replicas["broker-0"].epoch_cache == ((0, 0), (1, 1))


def test_the_deposed_leaders_waiting_appends_are_not_leader_or_follower() -> None:
    d, pid = cluster(brokers=2)
    assert produce(d, pid, 0) == []
    [answer] = d.run(d.node.fail_over_leader(TP))
    assert isinstance(answer, ProduceResponse)
    assert answer.error_code is ErrorCode.NOT_LEADER_OR_FOLLOWER


def test_min_insync_replicas_refuses_then_answers_after_append() -> None:
    d, pid = cluster(brokers=2, min_insync_replicas=2)
    assert produce(d, pid, 0) == []
    [late] = d.run(d.node.shrink_isr(TP, "broker-1"))
    assert late.error_code is ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
    [refused] = produce(d, pid, 1)
    assert refused.error_code is ErrorCode.NOT_ENOUGH_REPLICAS
    assert d.node.partitions[TP].log_end_offset == 1
    d.run(d.node.follower_fetch(TP, "broker-1"))  # the leader learns its log end from
    d.run(d.node.follower_fetch(TP, "broker-1"))  # its next fetch: caught up, in the ISR
    assert d.node.replica_sets[TP].isr == {"broker-0", "broker-1"}


def test_clean_election_refuses_an_out_of_sync_replica_unless_unclean_is_allowed() -> None:
    for unclean in (False, True):
        d, pid = cluster(brokers=2, unclean_leader_election=unclean)
        produce(d, pid, 0)
        [acked] = d.run(d.node.shrink_isr(TP, "broker-1"))  # the leader alone passes it
        assert acked.error_code is ErrorCode.NONE
        d.run(d.node.crash_broker("broker-0"))
        if unclean:  # the acknowledged record is lost with the old leader's log
            assert d.node.leader_of(TP) == "broker-1"
            assert records(d, "broker-1") == []
        else:  # offline until the only in-sync replica is back
            assert d.node.leader_of(TP) == "broker-0"
            assert not d.node.replica_sets[TP].available
            d.run(d.node.restart_broker("broker-0"))
            assert d.node.replica_sets[TP].available
            assert records(d, "broker-0") == [("v0",)]


def test_a_restarted_broker_rejoins_the_isr_after_catching_up() -> None:
    d, pid = cluster(deferred=False)
    d.run(d.node.crash_broker("broker-2"))
    assert "broker-2" not in d.node.replica_sets[TP].isr
    [answer] = produce(d, pid, 0)  # acks=all with the two live replicas
    assert answer.error_code is ErrorCode.NONE
    assert records(d, "broker-2") == []
    d.run(d.node.restart_broker("broker-2"))
    assert records(d, "broker-2") == [("v0",)]
    assert d.node.replica_sets[TP].isr == {"broker-0", "broker-1", "broker-2"}


def test_markers_wait_for_the_followers_and_the_new_leader_rebuilds_the_transaction() -> None:
    d, _ = cluster(brokers=2, deferred=False)
    init = d.init("app")
    pid, epoch = init.producer_id, init.producer_epoch
    d.one(AddPartitionsToTxnRequest(d.cid(), "app", pid, epoch, (TP,)))
    d.produce("t", 0, pid, epoch, 0, ("a",), tid="app")
    d.run(d.node.crash_broker("broker-0"))
    # the open transaction is rebuilt on the new leader: it holds the LSO at its first offset
    assert d.node.leader_of(TP) == "broker-1"
    assert d.node.partitions[TP].last_stable_offset == 0
    assert d.end("app", pid, epoch, commit=True).error_code is ErrorCode.NONE
    d.replicate()
    d.tick()
    leader = d.node.partitions[TP]
    assert [b.is_control for b in leader.log.batches] == [False, True]
    assert leader.last_stable_offset == leader.high_watermark == 2


def test_every_replica_is_stored_and_a_restarted_cluster_loads_them() -> None:
    storage = MemoryStorage()
    config = BrokerConfig(brokers=2, num_partitions=1)
    d = Direct(config, storage=storage)
    d.node.create_topic("t", 1)
    pid = d.init().producer_id
    [answer] = produce(d, pid, 0)
    assert answer.error_code is ErrorCode.NONE
    assert {"t-0", "t-0@broker-1"} <= set(storage.stream_names())
    d.restart()
    assert records(d, "broker-0") == records(d, "broker-1") == [("v0",)]


def test_a_deposed_leader_drops_a_batch_a_new_leader_without_its_epoch_never_had() -> None:
    # broker-0 appends v0 in epoch 0 and fails before broker-1 fetched; broker-1 (epoch 1,
    # alone in the ISR) appends v1 at offset 0 with its high watermark at 1. broker-0 asks for
    # the end of epoch 0, which broker-1 places at the start of its epoch 1, offset 0
    # (LeaderEpochFileCache.endOffsetFor): it drops v0 instead of keeping it under v1
    d, pid = cluster(brokers=2)
    produce(d, pid, 0)
    d.run(d.node.fail_over_leader(TP))
    [answer] = produce(d, pid, 1, at="broker-1")
    assert (answer.error_code, answer.base_offset) == (ErrorCode.NONE, 0)
    d.run(d.node.follower_fetch(TP, "broker-0"))
    assert records(d, "broker-0") == records(d, "broker-1") == [("v1",)]
    # the follower keeps the leader's high watermark as the fetch answered it
    assert d.node.replica_sets[TP].replicas["broker-0"].partition.high_watermark == 1


def test_a_new_leader_starts_from_its_own_high_watermark() -> None:
    # each follower's second fetch reports v0, and is answered with the high watermark of
    # before that report: the leader's passes v0, theirs stay at 0
    d, pid = cluster(brokers=3)
    produce(d, pid, 0)
    for _ in range(2):
        for broker in ("broker-1", "broker-2"):
            d.run(d.node.follower_fetch(TP, broker))
    replica_set = d.node.replica_sets[TP]
    assert replica_set.high_watermark == 1
    followers = [replica_set.replicas[b].partition for b in ("broker-1", "broker-2")]
    assert [follower.high_watermark for follower in followers] == [0, 0]
    d.run(d.node.fail_over_leader(TP))
    assert replica_set.leader == "broker-1"
    assert replica_set.high_watermark == 0  # Partition.makeLeader: its own, not broker-0's 1
    assert replica_set.replicas["broker-0"].partition.high_watermark == 1
