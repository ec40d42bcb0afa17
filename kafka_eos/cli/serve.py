"""``kafka-eos serve``: the reference broker on Kafka's wire protocol."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from kafka_eos.cli.main import EXIT_OK
from kafka_eos.errors import InputError
from kafka_eos.reference.wire.limits import (
    DEFAULT_CONNECTIONS_MAX_IDLE_MS,
    DEFAULT_FRAME_READ_TIMEOUT_MS,
    DEFAULT_MAX_FRAME_SIZE,
)

#: a guard of this process, not a Kafka limit: every broker holds every partition's replica
MAX_BROKERS = 16


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the reference broker on Kafka's wire protocol (real clients connect to it)",
        description=(
            "Run the reference broker: one node, leader of every partition and coordinator of "
            "every transactional.id and group, speaking Kafka's wire protocol on loopback. "
            "With --brokers N, a cluster of N brokers, each partition replicated on all of "
            "them, its leader and the coordinators spread among them; kill-broker and "
            "restart-broker on the admin port move leadership. Topics are created on first "
            "use (or with CreateTopics)."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port",
        type=int,
        default=9092,
        help="port of broker 0; broker i listens on PORT + i (0: each on any free port)",
    )
    serve.add_argument(
        "--brokers",
        type=int,
        default=1,
        metavar="N",
        help=f"brokers in the cluster, 1-{MAX_BROKERS} (ids 0..N-1, one listener each)",
    )
    serve.add_argument(
        "--data-dir", type=Path, help="keep logs here (durable; a restart rebuilds state)"
    )
    serve.add_argument(
        "--partitions", type=int, default=1, help="partitions of an auto-created topic"
    )
    serve.add_argument("--history", type=Path, help="append the history (JSON lines) here")
    serve.add_argument(
        "--request-log", type=Path, help="append every request and response (JSON lines) here"
    )
    serve.add_argument(
        "--admin-port", type=int, help="loopback port for fault commands (0: any free port)"
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="COMMAND",
        help="arm a fault at start, as an admin command, e.g. 'drop-response Produce 1', "
        "'delay EndTxn 500', 'close-after AddPartitionsToTxn'",
    )
    serve.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a protocol knob (e.g. transaction_version=1; see spec/SPEC.md §4) or a broker "
        "setting (e.g. auto_create_topics=false)",
    )
    limits = serve.add_argument_group(
        "client limits (Kafka's broker settings of the same names, where Kafka has one)"
    )
    limits.add_argument(
        "--max-frame-size",
        type=int,
        default=DEFAULT_MAX_FRAME_SIZE,
        metavar="BYTES",
        help="largest request; a larger frame closes the connection (socket.request.max.bytes,"
        " default 104857600)",
    )
    limits.add_argument(
        "--connections-max-idle-ms",
        type=int,
        default=DEFAULT_CONNECTIONS_MAX_IDLE_MS,
        metavar="MS",
        help="close a connection with no request for this long (connections.max.idle.ms, "
        "default 600000)",
    )
    limits.add_argument(
        "--frame-read-timeout-ms",
        type=int,
        default=DEFAULT_FRAME_READ_TIMEOUT_MS,
        metavar="MS",
        help="close a connection whose request takes longer than this to arrive (no Kafka "
        "equivalent; default 30000, the clients' request.timeout.ms)",
    )
    limits.add_argument(
        "--queued-max-request-bytes",
        type=int,
        default=DEFAULT_MAX_FRAME_SIZE,
        metavar="BYTES",
        help="memory the requests being read may hold together; beyond it the broker stops "
        "reading from clients until memory is free (queued.max.request.bytes; -1 unbounded; "
        "default 104857600)",
    )
    serve.add_argument(
        "--no-fsync", action="store_true", help="do not fsync each append (faster, not kill-safe)"
    )
    serve.add_argument(
        "--ready-file",
        type=Path,
        help="write 'PORT ADMIN_PORT' here when ready (with --brokers N: the N ports, "
        "comma-separated)",
    )
    serve.add_argument("--quiet", action="store_true", help="log warnings only")
    serve.set_defaults(run=run_serve)


def _parse_setting(text: str) -> tuple[str, Any]:
    """``--set NAME=VALUE``: a protocol knob (checked against protocol/knobs.py) or one of the
    broker's settings (BrokerConfig's other fields: the text, converted by the field's type
    when the broker is built)."""
    from kafka_eos.protocol.knobs import KNOBS, parse_assignment, parse_knob_text

    name, raw = parse_assignment(text, option="--set")
    if name in KNOBS:
        return name, parse_knob_text(name, raw, where=f"--set {name}")
    return name, raw.strip()


def run_serve(args: argparse.Namespace) -> int:
    from kafka_eos.reference.wire.app import ServeOptions, serve
    from kafka_eos.reference.wire.limits import ConnectionLimits
    from kafka_eos.reference.wire.server import MAX_PARTITIONS_PER_TOPIC

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: must be 0-65535")
    if not 1 <= args.brokers <= MAX_BROKERS:
        raise InputError(f"--brokers {args.brokers}: must be 1-{MAX_BROKERS}")
    if args.port and args.port + args.brokers - 1 > 65535:
        raise InputError(
            f"--port {args.port}: broker {args.brokers - 1} would listen on "
            f"{args.port + args.brokers - 1}, above 65535"
        )
    if args.admin_port is not None and not 0 <= args.admin_port <= 65535:
        raise InputError(f"--admin-port {args.admin_port}: must be 0-65535")
    if not 1 <= args.partitions <= MAX_PARTITIONS_PER_TOPIC:
        raise InputError(
            f"--partitions {args.partitions}: must be at least 1"
            if args.partitions < 1
            else f"--partitions {args.partitions}: at most {MAX_PARTITIONS_PER_TOPIC} "
            "(the largest topic serve creates)"
        )
    limits = ConnectionLimits(
        max_frame_size=args.max_frame_size,
        connections_max_idle_ms=args.connections_max_idle_ms,
        frame_read_timeout_ms=args.frame_read_timeout_ms,
        queued_max_request_bytes=args.queued_max_request_bytes,
    )
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="kafka-eos serve: %(message)s",
        stream=sys.stderr,
    )
    options = ServeOptions(
        host=args.host,
        port=args.port,
        brokers=args.brokers,
        data_dir=args.data_dir,
        partitions=args.partitions,
        history=args.history,
        request_log=args.request_log,
        admin_port=args.admin_port,
        limits=limits,
        fsync=not args.no_fsync,
        config=dict(_parse_setting(k) for k in args.set),
        faults=list(args.fault),
        ready_file=args.ready_file,
    )
    asyncio.run(serve(options))
    return EXIT_OK
