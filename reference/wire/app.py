"""Assemble and run ``kafka-eos serve``: the core node, its storage and clock, the wire
listeners (one per broker of ``--brokers N``), the tick loop and the admin port for faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka_eos.errors import InputError
from kafka_eos.protocol.knobs import KNOBS, make_knobs
from kafka_eos.reference.wire.faults import (
    Faults,
    parse_api,
    parse_broker_id,
    parse_count,
    parse_milliseconds,
    parse_retriable_error,
)
from kafka_eos.reference.wire.history_log import HistoryLog, RequestLog
from kafka_eos.reference.wire.limits import ConnectionLimits
from kafka_eos.reference.wire.server import MAX_PARTITIONS_PER_TOPIC, WireBroker

log = logging.getLogger("kafka_eos.wire")

NODE_ID = "broker-0"


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    #: the first broker's port; broker i listens on port + i (0: each on any free port)
    port: int = 9092
    #: brokers in the cluster, ids 0..brokers-1 (see :mod:`cluster`)
    brokers: int = 1
    data_dir: Path | None = None
    partitions: int = 1
    history: Path | None = None
    request_log: Path | None = None
    admin_port: int | None = None
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    fsync: bool = True
    #: protocol knobs (values checked against protocol/knobs.py) and BrokerConfig settings
    #: (the command line's text, converted by the field's type), by name
    config: dict[str, Any] = field(default_factory=dict)
    #: faults armed from the start, as admin commands (e.g. "drop-response Produce 1")
    faults: list[str] = field(default_factory=list)
    ready_file: Path | None = None


class SkewableClock:
    """The wall clock, plus an offset the admin port can move forward (expiry faults)."""

    def __init__(self, base: Any) -> None:
        self._base = base
        self.skew_ms = 0

    def now_ms(self) -> int:
        return int(self._base.now_ms()) + self.skew_ms


def _build_node(options: ServeOptions, clock: Any, storage: Any) -> Any:
    from kafka_eos.reference import node as node_module

    config_class = node_module.BrokerConfig
    settings = {name for name in config_class.__dataclass_fields__ if name != "knobs"}
    chosen = dict(options.config)
    # The clients this broker serves negotiate EndTxn v0-v3: transaction version 1. Kafka
    # uses version 2 only with clients that negotiate EndTxn v5 once the feature is finalized.
    chosen.setdefault("transaction_version", 1)
    chosen.setdefault("num_partitions", options.partitions)
    if "brokers" in chosen:
        raise InputError("--set brokers: use --brokers N (one listener per broker)")
    chosen["brokers"] = options.brokers
    unknown = sorted(set(chosen) - settings - set(KNOBS))
    if unknown:
        raise InputError(
            f"unknown broker setting {unknown[0]!r}; knobs: {', '.join(KNOBS)}; "
            f"settings: {', '.join(sorted(settings))}"
        )
    knobs = make_knobs(
        {name: value for name, value in chosen.items() if name in KNOBS}, where="--set "
    )
    declared = typing.get_type_hints(config_class)
    settings_chosen = {
        name: setting_value(name, value, declared[name]) if isinstance(value, str) else value
        for name, value in chosen.items()
        if name not in KNOBS
    }
    if settings_chosen["num_partitions"] > MAX_PARTITIONS_PER_TOPIC:
        raise InputError(
            f"--set num_partitions={settings_chosen['num_partitions']}: at most "
            f"{MAX_PARTITIONS_PER_TOPIC} (the largest topic serve creates)"
        )
    try:
        config = config_class(knobs=knobs, **settings_chosen)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad broker settings: {exc}") from None
    return node_module.BrokerNode(node_id=NODE_ID, config=config, clock=clock, storage=storage)


def setting_value(name: str, text: str, declared: Any) -> Any:
    """A broker setting's ``text`` as a value of its declared type (bool or int); anything
    else is refused, naming the option."""
    lowered = text.strip().lower()
    if declared is bool:
        if lowered in ("true", "false"):
            return lowered == "true"
        raise InputError(f"--set {name}={text}: expected true or false")
    if declared is int:
        try:
            return int(lowered)
        except ValueError:
            raise InputError(f"--set {name}={text}: expected an integer") from None
    return text


def _make_storage(options: ServeOptions) -> Any:
    from kafka_eos.reference.storage import FileStorage, MemoryStorage

    if options.data_dir is None:
        return MemoryStorage()
    return FileStorage(options.data_dir, fsync=options.fsync)


def apply_admin_command(broker: WireBroker, clock: SkewableClock, line: str) -> str:
    """Run one admin command (see :mod:`faults`); the one-line answer. A command whose
    arguments do not parse arms nothing."""
    words = line.split()
    if not words:
        return "error empty command"
    command, args = words[0].lower(), words[1:]
    faults: Faults = broker.faults
    try:
        if command == "drop-response" and 1 <= len(args) <= 2:
            api = parse_api(args[0])
            faults.drop_response(api, parse_count(args[1]) if len(args) > 1 else 1)
        elif command == "delay" and 2 <= len(args) <= 3:
            api, delay_ms = parse_api(args[0]), parse_milliseconds(args[1])
            faults.delay_requests(api, delay_ms, parse_count(args[2]) if len(args) > 2 else None)
        elif command == "request-timeout" and 2 <= len(args) <= 3:
            # a delay of one request by default: the client's re-sent copy is not held
            api, delay_ms = parse_api(args[0]), parse_milliseconds(args[1])
            faults.delay_requests(api, delay_ms, parse_count(args[2]) if len(args) > 2 else 1)
        elif command == "close-after" and 1 <= len(args) <= 2:
            api = parse_api(args[0])
            faults.close_after(api, parse_count(args[1]) if len(args) > 1 else 1)
        elif command == "crash-after" and len(args) == 1:
            faults.crash_after(parse_api(args[0]))
        elif command == "close-connections" and not args:
            return f"ok closed {broker.close_connections()} connections"
        elif command == "kill-broker" and len(args) == 1:
            return broker.kill_broker(parse_broker_id(args[0]))
        elif command == "fence-coordinator" and not args:
            return broker.fail_over_coordinator()
        elif command == "refuse-produce" and 1 <= len(args) <= 2:
            error = parse_retriable_error(args[0])
            for _ in range(parse_count(args[1]) if len(args) > 1 else 1):
                broker.node.refuse_next_produce(error)
        elif command == "expire-producers" and not args:
            return f"ok expired {broker.expire_producers()} producer states"
        elif command == "advance-clock" and len(args) == 1:
            if args[0].startswith("-"):
                return "error the clock never goes back"
            step = parse_milliseconds(args[0])
            clock.skew_ms += step
            broker.tick()
            return f"ok clock advanced {step} ms"
        elif command == "status" and not args:
            refusals = [error.name for error in broker.node.produce_refusals]
            refused = f"; refuse-produce {' '.join(refusals)}" if refusals else ""
            return f"ok {faults.describe()}{refused}"
        elif command == "connections" and not args:
            return f"ok {broker.describe_connections()}"
        elif command == "clear" and not args:
            faults.drops.clear()
            faults.delays.clear()
            faults.closes.clear()
            faults.crashes.clear()
            broker.node.produce_refusals.clear()
        else:
            return f"error unknown command or wrong arguments: {line.strip()}"
    except InputError as exc:
        return f"error {exc}"
    return "ok"


async def run_admin_command(broker: WireBroker, clock: SkewableClock, line: str) -> str:
    """An admin command from the admin port: :func:`apply_admin_command`, and
    ``restart-broker ID``, which waits for the broker's listener to open."""
    words = line.split()
    if len(words) == 2 and words[0].lower() == "restart-broker":
        try:
            return await broker.restart_broker(parse_broker_id(words[1]))
        except InputError as exc:
            return f"error {exc}"
    return apply_admin_command(broker, clock, line)


