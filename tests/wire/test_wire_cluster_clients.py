"""The 3-broker wire test (issue 12): librdkafka, kafka-python and aiokafka, unmodified, run
transactions against ``kafka-eos serve --brokers 3 --data-dir DIR`` with an ordinary bootstrap
list of the three brokers, while the brokers are killed and restarted one after another. Each
kill cuts the broker's connections and refuses new ones and moves the leadership of the
partitions it led; the clients find the new leaders through Metadata. Then librdkafka and
aiokafka go on while the transaction coordinator's broker is killed too (the coordinator
moves: a new coordinator epoch, its state reloaded from its log; the clients find it through
FindCoordinator), and the whole cluster is killed -9 and restarted on its data directory.

Every record of a transaction whose commit a client was told succeeded is read exactly once by
a read_committed consumer, nothing of an aborted attempt is read, and ``kafka-eos validate``
finds no violation in the history.

kafka-python (3.0.12) is kept away from coordinator kills: when the connection to a dead
coordinator is refused, its Sender (``_maybe_send_pending_request``) looks the coordinator up
again but never re-queues the request it was sending (``target_node`` is still set when the
exception is caught), so ``commit_transaction()`` waits for ever; librdkafka, like Kafka's
Java Sender, retries the request once the new coordinator is found, and so does aiokafka
(its Sender builds each transactional request anew from its transaction manager's state)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError as AioKafkaError
from conftest import ServeProcess
from kafka.errors import KafkaError
from wire_clients import (
    aio_producer,
    assert_exactly_once,
    kp_producer,
    rd_consume,
    rd_transactional,
    run_transaction,
)
from wire_raw import RawClient

from kafka_eos.protocol.history import Marker, write_history
from kafka_eos.reference.wire import codec

pytestmark = [pytest.mark.clients, pytest.mark.timeout(300)]

TOPIC = "cluster-orders"
PARTITIONS = 3
RECORDS_PER_TRANSACTION = 6
UP_S = 0.8  # how long the cluster runs whole between kills
DOWN_S = 0.8  # how long a killed broker stays down


class BrokerKiller(threading.Thread):
    """Kills ``brokers`` in turn, each for ``DOWN_S``; ``finished`` once done."""

    def __init__(self, serve: ServeProcess, brokers: list[int]) -> None:
        super().__init__(daemon=True)
        self.serve = serve
        self.brokers = brokers
        self.finished = threading.Event()
        self.answers: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for broker in self.brokers:
                time.sleep(UP_S)
                self.answers.append(self.serve.admin(f"kill-broker {broker}"))
                time.sleep(DOWN_S)
                self.answers.append(self.serve.admin(f"restart-broker {broker}"))
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.finished.set()


def _librdkafka_transactions(producer: Any, until: threading.Event, phase: str) -> list[str]:
    committed: list[str] = []
    number = 0
    while not until.is_set():
        values = [f"rd-{phase}{number}-{i}" for i in range(RECORDS_PER_TRANSACTION)]
        run_transaction(producer, TOPIC, values, attempts=5)  # raises unless committed
        committed += values
        number += 1
    return committed


def _transactions(
    prefix: str, until: threading.Event, attempt: Callable[[list[str]], bool]
) -> list[str]:
    """Commit transactions until ``until``; ``attempt(values)`` runs one transaction and says
    whether it committed (it aborts one that failed, and raises if the error was fatal). Each
    attempt writes its own values: an aborted attempt's records must never be read."""
    committed: list[str] = []
    number = 0
    while not until.is_set():
        for tries in range(5):
            values = [f"{prefix}-{number}-{tries}-{i}" for i in range(RECORDS_PER_TRANSACTION)]
            if attempt(values):
                committed += values
                break
        else:
            raise AssertionError(f"{prefix} transaction {number} did not commit in 5 attempts")
        number += 1
    return committed


def _kafka_python_transactions(bootstrap: str, until: threading.Event) -> list[str]:
    producer = kp_producer(
        bootstrap, "kp-cluster", transactional_id="kp-cluster-txn", reconnect_backoff_max_ms=500
    )
    producer.init_transactions()

    def attempt(values: list[str]) -> bool:
        producer.begin_transaction()
        try:
            futures = [
                producer.send(TOPIC, value.encode(), partition=i % PARTITIONS)
                for i, value in enumerate(values)
            ]
            producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=1)
            producer.commit_transaction()
        except KafkaError:
            producer.abort_transaction()  # raises if the error was fatal
            return False
        return True

    committed = _transactions("kp", until, attempt)
    producer.close(timeout=10)
    return committed


