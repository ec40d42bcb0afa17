"""``kafka-eos serve`` refuses every option it cannot honour before it listens: one line
``kafka-eos: error: ...`` naming the option, exit 2, never a traceback; a malformed fault on
the admin port is answered with one ``error`` line and not armed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from user_errors import assert_one_line_error
from wire_raw import RawClient

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.wire import codec

pytestmark = pytest.mark.timeout(60)


def _serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kafka_eos", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    line = assert_one_line_error(result.returncode, result.stderr)
    assert expected in line, line


MISSING = "/nonexistent-kafka-eos-folder"

BAD_OPTIONS = [
    (("--history", f"{MISSING}/h.jsonl"), f"--history {MISSING}/h.jsonl"),
    (("--request-log", f"{MISSING}/r.jsonl"), f"--request-log {MISSING}/r.jsonl"),
    (("--ready-file", f"{MISSING}/ready"), f"--ready-file {MISSING}/ready"),
    (("--max-frame-size", "-1"), "--max-frame-size -1"),
    (("--max-frame-size", "4"), "--max-frame-size 4"),
    (("--max-frame-size", str(2**31)), "--max-frame-size 2147483648"),
    (("--partitions", "1000000"), "--partitions 1000000: at most 1000"),
    (("--set", "num_partitions=1000000"), "num_partitions=1000000: at most 1000"),
    (("--set", "idempotence=maybe"), "--set idempotence: expected true or false"),
    (("--set", "batch_cache_size=lots"), "--set batch_cache_size: expected an integer"),
    (("--set", "transaction_version=true"), "--set transaction_version: expected 1 or 2"),
    (("--set", "auto_create_topics=maybe"), "--set auto_create_topics=maybe: expected true or"),
    (("--set", "producer_state_expiry_ms=soon"), "producer_state_expiry_ms=soon: expected an int"),
    (("--set", "auto_create_topics=FALSE"), None),  # legal: the broker starts
    (("--fault", "delay Produce -500"), "--fault 'delay Produce -500': MS must be"),
    (("--fault", "delay Produce soon"), "--fault 'delay Produce soon': MS must be"),
    (("--fault", "drop-response Produce 0"), "COUNT must be"),
    (("--fault", "close-after Produce -2"), "COUNT must be"),
    (("--fault", "delay Produce 10 0"), "COUNT must be"),
    (("--fault", "advance-clock -5"), "the clock never goes back"),
    (("--connections-max-idle-ms", "0"), "--connections-max-idle-ms 0: must be at least 1"),
    (("--frame-read-timeout-ms", "-3"), "--frame-read-timeout-ms -3: must be at least 1"),
    (("--queued-max-request-bytes", "0"), "--queued-max-request-bytes 0: must be -1"),
    (("--brokers", "0"), "--brokers 0: must be 1-16"),
    (("--set", "brokers=3"), "--set brokers: use --brokers N"),
    (("--port", "65535", "--brokers", "2"), "--port 65535: broker 1 would listen on 65536"),
    (("--fault", "kill-broker 0"), "--fault 'kill-broker 0': broker 0 is the last one up"),
    (("--brokers", "2", "--fault", "kill-broker 2"), "no broker 2; the brokers are 0, 1"),
    (("--brokers", "2", "--fault", "kill-broker 1"), None),  # legal: broker 0 serves
]


@pytest.mark.parametrize(
    ("args", "expected"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS]
)
def test_serve_refuses_options_it_cannot_honour(
    tmp_path: Path, args: tuple[str, ...], expected: str | None
) -> None:
    if expected is not None:
        _assert_one_line_error(_serve(*args), expected)
        return
    ready = tmp_path / "ready"  # a legal value: the broker starts
    process = subprocess.Popen(
        [sys.executable, "-m", "kafka_eos", "serve", "--port", "0", "--ready-file", str(ready),
         *args],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_admin_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve("--admin-port", str(port))
    _assert_one_line_error(result, f"--admin-port {port}: cannot listen on 127.0.0.1:{port}")


def test_a_brokers_port_in_use_is_a_one_line_error_naming_the_broker() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve("--port", str(port - 1), "--brokers", "2")
    _assert_one_line_error(result, f"--port {port - 1}: cannot listen on 127.0.0.1:{port}")
    assert "(broker 1's port)" in result.stderr


MALFORMED_ADMIN_COMMANDS = [
    "delay Produce -500",
    "delay Produce x",
    "delay * 10 -1",
    "drop-response Produce 0",
    "drop-response Produce many",
    "close-after EndTxn -1",
    "crash-after NoSuchApi",
    "advance-clock -1",
    "advance-clock soon",
    "refuse-produce UNKNOWN_SERVER_ERROR",
    "refuse-produce NOT_ENOUGH_REPLICAS 0",
    "kill-broker 0",  # the only broker
    "kill-broker x",
    "restart-broker 0",  # up already
    "explode",
    "",
]


def test_malformed_admin_commands_are_one_line_errors_and_arm_nothing(serve: Any) -> None:
    with socket.create_connection(("127.0.0.1", serve.admin_port), timeout=10) as sock:
        lines = sock.makefile("rw")
        for command in MALFORMED_ADMIN_COMMANDS:
            lines.write(command + "\n")
            lines.flush()
            answer = lines.readline()
            assert answer.startswith("error "), (command, answer)
            assert answer.count("\n") == 1 and "Traceback" not in answer
        lines.write("status\n")
        lines.flush()
        assert lines.readline().strip() == "ok none"
    client = RawClient(serve.port)
    assert client.request(codec.API_VERSIONS, 3, {})["error_code"] == ErrorCode.NONE
    assert "Traceback" not in serve.log_text()


def test_the_largest_partition_count_keeps_the_broker_responsive(serve_factory: Any) -> None:
    # Memory storage: with --data-dir each new partition's stream rewrites and fsyncs the
    # data directory's MANIFEST, which the storage owns (about 14 s for 1000 here).
    broker = serve_factory(args=("--partitions", "1000"))
    client = RawClient(broker.port)
    started = time.monotonic()
    metadata = client.request(codec.METADATA, 9, {"topics": [{"name": "wide"}]})
    assert len(metadata["topics"][0]["partitions"]) == 1000
    assert time.monotonic() - started < 10  # seconds, on a loaded 2-core machine
    assert client.request(codec.API_VERSIONS, 3, {})["error_code"] == ErrorCode.NONE
