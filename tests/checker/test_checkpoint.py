"""Checkpoint and resume: a search stopped and resumed ends with a run's figures never stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from checker_examples import EXAMPLES, example

from kafka_eos.checker import CheckResult, check
from kafka_eos.checker.checkpoint import FILE_NAME
from kafka_eos.errors import InputError
from kafka_eos.model.configs import load_check_config


def figures(result: CheckResult) -> tuple[Any, ...]:
    return (result.verdict, result.violated, result.distinct_states, result.transitions,
            result.max_depth, result.coverage, result.trace)


def resumed_in_steps(model: object, directory: Path, caps: list[int]) -> CheckResult:
    for cap in caps:
        stopped = check(model, checkpoint=str(directory), max_states=cap)
        assert (stopped.verdict, stopped.stopped_by) == ("incomplete", "max_states")
        assert (directory / FILE_NAME).is_file()
    return check(model, checkpoint=str(directory))


def test_a_search_resumed_twice_ends_as_one_never_stopped(tmp_path: Path) -> None:
    model = example("two_phase.py:TwoPhase", rms=6)
    assert figures(resumed_in_steps(model, tmp_path, [5000, 20000])) == figures(check(model))


def test_a_resumed_search_finds_the_same_shortest_counterexample(tmp_path: Path) -> None:
    config = load_check_config("ctp-no-producer-epoch-check")
    resumed = resumed_in_steps(config.model, tmp_path, [1000, 3000, 5000])
    plain = check(config.model)
    # the shortest counterexample of the plain search, whatever the model makes its length
    assert plain.trace is not None and resumed.trace is not None
    assert resumed.trace.steps == plain.trace.steps
    assert figures(resumed) == figures(plain)


@pytest.mark.parametrize("name", ["tv2-producer-id-rotation", "tv2-strict-marker-timeout"])
def test_a_search_with_temporal_properties_resumes_its_graph(name: str, tmp_path: Path) -> None:
    # ok under its four liveness properties, and a lasso (KAFKA-19999): the graph recorded
    # before each stop is kept in the checkpoint, so the resumed run checks them on all of it
    config = load_check_config(name)
    plain = check(config.model)
    caps = [plain.distinct_states // 4, plain.distinct_states // 2]
    resumed = resumed_in_steps(config.model, tmp_path, caps)
    assert resumed.temporal_properties == plain.temporal_properties != ()
    assert figures(resumed) == figures(plain)
    assert (resumed.store, resumed.violation_kind) == ("fingerprints", plain.violation_kind)


def test_a_checkpoint_of_another_search_is_refused(tmp_path: Path) -> None:
    check(example("two_phase.py:TwoPhase", rms=4), checkpoint=str(tmp_path), max_states=100)
    with pytest.raises(InputError, match="is of another search"):
        check(example("two_phase.py:TwoPhase", rms=5), checkpoint=str(tmp_path))
    with pytest.raises(InputError, match="is of another search"):
        check(example("two_phase.py:TwoPhase", rms=4), checkpoint=str(tmp_path),
              checkpoint_of="rms=4, another configuration")
    config = load_check_config("tv2-strict-marker-timeout")
    check(config.model, checkpoint=str(tmp_path / "safety"), temporal=False, max_states=100)
    with pytest.raises(InputError, match="is of another search"):  # its graph was not kept
        check(config.model, checkpoint=str(tmp_path / "safety"))
    with pytest.raises(InputError, match="cannot be used with store='states'"):
        check(example("two_phase.py:TwoPhase", rms=4), checkpoint=str(tmp_path),
              store="states")


def kafka_eos(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "kafka_eos", *arguments]


def test_ctrl_c_writes_a_checkpoint_that_resume_finishes(tmp_path: Path) -> None:
    model = ["--model", f"{EXAMPLES / 'two_phase.py'}:TwoPhase", "--param", "rms=7"]
    running = subprocess.Popen(
        kafka_eos("check", *model, "--checkpoint", str(tmp_path), "--checkpoint-every", "0.2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The first periodic checkpoint proves the search (and its Ctrl-C handler) is running.
    deadline = time.monotonic() + 120
    while not (tmp_path / FILE_NAME).is_file() and running.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=120)
    assert running.returncode == 3, err
    assert "INCOMPLETE: stopped (interrupted)" in out
    assert f"go on with --resume {tmp_path}" in out
    resumed = subprocess.run(kafka_eos("check", *model, "--resume", str(tmp_path), "--json"),
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    shown = json.loads(resumed.stdout)
    assert (shown["verdict"], shown["distinct_states"], shown["transitions"],
            shown["max_depth"]) == ("ok", 296_448, 2_744_705, 22)


@pytest.mark.parametrize(("arguments", "message"), [
    (["--resume", "{dir}"], "--resume {dir}: no checkpoint in that directory"),
    (["--resume", "{dir}", "--checkpoint", "{dir}"],
     "give either --checkpoint DIR or --resume DIR, not both"),
    (["--checkpoint-every", "5"], "--checkpoint-every applies to --checkpoint DIR only"),
    (["--checkpoint", "{dir}", "--checkpoint-every", "0"], "--checkpoint-every must be a "
                                                            "positive number of seconds, got '0'"),
    # refused before the search, not when the first checkpoint is due minutes into it
    (["--checkpoint", "{dir}/a-file"], "cannot write a checkpoint to {dir}/a-file: File exists"),
    (["--checkpoint", "{dir}/a-file/sub"],
     "cannot write a checkpoint to {dir}/a-file/sub: Not a directory"),
])
def test_checkpoint_options_are_checked(tmp_path: Path, arguments: list[str],
                                        message: str) -> None:
    model = ["--model", f"{EXAMPLES / 'two_phase.py'}:TwoPhase"]
    (tmp_path / "a-file").touch()  # a directory no checkpoint can be written to
    filled = [a.replace("{dir}", str(tmp_path)) for a in arguments]
    done = subprocess.run(kafka_eos("check", *model, *filled), capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == f"kafka-eos: error: {message.replace('{dir}', str(tmp_path))}"


def test_a_search_stopped_anywhere_resumes_to_the_figures_of_one_never_stopped(
        tmp_path: Path) -> None:
    # every stop, those after the last state of a depth included: a resumed search once took
    # an empty rest of that depth for the end of the search and said "ok" on what it had
    model = example("two_phase.py:TwoPhase", rms=3)
    plain = figures(check(model))
    for cap in range(1, 288):
        directory = tmp_path / str(cap)
        assert figures(resumed_in_steps(model, directory, [cap])) == plain, cap
