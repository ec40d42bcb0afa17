"""RecordBatch v2 (magic 2): what a produced batch says, and the batches this broker writes.

Layout (DefaultRecordBatch), big-endian::

    0  baseOffset int64        | outside the CRC: the leader rewrites it when it assigns offsets
    8  batchLength int32       | bytes after this field
    12 partitionLeaderEpoch int32
    16 magic int8 (2)
    17 crc uint32 (CRC32C of everything from attributes to the end)
    21 attributes int16        | bits 0-2 compression, 4 transactional, 5 control
    23 lastOffsetDelta int32
    27 baseTimestamp int64
    35 maxTimestamp int64
    43 producerId int64
    51 producerEpoch int16
    53 baseSequence int32
    57 records count int32, then the records (varint-framed)

The broker stores a produced batch's bytes exactly as received and serves them with only the
base offset rewritten, so the client's CRC stays valid. Compression is not supported: a
compressed batch is refused with UNSUPPORTED_COMPRESSION_TYPE and a message saying so.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

from crc32c import crc32c

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.sequence import NO_SEQUENCE

MAGIC = 2
#: Bytes before the records: the fixed batch header above.
BATCH_HEADER_SIZE = 61
#: baseOffset + batchLength: the part of the header that batchLength does not count.
LOG_OVERHEAD = 12
_CRC_START = 21

COMPRESSION_MASK = 0x07
TRANSACTIONAL_FLAG = 0x10
CONTROL_FLAG = 0x20
COMPRESSION_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

#: Control record types (ControlRecordType): the key of a marker's single record.
ABORT_MARKER = 0
COMMIT_MARKER = 1

_HEADER = struct.Struct(">qiibIhiqqqhii")
_BASE_OFFSET = struct.Struct(">q")
_CONTROL_KEY = struct.Struct(">hh")
_CONTROL_VALUE = struct.Struct(">hi")


class BatchError(Exception):
    """A produced batch the broker refuses; ``error`` is the partition's error code."""

    def __init__(self, message: str, *, error: ErrorCode) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """One v2 batch: its header fields and its bytes exactly as received."""

    raw: bytes
    base_offset: int
    partition_leader_epoch: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int
    #: the records' values, parsed once when the batch was read (None: not parsed)
    values: tuple[bytes | None, ...] | None = None

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_FLAG)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_FLAG)

    def with_base_offset(self, base_offset: int) -> bytes:
        """The stored bytes with the leader-assigned base offset (outside the CRC)."""
        return rewrite_base_offset(self.raw, base_offset)


def rewrite_base_offset(raw: bytes, base_offset: int) -> bytes:
    return _BASE_OFFSET.pack(base_offset) + raw[8:]


def read_batches(records: bytes) -> list[RecordBatch]:
    """Every batch in a Produce request's ``records`` field, each checked (BatchError if not)."""
    batches = []
    position = 0
    view = memoryview(records)
    while position < len(records):
        batch = read_batch(view[position:])
        batches.append(batch)
        position += len(batch.raw)
    return batches


def read_batch(data: bytes | memoryview) -> RecordBatch:
    """The batch at the start of ``data``: header parsed, CRC32C verified, records framed."""
    if len(data) < BATCH_HEADER_SIZE:
        raise BatchError(
            f"record batch of {len(data)} bytes is shorter than its {BATCH_HEADER_SIZE}-byte "
            "header",
            error=ErrorCode.CORRUPT_MESSAGE,
        )
    (
        base_offset,
        batch_length,
        leader_epoch,
        magic,
        crc,
        attributes,
        last_offset_delta,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count,
    ) = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise BatchError(
            f"record batch magic {magic} is not supported (only v2 batches)",
            error=ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
        )
    size = LOG_OVERHEAD + batch_length
    if batch_length < BATCH_HEADER_SIZE - LOG_OVERHEAD or size > len(data):
        raise BatchError(
            f"record batch length {batch_length} does not match the {len(data)} bytes sent",
            error=ErrorCode.CORRUPT_MESSAGE,
        )
    raw = bytes(data[:size])
    if crc32c(raw[_CRC_START:]) != crc:
        raise BatchError(
            "record batch CRC32C does not match its contents", error=ErrorCode.CORRUPT_MESSAGE
        )
    if attributes & COMPRESSION_MASK:
        codec = COMPRESSION_NAMES.get(attributes & COMPRESSION_MASK, "unknown")
        raise BatchError(
            f"compressed record batches ({codec}) are not supported by kafka-eos serve; "
            "set the producer's compression.type to none",
            error=ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
        )
    if record_count <= 0 or record_count != last_offset_delta + 1:
        raise BatchError(
            f"record batch holds {record_count} records but its last offset delta is "
            f"{last_offset_delta}",
            error=ErrorCode.INVALID_RECORD,
        )
    header = RecordBatch(
        raw=raw,
        base_offset=base_offset,
        partition_leader_epoch=leader_epoch,
        attributes=attributes,
        last_offset_delta=last_offset_delta,
        base_timestamp=base_timestamp,
        max_timestamp=max_timestamp,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        record_count=record_count,
    )
    # Every record must be well framed before the batch is stored; keep the values.
    values = tuple(value for _, value in record_keys_and_values(header))
    return dataclasses.replace(header, values=values)


