"""``kafka-eos serve``: the reference broker on Kafka's wire protocol."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from kafka_eos.errors import InputError

EXIT_OK = 0


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the reference broker on Kafka's wire protocol (real clients connect to it)",
        description=(
            "Run the reference broker: one node, leader of every partition and coordinator of "
            "every transactional.id and group, speaking Kafka's wire protocol on loopback. "
            "Topics are created on first use (or with CreateTopics)."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=9092, help="port (0: any free port)")
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
    serve.add_argument("--max-frame-size", type=int, default=None, help="largest request, bytes")
    serve.add_argument(
        "--no-fsync", action="store_true", help="do not fsync each append (faster, not kill-safe)"
    )
    serve.add_argument("--ready-file", type=Path, help="write 'PORT ADMIN_PORT' here when ready")
    serve.add_argument("--quiet", action="store_true", help="log warnings only")
    serve.set_defaults(run=run_serve)


def _parse_setting(text: str) -> tuple[str, Any]:
    """``--set NAME=VALUE``: a protocol knob (checked against protocol/knobs.py) or one of the
    broker's settings (BrokerConfig's other fields, checked when the broker is built)."""
    from kafka_eos.protocol.knobs import KNOBS, parse_assignment, parse_knob_text

    name, raw = parse_assignment(text, option="--set")
    if name in KNOBS:
        return name, parse_knob_text(name, raw, where=f"--set {name}")
    value: Any = raw
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        try:
            value = int(raw)
        except ValueError:
            value = raw
    return name, value


def run_serve(args: argparse.Namespace) -> int:
    from kafka_eos.reference.wire.app import ServeOptions, serve
    from kafka_eos.reference.wire.framing import DEFAULT_MAX_FRAME_SIZE

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: must be 0-65535")
    if args.partitions < 1:
        raise InputError(f"--partitions {args.partitions}: must be at least 1")
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="kafka-eos serve: %(message)s",
        stream=sys.stderr,
    )
    options = ServeOptions(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        partitions=args.partitions,
        history=args.history,
        request_log=args.request_log,
        admin_port=args.admin_port,
        max_frame_size=args.max_frame_size or DEFAULT_MAX_FRAME_SIZE,
        fsync=not args.no_fsync,
        config=dict(_parse_setting(k) for k in args.set),
        faults=list(args.fault),
        ready_file=args.ready_file,
    )
    asyncio.run(serve(options))
    return EXIT_OK
