"""A raw Kafka protocol client over a socket (the codec's client side), for tests that
send exactly the bytes they mean: odd versions, bad frames, hand-built batches."""

from __future__ import annotations

import socket
import struct
from typing import Any

from kafka_eos.reference.wire import codec


class RawClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.correlation = 0

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_frame(self) -> bytes | None:
        """The next response payload, or None when the broker closed the connection."""
        header = self._read_exactly(4)
        if header is None:
            return None
        (size,) = struct.unpack(">i", header)
        return self._read_exactly(size)

    def _read_exactly(self, count: int) -> bytes | None:
        data = b""
        while len(data) < count:
            try:
                chunk = self.sock.recv(count - len(data))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def request(self, api_key: int, version: int, body: dict[str, Any]) -> dict[str, Any]:
        self.correlation += 1
        self.send_raw(codec.encode_request(api_key, version, self.correlation, body))
        payload = self.read_frame()
        assert payload is not None, "the broker closed the connection"
        correlation_id, response = codec.decode_response(api_key, version, payload)
        assert correlation_id == self.correlation
        return response

    def produce(self, topic: str, batch: bytes, version: int = 8) -> dict[str, Any]:
        response = self.request(
            codec.PRODUCE,
            version,
            {
                "acks": -1,
                "timeout": 5000,
                "topic_data": [{"name": topic, "partition_data": [{"index": 0, "records": batch}]}],
            },
        )
        return response["responses"][0]["partition_responses"][0]

    def fetch(self, topic: str, offset: int = 0) -> dict[str, Any]:
        response = self.request(
            codec.FETCH,
            11,
            {
                "replica_id": -1,
                "max_wait": 0,
                "min_bytes": 1,
                "max_bytes": 1 << 20,
                "isolation_level": 0,
                "session_epoch": -1,
                "topics": [
                    {
                        "topic": topic,
                        "partitions": [
                            {"partition": 0, "fetch_offset": offset, "partition_max_bytes": 1 << 20}
                        ],
                    }
                ],
            },
        )
        return response["responses"][0]["partitions"][0]

    def assert_closed(self) -> None:
        assert self.read_frame() is None, "expected the broker to close the connection"

    def close(self) -> None:
        self.sock.close()
