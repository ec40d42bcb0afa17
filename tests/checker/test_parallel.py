"""--workers N: the same verdicts, distinct-state counts and shortest traces as one process."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from checker_examples import example
from named_checks import assert_gives_row, check_two_phase_json, verdict_rows
from toy_models import Counter, DeadEnd, FastPathCounter, MonotoneCounter, faulty_two_phase

from kafka_eos.checker import CheckResult, check
from kafka_eos.errors import InputError
from kafka_eos.model.configs import load_check_config


def figures(result: CheckResult) -> tuple[Any, ...]:
    shown = (result.verdict, result.violated, result.violation_kind, result.distinct_states,
             result.max_depth, result.trace)
    if result.verdict == "ok":  # a violated run counts every step of its last depth
        shown += (result.transitions, result.coverage, result.queue_peak)
    return shown


# Factories: a model file loaded anew replaces its module, and with it the classes a
# worker's pickled states name, so each test loads its model itself.
@pytest.mark.parametrize(("make", "options"), [
    (lambda: example("two_phase.py:TwoPhase", rms=5), {}),
    (lambda: faulty_two_phase(5), {}),
    (lambda: faulty_two_phase(5, symmetric=True), {}),
    (lambda: Counter(top=9, forbid=4), {}),
    (lambda: MonotoneCounter(top=3), {}),
    (lambda: DeadEnd(top=3), {"deadlock": True}),
    (lambda: example("two_phase.py:TwoPhase", rms=5), {"max_depth": 5}),
    (lambda: example("die_hard.py:DieHard"), {}),
    (lambda: FastPathCounter(top=9), {}),
    (lambda: FastPathCounter(top=9, bad=7, into_bad_allowed=True), {}),
], ids=["ok", "invariant", "symmetry", "counter", "action_property", "deadlock", "max_depth",
        "namedtuple_states", "fast_paths", "fast_path_refuses"])
def test_workers_give_the_sequential_figures(make: Any, options: dict[str, Any]) -> None:
    model = make()
    sequential = check(model, **options)
    for workers, store in ((2, "states"), (3, "states"), (2, "fingerprints"),
                           (3, "fingerprints")):
        parallel = check(model, workers=workers, store=store, **options)
        assert figures(parallel) == figures(sequential), (workers, store)
        assert (parallel.workers, parallel.store) == (workers, store)
        assert len(parallel.worker_cpu_seconds) == workers


@pytest.mark.parametrize("store", ["states", "fingerprints"])
def test_a_fast_path_that_disagrees_in_a_worker_is_the_one_line_model_error(store: str) -> None:
    # the step to 1 is taken by the worker owning 0; 1 may be another's: either way the
    # refusal stands, and every predicate holding on 1 is the model's error
    with pytest.raises(InputError, match=r"FastPathCounter.invariants_hold_after\(\) says a "
                       "property is broken but every predicate holds, on state 1"):
        check(FastPathCounter(top=6, lying=True), workers=2, store=store)


@pytest.mark.parametrize("workers", [2, 3])
def test_auto_workers_go_over_to_fingerprints_as_one_process_does(
        workers: int, monkeypatch: Any) -> None:
    from kafka_eos.checker import kept_owner

    # past 20 states each and any memory at all: every worker switches at an early depth
    monkeypatch.setattr(kept_owner, "AUTO_FINGERPRINTS_AFTER", 20 * workers)
    monkeypatch.setattr(kept_owner, "auto_memory_budget", lambda: 0)
    for model in (faulty_two_phase(5), example("two_phase.py:TwoPhase", rms=5)):
        switched = check(model, workers=workers)
        assert figures(switched) == figures(check(model))
        assert switched.store == "fingerprints" and switched.store_bytes > 0
        assert check(model, workers=workers, store="states").store == "states"


def test_workers_keep_their_states_unless_told_or_recording_a_graph() -> None:
    assert check(Counter(top=9, forbid=10), workers=2).store == "states"
    assert check(MonotoneCounter(top=3), workers=2).store == "states"
    mutex = example("mutex.py:Mutex")
    assert check(mutex, workers=2).store == "fingerprints"
    assert check(mutex, workers=2, temporal=False).store == "states"
    with pytest.raises(InputError, match="workers record the graph that temporal properties "
                                         "are checked on by fingerprint"):
        check(mutex, workers=2, store="states")


@pytest.mark.parametrize("store", ["auto", "fingerprints"])
@pytest.mark.parametrize("name", verdict_rows())
def test_every_named_check_gives_its_row_with_two_workers(name: str, store: str) -> None:
    # auto: the workers keep their states, or fingerprints where temporal properties are
    # checked; fingerprints: every check with the workers that keep them
    config = load_check_config(name)
    assert_gives_row(name, check(config.model, workers=2, store=store, **config.bounds))


@pytest.mark.parametrize("name", verdict_rows())
def test_every_named_checks_safety_search_is_one_process_s_on_workers_keeping_states(
        name: str) -> None:
    # the checks with temporal properties too, left out: workers keep states only without them
    config = load_check_config(name)
    options = {**config.bounds, "temporal": False}
    assert figures(check(config.model, workers=2, store="states", **options)) == figures(
        check(config.model, store="states", **options))


class Breaks(Counter):
    """A counter whose actions() raises on state 3."""

    def actions(self, state: int) -> list[tuple[str, int]]:
        if state == 3:
            raise KeyError("no such partition")
        return list(super().actions(state))


def test_an_error_in_a_worker_is_the_one_line_model_error() -> None:
    with pytest.raises(InputError, match=r"Breaks.actions\(\) raised KeyError.*on state 3"):
        check(Breaks(top=9, forbid=8), workers=2)


class DiesInAWorker(Counter):
    """A counter whose worker process is killed (as the out-of-memory killer would) when it
    expands state 3."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.main_process = os.getpid()

    def actions(self, state: int) -> list[tuple[str, int]]:
        if state == 3 and os.getpid() != self.main_process:
            os.kill(os.getpid(), signal.SIGKILL)
        return list(super().actions(state))


def test_a_worker_killed_mid_search_is_one_line_naming_it() -> None:
    with pytest.raises(InputError, match=r"^worker [01] stopped before answering \(killed by "
                                         r"signal 9 \(out of memory\? try fewer workers\)\)$"):
        check(DiesInAWorker(top=9, forbid=8), workers=2)


def test_workers_refuse_what_they_cannot_combine_with(tmp_path: Any) -> None:
    with pytest.raises(InputError, match="cannot be combined with a checkpoint"):
        check(Counter(top=3), workers=2, checkpoint=str(tmp_path))
    with pytest.raises(InputError, match="workers must be a positive integer"):
        check(Counter(top=3), workers=0)


def test_the_cli_option() -> None:
    shown = check_two_phase_json(5, "--workers", "2")
    assert (shown["distinct_states"], shown["transitions"], shown["workers"]) == (
        8832, 58145, 2)


def test_workers_leave_no_exchange_files_behind(tmp_path: Any, monkeypatch: Any) -> None:
    from kafka_eos.checker import parallel

    made: list[Any] = []

    def exchange_directory() -> Any:
        made.append(tmp_path / f"exchange{len(made)}")
        made[-1].mkdir()
        return made[-1]

    monkeypatch.setattr(parallel, "_exchange_directory", exchange_directory)
    assert check(faulty_two_phase(4), workers=2).verdict == "violated"
    with pytest.raises(InputError, match=r"Breaks\.actions"):
        check(Breaks(top=9, forbid=8), workers=2)
    assert len(made) == 2 and not any(path.exists() for path in made)
