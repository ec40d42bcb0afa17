"""The transaction coordinator: state table, fencing, two-phase transitions, markers, timeouts,
failover, and the transaction version 1 / 2 differences."""

from __future__ import annotations

from refdriver import Direct

from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.reference.invariants import committed_values
from kafka_eos.reference.messages import (
    AddPartitionsToTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    PartitionResult,
    ProduceResponse,
    TopicPartition,
    TxnMarkerResult,
    WriteTxnMarkersResponse,
)
from kafka_eos.reference.node import TXN_STATE_PARTITION, BrokerConfig, Outbound

TV1 = BrokerConfig(num_partitions=2, knobs=Knobs(transaction_version=1))
TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


def add(d: Direct, tid: str, pid: int, epoch: int, *tps: TopicPartition):
    return d.one(AddPartitionsToTxnRequest(d.cid(), tid, pid, epoch, tps or (TP0,)))


def open_transaction(d: Direct, tid: str = "tx") -> tuple[int, int]:
    init = d.init(tid)
    pid, epoch = init.producer_id, init.producer_epoch
    if d.config.knobs.transaction_version < 2:
        assert add(d, tid, pid, epoch, TP0, TP1).error_code is ErrorCode.NONE
    assert d.produce("t", 0, pid, epoch, 0, ("a",), tid=tid).error_code is ErrorCode.NONE
    assert d.produce("t", 1, pid, epoch, 0, ("b",), tid=tid).error_code is ErrorCode.NONE
    return pid, epoch


def commit_with_markers_held(d: Direct) -> tuple[int, Outbound]:
    """Commits a transaction of ``tx`` over both partitions and takes its WriteTxnMarkers
    request out of the network, for the test to deliver (or answer) when it chooses: the
    producer id and that request. ``d.hold`` stays on, so what follows is held too."""
    pid, epoch = open_transaction(d)
    d.hold = True
    d.end("tx", pid, epoch, True)
    [markers] = d.held
    d.held.clear()
    return pid, markers


def deferred_with_add_pending() -> tuple[Direct, int, int]:
    """A deferred-replication node whose AddPartitionsToTxn (-> Ongoing) is written, not yet
    replicated."""
    d = Direct(BrokerConfig(num_partitions=2, knobs=TV1.knobs, deferred_replication=True))
    d.call(InitProducerIdRequest(d.cid(), "tx"))
    d.replicate()
    meta = d.node.txn_coordinator.transactions["tx"]
    pid, epoch = meta.producer_id, meta.producer_epoch
    assert d.call(AddPartitionsToTxnRequest(d.cid(), "tx", pid, epoch, (TP0,))) == []
    assert meta.pending_state is TxnState.ONGOING
    return d, pid, epoch


def metadata(d: Direct, tid: str = "tx"):
    return d.node.txn_coordinator.transactions[tid]


def test_init_producer_id_allocates_then_bumps_the_epoch() -> None:
    d = Direct()
    first, second = d.init("tx"), d.init("tx")
    assert (first.producer_id, first.producer_epoch) == (second.producer_id, 0)
    assert second.producer_epoch == 1
    assert d.init().producer_id != d.init().producer_id  # idempotent: a new id each time


def test_a_new_incarnation_fences_the_old_one_and_aborts_its_transaction() -> None:
    d = Direct(TV1)
    pid, epoch = open_transaction(d)
    fencing = d.init("tx")
    assert fencing.error_code is ErrorCode.CONCURRENT_TRANSACTIONS
    assert metadata(d).state is TxnState.COMPLETE_ABORT
    marker = d.partition("t", 0).log.batches[-1]
    assert (marker.is_control, marker.is_commit, marker.producer_epoch) == (True, False, epoch + 1)
    retry = d.init("tx")
    assert (retry.error_code, retry.producer_epoch) == (ErrorCode.NONE, epoch + 2)
    # The zombie is fenced everywhere: at the coordinator and at the leader.
    assert add(d, "tx", pid, epoch).error_code is ErrorCode.PRODUCER_FENCED
    zombie = d.produce("t", 0, pid, epoch, 1, ("late",), tid="tx")
    assert zombie.error_code is ErrorCode.INVALID_PRODUCER_EPOCH
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.PRODUCER_FENCED


