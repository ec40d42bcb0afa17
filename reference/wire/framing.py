"""Kafka's size-prefixed framing, sans-I/O.

Every request and response on a Kafka connection is a frame: a big-endian int32 size, then
that many bytes. :class:`FrameDecoder` is fed whatever bytes the socket produced and hands
back complete frames; it never reads a socket itself (h11 style), so the same code serves the
asyncio server and the Hypothesis fuzz tests.

A size below the smallest possible request header, or above ``max_frame_size``, cannot be
recovered from: the stream has lost its framing, so the decoder raises :class:`FrameError`
and the connection must be closed (Kafka's ``InvalidReceiveException`` does the same).
"""

from __future__ import annotations

import struct

#: Kafka's socket.request.max.bytes default (100 MiB).
DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024
#: api_key (int16) + api_version (int16) + correlation_id (int32): nothing shorter is a request.
MIN_REQUEST_SIZE = 8

_SIZE = struct.Struct(">i")


class FrameError(Exception):
    """The byte stream is not a sequence of valid frames; the connection cannot continue."""


class FrameDecoder:
    """Splits a byte stream into frames of at most ``max_frame_size`` bytes."""

    __slots__ = ("_buffer", "_max_frame_size", "_min_frame_size")

    def __init__(
        self,
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        min_frame_size: int = MIN_REQUEST_SIZE,
    ) -> None:
        if max_frame_size < min_frame_size:
            raise ValueError("max_frame_size must be at least min_frame_size")
        self._buffer = bytearray()
        self._max_frame_size = max_frame_size
        self._min_frame_size = min_frame_size

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    @property
    def frame_size(self) -> int | None:
        """The size of the frame being read, once its size prefix is in (``feed`` has
        checked it), else None."""
        if len(self._buffer) < _SIZE.size:
            return None
        return int(_SIZE.unpack_from(self._buffer, 0)[0])

    def wanted(self) -> int:
        """How many more bytes complete the frame being read (its size prefix first): a
        reader that asks for no more than this holds at most one frame."""
        size = self.frame_size
        if size is None:
            return _SIZE.size - len(self._buffer)
        return _SIZE.size + size - len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every frame now complete (possibly none).

        Raises FrameError on a size the peer cannot mean; the buffered bytes are then
        meaningless and the caller closes the connection.
        """
        self._buffer += data
        frames: list[bytes] = []
        while len(self._buffer) >= _SIZE.size:
            (size,) = _SIZE.unpack_from(self._buffer, 0)
            if size < self._min_frame_size:
                raise FrameError(f"frame size {size} is below the minimum {self._min_frame_size}")
            if size > self._max_frame_size:
                raise FrameError(f"frame size {size} exceeds the maximum {self._max_frame_size}")
            end = _SIZE.size + size
            if len(self._buffer) < end:
                break
            frames.append(bytes(self._buffer[_SIZE.size : end]))
            del self._buffer[:end]
        return frames


def frame(payload: bytes) -> bytes:
    """``payload`` with its size prefix, ready for the socket."""
    return _SIZE.pack(len(payload)) + payload
