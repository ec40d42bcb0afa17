"""The kafka-eos pytest plugin (entry point ``pytest11``: installed with the package, active in
every pytest run): gate a Kafka client or application on the reference broker, or check a
model configuration, inside an ordinary test.

- ``kafka_eos_broker``: ``kafka-eos serve`` on a free loopback port for one test, set up by the
  test's ``@pytest.mark.kafka_eos_broker(faults=[...], knobs={...}, data_dir=False,
  partitions=1)``. Once the test body has passed, the broker is stopped and the history it
  recorded (plus what the test recorded with ``broker.record`` / ``broker.record_read``, e.g.
  what its consumers read) is validated against the EOS properties; a violation fails the test
  with the property, the events that show it, a minimal set of conflicting ordering
  constraints when there is one, and the path of the history's HTML view.
- ``kafka_eos_broker_factory``: the same for several or differently set-up brokers in one test.
- ``kafka_eos_check``: model-check a configuration (a named check, a YAML file, or a model
  object) in a test; unless the verdict is the one expected, the test fails with the violated
  property, its explanation and the counterexample's HTML view.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the plugin loads in every pytest run: the package only when used
    from kafka_eos.protocol.history import Read

START_TIMEOUT_S = 60.0  # a loaded CI machine starts Python slowly
STOP_TIMEOUT_S = 10.0
#: At most this many violations are spelt out in a failure (all are in the HTML view).
SHOWN_VIOLATIONS = 5
MARKER = "kafka_eos_broker"
_BROKERS = pytest.StashKey[list["KafkaEosBroker"]]()


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    """How a broker is started: ``kafka-eos serve --fault F --set K=V [--data-dir]``."""

    faults: tuple[str, ...] = ()
    knobs: Mapping[str, bool | int | str] = field(default_factory=dict)
    data_dir: bool = False
    partitions: int = 1
    validate: bool = True  # validate the history after the test body
    every_read_committed: bool = False  # hold read_uncommitted reads to read_committed's rules

    def arguments(self, workdir: Path) -> list[str]:
        arguments = ["--partitions", str(self.partitions)]
        for fault in self.faults:
            arguments += ["--fault", fault]
        for name, value in self.knobs.items():
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            arguments += ["--set", f"{name}={shown}"]
        if self.data_dir:
            arguments += ["--data-dir", str(workdir / "data")]
        return arguments


class KafkaEosBroker:
    """One ``kafka-eos serve`` process and the history it writes."""

    def __init__(self, workdir: Path, options: BrokerOptions) -> None:
        self.workdir = workdir
        self.options = options
        self.history_path = workdir / "history.jsonl"
        self.view_path = workdir / "history.html"
        self.port = 0
        self.admin_port = 0
        self.recorded: list[Any] = []
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``bootstrap.servers`` for a client."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> KafkaEosBroker:
        ready = self.workdir / "ready"
        log_path = self.workdir / "serve.log"
        command = [
            sys.executable, "-m", "kafka_eos", "serve", "--port", "0", "--admin-port", "0",
            "--ready-file", str(ready), "--history", str(self.history_path),
            *self.options.arguments(self.workdir),
        ]  # fmt: skip
        with open(log_path, "wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (ready.exists() and ready.read_text(encoding="utf-8").endswith("\n")):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = log_path.read_text(encoding="utf-8", errors="replace").strip()
                pytest.fail(f"kafka-eos serve did not start ({' '.join(command[3:])}):\n{output}",
                            pytrace=False)  # fmt: skip
            time.sleep(0.02)
        port, admin_port = ready.read_text(encoding="utf-8").split()
        self.port, self.admin_port = int(port), int(admin_port)
        return self

    def admin(self, command: str) -> str:
        """A fault command on the admin port (``drop-response Produce 1``...); its answer."""
        answer = admin_command(self.admin_port, command)
        if not answer.startswith("ok"):
            pytest.fail(f"kafka-eos admin {command!r}: {answer}", pytrace=False)
        return answer

    def record(self, *events: Any) -> None:
        """History events a client observed (e.g. reads), validated with the broker's."""
        self.recorded.extend(events)

    def record_read(self, message: Any, *, client: str, isolation: str) -> None:
        """A record a consumer returned (see :func:`read_event`)."""
        self.record(read_event(message, client=client, isolation=isolation))

    def record_seek(self, *, client: str, topic: str, partition: int, offset: int) -> None:
        """A consumer set its position (seek, or a new assignment): its next read of the
        partition may go back without being a nonmonotonic poll."""
        from kafka_eos.protocol.history import Seek

        self.record(Seek(client, f"{topic}-{partition}", offset))

    def history(self) -> list[Any]:
        """The broker's history so far, then what the test recorded."""
        from kafka_eos.protocol.history import read_history

        broker = read_history(self.history_path) if self.history_path.exists() else []
        return [*broker, *self.recorded]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)

    def verdict(self) -> str | None:
        """Stop and validate the history: None when it satisfies every property, else why not
        (the view of the history is written to ``view_path``)."""
        from kafka_eos.cli.view import write_history_view
        from kafka_eos.protocol.history_checks import check_history

        self.stop()
        events = self.history()
        violations = check_history(events, every_read_committed=self.options.every_read_committed)
        if not violations:
            return None
        write_history_view(self.view_path, events, title=f"history of {self.bootstrap}",
                           violations=violations)  # fmt: skip
        return _failure(violations, events, self)


