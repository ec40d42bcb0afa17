"""Requests in, responses out: Kafka request headers, version negotiation and kio (de)serialization.

A request frame is ``api_key:int16 api_version:int16 correlation_id:int32 client_id:string``
(request header v1) followed, for flexible versions, by tagged fields (header v2), then the
body of that API at that version. Responses carry header v0 (correlation id) or, for flexible
versions, v1 (plus tagged fields) -- except ApiVersions, whose response header is always v0 so
that a client can read it before it knows which versions the broker speaks.

Decoding fails in two ways the server treats differently (:class:`RequestError`):
- ``reply`` is set: the client gets that error response and the connection stays open
  (ApiVersions asked in a version we do not speak: answered in v0 with UNSUPPORTED_VERSION and
  our ranges, as Kafka does, so the client can retry with a version we do);
- ``reply`` is None: the request cannot be answered meaningfully (unknown API key, a version
  the client was never offered, a body that does not parse): the connection is closed, as
  Kafka closes it on an InvalidRequestException.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import struct
import types
import typing
from dataclasses import dataclass
from typing import Any

from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.wire.entities import build, to_plain
from kafka_eos.reference.wire.framing import frame

# Kafka API keys (org.apache.kafka.common.protocol.ApiKeys) of the APIs this broker serves.
PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2
METADATA = 3
OFFSET_COMMIT = 8
OFFSET_FETCH = 9
FIND_COORDINATOR = 10
JOIN_GROUP = 11
HEARTBEAT = 12
LEAVE_GROUP = 13
SYNC_GROUP = 14
API_VERSIONS = 18
CREATE_TOPICS = 19
INIT_PRODUCER_ID = 22
ADD_PARTITIONS_TO_TXN = 24
ADD_OFFSETS_TO_TXN = 25
END_TXN = 26
TXN_OFFSET_COMMIT = 28

#: api key -> (min version, max version) this broker advertises and decodes.
#: The minimums are the oldest versions kio generates; the maximums stop before versions that
#: change semantics this broker does not implement: topic IDs instead of names (Produce 13,
#: Fetch 13, Metadata 13, OffsetCommit/OffsetFetch 10 use them or batch groups), batched
#: coordinator keys past FindCoordinator 4, broker-to-broker AddPartitionsToTxn 4+, and
#: transaction version 2 (InitProducerId 5+, AddOffsetsToTxn 4+, EndTxn 4+, TxnOffsetCommit 4+),
#: which a client may only use once the broker finalizes the transaction.version feature.
SUPPORTED_VERSIONS: dict[int, tuple[int, int]] = {
    PRODUCE: (3, 12),
    FETCH: (4, 12),
    LIST_OFFSETS: (1, 7),
    METADATA: (0, 12),
    OFFSET_COMMIT: (2, 9),
    OFFSET_FETCH: (1, 7),
    FIND_COORDINATOR: (0, 4),
    JOIN_GROUP: (0, 9),
    HEARTBEAT: (0, 4),
    LEAVE_GROUP: (0, 5),
    SYNC_GROUP: (0, 5),
    API_VERSIONS: (0, 3),
    CREATE_TOPICS: (2, 7),
    INIT_PRODUCER_ID: (0, 4),
    ADD_PARTITIONS_TO_TXN: (0, 3),
    ADD_OFFSETS_TO_TXN: (0, 3),
    END_TXN: (0, 3),
    TXN_OFFSET_COMMIT: (0, 3),
}

API_NAMES: dict[int, str] = {
    PRODUCE: "Produce",
    FETCH: "Fetch",
    LIST_OFFSETS: "ListOffsets",
    METADATA: "Metadata",
    OFFSET_COMMIT: "OffsetCommit",
    OFFSET_FETCH: "OffsetFetch",
    FIND_COORDINATOR: "FindCoordinator",
    JOIN_GROUP: "JoinGroup",
    HEARTBEAT: "Heartbeat",
    LEAVE_GROUP: "LeaveGroup",
    SYNC_GROUP: "SyncGroup",
    API_VERSIONS: "ApiVersions",
    CREATE_TOPICS: "CreateTopics",
    INIT_PRODUCER_ID: "InitProducerId",
    ADD_PARTITIONS_TO_TXN: "AddPartitionsToTxn",
    ADD_OFFSETS_TO_TXN: "AddOffsetsToTxn",
    END_TXN: "EndTxn",
    TXN_OFFSET_COMMIT: "TxnOffsetCommit",
}
API_KEYS_BY_NAME = {name: key for key, name in API_NAMES.items()}

#: the first version of each API whose response may carry PRODUCER_FENCED (KIP-588)
_PRODUCER_FENCED_SINCE = {
    INIT_PRODUCER_ID: 4,
    ADD_PARTITIONS_TO_TXN: 2,
    ADD_OFFSETS_TO_TXN: 2,
    END_TXN: 2,
}

_HEADER_PREFIX = struct.Struct(">hhi")


@dataclass(frozen=True, slots=True)
class Request:
    """One decoded request: its header and its body as a version-independent dict."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: dict[str, Any]

    @property
    def api_name(self) -> str:
        return API_NAMES[self.api_key]

    def error_it_knows(self, error: int) -> int:
        """``error`` as this request's version can be told it: PRODUCER_FENCED (KIP-588) is
        INVALID_PRODUCER_EPOCH to the versions before it, as Kafka's KafkaApis handlers
        (handleInitProducerIdRequest, handleAddPartitionsToTxnRequest,
        handleAddOffsetsToTxnRequest, handleEndTxnRequest) answer an older client."""
        since = _PRODUCER_FENCED_SINCE.get(self.api_key)
        if error == ErrorCode.PRODUCER_FENCED and since is not None and self.api_version < since:
            return ErrorCode.INVALID_PRODUCER_EPOCH
        return error


