"""Requests decode for every advertised version, responses encode for the version asked, and any
other frame becomes an error reply or a closed connection, never a crash (fuzzed)."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.wire import codec

EVERY_VERSION = [
    (key, version)
    for key, (low, high) in sorted(codec.SUPPORTED_VERSIONS.items())
    for version in range(low, high + 1)
]


@pytest.mark.parametrize(("api_key", "version"), EVERY_VERSION)
def test_every_advertised_request_version_round_trips(api_key: int, version: int) -> None:
    data = codec.encode_request(api_key, version, 1234, {}, client_id="cli")
    request = codec.decode_request(data[4:])
    assert (request.api_key, request.api_version, request.correlation_id) == (
        api_key,
        version,
        1234,
    )
    assert request.client_id == "cli"


@pytest.mark.parametrize(("api_key", "version"), EVERY_VERSION)
def test_every_response_version_encodes_and_decodes(api_key: int, version: int) -> None:
    data = codec.encode_response(api_key, version, 99, {"error_code": ErrorCode.NOT_COORDINATOR})
    correlation_id, body = codec.decode_response(api_key, version, data[4:])
    assert correlation_id == 99
    if "error_code" in body:
        assert body["error_code"] == ErrorCode.NOT_COORDINATOR


def test_a_union_dict_keeps_only_the_fields_a_version_has() -> None:
    body = {
        "throttle_time": 5,
        "responses": [
            {
                "name": "t",
                "partitions": [
                    {
                        "partition_index": 0,
                        "error_code": 0,
                        "high_watermark": 7,
                        "last_stable_offset": 3,
                        "aborted_transactions": [{"producer_id": 9, "first_offset": 2}],
                        "records": b"",
                    }
                ],
            }
        ],
    }
    for version in (4, 11, 12):
        _, decoded = codec.decode_response(
            codec.FETCH, version, codec.encode_response(codec.FETCH, version, 1, body)[4:]
        )
        partition = decoded["responses"][0]["partitions"][0]
        assert partition["high_watermark"] == 7
        assert partition["last_stable_offset"] == 3
        assert partition["aborted_transactions"] == [{"producer_id": 9, "first_offset": 2}]


def test_unsupported_api_versions_version_is_answered_in_v0_with_our_ranges() -> None:
    request = bytearray(codec.encode_request(codec.API_VERSIONS, 3, 77, {})[4:])
    struct.pack_into(">h", request, 2, 42)
    with pytest.raises(codec.RequestError) as raised:
        codec.decode_request(bytes(request))
    assert raised.value.reply is not None
    correlation_id, body = codec.decode_response(codec.API_VERSIONS, 0, raised.value.reply[4:])
    assert correlation_id == 77
    assert body["error_code"] == ErrorCode.UNSUPPORTED_VERSION
    ranges = {k["api_key"]: (k["min_version"], k["max_version"]) for k in body["api_keys"]}
    assert ranges == codec.SUPPORTED_VERSIONS


@pytest.mark.parametrize(
    ("api_key", "version"), [(7777, 0), (codec.PRODUCE, 2), (codec.FETCH, 99), (-1, 0)]
)
def test_unknown_api_or_version_closes_the_connection(api_key: int, version: int) -> None:
    with pytest.raises(codec.RequestError) as raised:
        codec.decode_request(struct.pack(">hhi", api_key, version, 1) + b"\x00\x00")
    assert raised.value.reply is None


def test_trailing_bytes_after_the_body_are_ignored_as_kafka_does() -> None:
    # The all-topics Metadata v12 request librdkafka 2.16 sends, three bytes longer than
    # the schema (captured from the client).
    payload = bytes.fromhex("0003000c00000003000d63726173682d70726f647563650000000000010000")
    request = codec.decode_request(payload)
    assert (request.api_name, request.api_version, request.correlation_id) == ("Metadata", 12, 3)
    assert request.body["topics"] is None
    assert request.client_id == "crash-produce"


@pytest.mark.parametrize(("api_key", "version"), EVERY_VERSION[::3])
def test_every_truncation_of_a_request_is_refused(api_key: int, version: int) -> None:
    data = codec.encode_request(api_key, version, 5, {})[4:]
    for end in range(len(data)):
        with pytest.raises(codec.RequestError):
            codec.decode_request(data[:end])


valid_requests = st.sampled_from(EVERY_VERSION).map(
    lambda kv: codec.encode_request(kv[0], kv[1], 3, {})[4:]
)


@given(valid_requests, st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6))
def test_mutated_requests_decode_or_raise_request_error(
    data: bytes, edits: list[tuple[int, int]]
) -> None:
    mutated = bytearray(data)
    for position, byte in edits:
        mutated[position % len(mutated)] = byte
    with contextlib.suppress(codec.RequestError):
        codec.decode_request(bytes(mutated))


@given(st.binary(max_size=400))
def test_random_payloads_decode_or_raise_request_error(data: bytes) -> None:
    with contextlib.suppress(codec.RequestError):
        codec.decode_request(data)
