"""Lamport's two-phase commit (TwoPhase.tla), ported action for action.

TLC with ``RM = {r1, r2, r3}`` finds 288 distinct states; 5 RMs: 8,832; 7 RMs: 296,448;
8 RMs: 1,745,408. The checker's tests reproduce these numbers, so this file is the checker's
trust anchor: keep it a literal port of the TLA+ text.

A state is the tuple ``(rmState, tmState, tmPrepared, msgs)``:

- ``rmState``: a tuple with one entry per resource manager, in the order of ``self.rms``
  (TLA+'s function ``[RM -> {"working", "prepared", "committed", "aborted"}]``);
- ``tmState``: ``"init"`` or ``"done"``;
- ``tmPrepared``: a frozenset of RM names;
- ``msgs``: a frozenset of messages, TLA+ records ``[type |-> "Prepared", rm |-> r]``,
  ``[type |-> "Commit"]`` and ``[type |-> "Abort"]``, as the NamedTuples below.

Check it with ``kafka-eos check --model examples/two_phase.py:TwoPhase --param rms=5``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple


class Prepared(NamedTuple):
    """The message ``[type |-> "Prepared", rm |-> rm]``."""

    type: str
    rm: str


class Decision(NamedTuple):
    """The messages ``[type |-> "Commit"]`` and ``[type |-> "Abort"]``."""

    type: str


State = tuple[tuple[str, ...], str, frozenset[str], frozenset[Prepared | Decision]]

COMMIT = Decision("Commit")
ABORT = Decision("Abort")


class TwoPhase:
    """``TwoPhase.tla`` with ``RM = {r1, ..., r<rms>}``."""

    def __init__(self, rms: int = 3) -> None:
        if not isinstance(rms, int) or isinstance(rms, bool) or rms < 1:
            raise ValueError(f"rms must be a positive integer, got {rms!r}")
        self.rms: tuple[str, ...] = tuple(f"r{i}" for i in range(1, rms + 1))
        self._all_rms = frozenset(self.rms)
        # Labels and messages are built once: the checker calls actions() millions of times.
        self._prepared_msg = tuple(Prepared("Prepared", rm) for rm in self.rms)
        self._labels = {
            name: tuple(f"{name}({rm})" for rm in self.rms)
            for name in (
                "TMRcvPrepared",
                "RMPrepare",
                "RMChooseToAbort",
                "RMRcvCommitMsg",
                "RMRcvAbortMsg",
            )
        }

    # TPInit
    def init_states(self) -> list[State]:
        return [(("working",) * len(self.rms), "init", frozenset(), frozenset())]

    # TPNext == TMCommit \/ TMAbort \/ \E rm \in RM : TMRcvPrepared(rm) \/ RMPrepare(rm) \/ ...
    def actions(self, state: State) -> Iterator[tuple[str, State]]:
        rm_state, tm_state, tm_prepared, msgs = state
        labels = self._labels
        # TMCommit
        if tm_state == "init" and tm_prepared == self._all_rms:
            yield "TMCommit", (rm_state, "done", tm_prepared, msgs | {COMMIT})
        # TMAbort
        if tm_state == "init":
            yield "TMAbort", (rm_state, "done", tm_prepared, msgs | {ABORT})
        for i, rm in enumerate(self.rms):
            # TMRcvPrepared(rm)
            if tm_state == "init" and self._prepared_msg[i] in msgs:
                yield (
                    labels["TMRcvPrepared"][i],
                    (rm_state, tm_state, tm_prepared | {rm}, msgs),
                )
            if rm_state[i] == "working":
                # RMPrepare(rm)
                yield (
                    labels["RMPrepare"][i],
                    (_set(rm_state, i, "prepared"), tm_state, tm_prepared,
                     msgs | {self._prepared_msg[i]}),
                )
                # RMChooseToAbort(rm)
                yield (
                    labels["RMChooseToAbort"][i],
                    (_set(rm_state, i, "aborted"), tm_state, tm_prepared, msgs),
                )
            # RMRcvCommitMsg(rm)
            if COMMIT in msgs:
                yield (
                    labels["RMRcvCommitMsg"][i],
                    (_set(rm_state, i, "committed"), tm_state, tm_prepared, msgs),
                )
            # RMRcvAbortMsg(rm)
            if ABORT in msgs:
                yield (
                    labels["RMRcvAbortMsg"][i],
                    (_set(rm_state, i, "aborted"), tm_state, tm_prepared, msgs),
                )

    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"TPTypeOK": self.type_ok, "TCConsistent": tc_consistent}

    def type_ok(self, state: State) -> bool:
        rm_state, tm_state, tm_prepared, msgs = state
        return (
            len(rm_state) == len(self.rms)
            and all(s in ("working", "prepared", "committed", "aborted") for s in rm_state)
            and tm_state in ("init", "done")
            and tm_prepared <= self._all_rms
            and all(m in (COMMIT, ABORT) or m in self._prepared_msg for m in msgs)
        )

    def action_names(self) -> list[str]:
        return ["TMCommit", "TMAbort", *self._labels]

    def variables(self, state: State) -> dict[str, Any]:
        rm_state, tm_state, tm_prepared, msgs = state
        return {
            "rmState": dict(zip(self.rms, rm_state, strict=True)),
            "tmState": tm_state,
            "tmPrepared": tm_prepared,
            "msgs": msgs,
        }


# TCConsistent == \A rm1, rm2 \in RM : ~ /\ rmState[rm1] = "aborted"
#                                        /\ rmState[rm2] = "committed"
def tc_consistent(state: State) -> bool:
    rm_state = state[0]
    return not ("aborted" in rm_state and "committed" in rm_state)


def _set(values: tuple[str, ...], index: int, value: str) -> tuple[str, ...]:
    """``[values EXCEPT ![index] = value]`` for a tuple."""
    return (*values[:index], value, *values[index + 1 :])


class TwoPhaseSymmetric(TwoPhase):
    """TwoPhase with the resource managers declared symmetric (TLC's ``SYMMETRY Permutations(RM)``).

    ``canonical`` renames the RMs so that their per-RM views, sorted, come in order: two states
    that differ only by a renaming of RMs get the same representative, and the checker stores
    one state per orbit. Verdicts are the same as TwoPhase's; state counts are smaller.
    """

    def canonical(self, state: State) -> State:
        rm_state, tm_state, tm_prepared, msgs = state
        views = sorted(
            (rm_state[i], rm in tm_prepared, self._prepared_msg[i] in msgs)
            for i, rm in enumerate(self.rms)
        )
        decisions = frozenset(m for m in msgs if type(m) is Decision)
        return (
            tuple(view[0] for view in views),
            tm_state,
            frozenset(rm for rm, view in zip(self.rms, views, strict=True) if view[1]),
            decisions
            | {msg for msg, view in zip(self._prepared_msg, views, strict=True) if view[2]},
        )