def test_wrong_producer_id_is_invalid_producer_id_mapping() -> None:
    d = Direct(TV1)
    init = d.init("tx")
    response = add(d, "tx", init.producer_id + 7, init.producer_epoch)
    assert response.error_code is ErrorCode.INVALID_PRODUCER_ID_MAPPING


def test_requests_during_a_pending_transition_get_concurrent_transactions() -> None:
    d, pid, epoch = deferred_with_add_pending()
    meta = metadata(d)
    assert add(d, "tx", pid, epoch, TP1).error_code is ErrorCode.CONCURRENT_TRANSACTIONS
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.CONCURRENT_TRANSACTIONS
    [answer] = d.replicate()
    assert answer.error_code is ErrorCode.NONE and meta.state is TxnState.ONGOING


def test_end_txn_state_rules_for_transaction_version_1() -> None:
    d = Direct(TV1)
    init = d.init("tx")
    pid, epoch = init.producer_id, init.producer_epoch
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.INVALID_TXN_STATE  # Empty
    pid, epoch = open_transaction(d)
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.NONE
    assert metadata(d).state is TxnState.COMPLETE_COMMIT
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.NONE  # a retry
    assert d.end("tx", pid, epoch, False).error_code is ErrorCode.INVALID_TXN_STATE  # mismatch
    assert d.end("tx", pid, epoch + 1, True).error_code is ErrorCode.PRODUCER_FENCED


def late_end_txn_during_the_next_transaction(d: Direct) -> tuple[ErrorCode, list[str]]:
    """Transaction 1 writes "a" and "b" and commits (its EndTxn re-sent after a timeout: the
    re-sent copy is handled first); the client starts transaction 2 at the epoch it now has and
    writes "c"; the first copy of transaction 1's EndTxn(commit) is handled then; the client
    writes "d" and aborts transaction 2. Returns the late copy's answer and what read_committed
    consumers see."""
    pid, epoch = open_transaction(d)
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.NONE
    next_epoch = metadata(d).producer_epoch
    next_sequence = 1 if next_epoch == epoch else 0  # sequences restart with a new epoch
    if d.config.knobs.transaction_version < 2:
        assert add(d, "tx", pid, next_epoch, TP0, TP1).error_code is ErrorCode.NONE
    c = d.produce("t", 1, pid, next_epoch, next_sequence, ("c",), tid="tx")
    assert c.error_code is ErrorCode.NONE
    late = d.end("tx", pid, epoch, True).error_code
    d.produce("t", 0, pid, next_epoch, next_sequence, ("d",), tid="tx")
    d.end("tx", pid, next_epoch, False)
    return late, sorted(committed_values(d.node, "t"))


def test_transaction_version_1_a_late_end_txn_commits_the_next_transaction() -> None:
    """Kafka's own anomaly, KIP-890's motivation (the model's tv1-request-timeouts): the epoch
    is the same, so TransactionCoordinator.endTransactionWithTV1 takes the late copy for
    transaction 2's commit; "c" is committed though its client aborts (the abort is refused
    INVALID_TXN_STATE, and "d", its partition no longer in a transaction, too)."""
    assert late_end_txn_during_the_next_transaction(Direct(TV1)) == (
        ErrorCode.NONE,
        ["a", "b", "c"],
    )


def test_transaction_version_2_fences_a_late_end_txn_with_the_bumped_epoch() -> None:
    """TransactionCoordinator.endTransaction (TV2): an Ongoing transaction takes an EndTxn at
    its own epoch only; the late copy carries the epoch before the bump: PRODUCER_FENCED, and
    the client's abort of transaction 2 holds."""
    assert late_end_txn_during_the_next_transaction(Direct()) == (
        ErrorCode.PRODUCER_FENCED,
        ["a", "b"],
    )


def test_transaction_version_1_a_late_marker_copy_ends_the_next_transaction() -> None:
    """The coordinator re-sends WriteTxnMarkers after a broken connection or a timeout
    (TransactionMarkerRequestCompletionHandler.onComplete); the re-sent copy completes
    transaction 1, and the first copy, handled once transaction 2 has written at the same
    epoch, commits that write though transaction 2 aborts (the leader takes a marker at the
    producer's current epoch: ProducerAppendInfo.appendEndTxnMarker). Kafka's own."""
    d = Direct(TV1)
    pid, markers = commit_with_markers_held(d)
    d.hold = False
    d.run(d.node.receive(d.node.node_id, markers.message))  # the re-sent copy
    assert metadata(d).state is TxnState.COMPLETE_COMMIT
    epoch = metadata(d).producer_epoch
    assert add(d, "tx", pid, epoch, TP0).error_code is ErrorCode.NONE
    assert d.produce("t", 0, pid, epoch, 1, ("c",), tid="tx").error_code is ErrorCode.NONE
    d.run(d.node.receive(d.node.node_id, markers.message))  # the first copy, late
    d.end("tx", pid, epoch, False)
    assert sorted(committed_values(d.node, "t")) == ["a", "b", "c"]