# --- records inside a batch ---------------------------------------------------------------


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    """A zigzag varint at ``position``: (value, next position). IndexError when truncated."""
    byte = data[position]
    if byte < 0x80:  # the common case: one byte
        return (byte >> 1) ^ -(byte & 1), position + 1
    raw = byte & 0x7F
    shift = 7
    position += 1
    while True:
        byte = data[position]
        position += 1
        raw |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (raw >> 1) ^ -(raw & 1), position
        shift += 7
        if shift > 63:
            raise BatchError("varint longer than 10 bytes", error=ErrorCode.CORRUPT_MESSAGE)


def _read_bytes(data: bytes, position: int) -> tuple[bytes | None, int]:
    length, position = _read_varint(data, position)
    if length < 0:
        return None, position
    end = position + length
    if end > len(data):
        raise BatchError("record field runs past its batch", error=ErrorCode.CORRUPT_MESSAGE)
    return data[position:end], end


def record_keys_and_values(batch: RecordBatch) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record of an uncompressed batch, in offset order."""
    try:
        return _parse_records(batch.raw, batch.record_count)
    except IndexError:
        raise BatchError(
            "record truncated inside a varint", error=ErrorCode.CORRUPT_MESSAGE
        ) from None


def _parse_records(data: bytes, count: int) -> list[tuple[bytes | None, bytes | None]]:
    position = BATCH_HEADER_SIZE
    pairs = []
    for expected_delta in range(count):
        length, position = _read_varint(data, position)
        end = position + length
        if length < 0 or end > len(data):
            raise BatchError("record length runs past its batch", error=ErrorCode.CORRUPT_MESSAGE)
        cursor = position + 1  # attributes (unused in v2)
        _timestamp_delta, cursor = _read_varint(data, cursor)
        offset_delta, cursor = _read_varint(data, cursor)
        if offset_delta != expected_delta:
            raise BatchError(
                f"record offset delta {offset_delta} where {expected_delta} was expected",
                error=ErrorCode.INVALID_RECORD,
            )
        key, cursor = _read_bytes(data, cursor)
        value, cursor = _read_bytes(data, cursor)
        header_count, cursor = _read_varint(data, cursor)
        for _ in range(max(header_count, 0)):
            _, cursor = _read_bytes(data, cursor)
            _, cursor = _read_bytes(data, cursor)
        if cursor != end:
            raise BatchError(
                "record length does not match its fields", error=ErrorCode.CORRUPT_MESSAGE
            )
        pairs.append((key, value))
        position = end
    if position != len(data):
        raise BatchError(
            f"{len(data) - position} bytes after the last record of the batch",
            error=ErrorCode.CORRUPT_MESSAGE,
        )
    return pairs


def record_values(batch: RecordBatch) -> tuple[bytes | None, ...]:
    if batch.values is not None:
        return batch.values
    return tuple(value for _, value in record_keys_and_values(batch))


def history_value(value: bytes | None) -> str:
    """A record value as the history writes it: UTF-8 text, else ``hex:``; null as ``null:``."""
    if value is None:
        return "null:"
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + value.hex()


def history_values(batch: RecordBatch) -> tuple[str, ...]:
    return tuple(history_value(value) for value in record_values(batch))


# --- batches this broker writes ----------------------------------------------------------


def _varint(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte = raw & 0x7F
        raw >>= 7
        if raw:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _sized(value: bytes | None) -> bytes:
    return _varint(-1) if value is None else _varint(len(value)) + value


def encode_batch(
    records: list[tuple[bytes | None, bytes | None]],
    *,
    base_offset: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = NO_SEQUENCE,
    attributes: int = 0,
    timestamp_ms: int = 0,
    partition_leader_epoch: int = -1,
) -> bytes:
    """A v2 batch of (key, value) records with a valid CRC32C (markers; clients in tests)."""
    body = bytearray()
    for delta, (key, value) in enumerate(records):
        record = b"\x00" + _varint(0) + _varint(delta) + _sized(key) + _sized(value) + _varint(0)
        body += _varint(len(record)) + record
    after_crc = struct.pack(
        ">hiqqqhii",
        attributes,
        len(records) - 1,
        timestamp_ms,
        timestamp_ms,
        producer_id,
        producer_epoch,
        base_sequence,
        len(records),
    ) + bytes(body)
    batch_length = 4 + 1 + 4 + len(after_crc)
    return (
        struct.pack(
            ">qiibI", base_offset, batch_length, partition_leader_epoch, MAGIC, crc32c(after_crc)
        )
        + after_crc
    )


def encode_control_batch(
    *,
    producer_id: int,
    producer_epoch: int,
    commit: bool,
    coordinator_epoch: int,
    base_offset: int = 0,
    timestamp_ms: int = 0,
) -> bytes:
    """A transaction marker: a transactional control batch holding one COMMIT/ABORT record."""
    key = _CONTROL_KEY.pack(0, COMMIT_MARKER if commit else ABORT_MARKER)
    value = _CONTROL_VALUE.pack(0, coordinator_epoch)
    return encode_batch(
        [(key, value)],
        base_offset=base_offset,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        attributes=TRANSACTIONAL_FLAG | CONTROL_FLAG,
        timestamp_ms=timestamp_ms,
    )


def control_type(batch: RecordBatch) -> int:
    """COMMIT_MARKER or ABORT_MARKER of a control batch."""
    key, _ = record_keys_and_values(batch)[0]
    if key is None or len(key) < _CONTROL_KEY.size:
        raise BatchError("control record without a valid key", error=ErrorCode.CORRUPT_MESSAGE)
    _version, kind = _CONTROL_KEY.unpack_from(key, 0)
    return int(kind)
