"""``kafka-eos validate HISTORY``: check a history against the EOS properties; and the history
input ``validate`` and ``explain`` share (JSON lines, or an ITF trace ``*.itf.json``).

A JSON-lines history is read line by line, each line type-checked as it is read (memory holds the
events, never the file's text; a terminal shows how much is read); an ITF trace is
turned into a history by the model's ``history_from_itf`` and its reads are held to
read_committed's rules whatever their isolation, as the model's consumer properties are (so a
counterexample of the checker is a violation here too). Exit 0 when the history satisfies every
property, 1 when one is violated, 2 for a file that is not a history (one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kafka_eos.cli.main import EXIT_OK, EXIT_VIOLATED
from kafka_eos.cli.progress import StatusLine
from kafka_eos.cli.view import add_html_option, write_history_view

ITF_SUFFIX = ".itf.json"


def register(subparsers: Any) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="check a history (JSON lines or ITF) against the EOS properties",
        description=(
            "Check a history (JSON lines written by serve --history or a test, or an ITF trace "
            "*.itf.json) against the EOS properties. Exit 0 when it satisfies every one, 1 when "
            "one is violated. 'kafka-eos explain' also checks its ordering constraints."
        ),
    )
    add_history_arguments(validate)
    add_html_option(validate)
    validate.add_argument("--quiet", action="store_true", help="no progress display")
    validate.set_defaults(run=run_validate)


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    """The history file and output options ``explain`` and ``validate`` share."""
    parser.add_argument("history", metavar="HISTORY", help="history file (.jsonl or .itf.json)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--every-read-committed",
        action="store_true",
        help="hold read_uncommitted reads to read_committed's rules too (as the model's "
        "consumer properties do; always so for an ITF trace)",
    )


def every_read_committed(args: argparse.Namespace) -> bool:
    """Whether reads are held to read_committed's rules whatever their isolation: on request,
    and for a model's trace, whose consumer properties do so."""
    return bool(args.every_read_committed) or str(args.history).endswith(ITF_SUFFIX)


def run_validate(args: argparse.Namespace) -> int:
    from kafka_eos.protocol.history_checks import PROPERTIES, check_history

    path = Path(args.history)
    show = not args.quiet and not args.json and sys.stderr.isatty()
    with StatusLine(enabled=show) as status:
        events = load_history(path, status=status)
        status.show(f"checking {len(events):,} events against {len(PROPERTIES)} properties")
        violations = check_history(events, every_read_committed=every_read_committed(args))
    code = EXIT_VIOLATED if violations else EXIT_OK
    if args.html:
        write_history_view(args.html, events, title=args.history, violations=violations)
    if args.json:
        document = {
            "history": args.history,
            "events": len(events),
            "verdict": "violated" if violations else "ok",
            "violations": [
                {"property": v.property, "message": v.message, "events": list(v.positions)}
                for v in violations
            ],
            "html": args.html,
        }
        print(json.dumps(document, indent=2))
        return code
    if args.html:
        print(f"view written to {args.html}")
    for violation in violations:
        print(f"{violation.property}: {violation.message}")
    if violations:
        print(f"{len(violations)} violation(s) in {len(events)} events", file=sys.stderr)
        return code
    print(f"ok: {len(events)} events, no property violated")
    return code


def load_history(path: Path, *, status: StatusLine | None = None) -> list[Any]:
    """The events of a JSON-lines history or (``*.itf.json``) of an ITF trace; a JSON-lines
    history is read line by line, with how much is read on ``status``."""
    if path.name.endswith(ITF_SUFFIX):
        return _history_from_itf(path)
    from kafka_eos.protocol.history import iter_history

    if status is None:
        return list(iter_history(path))
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # iter_history says why it cannot read the file

    def read_so_far(done: int) -> None:
        share = f" ({done / size:.0%})" if size else ""
        status.show(f"reading {path.name}: {done / 1e6:,.0f} of {size / 1e6:,.0f} MB{share}")

    return list(iter_history(path, on_line=read_so_far))


def _history_from_itf(path: Path) -> list[Any]:
    from kafka_eos.checker.itf import read_itf
    from kafka_eos.model.history import history_from_itf

    return history_from_itf(read_itf(path), where=str(path))
