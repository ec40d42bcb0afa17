"""The partition leader's Produce checks, in Kafka's order and with Kafka's error codes."""

from __future__ import annotations

import itertools

from refdriver import Direct

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.protocol.sequence import MAX_SEQUENCE
from kafka_eos.reference.messages import AddPartitionsToTxnRequest, ProduceRequest, TopicPartition
from kafka_eos.reference.node import BrokerConfig


def idempotent(config: BrokerConfig | None = None) -> tuple[Direct, int]:
    direct = Direct(config)
    return direct, direct.init().producer_id


def test_duplicate_is_answered_with_the_original_offset_and_not_appended() -> None:
    d, pid = idempotent()
    first = d.produce("t", 0, pid, 0, 0, ("a", "b"))
    d.produce("t", 0, pid, 0, 2, ("c",))
    retry = d.produce("t", 0, pid, 0, 0, ("a", "b"))
    assert (first.error_code, retry.error_code) == (ErrorCode.NONE, ErrorCode.NONE)
    assert retry.base_offset == first.base_offset == 0
    assert d.partition("t").log_end_offset == 3


def test_gap_in_sequence_is_out_of_order() -> None:
    d, pid = idempotent()
    d.produce("t", 0, pid, 0, 0)
    assert d.produce("t", 0, pid, 0, 5).error_code is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert d.partition("t").log_end_offset == 1


def test_new_epoch_must_start_at_sequence_zero() -> None:
    d, pid = idempotent()
    d.produce("t", 0, pid, 0, 0)
    assert d.produce("t", 0, pid, 1, 1).error_code is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert d.produce("t", 0, pid, 1, 0).error_code is ErrorCode.NONE


def test_older_epoch_is_rejected_with_invalid_producer_epoch() -> None:
    d, pid = idempotent()
    d.produce("t", 0, pid, 1, 0)
    assert d.produce("t", 0, pid, 0, 1).error_code is ErrorCode.INVALID_PRODUCER_EPOCH


def test_without_the_epoch_check_an_older_epoch_is_appended() -> None:
    d, pid = idempotent(BrokerConfig(knobs=Knobs(producer_epoch_check=False)))
    d.produce("t", 0, pid, 1, 0)
    assert d.produce("t", 0, pid, 0, 0).error_code is ErrorCode.NONE


def test_a_duplicate_older_than_the_batch_cache_is_out_of_order() -> None:
    d, pid = idempotent(BrokerConfig(knobs=Knobs(batch_cache_size=2)))
    for seq in range(3):
        d.produce("t", 0, pid, 0, seq, (f"v{seq}",))
    assert d.produce("t", 0, pid, 0, 1, ("v1",)).base_offset == 1  # still cached
    late = d.produce("t", 0, pid, 0, 0, ("v0",))
    assert late.error_code is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


def test_five_batches_are_cached_by_default() -> None:
    d, pid = idempotent()
    for seq in range(5):
        d.produce("t", 0, pid, 0, seq, (f"v{seq}",))
    assert d.produce("t", 0, pid, 0, 0, ("v0",)).base_offset == 0


def test_sequences_wrap_from_max_to_zero_even_inside_a_batch() -> None:
    d, pid = idempotent()
    d.produce("t", 0, pid, 0, MAX_SEQUENCE - 1, ("a", "b"))  # no state: any sequence
    assert d.produce("t", 0, pid, 0, 0).error_code is ErrorCode.NONE
    assert d.produce("t", 0, pid, 0, 2).error_code is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


def test_after_producer_state_expiry_any_sequence_is_accepted_so_a_late_retry_duplicates() -> None:
    config = BrokerConfig(knobs=Knobs(producer_state_expiry=True), producer_state_expiry_ms=1_000)
    d, pid = idempotent(config)
    d.produce("t", 0, pid, 0, 0, ("a",))
    d.clock.advance(1_000)
    d.tick()
    assert pid not in d.partition("t").producers.entries
    retry = d.produce("t", 0, pid, 0, 0, ("a",))
    assert retry.base_offset == 1  # appended again: the duplicate expiry allows


def test_non_transactional_batch_while_a_transaction_is_open_is_invalid_txn_state() -> None:
    d = Direct(BrokerConfig(knobs=Knobs(transaction_version=1, partition_verification=False)))
    init = d.init("tx")
    pid, epoch = init.producer_id, init.producer_epoch
    assert d.produce("t", 0, pid, epoch, 0, tid="tx").error_code is ErrorCode.NONE
    response = d.produce("t", 0, pid, epoch, 1)
    assert response.error_code is ErrorCode.INVALID_TXN_STATE


def test_without_idempotence_the_leader_appends_every_retry() -> None:
    d, pid = idempotent(BrokerConfig(knobs=Knobs(idempotence=False)))
    d.produce("t", 0, pid, 0, 0, ("a",))
    assert d.produce("t", 0, pid, 0, 0, ("a",)).base_offset == 1


def test_offsets_are_assigned_contiguously_by_the_leader() -> None:
    d, pid = idempotent()
    offsets = [d.produce("t", 0, pid, 0, seq * 2, ("x", "y")).base_offset for seq in range(4)]
    assert offsets == [0, 2, 4, 6]
    batches = d.partition("t").log.batches
    assert all(b.base_offset == a.last_offset + 1 for a, b in itertools.pairwise(batches))


def test_a_verification_lost_with_its_connection_answers_the_produce_retriably() -> None:
    """AddPartitionsToTxnManager completes a verification whose connection broke with
    NETWORK_EXCEPTION, and the leader answers the held Produce NOT_ENOUGH_REPLICAS, which the
    producer retries at once, instead of holding it until the producer's request times out."""
    d = Direct(BrokerConfig(knobs=Knobs(transaction_version=1)))
    init = d.init("tx")
    pid, epoch = init.producer_id, init.producer_epoch
    add = AddPartitionsToTxnRequest(d.cid(), "tx", pid, epoch, (TopicPartition("t", 0),))
    assert d.one(add).error_code is ErrorCode.NONE
    d.hold = True
    produce = ProduceRequest(d.cid(), "t", 0, pid, epoch, 0, 1, True, "tx", None, ("a",))
    assert d.call(produce) == []  # held while the coordinator verifies the partition
    [verification] = d.held
    assert isinstance(verification.message, AddPartitionsToTxnRequest)
    d.held.clear()  # lost with the connection
    [answer] = d.run(d.node.disconnected(d.node.node_id))
    assert answer.error_code is ErrorCode.NOT_ENOUGH_REPLICAS
    assert not d.node.pending_verifications
    d.hold = False
    assert d.one(produce).error_code is ErrorCode.NONE  # the retry
