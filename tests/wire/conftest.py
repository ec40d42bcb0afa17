"""A harness for tests with real clients: ``kafka-eos serve`` as a subprocess on a free loopback
port, its admin port for faults, its history file, kill -9 and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_eos.protocol.history import Event, read_history
from kafka_eos.pytest_plugin import admin_command

START_TIMEOUT_S = 20.0


class ServeProcess:
    """One ``kafka-eos serve`` process; restartable on the same port and data dir."""

    def __init__(
        self, workdir: Path, *, data_dir: bool = False, args: tuple[str, ...] = ()
    ) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data" if data_dir else None
        self.history_path = workdir / "history.jsonl"
        self.extra_args = args
        self.port = 0
        #: every broker's port (``--brokers N``); ``port`` is broker 0's
        self.ports: list[int] = []
        self.admin_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        """Every broker's address, as a client's bootstrap list."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports or [self.port])

    def start(self) -> ServeProcess:
        self.starts += 1
        ready = self.workdir / f"ready-{self.starts}"
        log = open(self.workdir / f"serve-{self.starts}.log", "wb")  # noqa: SIM115
        command = [
            sys.executable, "-m", "kafka_eos", "serve",
            "--port", str(self.port), "--admin-port", str(self.admin_port),
            "--ready-file", str(ready), "--history", str(self.history_path),
            *self.extra_args,
        ]  # fmt: skip
        if self.data_dir is not None:
            command += ["--data-dir", str(self.data_dir)]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.exists() or not ready.read_text().endswith("\n"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = (self.workdir / f"serve-{self.starts}.log").read_text(errors="replace")
                raise RuntimeError(f"kafka-eos serve did not start:\n{output}")
            time.sleep(0.02)
        ports, admin_port = ready.read_text().split()
        self.ports = [int(port) for port in ports.split(",")]
        self.port, self.admin_port = self.ports[0], int(admin_port)
        return self

    def admin(self, command: str) -> str:
        """Send one admin command; its one-line answer (AssertionError unless it starts 'ok')."""
        answer = admin_command(self.admin_port, command)
        assert answer.startswith("ok"), f"admin {command!r}: {answer}"
        return answer

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def wait_for_crash(self, timeout: float = 20.0) -> int:
        """Wait until the broker process has exited by itself (a crash fault); its status."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def restart(self) -> ServeProcess:
        self.kill()
        return self.start()

    def history(self) -> list[Event]:
        return read_history(self.history_path)

    def log_text(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.workdir.glob("serve-*.log"))
        )


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    """A running broker (memory storage)."""
    broker = ServeProcess(tmp_path).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def shared_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One broker for a whole module whose tests use their own topics, ids and groups
    (starting a broker costs seconds; the module's history is validated test by test)."""
    broker = ServeProcess(tmp_path_factory.mktemp("shared-broker")).start()
    yield broker
    broker.stop()


@pytest.fixture
def serve_factory(tmp_path: Path) -> Iterator[object]:
    """Start brokers with options: ``serve_factory(data_dir=True, args=(...))``."""
    started: list[ServeProcess] = []

    def make(*, data_dir: bool = False, args: tuple[str, ...] = ()) -> ServeProcess:
        workdir = tmp_path / f"broker-{len(started)}"
        workdir.mkdir()
        broker = ServeProcess(workdir, data_dir=data_dir, args=args).start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()