def _aiokafka_transactions(bootstrap: str, until: threading.Event, phase: str) -> list[str]:
    """aiokafka's transactions on an event loop of this thread's own."""

    async def started() -> AIOKafkaProducer:  # made inside the loop that runs it
        producer = aio_producer(bootstrap, "aio-cluster", transactional_id="aio-cluster-txn")
        await producer.start()
        return producer

    async def attempt(producer: AIOKafkaProducer, values: list[str]) -> bool:
        await producer.begin_transaction()
        try:
            sent = [
                await producer.send(TOPIC, value.encode(), partition=i % PARTITIONS)
                for i, value in enumerate(values)
            ]
            await asyncio.gather(*sent)
            await producer.commit_transaction()
        except AioKafkaError:
            await producer.abort_transaction()  # raises if the error was fatal
            return False
        return True

    loop = asyncio.new_event_loop()
    try:
        producer = loop.run_until_complete(started())
        committed = _transactions(
            f"aio-{phase}", until, lambda values: loop.run_until_complete(attempt(producer, values))
        )
        loop.run_until_complete(producer.stop())
    finally:
        loop.close()
    return committed


def _coordinator(serve: ServeProcess, transactional_id: str) -> int:
    client = RawClient(serve.port)
    try:
        found = client.request(codec.FIND_COORDINATOR, 3, {"key": transactional_id, "key_type": 1})
    finally:
        client.close()
    return int(found["node_id"])


def _run_phase(
    serve: ServeProcess, kills: list[int], work: list[Callable[[threading.Event], list[str]]]
) -> list[str]:
    """Run the clients' ``work`` while ``kills`` are done in turn; what they committed."""
    killer = BrokerKiller(serve, kills)
    workers = [_in_thread(lambda do=do: do(killer.finished)) for do in work]
    killer.start()
    killer.join(timeout=120)
    for thread, _ in workers:
        thread.join(timeout=120)
        if thread.is_alive():
            frame = sys._current_frames()[thread.ident or 0]
            stack = "".join(traceback.format_stack(frame))
            raise AssertionError(f"a client is stuck:\n{stack}")
    assert killer.error is None, killer.error
    for _, outcome in workers:
        assert "error" not in outcome, repr(outcome.get("error"))
    assert sum("partitions moved" in answer for answer in killer.answers) == len(kills)
    return [value for _, outcome in workers for value in outcome["committed"]]


def _in_thread(work: Callable[[], list[str]]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["committed"] = work()
        except BaseException as exc:  # reported by the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _validate(history: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kafka_eos", "validate", str(history)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_transactions_survive_broker_kills_and_a_cluster_restart(tmp_path: Path) -> None:
    serve = ServeProcess(
        tmp_path, data_dir=True, args=("--brokers", "3", "--partitions", str(PARTITIONS))
    ).start()
    try:
        bootstrap = serve.bootstrap
        assert bootstrap.count(",") == 2
        rd_producer = rd_transactional(bootstrap, "rd-cluster", "rd-cluster-txn")
        coordinator = _coordinator(serve, "rd-cluster-txn")
        assert _coordinator(serve, "aio-cluster-txn") == coordinator  # both lose it below
        leaders_only = [b for b in (0, 1, 2) if b != coordinator] * 2
        committed = _run_phase(
            serve,
            leaders_only,
            [
                lambda until: _librdkafka_transactions(rd_producer, until, "a"),
                lambda until: _kafka_python_transactions(bootstrap, until),
                lambda until: _aiokafka_transactions(bootstrap, until, "a"),
            ],
        )
        assert {value.split("-")[0] for value in committed} == {"rd", "kp", "aio"}
        across_failover = _run_phase(
            serve,
            [coordinator, *leaders_only[:2]],
            [
                lambda until: _librdkafka_transactions(rd_producer, until, "b"),
                lambda until: _aiokafka_transactions(bootstrap, until, "b"),
            ],
        )
        assert {value.split("-")[0] for value in across_failover} == {"rd", "aio"}
        committed += across_failover
        rd_producer.flush(10)

        serve.kill()  # the whole cluster, kill -9; then back on its data directory
        serve.port = 0
        serve.start()
        reads = rd_consume(
            serve.bootstrap,
            TOPIC,
            isolation="read_committed",
            client_id="cluster-reader",
            partitions=PARTITIONS,
            expect=len(committed),
            timeout_s=60,
        )
    finally:
        serve.stop()
    assert_exactly_once(reads, committed)
    history = serve.history()
    # the coordinator moved while librdkafka committed: markers of several coordinator epochs
    assert len({e.coordinator_epoch for e in history if isinstance(e, Marker)}) >= 2
    checked = tmp_path / "history-and-reads.jsonl"
    write_history(checked, [*history, *reads])
    validated = _validate(checked)
    assert validated.returncode == 0, validated.stdout + validated.stderr
