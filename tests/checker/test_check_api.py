"""check(): verdicts, shortest traces, action properties, deadlocks, bounds and coverage."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from checker_examples import example
from toy_models import Counter, DeadEnd, DeadEndIsError, FastPathCounter, MonotoneCounter

from kafka_eos.checker import check
from kafka_eos.errors import InputError
from kafka_eos.model.configs import load_check_config


def test_invariant_violation_comes_with_the_shortest_trace() -> None:
    result = check(Counter(top=9, forbid=4))
    assert result.verdict == "violated"
    assert (result.violated, result.violation_kind) == ("NotForbidden", "invariant")
    assert result.trace is not None
    assert result.trace.states == [0, 1, 2, 3, 4]
    assert result.trace.labels == ["Inc"] * 4


def test_violation_in_an_initial_state_is_a_trace_of_zero_steps() -> None:
    result = check(Counter(top=3, forbid=0))
    assert result.verdict == "violated"
    assert result.trace is not None
    assert (result.trace.states, result.trace.labels) == ([0], [])


def test_action_property_is_checked_on_every_transition() -> None:
    result = check(MonotoneCounter(top=3))
    assert (result.verdict, result.violated) == ("violated", "NeverDecreases")
    assert result.violation_kind == "action_property"
    assert result.trace is not None
    # Reset from 0 to 0 does not decrease; the first decrease is Inc then Reset.
    assert result.trace.labels == ["Inc", "Reset"]
    assert result.trace.states == [0, 1, 0]


def test_model_fast_paths_replace_the_predicates_and_change_no_verdict() -> None:
    model = FastPathCounter(top=6)
    result = check(model)
    assert (result.verdict, result.distinct_states, result.transitions) == ("ok", 7, 13)
    assert model.fast_path_calls == 6 + 13  # once per new state, once per step
    # the two invariants on the initial state only (once for an exception, once for a verdict)
    assert model.predicate_calls == 4


def test_a_fast_path_that_says_no_gets_the_first_broken_property_named() -> None:
    result = check(FastPathCounter(top=6, bad=4))
    assert (result.verdict, result.violated, result.violation_kind) == (
        "violated", "NotIntoBad", "action_property")
    assert result.trace is not None and result.trace.states == [0, 1, 2, 3, 4]
    result = check(FastPathCounter(top=6, bad=4, into_bad_allowed=True))
    assert (result.verdict, result.violated, result.violation_kind) == (
        "violated", "NotBad", "invariant")
    assert result.trace is not None and result.trace.states == [0, 1, 2, 3, 4]


def test_a_fast_path_that_disagrees_with_every_predicate_is_a_model_error() -> None:
    with pytest.raises(InputError, match=r"FastPathCounter.invariants_hold_after\(\) says a "
                       "property is broken but every predicate holds, on state 1"):
        check(FastPathCounter(top=6, lying=True))


def test_deadlock_is_reported_only_when_asked_for() -> None:
    assert check(DeadEnd(top=3)).verdict == "ok"
    result = check(DeadEnd(top=3), deadlock=True)
    assert (result.verdict, result.violated, result.violation_kind) == (
        "violated", "deadlock", "deadlock"
    )
    assert result.trace is not None
    assert result.trace.states == [0, 1, 2, 3]


def test_model_can_declare_deadlock_an_error_and_caller_can_override() -> None:
    assert check(DeadEndIsError(top=2)).violated == "deadlock"
    assert check(DeadEndIsError(top=2), deadlock=False).verdict == "ok"


def test_max_states_stops_with_incomplete_not_ok() -> None:
    result = check(example("two_phase.py:TwoPhase", rms=3), max_states=50)
    assert result.verdict == "incomplete"
    assert result.stopped_by == "max_states"
    assert 50 <= result.distinct_states < 288
    assert result.violated is None


def test_max_depth_below_the_diameter_is_incomplete_and_at_it_is_ok() -> None:
    # TwoPhase with 3 RMs: every state is within 10 steps of the initial state.
    model = example("two_phase.py:TwoPhase", rms=3)
    full = check(model)
    assert full.max_depth == 10
    shallow = check(model, max_depth=9)
    assert (shallow.verdict, shallow.stopped_by) == ("incomplete", "max_depth")
    assert shallow.distinct_states < 288
    exact = check(model, max_depth=10)
    assert (exact.verdict, exact.distinct_states) == ("ok", 288)


def test_time_budget_stops_a_run() -> None:
    result = check(example("two_phase.py:TwoPhase", rms=5), time_budget=1e-9)
    assert (result.verdict, result.stopped_by) == ("incomplete", "time_budget")
    assert result.distinct_states < 8832


def test_coverage_counts_transitions_and_lists_never_taken_actions() -> None:
    result = check(Counter(top=3))
    # States 0..3: Reset from each (4), Inc from 0, 1, 2 (3).
    assert result.coverage == {"Inc": 3, "Reset": 4, "Never": 0}
    assert result.never_taken == ["Never"]
    assert result.transitions == 7 == sum(result.coverage.values())


def test_coverage_folds_labels_into_action_names() -> None:
    result = check(example("two_phase.py:TwoPhase", rms=3))
    assert set(result.coverage) == {
        "TMCommit", "TMAbort", "TMRcvPrepared", "RMPrepare", "RMChooseToAbort",
        "RMRcvCommitMsg", "RMRcvAbortMsg",
    }
    assert result.never_taken == []
    assert result.transitions == sum(result.coverage.values())


def test_progress_callback_sees_growing_counts() -> None:
    seen = []
    check(example("two_phase.py:TwoPhase", rms=5), progress=seen.append)
    # 8,832 states in well under a second may give no report; if any, they are consistent.
    for report in seen:
        assert 0 < report.distinct_states <= 8832
        assert report.depth <= 16


@pytest.mark.parametrize("options", [{}, {"store": "fingerprints"}, {"workers": 2}])
def test_progress_says_when_the_temporal_properties_are_checked(options: dict[str, Any]) -> None:
    # after the last state is explored the graph's check can take a minute: the callback
    # is told, once, with the final counts
    seen: list[Any] = []
    result = check(load_check_config("tv2-producer-id-rotation").model, progress=seen.append,
                   **options)
    temporal = [report for report in seen if report.phase == "temporal"]
    assert [(r.distinct_states, r.transitions) for r in temporal] == [
        (result.distinct_states, result.transitions)]
    assert all(report.phase == "search" for report in seen[:-1]) and seen[-1] is temporal[0]


def test_to_json_has_the_documented_fields() -> None:
    document = check(example("die_hard.py:DieHard")).to_json()
    assert json.loads(json.dumps(document)) == document
    assert document["verdict"] == "violated"
    assert document["violated"] == "NotSolved"
    assert document["trace_length"] == 6
    for key in ("distinct_states", "transitions", "max_depth", "seconds"):
        assert isinstance(document[key], int | float)


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_states", 0), ("max_states", -1), ("max_depth", -1), ("time_budget", 0),
     ("max_states", 2.5), ("max_states", True)],
)
def test_bad_bounds_are_rejected(option: str, value: object) -> None:
    from kafka_eos.errors import InputError

    with pytest.raises(InputError, match=option):
        check(Counter(), **{option: value})  # type: ignore[arg-type]


class _CollectorWitness(Counter):
    """A counter that notes, at each state it expands, whether the cyclic collector is on;
    with ``garbage``, each expansion also leaves that many reference cycles behind."""

    def __init__(self, *, top: int = 3, garbage: int = 0) -> None:
        super().__init__(top=top)
        self.garbage = garbage
        self.enabled: dict[int, bool] = {}

    def actions(self, state: int) -> list[tuple[str, int]]:
        self.enabled[state] = gc.isenabled()
        for _ in range(self.garbage):
            loop: list[object] = []
            loop.append(loop)
        return super().actions(state)


@pytest.mark.parametrize("caller_enabled", [True, False])
def test_the_search_turns_the_collector_off_and_gives_the_callers_back(
        caller_enabled: bool) -> None:
    # Inside, the collector is off (its young collections were 3-14% of a Kafka check's CPU
    # time and the search makes no cycles); a library caller's own settings survive a check.
    saved, was_enabled = gc.get_threshold(), gc.isenabled()
    gc.set_threshold(1234, 5, 6)
    (gc.enable if caller_enabled else gc.disable)()
    try:
        model = _CollectorWitness()
        assert check(model).verdict == "ok"
        assert gc.get_threshold() == (1234, 5, 6)
        assert gc.isenabled() == caller_enabled
    finally:
        gc.set_threshold(*saved)
        (gc.enable if was_enabled else gc.disable)()
    assert set(model.enabled.values()) == {False}


def test_a_model_that_makes_cyclic_garbage_gets_the_collector_back() -> None:
    # The search probes for cyclic garbage at depths 1, 2, 4, ...: the first probe finds the
    # model's cycles and turns rare collections on for the rest of the search, so a model
    # that makes cycles does not grow without bound.
    model = _CollectorWitness(top=10, garbage=5)
    assert check(model).verdict == "ok"
    assert model.enabled[0] is False  # the initial state, expanded before the first probe
    assert all(model.enabled[state] for state in range(1, 11))
