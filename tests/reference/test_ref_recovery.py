"""Crash recovery of a damaged data directory: the broker either recovers exactly what it
acknowledged or refuses to start with one line naming the damage; it never starts silently
with less data.

The damages: a bit flip in the last complete line (a COMMIT marker the client was told
about) or in the middle of a log, a torn tail (the only damage a crash can leave), a
partition log, topic log or producer-id log emptied or deleted, a MANIFEST deleted, a record
of the wrong shape with a valid checksum, a path-escaping topic name, and a data directory
written by the earlier format without checksums. Each is tried on the core (FileStorage and
a node reloading it) and on ``kafka-eos serve --data-dir`` (exit 2, one line, no traceback).
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from refdriver import Direct
from user_errors import assert_one_line_error

from kafka_eos.errors import InputError
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.reference.messages import AddPartitionsToTxnRequest, TopicPartition
from kafka_eos.reference.node import BrokerConfig
from kafka_eos.reference.storage import FileStorage

TV1 = BrokerConfig(num_partitions=1, knobs=Knobs(transaction_version=1))
ACKNOWLEDGED = [("a",), ("b",), ("x",), ()]  # two batches, a transaction's batch, its COMMIT


def populate(data_dir: Path) -> None:
    """Two idempotent batches, then a committed transaction: the log's last line is the
    COMMIT marker the client was told about."""
    d = Direct(TV1, storage=FileStorage(data_dir, fsync=False))
    pid = d.init().producer_id
    d.produce("t", 0, pid, 0, 0, ("a",))
    d.produce("t", 0, pid, 0, 1, ("b",))
    init = d.init("tx")
    tx_pid, epoch = init.producer_id, init.producer_epoch
    d.one(AddPartitionsToTxnRequest(d.cid(), "tx", tx_pid, epoch, (TopicPartition("t", 0),)))
    d.produce("t", 0, tx_pid, epoch, 0, ("x",), tid="tx")
    d.end("tx", tx_pid, epoch, True)
    d.storage.close()  # type: ignore[attr-defined]


def reload(data_dir: Path) -> Direct:
    """What a restart does: open the files, rebuild the node from them."""
    return Direct(TV1, storage=FileStorage(data_dir, fsync=False))


def stored_records(d: Direct) -> list[tuple[str, ...]]:
    return [batch.records for batch in d.partition("t").log.batches]


# -- the damages --------------------------------------------------------------------------------


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _flip_in_line(path: Path, index: int, *, at: int | None = None) -> None:
    """Flip one bit of line ``index`` (default: a byte in its middle)."""
    lines = _lines(path)
    line = bytearray(lines[index])
    position = len(line) // 2 if at is None else at
    line[position] ^= 0x01
    lines[index] = bytes(line)
    path.write_bytes(b"".join(lines))


def flip_last_line(data_dir: Path) -> None:
    _flip_in_line(data_dir / "t-0.log", -1)


def flip_middle_line(data_dir: Path) -> None:
    _flip_in_line(data_dir / "t-0.log", 2)


def flip_last_newline(data_dir: Path) -> None:
    """0x0a -> 0x0b: the last line loses its newline by a bit flip, not by a torn write."""
    _flip_in_line(data_dir / "t-0.log", -1, at=-1)


def empty(name: str) -> Callable[[Path], None]:
    return lambda data_dir: (data_dir / name).write_bytes(b"")


def delete(name: str) -> Callable[[Path], None]:
    return lambda data_dir: (data_dir / name).unlink()


def keep_only_header(name: str) -> Callable[[Path], None]:
    def damage(data_dir: Path) -> None:
        path = data_dir / name
        path.write_bytes(_lines(path)[0])

    return damage


def append_valid_record(name: str, record: dict[str, object]) -> Callable[[Path], None]:
    """A record with a valid checksum but the wrong shape (or a forged one): only the
    storage itself can write it."""

    def damage(data_dir: Path) -> None:
        storage = FileStorage(data_dir, fsync=False)
        storage.stream(name).append(record)
        storage.close()

    return damage


def earlier_format(data_dir: Path) -> None:
    """What the earlier kafka-eos wrote: JSON lines, no checksums, no MANIFEST."""
    for path in data_dir.iterdir():
        path.unlink()
    (data_dir / "__topics.log").write_text('{"name":"t","partitions":1}\n')


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "bit flip in the last line": (flip_last_line, r"t-0\.log: line 5 .*checksum"),
    "bit flip in the middle": (flip_middle_line, r"t-0\.log: line 3 .*checksum"),
    "bit flip in the last newline": (flip_last_newline, r"t-0\.log: line 5 "),
    "emptied partition log": (empty("t-0.log"), r"t-0\.log.* empty"),
    "deleted partition log": (delete("t-0.log"), r"t-0\.log.* missing"),
    "emptied topic log": (empty("__topics.log"), r"__topics\.log.* empty"),
    "deleted topic log": (delete("__topics.log"), r"__topics\.log.* missing"),
    "topic log without records": (keep_only_header("__topics.log"), r"__topics\.log.*t-0"),
    "emptied producer-id log": (empty("__producer_ids.log"), r"__producer_ids\.log.* empty"),
    "producer-id log without records": (
        keep_only_header("__producer_ids.log"),
        r"__producer_ids.*producer id",
    ),
    "deleted MANIFEST": (delete("MANIFEST"), r"MANIFEST.* missing"),
    "malformed topic record": (
        append_valid_record("__topics", {"name": 5}),
        r"__topics\.log.*malformed",
    ),
    "malformed batch record": (
        append_valid_record("t-0", {"base_offset": "zero"}),
        r"t-0\.log.*malformed",
    ),
    "path-escaping topic name": (
        append_valid_record("__topics", {"name": "../../escaped", "partitions": 1}),
        r"__topics.*escaped",
    ),
    "earlier format": (earlier_format, r"earlier kafka-eos.*format"),
}


def damaged(tmp_path: Path, damage: str) -> tuple[Path, str]:
    """A populated data dir with ``damage`` done to it; the pattern its refusal must match."""
    data_dir = tmp_path / "data"
    populate(data_dir)
    harm, expected = DAMAGES[damage]
    harm(data_dir)
    return data_dir, expected


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_data_dir_refuses_to_start_with_one_line_naming_the_damage(
    tmp_path: Path, damage: str
) -> None:
    data_dir, expected = damaged(tmp_path, damage)
    with pytest.raises(InputError, match=expected) as refused:
        reload(data_dir)
    assert "\n" not in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written outside


def test_the_undamaged_data_dir_recovers_everything_acknowledged(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    populate(data_dir)
    d = reload(data_dir)
    assert stored_records(d) == ACKNOWLEDGED
    assert d.partition("t").last_stable_offset == 4


@pytest.mark.parametrize("kept", [1, 9, -1])
def test_a_torn_tail_is_cut_with_a_warning_and_everything_acknowledged_stays(
    tmp_path: Path, kept: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A crash while appending leaves a prefix of the line being written (possibly all of it
    but its newline): that append was never acknowledged, so cutting it loses nothing."""
    data_dir = tmp_path / "data"
    populate(data_dir)
    log_file = data_dir / "t-0.log"
    acknowledged = log_file.read_bytes()
    d = reload(data_dir)
    d.produce("t", 0, d.init().producer_id, 0, 0, ("in flight",))
    d.storage.close()  # type: ignore[attr-defined]
    in_flight = log_file.read_bytes()[len(acknowledged) :]
    log_file.write_bytes(acknowledged + in_flight[: kept % len(in_flight)])
    with caplog.at_level(logging.WARNING, logger="kafka_eos.storage"):
        d = reload(data_dir)
    assert stored_records(d) == ACKNOWLEDGED
    assert log_file.read_bytes() == acknowledged
    [warning] = [r.getMessage() for r in caplog.records if r.name == "kafka_eos.storage"]
    assert "t-0.log" in warning and "torn" in warning and "\n" not in warning


# -- the same through `kafka-eos serve --data-dir` ----------------------------------------------


@pytest.mark.parametrize(
    "damage",
    ["bit flip in the last line", "deleted partition log", "malformed topic record",
     "path-escaping topic name", "earlier format"],
)  # fmt: skip
def test_serve_refuses_a_damaged_data_dir_with_exit_2_and_one_line(
    tmp_path: Path, damage: str
) -> None:
    data_dir, expected = damaged(tmp_path, damage)
    command = [sys.executable, "-m", "kafka_eos", "serve", "--port", "0", "--data-dir"]
    done = subprocess.run(
        [*command, str(data_dir)], capture_output=True, text=True, timeout=60, check=False
    )
    line = assert_one_line_error(done.returncode, done.stderr)
    assert re.search(expected, line), line