def read_event(message: Any, *, client: str, isolation: str) -> Read:
    """The history's Read of a record a consumer returned: a confluent-kafka, kafka-python or
    aiokafka message (anything with topic, partition, offset and value, as attributes or
    methods)."""
    from kafka_eos.protocol.history import Read
    from kafka_eos.reference.wire.records import history_value

    def get(name: str) -> Any:
        value = getattr(message, name)
        return value() if callable(value) else value

    partition = f"{get('topic')}-{get('partition')}"
    return Read(client, isolation, partition, get("offset"), history_value(get("value")))


def admin_command(admin_port: int, command: str) -> str:
    """One command to ``kafka-eos serve``'s admin port (one line each way); its answer."""
    with socket.create_connection(("127.0.0.1", admin_port), timeout=10) as sock:
        sock.sendall(command.encode() + b"\n")
        return sock.makefile("r").readline().strip()


def _failure(violations: list[Any], events: list[Any], broker: KafkaEosBroker) -> str:
    from kafka_eos.protocol.history_checks import PROPERTIES
    from kafka_eos.protocol.ordering import check_ordering

    broken = ", ".join(dict.fromkeys(v.property for v in violations))
    lines = [f"kafka-eos: the broker's history violates {broken} "
             f"({len(violations)} violation(s) in {len(events)} events)"]  # fmt: skip
    for violation in violations[:SHOWN_VIOLATIONS]:
        lines.append(f"  {violation.property}: {violation.message}")
        if violation.property in PROPERTIES:
            lines.append(f"    the property: {PROPERTIES[violation.property]}")
    if len(violations) > SHOWN_VIOLATIONS:
        lines.append(f"  ... {len(violations) - SHOWN_VIOLATIONS} more in the view")
    ordering = check_ordering(events)
    if not ordering.consistent:
        lines.append("  a minimal set of conflicting ordering constraints:")
        lines += [f"    {line}" for line in ordering.lines()]
    lines.append(f"  history: {broker.history_path}")
    lines.append(f"  view: {broker.view_path}")
    return "\n".join(lines)


BrokerFactory = Callable[..., KafkaEosBroker]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(faults=(), knobs={{}}, data_dir=False, partitions=1, validate=True, "
        "every_read_committed=False): how the kafka_eos_broker fixture starts kafka-eos serve",
    )


