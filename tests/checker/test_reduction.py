"""Partial-order reduction keeps every verdict of the full search, and explores fewer states.

The random models' footprints are right by construction (each step class touches exactly
the variables it declares), so any verdict that differs is the reduction's fault.
"""

from __future__ import annotations

from typing import Any

import pytest
from named_checks import TWO_PHASE
from reduction_models import Counters, Ignoring, RandomModel
from test_symmetry_and_simulation import assert_real_behaviour

from kafka_eos.checker import check
from kafka_eos.checker.reduction import EVERYTHING, Footprint, PartialOrder
from kafka_eos.checker.shortest import shortest_counterexample
from kafka_eos.errors import InputError

SEEDS = range(300)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_models_keep_their_verdicts(seed: int) -> None:
    model = RandomModel(seed)
    full = check(model)
    reduced = check(model, reduce="por")
    assert (reduced.verdict, reduced.violated) == (full.verdict, full.violated)
    if full.verdict == "ok":  # (a violation may be met sooner or later in either search)
        assert reduced.distinct_states <= full.distinct_states
    assert reduced.reduction == "por" and full.reduction == "none"
    if reduced.trace is not None and full.trace is not None:
        assert_real_behaviour(model, reduced.trace)
        assert reduced.trace.steps >= full.trace.steps


def test_random_models_are_reduced_somewhere() -> None:
    """The reduction is not a no-op: across the random models, many states expand fewer
    steps than they enable, and fewer states are stored in total."""
    full_states = reduced_states = expanded_less = 0
    for seed in SEEDS[:100]:
        model = RandomModel(seed)
        full_states += check(model).distinct_states
        reduced = check(model, reduce="por")
        reduced_states += reduced.distinct_states
        expanded_less += reduced.reduced_states
    assert expanded_less > 100
    assert reduced_states < 0.9 * full_states


def test_independent_counters_are_counted_one_after_the_other() -> None:
    full = check(Counters(3, 3))
    reduced = check(Counters(3, 3), reduce="por")
    assert full.distinct_states == 4**3
    # one order of the increments, except where the cycle proviso... there is no cycle: a line
    assert reduced.distinct_states == 3 * 3 + 1
    assert reduced.verdict == full.verdict == "ok"


def test_a_violation_found_under_reduction_is_a_real_trace() -> None:
    model = Counters(3, 3, forbid=2)
    full = check(model)
    reduced = check(model, reduce="por")
    assert full.violated == reduced.violated == "LastNotForbidden"
    assert full.trace is not None and reduced.trace is not None
    assert full.trace.steps == 2
    assert_real_behaviour(model, reduced.trace)
    assert reduced.trace.states[-1][-1] == 2


def test_the_cycle_proviso_keeps_a_step_that_spinning_would_ignore() -> None:
    result = check(Ignoring(), reduce="por")
    assert (result.verdict, result.violated) == ("violated", "NotBroken")


def test_a_visible_step_is_never_deferred() -> None:
    """Every counter is watched: each step is visible, so nothing is reduced."""
    model = Counters(3, 2)
    model.partial_order = lambda: PartialOrder(  # type: ignore[method-assign]
        classes={f"Inc{i}": Footprint(writes=frozenset({i})) for i in range(3)},
        class_of=lambda label: label[0],
        property_reads={"Sum": {0, 1, 2}},
    )
    model.invariants = lambda: {"Sum": lambda s: sum(s) < 9}  # type: ignore[method-assign]
    reduced = check(model, reduce="por")
    assert reduced.distinct_states == 27 and reduced.reduced_states == 0
    assert (reduced.visible_classes, reduced.step_classes) == (3, 3)


def test_a_property_without_declared_reads_sees_every_step() -> None:
    model = Counters(3, 2, forbid=9)
    model.partial_order = lambda: PartialOrder(  # type: ignore[method-assign]
        classes={f"Inc{i}": Footprint(writes=frozenset({i})) for i in range(3)},
        class_of=lambda label: label[0], property_reads={},
    )
    assert check(model, reduce="por").distinct_states == 27


