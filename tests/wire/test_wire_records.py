"""RecordBatch v2 as real clients write it: headers read, CRC32C checked, only the base offset
rewritten when served, markers readable by clients, compression refused clearly."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kio.records.readers import read_batch as kio_read_batch

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.wire import records


def _client_batch(
    values: list[bytes], *, compression: int = 0, transactional: bool = True
) -> bytes:
    """A batch built by kafka-python's producer code: an independent writer of the format."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=transactional,
        producer_id=4242,
        producer_epoch=3,
        base_sequence=17,
        batch_size=1 << 20,
    )
    for offset, value in enumerate(values):
        builder.append(
            offset,
            timestamp=1_700_000_000_000 + offset,
            key=b"k",
            value=value,
            headers=[("h", b"v")],
        )
    return bytes(builder.build())


def test_a_client_batch_is_read_with_its_producer_identity_and_values() -> None:
    batch = records.read_batch(_client_batch([b"a", b"bb", "\u00e9".encode()]))
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (4242, 3, 17)
    assert batch.record_count == 3
    assert batch.is_transactional and not batch.is_control
    assert records.history_values(batch) == ("a", "bb", "\u00e9")


def test_rewriting_the_base_offset_keeps_the_crc_valid() -> None:
    raw = _client_batch([b"x", b"y"])
    served = records.read_batch(raw).with_base_offset(1000)
    assert served[8:] == raw[8:]
    decoded, _ = kio_read_batch(served, 0)  # kio verifies the CRC32C
    assert decoded.base_offset == 1000
    assert [r.offset for r in decoded.records] == [1000, 1001]


@pytest.mark.parametrize("position", [21, 30, 60, -1])
def test_a_flipped_byte_under_the_crc_is_corrupt(position: int) -> None:
    raw = bytearray(_client_batch([b"payload"]))
    raw[position] ^= 0x01
    with pytest.raises(records.BatchError) as raised:
        records.read_batch(bytes(raw))
    assert raised.value.error == ErrorCode.CORRUPT_MESSAGE


def test_compressed_batches_are_refused_with_a_clear_error() -> None:
    with pytest.raises(records.BatchError, match=r"compression\.type") as raised:
        records.read_batch(_client_batch([b"a" * 100], compression=1))
    assert raised.value.error == ErrorCode.UNSUPPORTED_COMPRESSION_TYPE


def test_old_magic_is_refused() -> None:
    raw = bytearray(_client_batch([b"a"]))
    raw[16] = 1
    with pytest.raises(records.BatchError) as raised:
        records.read_batch(bytes(raw))
    assert raised.value.error == ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT


@pytest.mark.parametrize("commit", [True, False])
def test_markers_are_control_batches_clients_understand(commit: bool) -> None:
    raw = records.encode_control_batch(
        producer_id=7, producer_epoch=2, commit=commit, coordinator_epoch=5, base_offset=40
    )
    batch = records.read_batch(raw)
    assert batch.is_control and batch.is_transactional
    assert records.control_type(batch) == (
        records.COMMIT_MARKER if commit else records.ABORT_MARKER
    )
    client_view = DefaultRecordBatch(raw)
    assert client_view.is_control_batch and client_view.is_transactional
    assert client_view.producer_id == 7 and client_view.base_offset == 40
    assert client_view.validate_crc()


def test_several_batches_in_one_records_field() -> None:
    first, second = _client_batch([b"1"]), _client_batch([b"2", b"3"])
    batches = records.read_batches(first + second)
    assert [records.history_values(b) for b in batches] == [("1",), ("2", "3")]


def test_non_text_values_are_written_as_hex() -> None:
    batch = records.read_batch(records.encode_batch([(None, b"\xff\x00"), (None, None)]))
    assert records.history_values(batch) == ("hex:ff00", "null:")


@given(
    st.lists(
        st.tuples(st.none() | st.binary(max_size=20), st.none() | st.binary(max_size=50)),
        min_size=1,
        max_size=10,
    ),
    st.integers(0, 2**40),
)
def test_encoded_batches_read_back(
    pairs: list[tuple[bytes | None, bytes | None]], base_offset: int
) -> None:
    raw = records.encode_batch(
        pairs, base_offset=base_offset, producer_id=1, producer_epoch=0, base_sequence=0
    )
    batch = records.read_batch(raw)
    assert records.record_keys_and_values(batch) == pairs
    assert kio_read_batch(raw, 0)[0].base_offset == base_offset


@given(st.binary(max_size=200), st.integers(0, 199), st.integers(0, 255))
def test_damaged_batches_raise_batch_error_only(tail: bytes, position: int, byte: int) -> None:
    raw = bytearray(_client_batch([b"abc", b"def"]) + tail)
    raw[position % len(raw)] = byte
    with contextlib.suppress(records.BatchError):
        records.read_batches(bytes(raw))
