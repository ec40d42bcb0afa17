"""BFS, symmetry reduction and random simulation agree with each other.

Symmetry reduction stores one state per orbit but must give the same verdicts, shortest
trace lengths and CONCRETE traces; a random walk only ever visits states BFS can reach, and
never finds a violation BFS says cannot happen.
"""

from __future__ import annotations

from typing import Any

import pytest
from checker_examples import example
from toy_models import Counter, MonotoneCounter, Recording, faulty_two_phase

from kafka_eos.checker import Trace, check, simulate


def assert_real_behaviour(model: Any, trace: Trace) -> None:
    """Every step of ``trace`` is a step the model can take, from an initial state."""
    assert trace.states[0] in list(model.init_states())
    for before, label, after in zip(trace.states[:-1], trace.labels, trace.states[1:],
                                    strict=True):
        assert (label, after) in list(model.actions(before))


@pytest.mark.parametrize("rms", [3, 4, 5])
def test_symmetry_stores_one_state_per_orbit_with_the_same_verdict(rms: int) -> None:
    plain = Recording(example("two_phase.py:TwoPhase", rms=rms))
    full = check(plain)
    symmetric_model = example("two_phase.py:TwoPhaseSymmetric", rms=rms)
    reduced = check(symmetric_model)
    assert full.verdict == reduced.verdict == "ok"
    assert reduced.symmetry and not full.symmetry
    orbits = {symmetric_model.canonical(state) for state in plain.expanded}
    assert len(plain.expanded) == full.distinct_states
    assert reduced.distinct_states == len(orbits) < full.distinct_states
    assert reduced.max_depth == full.max_depth


@pytest.mark.parametrize("rms", [3, 4])
def test_symmetry_finds_a_concrete_shortest_counterexample(rms: int) -> None:
    plain = check(faulty_two_phase(rms))
    model = faulty_two_phase(rms, symmetric=True)
    reduced = check(model)
    assert plain.verdict == reduced.verdict == "violated"
    assert plain.violated == reduced.violated == "TCConsistent"
    assert plain.trace is not None and reduced.trace is not None
    assert plain.trace.steps == reduced.trace.steps == 3
    # The reduced run's trace is a real behaviour, not a list of representatives.
    assert_real_behaviour(model, reduced.trace)
    rm_state = model.variables(reduced.trace.states[-1])["rmState"].values()
    assert "aborted" in rm_state and "committed" in rm_state


def test_symmetry_concretises_an_action_property_violation() -> None:
    model = faulty_two_phase(3, symmetric=True)

    def no_commit_without_all_prepared(before: Any, label: str, after: Any) -> bool:
        return label != "TMCommit" or len(model.variables(before)["tmPrepared"]) == 3

    model.action_properties = lambda: {"CommitNeedsAll": no_commit_without_all_prepared}
    result = check(model)
    assert (result.violated, result.violation_kind) == ("CommitNeedsAll", "action_property")
    assert result.trace is not None
    assert result.trace.labels == ["TMCommit"]
    assert_real_behaviour(model, result.trace)


def test_random_walks_stay_inside_the_reachable_states() -> None:
    exhaustive = Recording(example("two_phase.py:TwoPhase", rms=3))
    check(exhaustive)
    walked = Recording(example("two_phase.py:TwoPhase", rms=3))
    result = simulate(walked, seed=7, walks=200, max_depth=30)
    assert result.verdict == "incomplete"  # BFS says ok: no walk may find a violation
    assert result.violated is None
    assert walked.expanded <= exhaustive.expanded
    assert result.distinct_states <= 288


def test_simulation_finds_a_reachable_violation_with_a_real_trace() -> None:
    model = faulty_two_phase(3)
    shortest = check(model)
    result = simulate(model, seed=1, walks=500, max_depth=20)
    assert (result.verdict, result.violated) == ("violated", "TCConsistent")
    assert result.trace is not None
    assert result.trace.steps >= shortest.trace.steps  # type: ignore[union-attr]
    assert_real_behaviour(model, result.trace)


def test_simulation_checks_action_properties() -> None:
    result = simulate(MonotoneCounter(top=3), seed=0, walks=10, max_depth=10)
    assert (result.violated, result.violation_kind) == ("NeverDecreases", "action_property")
    assert result.trace is not None
    assert result.trace.labels[-1] == "Reset"


def test_same_seed_same_walks_and_different_seed_different_walks() -> None:
    def run(seed: int) -> dict[str, Any]:
        document = simulate(example("two_phase.py:TwoPhase", rms=4), seed=seed, walks=50,
                            max_depth=12).to_json()
        del document["seconds"], document["states_per_second"]
        del document["transitions_per_second"]
        return document

    assert run(3) == run(3)
    assert run(3)["coverage"] != run(4)["coverage"]


def test_same_seed_same_counterexample() -> None:
    first = simulate(faulty_two_phase(3), seed=11, walks=500, max_depth=20).trace
    second = simulate(faulty_two_phase(3), seed=11, walks=500, max_depth=20).trace
    assert first is not None and first == second


def test_simulation_without_walks_or_budget_still_ends() -> None:
    result = simulate(Counter(top=2), max_depth=5)
    assert result.walks == 1000
    assert result.stopped_by == "walks"