def test_transaction_version_2_bumps_the_epoch_on_every_end_txn() -> None:
    d = Direct()
    pid, epoch = open_transaction(d)
    response = d.end("tx", pid, epoch, True)
    assert isinstance(response, EndTxnResponse)
    assert (response.error_code, response.producer_epoch) == (ErrorCode.NONE, epoch + 1)
    marker = d.partition("t", 1).log.batches[-1]
    assert marker.is_commit and marker.producer_epoch == epoch + 1
    retry = d.end("tx", pid, epoch, True)  # recognised: stored epoch == request epoch + 1
    assert (retry.error_code, retry.producer_epoch) == (ErrorCode.NONE, epoch + 1)
    # The next transaction uses the new epoch; its sequences restart at 0.
    assert d.produce("t", 0, pid, epoch + 1, 0, ("c",), tid="tx").error_code is ErrorCode.NONE


def test_transaction_version_2_marker_retry_is_written_again() -> None:
    """KAFKA-19999: the same marker again (its response lost, or re-sent by a new coordinator)
    with no transaction open is accepted, so the transaction does not hang in Prepare*."""
    d = Direct()
    pid, epoch = open_transaction(d)
    d.end("tx", pid, epoch, True)
    partition = d.partition("t", 0)
    appended = partition.log_end_offset
    error, offset = d.node.write_marker(TP0, pid, epoch + 1, True, 0)  # the same marker again
    assert (error, offset) == (ErrorCode.NONE, appended)
    assert partition.log.batches[-1].is_commit


def test_transaction_version_2_marker_must_not_end_a_transaction_of_its_own_epoch() -> None:
    d = Direct()
    pid, epoch = open_transaction(d)
    d.end("tx", pid, epoch, True)
    # The next transaction runs at the bumped epoch the previous marker carried.
    assert d.produce("t", 0, pid, epoch + 1, 0, ("c",), tid="tx").error_code is ErrorCode.NONE
    partition = d.partition("t", 0)
    appended = partition.log_end_offset
    error, _ = d.node.write_marker(TP0, pid, epoch + 1, True, 0)  # a late copy of the old one
    assert error is ErrorCode.INVALID_PRODUCER_EPOCH
    assert partition.log_end_offset == appended


def test_a_marker_from_a_deposed_coordinator_is_fenced() -> None:
    d = Direct(TV1)
    _, old_markers = commit_with_markers_held(d)
    d.run(d.node.fail_over_coordinator())  # re-sends the markers with coordinator epoch 1
    d.release()
    assert metadata(d).state is TxnState.COMPLETE_COMMIT
    before = d.partition("t", 0).log_end_offset
    [reply] = d.node.receive(d.node.node_id, old_markers.message)
    stale = reply.message
    assert d.partition("t", 0).log_end_offset == before
    assert isinstance(stale, WriteTxnMarkersResponse)
    errors = {r.error_code for m in stale.markers for r in m.results}
    assert errors == {ErrorCode.TRANSACTION_COORDINATOR_FENCED}


def test_a_marker_refused_for_its_producer_epoch_is_given_up() -> None:
    """TransactionMarkerRequestCompletionHandler: INVALID_PRODUCER_EPOCH means the producer's
    epoch moved on; the coordinator stops sending this transaction's markers and does not
    complete it (a later coordinator reload re-sends them)."""
    d = Direct(TV1)
    pid, markers = commit_with_markers_held(d)
    refused = WriteTxnMarkersResponse(
        markers.message.correlation_id,
        (
            TxnMarkerResult(
                pid,
                (
                    PartitionResult("t", 0, ErrorCode.INVALID_PRODUCER_EPOCH),
                    PartitionResult("t", 1, ErrorCode.NONE),
                ),
            ),
        ),
    )
    assert d.node.receive(d.node.node_id, refused) == []
    d.clock.advance(10_000)
    d.tick()
    assert d.held == []  # nothing re-sent
    assert metadata(d).state is TxnState.PREPARE_COMMIT


