"""Bad input over a real socket: malformed, truncated and oversized frames, unknown APIs and
versions, bad CRCs and compressed batches get an error response or a closed connection; the
broker keeps serving other clients and loses nothing already stored."""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.index import load_request_schema
from kio.static.primitive import Records
from wire_raw import RawClient

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.wire import codec, records

pytestmark = [pytest.mark.clients, pytest.mark.timeout(60)]


@pytest.fixture
def serve(shared_serve: Any) -> Any:
    """This module's tests share one broker (each uses its own topics and ids)."""
    return shared_serve


def _alive(port: int) -> None:
    """Another connection is still served."""
    client = RawClient(port)
    response = client.request(codec.API_VERSIONS, 3, {})
    assert response["error_code"] == ErrorCode.NONE
    client.close()


def _good_batch(values: list[bytes]) -> bytes:
    return records.encode_batch([(None, v) for v in values])


def test_api_versions_lists_every_api_and_unknown_versions_get_v0_error(serve: Any) -> None:
    client = RawClient(serve.port)
    response = client.request(codec.API_VERSIONS, 3, {})
    ranges = {k["api_key"]: (k["min_version"], k["max_version"]) for k in response["api_keys"]}
    assert ranges == codec.SUPPORTED_VERSIONS
    request = bytearray(codec.encode_request(codec.API_VERSIONS, 3, 41, {}))
    struct.pack_into(">h", request, 6, 99)  # after the size prefix and api key
    client.send_raw(bytes(request))
    correlation_id, body = codec.decode_response(codec.API_VERSIONS, 0, client.read_frame() or b"")
    assert correlation_id == 41 and body["error_code"] == ErrorCode.UNSUPPORTED_VERSION
    assert client.request(codec.API_VERSIONS, 0, {})["error_code"] == ErrorCode.NONE


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack(">i", 200 * 1024 * 1024) + b"x" * 64,  # oversized
        struct.pack(">i", -5),  # negative size
        struct.pack(">i", 10) + struct.pack(">hhi", 9999, 0, 1) + b"\x00\x00",  # unknown API
        struct.pack(">i", 10) + struct.pack(">hhi", codec.PRODUCE, 1, 1) + b"\x00\x00",  # old v
        struct.pack(">i", 12) + struct.pack(">hhi", codec.METADATA, 9, 1) + b"\xff\xff\x7f\x7f",
    ],
    ids=["oversized", "negative-size", "unknown-api", "unsupported-version", "malformed-body"],
)
def test_bad_frames_close_only_their_connection(serve: Any, frame: bytes) -> None:
    bystander = RawClient(serve.port)
    assert bystander.request(codec.API_VERSIONS, 3, {})["error_code"] == ErrorCode.NONE
    bad = RawClient(serve.port)
    bad.send_raw(frame)
    bad.assert_closed()
    assert bystander.request(codec.API_VERSIONS, 3, {})["error_code"] == ErrorCode.NONE
    _alive(serve.port)


def test_a_truncated_frame_then_disconnect_leaves_the_broker_serving(serve: Any) -> None:
    bad = RawClient(serve.port)
    bad.send_raw(codec.encode_request(codec.METADATA, 9, 1, {"topics": None})[:9])
    bad.close()
    _alive(serve.port)


def test_bad_crc_and_compression_are_refused_and_stored_data_survives(serve: Any) -> None:
    client = RawClient(serve.port)
    stored = client.produce("bad-input", _good_batch([b"kept-1", b"kept-2"]))
    assert stored["error_code"] == ErrorCode.NONE and stored["base_offset"] == 0

    corrupt = bytearray(_good_batch([b"lost"]))
    corrupt[-1] ^= 0xFF
    refused = client.produce("bad-input", bytes(corrupt))
    assert refused["error_code"] == ErrorCode.CORRUPT_MESSAGE

    compressed = bytearray(_good_batch([b"zipped"]))
    compressed[22] |= 0x01  # gzip bit; the CRC is recomputed so only the codec is wrong
    from crc32c import crc32c

    struct.pack_into(">I", compressed, 17, crc32c(bytes(compressed[21:])))
    refused = client.produce("bad-input", bytes(compressed))
    assert refused["error_code"] == ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
    assert "compression.type" in (refused["error_message"] or "")

    two_batches = _good_batch([b"a"]) + _good_batch([b"b"])
    assert client.produce("bad-input", two_batches)["error_code"] == ErrorCode.INVALID_RECORD

    fetched = client.fetch("bad-input")
    assert fetched["high_watermark"] == 2
    served = records.read_batches(fetched["records"])
    assert [records.history_values(b) for b in served] == [("kept-1", "kept-2")]
    _alive(serve.port)


