"""Helpers for the tests that run every named Kafka check, or the CLI, in another mode."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from checker_examples import EXAMPLES

from kafka_eos.checker import CheckResult
from kafka_eos.model.verdicts import load_verdicts

TABLE = load_verdicts()
TWO_PHASE = f"{EXAMPLES / 'two_phase.py'}:TwoPhase"


def verdict_rows() -> list[Any]:
    """Every row of spec/verdicts.yaml, the slow ones marked slow."""
    return [pytest.param(name, marks=pytest.mark.slow) if row.slow else name
            for name, row in sorted(TABLE.items())]


def assert_gives_row(name: str, result: CheckResult) -> None:
    """``result`` has the row's verdict, property, trace length and distinct states."""
    expected = TABLE[name]
    trace_length = result.trace.steps if result.trace is not None else None
    assert (result.verdict, result.violated, trace_length, result.distinct_states) == (
        expected.verdict, expected.violated, expected.trace_length, expected.distinct_states)


def check_two_phase_json(rms: int, *options: str) -> dict[str, Any]:
    """``kafka-eos check --json`` of TwoPhase with ``rms`` RMs and ``options``."""
    done = subprocess.run(
        [sys.executable, "-m", "kafka_eos", "check", "--model", TWO_PHASE, "--param",
         f"rms={rms}", *options, "--json"], capture_output=True, text=True, check=True)
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown
