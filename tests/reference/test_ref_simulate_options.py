"""``kafka-eos simulate --reference`` honours or refuses every option: a bad bound is a one-line
usage error (exit 2), an option that only applies to the model is refused instead of being
ignored, and --time-budget stops a long run with a summary and exit 3."""

from __future__ import annotations

import json
import time

import pytest
from user_errors import assert_one_line_error

from kafka_eos.cli.main import EXIT_BOUNDED, main

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--time-budget", "-1"), "--time-budget must be a positive number of seconds"),
        (("--time-budget", "soon"), "--time-budget must be a positive number of seconds"),
        (("--walks", "-5"), "--walks applies to the model only"),
        (("--walks", "5"), "--walks applies to the model only"),
        (("--model", "x.py:M"), "--model applies to the model only"),
        (("--param", "n=1"), "--param applies to the model only"),
        (("--deadlock",), "--deadlock applies to the model only"),
        (("--max-depth", "7"), "--max-depth applies to the model only; use --steps"),
        (("--steps", "-3"), "--steps must be a positive integer"),
    ],
)
def test_options_that_do_not_apply_or_make_no_sense_are_refused(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], expected: str
) -> None:
    code = main(["simulate", "--reference", "--steps", "50", *args])
    assert expected in assert_one_line_error(code, capsys.readouterr().err)


def test_the_time_budget_stops_a_run_that_would_take_hours(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    code = main(
        ["simulate", "--reference", "--steps", "1000000000", "--time-budget", "2", "--json"]
    )
    elapsed = time.monotonic() - started
    assert code == EXIT_BOUNDED
    assert elapsed < 30  # 2 s of steps, then the run settles and is checked
    document = json.loads(capsys.readouterr().out)
    assert document["verdict"] == "incomplete"
    assert document["stopped_by"] == "time_budget"
    assert 0 < document["steps"] < 1_000_000_000
    assert document["violated"] == []


def test_the_time_budget_summary_says_what_stopped_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["simulate", "--reference", "--steps", "1000000000", "--time-budget", "1"])
    assert code == EXIT_BOUNDED
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "--time-budget 1" in out and "of 1,000,000,000 steps" in out


def test_a_run_that_ends_within_its_budget_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--reference", "--steps", "200", "--time-budget", "60"]) == 0
    assert "ok after 200 steps" in capsys.readouterr().out
