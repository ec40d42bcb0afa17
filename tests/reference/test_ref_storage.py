"""File-backed storage: a node rebuilt from its data dir after a crash, torn last line included."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from refdriver import Direct

from kafka_eos.errors import InputError
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.reference.clock import SystemClock, VirtualClock
from kafka_eos.reference.invariants import NodeInvariants
from kafka_eos.reference.messages import AddPartitionsToTxnRequest, FetchRequest, TopicPartition
from kafka_eos.reference.node import BrokerConfig
from kafka_eos.reference.storage import FileStorage

TV1 = BrokerConfig(num_partitions=1, knobs=Knobs(transaction_version=1))


def crash_and_restart(d: Direct, data_dir: Path) -> None:
    """What kill -9 leaves: the files. A new process opens them."""
    d.storage.close()  # type: ignore[attr-defined]
    d.storage = FileStorage(data_dir, fsync=False)
    d.restart()


def test_acknowledged_records_and_deduplication_survive_a_restart(tmp_path: Path) -> None:
    d = Direct(TV1, storage=FileStorage(tmp_path, fsync=False))
    pid = d.init().producer_id
    first = d.produce("t", 0, pid, 0, 0, ("a", "b"))
    crash_and_restart(d, tmp_path)
    retry = d.produce("t", 0, pid, 0, 0, ("a", "b"))  # a client retry after the restart
    assert retry.error_code is ErrorCode.NONE and retry.base_offset == first.base_offset
    assert d.produce("t", 0, pid, 0, 5).error_code is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert d.partition("t").log_end_offset == 2
    assert d.init().producer_id != pid  # producer ids are never handed out twice


def test_transaction_state_and_the_open_transaction_survive_a_restart(tmp_path: Path) -> None:
    d = Direct(TV1, storage=FileStorage(tmp_path, fsync=False))
    init = d.init("tx")
    pid, epoch = init.producer_id, init.producer_epoch
    tp = TopicPartition("t", 0)
    d.one(AddPartitionsToTxnRequest(d.cid(), "tx", pid, epoch, (tp,)))
    d.produce("t", 0, pid, epoch, 0, ("x",), tid="tx")
    crash_and_restart(d, tmp_path)
    assert d.partition("t").last_stable_offset == 0  # the open transaction is rebuilt
    meta = d.node.txn_coordinator.transactions["tx"]
    assert meta.state is TxnState.ONGOING and meta.partitions == {tp}
    assert d.end("tx", pid, epoch, False).error_code is ErrorCode.NONE
    crash_and_restart(d, tmp_path)
    partition = d.partition("t")
    assert partition.last_stable_offset == partition.high_watermark == 2
    fetch = d.one(FetchRequest(d.cid(), "t", 0, 0, isolation_level=1))
    assert [(a.producer_id, a.first_offset) for a in fetch.aborted_transactions] == [(pid, 0)]


def test_a_truncated_log_stays_truncated_after_a_restart(tmp_path: Path) -> None:
    d = Direct(TV1, storage=FileStorage(tmp_path, fsync=False))
    pid = d.init().producer_id
    d.produce("t", 0, pid, 0, 0, ("a",))
    partition = d.partition("t")
    d.produce("t", 0, pid, 0, 1, ("b",))
    partition.log.high_watermark = 1  # "b" not yet replicated
    dropped = partition.truncate_to(1)
    assert [b.records for b in dropped] == [("b",)]
    crash_and_restart(d, tmp_path)
    assert [b.records for b in d.partition("t").log.batches] == [("a",)]
    # producer state was rebuilt from what is left: "b" is not a duplicate, it is appended again
    again = d.produce("t", 0, pid, 0, 1, ("b",))
    assert again.error_code is ErrorCode.NONE and again.base_offset == 1


def test_a_torn_last_line_is_ignored_and_cut_off(tmp_path: Path) -> None:
    d = Direct(TV1, storage=FileStorage(tmp_path, fsync=False))
    pid = d.init().producer_id
    d.produce("t", 0, pid, 0, 0, ("a",))
    d.produce("t", 0, pid, 0, 1, ("b",))
    log_file = tmp_path / "t-0.log"
    whole = log_file.read_bytes()
    log_file.write_bytes(whole[: len(whole) - 7])  # the crash tore the last append
    crash_and_restart(d, tmp_path)
    assert d.partition("t").log_end_offset == 1
    assert log_file.read_bytes() == whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 1]
    # The torn batch was never acknowledged; its retry is appended again, in sequence.
    assert d.produce("t", 0, pid, 0, 1, ("b",)).base_offset == 1


def test_a_corrupt_line_before_the_end_is_an_error(tmp_path: Path) -> None:
    d = Direct(TV1, storage=FileStorage(tmp_path, fsync=False))
    pid = d.init().producer_id
    d.produce("t", 0, pid, 0, 0, ("a",))
    d.produce("t", 0, pid, 0, 1, ("b",))
    d.storage.close()  # type: ignore[attr-defined]
    log_file = tmp_path / "t-0.log"
    lines = log_file.read_bytes().split(b"\n")
    log_file.write_bytes(b"\n".join([lines[0], b"{garbage", *lines[2:]]))
    with pytest.raises(InputError, match=r"t-0\.log: line 2 .*corrupt record"):
        FileStorage(tmp_path).stream("t-0")


def test_bytes_payloads_are_stored_as_received(tmp_path: Path) -> None:
    from kafka_eos.reference.messages import ProduceRequest

    d = Direct(TV1, storage=FileStorage(tmp_path, fsync=False))
    pid = d.init().producer_id
    payload = bytes(range(256))
    d.one(ProduceRequest(d.cid(), "t", 0, pid, 0, 0, 1, False, None, payload, ("v",)))
    crash_and_restart(d, tmp_path)
    [batch] = d.one(FetchRequest(d.cid(), "t", 0, 0)).batches
    assert batch.payload == payload


def test_only_the_replicated_prefix_of_a_log_is_immutable() -> None:
    d = Direct(TV1)
    pid = d.init().producer_id
    invariants = NodeInvariants()
    d.produce("t", 0, pid, 0, 0, ("a",))
    partition = d.partition("t")
    assert invariants.check(d.node) == []
    d.produce("t", 0, pid, 0, 1, ("b",))
    partition.log.high_watermark = 1  # "b" not yet replicated
    assert invariants.check(d.node) == []
    partition.truncate_to(1)  # a new leader never had it: allowed
    assert invariants.check(d.node) == []
    partition.log.high_watermark = 0  # a broken leader election: replicated "a" goes too
    partition.truncate_to(0)
    found = {v.property for v in invariants.check(d.node)}
    assert found == {"logs_only_grow", "lso_monotonic"}


def test_the_system_clock_is_the_wall_clock_so_saved_times_mean_the_same_after_a_reboot() -> None:
    """The data dir keeps transaction start times; a clock that restarts at boot (monotonic)
    would leave an abandoned transaction open for ever after a reboot."""
    before = time.time_ns() // 1_000_000
    now = SystemClock().now_ms()
    assert before <= now <= time.time_ns() // 1_000_000


def test_the_system_clock_never_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SystemClock()
    first = clock.now_ms()
    monkeypatch.setattr(time, "time_ns", lambda: (first - 60_000) * 1_000_000)  # NTP steps back
    assert clock.now_ms() == first


def test_an_abandoned_transaction_times_out_after_a_restart(tmp_path: Path) -> None:
    wall = VirtualClock(1_760_000_000_000)  # wall-clock milliseconds, as SystemClock reads them
    d = Direct(TV1, storage=FileStorage(tmp_path, fsync=False), clock=wall)
    init = d.init("tx", timeout=10_000)
    pid, epoch = init.producer_id, init.producer_epoch
    d.one(AddPartitionsToTxnRequest(d.cid(), "tx", pid, epoch, (TopicPartition("t", 0),)))
    d.produce("t", 0, pid, epoch, 0, ("abandoned",), tid="tx")
    crash_and_restart(d, tmp_path)
    wall.advance(5_000)
    d.tick()
    assert d.partition("t").last_stable_offset == 0  # still within its timeout
    wall.advance(5_001)  # down, or rebooted: the wall clock went on
    d.tick()
    partition = d.partition("t")
    assert partition.last_stable_offset == partition.high_watermark == 2  # aborted


def test_a_stream_created_but_never_written_is_not_part_of_the_data(tmp_path: Path) -> None:
    """Creating streams costs one MANIFEST write for all of them, before the next append: a
    crash before that leaves files that are not part of the data, and creating them again
    works."""
    storage = FileStorage(tmp_path, fsync=False)
    storage.stream("a").append({"k": 1})
    storage.stream("b")  # created; the process dies before anything is appended
    again = FileStorage(tmp_path, fsync=False)
    assert again.stream_names() == ["a"]
    assert again.stream("b").records() == []
    again.stream("b").append({"k": 2})
    assert FileStorage(tmp_path, fsync=False).stream("b").records() == [{"k": 2}]
