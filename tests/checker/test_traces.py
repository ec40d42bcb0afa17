"""Counterexamples as ITF (Apalache/Quint's JSON trace format) and as readable text."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
from checker_examples import example

from kafka_eos.checker import Trace, check
from kafka_eos.checker.itf import decode, encode, read_itf, trace_to_itf, write_itf
from kafka_eos.checker.text import format_trace
from kafka_eos.errors import InputError


def test_die_hard_six_step_itf_trace_reads_back(tmp_path: Path) -> None:
    model = example("die_hard.py:DieHard")
    result = check(model)
    assert result.trace is not None
    path = tmp_path / "die_hard.itf.json"
    write_itf(path, result.trace, model, meta={"model": "examples/die_hard.py:DieHard"})

    trace = read_itf(path)
    assert trace.vars == ["big", "small"]
    assert len(trace.states) == 7
    assert trace.labels == result.trace.labels
    assert trace.states[0] == {"big": 0, "small": 0}
    assert trace.states[-1]["big"] == 4
    assert trace.meta["model"] == "examples/die_hard.py:DieHard"
    assert trace.meta["format"] == "ITF"
    raw = json.loads(path.read_text())
    assert [s["#meta"] for s in raw["states"][:2]] == [
        {"index": 0, "action": "init"},
        {"index": 1, "action": result.trace.labels[0]},
    ]


def test_two_phase_itf_uses_sets_records_and_maps() -> None:
    model = example("two_phase.py:TwoPhase", rms=2)
    first = next(iter(model.init_states()))
    label, second = next(step for step in model.actions(first) if step[0] == "RMPrepare(r1)")
    document = trace_to_itf(Trace(states=[first, second], labels=[label]), model)
    assert document["vars"] == ["rmState", "tmState", "tmPrepared", "msgs"]
    last = document["states"][1]
    assert last["rmState"] == {"r1": "prepared", "r2": "working"}
    assert last["tmPrepared"] == {"#set": []}
    assert last["msgs"] == {"#set": [{"type": "Prepared", "rm": "r1"}]}


class Colour(enum.Enum):
    RED = 1


class Point(NamedTuple):
    x: int
    y: int


@dataclass(frozen=True)
class Box:
    size: int


@pytest.mark.parametrize(
    ("value", "itf"),
    [
        (5, {"#bigint": "5"}),
        (2**70, {"#bigint": str(2**70)}),
        (-(2**60), {"#bigint": str(-(2**60))}),
        ("text", "text"),
        (True, True),
        ((True, "a"), {"#tup": [True, "a"]}),
        (["x", "y"], ["x", "y"]),
        (frozenset({"c", "a", "b"}), {"#set": ["a", "b", "c"]}),
        ({"a": 1}, {"a": {"#bigint": "1"}}),
        ({1: "x", 2: "y"}, {"#map": [[{"#bigint": "1"}, "x"], [{"#bigint": "2"}, "y"]]}),
        (Point(1, 2), {"x": {"#bigint": "1"}, "y": {"#bigint": "2"}}),
        (Box(3), {"size": {"#bigint": "3"}}),
        (Colour.RED, "RED"),
        (None, None),
    ],
)
def test_values_are_encoded_as_itf_says(value: object, itf: object) -> None:
    assert encode(value) == itf


@pytest.mark.parametrize(
    "value",
    [7, 2**80, "s", (1, (2, 3)), frozenset({(1, 2), (3, 4)}), {"k": frozenset({1})},
     {(1, 2): "pair key"}],
)
def test_encoded_values_decode_to_equal_values(value: object) -> None:
    assert decode(json.loads(json.dumps(encode(value)))) == value


def test_decoded_records_can_live_in_sets() -> None:
    decoded = decode({"#set": [{"type": "Commit"}, {"type": "Prepared", "rm": "r1"}]})
    assert {"type": "Commit"} in list(decoded)
    assert len(decoded) == 2


def test_reads_a_trace_with_plain_json_numbers(tmp_path: Path) -> None:
    # ITF allows plain numbers for small integers (Apalache writes them); no action labels.
    path = tmp_path / "apalache.itf.json"
    path.write_text(json.dumps({
        "#meta": {"format": "ITF", "source": "DieHard.tla"},
        "vars": ["big", "small"],
        "states": [
            {"#meta": {"index": 0}, "big": 0, "small": 0},
            {"#meta": {"index": 1}, "big": 5, "small": 0},
        ],
    }))
    trace = read_itf(path)
    assert trace.states == [{"big": 0, "small": 0}, {"big": 5, "small": 0}]
    assert trace.labels == [""]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[1, 2]",
        '{"states": [{"x": {"#what": 1}}]}',
        '{"states": [{"x": 1}], "loop": 3}',  # a lasso's loop index past its states
    ],
)
def test_read_itf_rejects_what_is_not_a_trace(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError):
        read_itf(path)


def test_text_trace_shows_the_action_then_only_changed_variables() -> None:
    model = example("die_hard.py:DieHard")
    result = check(model)
    assert result.trace is not None
    text = format_trace(result.trace, model)
    steps = text.split("Step ")
    assert steps[0].splitlines() == ["State 0 (initial)", "  big = 0", "  small = 0"]
    # Step 3 empties the small jug: big is unchanged, so it is not shown.
    assert steps[3].splitlines() == ["3: EmptySmallJug", "  small = 0"]
    assert steps[6].splitlines() == ["6: BigToSmall", "  big = 4", "  small = 3"]


def test_text_trace_shows_changed_keys_and_set_additions() -> None:
    model = example("two_phase.py:TwoPhase", rms=3)
    first = next(iter(model.init_states()))
    label, second = next(step for step in model.actions(first) if step[0] == "RMPrepare(r2)")
    text = format_trace(Trace(states=[first, second], labels=[label]), model)
    assert text.split("Step 1: ")[1].splitlines() == [
        "RMPrepare(r2)",
        "  rmState[r2] = prepared",
        "  msgs added {Prepared(type=Prepared, rm=r2)}",
    ]