def test_a_step_of_everything_is_never_reduced_away() -> None:
    model = Counters(3, 2)
    model.partial_order = lambda: PartialOrder(  # type: ignore[method-assign]
        classes={"Inc0": Footprint(writes=frozenset({0})), "Inc1": EVERYTHING,
                 "Inc2": Footprint(writes=frozenset({2}))},
        class_of=lambda label: label[0], property_reads={},
    )
    assert check(model, reduce="por").distinct_states == 27


def test_an_undeclared_class_is_expanded_fully() -> None:
    model = Counters(2, 2)
    model.partial_order = lambda: PartialOrder(  # type: ignore[method-assign]
        classes={"Inc0": Footprint(writes=frozenset({0}))},
        class_of=lambda label: label[0], property_reads={},
    )
    assert check(model, reduce="por").distinct_states == 9


@pytest.mark.parametrize(("model", "message"), [
    (Counters(declare=False), "declares no partial_order()"),
    (Ignoring(), "reduce must be one of none, por, got 'fast'"),
])
def test_bad_requests_are_one_line_errors(model: Any, message: str) -> None:
    reduce = "fast" if isinstance(model, Ignoring) else "por"
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(model, reduce=reduce)


def test_reduction_refuses_workers() -> None:
    with pytest.raises(InputError, match="cannot be combined with workers"):
        check(Counters(), reduce="por", workers=2)


def test_a_reduced_trace_can_be_longer_and_the_shortest_is_found_again() -> None:
    """The reduced search increments the unwatched counters first (the watched one's steps
    are visible), so it meets the violation late; re-running unreduced to that depth finds
    the 2-step one."""
    model = Counters(3, 3, forbid=2)
    reduced = check(model, reduce="por")
    assert reduced.trace is not None and reduced.trace.steps > 2
    shortest = shortest_counterexample(model, reduced)
    assert shortest.trace is not None and shortest.trace.steps == 2
    assert shortest.violated == "LastNotForbidden"
    assert_real_behaviour(model, shortest.trace)


def test_cli_reduce_por_names_what_it_did_not_check(tmp_path: Any) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "kafka_eos", "check", "--config",
                           "tv2-strict-marker-retry", "--reduce", "por"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Checked (partial-order reduction) config")
    assert "not checked      temporal properties" in done.stdout
    assert "classes change what a checked property reads" in done.stdout
    for options, message in [
        (["--reduce", "fast"], "argument --reduce: invalid choice: 'fast'"),
        (["--reduce", "symmetry"], "--reduce symmetry: KafkaEosLivenessModel declares no "
                                   "symmetry"),
        (["--shortest"], "--shortest applies to --reduce por only"),
        (["--model", TWO_PHASE, "--reduce", "por"], "TwoPhase declares no partial_order()"),
    ]:
        done = subprocess.run([sys.executable, "-m", "kafka_eos", "check", *options],
                              capture_output=True, text=True)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


@pytest.mark.parametrize("seed", range(40))
def test_fingerprints_and_a_queue_on_disk_change_nothing_under_reduction(seed: int) -> None:
    """The cycle proviso asks the visited set, whichever store keeps it."""
    model = RandomModel(seed)
    states = check(model, reduce="por", store="states")
    for options in ({"store": "fingerprints"}, {"store": "fingerprints", "queue_limit": 2}):
        other = check(model, reduce="por", **options)
        assert (other.verdict, other.violated, other.distinct_states, other.reduced_states) == (
            states.verdict, states.violated, states.distinct_states, states.reduced_states)


def test_cli_reduce_symmetry_uses_the_models_canonical() -> None:
    import subprocess
    import sys

    symmetric = TWO_PHASE.replace(":TwoPhase", ":TwoPhaseSymmetric")
    done = subprocess.run([sys.executable, "-m", "kafka_eos", "check", "--model", symmetric,
                           "--param", "rms=3", "--reduce", "symmetry"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Checked (symmetry reduction)")
    assert "OK: all 80 reachable states checked" in done.stdout
