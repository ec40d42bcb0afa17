"""Small models whose answers can be worked out by hand, for the checker's tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from checker_examples import example


class Counter:
    """A counter from 0 that steps +1 (up to ``top``) or resets to 0.

    Reachable: 0..top, so ``top + 1`` states; state n is first reached after n steps.
    """

    def __init__(self, top: int = 5, *, forbid: int | None = None) -> None:
        self.top = top
        self.forbid = forbid

    def init_states(self) -> list[int]:
        return [0]

    def actions(self, state: int) -> list[tuple[str, int]]:
        steps = [("Reset", 0)]
        if state < self.top:
            steps.append(("Inc", state + 1))
        return steps

    def invariants(self) -> Mapping[str, Callable[[int], bool]]:
        if self.forbid is None:
            return {}
        forbid = self.forbid
        return {"NotForbidden": lambda n: n != forbid}

    def action_names(self) -> list[str]:
        return ["Inc", "Reset", "Never"]


class MonotoneCounter(Counter):
    """Counter with the action property "the counter never decreases": Reset breaks it."""

    def action_properties(self) -> Mapping[str, Callable[[int, str, int], bool]]:
        return {"NeverDecreases": lambda before, label, after: after >= before}


class FastPathCounter(Counter):
    """Counter with two invariants and two action properties, and the fast paths that answer
    for all of each at once (``lying``: they answer no where every predicate says yes).
    Counts the predicates' calls, to show the checker calls them only to name a violation."""

    def __init__(self, top: int = 5, *, bad: int | None = None, lying: bool = False,
                 into_bad_allowed: bool = False) -> None:
        super().__init__(top)
        self.bad, self.lying, self.into_bad_allowed = bad, lying, into_bad_allowed
        self.predicate_calls = 0
        self.fast_path_calls = 0

    def _counted(self, holds: Callable[..., bool]) -> Callable[..., bool]:
        def counted(*args: Any) -> bool:
            self.predicate_calls += 1
            return holds(*args)

        return counted

    def invariants(self) -> Mapping[str, Callable[[int], bool]]:
        # both break at ``bad``: the first one declared is the one reported
        return {"NotBad": self._counted(lambda n: n != self.bad),
                "AlsoNotBad": self._counted(lambda n: n != self.bad)}

    def action_properties(self) -> Mapping[str, Callable[[int, str, int], bool]]:
        return {"StepsByOne": self._counted(lambda n, label, m: m <= n + 1),
                "NotIntoBad": self._counted(
                    lambda n, label, m: self.into_bad_allowed or m != self.bad)}

    def invariants_hold_after(self, state: int, label: str, target: int) -> bool:
        self.fast_path_calls += 1
        return not self.lying and target != self.bad

    def action_properties_hold(self, state: int, label: str, target: int) -> bool:
        self.fast_path_calls += 1
        return target <= state + 1 and (self.into_bad_allowed or target != self.bad)


class DeadEnd(Counter):
    """A counter without Reset: ``top`` has no successor (a deadlock)."""

    def actions(self, state: int) -> list[tuple[str, int]]:
        return [("Inc", state + 1)] if state < self.top else []


class DeadEndIsError(DeadEnd):
    deadlock_is_error = True


def faulty_two_phase(rms: int = 3, *, symmetric: bool = False) -> Any:
    """TwoPhase whose TM commits without waiting for every RM to prepare: TCConsistent breaks.

    Shortest violation: RMChooseToAbort(r1), TMCommit, RMRcvCommitMsg(r2): 3 steps.
    """
    base = type(example("two_phase.py:TwoPhaseSymmetric" if symmetric else "two_phase.py:TwoPhase"))
    two_phase = sys.modules[base.__module__]

    class FaultyTwoPhase(base):  # type: ignore[valid-type,misc]
        def actions(self, state: Any) -> list[tuple[str, Any]]:
            steps: list[tuple[str, Any]] = super().actions(state)
            rm_state, tm_state, tm_prepared, msgs = state
            # The packed state (see two_phase.py): tmPrepared is a bitmask over RMs.
            if tm_state == two_phase.TM_INIT and tm_prepared != self.all_rms_mask:
                steps.append(("TMCommit", (
                    rm_state, two_phase.TM_DONE, tm_prepared, msgs | self.commit_msg_bit,
                )))
            return steps

    return FaultyTwoPhase(rms=rms)


class Recording:
    """Wraps a model and records every state passed to actions()."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.expanded: set[Any] = set()

    def init_states(self) -> Any:
        return self.model.init_states()

    def actions(self, state: Any) -> Any:
        self.expanded.add(state)
        return self.model.actions(state)

    def invariants(self) -> Any:
        return self.model.invariants()