@pytest.fixture
def kafka_eos_broker_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[
    BrokerFactory
]:
    """``factory(faults=..., knobs=..., data_dir=..., partitions=...)`` starts a broker; every
    broker started is validated after the test body and stopped at teardown."""
    started = request.node.stash.setdefault(_BROKERS, [])

    def start(**options: Any) -> KafkaEosBroker:
        if "faults" in options:
            options["faults"] = tuple(options["faults"])
        workdir = tmp_path / f"kafka-eos-broker-{len(started)}"
        workdir.mkdir()
        broker = KafkaEosBroker(workdir, BrokerOptions(**options))
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture
def kafka_eos_broker(
    request: pytest.FixtureRequest, kafka_eos_broker_factory: BrokerFactory
) -> KafkaEosBroker:
    """A broker set up by the test's ``@pytest.mark.kafka_eos_broker(...)`` (defaults: Kafka
    4.x knobs, no faults, in memory)."""
    marker = request.node.get_closest_marker(MARKER)
    return kafka_eos_broker_factory(**(marker.kwargs if marker else {}))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    # After a passing test body, and inside the test's own phase: a violation fails the test
    # itself, not its teardown.
    result = yield
    failures = [v for b in item.stash.get(_BROKERS, []) if b.options.validate
                if (v := b.verdict()) is not None]  # fmt: skip
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
    return result


@dataclass(frozen=True, slots=True)
class ModelCheck:
    """``kafka_eos_check``'s answer: the checker's result and, for a counterexample, the
    path of its HTML view."""

    result: Any
    view: Path | None


@pytest.fixture
def kafka_eos_check(tmp_path: Path) -> Callable[..., ModelCheck]:
    """``kafka_eos_check(config, expect="ok")`` model-checks ``config`` (a named check of
    spec/configs/, a YAML file, or a model object); the test fails unless the verdict is
    ``expect`` ("ok" or "violated"), naming the violated property, its explanation and the
    counterexample's view."""

    def run(config: str | Path | object, *, expect: str = "ok", **bounds: Any) -> ModelCheck:
        from kafka_eos.checker import check

        model, name = _model_of(config)
        result = check(model, **bounds)
        view = None
        if result.trace is not None:
            view = tmp_path / f"{_file_name(name)}.html"
            _write_counterexample_view(view, model, name, result)
        if result.verdict != expect:
            pytest.fail(_check_failure(name, expect, result, view), pytrace=False)
        return ModelCheck(result, view)

    return run


def _model_of(config: str | Path | object) -> tuple[object, str]:
    if not isinstance(config, str | Path):
        return config, type(config).__name__
    from kafka_eos.errors import InputError
    from kafka_eos.model.configs import load_check_config

    try:
        loaded = load_check_config(str(config))
    except InputError as exc:
        pytest.fail(f"kafka-eos: {exc}", pytrace=False)
    return loaded.model, loaded.name


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "model"


def _write_counterexample_view(path: Path, model: object, name: str, result: Any) -> None:
    from kafka_eos.checker.itf import itf_from_document, trace_to_itf
    from kafka_eos.cli.view import itf_title, write_itf_view

    meta = {"config": name, "verdict": result.verdict, "violated": result.violated}
    trace = itf_from_document(trace_to_itf(result.trace, model, meta=meta))
    write_itf_view(path, trace, title=itf_title(meta, name))


def _check_failure(name: str, expect: str, result: Any, view: Path | None) -> str:
    from kafka_eos.viewer.spec_index import spec_index

    lines = [f"kafka-eos: {name}: expected {expect}, the checker says {result.verdict}"]
    if result.verdict == "violated":
        steps = result.trace.steps if result.trace is not None else 0
        lines.append(f"  violated: {result.violated} (shortest counterexample: {steps} steps)")
        explanation = spec_index().properties.get(str(result.violated))
        if explanation:
            lines.append(f"  the property: {explanation}")
    elif result.verdict == "incomplete":
        lines.append(f"  stopped by {result.stopped_by} after {result.distinct_states:,} states")
    else:
        lines.append(f"  all {result.distinct_states:,} reachable states satisfy every property")
    if view is not None:
        lines.append(f"  view: {view}")
    return "\n".join(lines)
