"""``kafka-eos prove`` (z3 proofs of the sequence rules) and ``kafka-eos explain HISTORY``.

``prove`` runs every claim of protocol/proofs.py and prints each with its result and time;
claims meant to fail are expected to get a counterexample. Exit 0 when every claim has its
expected outcome, 1 when one does not (a claim that should hold has a counterexample), 3 when
z3 gave up on one (timeout) and none failed.

``explain`` checks a history (JSON lines, or an ITF trace ``*.itf.json`` converted by the
model's ``history_from_itf``): its EOS properties (check_history) and its ordering constraints
(z3). Exit 0 "consistent", 1 with the violations and a minimal core of conflicting
constraints in the history's own terms, 2 for a file that is not a history. A JSON-lines
history is read line by line; on a terminal a progress bar follows the reading and the rule
families (protocol/ordering.py decides each rule on the observed values and gives z3 only the
piece that explains a violation, so a 100 MB history needs no more than its events' memory).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kafka_eos.cli.main import EXIT_BOUNDED, EXIT_OK, EXIT_VIOLATED
from kafka_eos.cli.validate import add_history_arguments, every_read_committed, load_history
from kafka_eos.errors import shown


def register(subparsers: Any) -> None:
    prove = subparsers.add_parser(
        "prove",
        help="prove the sequence-number rules for every 32-bit value (z3)",
        description="Prove with z3, for all sequence values, the wrap-around arithmetic, the "
        "in-sequence test and duplicate detection of retries; claims meant to fail show their "
        "counterexample. Exit 0 all as expected, 1 a claim failed, 3 z3 gave up.",
    )
    prove.add_argument("--json", action="store_true", help="print one JSON document")
    prove.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=20.0,
        help="give up on a claim after this long (default 20)",
    )
    prove.set_defaults(run=run_prove)

    explain = subparsers.add_parser(
        "explain",
        help="check a history's EOS properties and ordering constraints; explain a conflict",
        description="Check a history (JSON lines, or an ITF trace *.itf.json): the EOS "
        "properties and the ordering constraints of offsets, sequences, markers, visibility "
        "and consumer positions. Prints 'consistent' (exit 0) or the violations and a minimal "
        "set of conflicting constraints (exit 1).",
    )
    add_history_arguments(explain)
    explain.set_defaults(run=run_explain)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {shown(text)}") from None
    if not 0 < value <= _Z3_LONGEST_TIMEOUT_SECONDS:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {_Z3_LONGEST_TIMEOUT_SECONDS:,} seconds, "
            f"got {shown(text)}"
        )
    return value


# z3 takes its timeout in milliseconds as an unsigned 32-bit integer (about 49 days).
_Z3_LONGEST_TIMEOUT_SECONDS = (2**32 - 1) // 1000


# --- prove ------------------------------------------------------------------------------------


def run_prove(args: argparse.Namespace) -> int:
    from kafka_eos.protocol.proofs import default_claims, prove

    results = []
    for claim in default_claims():
        result = prove(claim, timeout_ms=int(args.timeout * 1000))
        results.append(result)
        if not args.json:
            print(result.summary(), flush=True)
    failed = [r for r in results if not r.ok and r.outcome != "unknown"]
    unknown = [r for r in results if r.outcome == "unknown"]
    code = EXIT_VIOLATED if failed else EXIT_BOUNDED if unknown else EXIT_OK
    if args.json:
        document = {
            "ok": code == EXIT_OK,
            "claims": [r.to_json() for r in results],
            "seconds": round(sum(r.seconds for r in results), 4),
        }
        print(json.dumps(document, indent=2))
        return code
    proved = sum(r.outcome == "proved" and r.ok for r in results)
    expected = sum(r.outcome == "counterexample" and r.ok for r in results)
    total = sum(r.seconds for r in results)
    summary = f"{len(results)} claims: {proved} proved, {expected} counterexamples as expected"
    if failed:
        summary += f", {len(failed)} FAILED ({', '.join(r.claim for r in failed)})"
    if unknown:
        summary += f", {len(unknown)} undecided ({', '.join(r.claim for r in unknown)})"
    print(f"{summary} in {total:.2f}s")
    return code


# --- explain ----------------------------------------------------------------------------------


def run_explain(args: argparse.Namespace) -> int:
    from kafka_eos.protocol.history_checks import check_history
    from kafka_eos.protocol.ordering import check_ordering

    path = Path(args.history)
    with _ExplainProgress(enabled=not args.json and sys.stderr.isatty(), path=path) as shown:
        events = _read_events(path, shown)
        shown.stage("checking the EOS properties")
        violations = check_history(events, every_read_committed=every_read_committed(args))
        ordering = check_ordering(events, progress=shown.rule_family)
    consistent = ordering.consistent and not violations
    code = EXIT_OK if consistent else EXIT_VIOLATED
    if args.json:
        document = {
            "history": str(path),
            "events": len(events),
            "consistent": consistent,
            "ordering": ordering.to_json(),
            "violations": [
                {"property": v.property, "message": v.message, "events": list(v.positions)}
                for v in violations
            ],
        }
        print(json.dumps(document, indent=2))
        return code
    if consistent:
        print(
            f"consistent: {len(events)} events, {ordering.constraints} ordering constraints "
            "hold, no EOS property violated"
        )
        return code
    if ordering.consistent:
        print(
            f"EOS properties violated ({len(violations)}), though the "
            f"{ordering.constraints} ordering constraints hold:"
        )
    else:
        for line in ordering.lines():
            print(line)
        if violations:
            print(f"{len(violations)} EOS property violation(s):")
    for violation in violations:
        print(f"  {violation}")
    return code


def _read_events(path: Path, shown: _ExplainProgress) -> list[Any]:
    """The history's events; a JSON-lines file is read line by line, showing progress."""
    from kafka_eos.cli.validate import ITF_SUFFIX
    from kafka_eos.protocol.history import iter_history

    if path.name.endswith(ITF_SUFFIX):
        return load_history(path)
    return list(iter_history(path, on_line=shown.bytes_read))


class _ExplainProgress:
    """explain's progress on a terminal (rich, on stderr, gone when done): the bytes of the
    history read, then the EOS checks, then each family of ordering rules."""

    def __init__(self, *, enabled: bool, path: Path) -> None:
        self.enabled = enabled
        self.path = path
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _ExplainProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("explain: {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            try:
                size: int | None = self.path.stat().st_size
            except OSError:
                size = None
            self.task = self.bar.add_task(f"reading {self.path.name}", total=size)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def bytes_read(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def stage(self, description: str, done: int = 0, total: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=description, completed=done, total=total)

    def rule_family(self, family: str, done: int, total: int) -> None:
        self.stage(f"ordering rules: {family}", done, total)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run as: kafka-eos prove | kafka-eos explain HISTORY")
