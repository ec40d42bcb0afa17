"""The fingerprint store: same answers as the plain store in a tenth of the memory.

Every named Kafka check gives its verdict-table row (verdict, violated property, shortest
trace length, distinct states) with fingerprints too; the large rows run under ``-m slow``.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from checker_examples import example
from named_checks import TWO_PHASE, assert_gives_row, check_two_phase_json, verdict_rows
from tlc import cases
from toy_models import Counter, DeadEnd, MonotoneCounter, faulty_two_phase

from kafka_eos.checker import bfs, check, memory
from kafka_eos.checker.fingerprint import canonical_bytes, collision_probability, fingerprint
from kafka_eos.checker.store import FingerprintStore
from kafka_eos.errors import InputError
from kafka_eos.model.configs import load_check_config


class Point(NamedTuple):
    x: int
    y: str


def test_fingerprints_are_the_same_under_every_hash_seed() -> None:
    # str hashes change with PYTHONHASHSEED, and so does the order of a frozenset of strs.
    program = (
        "from typing import NamedTuple\n"
        "from kafka_eos.checker.fingerprint import fingerprint\n"
        "class Point(NamedTuple):\n    x: int\n    y: str\n"
        "print(fingerprint((1, 'a', frozenset({'x', 'y', 'zz', 'w'}), Point(2, 'b'))))\n"
    )
    seen = {
        subprocess.run([sys.executable, "-c", program], check=True, capture_output=True,
                       text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(seen) == 1


def test_equal_states_share_a_fingerprint_whatever_their_sets_order() -> None:
    # 1, 9 and 17 share a slot of a small set's table: the first one added gets it.
    forwards = frozenset([1, 9, 17])
    backwards = frozenset([17, 9, 1])
    assert list(forwards) != list(backwards)  # iteration orders differ, values are equal
    assert fingerprint((forwards, 1)) == fingerprint((backwards, 1))
    shared = (1, 2)
    assert fingerprint((shared, shared)) == fingerprint(((1, 2), (1, 2)))  # sharing ignored


def test_a_states_fingerprint_depends_on_its_value_not_on_its_parts_table(
        monkeypatch: Any) -> None:
    # A tuple's parts are fingerprinted once per object (fingerprint._PARTS): a part met
    # again as another object, or after the table started again, gives the same fingerprint.
    from kafka_eos.checker import fingerprint as module

    monkeypatch.setattr(module, "_PARTS_HELD", 3)
    module._PARTS.clear()
    states = [(n, ("x", n % 3), tuple(range(n % 5)), frozenset({n % 2, 7})) for n in range(40)]
    first = [fingerprint(state) for state in states]
    assert len(module._PARTS) <= 3
    rebuilt = [(n, ("x", int(f"{n % 3}")), tuple(range(n % 5)), frozenset({7, n % 2}))
               for n in range(40)]
    assert [fingerprint(state) for state in reversed(rebuilt)] == first[::-1]
    module._PARTS.clear()
    assert [fingerprint(state) for state in states] == first
    assert len(set(first)) == len(states)
    # Parts dropped right after use: their ids come back for new objects, never their prints.
    module._PARTS.clear()
    assert len({fingerprint((tuple([n]),)) for n in range(2_000)}) == 2_000
    # A tuple of parts never shares its fingerprint with a part's own.
    assert fingerprint((5,)) != fingerprint(5) and fingerprint(((5,),)) != fingerprint((5,))


def test_different_states_get_different_fingerprints() -> None:
    states = [(a, b, frozenset({a})) for a in range(100) for b in range(100)]
    states += [Point(1, "a"), (1, "a"), Point(1, "b")]
    assert len({fingerprint(s) for s in states}) == len(states)
    assert canonical_bytes(Point(1, "a")) != canonical_bytes((1, "a"))


def test_the_store_grows_without_losing_a_state() -> None:
    store = FingerprintStore()
    numbers = list(range(1, 20_000))
    for n in numbers:
        assert n not in store
        store[n] = None
    assert len(store) == len(numbers)
    assert all(n in store for n in numbers)
    assert 0 not in store and 20_000 not in store


@pytest.mark.parametrize("rms", [3, 5, 6])
def test_two_phase_counts_match_tlc_with_fingerprints(rms: int) -> None:
    expected = {3: 288, 5: 8832, 6: 50816}[rms]
    result = check(example("two_phase.py:TwoPhase", rms=rms), store="fingerprints")
    assert (result.verdict, result.distinct_states, result.store) == ("ok", expected,
                                                                      "fingerprints")
    assert result.store_bytes / result.distinct_states <= 64


@pytest.mark.parametrize("model", [
    Counter(top=9, forbid=4), MonotoneCounter(top=3), faulty_two_phase(4),
    faulty_two_phase(4, symmetric=True), example("die_hard.py:DieHard"),
], ids=["invariant", "action_property", "faulty_two_phase", "symmetric", "die_hard"])
def test_fingerprints_find_the_same_concrete_trace(model: Any) -> None:
    plain = check(model, store="states")
    fingerprints = check(model, store="fingerprints")
    assert plain.verdict == fingerprints.verdict == "violated"
    assert (fingerprints.violated, fingerprints.distinct_states) == (plain.violated,
                                                                      plain.distinct_states)
    assert fingerprints.trace == plain.trace
    assert fingerprints.max_depth == plain.max_depth


def test_deadlock_and_bounds_stop_at_the_same_place() -> None:
    for options in ({"deadlock": True}, {"max_states": 100}, {"max_depth": 5}):
        model = DeadEnd(top=3) if "deadlock" in options else example(
            "two_phase.py:TwoPhase", rms=5)
        plain = check(model, store="states", **options)
        fingerprints = check(model, store="fingerprints", **options)
        assert (fingerprints.verdict, fingerprints.distinct_states, fingerprints.max_depth,
                fingerprints.trace) == (plain.verdict, plain.distinct_states, plain.max_depth,
                                        plain.trace), options


def test_auto_switches_to_fingerprints_past_its_threshold(monkeypatch: Any) -> None:
    model = faulty_two_phase(7)
    plain = check(model, store="states")
    monkeypatch.setattr(bfs, "AUTO_FINGERPRINTS_AFTER", 100)
    monkeypatch.setattr(bfs, "auto_memory_budget", lambda: 0)
    auto = check(model)
    assert (auto.store, plain.store) == ("fingerprints", "states")
    assert auto.trace == plain.trace and auto.distinct_states == plain.distinct_states
    ok = check(example("two_phase.py:TwoPhase", rms=5))
    assert (ok.store, ok.distinct_states) == ("fingerprints", 8832)


@pytest.mark.parametrize(("name", "threshold"), [("tv2-strict-marker-timeout", 100),
                                               ("tv2-producer-id-rotation", 5000)])
def test_auto_switches_a_check_with_temporal_properties_too(
        monkeypatch: Any, name: str, threshold: int) -> None:
    # past its own threshold the graph of the states goes on by number: the same figures and
    # lasso (tv2-strict-marker-timeout's), with fingerprints
    model = load_check_config(name).model
    plain = check(model, store="states")
    monkeypatch.setattr(bfs, "AUTO_FINGERPRINTS_WITH_GRAPH_AFTER", threshold)
    monkeypatch.setattr(bfs, "auto_memory_budget", lambda: 0)
    auto = check(model)
    assert (auto.store, plain.store) == ("fingerprints", "states")
    assert (auto.verdict, auto.distinct_states, auto.transitions, auto.trace) == (
        plain.verdict, plain.distinct_states, plain.transitions, plain.trace)
    assert auto.temporal_properties == plain.temporal_properties != ()


def test_auto_keeps_the_states_while_they_fit_in_its_share_of_memory(monkeypatch: Any) -> None:
    # past the threshold of states, a process far under its budget keeps the faster store
    monkeypatch.setattr(bfs, "AUTO_FINGERPRINTS_AFTER", 100)
    monkeypatch.setattr(bfs, "auto_memory_budget", lambda: 1 << 60)
    assert check(example("two_phase.py:TwoPhase", rms=5)).store == "states"


def test_the_memory_budget_is_a_share_of_the_machine_or_of_its_container(
        monkeypatch: Any, tmp_path: Path) -> None:
    physical = memory.machine_memory()
    assert physical > 0 and memory.auto_memory_budget() == int(physical * 0.25)
    no_limit, limit = tmp_path / "v2", tmp_path / "v1"
    no_limit.write_text("max\n")
    limit.write_text(f"{1 << 30}\n")
    monkeypatch.setattr(memory, "_CGROUP_LIMITS", (str(no_limit),))
    assert memory.machine_memory() == physical
    monkeypatch.setattr(memory, "_CGROUP_LIMITS", (str(no_limit), str(limit)))
    assert memory.machine_memory() == min(physical, 1 << 30)
    assert 0 < memory.resident_bytes() < physical


def test_the_memory_shown_counts_the_workers_too() -> None:
    alone = memory.resident_bytes_with_children()
    worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
    worker.start()
    try:
        with_worker = memory.resident_bytes_with_children()
    finally:
        worker.terminate()
        worker.join()
    # a forked worker shares its pages, but its own resident set counts them: about as much again
    assert with_worker > alone + memory.resident_bytes() // 2


def test_an_unknown_store_is_an_input_error() -> None:
    with pytest.raises(InputError, match="store must be one of auto, states, fingerprints"):
        check(Counter(top=3), store="bits")


def test_collision_probability_is_the_birthday_bound() -> None:
    assert collision_probability(2**32) == pytest.approx(0.5, rel=1e-6)
    result = check(example("two_phase.py:TwoPhase", rms=3), store="fingerprints")
    assert result.collision_probability == 288 * 287 / 2**65
    assert check(Counter(top=3), store="states").collision_probability is None


def test_the_cli_reports_the_store_and_the_collision_probability() -> None:
    shown = check_two_phase_json(3, "--store", "fingerprints")
    assert (shown["store"], shown["distinct_states"]) == ("fingerprints", 288)
    assert shown["collision_probability"] == pytest.approx(288 * 287 / 2**65)
    command = [sys.executable, "-m", "kafka_eos", "check", "--model", TWO_PHASE, "--param",
               "rms=3", "--store", "fingerprints"]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "collision probability 2.2e-15" in text


@pytest.mark.parametrize("name", verdict_rows())
def test_every_named_check_gives_its_row_with_fingerprints(name: str) -> None:
    config = load_check_config(name)
    assert_gives_row(name, check(config.model, store="fingerprints", **config.bounds))


def test_a_check_with_temporal_properties_keeps_fingerprints_and_its_graph_by_number() -> None:
    """With fingerprints, the graph is recorded by state number with each temporal
    predicate's value (checker/graph_shares.py), not with the states: the same verdict,
    figures and lasso (rebuilt by re-execution) as the plain store, with a fingerprint
    store. (A first version kept a StateGraph next to a fingerprint store, whose insertion
    relies on the search's look-up, which the graph skipped: it stored one stale fingerprint
    over and over and grew its table in quadratic time.)"""
    config = load_check_config("tv2-strict-marker-timeout")
    plain = check(config.model, store="states")
    asked = check(config.model, store="fingerprints")
    assert (asked.store, plain.store) == ("fingerprints", "states")
    assert asked.temporal_properties == plain.temporal_properties != ()
    assert (asked.verdict, asked.violation_kind, asked.distinct_states, asked.transitions,
            asked.trace) == (plain.verdict, "temporal", plain.distinct_states,
                             plain.transitions, plain.trace)
    assert asked.store_bytes > 0 and asked.graph_bytes > 0


@pytest.mark.parametrize("case", sorted(cases()))
def test_liveness_peers_give_the_same_lasso_with_fingerprints(case: str) -> None:
    entry = cases()[case]
    model = example(entry["python"]["model"], **entry["python"]["params"])
    plain, asked = check(model, store="states"), check(model, store="fingerprints")
    assert (asked.verdict, asked.distinct_states, asked.trace) == (
        plain.verdict, plain.distinct_states, plain.trace)


def test_a_numbered_store_knows_the_number_of_every_state_it_finds() -> None:
    # a graph recorded by number asks the store for each found successor's number: it must
    # survive the table's growth (64 slots at first, 5,000 states here)
    store = FingerprintStore(numbered=True)
    states = [(i, "state", i % 7) for i in range(5000)]
    for state in states:
        assert state not in store
        store[state] = None
    for number in (0, 1, 63, 64, 4999, 2500):
        assert states[number] in store and store.last_number() == number
    assert (99_999, "state", 0) not in store
    plain = FingerprintStore()
    for state in states:
        assert state not in plain
        plain[state] = None
    assert store.nbytes() == plain.nbytes() + 4 * len(store.table)
