"""The verdict table (spec/verdicts.yaml): what the checker measures for each named check.

Every row is written by measuring, never by hand::

    python -m kafka_eos.model.verdicts            # print the measured table
    python -m kafka_eos.model.verdicts --write    # and store it in spec/verdicts.yaml

tests/model/test_model_verdicts.py checks every row against the checker again (rows marked ``slow``
only with ``pytest -m slow``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

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
    return header + yaml.safe_dump(rows, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="store the table in spec/")
    parser.add_argument("names", nargs="*", help="configurations (default: all)")
    args = parser.parse_args(argv)
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
