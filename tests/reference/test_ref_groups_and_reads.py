"""Reads (HW, LSO, aborted transactions, control records) and group offsets (transactional
commits, require_stable, KIP-447 generation fencing, membership)."""

from __future__ import annotations

from refdriver import Direct

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.reference.messages import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    AddOffsetsToTxnRequest,
    AddPartitionsToTxnRequest,
    CommittedOffset,
    FetchRequest,
    HeartbeatRequest,
    JoinGroupRequest,
    ListOffsetsRequest,
    OffsetFetchRequest,
    SyncGroupAssignment,
    SyncGroupRequest,
    TopicPartition,
    TxnOffsetCommitRequest,
)
from kafka_eos.reference.node import BrokerConfig

TV1 = BrokerConfig(num_partitions=1, knobs=Knobs(transaction_version=1))
TP = TopicPartition("t", 0)
IN = TopicPartition("in", 0)


def txn(d: Direct, tid: str = "tx") -> tuple[int, int]:
    init = d.init(tid)
    pid, epoch = init.producer_id, init.producer_epoch
    d.one(AddPartitionsToTxnRequest(d.cid(), tid, pid, epoch, (TP,)))
    return pid, epoch


def fetch(d: Direct, isolation: int, offset: int = 0):
    return d.one(FetchRequest(d.cid(), "t", 0, offset, isolation))


def test_lso_stops_at_the_first_open_transaction_and_hw_does_not() -> None:
    d = Direct(TV1)
    plain = d.init().producer_id
    d.produce("t", 0, plain, 0, 0, ("p0",))
    pid, epoch = txn(d)
    d.produce("t", 0, pid, epoch, 0, ("t0",), tid="tx")
    d.produce("t", 0, plain, 0, 1, ("p1",))
    partition = d.partition("t")
    assert (partition.last_stable_offset, partition.high_watermark) == (1, 3)
    committed = fetch(d, READ_COMMITTED)
    assert committed.last_stable_offset == 1
    assert [b.records for b in committed.batches] == [("p0",)]
    uncommitted = fetch(d, READ_UNCOMMITTED)
    assert [b.records for b in uncommitted.batches] == [("p0",), ("t0",), ("p1",)]
    latest = d.one(ListOffsetsRequest(d.cid(), "t", 0, -1, READ_COMMITTED))
    assert latest.offset == 1


def test_abort_fills_the_aborted_index_and_read_committed_skips_the_aborted_batches() -> None:
    d = Direct(TV1)
    pid, epoch = txn(d)
    d.produce("t", 0, pid, epoch, 0, ("gone",), tid="tx")
    d.end("tx", pid, epoch, False)
    pid, epoch = txn(d)
    assert d.produce("t", 0, pid, epoch, 0, ("kept",), tid="tx").base_offset == 2
    d.end("tx", pid, epoch, True)
    partition = d.partition("t")
    assert [(a.producer_id, a.first_offset, a.last_offset) for a in partition.log.aborted] == [
        (pid, 0, 1)
    ]
    response = fetch(d, READ_COMMITTED)
    assert [(a.producer_id, a.first_offset) for a in response.aborted_transactions] == [(pid, 0)]
    # The consumer applies the index: see test_clients' read_committed consumer test.
    assert partition.last_stable_offset == partition.high_watermark == 4


def commit_offsets_in_transaction(
    d: Direct, offset: int, *, generation: int = -1, member: str = "", tid: str = "copy"
):
    init = d.init(tid)
    pid, epoch = init.producer_id, init.producer_epoch
    d.one(AddOffsetsToTxnRequest(d.cid(), tid, pid, epoch, "g"))
    response = d.one(
        TxnOffsetCommitRequest(
            d.cid(),
            tid,
            "g",
            pid,
            epoch,
            (CommittedOffset("in", 0, offset),),
            generation,
            member,
        )
    )
    return pid, epoch, response


def offset_fetch(d: Direct, *, stable: bool):
    return d.one(OffsetFetchRequest(d.cid(), "g", (IN,), require_stable=stable)).offsets[0]


def test_transactional_offsets_become_visible_with_the_commit_marker() -> None:
    d = Direct(TV1)
    pid, epoch, response = commit_offsets_in_transaction(d, 7)
    assert response.results[0].error_code is ErrorCode.NONE
    assert offset_fetch(d, stable=False).committed_offset == -1
    pending = offset_fetch(d, stable=True)
    assert pending.error_code is ErrorCode.UNSTABLE_OFFSET_COMMIT
    d.end("copy", pid, epoch, True)
    assert offset_fetch(d, stable=True).committed_offset == 7


def test_a_txn_offset_commit_whose_verification_is_lost_is_retried() -> None:
    """The group coordinator verifies the offsets partition with the transaction coordinator
    (KIP-890); when that connection breaks, the TxnOffsetCommit is answered
    COORDINATOR_LOAD_IN_PROGRESS (Kafka's translation of NETWORK_EXCEPTION), which the client
    retries, and nothing is pending."""
    d = Direct(TV1)
    init = d.init("copy")
    pid, epoch = init.producer_id, init.producer_epoch
    d.one(AddOffsetsToTxnRequest(d.cid(), "copy", pid, epoch, "g"))
    d.hold = True
    offsets = (CommittedOffset("in", 0, 7),)
    commit = TxnOffsetCommitRequest(d.cid(), "copy", "g", pid, epoch, offsets)
    assert d.call(commit) == []  # held while the coordinator verifies
    d.held.clear()  # the verification, lost with the connection
    [answer] = d.run(d.node.disconnected(d.node.node_id))
    assert answer.results[0].error_code is ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
    assert offset_fetch(d, stable=True).error_code is ErrorCode.NONE
    d.hold = False
    assert d.one(commit).results[0].error_code is ErrorCode.NONE  # the retry
    d.end("copy", pid, epoch, True)
    assert offset_fetch(d, stable=True).committed_offset == 7


