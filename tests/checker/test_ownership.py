"""Which worker owns a state: the parts steps seldom change, when they spread the states."""

from __future__ import annotations

from typing import Any

from kafka_eos.checker import check
from kafka_eos.checker.ownership import KEYS_PER_WORKER, Ownership, _spreads, chosen

State = tuple[tuple[int], tuple[int]]


class SlowAndFast:
    """A state of two parts, a slow one and a fast one: five of a state's six steps move the
    fast part, one moves the slow part. ``slow_values`` bounds how many values the slow part
    takes; ``broken_at`` is a slow value the invariant forbids."""

    def __init__(self, *, slow_values: int = 1000, fast_values: int = 7, starts: int = 64,
                 broken_at: int | None = None) -> None:
        self.slow_values, self.fast_values = slow_values, fast_values
        self.starts, self.broken_at = starts, broken_at

    def init_states(self) -> list[State]:
        return [((slow % self.slow_values,), (0,)) for slow in range(self.starts)]

    def actions(self, state: State) -> list[tuple[str, State]]:
        (slow,), (fast,) = state
        steps = [(f"fast+{d}", ((slow,), ((fast + d) % self.fast_values,)))
                 for d in range(1, 6)]
        if slow + 1 < self.slow_values:
            steps.append(("slow", ((slow + 1,), (fast,))))
        return steps

    def invariants(self) -> dict[str, Any]:
        return {"not_broken": lambda state: state[0][0] != self.broken_at}


def test_owned_by_the_part_steps_seldom_change() -> None:
    model = SlowAndFast()
    ownership = chosen(model.actions, model.init_states(), 2)
    assert ownership.parts == (0,)
    assert 0.1 < ownership.sampled_change < 0.25  # one step in six moves the slow part
    # a state's owner does not depend on its fast part: its steps that move only that stay
    assert ownership.owner_of_state(((5,), (0,))) == ownership.owner_of_state(((5,), (6,)))


def test_a_step_that_keeps_the_owning_parts_as_they_were_keeps_the_owner() -> None:
    ownership = Ownership(2, (0,))
    slow = tuple([5])  # built, not a constant: Python shares equal constant tuples
    state = (slow, (0,))
    kept = (slow, (6,))  # the very object: no fingerprint needed to know the owner
    assert ownership.keeps_owner(state, kept)
    assert ownership.owner_of_state(kept) == ownership.owner_of_state(state)
    # equal but rebuilt, or another value: not known without the fingerprint, so asked for it
    assert not ownership.keeps_owner(state, (tuple([5]), (6,)))
    assert not ownership.keeps_owner(state, ((6,), (0,)))
    # owned by the whole fingerprint, or an owning part that is not a tuple: never assumed
    assert not Ownership(2).keeps_owner(state, kept)
    assert not Ownership(2, (1,)).keeps_owner((7, slow), (7, (1,)))
    assert not Ownership(2, (0,)).keeps_owner((7, slow), (7, (1,)))
    # a successor of another shape is owned by its own fingerprint
    assert not ownership.keeps_owner(state, (slow, (0,), (1,)))
    assert not ownership.keeps_owner(state, [slow, (0,)])


def test_the_choice_is_the_same_every_time() -> None:
    model = SlowAndFast()
    first = chosen(model.actions, model.init_states(), 3)
    assert all(chosen(model.actions, model.init_states(), 3) == first for _ in range(3))


def test_a_part_with_too_few_values_to_spread_the_states_is_not_chosen() -> None:
    # the slow part takes 4 values, the fast one 7: 2 workers would share either unevenly, and
    # a depth's states would sit with one or two owners
    model = SlowAndFast(slow_values=4, starts=4)
    assert KEYS_PER_WORKER * 2 > 7
    assert chosen(model.actions, model.init_states(), 2) == Ownership(2)


def test_a_part_whose_one_value_holds_many_states_is_not_owned_by() -> None:
    # 200 values of part 0, but one of them in 27.5% of the sampled states: whichever worker
    # owns it has that besides its share of the rest (the sample split here, 128 to 72, is
    # within the loose guard; the heavy value is what rules the part out)
    def print_of(value: int) -> int:  # a fingerprint-like 64-bit value
        return (value + 1) * 0x9E3779B97F4A7C15 % 2**64

    spread = [(print_of(value), print_of(-7)) for value in range(200)]
    heavy = spread[:146] + [spread[0]] * 54
    assert _spreads(spread, (0,), 2)
    assert not _spreads(heavy, (0,), 2)
    assert not _spreads(spread, (1,), 2)  # one value only


def test_a_part_most_steps_change_is_not_worth_owning_by() -> None:
    # only the fast part has the values to spread the states, and five steps in six change it
    model = SlowAndFast(slow_values=4, starts=4, fast_values=1000)
    assert chosen(model.actions, model.init_states(), 2) == Ownership(2)


def test_states_not_made_of_parts_are_owned_by_fingerprint() -> None:
    def actions(state: int) -> list[tuple[str, int]]:
        return [("up", state + 1)] if state < 50 else []

    assert chosen(actions, [0], 2) == Ownership(2)
    assert chosen(SlowAndFast().actions, SlowAndFast().init_states(), 1) == Ownership(1)


def test_a_model_error_while_sampling_leaves_it_to_the_search() -> None:
    def actions(state: State) -> list[tuple[str, State]]:
        raise KeyError("no such partition")

    assert chosen(actions, [((0,), (0,))], 2) == Ownership(2)


def test_workers_owning_by_parts_give_the_sequential_figures_and_trace() -> None:
    model = SlowAndFast(slow_values=200, broken_at=120)
    sequential = check(model)
    assert sequential.verdict == "violated" and len(sequential.trace.labels) > 50
    for store in ("states", "fingerprints"):
        parallel = check(model, workers=2, store=store)
        assert parallel.ownership.startswith("by parts 0 ")
        assert (parallel.verdict, parallel.violated, parallel.distinct_states,
                parallel.trace) == (sequential.verdict, sequential.violated,
                                    sequential.distinct_states, sequential.trace), store

    model = SlowAndFast(slow_values=200)
    sequential, parallel = check(model), check(model, workers=2)
    assert (parallel.distinct_states, parallel.transitions, parallel.coverage) == (
        sequential.distinct_states, sequential.transitions, sequential.coverage)
