"""The frame decoder splits any byte stream into the frames that were sent, whatever the chunking,
and refuses sizes no client can mean (fuzzed with Hypothesis)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafka_eos.reference.wire.framing import FrameDecoder, FrameError, frame

MAX = 4096
payloads = st.lists(st.binary(min_size=8, max_size=300), max_size=8)


def _chunk(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


@given(payloads, st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_any_chunking_yields_exactly_the_frames_sent(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p) for p in frames)
    decoder = FrameDecoder(max_frame_size=MAX)
    received = []
    for piece in _chunk(stream, cuts):
        received.extend(decoder.feed(piece))
    assert received == frames
    assert decoder.pending == 0


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=3000), max_size=5))
def test_arbitrary_bytes_give_frames_or_a_frame_error_never_a_crash(
    data: bytes, cuts: list[int]
) -> None:
    decoder = FrameDecoder(max_frame_size=MAX)
    total = 0
    try:
        for piece in _chunk(data, cuts):
            for payload in decoder.feed(piece):
                assert 8 <= len(payload) <= MAX
                total += 4 + len(payload)
    except FrameError:
        return
    assert total + decoder.pending == len(data)


@pytest.mark.parametrize("size", [MAX + 1, 2**31 - 1, -1, -(2**31), 0, 7])
def test_impossible_sizes_close_the_stream(size: int) -> None:
    decoder = FrameDecoder(max_frame_size=MAX)
    with pytest.raises(FrameError):
        decoder.feed(struct.pack(">i", size) + b"x" * 16)


def test_a_frame_at_the_maximum_size_is_accepted() -> None:
    decoder = FrameDecoder(max_frame_size=MAX)
    assert decoder.feed(frame(b"y" * MAX)) == [b"y" * MAX]


def test_a_truncated_frame_waits_for_the_rest() -> None:
    decoder = FrameDecoder(max_frame_size=MAX)
    data = frame(b"z" * 100)
    assert decoder.feed(data[:50]) == []
    assert decoder.pending == 50
    assert decoder.feed(data[50:]) == [b"z" * 100]
