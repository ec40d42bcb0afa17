"""The queue spilled to disk past --queue-limit: the same results, fewer states in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from checker_examples import example
from named_checks import assert_gives_row, check_two_phase_json, verdict_rows

from kafka_eos.checker import CheckResult, check
from kafka_eos.checker.queue import SpillingQueue
from kafka_eos.errors import InputError
from kafka_eos.model.configs import load_check_config


def figures(result: CheckResult) -> tuple[Any, ...]:
    return (result.verdict, result.violated, result.distinct_states, result.transitions,
            result.max_depth, result.queue_peak, result.coverage, result.trace)


def test_a_spilled_queue_gives_back_its_states_in_order_to_each_reader() -> None:
    queue = SpillingQueue(limit=3)
    queue.extend(list(range(10)))
    assert (len(queue), queue.spilled, queue.tail) == (10, 9, [9])
    first = iter(queue)
    assert [next(first) for _ in range(4)] == [0, 1, 2, 3]
    assert list(queue) == list(range(10))  # a second reader, while the first is halfway
    assert list(first) == list(range(4, 10))
    queue.close()


def test_states_read_back_go_through_the_models_intern() -> None:
    # Unpickled, a state's parts are new objects: the model's intern gives back its own. The
    # states still in memory are the model's already.
    shared = ("part",)
    queue = SpillingQueue(limit=2, intern=lambda state: (shared, state[1]))
    queue.extend([(tuple(["part"]), n) for n in range(3)])
    assert list(queue) == [(shared, 0), (shared, 1), (shared, 2)]
    assert [state[0] is shared for state in queue] == [True, True, False]
    queue.close()


@pytest.mark.parametrize("store", ["states", "fingerprints"])
def test_same_figures_with_the_queue_on_disk(store: str) -> None:
    for model in (example("two_phase.py:TwoPhase", rms=6),
                  load_check_config("ctp-no-producer-epoch-check").model):
        in_memory = check(model, store=store)
        on_disk = check(model, store=store, queue_limit=50)
        assert figures(on_disk) == figures(in_memory)
        assert on_disk.queue_spilled > in_memory.queue_peak  # every depth went through files
        assert in_memory.queue_spilled == 0


@pytest.mark.parametrize("name", ["tv2-producer-id-rotation", "tv2-strict-marker-timeout"])
def test_temporal_properties_with_the_queue_on_disk(name: str) -> None:
    # A state read back from the queue's file is a copy: a graph of the states numbered it
    # by identity and stopped ("states must be expanded in the order they were stored"), so a
    # queue limit records the graph by number, with fingerprints.
    model = load_check_config(name).model
    in_memory, on_disk = check(model), check(model, queue_limit=20)
    assert figures(on_disk) == figures(in_memory)
    assert on_disk.queue_spilled > 0 and on_disk.store == "fingerprints"
    assert on_disk.temporal_properties == in_memory.temporal_properties != ()
    with pytest.raises(InputError, match="cannot be used with store='states'"):
        check(model, queue_limit=20, store="states")


@pytest.mark.parametrize("name", verdict_rows())
def test_every_named_check_gives_its_row_with_the_queue_on_disk(name: str) -> None:
    config = load_check_config(name)
    assert_gives_row(name, check(config.model, queue_limit=50, **config.bounds))


def test_a_checkpoint_resumes_with_the_queue_on_disk(tmp_path: Path) -> None:
    model = load_check_config("ctp-no-producer-epoch-check").model
    for cap in (2000, 4000):
        check(model, checkpoint=str(tmp_path), queue_limit=30, max_states=cap)
    resumed = check(model, checkpoint=str(tmp_path), queue_limit=30)
    assert figures(resumed) == figures(check(model))


def test_the_limit_is_checked() -> None:
    with pytest.raises(InputError, match="queue_limit must be a positive integer, got 0"):
        check(example("two_phase.py:TwoPhase", rms=3), queue_limit=0)


def test_the_cli_option() -> None:
    shown = check_two_phase_json(5, "--queue-limit", "100")
    assert (shown["distinct_states"], shown["verdict"]) == (8832, "ok")
    assert shown["queue_spilled"] > 0
