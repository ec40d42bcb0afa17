"""Slow and greedy clients cannot hold the broker's memory or connections for ever: an idle
connection is closed after --connections-max-idle-ms, a frame trickling in is cut off after
--frame-read-timeout-ms, and frames being read hold at most --queued-max-request-bytes (plus
one frame, as Kafka's non-strict pool) while the others wait. Figures come from the broker's
own accounting on the admin port, not from timing its memory."""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import time
from typing import Any

import pytest
from wire_raw import RawClient

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.wire import codec

pytestmark = [pytest.mark.clients, pytest.mark.timeout(60)]

IDLE_MS = 1000
FRAME_MS = 1500
POOL = 1024 * 1024
LIMITS = (
    "--connections-max-idle-ms", str(IDLE_MS),
    "--frame-read-timeout-ms", str(FRAME_MS),
    "--queued-max-request-bytes", str(POOL),
    "--max-frame-size", str(POOL),
)  # fmt: skip


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from conftest import ServeProcess

    broker = ServeProcess(tmp_path_factory.mktemp("limited"), args=LIMITS).start()
    yield broker
    broker.stop()


def _accounting(broker: Any) -> dict[str, int]:
    answer = broker.admin("connections")
    match = re.fullmatch(
        r"ok (\d+) connections, request memory (\d+) of \d+ bytes \(peak (\d+)\), (\d+) waiting, "
        r"(\d+) bytes buffered in partial frames",
        answer,
    )
    assert match, answer
    names = ("connections", "in_use", "peak", "waiting", "buffered")
    return dict(zip(names, map(int, match.groups()), strict=True))


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the broker closed ``sock`` (AssertionError if it stays open longer)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s") from None
    return time.monotonic() - started


def _wait_until(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _serving(port: int) -> None:
    client = RawClient(port)
    assert client.request(codec.API_VERSIONS, 3, {})["error_code"] == ErrorCode.NONE
    client.close()


def test_an_idle_connection_is_closed_and_a_busy_one_is_not(limited: Any) -> None:
    idle = socket.create_connection(("127.0.0.1", limited.port))
    busy = RawClient(limited.port)
    started = time.monotonic()
    while time.monotonic() - started < 2 * IDLE_MS / 1000:  # requests far more often than idle
        assert busy.request(codec.API_VERSIONS, 3, {})["error_code"] == ErrorCode.NONE
        time.sleep(IDLE_MS / 10_000)
    assert _closed_within(idle, 5) < 5
    busy.close()


def test_a_frame_trickling_in_is_cut_off_and_frees_its_memory(limited: Any) -> None:
    sock = socket.create_connection(("127.0.0.1", limited.port))
    sock.sendall(struct.pack(">i", 1000))
    _wait_until(lambda: _accounting(limited)["in_use"] >= 1000)
    started = time.monotonic()
    sock.settimeout(0.2)
    closed = False
    for _ in range(100):  # one byte every 0.1 s: 10 s for the frame, if it were allowed
        try:
            sock.sendall(b"x")
            time.sleep(0.1)
            if sock.recv(1) == b"":
                closed = True
                break
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    assert closed and time.monotonic() - started < 2 * FRAME_MS / 1000 + 1
    _wait_until(lambda: _accounting(limited)["in_use"] == 0)
    assert "frame not complete within 1500 ms" in limited.log_text()
    _serving(limited.port)


def test_greedy_frames_wait_for_memory_instead_of_growing_it(limited: Any) -> None:
    claimed = POOL  # each of three clients claims the largest frame and sends most of it
    greedy = [socket.create_connection(("127.0.0.1", limited.port)) for _ in range(3)]
    for sock in greedy:
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # when the broker is not reading this one
            sock.send(struct.pack(">i", claimed) + b"x" * (claimed - 100 * 1024))
    _wait_until(lambda: _accounting(limited)["waiting"] == 2)
    held = _accounting(limited)
    assert held["in_use"] == claimed  # one frame reserved; the pool has no room for a second
    assert held["buffered"] <= claimed + 2 * 4  # the others read their size prefix only
    _serving(limited.port)  # a small request finds no memory either: it waits its turn...
    for sock in greedy:  # ...which comes as each greedy frame times out in turn
        _closed_within(sock, 3 * FRAME_MS / 1000 + 5)
    final = _accounting(limited)
    assert final["in_use"] == 0 and final["waiting"] == 0
    assert final["peak"] <= POOL + claimed  # never more than the pool plus one frame
    _serving(limited.port)