def test_aborted_transactional_offsets_are_dropped() -> None:
    d = Direct(TV1)
    pid, epoch, _ = commit_offsets_in_transaction(d, 7)
    d.end("copy", pid, epoch, False)
    fetched = offset_fetch(d, stable=True)
    assert (fetched.error_code, fetched.committed_offset) == (ErrorCode.NONE, -1)


def join(d: Direct, member: str = "", source: str = "c1"):
    request = JoinGroupRequest(d.cid(), "g", member)
    return d.one(request, source)


def test_membership_join_sync_heartbeat_and_kip_447_fencing() -> None:
    d = Direct(TV1)
    first = join(d)
    assert first.error_code is ErrorCode.MEMBER_ID_REQUIRED
    joined = join(d, first.member_id)
    assert (joined.error_code, joined.leader, joined.generation_id) == (
        ErrorCode.NONE,
        first.member_id,
        1,
    )
    assignment = (SyncGroupAssignment(first.member_id, (("in", 0),)),)
    synced = d.one(SyncGroupRequest(d.cid(), "g", 1, first.member_id, assignment), "c1")
    assert synced.assignment == (("in", 0),)
    beat = d.one(HeartbeatRequest(d.cid(), "g", 1, first.member_id))
    assert beat.error_code is ErrorCode.NONE
    # A second member joins: a rebalance; the first member learns of it by heartbeat.
    second_id = join(d, source="c2").member_id
    assert d.call(JoinGroupRequest(d.cid(), "g", second_id), "c2") == []  # waits for the others
    assert d.one(HeartbeatRequest(d.cid(), "g", 1, first.member_id)).error_code is (
        ErrorCode.REBALANCE_IN_PROGRESS
    )
    rejoined = d.call(JoinGroupRequest(d.cid(), "g", first.member_id), "c1")
    assert sorted(r.generation_id for r in rejoined) == [2, 2]
    leader = next(r for r in rejoined if r.member_id == r.leader)
    assert sorted(m.member_id for m in leader.members) == sorted([first.member_id, second_id])
    # A zombie with the old generation cannot commit offsets in a transaction (KIP-447).
    _, _, response = commit_offsets_in_transaction(d, 3, generation=0, member=first.member_id)
    assert response.results[0].error_code is ErrorCode.ILLEGAL_GENERATION
    _, _, response = commit_offsets_in_transaction(
        d, 3, generation=1, member="nobody", tid="copy2"
    )
    assert response.results[0].error_code is ErrorCode.UNKNOWN_MEMBER_ID


def test_group_generations_and_member_ids_survive_a_coordinator_restart() -> None:
    d = Direct(TV1)
    member = join(d).member_id
    joined = join(d, member)
    d.one(SyncGroupRequest(d.cid(), "g", joined.generation_id, member, ()), "c1")
    d.restart()
    beat = d.one(HeartbeatRequest(d.cid(), "g", joined.generation_id, member))
    assert beat.error_code is ErrorCode.NONE  # the member carries on with the new coordinator
    newcomer = join(d, source="c2").member_id
    assert newcomer != member  # member ids are never reused
    assert d.call(JoinGroupRequest(d.cid(), "g", newcomer), "c2") == []
    rejoined = d.call(JoinGroupRequest(d.cid(), "g", member), "c1")
    # Generations continue where they were: generation 1 is never handed out again, so a
    # zombie of generation 1 stays fenced (KIP-447).
    assert {r.generation_id for r in rejoined} == {joined.generation_id + 1}
    _, _, response = commit_offsets_in_transaction(
        d, 3, generation=joined.generation_id, member=member
    )
    assert response.results[0].error_code is ErrorCode.ILLEGAL_GENERATION


def test_kip_447_fencing_is_checked_when_the_verified_commit_is_written() -> None:
    """A TxnOffsetCommit is validated against the group's generation in the write that
    follows its KIP-890 verification round trip, not before it (Kafka's CoordinatorRuntime.
    scheduleTransactionalWriteOperation verifies, then runs OffsetMetadataManager.
    commitTransactionalOffset). A rebalance that completes during the round trip fences it:
    the partitions' new owner may already have fetched the old committed offsets."""
    d = Direct(BrokerConfig(num_partitions=1, knobs=Knobs(partition_verification=True)))
    member = join(d, join(d).member_id)
    d.one(SyncGroupRequest(d.cid(), "g", 1, member.member_id, ()), "c1")
    init = d.init("copy")
    pid, epoch = init.producer_id, init.producer_epoch
    d.one(AddOffsetsToTxnRequest(d.cid(), "copy", pid, epoch, "g"))
    d.hold = True  # the leader's verification request waits in the network
    commit = TxnOffsetCommitRequest(
        d.cid(), "copy", "g", pid, epoch, (CommittedOffset("in", 0, 3),), 1, member.member_id
    )
    assert d.call(commit) == []
    assert d.held, "the commit should be waiting for its verification"
    d.hold = False
    # Meanwhile a second member joins and the group moves to generation 2.
    second = join(d, source="c2").member_id
    d.call(JoinGroupRequest(d.cid(), "g", second), "c2")
    rejoined = d.call(JoinGroupRequest(d.cid(), "g", member.member_id), "c1")
    assert {r.generation_id for r in rejoined} == {2}
    (response,) = d.release()
    assert response.results[0].error_code is ErrorCode.ILLEGAL_GENERATION
    assert offset_fetch(d, stable=True).error_code is ErrorCode.NONE  # nothing pending