def test_without_the_coordinator_epoch_check_a_stale_marker_is_appended() -> None:
    d = Direct(BrokerConfig(
            num_partitions=2,
            knobs=Knobs(transaction_version=1, coordinator_epoch_check=False),
        ))
    _, old_markers = commit_with_markers_held(d)
    d.run(d.node.fail_over_coordinator())
    d.release()
    before = d.partition("t", 0).log_end_offset
    d.node.receive(d.node.node_id, old_markers.message)
    assert d.partition("t", 0).log_end_offset == before + 1


def test_timeout_aborts_with_an_epoch_bump_that_fences_the_producer() -> None:
    d = Direct(TV1)
    init = d.init("tx", timeout=1_000)
    pid, epoch = init.producer_id, init.producer_epoch
    add(d, "tx", pid, epoch, TP0)
    d.produce("t", 0, pid, epoch, 0, ("a",), tid="tx")
    assert d.partition("t").last_stable_offset == 0
    d.clock.advance(1_001)
    d.tick()
    assert metadata(d).state is TxnState.COMPLETE_ABORT
    assert metadata(d).producer_epoch == epoch + 1
    assert d.partition("t").last_stable_offset == d.partition("t").high_watermark == 2
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.PRODUCER_FENCED


def _aborted_by_its_timeout() -> tuple[Direct, int, int]:
    """A transaction-version-2 transaction the coordinator aborted on its timeout (the epoch
    bumped past the producer's), and the producer's id and epoch."""
    d = Direct()
    init = d.init("tx", timeout=1_000)
    pid, epoch = init.producer_id, init.producer_epoch
    assert d.produce("t", 0, pid, epoch, 0, ("a",), tid="tx").error_code is ErrorCode.NONE
    d.clock.advance(1_001)
    d.tick()
    assert metadata(d).state is TxnState.COMPLETE_ABORT
    assert metadata(d).producer_epoch == epoch + 1
    return d, pid, epoch


def test_transaction_version_2_abort_after_a_timeout_abort_is_answered_as_a_retry() -> None:
    """TransactionCoordinator.endTransaction (TV2): retryOnEpochBump compares the epochs only,
    so the producer's EndTxn(ABORT) at the epoch the timeout abort bumped past gets NONE (the
    transaction is aborted, as it asked), with the bumped epoch to carry on."""
    d, pid, epoch = _aborted_by_its_timeout()
    late = d.end("tx", pid, epoch, False)
    assert (late.error_code, late.producer_epoch) == (ErrorCode.NONE, epoch + 1)


def test_transaction_version_2_commit_overtaken_by_a_timeout_abort_is_fenced() -> None:
    """KAFKA-20785: the producer's EndTxn(COMMIT), sent before the timeout's abort completed,
    arrives at the epoch the abort bumped past, which retryOnEpochBump takes for a retry; it
    is told PRODUCER_FENCED (a client recovers), not INVALID_TXN_STATE (fatal)."""
    d, pid, epoch = _aborted_by_its_timeout()
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.PRODUCER_FENCED
    assert metadata(d).state is TxnState.COMPLETE_ABORT


def test_failover_reloads_the_log_and_completes_a_decided_transaction() -> None:
    d = Direct(TV1)
    pid, epoch = open_transaction(d)
    d.hold = True
    assert d.end("tx", pid, epoch, False).error_code is ErrorCode.NONE
    assert metadata(d).state is TxnState.PREPARE_ABORT
    d.held.clear()  # the old coordinator's markers are lost with it
    d.hold = False
    d.run(d.node.fail_over_coordinator())
    assert d.node.txn_coordinator.coordinator_epoch == 1
    assert metadata(d).state is TxnState.COMPLETE_ABORT
    for index in (0, 1):
        partition = d.partition("t", index)
        assert partition.log.aborted and partition.last_stable_offset == partition.high_watermark