class RequestError(Exception):
    """A frame that is not a request we can serve; ``reply`` (framed bytes) or None to close."""

    def __init__(self, message: str, *, reply: bytes | None = None) -> None:
        super().__init__(message)
        self.reply = reply


def decode_request(payload: bytes) -> Request:
    """Decode one frame's payload (without its size prefix). Raises RequestError."""
    if len(payload) < _HEADER_PREFIX.size:
        raise RequestError(f"request of {len(payload)} bytes is shorter than a header")
    api_key, api_version, correlation_id = _HEADER_PREFIX.unpack_from(payload, 0)
    if api_key not in SUPPORTED_VERSIONS:
        raise RequestError(f"unknown or unsupported API key {api_key}")
    low, high = SUPPORTED_VERSIONS[api_key]
    if not low <= api_version <= high:
        name = API_NAMES[api_key]
        if api_key == API_VERSIONS:
            raise RequestError(
                f"ApiVersions v{api_version} is not supported; answered in v0",
                reply=unsupported_api_versions_reply(correlation_id),
            )
        raise RequestError(f"{name} v{api_version} is not supported (we speak v{low}-v{high})")
    request_class = load_request_schema(api_key, api_version)
    try:
        header, offset = entity_reader(request_class.__header_schema__)(payload, 0)
        body, _ = entity_reader(request_class)(payload, offset)
    except Exception as exc:  # kio raises several types (native decode errors, ValueError, ...)
        raise RequestError(
            f"malformed {API_NAMES[api_key]} v{api_version} request: {exc}"
        ) from None
    null = _null_field(body)
    if null is not None:
        raise RequestError(
            f"malformed {API_NAMES[api_key]} v{api_version} request: non-nullable field "
            f"{null} was serialized as null"
        )
    # Bytes after the body are ignored, as Kafka's request parser ignores them: librdkafka
    # 2.16 sends three such bytes after an all-topics Metadata v12 request.
    return Request(
        api_key=api_key,
        api_version=api_version,
        correlation_id=correlation_id,
        client_id=header.client_id,
        body=to_plain(body),
    )


def _null_field(entity: Any, path: str = "") -> str | None:
    """The first field of ``entity`` (recursively) that its schema says cannot be null but
    holds null, or None. kio reads a -1 array length as null whatever the field; Kafka's
    generated readers refuse it ("non-nullable field ... was serialized as null"), and so do
    we: the handlers rely on the schema."""
    for name, nullable in _field_nullability(entity.__class__):
        value = getattr(entity, name)
        if value is None:
            if not nullable:
                return f"{path}{name}"
            continue
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if dataclasses.is_dataclass(item):
                inner = _null_field(item, f"{path}{name}.")
                if inner is not None:
                    return inner
    return None


@functools.cache
def _field_nullability(entity_class: type) -> tuple[tuple[str, bool], ...]:
    return tuple(
        (field.name, _allows_none(field.type)) for field in dataclasses.fields(entity_class)
    )


def _allows_none(declared: Any) -> bool:
    if isinstance(declared, types.UnionType) or typing.get_origin(declared) is typing.Union:
        return type(None) in typing.get_args(declared)
    return declared is None or declared is type(None) or declared is Any


def encode_response(api_key: int, api_version: int, correlation_id: int, body: Any) -> bytes:
    """The framed response to a request: ``body`` is a union-of-versions dict or a kio entity."""
    response_class = load_response_schema(api_key, api_version)
    if not isinstance(body, response_class):
        body = build(response_class, body)
    header_class = response_class.__header_schema__
    buffer = io.BytesIO()
    entity_writer(header_class)(buffer, build(header_class, {"correlation_id": correlation_id}))
    entity_writer(response_class)(buffer, body)
    return frame(buffer.getvalue())


def encode_request(
    api_key: int, api_version: int, correlation_id: int, body: Any, *, client_id: str = "test"
) -> bytes:
    """A framed request (the client side of the codec: the tests and the fuzzers use it)."""
    request_class = load_request_schema(api_key, api_version)
    if not isinstance(body, request_class):
        body = build(request_class, body)
    header_class = request_class.__header_schema__
    header = build(
        header_class,
        {
            "request_api_key": api_key,
            "request_api_version": api_version,
            "correlation_id": correlation_id,
            "client_id": client_id,
        },
    )
    buffer = io.BytesIO()
    entity_writer(header_class)(buffer, header)
    entity_writer(request_class)(buffer, body)
    return frame(buffer.getvalue())


def decode_response(api_key: int, api_version: int, payload: bytes) -> tuple[int, dict[str, Any]]:
    """(correlation id, body as a dict) of a response frame's payload (client side, for tests)."""
    response_class = load_response_schema(api_key, api_version)
    header, offset = entity_reader(response_class.__header_schema__)(payload, 0)
    body, _ = entity_reader(response_class)(payload, offset)
    return int(header.correlation_id), to_plain(body)


def api_versions_body(error: ErrorCode = ErrorCode.NONE) -> dict[str, Any]:
    """The ApiVersions response: every API this broker serves with its version range."""
    return {
        "error_code": error,
        "api_keys": [
            {"api_key": key, "min_version": low, "max_version": high}
            for key, (low, high) in sorted(SUPPORTED_VERSIONS.items())
        ],
        "throttle_time": 0,
    }


def unsupported_api_versions_reply(correlation_id: int) -> bytes:
    """ApiVersions v0 with UNSUPPORTED_VERSION: what Kafka answers to a version it lacks."""
    return encode_response(
        API_VERSIONS, 0, correlation_id, api_versions_body(ErrorCode.UNSUPPORTED_VERSION)
    )
