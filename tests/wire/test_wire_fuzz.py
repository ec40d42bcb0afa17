"""A wire fuzz test: random and structured-but-wrong frames (impossible sizes, unknown API keys
and versions, truncated bodies, garbage record batches, huge array counts, several frames at
once) sent to a running broker. After each, a real client request still succeeds, and the
broker never logs a traceback."""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_raw import RawClient

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.wire import codec, records
from kafka_eos.reference.wire.framing import frame

pytestmark = [pytest.mark.clients, pytest.mark.timeout(300)]

MAX_FRAME = 64 * 1024
LIMITS = (
    "--max-frame-size", str(MAX_FRAME),
    "--frame-read-timeout-ms", "300",
    "--queued-max-request-bytes", str(4 * MAX_FRAME),
)  # fmt: skip

_EVERY_VERSION = [
    (key, version)
    for key, (low, high) in sorted(codec.SUPPORTED_VERSIONS.items())
    for version in range(low, high + 1)
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from conftest import ServeProcess

    broker = ServeProcess(tmp_path_factory.mktemp("fuzzed"), args=LIMITS).start()
    yield broker
    broker.stop()


def _header(api_key: int, version: int, correlation_id: int = 5) -> bytes:
    return struct.pack(">hhi", api_key, version, correlation_id) + struct.pack(">h", 4) + b"fuzz"


def _produce(batch: bytes, version: int) -> bytes:
    body = {
        "acks": -1,
        "timeout": 1000,
        "topic_data": [{"name": "fuzz", "partition_data": [{"index": 0, "records": batch}]}],
    }
    return codec.encode_request(codec.PRODUCE, version, 9, body)


def _requests() -> st.SearchStrategy[bytes]:
    """Well-formed requests of every API and version (empty bodies), framed."""
    return st.sampled_from(_EVERY_VERSION).map(
        lambda kv: codec.encode_request(kv[0], kv[1], 3, {})
    )


def _with_huge_count(request: bytes, position: int, count: bytes) -> bytes:
    """``request`` with bytes after its header overwritten by a huge array count (an int32
    or an unsigned varint as the flexible versions write them), size prefix kept."""
    data = bytearray(request)
    at = 4 + 8 + (position % max(1, len(data) - 12))
    data[at : at + len(count)] = count
    return bytes(data[: len(request)])


HUGE_COUNTS = [
    struct.pack(">i", 0x7FFFFFFF),
    struct.pack(">i", -2),
    b"\xff\xff\xff\xff\x0f",  # varint 2**32 - 1
    b"\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # a varint longer than any length
]


def _wrong_frames() -> st.SearchStrategy[bytes]:
    garbage_batch = st.one_of(
        st.binary(max_size=200),
        st.builds(  # a real batch with bytes flipped (CRC, lengths, attributes, counts)
            lambda values, flips: _flipped(records.encode_batch([(None, v) for v in values]),
                                           flips),
            st.lists(st.binary(max_size=20), min_size=1, max_size=3),
            st.lists(st.tuples(st.integers(0, 500), st.integers(0, 255)), min_size=1, max_size=4),
        ),
    )
    return st.one_of(
        # any bytes at all, size prefix included
        st.binary(max_size=64),
        # a size the broker must refuse: negative, below a header, above the maximum
        st.sampled_from([-(2**31), -1, 0, 3, 7, MAX_FRAME + 1, 2**31 - 1]).map(
            lambda size: struct.pack(">i", size) + b"\x00" * 16
        ),
        # an unknown API key or an unsupported version, with a random body
        st.builds(
            lambda key, version, body: frame(_header(key, version) + body),
            st.integers(-(2**15), 2**15 - 1),
            st.integers(-(2**15), 2**15 - 1),
            st.binary(max_size=40),
        ),
        # a real request cut short: the frame says more than is sent, or less than needed
        st.builds(lambda request, cut: request[: 4 + cut % (len(request) - 4)], _requests(),
                  st.integers(0, 10_000)),
        st.builds(lambda request, cut: frame(request[4 : 4 + 8 + cut % (len(request) - 11)]),
                  _requests(), st.integers(0, 10_000)),
        # a real request with garbage appended inside its frame
        st.builds(lambda request, extra: frame(request[4:] + extra), _requests(),
                  st.binary(min_size=1, max_size=32)),
        # a Produce carrying garbage or damaged record batches
        st.builds(_produce, garbage_batch, st.sampled_from([3, 7, 8, 9])),
        # an array count of billions where a short array is
        st.builds(_with_huge_count, _requests(), st.integers(0, 200), st.sampled_from(HUGE_COUNTS)),
    )  # fmt: skip


def _flipped(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    damaged = bytearray(data)
    for position, byte in flips:
        damaged[position % len(damaged)] = byte
    return bytes(damaged)


def _real_client_is_served(port: int) -> None:
    client = RawClient(port)
    try:
        assert client.request(codec.API_VERSIONS, 3, {})["error_code"] == ErrorCode.NONE
        metadata = client.request(codec.METADATA, 9, {"topics": [{"name": "fuzz-check"}]})
        assert metadata["topics"][0]["error_code"] == ErrorCode.NONE
    finally:
        client.close()


@settings(suppress_health_check=list(HealthCheck), deadline=None)
@given(st.lists(_wrong_frames(), min_size=1, max_size=3))
def test_wrong_frames_never_stop_the_broker_nor_log_a_traceback(
    fuzzed: Any, frames: list[bytes]
) -> None:
    logged_before = len(fuzzed.log_text())
    attacker = socket.create_connection(("127.0.0.1", fuzzed.port), timeout=5)
    attacker.settimeout(0.2)
    with contextlib.suppress(OSError):  # the broker may close it before everything is sent
        attacker.sendall(b"".join(frames))
        while attacker.recv(65536):  # answers, until the broker closes or goes quiet
            pass
    attacker.close()
    _real_client_is_served(fuzzed.port)
    log = fuzzed.log_text()[logged_before:]
    assert "Traceback" not in log and "request failed" not in log, log[-3000:]