def test_failover_loses_a_transition_still_being_written_and_answers_not_coordinator() -> None:
    d, pid, epoch = deferred_with_add_pending()
    txn_log = d.node.partitions[TXN_STATE_PARTITION]
    assert txn_log.log_end_offset == txn_log.high_watermark + 1  # the Ongoing record, pending
    [answer] = d.run(d.node.fail_over_coordinator())
    assert answer.error_code is ErrorCode.NOT_COORDINATOR  # the client finds it and retries
    assert txn_log.log_end_offset == txn_log.high_watermark  # the new leader never had it
    assert metadata(d).state is TxnState.EMPTY and not metadata(d).partitions
    assert d.replicate() == []  # nothing left waiting on the lost record
    assert d.call(AddPartitionsToTxnRequest(d.cid(), "tx", pid, epoch, (TP0,))) == []  # retry
    [answer] = d.replicate()
    assert answer.error_code is ErrorCode.NONE and metadata(d).state is TxnState.ONGOING


def test_a_restarted_node_rebuilds_transaction_state_from_the_log() -> None:
    d = Direct(TV1)
    pid, epoch = open_transaction(d)
    d.restart()
    meta = metadata(d)
    assert (meta.state, meta.producer_id, meta.producer_epoch) == (TxnState.ONGOING, pid, epoch)
    assert meta.partitions == {TP0, TP1}
    assert d.node.txn_coordinator.coordinator_epoch == 1
    assert d.end("tx", pid, epoch, True).error_code is ErrorCode.NONE
    assert d.partition("t", 0).last_stable_offset == d.partition("t", 0).high_watermark


def test_verification_rejects_a_transactional_batch_for_a_partition_not_in_the_transaction() -> (
    None
):
    d = Direct(TV1)
    init = d.init("tx")
    response = d.produce("t", 0, init.producer_id, init.producer_epoch, 0, tid="tx")
    assert isinstance(response, ProduceResponse)
    assert response.error_code is ErrorCode.INVALID_TXN_STATE
    assert d.partition("t").log_end_offset == 0


def test_without_verification_a_batch_outside_the_transaction_hangs_the_partition() -> None:
    d = Direct(BrokerConfig(
            num_partitions=2,
            knobs=Knobs(transaction_version=1, partition_verification=False),
        ))
    init = d.init("tx")
    d.produce("t", 0, init.producer_id, init.producer_epoch, 0, tid="tx")
    assert d.partition("t").last_stable_offset == 0 < d.partition("t").high_watermark
    d.clock.advance(120_000)
    d.tick()  # nothing to time out: the coordinator never heard of this transaction
    assert d.partition("t").last_stable_offset == 0


def test_an_exhausted_epoch_rotates_the_producer_id_and_fences_the_zombie() -> None:
    """KAFKA-5283 with the epoch's bound at 1 (standing for Short.MAX_VALUE): epoch 0 is
    already exhausted, so the bump after the fence gives a new producer id at epoch 0; the
    zombie's producer id is unknown to the coordinator, whose answer to the leader's
    verification (KIP-890) refuses the zombie's write too."""
    d = Direct(BrokerConfig(num_partitions=2, knobs=TV1.knobs, max_producer_epoch=1))
    pid, epoch = open_transaction(d)
    assert d.init("tx").error_code is ErrorCode.CONCURRENT_TRANSACTIONS  # fenced at epoch 1
    rotated = d.init("tx")
    assert rotated.error_code is ErrorCode.NONE
    assert rotated.producer_id != pid and rotated.producer_epoch == 0
    assert metadata(d).previous_producer_id == pid
    assert add(d, "tx", pid, epoch).error_code is ErrorCode.INVALID_PRODUCER_ID_MAPPING
    zombie = d.produce("t", 0, pid, epoch, 1, ("late",), tid="tx")
    assert zombie.error_code is ErrorCode.INVALID_PRODUCER_ID_MAPPING
    assert d.partition("t", 0).log_end_offset == 2  # its first write and the fence's marker


def test_without_rotation_the_epoch_wraps_around_to_one_a_zombie_holds() -> None:
    """producer_id_rotation off (the int16 overflow before KAFKA-5283): the bump past the
    bound wraps to epoch 0 under the same producer id, the zombie's own epoch, and the
    coordinator takes the zombie's requests for the new incarnation's."""
    knobs = Knobs(transaction_version=1, producer_id_rotation=False)
    d = Direct(BrokerConfig(num_partitions=2, knobs=knobs, max_producer_epoch=1))
    pid, epoch = open_transaction(d)
    assert d.init("tx").error_code is ErrorCode.CONCURRENT_TRANSACTIONS  # fenced at epoch 1
    wrapped = d.init("tx")
    assert (wrapped.producer_id, wrapped.producer_epoch) == (pid, epoch) == (pid, 0)
    assert add(d, "tx", pid, epoch).error_code is ErrorCode.NONE  # the zombie is not fenced


