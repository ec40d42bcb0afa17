"""Liveness under fairness agrees with TLC 2.18 on TLA+ peers of our own (tests/checker/tla/).

Each case pairs a TLA+ module and .cfg with its Python port in examples/; TLC's recorded
verdict and state count (tla/tlc_results.yaml) must be ours. TLC picks its counterexample
among many (the lasso differs between runs with two workers), so ours is judged on its own:
a real, fair behaviour of the model that violates the property. With ``KAFKA_EOS_TLA2TOOLS``
set to a tla2tools.jar, the opt-in test runs TLC itself and compares live.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from checker_examples import example
from lassos import lasso_problems
from tlc import JAR_VARIABLE, cases, run_tlc

from kafka_eos.checker import check

CASES = cases()


def _ours(entry: dict[str, Any]) -> tuple[Any, Any]:
    model = example(entry["python"]["model"], **entry["python"]["params"])
    return model, check(model)


@pytest.mark.parametrize("case", sorted(CASES))
def test_verdict_and_states_match_tlc(case: str) -> None:
    entry = CASES[case]
    model, result = _ours(entry)
    assert result.verdict == entry["tlc"]["verdict"]
    assert result.distinct_states == entry["tlc"]["distinct_states"]
    if result.verdict == "violated":
        assert result.violation_kind == "temporal"
        assert result.trace is not None and result.trace.loop is not None
        prop = dict(model.temporal_properties())[result.violated]
        assert lasso_problems(model, result.trace, prop) == []


def test_the_peers_cover_both_verdicts_and_both_fairness_kinds() -> None:
    verdicts = {entry["tlc"]["verdict"] for entry in CASES.values()}
    fairness = {entry["python"]["params"]["fairness"] for entry in CASES.values()}
    assert verdicts == {"ok", "violated"}
    assert {"weak", "strong", "none"} <= fairness
    assert len({entry["module"] for entry in CASES.values()}) >= 3


@pytest.mark.skipif(not os.environ.get(JAR_VARIABLE) or shutil.which("java") is None,
                    reason=f"set {JAR_VARIABLE} to a tla2tools.jar (TLC 2.18) to run TLC")
@pytest.mark.parametrize("case", sorted(CASES))
def test_live_tlc_agrees(case: str) -> None:
    entry = CASES[case]
    answer = run_tlc(os.environ[JAR_VARIABLE], case, entry["module"])
    _, result = _ours(entry)
    assert (result.verdict, result.distinct_states) == (answer.verdict, answer.distinct_states)
