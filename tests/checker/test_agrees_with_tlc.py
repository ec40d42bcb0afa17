"""The checker reproduces TLC's numbers on classic TLA+ specifications.

TLC's figures: TwoPhase.tla (RM = r1..rN) has 288 distinct states for 3 RMs, 8,832 for 5,
296,448 for 7 and 1,745,408 for 8; DieHard.tla has 16 reachable states and its shortest
solution (the violation of NotSolved == big /= 4) takes 6 steps.
"""

from __future__ import annotations

import pytest
from checker_examples import example

from kafka_eos.checker import check


@pytest.mark.parametrize(("rms", "states"), [(3, 288), (5, 8832)])
def test_two_phase_state_counts_match_tlc(rms: int, states: int) -> None:
    result = check(example("two_phase.py:TwoPhase", rms=rms))
    assert result.verdict == "ok"
    assert result.distinct_states == states
    assert result.violated is None and result.trace is None


def test_two_phase_seven_rms_matches_tlc() -> None:
    result = check(example("two_phase.py:TwoPhase", rms=7))
    assert (result.verdict, result.distinct_states) == ("ok", 296_448)


@pytest.mark.slow
def test_two_phase_eight_rms_matches_tlc() -> None:
    result = check(example("two_phase.py:TwoPhase", rms=8))
    assert (result.verdict, result.distinct_states) == ("ok", 1_745_408)


def test_die_hard_has_sixteen_reachable_states() -> None:
    result = check(example("die_hard.py:DieHard", goal=None))
    assert (result.verdict, result.distinct_states) == ("ok", 16)


def test_die_hard_shortest_solution_takes_six_steps() -> None:
    result = check(example("die_hard.py:DieHard"))
    assert result.verdict == "violated"
    assert result.violated == "NotSolved"
    assert result.violation_kind == "invariant"
    assert result.trace is not None
    assert result.trace.steps == 6
    assert result.trace.states[0] == (0, 0)
    assert result.trace.states[-1].big == 4
    # Every step of the trace is a real step of the model.
    model = example("die_hard.py:DieHard")
    states, labels = result.trace.states, result.trace.labels
    for before, label, after in zip(states[:-1], labels, states[1:], strict=True):
        assert (label, after) in list(model.actions(before))
