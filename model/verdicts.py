"""The verdict table (spec/verdicts.yaml): what the checker measures for each named check.

Every row is written by measuring, never by hand::

    python -m kafka_eos.model.verdicts            # print the measured table
    python -m kafka_eos.model.verdicts --write    # and store it in spec/verdicts.yaml
    python -m kafka_eos.model.verdicts --readme README.md   # the stored table, as Markdown

tests/model/test_model_verdicts.py checks every row against the checker again (rows marked ``slow``
only with ``pytest -m slow``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from kafka_eos.errors import InputError

from .configs import list_check_configs, load_check_config

#: A row whose check takes longer than this (seconds, on the reference machine) is ``slow``.
SLOW_SECONDS = 5.0
_FIELDS = ("verdict", "violated", "trace_length", "distinct_states", "seconds", "slow")


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str
    violated: str | None
    trace_length: int | None
    distinct_states: int
    seconds: float
    slow: bool


def verdicts_path() -> Path:
    return Path(str(resources.files("kafka_eos.spec") / "verdicts.yaml"))


def load_verdicts() -> dict[str, Verdict]:
    """The stored table, config name -> expected verdict."""
    raw = yaml.safe_load(verdicts_path().read_text(encoding="utf-8")) or {}
    table = {}
    for name, row in raw.items():
        if set(row) != set(_FIELDS):
            raise InputError(f"{verdicts_path()}: row {name!r} must have {', '.join(_FIELDS)}")
        table[name] = Verdict(**row)
    return table


def measure(name: str) -> Verdict:
    """Check configuration ``name`` and return what the checker found."""
    from kafka_eos.checker import check

    config = load_check_config(name)
    started = time.perf_counter()
    result = check(config.model, **config.bounds)
    seconds = time.perf_counter() - started
    return Verdict(
        verdict=result.verdict,
        violated=result.violated,
        trace_length=len(result.trace.labels) if result.trace is not None else None,
        distinct_states=result.distinct_states,
        seconds=round(seconds, 1),
        slow=seconds > SLOW_SECONDS,
    )


def render(table: dict[str, Verdict]) -> str:
    header = (
        "# Expected result of every named check in spec/configs/, as measured by\n"
        "# `python -m kafka_eos.model.verdicts --write` (never edited by hand).\n"
        "# seconds: wall time of that measurement (informative); slow: the test runs it only\n"
        "# with `pytest -m slow`. tests/model/test_model_verdicts.py re-checks every row.\n"
    )
    rows = {name: {field: getattr(row, field) for field in _FIELDS} for name, row in table.items()}
    return header + str(yaml.safe_dump(rows, sort_keys=False))


README_BEGIN = "<!-- verdicts:begin -->"
README_END = "<!-- verdicts:end -->"


def markdown(table: dict[str, Verdict]) -> str:
    """The table for humans: what each check changes from Kafka 4.x and what the checker found."""
    from .params import Knobs

    defaults = {name: getattr(Knobs(), name) for name in Knobs.__slots__}
    lines = [
        "| check | knobs (besides Kafka 4.x defaults) | fault budgets | verdict "
        "| shortest counterexample | distinct states |",
        "|---|---|---|---|---|---:|",
    ]
    for name, row in table.items():
        config = load_check_config(name)
        changed = [
            f"{knob}={value}" for knob, value in config.knobs.items() if value != defaults[knob]
        ]
        if config.model.workload.consumer not in (None, "read_committed"):
            changed.append(f"consumer {config.model.workload.consumer}")
        knobs = ", ".join(changed)
        faults = ", ".join(f"{fault} {count}" for fault, count in config.faults.items() if count)
        verdict = "**ok**" if row.verdict == "ok" else row.verdict
        found = f"`{row.violated}`, {row.trace_length} steps" if row.violated else ""
        lines.append(
            f"| `{name}` | {knobs} | {faults} | {verdict} | {found} | {row.distinct_states:,} |"
        )
    return "\n".join(lines) + "\n"


def with_readme_table(readme: str, table: dict[str, Verdict]) -> str:
    """``readme`` with the Markdown table between its verdict markers replaced."""
    begin, end = readme.find(README_BEGIN), readme.find(README_END)
    if begin < 0 or end < begin:
        raise InputError(f"the README has no {README_BEGIN} ... {README_END} block")
    start = begin + len(README_BEGIN)
    return readme[:start] + "\n" + markdown(table) + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="store the table in spec/")
    parser.add_argument(
        "--readme", type=Path, help="write the stored table, as Markdown, into this README"
    )
    parser.add_argument("names", nargs="*", help="configurations (default: all)")
    args = parser.parse_args(argv)
    if args.readme is not None:
        args.readme.write_text(
            with_readme_table(args.readme.read_text(encoding="utf-8"), load_verdicts()),
            encoding="utf-8",
        )
        return 0
    names = args.names or list_check_configs()
    table = load_verdicts() if args.names and verdicts_path().exists() else {}
    for name in names:
        table[name] = measure(name)
        print(f"{name}: {table[name]}", flush=True)
    ordered = {name: table[name] for name in list_check_configs() if name in table}
    if args.write:
        verdicts_path().write_text(render(ordered), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
