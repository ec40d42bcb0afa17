"""``kafka-eos validate`` exit codes and ``kafka-eos serve`` usage errors: one line, exit 2,
never a traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from user_errors import assert_one_line_error
from wire_raw import RawClient

from kafka_eos.protocol.history import Append, ProduceAck, Read, write_history
from kafka_eos.reference.wire import codec

pytestmark = pytest.mark.timeout(60)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kafka_eos", *args], capture_output=True, text=True, timeout=30
    )


def _append(offset: int, sequence: int, value: str) -> Append:
    return Append("t-0", offset, 7, 0, sequence, (value,), False)


def test_validate_accepts_a_clean_history(tmp_path: Path) -> None:
    history = tmp_path / "ok.jsonl"
    write_history(history, [
        _append(0, 0, "a"),
        ProduceAck("p", "t-0", 7, 0, 0, ("a",), "NONE", 0),
        Read("c", "read_committed", "t-0", 0, "a"),
    ])  # fmt: skip
    result = _cli("validate", str(history))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok")


def test_validate_reports_a_duplicate_with_exit_1(tmp_path: Path) -> None:
    history = tmp_path / "dup.jsonl"
    write_history(history, [_append(0, 0, "a"), _append(1, 0, "a")])
    result = _cli("validate", str(history))
    assert result.returncode == 1
    assert "no_duplicates" in result.stdout


def test_validate_holds_read_uncommitted_reads_to_read_committed_on_request(
    tmp_path: Path,
) -> None:
    history = tmp_path / "dirty.jsonl"
    open_write = Append("t-0", 0, 7, 0, 0, ("a",), True)  # its transaction never ends
    write_history(history, [open_write, Read("c", "read_uncommitted", "t-0", 0, "a")])
    assert _cli("validate", str(history)).returncode == 0  # Kafka allows a dirty read there
    result = _cli("validate", "--json", "--every-read-committed", str(history))
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["verdict"] == "violated"
    assert [v["property"] for v in document["violations"]] == ["read_committed_no_aborted"]
    assert document["violations"][0]["events"] == [1, 2]


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{not json\n", "not JSON"), ('{"type": "nope"}\n', "'type' must be one of")],
)
def test_validate_a_bad_history_is_a_one_line_error(
    tmp_path: Path, content: str, expected: str
) -> None:
    history = tmp_path / "bad.jsonl"
    history.write_text(content)
    result = _cli("validate", str(history))
    assert expected in assert_one_line_error(result.returncode, result.stderr)


def test_validate_a_missing_file(tmp_path: Path) -> None:
    result = _cli("validate", str(tmp_path / "missing.jsonl"))
    assert "cannot read history" in assert_one_line_error(result.returncode, result.stderr)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--port", "70000"), "--port 70000"),
        (("--partitions", "0"), "--partitions 0"),
        (("--set", "no_such_knob=1"), "unknown broker setting 'no_such_knob'"),
        (("--set", "transaction_version=7"), "--set transaction_version: must be 1 or 2, got 7"),
        (("--set", "oops"), "expected NAME=VALUE"),
        (("--fault", "drop-response NoSuchApi"), "unknown API 'NoSuchApi'"),
        (("--fault", "explode"), "unknown command"),
    ],
)
def test_serve_usage_errors(args: tuple[str, ...], expected: str) -> None:
    result = _cli("serve", "--port", "0", *args)
    assert expected in assert_one_line_error(result.returncode, result.stderr)


def test_serve_on_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli("serve", "--port", str(port))
    line = assert_one_line_error(result.returncode, result.stderr)
    assert f"cannot listen on 127.0.0.1:{port}" in line


@pytest.mark.clients
def test_request_log_records_every_request_and_response_in_order(
    serve_factory: Any, tmp_path: Path
) -> None:
    log = tmp_path / "requests.jsonl"
    broker = serve_factory(args=("--request-log", str(log)))
    client = RawClient(broker.port)
    client.request(codec.API_VERSIONS, 3, {})
    client.request(codec.METADATA, 9, {"topics": [{"name": "logged"}]})
    broker.stop()
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["direction"], e["api"], e["correlation_id"]) for e in entries] == [
        ("request", "ApiVersions", 1),
        ("response", "ApiVersions", 1),
        ("request", "Metadata", 2),
        ("response", "Metadata", 2),
    ]
    assert entries[3]["body"]["topics"][0]["name"] == "logged"
