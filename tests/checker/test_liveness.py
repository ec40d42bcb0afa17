"""Temporal properties under fairness: TLA+'s semantics on models small enough to work out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from checker_examples import EXAMPLES, example
from lassos import lasso_problems

from kafka_eos.checker import check
from kafka_eos.checker.graph import StateGraph
from kafka_eos.checker.itf import read_itf, write_itf
from kafka_eos.checker.result import STUTTERING
from kafka_eos.checker.temporal import (
    Fairness,
    TemporalProperty,
    always_eventually,
    eventually,
    leads_to,
    strongly_fair,
    weakly_fair,
)
from kafka_eos.checker.text import LOOP_MARK, format_trace
from kafka_eos.cli.main import main
from kafka_eos.errors import InputError


class Steps:
    """A model given as a table: state -> [(label, next state)], initial state ``start``."""

    def __init__(
        self,
        table: dict[str, list[tuple[str, str]]],
        prop: TemporalProperty,
        fairness: list[Fairness],
        start: str = "a",
    ) -> None:
        self.table, self.prop, self.fair, self.start = table, prop, fairness, start

    def init_states(self) -> list[str]:
        return [self.start]

    def actions(self, state: str) -> Iterator[tuple[str, str]]:
        yield from self.table.get(state, [])

    def invariants(self) -> dict[str, Callable[[str], bool]]:
        return {}

    def temporal_properties(self) -> dict[str, TemporalProperty]:
        return {"Prop": self.prop}

    def fairness(self) -> list[Fairness]:
        return self.fair


def _checked(model: Steps) -> Any:
    result = check(model)
    if result.verdict == "violated":
        assert result.violation_kind == "temporal"
        assert lasso_problems(model, result.trace, model.prop) == []
    return result


REACH_GOAL = eventually(lambda s: s == "goal")


def test_without_fairness_a_behaviour_may_stutter_for_ever_in_its_first_state() -> None:
    model = Steps({"a": [("Go", "goal")]}, REACH_GOAL, [])
    result = _checked(model)
    assert result.verdict == "violated"
    assert result.trace.labels == [STUTTERING] and result.trace.loop == 0


def test_weak_fairness_forces_an_action_that_stays_enabled() -> None:
    assert _checked(Steps({"a": [("Go", "goal")]}, REACH_GOAL, [weakly_fair("Go")])).verdict == "ok"


def test_a_deadlock_is_stuttering_for_ever_not_an_error() -> None:
    # "goal" has no successor: the behaviour ends there by stuttering (TLC, deadlock check off).
    model = Steps({"a": [("Go", "goal")]}, always_eventually(lambda s: s == "a"),
                  [weakly_fair("Go")])
    result = _checked(model)
    assert result.verdict == "violated"
    assert result.trace.states == ["a", "goal", "goal"]
    assert result.trace.loop == 1


def test_a_step_back_to_the_same_state_is_stuttering_not_the_action_being_taken() -> None:
    # WF(Spin): Spin never changes the state, so it is never enabled in TLA+'s sense
    # (<<Spin>>_vars) and stuttering in "a" for ever is fair.
    table = {"a": [("Spin", "a"), ("Go", "goal")]}
    assert _checked(Steps(table, REACH_GOAL, [weakly_fair("Spin")])).verdict == "violated"
    assert _checked(Steps(table, REACH_GOAL, [weakly_fair("Go")])).verdict == "ok"


# a <-> b, a <-> c, and Grab leads from b to the goal: Grab is enabled in b only.
TRIANGLE = {
    "a": [("ToB", "b"), ("ToC", "c")],
    "b": [("Back", "a"), ("Grab", "goal")],
    "c": [("Back", "a")],
}
MOVES = [weakly_fair("ToB"), weakly_fair("Back")]


def test_weak_fairness_allows_an_action_enabled_only_now_and_then_never_to_be_taken() -> None:
    result = _checked(Steps(TRIANGLE, REACH_GOAL, [*MOVES, weakly_fair("Grab")]))
    assert result.verdict == "violated"


def test_strong_fairness_refines_the_component_down_to_a_cycle_avoiding_the_action() -> None:
    # {a, b, c} is not fair under SF(Grab) (Grab enabled in b, never taken), but the cycle
    # a -> c -> a never enables Grab: once b is removed it remains, and ToB is disabled in c.
    result = _checked(Steps(TRIANGLE, REACH_GOAL, [weakly_fair("Back"), strongly_fair("Grab")]))
    assert result.verdict == "violated"
    assert "b" not in result.trace.states[result.trace.loop:]


def test_strong_fairness_with_no_way_around_the_action_holds() -> None:
    # Without c every cycle passes through b, where Grab is enabled: strong fairness forces it,
    # weak fairness does not (Grab is disabled in a).
    table = {"a": [("ToB", "b")], "b": [("Back", "a"), ("Grab", "goal")]}
    assert _checked(Steps(table, REACH_GOAL, [*MOVES, strongly_fair("Grab")])).verdict == "ok"
    assert _checked(Steps(table, REACH_GOAL, [*MOVES, weakly_fair("Grab")])).verdict == "violated"


def test_leads_to_looks_only_after_the_trigger() -> None:
    # x is a counter 0..2 that a fair Inc raises and nothing lowers; "x = 1 ~> x = 2" holds,
    # "x = 1 ~> x = 0" does not, though x = 0 holds at the start.
    table = {"0": [("Inc", "1")], "1": [("Inc", "2")]}
    holds = leads_to(lambda s: s == "1", lambda s: s == "2")
    fails = leads_to(lambda s: s == "1", lambda s: s == "0")
    assert _checked(Steps(table, holds, [weakly_fair("Inc")], start="0")).verdict == "ok"
    result = _checked(Steps(table, fails, [weakly_fair("Inc")], start="0"))
    assert result.verdict == "violated"
    assert result.trace.states == ["0", "1", "2", "2"]


def test_per_label_fairness_is_one_constraint_per_label() -> None:
    whole = check(example("fair_server.py:Server", fairness="whole"))
    each = check(example("fair_server.py:Server", fairness="each"))
    assert (whole.verdict, each.verdict) == ("violated", "ok")


def test_the_lasso_checker_rejects_an_unfair_lasso() -> None:
    # The starving behaviour under weak fairness is not fair under strong fairness.
    weak = check(example("mutex.py:Mutex", fairness="weak"))
    strong_model = example("mutex.py:Mutex", fairness="strong")
    prop = strong_model.temporal_properties()[weak.violated]
    assert any("SF(Enter(each))" in p for p in lasso_problems(strong_model, weak.trace, prop))


def test_the_graph_is_recorded_only_when_a_temporal_property_is_checked() -> None:
    with_properties = check(example("mutex.py:Mutex", fairness="strong"))
    without = check(example("die_hard.py:DieHard", goal=None))
    assert with_properties.graph_bytes > 0 and with_properties.temporal_properties
    assert without.graph_bytes == 0 and without.temporal_properties == ()


def test_a_run_stopped_by_a_bound_checks_no_temporal_property() -> None:
    result = check(example("fair_server.py:Server", fairness="whole"), max_states=20)
    assert result.verdict == "incomplete" and result.trace is None


def test_the_same_model_gives_the_same_lasso() -> None:
    first = check(example("fair_server.py:Server", fairness="whole"))
    second = check(example("fair_server.py:Server", fairness="whole"))
    assert first.trace == second.trace


def test_the_text_trace_marks_where_the_loop_starts() -> None:
    model = example("mutex.py:Mutex", fairness="weak")
    text = format_trace(check(model).trace, model)
    lines = text.splitlines()
    assert lines[lines.index(LOOP_MARK) + 1].startswith("Step 2: ")
    assert lines[-3].endswith("(back to the state after step 1: the loop repeats for ever)")


def test_a_lasso_is_written_as_itf_with_its_loop_index(tmp_path: Path) -> None:
    model = example("mutex.py:Mutex", fairness="weak")
    trace = check(model).trace
    write_itf(tmp_path / "lasso.itf.json", trace, model)
    document = json.loads((tmp_path / "lasso.itf.json").read_text())
    assert document["loop"] == trace.loop == 1
    assert len(document["states"]) == len(trace.states) - 1  # the repeated state is not written
    assert document["#meta"]["loop_action"] == trace.labels[-1]
    read = read_itf(tmp_path / "lasso.itf.json")
    assert read.loop == 1 and read.labels == trace.labels[:-1]


class _Broken(Steps):
    def __init__(self, properties: Any = None, fairness: Any = ()) -> None:
        super().__init__({"a": [("Go", "goal")]}, REACH_GOAL, list(fairness))
        self.properties = properties

    def temporal_properties(self) -> Any:
        return self.properties

    def fairness(self) -> Any:
        return self.fair

    def action_names(self) -> list[str]:
        return ["Go"]


@pytest.mark.parametrize(("model", "message"), [
    (_Broken({"P": lambda s: True}), "'P' is not a temporal property"),
    (_Broken([REACH_GOAL]), "must return a mapping name -> property"),
    (_Broken({"P": REACH_GOAL}, ["Go"]), "'Go' is not a fairness constraint"),
    (_Broken({"P": REACH_GOAL}, [weakly_fair("Went")]), r"WF\(Went\) names no action"),
])
def test_a_wrong_declaration_is_one_line_naming_it(model: Any, message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        check(model)
    assert "\n" not in str(raised.value)


def test_a_property_that_raises_is_named() -> None:
    model = Steps({"a": [("Go", "goal")]}, eventually(lambda s: 1 / 0), [])
    with pytest.raises(InputError, match="temporal property 'Prop' raised ZeroDivisionError"):
        check(model)


def test_cli_exits_1_with_the_lasso_and_reports_it_in_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model = str(EXAMPLES / "lossy_channel.py:LossyChannel")
    out = tmp_path / "lasso.itf.json"
    assert main(["check", "--model", model, "--param", "fairness=weak"]) == 1
    text = capsys.readouterr().out
    assert "VIOLATED: temporal property Delivered" in text and LOOP_MARK in text
    code = main(["check", "--model", model, "--json", "--trace-out", str(out)])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["violation_kind"] == "temporal"
    assert report["trace_loop"] == json.loads(out.read_text())["loop"]
    assert report["temporal_properties"] == ["Delivered"]
    assert main(["check", "--model", model, "--param", "fairness=strong"]) == 0
    assert "temporal properties hold: Delivered" in capsys.readouterr().out


class _InvariantWithProperty(Steps):
    """A table model whose invariant fails at depth 3, reached along several paths."""

    def invariants(self) -> dict[str, Callable[[str], bool]]:
        return {"NotBad": lambda state: state != "bad"}


def test_a_graph_of_the_states_gives_the_shortest_trace_from_its_own_parent_links() -> None:
    # With temporal properties the graph keeps the parent links (no dict of its own); the
    # counterexample is the one the plain search's dict gives.
    table = {"a": [("x", "b"), ("y", "c")], "b": [("z", "d"), ("x", "c")],
             "c": [("w", "d"), ("v", "e")], "d": [("u", "bad")], "e": [("u", "e")]}
    model = _InvariantWithProperty(table, eventually(lambda s: s == "e"), [])
    graph, plain = check(model), check(model, temporal=False)
    assert graph.graph_bytes > 0 and plain.graph_bytes == 0
    assert (graph.verdict, graph.violated, graph.distinct_states) == ("violated", "NotBad", 6)
    assert graph.trace is not None and plain.trace is not None
    assert (graph.trace.states, graph.trace.labels) == (plain.trace.states, plain.trace.labels)
    assert graph.trace.states == ["a", "b", "d", "bad"]


class _NoStepInto(_InvariantWithProperty):
    """... and an action property: no step ``t`` into ``e``."""

    def action_properties(self) -> dict[str, Callable[[str, str, str], bool]]:
        return {"NoTIntoE": lambda before, label, after: not (label == "t" and after == "e")}


_BRANCHING = {"a": [("x", "b"), ("y", "c")], "b": [("z", "d"), ("x", "c")],
              "c": [("w", "d"), ("v", "e")], "d": [("u", "bad"), ("s", "a"), ("t", "e")],
              "e": [("u", "e")]}


@pytest.mark.parametrize(("model", "options"), [
    (_InvariantWithProperty(_BRANCHING, eventually(lambda s: s == "e"), []), {}),
    (_NoStepInto({**_BRANCHING, "d": [("s", "a"), ("t", "e"), ("r", "d")]},
                 eventually(lambda s: s == "e"), []), {}),
    (_InvariantWithProperty(_BRANCHING, eventually(lambda s: s == "e"), []), {"max_depth": 2}),
    (_InvariantWithProperty({**_BRANCHING, "d": [("s", "a")]},
                            eventually(lambda s: s == "a"), []), {}),
], ids=["invariant_mid_state", "action_property", "max_depth", "ok"])
def test_a_graph_of_the_states_counts_the_transitions_the_plain_search_counts(
        model: Steps, options: dict[str, Any]) -> None:
    # the graph counts its edges' labels at the end; a search stopped after a state's first
    # successors counted those only, and so must it
    graph, plain = check(model, **options), check(model, temporal=False, **options)
    assert graph.graph_bytes > 0
    assert (graph.verdict, graph.violated, graph.transitions, graph.coverage) == (
        plain.verdict, plain.violated, plain.transitions, plain.coverage)


def test_a_graph_past_65535_labels_keeps_each_edges_label() -> None:
    """The recorded labels are 16-bit numbers until the 65,536th distinct label, then 32-bit:
    every edge keeps its own label across the change (coverage and lassos read them)."""
    count = 70_000
    graph = StateGraph()
    graph.add_initial([0])
    recorded = graph.recording(lambda s: [(f"go{i}", i + 1) for i in range(count)] if s == 0
                               else [])
    assert len(recorded(0)) == count
    names = graph.label_list()
    assert graph.labels.typecode == "I" and len(graph.labels) == count
    assert [names[i] for i in graph.labels] == [f"go{i}" for i in range(count)]
