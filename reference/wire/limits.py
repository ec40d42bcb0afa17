"""What one client may cost the broker: how long a connection may sit idle, how long a frame
may take to arrive, and how much memory the frames being read may hold together.

Kafka's broker bounds the same things (kafka.network.SocketServer and
org.apache.kafka.common.network.Selector):

- ``connections.max.idle.ms`` (default 600000): a connection with no request in progress and
  no bytes received for that long is closed (Selector.maybeCloseOldestConnection);
- ``socket.request.max.bytes`` (default 100 MiB): a larger frame size closes the connection
  (NetworkReceive.readFrom throws InvalidReceiveException);
- ``queued.max.request.bytes``: a memory pool (SimpleMemoryPool, non-strict) from which a
  frame's whole size is allocated when its size prefix has been read. When the pool is
  exhausted the Selector stops reading from the channels that wait (it mutes them): the
  clients are slowed down, not disconnected. This module does the same: backpressure, not
  closing the newest offender, because a legitimate burst of large requests (a producer
  flushing several 90 MiB batches) must slow down, not fail; the per-frame deadline below is
  what frees memory a slow or stuck sender holds. Kafka's default is -1 (no pool); serve
  defaults to one maximum frame, so three clients each sending most of a 100 MiB frame hold
  100 MiB, not 300.

One bound has no Kafka setting: ``frame_read_timeout_ms``, the time a frame may take to
arrive once its memory is reserved. Kafka relies on the idle timeout alone, which a client
sending one byte a second never reaches; serve closes such a connection after this long
(default 30000, the clients' own request.timeout.ms: by then the client has given up on the
request anyway) and gives its reservation to the next frame.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from kafka_eos.errors import InputError
from kafka_eos.reference.wire.framing import DEFAULT_MAX_FRAME_SIZE, MIN_REQUEST_SIZE

#: The frame size field is a signed int32.
LARGEST_FRAME_SIZE = 2**31 - 1
#: Kafka's connections.max.idle.ms default (10 minutes).
DEFAULT_CONNECTIONS_MAX_IDLE_MS = 600_000
#: The clients' request.timeout.ms default.
DEFAULT_FRAME_READ_TIMEOUT_MS = 30_000
#: queued.max.request.bytes value meaning "no pool" (Kafka's default).
UNBOUNDED = -1


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The bounds ``kafka-eos serve`` applies to every client connection."""

    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    connections_max_idle_ms: int = DEFAULT_CONNECTIONS_MAX_IDLE_MS
    frame_read_timeout_ms: int = DEFAULT_FRAME_READ_TIMEOUT_MS
    #: total bytes reserved by frames being read (non-strict, as Kafka's pool: one frame may
    #: take the pool past it, so at most this plus one maximum frame is held); -1: unbounded
    queued_max_request_bytes: int = DEFAULT_MAX_FRAME_SIZE

    def __post_init__(self) -> None:
        if not MIN_REQUEST_SIZE <= self.max_frame_size <= LARGEST_FRAME_SIZE:
            raise InputError(
                f"--max-frame-size {self.max_frame_size}: must be {MIN_REQUEST_SIZE}-"
                f"{LARGEST_FRAME_SIZE} bytes"
            )
        for flag, value in (
            ("--connections-max-idle-ms", self.connections_max_idle_ms),
            ("--frame-read-timeout-ms", self.frame_read_timeout_ms),
        ):
            if value < 1:
                raise InputError(f"{flag} {value}: must be at least 1")
        if self.queued_max_request_bytes < 1 and self.queued_max_request_bytes != UNBOUNDED:
            raise InputError(
                f"--queued-max-request-bytes {self.queued_max_request_bytes}: must be -1 "
                "(unbounded) or at least 1"
            )


class RequestMemoryPool:
    """The bytes reserved by frames being read, across every connection.

    A frame reserves its whole size once its size prefix is in and releases it when it has
    been decoded. ``reserve`` waits while the pool is exhausted (backpressure: the waiting
    connection reads nothing more meanwhile)."""

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def waiting(self) -> int:
        """Connections stopped until memory is released."""
        return len(self._waiters)

    def _available(self) -> bool:
        # Kafka's pool is non-strict: any memory left admits a whole frame.
        return self.limit == UNBOUNDED or self.in_use < self.limit

    async def reserve(self, size: int) -> None:
        while not self._available():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
        self.in_use += size
        self.peak = max(self.peak, self.in_use)

    def release(self, size: int) -> None:
        self.in_use -= size
        for waiter in self._waiters:  # each checks again; the first to run takes the memory
            if not waiter.done():
                waiter.set_result(None)

    def describe(self) -> str:
        limit = "unbounded" if self.limit == UNBOUNDED else f"{self.limit}"
        return (
            f"request memory {self.in_use} of {limit} bytes (peak {self.peak}), "
            f"{self.waiting} waiting"
        )