def test_a_version_2_decision_at_the_exhausted_epoch_rotates_the_producer_id() -> None:
    """KIP-890's nextProducerId with the epoch's bound at 1: epoch 0 is exhausted, so the
    commit is written and marked under the old producer id at epoch 1, the client is answered
    with a new producer id at epoch 0 (KAFKA-18660), whose AddPartitionsToTxn waits while the
    markers are written, and the transaction completes under it. An EndTxn retried under the
    old id at the exhausted epoch is then answered as a retry (retryOnOverflow)."""
    d = Direct(BrokerConfig(num_partitions=2, max_producer_epoch=1))
    pid, epoch = open_transaction(d)
    d.hold = True  # the markers stay in flight
    answer = d.end("tx", pid, epoch, commit=True)
    assert answer.error_code is ErrorCode.NONE
    new_pid = answer.producer_id
    assert new_pid != pid and answer.producer_epoch == 0
    assert (metadata(d).producer_id, metadata(d).producer_epoch) == (pid, 1)
    assert metadata(d).state is TxnState.PREPARE_COMMIT
    assert add(d, "tx", new_pid, 0).error_code is ErrorCode.CONCURRENT_TRANSACTIONS
    d.hold = False
    d.release()
    assert d.partition("t", 0).producers.entries[pid].producer_epoch == 1  # the marker's
    assert (metadata(d).producer_id, metadata(d).producer_epoch) == (new_pid, 0)
    assert metadata(d).state is TxnState.COMPLETE_COMMIT
    retried = d.end("tx", pid, epoch, commit=True)
    assert (retried.error_code, retried.producer_id, retried.producer_epoch) == (
        ErrorCode.NONE,
        new_pid,
        0,
    )
    assert add(d, "tx", new_pid, 0).error_code is ErrorCode.NONE  # the next transaction


def test_a_version_2_decision_below_the_exhausted_epoch_keeps_the_producer_id() -> None:
    d = Direct(BrokerConfig(num_partitions=2, max_producer_epoch=3))
    pid, epoch = open_transaction(d)
    answer = d.end("tx", pid, epoch, commit=True)
    assert (answer.producer_id, answer.producer_epoch) == (pid, epoch + 1)
    assert metadata(d).next_producer_id == -1


def _zombie_while_markers_are_written(config: BrokerConfig) -> tuple[ErrorCode, ErrorCode]:
    """A zombie at the epoch before the current one sends AddPartitionsToTxn and EndTxn while
    the current producer's commit has its markers in flight: the coordinator's answers."""
    d = Direct(config)
    zombie = d.init("tx")
    pid, epoch = open_transaction(d)
    assert (pid, epoch) == (zombie.producer_id, zombie.producer_epoch + 1)
    d.hold = True  # the markers stay in flight: PrepareCommit, Kafka's pending CompleteCommit
    assert d.end("tx", pid, epoch, commit=True).error_code is ErrorCode.NONE
    answers = add(d, "tx", pid, epoch - 1).error_code, d.end("tx", pid, epoch - 1, False).error_code
    d.hold = False
    d.release()
    assert metadata(d).state is TxnState.COMPLETE_COMMIT
    # once the coordinator is idle the zombie is fenced whatever the version
    assert add(d, "tx", pid, epoch - 1).error_code is ErrorCode.PRODUCER_FENCED
    assert d.end("tx", pid, epoch - 1, False).error_code is ErrorCode.PRODUCER_FENCED
    return answers


def test_a_busy_coordinator_answers_before_the_epoch_in_kafkas_order() -> None:
    """handleAddPartitionsToTransaction looks for a pending transition first (KAFKA-18660),
    and so does transaction version 2's endTransaction before the epoch (KAFKA-18464);
    endTransactionWithTV1 checks the epoch first."""
    concurrent, fenced = ErrorCode.CONCURRENT_TRANSACTIONS, ErrorCode.PRODUCER_FENCED
    assert _zombie_while_markers_are_written(BrokerConfig(num_partitions=2)) == (
        concurrent,
        concurrent,
    )
    assert _zombie_while_markers_are_written(TV1) == (concurrent, fenced)
