"""``kafka-eos check`` and ``kafka-eos simulate``, run in-process as a user runs them."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from checker_examples import EXAMPLES

from kafka_eos.checker.itf import read_itf
from kafka_eos.cli.main import main

TWO_PHASE = f"{EXAMPLES / 'two_phase.py'}:TwoPhase"
DIE_HARD = f"{EXAMPLES / 'die_hard.py'}:DieHard"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


def test_two_phase_ok_exits_zero_with_counts_and_coverage(capsys: Any) -> None:
    code, out, err = run(capsys, "check", "--model", TWO_PHASE, "--param", "rms=3")
    assert code == 0
    assert "OK: all 288 reachable states checked" in out
    assert "distinct states  288" in out
    assert "RMRcvAbortMsg" in out  # the coverage table
    assert err == ""  # no progress display when stderr is not a terminal


def test_coverage_names_each_outcome_the_run_never_took(capsys: Any) -> None:
    # idempotent: one producer, a lost answer and a retry; no leader ever refuses its batch
    code, out, _ = run(capsys, "check", "--config", "idempotent", "--quiet")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("outcomes never taken: "))
    assert "HandleProduce:OUT_OF_ORDER_SEQUENCE_NUMBER" in line
    assert "HandleProduce:DUPLICATE" not in line  # the retry is answered as a duplicate
    code, document = run_json(capsys, "check", "--config", "idempotent", "--quiet")
    assert document["outcome_coverage"]["HandleProduce"]["DUPLICATE"] > 0
    assert "HandleProduce:OUT_OF_ORDER_SEQUENCE_NUMBER" in document["outcomes_never_taken"]
    # a model whose labels are plain strings has no outcomes
    code, document = run_json(capsys, "check", "--model", TWO_PHASE, "--param", "rms=3")
    assert (document["outcome_coverage"], document["outcomes_never_taken"]) == ({}, [])


def test_json_output_has_the_documented_fields(capsys: Any) -> None:
    code, document = run_json(capsys, "check", "--model", TWO_PHASE, "--param", "rms=3")
    assert code == 0
    assert document["verdict"] == "ok"
    assert document["distinct_states"] == 288
    assert document["violated"] is None
    assert document["trace_length"] is None
    for key in ("transitions", "max_depth", "seconds"):
        assert key in document
    assert document["target"] == {"model": TWO_PHASE, "params": {"rms": 3}}


def test_violation_exits_one_and_prints_the_readable_shortest_trace(capsys: Any) -> None:
    code, out, _ = run(capsys, "check", "--model", DIE_HARD)
    assert code == 1
    assert "VIOLATED: invariant NotSolved (shortest counterexample: 6 steps)" in out
    assert "Step 6: BigToSmall" in out


def test_trace_out_json_writes_itf_that_reads_back(capsys: Any, tmp_path: Path) -> None:
    path = tmp_path / "die_hard.itf.json"
    code, document = run_json(capsys, "check", "--model", DIE_HARD, "--trace-out", str(path))
    assert (code, document["trace_length"], document["trace_out"]) == (1, 6, str(path))
    trace = read_itf(path)
    assert len(trace.labels) == 6
    assert trace.states[-1]["big"] == 4
    assert trace.meta["model"] == DIE_HARD
    assert trace.meta["violated"] == "NotSolved"


def test_trace_out_other_suffix_writes_text(capsys: Any, tmp_path: Path) -> None:
    path = tmp_path / "die_hard.txt"
    code, _, _ = run(capsys, "check", "--model", DIE_HARD, "--trace-out", str(path))
    assert code == 1
    assert path.read_text().startswith("State 0 (initial)\n  big = 0\n  small = 0\nStep 1: ")


def test_a_bound_exits_three_and_says_it_is_not_a_proof(capsys: Any) -> None:
    code, out, _ = run(capsys, "check", "--model", TWO_PHASE, "--max-states", "20")
    assert code == 3
    assert "INCOMPLETE: stopped by --max-states 20" in out
    code, document = run_json(capsys, "check", "--model", TWO_PHASE, "--max-depth", "3")
    assert (code, document["verdict"], document["stopped_by"]) == (3, "incomplete", "max_depth")


def test_deadlock_option(capsys: Any, tmp_path: Path) -> None:
    path = write_model(tmp_path, """
        class Line:
            def init_states(self): return [0]
            def actions(self, n): return [("Step", n + 1)] if n < 2 else []
            def invariants(self): return {}
    """)
    assert run(capsys, "check", "--model", f"{path}:Line")[0] == 0
    code, document = run_json(capsys, "check", "--model", f"{path}:Line", "--deadlock")
    assert (code, document["violated"], document["trace_length"]) == (1, "deadlock", 2)


def test_never_taken_actions_are_listed(capsys: Any, tmp_path: Path) -> None:
    path = write_model(tmp_path, """
        class Guarded:
            def init_states(self): return [0]
            def actions(self, n):
                steps = [("Inc", n + 1)] if n < 3 else []
                if n > 10:
                    steps.append(("Unreachable", 0))
                return steps
            def invariants(self): return {}
            def action_names(self): return ["Inc", "Unreachable"]
    """)
    code, out, _ = run(capsys, "check", "--model", f"{path}:Guarded")
    assert code == 0
    assert "never taken: Unreachable" in out


def test_simulate_same_seed_same_result(capsys: Any) -> None:
    argv = ["simulate", "--model", TWO_PHASE, "--param", "rms=4", "--seed", "5",
            "--walks", "30", "--max-depth", "15"]
    code, first = run_json(capsys, *argv)
    _, second = run_json(capsys, *argv)
    assert code == 3  # walks that find nothing prove nothing
    for document in (first, second):
        for key in ("seconds", "states_per_second", "transitions_per_second"):
            del document[key]
    assert first == second
    assert first["walks"] == 30


def test_simulate_finds_die_hard_solution(capsys: Any, tmp_path: Path) -> None:
    path = tmp_path / "walk.itf.json"
    code, document = run_json(capsys, "simulate", "--model", DIE_HARD, "--seed", "3",
                              "--trace-out", str(path))
    assert (code, document["violated"]) == (1, "NotSolved")
    assert read_itf(path).meta["seed"] == 3


def write_model(tmp_path: Path, source: str, name: str = "user_model.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def assert_one_line_error(capsys: Any, argv: list[str], *words: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("kafka-eos: error: ")
    for word in words:
        assert word in err
    return err


BAD_MODELS = {
    "unhashable": ("""
        class Lists:
            def init_states(self): return [[0]]
            def actions(self, s): return []
            def invariants(self): return {}
    """, ["not immutable", "unhashable", "list"]),
    "mutable_dataclass": ("""
        from dataclasses import dataclass
        @dataclass(unsafe_hash=True)
        class S:
            n: int
        class Mutable:
            def init_states(self): return [S(0)]
            def actions(self, s): return [("Inc", S(s.n + 1))] if s.n < 2 else []
            def invariants(self): return {}
    """, ["mutable dataclass", "frozen=True"]),
    "unhashable_successor": ("""
        class Later:
            def init_states(self): return [0]
            def actions(self, s): return [("Grow", (s, [1]))]
            def invariants(self): return {}
    """, ["not immutable", "list", "Grow"]),
    "identity_hashed": ("""
        class Box:
            pass
        class ByIdentity:
            def init_states(self): return [Box()]
            def actions(self, s): return []
            def invariants(self): return {}
    """, ["compares by identity"]),
    "invariant_raises": ("""
        class Raises:
            def init_states(self): return [0]
            def actions(self, n): return [("Dec", n - 1)] if n > -3 else []
            def invariants(self): return {"Inverse": lambda n: 1 / (n + 2) > -10}
    """, ["invariant 'Inverse' raised ZeroDivisionError", "on state -2"]),
    "non_callable_invariant": ("""
        class NotCallable:
            def init_states(self): return [0]
            def actions(self, n): return []
            def invariants(self): return {"Positive": True}
    """, ["'Positive' is not callable"]),
    "actions_raise": ("""
        class Broken:
            def init_states(self): return [0]
            def actions(self, n): return [("Next", n + 1)] if n < 2 else [("Oops", {}["x"])]
            def invariants(self): return {}
    """, ["actions() raised KeyError", "on state 2"]),
    "actions_raise_at_once": ("""
        class BrokenAtOnce:
            def init_states(self): return [0]
            def actions(self, n): return [("Next", n + "1")]
            def invariants(self): return {}
    """, ["actions() raised TypeError", "on state 0"]),
    "init_states_raise": ("""
        class NoStart:
            def init_states(self): raise RuntimeError("no start")
            def actions(self, n): return []
            def invariants(self): return {}
    """, ["init_states() raised RuntimeError: no start"]),
    "canonical_raises": ("""
        class BadSymmetry:
            def init_states(self): return [0]
            def actions(self, n): return [("Inc", n + 1)] if n < 3 else []
            def invariants(self): return {}
            def canonical(self, n): return n if n < 2 else n.nope
    """, ["canonical() raised AttributeError", "on state 2"]),
    "not_pairs": ("""
        class Singles:
            def init_states(self): return [0]
            def actions(self, n): return [n + 1]
            def invariants(self): return {}
    """, ["(label, next_state) pairs"]),
    "invariants_method_raises": ("""
        class NoInvariants:
            def init_states(self): return [0]
            def actions(self, n): return []
            def invariants(self): raise ValueError("not written yet")
    """, ["NoInvariants.invariants() raised ValueError: not written yet"]),
    "no_init_states": ("""
        class Empty:
            def init_states(self): return []
            def actions(self, n): return []
            def invariants(self): return {}
    """, ["init_states() produced no states"]),
    "missing_method": ("""
        class Half:
            def init_states(self): return [0]
    """, ["Half has no actions() method"]),
    "import_fails": ("""
        import no_such_module_anywhere
        class Fine:
            pass
    """, ["cannot import", "ModuleNotFoundError"]),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_bad_models_give_one_line_errors(capsys: Any, tmp_path: Path, case: str) -> None:
    source, words = BAD_MODELS[case]
    path = write_model(tmp_path, source)
    class_name = source.split("class ")[-1].split(":")[0].strip()
    assert_one_line_error(capsys, ["check", "--model", f"{path}:{class_name}"], *words)
    if case != "canonical_raises":  # simulation walks concrete states, without canonical()
        assert_one_line_error(capsys, ["simulate", "--model", f"{path}:{class_name}"], *words)


def test_traceback_option_shows_where_the_model_failed(capsys: Any, tmp_path: Path) -> None:
    source, _ = BAD_MODELS["invariant_raises"]
    path = write_model(tmp_path, source)
    code, _, err = run(capsys, "check", "--model", f"{path}:Raises", "--traceback")
    assert code == 2
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert err.strip().splitlines()[-1].startswith("kafka-eos: error: invariant 'Inverse'")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["check", "--model", "no/such/file.py:Model"], ["model file not found"]),
        (["check", "--model", f"{EXAMPLES / 'die_hard.py'}:Nope"], ["no class 'Nope'", "DieHard"]),
        (["check", "--model", str(EXAMPLES / "die_hard.py")], ["FILE.py:ClassName"]),
        (["check", "--model", TWO_PHASE, "--param", "rms"], ["NAME=VALUE"]),
        (["check", "--model", TWO_PHASE, "--param", "rms=[1, 2]"], ["not a scalar"]),
        (["check", "--model", TWO_PHASE, "--param", "rms=-1"], ["cannot build TwoPhase"]),
        (["check", "--model", TWO_PHASE, "--param", "nodes=3"], ["cannot build TwoPhase",
                                                                 "nodes"]),
        (["check", "--model", TWO_PHASE, "--max-states", "0"], ["--max-states"]),
        (["check", "--model", TWO_PHASE, "--max-states", "many"], ["--max-states"]),
        (["check", "--model", TWO_PHASE, "--max-depth", "-1"], ["--max-depth"]),
        (["check", "--model", TWO_PHASE, "--time-budget", "soon"], ["--time-budget"]),
        (["check", "--model", TWO_PHASE, "--time-budget", "-5"], ["--time-budget"]),
        (["check", "--model", TWO_PHASE, "--config", "default"], ["not both"]),
        (["check", "--param", "rms=3"], ["--param applies to --model"]),
        (["check", "--model", DIE_HARD, "--trace-out", "/no/such/dir/t.json"],
         ["cannot write the trace"]),
        (["simulate", "--model", TWO_PHASE, "--seed", "x"], ["--seed"]),
        (["simulate", "--model", TWO_PHASE, "--walks", "0"], ["--walks"]),
        (["simulate", "--model", TWO_PHASE, "--steps", "5"], ["--steps"]),
    ],
)
def test_bad_options_give_one_line_errors(capsys: Any, argv: list[str], words: list[str]) -> None:
    assert_one_line_error(capsys, argv, *words)


def test_two_phase_seven_rms_through_the_command_line(capsys: Any) -> None:
    code, document = run_json(capsys, "check", "--model", TWO_PHASE, "--param", "rms=7")
    assert (code, document["verdict"], document["distinct_states"]) == (0, "ok", 296_448)


def test_safety_only_leaves_the_temporal_properties_out_and_names_them(capsys: Any) -> None:
    # tv2-strict-marker-retry breaks only a liveness property (KAFKA-19999's lasso)
    code, full = run_json(capsys, "check", "--config", "tv2-strict-marker-retry", "--quiet")
    assert code == 1 and full["violation_kind"] == "temporal"
    code, safe = run_json(capsys, "check", "--config", "tv2-strict-marker-retry", "--quiet",
                          "--safety-only")
    assert code == 0 and safe["verdict"] == "ok"
    assert safe["distinct_states"] == full["distinct_states"]
    assert safe["temporal_properties"] == [] and safe["temporal_skipped"]
    code, out, _ = run(capsys, "check", "--config", "tv2-strict-marker-retry", "--quiet",
                       "--safety-only")
    assert "not checked" in out and "(--safety-only): ended_transactions_complete" in out


def test_workers_check_temporal_properties_and_safety_only_leaves_them_out(
        capsys: Any) -> None:
    code, whole = run_json(capsys, "check", "--config", "tv2-strict-marker-timeout", "--quiet",
                           "--workers", "2")
    assert (code, whole["violation_kind"], whole["workers"]) == (1, "temporal", 2)
    assert whole["violated"].startswith("ended_transactions_complete")
    code, alone = run_json(capsys, "check", "--config", "tv2-strict-marker-timeout", "--quiet",
                           "--safety-only")
    code_workers, spread = run_json(capsys, "check", "--config", "tv2-strict-marker-timeout",
                                    "--quiet", "--safety-only", "--workers", "2")
    assert (code, code_workers) == (0, 0)
    assert (spread["distinct_states"], spread["transitions"], spread["workers"]) == (
        alone["distinct_states"], alone["transitions"], 2)


def test_the_report_says_how_workers_split_the_states(capsys: Any) -> None:
    # which parts of a Kafka state decide its worker, and each worker's CPU
    code, shown = run_json(capsys, "check", "--config", "ctp-no-producer-epoch-check",
                           "--quiet", "--workers", "2")
    assert code == 1 and shown["ownership"].startswith("by parts ")
    assert len(shown["worker_cpu_seconds"]) == 2
    code, out, _ = run(capsys, "check", "--config", "ctp-no-producer-epoch-check", "--quiet",
                       "--workers", "2")
    assert code == 1 and "  workers          2 keeping their states, owning states by parts " in out
    assert "CPU s each: " in out
    code, out, _ = run(capsys, "check", "--config", "ctp-no-producer-epoch-check", "--quiet",
                       "--workers", "2", "--store", "fingerprints")
    assert code == 1 and "  workers          2 keeping fingerprints, owning states by parts " in out


def test_the_progress_line_shows_the_memory_the_check_holds() -> None:
    # what tells a user of a long run whether it will fit, or wants --store fingerprints
    from kafka_eos.checker import Progress
    from kafka_eos.cli.check import _ProgressDisplay

    shown: list[str] = []

    class Recorded(_ProgressDisplay):
        def show(self, text: str, *, seconds: float | None = None) -> None:
            shown.append(text)

    Recorded(enabled=True).update(Progress(distinct_states=5000, transitions=9000, depth=7,
                                           queue=1000, seconds=2.0))
    assert len(shown) == 1
    match = re.fullmatch(r"5,000 states  2,500 states/s  depth 7  queue 1,000  queue ~\d+ s  "
                         r"(\d+) MB  2 s|.*  \d+\.\d GB  2 s", shown[0])
    assert match is not None, shown
    assert match.group(1) is None or int(match.group(1)) > 10  # a Python process holds more
