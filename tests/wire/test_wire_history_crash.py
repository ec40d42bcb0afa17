"""``--history`` survives kill -9: whatever a client was told is in the history before the
answer leaves, a torn last line is the only damage a crash can leave, and a restarted broker
first records what its logs gained while the history was not told (a kill -9 during the fsync
of an append leaves the batch in the log and not in the history: the history then had an
offset gap that ``kafka-eos validate`` reported as a violation of a run whose data was
perfect)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wire_raw import RawClient

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.messages import ProduceRequest
from kafka_eos.reference.node import BrokerConfig, BrokerNode
from kafka_eos.reference.storage import FileStorage
from kafka_eos.reference.wire import codec, records
from kafka_eos.reference.wire.history_log import HistoryLog
from kafka_eos.reference.wire.server import WireBroker

pytestmark = [pytest.mark.clients, pytest.mark.timeout(90)]


def _produce(port: int, topic: str, value: bytes) -> int:
    client = RawClient(port)
    answer = client.produce(topic, records.encode_batch([(None, value)]))
    client.close()
    assert answer["error_code"] == ErrorCode.NONE
    return int(answer["base_offset"])


def _validate(history: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kafka_eos", "validate", str(history)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _append_while_the_history_was_not_told(data_dir: Path, topic: str) -> None:
    """What kill -9 during an append's fsync leaves: the batch is in the log (the page cache
    survives the process), the history never heard of it, the client never got an answer."""
    storage = FileStorage(data_dir, fsync=False)
    node = BrokerNode(config=BrokerConfig(), storage=storage)
    request = ProduceRequest(1, topic, 0, -1, -1, -1, 1, False, None, None, ("in-flight",))
    [outbound] = node.receive("client", request)
    assert outbound.message.error_code is ErrorCode.NONE
    storage.close()


def test_a_batch_logged_but_never_in_the_history_is_recorded_at_restart(
    serve_factory: Any,
) -> None:
    broker = serve_factory(data_dir=True)
    assert _produce(broker.port, "t", b"before") == 0
    broker.kill()
    _append_while_the_history_was_not_told(broker.data_dir, "t")
    broker.start()
    assert _produce(broker.port, "t", b"after") == 2
    broker.stop()
    validated = _validate(broker.history_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    appended = [e.base_offset for e in broker.history() if e.type == "append"]
    assert appended == [0, 1, 2]


def test_a_torn_last_history_line_is_cut_at_restart_and_skipped_by_validate(
    serve_factory: Any,
) -> None:
    broker = serve_factory(data_dir=True)
    _produce(broker.port, "t", b"one")
    broker.kill()
    whole = broker.history_path.read_bytes()
    broker.history_path.write_bytes(whole + b'{"type":"append","partition":"t-0","base_off')
    validated = _validate(broker.history_path)  # read before any restart: the torn line goes
    assert validated.returncode == 0, validated.stdout + validated.stderr
    broker.start()
    _produce(broker.port, "t", b"two")
    broker.stop()
    assert broker.history_path.read_bytes().startswith(whole)
    validated = _validate(broker.history_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr


class _SnapshotWriter:
    """A connection's writer that looks at the history file the moment a response leaves."""

    def __init__(self, history: Path) -> None:
        self.history = history
        self.seen_when_sent: list[str] = []

    def write(self, data: bytes) -> None:
        self.seen_when_sent.append(self.history.read_text())

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None

    async def wait_closed(self) -> None:
        return None


def test_the_answer_is_in_the_history_before_it_leaves(tmp_path: Path) -> None:
    history_path = tmp_path / "history.jsonl"
    writer = _SnapshotWriter(history_path)

    async def produce_once() -> None:
        history = HistoryLog(history_path)
        node = BrokerNode(config=BrokerConfig())
        broker = WireBroker(node=node, node_id=node.node_id, clock=node.clock, history=history)
        body = {
            "acks": -1,
            "timeout": 5000,
            "topic_data": [
                {
                    "name": "t",
                    "partition_data": [
                        {"index": 0, "records": records.encode_batch([(None, b"v")])}
                    ],
                }
            ],
        }
        reader = asyncio.StreamReader()
        reader.feed_data(codec.encode_request(codec.PRODUCE, 8, 7, body))
        reader.feed_eof()
        await broker.handle_connection(reader, writer)  # type: ignore[arg-type]
        history.close()

    asyncio.run(produce_once())
    [seen] = writer.seen_when_sent
    assert '"type":"ack"' in seen and '"type":"append"' in seen
