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