async def _admin_connection(
    broker: WireBroker,
    clock: SkewableClock,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    try:
        while line := await reader.readline():
            answer = await run_admin_command(broker, clock, line.decode("utf-8", "replace"))
            writer.write((answer + "\n").encode())
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def _check_output_paths(options: ServeOptions) -> None:
    """Refuse, before anything starts, a file serve could not write later."""
    for flag, path in (
        ("--history", options.history),
        ("--request-log", options.request_log),
        ("--ready-file", options.ready_file),
    ):
        if path is None:
            continue
        if not path.parent.is_dir():
            raise InputError(f"{flag} {path}: the folder {path.parent} does not exist")
        if path.is_dir():
            raise InputError(f"{flag} {path}: is a folder, not a file")


def _open_logs(options: ServeOptions) -> tuple[HistoryLog, RequestLog]:
    flag = "--history"
    try:
        history = HistoryLog(options.history)
        flag = "--request-log"
        return history, RequestLog(options.request_log)
    except OSError as exc:
        path = options.history if flag == "--history" else options.request_log
        raise InputError(f"{flag} {path}: cannot open: {exc.strerror}") from None


async def _listen(flag: str, handler: Any, host: str, port: int) -> tuple[asyncio.Server, int]:
    """A listening server and the port it got; a port in use is a usage error."""
    try:
        server = await asyncio.start_server(handler, host, port)
    except OSError as exc:
        raise InputError(f"{flag} {port}: cannot listen on {host}:{port}: {exc.strerror}") from None
    return server, server.sockets[0].getsockname()[1]


async def _listen_brokers(broker: WireBroker, options: ServeOptions) -> list[int]:
    """Open every broker's listener: broker i on ``--port`` + i (each on a free port when
    ``--port`` is 0); a port in use is one usage error naming the broker and the port."""
    ports = []
    for broker_id in range(options.brokers):
        port = options.port + broker_id if options.port else 0
        try:
            ports.append(await broker.listen(broker_id, port))
        except OSError as exc:
            broker.close_listeners()
            whose = f" (broker {broker_id}'s port)" if options.brokers > 1 else ""
            raise InputError(
                f"--port {options.port}: cannot listen on {options.host}:{port}{whose}: "
                f"{exc.strerror}"
            ) from None
    return ports


async def serve(options: ServeOptions) -> None:
    from kafka_eos.reference.clock import SystemClock

    _check_output_paths(options)
    clock = SkewableClock(SystemClock())
    history, request_log = _open_logs(options)
    storage = _make_storage(options)
    node = _build_node(options, clock, storage)
    broker_outbounds = node.startup()
    missed = history.record_unrecorded(node)
    if missed:
        log.warning("history: recorded %d logged batches a crash kept out of it", missed)
    broker = WireBroker(
        node=node,
        node_id=NODE_ID,
        clock=clock,
        host=options.host,
        port=options.port,
        history=history,
        request_log=request_log,
        limits=options.limits,
    )
    ports = await _listen_brokers(broker, options)
    for command in options.faults:
        answer = apply_admin_command(broker, clock, command)
        if not answer.startswith("ok"):
            broker.close_listeners()
            raise InputError(f"--fault {command!r}: {answer[len('error ') :]}")
    admin = None
    admin_port = None
    if options.admin_port is not None:
        admin, admin_port = await _listen(
            "--admin-port",
            lambda r, w: _admin_connection(broker, clock, r, w),
            "127.0.0.1",
            options.admin_port,
        )
    broker.deliver(broker_outbounds)  # markers of transactions reloaded in Prepare*
    ticker = asyncio.create_task(broker.tick_forever())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    ready = "kafka-eos serve: listening on " + ", ".join(
        f"{options.host}:{port}" + (f" (broker {broker_id})" if options.brokers > 1 else "")
        for broker_id, port in enumerate(ports)
    )
    if admin_port is not None:
        ready += f" admin 127.0.0.1:{admin_port}"
    print(ready, file=sys.stderr, flush=True)
    try:
        if options.ready_file is not None:
            listed = ",".join(str(port) for port in ports)
            _write_ready_file(options.ready_file, f"{listed} {admin_port or 0}\n")
        waiters = [asyncio.ensure_future(stop.wait()), ticker]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if ticker.done() and ticker.exception() is not None:
            raise ticker.exception()  # type: ignore[misc]
    finally:
        ticker.cancel()
        broker.close_listeners()
        if admin is not None:
            admin.close()
        broker.close_connections()
        history.close()
        request_log.close()
        close = getattr(storage, "close", None)
        if close is not None:
            close()


def _write_ready_file(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--ready-file {path}: cannot write: {exc.strerror}") from None
