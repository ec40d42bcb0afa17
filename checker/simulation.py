"""Seeded random walks: :func:`simulate`, for models too large to explore exhaustively.

Each walk starts from a random initial state and takes up to ``max_depth`` random steps,
checking invariants on every state it reaches and action properties on every step it takes.
The same seed gives the same walks (provided the model lists its successors in a fixed order).
A simulation that finds nothing is ``"incomplete"``: random walks prove nothing.
"""

from __future__ import annotations

import random
import time
from typing import Any

from kafka_eos.errors import InputError

from . import coverage as coverage_
from .bounds import positive_int, positive_seconds
from .interface import (
    BoundModel,
    bind,
    invariant_failure,
    model_error,
    require_valid_state,
    reraise_explained,
)
from .result import (
    CheckResult,
    Progress,
    ProgressCallback,
    StopReason,
    Trace,
    ViolationKind,
)

# Without --walks or --time-budget a simulation must still end.
DEFAULT_WALKS = 1000
PROGRESS_EVERY_SECONDS = 0.2


def simulate(
    model: object,
    *,
    seed: int = 0,
    max_depth: int = 100,
    walks: int | None = None,
    time_budget: float | None = None,
    deadlock: bool | None = None,
    progress: ProgressCallback | None = None,
) -> CheckResult:
    """Run seeded random walks of at most ``max_depth`` steps until a property is violated,
    ``walks`` walks are done or ``time_budget`` seconds have passed (default: 1000 walks)."""
    depth, walks, budget = walk_options(seed, max_depth, walks, time_budget)
    bound = bind(model)
    walker = _Walker(
        bound,
        rng=random.Random(seed),
        deadlock=bound.deadlock_is_error if deadlock is None else bool(deadlock),
    )
    return walker.run(max_depth=depth, walks=walks, time_budget=budget, progress=progress)


def walk_options(seed: object, max_depth: object, walks: object,
                 time_budget: object) -> tuple[int, int | None, float | None]:
    """The walks' depth, number and time budget, checked (a seed must be an integer)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be an integer, got {seed!r}")
    depth = positive_int("max_depth", max_depth)
    if depth is None:
        raise InputError("max_depth must be a positive integer: a random walk needs an end")
    count = positive_int("walks", walks)
    budget = positive_seconds("time_budget", time_budget)
    if count is None and budget is None:
        count = DEFAULT_WALKS
    return depth, count, budget


class _Walker:
    def __init__(self, bound: BoundModel, *, rng: random.Random, deadlock: bool) -> None:
        self.bound = bound
        self.rng = rng
        self.deadlock = deadlock
        self.seen: set[Any] = set()
        self.label_counts: dict[Any, int] = {}
        self.transitions = 0
        self.deepest = 0
        self.walks_done = 0
        self.violation: tuple[ViolationKind, str, Trace] | None = None

    def run(
        self,
        *,
        max_depth: int,
        walks: int | None,
        time_budget: float | None,
        progress: ProgressCallback | None,
    ) -> CheckResult:
        start = time.perf_counter()
        deadline = start + time_budget if time_budget is not None else float("inf")
        try:
            initial = list(self.bound.init_states())
        except Exception as exc:
            raise model_error(f"{self.bound.name}.init_states() raised", exc) from exc
        if not initial:
            raise InputError(f"{self.bound.name}.init_states() produced no states")
        for state in initial:
            require_valid_state(self.bound, state, "init_states()")
        stopped_by: StopReason = "walks"
        next_report = start + PROGRESS_EVERY_SECONDS
        try:
            while walks is None or self.walks_done < walks:
                now = time.perf_counter()
                if now >= deadline:
                    stopped_by = "time_budget"
                    break
                if progress is not None and now >= next_report:
                    next_report = now + PROGRESS_EVERY_SECONDS
                    progress(Progress(len(self.seen), self.transitions, self.deepest, 0,
                                      now - start))
                if self._walk(self.rng.choice(initial), max_depth):
                    break
                self.walks_done += 1
        except KeyboardInterrupt:
            stopped_by = "interrupted"
        return self._result(time.perf_counter() - start, stopped_by)

    def _walk(self, state: Any, max_depth: int) -> bool:
        """One random walk; True when it found a violation."""
        states, labels = [state], list[str]()
        if (name := self._visit(state)) is not None:
            self.violation = ("invariant", name, Trace(states, labels))
            return True
        for _ in range(max_depth):
            successors = self._successors(state)
            if not successors:
                if self.deadlock:
                    self.violation = ("deadlock", "deadlock", Trace(states, labels))
                    return True
                break
            label, target = successors[self.rng.randrange(len(successors))]
            self.label_counts[label] = self.label_counts.get(label, 0) + 1
            self.transitions += 1
            states.append(target)
            labels.append(label)
            self.deepest = max(self.deepest, len(labels))
            if (name := self._broken_property(state, label, target)) is not None:
                self.violation = ("action_property", name, Trace(states, labels))
                return True
            if (name := self._visit(target)) is not None:
                self.violation = ("invariant", name, Trace(states, labels))
                return True
            state = target
        return False

    def _successors(self, state: Any) -> list[tuple[Any, Any]]:
        try:
            steps = list(self.bound.actions(state))
            # Unpacking and hashing here makes a malformed step fail where it can be
            # explained: while its source state is known.
            for _label, target in steps:
                hash(target)
        except Exception as exc:
            reraise_explained(self.bound, state, exc)
        return steps

    def _broken_property(self, state: Any, label: Any, target: Any) -> str | None:
        for name, allows in self.bound.action_properties:
            try:
                ok = allows(state, label, target)
            except Exception as exc:
                reraise_explained(self.bound, state, exc)
            if not ok:
                return name
        return None

    def _visit(self, state: Any) -> str | None:
        """Check a state the first time a walk reaches it; the name of a broken invariant."""
        if state in self.seen:
            return None
        self.seen.add(state)
        for name, holds in self.bound.invariants:
            try:
                ok = holds(state)
            except Exception as exc:
                error = invariant_failure(self.bound, state)
                if error is None:
                    raise
                raise error from exc
            if not ok:
                return name
        return None

    def _result(self, seconds: float, stopped_by: StopReason) -> CheckResult:
        coverage = coverage_.fold(self.label_counts, self.bound.action_names)
        outcomes = coverage_.fold_outcomes(self.label_counts, self.bound.action_outcomes)
        violation = self.violation
        return CheckResult(
            verdict="violated" if violation else "incomplete",
            violated=violation[1] if violation else None,
            violation_kind=violation[0] if violation else None,
            trace=violation[2] if violation else None,
            distinct_states=len(self.seen),
            transitions=self.transitions,
            max_depth=self.deepest,
            seconds=seconds,
            coverage=coverage,
            never_taken=coverage_.never_taken(coverage),
            outcome_coverage=outcomes,
            outcomes_never_taken=coverage_.outcomes_never_taken(outcomes),
            stopped_by=None if violation else stopped_by,
            mode="simulate",
            walks=self.walks_done + (1 if violation else 0),
        )