def test_records_for_unknown_topics_or_partitions_are_refused(serve_factory: Any) -> None:
    broker = serve_factory(args=("--set", "auto_create_topics=false"))
    client = RawClient(broker.port)
    refused = client.produce("never-created", _good_batch([b"x"]))
    assert refused["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    created = client.request(
        codec.CREATE_TOPICS,
        5,
        {"topics": [{"name": "made", "num_partitions": 1, "replication_factor": 1}]},
    )
    assert created["topics"][0]["error_code"] == ErrorCode.NONE
    assert client.produce("made", _good_batch([b"ok"]))["error_code"] == ErrorCode.NONE
    response = client.request(
        codec.PRODUCE,
        8,
        {
            "acks": -1,
            "timeout": 5000,
            "topic_data": [
                {"name": "made", "partition_data": [{"index": 9, "records": _good_batch([b"y"])}]}
            ],
        },
    )
    assert response["responses"][0]["partition_responses"][0]["error_code"] == (
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    )
    metadata = client.request(codec.METADATA, 9, {"topics": [{"name": "never-created"}]})
    assert metadata["topics"][0]["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert client.fetch("made")["high_watermark"] == 1


def test_too_many_partitions_is_refused_not_allocated(serve: Any) -> None:
    client = RawClient(serve.port)
    body = client.request(
        codec.CREATE_TOPICS,
        5,
        {"topics": [{"name": "huge", "num_partitions": 2_000_000_000, "replication_factor": 1}]},
    )
    assert body["topics"][0]["error_code"] == 37  # INVALID_PARTITIONS
    assert "at most" in body["topics"][0]["error_message"]
    _alive(serve.port)


_EVERY_VERSION = [
    (key, version)
    for key, (low, high) in sorted(codec.SUPPORTED_VERSIONS.items())
    for version in range(low, high + 1)
]


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_EVERY_VERSION),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_requests_over_a_socket_never_stop_the_broker(
    shared_serve: Any, api: tuple[int, int], edits: list[tuple[int, int]]
) -> None:
    data = bytearray(codec.encode_request(api[0], api[1], 7, {}))
    for position, byte in edits:
        data[4 + position % (len(data) - 4)] = byte  # keep the size prefix: fuzz the content
    attacker = RawClient(shared_serve.port)
    attacker.send_raw(bytes(data))
    attacker.close()  # whatever it triggered (an answer, a close, a pending join), go away
    _alive(shared_serve.port)


ILLEGAL_TOPIC_NAMES = ["../escape", "a/b", "sp ace", "x" * 250, "..", "\u00e9t\u00e9", ""]


def test_illegal_topic_names_are_refused_and_never_touch_the_data_dir(serve_factory: Any) -> None:
    broker = serve_factory(data_dir=True)
    client = RawClient(broker.port)
    for name in ILLEGAL_TOPIC_NAMES:
        if name:  # Metadata skips an empty name; the other APIs must refuse it
            metadata = client.request(codec.METADATA, 9, {"topics": [{"name": name}]})
            assert metadata["topics"][0]["error_code"] == ErrorCode.INVALID_TOPIC_EXCEPTION
        produced = client.produce(name, _good_batch([b"x"]))
        assert produced["error_code"] == ErrorCode.INVALID_TOPIC_EXCEPTION, name
        created = client.request(
            codec.CREATE_TOPICS,
            5,
            {"topics": [{"name": name, "num_partitions": 1, "replication_factor": 1}]},
        )
        assert created["topics"][0]["error_code"] == ErrorCode.INVALID_TOPIC_EXCEPTION, name
    assert client.produce("legal.name_1-ok", _good_batch([b"x"]))["error_code"] == ErrorCode.NONE
    topic_files = sorted(p.name for p in broker.data_dir.glob("*.log") if p.name[:2] != "__")
    assert topic_files == ["legal.name_1-ok-0.log"]
    assert not (broker.workdir / "escape-0.log").exists()


def _random_records() -> st.SearchStrategy[bytes]:
    """A Produce ``records`` field: garbage, or well-formed batches from random producers."""
    values = st.lists(st.binary(max_size=20), min_size=1, max_size=3)
    return st.one_of(
        st.binary(max_size=80),
        st.builds(
            lambda vals, pid, epoch, seq, txn: records.encode_batch(
                [(None, v) for v in vals], producer_id=pid, producer_epoch=epoch,
                base_sequence=seq, attributes=records.TRANSACTIONAL_FLAG if txn else 0,
            ),
            values, st.integers(-1, 3), st.integers(-1, 2), st.integers(-1, 4), st.booleans(),
        ),
    )  # fmt: skip


def _request_bodies() -> st.SearchStrategy[tuple[tuple[int, int], Any]]:
    """Well-encoded requests of every API and version with random field values (kio's
    entity classes drive Hypothesis), so they reach the handlers and the core."""
    st.register_type_strategy(Records, _random_records())
    return st.sampled_from(_EVERY_VERSION).flatmap(
        lambda kv: st.tuples(st.just(kv), st.from_type(load_request_schema(*kv)))
    )


@settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)
@given(_request_bodies())
def test_random_well_formed_requests_never_break_the_broker(
    shared_serve: Any, request: tuple[tuple[int, int], Any]
) -> None:
    (api_key, version), body = request
    try:
        data = codec.encode_request(api_key, version, 11, body)
    except Exception:  # kio's strategies can produce values its writers refuse
        return
    client = RawClient(shared_serve.port)
    client.sock.settimeout(0.5)
    client.send_raw(data)
    with contextlib.suppress(OSError):
        client.read_frame()  # an answer, a close, or (a pending join) nothing yet
    client.close()
    _alive(shared_serve.port)
    assert "request failed" not in shared_serve.log_text()
